/* Supervision's pure core (restart decision, backoff, arch names, the state file codec)
 * and the small process and file helpers the host and the shim share. See
 * include/outpost/agent/host/supervise.h for the model and the files of an instance. */
#include "outpost/agent/host/supervise.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "outpost/agent/wire/proto.h"
#include "outpost/agent/base/util.h"

/* --- the restart decision -------------------------------------------------------------- */

int64_t op_backoff_ms(const op_restart_policy *p, int n)
{
	int64_t d = p->base_ms;
	for (int i = 1; i < n && d < p->max_ms; i++)
		d *= 2;
	return d < p->max_ms ? d : p->max_ms;
}

op_decision op_restart_decide(const op_restart_policy *p, enum op_restart mode, int exit_code,
	int64_t run_ms, int *short_runs)
{
	bool again = mode == OP_RESTART_ALWAYS || (mode == OP_RESTART_ON_FAILURE && exit_code != 0);
	if (run_ms >= p->min_run_ms)
		*short_runs = 0;
	if (!again)
		return (op_decision){OP_NEXT_EXITED, 0};
	if (run_ms < p->min_run_ms)
		++*short_runs;
	if (*short_runs >= p->loop_limit)
		return (op_decision){OP_NEXT_FAILED, 0};
	/* The first restart of a run of crashes is immediate (a workload that crashed once
	 * should be back at once); the ones after it wait, doubling from base_ms. */
	if (*short_runs <= 1)
		return (op_decision){OP_NEXT_RESTART, 0};
	return (op_decision){OP_NEXT_RESTART, op_backoff_ms(p, *short_runs - 1)};
}

/* --- architectures --------------------------------------------------------------------- */

const char *op_arch_name(const char *machine)
{
	static const char *const map[][2] = {{"x86_64", "amd64"}, {"amd64", "amd64"},
		{"aarch64", "arm64"}, {"arm64", "arm64"}, {"armv7l", "armhf"}, {"armv8l", "armhf"},
		{"armv6l", "armel"}, {"riscv64", "riscv64"}, {"i686", "i386"}, {"i586", "i386"},
		{"i386", "i386"}, {"ppc64le", "ppc64el"}, {"s390x", "s390x"},
		{"loongarch64", "loong64"}, {"mips64", "mips64el"}};
	for (size_t i = 0; i < sizeof map / sizeof *map; i++)
		if (!strcmp(machine, map[i][0]))
			return map[i][1];
	return machine;
}

const char *op_arch_self(void)
{
	static char buf[65];
	struct utsname u;
	if (uname(&u) != 0)
		return "unknown";
	snprintf(buf, sizeof buf, "%s", op_arch_name(u.machine));
	return buf;
}

const char *op_artifact_digest(const op_artifact *a, const char *arch)
{
	if (a->sha256)
		return a->sha256;
	return op_kvs_get(&a->sha256_arch, arch);
}

int64_t op_fail_retry_ms(int64_t max_backoff_ms, int n)
{
	op_restart_policy p = {OP_FAIL_RETRY_MS, max_backoff_ms, 0, 0};
	int64_t d = op_backoff_ms(&p, n < 1 ? 1 : n);
	return d < max_backoff_ms ? d : max_backoff_ms;
}

/* --- the state file -------------------------------------------------------------------- */

int op_shim_state_encode(const op_shim_state *s, char **json, op_err *e)
{
	*json = NULL;
	json_t *j = json_pack("{s:i, s:s, s:s, s:i, s:I, s:i, s:I, s:i, s:i, s:s}", "v", 1, "id",
		s->id, "state", op_inst_state_name(s->state), "shim_pid", s->shim_pid, "shim_start",
		(json_int_t)s->shim_start, "pid", s->pid, "pid_start", (json_int_t)s->pid_start,
		"restarts", s->restarts, "exit", s->exit_code, "error", s->error);
	if (j &&
		((s->retry_at > 0 &&
			 json_object_set_new(j, "retry_at", json_integer(s->retry_at)) != 0) ||
			(s->health != OP_HEALTH_NONE &&
				json_object_set_new(j, "health",
					json_string(op_health_name(s->health))) != 0) ||
			(s->probe[0] &&
				json_object_set_new(j, "probe", json_string(s->probe)) != 0))) {
		json_decref(j);
		j = NULL;
	}
	if (!j) {
		op_err_set(e, OP_ENOMEM, "state: cannot encode");
		return OP_ENOMEM;
	}
	*json = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	if (!*json) {
		op_err_set(e, OP_ENOMEM, "state: out of memory");
		return OP_ENOMEM;
	}
	return 0;
}

int op_shim_state_decode(const char *buf, size_t len, op_shim_state *s, op_err *e)
{
	memset(s, 0, sizeof *s);
	if (len > 64 * 1024)
		return op_err_set(e, OP_ETOOBIG, "state: %zu bytes is too large", len);
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return op_err_set(e, OP_EINVAL, "state: not JSON: %s", je.text);
	json_int_t v, spid, sstart, pid, pstart, restarts, code, retry = 0;
	const char *id, *state, *error, *health = NULL, *probe = "";
	int rc = OP_EINVAL;
	if (json_unpack_ex(j, &je, JSON_STRICT,
		    "{s:I, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s?I, s?s, s?s}", "v", &v,
		    "id", &id, "state", &state, "shim_pid", &spid, "shim_start", &sstart, "pid",
		    &pid, "pid_start", &pstart, "restarts", &restarts, "exit", &code, "error",
		    &error, "retry_at", &retry, "health", &health, "probe", &probe) != 0) {
		op_err_set(e, OP_EINVAL, "state: %s", je.text);
		goto out;
	}
	const char *field = v != 1                              ? "v"
		: !op_inst_id_valid(id)                         ? "id"
		: op_inst_state_parse(state, &s->state)         ? "state"
		: spid < 0 || spid > INT32_MAX                  ? "shim_pid"
		: sstart < 0                                    ? "shim_start"
		: pid < 0 || pid > INT32_MAX                    ? "pid"
		: pstart < 0                                    ? "pid_start"
		: restarts < 0 || restarts > INT32_MAX          ? "restarts"
		: code < -1 || code > 255                       ? "exit"
		: strlen(error) >= sizeof s->error              ? "error"
		: retry < 0                                     ? "retry_at"
		: health && op_health_parse(health, &s->health) ? "health"
		: strlen(probe) >= sizeof s->probe              ? "probe"
								: NULL;
	if (field) {
		op_err_set(e, OP_EINVAL, "state: %s: out of range", field);
		goto out;
	}
	memcpy(s->id, id, strlen(id) + 1);
	s->shim_pid = (int)spid;
	s->shim_start = (uint64_t)sstart;
	s->pid = (int)pid;
	s->pid_start = (uint64_t)pstart;
	s->restarts = (int)restarts;
	s->exit_code = (int)code;
	memcpy(s->error, error, strlen(error) + 1);
	s->retry_at = (int64_t)retry;
	memcpy(s->probe, probe, strlen(probe) + 1);
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int op_inst_path(char *out, size_t n, const char *state_dir, const char *id, const char *file)
{
	int w = snprintf(
		out, n, "%s/instances/%s%s%s", state_dir, id, file ? "/" : "", file ? file : "");
	return w < 0 || (size_t)w >= n ? OP_EINVAL : 0;
}

int op_shim_state_load(const char *state_dir, const char *id, op_shim_state *s, op_err *e)
{
	char path[4096], *buf = NULL;
	size_t len = 0;
	if (op_inst_path(path, sizeof path, state_dir, id, "state.json") != 0)
		return op_err_set(e, OP_EINVAL, "state dir path too long");
	int rc = op_read_file(path, 64 * 1024, &buf, &len, e);
	if (rc)
		return rc;
	rc = op_shim_state_decode(buf, len, s, e);
	free(buf);
	if (rc == 0 && strcmp(s->id, id) != 0)
		rc = op_err_set(e, OP_EINVAL, "%s: names instance %s", path, s->id);
	return rc;
}

int op_shim_state_write(const char *state_dir, const op_shim_state *s, bool sync, op_err *e)
{
	char path[4096], *json = NULL;
	if (op_inst_path(path, sizeof path, state_dir, s->id, "state.json") != 0)
		return op_err_set(e, OP_EINVAL, "state dir path too long");
	int rc = op_shim_state_encode(s, &json, e);
	if (rc == 0)
		rc = sync ? op_write_atomic(path, json, strlen(json), e)
			  : op_write_atomic_nosync(path, json, strlen(json), e);
	free(json);
	return rc;
}

int op_shim_state_save(const char *state_dir, const op_shim_state *s, op_err *e)
{
	return op_shim_state_write(state_dir, s, true, e);
}

/* --- processes and files --------------------------------------------------------------- */

int op_proc_start_time(int pid, uint64_t *start)
{
	char path[64], buf[1024];
	if (pid <= 0)
		return OP_ENOTFOUND;
	/* task/<pid>/stat: qemu-user fakes a process's own /proc/<pid>/stat (its start time
	 * is qemu's), not the task's, so a shim under emulation reads what the host reads. */
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return OP_ENOTFOUND;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return OP_ENOTFOUND;
	buf[n] = '\0';
	/* "pid (comm) S ...": comm may hold spaces and parentheses, so count from the last
	 * ')'; the state is field 3, the start time field 22. */
	char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return OP_ENOTFOUND;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return OP_ENOTFOUND;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return OP_ENOTFOUND;
		p++;
	}
	char *end;
	errno = 0;
	unsigned long long v = strtoull(p, &end, 10);
	if (errno || end == p)
		return OP_ENOTFOUND;
	*start = v;
	return 0;
}

bool op_proc_alive(int pid, uint64_t start)
{
	uint64_t s;
	return pid > 0 && op_proc_start_time(pid, &s) == 0 && s == start;
}

void op_proc_kill_group(int pid, uint64_t start, int sig)
{
	if (op_proc_alive(pid, start))
		kill(-pid, sig);
}

/* The order matters to a host looking at the directory meanwhile: the spec goes first
 * (nothing can be started from it any more), the stop mark last (until then the
 * instance reads as being stopped). */
int op_inst_remove(const char *state_dir, const char *id, op_err *e)
{
	char dir[4096], path[4096 + 300];
	if (op_inst_path(dir, sizeof dir, state_dir, id, NULL) != 0)
		return op_err_set(e, OP_EINVAL, "state dir path too long");
	snprintf(path, sizeof path, "%s/spec.json", dir);
	unlink(path);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : op_err_set(e, OP_EIO, "%s: %s", dir, strerror(errno));
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
			!strcmp(de->d_name, "stop"))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	snprintf(path, sizeof path, "%s/stop", dir);
	unlink(path);
	if (rmdir(dir) != 0 && errno != ENOENT)
		return op_err_set(e, OP_EIO, "remove %s: %s", dir, strerror(errno));
	return 0;
}

/* --- kept logs ------------------------------------------------------------------------- */

bool op_logs_name(const char *name, const char **id, int64_t *ms)
{
	int64_t v = 0;
	for (int i = 0; i < 13; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		v = v * 10 + (name[i] - '0');
	}
	if (name[13] != '.' || !op_inst_id_valid(name + 14))
		return false;
	*id = name + 14;
	*ms = v;
	return true;
}

/* The length of id's component prefix "<app>.<comp>.", 0 when it has none. */
static size_t comp_prefix(const char *id)
{
	const char *a = strchr(id, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	return b ? (size_t)(b - id) + 1 : 0;
}

static void rm_dir(const char *dir)
{
	char path[4096 + 600];
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes the oldest kept logs of id's component past keep (names sort by time). */
static void logs_gc(const char *logs, const char *id, int keep)
{
	size_t pl = comp_prefix(id), n = 0, cap = 0;
	char **v = NULL;
	DIR *d = opendir(logs);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		const char *kid;
		int64_t ms;
		if (!op_logs_name(de->d_name, &kid, &ms) || comp_prefix(kid) != pl ||
			strncmp(kid, id, pl) != 0)
			continue;
		if (n == cap) {
			char **w = realloc(v, (cap = cap ? cap * 2 : 8) * sizeof *v);
			if (!w)
				break;
			v = w;
		}
		if (!(v[n] = strdup(de->d_name)))
			break;
		n++;
	}
	if (d)
		closedir(d);
	if (n > 1)
		qsort(v, n, sizeof *v, name_cmp);
	char path[4096 + 300];
	for (size_t i = 0; i < n; i++) {
		if (i + (size_t)keep < n) {
			snprintf(path, sizeof path, "%s/%s", logs, v[i]);
			rm_dir(path);
		}
		free(v[i]);
	}
	free(v);
}

int op_logs_keep(const char *state_dir, const char *id, int keep, op_err *e)
{
	char src[4096], logs[4096], dst[4096 + 300], from[4096 + 32], to[4096 + 340];
	if (op_inst_path(src, sizeof src, state_dir, id, NULL) != 0 ||
		snprintf(logs, sizeof logs, "%s/logs", state_dir) >= (int)sizeof logs - 300)
		return op_err_set(e, OP_EINVAL, "state dir path too long");
	snprintf(from, sizeof from, "%s/output.log", src);
	if (access(from, F_OK) != 0)
		return 0; /* it never ran: nothing to keep */
	if (mkdir(logs, 0700) != 0 && errno != EEXIST)
		return op_err_set(e, OP_EIO, "mkdir %s: %s", logs, strerror(errno));
	snprintf(dst, sizeof dst, "%s/%013lld.%s", logs, (long long)op_wall_ms(), id);
	if (keep > 0 && mkdir(dst, 0700) != 0)
		return op_err_set(e, OP_EIO, "mkdir %s: %s", dst, strerror(errno));
	for (int i = 0; keep > 0 && i <= 10; i++) {
		const char *f = i == 10 ? "state.json" : "output.log";
		if (i == 0 || i == 10)
			snprintf(from, sizeof from, "%s/%s", src, f);
		else
			snprintf(from, sizeof from, "%s/output.log.%d", src, i);
		snprintf(to, sizeof to, "%s/%s", dst, strrchr(from, '/') + 1);
		if (rename(from, to) != 0 && errno != ENOENT)
			return op_err_set(e, OP_EIO, "rename %s: %s", from, strerror(errno));
	}
	logs_gc(logs, id, keep);
	return 0;
}

int op_file_sha256(const char *path, char hex[65], op_err *e)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return op_err_set(e, errno == ENOENT ? OP_ENOTFOUND : OP_EIO, "%s: %s", path,
			strerror(errno));
	mbedtls_sha256_context c;
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts(&c, 0);
	unsigned char buf[65536], sum[32];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = op_err_set(e, OP_EIO, "read %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		mbedtls_sha256_update(&c, buf, (size_t)n);
	}
	close(fd);
	mbedtls_sha256_finish(&c, sum);
	mbedtls_sha256_free(&c);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
	return rc;
}

/* --- the output log -------------------------------------------------------------------- */

static int outlog_reopen(op_outlog *l)
{
	l->fd = open(l->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (l->fd < 0)
		return OP_EIO;
	struct stat st;
	l->size = fstat(l->fd, &st) == 0 ? (size_t)st.st_size : 0;
	return 0;
}

int op_outlog_open(op_outlog *l, const char *path, size_t max, int keep, op_err *e)
{
	memset(l, 0, sizeof *l);
	l->fd = -1;
	int w = snprintf(l->path, sizeof l->path - 8, "%s", path);
	if (w < 0 || (size_t)w >= sizeof l->path - 8)
		return op_err_set(e, OP_EINVAL, "log path too long");
	l->max = max > 0 ? max : 1;
	l->keep = keep < 0 ? 0 : keep > 9 ? 9 : keep;
	if (outlog_reopen(l) != 0)
		return op_err_set(e, OP_EIO, "open %s: %s", path, strerror(errno));
	return 0;
}

static int outlog_rotate(op_outlog *l)
{
	char from[sizeof l->path + 16], to[sizeof l->path + 16];
	close(l->fd);
	l->fd = -1;
	for (int i = l->keep; i >= 1; i--) {
		int a = i == 1 ? snprintf(from, sizeof from, "%s", l->path)
			       : snprintf(from, sizeof from, "%s.%d", l->path, i - 1);
		int b = snprintf(to, sizeof to, "%s.%d", l->path, i);
		if (a < 0 || b < 0 || (size_t)a >= sizeof from || (size_t)b >= sizeof to)
			return OP_EIO;
		if (rename(from, to) != 0 && errno != ENOENT)
			return OP_EIO;
	}
	if (l->keep == 0 && unlink(l->path) != 0 && errno != ENOENT)
		return OP_EIO;
	return outlog_reopen(l);
}

int op_outlog_write(op_outlog *l, const void *buf, size_t n)
{
	const char *p = buf;
	while (n > 0) {
		if (l->fd < 0 && outlog_reopen(l) != 0)
			return OP_EIO;
		if (l->size >= l->max && outlog_rotate(l) != 0)
			return OP_EIO;
		size_t room = l->max - l->size, chunk = n < room ? n : room;
		ssize_t w = write(l->fd, p, chunk);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return OP_EIO;
		p += w;
		n -= (size_t)w;
		l->size += (size_t)w;
	}
	return 0;
}

void op_outlog_close(op_outlog *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
}
