/* A role whose server stops accepting its credentials never sits silently
 * disconnected: the hub's users are changed and the server reloaded, the server closes
 * the connections that no longer authorize, nats.c gives up after the same refusal
 * twice, and the role says why and exits 1, so that its service manager (Restart=
 * always in the units) starts it again, with the credentials fixed by then or failing
 * loudly again. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin;
static h_nats *hub;

static const char *users(const h_nats *s, void *arg)
{
	(void)s, (void)arg;
	return "authorization { users = [ {user: op, password: first-password} ] }\n";
}

static bool connections(void *arg)
{
	json_t *j = h_nats_monitor(hub, "/connz");
	json_int_t n = json_integer_value(json_object_get(j, "num_connections"));
	json_decref(j);
	return n >= *(int *)arg;
}

struct exit_wait {
	pid_t pid;
	int code;
};

static bool exited(void *arg)
{
	struct exit_wait *w = arg;
	return h_proc_exited(w->pid, &w->code);
}

/* Replaces the password from with to in the hub's config and reloads it; true when the
 * config held from (a reload of the same file is harmless). */
static bool set_password(const char *from, const char *to)
{
	char *conf = h_read(h_str("%s/server.conf", hub->dir));
	char *at = conf ? strstr(conf, from) : NULL;
	if (at)
		memcpy(at, to, strlen(to));
	int rc = conf ? h_write(h_str("%s/server.conf", hub->dir), "%s", conf) : -1;
	free(conf);
	return at && rc == 0 && kill(hub->pid, SIGHUP) == 0;
}

static bool change_password(void)
{
	return set_password("first-password", "other-password");
}

/* The role p (logging to log) exits 1 saying why, once the hub refuses its password. */
static void expect_exit_when_refused(pid_t p, const char *log, const char *what)
{
	T_REQUIRE(change_password());
	struct exit_wait w = {p, -1};
	T_CHECK_MSG(h_wait_until(exited, &w, WAIT_MS), "%s is still running", what);
	T_EQ_INT(w.code, 1);
	char *text = h_read(log);
	T_CHECK_MSG(text && strstr(text, "closed its connection for good") &&
			strstr(text, "uthorization"),
		"log: %s", text ? text : "");
	free(text);
}

static void test_host_exits_when_refused(void)
{
	h_nats_cfg cfg = {.text = users};
	hub = h_hub_start_cfg(&cfg);
	T_REQUIRE(hub);
	const char *creds = h_path("op.creds");
	T_REQUIRE(h_write(creds, "op:first-password\n") == 0);
	const char *log = h_path("host.log");
	pid_t p = h_spawn_sh(log,
		"env OUTPOST_NATS_CREDS=%s %s host --site s1 --id h1 --nats %s --state %s "
		"--heartbeat 200ms",
		creds, bin, h_nats_url(hub), h_path("host-state"));
	T_REQUIRE(p > 0);
	int one = 1;
	T_REQUIRE(h_wait_until(connections, &one, WAIT_MS));
	expect_exit_when_refused(p, log, "the host");
}

/* The same for sync, whose loop notices between passes. */
static void test_sync_exits_when_refused(void)
{
	T_REQUIRE(hub);
	/* The test before left the hub on other-password: back to the first one. */
	T_REQUIRE(set_password("other-password", "first-password"));
	const h_key *key = h_keygen("ed25519");
	T_REQUIRE(key);
	h_repo *repo = h_repo_new("repo");
	T_REQUIRE(repo);
	h_repo_write(repo, "apps/a.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: a\n"
		"spec:\n  components:\n    - name: m\n      type: process\n"
		"      properties:\n        command: /bin/sleep\n        args: [\"600\"]\n");
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = key, .msg = "a"}));
	const char *trust = h_path("allowed_signers");
	T_REQUIRE(h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub) == 0);
	const char *creds = h_path("op.creds");
	const char *log = h_path("sync.log");
	pid_t p = h_spawn_sh(log,
		"env OUTPOST_NATS_CREDS=%s %s sync --repo %s --trust %s --state %s --nats %s "
		"--interval 200ms",
		creds, bin, repo->path, trust, h_path("sync-state"), h_nats_url(hub));
	T_REQUIRE(p > 0);
	T_REQUIRE(h_wait_output("outcome=accepted", WAIT_MS, "cat %s", log));
	expect_exit_when_refused(p, log, "sync");
}

/* The same for the agent, wherever it is in its start-up. */
static void test_agent_exits_when_refused(void)
{
	T_REQUIRE(hub);
	T_REQUIRE(set_password("other-password", "first-password"));
	const char *log = h_path("agent.log");
	pid_t p = h_spawn_sh(log,
		"env OUTPOST_NATS_CREDS=%s %s agent --site s1 --nats %s --state %s",
		h_path("op.creds"), bin, h_nats_url(hub), h_path("agent-state"));
	T_REQUIRE(p > 0);
	int one = 1;
	T_REQUIRE(h_wait_until(connections, &one, WAIT_MS));
	expect_exit_when_refused(p, log, "the agent");
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	T_RUN(test_host_exits_when_refused);
	T_RUN(test_sync_exits_when_refused);
	T_RUN(test_agent_exits_when_refused);
	return t_done();
}
