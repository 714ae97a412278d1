/* The revision the site runs (see apply_int.h). The rules are op_revision_choose's
 * (choose.h); this is the I/O around them: the marker decoded from the table, the
 * mirror measured when the choice asks, the revision assembled from the hub's canonical
 * JSON or, with --trust, verified at the edge (edge.h), then persisted and logged. */
#include "apply_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/site/buckets.h"
#include "outpost/agent/trust/edge.h"

int ag_applied_init(ag_applied *ap, const op_agent_cfg *cfg, op_err *e)
{
	memset(ap, 0, sizeof *ap);
	ap->trust = cfg->trust;
	ap->revoked = cfg->revoked;
	ap->dir = cfg->path;
	ap->resync_ms = cfg->resync_ms;
	ag_policy_init(&ap->policy, cfg);
	int n = snprintf(ap->path, sizeof ap->path, "%s/revision.json", cfg->state);
	if (n < 0 || (size_t)n >= sizeof ap->path)
		return op_err_set(e, OP_ETOOBIG, "--state %.200s: path too long", cfg->state);
	op_err le = {0};
	int rc = op_revision_load(&ap->run, ap->path, &le);
	if (rc == 0) {
		ap->have_run = true;
		ap->since_ms = op_wall_ms();
		op_log_info("resuming the saved revision", "commit=%.12s seq=%llu apps=%zu",
			ap->run.marker.commit, (unsigned long long)ap->run.marker.seq,
			ap->run.napps);
	} else if (rc != OP_ENOTFOUND) {
		op_log_warn("ignoring the saved revision", "error=\"%s\"", le.msg);
	}
	return 0;
}

static void drop_run(ag_applied *ap)
{
	if (ap->have_run)
		op_revision_clear(&ap->run);
	ap->have_run = false;
}

static void drop_pending(ag_applied *ap)
{
	if (ap->have_pending)
		op_revision_clear(&ap->pending);
	ap->have_pending = false;
}

void ag_applied_clear(ag_applied *ap)
{
	drop_pending(ap);
	drop_run(ap);
	ag_policy_clear(&ap->policy);
}

static int lookup_entry(void *arg, const char *name, const char **json, size_t *len)
{
	char key[8 + OP_NAME_MAX];
	snprintf(key, sizeof key, "app.%s", name);
	const ag_entry *en = ag_table_get(arg, key);
	if (!en)
		return OP_ENOTFOUND;
	*json = en->val;
	*len = en->len;
	return 0;
}

static int lookup_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	char key[sizeof OP_PROOF_BLOB_PREFIX + OP_GIT_ID_LEN];
	snprintf(key, sizeof key, OP_PROOF_BLOB_PREFIX "%s", id);
	const ag_entry *en = ag_table_get(arg, key);
	if (!en)
		return OP_ENOTFOUND;
	*buf = en->val;
	*len = en->len;
	return 0;
}

/* The digest of the marker's and the proof's bytes: what an edge outcome is remembered
 * by. */
static int edge_key(const ag_entry *rev, const ag_entry *proof, char key[OP_DIGEST_LEN + 1])
{
	size_t n = rev->len + (proof ? proof->len : 0);
	char *both = malloc(n + 1);
	if (!both)
		return OP_ENOMEM;
	memcpy(both, rev->val, rev->len);
	if (proof)
		memcpy(both + rev->len, proof->val, proof->len);
	op_digest(both, n, key);
	free(both);
	return 0;
}

/* The revision m describes: the hub's canonical JSON as it stands, or with --trust the
 * site's own derivation from the signed commit, checked against the site's policy files
 * as they are now (an operator may have corrected them). */
static int assemble(
	ag_applied *ap, const op_marker *m, const ag_table *t, op_revision *r, op_err *e)
{
	if (!ap->trust)
		return op_revision_assemble(m, lookup_entry, (void *)t, r, e);
	const ag_entry *proof = ag_table_get(t, "proof");
	/* The policy the site holds, after following the proof's chain of signed rotations
	 * from it (policy_int.h). */
	return ag_policy_verify(&ap->policy, m, proof ? proof->val : NULL, proof ? proof->len : 0,
		lookup_blob, (void *)t, r, e);
}

/* The code a refusal travels with in status' op_err. */
static int why_code(enum op_choose_why why)
{
	switch (why) {
	case OP_CHOOSE_EDGE_REFUSED: return OP_ETRUST;
	case OP_CHOOSE_EDGE_WAIT: return OP_ENOTFOUND;
	case OP_CHOOSE_REPLAY: return OP_ECONFLICT;
	default: return OP_EINVAL;
	}
}

/* One line for a refusal (or a long wait at the edge) the choice says to report. */
static void report(const op_choose_out *o, const op_marker *m, const op_err *ve)
{
	unsigned long long seq = m ? (unsigned long long)m->seq : 0ULL;
	const char *commit = m ? m->commit : "";
	switch (o->why) {
	case OP_CHOOSE_EDGE_REFUSED:
		op_log_warn("revision refused at the edge", "commit=%.12s seq=%llu error=\"%s\"",
			commit, seq, ve->msg);
		break;
	case OP_CHOOSE_EDGE_WAIT:
		op_log_warn("revision incomplete at the edge", "commit=%.12s seq=%llu error=\"%s\"",
			commit, seq, ve->msg);
		break;
	case OP_CHOOSE_MARKER_BAD:
		op_log_warn("commit marker refused", "why=\"%s\"", o->problem);
		break;
	case OP_CHOOSE_REPLAY:
		op_log_warn("older commit marker refused", "why=\"%s\"", o->problem);
		break;
	default: op_log_warn("revision refused", "why=\"%s\"", o->problem); break;
	}
}

static void apply(ag_applied *ap, op_revision *r, bool from_hub, op_err *problem)
{
	op_err e = {0};
	if (op_revision_save(r, ap->path, &e) != 0)
		op_log_warn("cannot persist the revision", "error=\"%s\"", e.msg);
	op_log_info("applying revision",
		"commit=%.12s seq=%llu apps=%zu signer=\"%s\" from=%s verified=%s",
		r->marker.commit, (unsigned long long)r->marker.seq, r->napps, r->marker.signer,
		from_hub ? "hub" : "mirror", ap->trust ? "edge" : "hub");
	ag_policy_adopt(&ap->policy, r->marker.commit);
	drop_pending(ap);
	drop_run(ap);
	ap->run = *r;
	ap->have_run = true;
	ap->since_ms = op_wall_ms();
	memset(problem, 0, sizeof *problem);
}

static bool same_marker(const op_marker *a, const op_marker *b)
{
	return a->seq == b->seq && !strcmp(a->commit, b->commit);
}

/* The gate holds r: the previous revision keeps running, whole; status says why and
 * the log says it once per commit. */
static bool held(ag_applied *ap, const op_revision *r, op_err *problem)
{
	op_err why = {0};
	if (!ap->gate || ap->gate(ap->gate_arg, r, &why))
		return false;
	op_err_set(problem, OP_ENOTFOUND, "revision %.12s (seq %llu) waits: %s", r->marker.commit,
		(unsigned long long)r->marker.seq, why.msg);
	if (strcmp(ap->held, r->marker.commit) != 0) {
		snprintf(ap->held, sizeof ap->held, "%s", r->marker.commit);
		op_log_info("revision waits for its artifacts; the previous one keeps running",
			"commit=%.12s seq=%llu why=\"%s\"", r->marker.commit,
			(unsigned long long)r->marker.seq, why.msg);
	}
	return true;
}

void ag_applied_choose(ag_applied *ap, const ag_table *t, bool from_hub,
	const op_choose_mirror *view, op_bus *bus, int64_t now, op_err *problem)
{
	const ag_entry *rev = ag_table_get(t, "rev");
	op_marker m;
	memset(&m, 0, sizeof m);
	op_err me = {0}, ve = {0};
	char key[OP_DIGEST_LEN + 1] = "";
	op_choose_in in = {.now_ms = now,
		.resync_ms = ap->resync_ms,
		.trust = ap->trust != NULL,
		.from_hub = from_hub,
		.have_marker = rev != NULL,
		.key = key,
		.run = ap->have_run ? &ap->run.marker : NULL,
		.run_verified = ap->have_run && ap->run.verified,
		.mirror = *view,
		.memo = ap->memo};
	int key_rc = 0;
	if (rev) {
		in.marker_rc = op_marker_decode(rev->val, rev->len, &m, &me);
		in.marker_err = me.msg;
		in.marker = in.marker_rc ? NULL : &m;
		if (in.trust && !in.marker_rc)
			key_rc = edge_key(rev, ag_table_get(t, "proof"), key);
	}
	op_revision r;
	memset(&r, 0, sizeof r);
	bool have_r = false;
	op_choose_out out;
	for (;;) {
		op_revision_choose(&in, &out);
		if (out.act == OP_CHOOSE_MEASURE && !in.mirror.measured) {
			op_mirror_info mi;
			op_err e = {0};
			in.mirror.measured = true;
			in.mirror.measure_ok = op_site_mirror_info(bus, &mi, &e) == 0;
			in.mirror.last_seq = in.mirror.measure_ok ? mi.last_seq : 0;
			in.mirror.lag = in.mirror.measure_ok ? mi.lag : 0;
			continue;
		}
		if (out.act == OP_CHOOSE_VERIFY && !in.have_verdict) {
			in.have_verdict = true;
			if (ap->have_pending && same_marker(&ap->pending.marker, &m)) {
				r = ap->pending; /* held by the gate: assembled already */
				ap->have_pending = false;
				in.verdict = 0;
			} else if (key_rc)
				in.verdict = op_err_set(&ve, OP_ENOMEM, "out of memory");
			else
				in.verdict = assemble(ap, &m, t, &r, &ve);
			have_r = in.verdict == 0;
			in.verdict_err = ve.msg;
			in.memo = out.memo;
			continue;
		}
		break;
	}
	ap->memo = out.memo;
	if (out.log)
		report(&out, in.marker, &ve);
	if (out.problem_do == OP_CHOOSE_PROBLEM_SET)
		op_err_set(problem, why_code(out.why), "%s", out.problem);
	else if (out.problem_do == OP_CHOOSE_PROBLEM_CLEAR)
		memset(problem, 0, sizeof *problem);
	if (out.act == OP_CHOOSE_APPLY && have_r && !held(ap, &r, problem)) {
		apply(ap, &r, from_hub, problem);
		ap->held[0] = '\0';
		have_r = false;
	} else if (out.act == OP_CHOOSE_APPLY && have_r) {
		drop_pending(ap);
		ap->pending = r;
		ap->have_pending = true;
		have_r = false;
	} else if (out.act == OP_CHOOSE_KEEP && out.why == OP_CHOOSE_RUNNING) {
		drop_pending(ap); /* the marker went back to the revision running */
	}
	if (have_r)
		op_revision_clear(&r);
	if (!in.marker_rc && rev)
		op_marker_clear(&m);
}
