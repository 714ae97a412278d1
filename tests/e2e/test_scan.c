/* Reading a whole bucket (agent/bus/scan.c, op_bus_kv_read), against real servers: a
 * hub of one node and a hub of three (a replicated bucket).
 *
 * What is checked: each live key once, its newest value, in key order, deleted keys
 * left out, with the time each was written; keys only; and, while other connections
 * keep writing the bucket (new keys and new values of old ones), every key that was
 * there before the read began is in it, scan after scan. A watcher alone can end its
 * initial values early under writes (nats-server's pending count can fall to zero and
 * rise again): sync's canary wave was once seen empty that way, and promoted. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "outpost/agent/bus/bus.h"
#include "t.h"

#define WAIT_MS 30000
#define KEYS 200 /* there before each read */
#define SCANS 60

typedef struct conn {
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
} conn;

static bool conn_open(conn *c, const h_nats *n, int replicas)
{
	memset(c, 0, sizeof *c);
	if (natsConnection_ConnectTo(&c->nc, h_nats_urls(n)) != NATS_OK ||
		natsConnection_JetStream(&c->js, c->nc, NULL) != NATS_OK)
		return false;
	kvConfig kc;
	kvConfig_Init(&kc);
	kc.Bucket = "scan";
	kc.History = 1;
	kc.Replicas = replicas;
	return h_kv_create(&c->kv, c->js, &kc) == NATS_OK;
}

static void conn_close(conn *c)
{
	if (c->kv)
		kvStore_Destroy(c->kv);
	if (c->js)
		jsCtx_Destroy(c->js);
	if (c->nc)
		natsConnection_Destroy(c->nc);
	memset(c, 0, sizeof *c);
}

/* What a read gave: keys in order, values, times. */
typedef struct seen {
	char keys[4 * KEYS][48];
	char vals[4 * KEYS][48];
	int64_t created[4 * KEYS];
	int n;
	bool order_ok, dup;
} seen;

static int note(void *arg, const op_bus_kv_ent *x)
{
	seen *s = arg;
	if (s->n > 0 && strcmp(s->keys[s->n - 1], x->key) >= 0)
		s->order_ok = false;
	if (s->n >= 4 * KEYS)
		return 0;
	snprintf(s->keys[s->n], sizeof s->keys[0], "%s", x->key);
	snprintf(s->vals[s->n], sizeof s->vals[0], "%s", x->val ? x->val : "(keys only)");
	s->created[s->n] = x->created_ms;
	s->n++;
	return 0;
}

static const char *val_of(const seen *s, const char *key)
{
	for (int i = 0; i < s->n; i++)
		if (!strcmp(s->keys[i], key))
			return s->vals[i];
	return NULL;
}

static seen S; /* large: not on the stack */

static void test_one_read(void)
{
	h_nats *hub = h_hub_start();
	T_REQUIRE(hub);
	conn c;
	T_REQUIRE(conn_open(&c, hub, 1));
	long long t0 = (long long)time(NULL) * 1000;
	T_REQUIRE(kvStore_PutString(NULL, c.kv, "site.b.agent", "1") == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, c.kv, "site.a.agent", "1") == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, c.kv, "site.b.agent", "2") == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, c.kv, "site.c.agent", "1") == NATS_OK);
	T_REQUIRE(kvStore_Delete(c.kv, "site.c.agent") == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, c.kv, "hub.sync", "x") == NATS_OK);
	op_err e = {0};
	for (int with_js = 0; with_js < 2; with_js++) {
		memset(&S, 0, sizeof S);
		S.order_ok = true;
		T_EQ_INT(op_bus_kv_read(with_js ? c.js : NULL, c.kv, "site.>", false, note, &S, &e),
			0);
		T_EQ_INT(S.n, 2);
		T_CHECK(S.order_ok);
		T_EQ_STR(S.keys[0], "site.a.agent");
		const char *b = val_of(&S, "site.b.agent");
		T_CHECK_MSG(b && !strcmp(b, "2"), "site.b.agent: %s", b ? b : "missing");
		T_CHECK(val_of(&S, "site.c.agent") == NULL);
		T_CHECK(S.created[0] >= t0 - 5000 &&
			S.created[0] <= (long long)time(NULL) * 1000 + 5000);
	}
	/* keys only */
	memset(&S, 0, sizeof S);
	S.order_ok = true;
	T_EQ_INT(op_bus_kv_read(c.js, c.kv, ">", true, note, &S, &e), 0);
	T_EQ_INT(S.n, 3);
	T_CHECK(S.order_ok);
	const char *h = val_of(&S, "hub.sync");
	T_CHECK(h && !strcmp(h, "(keys only)"));
	/* nothing under the filter */
	memset(&S, 0, sizeof S);
	T_EQ_INT(op_bus_kv_read(c.js, c.kv, "none.>", false, note, &S, &e), 0);
	T_EQ_INT(S.n, 0);
	conn_close(&c);
	h_nats_stop(hub, false);
}

/* Writers: each its own connection, new keys and new values of the old ones. */
typedef struct writer {
	conn c;
	int id;
	volatile bool *stop;
	pthread_t th;
	long writes;
} writer;

static void *write_on(void *arg)
{
	writer *w = arg;
	for (long i = 0; !*w->stop && i < 2000000; i++) {
		char key[48], val[32];
		if (i % 3 == 0)
			snprintf(key, sizeof key, "site.n%d-%ld.other", w->id, i);
		else
			snprintf(key, sizeof key, "site.s%03ld.agent", (i * 7 + w->id) % KEYS);
		snprintf(val, sizeof val, "w%d-%ld", w->id, i);
		if (kvStore_PutString(NULL, w->c.kv, key, val) == NATS_OK)
			w->writes++;
	}
	return NULL;
}

static int missing_old(const seen *s)
{
	int missing = 0;
	for (int k = 0; k < KEYS; k++) {
		char key[48];
		snprintf(key, sizeof key, "site.s%03d.agent", k);
		missing += val_of(s, key) == NULL;
	}
	return missing;
}

static void scans_under_writes(h_nats *node, int replicas)
{
	conn c;
	T_REQUIRE(conn_open(&c, node, replicas));
	for (int k = 0; k < KEYS; k++)
		T_REQUIRE(kvStore_PutString(NULL, c.kv, h_str("site.s%03d.agent", k), "0") ==
			NATS_OK);
	volatile bool stop = false;
	writer w[2];
	int started = 0;
	for (int i = 0; i < 2; i++) {
		w[i] = (writer){.id = i, .stop = &stop};
		if (conn_open(&w[i].c, node, replicas) &&
			pthread_create(&w[i].th, NULL, write_on, &w[i]) == 0)
			started++;
	}
	T_CHECK(started == 2);
	int bad = 0, worst = 0;
	op_err e = {0};
	for (int r = 0; r < SCANS && started == 2; r++) {
		/* the agent keys: the new keys are other keys of new sites */
		memset(&S, 0, sizeof S);
		S.order_ok = true;
		int rc = op_bus_kv_read(c.js, c.kv, "site.*.agent", false, note, &S, &e);
		T_CHECK_MSG(rc == 0, "scan %d: %s", r, e.msg);
		int m = missing_old(&S);
		bad += m > 0;
		worst = m > worst ? m : worst;
	}
	stop = true;
	for (int i = 0; i < started; i++)
		pthread_join(w[i].th, NULL);
	printf("  %d replica(s): %d scans under %ld writes, %d missed keys there before (at "
	       "most %d)\n",
		replicas, SCANS, w[0].writes + w[1].writes, bad, worst);
	T_EQ_INT(bad, 0);
	T_CHECK(w[0].writes > 0 && w[1].writes > 0);
	for (int i = 0; i < 2; i++)
		conn_close(&w[i].c);
	conn_close(&c);
}

static void test_under_writes(void)
{
	h_nats *hub = h_hub_start();
	T_REQUIRE(hub);
	scans_under_writes(hub, 1);
	h_nats_stop(hub, false);
}

static void test_under_writes_cluster(void)
{
	h_nats *nodes[3];
	T_REQUIRE(h_hub_cluster_start(3, nodes));
	scans_under_writes(nodes[0], 3);
	for (int i = 0; i < 3; i++)
		h_nats_stop(nodes[i], false);
}

int main(void)
{
	T_RUN(test_one_read);
	T_RUN(test_under_writes);
	T_RUN(test_under_writes_cluster);
	return t_done();
}
