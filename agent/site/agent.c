/* The site agent's shell (see include/outpost/agent/site/agent.h): connection, buckets, the
 * mirror watcher thread and the heartbeat subscription feed shared state under a
 * mutex; the loop picks the newest whole revision, persists it, and calls reconcile.
 * Nothing here needs the hub: the mirror is local and so are the hosts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/site/buckets.h"
#include "outpost/agent/base/util.h"

int ag_grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap * 2 : 16;
	while (c < need)
		c *= 2;
	void *n = realloc(*v, c * size);
	if (!n)
		return OP_ENOMEM;
	*v = n;
	*cap = c;
	return 0;
}

static void poke(op_agent *a)
{
	a->wake = true;
	pthread_cond_signal(&a->cv);
}

/* ---- tables of live keys: the mirror's, kept by the watcher thread, and the hub's ---- */

long ag_table_find(const ag_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].key, key))
			return (long)i;
	return -1;
}

int ag_table_set(ag_table *t, const char *key, const char *val, size_t len, bool del)
{
	long i = ag_table_find(t, key);
	if (del) {
		if (i >= 0) {
			free(t->v[i].key);
			free(t->v[i].val);
			t->v[i] = t->v[--t->n];
		}
		return 0;
	}
	char *v = malloc(len + 1);
	if (!v)
		return OP_ENOMEM;
	memcpy(v, val, len);
	v[len] = '\0';
	if (i >= 0) {
		free(t->v[i].val);
		t->v[i].val = v;
		t->v[i].len = len;
		return 0;
	}
	char *k = strdup(key);
	if (!k || ag_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) != 0) {
		free(k);
		free(v);
		return OP_ENOMEM;
	}
	ag_entry *e = &t->v[t->n++];
	e->key = k;
	e->val = v;
	e->len = len;
	return 0;
}

void ag_table_clear(ag_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key), free(t->v[i].val);
	free(t->v);
	memset(t, 0, sizeof *t);
}

/* Keeps a->mirror equal to the mirror's live keys. kvEntry_Delta says how many of the
 * mirror's messages the watcher has yet to deliver: 0 means the table is as new as the
 * mirror was then, which the loop needs to know during a catch-up. */
static void *watch_mirror(void *arg)
{
	op_agent *a = arg;
	bool failing = false;
	while (!a->stop) {
		kvWatcher *w = NULL;
		natsStatus s = kvStore_WatchAll(&w, a->desired, NULL);
		if (s != NATS_OK) {
			if (!failing) /* once per outage, not once per retry */
				op_log_warn("cannot watch the desired-state mirror; retrying",
					"error=\"%s\"", natsStatus_GetText(s));
			failing = true;
			struct timespec ts = {1, 0};
			nanosleep(&ts, NULL);
			continue;
		}
		if (failing)
			op_log_info("watching the desired-state mirror again", NULL);
		failing = false;
		pthread_mutex_lock(&a->mu);
		a->watch_init = false;
		pthread_mutex_unlock(&a->mu);
		while (!a->stop) {
			kvEntry *e = NULL;
			s = kvWatcher_Next(&e, w, 500);
			if (s == NATS_TIMEOUT)
				continue;
			if (s != NATS_OK)
				break;
			pthread_mutex_lock(&a->mu);
			if (e) {
				kvOperation op = kvEntry_Operation(e);
				ag_table_set(&a->mirror, kvEntry_Key(e), kvEntry_Value(e),
					(size_t)kvEntry_ValueLen(e), op != kvOp_Put);
				a->watch_delta = kvEntry_Delta(e);
				a->last_change_ms = op_now_ms();
				kvEntry_Destroy(e);
			} else {
				a->watch_init = true;
				a->watch_delta = 0;
			}
			/* In a burst (a catch-up replaying revisions) the loop wakes at its end. */
			if (a->watch_delta == 0)
				poke(a);
			pthread_mutex_unlock(&a->mu);
		}
		kvWatcher_Destroy(w);
	}
	return NULL;
}

/* ---- heartbeats ---------------------------------------------------------------------- */

int64_t ag_host_timeout(const op_agent *a, const ag_host *h)
{
	if (a->cfg.host_timeout_ms > 0)
		return a->cfg.host_timeout_ms;
	return 3 * (h->hb.interval_ms > 0 ? h->hb.interval_ms : 2000);
}

/* A host is alive while its heartbeats arrive: three missed ones (or --host-timeout)
 * and it is not. A host never heard is not in the table at all. */
bool ag_host_alive(const op_agent *a, const ag_host *h, int64_t now)
{
	return now - h->last_ms <= ag_host_timeout(a, h);
}

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)nc, (void)sub;
	op_agent *a = arg;
	op_heartbeat hb;
	op_err e = {0};
	int len = natsMsg_GetDataLength(msg);
	if (len > OP_HB_MAX_BYTES ||
		op_heartbeat_decode(natsMsg_GetData(msg), (size_t)len, &hb, &e) != 0) {
		op_log_warn("heartbeat refused", "subject=%s error=\"%s\"", natsMsg_GetSubject(msg),
			e.msg);
		natsMsg_Destroy(msg);
		return;
	}
	/* A host speaks for itself only: the id in the body is the one its subject names
	 * (outpost.<site>.hb.<id>, which credentials give each host alone). */
	const char *subj = natsMsg_GetSubject(msg), *id = strrchr(subj, '.');
	bool own = id && !strcmp(id + 1, hb.host);
	if (!own || strcmp(hb.site, a->cfg.site) != 0) {
		if (!own)
			op_log_warn("heartbeat refused",
				"subject=%s error=\"it says it is host %s\"", subj, hb.host);
		natsMsg_Destroy(msg);
		op_heartbeat_clear(&hb);
		return;
	}
	natsMsg_Destroy(msg);
	pthread_mutex_lock(&a->mu);
	int64_t now = op_now_ms();
	size_t i;
	for (i = 0; i < a->nhosts; i++)
		if (!strcmp(a->hosts[i].hb.host, hb.host))
			break;
	if (i == a->nhosts && a->nhosts >= AG_MAX_HOSTS) {
		if (!a->hosts_full)
			op_log_warn("heartbeat refused", "host=%s error=\"more than %d hosts\"",
				hb.host, AG_MAX_HOSTS);
		a->hosts_full = true;
		pthread_mutex_unlock(&a->mu);
		op_heartbeat_clear(&hb);
		return;
	}
	if (i == a->nhosts) {
		if (ag_grow((void **)&a->hosts, &a->caphosts, a->nhosts + 1, sizeof *a->hosts)) {
			pthread_mutex_unlock(&a->mu);
			op_heartbeat_clear(&hb);
			return;
		}
		memset(&a->hosts[i], 0, sizeof a->hosts[i]);
		a->hosts[i].first_ms = now;
		a->nhosts++;
		op_log_info("host joined", "host=%s", hb.host);
	} else {
		if (!ag_host_alive(a, &a->hosts[i], now))
			op_log_info("host is back", "host=%s", hb.host);
		op_heartbeat_clear(&a->hosts[i].hb);
	}
	a->hosts[i].hb = hb;
	a->hosts[i].last_ms = now;
	poke(a);
	pthread_mutex_unlock(&a->mu);
}

/* ---- announce: the hub adds this site's status as a source --------------------------- */

static void announce(op_agent *a, int64_t now)
{
	if (a->announced || now < a->next_announce_ms)
		return;
	a->next_announce_ms = now + 5000;
	json_t *labels = json_object();
	for (size_t i = 0; i < a->cfg.labels.n; i++)
		json_object_set_new(
			labels, a->cfg.labels.v[i].key, json_string(a->cfg.labels.v[i].val));
	json_t *j = json_pack("{s:i, s:s, s:o}", "v", 1, "site", a->cfg.site, "labels", labels);
	char *body = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	natsMsg *reply = NULL;
	if (body &&
		natsConnection_RequestString(
			&reply, a->bus.nc, "outpost.hub.site.announce", body, 1000) == NATS_OK) {
		json_t *r = json_loadb(
			natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, NULL);
		if (json_is_true(json_object_get(r, "ok"))) {
			a->announced = true;
			op_log_info("announced to the hub", "site=%s", a->cfg.site);
		} else if (!a->announce_refused) {
			a->announce_refused = true; /* once: it is asked again every 5 s */
			const char *why = json_string_value(json_object_get(r, "error"));
			op_log_warn("the hub refused this site's announce",
				"site=%s error=\"%.200s\"", a->cfg.site,
				why ? why : "unreadable reply");
		}
		json_decref(r);
		natsMsg_Destroy(reply);
	}
	free(body);
}

/* ---- life cycle ---------------------------------------------------------------------- */

int op_agent_new(op_agent **out, const op_agent_cfg *cfg, op_err *e)
{
	op_agent *a = calloc(1, sizeof *a);
	if (!a)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	a->cfg = *cfg;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	int rc = op_mkdirs(cfg->state, 0700, e);
	if (rc)
		goto fail;
	snprintf(a->rev_path, sizeof a->rev_path, "%s/revision.json", cfg->state);
	if (cfg->fresh_signers) {
		char *buf = NULL;
		size_t len = 0;
		rc = op_read_file(cfg->fresh_signers, OP_TRUST_MAX_FILE, &buf, &len, e);
		if (rc == 0)
			rc = op_trust_parse(&a->fresh_pol, cfg->fresh_signers, buf, len, e);
		free(buf);
		if (rc)
			goto fail;
		a->have_fresh_pol = true;
	}
	rc = op_revision_load(&a->run, a->rev_path, e);
	if (rc == 0) {
		a->have_run = true;
		a->run_since_ms = op_wall_ms();
		op_log_info("resuming the saved revision", "commit=%.12s seq=%llu apps=%zu",
			a->run.marker.commit, (unsigned long long)a->run.marker.seq, a->run.napps);
	} else if (rc != OP_ENOTFOUND) {
		op_log_warn("ignoring the saved revision", "error=\"%s\"", e->msg);
	}
	char name[128];
	snprintf(name, sizeof name, "outpost-agent-%s", cfg->site);
	if ((rc = op_bus_connect(&a->bus, cfg->nats, name, cfg->site, 0, e)) != 0)
		goto fail;
	if (natsStatistics_Create(&a->stats) != NATS_OK)
		a->stats = NULL; /* then reconnections go unnoticed: see ag_conn_check */
	*out = a;
	return 0;
fail:
	op_agent_free(a);
	return rc;
}

/* Buckets and subscriptions, retried until the site server answers; each part once. */
static int setup(op_agent *a, bool *failing)
{
	op_err e = {0};
	if (!a->desired || !a->status) {
		if (a->desired)
			kvStore_Destroy(a->desired);
		if (a->status)
			kvStore_Destroy(a->status);
		a->desired = a->status = NULL;
		int rc = op_site_buckets(&a->bus, a->cfg.repair_mirror, &a->desired, &a->status,
			a->warning, sizeof a->warning, &e);
		if (rc) {
			if (!*failing) /* once, not once a second */
				op_log_warn(
					"site buckets not ready; retrying", "error=\"%s\"", e.msg);
			*failing = true;
			return rc;
		}
		if (a->warning[0])
			op_log_warn("desired-state bucket", "warning=\"%s\"", a->warning);
	}
	if (!a->hbsub) {
		char subj[128];
		snprintf(subj, sizeof subj, "outpost.%s.hb.*", a->cfg.site);
		natsStatus s = natsConnection_Subscribe(
			&a->hbsub, a->bus.nc, subj, on_heartbeat, a);
		if (s != NATS_OK) {
			a->hbsub = NULL;
			return op_bus_err(&e, s, "subscribe to heartbeats");
		}
		natsSubscription_SetPendingLimits(a->hbsub, 65536, 256 * 1024 * 1024);
	}
	if (!a->watcher_started) {
		if (pthread_create(&a->watcher, NULL, watch_mirror, a) != 0)
			return OP_ENOMEM;
		a->watcher_started = true;
	}
	if (*failing)
		op_log_info("site buckets ready", NULL);
	*failing = false;
	return 0;
}

/* Host timeouts count from the agent's own (re)connection to the site's server: while
 * it was away no heartbeat came through, and the first host heard again must not look
 * like the only one alive. Called by reconcile before it sends anything. */
void ag_conn_check(op_agent *a, int64_t now)
{
	uint64_t n = 0;
	if (!a->stats || natsConnection_GetStats(a->bus.nc, a->stats) != NATS_OK ||
		natsStatistics_GetCounts(a->stats, NULL, NULL, NULL, NULL, &n) != NATS_OK)
		return;
	if (n == a->reconnects)
		return;
	a->reconnects = n;
	a->start_ms = now;
	op_log_info("reconnected to the site's nats-server; commands wait one host timeout",
		"reconnects=%llu", (unsigned long long)n);
}

int op_agent_run(op_agent *a, volatile int *stop)
{
	a->start_ms = op_now_ms();
	op_log_info("agent started", "site=%s state=%s verify=%s trust=%s", a->cfg.site,
		a->cfg.state, a->cfg.trust ? "edge" : "hub", a->cfg.trust ? a->cfg.trust : "-");
	bool failing = false;
	while (!*stop && setup(a, &failing) != 0) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	while (!*stop) {
		pthread_mutex_lock(&a->mu);
		if (!a->wake) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 500 * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&a->cv, &a->mu, &ts);
		}
		a->wake = false;
		ag_choose_revision(a, &a->mirror, false);
		if (a->mir.hub_new) {
			a->mir.hub_new = false;
			ag_choose_revision(a, &a->mir.hub, true);
		}
		ag_reconcile(a);
		pthread_mutex_unlock(&a->mu);
		int64_t now = op_now_ms();
		announce(a, now);
		ag_mirror_check(a, now);
	}
	op_log_info("agent stopping", "site=%s", a->cfg.site);
	return 0;
}

void op_agent_free(op_agent *a)
{
	if (!a)
		return;
	a->stop = 1;
	if (a->watcher_started)
		pthread_join(a->watcher, NULL);
	if (a->hbsub)
		natsSubscription_Destroy(a->hbsub);
	if (a->desired)
		kvStore_Destroy(a->desired);
	if (a->status)
		kvStore_Destroy(a->status);
	op_bus_close(&a->bus);
	ag_table_clear(&a->mirror);
	ag_mirror_clear(a);
	if (a->stats)
		natsStatistics_Destroy(a->stats);
	for (size_t i = 0; i < a->nhosts; i++)
		op_heartbeat_clear(&a->hosts[i].hb);
	free(a->hosts);
	if (a->have_run)
		op_revision_clear(&a->run);
	free(a->pend);
	free(a->retry);
	for (size_t i = 0; i < a->nsrec; i++)
		free(a->srec[i].key), free(a->srec[i].body);
	free(a->srec);
	if (a->have_fresh_pol)
		op_trust_clear(&a->fresh_pol);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a);
}
