/* See include/outpost/agent/base/util.h. */
#include "outpost/agent/base/util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int op_parse_u64(const char *s, uint64_t *v)
{
	if (!s || !*s || *s == '-' || *s == '+')
		return OP_EINVAL;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return OP_EINVAL;
	errno = 0;
	char *end;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno == ERANGE || *end)
		return OP_EINVAL;
	*v = x;
	return 0;
}

int op_parse_duration_ms(const char *s, int64_t *ms)
{
	char num[32];
	size_t i = 0;
	if (!s)
		return OP_EINVAL;
	while (s[i] >= '0' && s[i] <= '9' && i < sizeof num - 1) {
		num[i] = s[i];
		i++;
	}
	num[i] = '\0';
	uint64_t v;
	if (i == 0 || i > 9 || op_parse_u64(num, &v) != 0)
		return OP_EINVAL;
	const char *unit = s + i;
	int64_t mul;
	if (!*unit || !strcmp(unit, "s"))
		mul = 1000;
	else if (!strcmp(unit, "ms"))
		mul = 1;
	else if (!strcmp(unit, "m"))
		mul = 60 * 1000;
	else if (!strcmp(unit, "h"))
		mul = 3600 * 1000;
	else
		return OP_EINVAL;
	*ms = (int64_t)v * mul;
	return 0;
}

void op_format_duration_ms(int64_t ms, char out[32])
{
	static const struct {
		int64_t mul;
		const char *unit;
	} units[] = {{3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}};
	for (size_t i = 0; i < sizeof units / sizeof *units; i++)
		if (ms % units[i].mul == 0 && (ms != 0 || i == 2)) {
			snprintf(out, 32, "%lld%s", (long long)(ms / units[i].mul), units[i].unit);
			return;
		}
	snprintf(out, 32, "%lldms", (long long)ms);
}

void op_time_rfc3339(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The n decimal digits at s as a number, -1 when one of them is not a digit. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int op_time_parse_rfc3339(const char *s, int64_t *t)
{
	if (!s || strlen(s) != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
		s[16] != ':' || s[19] != 'Z')
		return OP_EINVAL;
	struct tm tm = {.tm_year = digits(s, 4),
		.tm_mon = digits(s + 5, 2),
		.tm_mday = digits(s + 8, 2),
		.tm_hour = digits(s + 11, 2),
		.tm_min = digits(s + 14, 2),
		.tm_sec = digits(s + 17, 2)};
	if (tm.tm_year < 1970 || tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 ||
		tm.tm_mday > 31 || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 ||
		tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return OP_EINVAL;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = (int64_t)timegm(&tm);
	return 0;
}

static int64_t clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t op_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t op_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

void op_deadline_in(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

int op_mkdirs(const char *path, unsigned mode, op_err *e)
{
	char p[4096];
	int w = snprintf(p, sizeof p, "%s", path);
	if (w < 0 || (size_t)w >= sizeof p)
		return op_err_set(e, OP_EINVAL, "path too long: %.64s...", path);
	for (char *q = p + 1; *q; q++) {
		if (*q != '/')
			continue;
		*q = '\0';
		if (mkdir(p, mode) != 0 && errno != EEXIST)
			return op_err_set(e, OP_EIO, "mkdir %s: %s", p, strerror(errno));
		*q = '/';
	}
	if (mkdir(p, mode) != 0 && errno != EEXIST)
		return op_err_set(e, OP_EIO, "mkdir %s: %s", p, strerror(errno));
	return 0;
}

static int write_atomic(const char *path, const void *buf, size_t len, bool sync, op_err *e)
{
	char tmp[4096], dir[4096];
	int w = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (w < 0 || (size_t)w >= sizeof tmp)
		return op_err_set(e, OP_EINVAL, "path too long");
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return op_err_set(e, OP_EIO, "write %s: %s", tmp, strerror(errno));
	const char *p = buf;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = errno;
			close(fd);
			unlink(tmp);
			return op_err_set(e, OP_EIO, "write %s: %s", tmp, strerror(err));
		}
		p += n;
		left -= (size_t)n;
	}
	if ((sync && fsync(fd) != 0) || close(fd) != 0) {
		unlink(tmp);
		return op_err_set(e, OP_EIO, "fsync %s: %s", tmp, strerror(errno));
	}
	if (rename(tmp, path) != 0) {
		int err = errno;
		unlink(tmp);
		return op_err_set(e, OP_EIO, "rename %s: %s", path, strerror(err));
	}
	if (!sync)
		return 0;
	snprintf(dir, sizeof dir, "%s", path);
	int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int op_write_atomic(const char *path, const void *buf, size_t len, op_err *e)
{
	return write_atomic(path, buf, len, true, e);
}

int op_write_atomic_nosync(const char *path, const void *buf, size_t len, op_err *e)
{
	return write_atomic(path, buf, len, false, e);
}

int op_read_file(const char *path, size_t max, char **buf, size_t *len, op_err *e)
{
	*buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return op_err_set(e, errno == ENOENT ? OP_ENOTFOUND : OP_EIO, "%s: %s", path,
			strerror(errno));
	char *b = malloc(max + 1);
	if (!b) {
		close(fd);
		op_err_set(e, OP_ENOMEM, "out of memory");
		return OP_ENOMEM;
	}
	size_t n = 0;
	int rc = 0;
	while (rc == 0) {
		ssize_t r = read(fd, b + n, max + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			rc = op_err_set(e, OP_EIO, "read %s: %s", path, strerror(errno));
		else if (r == 0)
			break;
		else if ((n += (size_t)r) > max)
			rc = op_err_set(e, OP_ETOOBIG, "%s: more than %zu bytes", path, max);
	}
	close(fd);
	if (rc) {
		free(b);
		return rc;
	}
	b[n] = '\0';
	*buf = b;
	if (len)
		*len = n;
	return 0;
}

int op_grow(void **v, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return OP_ENOMEM;
		c *= 2;
	}
	if (size == 0 || c > SIZE_MAX / size) /* size 0: a caller's mistake, never grown */
		return OP_ENOMEM;
	void *n = realloc(*v, c * size);
	if (!n)
		return OP_ENOMEM;
	*v = n;
	*cap = c;
	return 0;
}

int op_oom_adj_self(int adj, op_err *e)
{
	int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
	char buf[16];
	int len = snprintf(buf, sizeof buf, "%d\n", adj);
	if (fd < 0 || write(fd, buf, (size_t)len) != len) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		return op_err_set(e, OP_EIO, "oom_score_adj %d: %s", adj, strerror(err));
	}
	close(fd);
	return 0;
}
