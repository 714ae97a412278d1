/* The hub's side of the sites' status reports (see include/outpost/sync/loop/reports.h). */
#include "outpost/sync/loop/reports.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/wire/report.h"

#define NSUBS 8 /* reports written at once (each subscription has its own thread) */
#define QUEUE "outpost-sync"

typedef struct site_seen {
	char name[OP_NAME_MAX + 1];
	bool refused; /* its last report was refused (said once) */
} site_seen;

/* One subscription and its thread: a report's puts are sent at once on the worker's own
 * context and their acknowledgments awaited together, so a report costs one round trip
 * to the stream's leader, not one per key. */
typedef struct worker {
	op_reports *r;
	natsSubscription *sub;
	jsCtx *js; /* its own: the acknowledgments of its writes come to it */
	pthread_mutex_t mu; /* the three below (acknowledgments arrive on nats.c's thread) */
	size_t stored;
	bool failed;
	char why[256]; /* the first failure's */
} worker;

struct op_reports {
	kvStore *kv;
	worker w[NSUBS];
	pthread_mutex_t mu; /* the sites below */
	site_seen *sites; /* sorted by name */
	size_t n, cap;
};

static int cmp_site(const void *a, const void *b)
{
	return strcmp(((const site_seen *)a)->name, ((const site_seen *)b)->name);
}

/* The site's entry (added when new, *fresh then true); NULL out of memory. mu held. */
static site_seen *site_of(op_reports *r, const char *name, bool *fresh)
{
	site_seen key = {0};
	snprintf(key.name, sizeof key.name, "%s", name);
	site_seen *x = bsearch(&key, r->sites, r->n, sizeof *r->sites, cmp_site);
	*fresh = false;
	if (x || op_grow((void **)&r->sites, &r->cap, r->n + 1, sizeof *r->sites) != 0)
		return x;
	size_t i = 0;
	while (i < r->n && strcmp(r->sites[i].name, name) < 0)
		i++;
	memmove(&r->sites[i + 1], &r->sites[i], (r->n - i) * sizeof *r->sites);
	r->sites[i] = key;
	r->n++;
	*fresh = true;
	return &r->sites[i];
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *arg)
{
	worker *w = arg;
	(void)js;
	pthread_mutex_lock(&w->mu);
	if (pa && !pae) {
		w->stored++;
	} else if (!w->failed) {
		w->failed = true;
		snprintf(w->why, sizeof w->why, "%s",
			pae && pae->ErrText && *pae->ErrText ? pae->ErrText
				: pae                        ? natsStatus_GetText(pae->Err)
							     : "no acknowledgment");
	}
	pthread_mutex_unlock(&w->mu);
	natsMsg_Destroy(msg);
}

/* The report's puts, sent at once and awaited together, then its deletes. */
static int store(worker *w, json_t *rep, size_t *nput, size_t *ndel, op_err *e)
{
	pthread_mutex_lock(&w->mu);
	w->stored = 0;
	w->failed = false;
	pthread_mutex_unlock(&w->mu);
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = OP_JS_WAIT_MS; /* no acknowledgment in time: an error, to on_ack */
	natsStatus ns = NATS_OK;
	size_t sent = 0;
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rep, "put"), k, v)
	{
		char subj[512], *s = json_dumps(v, JSON_COMPACT);
		if (!s)
			ns = NATS_NO_MEMORY;
		else if (snprintf(subj, sizeof subj, "$KV." OP_STATUS_BUCKET ".%s", k) >=
			(int)sizeof subj)
			ns = NATS_INVALID_ARG; /* the report's keys are checked shorter */
		else
			ns = js_PublishAsync(w->js, subj, s, (int)strlen(s), &po);
		free(s);
		if (ns != NATS_OK)
			break;
		sent++;
	}
	jsPubOptions_Init(&po);
	po.MaxWait = OP_JS_WAIT_MS + 1000; /* each write times out first, in on_ack */
	natsStatus done = js_PublishAsyncComplete(w->js, &po);
	pthread_mutex_lock(&w->mu);
	*nput = w->stored;
	int rc = 0;
	if (ns != NATS_OK)
		rc = op_err_set(e, OP_ENATS, "cannot store: %s", natsStatus_GetText(ns));
	else if (w->failed)
		rc = op_err_set(e, OP_ENATS, "cannot store: %s", w->why);
	else if (done != NATS_OK || w->stored != sent)
		rc = op_err_set(e, OP_ENATS, "cannot store: %zu of %zu writes acknowledged",
			w->stored, sent);
	pthread_mutex_unlock(&w->mu);
	if (rc)
		return rc;
	size_t i;
	json_array_foreach(json_object_get(rep, "del"), i, v)
	{
		ns = kvStore_Delete(w->r->kv, json_string_value(v));
		if (ns != NATS_OK)
			return op_err_set(e, OP_ENATS, "cannot store: %s", natsStatus_GetText(ns));
		(*ndel)++;
	}
	return 0;
}

static void answer(natsConnection *nc, natsMsg *msg, int rc, const op_err *e)
{
	const char *reply = natsMsg_GetReply(msg);
	if (!reply)
		return;
	json_t *j = rc ? json_pack("{s:i, s:b, s:s}", "v", 1, "ok", 0, "error", e->msg)
		       : json_pack("{s:i, s:b}", "v", 1, "ok", 1);
	char *out = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (out)
		natsConnection_PublishString(nc, reply, out);
	free(out);
	json_decref(j);
}

static void on_report(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)sub;
	worker *w = arg;
	op_reports *r = w->r;
	const char *subj = natsMsg_GetSubject(msg);
	const char *site = subj + strlen(OP_SUBJECT_REPORT_PREFIX);
	if (strncmp(subj, OP_SUBJECT_REPORT_PREFIX, strlen(OP_SUBJECT_REPORT_PREFIX)) != 0)
		site = "";
	op_err e = {0};
	json_t *rep = NULL;
	size_t nput = 0, ndel = 0;
	int len = natsMsg_GetDataLength(msg);
	int rc = op_report_decode(site, natsMsg_GetData(msg), len > 0 ? (size_t)len : 0, &rep, &e);
	if (rc == 0)
		rc = store(w, rep, &nput, &ndel, &e);
	json_decref(rep);
	bool named = op_name_valid(site), fresh = false;
	pthread_mutex_lock(&r->mu);
	site_seen *x = named ? site_of(r, site, &fresh) : NULL;
	if (rc && (!x || !x->refused))
		op_log_warn("site report refused", "site=%s error=\"%s\"",
			named ? site : "(not a site name)", e.msg);
	else if (rc == 0 && fresh)
		op_log_info("site reports its status", "site=%s keys=%zu deleted=%zu", site, nput,
			ndel);
	if (x)
		x->refused = rc != 0;
	pthread_mutex_unlock(&r->mu);
	answer(nc, msg, rc, &e);
	natsMsg_Destroy(msg);
}

int op_reports_serve(op_bus *hub, op_reports **out, op_err *e)
{
	op_reports *r = calloc(1, sizeof *r);
	if (!r)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	pthread_mutex_init(&r->mu, NULL);
	for (int i = 0; i < NSUBS; i++) {
		r->w[i].r = r;
		pthread_mutex_init(&r->w[i].mu, NULL);
	}
	natsStatus s = js_KeyValue(&r->kv, hub->js, OP_STATUS_BUCKET);
	for (int i = 0; s == NATS_OK && i < NSUBS; i++) {
		worker *w = &r->w[i];
		jsOptions o;
		jsOptions_Init(&o);
		o.Wait = OP_JS_WAIT_MS;
		o.PublishAsync.AckHandler = on_ack;
		o.PublishAsync.AckHandlerClosure = w;
		o.PublishAsync.StallWait = OP_JS_WAIT_MS;
		s = natsConnection_JetStream(&w->js, hub->nc, &o);
		if (s == NATS_OK)
			s = natsConnection_QueueSubscribe(&w->sub, hub->nc,
				OP_SUBJECT_REPORT_PREFIX "*", QUEUE, on_report, w);
	}
	if (s != NATS_OK) {
		op_reports_stop(r);
		return op_bus_err(e, s, "serve the sites' status reports");
	}
	*out = r;
	return 0;
}

void op_reports_stop(op_reports *r)
{
	if (!r)
		return;
	for (int i = 0; i < NSUBS; i++) {
		worker *w = &r->w[i];
		if (w->sub && natsSubscription_Drain(w->sub) == NATS_OK)
			natsSubscription_WaitForDrainCompletion(w->sub, 5000);
		natsSubscription_Destroy(w->sub);
		jsCtx_Destroy(w->js); /* after its report: no write of it is in flight */
		pthread_mutex_destroy(&w->mu);
	}
	if (r->kv)
		kvStore_Destroy(r->kv);
	free(r->sites);
	pthread_mutex_destroy(&r->mu);
	free(r);
}

int op_reports_drop_sources(op_bus *hub, op_err *e)
{
	jsStreamInfo *si = NULL;
	natsStatus s = js_GetStreamInfo(&si, hub->js, "KV_" OP_STATUS_BUCKET, NULL, NULL);
	if (s != NATS_OK)
		return op_bus_err(e, s, "stream info KV_" OP_STATUS_BUCKET);
	jsStreamConfig *cfg = si->Config;
	int n = cfg->SourcesLen;
	if (n == 0) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	jsStreamSource **old = cfg->Sources;
	cfg->Sources = NULL;
	cfg->SourcesLen = 0;
	jsStreamInfo *upd = NULL;
	jsErrCode jerr = 0;
	s = js_UpdateStream(&upd, hub->js, cfg, NULL, &jerr);
	cfg->Sources = old;
	cfg->SourcesLen = n;
	jsStreamInfo_Destroy(si);
	jsStreamInfo_Destroy(upd);
	if (s != NATS_OK)
		return op_bus_err(e, s, "remove the sources of KV_" OP_STATUS_BUCKET);
	op_log_info("status sources of an older outpost removed: sites report instead",
		"sources=%d", n);
	return 0;
}
