/* The arm64 binary, run under qemu-user: `--version`, `validate` (the same digests as
 * the amd64 build: canonical JSON must not depend on the arch), and a site whose agent
 * and hosts are the arm64 binary (the nats-servers and sync stay amd64) running real
 * processes after a signed push. Built and run by `make test-arm64`, not by `make test`.
 *
 * OUTPOST_EDGE_BIN is the command that runs the edge binary, e.g.
 * "qemu-aarch64-static /path/outpost-arm64" (default: that, with ./outpost-arm64).
 * The hosts start their shims by re-executing themselves (/proc/self/exe), which only
 * works when the kernel can exec an aarch64 file: tests/arm64/with_binfmt.sh sees to
 * that, and test_shim_can_start says so plainly when it cannot. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

/* qemu-user is slow to start and slow to run: generous deadlines. */
#define WAIT_MS 90000
#define HB "500ms"
#define HOST_TIMEOUT "4s"

static const char *edge, *edge_path, *amd64, *tag;
static const h_key *key;
static h_nats *hub, *site;
static h_repo *repo;
static natsConnection *hub_nc;
static pid_t host_pid[2];

/* `outpost status --json` by the edge binary itself, at the site. */
static bool wait_status(const char *server, const char *want)
{
	return h_wait_output(want, WAIT_MS, "%s status --json --nats %s 2>&1", edge, server);
}

/* ---- the binary alone --------------------------------------------------------------- */

static void test_version(void)
{
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s --version", edge), 0);
	T_CHECK_MSG(out &&
			strncmp(out, "outpost " OP_VERSION " ",
				strlen("outpost " OP_VERSION " ")) == 0,
		"--version says: %s", out ? out : "");
	T_CHECK(out && strstr(out, "libgit2") && strstr(out, "nats.c"));
	free(out);
	/* It is an aarch64 file, and qemu is what runs it. */
	out = NULL;
	T_EQ_INT(h_run(&out, "file -b %s", h_q(edge_path)), 0);
	T_CHECK_MSG(out && strstr(out, "ARM aarch64") && strstr(out, "statically linked"),
		"file says: %s", out ? out : "");
	free(out);
}

static void test_validate_examples(void)
{
	/* Same files, same output, digests included: canonical JSON is arch-independent. */
	char *a = NULL, *b = NULL;
	T_EQ_INT(h_run(&a, "%s validate examples/apps", edge), 0);
	T_EQ_INT(h_run(&b, "%s validate examples/apps", amd64), 0);
	T_CHECK(a && strstr(a, "sha256:"));
	T_EQ_STR(a, b);
	free(a);
	free(b);
	a = b = NULL;
	T_EQ_INT(h_run(&a, "%s validate --json examples/apps/thermo.yaml", edge), 0);
	T_EQ_INT(h_run(&b, "%s validate --json examples/apps/thermo.yaml", amd64), 0);
	T_EQ_STR(a, b);
	free(a);
	free(b);
}

static void test_validate_exit_codes(void)
{
	const char *good = h_path("m/good.yaml"), *bad = h_path("m/bad.yaml");
	h_write(good,
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		"  name: good\nspec:\n  components:\n    - name: main\n      type: process\n"
		"      properties:\n        command: /bin/true\n");
	h_write(bad,
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		"  name: Bad_Name\nspec:\n  components:\n    - name: main\n      type: process\n"
		"      properties:\n        command: relative/path\n");
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s validate %s", edge, good), 0);
	T_CHECK(out && strstr(out, "ok app=good"));
	free(out);
	out = NULL;
	T_EQ_INT(h_run(&out, "%s validate %s 2>&1", edge, bad), 1);
	T_CHECK_MSG(out && strstr(out, h_str("%s:4:9: metadata.name", bad)) &&
			strstr(out, "spec.components[0].properties.command"),
		"validate said: %s", out ? out : "");
	free(out);
	out = NULL;
	T_EQ_INT(h_run(&out, "%s validate --no-such-flag 2>&1", edge), 2);
	free(out);
}

/* ---- a site whose agent and hosts are the arm64 binary -------------------------------- */

/* The kernel must exec the aarch64 file itself (binfmt_misc) for `outpost shim` to start. */
static void test_shim_can_start(void)
{
	char *out = NULL;
	int rc = h_run(&out, "%s --version 2>&1", h_q(edge_path));
	T_CHECK_MSG(rc == 0,
		"the kernel cannot exec %s (exit %d: %s): hosts re-execute /proc/self/exe to start "
		"`outpost shim`, which qemu-user maps to that file; without an aarch64 binfmt_misc "
		"entry that execve fails with ENOEXEC and no workload can start (run under "
		"tests/arm64/with_binfmt.sh)",
		edge_path, rc, out ? out : "");
	free(out);
}

static const char *app(const char *suffix, int instances)
{
	/* Only hosts labelled arch=arm64 may run it: the hosts under qemu must say arm64. */
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: web\n  annotations: {version: v-%s}\nspec:\n  components:\n"
		     "    - name: main\n      type: process\n      properties:\n"
		     "        command: /bin/sleep\n        args: [\"%s%s\"]\n"
		     "      traits:\n        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n            spread:\n"
		     "              - requirements: {arch: arm64}\n",
		suffix, tag, suffix, instances);
}

struct sync_req {
	char *reply;
};

static bool sync_now(void *arg)
{
	struct sync_req *r = arg;
	natsMsg *m = NULL;
	if (natsConnection_RequestString(&m, hub_nc, "outpost.hub.sync.now", "{}", 10000) !=
		NATS_OK)
		return false;
	r->reply = strndup(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
	return true;
}

static bool push(void)
{
	if (!h_repo_commit(repo, &(h_commit){.key = key, .msg = "change"}))
		return false;
	struct sync_req r = {NULL};
	if (!h_wait_until(sync_now, &r, WAIT_MS))
		return false;
	bool ok = strstr(r.reply, "\"outcome\":\"accepted\"") ||
		strstr(r.reply, "\"outcome\":\"unchanged\"");
	if (!ok)
		fprintf(stderr, "  sync: %s\n", r.reply);
	free(r.reply);
	return ok;
}

/* arm64's WasmEdge in a directory of its own, run under qemu-user
 * (packaging/buildroot-wasm-arm64.sh). */
#define WASMEDGE_ARM64 "/opt/wasmedge-arm64/wasmedge"

static pid_t start_host(int i)
{
	return h_spawn_sh(h_path("host%d.log", i),
		"%s host --site edge --id h%d --nats %s --state %s --heartbeat " HB
		" --wasm-runtime " WASMEDGE_ARM64,
		edge, i, h_nats_url(site), h_path("host%d", i));
}

/* How often the hosts' logs say what. */
static int host_log_count(const char *what)
{
	int n = 0;
	for (int i = 0; i < 2; i++) {
		char *log = h_read(h_path("host%d.log", i));
		for (const char *p = log; p && (p = strstr(p, what)); p++)
			n++;
		free(log);
	}
	return n;
}

static bool adopted_all(void *arg)
{
	(void)arg;
	return host_log_count("instance adopted") >= 3;
}

static void test_site_setup(void)
{
	hub = h_hub_start();
	T_REQUIRE(hub);
	site = h_site_start(hub, "edge");
	T_REQUIRE(site && h_leaf_wait(site, WAIT_MS));
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && repo);
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	T_REQUIRE(natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) == NATS_OK);
	/* Keeps apps/ in the tree once web.yaml is gone (dot-files are not read). */
	h_repo_write(repo, "apps/.keep.yaml", "# not read\n");
	h_repo_write(repo, "apps/web.yaml", "%s", app("1", 3));
	pid_t sync = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", amd64,
		repo->path, trust, h_path("sync-state"), h_nats_url(hub));
	pid_t agent = h_spawn_sh(h_path("agent.log"),
		"%s agent --site edge --nats %s --state %s --host-timeout " HOST_TIMEOUT
		" --resync 2s",
		edge, h_nats_url(site), h_path("agent-state"));
	T_REQUIRE(sync > 0 && agent > 0);
	for (int i = 0; i < 2; i++) {
		host_pid[i] = start_host(i);
		T_REQUIRE(host_pid[i] > 0);
	}
}

static void test_signed_push_runs_processes(void)
{
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "1", 3, WAIT_MS));
	T_CHECK(wait_status(h_nats_url(site), "\"arch\": \"arm64\""));
	T_CHECK(wait_status(h_nats_url(site), "\"deployed\""));
	/* qemu-user answers a guest's reads of its OWN /proc/<pid>/stat with a made-up
	 * stat whose start time is when qemu began, not the kernel's: a shim that records
	 * its start time from there never matches what the host reads for it. */
	T_CHECK_MSG(host_log_count("lost its shim") == 0,
		"a host took a live shim for lost: does op_proc_start_time read "
		"/proc/<pid>/stat (emulated by qemu-user for the process itself) rather than "
		"/proc/<pid>/task/<pid>/stat (not emulated)?");
}

/* A restarted host adopts its shims again: under qemu this compares the start time a
 * shim recorded for itself with the one the host reads for it in /proc. */
static void test_host_restart_keeps_workloads(void)
{
	pid_t before[8], after[8];
	T_REQUIRE(h_workloads(tag, "1", before, 8) == 3);
	for (int i = 0; i < 2; i++) {
		T_CHECK(h_proc_stop(host_pid[i], false, 10000) >= 0);
		host_pid[i] = start_host(i);
		T_REQUIRE(host_pid[i] > 0);
	}
	T_CHECK(h_wait_until(adopted_all, NULL, WAIT_MS));
	T_CHECK(wait_status(h_nats_url(site), "\"deployed\""));
	T_EQ_INT(h_workloads(tag, "1", after, 8), 3);
	T_EQ_INT(host_log_count("lost its shim"), 0);
	int same = 0;
	for (int i = 0; i < 3; i++)
		for (int j = 0; j < 3; j++)
			same += before[i] == after[j];
	T_EQ_INT(same, 3);
}

/* Hosts (of 0..2) whose instance dir of the module has its line in its output. */
static int modules_said(void)
{
	int n = 0;
	for (int i = 0; i < 3; i++) {
		char *out = NULL;
		if (h_run(&out, "cat %s/instances/hello.mod.0@h%d-*/output.log 2>/dev/null",
			    h_path("host%d", i), i) == 0 &&
			out && strstr(out, "one module, every arch\n"))
			n++;
		free(out);
	}
	return n;
}

static bool all_said(void *arg)
{
	(void)arg;
	return modules_said() == 3;
}

static bool hello_gone(void *arg)
{
	(void)arg;
	char *out = NULL;
	int rc = h_run(&out, "ls -d %s/host*/instances/hello.* 2>/dev/null", h_tmpdir());
	bool gone = rc != 0 || !out || !*out;
	free(out);
	return gone;
}

/* The command line of the workload of host i's module instance (spaces for NULs). */
static const char *module_cmdline(int i)
{
	char *out = NULL;
	h_run(&out,
		"pid=$(sed -n 's/.*\"pid\":\\([0-9]*\\).*/\\1/p' "
		"%s/instances/hello.mod.0@h%d-*/state.json) && tr '\\0' ' ' </proc/$pid/cmdline",
		h_path("host%d", i), i);
	const char *s = h_str("%s", out ? out : "");
	free(out);
	return s;
}

/* One module, every arch: a WASI module (WAT compiled here by wat2wasm) pinned by one
 * digest runs on both arm64 hosts (arm64 WasmEdge under qemu-user) and on an amd64 host
 * (the amd64 binary, Debian's wasmedge) of the same site, each writing its line. */
static void test_wasm_every_arch(void)
{
	char *v = NULL;
	T_EQ_INT(h_run(&v, WASMEDGE_ARM64 " --version 2>&1"), 0);
	T_CHECK_MSG(v && strstr(v, "wasmedge version"),
		"%s does not run (make deps-wasm-arm64): %s", WASMEDGE_ARM64, v ? v : "");
	free(v);
	/* its line once, then idle for ever (a 1000 s wait, again and again) */
	const char *hex = "";
	const char *mod = h_wasm_build(
		"hello", h_wat_writer("one module, every arch", false, 1000000), &hex);
	T_REQUIRE(mod);
	printf("  module sha256:%s\n", hex);
	/* The amd64 host of the site: the amd64 binary, Debian's wasmedge. */
	pid_t amd = h_spawn_sh(h_path("host2.log"),
		"%s host --site edge --id h2 --nats %s --state %s --heartbeat " HB, amd64,
		h_nats_url(site), h_path("host2"));
	T_REQUIRE(amd > 0);
	h_repo_write(repo, "apps/hello.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: hello}\n"
		"spec:\n  components:\n    - name: mod\n      type: wasm\n      properties:\n"
		"        module: sha256:%s\n        path: %s\n        limits: {memory: 4Mi}\n"
		"      traits:\n        - type: daemonscaler\n          properties: {instances: "
		"1}\n",
		hex, mod);
	T_REQUIRE(push());
	T_CHECK_MSG(h_wait_until(all_said, NULL, WAIT_MS), "%d of 3 hosts ran the module",
		modules_said());
	/* Under qemu on the arm64 hosts, Debian's amd64 wasmedge on the amd64 one. */
	const char *c0 = module_cmdline(0), *c2 = module_cmdline(2);
	T_CHECK_MSG(
		strstr(c0, "qemu-aarch64") && strstr(c0, "/opt/wasmedge-arm64/usr/bin/wasmedge"),
		"h0 runs: %s", c0);
	T_CHECK_MSG(!strncmp(c2, "/usr/bin/wasmedge ", 18), "h2 runs: %s", c2);
	T_CHECK(wait_status(h_nats_url(site), "\"wasm\": \"0.14"));
	h_repo_rm(repo, "apps/hello.yaml");
	T_REQUIRE(push());
	T_CHECK(h_wait_until(hello_gone, NULL, WAIT_MS));
	T_CHECK(h_proc_stop(amd, false, 10000) >= 0);
}

static void test_spec_change_and_delete(void)
{
	h_repo_write(repo, "apps/web.yaml", "%s", app("2", 2));
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, "2", 2, WAIT_MS));
	T_CHECK(h_wait_workloads(tag, "1", 0, WAIT_MS));
	h_repo_rm(repo, "apps/web.yaml");
	T_REQUIRE(push());
	T_CHECK(h_wait_workloads(tag, NULL, 0, WAIT_MS));
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	amd64 = h_str("%s/outpost", cwd);
	edge = getenv("OUTPOST_EDGE_BIN");
	if (!edge || !*edge)
		edge = h_str("qemu-aarch64-static %s/outpost-arm64", cwd);
	/* The file itself: the last word of the command. */
	const char *sp = strrchr(edge, ' ');
	edge_path = sp ? sp + 1 : edge;
	/* Workloads are /bin/sleep <tag>: 6 and pid digits, unlike the other tests' tags
	 * (they may run at the same time). */
	tag = h_str("6%05d", (int)(getpid() % 100000));
	printf("edge binary: %s\n", edge);
	T_RUN(test_version);
	T_RUN(test_validate_examples);
	T_RUN(test_validate_exit_codes);
	T_RUN(test_shim_can_start);
	T_RUN(test_site_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_signed_push_runs_processes);
	}
	if (t_failed_checks == 0) { /* the rest needs workloads that run */
		T_RUN(test_host_restart_keeps_workloads);
		T_RUN(test_wasm_every_arch);
		T_RUN(test_spec_change_and_delete);
	}
	/* Shims leave the harness's process groups, and one whose instance was never stopped
	 * would outlive the test and restart its workload. */
	h_adopt_workloads(tag);
	if (hub_nc)
		natsConnection_Destroy(hub_nc);
	return t_done();
}
