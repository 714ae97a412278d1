/* Out-of-memory paths, SQLite-style: each test runs one operation of a module again and
 * again with the Nth allocation failing (tests/oom.h), for N = 0, 1, ... until the
 * operation completes without reaching the injected failure; then the same with every
 * allocation from the Nth on failing. Each run must end in a clean error: a negative
 * code (OP_ENOMEM for valid input; a refusal only with its message, in op_err or a
 * diagnostic), outputs left empty, nothing leaked (counted here per run, and by ASan at
 * exit) and no crash; the run that completes must give what a run without injection
 * gives. Modules: the manifest reader (YAML -> doc tree -> op_app), the validator and
 * app sets, the canonical JSON, the marker, the proof, the host protocol, trust
 * (allowed_signers and revocation lists, SSHSIG parse and verify, policy from text and
 * commit verification), verification at the edge and the saved revision, the planner.
 *
 * What is reached: our own objects' malloc, calloc, realloc, strdup and strndup, and
 * jansson's allocations (canonical JSON, marker, proof, protocol, revision). libyaml and
 * mbedtls allocate inside their shared libraries, which the linker's --wrap does not
 * reach: their own allocation failures are not injected here, only ours around them.
 * jansson's failures are sticky within a run (see tests/oom.c for why). A failure
 * point is one N, an allocation made by the operation; each module's line also counts
 * the distinct call sites whose failure was exercised. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "../oom.h"
#include "../t.h"
#include "outpost/agent/model/appset.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"
#include "outpost/agent/trust/edge.h"
#include "outpost/agent/trust/sshsig.h"
#include "outpost/agent/trust/trust.h"
#include "outpost/agent/trust/verify.h"
#include "outpost/agent/wire/gitobj.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/agent/wire/proof.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/sync/git/proofgen.h"
#include "outpost/sync/git/source.h"

/* Far more allocations than any operation here makes: a loop that never completes. */
#define OOM_MAX_N 200000
/* Failed checks printed per module before the rest are only counted. */
#define OOM_MAX_REPORTS 8

/* One operation: runs it, checks its outputs (empty on failure, the expected ones on
 * success), frees them, and returns its code with e filled when it failed. */
typedef int (*oom_op)(void *ctx, op_err *e);

static long total_points;
static size_t total_sites, total_json_sites;
static long cur_n;
static int reports;

/* c is evaluated once: some checks call the operation. */
#define OOM_CHECK(c, ...) \
	do { \
		if (c) \
			break; \
		if (reports++ < OOM_MAX_REPORTS) \
			t_fail(__FILE__, __LINE__, __VA_ARGS__); \
		else \
			t_failed_checks++; \
	} while (0)

/* Runs op for every N in both modes; strict: a failure must be OP_ENOMEM (the input is
 * valid, so any other refusal would blame the input for the allocator), except that
 * when jansson's loader failed it may report a syntax error (see oom.h), which op gives
 * as json_refusal. */
static void drive(const char *module, oom_op op, void *ctx, bool strict, int json_refusal)
{
	long points = 0;
	reports = 0;
	oom_sites_reset();
	for (int persist = 0; persist < 2; persist++) {
		long n = 0;
		for (; n < OOM_MAX_N; n++) {
			op_err e = {0};
			cur_n = n;
			oom_arm(n, persist);
			int rc = op(ctx, &e);
			bool fired = oom_fired();
			oom_disarm();
			size_t live = oom_live();
			OOM_CHECK(live == 0, "%s: n=%ld%s: %zu blocks leaked (rc %d: %s)", module,
				n, persist ? " on" : "", live, rc, e.msg);
			if (!fired) {
				OOM_CHECK(rc == 0, "%s: n=%ld: no failure injected, yet rc %d: %s",
					module, n, rc, e.msg);
				break;
			}
			OOM_CHECK(rc < 0, "%s: n=%ld%s: failure ignored (rc %d)", module, n,
				persist ? " on" : "", rc);
			OOM_CHECK(rc == OP_ENOMEM || e.msg[0], "%s: n=%ld%s: rc %d with no message",
				module, n, persist ? " on" : "", rc);
			OOM_CHECK(!strict || rc == OP_ENOMEM || strstr(e.msg, "out of memory") ||
					(rc == json_refusal && oom_fired_json()),
				"%s: n=%ld%s: rc %d (%s) for an allocation failure", module, n,
				persist ? " on" : "", rc, e.msg);
		}
		T_CHECK_MSG(n < OOM_MAX_N, "%s: never completed", module);
		if (persist)
			T_CHECK_MSG(
				n == points, "%s: %ld allocations, then %ld", module, points, n);
		else
			points = n;
	}
	total_points += points;
	total_sites += oom_sites(false);
	total_json_sites += oom_sites(true);
	printf("oom: %-10s %5ld failure points (allocations failed alone and with all after "
	       "them): %zu call sites of ours, %zu in jansson\n",
		module, points, oom_sites(false), oom_sites(true));
	fflush(stdout);
}

/* --- model: manifest reader, validator, canonical JSON, app sets ----------------------- */

#define HEX "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Every part of the model: policies (placement and rollout), annotations, args, env, artifacts by
 * arch, both scalers, spread entries with and without names, an anchor and its alias, secret
 * references in env and files. */
static const char *const MANIFEST =
	"apiVersion: core.oam.dev/v1beta1\n"
	"kind: Application\n"
	"metadata:\n"
	"  name: thermo\n"
	"  annotations: {version: v3, owner: plant-team}\n"
	"spec:\n"
	"  policies:\n"
	"    - name: where\n"
	"      type: placement\n"
	"      properties:\n"
	"        sites: [plant-7, plant-9]\n"
	"        requirements: &req {region: eu}\n"
	"    - name: canary\n"
	"      type: rollout\n"
	"      properties:\n"
	"        waves: [{name: canary, requirements: {ring: canary}}, {name: rest}]\n"
	"        soak: 90s\n"
	"        min_sites: 2\n"
	"  components:\n"
	"    - name: reader\n"
	"      type: process\n"
	"      properties:\n"
	"        command: /opt/thermo/reader\n"
	"        args: [\"--sensor-bus\", \"i2c-1\", \"--verbose\"]\n"
	"        env: {LOG_LEVEL: info, RETRIES: 3, \"QUOTE\": \"a\\\"b\\tc\", DB_PASS: {secret: "
	"db}}\n"
	"        files: [{path: /run/thermo/db, secret: db, mode: \"0440\"}]\n"
	"        workdir: /var/lib/thermo\n"
	"        restart: on-failure\n"
	"        rollout: stop-first\n"
	"        artifact:\n"
	"          path: /opt/thermo/reader\n"
	"          sha256: {amd64: " HEX ", arm64: " HEX "}\n"
	"      traits:\n"
	"        - type: spreadscaler\n"
	"          properties:\n"
	"            instances: 4\n"
	"            spread:\n"
	"              - name: arm\n"
	"                requirements: {arch: arm64}\n"
	"                weight: 80\n"
	"              - weight: 20\n"
	"                requirements: *req\n"
	"    - name: gw\n"
	"      type: process\n"
	"      properties:\n"
	"        command: /opt/thermo/gw\n"
	"        artifact: {path: /opt/thermo/gw, sha256: " HEX "}\n"
	"      traits:\n"
	"        - type: daemonscaler\n"
	"          properties: {instances: 1, spread: [{requirements: {role: gw}}]}\n"
	"    - name: filter\n"
	"      type: wasm\n"
	"      properties:\n"
	"        module: sha256:" HEX "\n"
	"        path: /opt/thermo/filter.wasm\n"
	"        dirs: [{guest: /data, host: /var/lib/thermo, readonly: true}, {guest: /t, "
	"host: /tmp}]\n"
	"        user: nobody\n"
	"        group: \"65534\"\n"
	"        umask: \"0027\"\n"
	"        limits: {memory: 16Mi, open_files: 64, cpu_time: 1m}\n";

/* Errors of many kinds in one file, so that the validator's reporting allocates. */
static const char *const INVALID =
	"apiVersion: core.oam.dev/v1beta1\n"
	"kind: Application\n"
	"metadata: {name: Bad_Name, labels: {a: b}}\n"
	"spec:\n"
	"  policies:\n"
	"    - {name: p, type: placement, properties: {sites: [hub, s1, s1]}}\n"
	"  components:\n"
	"    - name: c\n"
	"      type: process\n"
	"      properties: {command: bin/c, args: x, env: {\"1x\": y}, restart: sometimes}\n"
	"      traits:\n"
	"        - type: spreadscaler\n"
	"          properties: {instances: -1, spread: [{name: a}, {name: a, weight: 0}]}\n"
	"    - name: c\n"
	"      type: process\n"
	"      properties: {command: /bin/c, extra: 1}\n";

static char *canonical; /* the canonical JSON of MANIFEST, without injection */
static size_t canonical_len;

/* The diagnostics' first message into e, for the driver's report. */
static int diag_rc(int rc, op_diags *d, op_err *e)
{
	if (rc < 0 && d->n)
		op_err_set(e, rc, "%s", d->v[0].msg);
	op_diags_clear(d);
	return rc;
}

static int run_manifest(void *ctx, op_err *e)
{
	(void)ctx;
	op_app *app = NULL;
	op_diags d = {0};
	int rc = op_manifest_parse("thermo.yaml", MANIFEST, strlen(MANIFEST), &app, &d);
	OOM_CHECK(rc ? !app : app && app->ncomps == 3, "manifest: n=%ld: rc %d, app %p", cur_n, rc,
		(void *)app);
	if (rc == 0) {
		OOM_CHECK(!d.n, "manifest: n=%ld: diagnostics on success", cur_n);
		OOM_CHECK(!strcmp(app->comps[0].env.v[0].val, "info") &&
				app->comps[0].scaler.nspread == 2 &&
				!strcmp(app->comps[0].scaler.spread[1].name, "spread-1") &&
				op_kvs_get(
					&app->comps[0].scaler.spread[1].requirements, "region") &&
				app->has_rollout && app->rollout.nwaves == 2 &&
				op_kvs_get(&app->rollout.waves[0].requirements, "ring"),
			"manifest: n=%ld: wrong app", cur_n);
	}
	op_app_free(app);
	return diag_rc(rc, &d, e);
}

/* The validator's reports: a file with many errors, and a name two files share. Under
 * injection the file stays refused; which of its errors get reported may vary. */
static int run_validate(void *ctx, op_err *e)
{
	(void)ctx;
	op_app *app = NULL;
	op_diags d = {0};
	int rc = op_manifest_parse("bad.yaml", INVALID, strlen(INVALID), &app, &d);
	OOM_CHECK(rc < 0 && !app, "validator: n=%ld: invalid manifest gave rc %d", cur_n, rc);
	op_app_free(app);
	if (oom_fired())
		return diag_rc(rc, &d, e);
	OOM_CHECK(rc == OP_EINVAL && op_diags_count(&d) >= 12,
		"validator: n=%ld: rc %d, %zu diagnostics", cur_n, rc, op_diags_count(&d));
	op_diags_clear(&d);

	op_appset s = {0};
	rc = op_appset_add(&s, "a.yaml", MANIFEST, strlen(MANIFEST), &d);
	if (rc == 0)
		rc = op_appset_add(&s, "b.yaml", MANIFEST, strlen(MANIFEST), &d);
	if (!oom_fired()) {
		OOM_CHECK(rc == OP_EINVAL && s.n == 1 && s.invalid == 1 && d.n == 1 &&
				strstr(d.v[0].msg, "a.yaml"),
			"validator: n=%ld: duplicate name: rc %d, %zu apps, %zu diagnostics", cur_n,
			rc, s.n, d.n);
		rc = 0;
	}
	op_appset_clear(&s);
	return diag_rc(rc, &d, e);
}

static int run_json(void *ctx, op_err *e)
{
	const op_app *app = ctx;
	char *json = NULL;
	size_t len = 0;
	int rc = op_manifest_to_json(app, &json, &len);
	OOM_CHECK(rc ? !json : json && len == canonical_len && !memcmp(json, canonical, len),
		"json: n=%ld: rc %d, output differs", cur_n, rc);
	if (rc) {
		free(json);
		return op_err_set(e, rc, "to_json");
	}
	op_app *back = NULL;
	op_diags d = {0};
	rc = op_manifest_from_json("thermo.json", json, len, &back, &d);
	free(json);
	json = NULL;
	if (rc == 0) {
		OOM_CHECK(op_manifest_to_json(back, &json, &len) == 0 || oom_fired(),
			"json: n=%ld: round trip failed", cur_n);
		OOM_CHECK(!json || (len == canonical_len && !memcmp(json, canonical, len)),
			"json: n=%ld: round trip differs", cur_n);
		if (!json)
			rc = OP_ENOMEM;
		free(json);
	} else {
		OOM_CHECK(!back, "json: n=%ld: app left on failure", cur_n);
	}
	op_app_free(back);
	return diag_rc(rc, &d, e);
}

static void test_oom_manifest(void)
{
	drive("manifest", run_manifest, NULL, true, OP_EINVAL);
}

static void test_oom_validator(void)
{
	drive("validator", run_validate, NULL, false, OP_EINVAL);
}

static void test_oom_json(void)
{
	op_app *app = NULL;
	op_diags d = {0};
	T_REQUIRE(op_manifest_parse("thermo.yaml", MANIFEST, strlen(MANIFEST), &app, &d) == 0);
	T_REQUIRE(op_manifest_to_json(app, &canonical, &canonical_len) == 0);
	drive("json", run_json, app, true, OP_EINVAL);
	op_app_free(app);
	free(canonical);
	canonical = NULL;
}

/* --- wire: marker, proof, host protocol ------------------------------------------------ */

static int run_marker(void *ctx, op_err *e)
{
	const op_marker *m = ctx;
	char *json = NULL;
	int rc = op_marker_encode(m, &json, e);
	OOM_CHECK(rc ? !json : json != NULL, "marker: n=%ld: rc %d", cur_n, rc);
	if (rc)
		return rc;
	op_marker back;
	rc = op_marker_decode(json, strlen(json), &back, e);
	free(json);
	if (rc)
		return rc;
	OOM_CHECK(back.seq == m->seq && back.napps == m->napps &&
			!strcmp(back.apps[2].digest, m->apps[2].digest) &&
			!strcmp(back.signer, m->signer),
		"marker: n=%ld: round trip differs", cur_n);
	op_marker_clear(&back);
	return 0;
}

static void test_oom_marker(void)
{
	op_marker_app apps[3] = {{"alpha", "sha256:" HEX}, {"beta", "sha256:" HEX},
		{"gamma",
			"sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"}};
	op_marker m = {.commit = "0123456789abcdef0123456789abcdef01234567",
		.seq = 42,
		.signer = "ops@example.com",
		.time = "2024-05-01T12:00:00Z",
		.apps = apps,
		.napps = 3};
	drive("marker", run_marker, &m, true, OP_EINVAL);
}

/* A tree entry: "<mode> <name>\0<20-byte id>". */
static size_t entry(unsigned char *at, const char *mode, const char *name, const char *hex)
{
	size_t n = (size_t)snprintf((char *)at, 128, "%s %s", mode, name) + 1;
	for (int i = 0; i < 40; i++) {
		int c = hex[i], v = c <= '9' ? c - '0' : c - 'a' + 10;
		at[n + (size_t)i / 2] = (unsigned char)(i % 2 ? at[n + (size_t)i / 2] | v : v << 4);
	}
	return n + 20;
}

struct proof_fx {
	char *commit;
	unsigned char trees[3][256];
	size_t tlen[3];
	int files;
};

static int count_file(void *arg, const char *file, const char *blob, op_err *e)
{
	(void)file, (void)blob, (void)e;
	++*(int *)arg;
	return 0;
}

static int run_proof(void *ctx, op_err *e)
{
	struct proof_fx *fx = ctx;
	op_proof p = {0};
	op_proof_path_clean("apps", p.path);
	int rc = op_proof_set_commit(&p, fx->commit, strlen(fx->commit), e);
	for (int i = 0; i < 3 && rc == 0; i++)
		rc = op_proof_add_tree(&p, fx->trees[i], fx->tlen[i], e);
	char *json = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = op_proof_encode(&p, &json, &len, e);
	op_proof_clear(&p);
	if (rc) {
		OOM_CHECK(!json, "proof: n=%ld: json left on failure", cur_n);
		return rc;
	}
	rc = op_proof_decode(json, len, &p, e);
	free(json);
	int files = 0;
	if (rc == 0)
		rc = op_proof_files(&p, count_file, &files, e);
	if (rc == 0)
		OOM_CHECK(files == fx->files && p.ntrees == 3, "proof: n=%ld: %d files", cur_n,
			files);
	op_proof_clear(&p);
	return rc;
}

static void test_oom_proof(void)
{
	static const char blob[] = "1111111111111111111111111111111111111111";
	struct proof_fx fx = {0};
	char sub[41], apps[41], root[41];
	unsigned char *t = fx.trees[2];
	fx.tlen[2] = entry(t, "100644", "x.yaml", blob);
	T_REQUIRE(op_git_hash("tree", t, fx.tlen[2], sub) == 0);
	t = fx.trees[1];
	fx.tlen[1] = entry(t, "100644", "db.yml", blob);
	fx.tlen[1] += entry(t + fx.tlen[1], "40000", "sub", sub);
	fx.tlen[1] += entry(t + fx.tlen[1], "100644", "web.yaml", blob);
	T_REQUIRE(op_git_hash("tree", t, fx.tlen[1], apps) == 0);
	t = fx.trees[0];
	fx.tlen[0] = entry(t, "40000", "apps", apps);
	T_REQUIRE(op_git_hash("tree", t, fx.tlen[0], root) == 0);
	fx.commit = (char *)h_str("tree %s\nauthor A <a@x> 1714564800 +0000\n"
				  "committer A <a@x> 1714564800 +0000\n\napps\n",
		root);
	fx.files = 3;
	drive("proof", run_proof, &fx, true, OP_EINVAL);
}

static int run_proto(void *ctx, op_err *e)
{
	const op_app *app = ctx;
	static op_kv labels[] = {
		{"arch", "amd64"}, {"hostname", "box-1"}, {"role", "gw"}, {"site", "plant-7"}};
	op_hb_inst insts[3] = {{"thermo.reader.0-0123456789ab", OP_INST_RUNNING, 100, 0, -1, "", 0,
				       OP_HEALTH_UNHEALTHY, "tcp :80: connection refused"},
		{"thermo.reader.1-0123456789ab", OP_INST_FAILED, 0, 5, 1, "crash loop", 0,
			OP_HEALTH_NONE, ""},
		{"thermo.gw.0@box-1-0123456789ab", OP_INST_STOPPING, 102, 1, 0, "", 0,
			OP_HEALTH_NONE, ""}};
	op_heartbeat hb = {.host = "box-1",
		.site = "plant-7",
		.boot = "b1",
		.seq = 9,
		.interval_ms = 2000,
		.labels = {labels, 4},
		.insts = insts,
		.ninsts = 3};
	char *json = NULL;
	int rc = op_heartbeat_encode(&hb, &json, e);
	if (rc)
		return rc;
	op_heartbeat back;
	rc = op_heartbeat_decode(json, strlen(json), &back, e);
	free(json);
	if (rc == 0)
		OOM_CHECK(back.ninsts == 3 && back.labels.n == 4 &&
				!strcmp(back.insts[1].error, "crash loop"),
			"proto: n=%ld: heartbeat differs", cur_n);
	op_heartbeat_clear(&back);
	if (rc)
		return rc;

	op_hostcmd c = {.op = OP_CMD_START,
		.id = "thermo.gw.0@box-1-0123456789ab",
		.app = (op_app *)app,
		.comp = 1};
	if ((rc = op_hostcmd_encode(&c, &json, e)))
		return rc;
	op_hostcmd cb;
	rc = op_hostcmd_decode(json, strlen(json), &cb, e);
	free(json);
	if (rc == 0)
		OOM_CHECK(cb.op == OP_CMD_START && cb.app && cb.comp == 1 &&
				!strcmp(cb.app->name, "thermo"),
			"proto: n=%ld: command differs", cur_n);
	op_hostcmd_clear(&cb);
	if (rc)
		return rc;
	c = (op_hostcmd){.op = OP_CMD_STOP, .id = "thermo.reader.0-0123456789ab"};
	if ((rc = op_hostcmd_encode(&c, &json, e)))
		return rc;
	rc = op_hostcmd_decode(json, strlen(json), &cb, e);
	free(json);
	op_hostcmd_clear(&cb);
	if (rc)
		return rc;

	op_hostreply r = {.ok = false, .error = "no such instance"}, rb;
	if ((rc = op_hostreply_encode(&r, &json, e)))
		return rc;
	rc = op_hostreply_decode(json, strlen(json), &rb, e);
	free(json);
	if (rc == 0)
		OOM_CHECK(
			!rb.ok && !strcmp(rb.error, r.error), "proto: n=%ld: reply differs", cur_n);
	return rc;
}

static void test_oom_proto(void)
{
	op_app *app = NULL;
	op_diags d = {0};
	T_REQUIRE(op_manifest_parse("thermo.yaml", MANIFEST, strlen(MANIFEST), &app, &d) == 0);
	drive("proto", run_proto, app, true, OP_EINVAL);
	op_app_free(app);
}

/* --- trust: allowed_signers, revocation lists, SSHSIG, commits ------------------------- */

/* A second key type in the revocation list (nistp384, which outpost reads too). */
#define EC384 \
	"ecdsa-sha2-nistp384 " \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBNAXXlyw6QmXB6gR0/KYRuq3IR973" \
	"svNPBTfi2Ib8JSbx7V8rCYvgeFPWxbKguwgSjgmr8nfz00DJczcpBjsdd+j01jAAfYwkL5i6TIXtF6MS/" \
	"dLBjxZwF9ksD+SeulCuA=="
#define ED2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDuLRVlH/yKQuDlxqcIdMRp62spgEdah3uxqA179ZYBn"

struct trust_fx {
	const char *signers, *revoked;
	op_commit commits[3]; /* signed with ed25519, ecdsa, rsa */
};

static int run_signers(void *ctx, op_err *e)
{
	const struct trust_fx *fx = ctx;
	op_trust_policy p;
	int rc = op_trust_parse(&p, "allowed_signers", fx->signers, strlen(fx->signers), e);
	if (rc) {
		OOM_CHECK(!p.v && !p.n && !p.file, "signers: n=%ld: policy not zeroed", cur_n);
		return rc;
	}
	OOM_CHECK(p.n == 4 && p.v[0].namespaces && !strcmp(p.v[1].principals, "*@example.com,!x@y"),
		"signers: n=%ld: %zu entries", cur_n, p.n);
	op_trust_clear(&p);
	op_trust_revoked r;
	rc = op_trust_revoked_parse(&r, "revoked", fx->revoked, strlen(fx->revoked), e);
	if (rc == 0) {
		OOM_CHECK(r.n == 2 && r.skipped == 0, "signers: n=%ld: %zu revoked", cur_n, r.n);
		op_trust_revoked_clear(&r);
	}
	return rc;
}

static int run_sshsig(void *ctx, op_err *e)
{
	const struct trust_fx *fx = ctx;
	for (int i = 0; i < 3; i++) {
		const op_commit *c = &fx->commits[i];
		op_commit_sig cs;
		int rc = op_commit_split_signature(&cs, c->raw, c->len, false, e);
		if (rc)
			return rc;
		op_sshsig s;
		rc = op_sshsig_parse(&s, cs.sig, cs.sig_len, e);
		if (rc == 0) {
			rc = op_sshsig_verify(&s, "git", cs.payload, cs.payload_len, e);
			op_sshsig_clear(&s);
		}
		char *email = NULL;
		int64_t t = 0;
		if (rc == 0)
			rc = op_commit_committer(cs.payload, cs.payload_len, &email, &t, e);
		if (rc == 0)
			OOM_CHECK(!strcmp(email, "test@example.com") && t == 1714564800,
				"sshsig: n=%ld: committer", cur_n);
		free(email);
		op_commit_sig_clear(&cs);
		if (rc)
			return rc;
	}
	return 0;
}

static int run_policy(void *ctx, op_err *e)
{
	const struct trust_fx *fx = ctx;
	op_policy *p = NULL;
	int rc = op_policy_load_text(&p, "allowed_signers", fx->signers, strlen(fx->signers),
		fx->revoked, strlen(fx->revoked), NULL, false, e);
	if (rc)
		return rc;
	for (int i = 0; i < 3 && rc == 0; i++) {
		char signer[256] = "";
		rc = op_policy_verify_commit(p, &fx->commits[i], signer, e);
		/* git names the principal as its line writes it: a pattern, for the second. */
		const char *want = i == 1 ? "*@example.com" : "test@example.com";
		if (rc == 0)
			OOM_CHECK(!strcmp(signer, want), "policy: n=%ld: signer %s", cur_n, signer);
	}
	op_policy_free(p);
	return rc;
}

static void test_oom_trust(void)
{
	static const char *const types[3] = {"ed25519", "ecdsa", "rsa"};
	struct trust_fx fx = {0};
	const h_key *keys[3];
	h_repo *repo = h_repo_new("repo");
	T_REQUIRE(repo);
	for (int i = 0; i < 3; i++) {
		T_REQUIRE((keys[i] = h_keygen(types[i])));
		h_commit hc = {.key = keys[i], .date = "2024-05-01T12:00:00Z"};
		const char *sha = h_repo_commit(repo, &hc);
		char *raw = NULL;
		T_REQUIRE(sha && h_repo_git(repo, &raw, "cat-file commit %s", sha) == 0);
		fx.commits[i].raw = (char *)h_keep(raw);
		fx.commits[i].len = strlen(raw);
		snprintf(fx.commits[i].sha, sizeof fx.commits[i].sha, "%s", sha);
		snprintf(fx.commits[i].email, sizeof fx.commits[i].email, "test@example.com");
		fx.commits[i].time = 1714564800;
	}
	fx.signers = h_str("# the fleet's signers\n"
			   "test@example.com namespaces=\"git\",valid-after=\"20200101\" %s\n"
			   "\"*@example.com,!x@y\" %s comment\n"
			   "test@example.com valid-before=\"20991231Z\" %s\n"
			   "\n"
			   "other@example.com %s\n",
		keys[0]->pub, keys[1]->pub, keys[2]->pub, ED2);
	fx.revoked = "# leaked\n" ED2 " old laptop\n" EC384 "\n";
	drive("signers", run_signers, &fx, true, OP_EINVAL);
	drive("sshsig", run_sshsig, &fx, true, OP_EINVAL);
	drive("policy", run_policy, &fx, true, OP_EINVAL);
}

/* More than 16 entries: the spec hash sorts them in a buffer of its own. */
#define ENV17 \
	"{A: b, K01: v, K02: v, K03: v, K04: v, K05: v, K06: v, K07: v, K08: v, K09: v, " \
	"K10: v, K11: v, K12: v, K13: v, K14: v, K15: v, K16: v}"
#define WEB(arg) \
	"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: web}\n" \
	"spec:\n  components:\n" \
	"    - name: api\n      type: process\n" \
	"      properties: {command: /bin/api, args: [\"" arg "\"], env: " ENV17 "}\n" \
	"      traits:\n        - type: spreadscaler\n          properties:\n" \
	"            instances: 5\n" \
	"            spread: [{name: arm, requirements: {arch: arm64}, weight: 80}," \
	" {name: any, weight: 20}]\n" \
	"    - name: cache\n      type: process\n" \
	"      properties: {command: /bin/cache, rollout: stop-first}\n" \
	"      traits:\n        - type: daemonscaler\n" \
	"          properties: {instances: 2, spread: [{requirements: {role: gw}}]}\n"
#define JOB \
	"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: job}\n" \
	"spec:\n  components:\n" \
	"    - name: batch\n      type: process\n" \
	"      properties: {command: /bin/batch, restart: never}\n" \
	"      traits:\n        - type: spreadscaler\n          properties: {instances: 3}\n"

/* --- edge verification: proof, policy, manifests and marker together ---------------------- */

struct edge_fx {
	op_policy *pol;
	op_marker m;
	char *proof;
	size_t proof_len;
	op_blob_ids blobs;
	char *bytes[8];
	size_t len[8];
};

static int edge_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	struct edge_fx *fx = arg;
	for (size_t i = 0; i < fx->blobs.n && i < 8; i++)
		if (!strcmp(fx->blobs.v[i], id)) {
			*buf = fx->bytes[i];
			*len = fx->len[i];
			return 0;
		}
	return OP_ENOTFOUND;
}

static int run_edge(void *ctx, op_err *e)
{
	struct edge_fx *fx = ctx;
	op_revision r;
	memset(&r, 0, sizeof r);
	int rc = op_edge_verify(
		fx->pol, "apps", &fx->m, fx->proof, fx->proof_len, edge_blob, fx, &r, e);
	if (rc == 0)
		OOM_CHECK(
			r.verified && r.napps == 2 && !strcmp(r.marker.signer, "test@example.com"),
			"edge: n=%ld: %zu apps", cur_n, r.napps);
	op_revision_clear(&r);
	return rc;
}

/* The revision an agent keeps on disk, loaded back (saved once before: each save
 * syncs the disk). */
static int run_revision(void *ctx, op_err *e)
{
	const op_revision *r = ctx;
	op_revision back;
	int rc = op_revision_load(&back, h_path("revision.json"), e);
	if (rc == 0)
		OOM_CHECK(back.verified && back.napps == 2 && !strcmp(back.json[1], r->json[1]),
			"revision: n=%ld: %zu apps", cur_n, back.napps);
	op_revision_clear(&back);
	return rc;
}

/* A signed commit with two apps, read as sync reads it (unarmed), then verified. */
static void test_oom_edge(void)
{
	const h_key *key = h_keygen("ed25519");
	h_repo *repo = h_repo_new("edge");
	T_REQUIRE(key && repo);
	h_repo_write(repo, "apps/thermo.yaml", "%s", MANIFEST);
	h_repo_write(repo, "apps/sub/web.yml", "%s", WEB("v1"));
	const char *sha = h_repo_commit(repo, &(h_commit){.key = key, .msg = "apps"});
	T_REQUIRE(sha);
	struct edge_fx fx = {0};
	op_err e = {0};
	op_source *src = NULL;
	char head[41];
	op_commit c = {0};
	op_proof p = {0};
	op_appset set = {0};
	op_diags d = {0};
	T_REQUIRE(op_source_open(&src, h_path("edge-cache"), repo->path, NULL, &e) == 0);
	T_REQUIRE(op_source_fetch(src, "main", head, &e) == 0);
	T_REQUIRE(op_source_commit(src, head, &c, &e) == 0);
	T_REQUIRE(op_proof_build(src, &c, "apps", &p, &fx.blobs, &e) == 0);
	T_REQUIRE(op_proof_encode(&p, &fx.proof, &fx.proof_len, &e) == 0);
	T_REQUIRE(op_source_read_apps(src, head, "apps", &set, &d, NULL, NULL, &e) == 0 && !d.n);
	T_REQUIRE(set.n == 2 && fx.blobs.n == 2);
	for (size_t i = 0; i < fx.blobs.n; i++)
		T_REQUIRE(op_source_blob(src, fx.blobs.v[i], &fx.bytes[i], &fx.len[i], &e) == 0);
	memcpy(fx.m.commit, head, 41);
	fx.m.seq = 3;
	fx.m.apps = calloc(2, sizeof *fx.m.apps);
	fx.m.napps = 2;
	for (size_t i = 0; i < 2; i++) {
		/* The marker lists apps sorted by name: thermo, web. */
		size_t k = strcmp(set.apps[0]->name, "thermo") ? 1 - i : i;
		char *json = NULL;
		size_t len = 0;
		// cppcheck-suppress memleak ; a failed setup ends the test program
		T_REQUIRE(op_manifest_to_json(set.apps[k], &json, &len) == 0);
		snprintf(fx.m.apps[i].name, sizeof fx.m.apps[i].name, "%s", set.apps[k]->name);
		op_digest(json, len, fx.m.apps[i].digest);
		free(json);
	}
	const char *signers = h_str("test@example.com %s\n", key->pub);
	T_REQUIRE(op_policy_load_text(&fx.pol, "signers", signers, strlen(signers), NULL, 0, NULL,
			  false, &e) == 0);
	T_REQUIRE(run_edge(&fx, &e) == 0);
	drive("edge", run_edge, &fx, true, OP_ETRUST);
	op_revision r;
	T_REQUIRE(op_edge_verify(fx.pol, "apps", &fx.m, fx.proof, fx.proof_len, edge_blob, &fx, &r,
			  &e) == 0);
	T_REQUIRE(op_revision_save(&r, h_path("revision.json"), &e) == 0);
	drive("revision", run_revision, &r, true, OP_EINVAL);
	op_revision_clear(&r);
	op_policy_free(fx.pol);
	for (size_t i = 0; i < 8; i++)
		free(fx.bytes[i]);
	op_blob_ids_clear(&fx.blobs);
	free(fx.proof);
	free(fx.m.apps);
	op_appset_clear(&set);
	op_proof_clear(&p);
	op_commit_clear(&c);
	op_source_free(src);
}

/* --- plan ------------------------------------------------------------------------------ */

static op_app *plan_app(const char *yaml)
{
	op_app *app = NULL;
	op_diags d = {0};
	if (op_manifest_parse("plan.yaml", yaml, strlen(yaml), &app, &d) != 0)
		op_diags_print(&d, stderr);
	op_diags_clear(&d);
	return app;
}

static void labels(op_kvs *m, const char *k1, const char *v1, const char *k2, const char *v2)
{
	m->v = calloc(2, sizeof *m->v);
	m->v[0] = (op_kv){strdup(k1), strdup(v1)};
	m->n = 1;
	if (k2) {
		m->v[1] = (op_kv){strdup(k2), strdup(v2)};
		m->n = 2;
	}
}

struct plan_fx {
	op_plan_in in;
	size_t want;
};

static int run_plan(void *ctx, op_err *e)
{
	struct plan_fx *fx = ctx;
	op_cmd *cmds = NULL;
	size_t n = 0;
	int rc = op_plan_compute(&fx->in, &cmds, &n);
	if (rc) {
		OOM_CHECK(!cmds && !n, "plan: n=%ld: commands left on failure", cur_n);
		free(cmds);
		return op_err_set(e, rc, "plan: %s", op_err_name(rc));
	}
	OOM_CHECK(n == fx->want, "plan: n=%ld: %zu commands, want %zu", cur_n, n, fx->want);
	free(cmds);
	return 0;
}

/* An instance of app's component c, ordinal n, with the hash of spec (another version
 * of the app for an old spec). */
static void inst(op_inst_view *v, const op_app *app, const op_app *spec, size_t c, int n,
	const char *host, enum op_inst_state st)
{
	char hash[13];
	op_component_hash(&spec->comps[c], hash);
	const char *dh = app->comps[c].scaler.type == OP_SCALER_DAEMON ? host : NULL;
	op_inst_id(app, &app->comps[c], hash, n, dh, v->id);
	snprintf(v->host, sizeof v->host, "%s", host);
	v->state = st;
	v->health = st == OP_INST_RUNNING ? OP_HEALTH_HEALTHY : OP_HEALTH_NONE;
}

static void test_oom_plan(void)
{
	op_app *web = plan_app(WEB("v2")), *old = plan_app(WEB("v1")), *job = plan_app(JOB);
	T_REQUIRE(web && old && job);
	const op_app *apps[] = {job, web};
	op_host_view hosts[5] = {{.id = "h1", .alive = true}, {.id = "h2", .alive = true},
		{.id = "h3", .alive = true}, {.id = "h4", .alive = true}, {.id = "h5"}};
	labels(&hosts[0].labels, "arch", "arm64", NULL, NULL);
	labels(&hosts[1].labels, "arch", "amd64", "role", "gw");
	labels(&hosts[2].labels, "arch", "arm64", "role", "gw");
	labels(&hosts[3].labels, "arch", "amd64", NULL, NULL);
	labels(&hosts[4].labels, "arch", "arm64", NULL, NULL);
	op_inst_view insts[16];
	size_t ni = 0;
	/* A rollout under way: old api instances, one new one running. */
	inst(&insts[ni++], web, old, 0, 0, "h1", OP_INST_RUNNING);
	inst(&insts[ni++], web, old, 0, 1, "h3", OP_INST_RUNNING);
	inst(&insts[ni++], web, old, 0, 2, "h2", OP_INST_RUNNING);
	inst(&insts[ni++], web, old, 0, 3, "h2", OP_INST_FAILED);
	inst(&insts[ni++], web, web, 0, 0, "h1", OP_INST_RUNNING);
	inst(&insts[ni++], web, web, 0, 4, "h5", OP_INST_RUNNING); /* dead host */
	/* Daemons: one present, one id on two hosts, one off its requirements. */
	inst(&insts[ni++], web, web, 1, 0, "h2", OP_INST_RUNNING);
	inst(&insts[ni++], web, web, 1, 1, "h3", OP_INST_STARTING);
	inst(&insts[ni++], web, web, 1, 0, "h4", OP_INST_RUNNING);
	/* A job that ended, one stopping, and an id no app makes. */
	inst(&insts[ni++], job, job, 0, 0, "h4", OP_INST_EXITED);
	inst(&insts[ni++], job, job, 0, 1, "h1", OP_INST_STOPPING);
	insts[ni] = insts[ni - 1];
	snprintf(insts[ni].id, sizeof insts[ni].id, "gone.c.0-0123456789ab");
	ni++;
	struct plan_fx fx = {.in = {apps, 2, hosts, 5, insts, ni}};
	op_cmd *cmds = NULL;
	T_REQUIRE(op_plan_compute(&fx.in, &cmds, &fx.want) == 0);
	T_CHECK(fx.want >= 4);
	free(cmds);
	drive("plan", run_plan, &fx, true, OP_EINVAL);
	for (int i = 0; i < 5; i++)
		op_kvs_clear(&hosts[i].labels);
	op_app_free(web);
	op_app_free(old);
	op_app_free(job);
}

static void test_oom_total(void)
{
	printf("oom: total      %5ld failure points; %zu distinct call sites of ours and %zu in "
	       "jansson (%zu and %zu summed over the modules)\n",
		total_points, oom_sites_ever(false), oom_sites_ever(true), total_sites,
		total_json_sites);
	T_CHECK(total_points > 0);
}

int main(void)
{
	oom_jansson();
	T_RUN(test_oom_manifest);
	T_RUN(test_oom_validator);
	T_RUN(test_oom_json);
	T_RUN(test_oom_marker);
	T_RUN(test_oom_proof);
	T_RUN(test_oom_proto);
	T_RUN(test_oom_trust);
	T_RUN(test_oom_edge);
	T_RUN(test_oom_plan);
	T_RUN(test_oom_total);
	return t_done();
}
