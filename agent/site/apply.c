/* The agent's choice of the revision to run (see agent_priv.h): the newest whole one
 * in the mirror (or the hub's bucket read past a stalled mirror), taken from the hub's
 * canonical JSON or, with --trust, verified at the edge (edge.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "outpost/agent/trust/edge.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/site/buckets.h"
#include "outpost/agent/base/util.h"

static int lookup_entry(void *arg, const char *name, const char **json, size_t *len)
{
	const ag_table *t = arg;
	char key[8 + OP_NAME_MAX];
	snprintf(key, sizeof key, "app.%s", name);
	long i = ag_table_find(t, key);
	if (i < 0)
		return OP_ENOTFOUND;
	*json = t->v[i].val;
	*len = t->v[i].len;
	return 0;
}

static int lookup_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	const ag_table *t = arg;
	char key[sizeof OP_PROOF_BLOB_PREFIX + OP_GIT_ID_LEN];
	snprintf(key, sizeof key, OP_PROOF_BLOB_PREFIX "%s", id);
	long i = ag_table_find(t, key);
	if (i < 0)
		return OP_ENOTFOUND;
	*buf = t->v[i].val;
	*len = t->v[i].len;
	return 0;
}

/* The revision m describes: the hub's canonical JSON as it stands, or with --trust the
 * site's own derivation from the signed commit (edge.h). An outcome (refused, or
 * waiting for a blob) is remembered by the bytes of marker and proof: the same one is
 * not checked again until the bucket changed or a resync period passed (the site's
 * policy files may have been corrected), nor logged twice. A wait that lasts a resync
 * period is shown in status: a blob withheld is not a silent stall. */
static int assemble(op_agent *a, const op_marker *m, const ag_table *t, long ri, bool from_hub,
	op_revision *r, op_err *e)
{
	if (!a->cfg.trust)
		return op_revision_assemble(m, lookup_entry, (void *)t, r, e);
	long pi = ag_table_find(t, "proof");
	char key[OP_DIGEST_LEN + 1];
	size_t n = t->v[ri].len + (pi >= 0 ? t->v[pi].len : 0);
	char *both = malloc(n + 1);
	if (!both)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(both, t->v[ri].val, t->v[ri].len);
	if (pi >= 0)
		memcpy(both + t->v[ri].len, t->v[pi].val, t->v[pi].len);
	op_digest(both, n, key);
	free(both);
	int64_t now = op_now_ms();
	bool same = !strcmp(key, a->edge.key);
	if (same && a->edge.rc != 0 && !from_hub && a->last_change_ms <= a->edge.checked_ms &&
		now - a->edge.checked_ms < a->cfg.resync_ms)
		return a->edge.rc; /* a->problem still says why */
	op_policy *pol = NULL;
	op_err pe = {0};
	int rc = op_policy_load(&pol, a->cfg.trust, a->cfg.revoked, false, &pe);
	if (rc)
		rc = op_err_set(e, OP_ETRUST, "trust policy: %.400s", pe.msg);
	else
		rc = op_edge_verify(pol, a->cfg.path, m, pi >= 0 ? t->v[pi].val : NULL,
			pi >= 0 ? t->v[pi].len : 0, lookup_blob, (void *)t, r, e);
	op_policy_free(pol);
	if (rc == 0 || rc == OP_ENOMEM) {
		a->edge.key[0] = '\0';
		return rc;
	}
	bool again = same && rc == a->edge.rc;
	if (!again)
		a->edge.since_ms = now;
	memcpy(a->edge.key, key, sizeof key);
	a->edge.rc = rc;
	a->edge.checked_ms = now;
	if (rc == OP_ETRUST && !again)
		op_log_warn("revision refused at the edge", "commit=%.12s seq=%llu error=\"%s\"",
			m->commit, (unsigned long long)m->seq, e->msg);
	if (rc == OP_ENOTFOUND && now - a->edge.since_ms >= a->cfg.resync_ms) {
		if (!a->edge.wait_logged)
			op_log_warn("revision incomplete at the edge",
				"commit=%.12s seq=%llu error=\"%s\"", m->commit,
				(unsigned long long)m->seq, e->msg);
		a->edge.wait_logged = true;
		snprintf(a->problem, sizeof a->problem,
			"revision seq %llu (commit %.12s) waits at the edge for %llds: %.300s",
			(unsigned long long)m->seq, m->commit,
			(long long)((now - a->edge.since_ms) / 1000), e->msg);
	} else if (!again) {
		a->edge.wait_logged = false;
	}
	return rc;
}

/* The mirror has been replaying revisions and is not done: moving now could mean one
 * intermediate revision after another. Done is: the watcher delivered everything the
 * mirror holds, and the mirror holds what the hub has (asked across the link when it
 * is up, else the mirror's own lag as last heard). A mirror that went quiet for 2 s is
 * taken as it is, unless the hub answers and has more: then the mirror is either still
 * coming or stalled, and a stalled one is read past (agent_mirror.c). */
static bool catching_up(op_agent *a, int64_t now)
{
	bool quiet = now - a->last_change_ms >= 2000;
	if ((!a->watch_init || a->watch_delta > 0) && !quiet)
		return true; /* the watcher has more to deliver */
	op_mirror_info mi;
	op_err e = {0};
	if (op_site_mirror_info(&a->bus, &mi, &e) != 0)
		return !quiet;
	bool level = ag_mirror_level(a, mi.last_seq, now) ||
		(!ag_mirror_hub_ahead(a, mi.last_seq, now) && mi.lag == 0);
	if (a->watch_init && a->watch_delta == 0 && level)
		return false;
	if (!quiet)
		return true;
	return ag_mirror_hub_ahead(a, mi.last_seq, now);
}

/* Under mu: moves to the newest whole revision in t (the mirror's keys, or the hub's
 * read past a stalled mirror), if it is newer than the one the site runs. */
void ag_choose_revision(op_agent *a, const ag_table *t, bool from_hub)
{
	long ri = ag_table_find(t, "rev");
	if (ri < 0)
		return;
	op_marker m;
	op_err e = {0};
	if (op_marker_decode(t->v[ri].val, t->v[ri].len, &m, &e) != 0) {
		snprintf(a->problem, sizeof a->problem, "commit marker refused: %.400s", e.msg);
		return;
	}
	/* With --trust, a revision run since before (saved by an agent that took the hub's
	 * word) is checked once too, and replaced by the same revision verified. */
	if (a->have_run && !strcmp(m.commit, a->run.marker.commit) && m.seq == a->run.marker.seq &&
		(a->run.verified || !a->cfg.trust)) {
		op_marker_clear(&m);
		return;
	}
	int64_t now = op_now_ms();
	if (a->have_run && m.seq < a->run.marker.seq) {
		/* A mirror behind the revision the site runs (read from the hub past a stall,
		 * or kept from before a restart) is just behind; a hub that holds a lower
		 * seq than the site runs is replaying old state. */
		op_mirror_info mi;
		bool hub_says = from_hub ||
			(ag_mirror_hub_fresh(a, now) &&
				op_site_mirror_info(&a->bus, &mi, &e) == 0 &&
				ag_mirror_level(a, mi.last_seq, now));
		if (hub_says)
			snprintf(a->problem, sizeof a->problem,
				"refusing marker seq %llu (commit %.12s): older than the revision "
				"running (seq %llu); the hub may be replaying old state",
				(unsigned long long)m.seq, m.commit,
				(unsigned long long)a->run.marker.seq);
		op_marker_clear(&m);
		return;
	}
	if (!from_hub && catching_up(a, now)) {
		op_marker_clear(&m);
		return;
	}
	op_revision r;
	int rc = assemble(a, &m, t, ri, from_hub, &r, &e);
	op_marker_clear(&m);
	if (rc == OP_ENOTFOUND)
		return; /* incomplete: its app entries are still on their way */
	if (rc == OP_ETRUST && e.msg[0])
		snprintf(a->problem, sizeof a->problem,
			"revision refused at the edge (running seq %llu): %.400s",
			a->have_run ? (unsigned long long)a->run.marker.seq : 0ULL, e.msg);
	if (rc == OP_ETRUST)
		return;
	if (rc) {
		snprintf(a->problem, sizeof a->problem, "revision refused: %.400s", e.msg);
		return;
	}
	if (op_revision_save(&r, a->rev_path, &e) != 0)
		op_log_warn("cannot persist the revision", "error=\"%s\"", e.msg);
	op_log_info("applying revision",
		"commit=%.12s seq=%llu apps=%zu signer=\"%s\" from=%s verified=%s", r.marker.commit,
		(unsigned long long)r.marker.seq, r.napps, r.marker.signer,
		from_hub ? "hub" : "mirror", a->cfg.trust ? "edge" : "hub");
	if (a->have_run)
		op_revision_clear(&a->run);
	a->run = r;
	a->have_run = true;
	a->run_since_ms = op_wall_ms();
	a->problem[0] = '\0';
}
