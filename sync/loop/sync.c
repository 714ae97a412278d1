/* One sync pass (see include/outpost/sync/loop/sync.h). The order is the contract: fetch, read
 * the marker, refuse what does not descend from it, verify every new commit, validate
 * every manifest, and only then write, marker last. Any failure before the writes
 * leaves the bucket untouched. */
#include "sync_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	op_rollouts_step(&s->rollouts, s->bus.js, s->kv, s->status,
		s->cfg.fresh_key ? &s->fresh_key : NULL, op_wall_ms());
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
		op_sync_reason(o, OP_SYNC_FAILED,
			"the hub cluster's JetStream does not answer (%s%s): a leader is being "
			"elected after a node left, or fewer than a majority of its nodes run "
			"(no quorum, nothing is accepted until one comes back); the sites keep "
			"what they have",
			what, e->msg);
	else
		op_sync_reason(o, OP_SYNC_FAILED, "%s%s", what, e->msg);
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
		op_sync_reason(o, OP_SYNC_FAILED, "trust policy: %s", e.msg);
		return;
	}
	/* The buckets first: site mirrors attach to the hub's stream as soon as it exists,
	 * even while the repository is still empty or unreachable. */
	if (ensure_bus(s, &e) != 0) {
		op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	if (op_source_fetch(s->src, s->cfg.branch, head, &e) != 0) {
		op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
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
			op_sync_reason(o, OP_SYNC_FAILED,
				"the commit marker in the bucket is unreadable: %s", e.msg);
			goto out;
		}
		have_marker = true;
		o->rev_seq = prev.seq;
	} else if (rc != OP_ENOTFOUND) {
		op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	if (have_marker && !strcmp(prev.commit, head)) {
		o->kind = OP_SYNC_UNCHANGED;
		o->seq = prev.seq;
		snprintf(o->signer, sizeof o->signer, "%s", prev.signer);
		snprintf(o->reason, sizeof o->reason, "already published");
		memcpy(s->good_commit, head, 41);
		s->good_seq = prev.seq;
		op_sync_proof_repair(s, head, base_seq);
		goto out;
	}
	if (have_marker) {
		bool yes = false;
		rc = op_source_descends(s->src, head, prev.commit, &yes, &e);
		if (rc == OP_ENOTFOUND || (rc == 0 && !yes)) {
			op_sync_reason(o, OP_SYNC_REJECTED,
				"%.12s does not descend from the last accepted commit %.12s: a "
				"force-push or rollback is refused (go back with git revert)",
				head, prev.commit);
			goto out;
		} else if (rc) {
			op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
			goto out;
		}
	}
	if (op_sync_verify_range(s, head, have_marker ? prev.commit : NULL, o) != 0)
		goto out;
	rc = op_desired_read(s->src, &s->index, head, s->cfg.path, &want, &o->errors, &e);
	if (rc == OP_ENOTFOUND && have_marker && path_removed(s, &prev)) {
		op_log_info("the synced path is gone: the revision has no apps",
			"commit=%.12s path=%s", head, s->cfg.path);
		rc = 0;
	}
	if (rc) {
		op_sync_reason(
			o, rc == OP_ENOTFOUND ? OP_SYNC_REJECTED : OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	if (want.invalid) {
		size_t n = op_diags_count(&o->errors);
		op_sync_reason(o, OP_SYNC_REJECTED, "%zu error%s in %d invalid manifest%s", n,
			n == 1 ? "" : "s", want.invalid, want.invalid == 1 ? "" : "s");
		goto out;
	}
	if ((rc = op_secrets_check(s->src, head, s->cfg.path, &want, &o->errors, &e)) != 0) {
		size_t n = op_diags_count(&o->errors);
		if (rc < 0)
			op_sync_reason(o, OP_SYNC_FAILED, "secrets: %s", e.msg);
		else
			op_sync_reason(o, OP_SYNC_REJECTED, "%zu error%s in sealed secrets", n,
				n == 1 ? "" : "s");
		goto out;
	}
	op_commit hc;
	if (op_source_commit(s->src, head, &hc, &e) != 0) {
		op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		goto out;
	}
	op_blob_ids blobs;
	char *pj = NULL;
	size_t pjlen = 0;
	if (op_sync_proof_build(s, &hc, &pj, &pjlen, &blobs, &e) != 0) {
		op_commit_clear(&hc);
		op_sync_reason(o, OP_SYNC_FAILED, "proof: %s", e.msg);
		goto out;
	}
	op_pub_proof pp = {pj, pjlen, &blobs, op_sync_load_blob, s->src};
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
		*again = op_sync_stand_by(s, head, have_marker ? prev.seq : 0, o);
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
