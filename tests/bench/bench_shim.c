/* What one `outpost shim` costs and how fast it restarts a workload, beside Debian's
 * s6-supervise doing the same job in the same run.
 *
 * Memory: 20 shims, each supervising a /bin/sleep (started directly, as `outpost host`
 * would, over a spec.json this program writes), and 20 s6-supervise over service dirs
 * whose run script execs the same sleep. PSS and RSS per supervisor come from
 * /proc/<pid>/smaps_rollup once all 40 workloads run and every supervisor waits in
 * poll() (/proc/<pid>/wchan): PSS splits the pages they share
 * (the binary's text) among the processes mapping them, so it is what one more
 * instance costs a box.
 *
 * Restart latency: the time from SIGKILL of a supervised sleep until its new pid has
 * exec'd /bin/sleep, once per instance over 50 shims (the first restart after a crash:
 * the backoff applies to the ones after it), p50 and p99. The floor is measured the
 * same way in the same run: this program forks and execs the same sleep itself and
 * polls for the exec as it polls for the shim's. Figures are printed, never judged:
 * the exit status is non-zero only when the set-up fails. BENCH_SMAPS=FILE copies the
 * first shim's /proc/<pid>/smaps there, to see where its memory goes. */
#include <dirent.h>
#include <errno.h>
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

#define MEM_N 20
#define LAT_N 50
#define WAIT_MS 20000

static const char *bin, *tag, *state;

static pid_t child_sleep(pid_t ppid, const char *arg);

/* A sleep <arg> child of parent other than pid skip (0: any) has appeared. */
struct appeared {
	pid_t parent, skip;
	const char *arg;
	pid_t got;
};

static bool child_appeared(void *v)
{
	struct appeared *a = v;
	pid_t p = child_sleep(a->parent, a->arg);
	a->got = p && p != a->skip ? p : 0;
	return a->got != 0;
}

static const char *inst_id(int i)
{
	return h_str("bench.main.%d-0123456789ab", i);
}

/* The workload of instance i: /bin/sleep <tag><i>. */
static const char *sleep_arg(const char *t, int i)
{
	return h_str("%s%03d", t, i);
}

/* Writes instance i's spec.json and starts its shim. */
static pid_t shim_start(int i)
{
	const char *yaml = h_str(
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: bench}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s\"]\n",
		sleep_arg(tag, i));
	op_app *a = NULL;
	op_diags d = {0};
	if (op_manifest_parse("bench.yaml", yaml, strlen(yaml), &a, &d) != 0) {
		op_diags_print(&d, stderr);
		op_diags_clear(&d);
		return -1;
	}
	op_hostcmd c = {.op = OP_CMD_START, .app = a};
	snprintf(c.id, sizeof c.id, "%s", inst_id(i));
	char *json = NULL;
	int rc = op_hostcmd_encode(&c, &json, NULL);
	op_app_free(a);
	if (rc != 0 || h_write(h_str("%s/instances/%s/spec.json", state, c.id), "%s", json) != 0) {
		free(json);
		return -1;
	}
	free(json);
	return h_spawn(h_path("shim-%d.log", i),
		(const char *const[]){bin, "shim", "--state", state, "--id", inst_id(i), NULL});
}

/* The pid of a running workload /bin/sleep <arg> whose parent is ppid, 0 if none. */
static pid_t child_sleep(pid_t ppid, const char *arg)
{
	char *kids = h_read(h_str("/proc/%d/task/%d/children", (int)ppid, (int)ppid));
	pid_t found = 0;
	for (char *p = kids; p && *p && !found;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		p = end;
		char buf[256];
		FILE *f = fopen(h_str("/proc/%ld/cmdline", pid), "r");
		if (!f)
			continue;
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[n] = '\0';
		if (!strcmp(buf, "/bin/sleep") && n > 11 && !strcmp(buf + 11, arg))
			found = (pid_t)pid;
	}
	free(kids);
	return found;
}

struct sup {
	pid_t pid; /* the supervisor */
	const char *arg; /* its workload's argument */
};

struct all_run {
	struct sup *v;
	int n;
};

static bool all_running(void *arg)
{
	struct all_run *a = arg;
	for (int i = 0; i < a->n; i++)
		if (!child_sleep(a->v[i].pid, a->v[i].arg))
			return false;
	return true;
}

/* Every supervisor waits in poll(): done with starting its workload (the shim gives
 * memory back just before it waits), so what is measured is the steady state. */
static bool all_idle(void *arg)
{
	struct all_run *a = arg;
	for (int i = 0; i < a->n; i++) {
		char *w = h_read(h_str("/proc/%d/wchan", (int)a->v[i].pid));
		bool idle = w && strstr(w, "poll");
		free(w);
		if (!idle)
			return false;
	}
	return true;
}

/* Average PSS and RSS of n supervisors, printed under name. */
static bool print_mem(const char *name, struct sup *v, int n, double *pss_avg)
{
	long pss = 0, rss = 0;
	for (int i = 0; i < n; i++) {
		long p, r;
		if (!h_proc_smaps_kb(v[i].pid, &p, &r))
			return false;
		pss += p, rss += r;
	}
	*pss_avg = (double)pss / n;
	printf("  %-14s PSS %6.0f kB  RSS %6.0f kB  per instance (%d instances)\n", name, *pss_avg,
		(double)rss / n, n);
	return true;
}

/* From SIGKILL of the supervised sleep to the new one's exec, in microseconds. */
static long long restart_us(struct sup *s)
{
	pid_t old = child_sleep(s->pid, s->arg);
	if (!old)
		return -1;
	long long t0 = h_now_us();
	kill(old, SIGKILL);
	struct appeared a = {s->pid, old, s->arg, 0};
	return h_wait_until_poll(child_appeared, &a, 10000, 50) ? h_now_us() - t0 : -1;
}

/* This program's own fork and exec of the same sleep, detected the same way. */
static long long floor_us(int i)
{
	const char *arg = sleep_arg(tag, 900 + i % 100);
	long long t0 = h_now_us();
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sleep", "/bin/sleep", arg, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return -1;
	struct appeared a = {getpid(), 0, arg, 0};
	long long took = h_wait_until_poll(child_appeared, &a, 10000, 50) && a.got == pid
		? h_now_us() - t0
		: -1;
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return took;
}

/* An s6 service dir whose run script execs /bin/sleep <arg>. */
static pid_t s6_start(int i, const char *arg)
{
	const char *dir = h_path("s6/svc%d", i);
	if (h_write(h_str("%s/run", dir), "#!/bin/sh\nexec /bin/sleep %s\n", arg) != 0 ||
		chmod(h_str("%s/run", dir), 0755) != 0)
		return -1;
	return h_spawn(h_path("s6-%d.log", i), (const char *const[]){"s6-supervise", dir, NULL});
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("8%04d", (int)(getpid() % 10000));
	const char *s6tag = h_str("9%04d", (int)(getpid() % 10000));
	state = h_path("state");
	printf("bench_shim\n");
	static struct sup shims[LAT_N], s6[MEM_N];
	for (int i = 0; i < MEM_N; i++) {
		shims[i] = (struct sup){shim_start(i), sleep_arg(tag, i)};
		s6[i] = (struct sup){-1, sleep_arg(s6tag, i)};
		if (access("/usr/bin/s6-supervise", X_OK) == 0)
			s6[i].pid = s6_start(i, s6[i].arg);
		if (shims[i].pid <= 0) {
			fprintf(stderr, "bench_shim: cannot start shim %d\n", i);
			return 1;
		}
	}
	struct all_run want = {shims, MEM_N};
	if (!h_wait_until(all_running, &want, WAIT_MS)) {
		fprintf(stderr, "bench_shim: the shims' workloads did not start\n");
		return 1;
	}
	bool have_s6 = s6[0].pid > 0;
	struct all_run want6 = {s6, MEM_N};
	if (have_s6 && !h_wait_until(all_running, &want6, WAIT_MS)) {
		fprintf(stderr, "bench_shim: s6-supervise's workloads did not start\n");
		return 1;
	}
	if (!h_wait_until(all_idle, &want, WAIT_MS) ||
		(have_s6 && !h_wait_until(all_idle, &want6, WAIT_MS))) {
		fprintf(stderr, "bench_shim: the supervisors did not settle in poll()\n");
		return 1;
	}
	double shim_pss = 0, s6_pss = 0;
	printf("memory of a supervisor (smaps_rollup), each over one /bin/sleep:\n");
	if (getenv("BENCH_SMAPS"))
		h_run(NULL, "cat /proc/%d/smaps > %s", (int)shims[0].pid, getenv("BENCH_SMAPS"));
	if (!print_mem("outpost shim", shims, MEM_N, &shim_pss))
		return 1;
	if (have_s6 && print_mem("s6-supervise", s6, MEM_N, &s6_pss))
		printf("  shim/s6-supervise PSS: %.2f\n", shim_pss / s6_pss);
	else
		printf("  s6-supervise: not installed (Debian package s6)\n");
	for (int i = 0; i < MEM_N && have_s6; i++)
		h_proc_stop(s6[i].pid, false, 2000);
	h_adopt_workloads(s6tag);

	for (int i = MEM_N; i < LAT_N; i++)
		if ((shims[i] = (struct sup){shim_start(i), sleep_arg(tag, i)}).pid <= 0)
			return 1;
	want.n = LAT_N;
	if (!h_wait_until(all_running, &want, WAIT_MS)) {
		fprintf(stderr, "bench_shim: the shims' workloads did not start\n");
		return 1;
	}
	long long lat[LAT_N], flo[LAT_N];
	for (int i = 0; i < LAT_N; i++)
		if ((flo[i] = floor_us(i)) < 0 || (lat[i] = restart_us(&shims[i])) < 0) {
			fprintf(stderr, "bench_shim: restart %d was not seen\n", i);
			return 1;
		}
	long long f50 = h_pct(flo, LAT_N, 50), f99 = h_pct(flo, LAT_N, 99);
	long long l50 = h_pct(lat, LAT_N, 50), l99 = h_pct(lat, LAT_N, 99);
	printf("first restart after kill -9 of the workload (%d kills, one per instance):\n"
	       "  outpost shim   p50 %7.2f ms  p99 %7.2f ms\n"
	       "  floor          p50 %7.2f ms  p99 %7.2f ms  (fork + exec of the same sleep "
	       "here)\n"
	       "  shim/floor p50: %.1f\n",
		LAT_N, l50 / 1000.0, l99 / 1000.0, f50 / 1000.0, f99 / 1000.0,
		f50 > 0 ? (double)l50 / (double)f50 : 0.0);
	for (int i = 0; i < LAT_N; i++)
		h_proc_stop(shims[i].pid, false, 5000);
	h_adopt_workloads(tag);
	return 0;
}
