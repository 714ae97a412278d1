/* The WebAssembly runtime as the shim's command (wasm.h). WasmEdge's command line:
 * `wasmedge [--dir guest:host[:readonly]]... [--env N=V]... [--memory-page-limit P]
 * module.wasm [args]...`; the module sees only the dirs given and the env given, so
 * the runtime's own environment (the shim's clean one) never reaches the guest. */
#include "outpost/agent/host/wasm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outpost/agent/base/util.h"

bool op_wasm_version_parse(const char *text, char out[OP_WASM_VERSION_MAX + 1])
{
	snprintf(out, OP_WASM_VERSION_MAX + 1, "none");
	const char *p = text ? strstr(text, "version ") : NULL;
	if (!p)
		return false;
	p += strlen("version ");
	size_t n = strspn(p, "0123456789.");
	if (n == 0 || n > OP_WASM_VERSION_MAX || p[0] == '.')
		return false;
	snprintf(out, OP_WASM_VERSION_MAX + 1, "%.*s", (int)n, p);
	return true;
}

void op_wasm_version(const char *runtime, char out[OP_WASM_VERSION_MAX + 1])
{
	snprintf(out, OP_WASM_VERSION_MAX + 1, "none");
	int p[2];
	if (access(runtime, X_OK) != 0 || pipe2(p, O_CLOEXEC) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);
		if (null < 0)
			_exit(126);
		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		char *argv[] = {(char *)runtime, "--version", NULL};
		char *envp[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};
		execve(runtime, argv, envp);
		_exit(127);
	}
	close(p[1]);
	char buf[512];
	size_t len = 0;
	int64_t deadline = op_now_ms() + 10000; /* qemu-user is slow to start */
	while (pid > 0 && len < sizeof buf - 1) {
		int64_t left = deadline - op_now_ms();
		struct pollfd pf = {p[0], POLLIN, 0};
		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			break;
		ssize_t r = read(p[0], buf + len, sizeof buf - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	close(p[0]);
	if (pid > 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	op_wasm_version_parse(buf, out);
}

/* Appends s (taken; NULL: out of memory) to the NULL-terminated *v. */
static int push_own(char ***v, size_t *n, char *s)
{
	char **w = s ? realloc(*v, (*n + 2) * sizeof *w) : NULL;
	if (!w) {
		free(s);
		return OP_ENOMEM;
	}
	w[(*n)++] = s;
	w[*n] = NULL;
	*v = w;
	return 0;
}

static int push(char ***v, size_t *n, const char *s)
{
	return push_own(v, n, strdup(s));
}

static char *join(const char *a, const char *sep, const char *b, const char *tail)
{
	char *s = NULL;
	return asprintf(&s, "%s%s%s%s", a, sep, b, tail) < 0 ? NULL : s;
}

int op_wasm_argv(const op_component *c, const char *runtime, char *const *base, char ***argv)
{
	char **v = NULL;
	size_t n = 0;
	int rc = push(&v, &n, runtime);
	for (size_t i = 0; rc == 0 && i < c->ndirs; i++) {
		rc = push(&v, &n, "--dir");
		if (rc == 0)
			rc = push_own(&v, &n,
				join(c->dirs[i].guest, ":", c->dirs[i].host,
					c->dirs[i].readonly ? ":readonly" : ""));
	}
	for (size_t i = 0; rc == 0 && base && base[i]; i++) {
		rc = push(&v, &n, "--env");
		if (rc == 0)
			rc = push(&v, &n, base[i]);
	}
	for (size_t i = 0; rc == 0 && i < c->env.n; i++) {
		rc = push(&v, &n, "--env");
		if (rc == 0)
			rc = push_own(&v, &n, join(c->env.v[i].key, "=", c->env.v[i].val, ""));
	}
	if (rc == 0 && c->fence.memory) {
		char pages[32];
		snprintf(pages, sizeof pages, "%lld", (long long)(c->fence.memory / OP_WASM_PAGE));
		rc = push(&v, &n, "--memory-page-limit");
		if (rc == 0)
			rc = push(&v, &n, pages);
	}
	if (rc == 0)
		rc = push(&v, &n, c->artifact.path);
	for (size_t i = 0; rc == 0 && i < c->args.n; i++)
		rc = push(&v, &n, c->args.v[i]);
	if (rc != 0) {
		op_wasm_argv_free(v);
		return rc;
	}
	*argv = v;
	return 0;
}

void op_wasm_argv_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

/* mkdir -p of path, each dir made owned by uid:gid. */
static int make_dir(const char *path, uid_t uid, gid_t gid, op_err *e)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return op_err_set(e, OP_EINVAL, "dirs: %s: path too long", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(buf, 0750) == 0) {
			if (chown(buf, uid, gid) != 0)
				return op_err_set(
					e, OP_EIO, "dirs: chown %s: %s", buf, strerror(errno));
		} else if (errno != EEXIST) {
			return op_err_set(e, OP_EIO, "dirs: mkdir %s: %s", buf, strerror(errno));
		}
		*p = saved;
		if (!saved)
			break;
	}
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
		return op_err_set(e, OP_EIO, "dirs: %s is not a directory", path);
	return 0;
}

int op_wasm_dirs_make(const op_component *c, uid_t uid, gid_t gid, op_err *e)
{
	for (size_t i = 0; i < c->ndirs; i++) {
		int rc = make_dir(c->dirs[i].host, uid, gid, e);
		if (rc != 0)
			return rc;
	}
	return 0;
}
