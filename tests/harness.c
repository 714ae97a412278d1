/* The harness's core (see harness.h): the temp dir, harness-owned strings, files,
 * waiting, and cleanup at exit or on a fatal signal. The signal path only uses
 * async-signal-safe calls (the process registry, the log list and the temp dir path
 * are fixed-size arrays), so a crashing or interrupted test still kills and reaps
 * everything it started. Processes themselves are in harness_proc.c. */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t.h"

#define MAXLOG 128

static char logs[MAXLOG][512]; /* every log file a server or h_spawn wrote */
static int nlogs;
static char tmpdir[512];
static pid_t owner; /* the test program; forked children never clean up */
static bool inited;
static char **owned; /* harness-owned strings */
static size_t nowned, capowned;
static void (*hooks[8])(void); /* other harness files' cleanup (proxies, servers) */
static int nhooks;
static struct sigaction oldact[32];
static const int fatal_sigs[] = {SIGINT, SIGTERM, SIGABRT, SIGSEGV};

static void register_cleanup(void);

/* ---- strings ------------------------------------------------------------------------ */

const char *h__keep(char *s)
{
	if (!s)
		return NULL;
	register_cleanup();
	if (nowned == capowned) {
		size_t cap = capowned ? capowned * 2 : 64;
		char **v = realloc(owned, cap * sizeof *v);
		if (!v) {
			free(s);
			return NULL;
		}
		owned = v;
		capowned = cap;
	}
	owned[nowned++] = s;
	return s;
}

const char *h_keep(char *s)
{
	return h__keep(s);
}

char *h__vfmt(const char *fmt, va_list ap)
{
	char *s = NULL;
	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

const char *h_str(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = h__vfmt(fmt, ap);
	va_end(ap);
	return h__keep(s);
}

const char *h_path(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *rel = h__vfmt(fmt, ap);
	va_end(ap);
	if (!rel)
		return NULL;
	const char *p = h_str("%s/%s", h_tmpdir(), rel);
	free(rel);
	return p;
}

const char *h_q(const char *s)
{
	size_t n = 3;
	for (const char *p = s; *p; p++)
		n += *p == '\'' ? 4 : 1;
	char *q = malloc(n), *w = q;
	if (!q)
		return NULL;
	*w++ = '\'';
	for (const char *p = s; *p; p++) {
		if (*p == '\'') {
			memcpy(w, "'\\''", 4);
			w += 4;
		} else {
			*w++ = *p;
		}
	}
	*w++ = '\'';
	*w = 0;
	return h__keep(q);
}

/* ---- cleanup ------------------------------------------------------------------------ */

static void put(int fd, const char *s)
{
	ssize_t r = write(fd, s, strlen(s));
	(void)r;
}

/* Async-signal-safe: the last ~1.5 KiB of each log, on stderr. */
static void print_log_tails(void)
{
	char buf[1536];
	for (int i = 0; i < nlogs; i++) {
		int fd = open(logs[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		off_t end = lseek(fd, 0, SEEK_END);
		off_t from = end > (off_t)sizeof buf ? end - (off_t)sizeof buf : 0;
		ssize_t n = pread(fd, buf, sizeof buf, from);
		close(fd);
		if (n <= 0)
			continue;
		ssize_t s = 0;
		if (from > 0)
			while (s < n && buf[s++] != '\n')
				;
		put(2, "---- tail of ");
		put(2, logs[i]);
		put(2, "\n");
		ssize_t r = write(2, buf + s, (size_t)(n - s));
		(void)r;
	}
	if (nlogs)
		put(2, "---- end of logs\n");
}

static bool keep_tmp(void)
{
	const char *k = getenv("OUTPOST_KEEP");
	return k && *k;
}

/* Async-signal-safe rm -rf, for the signal path. */
static void rm_tmp_raw(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = {"rm", "-rf", tmpdir, NULL};
		char *const envp[] = {NULL};
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
}

static void on_fatal(int sig, siginfo_t *si, void *ctx)
{
	if (getpid() == owner && inited) {
		put(2, "harness: fatal signal, stopping every child process\n");
		h__kill_all();
		if (sig == SIGSEGV || sig == SIGABRT)
			print_log_tails();
		if (keep_tmp()) {
			put(2, "harness: kept ");
			put(2, tmpdir);
			put(2, "\n");
		} else {
			rm_tmp_raw();
		}
		inited = false;
	}
	struct sigaction *old = &oldact[sig];
	if ((old->sa_flags & SA_SIGINFO) && old->sa_sigaction) {
		old->sa_sigaction(sig, si, ctx);
		return;
	}
	if (!(old->sa_flags & SA_SIGINFO) && old->sa_handler != SIG_DFL &&
		old->sa_handler != SIG_IGN) {
		old->sa_handler(sig);
		return;
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

void h_cleanup(void)
{
	if (owner && getpid() != owner)
		return;
	if (inited) {
		/* Also what a test that stopped early never adopted: shims outlive their host by
		 * design, and each names its --state under the temp dir. */
		h__adopt_users(tmpdir);
		h__kill_all();
		if (t_failed_checks > 0)
			print_log_tails();
	}
	for (int i = nhooks - 1; i >= 0; i--)
		hooks[i]();
	nhooks = 0;
	if (inited && keep_tmp())
		fprintf(stderr, "harness: kept %s\n", tmpdir);
	else if (inited)
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	for (size_t i = 0; i < nowned; i++)
		free(owned[i]);
	free(owned);
	owned = NULL;
	nowned = capowned = 0;
	nlogs = 0;
	tmpdir[0] = 0;
	inited = false;
}

void h__atcleanup(void (*fn)(void))
{
	for (int i = 0; i < nhooks; i++)
		if (hooks[i] == fn)
			return;
	if (nhooks < (int)(sizeof hooks / sizeof hooks[0]))
		hooks[nhooks++] = fn;
}

void h__track_log(const char *path)
{
	for (int i = 0; i < nlogs; i++)
		if (strcmp(logs[i], path) == 0)
			return;
	if (nlogs < MAXLOG)
		snprintf(logs[nlogs++], sizeof logs[0], "%s", path);
}

/* Once per program: cleanup at exit and on fatal signals. */
static void register_cleanup(void)
{
	static bool registered;
	if (registered)
		return;
	registered = true;
	owner = getpid();
	atexit(h_cleanup);
	for (size_t i = 0; i < sizeof fatal_sigs / sizeof fatal_sigs[0]; i++) {
		struct sigaction sa;
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = on_fatal;
		sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
		sigemptyset(&sa.sa_mask);
		sigaction(fatal_sigs[i], &sa, &oldact[fatal_sigs[i]]);
	}
}

void h__init(void)
{
	register_cleanup();
	if (inited)
		return;
	const char *base = getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	int n = snprintf(tmpdir, sizeof tmpdir, "%s/outpost-test-XXXXXX", base);
	if (n < 0 || (size_t)n >= sizeof tmpdir - 64 || !mkdtemp(tmpdir)) {
		fprintf(stderr, "harness: cannot make a temp dir under %s: %s\n", base,
			strerror(errno));
		exit(1);
	}
	inited = true;
}

const char *h_tmpdir(void)
{
	h__init();
	return tmpdir;
}

/* ---- files -------------------------------------------------------------------------- */

int h_mkdirs(const char *path)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "%s", path);
	if (n < 0 || (size_t)n >= sizeof buf)
		return -1;
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(buf, 0755) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int h_write(const char *path, const char *fmt, ...)
{
	char dir[1024];
	int n = snprintf(dir, sizeof dir, "%s", path);
	if (n < 0 || (size_t)n >= sizeof dir)
		return -1;
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (h_mkdirs(dir) < 0)
			return -1;
	}
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	va_list ap;
	va_start(ap, fmt);
	int w = vfprintf(f, fmt, ap);
	va_end(ap);
	int c = fclose(f);
	return (w < 0 || c != 0) ? -1 : 0;
}

char *h_read(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	while (buf) {
		size_t n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
		if (len + 1 == cap) {
			char *b = realloc(buf, cap * 2);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	if (buf)
		buf[len] = 0;
	return buf;
}

/* ---- waiting and ports -------------------------------------------------------------- */

long long h_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

long long h_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

long long h_pct(long long *v, int n, int p)
{
	qsort(v, (size_t)n, sizeof *v, cmp_ll);
	int i = (p * n + 99) / 100 - 1;
	return v[i < 0 ? 0 : i >= n ? n - 1 : i];
}

bool h_wait_until_poll(bool (*cond)(void *), void *arg, int timeout_ms, int poll_us)
{
	long long deadline = h_now_ms() + timeout_ms;
	for (;;) {
		if (cond(arg))
			return true;
		if (h_now_ms() >= deadline)
			return false;
		/* The deadline helper: the one place the tests sleep, between polls. */
		struct timespec ts = {poll_us / 1000000, (long)(poll_us % 1000000) * 1000L};
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
}

bool h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms)
{
	return h_wait_until_poll(cond, arg, timeout_ms, 20000);
}

/* One port, free at the moment. */
static int free_port_once(void)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	int port = -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
		getsockname(fd, (struct sockaddr *)&a, &len) == 0)
		port = ntohs(a.sin_port);
	close(fd);
	return port;
}

/* Never the same port twice in one program: the kernel may hand a closed port out
 * again, and hundreds of servers picked before any binds (h_sites_start) would collide. */
int h_free_port(void)
{
	static bool given[65536];
	for (int tries = 0; tries < 64; tries++) {
		int port = free_port_once();
		if (port <= 0 || !given[port]) {
			if (port > 0)
				given[port] = true;
			return port;
		}
	}
	return free_port_once();
}

/* ---- processes ---------------------------------------------------------------------- */
