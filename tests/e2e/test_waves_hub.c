/* Canary waves at the hub end to end: a real hub nats-server, a real `outpost sync`
 * with a signing key, and the sites' reports written by the test as status keys of the
 * hub's outpost-status (no site agents: their side has its own tests). A 3-wave app's
 * rollout starts signed at wave 0, a healthy canary promotes the next wave, an operator
 * halts and resumes it, a rollback halts it, and promote and halt refuse what they
 * must; outpost status shows the rollout throughout. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/trust/rollout_sig.h"
#include "outpost/agent/wire/marker.h"
#include "t.h"

#define WAIT_MS 20000

static const char *bin;
static h_nats *hub;
static natsConnection *nc;
static jsCtx *js;
static kvStore *kv, *status;
static op_trust_policy signers;

static const char *web_yaml(void)
{
	return "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: web\n"
	       "spec:\n  policies:\n"
	       "    - name: waves\n      type: rollout\n      properties:\n"
	       "        waves:\n"
	       "          - name: canary\n            requirements: {ring: canary}\n"
	       "          - name: eu\n            requirements: {region: eu}\n"
	       "          - name: rest\n"
	       "        soak: 2s\n"
	       "  components:\n    - name: main\n      type: process\n      properties:\n"
	       "        command: /bin/sleep\n        args: [\"600\"]\n";
}

static const char *plain_yaml(void)
{
	return "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: plain\n"
	       "spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
	       "        command: /bin/sleep\n";
}

static char *get(kvStore *b, const char *key)
{
	kvEntry *e = NULL;
	if (!b || kvStore_Get(&e, b, key) != NATS_OK)
		return NULL;
	char *v = strndup(kvEntry_ValueString(e), (size_t)kvEntry_ValueLen(e));
	kvEntry_Destroy(e);
	return v;
}

static void put(const char *key, const char *val)
{
	T_CHECK_MSG(kvStore_PutString(NULL, status, key, val) == NATS_OK, "put %s", key);
}

static const char *rfc3339(time_t t)
{
	char b[32];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return h_str("%s", b);
}

/* A site's report of web: state at spec (target: what it rolled back from). */
static void report(const char *site, const char *state, const char *spec, const char *target)
{
	put(h_str("site.%s.app.web", site),
		h_str("{\"v\":1,\"site\":\"%s\",\"app\":\"web\",\"state\":\"%s\",\"spec\":\"%s\","
		      "\"target\":\"%s\",\"since\":\"%s\",\"reason\":\"\"}",
			site, state, spec, target, rfc3339(time(NULL) - 30)));
}

/* The record as a site takes it: signed by the hub's key. */
struct want {
	int promoted;
	bool halted;
	op_promotion got;
	int rc;
};

static bool record_is(void *arg)
{
	struct want *w = arg;
	char *v = get(kv, "rollout.web");
	op_err e = {0};
	w->rc = v ? op_promotion_check(v, strlen(v), &signers, &w->got, &e) : OP_ENOTFOUND;
	free(v);
	return w->rc == 0 && w->got.promoted == w->promoted && w->got.halted == w->halted;
}

static bool wait_record(int promoted, bool halted, op_promotion *got)
{
	struct want w = {.promoted = promoted, .halted = halted};
	bool ok = h_wait_until(record_is, &w, WAIT_MS);
	if (!ok)
		fprintf(stderr, "  rollout.web: rc %d promoted %d halted %d (want %d %d)\n", w.rc,
			w.got.promoted, w.got.halted, promoted, halted);
	if (got)
		*got = w.got;
	return ok;
}

struct has {
	const char *want;
	char *out;
};

static bool status_has(void *arg)
{
	struct has *h = arg;
	free(h->out);
	h->out = NULL;
	h_run(&h->out, "%s status --nats %s", bin, h_nats_url(hub));
	return h->out && strstr(h->out, h->want);
}

static bool wait_status(const char *want)
{
	struct has h = {want, NULL};
	bool ok = h_wait_until(status_has, &h, WAIT_MS);
	if (!ok)
		fprintf(stderr, "  status lacks \"%s\":\n%s\n", want, h.out ? h.out : "(none)");
	free(h.out);
	return ok;
}

/* Runs `outpost ARGS --nats <hub>`: its exit code, *err its stderr (caller frees). */
static int ctl(char **err, const char *args)
{
	char *out = NULL;
	int rc = h_run2(&out, err, "%s %s --nats %s", bin, args, h_nats_url(hub));
	free(out);
	return rc;
}

static void test_waves(void)
{
	const h_key *git_key = h_keygen("ed25519"), *hub_key = h_keygen("ed25519");
	T_REQUIRE(git_key && hub_key);
	h_repo *repo = h_repo_new("waves");
	T_REQUIRE(repo);
	const char *trust = h_path("allowed_signers"), *fresh = h_path("fresh_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", git_key->pub);
	h_write(fresh, "hub@outpost namespaces=\"outpost-fresh,outpost-rollout\" %s\n",
		hub_key->pub);
	char *text = h_read(fresh);
	op_err e = {0};
	T_REQUIRE(text && op_trust_parse(&signers, "fresh_signers", text, strlen(text), &e) == 0);
	free(text);

	/* sync first, with no app yet: the buckets exist before any site reports */
	h_repo_write(repo, "apps/plain.yaml", "%s", plain_yaml());
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = git_key, .msg = "plain"}));
	pid_t sync = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h --fresh-key %s",
		bin, repo->path, trust, h_path("sync-state"), h_nats_url(hub), hub_key->path);
	T_REQUIRE(sync > 0 && h_sync_accepted(hub, WAIT_MS));
	T_REQUIRE(js_KeyValue(&kv, js, "outpost") == NATS_OK);
	T_REQUIRE(js_KeyValue(&status, js, "outpost-status") == NATS_OK);
	put("site.canary1.agent",
		"{\"v\":1,\"site\":\"canary1\",\"labels\":{\"site\":"
		"\"canary1\",\"ring\":\"canary\"}}");
	put("site.eu1.agent", "{\"v\":1,\"site\":\"eu1\",\"labels\":{\"region\":\"eu\"}}");
	put("site.rest1.agent", "{\"v\":1,\"site\":\"rest1\",\"labels\":{\"site\":\"rest1\"}}");

	/* a new spec of a 3-wave app: its rollout starts at wave 0, signed */
	h_repo_write(repo, "apps/web.yaml", "%s", web_yaml());
	const char *sha = h_repo_commit(repo, &(h_commit){.key = git_key, .msg = "web"});
	T_REQUIRE(sha && h_sync_accepted(hub, WAIT_MS));
	op_promotion p;
	T_REQUIRE(wait_record(0, false, &p));
	char *mv = get(kv, "rev");
	op_marker m = {0};
	T_REQUIRE(mv && op_marker_decode(mv, strlen(mv), &m, &e) == 0);
	const char *digest = h_str("%s", op_marker_digest(&m, "web"));
	T_EQ_STR(p.digest, digest);
	T_EQ_STR(p.commit, sha);
	T_EQ_INT(p.seq, m.seq);
	T_CHECK(!get(kv, "rollout.plain")); /* no policy: no rollout */
	op_marker_clear(&m);
	free(mv);
	char *raw = get(kv, "rollout.web");
	T_CHECK(raw && strstr(raw, "\"sig\":\""));
	free(raw);
	T_CHECK(wait_status(
		h_str("rollout web: seq %d (%.12s) wave 1 of 3 (canary)", (int)p.seq, sha)));
	T_CHECK(wait_status("waiting: wave canary: 0 of 1 sites healthy"));

	/* the canary deployed and healthy for the soak: wave eu is promoted */
	report("canary1", "deployed", digest, digest);
	T_REQUIRE(wait_record(1, false, &p));
	T_CHECK(strstr(p.reason, "wave canary: 1 of 1 sites healthy"));
	T_CHECK(wait_status("wave 2 of 3 (eu); sites 1 of 3 done"));
	T_CHECK(h_wait_output("hub.rollout promoted", WAIT_MS, "cat %s", h_path("sync.log")));

	/* by hand: halt, then promote resumes it at the wave named */
	char *err = NULL;
	T_EQ_INT(ctl(&err, "halt --app web --reason 'looks odd'"), 0);
	free(err);
	T_REQUIRE(wait_record(1, true, &p));
	T_EQ_STR(p.reason, "looks odd");
	T_CHECK(wait_status("HALTED: looks odd"));
	T_EQ_INT(ctl(&err, "promote --app web --wave eu"), 0);
	free(err);
	T_REQUIRE(wait_record(1, false, &p));
	T_EQ_STR(p.reason, "resumed by hand at wave eu");

	/* a site of wave eu rolled back from the spec: halted, naming it */
	report("eu1", "rolled-back", "", digest);
	T_REQUIRE(wait_record(1, true, &p));
	T_CHECK(strstr(p.reason, "eu1 rolled back"));
	T_CHECK(wait_status("1 rolled back; HALTED: halted at wave eu: eu1 rolled back"));
	T_CHECK(h_wait_output("hub.rollout halted", WAIT_MS, "cat %s", h_path("sync.log")));

	/* what promote and halt refuse, naming it; usage */
	T_EQ_INT(ctl(&err, "promote --app nope"), 1);
	T_CHECK(err && strstr(err, "nope: no such app with a rollout policy"));
	free(err);
	T_EQ_INT(ctl(&err, "halt --app plain"), 1);
	T_CHECK(err && strstr(err, "plain: no such app"));
	free(err);
	T_EQ_INT(ctl(&err, "promote --app web --wave canary"), 1);
	T_CHECK(err && strstr(err, "wave canary of web is promoted already"));
	free(err);
	T_EQ_INT(ctl(&err, "promote --app web --wave 7"), 1);
	free(err);
	T_EQ_INT(ctl(&err, "promote "), 2);
	free(err);
	T_EQ_INT(ctl(&err, "halt --app web --wave eu"), 2);
	free(err);
	T_EQ_INT(h_run(NULL, "%s promote --help", bin), 0);
	T_EQ_INT(h_run(NULL, "%s halt --help", bin), 0);

	/* promote by hand past the rollback: the last wave, done; nothing left to halt */
	T_EQ_INT(ctl(&err, "promote --app web"), 0);
	free(err);
	T_REQUIRE(wait_record(2, false, &p));
	T_EQ_STR(p.reason, "promoted by hand to wave rest, resumed");
	T_CHECK(wait_status("wave 3 of 3 (rest)"));
	T_CHECK(wait_status("every wave promoted"));
	T_EQ_INT(ctl(&err, "halt --app web"), 1);
	T_CHECK(err && strstr(err, "nothing is held back"));
	free(err);
	T_EQ_INT(ctl(&err, "promote --app web"), 1);
	free(err);
	T_CHECK(h_wait_output(
		"hub.rollout promoted by hand", WAIT_MS, "cat %s", h_path("sync.log")));
	T_EQ_INT(h_proc_stop(sync, false, 5000), 0);
	/* no sync: promote says nobody answers */
	T_EQ_INT(ctl(&err, "promote --app web"), 1);
	T_CHECK(err && strstr(err, "no sync answers"));
	free(err);
	op_trust_clear(&signers);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	hub = h_hub_start();
	if (!hub || natsConnection_ConnectTo(&nc, h_nats_url(hub)) != NATS_OK ||
		natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
		return 1;
	T_RUN(test_waves);
	if (kv)
		kvStore_Destroy(kv);
	if (status)
		kvStore_Destroy(status);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return t_done();
}
