/* The fence's plan (fence.h): users and groups found in passwd and group texts by name
 * and by id, the defaults (the component's user, else --default-user, else the shim's
 * own), and each refusal that must be a start failure with a message. The cgroup
 * detection over a fake /sys/fs/cgroup in a temp dir. Applying a plan is tested end to
 * end (tests/e2e/test_fence.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/host/fence.h"
#include "t.h"

static const char *passwd = "root:x:0:0:root:/root:/bin/bash\n"
			    "# a comment:x:5:5\n"
			    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
			    "broken:x:abc:1::/:\n"
			    "thermo:x:998:997::/var/lib/thermo:/usr/sbin/nologin\n"
			    "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin";
static const char *group = "root:x:0:\ndaemon:x:1:\nthermo:x:997:\nio:x:990:thermo\n"
			   "nogroup:x:65534:\n";

static void test_find(void)
{
	uid_t u = 1;
	gid_t g = 1;
	T_EQ_INT(op_fence_find_user(passwd, "thermo", &u, &g), 0);
	T_EQ_INT(u, 998);
	T_EQ_INT(g, 997);
	T_EQ_INT(op_fence_find_user(passwd, "65534", &u, &g), 0); /* the last line, no \n */
	T_EQ_INT(u, 65534);
	T_EQ_INT(g, 65534);
	T_EQ_INT(op_fence_find_user(passwd, "root", &u, &g), 0);
	T_EQ_INT(u, 0);
	T_EQ_INT(op_fence_find_user(passwd, "broken", &u, &g), OP_ENOTFOUND);
	T_EQ_INT(op_fence_find_user(passwd, "# a comment", &u, &g), OP_ENOTFOUND);
	T_EQ_INT(op_fence_find_user(passwd, "thermo2", &u, &g), OP_ENOTFOUND);
	T_EQ_INT(op_fence_find_user(passwd, "thermo:x", &u, &g), OP_ENOTFOUND);
	T_EQ_INT(op_fence_find_user(passwd, "99", &u, &g), OP_ENOTFOUND);
	T_EQ_INT(op_fence_find_user("", "root", &u, &g), OP_ENOTFOUND);
	T_EQ_INT(op_fence_find_group(group, "io", &g), 0);
	T_EQ_INT(g, 990);
	T_EQ_INT(op_fence_find_group(group, "65534", &g), 0);
	T_EQ_INT(g, 65534);
	T_EQ_INT(op_fence_find_group(group, "wheel", &g), OP_ENOTFOUND);
}

static int plan(const op_fence *f, const char *def, uid_t su, gid_t sg, op_fence_plan *p, op_err *e)
{
	memset(e, 0, sizeof *e);
	return op_fence_plan_make(f, def, passwd, group, su, sg, 0, p, e);
}

static void test_plan(void)
{
	op_fence_plan p;
	op_err e;
	/* Nothing named: the shim's own user; root still resets its groups. */
	op_fence f = {0};
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), 0);
	T_CHECK(p.setids);
	T_EQ_INT(p.uid, 0);
	T_EQ_INT(p.gid, 0);
	T_EQ_INT(p.umask, 022);
	T_EQ_INT(p.oom_adj, OP_OOM_WORKLOAD);
	T_CHECK(OP_OOM_WORKLOAD > 0 && OP_OOM_OUTPOST < 0);
	T_EQ_INT(plan(&f, NULL, 1000, 1000, &p, &e), 0);
	T_CHECK(!p.setids);
	T_EQ_INT(p.uid, 1000);
	/* --default-user, and the component's own user over it. */
	T_EQ_INT(plan(&f, "nobody", 0, 0, &p, &e), 0);
	T_EQ_INT(p.uid, 65534);
	T_EQ_INT(p.gid, 65534);
	f.user = "thermo";
	T_EQ_INT(plan(&f, "nobody", 0, 0, &p, &e), 0);
	T_EQ_INT(p.uid, 998);
	T_EQ_INT(p.gid, 997);
	f.group = "io";
	f.has_umask = true;
	f.umask = 077;
	f.memory = 64 << 20;
	f.open_files = 100;
	f.processes = 10;
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), 0);
	T_EQ_INT(p.gid, 990);
	T_EQ_INT(p.umask, 077);
	T_EQ_INT(p.memory, 64 << 20);
	T_EQ_INT(p.open_files, 100);
	T_EQ_INT(p.processes, 10);
	T_CHECK_MSG(strstr(p.who, "user thermo (998), group io (990)"), "%s", p.who);
	/* Ids not in the files: a group is needed for a bare uid. */
	f = (op_fence){.user = "4000"};
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "user: user id 4000 is not in /etc/passwd: give its group"), "%s",
		e.msg);
	f.group = "4001";
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), 0);
	T_EQ_INT(p.uid, 4000);
	T_EQ_INT(p.gid, 4001);
	/* Unknown names. */
	f = (op_fence){.user = "ghost"};
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "user: no user ghost in /etc/passwd"), "%s", e.msg);
	f = (op_fence){0};
	T_EQ_INT(plan(&f, "ghost", 0, 0, &p, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "--default-user: no user ghost"), "%s", e.msg);
	f = (op_fence){.group = "wheel"};
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "group: no group wheel in /etc/group"), "%s", e.msg);
	/* Not root: itself only. */
	f = (op_fence){.user = "thermo"};
	T_EQ_INT(plan(&f, NULL, 998, 997, &p, &e), 0);
	T_CHECK(!p.setids);
	T_EQ_INT(plan(&f, NULL, 1000, 1000, &p, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "cannot run as user thermo (998)") &&
			strstr(e.msg, "outpost runs as uid 1000, not root"),
		"%s", e.msg);
	f.group = "io";
	T_EQ_INT(plan(&f, NULL, 998, 997, &p, &e), OP_EINVAL);
	/* A process limit means nothing to root. */
	f = (op_fence){.processes = 5};
	T_EQ_INT(plan(&f, NULL, 0, 0, &p, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "limits.processes: the kernel does not hold root"), "%s", e.msg);
	T_EQ_INT(plan(&f, "nobody", 0, 0, &p, &e), 0);
	T_CHECK(strcmp(op_fence_step_name(3), "limits.open_files: setrlimit RLIMIT_NOFILE") == 0);
}

#define put(dir, name, text) T_REQUIRE(t_write(dir, name, text))

static void test_cgroup_detect(void)
{
	char root[] = "/tmp/outpost-fence-XXXXXX";
	T_REQUIRE(mkdtemp(root));
	char sub[600];
	snprintf(sub, sizeof sub, "%s/system.slice", root);
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/system.slice\n"), "none");
	T_EQ_STR(op_fence_cgroup_detect(root, "4:memory:/x\n1:name=systemd:/x\n"), "v1");
	put(root, "cgroup.controllers", "cpuset cpu io memory pids\n");
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/system.slice\n"), "v2-undelegated");
	T_EQ_STR(op_fence_cgroup_detect(root, NULL), "v2-undelegated");
	T_REQUIRE(mkdir(sub, 0755) == 0);
	/* Its own cgroup's available controllers, and a subtree_control it may write. */
	put(sub, "cgroup.controllers", "cpu memory\n");
	put(sub, "cgroup.subtree_control", "");
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/system.slice\n"), "v2-undelegated");
	put(sub, "cgroup.controllers", "cpu memory pids\n");
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/system.slice\n"), "v2");
	T_EQ_STR(op_fence_cgroup_detect(root, "1:name=x:/\n0::/system.slice\n"), "v2");
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/other.slice\n"), "v2-undelegated");
	put(sub, "cgroup.controllers", "cpu nomemory pids\n");
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/system.slice\n"), "v2-undelegated");
	char path[700];
	snprintf(path, sizeof path, "%s/cgroup.subtree_control", sub);
	unlink(path);
	snprintf(path, sizeof path, "%s/cgroup.controllers", sub);
	put(sub, "cgroup.controllers", "cpu memory pids\n");
	T_EQ_STR(op_fence_cgroup_detect(root, "0::/system.slice\n"), "v2-undelegated");
	unlink(path);
	rmdir(sub);
	snprintf(path, sizeof path, "%s/cgroup.controllers", root);
	unlink(path);
	rmdir(root);
}

static void test_exit_hint(void)
{
	char h[160];
	op_fence f = {0};
	op_fence_exit_hint(&f, 1, false, h, sizeof h);
	T_EQ_STR(h, "");
	op_fence_exit_hint(&f, 137, false, h, sizeof h);
	T_EQ_STR(h, "");
	f.memory = 32LL << 20;
	op_fence_exit_hint(&f, 1, false, h, sizeof h);
	T_EQ_STR(h, "under limits: memory 32Mi");
	f.memory = 1000000;
	f.processes = 4;
	f.open_files = 64;
	op_fence_exit_hint(&f, 2, false, h, sizeof h);
	T_EQ_STR(h, "under limits: memory 1000000, open_files 64, processes 4");
	f.memory = 3LL << 30;
	f.cpu_time_ms = 30000;
	op_fence_exit_hint(&f, 2, false, h, sizeof h);
	T_EQ_STR(h, "under limits: memory 3Gi, open_files 64, processes 4, cpu_time 30s");
	op_fence_exit_hint(&f, 128 + 24, false, h, sizeof h);
	T_EQ_STR(h, "limits.cpu_time 30s reached (SIGXCPU)");
	op_fence_exit_hint(&f, 137, false, h, sizeof h);
	T_EQ_STR(h, "limits.cpu_time 30s reached (SIGKILL, or the OOM killer)");
	char small[12];
	op_fence_exit_hint(&f, 2, false, small, sizeof small);
	T_EQ_STR(small, "under limit");
}

/* The cgroup saw the OOM killer: the memory limit is named as passed, whatever else
 * the fence holds; without limits.memory (a processes-only cgroup) the usual hint. */
static void test_exit_hint_oom(void)
{
	char h[160];
	op_fence f = {.memory = 64LL << 20, .processes = 8, .cpu_time_ms = 30000};
	op_fence_exit_hint(&f, 137, true, h, sizeof h);
	T_EQ_STR(h, "exceeded memory limit 64Mi");
	op_fence_exit_hint(&f, 1, true, h, sizeof h);
	T_EQ_STR(h, "exceeded memory limit 64Mi");
	op_fence_exit_hint(&f, 137, false, h, sizeof h);
	T_EQ_STR(h, "limits.cpu_time 30s reached (SIGKILL, or the OOM killer)");
	f.memory = 0;
	op_fence_exit_hint(&f, 1, true, h, sizeof h);
	T_EQ_STR(h, "under limits: processes 8, cpu_time 30s");
}

/* Limits an instance cgroup holds are left out of the rlimits, and a cgroup's pids.max
 * holds root, which RLIMIT_NPROC does not. */
static void test_plan_cgroup(void)
{
	op_fence_plan p;
	op_err e = {0};
	op_fence f = {.memory = 32LL << 20, .processes = 4, .open_files = 64};
	T_EQ_INT(op_fence_plan_make(&f, NULL, passwd, group, 0, 0, 0, &p, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "RLIMIT_NPROC"));
	const unsigned both = OP_FENCE_CG_MEMORY | OP_FENCE_CG_PROCESSES;
	T_EQ_INT(op_fence_plan_make(&f, NULL, passwd, group, 0, 0, both, &p, &e), 0);
	T_EQ_INT(p.memory, 0);
	T_EQ_INT(p.processes, 0);
	T_EQ_INT(p.open_files, 64);
	T_EQ_INT(p.cgroup_fd, -1);
	T_EQ_INT(op_fence_plan_make(&f, "thermo", passwd, group, 0, 0, OP_FENCE_CG_MEMORY, &p, &e),
		0);
	T_EQ_INT(p.memory, 0);
	T_EQ_INT(p.processes, 4);
	T_EQ_INT(op_fence_plan_make(
			 &f, "thermo", passwd, group, 0, 0, OP_FENCE_CG_PROCESSES, &p, &e),
		0);
	T_EQ_INT(p.memory, 32LL << 20);
	T_EQ_INT(p.processes, 0);
	/* Only the processes limit lets root through. */
	T_EQ_INT(op_fence_plan_make(&f, NULL, passwd, group, 0, 0, OP_FENCE_CG_MEMORY, &p, &e),
		OP_EINVAL);
}

int main(void)
{
	T_RUN(test_find);
	T_RUN(test_plan);
	T_RUN(test_cgroup_detect);
	T_RUN(test_exit_hint);
	T_RUN(test_exit_hint_oom);
	T_RUN(test_plan_cgroup);
	return t_done();
}
