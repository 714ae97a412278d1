/* cgroup v2 limits of a workload (cgroup.h). The decisions are plain functions over
 * strings; the files are written with open/write/close and no O_CREAT, so that a file
 * the kernel does not offer is an error (or skipped, where optional), never made. */
#include "outpost/agent/host/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "outpost/agent/base/util.h"

bool op_cgroup_has_controller(const char *text, const char *word)
{
	size_t n = strlen(word);
	for (const char *p = text; p && (p = strstr(p, word)) != NULL; p += n)
		if ((p == text || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\n' || !p[n]))
			return true;
	return false;
}

static void put(op_cgroup_plan *p, const char *file, const char *field, int64_t v, bool opt)
{
	op_cgroup_write *w = &p->w[p->nw++];
	w->file = file;
	w->field = field;
	w->optional = opt;
	snprintf(w->value, sizeof w->value, "%lld", (long long)v);
}

void op_cgroup_plan_make(const op_fence *f, bool wasm, bool delegated, op_cgroup_plan *p)
{
	memset(p, 0, sizeof *p);
	if (!delegated)
		return;
	p->memory = f->memory > 0 && !wasm;
	p->processes = f->processes > 0;
	p->use = p->memory || p->processes;
	if (p->memory) {
		put(p, "memory.max", "limits.memory", f->memory, false);
		/* Without it the limit would page out to swap instead of ending there. */
		put(p, "memory.swap.max", "limits.memory", 0, true);
		/* One OOM kill ends the whole instance, not one process of it. */
		put(p, "memory.oom.group", "limits.memory", 1, false);
	}
	if (p->processes)
		put(p, "pids.max", "limits.processes", f->processes, false);
}

int64_t op_cgroup_oom_kills(const char *text)
{
	for (const char *line = text; line && *line;) {
		if (!strncmp(line, "oom_kill ", 9)) {
			uint64_t v;
			char num[24];
			size_t len = strcspn(line + 9, "\n");
			if (len < sizeof num) {
				memcpy(num, line + 9, len);
				num[len] = '\0';
				if (op_parse_u64(num, &v) == 0 && v <= INT64_MAX)
					return (int64_t)v;
			}
			return 0;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return 0;
}

int op_cgroup_own(const char *self_cgroup, char *own, size_t n)
{
	for (const char *line = self_cgroup; line && *line;) {
		if (!strncmp(line, "0::/", 4)) {
			size_t len = strcspn(line + 3, "\n");
			while (len > 0 && line[3 + len - 1] == '/')
				len--; /* "/" is the root: "" */
			if (len >= n)
				return OP_ENOTFOUND;
			memcpy(own, line + 3, len);
			own[len] = '\0';
			return 0;
		}
		line = strchr(line, '\n');
		line = line ? line + 1 : NULL;
	}
	return OP_ENOTFOUND;
}

bool op_cgroup_base_of(const char *own, const char *parent_controllers, char *base, size_t n)
{
	const char *slash = strrchr(own, '/');
	bool leaf = slash && !strcmp(slash + 1, OP_CGROUP_HOST_LEAF) && parent_controllers &&
		op_cgroup_has_controller(parent_controllers, "memory") &&
		op_cgroup_has_controller(parent_controllers, "pids");
	size_t len = leaf ? (size_t)(slash - own) : strlen(own);
	if (len >= n)
		len = n - 1;
	memcpy(base, own, len);
	base[len] = '\0';
	return leaf;
}

/* Writes text to an existing file: 0, or -1 with errno. */
static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = strlen(text);
	ssize_t w = write(fd, text, len);
	int err = errno;
	close(fd);
	if (w != (ssize_t)len) {
		errno = w < 0 ? err : EIO;
		return -1;
	}
	return 0;
}

static char *read_text(const char *path)
{
	char *buf = NULL;
	size_t len;
	return op_read_file(path, 65536, &buf, &len, NULL) == 0 ? buf : NULL;
}

int op_cgroup_host_prepare(
	const char *root, const char *self_cgroup, int pid, char *base, size_t n, op_err *e)
{
	char own[2048], b[2048], path[4096 + 64];
	if (op_cgroup_own(self_cgroup, own, sizeof own) != 0)
		return op_err_set(e, OP_ENOTFOUND, "no cgroup v2 line (0::) in /proc/self/cgroup");
	const char *slash = strrchr(own, '/');
	char *parent = NULL;
	if (slash) {
		snprintf(path, sizeof path, "%s%.*s/cgroup.controllers", root, (int)(slash - own),
			own);
		parent = read_text(path);
	}
	bool in_leaf = op_cgroup_base_of(own, parent, b, sizeof b);
	free(parent);
	int w = snprintf(base, n, "%s%s", root, b);
	if (w < 0 || (size_t)w >= n)
		return op_err_set(e, OP_EINVAL, "cgroup path too long");
	snprintf(path, sizeof path, "%s/cgroup.controllers", base);
	char *ctl = read_text(path);
	bool ok = ctl && op_cgroup_has_controller(ctl, "memory") &&
		op_cgroup_has_controller(ctl, "pids");
	free(ctl);
	if (!ok)
		return op_err_set(e, OP_EINVAL,
			"cgroup %s: the memory and pids controllers are not delegated to it", base);
	if (!in_leaf) {
		snprintf(path, sizeof path, "%s/" OP_CGROUP_HOST_LEAF, base);
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return op_err_set(e, OP_EIO, "cgroup %s: mkdir: %s", path, strerror(errno));
		char num[24];
		snprintf(num, sizeof num, "%d\n", pid);
		snprintf(path, sizeof path, "%s/" OP_CGROUP_HOST_LEAF "/cgroup.procs", base);
		if (write_file(path, num) != 0)
			return op_err_set(e, OP_EIO, "cgroup %s: moving the host there: %s", path,
				strerror(errno));
	}
	snprintf(path, sizeof path, "%s/cgroup.subtree_control", base);
	if (write_file(path, "+memory +pids\n") != 0)
		return op_err_set(e, OP_EIO, "cgroup %s: +memory +pids: %s", path, strerror(errno));
	return 0;
}

int op_cgroup_inst_make(
	const char *base, const char *id, const op_cgroup_plan *p, op_cgroup_inst *c, op_err *e)
{
	char path[4096 + 64];
	c->procs_fd = -1;
	c->oom_before = 0;
	int w = snprintf(c->dir, sizeof c->dir, "%s/%s", base, id);
	if (w < 0 || (size_t)w >= sizeof c->dir)
		return op_err_set(e, OP_EINVAL, "cgroup path too long");
	const char *field = p->memory ? "limits.memory" : "limits.processes";
	if (mkdir(c->dir, 0755) != 0 && errno != EEXIST)
		return op_err_set(
			e, OP_EIO, "%s: cgroup %s: mkdir: %s", field, c->dir, strerror(errno));
	for (int i = 0; i < p->nw; i++) {
		snprintf(path, sizeof path, "%s/%s", c->dir, p->w[i].file);
		char text[32];
		snprintf(text, sizeof text, "%s\n", p->w[i].value);
		if (write_file(path, text) == 0 || (p->w[i].optional && errno == ENOENT))
			continue;
		return op_err_set(
			e, OP_EIO, "%s: cgroup %s: %s", p->w[i].field, path, strerror(errno));
	}
	snprintf(path, sizeof path, "%s/memory.events", c->dir);
	char *ev = p->memory ? read_text(path) : NULL;
	c->oom_before = op_cgroup_oom_kills(ev);
	free(ev);
	snprintf(path, sizeof path, "%s/cgroup.procs", c->dir);
	c->procs_fd = open(path, O_WRONLY | O_CLOEXEC);
	if (c->procs_fd < 0)
		return op_err_set(e, OP_EIO, "%s: cgroup %s: %s", field, path, strerror(errno));
	return 0;
}

int op_cgroup_join(int fd)
{
	char num[16];
	int i = (int)sizeof num;
	unsigned v = (unsigned)getpid();
	num[--i] = '\n';
	do
		num[--i] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	ssize_t len = (ssize_t)sizeof num - i;
	return write(fd, num + i, (size_t)len) == len ? 0 : -1;
}

bool op_cgroup_inst_end(op_cgroup_inst *c)
{
	char path[4096 + 64];
	if (c->procs_fd >= 0)
		close(c->procs_fd);
	c->procs_fd = -1;
	snprintf(path, sizeof path, "%s/cgroup.kill", c->dir);
	if (access(path, F_OK) == 0)
		write_file(path, "1\n");
	snprintf(path, sizeof path, "%s/memory.events", c->dir);
	char *ev = read_text(path);
	int64_t after = op_cgroup_oom_kills(ev);
	free(ev);
	return after > c->oom_before;
}

int op_cgroup_inst_remove(const op_cgroup_inst *c, int wait_ms)
{
	int64_t until = op_now_ms() + wait_ms;
	struct timespec ts = {0, 5 * 1000 * 1000};
	/* EBUSY while the kernel still holds a killed task: wait for it, within bounds. */
	while (rmdir(c->dir) != 0) {
		if (errno == ENOENT)
			return 0;
		if (errno != EBUSY || op_now_ms() >= until)
			return -1;
		nanosleep(&ts, NULL);
	}
	return 0;
}
