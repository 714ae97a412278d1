/* Verification at the edge, end to end: the hub is not trusted. Two sites link to one
 * hub: "edge" runs its agent with its own allowed_signers (--trust), "plain" takes the
 * hub's word. Key A is trusted everywhere; key B only by the hub. A write straight into
 * the hub's bucket (valid JSON, digests that match, no valid proof) moves "plain" and is
 * refused at "edge", which keeps running the last verified revision; so is a commit
 * signed by B. Workloads are /bin/sleep with a tag unique to the run. */
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin, *tag;
static const h_key *key_a, *key_b;
static h_nats *hub, *edge, *plain;
static h_repo *repo;
static const char *site_trust;
static natsConnection *hub_nc;
static pid_t plain_agent;
static jsCtx *hub_js;
static kvStore *hub_kv;

static const char *app(int instances)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: web\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n        command: /bin/sleep\n        args: [\"%s1\"]\n"
		     "      traits:\n        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n",
		tag, instances);
}

/* Commits (signed with key) and has sync publish it; true when the hub accepted it. */
static bool push(const h_key *key)
{
	return h_repo_commit(repo, &(h_commit){.key = key, .msg = "change"}) &&
		h_sync_accepted(hub, WAIT_MS);
}

/* ---- a site's status, as `outpost status --json` at the site prints it -------------- */

struct agent_is {
	const h_nats *site;
	long long seq; /* -1: any */
	int running; /* app web's running instances; -1: any */
	const char *problem; /* a substring of the agent's problem; NULL: any */
	json_t *last;
	const char *fresh; /* the agent's freshness state; NULL: any */
};

static bool agent_matches(void *arg)
{
	struct agent_is *w = arg;
	char *out = NULL;
	h_run(&out, "%s status --nats %s --json 2>/dev/null", bin, h_nats_url(w->site));
	json_decref(w->last);
	w->last = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	json_t *s = json_object_get(json_object_get(w->last, "sites"), w->site->name);
	json_t *ag = json_object_get(s, "agent"), *web = NULL, *a;
	size_t i;
	json_array_foreach(json_object_get(s, "apps"), i, a)
	{
		if (!strcmp(json_string_value(json_object_get(a, "app")) ?: "", "web"))
			web = a;
	}
	const char *problem = json_string_value(json_object_get(ag, "problem"));
	return ag && (w->seq < 0 || json_integer_value(json_object_get(ag, "seq")) == w->seq) &&
		(w->running < 0 ||
			(web && json_integer_value(json_object_get(web, "running")) == w->running &&
				json_integer_value(json_object_get(web, "seq")) ==
					json_integer_value(json_object_get(ag, "seq")))) &&
		(!w->problem || (problem && strstr(problem, w->problem))) &&
		(!w->fresh ||
			!strcmp(json_string_value(json_object_get(ag, "freshness")) ?: "",
				w->fresh));
}

static bool wait_agent_fresh(
	const h_nats *site, long long seq, int running, const char *problem, const char *fresh)
{
	struct agent_is w = {site, seq, running, problem, NULL, fresh};
	bool ok = h_wait_until(agent_matches, &w, WAIT_MS);
	if (!ok) {
		char *s = w.last ? json_dumps(w.last, JSON_COMPACT) : NULL;
		fprintf(stderr,
			"  site %s: want seq %lld, %d running, problem ~ \"%s\", freshness %s; "
			"have "
			"%.1500s\n",
			site->name, seq, running, problem ? problem : "*", fresh ? fresh : "*",
			s ? s : "(none)");
		free(s);
	}
	json_decref(w.last);
	return ok;
}

static bool wait_agent(const h_nats *site, long long seq, int running, const char *problem)
{
	return wait_agent_fresh(site, seq, running, problem, NULL);
}

/* The hub's marker seq, read from its bucket. */
static long long hub_seq(void)
{
	kvEntry *e = NULL;
	if (kvStore_Get(&e, hub_kv, "rev") != NATS_OK)
		return -1;
	op_marker m;
	op_err err = {0};
	long long seq = -1;
	if (op_marker_decode(kvEntry_ValueString(e), (size_t)kvEntry_ValueLen(e), &m, &err) == 0) {
		seq = (long long)m.seq;
		op_marker_clear(&m);
	}
	kvEntry_Destroy(e);
	return seq;
}

/* ---- the scenario ------------------------------------------------------------------- */

static pid_t start_agent(h_nats *site, const char *trust, const char *fresh)
{
	return h_spawn_sh(h_path("agent-%s.log", site->name),
		"%s agent --site %s --nats %s --state %s --host-timeout 1s --resync 1s%s%s%s%s",
		bin, site->name, h_nats_url(site), h_path("agent-%s", site->name),
		trust ? " --trust " : "", trust ? trust : "",
		fresh ? " --stale-after 3s --fresh-signers " : "", fresh ? fresh : "");
}

static void test_setup(void)
{
	hub = h_hub_start();
	T_REQUIRE(hub);
	edge = h_site_start(hub, "edge");
	plain = h_site_start(hub, "plain");
	T_REQUIRE(edge && plain && h_leaf_wait(edge, WAIT_MS) && h_leaf_wait(plain, WAIT_MS));
	key_a = h_keygen("ed25519");
	key_b = h_keygen("ecdsa");
	const h_key *hub_key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key_a && key_b && hub_key && repo);
	const char *fresh = h_path("fresh_signers");
	h_write(fresh, "hub@outpost namespaces=\"outpost-fresh\" %s\n", hub_key->pub);
	const char *hub_trust = h_path("hub_allowed_signers");
	site_trust = h_path("site_allowed_signers");
	h_write(hub_trust, "test@example.com %s\ntest@example.com %s\n", key_a->pub, key_b->pub);
	h_write(site_trust, "test@example.com namespaces=\"git\" %s\n", key_a->pub);
	T_REQUIRE(natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) == NATS_OK);
	T_REQUIRE(natsConnection_JetStream(&hub_js, hub_nc, NULL) == NATS_OK);
	h_repo_write(repo, "apps/web.yaml", "%s", app(2));
	pid_t sync_pid = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h --fresh-key %s "
		"--fresh-every 1s --fresh-ttl 5s",
		bin, repo->path, hub_trust, h_path("sync-state"), h_nats_url(hub), hub_key->path);
	pid_t ea = start_agent(edge, site_trust, fresh);
	plain_agent = start_agent(plain, NULL, NULL);
	pid_t eh = h_spawn_sh(h_path("host-edge.log"),
		"%s host --site edge --id e0 --nats %s --state %s --heartbeat 300ms", bin,
		h_nats_url(edge), h_path("host-edge"));
	pid_t ph = h_spawn_sh(h_path("host-plain.log"),
		"%s host --site plain --id p0 --nats %s --state %s --heartbeat 300ms", bin,
		h_nats_url(plain), h_path("host-plain"));
	T_REQUIRE(sync_pid > 0 && ea > 0 && plain_agent > 0 && eh > 0 && ph > 0);
}

static void test_verified_push_runs(void)
{
	T_REQUIRE(push(key_a));
	T_REQUIRE(js_KeyValue(&hub_kv, hub_js, "outpost") == NATS_OK);
	T_CHECK(wait_agent(edge, 1, 2, NULL));
	T_CHECK(wait_agent(plain, 1, 2, NULL));
	char *out = NULL;
	h_run(&out, "%s status --nats %s --json", bin, h_nats_url(edge));
	T_CHECK(out && strstr(out, "\"verify\": \"edge\""));
	free(out);
}

/* The hub signs a freshness record every second; with the link cut, the site's newest
 * record ages past --stale-after (3 s): it says so and keeps running; back when the
 * link is. The site without --fresh-signers reports "off". */
static void test_freshness(void)
{
	T_CHECK(wait_agent_fresh(edge, 1, 2, NULL, "fresh"));
	T_CHECK(wait_agent_fresh(plain, 1, 2, NULL, "off"));
	h_link_cut(edge);
	T_CHECK(wait_agent_fresh(edge, 1, 2, NULL, "stale"));
	char *out = NULL;
	h_run(&out, "%s status --nats %s", bin, h_nats_url(edge));
	T_CHECK_MSG(out && strstr(out, "stale: the hub's last freshness record"), "%s", out);
	free(out);
	h_link_restore(edge);
	T_CHECK(h_leaf_wait(edge, WAIT_MS));
	T_CHECK(wait_agent_fresh(edge, 1, 2, "", "fresh"));
	char *log = h_read(h_path("agent-edge.log"));
	T_CHECK(log && strstr(log, "state=stale"));
	free(log);
}

/* The hub's marker, one seq higher; when app (may be NULL) is given, listing digest of
 * json for it. *was gets the seq it had. Harness-owned JSON, or NULL. */
static const char *marker_bumped(long long *was, const char *app, const char *json)
{
	kvEntry *re = NULL;
	op_marker m;
	op_err e = {0};
	char *mj = NULL;
	if (kvStore_Get(&re, hub_kv, "rev") != NATS_OK)
		return NULL;
	int rc = op_marker_decode(kvEntry_ValueString(re), (size_t)kvEntry_ValueLen(re), &m, &e);
	kvEntry_Destroy(re);
	if (rc)
		return NULL;
	*was = (long long)m.seq;
	m.seq++;
	for (size_t i = 0; app && i < m.napps; i++)
		if (!strcmp(m.apps[i].name, app))
			op_digest(json, strlen(json), m.apps[i].digest);
	rc = op_marker_encode(&m, &mj, &e);
	op_marker_clear(&m);
	return rc ? NULL : h_keep(mj);
}

/* What a compromised hub (or anyone who can write its bucket) does: app.web changed to 5
 * instances, and a marker one seq higher listing the new digest. */
static void test_forged_entry_refused(void)
{
	kvEntry *ae = NULL;
	T_REQUIRE(kvStore_Get(&ae, hub_kv, "app.web") == NATS_OK);
	const char *json = kvEntry_ValueString(ae);
	const char *at = strstr(json, "\"instances\":2");
	T_REQUIRE(at);
	const char *forged = h_str(
		"%.*s\"instances\":5%s", (int)(at - json), json, at + strlen("\"instances\":2"));
	kvEntry_Destroy(ae);
	long long verified = 0;
	const char *mj = marker_bumped(&verified, "web", forged);
	T_REQUIRE(mj);
	T_REQUIRE(kvStore_PutString(NULL, hub_kv, "app.web", forged) == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, hub_kv, "rev", mj) == NATS_OK);
	/* The site that takes the hub's word runs the forgery: the write works. */
	T_CHECK(wait_agent(plain, verified + 1, 5, NULL));
	/* The verifying site refuses it, says why, and keeps the verified revision; sync's
	 * freshness record still vouches for the revision sync accepted (not for what the
	 * bucket now holds), which is the one the site runs: fresh. */
	T_CHECK(wait_agent_fresh(edge, verified, 2, "refused at the edge", "fresh"));
	T_CHECK(wait_agent(edge, verified, 2, "app web: the marker lists sha256:"));
	char *log = h_read(h_path("agent-edge.log"));
	T_CHECK(log && strstr(log, "revision refused at the edge"));
	free(log);
}

/* The hub trusts key B; the site does not. The hub publishes B's commit, the site
 * refuses it; A's next commit (which descends from it) is taken again. */
static void test_signer_the_site_does_not_trust(void)
{
	h_repo_write(repo, "apps/web.yaml", "%s", app(3));
	T_REQUIRE(push(key_b));
	long long b_seq = hub_seq();
	T_CHECK(wait_agent(plain, b_seq, 3, NULL));
	T_CHECK(wait_agent(edge, -1, 2, "not-listed"));
	/* The site's operator adds B to the site's copy: the refusal is checked again (every
	 * --resync) and B's revision runs; then B is taken out again. */
	char *before = h_read(site_trust);
	T_REQUIRE(before);
	h_write(site_trust, "%stest@example.com %s\n", before, key_b->pub);
	T_CHECK(wait_agent(edge, b_seq, 3, NULL));
	h_write(site_trust, "%s", before);
	free(before);
	h_repo_write(repo, "apps/web.yaml", "%s", app(4));
	T_REQUIRE(push(key_a));
	long long a_seq = hub_seq();
	T_CHECK(a_seq == b_seq + 1);
	T_CHECK(wait_agent(edge, a_seq, 4, NULL));
	T_CHECK(wait_agent(plain, a_seq, 4, NULL));
}

/* A blob withheld: the revision (the same commit, one seq higher, as a hub may well
 * write) cannot be verified yet. The site waits, says so after a resync period, and
 * takes it as soon as the blob is there. */
static void test_withheld_blob(void)
{
	char *id = NULL, *yaml = NULL;
	h_run(&id, "git -C %s rev-parse HEAD:apps/web.yaml", repo->path);
	h_run(&yaml, "git -C %s cat-file blob HEAD:apps/web.yaml", repo->path);
	T_REQUIRE(id && strlen(id) >= 40 && yaml);
	id[40] = '\0';
	const char *key = h_str("proof.blob.%s", id);
	long long running = 0;
	const char *mj = marker_bumped(&running, NULL, NULL);
	T_REQUIRE(mj);
	T_REQUIRE(kvStore_Delete(hub_kv, key) == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, hub_kv, "rev", mj) == NATS_OK);
	T_CHECK(wait_agent(edge, running, 4, "waits at the edge"));
	T_CHECK(wait_agent(edge, running, 4, "not here yet"));
	T_REQUIRE(kvStore_PutString(NULL, hub_kv, key, yaml) == NATS_OK);
	T_CHECK(wait_agent(edge, running + 1, 4, NULL));
	free(id);
	free(yaml);
}

/* A proof tampered with in the hub's bucket: the commit object's message changed (its
 * signature then covers other bytes, and its id is another), with a marker one higher. */
static void test_tampered_proof_refused(void)
{
	kvEntry *pe = NULL;
	T_REQUIRE(kvStore_Get(&pe, hub_kv, "proof") == NATS_OK);
	json_t *p = json_loads(kvEntry_ValueString(pe), 0, NULL);
	kvEntry_Destroy(pe);
	T_REQUIRE(p);
	char *raw = NULL;
	h_run(&raw, "git -C %s cat-file commit HEAD", repo->path);
	T_REQUIRE(raw && strstr(raw, "\nchange"));
	strstr(raw, "\nchange")[1] = 'C';
	char *b64 = NULL;
	h_write(h_path("tampered"), "%s", raw);
	h_run(&b64, "base64 -w0 %s", h_path("tampered"));
	free(raw);
	T_REQUIRE(b64);
	json_object_set_new(p, "object", json_string(b64));
	free(b64);
	char *pj = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(p);
	long long verified = 0;
	const char *mj = marker_bumped(&verified, NULL, NULL);
	T_REQUIRE(mj);
	T_REQUIRE(kvStore_PutString(NULL, hub_kv, "proof", pj) == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, hub_kv, "rev", mj) == NATS_OK);
	free(pj);
	T_CHECK(wait_agent(edge, verified, 4, "its id is"));
	T_CHECK(wait_agent(plain, verified + 1, 4, NULL));
}

/* The site that took the hub's word restarts with --trust: the revision it runs (saved
 * unverified) is checked once, and here refused (the hub's proof is the tampered one):
 * it says so and keeps running it, having nothing verified to go back to. */
static void test_restart_with_trust(void)
{
	json_t *st = NULL;
	char *out = NULL;
	h_run(&out, "%s status --nats %s --json", bin, h_nats_url(plain));
	st = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	long long seq = json_integer_value(json_object_get(
		json_object_get(json_object_get(json_object_get(st, "sites"), "plain"), "agent"),
		"seq"));
	json_decref(st);
	T_REQUIRE(seq > 0);
	T_CHECK(h_proc_stop(plain_agent, false, 5000) >= 0);
	plain_agent = start_agent(plain, site_trust, NULL);
	T_REQUIRE(plain_agent > 0);
	T_CHECK(wait_agent(plain, seq, 4, "refused at the edge"));
	char *log = h_read(h_path("agent-plain.log"));
	T_CHECK(log && strstr(log, "resuming the saved revision") && strstr(log, "verify=edge"));
	free(log);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("8%05d", (int)(getpid() % 100000));
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_verified_push_runs);
		T_RUN(test_freshness);
		T_RUN(test_forged_entry_refused);
		T_RUN(test_signer_the_site_does_not_trust);
		T_RUN(test_withheld_blob);
		T_RUN(test_tampered_proof_refused);
		T_RUN(test_restart_with_trust);
	}
	/* Workloads live in their shims' sessions: make sure none outlives the test. */
	h_adopt_workloads(tag);
	kvStore_Destroy(hub_kv);
	jsCtx_Destroy(hub_js);
	natsConnection_Destroy(hub_nc);
	return t_done();
}
