/* Sites follow signed rotations, end to end. The hub trusts keys A and C; the site
 * "edge" runs its agent with --trust listing A alone. First C, which the hub trusts and
 * the site does not, rotates itself in through .outpost/allowed_signers: the hub takes
 * it, the site refuses it with the reason; A takes the rotation out again and the site
 * goes on. Then, with the site's link cut, Git rotates in key B (signed by A), B revokes
 * A, and B commits a change; when the link returns the site moves through both
 * rotations and runs B's revision, nobody copying anything; its status names the commit
 * that brought the policy, and a restarted agent keeps it. The timeline (seconds from
 * the start) and the proof's size with and without a chain are printed. */
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/wire/marker.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin, *tag;
static const h_key *key_a, *key_b, *key_c;
static h_nats *hub, *edge;
static h_repo *repo;
static const char *site_trust;
static natsConnection *hub_nc;
static jsCtx *hub_js;
static kvStore *hub_kv;
static pid_t agent;
static long long t0;

static void mark(const char *what)
{
	fprintf(stderr, "  [%6.1f s] %s\n", (double)(h_now_ms() - t0) / 1000.0, what);
}

static const char *app(int instances)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: web\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n        command: /bin/sleep\n        args: [\"%s1\"]\n"
		     "      traits:\n        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n",
		tag, instances);
}

/* Commits (signed with key); the sha, once the hub accepted it; NULL otherwise. */
static const char *push(const h_key *key, const char *msg)
{
	const char *sha = h_repo_commit(repo, &(h_commit){.key = key, .msg = msg});
	return sha && h_sync_accepted(hub, WAIT_MS) ? sha : NULL;
}

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

/* The proof in the hub's bucket: its size, and its format. */
static int proof_size(int *format)
{
	kvEntry *e = NULL;
	*format = 0;
	if (kvStore_Get(&e, hub_kv, "proof") != NATS_OK)
		return -1;
	int n = kvEntry_ValueLen(e);
	json_t *j = json_loadb(kvEntry_ValueString(e), (size_t)n, 0, NULL);
	*format = (int)json_integer_value(json_object_get(j, "format"));
	json_decref(j);
	kvEntry_Destroy(e);
	return n;
}

/* ---- the site's status ------------------------------------------------------------- */

struct agent_is {
	long long seq; /* -1: any */
	int running; /* app web's running instances; -1: any */
	const char *problem; /* a substring of the agent's problem; NULL: any */
	const char *policy; /* the policy's commit; NULL: any */
	const char *from; /* "trust-file" or "repository"; NULL: any */
	json_t *last;
};

static bool agent_matches(void *arg)
{
	struct agent_is *w = arg;
	char *out = NULL;
	h_run(&out, "%s status --nats %s --json 2>/dev/null", bin, h_nats_url(edge));
	json_decref(w->last);
	w->last = out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	json_t *s = json_object_get(json_object_get(w->last, "sites"), "edge");
	json_t *ag = json_object_get(s, "agent"), *web = NULL, *a;
	json_t *pol = json_object_get(ag, "policy");
	size_t i;
	json_array_foreach(json_object_get(s, "apps"), i, a)
	{
		if (!strcmp(json_string_value(json_object_get(a, "app")) ?: "", "web"))
			web = a;
	}
	const char *problem = json_string_value(json_object_get(ag, "problem"));
	const char *pc = json_string_value(json_object_get(pol, "commit"));
	const char *pf = json_string_value(json_object_get(pol, "from"));
	return ag && (w->seq < 0 || json_integer_value(json_object_get(ag, "seq")) == w->seq) &&
		(w->running < 0 ||
			(web && json_integer_value(json_object_get(web, "running")) == w->running &&
				json_integer_value(json_object_get(web, "seq")) ==
					json_integer_value(json_object_get(ag, "seq")))) &&
		(!w->problem || (problem && strstr(problem, w->problem))) &&
		(!w->policy || (pc && !strcmp(pc, w->policy))) &&
		(!w->from || (pf && !strcmp(pf, w->from)));
}

static bool wait_agent(
	long long seq, int running, const char *problem, const char *policy, const char *from)
{
	struct agent_is w = {seq, running, problem, policy, from, NULL};
	bool ok = h_wait_until(agent_matches, &w, WAIT_MS);
	if (!ok) {
		char *s = w.last ? json_dumps(w.last, JSON_COMPACT) : NULL;
		fprintf(stderr,
			"  want seq %lld, %d running, problem ~ \"%s\", policy %s (%s); have "
			"%.1500s\n",
			seq, running, problem ? problem : "*", policy ? policy : "*",
			from ? from : "*", s ? s : "(none)");
		free(s);
	}
	json_decref(w.last);
	return ok;
}

static pid_t start_agent(void)
{
	return h_spawn_sh(h_path("agent-edge.log"),
		"%s agent --site edge --nats %s --state %s --host-timeout 1s --resync 1s --trust "
		"%s",
		bin, h_nats_url(edge), h_path("agent-edge"), site_trust);
}

/* ---- the scenario ------------------------------------------------------------------- */

static void test_setup(void)
{
	t0 = h_now_ms();
	hub = h_hub_start();
	T_REQUIRE(hub);
	edge = h_site_start(hub, "edge");
	T_REQUIRE(edge && h_leaf_wait(edge, WAIT_MS));
	key_a = h_keygen("ed25519");
	key_b = h_keygen("ed25519");
	key_c = h_keygen("ecdsa");
	repo = h_repo_new("fleet");
	T_REQUIRE(key_a && key_b && key_c && repo);
	const char *hub_trust = h_path("hub_allowed_signers");
	site_trust = h_path("site_allowed_signers");
	h_write(hub_trust, "test@example.com %s\ntest@example.com %s\n", key_a->pub, key_c->pub);
	h_write(site_trust, "test@example.com %s\n", key_a->pub);
	T_REQUIRE(natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) == NATS_OK);
	T_REQUIRE(natsConnection_JetStream(&hub_js, hub_nc, NULL) == NATS_OK);
	h_repo_write(repo, "apps/web.yaml", "%s", app(1));
	pid_t sync_pid = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		hub_trust, h_path("sync-state"), h_nats_url(hub));
	agent = start_agent();
	pid_t host = h_spawn_sh(h_path("host-edge.log"),
		"%s host --site edge --id e0 --nats %s --state %s --heartbeat 300ms", bin,
		h_nats_url(edge), h_path("host-edge"));
	T_REQUIRE(sync_pid > 0 && agent > 0 && host > 0);
	T_REQUIRE(push(key_a, "web"));
	T_REQUIRE(js_KeyValue(&hub_kv, hub_js, "outpost") == NATS_OK);
	T_REQUIRE(wait_agent(1, 1, NULL, "", "trust-file"));
	int fmt = 0, size = proof_size(&fmt);
	fprintf(stderr, "  proof without a chain: %d bytes (format %d)\n", size, fmt);
	T_CHECK(size > 0 && fmt == 1);
	mark("site edge runs seq 1 (signed by A), policy: its --trust file");
}

/* C is trusted by the hub, not by the site: its rotation is the hub's, not the site's. */
static void test_untrusted_rotation_refused(void)
{
	h_repo_write(repo, ".outpost/allowed_signers", "test@example.com %s\ntest@example.com %s\n",
		key_a->pub, key_c->pub);
	h_repo_write(repo, "apps/web.yaml", "%s", app(3));
	const char *rot = push(key_c, "C rotates itself in");
	T_REQUIRE(rot);
	T_CHECK(hub_seq() == 2);
	T_CHECK(wait_agent(1, 1, "not-listed", "", "trust-file"));
	mark("the hub took C's rotation (seq 2); the site refuses it, runs seq 1");
	/* A takes it out again: the site still refuses the chain through C's commit. */
	T_REQUIRE(h_repo_git(repo, NULL, "rm -q .outpost/allowed_signers") == 0);
	T_REQUIRE(push(key_a, "A takes C's rotation out"));
	T_CHECK(wait_agent(
		1, 1, h_str("commit %.12s changes the trust policy", rot), "", "trust-file"));
	mark("A reverted it (seq 3): refused at the site, naming C's commit");
	h_repo_write(repo, "apps/web.yaml", "%s", app(2));
	T_REQUIRE(push(key_a, "A's change"));
	T_CHECK(wait_agent(4, 2, NULL, "", "trust-file"));
	mark("A's next commit (seq 4): the site runs it, its --trust file in force");
}

static void test_rotation_while_offline(void)
{
	h_link_cut(edge);
	mark("link cut");
	h_repo_write(repo, ".outpost/allowed_signers", "test@example.com %s\ntest@example.com %s\n",
		key_a->pub, key_b->pub);
	T_REQUIRE(push(key_a, "rotate in B"));
	h_repo_write(repo, ".outpost/allowed_signers", "test@example.com %s\n", key_b->pub);
	h_repo_write(repo, ".outpost/revoked", "%s\n", key_a->pub);
	const char *revoke = push(key_b, "B revokes A");
	T_REQUIRE(revoke);
	h_repo_write(repo, "apps/web.yaml", "%s", app(3));
	T_REQUIRE(push(key_b, "B's change"));
	T_CHECK(hub_seq() == 7);
	int fmt = 0, size = proof_size(&fmt);
	fprintf(stderr, "  proof with a chain: %d bytes (format %d)\n", size, fmt);
	T_CHECK(size > 0 && fmt == 2);
	mark("the hub took: A rotates in B (seq 5), B revokes A (seq 6), B's change (seq 7)");
	T_CHECK(wait_agent(4, 2, NULL, "", "trust-file"));
	h_link_restore(edge);
	T_CHECK(h_leaf_wait(edge, WAIT_MS));
	mark("link restored");
	T_CHECK(wait_agent(7, 3, "", revoke, "repository"));
	mark("the site runs seq 7 (signed by B); policy from B's revocation commit");
	char *log = h_read(h_path("agent-edge.log"));
	T_CHECK(log && strstr(log, "trust policy followed"));
	free(log);

	/* A restarted agent keeps the policy it adopted, and runs B's next commit. */
	T_CHECK(h_proc_stop(agent, false, 5000) >= 0);
	agent = start_agent();
	T_REQUIRE(agent > 0);
	T_CHECK(wait_agent(7, 3, "", revoke, "repository"));
	h_repo_write(repo, "apps/web.yaml", "%s", app(2));
	T_REQUIRE(push(key_b, "B's second change"));
	T_CHECK(wait_agent(8, 2, "", revoke, "repository"));
	log = h_read(h_path("agent-edge.log"));
	T_CHECK(log && strstr(log, "resuming the saved trust policy"));
	free(log);
	mark("agent restarted: the adopted policy kept; B's seq 8 runs");

	/* The operator resets the site: a changed --trust file is where it starts again;
	 * holding the bytes of the repository's file, it finds its place in the chain. */
	h_write(site_trust, "test@example.com %s\n", key_b->pub);
	h_repo_write(repo, "apps/web.yaml", "%s", app(1));
	T_REQUIRE(push(key_b, "B's third change"));
	T_CHECK(wait_agent(9, 1, "", revoke, "repository"));
	log = h_read(h_path("agent-edge.log"));
	T_CHECK(log && strstr(log, "the --trust file changed"));
	free(log);
	mark("--trust reset to a copy of the repository's file: seq 9 runs");
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("7%05d", (int)(getpid() % 100000));
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_untrusted_rotation_refused);
		T_RUN(test_rotation_while_offline);
	}
	h_adopt_workloads(tag);
	kvStore_Destroy(hub_kv);
	jsCtx_Destroy(hub_js);
	natsConnection_Destroy(hub_nc);
	return t_done();
}
