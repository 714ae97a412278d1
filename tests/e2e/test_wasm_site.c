/* type wasm at a site, end to end: a hub (sync), a site (leaf nats-server, agent) and two
 * `outpost host`s, one with WasmEdge and one whose --wasm-runtime is missing, as in a
 * fleet where only some boxes have it. A signed push of an app with a native component
 * and a wasm one on every host (daemonscaler) runs the native one on both and the
 * module only where the runtime is; status shows each host's runtime (or none), and a
 * wasm component whose spread names only the host without one says why it is not
 * placed. The module is WAT compiled by the test with wat2wasm. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/host/supervise.h"
#include "t.h"

#define WAIT_MS 30000
#define HB "300ms"

static const char *bin, *tag, *module_path, *module_hex;
static const h_key *key;
static h_nats *hub, *site;
static h_repo *repo;

static bool push(void)
{
	return h_repo_commit(repo, &(h_commit){.key = key, .msg = "change"}) &&
		h_sync_accepted(hub, WAIT_MS);
}

/* Processes running the test's module (the runtime's command line names it). */
static int modules_running(pid_t *pids, int max)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		int pid = atoi(de->d_name);
		char *cmd = pid > 0 ? h_read(h_str("/proc/%d/cmdline", pid)) : NULL;
		/* cmdline is NUL-separated: the runtime's path comes first, the module later. */
		size_t len = 0;
		bool hit = false;
		if (cmd) {
			FILE *f = fopen(h_str("/proc/%d/cmdline", pid), "r");
			char buf[4096];
			len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
			if (f)
				fclose(f);
			for (size_t i = 0; i < len; i += strlen(buf + i) + 1) {
				buf[len] = '\0';
				hit |= !strcmp(buf + i, module_path);
			}
			hit &= strstr(cmd, "wasmedge") != NULL;
		}
		free(cmd);
		if (hit) {
			if (pids && n < max)
				pids[n] = pid;
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

static bool one_module(void *arg)
{
	(void)arg;
	return modules_running(NULL, 0) == 1;
}

/* Instance dirs of host i whose id contains what. */
static int host_insts(int i, const char *what)
{
	int n = 0;
	DIR *d = opendir(h_path("host%d/instances", i));
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += strstr(de->d_name, what) != NULL;
	if (d)
		closedir(d);
	return n;
}

static bool wait_status(const char *want)
{
	return h_wait_output(want, WAIT_MS, "%s status --nats %s 2>&1", bin, h_nats_url(site));
}

static const char *app_yaml(const char *name, const char *wasm_spread)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\nspec:\n  components:\n"
		     "    - name: native\n      type: process\n      properties:\n"
		     "        command: /bin/sleep\n        args: [\"%s1\"]\n"
		     "      traits:\n        - type: daemonscaler\n          properties: "
		     "{instances: 1}\n"
		     "    - name: mod\n      type: wasm\n      properties:\n"
		     "        module: sha256:%s\n        path: %s\n        user: nobody\n"
		     "        limits: {memory: 4Mi}\n"
		     "      traits:\n        - type: daemonscaler\n          properties:\n"
		     "            instances: 1\n%s",
		name, tag, module_hex, module_path, wasm_spread);
}

static void test_setup(void)
{
	T_REQUIRE(chmod(h_tmpdir(), 0711) == 0); /* the module runs as nobody */
	/* "tick" every 500 ms for ever */
	module_path = h_wasm_build("tick", h_wat_writer("tick", true, 500), &module_hex);
	T_REQUIRE(module_path);
	hub = h_hub_start();
	T_REQUIRE(hub);
	site = h_site_start(hub, "plant");
	T_REQUIRE(site && h_leaf_wait(site, WAIT_MS));
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && repo);
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	h_repo_write(repo, "apps/mixed.yaml", "%s", app_yaml("mixed", ""));
	pid_t sync = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		trust, h_path("sync-state"), h_nats_url(hub));
	pid_t agent = h_spawn_sh(h_path("agent.log"),
		"%s agent --site plant --nats %s --state %s --host-timeout 1s --resync 2s", bin,
		h_nats_url(site), h_path("agent-state"));
	pid_t h0 = h_spawn_sh(h_path("host0.log"),
		"%s host --site plant --id h0 --nats %s --state %s --heartbeat " HB
		" --label role=gw",
		bin, h_nats_url(site), h_path("host0"));
	pid_t h1 = h_spawn_sh(h_path("host1.log"),
		"%s host --site plant --id h1 --nats %s --state %s --heartbeat " HB
		" --label role=worker --wasm-runtime /nonexistent/wasmedge",
		bin, h_nats_url(site), h_path("host1"));
	T_REQUIRE(sync > 0 && agent > 0 && h0 > 0 && h1 > 0);
}

static void test_module_only_where_the_runtime_is(void)
{
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "1", 2, WAIT_MS));
	T_CHECK(h_wait_until(one_module, NULL, WAIT_MS));
	T_EQ_INT(host_insts(0, ".mod."), 1);
	T_EQ_INT(host_insts(1, ".mod."), 0);
	T_EQ_INT(host_insts(1, ".native."), 1);
	/* Three of three: the host without a runtime is not owed the module. */
	T_CHECK(wait_status("3/3       deployed"));
	/* The host table: h1 has no runtime, h0 has WasmEdge's version; both rlimits. */
	T_CHECK(wait_status("h1                   yes"));
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s status --nats %s", bin, h_nats_url(site)), 0);
	const char *h0 = out ? strstr(out, "\nplant            h0 ") : NULL;
	const char *h1 = out ? strstr(out, "\nplant            h1 ") : NULL;
	T_CHECK_MSG(h0 && h1, "%s", out ? out : "");
	if (h0 && h1) {
		const char *e0 = strchr(h0 + 1, '\n'), *e1 = strchr(h1 + 1, '\n');
		const char *l0 = h_str("%.*s", (int)(e0 ? e0 - h0 : 200), h0);
		const char *l1 = h_str("%.*s", (int)(e1 ? e1 - h1 : 200), h1);
		T_CHECK_MSG(strstr(l0, "rlimit") && strstr(l0, "0.14"), "%s", l0);
		T_CHECK_MSG(strstr(l1, "rlimit") && strstr(l1, " none"), "%s", l1);
	}
	free(out);
}

static void test_not_placed_says_why(void)
{
	h_repo_write(repo, "apps/workers.yaml", "%s",
		app_yaml("workers", "            spread: [{requirements: {role: worker}}]\n"));
	T_REQUIRE(push());
	T_CHECK(wait_status("not placed: no host it may run on has a WebAssembly runtime "
			    "(component mod)"));
	T_EQ_INT(modules_running(NULL, 0), 1); /* mixed's only */
	h_repo_rm(repo, "apps/workers.yaml");
	h_repo_rm(repo, "apps/mixed.yaml");
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, NULL, 0, WAIT_MS));
}

static bool no_module(void *arg)
{
	(void)arg;
	return modules_running(NULL, 0) == 0;
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
		T_RUN(test_module_only_where_the_runtime_is);
		T_RUN(test_not_placed_says_why);
		T_CHECK(h_wait_until(no_module, NULL, WAIT_MS));
	}
	h_adopt_workloads(tag);
	pid_t pids[16];
	int n = module_path ? modules_running(pids, 16) : 0;
	for (int i = 0; i < n && i < 16; i++)
		h_adopt(pids[i]);
	return t_done();
}
