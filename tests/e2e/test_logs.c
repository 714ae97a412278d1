/* `outpost logs` end to end: a hub (sync), one site (leaf nats-server, agent) and two
 * `outpost host`s. A workload's output is read at the site and from the hub across the
 * leaf link; a version that crashed is replaced and its output is still there; the
 * kept logs of a component stay bounded; a reply is bounded; --follow prints what a
 * restarted instance writes. Workloads are /bin/sh scripts that print a line and exec
 * /bin/sleep with a tag argument unique to this run, so the harness counts (and
 * cleans up) them as processes. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/host/supervise.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin, *tag;
static const h_key *key;
static h_nats *hub, *site;
static h_repo *repo;

/* App name whose one component prints "<say>-<tag>" and then sleeps as <tag><v>. */
static void write_app(const char *name, int instances, const char *say, const char *v, bool crash)
{
	h_repo_write(repo, h_str("apps/%s.yaml", name),
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: %s\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sh\n"
		"        args: [\"-c\", \"echo %s-%s pid $$; %s\"]\n"
		"      traits:\n        - type: spreadscaler\n          properties:\n"
		"            instances: %d\n",
		name, say, tag, crash ? "exit 3" : h_str("exec /bin/sleep %s%s", tag, v),
		instances);
}

static bool push(void)
{
	return h_repo_commit(repo, &(h_commit){.key = key, .msg = "change"}) &&
		h_sync_accepted(hub, WAIT_MS);
}

static bool logs_say(const h_nats *s, const char *args, const char *want)
{
	return h_wait_output(
		want, WAIT_MS, "%s logs --site plant --nats %s %s 2>&1", bin, h_nats_url(s), args);
}

static void test_setup(void)
{
	hub = h_hub_start();
	T_REQUIRE(hub);
	site = h_site_start(hub, "plant");
	T_REQUIRE(site && h_leaf_wait(site, WAIT_MS));
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && repo);
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	write_app("talk", 1, "hello-v1", "1", false);
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = key, .msg = "talk"}));
	pid_t sync = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		trust, h_path("sync-state"), h_nats_url(hub));
	pid_t agent = h_spawn_sh(h_path("agent.log"),
		"%s agent --site plant --nats %s --state %s --host-timeout 1s --resync 2s", bin,
		h_nats_url(site), h_path("agent-state"));
	for (int i = 0; i < 2; i++)
		T_REQUIRE(h_spawn_sh(h_path("host%d.log", i),
				  "%s host --site plant --id h%d --nats %s --state %s --heartbeat "
				  "300ms",
				  bin, i, h_nats_url(site), h_path("host%d", i)) > 0);
	T_REQUIRE(sync > 0 && agent > 0);
	T_REQUIRE(h_wait_workloads(tag, "1", 1, WAIT_MS));
	h_adopt_workloads(tag);
}

static void test_logs_at_site_and_hub(void)
{
	const char *line = h_str("hello-v1-%s pid", tag);
	T_CHECK(logs_say(site, "--app talk", line));
	T_CHECK(logs_say(site, "--app talk", "==> talk.main.0-"));
	T_CHECK(logs_say(site, "--app talk", "(runs: running)"));
	/* from the hub, across the leaf link: the hosts come from the status the site reported */
	T_CHECK(logs_say(hub, "--app talk", line));
	/* usage and unknown names */
	T_EQ_INT(h_run(NULL, "%s logs --site plant 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s logs --site plant --app 'a/b' 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s logs --site plant --app nope --nats %s 2>/dev/null", bin,
			 h_nats_url(site)),
		1);
	T_EQ_INT(h_run(NULL, "%s logs --site elsewhere --app talk --nats %s 2>/dev/null", bin,
			 h_nats_url(site)),
		1);
}

/* A version that crashes is replaced (reverted); its output outlives its instance. */
static void test_crashed_version_kept(void)
{
	write_app("talk", 1, "crash-v2", "2", true);
	T_REQUIRE(push());
	T_CHECK(logs_say(site, "--app talk", h_str("crash-v2-%s", tag)));
	write_app("talk", 1, "hello-v3", "3", false);
	T_REQUIRE(push());
	T_REQUIRE(h_wait_workloads(tag, "3", 1, WAIT_MS));
	T_REQUIRE(h_wait_workloads(tag, "1", 0, WAIT_MS));
	h_adopt_workloads(tag);
	/* the crashed version's output, under a header saying it stopped, and the new one */
	T_CHECK(logs_say(site, "--app talk", h_str("crash-v2-%s", tag)));
	T_CHECK(logs_say(site, "--app talk", "(stopped "));
	/* stopped in its backoff or once failed, as the rollout went: its last exit shows */
	T_CHECK(logs_say(site, "--app talk", ", last exit 3) <=="));
	T_CHECK(logs_say(hub, "--app talk", h_str("hello-v3-%s", tag)));
	T_CHECK(logs_say(hub, "--app talk", h_str("hello-v1-%s", tag)));
}

static int kept_of(int host, const char *prefix)
{
	int n = 0;
	DIR *d = opendir(h_path("host%d/logs", host));
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		const char *id;
		int64_t ms;
		n += op_logs_name(de->d_name, &id, &ms) && !strncmp(id, prefix, strlen(prefix));
	}
	if (d)
		closedir(d);
	return n;
}

/* More versions than are kept: each host keeps the newest OP_LOGS_KEEP of the component. */
static void test_kept_bounded(void)
{
	for (int v = 4; v <= 7; v++) {
		write_app("talk", 1, h_str("hello-v%d", v), h_str("%d", v), false);
		T_REQUIRE(push());
		T_REQUIRE(h_wait_workloads(tag, h_str("%d", v), 1, WAIT_MS));
		h_adopt_workloads(tag);
	}
	T_REQUIRE(h_wait_workloads(tag, "6", 0, WAIT_MS));
	T_CHECK(logs_say(site, "--app talk", h_str("hello-v6-%s", tag)));
	int total = 0;
	for (int i = 0; i < 2; i++) {
		int n = kept_of(i, "talk.main.");
		T_CHECK_MSG(n <= OP_LOGS_KEEP, "host h%d keeps %d logs of talk.main", i, n);
		total += n;
	}
	T_CHECK_MSG(total >= OP_LOGS_KEEP, "%d kept logs in all", total);
}

/* A workload that wrote much more than a reply holds: the default is its last 64 KiB. */
static void test_reply_bounded(void)
{
	h_repo_write(repo, "apps/loud.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: loud\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sh\n"
		"        args: [\"-c\", \"yes | head -c 400000; echo loud-end-%s; "
		"exec /bin/sleep %s9\"]\n",
		tag, tag);
	T_REQUIRE(push());
	T_REQUIRE(h_wait_workloads(tag, "9", 1, WAIT_MS));
	h_adopt_workloads(tag);
	T_REQUIRE(logs_say(site, "--app loud", h_str("loud-end-%s", tag)));
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s logs --site plant --app loud --nats %s", bin, h_nats_url(hub)), 0);
	size_t n = out ? strlen(out) : 0;
	T_CHECK_MSG(n > 60000 && n < 66 * 1024, "%zu bytes", n);
	free(out);
}

static bool file_has(void *arg)
{
	char **a = arg;
	char *s = h_read(a[0]);
	bool ok = s && strstr(s, a[1]);
	free(s);
	return ok;
}

/* pids[1] = the workload of version 7 once it is another process than pids[0]. */
static bool restarted(void *arg)
{
	pid_t *pids = arg;
	return h_workloads(tag, "7", &pids[1], 1) == 1 && pids[1] != pids[0] && pids[1] > 0;
}

/* --follow (from the hub): what a restarted instance writes shows up. */
static void test_follow(void)
{
	const char *out = h_path("follow.out");
	pid_t f = h_spawn_sh(
		out, "%s logs --site plant --app talk --follow --nats %s", bin, h_nats_url(hub));
	T_REQUIRE(f > 0);
	char *want[2] = {(char *)out, (char *)h_str("hello-v7-%s pid", tag)};
	T_REQUIRE(h_wait_until(file_has, want, WAIT_MS));
	pid_t old = 0;
	T_REQUIRE(h_workloads(tag, "7", &old, 1) == 1);
	kill(old, SIGKILL); /* the shim starts it again at once */
	pid_t pids[2] = {old, 0};
	T_REQUIRE(h_wait_until(restarted, pids, WAIT_MS));
	h_adopt_workloads(tag);
	want[1] = (char *)h_str("hello-v7-%s pid %d", tag, (int)pids[1]);
	T_CHECK(h_wait_until(file_has, want, WAIT_MS));
	T_EQ_INT(h_proc_stop(f, false, 5000), 0); /* SIGTERM ends it, status 0 */
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("5%05d", (int)(getpid() % 100000));
	T_RUN(test_setup);
	if (!t_failed_checks) {
		T_RUN(test_logs_at_site_and_hub);
		T_RUN(test_crashed_version_kept);
		T_RUN(test_kept_bounded);
		T_RUN(test_reply_bounded);
		T_RUN(test_follow);
	}
	h_adopt_workloads(tag);
	return t_done();
}
