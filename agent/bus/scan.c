/* Reading every key of a bucket under a filter (see op_bus_kv_read in bus.h): one
 * watcher, read past its "that is all" until the stream's leader agrees, then the
 * newest value of each key, in key order. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/bus/bus.h"

/* Tries to create a watch's consumer: on a hub cluster it is placed on a peer of the
 * stream picked at random, and one that just died, not yet counted out by the others,
 * never answers the create: the request times out and is asked again (elsewhere, most
 * likely). */
#define WATCH_TRIES 3
#define NEXT_WAIT_MS 10000 /* for each delivery */
#define LAST_WAIT_MS 2000 /* for the leader's answer; past it, the watcher's word */
/* How often the leader is asked again while writes keep the bucket ahead of the read:
 * each time the read has caught up with the last answer. */
#define LAST_ASKS 8

typedef struct got {
	char *key, *val;
	size_t len;
	uint64_t rev;
	int64_t created_ms;
	bool put;
} got;

typedef struct gots {
	got *v;
	size_t n, cap;
	uint64_t max_rev;
} gots;

static void gots_clear(gots *g)
{
	for (size_t i = 0; i < g->n; i++) {
		free(g->v[i].key);
		free(g->v[i].val);
	}
	free(g->v);
	memset(g, 0, sizeof *g);
}

/* Keeps ent (destroyed here): 0 or OP_ENOMEM. */
static int take(gots *g, kvEntry *ent, bool keys_only)
{
	uint64_t rev = kvEntry_Revision(ent);
	if (rev > g->max_rev)
		g->max_rev = rev;
	int rc = op_grow((void **)&g->v, &g->cap, g->n + 1, sizeof *g->v);
	got *x = rc == 0 ? &g->v[g->n] : NULL;
	if (x) {
		kvOperation op = kvEntry_Operation(ent);
		int len = keys_only ? 0 : kvEntry_ValueLen(ent);
		*x = (got){.key = strdup(kvEntry_Key(ent)),
			.val = keys_only ? NULL : malloc((size_t)len + 1),
			.len = (size_t)len,
			.rev = rev,
			.created_ms = kvEntry_Created(ent) / 1000000, /* nanoseconds */
			.put = op != kvOp_Delete && op != kvOp_Purge};
		if (x->val) {
			memcpy(x->val, kvEntry_Value(ent), (size_t)len);
			x->val[len] = '\0';
		}
		g->n++;
		if (!x->key || (!keys_only && !x->val))
			rc = OP_ENOMEM;
	}
	kvEntry_Destroy(ent);
	return rc;
}

/* The sequence of the stream's last message under filter, from its leader: 0 when
 * there is none, -1 when it did not answer. */
static int64_t last_under(jsCtx *js, kvStore *kv, const char *filter)
{
	const char *bucket = kvStore_Bucket(kv);
	char stream[256], subject[512];
	snprintf(stream, sizeof stream, "KV_%s", bucket);
	snprintf(subject, sizeof subject, "$KV.%s.%s", bucket, filter);
	jsOptions o;
	jsOptions_Init(&o);
	o.Wait = LAST_WAIT_MS;
	natsMsg *m = NULL;
	jsErrCode ec = 0;
	natsStatus s = js_GetLastMsg(&m, js, stream, subject, &o, &ec);
	int64_t seq = s == NATS_OK ? (int64_t)natsMsg_GetSequence(m) : s == NATS_NOT_FOUND ? 0 : -1;
	natsMsg_Destroy(m);
	return seq;
}

static int by_key_rev(const void *a, const void *b)
{
	const got *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->rev < y->rev ? -1 : x->rev > y->rev;
}

/* Reads w until it has the first sequence at least upto (0: until the watcher says it
 * delivered what there was). 1 when upto did not come: gone before it was delivered
 * (a message past its age), the read stands as it is. */
static int read_until(kvWatcher *w, gots *g, bool keys_only, uint64_t upto, op_err *e)
{
	for (;;) {
		if (upto && g->max_rev >= upto)
			return 0;
		kvEntry *ent = NULL;
		natsStatus s = kvWatcher_Next(&ent, w, NEXT_WAIT_MS);
		if (s == NATS_TIMEOUT && upto)
			return 1;
		if (s != NATS_OK)
			return op_bus_err(e, s, "read bucket");
		if (!ent) {
			if (!upto)
				return 0; /* the initial values are all in, the watcher says */
			continue;
		}
		if (take(g, ent, keys_only) != 0)
			return op_err_set(e, OP_ENOMEM, "out of memory");
	}
}

int op_bus_kv_read(jsCtx *js, kvStore *kv, const char *filter, bool keys_only, op_bus_kv_ent_fn fn,
	void *arg, op_err *e)
{
	kvWatcher *w = NULL;
	kvWatchOptions o;
	kvWatchOptions_Init(&o);
	o.MetaOnly = keys_only; /* deletes too: their sequences count */
	natsStatus s = NATS_TIMEOUT;
	for (int i = 0; i < WATCH_TRIES && s == NATS_TIMEOUT; i++)
		s = kvStore_Watch(&w, kv, filter, &o);
	if (s != NATS_OK)
		return op_bus_err(e, s, "watch bucket");
	gots g = {0};
	int rc = read_until(w, &g, keys_only, 0, e);
	for (int i = 0; rc == 0 && js && i < LAST_ASKS; i++) {
		int64_t last = last_under(js, kv, filter);
		if (last <= 0 || g.max_rev >= (uint64_t)last)
			break;
		rc = read_until(w, &g, keys_only, (uint64_t)last, e);
	}
	if (rc == 1)
		rc = 0;
	kvWatcher_Destroy(w);
	if (rc == 0 && g.n > 1)
		qsort(g.v, g.n, sizeof *g.v, by_key_rev);
	for (size_t i = 0; rc == 0 && i < g.n; i++) {
		const got *x = &g.v[i];
		if (!x->put || (i + 1 < g.n && !strcmp(g.v[i + 1].key, x->key)))
			continue; /* deleted, or not the newest of its key */
		op_bus_kv_ent ent = {x->key, x->val, x->len, x->rev, x->created_ms};
		rc = fn(arg, &ent);
	}
	gots_clear(&g);
	return rc;
}

struct plain {
	op_bus_kv_fn fn;
	void *arg;
};

static int plain_fn(void *arg, const op_bus_kv_ent *x)
{
	struct plain *p = arg;
	return p->fn(p->arg, x->key, x->val, x->len, x->rev);
}

int op_bus_kv_scan(
	jsCtx *js, kvStore *kv, const char *filter, op_bus_kv_fn fn, void *arg, op_err *e)
{
	return op_bus_kv_read(js, kv, filter, false, plain_fn, &(struct plain){fn, arg}, e);
}

int op_bus_kv_keys(
	jsCtx *js, kvStore *kv, const char *filter, op_bus_kv_fn fn, void *arg, op_err *e)
{
	return op_bus_kv_read(js, kv, filter, true, plain_fn, &(struct plain){fn, arg}, e);
}
