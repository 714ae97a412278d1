/* The site's status reaching the hub (see report_int.h). */
#include "report_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/wire/report.h"

#define REPORT_TIMEOUT_MS 2000 /* per request */
#define RETRY_MIN_MS 500 /* after a failure; doubles up to RETRY_MAX_MS */
#define RETRY_MAX_MS 1000 /* no one answering costs the hub nothing: tried often */
#define QUIET_MS 5000 /* failing this long before it is said */
#define NOBODY_QUIET_MS 60000 /* no one answering, this long */
/* Below OP_REPORT_MAX_BYTES: what a request may hold besides the values. */
#define BATCH_BYTES (OP_REPORT_MAX_BYTES - 4096)

void ag_report_init(ag_report *r, const char *site)
{
	memset(r, 0, sizeof *r);
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	snprintf(r->site, sizeof r->site, "%s", site);
	snprintf(r->subject, sizeof r->subject, OP_SUBJECT_REPORT_PREFIX "%s", site);
	r->retry_ms = RETRY_MIN_MS;
}

static ag_report_ent *find(ag_report *r, const char *key)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].key, key))
			return &r->v[i];
	return NULL;
}

void ag_report_put(ag_report *r, const char *key, const char *val)
{
	char *v = val ? strdup(val) : NULL;
	if (val && !v)
		return; /* out of memory: the periodic resync writes it again */
	pthread_mutex_lock(&r->mu);
	ag_report_ent *x = find(r, key);
	if (!x && op_grow((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v) == 0) {
		x = &r->v[r->n];
		x->val = NULL;
		x->gen = 0;
		x->key = strdup(key);
		if (x->key)
			r->n++;
		else
			x = NULL;
	}
	if (x) {
		free(x->val);
		x->val = v;
		x->gen = ++r->gen;
		v = NULL;
		r->held = true;
	}
	pthread_mutex_unlock(&r->mu);
	free(v);
}

void ag_report_send(ag_report *r)
{
	pthread_mutex_lock(&r->mu);
	if (r->held) {
		r->held = false;
		pthread_cond_signal(&r->cv);
	}
	pthread_mutex_unlock(&r->mu);
}

/* The request for the first entries that fit (mu held); *taken how many, by index. */
static char *batch(ag_report *r, size_t *taken, uint64_t *gens)
{
	json_t *put = json_object(), *del = json_array();
	size_t bytes = 0, k = 0;
	for (; put && del && k < r->n && k < OP_REPORT_MAX_KEYS; k++) {
		const ag_report_ent *x = &r->v[k];
		size_t need = strlen(x->key) + (x->val ? strlen(x->val) : 0) + 8;
		if (k > 0 && bytes + need > BATCH_BYTES)
			break;
		json_t *val = x->val ? json_loads(x->val, 0, NULL) : NULL;
		int rc = x->val ? json_object_set_new(put, x->key, val)
				: json_array_append_new(del, json_string(x->key));
		if (rc != 0 || (x->val && !json_is_object(val)))
			break;
		gens[k] = x->gen;
		bytes += need;
	}
	*taken = k;
	json_t *j = put && del
		? json_pack("{s:i, s:s, s:o, s:o}", "v", 1, "site", r->site, "put", put, "del", del)
		: NULL;
	if (!j) {
		json_decref(put);
		json_decref(del);
	}
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return out;
}

/* Forgets what the hub stored, unless it was handed over again since (mu held). */
static void stored(ag_report *r, char **keys, const uint64_t *gens, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ag_report_ent *x = keys[i] ? find(r, keys[i]) : NULL;
		if (!x || x->gen != gens[i])
			continue;
		free(x->key);
		free(x->val);
		*x = r->v[--r->n];
	}
}

/* Sends one request; 0 when the hub stored it, else why not into why. */
static int send_one(ag_report *r, const char *body, char *why, size_t len, bool *nobody)
{
	natsMsg *reply = NULL;
	natsStatus s = natsConnection_RequestString(
		&reply, r->nc, r->subject, body, REPORT_TIMEOUT_MS);
	*nobody = s == NATS_NO_RESPONDERS;
	if (s != NATS_OK) {
		snprintf(why, len, "%s",
			*nobody ? "no sync answers: the link is down, or sync stopped"
				: natsStatus_GetText(s));
		return -1;
	}
	json_t *j = json_loadb(
		natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, NULL);
	bool ok = json_is_true(json_object_get(j, "ok"));
	if (!ok) {
		const char *e = json_string_value(json_object_get(j, "error"));
		snprintf(why, len, "refused by the hub: %.200s", e ? e : "unreadable reply");
	}
	json_decref(j);
	natsMsg_Destroy(reply);
	return ok ? 0 : -1;
}

/* Waits ms (mu held), or less when stopped: new keys do not cut a retry's wait short. */
static void wait_ms(ag_report *r, int64_t ms)
{
	struct timespec ts;
	op_deadline_in(&ts, ms);
	while (!r->stop && pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
		;
}

static void *run(void *arg)
{
	ag_report *r = arg;
	uint64_t gens[OP_REPORT_MAX_KEYS];
	char *keys[OP_REPORT_MAX_KEYS];
	pthread_mutex_lock(&r->mu);
	while (!r->stop) {
		if (r->n == 0 || r->held) {
			pthread_cond_wait(&r->cv, &r->mu);
			continue;
		}
		size_t n = 0;
		char *body = batch(r, &n, gens);
		for (size_t i = 0; i < n; i++)
			keys[i] = strdup(r->v[i].key);
		pthread_mutex_unlock(&r->mu);
		char why[300] = "out of memory";
		bool nobody = false;
		int rc = body && n ? send_one(r, body, why, sizeof why, &nobody) : -1;
		free(body);
		pthread_mutex_lock(&r->mu);
		int64_t now = op_now_ms();
		if (rc == 0) {
			stored(r, keys, gens, n);
			if (r->failing)
				op_log_info("status reaches the hub again", "site=%s", r->site);
			r->failing = false;
			r->fail_since_ms = 0;
			r->retry_ms = RETRY_MIN_MS;
		} else {
			if (!r->fail_since_ms)
				r->fail_since_ms = now;
			/* Once, not once a retry; not for the link that is still coming up when
			 * the agent starts, nor for a blip; and a cut link is said by the mirror
			 * first ("hub unreachable"): nobody answering is said once it lasted. */
			if (!r->failing &&
				now - r->fail_since_ms >= (nobody ? NOBODY_QUIET_MS : QUIET_MS)) {
				op_log_warn("status does not reach the hub; kept, retried",
					"site=%s keys=%zu error=\"%s\"", r->site, r->n, why);
				r->failing = true;
			}
			wait_ms(r, r->retry_ms);
			r->retry_ms = r->retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS
								     : r->retry_ms * 2;
		}
		for (size_t i = 0; i < n; i++)
			free(keys[i]);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

int ag_report_start(ag_report *r, natsConnection *nc)
{
	r->nc = nc;
	if (pthread_create(&r->th, NULL, run, r) != 0)
		return -1;
	r->started = true;
	return 0;
}

void ag_report_clear(ag_report *r)
{
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
	if (r->started)
		pthread_join(r->th, NULL);
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].key);
		free(r->v[i].val);
	}
	free(r->v);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->cv);
	memset(r, 0, sizeof *r);
}
