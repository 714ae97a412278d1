/* cgroup v2 limits (cgroup.h): what is written where for each fence and host, read
 * back from plain strings; then the files over a fake cgroup tree in a temp dir, made
 * the way the kernel would show it (interface files present, nothing created by
 * outpost but directories). The kernel's enforcement is not tested here: this box's
 * build root has no delegated cgroup v2 tree. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/host/cgroup.h"
#include "t.h"

static const char *value_of(const op_cgroup_plan *p, const char *file)
{
	for (int i = 0; i < p->nw; i++)
		if (!strcmp(p->w[i].file, file))
			return p->w[i].value;
	return NULL;
}

/* Every combination of memory, processes, wasm and delegation. */
static void test_plan(void)
{
	for (int mem = 0; mem < 2; mem++)
		for (int procs = 0; procs < 2; procs++)
			for (int wasm = 0; wasm < 2; wasm++)
				for (int del = 0; del < 2; del++) {
					op_fence f = {.memory = mem ? 32LL << 20 : 0,
						.processes = procs ? 4 : 0,
						.open_files = 64,
						.cpu_time_ms = 1000};
					op_cgroup_plan p;
					op_cgroup_plan_make(&f, wasm, del, &p);
					bool m = del && mem && !wasm, pr = del && procs;
					T_EQ_INT(p.memory, m);
					T_EQ_INT(p.processes, pr);
					T_EQ_INT(p.use, m || pr);
					T_EQ_INT(p.nw, (m ? 3 : 0) + (pr ? 1 : 0));
					const char *max = value_of(&p, "memory.max");
					T_CHECK(m ? max && !strcmp(max, "33554432") : !max);
					const char *sw = value_of(&p, "memory.swap.max");
					T_CHECK(m ? sw && !strcmp(sw, "0") : !sw);
					const char *grp = value_of(&p, "memory.oom.group");
					T_CHECK(m ? grp && !strcmp(grp, "1") : !grp);
					const char *pids = value_of(&p, "pids.max");
					T_CHECK(pr ? pids && !strcmp(pids, "4") : !pids);
					for (int i = 0; i < p.nw; i++) {
						bool swap = !strcmp(p.w[i].file, "memory.swap.max");
						T_EQ_INT(p.w[i].optional, swap);
						T_EQ_STR(p.w[i].field,
							strncmp(p.w[i].file, "pids", 4)
								? "limits.memory"
								: "limits.processes");
					}
				}
}

static void test_oom_kills(void)
{
	T_EQ_INT(op_cgroup_oom_kills(NULL), 0);
	T_EQ_INT(op_cgroup_oom_kills(""), 0);
	T_EQ_INT(op_cgroup_oom_kills("low 0\nhigh 0\nmax 12\noom 2\noom_kill 1\n"
				     "oom_group_kill 1\n"),
		1);
	T_EQ_INT(op_cgroup_oom_kills("oom_kill 17"), 17);
	T_EQ_INT(op_cgroup_oom_kills("oom 3\n"), 0);
	T_EQ_INT(op_cgroup_oom_kills("oom_group_kill 4\n"), 0);
	T_EQ_INT(op_cgroup_oom_kills("oom_kill x\n"), 0);
	T_EQ_INT(op_cgroup_oom_kills("xoom_kill 5\n"), 0);
}

static void test_own(void)
{
	char own[64];
	T_EQ_INT(op_cgroup_own("0::/system.slice/outpost-host.service\n", own, sizeof own), 0);
	T_EQ_STR(own, "/system.slice/outpost-host.service");
	T_EQ_INT(op_cgroup_own("4:memory:/x\n1:name=systemd:/y\n0::/\n", own, sizeof own), 0);
	T_EQ_STR(own, "");
	T_EQ_INT(op_cgroup_own("0::/a/host", own, sizeof own), 0);
	T_EQ_STR(own, "/a/host");
	T_EQ_INT(op_cgroup_own("4:memory:/x\n", own, sizeof own), OP_ENOTFOUND);
	T_EQ_INT(op_cgroup_own(NULL, own, sizeof own), OP_ENOTFOUND);
	T_EQ_INT(op_cgroup_own("0::/a/very/long/path/indeed", own, 8), OP_ENOTFOUND);
}

static void test_base_of(void)
{
	char b[64];
	T_EQ_INT(op_cgroup_base_of("/u.service", "memory pids\n", b, sizeof b), false);
	T_EQ_STR(b, "/u.service");
	T_EQ_INT(op_cgroup_base_of("/u.service/host", "cpu memory pids\n", b, sizeof b), true);
	T_EQ_STR(b, "/u.service");
	T_EQ_INT(op_cgroup_base_of("/host", "memory pids", b, sizeof b), true);
	T_EQ_STR(b, "");
	/* A leaf named host whose parent does not offer both: the host's own is the base. */
	T_EQ_INT(op_cgroup_base_of("/u.service/host", "cpu memory\n", b, sizeof b), false);
	T_EQ_STR(b, "/u.service/host");
	T_EQ_INT(op_cgroup_base_of("/u.service/host", NULL, b, sizeof b), false);
	T_EQ_INT(op_cgroup_base_of("/u.service/hosts", "memory pids", b, sizeof b), false);
	T_EQ_STR(b, "/u.service/hosts");
	T_EQ_INT(op_cgroup_base_of("", "memory pids", b, sizeof b), false);
	T_EQ_STR(b, "");
	T_CHECK(op_cgroup_has_controller("cpu memory pids\n", "pids"));
	T_CHECK(!op_cgroup_has_controller("cpu nomemory pids\n", "memory"));
	T_CHECK(!op_cgroup_has_controller("memoryx\n", "memory"));
	T_CHECK(!op_cgroup_has_controller(NULL, "memory"));
}

static char root[] = "/tmp/outpost-cgroup-XXXXXX";

#define put(dir, name, text) T_REQUIRE(t_write(dir, name, text))

static const char *get(const char *dir, const char *name)
{
	static char buf[4][256];
	static int k;
	char path[1024], *out = buf[k++ % 4];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	out[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return "(absent)";
	size_t n = fread(out, 1, 255, f);
	out[n] = '\0';
	fclose(f);
	return out;
}

/* A cgroup directory as the kernel shows it: its interface files. */
static void fake_cgroup(const char *dir, const char *controllers, bool swap)
{
	T_REQUIRE(mkdir(dir, 0755) == 0 || errno == EEXIST);
	put(dir, "cgroup.controllers", controllers);
	put(dir, "cgroup.subtree_control", "");
	put(dir, "cgroup.procs", "");
	put(dir, "memory.max", "max\n");
	put(dir, "memory.oom.group", "0\n");
	put(dir, "memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
	put(dir, "pids.max", "max\n");
	if (swap)
		put(dir, "memory.swap.max", "max\n");
}

static void test_host_prepare(void)
{
	char unit[512], leaf[600], base[1024];
	op_err e = {0};
	snprintf(unit, sizeof unit, "%s/u.service", root);
	snprintf(leaf, sizeof leaf, "%s/host", unit);
	fake_cgroup(unit, "cpu memory\n", false);
	/* Not delegated: refused, nothing moved. */
	T_EQ_INT(op_cgroup_host_prepare(root, "0::/u.service\n", 4242, base, sizeof base, &e),
		OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "memory and pids controllers are not delegated"), "%s", e.msg);
	T_CHECK(access(leaf, F_OK) != 0);
	/* Delegated: the host moves into the leaf (made here, so the test makes its
	 * interface file as the kernel would have), then enables the controllers. */
	put(unit, "cgroup.controllers", "cpu memory pids\n");
	T_REQUIRE(mkdir(leaf, 0755) == 0);
	put(leaf, "cgroup.procs", "");
	e = (op_err){0};
	T_EQ_INT(op_cgroup_host_prepare(root, "0::/u.service\n", 4242, base, sizeof base, &e), 0);
	T_EQ_STR(base, unit);
	T_EQ_STR(get(leaf, "cgroup.procs"), "4242\n");
	T_EQ_STR(get(unit, "cgroup.subtree_control"), "+memory +pids\n");
	/* Started again from its leaf (a restart, or systemd's DelegateSubgroup=host): the
	 * same base, and it does not move. */
	put(leaf, "cgroup.procs", "");
	put(unit, "cgroup.subtree_control", "");
	T_EQ_INT(
		op_cgroup_host_prepare(root, "0::/u.service/host\n", 77, base, sizeof base, &e), 0);
	T_EQ_STR(base, unit);
	T_EQ_STR(get(leaf, "cgroup.procs"), "");
	T_EQ_STR(get(unit, "cgroup.subtree_control"), "+memory +pids\n");
	/* A leaf whose cgroup.procs cannot be written: the step is named. */
	char other[600];
	snprintf(other, sizeof other, "%s/v.service", root);
	fake_cgroup(other, "memory pids\n", false);
	T_EQ_INT(op_cgroup_host_prepare(root, "0::/v.service\n", 1, base, sizeof base, &e), OP_EIO);
	T_CHECK_MSG(strstr(e.msg, "moving the host there") && strstr(e.msg, "No such file"), "%s",
		e.msg);
	T_EQ_INT(op_cgroup_host_prepare(root, "1:memory:/x\n", 1, base, sizeof base, &e),
		OP_ENOTFOUND);
}

static void test_inst(void)
{
	char base[512], dir[700];
	snprintf(base, sizeof base, "%s/u.service", root);
	const char *id = "thermo.reader.0@gw-1-ab12";
	snprintf(dir, sizeof dir, "%s/%s", base, id);
	op_fence f = {.memory = 64LL << 20, .processes = 16};
	op_cgroup_plan p;
	op_cgroup_plan_make(&f, false, true, &p);
	op_cgroup_inst c;
	op_err e = {0};
	/* The directory is made; its files are the kernel's, so a fake one has none: the
	 * first write fails and names the limit and the file. */
	T_EQ_INT(op_cgroup_inst_make(base, id, &p, &c, &e), OP_EIO);
	T_CHECK_MSG(strstr(e.msg, "limits.memory: cgroup ") && strstr(e.msg, "/memory.max: No "),
		"%s", e.msg);
	T_EQ_INT(c.procs_fd, -1);
	struct stat st;
	T_CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
	/* As the kernel shows it (no swap accounting: memory.swap.max absent, skipped). */
	fake_cgroup(dir, "memory pids\n", false);
	put(dir, "memory.events", "oom 1\noom_kill 2\n"); /* from an earlier run */
	e = (op_err){0};
	T_EQ_INT(op_cgroup_inst_make(base, id, &p, &c, &e), 0);
	T_EQ_STR(c.dir, dir);
	T_EQ_STR(get(dir, "memory.max"), "67108864\n");
	T_EQ_STR(get(dir, "memory.oom.group"), "1\n");
	T_EQ_STR(get(dir, "pids.max"), "16\n");
	T_EQ_STR(get(dir, "memory.swap.max"), "(absent)");
	T_EQ_INT(c.oom_before, 2);
	T_CHECK(c.procs_fd >= 0 && (fcntl(c.procs_fd, F_GETFD) & FD_CLOEXEC));
	/* The child joins by its pid. */
	T_EQ_INT(op_cgroup_join(c.procs_fd), 0);
	char want[32];
	snprintf(want, sizeof want, "%d\n", (int)getpid());
	T_EQ_STR(get(dir, "cgroup.procs"), want);
	/* No OOM kill during the run, then one. */
	T_CHECK(!op_cgroup_inst_end(&c));
	T_EQ_INT(c.procs_fd, -1);
	put(dir, "memory.events", "oom 2\noom_kill 3\n");
	T_CHECK(op_cgroup_inst_end(&c));
	/* cgroup.kill where the kernel has it. */
	put(dir, "cgroup.kill", "");
	op_cgroup_inst_end(&c);
	T_EQ_STR(get(dir, "cgroup.kill"), "1\n");
	/* With swap accounting, swap is off for the instance. */
	put(dir, "memory.swap.max", "max\n");
	T_EQ_INT(op_cgroup_inst_make(base, id, &p, &c, &e), 0);
	T_EQ_STR(get(dir, "memory.swap.max"), "0\n");
	op_cgroup_inst_end(&c);
	/* A limit the kernel refuses fails with its field. */
	op_fence g = {.processes = 8};
	op_cgroup_plan_make(&g, false, true, &p);
	T_REQUIRE(chmod(dir, 0755) == 0);
	char pids[800];
	snprintf(pids, sizeof pids, "%s/pids.max", dir);
	unlink(pids);
	T_REQUIRE(mkdir(pids, 0755) == 0); /* EISDIR, whoever runs the test */
	T_EQ_INT(op_cgroup_inst_make(base, id, &p, &c, &e), OP_EIO);
	T_CHECK_MSG(strstr(e.msg, "limits.processes: cgroup ") && strstr(e.msg, "pids.max"), "%s",
		e.msg);
	rmdir(pids);
	/* Removal: a real cgroup dir goes with its interface files; a fake one cannot,
	 * so its files go first here. A gone one is no error. */
	const char *files[] = {"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs",
		"memory.max", "memory.oom.group", "memory.events", "memory.swap.max", "cgroup.kill",
		NULL};
	char path[900];
	snprintf(c.dir, sizeof c.dir, "%s", dir);
	T_EQ_INT(op_cgroup_inst_remove(&c, 0), -1);
	for (int i = 0; files[i]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		unlink(path);
	}
	T_EQ_INT(op_cgroup_inst_remove(&c, 100), 0);
	T_CHECK(access(dir, F_OK) != 0);
	T_EQ_INT(op_cgroup_inst_remove(&c, 100), 0);
}

int main(void)
{
	T_RUN(test_plan);
	T_RUN(test_oom_kills);
	T_RUN(test_own);
	T_RUN(test_base_of);
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	T_RUN(test_host_prepare);
	T_RUN(test_inst);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", root);
	T_CHECK(system(cmd) == 0);
	return t_done();
}
