/* Workloads fenced in, end to end (fence.h): the real host and shim start real
 * workloads as the tests play the agent (hostfx.h). Each case reads back from /proc what
 * the kernel holds for the workload (its uid, groups, no_new_privs, umask,
 * oom_score_adj and outpost's own), or runs a workload that goes past a limit and must
 * be stopped by it, beside the same workload without the limit, which must not: so a
 * limit that did nothing fails the test. The hosts keep heartbeating throughout. Tests
 * run as root in the build root: an unprivileged workload is `nobody` (65534). */
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hostfx.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/host/cgroup.h"
#include "outpost/agent/host/fence.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/wire/proto.h"
#include "t.h"

#define WAIT_MS 20000

static const char *bin;

/* The value of a "Key:" line of /proc/<pid>/status, tabs turned into spaces. */
static const char *status_of(int pid, const char *key)
{
	char *buf = h_read(h_str("/proc/%d/status", pid));
	if (!buf)
		return "";
	const char *p = strstr(buf, h_str("\n%s:", key));
	const char *out = "";
	if (p) {
		p += strlen(key) + 2;
		p += strspn(p, " \t");
		size_t n = strcspn(p, "\n");
		char *v = (char *)h_str("%.*s", (int)n, p);
		for (char *q = v; *q; q++)
			if (*q == '\t')
				*q = ' ';
		out = v;
	}
	free(buf);
	return out;
}

static int oom_adj_of(int pid)
{
	char *buf = h_read(h_str("/proc/%d/oom_score_adj", pid));
	int v = buf ? atoi(buf) : -9999;
	free(buf);
	return v;
}

/* Whether this process holds capability bit cap (CapEff). */
static bool has_cap(int cap)
{
	const char *eff = status_of(getpid(), "CapEff");
	unsigned long long v = strtoull(eff, NULL, 16);
	return (v >> cap) & 1;
}

struct hb_want {
	const char *host;
	uint64_t seq;
};

static bool has_hb_after(void *arg)
{
	const struct hb_want *w = arg;
	op_heartbeat hb;
	bool ok = hx_hb_get(w->host, &hb) && hb.seq >= w->seq;
	op_heartbeat_clear(&hb);
	return ok;
}

/* Root's workload: no supplementary groups, no_new_privs, the umask asked for, and the
 * oom_score_adj that makes it the kernel's first choice while the host and its shim are
 * its last but one. The heartbeat says what enforces limits. */
static void test_root_workload(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh1", NULL));
	const char *id = hx_inst_id("plain", 0);
	T_REQUIRE(hx_start(&h, "plain", 0,
		"        command: /bin/sleep\n        args: [\"600\"]\n        umask: \"0027\"\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
	T_EQ_STR(status_of(in.pid, "Uid"), "0 0 0 0");
	T_EQ_STR(status_of(in.pid, "Groups"), "");
	T_EQ_STR(status_of(in.pid, "NoNewPrivs"), "1");
	T_EQ_STR(status_of(in.pid, "Umask"), "0027");
	T_EQ_INT(oom_adj_of(in.pid), OP_OOM_WORKLOAD);
	/* Lowering needs CAP_SYS_RESOURCE, which some containers (this build root's
	 * among them) drop: then the host keeps what it had and says so. */
	int outpost_adj = OP_OOM_OUTPOST;
	if (!has_cap(24)) {
		outpost_adj = oom_adj_of(getpid());
		char *log = h_read(h.log);
		T_CHECK(log && strstr(log, "cannot lower the host's oom_score_adj"));
		free(log);
		printf("  no CAP_SYS_RESOURCE here: outpost's own oom_score_adj stays %d\n",
			outpost_adj);
	}
	T_EQ_INT(oom_adj_of(h.pid), outpost_adj);
	op_shim_state st;
	T_REQUIRE(op_shim_state_load(h.state, id, &st, NULL) == 0);
	T_EQ_INT(oom_adj_of(st.shim_pid), outpost_adj);
	/* The default umask when none is given: a second instance. */
	const char *id2 = hx_inst_id("plain2", 0);
	T_REQUIRE(
		hx_start(&h, "plain2", 0, "        command: /bin/sleep\n        args: [\"601\"]\n")
			.ok);
	T_REQUIRE(hx_wait_state(&h, id2, OP_INST_RUNNING, &in));
	T_EQ_STR(status_of(in.pid, "Umask"), "0022");

	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	T_EQ_STR(hb.limits, "rlimit");
	char *cg = h_read("/proc/self/cgroup");
	T_EQ_STR(hb.cgroup, op_fence_cgroup_detect("/sys/fs/cgroup", cg));
	printf("  this box: limits by rlimit, cgroup %s\n", hb.cgroup);
	free(cg);
	op_heartbeat_clear(&hb);
	hx_stop_and_check(&h, id);
	hx_stop_and_check(&h, id2);
	hx_host_stop(&h);
}

/* user: nobody cannot write the host's state dir (the attempt is in its output), runs
 * with nobody's ids and no other group. A --default-user host runs a component that
 * names no user as that user. */
static void test_unprivileged(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh2", "--default-user nobody"));
	const char *probe = h_str("%s/written-by-workload", h.state);
	const char *id = hx_inst_id("unpriv", 0);
	T_REQUIRE(hx_start(&h, "unpriv", 0,
		h_str("        command: /bin/sh\n"
		      "        args: [\"-c\", \"touch %s; echo touch=$?; exec sleep 600\"]\n",
			probe))
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
	T_EQ_STR(status_of(in.pid, "Uid"), "65534 65534 65534 65534");
	T_EQ_STR(status_of(in.pid, "Gid"), "65534 65534 65534 65534");
	T_EQ_STR(status_of(in.pid, "Groups"), "");
	T_CHECK(access(probe, F_OK) != 0);
	T_CHECK(hx_wait_output(&h, id, "touch="));
	const char *out = hx_output(&h, id);
	T_CHECK_MSG(strstr(out, "Permission denied") && strstr(out, "touch=1"), "%s", out);

	/* The component's own user wins over --default-user. */
	const char *id2 = hx_inst_id("asroot", 0);
	T_REQUIRE(hx_start(&h, "asroot", 0,
		"        command: /bin/sleep\n        args: [\"602\"]\n        user: root\n")
			.ok);
	T_REQUIRE(hx_wait_state(&h, id2, OP_INST_RUNNING, &in));
	T_EQ_STR(status_of(in.pid, "Uid"), "0 0 0 0");
	hx_stop_and_check(&h, id);
	hx_stop_and_check(&h, id2);
	hx_host_stop(&h);

	/* A --default-user the box does not know is a usage error. */
	char *o = NULL;
	T_EQ_INT(h_run(&o, "%s host --site s1 --id x --default-user ghost-user 2>&1", bin), 2);
	T_CHECK_MSG(o && strstr(o, "--default-user: no user ghost-user in /etc/passwd"), "%s",
		o ? o : "");
	free(o);
	T_EQ_INT(h_run(&o, "%s host --help", bin), 0);
	T_CHECK(o && strstr(o, "--default-user USER"));
	free(o);
}

/* A workload that allocates past limits.memory fails (restarted with backoff until the
 * crash loop makes it failed); the same one without the limit exits 0. The host keeps
 * heartbeating. */
static void test_memory_limit(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh3", NULL));
	const char *dd = "        command: /bin/dd\n"
			 "        args: [\"if=/dev/zero\", \"of=/dev/null\", \"bs=96M\", "
			 "\"count=1\"]\n";
	const char *capped = hx_inst_id("capped", 0), *free_ = hx_inst_id("uncapped", 0);
	T_REQUIRE(hx_start(&h, "capped", 0,
		h_str("%s        restart: on-failure\n        limits: {memory: 32Mi}\n", dd))
			.ok);
	T_REQUIRE(hx_start(&h, "uncapped", 0, h_str("%s        restart: never\n", dd)).ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, free_, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_REQUIRE(hx_wait_state(&h, capped, OP_INST_FAILED, &in));
	T_CHECK(in.exit_code != 0);
	T_EQ_INT(in.restarts, 4);
	T_CHECK_MSG(
		strstr(in.error, "crash loop") && strstr(in.error, "(under limits: memory 32Mi)"),
		"%s", in.error);
	const char *out = hx_output(&h, capped);
	T_CHECK_MSG(strstr(out, "memory exhausted") || strstr(out, "Cannot allocate"), "%s", out);
	/* The host is alive and well. */
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	struct hb_want want = {h.id, hb.seq + 3};
	op_heartbeat_clear(&hb);
	T_CHECK(h_wait_until(has_hb_after, &want, WAIT_MS));
	T_CHECK(kill(h.pid, 0) == 0);
	hx_stop_and_check(&h, capped);
	hx_stop_and_check(&h, free_);
	hx_host_stop(&h);
}

/* A workload that forks past limits.processes fails; with room it does not. Counted
 * per user by the kernel, so it runs as nobody. */
static void test_process_limit(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh4", NULL));
	const char *forks =
		"        command: /bin/sh\n"
		"        args: [\"-c\", \"for i in 1 2 3 4 5 6 7 8 9 10 11 12; do sleep 1 & "
		"done; wait; echo forked all\"]\n"
		"        user: nobody\n";
	const char *tight = hx_inst_id("tight", 0), *roomy = hx_inst_id("roomy", 0);
	T_REQUIRE(hx_start(&h, "tight", 0,
		h_str("%s        restart: never\n        limits: {processes: 4}\n", forks))
			.ok);
	T_REQUIRE(hx_start(&h, "roomy", 0,
		h_str("%s        restart: never\n        limits: {processes: 1000}\n", forks))
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, roomy, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_EQ_STR(in.error, "");
	T_CHECK(strstr(hx_output(&h, roomy), "forked all"));
	T_REQUIRE(hx_wait_state(&h, tight, OP_INST_EXITED, &in));
	T_CHECK(in.exit_code != 0);
	/* Ended for good under rlimits: the kernel does not say a limit did it, so the
	 * status names the limits it ran under beside the code. */
	T_EQ_STR(in.error, h_str("exited with code %d (under limits: processes 4)", in.exit_code));
	const char *out = hx_output(&h, tight);
	T_CHECK_MSG(strstr(out, "fork") && !strstr(out, "forked all"), "%s", out);
	T_CHECK(kill(h.pid, 0) == 0);
	hx_stop_and_check(&h, tight);
	hx_stop_and_check(&h, roomy);
	hx_host_stop(&h);
}

/* Fences that cannot be applied are start failures that say why, never ignored: an
 * unknown user or group, a process limit for root, a bare uid without a group, and an
 * open files limit the kernel refuses (above the host's hard limit, without
 * CAP_SYS_RESOURCE); one it takes is in /proc/<pid>/limits. */
static void test_refusals(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh5", NULL));
	static const struct {
		const char *app, *props, *want;
	} rows[] = {
		{"ghost", "        user: ghost\n", "fence: user: no user ghost in /etc/passwd"},
		{"nogroup", "        group: no-such-group\n",
			"fence: group: no group no-such-group in /etc/group"},
		{"rootprocs", "        limits: {processes: 10}\n",
			"fence: limits.processes: the kernel does not hold root to RLIMIT_NPROC"},
		{"bareid", "        user: \"4242\"\n",
			"user id 4242 is not in /etc/passwd: give its group"},
		{"files", "        limits: {open_files: 64}\n        user: nobody\n", NULL},
		/* Above the hard limit the host has, only CAP_SYS_RESOURCE may raise it. */
		{"manyfiles", "        limits: {open_files: 1048576}\n",
			"fence: limits.open_files: setrlimit RLIMIT_NOFILE (user - (0), group - "
			"(0)): "
			"Operation not permitted"},
	};
	struct rlimit nofile;
	T_REQUIRE(getrlimit(RLIMIT_NOFILE, &nofile) == 0);
	bool can_raise = has_cap(24) || nofile.rlim_max >= 1048576;
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const char *props = h_str(
			"        command: /bin/sleep\n        args: [\"600\"]\n%s", rows[i].props);
		T_REQUIRE(hx_start(&h, rows[i].app, 0, props).ok);
	}
	op_hb_inst in;
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const char *id = hx_inst_id(rows[i].app, 0);
		if (!strcmp(rows[i].app, "manyfiles") && can_raise) {
			printf("  open_files past the hard limit: this box may raise it\n");
		} else if (!rows[i].want) {
			T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
			char *lim = h_read(h_str("/proc/%d/limits", in.pid));
			T_CHECK_MSG(lim &&
					strstr(lim,
						"Max open files            64                   "
						"64"),
				"%s", lim ? lim : "");
			free(lim);
		} else {
			T_REQUIRE(hx_wait_state(&h, id, OP_INST_FAILED, &in));
			T_CHECK_MSG(
				strstr(in.error, rows[i].want), "%s: %s", rows[i].app, in.error);
			T_EQ_INT(in.pid, 0);
		}
		hx_stop_and_check(&h, id);
	}
	hx_host_stop(&h);
}

/* limits.cpu_time: a busy loop is stopped by SIGXCPU once it used its second of CPU. */
static void test_cpu_time(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh7", NULL));
	const char *id = hx_inst_id("spin", 0);
	T_REQUIRE(hx_start(&h, "spin", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"while :; do :; done\"]\n"
		"        restart: never\n        limits: {cpu_time: 1s}\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 128 + SIGXCPU);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

/* A cgroup directory as the kernel would show it, in the fake tree. */
static void fake_cgroup(const char *dir, const char *controllers)
{
	T_REQUIRE(h_mkdirs(dir) == 0);
	const char *files[][2] = {{"cgroup.controllers", controllers},
		{"cgroup.subtree_control", ""}, {"cgroup.procs", ""}, {"memory.max", "max\n"},
		{"memory.swap.max", "max\n"}, {"memory.oom.group", "0\n"},
		{"memory.events", "oom 0\noom_kill 0\n"}, {"pids.max", "max\n"}};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++)
		T_REQUIRE(h_write(h_str("%s/%s", dir, files[i][0]), "%s", files[i][1]) == 0);
}

static const char *file_of(const char *dir, const char *name)
{
	char *t = h_read(h_str("%s/%s", dir, name));
	return t ? h_keep(t) : "(absent)";
}

/* cgroup v2 limits, over a fake tree (--cgroup-root; this box has no delegated v2 tree,
 * so what the kernel would enforce is not exercised: what outpost writes where is). The
 * host moves itself into <own>/host and enables the controllers; an instance with
 * limits gets <own>/<id> with memory.max, memory.swap.max, memory.oom.group and
 * pids.max written, its workload's pid in cgroup.procs, and no RLIMIT_DATA or
 * RLIMIT_NPROC (root may have a process limit now); the kernel's OOM kill (played by
 * the test: memory.events, then SIGKILL as memory.oom.group would) reads "exceeded
 * memory limit"; an instance cgroup that cannot be written fails the start, naming the
 * limit; an instance without those limits gets no cgroup. */
static void test_cgroup_limits(void)
{
	const char *root = h_path("cgroup");
	char *self = h_read("/proc/self/cgroup"), own[1024];
	T_REQUIRE(self && op_cgroup_own(self, own, sizeof own) == 0);
	free(self);
	const char *base = h_str("%s%s", root, own), *leaf = h_str("%s/host", base);
	T_REQUIRE(h_mkdirs(root) == 0);
	T_REQUIRE(h_write(h_str("%s/cgroup.controllers", root), "cpu memory pids\n") == 0);
	fake_cgroup(base, "cpu memory pids\n");
	fake_cgroup(leaf, "cpu memory pids\n");
	const char *capped = hx_inst_id("cgcap", 0), *bad = hx_inst_id("cgbad", 0),
		   *plain = hx_inst_id("cgplain", 0), *dir = h_str("%s/%s", base, capped);
	fake_cgroup(dir, "memory pids\n");

	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh8", h_str("--cgroup-root %s", root)));
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	T_EQ_STR(hb.limits, "cgroup");
	T_EQ_STR(hb.cgroup, "v2");
	op_heartbeat_clear(&hb);
	T_EQ_STR(file_of(leaf, "cgroup.procs"), h_str("%d\n", (int)h.pid));
	T_EQ_STR(file_of(base, "cgroup.subtree_control"), "+memory +pids\n");
	char *log = h_read(h.log);
	T_CHECK_MSG(log && strstr(log, "cgroup limits in force") && strstr(log, "limits=cgroup"),
		"%s", log ? log : "");
	free(log);

	T_REQUIRE(hx_start(&h, "cgcap", 0,
		"        command: /bin/sleep\n        args: [\"600\"]\n        restart: never\n"
		"        limits: {memory: 32Mi, processes: 4, open_files: 64}\n")
			.ok);
	T_REQUIRE(hx_start(&h, "cgbad", 0,
		"        command: /bin/sleep\n        args: [\"600\"]\n"
		"        limits: {memory: 16Mi}\n")
			.ok);
	T_REQUIRE(hx_start(&h, "cgplain", 0,
		"        command: /bin/sleep\n        args: [\"600\"]\n"
		"        limits: {open_files: 64}\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, capped, OP_INST_RUNNING, &in));
	T_EQ_STR(file_of(dir, "memory.max"), "33554432\n");
	T_EQ_STR(file_of(dir, "memory.swap.max"), "0\n");
	T_EQ_STR(file_of(dir, "memory.oom.group"), "1\n");
	T_EQ_STR(file_of(dir, "pids.max"), "4\n");
	T_EQ_STR(file_of(dir, "cgroup.procs"), h_str("%d\n", in.pid));
	const char *lim = file_of(h_str("/proc/%d", in.pid), "limits");
	/* The cgroup holds memory and processes: the rlimits are the host's own. */
	T_CHECK_MSG(!strstr(lim, "33554432") && !strstr(lim, "Max processes             4 ") &&
			strstr(lim, "Max open files            64"),
		"%s", lim);
	T_CHECK(h_write(h_str("%s/memory.events", dir), "oom 1\noom_kill 1\n") == 0);
	T_REQUIRE(kill(in.pid, SIGKILL) == 0);
	T_REQUIRE(hx_wait_state(&h, capped, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 137);
	T_EQ_STR(in.error, "exited with code 137 (exceeded memory limit 32Mi)");

	T_REQUIRE(hx_wait_state(&h, bad, OP_INST_FAILED, &in));
	T_CHECK_MSG(
		strstr(in.error,
			h_str("limits.memory: cgroup %s/%s/memory.max: No such file", base, bad)),
		"%s", in.error);
	T_REQUIRE(hx_wait_state(&h, plain, OP_INST_RUNNING, &in));
	T_CHECK(access(h_str("%s/%s", base, plain), F_OK) != 0);
	hx_stop_and_check(&h, capped);
	hx_stop_and_check(&h, bad);
	hx_stop_and_check(&h, plain);
	hx_host_stop(&h);
}

struct health_want {
	hx_host *h;
	const char *id;
	enum op_health health;
};

static bool has_health(void *arg)
{
	struct health_want *w = arg;
	op_heartbeat hb;
	if (!hx_hb_get(w->h->id, &hb))
		return false;
	const op_hb_inst *in = hx_hb_find(&hb, w->id);
	/* Unhealthy: restarted for it (the shim restarts an unhealthy instance at once). */
	bool ok = in &&
		(w->health == OP_HEALTH_UNHEALTHY ? in->restarts > 0
						  : in->state == OP_INST_RUNNING &&
					in->health == w->health && in->restarts == 0);
	op_heartbeat_clear(&hb);
	return ok;
}

/* An exec probe runs fenced in as its workload: as nobody beside a workload of nobody
 * (healthy: the probe checks its own uid and umask), not as the host's root (the same
 * probe beside a root workload fails, and the instance is restarted for it). */
static void test_probe_fenced(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "fh6", NULL));
	const char *probe = "        health:\n"
			    "          exec: {command: /bin/sh, args: [\"-c\", \"test $(id -u) = "
			    "65534 && test $(umask) = 0077\"]}\n"
			    "          interval: 100ms\n";
	const char *ok = hx_inst_id("probe-nobody", 0), *bad = hx_inst_id("probe-root", 0);
	T_REQUIRE(hx_start(&h, "probe-nobody", 0,
		h_str("        command: /bin/sleep\n        args: [\"600\"]\n"
		      "        user: nobody\n        umask: \"0077\"\n%s",
			probe))
			.ok);
	T_REQUIRE(hx_start(&h, "probe-root", 0,
		h_str("        command: /bin/sleep\n        args: [\"601\"]\n%s", probe))
			.ok);
	struct health_want w = {&h, ok, OP_HEALTH_HEALTHY}, u = {&h, bad, OP_HEALTH_UNHEALTHY};
	T_CHECK(h_wait_until(has_health, &w, WAIT_MS));
	T_CHECK(h_wait_until(has_health, &u, WAIT_MS));
	hx_stop_and_check(&h, ok);
	hx_stop_and_check(&h, bad);
	hx_host_stop(&h);
}

int main(void)
{
	if (!hx_init(&bin))
		return 1;
	T_RUN(test_root_workload);
	T_RUN(test_unprivileged);
	T_RUN(test_memory_limit);
	T_RUN(test_process_limit);
	T_RUN(test_refusals);
	T_RUN(test_probe_fenced);
	T_RUN(test_cpu_time);
	T_RUN(test_cgroup_limits);
	for (int i = 0; i < hx_nstates; i++)
		hx_adopt_all(&(hx_host){.state = hx_states[i]});
	return t_done();
}
