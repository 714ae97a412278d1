/* What a health probe costs the box it runs on: the CPU and memory of the shim that runs
 * it, for one instance, per kind of probe.
 *
 * An `outpost host` (hostfx.h, against a nats-server) starts BENCH_PROBE_INSTANCES
 * (default 4) instances of each of four apps, every one a /bin/sleep: without a probe
 * (the floor: a shim supervising the same workload, healthy after min_ready), with a
 * tcp probe, an http probe (GET /healthz) and an exec probe (/bin/true), all every
 * 100 ms (the shortest interval allowed: the cost of one probe is small). The tcp and
 * http probes hit listeners of this program (netfx.h), which count what they answered.
 * Once every instance is healthy, each shim's CPU is read from /proc: utime + stime and
 * cutime + cstime of /proc/<pid>/stat (the exec probes' own processes are the shim's
 * reaped children), and /proc/<pid>/schedstat, the run time in nanoseconds that utime
 * and stime are made from (they come in 10 ms ticks, too coarse for a tcp probe's few
 * tens of microseconds). The window ends when the listeners have counted
 * BENCH_PROBE_RUNS (default 200) runs per instance of both the tcp and the http probe;
 * the shim does not count its probes, so the exec runs are the window over the interval
 * (the probes begin every interval plus the loop's wake-up delay: a slight over-count).
 * Then each shim's VmRSS and VmHWM are read from /proc/<pid>/status.
 *
 * Per probe: CPU per run is the shim's CPU over the window (its children's too) less the
 * floor's over the same window, over the runs; the CPU % at the default interval
 * (OP_HEALTH_INTERVAL_MS, 10 s) follows from it; memory is the difference from the
 * floor's. Figures are averages per instance and are printed, never judged: the exit
 * status is non-zero only when the set-up fails or a probe stopped passing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "e2e/hostfx.h"
#include "e2e/netfx.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"

#define MAXK 16
#define INTERVAL_MS 100
#define WAIT_MS 30000

enum { FLOOR, TCP, HTTP, EXEC, NKINDS };

/* One shim's reading. */
typedef struct reading {
	long long sched_ns; /* schedstat: time on a CPU */
	long long ticks, child_ticks; /* utime + stime, cutime + cstime */
} reading;

typedef struct kind {
	const char *name; /* the app, and the probe */
	const char *props;
	pid_t shim[MAXK];
	reading r0[MAXK], r1[MAXK];
	long rss[MAXK], hwm[MAXK];
} kind;

static int nk; /* instances per kind */
static hx_host host;
static nx_server tcp_srv = {.fd = -1}, web_srv = {.fd = -1};
static kind kinds[NKINDS];

static long env_int(const char *name, long def, long min, long max)
{
	const char *e = getenv(name);
	char *end;
	long v = e ? strtol(e, &end, 10) : def;
	return e && (*end || v < min || v > max) ? def : v;
}

static bool read_cpu(pid_t pid, reading *r)
{
	char *s = h_read(h_str("/proc/%d/stat", (int)pid));
	char *p = s ? strrchr(s, ')') : NULL;
	bool ok = false;
	if (p) {
		/* After ") ": state (field 3) ... utime stime cutime cstime (14..17). */
		long long v[18] = {0};
		char *f = p + 2;
		for (int i = 3; i <= 17 && f; i++) {
			v[i] = strtoll(f, NULL, 10);
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		r->ticks = v[14] + v[15];
		r->child_ticks = v[16] + v[17];
		ok = f != NULL;
	}
	free(s);
	s = h_read(h_str("/proc/%d/schedstat", (int)pid));
	r->sched_ns = s ? strtoll(s, NULL, 10) : -1;
	free(s);
	return ok && r->sched_ns >= 0;
}

/* Every instance runs healthy, with no restart. */
static bool all_healthy(void *arg)
{
	(void)arg;
	op_heartbeat hb;
	if (!hx_hb_get(host.id, &hb))
		return false;
	bool ok = true;
	for (int k = 0; k < NKINDS && ok; k++)
		for (int i = 0; i < nk && ok; i++) {
			const op_hb_inst *in = hx_hb_find(&hb, hx_inst_id(kinds[k].name, i));
			ok = in && in->state == OP_INST_RUNNING &&
				in->health == OP_HEALTH_HEALTHY && in->restarts == 0;
		}
	hx_adopt_all(&host);
	op_heartbeat_clear(&hb);
	return ok;
}

struct counted {
	int tcp0, http0, want;
};

static bool runs_counted(void *arg)
{
	struct counted *c = arg;
	return tcp_srv.served - c->tcp0 >= c->want && web_srv.served - c->http0 >= c->want;
}

/* Readings of every shim into r0 (first) or r1. */
static bool read_shims(bool first)
{
	for (int k = 0; k < NKINDS; k++)
		for (int i = 0; i < nk; i++) {
			kind *kd = &kinds[k];
			if (!read_cpu(kd->shim[i], first ? &kd->r0[i] : &kd->r1[i]))
				return false;
		}
	return true;
}

static bool start_all(const char *tag)
{
	const char *sleep = h_str("        command: /bin/sleep\n        args: [\"%s\"]\n", tag);
	const char *every = h_str("          interval: %dms\n", INTERVAL_MS);
	kinds[FLOOR] = (kind){
		.name = "none", .props = h_str("%s        min_ready: 100ms\n", sleep)};
	kinds[TCP] = (kind){.name = "tcp",
		.props = h_str("%s        health:\n          tcp: {port: %d}\n%s", sleep,
			tcp_srv.port, every)};
	kinds[HTTP] = (kind){.name = "http",
		.props = h_str("%s        health:\n          http: {port: %d, path: /healthz}\n%s",
			sleep, web_srv.port, every)};
	kinds[EXEC] = (kind){.name = "exec",
		.props = h_str("%s        health:\n          exec: {command: /bin/true}\n%s", sleep,
			every)};
	for (int k = 0; k < NKINDS; k++)
		for (int i = 0; i < nk; i++) {
			op_hostreply r = hx_start(&host, kinds[k].name, i, kinds[k].props);
			if (!r.ok) {
				fprintf(stderr, "bench_probe: start %s %d: %s\n", kinds[k].name, i,
					r.error);
				return false;
			}
		}
	if (!h_wait_until(all_healthy, NULL, WAIT_MS)) {
		fprintf(stderr, "bench_probe: the instances did not all become healthy\n");
		return false;
	}
	for (int k = 0; k < NKINDS; k++)
		for (int i = 0; i < nk; i++) {
			op_shim_state st;
			if (op_shim_state_load(
				    host.state, hx_inst_id(kinds[k].name, i), &st, NULL) != 0 ||
				st.shim_pid <= 0)
				return false;
			kinds[k].shim[i] = st.shim_pid;
		}
	return true;
}

/* Per instance, averaged: CPU microseconds over the window (self by schedstat, self
 * and children by ticks), and memory in KiB. */
typedef struct avg {
	double self_us, ticks_us, child_us, rss, hwm;
} avg;

static avg average(const kind *kd)
{
	avg a = {0};
	double tick_us = 1e6 / (double)sysconf(_SC_CLK_TCK);
	for (int i = 0; i < nk; i++) {
		a.self_us += (double)(kd->r1[i].sched_ns - kd->r0[i].sched_ns) / 1000.0;
		a.ticks_us += (double)(kd->r1[i].ticks - kd->r0[i].ticks) * tick_us;
		a.child_us += (double)(kd->r1[i].child_ticks - kd->r0[i].child_ticks) * tick_us;
		a.rss += (double)kd->rss[i];
		a.hwm += (double)kd->hwm[i];
	}
	a.self_us /= nk, a.ticks_us /= nk, a.child_us /= nk, a.rss /= nk, a.hwm /= nk;
	return a;
}

static void report(double window_ms, const double runs[NKINDS])
{
	avg f = average(&kinds[FLOOR]);
	printf("floor (a shim without a probe over the same /bin/sleep), per instance:\n"
	       "  CPU %.1f us over the window (%.2f us/s; utime+stime %.0f us), VmRSS %.0f KiB, "
	       "VmHWM %.0f KiB\n",
		f.self_us, f.self_us * 1000.0 / window_ms, f.ticks_us, f.rss, f.hwm);
	printf("per probe run, less the floor (averages over %d instances):\n"
	       "  probe  runs/inst  shim us/run  (utime+stime)  children us/run  total us/run"
	       "  CPU %% at %ds  RSS +KiB  HWM +KiB\n",
		nk, OP_HEALTH_INTERVAL_MS / 1000);
	for (int k = TCP; k < NKINDS; k++) {
		avg a = average(&kinds[k]);
		double self = (a.self_us - f.self_us) / runs[k];
		double ticks = (a.ticks_us - f.ticks_us) / runs[k];
		double child = (a.child_us - f.child_us) / runs[k];
		double total = self + child;
		printf("  %-5s  %8.0f%s  %11.1f  %13.1f  %15.1f  %12.1f  %12.5f  %8.0f  %8.0f\n",
			kinds[k].name, runs[k], k == EXEC ? "~" : " ", self, ticks, child, total,
			100.0 * total / (OP_HEALTH_INTERVAL_MS * 1000.0), a.rss - f.rss,
			a.hwm - f.hwm);
	}
	printf("  (~: the exec runs are the window over the interval, %.0f ms / %d ms)\n",
		window_ms, INTERVAL_MS);
}

static void stop_all(void)
{
	for (int k = 0; k < NKINDS; k++)
		for (int i = 0; i < nk; i++) {
			const char *id = hx_inst_id(kinds[k].name, i);
			if (hx_stop(&host, id).ok)
				hx_wait_state(&host, id, -1, NULL);
		}
}

int main(void)
{
	const char *tag = h_str("6%04d", (int)(getpid() % 10000));
	nk = (int)env_int("BENCH_PROBE_INSTANCES", 4, 1, MAXK);
	int runs_want = (int)env_int("BENCH_PROBE_RUNS", 200, 10, 100000);
	printf("bench_probe\n");
	if (!hx_init(NULL))
		return 1;
	if (!nx_start(&tcp_srv, false) || !nx_start(&web_srv, true) ||
		!hx_host_start(&host, "pb1")) {
		fprintf(stderr, "bench_probe: cannot start the listeners or the host\n");
		return 1;
	}
	int rc = 1;
	if (!start_all(tag))
		goto out;
	struct counted c = {tcp_srv.served, web_srv.served, runs_want * nk};
	long long t0 = h_now_ms();
	if (!read_shims(true))
		goto out;
	/* The window: until the listeners have counted the runs (deadline: 3 times the
	 * time they take). */
	if (!h_wait_until(runs_counted, &c, runs_want * INTERVAL_MS * 3)) {
		fprintf(stderr, "bench_probe: the probes did not run %d times in time\n",
			runs_want);
		goto out;
	}
	long long t1 = h_now_ms();
	int tcp_runs = tcp_srv.served - c.tcp0, http_runs = web_srv.served - c.http0;
	if (!read_shims(false))
		goto out;
	for (int k = 0; k < NKINDS; k++)
		for (int i = 0; i < nk; i++) {
			kinds[k].rss[i] = h_proc_status_kb(kinds[k].shim[i], "VmRSS");
			kinds[k].hwm[i] = h_proc_status_kb(kinds[k].shim[i], "VmHWM");
		}
	if (!all_healthy(NULL)) {
		fprintf(stderr, "bench_probe: an instance stopped passing its probe\n");
		goto out;
	}
	double window = (double)(t1 - t0);
	double runs[NKINDS] = {
		0, (double)tcp_runs / nk, (double)http_runs / nk, window / INTERVAL_MS};
	printf("%d instances per probe, interval %d ms, window %.1f s\n", nk, INTERVAL_MS,
		window / 1000.0);
	report(window, runs);
	rc = 0;
out:
	stop_all();
	hx_host_stop(&host);
	nx_stop(&tcp_srv);
	nx_stop(&web_srv);
	h_adopt_workloads(tag);
	return rc;
}
