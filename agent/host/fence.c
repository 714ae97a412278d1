/* Fencing a workload in (fence.h). The plan is made in the shim, where a refusal can
 * still be a start failure with a message (an unknown user, a limit this box cannot
 * enforce); the child only carries it out, in the one order that works: oom_score_adj
 * and rlimits while still privileged, then groups, gid and uid, then no_new_privileges
 * (so no setuid binary gives anything back) and the umask. Users are read from the
 * files, not through NSS: the binary is static, and a box's users are in /etc/passwd. */
#include "outpost/agent/host/fence.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/host/cgroup.h"

enum step {
	ST_OOM = 1,
	ST_DATA,
	ST_NOFILE,
	ST_NPROC,
	ST_GROUPS,
	ST_GID,
	ST_UID,
	ST_NNP,
	ST_CPU,
	ST_CGROUP
};

const char *op_fence_step_name(int step)
{
	switch (step) {
	case ST_OOM: return "oom_score_adj";
	case ST_DATA: return "limits.memory: setrlimit RLIMIT_DATA";
	case ST_NOFILE: return "limits.open_files: setrlimit RLIMIT_NOFILE";
	case ST_NPROC: return "limits.processes: setrlimit RLIMIT_NPROC";
	case ST_GROUPS: return "setgroups";
	case ST_GID: return "setgid";
	case ST_UID: return "setuid";
	case ST_NNP: return "no_new_privileges";
	case ST_CPU: return "limits.cpu_time: setrlimit RLIMIT_CPU";
	case ST_CGROUP: return "limits: joining the instance's cgroup (cgroup.procs)";
	default: return "fence";
	}
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Field i (0-based) of a colon-separated line [line, end), into out; false if absent
 * or too long. */
static bool field(const char *line, const char *end, int i, char *out, size_t n)
{
	const char *p = line;
	for (; i > 0 && p < end; p++)
		if (*p == ':')
			i--;
	if (i > 0)
		return false;
	const char *q = memchr(p, ':', (size_t)(end - p));
	size_t len = (size_t)((q ? q : end) - p);
	if (len >= n)
		return false;
	memcpy(out, p, len);
	out[len] = '\0';
	return true;
}

static bool parse_id(const char *s, unsigned long *v)
{
	if (!all_digits(s) || strlen(s) > 10)
		return false;
	*v = strtoul(s, NULL, 10);
	return *v < 4294967295UL;
}

/* Finds the line whose name (field 0) is name, or whose id (field 2) is name when that
 * is a number; fills the id and field 3. */
static int find(const char *text, const char *name, unsigned long *id, unsigned long *f3)
{
	bool by_id = all_digits(name);
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		char f0[64], f2[16], s3[16] = "0";
		unsigned long v2, v3 = 0;
		if (*line != '#' && field(line, end, 0, f0, sizeof f0) &&
			field(line, end, 2, f2, sizeof f2) && parse_id(f2, &v2) &&
			strcmp(by_id ? f2 : f0, name) == 0) {
			if (!field(line, end, 3, s3, sizeof s3) || !parse_id(s3, &v3))
				v3 = 0;
			*id = v2;
			if (f3)
				*f3 = v3;
			return 0;
		}
		line = *end ? end + 1 : NULL;
	}
	return OP_ENOTFOUND;
}

int op_fence_find_user(const char *passwd, const char *name, uid_t *uid, gid_t *gid)
{
	unsigned long u, g;
	if (find(passwd, name, &u, &g) != 0)
		return OP_ENOTFOUND;
	*uid = (uid_t)u;
	*gid = (gid_t)g;
	return 0;
}

int op_fence_find_group(const char *group, const char *name, gid_t *gid)
{
	unsigned long g;
	if (find(group, name, &g, NULL) != 0)
		return OP_ENOTFOUND;
	*gid = (gid_t)g;
	return 0;
}

int op_fence_plan_make(const op_fence *f, const char *default_user, const char *passwd,
	const char *group, uid_t self_uid, gid_t self_gid, unsigned cgroup, op_fence_plan *p,
	op_err *e)
{
	memset(p, 0, sizeof *p);
	p->cgroup_fd = -1;
	p->umask = (mode_t)(f->has_umask ? f->umask : OP_UMASK_DEFAULT);
	p->memory = cgroup & OP_FENCE_CG_MEMORY ? 0 : f->memory;
	p->open_files = f->open_files;
	p->processes = cgroup & OP_FENCE_CG_PROCESSES ? 0 : f->processes;
	p->cpu_s = f->cpu_time_ms / 1000;
	p->oom_adj = OP_OOM_WORKLOAD;
	const char *user = f->user ? f->user : default_user;
	const char *field_name = f->user ? "user" : "--default-user";
	uid_t uid = self_uid;
	gid_t gid = self_gid;
	if (user) {
		unsigned long v;
		if (op_fence_find_user(passwd ? passwd : "", user, &uid, &gid) != 0) {
			if (!all_digits(user) || !parse_id(user, &v))
				return op_err_set(e, OP_EINVAL, "%s: no user %s in /etc/passwd",
					field_name, user);
			if (!f->group)
				return op_err_set(e, OP_EINVAL,
					"%s: user id %s is not in /etc/passwd: give its group "
					"(group:)",
					field_name, user);
			uid = (uid_t)v;
		}
	}
	if (f->group) {
		unsigned long v;
		if (op_fence_find_group(group ? group : "", f->group, &gid) != 0) {
			if (!parse_id(f->group, &v))
				return op_err_set(
					e, OP_EINVAL, "group: no group %s in /etc/group", f->group);
			gid = (gid_t)v;
		}
	}
	snprintf(p->who, sizeof p->who, "user %s (%u), group %s (%u)", user ? user : "-",
		(unsigned)uid, f->group ? f->group : "-", (unsigned)gid);
	p->uid = uid;
	p->gid = gid;
	/* root changes ids (and resets the supplementary groups) even to its own; anyone
	 * else can only run workloads as itself. */
	if (self_uid == 0)
		p->setids = true;
	else if (uid != self_uid || gid != self_gid)
		return op_err_set(e, OP_EINVAL,
			"%s: cannot run as %s: outpost runs as uid %u, not root", field_name,
			p->who, (unsigned)self_uid);
	if (p->processes && uid == 0) /* (a cgroup's pids.max holds root too) */
		return op_err_set(e, OP_EINVAL,
			"limits.processes: the kernel does not hold root to RLIMIT_NPROC; run the "
			"component as another user (user:)");
	return 0;
}

static int limit(int res, rlim_t v)
{
	struct rlimit rl = {v, v};
	return setrlimit(res, &rl);
}

int op_fence_apply(const op_fence_plan *p)
{
	/* First, while the ids are still the shim's, who owns the delegated tree. */
	if (p->cgroup_fd >= 0 && op_cgroup_join(p->cgroup_fd) != 0)
		return ST_CGROUP;
	char adj[16];
	int len = snprintf(adj, sizeof adj, "%d\n", p->oom_adj);
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, adj, (size_t)len) != len) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		errno = err;
		return ST_OOM;
	}
	close(fd);
	if (p->memory && limit(RLIMIT_DATA, (rlim_t)p->memory) != 0)
		return ST_DATA;
	if (p->open_files && limit(RLIMIT_NOFILE, (rlim_t)p->open_files) != 0)
		return ST_NOFILE;
	if (p->processes && limit(RLIMIT_NPROC, (rlim_t)p->processes) != 0)
		return ST_NPROC;
	/* SIGXCPU at the limit, SIGKILL a second later if it is caught. */
	struct rlimit cpu = {(rlim_t)p->cpu_s, (rlim_t)p->cpu_s + 1};
	if (p->cpu_s && setrlimit(RLIMIT_CPU, &cpu) != 0)
		return ST_CPU;
	if (p->setids) {
		if (setgroups(0, NULL) != 0)
			return ST_GROUPS;
		if (setresgid(p->gid, p->gid, p->gid) != 0)
			return ST_GID;
		if (setresuid(p->uid, p->uid, p->uid) != 0)
			return ST_UID;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return ST_NNP;
	umask(p->umask);
	return 0;
}

static void size_text(int64_t v, char out[32])
{
	static const char *const units[] = {"Ti", "Gi", "Mi", "Ki"};
	for (int i = 0; i < 4; i++) {
		int64_t u = (int64_t)1 << (10 * (4 - i));
		if (v % u == 0) {
			snprintf(out, 32, "%lld%s", (long long)(v / u), units[i]);
			return;
		}
	}
	snprintf(out, 32, "%lld", (long long)v);
}

void op_fence_exit_hint(const op_fence *f, int code, bool oom_killed, char *out, size_t n)
{
	char d[32];
	out[0] = '\0';
	if (oom_killed && f->memory) {
		size_text(f->memory, d);
		snprintf(out, n, "exceeded memory limit %s", d);
		return;
	}
	if (f->cpu_time_ms && (code == 128 + SIGXCPU || code == 128 + SIGKILL)) {
		op_format_duration_ms(f->cpu_time_ms, d);
		snprintf(out, n, "limits.cpu_time %s reached (SIG%s)", d,
			code == 128 + SIGXCPU ? "XCPU" : "KILL, or the OOM killer");
		return;
	}
	if (!f->memory && !f->open_files && !f->processes && !f->cpu_time_ms)
		return;
	size_t len = (size_t)snprintf(out, n, "under limits:");
	const char *sep = " ";
	if (f->memory && len < n) {
		size_text(f->memory, d);
		len += (size_t)snprintf(out + len, n - len, "%smemory %s", sep, d);
		sep = ", ";
	}
	if (f->open_files && len < n) {
		len += (size_t)snprintf(out + len, n - len, "%sopen_files %d", sep, f->open_files);
		sep = ", ";
	}
	if (f->processes && len < n) {
		len += (size_t)snprintf(out + len, n - len, "%sprocesses %d", sep, f->processes);
		sep = ", ";
	}
	if (f->cpu_time_ms && len < n) {
		op_format_duration_ms(f->cpu_time_ms, d);
		snprintf(out + len, n - len, "%scpu_time %s", sep, d);
	}
}

static bool read_small(const char *path, char *buf, size_t n)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t got = fread(buf, 1, n - 1, f);
	buf[got] = '\0';
	fclose(f);
	return true;
}

const char *op_fence_cgroup_detect(const char *cgroup_root, const char *self_cgroup)
{
	char path[4096], buf[1024];
	snprintf(path, sizeof path, "%s/cgroup.controllers", cgroup_root);
	if (!read_small(path, buf, sizeof buf)) {
		/* No unified tree: a v1 hierarchy names its controllers in /proc/self/cgroup. */
		return self_cgroup && strstr(self_cgroup, ":memory:") ? "v1" : "none";
	}
	/* Our own cgroup, "0::/path" in /proc/self/cgroup. */
	const char *own = self_cgroup ? strstr(self_cgroup, "0::") : NULL;
	if (!own)
		return "v2-undelegated";
	own += 3;
	size_t len = strcspn(own, "\n");
	/* Delegated: the memory and pids controllers are available in our own cgroup (its
	 * parent enabled them) and we may make children there and enable them for those. */
	char dir[4000];
	int w = snprintf(dir, sizeof dir, "%s%.*s", cgroup_root, (int)len, own);
	if (w < 0 || (size_t)w >= sizeof dir)
		return "v2-undelegated";
	snprintf(path, sizeof path, "%s/cgroup.controllers", dir);
	if (!read_small(path, buf, sizeof buf) || !op_cgroup_has_controller(buf, "memory") ||
		!op_cgroup_has_controller(buf, "pids") || access(dir, W_OK) != 0)
		return "v2-undelegated";
	snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
	return access(path, W_OK) == 0 ? "v2" : "v2-undelegated";
}
