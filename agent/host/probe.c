/* Health probes as small non-blocking state machines (see probe.h): the shim's poll loop
 * owns the waiting, so that a slow probe never holds up a stop or the workload's output,
 * and each probe costs one fd (and, for exec, one short-lived process). */
#include "outpost/agent/host/probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

void op_child_reset(void)
{
	setpgid(0, 0);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
}

static void end(op_probe_run *r, enum op_probe_result res, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* What failed is prefixed with the probe ("http :8080/healthz: ..."). */
static void end(op_probe_run *r, enum op_probe_result res, const char *fmt, ...)
{
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->active = false;
	r->result = res;
	r->why[0] = '\0';
	if (res == OP_PROBE_PASS)
		return;
	const op_health_check *hc = r->hc;
	char what[192];
	if (hc->probe == OP_PROBE_EXEC)
		snprintf(what, sizeof what, "exec %s", hc->command);
	else if (hc->probe == OP_PROBE_HTTP)
		snprintf(what, sizeof what, "http :%d%s", hc->port, hc->path ? hc->path : "/");
	else
		snprintf(what, sizeof what, "tcp :%d", hc->port);
	int w = snprintf(r->why, sizeof r->why, "%s: ", what);
	if (w < 0 || (size_t)w >= sizeof r->why)
		return; /* cut short: the probe says enough */
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->why + w, sizeof r->why - (size_t)w, fmt, ap);
	va_end(ap);
}

/* --- exec ------------------------------------------------------------------------------ */

static bool begin_exec(op_probe_run *r, char *const envp[])
{
	const op_health_check *hc = r->hc;
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0) {
		end(r, OP_PROBE_FAIL, "pipe: %s", strerror(errno));
		return false;
	}
	pid_t pid = fork();
	if (pid == 0) {
		op_child_reset();
		int null = open("/dev/null", O_RDONLY);
		if (null >= 0)
			dup2(null, 0);
		dup2(p[1], 1);
		dup2(p[1], 2);
		/* A probe runs as fenced in as its workload: same user, limits, umask. */
		int step = r->fence ? op_fence_apply(r->fence) : 0;
		if (step != 0) {
			dprintf(2, "fence: %s: %s\n", op_fence_step_name(step), strerror(errno));
			_exit(127);
		}
		char **argv = calloc(hc->args.n + 2, sizeof *argv);
		if (argv) {
			argv[0] = hc->command;
			for (size_t i = 0; i < hc->args.n; i++)
				argv[i + 1] = hc->args.v[i];
			execve(hc->command, argv, envp);
		}
		dprintf(2, "cannot run: %s\n", strerror(errno));
		_exit(127);
	}
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		end(r, OP_PROBE_FAIL, "fork: %s", strerror(errno));
		return false;
	}
	setpgid(pid, pid);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	r->fd = p[0];
	r->pid = pid;
	return true;
}

/* Keeps the last non-empty line of what the probe printed, capped. */
static void take_output(op_probe_run *r, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n' || b[i] == '\r') {
			r->phase = 1; /* a line ended: the next byte starts a new one */
			continue;
		}
		if (r->phase) {
			r->len = 0;
			r->phase = 0;
		}
		if (r->len < sizeof r->buf - 1)
			r->buf[r->len++] = b[i];
	}
	r->buf[r->len] = '\0';
}

static void drain_exec(op_probe_run *r)
{
	char b[1024];
	for (;;) {
		ssize_t n = read(r->fd, b, sizeof b);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			r->eof = true;
		if (n <= 0)
			return;
		take_output(r, b, (size_t)n);
	}
}

static void end_exec(op_probe_run *r)
{
	drain_exec(r);
	int st = r->status;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		end(r, OP_PROBE_PASS, "%s", "");
	else if (WIFEXITED(st))
		end(r, OP_PROBE_FAIL, "exit %d%s%s", WEXITSTATUS(st), r->len ? ": " : "", r->buf);
	else
		end(r, OP_PROBE_FAIL, "signal %d%s%s", WIFSIGNALED(st) ? WTERMSIG(st) : 0,
			r->len ? ": " : "", r->buf);
}

bool op_probe_reaped(op_probe_run *r, int status)
{
	if (!r->active || r->hc->probe != OP_PROBE_EXEC || r->reaped)
		return false;
	r->pid = 0;
	r->reaped = true;
	r->status = status;
	/* Done once it exited, whatever it left running with the pipe open. */
	end_exec(r);
	return true;
}

/* --- http and tcp ---------------------------------------------------------------------- */

static bool begin_connect(op_probe_run *r)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		end(r, OP_PROBE_FAIL, "socket: %s", strerror(errno));
		return false;
	}
	r->fd = fd;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->hc->port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS) {
		end(r, OP_PROBE_FAIL, "connect: %s", strerror(errno));
		return false;
	}
	return true; /* connected or in progress: POLLOUT tells */
}

/* "HTTP/1.x NNN ...": the status, or -1. */
static int http_status(const char *line)
{
	if (strncmp(line, "HTTP/", 5) != 0)
		return -1;
	const char *sp = strchr(line, ' ');
	if (!sp || sp[1] < '1' || sp[1] > '5' || sp[2] < '0' || sp[2] > '9' || sp[3] < '0' ||
		sp[3] > '9' || (sp[4] != ' ' && sp[4] != '\0'))
		return -1;
	return (sp[1] - '0') * 100 + (sp[2] - '0') * 10 + (sp[3] - '0');
}

static bool http_read(op_probe_run *r)
{
	for (;;) {
		ssize_t n = recv(r->fd, r->buf + r->len, sizeof r->buf - 1 - r->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n < 0) {
			end(r, OP_PROBE_FAIL, "read: %s", strerror(errno));
			return true;
		}
		r->len += (size_t)n;
		r->buf[r->len] = '\0';
		char *eol = strpbrk(r->buf, "\r\n");
		if (!eol && n > 0 && r->len < sizeof r->buf - 1)
			continue;
		if (eol)
			*eol = '\0';
		int code = http_status(r->buf);
		if (code >= 200 && code < 300)
			end(r, OP_PROBE_PASS, "%s", "");
		else if (code > 0)
			end(r, OP_PROBE_FAIL, "status %d", code);
		else if (r->len == 0)
			end(r, OP_PROBE_FAIL, "%s", "closed without a response");
		else
			end(r, OP_PROBE_FAIL, "%s", "not an HTTP status line");
		return true;
	}
}

static bool step_socket(op_probe_run *r, short revents)
{
	if (r->phase == 0) {
		int err = 0;
		socklen_t l = sizeof err;
		if (getsockopt(r->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
			err = errno;
		if (err) {
			end(r, OP_PROBE_FAIL, "connect: %s", strerror(err));
			return true;
		}
		if (!(revents & POLLOUT))
			return false;
		if (r->hc->probe == OP_PROBE_TCP) {
			end(r, OP_PROBE_PASS, "%s", "");
			return true;
		}
		r->phase = 1;
	}
	if (r->phase == 1) {
		char req[OP_HEALTH_PATH_MAX + 64];
		int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n",
			r->hc->path ? r->hc->path : "/");
		if (n < 0 || (size_t)n >= sizeof req) {
			end(r, OP_PROBE_FAIL, "%s", "path too long");
			return true;
		}
		ssize_t w = send(r->fd, req + r->sent, (size_t)n - r->sent, MSG_NOSIGNAL);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			end(r, OP_PROBE_FAIL, "write: %s", strerror(errno));
			return true;
		}
		if (w > 0)
			r->sent += (size_t)w;
		if (r->sent < (size_t)n)
			return false;
		r->phase = 2;
		r->len = 0;
		return false;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR))
		return http_read(r);
	return false;
}

/* --- the probe ------------------------------------------------------------------------- */

bool op_probe_begin(op_probe_run *r, const op_health_check *hc, char *const envp[], int64_t now_ms)
{
	const op_fence_plan *fence = r->fence;
	memset(r, 0, sizeof *r);
	r->fence = fence;
	r->hc = hc;
	r->fd = -1;
	r->active = true;
	r->deadline_ms = now_ms + hc->timeout_ms;
	return hc->probe == OP_PROBE_EXEC ? begin_exec(r, envp) : begin_connect(r);
}

short op_probe_events(const op_probe_run *r)
{
	if (!r->active || r->fd < 0)
		return 0;
	if (r->hc->probe == OP_PROBE_EXEC || r->phase == 2)
		return POLLIN;
	return POLLOUT;
}

bool op_probe_step(op_probe_run *r, short revents)
{
	if (!r->active || r->fd < 0)
		return false;
	if (r->hc->probe != OP_PROBE_EXEC)
		return step_socket(r, revents);
	drain_exec(r);
	if (r->eof) { /* its output ended: from now on only its exit matters */
		close(r->fd);
		r->fd = -1;
	}
	return false;
}

static void kill_exec(op_probe_run *r)
{
	if (r->pid <= 0)
		return;
	kill(-r->pid, SIGKILL); /* before it is reaped: the group id cannot be reused */
	while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
		;
	r->pid = 0;
}

void op_probe_timeout(op_probe_run *r)
{
	if (!r->active)
		return;
	if (r->hc->probe == OP_PROBE_EXEC) {
		kill_exec(r);
		if (r->fd >= 0)
			drain_exec(r);
	}
	end(r, OP_PROBE_TIMEOUT, "timed out after %lld ms%s%s", (long long)r->hc->timeout_ms,
		r->len && r->hc->probe == OP_PROBE_EXEC ? ": " : "",
		r->hc->probe == OP_PROBE_EXEC ? r->buf : "");
}

void op_probe_cancel(op_probe_run *r)
{
	if (r->active && r->hc->probe == OP_PROBE_EXEC)
		kill_exec(r);
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->active = false;
}
