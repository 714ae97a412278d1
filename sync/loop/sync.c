/* One sync pass (see include/outpost/sync/loop/sync.h). The order is the contract: fetch, read
 * the marker, refuse what does not descend from it, verify every new commit, validate
 * every manifest, and only then write, marker last. Any failure before the writes
 * leaves the bucket untouched. */
#include "outpost/sync/loop/sync.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/sync/git/desired.h"
#include "outpost/sync/git/secrets.h"
#include "outpost/sync/loop/rollouts.h"
#include "outpost/sync/publish/fresh_pub.h"
#include "outpost/agent/base/log.h"
#include "outpost/sync/loop/reports.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/sync/git/policy.h"
#include "outpost/sync/git/proofgen.h"
#include "outpost/sync/publish/publish.h"
#include "outpost/sync/publish/standby.h"
#include "outpost/agent/store/objmeta.h"
#include "outpost/sync/git/source.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/trust/verify.h"

#define MAX_RANGE 100000 /* commits verified in one pass */

struct op_sync {
	op_sync_cfg cfg;
	op_source *src;
	op_bus bus;
	kvStore *kv, *status;
	op_mindex index; /* blob -> app and digest, of the last accepted revision */
	char index_path[4096];
	op_sshpriv fresh_key; /* --fresh-key, when given */
	char good_commit[41]; /* the revision this process published or found in place */
	uint64_t good_seq; /* (what freshness records vouch for); 0: none yet */
	uint64_t fresh_seq; /* the seq the last record named (for the log) */
	bool fresh_failing;
	/* The last rejection or failure logged (digest of outcome, commit, reason and
	 * errors): the same one is not logged again every pass, only when it changes. */
	char last_refusal[65]; /* hex sha256 */
	op_artwatch art; /* the accepted revision's artifacts against the store */
	op_rollouts rollouts; /* canary waves of the accepted revision's apps */
	bool kv_checked, status_checked, store_checked; /* replicas looked at */
	bool status_failing; /* hub.sync could not be written (said once) */
};

#define MAX_AGAIN 3 /* passes in a row after another sync's writes */

int op_sync_new(op_sync **out, const op_sync_cfg *cfg, op_err *e)
{
	op_sync *s = calloc(1, sizeof *s);
	if (!s)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	s->cfg = *cfg;
	int rc = op_source_open(&s->src, cfg->state, cfg->repo, cfg->ca_file, e);
	if (rc) {
		free(s);
		return rc;
	}
	if (cfg->fresh_key && (rc = op_sshpriv_load(&s->fresh_key, cfg->fresh_key, e)) != 0) {
		op_source_free(s->src);
		free(s);
		return rc;
	}
	snprintf(s->index_path, sizeof s->index_path, "%s/manifests.idx", cfg->state);
	op_mindex_load(&s->index, s->index_path);
	*out = s;
	return 0;
}

void op_sync_fresh(op_sync *s)
{
	op_err e = {0};
	if (!s->cfg.fresh_key || !s->kv || !s->good_seq)
		return;
	uint64_t seq = s->good_seq;
	int rc = op_fresh_publish(s->kv, &s->fresh_key, s->good_commit, s->good_seq,
		op_wall_ms() / 1000, s->cfg.fresh_ttl_ms / 1000, &e);
	if (rc) {
		if (!s->fresh_failing)
			op_log_warn("cannot publish the freshness record", "error=\"%s\"", e.msg);
		s->fresh_failing = true;
		return;
	}
	if (rc == 0 && (s->fresh_failing || seq != s->fresh_seq))
		op_log_info("freshness record signed", "seq=%llu ttl_ms=%lld",
			(unsigned long long)seq, (long long)s->cfg.fresh_ttl_ms);
	s->fresh_failing = false;
	s->fresh_seq = seq;
}

void op_sync_rollouts(op_sync *s)
{
	op_rollouts_step(&s->rollouts, s->kv, s->status, s->cfg.fresh_key ? &s->fresh_key : NULL,
		op_wall_ms());
}

char *op_sync_rollout_request(op_sync *s, const char *subject, const char *data, size_t len)
{
	return op_rollouts_request(&s->rollouts, s->kv, s->status,
		s->cfg.fresh_key ? &s->fresh_key : NULL, subject, data, len, op_wall_ms());
}

struct op_bus *op_sync_bus(op_sync *s)
{
	return s->bus.nc ? &s->bus : NULL;
}

static int want_replicas(const op_sync *s)
{
	return s->cfg.replicas > 0 ? s->cfg.replicas : 1;
}

/* Says once when an existing stream has fewer replicas than --replicas, and how to
 * change it: sync never resizes what it did not create. done: looked at already. */
static void check_replicas(op_sync *s, const char *stream, bool *done)
{
	jsStreamInfo *si = NULL;
	if (*done || js_GetStreamInfo(&si, s->bus.js, stream, NULL, NULL) != NATS_OK)
		return;
	char fix[160];
	if (op_replicas_short(stream, (int)si->Config->Replicas, want_replicas(s), fix, sizeof fix))
		op_log_warn("the stream has fewer replicas than --replicas asks",
			"stream=%s replicas=%lld want=%d fix=\"%s\"", stream,
			(long long)si->Config->Replicas, want_replicas(s), fix);
	*done = true;
	jsStreamInfo_Destroy(si);
}

static int ensure_bus(op_sync *s, op_err *e)
{
	if (!s->bus.nc) {
		int rc = op_bus_connect(&s->bus, s->cfg.nats, "outpost-sync", "hub", 0, e);
		if (rc)
			return rc;
	}
	if (!op_bus_connected(&s->bus)) {
		char url[512];
		op_bus_url_redact(s->cfg.nats, url, sizeof url);
		return op_err_set(e, OP_ENATS, "not connected to %s", url);
	}
	if (!s->kv) {
		kvConfig c;
		op_publish_bucket_config(&c);
		c.Replicas = want_replicas(s);
		int rc = op_bus_kv(&s->bus, &c, &s->kv, e);
		if (rc)
			return rc;
	}
	check_replicas(s, "KV_" OP_BUCKET, &s->kv_checked);
	if (!s->status) {
		kvConfig c;
		kvConfig_Init(&c);
		c.Bucket = OP_STATUS_BUCKET;
		c.Description = "outpost status: hub.sync, and every site's, as it reports";
		c.History = 1;
		c.MaxValueSize = OP_MAX_VALUE;
		c.StorageType = js_FileStorage;
		c.Replicas = want_replicas(s);
		int rc = op_bus_kv(&s->bus, &c, &s->status, e);
		if (rc)
			return rc;
		op_err de = {0};
		if (op_reports_drop_sources(&s->bus, &de) != 0)
			op_log_warn("status stream: cannot check for old sources", "error=\"%s\"",
				de.msg);
	}
	check_replicas(s, "KV_" OP_STATUS_BUCKET, &s->status_checked);
	/* The artifact store is made by outpost artifact put: checked once it exists. */
	char store[128];
	if (op_objmeta_stream(OP_STORE_BUCKET, store, sizeof store) == 0)
		check_replicas(s, store, &s->store_checked);
	return 0;
}

static void set_reason(op_sync_outcome *o, enum op_sync_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_reason(op_sync_outcome *o, enum op_sync_kind k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof o->reason, fmt, ap);
	va_end(ap);
	o->kind = k;
}

/* Every commit after the last accepted one (or the head alone) must verify. */
/* Every commit after the last accepted one (or the head alone), oldest first, under the
 * policy in force before it; a commit that verified and changes the repository's policy
 * puts its own in force for the commits after it. */
static int verify_range(op_sync *s, const char *head, const char *base, op_sync_outcome *o)
{
	char(*shas)[41] = NULL;
	size_t n = 0;
	op_err e = {0};
	op_policy *pol = NULL;
	op_policy_ref ref, next;
	op_policy_files files = {s->cfg.trust, s->cfg.revoked, s->cfg.match_committer};
	if (op_source_range(
		    s->src, head, s->cfg.verify_all ? base : NULL, MAX_RANGE, &shas, &n, &e) != 0 ||
		op_policy_ref_at(s->src, base, &ref, &e) != 0) {
		set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		free(shas);
		return -1;
	}
	if (op_policy_load_ref(s->src, &files, &ref, &pol, &e) != 0) {
		set_reason(o, OP_SYNC_FAILED, "trust policy: %s", e.msg);
		free(shas);
		return -1;
	}
	int rc = 0;
	for (size_t i = n; i-- > 0 && rc == 0;) {
		op_commit c;
		char signer[256] = "";
		if (op_source_commit(s->src, shas[i], &c, &e) != 0) {
			set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
			rc = -1;
			break;
		}
		if (op_policy_verify_commit(pol, &c, signer, &e) != 0) {
			set_reason(o, OP_SYNC_REJECTED, "commit %.12s: %s%s%.12s", shas[i], e.msg,
				base && strstr(e.msg, "(unsigned)")
					? "; the last accepted commit is "
					: "",
				base && strstr(e.msg, "(unsigned)") ? base : "");
			rc = -1;
		} else if (i == 0) {
			snprintf(o->signer, sizeof o->signer, "%s", signer);
		}
		op_commit_clear(&c);
		if (rc || i == 0)
			break;
		if (op_policy_ref_at(s->src, shas[i], &next, &e) != 0) {
			set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
			rc = -1;
		} else if (!op_policy_ref_equal(&ref, &next)) {
			op_policy_free(pol);
			pol = NULL;
			if (op_policy_load_ref(s->src, &files, &next, &pol, &e) != 0) {
				set_reason(o, OP_SYNC_REJECTED, "commit %.12s: %s", shas[i], e.msg);
				rc = -1;
			}
			ref = next;
			op_log_info("trust policy changed", "commit=%.12s file=%s", shas[i],
				ref.trust_blob[0] ? OP_REPO_TRUST : s->cfg.trust);
		}
	}
	op_policy_free(pol);
	free(shas);
	return rc;
}

static int load_blob(void *src, const char *id, char **buf, size_t *len, op_err *e)
{
	return op_source_blob(src, id, buf, len, e);
}

/* What a site needs to check the revision of commit c itself (proof.h): the signed
 * commit, the trees down the path (as JSON in *json), the manifest blobs. */
static int build_proof(
	op_sync *s, const op_commit *c, char **json, size_t *len, op_blob_ids *blobs, op_err *e)
{
	op_proof proof;
	*json = NULL;
	int rc = op_proof_build(s->src, c, s->cfg.path, &proof, blobs, e);
	if (rc)
		return rc;
	rc = op_proof_encode(&proof, json, len, e);
	if (rc == 0 && *len > OP_MAX_VALUE && proof.ncommits) {
		/* Without the chain rather than no revision: sites behind a rotation then
		 * refuse it and say how to reset them. */
		op_log_warn("the proof is too large with its chain of policy changes: published "
			    "without it",
			"commit=%.12s bytes=%zu commits=%zu", c->sha, *len, proof.ncommits);
		for (size_t i = 0; i < proof.ncommits; i++)
			free(proof.commits[i].raw);
		proof.ncommits = 0;
		free(*json);
		rc = op_proof_encode(&proof, json, len, e);
	}
	op_proof_clear(&proof);
	if (rc == 0 && *len > OP_MAX_VALUE)
		rc = op_err_set(e, OP_ETOOBIG,
			"the proof is %zu bytes, more than a value may hold (%d): too many "
			"directories or files under %s",
			*len, OP_MAX_VALUE, s->cfg.path);
	if (rc) {
		free(*json);
		*json = NULL;
		op_blob_ids_clear(blobs);
	}
	return rc;
}

/* The bucket holds the revision of head already: its proof too? A bucket written by an
 * older sync, or a proof lost, is repaired here, so that sites verifying at the edge
 * need not wait for the next commit. */
static void repair_proof(op_sync *s, const char *head, uint64_t base_seq)
{
	char *val = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	op_err e = {0};
	op_proof held;
	bool ok = false;
	if (op_bus_kv_get(s->kv, "proof", &val, &len, &rev, &e) == 0 &&
		op_proof_decode(val, len, &held, &e) == 0) {
		ok = !strcmp(held.commit, head);
		op_proof_clear(&held);
	}
	free(val);
	if (ok)
		return;
	op_commit hc;
	op_blob_ids blobs;
	char *pj = NULL;
	size_t pjlen = 0, put = 0;
	int rc = op_source_commit(s->src, head, &hc, &e);
	if (rc == 0) {
		rc = build_proof(s, &hc, &pj, &pjlen, &blobs, &e);
		op_commit_clear(&hc);
	}
	if (rc == 0) {
		op_pub_proof pp = {pj, pjlen, &blobs, load_blob, s->src};
		rc = op_publish_proof(
			s->bus.nc, s->kv, &pp, base_seq, s->cfg.write_window, &put, &e);
		op_blob_ids_clear(&blobs);
		free(pj);
	}
	if (rc)
		op_log_warn("cannot publish the proof of the current revision",
			"commit=%.12s error=\"%s\"", head, e.msg);
	else
		op_log_info("proof of the current revision published", "commit=%.12s blobs=%zu",
			head, put);
}

static bool know_all(void *arg, const char *file, const char blob[41])
{
	(void)arg, (void)file, (void)blob;
	return true; /* only whether the directory is there: no manifest is read */
}

/* A --path gone from the head means that its owner removed every app (git keeps no
 * empty directory), when the path held the apps of the last accepted revision or that
 * revision had none. A path that never held them is refused, as before: a wrong --path
 * must not delete a fleet. */
static bool path_removed(op_sync *s, const op_marker *prev)
{
	if (prev->napps == 0)
		return true;
	op_appset set = {0};
	op_diags d = {0};
	op_err e = {0};
	int rc = op_source_read_apps(
		s->src, prev->commit, s->cfg.path, &set, &d, know_all, NULL, &e);
	op_appset_clear(&set);
	op_diags_clear(&d);
	return rc == 0;
}

/* A connected client whose JetStream requests time out or find no responder: on a hub
 * cluster, a stream without a leader for now (an election after a node left, seconds)
 * or a majority of its nodes down (no quorum, until one is back). Said so. */
static void set_js_failed(op_sync *s, op_sync_outcome *o, const char *what, const op_err *e)
{
	char **urls = NULL;
	int n = 0;
	bool cluster = op_bus_connected(&s->bus) &&
		natsConnection_GetServers(s->bus.nc, &urls, &n) == NATS_OK && n > 1;
	for (int i = 0; i < n; i++)
		free(urls[i]);
	free(urls);
	if (cluster &&
		(strstr(e->msg, "Timeout") || strstr(e->msg, "No responders") ||
			strstr(e->msg, "temporarily unavailable")))
		set_reason(o, OP_SYNC_FAILED,
			"the hub cluster's JetStream does not answer (%s%s): a leader is being "
			"elected after a node left, or fewer than a majority of its nodes run "
			"(no quorum, nothing is accepted until one comes back); the sites keep "
			"what they have",
			what, e->msg);
	else
		set_reason(o, OP_SYNC_FAILED, "%s%s", what, e->msg);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* This pass's first chained write was refused: another sync writes the bucket (one on
 * every node of a hub cluster). Watches the marker and the stream's last sequence
 * until op_standby_next decides; true when a new pass should follow at once. */
static bool stand_by(op_sync *s, const char *head, uint64_t prev_seq, op_sync_outcome *o)
{
	int64_t t0 = op_now_ms(), moved = t0;
	uint64_t seen = 0;
	for (;;) {
		op_err e = {0};
		op_marker m = {0};
		char *val = NULL;
		size_t len = 0;
		uint64_t rev = 0, last = 0;
		bool have = op_bus_kv_get(s->kv, "rev", &val, &len, &rev, &e) == 0 &&
			op_marker_decode(val, len, &m, &e) == 0;
		free(val);
		if (op_publish_last_seq(s->bus.js, &last, &e) == 0 && last != seen) {
			seen = last;
			moved = op_now_ms();
		}
		int64_t now = op_now_ms();
		op_standby_view v = {head, prev_seq, have ? m.commit : "", have ? m.seq : 0,
			now - moved, now - t0};
		enum op_standby next = op_standby_next(&v);
		if (next == OP_STANDBY_PUBLISHED) {
			o->kind = OP_SYNC_UNCHANGED;
			o->seq = o->rev_seq = m.seq;
			snprintf(o->signer, sizeof o->signer, "%s", m.signer);
			snprintf(o->reason, sizeof o->reason,
				"another sync published revision %llu", (unsigned long long)m.seq);
			memcpy(s->good_commit, head, 41);
			s->good_seq = m.seq;
			op_log_info("another sync published the revision", "commit=%.12s seq=%llu",
				head, (unsigned long long)m.seq);
		} else if (next == OP_STANDBY_AGAIN && v.marker_seq != prev_seq) {
			op_log_info("another sync published another revision: passing again",
				"commit=%.12s seq=%llu", v.marker_commit,
				(unsigned long long)m.seq);
		} else if (next == OP_STANDBY_AGAIN) {
			op_log_info("the bucket stopped moving without a marker: finishing the "
				    "revision another sync left half way",
				"commit=%.12s still_ms=%lld", head, (long long)v.still_ms);
		} else if (next == OP_STANDBY_GIVEUP) {
			set_reason(o, OP_SYNC_FAILED,
				"another sync kept writing the bucket for %d s without publishing "
				"%.12s: the next pass tries again",
				OP_STANDBY_MAX_MS / 1000, head);
		}
		op_marker_clear(&m);
		if (next != OP_STANDBY_WAIT)
			return next == OP_STANDBY_AGAIN;
		sleep_ms(200);
	}
}

static void pass(op_sync *s, op_sync_outcome *o, bool *again)
{
	op_err e = {0};
	char head[41];
	op_policy *pol = NULL;
	op_marker prev = {0};
	op_desired want = {0};
	char *mval = NULL;
	size_t mlen = 0;
	uint64_t mrev = 0;
	bool have_marker = false;

	/* The operator's files must always be readable, whatever policy is in force. */
	if (op_policy_load(&pol, s->cfg.trust, s->cfg.revoked, s->cfg.match_committer, &e)) {
		set_reason(o, OP_SYNC_FAILED, "trust policy: %s", e.msg);
		return;
	}
	/* The buckets first: site mirrors attach to the hub's stream as soon as it exists,
	 * even while the repository is still empty or unreachable. */
	if (ensure_bus(s, &e) != 0) {
		set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	if (op_source_fetch(s->src, s->cfg.branch, head, &e) != 0) {
		set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	memcpy(o->commit, head, 41);
	/* The stream's last sequence before the marker: every write of this pass must come
	 * right after it, so a sync that wrote meanwhile is noticed, not overwritten. */
	uint64_t base_seq = 0;
	if (op_publish_last_seq(s->bus.js, &base_seq, &e) != 0) {
		set_js_failed(s, o, "", &e);
		goto out;
	}
	int rc = op_bus_kv_get(s->kv, "rev", &mval, &mlen, &mrev, &e);
	if (rc == 0) {
		if (op_marker_decode(mval, mlen, &prev, &e) != 0) {
			set_reason(o, OP_SYNC_FAILED,
				"the commit marker in the bucket is unreadable: %s", e.msg);
			goto out;
		}
		have_marker = true;
		o->rev_seq = prev.seq;
	} else if (rc != OP_ENOTFOUND) {
		set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	if (have_marker && !strcmp(prev.commit, head)) {
		o->kind = OP_SYNC_UNCHANGED;
		o->seq = prev.seq;
		snprintf(o->signer, sizeof o->signer, "%s", prev.signer);
		snprintf(o->reason, sizeof o->reason, "already published");
		memcpy(s->good_commit, head, 41);
		s->good_seq = prev.seq;
		repair_proof(s, head, base_seq);
		goto out;
	}
	if (have_marker) {
		bool yes = false;
		rc = op_source_descends(s->src, head, prev.commit, &yes, &e);
		if (rc == OP_ENOTFOUND || (rc == 0 && !yes)) {
			set_reason(o, OP_SYNC_REJECTED,
				"%.12s does not descend from the last accepted commit %.12s: a "
				"force-push or rollback is refused (go back with git revert)",
				head, prev.commit);
			goto out;
		} else if (rc) {
			set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
			goto out;
		}
	}
	if (verify_range(s, head, have_marker ? prev.commit : NULL, o) != 0)
		goto out;
	rc = op_desired_read(s->src, &s->index, head, s->cfg.path, &want, &o->errors, &e);
	if (rc == OP_ENOTFOUND && have_marker && path_removed(s, &prev)) {
		op_log_info("the synced path is gone: the revision has no apps",
			"commit=%.12s path=%s", head, s->cfg.path);
		rc = 0;
	}
	if (rc) {
		set_reason(o, rc == OP_ENOTFOUND ? OP_SYNC_REJECTED : OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	if (want.invalid) {
		size_t n = op_diags_count(&o->errors);
		set_reason(o, OP_SYNC_REJECTED, "%zu error%s in %d invalid manifest%s", n,
			n == 1 ? "" : "s", want.invalid, want.invalid == 1 ? "" : "s");
		goto out;
	}
	if ((rc = op_secrets_check(s->src, head, s->cfg.path, &want, &o->errors, &e)) != 0) {
		size_t n = op_diags_count(&o->errors);
		if (rc < 0)
			set_reason(o, OP_SYNC_FAILED, "secrets: %s", e.msg);
		else
			set_reason(o, OP_SYNC_REJECTED, "%zu error%s in sealed secrets", n,
				n == 1 ? "" : "s");
		goto out;
	}
	op_commit hc;
	if (op_source_commit(s->src, head, &hc, &e) != 0) {
		set_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	op_blob_ids blobs;
	char *pj = NULL;
	size_t pjlen = 0;
	if (build_proof(s, &hc, &pj, &pjlen, &blobs, &e) != 0) {
		op_commit_clear(&hc);
		set_reason(o, OP_SYNC_FAILED, "proof: %s", e.msg);
		goto out;
	}
	op_pub_proof pp = {pj, pjlen, &blobs, load_blob, s->src};
	op_marker m = {0};
	memcpy(m.commit, head, 41);
	uint64_t base = prev.seq > s->cfg.seq_floor ? prev.seq : s->cfg.seq_floor;
	m.seq = base + 1;
	snprintf(m.signer, sizeof m.signer, "%s", o->signer);
	op_time_rfc3339(hc.time, m.time);
	op_commit_clear(&hc);
	op_pub_result r;
	rc = op_publish(s->bus.nc, s->kv, want.v, want.n, op_desired_load, s->src, &pp, &m,
		have_marker ? &prev : NULL, have_marker ? mrev : 0, base_seq, s->cfg.write_window,
		&r, &e);
	op_marker_clear(&m);
	op_blob_ids_clear(&blobs);
	free(pj);
	o->puts = r.puts;
	o->dels = r.dels;
	if (rc == OP_ECONFLICT) { /* at the first write, or later (another's plain put) */
		*again = stand_by(s, head, have_marker ? prev.seq : 0, o);
		goto out;
	}
	if (rc) {
		set_js_failed(s, o, "publish: ", &e);
		goto out;
	}
	o->kind = OP_SYNC_ACCEPTED;
	o->seq = m.seq;
	o->rev_seq = m.seq;
	memcpy(s->good_commit, head, 41);
	s->good_seq = m.seq;
	snprintf(o->reason, sizeof o->reason, "published %zu apps (%zu written, %zu deleted)",
		want.n, r.puts, r.dels);
	if (op_desired_index(&want, &s->index) != 0 ||
		op_mindex_save(&s->index, s->index_path, &e) != 0)
		op_log_warn("cannot save the manifest index", "error=\"%s\"", e.msg);
out:
	op_desired_clear(&want);
	op_marker_clear(&prev);
	free(mval);
	op_policy_free(pol);
}

/* True when o repeats the refusal logged last (and remembers o's otherwise): the same
 * outcome for the same commit, reason and manifest errors. */
static bool refusal_logged(op_sync *s, const op_sync_outcome *o)
{
	char key[65];
	op_sync_refusal_key(o, key);
	bool same = key[0] && !strcmp(key, s->last_refusal);
	memcpy(s->last_refusal, key, sizeof key);
	return same;
}

static void report(op_sync *s, op_sync_outcome *o)
{
	enum op_log_level lvl = o->kind == OP_SYNC_FAILED ? OP_LOG_ERROR
		: o->kind == OP_SYNC_REJECTED             ? OP_LOG_WARN
							  : OP_LOG_INFO;
	if (refusal_logged(s, o))
		lvl = OP_LOG_DEBUG; /* said once already, for this commit and reason */
	op_log(lvl, "sync pass",
		"outcome=%s commit=%.12s signer=\"%s\" seq=%llu ms=%lld reason=\"%s\"",
		op_sync_kind_name(o->kind), o->commit, o->signer, (unsigned long long)o->seq,
		(long long)o->ms, o->reason);
	for (size_t i = 0; i < o->errors.n; i++)
		op_log(lvl == OP_LOG_DEBUG ? OP_LOG_DEBUG : OP_LOG_WARN, "invalid manifest",
			"at=%s:%d:%d field=%s error=\"%s\"", o->errors.v[i].file,
			o->errors.v[i].line, o->errors.v[i].col, o->errors.v[i].path,
			o->errors.v[i].msg);
	if (!s->status)
		return;
	char *json = op_sync_outcome_json(o);
	if (json) {
		natsStatus st = kvStore_PutString(NULL, s->status, "hub.sync", json);
		if (st != NATS_OK && !s->status_failing)
			op_log(OP_LOG_WARN, "cannot write status hub.sync", "error=\"%s\"",
				natsStatus_GetText(st));
		else if (st == NATS_OK && s->status_failing)
			op_log_info("status hub.sync written again", "outcome=%s",
				op_sync_kind_name(o->kind));
		s->status_failing = st != NATS_OK;
	}
	free(json);
}

void op_sync_pass(op_sync *s, op_sync_outcome *o)
{
	memset(o, 0, sizeof *o);
	int64_t t0 = op_now_ms();
	bool again = true;
	for (int i = 0; again && i < MAX_AGAIN; i++) {
		if (i) {
			op_sync_outcome_clear(o);
			memset(o, 0, sizeof *o);
		}
		again = false;
		pass(s, o, &again);
	}
	if (s->kv) {
		op_artwatch_step(&s->art, &s->bus, s->kv, op_now_ms());
		if (op_art_missing_copy(&o->missing, &s->art.missing, NULL) != 0)
			op_log_warn(
				"cannot report the missing artifacts", "error=\"out of memory\"");
	}
	o->ms = op_now_ms() - t0;
	report(s, o);
}

void op_sync_free(op_sync *s)
{
	if (!s)
		return;
	if (s->kv)
		kvStore_Destroy(s->kv);
	if (s->status)
		kvStore_Destroy(s->status);
	op_bus_close(&s->bus);
	op_source_free(s->src);
	op_mindex_clear(&s->index);
	op_sshpriv_clear(&s->fresh_key);
	op_artwatch_clear(&s->art);
	op_rollouts_clear(&s->rollouts);
	free(s);
}
