/* What a wasm instance costs beside starting WasmEdge by hand, and beside a native one.
 *
 * Start to running: the time from starting `outpost shim` over a spec.json of a
 * component of type wasm (as `outpost host` would) until the module's first line
 * ("ready") is in the instance's output log, against the time from fork + exec of
 * `wasmedge module.wasm` by this program, its stdout into a file, until the same line
 * is in that file: the same module, the same detection (the file polled every 50 us),
 * alternated, START_N times each; p50 and p90, and their ratio (the goal: at
 * most 1.1). The shim's share is what it adds: reading and validating the spec, the
 * module's digest check, the fence (users, rlimits), its own exec.
 *
 * Memory: MEM_N wasm instances (shim + wasmedge, the module idle in poll_oneoff) and
 * MEM_N native ones (shim + /bin/sleep), PSS and RSS from /proc/<pid>/smaps_rollup once
 * every shim waits in poll(), per instance and per process. Figures are printed, never
 * judged: the exit status is non-zero only when the set-up fails. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"

#define START_N 20
#define MEM_N 10
#define WAIT_MS 20000
#define RUNTIME "/usr/bin/wasmedge"

static const char *bin, *state, *module_path, *module_hex;

static const char *inst_id(const char *kind, int i)
{
	return h_str("bench.%s.%d-0123456789ab", kind, i);
}

/* Writes the spec.json of instance i of component kind (a module when wasm, else a
 * /bin/sleep) and starts its shim. */
static pid_t shim_start(const char *kind, bool wasm, int i)
{
	const char *props = wasm
		? h_str("        module: sha256:%s\n        path: %s\n", module_hex, module_path)
		: "        command: /bin/sleep\n        args: [\"100000\"]\n";
	const char *yaml = h_str(
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: bench}\n"
		"spec:\n  components:\n    - name: %s\n      type: %s\n      properties:\n%s",
		kind, wasm ? "wasm" : "process", props);
	op_app *a = NULL;
	op_diags d = {0};
	if (op_manifest_parse("bench.yaml", yaml, strlen(yaml), &a, &d) != 0) {
		op_diags_print(&d, stderr);
		op_diags_clear(&d);
		return -1;
	}
	op_hostcmd c = {.op = OP_CMD_START, .app = a};
	snprintf(c.id, sizeof c.id, "%s", inst_id(kind, i));
	char *json = NULL;
	int rc = op_hostcmd_encode(&c, &json, NULL);
	op_app_free(a);
	if (rc != 0 || h_write(h_str("%s/instances/%s/spec.json", state, c.id), "%s", json) != 0) {
		free(json);
		return -1;
	}
	free(json);
	return h_spawn(h_path("shim-%s-%d.log", kind, i),
		(const char *const[]){bin, "shim", "--state", state, "--id", c.id, NULL});
}

static bool file_has_ready(void *arg)
{
	char *s = h_read(arg);
	bool ok = s && strstr(s, "ready\n");
	free(s);
	return ok;
}

/* fork + exec of the runtime on the module, stdout into out; microseconds until the
 * module's line is there, -1 on failure. The runtime is killed after. */
static long long by_hand_us(const char *out)
{
	long long t0 = h_now_us();
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd < 0)
			_exit(126);
		dup2(fd, 1);
		char *argv[] = {RUNTIME, (char *)module_path, NULL};
		char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
		execve(RUNTIME, argv, envp);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	long long took = h_wait_until_poll(file_has_ready, (void *)out, 10000, 50) ? h_now_us() - t0
										   : -1;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return took;
}

/* outpost shim over instance i's spec; microseconds until the module's line is in the
 * instance's output log, -1 on failure. The shim is stopped after (TERM: it stops the
 * runtime and removes the instance). */
static long long by_shim_us(int i)
{
	const char *log = h_str("%s/instances/%s/output.log", state, inst_id("start", i));
	long long t0 = h_now_us();
	pid_t shim = shim_start("start", true, i);
	if (shim <= 0)
		return -1;
	long long took = h_wait_until_poll(file_has_ready, (void *)log, 10000, 50) ? h_now_us() - t0
										   : -1;
	h_proc_stop(shim, false, 5000);
	return took;
}

/* The first child of pid, 0 if none. */
static pid_t child_of(pid_t pid)
{
	char *kids = h_read(h_str("/proc/%d/task/%d/children", (int)pid, (int)pid));
	pid_t c = kids ? (pid_t)strtol(kids, NULL, 10) : 0;
	free(kids);
	return c;
}

struct group {
	pid_t shim[MEM_N];
	int n;
};

/* Every shim has its workload, and waits in poll(). */
static bool settled(void *arg)
{
	struct group *g = arg;
	for (int i = 0; i < g->n; i++) {
		char *w = h_read(h_str("/proc/%d/wchan", (int)g->shim[i]));
		bool idle = w && strstr(w, "poll") && child_of(g->shim[i]) > 0;
		free(w);
		if (!idle)
			return false;
	}
	return true;
}

static bool print_mem(const char *name, struct group *g, double *total)
{
	long sp = 0, sr = 0, wp = 0, wr = 0;
	for (int i = 0; i < g->n; i++) {
		long p, r, p2, r2;
		pid_t w = child_of(g->shim[i]);
		if (!w || !h_proc_smaps_kb(g->shim[i], &p, &r) || !h_proc_smaps_kb(w, &p2, &r2))
			return false;
		sp += p, sr += r, wp += p2, wr += r2;
	}
	double n = g->n;
	*total = (double)(sp + wp) / n;
	printf("  %-22s PSS %6.0f kB (shim %5.0f + workload %6.0f)  RSS %6.0f kB (shim %5.0f "
	       "+ workload %6.0f)\n",
		name, *total, sp / n, wp / n, (double)(sr + wr) / n, sr / n, wr / n);
	return true;
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	state = h_path("state");
	printf("bench_wasm\n");
	if (access(RUNTIME, X_OK) != 0) {
		printf("  %s: not installed (Debian package wasmedge): skipped\n", RUNTIME);
		return 0;
	}
	char *ver = NULL;
	h_run(&ver, "%s --version | head -1", RUNTIME);
	/* "ready" once, then idle for ever (a 1000 s wait, again and again) */
	module_path = h_wasm_build("ready", h_wat_writer("ready", false, 1000000), &module_hex);
	if (!module_path) {
		fprintf(stderr, "bench_wasm: cannot build the module (wat2wasm, Debian's wabt)\n");
		return 1;
	}
	printf("  runtime: %s", ver ? ver : "?\n");
	free(ver);

	/* Warm the page cache for both paths first: the first run of each is not counted. */
	if (by_hand_us(h_path("hand-warm.out")) < 0 || by_shim_us(START_N) < 0) {
		fprintf(stderr, "bench_wasm: the module did not start\n");
		return 1;
	}
	long long hand[START_N], shim[START_N];
	/* Alternated, and each pair in turns of order, so that neither side always runs
	 * while the other's runtime is being torn down. */
	for (int i = 0; i < START_N; i++) {
		if (i % 2)
			shim[i] = by_shim_us(i);
		hand[i] = by_hand_us(h_path("hand-%d.out", i));
		if (i % 2 == 0)
			shim[i] = by_shim_us(i);
		if (hand[i] < 0 || shim[i] < 0) {
			fprintf(stderr, "bench_wasm: start %d was not seen\n", i);
			return 1;
		}
	}
	long long h50 = h_pct(hand, START_N, 50), h90 = h_pct(hand, START_N, 90);
	long long s50 = h_pct(shim, START_N, 50), s90 = h_pct(shim, START_N, 90);
	printf("start to running (the module's first line written), %d starts each:\n"
	       "  outpost shim + wasmedge  p50 %7.2f ms  p90 %7.2f ms\n"
	       "  wasmedge by hand         p50 %7.2f ms  p90 %7.2f ms\n"
	       "  shim/by hand p50: %.2f (goal: at most 1.1)\n",
		START_N, s50 / 1000.0, s90 / 1000.0, h50 / 1000.0, h90 / 1000.0,
		h50 > 0 ? (double)s50 / (double)h50 : 0.0);

	static struct group wasm, native;
	for (int i = 0; i < MEM_N; i++) {
		wasm.shim[wasm.n++] = shim_start("wasm", true, i);
		native.shim[native.n++] = shim_start("native", false, i);
		if (wasm.shim[i] <= 0 || native.shim[i] <= 0) {
			fprintf(stderr, "bench_wasm: cannot start shim %d\n", i);
			return 1;
		}
	}
	if (!h_wait_until(settled, &wasm, WAIT_MS) || !h_wait_until(settled, &native, WAIT_MS)) {
		fprintf(stderr, "bench_wasm: the instances did not settle\n");
		return 1;
	}
	double tw = 0, tn = 0;
	printf("memory per instance (smaps_rollup), %d of each:\n", MEM_N);
	if (!print_mem("wasm (wasmedge)", &wasm, &tw) ||
		!print_mem("native (/bin/sleep)", &native, &tn))
		return 1;
	printf("  wasm/native PSS: %.1f\n", tn > 0 ? tw / tn : 0.0);
	for (int i = 0; i < MEM_N; i++) {
		h_proc_stop(wasm.shim[i], false, 5000);
		h_proc_stop(native.shim[i], false, 5000);
	}
	return 0;
}
