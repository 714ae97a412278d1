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

#define NSUBS 4 /* reports written at once (each subscription has its own thread) */
#define QUEUE "outpost-sync"

typedef struct site_seen {
	char name[OP_NAME_MAX + 1];
	bool refused; /* its last report was refused (said once) */
} site_seen;

struct op_reports {
	kvStore *kv;
	natsSubscription *sub[NSUBS];
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

static int store(op_reports *r, json_t *rep, size_t *nput, size_t *ndel, op_err *e)
{
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rep, "put"), k, v)
	{
		char *s = json_dumps(v, JSON_COMPACT);
		natsStatus ns = s ? kvStore_PutString(NULL, r->kv, k, s) : NATS_NO_MEMORY;
		free(s);
		if (ns != NATS_OK)
			return op_err_set(e, OP_ENATS, "cannot store: %s", natsStatus_GetText(ns));
		(*nput)++;
	}
	size_t i;
	json_array_foreach(json_object_get(rep, "del"), i, v)
	{
		natsStatus ns = kvStore_Delete(r->kv, json_string_value(v));
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
	op_reports *r = arg;
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
		rc = store(r, rep, &nput, &ndel, &e);
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
	natsStatus s = js_KeyValue(&r->kv, hub->js, OP_STATUS_BUCKET);
	for (int i = 0; s == NATS_OK && i < NSUBS; i++)
		s = natsConnection_QueueSubscribe(
			&r->sub[i], hub->nc, OP_SUBJECT_REPORT_PREFIX "*", QUEUE, on_report, r);
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
		if (r->sub[i] && natsSubscription_Drain(r->sub[i]) == NATS_OK)
			natsSubscription_WaitForDrainCompletion(r->sub[i], 5000);
		natsSubscription_Destroy(r->sub[i]);
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
