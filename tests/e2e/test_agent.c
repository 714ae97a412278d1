/* The site's half end to end: a hub (sync), one site (leaf nats-server, agent) and
 * three `outpost host`s running real processes. Workloads are /bin/sleep with a tag
 * argument unique to this run, counted straight from /proc, so every check is about
 * processes that really run. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/wire/proto.h"
#include "t.h"

#define WAIT_MS 30000
#define HB "300ms"
#define HOST_TIMEOUT "1s"

static const char *bin, *tag;
static const h_key *key;
static h_nats *hub, *site;
static h_repo *repo;
static const char *trust;
static pid_t sync_pid, agent_pid, host_pid[3];
static natsConnection *hub_nc;

/* ---- git pushes through sync ---------------------------------------------------------- */

static const char *app(const char *name, const char *suffix, int instances, const char *extra)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\n  annotations: {version: v-%s}\nspec:\n  components:\n"
		     "    - name: main\n      type: process\n      properties:\n"
		     "        command: /bin/sleep\n        args: [\"%s%s\"]\n%s"
		     "      traits:\n        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n",
		name, suffix, tag, suffix, extra ? extra : "", instances);
}

static bool push(void)
{
	return h_repo_commit(repo, &(h_commit){.key = key, .msg = "change"}) &&
		h_sync_accepted(hub, WAIT_MS);
}

static pid_t start_host(int i)
{
	return h_spawn_sh(h_path("host%d.log", i),
		"%s host --site plant --id h%d --nats %s --state %s --heartbeat " HB
		" --label role=%s --max-backoff 30s",
		bin, i, h_nats_url(site), h_path("host%d", i), i == 0 ? "gw" : "worker");
}

/* ---- status -------------------------------------------------------------------------- */

static bool wait_status(const char *server, const char *want)
{
	return h_wait_output(want, WAIT_MS, "%s status --nats %s 2>&1", bin, server);
}

static bool log_says(void *arg)
{
	char *log = h_read(h_path("agent.log"));
	bool ok = log && strstr(log, arg);
	free(log);
	return ok;
}

/* ---- the scenario --------------------------------------------------------------------- */

static void test_setup(void)
{
	hub = h_hub_start();
	T_REQUIRE(hub);
	site = h_site_start(hub, "plant");
	T_REQUIRE(site && h_leaf_wait(site, WAIT_MS));
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && repo);
	trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	T_REQUIRE(natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) == NATS_OK);
	h_repo_write(repo, "apps/.keep.yaml", "# not read: dot-files are skipped\n");
	h_repo_write(repo, "apps/web.yaml", "%s", app("web", "1", 4, NULL));
	sync_pid = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		trust, h_path("sync-state"), h_nats_url(hub));
	agent_pid = h_spawn_sh(h_path("agent.log"),
		"%s agent --site plant --nats %s --state %s --host-timeout " HOST_TIMEOUT
		" --resync 2s",
		bin, h_nats_url(site), h_path("agent-state"));
	for (int i = 0; i < 3; i++)
		host_pid[i] = start_host(i);
	T_REQUIRE(sync_pid > 0 && agent_pid > 0 && host_pid[0] > 0);
}

static void test_signed_push_runs_instances(void)
{
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "1", 4, WAIT_MS));
	T_CHECK(wait_status(h_nats_url(site), "deployed"));
	T_CHECK(wait_status(h_nats_url(site), "4/4"));
}

static void test_scale(void)
{
	h_repo_write(repo, "apps/web.yaml", "%s", app("web", "1", 7, NULL));
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "1", 7, WAIT_MS));
	h_repo_write(repo, "apps/web.yaml", "%s", app("web", "1", 2, NULL));
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "1", 2, WAIT_MS));
}

struct rollout {
	int max_total;
};

static bool rolled(void *arg)
{
	struct rollout *r = arg;
	int total = h_workloads(tag, NULL, NULL, 0);
	if (total > r->max_total)
		r->max_total = total;
	return h_workloads(tag, "2", NULL, 0) == 3 && h_workloads(tag, "1", NULL, 0) == 0;
}

static void test_spec_change_one_at_a_time(void)
{
	h_repo_write(repo, "apps/web.yaml", "%s", app("web", "1", 3, NULL));
	T_REQUIRE(push());
	T_REQUIRE(h_wait_workloads(tag, "1", 3, WAIT_MS));
	h_repo_write(repo, "apps/web.yaml", "%s", app("web", "2", 3, NULL));
	T_REQUIRE(push());
	struct rollout r = {0};
	T_CHECK(h_wait_until(rolled, &r, WAIT_MS));
	T_CHECK_MSG(
		r.max_total <= 4, "saw %d instances at once during a rollout of 3", r.max_total);
}

static void test_host_killed_and_back(void)
{
	pid_t before[16];
	int n = h_workloads(tag, "2", before, 16);
	T_REQUIRE(n == 3);
	/* Which workloads belong to host 1: its state dir names them; simpler, kill it and
	 * see the site converge to 3 running on the other two (the status counts them). */
	T_EQ_INT(h_proc_stop(host_pid[1], true, 1000), 128 + 9);
	T_CHECK(wait_status(h_nats_url(site), "h1                   NO"));
	T_CHECK(wait_status(h_nats_url(site), "3/3"));
	host_pid[1] = start_host(1);
	T_REQUIRE(host_pid[1] > 0);
	/* Back: it re-adopts its instances; the surplus is stopped. */
	T_CHECK(wait_status(h_nats_url(site), "h1                   yes"));
	T_CHECK(h_wait_workloads(tag, "2", 3, WAIT_MS));
}

static void test_host_restart_keeps_pids(void)
{
	pid_t before[16], after[16];
	int n = h_workloads(tag, "2", before, 16);
	T_REQUIRE(n == 3);
	for (int i = 0; i < 3; i++) {
		T_CHECK(h_proc_stop(host_pid[i], false, 5000) >= 0);
		host_pid[i] = start_host(i);
	}
	T_CHECK(wait_status(h_nats_url(site), "3/3"));
	T_EQ_INT(h_workloads(tag, "2", after, 16), 3);
	int same = 0;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			same += before[i] == after[j];
	T_EQ_INT(same, 3);
}

static void test_failures_reported(void)
{
	h_repo_write(repo, "apps/crash.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: crash}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sh\n        args: [\"-c\", \"exit 3\"]\n");
	h_repo_write(repo, "apps/wrongsum.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: wrongsum}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/true\n"
		"        artifact: {path: /bin/true, sha256: "
		"\"0000000000000000000000000000000000000000000000000000000000000000\"}\n");
	T_REQUIRE(push());
	T_CHECK(wait_status(h_nats_url(site), "exit 3"));
	T_CHECK(wait_status(h_nats_url(site), "sha256 mismatch"));
	/* A failed instance is tried again, and says when; outpost restart tries it now:
	 * here, once what it waited for is there, well before its 10 s backoff ends. */
	T_CHECK(wait_status(h_nats_url(site), "next try at"));
	const char *flag = h_path("later-ready");
	h_repo_write(repo, "apps/later.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: later}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sh\n"
		"        args: [\"-c\", \"test -f %s && exec /bin/sleep %s9\"]\n",
		flag, tag);
	T_REQUIRE(push());
	T_CHECK(h_wait_output("crash loop", WAIT_MS, "%s status --nats %s --app later 2>&1", bin,
		h_nats_url(site)));
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s restart --site plant --app nope --nats %s 2>&1", bin,
			 h_nats_url(site)),
		1);
	T_CHECK_MSG(out && strstr(out, "no host of this site reports"), "%s", out ? out : "");
	free(out);
	T_REQUIRE(h_write(flag, "ready\n") == 0);
	long long t0 = h_now_ms();
	T_EQ_INT(h_run(&out, "%s restart --site plant --app later --nats %s 2>&1", bin,
			 h_nats_url(site)),
		0);
	T_CHECK_MSG(out && strstr(out, "tried again now: later.main.0-"), "%s", out ? out : "");
	free(out);
	T_CHECK(h_wait_workloads(tag, "9", 1, 8000));
	T_CHECK_MSG(h_now_ms() - t0 < 8000, "the restart took %lld ms", h_now_ms() - t0);
	T_CHECK(wait_status(h_nats_url(site), "1 of 1 running"));
	h_repo_rm(repo, "apps/later.yaml");
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "9", 0, WAIT_MS));
}

/* A daemonscaler runs on every host whose labels match: h1 and h2 are workers. */
static void test_daemonscaler(void)
{
	h_repo_write(repo, "apps/agentd.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: agentd}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s7\"]\n      traits:\n"
		"        - type: daemonscaler\n          properties:\n            instances: 1\n"
		"            spread: [{requirements: {role: worker}}]\n",
		tag);
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "7", 2, WAIT_MS));
	T_CHECK(wait_status(h_nats_url(site), "2/2"));
	h_repo_rm(repo, "apps/agentd.yaml");
	/* An app no host can take says so, rather than "deployed 0/0". */
	h_repo_write(repo, "apps/nowhere.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: nowhere}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s8\"]\n      traits:\n"
		"        - type: daemonscaler\n          properties:\n            instances: 1\n"
		"            spread: [{requirements: {role: gpu}}]\n",
		tag);
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "7", 0, WAIT_MS));
	T_CHECK(wait_status(h_nats_url(site), "not placed: no host matches role=gpu"));
	T_CHECK(wait_status(h_nats_url(site), "not-placed"));
	h_repo_rm(repo, "apps/nowhere.yaml");
	T_REQUIRE(push());
}

/* A host that dies while the agent is away is shown dead once the restarted agent's
 * start-up window has passed, though the agent never heard from it; and alive again
 * when it returns. */
static void test_agent_restart_sees_dead_host(void)
{
	T_CHECK(h_proc_stop(agent_pid, false, 5000) >= 0);
	T_EQ_INT(h_proc_stop(host_pid[2], true, 1000), 128 + 9);
	agent_pid = h_spawn_sh(h_path("agent.log"),
		"%s agent --site plant --nats %s --state %s --host-timeout " HOST_TIMEOUT
		" --resync 2s",
		bin, h_nats_url(site), h_path("agent-state"));
	T_REQUIRE(agent_pid > 0);
	T_CHECK(wait_status(h_nats_url(site), "h2                   NO"));
	T_CHECK(wait_status(h_nats_url(hub), "h2                   NO"));
	host_pid[2] = start_host(2);
	T_REQUIRE(host_pid[2] > 0);
	T_CHECK(wait_status(h_nats_url(site), "h2                   yes"));
}

/* A heartbeat on one host's subject that says it is another host is refused: a box
 * speaks for itself only. */
static void test_heartbeat_for_another_host(void)
{
	op_heartbeat hb = {.seq = 1, .interval_ms = 300};
	snprintf(hb.host, sizeof hb.host, "ghost");
	snprintf(hb.site, sizeof hb.site, "plant");
	snprintf(hb.boot, sizeof hb.boot, "b0");
	char *json = NULL;
	op_err e = {0};
	natsConnection *nc = NULL;
	T_REQUIRE(op_heartbeat_encode(&hb, &json, &e) == 0);
	T_REQUIRE(natsConnection_ConnectTo(&nc, h_nats_url(site)) == NATS_OK);
	T_CHECK(natsConnection_PublishString(nc, "outpost.plant.hb.h0", json) == NATS_OK);
	natsConnection_Flush(nc);
	free(json);
	natsConnection_Destroy(nc);
	T_CHECK(h_wait_until(log_says, (void *)"it says it is host ghost", WAIT_MS));
	char *out = NULL;
	h_run(&out, "%s status --nats %s", bin, h_nats_url(site));
	T_CHECK(out && !strstr(out, "ghost"));
	free(out);
}

static void test_hub_status_and_delete(void)
{
	/* The site reports its status to the hub (agent/site/report.c). */
	T_CHECK(wait_status(h_nats_url(hub), "plant            web"));
	T_CHECK(wait_status(h_nats_url(hub), "hub sync: accepted"));
	/* A site or app nobody reports is an error naming what is known, not an empty
	 * table; nats.c's own source lines never reach a message. */
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s status --nats %s --site plnat 2>&1", bin, h_nats_url(hub)), 1);
	T_CHECK_MSG(out && strstr(out, "no site named \"plnat\"") && strstr(out, "sites: plant"),
		"%s", out ? out : "");
	free(out);
	T_EQ_INT(h_run(&out, "%s status --nats %s --app nope 2>&1", bin, h_nats_url(hub)), 1);
	T_CHECK_MSG(out && strstr(out, "no app named \"nope\""), "%s", out ? out : "");
	free(out);
	T_EQ_INT(
		h_run(&out, "%s status --nats %s --site plant --app web", bin, h_nats_url(hub)), 0);
	free(out);
	T_EQ_INT(h_run(&out, "%s status --nats nats://127.0.0.1:1 2>&1", bin), 1);
	T_CHECK_MSG(out && !strstr(out, ".c:") && strstr(out, "No server available"), "%s",
		out ? out : "");
	free(out);
	h_repo_rm(repo, "apps/web.yaml");
	h_repo_rm(repo, "apps/crash.yaml");
	h_repo_rm(repo, "apps/wrongsum.yaml");
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, NULL, 0, WAIT_MS));
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	/* sleep takes it as seconds: a tag, a digit for the version, years to sleep. */
	tag = h_str("9%05d", (int)(getpid() % 100000));
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_signed_push_runs_instances);
		T_RUN(test_scale);
		T_RUN(test_spec_change_one_at_a_time);
		T_RUN(test_host_killed_and_back);
		T_RUN(test_host_restart_keeps_pids);
		T_RUN(test_failures_reported);
		T_RUN(test_daemonscaler);
		T_RUN(test_agent_restart_sees_dead_host);
		T_RUN(test_heartbeat_for_another_host);
		T_RUN(test_hub_status_and_delete);
	}
	/* Workloads live in their shims' sessions: make sure none outlives the test. */
	h_adopt_workloads(tag);
	natsConnection_Destroy(hub_nc);
	return t_done();
}
