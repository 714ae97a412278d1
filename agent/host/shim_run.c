/* A run of an instance's workload (see shim_int.h): its argv and environment, the
 * artifact's check, the fence and cgroup, the fork and the exec, and what the child
 * tells the shim when its exec fails. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "secrets_int.h"
#include "shim_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/host/install.h"
#include "outpost/agent/host/wasm.h"
#include "outpost/agent/model/sealed.h"

#define BASE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* --- the workload's argv and environment ----------------------------------------------- */

static int setenv_in(char ***env, size_t *n, const char *key, const char *val)
{
	size_t kl = strlen(key);
	char *kv = NULL;
	if (asprintf(&kv, "%s=%s", key, val) < 0)
		return OP_ENOMEM;
	for (size_t i = 0; i < *n; i++)
		if (!strncmp((*env)[i], key, kl) && (*env)[i][kl] == '=') {
			free((*env)[i]);
			(*env)[i] = kv;
			return 0;
		}
	char **v = realloc(*env, (*n + 2) * sizeof *v);
	if (!v) {
		free(kv);
		return OP_ENOMEM;
	}
	v[(*n)++] = kv;
	v[*n] = NULL;
	*env = v;
	return 0;
}

/* A minimal clean environment, then the component's env on top of it. A wasm
 * component's env and the instance's names go to the module (--env), not to the
 * runtime. */
int shim_build_exec(shim *s)
{
	const op_component *c = s->comp;
	if (c->type == OP_COMP_WASM) {
		size_t n = 0;
		char **guest = NULL;
		const char *base[][2] = {{"PATH", BASE_PATH}, {"HOME", "/"}, {"LANG", "C.UTF-8"}};
		for (size_t i = 0; i < sizeof base / sizeof *base; i++)
			if (setenv_in(&s->envp, &n, base[i][0], base[i][1]) != 0)
				return OP_ENOMEM;
		n = 0;
		const char *names[][2] = {{"OUTPOST_INSTANCE", s->st.id},
			{"OUTPOST_APP", s->cmd.app->name}, {"OUTPOST_COMPONENT", c->name}};
		int rc = 0;
		for (size_t i = 0; rc == 0 && i < sizeof names / sizeof *names; i++)
			rc = setenv_in(&guest, &n, names[i][0], names[i][1]);
		if (rc == 0)
			rc = op_wasm_argv(c, s->wasm_runtime, guest, &s->argv);
		for (size_t i = 0; guest && guest[i]; i++)
			free(guest[i]);
		free(guest);
		s->argv_owned = true;
		s->exec_path = s->wasm_runtime;
		return rc;
	}
	s->exec_path = c->command;
	s->argv = calloc(c->args.n + 2, sizeof *s->argv);
	if (!s->argv)
		return OP_ENOMEM;
	s->argv[0] = c->command;
	for (size_t i = 0; i < c->args.n; i++)
		s->argv[i + 1] = c->args.v[i];
	size_t n = 0;
	const char *base[][2] = {{"PATH", BASE_PATH}, {"HOME", c->workdir ? c->workdir : "/"},
		{"LANG", "C.UTF-8"}, {"OUTPOST_INSTANCE", s->st.id},
		{"OUTPOST_APP", s->cmd.app->name}, {"OUTPOST_COMPONENT", c->name}};
	for (size_t i = 0; i < sizeof base / sizeof *base; i++)
		if (setenv_in(&s->envp, &n, base[i][0], base[i][1]) != 0)
			return OP_ENOMEM;
	for (size_t i = 0; i < c->env.n; i++)
		if (setenv_in(&s->envp, &n, c->env.v[i].key, c->env.v[i].val) != 0)
			return OP_ENOMEM;
	return 0;
}

/* --- one run --------------------------------------------------------------------------- */

/* The artifact must have the digest its spec wants for this arch: installed from the
 * host's cache or the site's store when it does not (install.h). */
static int check_artifact(shim *s, char *why, size_t n)
{
	if (!s->comp->has_artifact)
		return 0;
	const op_artifact *a = &s->comp->artifact;
	const char *arch = op_arch_self();
	const char *want = op_artifact_digest(a, arch);
	if (!want) {
		snprintf(why, n, "artifact %s: no sha256 for arch %s", a->path, arch);
		return OP_EINVAL;
	}
	op_install_req r = {a, want, s->state_dir, s->nats};
	enum op_install_src from;
	op_err e = {0};
	if (op_install(&r, &from, &e) != 0) {
		snprintf(why, n, "%s", e.msg);
		return OP_EINVAL;
	}
	return 0;
}

/* What the child reports through the exec pipe when it cannot start the command. */
struct exec_fail {
	int stage; /* 1 workdir, 2 exec, 3 fence */
	int err;
	int step; /* fence: op_fence_step_name */
};

static void child_fail(int fd, int stage, int step)
{
	struct exec_fail f = {stage, errno, step};
	ssize_t w = write(fd, &f, sizeof f);
	(void)w;
	_exit(127);
}

/* The fence of this run, from the box's users as they are now; the limits the
 * instance's cgroup holds (s->cgp) are left out of its rlimits. */
int shim_plan_fence(shim *s, op_fence_plan *p, char *why, size_t n)
{
	char *passwd = NULL, *group = NULL;
	size_t len;
	op_err e = {0};
	int rc = op_read_file("/etc/passwd", 1 << 22, &passwd, &len, NULL);
	if (rc != 0)
		passwd = NULL;
	if (op_read_file("/etc/group", 1 << 22, &group, &len, NULL) != 0)
		group = NULL;
	unsigned cg = (s->cgp.memory ? OP_FENCE_CG_MEMORY : 0) |
		(s->cgp.processes ? OP_FENCE_CG_PROCESSES : 0);
	rc = op_fence_plan_make(
		&s->comp->fence, s->default_user, passwd, group, getuid(), getgid(), cg, p, &e);
	if (rc != 0)
		snprintf(why, n, "fence: %.400s", e.msg);
	/* A module's memory is held by the runtime's page limit (op_wasm_argv), not by
	 * RLIMIT_DATA, which the runtime's own reservations would trip; its dirs are made
	 * for the user it runs as. */
	if (rc == 0 && s->comp->type == OP_COMP_WASM) {
		p->memory = 0;
		rc = op_wasm_dirs_make(s->comp, p->uid, p->gid, &e);
		if (rc != 0)
			snprintf(why, n, "%.400s", e.msg);
	}
	free(passwd);
	free(group);
	return rc;
}

/* The run's workload is gone: what is left in its cgroup goes, and the cgroup with it.
 * True when the kernel's OOM killer acted there. */
bool shim_cgroup_end(shim *s)
{
	if (!s->cgp.use || s->cg.procs_fd < 0)
		return false;
	s->fence.cgroup_fd = -1;
	bool oom = op_cgroup_inst_end(&s->cg);
	if (op_cgroup_inst_remove(&s->cg, 1000) != 0)
		op_log_warn("cannot remove the instance's cgroup", "id=%s cgroup=%s error=\"%s\"",
			s->st.id, s->cg.dir, strerror(errno));
	return oom;
}

/* Starts the workload; on an error that a restart would not cure, ends the instance. */
void shim_run(shim *s)
{
	char why[512];
	op_fence_plan fence;
	s->restart_at = 0;
	s->st.retry_at = 0;
	if (check_artifact(s, why, sizeof why) != 0 ||
		shim_plan_fence(s, &fence, why, sizeof why) != 0) {
		shim_fail(s, why, false);
		return;
	}
	if (s->cgp.use) { /* a limit that cannot be applied fails the start */
		op_err e = {0};
		if (op_cgroup_inst_make(s->cgroup_base, s->st.id, &s->cgp, &s->cg, &e) != 0) {
			shim_fail(s, e.msg, false);
			return;
		}
		fence.cgroup_fd = s->cg.procs_fd;
	}
	int ep[2];
	if (pipe2(ep, O_CLOEXEC) != 0) {
		snprintf(why, sizeof why, "pipe: %s", strerror(errno));
		shim_cgroup_end(s);
		shim_fail(s, why, false);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		op_child_reset();
		dup2(s->null, 0);
		dup2(s->out_w, 1);
		dup2(s->out_w, 2);
		int step = op_fence_apply(&fence);
		if (step != 0)
			child_fail(ep[1], 3, step);
		if (chdir(s->comp->workdir ? s->comp->workdir : "/") != 0)
			child_fail(ep[1], 1, 0);
		execve(s->exec_path, s->argv, s->envp);
		child_fail(ep[1], 2, 0);
	}
	close(ep[1]);
	if (pid < 0) {
		close(ep[0]);
		snprintf(why, sizeof why, "fork: %s", strerror(errno));
		shim_cgroup_end(s);
		shim_fail(s, why, false);
		return;
	}
	setpgid(pid, pid); /* also here, so that a stop right away reaches the group */
	struct exec_fail f;
	ssize_t r;
	while ((r = read(ep[0], &f, sizeof f)) < 0 && errno == EINTR)
		;
	close(ep[0]);
	if (r == (ssize_t)sizeof f) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		shim_cgroup_end(s);
		if (f.stage == 3)
			snprintf(why, sizeof why, "fence: %s (%s): %s", op_fence_step_name(f.step),
				fence.who, strerror(f.err));
		else
			snprintf(why, sizeof why, "%s %s: %s", f.stage == 1 ? "workdir" : "exec",
				f.stage == 1 ? s->comp->workdir : s->exec_path, strerror(f.err));
		s->st.exit_code = 127;
		shim_fail(s, why, false);
		return;
	}
	s->st.pid = pid;
	s->st.pid_start = 0;
	op_proc_start_time(pid, &s->st.pid_start);
	s->st.state = OP_INST_RUNNING;
	s->st.error[0] = '\0';
	s->fence = fence;
	s->probe.fence = &s->fence;
	s->started_ms = op_now_ms();
	shim_health_start(s, s->started_ms);
	s->shed = true;
	shim_note(s);
	op_log_info("instance started", "id=%s pid=%d restarts=%d", s->st.id, pid, s->st.restarts);
}
