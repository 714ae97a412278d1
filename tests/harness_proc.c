/* The harness's child processes (see harness.h). Every child is registered in a
 * fixed-size table that the fatal-signal path walks without allocating; each runs in
 * its own process group (killed as a group) and gets SIGKILL when the test dies. A
 * leader is reaped only after its group was killed, so its group id cannot be reused
 * in between. */
#include "harness.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXPROC 4096 /* bench_fleet: five processes a site, hundreds of sites */
#define RUN_TIMEOUT_MS 120000
#define STOP_GRACE_MS 2000

struct proc {
	volatile pid_t pid; /* 0: free slot */
	bool child; /* ours to reap, leader of its own process group */
};

static struct proc procs[MAXPROC];

static void put(int fd, const char *s)
{
	ssize_t r = write(fd, s, strlen(s));
	(void)r;
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* The deadline helpers' pause between polls (h_wait_until and the like), not a test's. */
void h__sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool gone(struct proc *p)
{
	if (!p->child)
		return kill(p->pid, 0) < 0 && errno == ESRCH;
	siginfo_t si = {0};
	if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno == ECHILD;
	return si.si_pid == p->pid;
}

/* Signals a registered process (its whole group if it is our child). */
static void signal_proc(struct proc *p, int sig)
{
	kill(p->child ? -p->pid : p->pid, sig);
}

/* The leader has exited (not yet reaped): kill what is left of its group, then reap.
 * Reaping last keeps the group id from being reused in between. */
static int reap(struct proc *p)
{
	int status = 0, code = -1;
	if (p->child) {
		kill(-p->pid, SIGKILL);
		if (waitpid(p->pid, &status, 0) == p->pid)
			code = exit_code(status);
	}
	p->pid = 0;
	return code;
}

/* Async-signal-safe: TERM every process, wait up to the grace, KILL the rest, reap. */
void h__kill_all(void)
{
	for (int i = 0; i < MAXPROC; i++)
		if (procs[i].pid > 0)
			signal_proc(&procs[i], SIGTERM);
	for (int waited = 0;; waited += 10) {
		bool left = false;
		for (int i = 0; i < MAXPROC; i++) {
			if (procs[i].pid <= 0)
				continue;
			if (gone(&procs[i]))
				reap(&procs[i]);
			else
				left = true;
		}
		if (!left)
			return;
		if (waited >= STOP_GRACE_MS)
			break;
		h__sleep_ms(10);
	}
	for (int i = 0; i < MAXPROC; i++) {
		if (procs[i].pid <= 0)
			continue;
		signal_proc(&procs[i], SIGKILL);
		reap(&procs[i]);
	}
}

static struct proc *slot_of(pid_t pid)
{
	for (int i = 0; i < MAXPROC; i++)
		if (procs[i].pid == pid && pid > 0)
			return &procs[i];
	return NULL;
}

static bool add_proc(pid_t pid, bool child)
{
	struct proc *p = NULL;
	for (int i = 0; i < MAXPROC && !p; i++)
		if (procs[i].pid == 0)
			p = &procs[i];
	if (!p)
		return false;
	p->child = child;
	p->pid = pid;
	return true;
}

void h_adopt(pid_t pid)
{
	h__init();
	if (pid > 0 && !slot_of(pid))
		add_proc(pid, false);
}

/* Forks a registered child in its own process group that dies with us, with stdin
 * from /dev/null and stdout/stderr on out/err (-1: inherited), and execs argv. */
static pid_t spawn(const char *const argv[], int out, int err)
{
	h__init();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0)
		return -1;
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid < 0) {
		close(null);
		return -1;
	}
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(null, 0);
		if (out >= 0)
			dup2(out, 1);
		if (err >= 0)
			dup2(err, 2);
		execvp(argv[0], (char *const *)argv);
		put(2, "harness: cannot exec ");
		put(2, argv[0]);
		put(2, "\n");
		_exit(127);
	}
	close(null);
	setpgid(pid, pid); /* also in the parent, so a kill right away hits the group */
	if (!add_proc(pid, true)) {
		fprintf(stderr, "harness: more than %d processes\n", MAXPROC);
		kill(-pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

pid_t h_spawn(const char *log, const char *const argv[])
{
	h__init();
	int fd = -1;
	if (log) {
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
		if (fd < 0) {
			fprintf(stderr, "harness: cannot open %s: %s\n", log, strerror(errno));
			return -1;
		}
		h__track_log(log);
	}
	pid_t pid = spawn(argv, fd, fd);
	if (fd >= 0)
		close(fd);
	return pid;
}

pid_t h_spawn_sh(const char *log, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = h__vfmt(fmt, ap);
	va_end(ap);
	if (!cmd)
		return -1;
	char *full = NULL;
	pid_t pid = -1;
	if (asprintf(&full, "exec %s", cmd) >= 0) {
		const char *argv[] = {"/bin/sh", "-c", full, NULL};
		pid = h_spawn(log, argv);
	}
	free(full);
	free(cmd);
	return pid;
}

/* Waits up to timeout_ms for the leader to exit, then SIGKILLs its group; reaps. */
static int await_proc(struct proc *p, int timeout_ms, bool *killed)
{
	for (int waited = 0; !gone(p); waited += 5) {
		if (waited >= timeout_ms) {
			signal_proc(p, SIGKILL);
			if (killed)
				*killed = true;
			break;
		}
		h__sleep_ms(5);
	}
	return reap(p);
}

int h_proc_stop(pid_t pid, bool kill9, int grace_ms)
{
	struct proc *p = slot_of(pid);
	if (!p)
		return -1;
	signal_proc(p, kill9 ? SIGKILL : SIGTERM);
	return await_proc(p, grace_ms, NULL);
}

bool h_proc_exited(pid_t pid, int *code)
{
	struct proc *p = slot_of(pid);
	if (!p || !gone(p)) {
		if (!p && code)
			*code = -1;
		return !p;
	}
	int c = reap(p);
	if (code)
		*code = c;
	return true;
}

/* Appends what fd has to read to *buf; false at EOF or error. */
static bool drain(int fd, char **buf, size_t *len, size_t *cap)
{
	if (*len + 4096 >= *cap) {
		size_t ncap = *cap ? *cap * 2 : 8192;
		char *b = realloc(*buf, ncap);
		if (!b)
			return false;
		*buf = b;
		*cap = ncap;
		(*buf)[*len] = 0;
	}
	ssize_t n = read(fd, *buf + *len, *cap - *len - 1);
	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	*len += (size_t)n;
	(*buf)[*len] = 0;
	return true;
}

static int run(char **out, char **err, bool merge, const char *cmd)
{
	int po[2], pe[2] = {-1, -1};
	if (pipe2(po, O_CLOEXEC) < 0)
		return -1;
	if (!merge && pipe2(pe, O_CLOEXEC) < 0) {
		close(po[0]), close(po[1]);
		return -1;
	}
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	pid_t pid = spawn(argv, po[1], merge ? po[1] : pe[1]);
	close(po[1]);
	if (!merge)
		close(pe[1]);
	if (pid < 0) {
		close(po[0]);
		if (!merge)
			close(pe[0]);
		return -1;
	}
	char *buf[2] = {NULL, NULL};
	size_t len[2] = {0, 0}, cap[2] = {0, 0};
	int fds[2] = {po[0], merge ? -1 : pe[0]};
	long long deadline = h_now_ms() + RUN_TIMEOUT_MS;
	bool timed_out = false;
	while (fds[0] >= 0 || fds[1] >= 0) {
		struct pollfd pf[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
		long long left = deadline - h_now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(pf, 2, (int)left) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (fds[i] >= 0 && (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) &&
				!drain(fds[i], &buf[i], &len[i], &cap[i])) {
				close(fds[i]);
				fds[i] = -1;
			}
		}
	}
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	/* stdout closed: the command is exiting (or detached its output; then the same
	 * deadline applies). */
	struct proc *p = slot_of(pid);
	long long left = deadline - h_now_ms();
	int code = p ? await_proc(p, timed_out || left < 0 ? 0 : (int)left, &timed_out) : -1;
	if (timed_out) {
		fprintf(stderr, "harness: timed out after %d ms: %s\n", RUN_TIMEOUT_MS, cmd);
		code = 124;
	}
	for (int i = 0; i < 2; i++)
		if (!buf[i])
			buf[i] = strdup("");
	char **dst[2] = {out, err};
	for (int i = 0; i < 2; i++) {
		if (dst[i]) {
			*dst[i] = buf[i];
		} else {
			if (code != 0 && buf[i] && *buf[i])
				fprintf(stderr, "harness: `%s` exited %d:\n%s", cmd, code, buf[i]);
			free(buf[i]);
		}
	}
	return code;
}

int h_run(char **out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = h__vfmt(fmt, ap);
	va_end(ap);
	if (!cmd)
		return -1;
	int code = run(out, NULL, true, cmd);
	free(cmd);
	return code;
}

int h_run2(char **out, char **err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = h__vfmt(fmt, ap);
	va_end(ap);
	if (!cmd)
		return -1;
	int code = run(out, err, false, cmd);
	free(cmd);
	return code;
}

struct output {
	const char *cmd, *want;
	char *out;
};

static bool output_has(void *arg)
{
	struct output *o = arg;
	free(o->out);
	o->out = NULL;
	run(&o->out, NULL, true, o->cmd);
	return o->out && strstr(o->out, o->want);
}

bool h_wait_output(const char *want, int timeout_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *cmd = h__vfmt(fmt, ap);
	va_end(ap);
	if (!cmd)
		return false;
	struct output o = {cmd, want, NULL};
	bool ok = h_wait_until(output_has, &o, timeout_ms);
	if (!ok)
		fprintf(stderr, "  `%s` never said \"%s\"; last:\n%s\n", cmd, want,
			o.out ? o.out : "");
	free(o.out);
	free(cmd);
	return ok;
}

/* ---- workloads in /proc ------------------------------------------------------------- */

/* Calls fn for each process with its pid and command line (NUL-separated, len bytes,
 * followed by two NULs). */
static void each_proc(void (*fn)(void *arg, pid_t pid, const char *cmd, size_t len), void *arg)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char path[300], buf[4096];
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 2, f);
		fclose(f);
		buf[len] = buf[len + 1] = '\0';
		fn(arg, (pid_t)strtol(e->d_name, NULL, 10), buf, len);
	}
	if (d)
		closedir(d);
}

struct wl {
	const char *tag, *suffix;
	pid_t *pids;
	int max, n;
	bool adopt;
};

static bool is_workload(const struct wl *w, const char *cmd, size_t len)
{
	const char *arg = cmd + strlen(cmd) + 1, *base = strrchr(cmd, '/');
	/* /bin/sleep, or sleep as a script's exec names it (test_install's artifacts) */
	return !strcmp(base ? base + 1 : cmd, "sleep") && arg < cmd + len &&
		!strncmp(arg, w->tag, strlen(w->tag)) &&
		(!w->suffix || !strcmp(arg + strlen(w->tag), w->suffix));
}

static void on_proc(void *arg, pid_t pid, const char *cmd, size_t len)
{
	struct wl *w = arg;
	if (is_workload(w, cmd, len)) {
		if (w->pids && w->n < w->max)
			w->pids[w->n] = pid;
		w->n++;
		if (w->adopt)
			h_adopt(pid);
		return;
	}
	if (!w->adopt)
		return;
	bool shim = false, ours = false;
	size_t tl = strlen(h_tmpdir());
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1) {
		shim |= !strcmp(cmd + i, "shim");
		ours |= !strncmp(cmd + i, h_tmpdir(), tl);
	}
	if (shim && ours)
		h_adopt(pid);
}

int h_workloads(const char *tag, const char *suffix, pid_t *pids, int max)
{
	struct wl w = {tag, suffix, pids, max, 0, false};
	each_proc(on_proc, &w);
	return w.n;
}

struct wl_goal {
	const char *tag, *suffix;
	int want;
};

static bool workloads_are(void *arg)
{
	const struct wl_goal *g = arg;
	return h_workloads(g->tag, g->suffix, NULL, 0) == g->want;
}

bool h_wait_workloads(const char *tag, const char *suffix, int want, int timeout_ms)
{
	struct wl_goal g = {tag, suffix, want};
	bool ok = h_wait_until(workloads_are, &g, timeout_ms);
	if (!ok)
		fprintf(stderr, "  want %d workloads %s%s, have %d\n", want, tag,
			suffix ? suffix : "*", h_workloads(tag, suffix, NULL, 0));
	return ok;
}

void h_adopt_workloads(const char *tag)
{
	struct wl w = {tag, NULL, NULL, 0, 0, true};
	each_proc(on_proc, &w);
}

/* A process whose command line names dir (a shim's --state under the temp dir, a server
 * whose config is there): started by this test, directly or not. */
static void on_user(void *arg, pid_t pid, const char *cmd, size_t len)
{
	const char *dir = arg;
	size_t n = strlen(dir);
	if (pid == getpid() || n == 0)
		return;
	for (size_t i = 0; i + n <= len; i++)
		if (!memcmp(cmd + i, dir, n)) {
			h_adopt(pid);
			return;
		}
}

void h__adopt_users(const char *dir)
{
	each_proc(on_user, (void *)dir);
}

long h_proc_status_kb(pid_t pid, const char *field)
{
	char *s = h_read(h_str("/proc/%d/status", (int)pid));
	const char *key = h_str("\n%s:", field);
	const char *p = s ? strstr(s, key) : NULL;
	long kb = p ? strtol(p + strlen(key), NULL, 10) : -1;
	free(s);
	return kb;
}

bool h_proc_smaps_kb(pid_t pid, long *pss, long *rss)
{
	char *s = h_read(h_str("/proc/%d/smaps_rollup", (int)pid));
	const char *p = s ? strstr(s, "\nPss:") : NULL, *r = s ? strstr(s, "\nRss:") : NULL;
	if (p && r) {
		*pss = strtol(p + 5, NULL, 10);
		*rss = strtol(r + 5, NULL, 10);
	}
	free(s);
	return p && r;
}
