/* Whether the site's mirror keeps up with the hub, and what the agent does when it does
 * not. nats-server 2.10 can leave a mirror stalled for minutes after a long cut: the
 * server asked the hub for a new consumer while the link was down, waits 30 s for an
 * answer the cut lost, and backs off (up to 2 min) between tries; nothing a client can
 * send makes it try sooner. So once a second, outside the agent's mutex, the loop
 * compares the mirror's last sequence with the hub's (a stream info read across the
 * link, answered only while the link is up). Behind the hub with no progress for
 * AG_MIRROR_STALL_MS is "stalled": said in status and logged once, and the agent reads
 * the hub's bucket directly (read only, never written) and applies its newest whole
 * revision through the same checks as the mirror's. The mirror itself is left alone:
 * deleting and re-creating it would repair it at once but drops the site's only copy
 * for as long as the link may take to come back; it catches up by itself later, and
 * a restart of the site's nats-server with the link up repairs it at once.
 * The hub is not asked while the mirror keeps hearing from it (deliveries or a heartbeat
 * every second) and is idle, or moves on with nothing pending (plan/gauge.h); it is
 * asked at once when the mirror stops hearing, falls behind or reports a lag, and every
 * OP_GAUGE_POLL_MS anyway. A fleet's agents asking the hub's stream leader at every
 * change, or once a second, would cost the hub a request per site and revision, or per
 * site and second.
 * The mirror's keys reach the loop through a watcher thread (kvEntry_Delta says how many
 * of the mirror's messages it has yet to deliver: 0 means the table is as new as the
 * mirror was then, which the revision choice needs to know during a catch-up). */
#include "mirror_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/plan/gauge.h"
#include "outpost/agent/site/buckets.h"

#define AG_MIRROR_CHECK_MS 1000 /* how often the mirror is measured */
#define AG_MIRROR_STALL_MS 2000 /* behind, link up, no progress this long: stalled */
#define AG_MIRROR_FRESH_MS 3000 /* a hub answer older than this is not relied on */
#define AG_HUB_WAIT_MS 1000 /* per request across the link */
#define AG_HUB_REREAD_MS 10000 /* an unchanged hub is read again this often */
#define AG_HUB_READ_WAIT_MS 3000 /* per request of a read of the hub's bucket */
#define AG_HUB_RETRY_MS 2000 /* a failed read is tried again after this long */
#define AG_MIRROR_HEARD_MS 1500 /* heard from the hub this lately (it hears every second) */

const char *ag_mirror_state_name(enum ag_mirror_state s)
{
	switch (s) {
	case AG_MIRROR_UNKNOWN: return "unknown";
	case AG_MIRROR_OFFLINE: return "offline";
	case AG_MIRROR_OK: return "ok";
	case AG_MIRROR_BEHIND: return "catching up";
	case AG_MIRROR_STALLED: return "stalled";
	}
	return "unknown";
}

void ag_mirror_init(ag_mirror *m, op_bus *bus, ag_wake *wake)
{
	memset(m, 0, sizeof *m);
	m->keys_ok = true;
	m->bus = bus;
	m->wake = wake;
}

/* ---- the watcher: the mirror's live keys --------------------------------------------- */

/* Takes one watcher entry (NULL: the initial keys are all in) into the table. A key the
 * table cannot hold for want of memory would leave the table behind the mirror without
 * a word: it is logged once, and the watcher starts over (a new watcher delivers every
 * key again). */
static int take(ag_mirror *m, kvEntry *e, bool *nomem)
{
	int rc = 0;
	pthread_mutex_lock(&m->wake->mu);
	if (e) {
		kvOperation op = kvEntry_Operation(e);
		rc = ag_table_set(&m->keys, kvEntry_Key(e), kvEntry_Value(e),
			(size_t)kvEntry_ValueLen(e), op != kvOp_Put);
		m->watch_delta = kvEntry_Delta(e);
		if (kvEntry_Revision(e) > m->keys_seq)
			m->keys_seq = kvEntry_Revision(e);
		m->keys_ok = m->keys_ok && rc == 0;
		m->last_change_ms = op_now_ms();
		m->changed = true; /* measured again at once, asking the hub */
		if (rc)
			m->watch_init = false; /* not level with the mirror: not done */
	} else {
		m->watch_init = true;
		m->watch_delta = 0;
	}
	/* In a burst (a catch-up replaying revisions) the loop wakes at its end. */
	if (m->watch_delta == 0)
		ag_wake_poke(m->wake);
	pthread_mutex_unlock(&m->wake->mu);
	if (rc && !*nomem)
		op_log_warn("the desired-state mirror's keys do not fit in memory; watching "
			    "again",
			"key=%s", e ? kvEntry_Key(e) : "");
	*nomem = rc != 0;
	return rc;
}

static void *watch(void *arg)
{
	ag_mirror *m = arg;
	bool failing = false, nomem = false;
	while (!m->stop) {
		kvWatcher *w = NULL;
		natsStatus s = kvStore_WatchAll(&w, m->kv, NULL);
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
		pthread_mutex_lock(&m->wake->mu);
		m->watch_init = false;
		/* A new watcher delivers every live key again: what it delivers is whole. */
		if (!m->keys_ok) {
			ag_table_clear(&m->keys);
			m->keys_seq = 0;
			m->keys_ok = true;
		}
		pthread_mutex_unlock(&m->wake->mu);
		while (!m->stop) {
			kvEntry *e = NULL;
			s = kvWatcher_Next(&e, w, 500);
			if (s == NATS_TIMEOUT)
				continue;
			if (s != NATS_OK)
				break;
			int rc = take(m, e, &nomem);
			if (e)
				kvEntry_Destroy(e);
			if (rc) {
				struct timespec ts = {1, 0};
				nanosleep(&ts, NULL);
				break;
			}
		}
		kvWatcher_Destroy(w);
	}
	return NULL;
}

int ag_mirror_start(ag_mirror *m, kvStore *kv)
{
	if (m->started)
		return 0;
	m->kv = kv;
	if (pthread_create(&m->watcher, NULL, watch, m) != 0)
		return OP_ENOMEM;
	m->started = true;
	return 0;
}

/* ---- the measure --------------------------------------------------------------------- */

/* Under mu: the hub answered lately (the link is up). */
static bool hub_fresh(const ag_mirror *m, int64_t now)
{
	return m->hub_ok && now - m->hub_ok_ms <= AG_MIRROR_FRESH_MS;
}

void ag_mirror_view(const ag_mirror *m, int64_t now, op_choose_mirror *v)
{
	memset(v, 0, sizeof *v);
	v->last_change_ms = m->last_change_ms;
	v->watch_init = m->watch_init;
	v->watch_delta = m->watch_delta;
	v->hub_fresh = hub_fresh(m, now);
	v->hub_last = m->hub_last;
	v->live = m->live;
}

static int on_hub_msg(void *arg, const char *key, const char *val, size_t len, bool del)
{
	return ag_table_set(arg, key, val, len, del);
}

/* Reads the hub's live keys and hands them to the loop (under mu): the mirror's keys as
 * its watcher has them, and what the hub holds past them, message by message. */
static void read_hub(ag_mirror *m, int64_t now)
{
	ag_table t = {0};
	op_err e = {0};
	uint64_t after = 0;
	int rc = 0;
	m->read_last = m->hub_last;
	m->read_ms = now;
	pthread_mutex_lock(&m->wake->mu);
	if (m->keys_ok) {
		rc = ag_table_copy(&t, &m->keys);
		after = m->keys_seq;
	}
	pthread_mutex_unlock(&m->wake->mu);
	if (rc)
		op_err_set(&e, OP_ENOMEM, "out of memory");
	/* A context of its own, with more time per request: a fleet's stalled mirrors are
	 * read past at once after a storm, on a hub busy with every link coming back. */
	else if (!m->readjs)
		rc = op_site_hub_js(m->bus, AG_HUB_READ_WAIT_MS, &m->readjs, &e);
	if (!rc && after < m->read_last)
		rc = op_site_hub_read(
			m->readjs, AG_HUB_READ_WAIT_MS, after, m->read_last, on_hub_msg, &t, &e);
	if (rc) {
		if (!m->read_failed) /* once a stall, not once a retry */
			op_log_warn("cannot read the hub's bucket past the stalled mirror; will "
				    "retry",
				"error=\"%s\"", e.msg);
		m->read_failed = true;
		ag_table_clear(&t);
		return;
	}
	m->read_failed = false;
	pthread_mutex_lock(&m->wake->mu);
	ag_table_clear(&m->hub);
	m->hub = t;
	m->hub_new = true;
	ag_wake_poke(m->wake);
	pthread_mutex_unlock(&m->wake->mu);
}

static void set_state(ag_mirror *m, enum ag_mirror_state st, uint64_t mirror_last, int64_t now)
{
	enum ag_mirror_state was = m->state;
	if (st == was)
		return;
	m->state = st;
	/* One line per change that matters to an operator, none per check. */
	if (st == AG_MIRROR_STALLED) {
		m->stalled_ms = now;
		op_time_rfc3339(op_wall_ms() / 1000, m->since);
		op_log_warn("desired-state mirror stalled: reading the hub's bucket directly "
			    "until it recovers",
			"mirror_seq=%llu hub_seq=%llu", (unsigned long long)mirror_last,
			(unsigned long long)m->hub_last);
	} else if (was == AG_MIRROR_STALLED) {
		op_log_info(st == AG_MIRROR_OK ? "desired-state mirror caught up"
					       : "desired-state mirror no longer stalled",
			"state=%s stalled_ms=%lld", ag_mirror_state_name(st),
			(long long)(now - m->stalled_ms));
		m->stalled_ms = 0;
	}
	if (st == AG_MIRROR_OFFLINE)
		op_log_info("hub unreachable: the site runs on its own copy of the desired state",
			"mirror_seq=%llu", (unsigned long long)mirror_last);
	else if (was == AG_MIRROR_OFFLINE)
		op_log_info("hub reachable again", "mirror_seq=%llu hub_seq=%llu",
			(unsigned long long)mirror_last, (unsigned long long)m->hub_last);
}

void ag_mirror_check(ag_mirror *m, int64_t now)
{
	pthread_mutex_lock(&m->wake->mu);
	bool changed = m->changed;
	pthread_mutex_unlock(&m->wake->mu);
	if ((!changed && now < m->next_check_ms) || !m->kv)
		return;
	pthread_mutex_lock(&m->wake->mu);
	m->changed = false;
	pthread_mutex_unlock(&m->wake->mu);
	m->next_check_ms = now + AG_MIRROR_CHECK_MS;
	op_err e = {0};
	if (!m->hubjs && op_site_hub_js(m->bus, AG_HUB_WAIT_MS, &m->hubjs, &e) != 0)
		return;
	op_mirror_info mi;
	if (!op_bus_connected(m->bus) || op_site_mirror_info(m->bus, &mi, &e) != 0)
		return; /* the site server is away: nothing to compare */
	/* Whether to ask the hub (gauge.h): not while the mirror keeps hearing from it and
	 * is idle or moves on with nothing pending; the answer is not made fresher than it
	 * is (the revision choice relies on a fresh one, or on a live mirror). */
	bool heard = mi.is_mirror && mi.active_ms >= 0 && mi.active_ms <= AG_MIRROR_HEARD_MS;
	op_gauge_in gi = {.now_ms = now,
		.asked_ms = m->asked_ms,
		.heard = heard,
		.heard_before = m->heard,
		.level_before = m->state == AG_MIRROR_OK,
		.changed = changed,
		.last_seq = mi.last_seq,
		.last_seq_before = m->last_seq,
		.lag = mi.lag};
	enum op_gauge g = op_mirror_gauge(&gi);
	m->heard = heard;
	uint64_t hub_last = m->hub_last;
	bool ok = true;
	if (g == OP_GAUGE_ASK) {
		int rc = op_site_hub_last(m->hubjs, &hub_last, &e);
		ok = rc == 0 || rc == OP_ENOTFOUND;
		m->asked_ms = now;
	}
	pthread_mutex_lock(&m->wake->mu);
	bool news = g == OP_GAUGE_ASK && ok && (!m->hub_ok || hub_last != m->hub_last);
	m->hub_ok = ok;
	m->live = g != OP_GAUGE_ASK && mi.lag == 0;
	if (ok && g == OP_GAUGE_ASK) {
		m->hub_ok_ms = now;
		m->hub_last = hub_last;
	}
	/* What the hub said may let the revision choice move: a round now, not at the
	 * next wake. */
	if (news)
		ag_wake_poke(m->wake);
	pthread_mutex_unlock(&m->wake->mu);
	enum ag_mirror_state st;
	if (!m->progress_ms)
		m->progress_ms = now; /* the first measure: no stall counted before it */
	if (!ok) {
		st = AG_MIRROR_OFFLINE;
		m->progress_ms = now; /* a stall counts from the link's return */
	} else if (mi.last_seq >= hub_last) {
		st = AG_MIRROR_OK;
		m->progress_ms = now;
	} else {
		if (mi.last_seq != m->last_seq)
			m->progress_ms = now;
		st = now - m->progress_ms >= AG_MIRROR_STALL_MS ? AG_MIRROR_STALLED
								: AG_MIRROR_BEHIND;
	}
	m->last_seq = mi.last_seq;
	set_state(m, st, mi.last_seq, now);
	char note[sizeof m->note] = "";
	if (st == AG_MIRROR_STALLED)
		snprintf(note, sizeof note,
			"mirror stalled since %s: %llu messages behind the hub with the link up; "
			"reading the hub's bucket directly until it recovers",
			m->since, (unsigned long long)(hub_last - mi.last_seq));
	pthread_mutex_lock(&m->wake->mu);
	snprintf(m->note, sizeof m->note, "%s", note);
	pthread_mutex_unlock(&m->wake->mu);
	if (st == AG_MIRROR_STALLED &&
		(m->read_ms == 0 || m->read_last != hub_last ||
			now - m->read_ms >= (m->read_failed ? AG_HUB_RETRY_MS : AG_HUB_REREAD_MS)))
		read_hub(m, now);
	if (st != AG_MIRROR_STALLED) {
		m->read_ms = 0;
		m->read_failed = false;
	}
}

void ag_mirror_clear(ag_mirror *m)
{
	m->stop = 1;
	if (m->started)
		pthread_join(m->watcher, NULL);
	m->started = false;
	if (m->hubjs)
		jsCtx_Destroy(m->hubjs);
	if (m->readjs)
		jsCtx_Destroy(m->readjs);
	m->hubjs = m->readjs = NULL;
	ag_table_clear(&m->keys);
	ag_table_clear(&m->hub);
}
