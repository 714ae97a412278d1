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
 * a restart of the site's nats-server with the link up repairs it at once. */
#include <stdio.h>
#include <string.h>

#include "agent_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/site/buckets.h"
#include "outpost/agent/base/util.h"

#define AG_MIRROR_CHECK_MS 1000 /* how often the mirror is measured */
#define AG_MIRROR_STALL_MS 5000 /* behind, link up, no progress this long: stalled */
#define AG_MIRROR_FRESH_MS 3000 /* a hub answer older than this is not relied on */
#define AG_HUB_WAIT_MS 1000 /* per request across the link */
#define AG_HUB_REREAD_MS 10000 /* a failed or incomplete read of the hub is retried */

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

bool ag_mirror_hub_fresh(const op_agent *a, int64_t now)
{
	return a->mir.hub_ok && now - a->mir.hub_ok_ms <= AG_MIRROR_FRESH_MS;
}

bool ag_mirror_hub_ahead(const op_agent *a, uint64_t mirror_last, int64_t now)
{
	return ag_mirror_hub_fresh(a, now) && a->mir.hub_last > mirror_last;
}

bool ag_mirror_level(const op_agent *a, uint64_t mirror_last, int64_t now)
{
	return ag_mirror_hub_fresh(a, now) && a->mir.hub_last <= mirror_last;
}

static int on_hub_key(void *arg, const char *key, const char *val, size_t len)
{
	return ag_table_set(arg, key, val, len, false);
}

/* Reads the hub's live keys and hands them to the loop (under mu). */
static void read_hub(op_agent *a, int64_t now)
{
	ag_mirror *m = &a->mir;
	ag_table t = {0};
	op_err e = {0};
	m->read_last = m->hub_last;
	m->read_ms = now;
	if (op_site_hub_read(m->hubjs, AG_HUB_WAIT_MS, on_hub_key, &t, &e) != 0) {
		if (!m->read_failed) /* once a stall, not once a retry */
			op_log_warn("cannot read the hub's bucket past the stalled mirror; will "
				    "retry",
				"error=\"%s\"", e.msg);
		m->read_failed = true;
		ag_table_clear(&t);
		return;
	}
	m->read_failed = false;
	pthread_mutex_lock(&a->mu);
	ag_table_clear(&m->hub);
	m->hub = t;
	m->hub_new = true;
	a->wake = true;
	pthread_cond_signal(&a->cv);
	pthread_mutex_unlock(&a->mu);
}

static void set_state(op_agent *a, enum ag_mirror_state st, uint64_t mirror_last, int64_t now)
{
	ag_mirror *m = &a->mir;
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

void ag_mirror_check(op_agent *a, int64_t now)
{
	ag_mirror *m = &a->mir;
	if (now < m->next_check_ms || !a->desired)
		return;
	m->next_check_ms = now + AG_MIRROR_CHECK_MS;
	op_err e = {0};
	if (!m->hubjs && op_site_hub_js(&a->bus, AG_HUB_WAIT_MS, &m->hubjs, &e) != 0)
		return;
	op_mirror_info mi;
	if (!op_bus_connected(&a->bus) || op_site_mirror_info(&a->bus, &mi, &e) != 0)
		return; /* the site server is away: nothing to compare */
	uint64_t hub_last = 0;
	int rc = op_site_hub_last(m->hubjs, &hub_last, &e);
	bool ok = rc == 0 || rc == OP_ENOTFOUND;
	pthread_mutex_lock(&a->mu);
	m->hub_ok = ok;
	if (ok) {
		m->hub_ok_ms = now;
		m->hub_last = hub_last;
	}
	pthread_mutex_unlock(&a->mu);
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
	set_state(a, st, mi.last_seq, now);
	char note[sizeof m->note] = "";
	if (st == AG_MIRROR_STALLED)
		snprintf(note, sizeof note,
			"mirror stalled since %s: %llu messages behind the hub with the link up; "
			"reading the hub's bucket directly until it recovers",
			m->since, (unsigned long long)(hub_last - mi.last_seq));
	pthread_mutex_lock(&a->mu);
	snprintf(m->note, sizeof m->note, "%s", note);
	pthread_mutex_unlock(&a->mu);
	if (st == AG_MIRROR_STALLED &&
		(m->read_ms == 0 || m->read_last != hub_last ||
			now - m->read_ms >= AG_HUB_REREAD_MS))
		read_hub(a, now);
	if (st != AG_MIRROR_STALLED) {
		m->read_ms = 0;
		m->read_failed = false;
	}
}

void ag_mirror_clear(op_agent *a)
{
	if (a->mir.hubjs)
		jsCtx_Destroy(a->mir.hubjs);
	ag_table_clear(&a->mir.hub);
}
