/* `outpost shim --state DIR --id ID`: the supervisor of one instance, started by
 * `outpost host` in a session of its own so that it outlives the host. It is the
 * workload's parent: it installs the artifact when missing or wrong (install.h), starts the command
 * in its own process group with a clean environment, copies its output into a capped log, waits for
 * it, and applies the restart policy with backoff until the instance ends (exited) or is stopped
 * (SIGTERM: TERM to the workload's group, KILL after the grace). A failure (a crash loop, an
 * artifact not there or wrong, a command that cannot start) makes the instance failed, not ended:
 * it is tried again after a backoff of its own, capped at
 * --max-backoff, and at once on SIGUSR1 (`outpost restart`). Every state change is written to
 * state.json, atomically, before it is logged. It holds the instance's lock for its whole life, so
 * a second shim for the same instance gives up at once.
 *
 * While the workload runs, the shim keeps its health (health.h): it runs the component's probe
 * every interval (probe.h), and restarts an instance that becomes unhealthy as it would a crash
 * (SIGTERM, KILL after the grace, then the restart policy). Health and the last failed probe are
 * in state.json for the host's heartbeats.
 *
 * One thread, one poll loop over a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGUSR1), the output
 * pipe and a probe's fd, with the next deadline (backoff, kill, probe) as its timeout. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outpost/agent/base/cli.h"
#include "secrets_int.h"
#include "shim_int.h"
#include "outpost/agent/host/cgroup.h"
#include "outpost/agent/host/fence.h"
#include "outpost/agent/host/health.h"
#include "outpost/agent/host/host.h"
#include "outpost/agent/host/probe.h"
#include "outpost/agent/host/install.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/host/wasm.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/model/sealed.h"

static void save(shim *s, bool sync)
{
	op_err e = {0};
	if (op_shim_state_write(s->state_dir, &s->st, sync, &e) != 0)
		op_log_error("cannot write state", "id=%s error=\"%s\"", s->st.id, e.msg);
}

void shim_save(shim *s)
{
	save(s, true);
}

void shim_note(shim *s)
{
	save(s, false);
}

/* Ends the instance for good in state (failed or exited). The record outlives the run,
 * durable; but a stopped instance's directory is removed as the shim ends (main), so its
 * last record is written as the live ones are (shim_note). */
static void finish(shim *s, enum op_inst_state state, const char *error)
{
	s->st.state = state;
	s->st.pid = 0;
	s->st.pid_start = 0;
	op_proto_text(s->st.error, sizeof s->st.error, error ? error : "");
	save(s, !s->stopping);
	s->done = true;
}

/* A failure a later try may cure: the instance is failed, with why, and is tried again
 * after op_fail_retry_ms (or at once on SIGUSR1). A crash loop retried crashes back to
 * failed at its next quick exit, with the next, longer delay. */
void shim_fail(shim *s, const char *why, bool crash_loop)
{
	s->fails++;
	int64_t delay = op_fail_retry_ms(s->max_backoff_ms, s->fails);
	s->st.state = OP_INST_FAILED;
	s->st.pid = 0;
	s->st.pid_start = 0;
	op_proto_text(s->st.error, sizeof s->st.error, why ? why : "");
	s->st.retry_at = op_wall_ms() + delay;
	s->restart_at = op_now_ms() + delay;
	/* After a crash loop one more quick exit fails it again; after any other failure
	 * (an artifact late, an exec error) the retried run starts a fresh count. */
	s->short_runs = crash_loop && s->policy.loop_limit > 0 ? s->policy.loop_limit - 1 : 0;
	shim_save(s);
	op_log_error("instance failed", "id=%s error=\"%s\" retry_in_ms=%lld", s->st.id,
		s->st.error, (long long)delay);
}

static int exit_code(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return -1;
}

/* The workload's pid has exited: what is left of its group goes too (a restart must
 * not run beside leftovers of the previous run), then the policy decides. The group is
 * killed before the leader is reaped, so that its id cannot have been reused. */
static void on_exit_of_workload(shim *s)
{
	siginfo_t si = {0};
	if (waitid(P_PID, (id_t)s->st.pid, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		si.si_pid != s->st.pid)
		return;
	kill(-s->st.pid, SIGKILL);
	int status = 0;
	while (waitpid(s->st.pid, &status, 0) < 0 && errno == EINTR)
		;
	int code = exit_code(status);
	int64_t ran = op_now_ms() - s->started_ms;
	shim_health_stop(s);
	bool oom = shim_cgroup_end(s);
	char hint[160];
	op_fence_exit_hint(&s->comp->fence, code, oom, hint, sizeof hint);
	/* Stopped for being unhealthy: a failure, whatever it exited with. */
	int judged = s->sick && code == 0 ? 1 : code;
	s->sick = false;
	s->st.exit_code = code;
	s->st.pid = 0;
	s->st.pid_start = 0;
	s->kill_at = 0;
	if (s->stopping) {
		op_log_info("instance stopped", "id=%s code=%d", s->st.id, code);
		finish(s, OP_INST_EXITED, NULL);
		return;
	}
	if (ran >= s->policy.min_run_ms)
		s->fails = 0; /* it ran: a crash now is a new story */
	op_decision d = op_restart_decide(
		&s->policy, s->comp->restart, judged, ran, &s->short_runs);
	switch (d.next) {
	case OP_NEXT_RESTART:
		s->st.restarts++;
		op_log_info("instance exited",
			"id=%s code=%d ran_ms=%lld action=restart delay_ms=%lld oom_killed=%d",
			s->st.id, code, (long long)ran, (long long)d.delay_ms, oom);
		/* The loop starts it (not here: on_signals reaps any child of ours after
		 * this). At once, the new run's state is the next one written. */
		s->restart_at = op_now_ms() + d.delay_ms;
		if (d.delay_ms == 0)
			break;
		s->st.state = OP_INST_BACKOFF;
		shim_note(s);
		break;
	case OP_NEXT_EXITED: {
		/* Ended for good by what may be a limit: the limit is named beside the code. */
		char why[256];
		snprintf(why, sizeof why, "exited with code %d (%s)", code, hint);
		op_log_info("instance exited",
			"id=%s code=%d ran_ms=%lld action=none policy=%s oom_killed=%d", s->st.id,
			code, (long long)ran, op_restart_name(s->comp->restart), oom);
		finish(s, OP_INST_EXITED, judged != 0 && hint[0] ? why : NULL);
		break;
	}
	case OP_NEXT_FAILED: {
		char why[256];
		snprintf(why, sizeof why,
			"crash loop: exited %d times in a row within %lld s "
			"of starting, last code %d%s%s%s",
			s->policy.loop_limit, (long long)s->policy.min_run_ms / 1000, code,
			hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
		shim_fail(s, why, true);
		break;
	}
	}
}

static void begin_stop(shim *s)
{
	if (s->stopping)
		return;
	s->stopping = true;
	if (!s->st.pid) { /* between runs: nothing to wait for */
		op_log_info("instance stopped", "id=%s code=%d", s->st.id, s->st.exit_code);
		finish(s, OP_INST_EXITED, NULL);
		return;
	}
	s->st.state = OP_INST_STOPPING;
	shim_health_stop(s);
	shim_note(s);
	kill(-s->st.pid, SIGTERM);
	s->kill_at = op_now_ms() + s->grace_ms;
}

static void drain_output(shim *s)
{
	char buf[16384]; /* small: every stack page it touches stays the shim's */
	for (;;) {
		ssize_t n = read(s->out_r, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		if (op_outlog_write(&s->log, buf, (size_t)n) != 0)
			return; /* the disk is full: the output is dropped, the workload runs on */
	}
}

static void on_signals(shim *s)
{
	struct signalfd_siginfo si;
	while (read(s->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			if (s->st.pid)
				on_exit_of_workload(s);
			/* Anything else of ours: a probe's exit ends it. */
			int status = 0;
			pid_t p;
			while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
				int64_t begun = s->probe.deadline_ms - s->comp->health.timeout_ms;
				if (s->probe.active && p == s->probe.pid &&
					op_probe_reaped(&s->probe, status))
					shim_probe_ended(s, begun);
			}
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			begin_stop(s);
		} else if (si.ssi_signo == SIGUSR1 && s->st.state == OP_INST_FAILED && !s->st.pid &&
			!s->stopping) {
			op_log_info("instance tried again now", "id=%s", s->st.id);
			s->restart_at = op_now_ms(); /* outpost restart: no more waiting */
		}
	}
}

static void shed(shim *s)
{
	s->shed = false;
	op_shim_shed();
}

static void earliest(int64_t *wake, int64_t t)
{
	if (t > 0 && (*wake < 0 || t < *wake))
		*wake = t;
}

static void loop(shim *s)
{
	while (!s->done) {
		if (s->shed)
			shed(s);
		int64_t now = op_now_ms(), wake = -1;
		earliest(&wake, s->restart_at);
		earliest(&wake, s->kill_at);
		if (s->st.pid && !s->stopping && !s->sick) {
			earliest(&wake, s->probe.active ? s->probe.deadline_ms : s->probe_at);
			earliest(&wake, op_health_due(&s->health, &s->hcfg));
		}
		int timeout = wake < 0 ? -1 : wake <= now ? 0 : (int)(wake - now);
		struct pollfd pf[3] = {{s->sigfd, POLLIN, 0}, {s->out_r, POLLIN, 0},
			{s->probe.fd, op_probe_events(&s->probe), 0}};
		int npf = pf[2].events ? 3 : 2;
		if (poll(pf, (nfds_t)npf, timeout) < 0 && errno != EINTR)
			break;
		if (pf[1].revents & POLLIN)
			drain_output(s);
		if (npf == 3 && pf[2].revents) {
			int64_t begun = s->probe.deadline_ms - s->comp->health.timeout_ms;
			if (op_probe_step(&s->probe, pf[2].revents))
				shim_probe_ended(s, begun);
		}
		if (pf[0].revents & POLLIN)
			on_signals(s);
		now = op_now_ms();
		shim_health_due(s, now);
		if (!s->done && s->kill_at && now >= s->kill_at) {
			op_log_warn("instance did not stop in time",
				"id=%s pid=%d grace_ms=%lld "
				"action=kill",
				s->st.id, s->st.pid, (long long)s->grace_ms);
			kill(-s->st.pid, SIGKILL);
			s->kill_at = 0;
		}
		if (!s->done && s->restart_at && now >= s->restart_at && !s->stopping)
			shim_run(s);
	}
	drain_output(s);
}

/* --- set-up ---------------------------------------------------------------------------- */

/* Reads spec.json; takes over what a lost shim of this instance left behind. */
static int load(shim *s, const char *id, op_err *e)
{
	char path[4096], *buf = NULL;
	size_t len = 0;
	op_shim_state old;
	snprintf(s->st.id, sizeof s->st.id, "%s", id);
	s->st.exit_code = -1;
	bool waiting = false;
	if (op_shim_state_load(s->state_dir, id, &old, NULL) == 0) {
		/* Restarts and the last exit are never lost; the old workload goes. */
		op_proc_kill_group(old.pid, old.pid_start, SIGKILL);
		s->st.restarts = old.restarts + (old.pid ? 1 : 0);
		s->st.exit_code = old.exit_code;
		/* A failed instance waiting for its next try keeps waiting (a lost shim, a
		 * reboot): its schedule, not an immediate try that would undo the backoff. */
		int64_t left = old.retry_at - op_wall_ms();
		if (old.state == OP_INST_FAILED && old.retry_at > 0 && left > 0) {
			waiting = true;
			s->fails = 1;
			s->st.retry_at = old.retry_at;
			s->restart_at = op_now_ms() + left;
			memcpy(s->st.error, old.error, sizeof s->st.error);
		}
	}
	s->st.state = waiting ? OP_INST_FAILED : OP_INST_STARTING;
	s->st.shim_pid = (int)getpid();
	op_proc_start_time(s->st.shim_pid, &s->st.shim_start);
	/* Starting: who supervises, for the host, at once. Not fsync'd, as no record of a
	 * live run is (shim_int.h): a power cut leaves the shim's pid of a boot that is
	 * over, which the next host treats as lost anyway. A failed instance waiting keeps
	 * its record durable. */
	save(s, waiting);
	if (op_inst_path(path, sizeof path, s->state_dir, id, "spec.json") != 0)
		return op_err_set(e, OP_EINVAL, "path too long");
	int rc = op_read_file(path, OP_CMD_MAX_BYTES, &buf, &len, e);
	if (rc == 0)
		rc = op_hostcmd_decode(buf, len, &s->cmd, e);
	free(buf);
	if (rc == 0 && (s->cmd.op != OP_CMD_START || strcmp(s->cmd.id, id) != 0))
		rc = op_err_set(e, OP_EINVAL, "%s: not the start of %s", path, id);
	if (rc == 0) {
		s->comp = &s->cmd.app->comps[s->cmd.comp];
		s->hcfg = op_health_cfg_of(s->comp);
		op_cgroup_plan_make(&s->comp->fence, s->comp->type == OP_COMP_WASM,
			s->cgroup_base != NULL, &s->cgp);
	}
	return rc;
}

/* The instance's lock, held (through a close-on-exec fd) until the shim exits. */
static int lock_instance(const char *state_dir, const char *id)
{
	char path[4096];
	if (op_inst_path(path, sizeof path, state_dir, id, "lock") != 0)
		return -1;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup_io(shim *s, const char *id, size_t log_max, int log_keep, op_err *e)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	s->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	int p[2];
	s->null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->sigfd < 0 || s->null < 0 || pipe2(p, O_CLOEXEC) != 0)
		return op_err_set(e, OP_EIO, "signalfd, pipe: %s", strerror(errno));
	s->out_r = p[0];
	s->out_w = p[1];
	fcntl(s->out_r, F_SETFL, O_NONBLOCK);
	char path[4096];
	if (op_inst_path(path, sizeof path, s->state_dir, id, "output.log") != 0)
		return op_err_set(e, OP_EINVAL, "path too long");
	return op_outlog_open(&s->log, path, log_max, log_keep, e);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost shim --state DIR --id ID [--grace-ms N] [--log-max BYTES]\n"
		"                    [--log-keep N] [--max-backoff-ms N] [--nats URL]\n"
		"                    [--default-user USER] [--wasm-runtime PATH] [--secrets-fd 3]\n"
		"                    [--cgroup DIR]\n"
		"\n"
		"Supervises one instance. Started by `outpost host` only.\n");
}

int op_cmd_shim(int argc, char **argv)
{
	static const struct option opts[] = {{"state", required_argument, NULL, 's'},
		{"id", required_argument, NULL, 'i'}, {"grace-ms", required_argument, NULL, 'g'},
		{"log-max", required_argument, NULL, 'm'},
		{"log-keep", required_argument, NULL, 'k'},
		{"max-backoff-ms", required_argument, NULL, 'b'},
		{"nats", required_argument, NULL, 'n'},
		{"default-user", required_argument, NULL, 'u'},
		{"wasm-runtime", required_argument, NULL, 'w'},
		{"secrets-fd", required_argument, NULL, 'S'},
		{"cgroup", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'}, {0}};
	shim s = {.grace_ms = OP_STOP_GRACE_DEFAULT_MS,
		.wasm_runtime = OP_WASM_RUNTIME_DEFAULT,
		.max_backoff_ms = OP_MAX_BACKOFF_MS,
		.policy = OP_RESTART_POLICY_DEFAULT,
		.sigfd = -1,
		.out_r = -1,
		.out_w = -1,
		.null = -1,
		.cg = {.procs_fd = -1},
		.probe = {.fd = -1}};
	const char *id = NULL;
	int secfd = -1;
	uint64_t log_max = OP_LOG_MAX_DEFAULT, log_keep = OP_LOG_KEEP_DEFAULT,
		 grace = (uint64_t)s.grace_ms, backoff = (uint64_t)s.max_backoff_ms;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': s.state_dir = optarg; break;
		case 'i': id = optarg; break;
		case 'n': s.nats = optarg; break;
		case 'u': s.default_user = optarg; break;
		case 'w': s.wasm_runtime = optarg; break;
		case 'C': s.cgroup_base = optarg; break;
		case 'g':
			if (op_parse_u64(optarg, &grace) != 0 || grace > 3600000)
				goto bad;
			break;
		case 'm':
			if (op_parse_u64(optarg, &log_max) != 0 || log_max < 1024 ||
				log_max > (1ULL << 32))
				goto bad;
			break;
		case 'k':
			if (op_parse_u64(optarg, &log_keep) != 0 || log_keep > 9)
				goto bad;
			break;
		case 'b':
			if (op_parse_u64(optarg, &backoff) != 0 || backoff < 1000 ||
				backoff > 7 * 24 * 3600000ULL)
				goto bad;
			break;
		case 'S':
			if (strcmp(optarg, "3") != 0)
				goto bad;
			secfd = OP_SHIM_SECRETS_FD;
			break;
		case 'h': usage(stdout); return OP_EXIT_OK;
		default: goto bad;
		}
	}
	if (optind < argc || !s.state_dir || !id || !op_inst_id_valid(id))
		goto bad;
	s.grace_ms = (int64_t)grace;
	s.max_backoff_ms = (int64_t)backoff;

	int lock = lock_instance(s.state_dir, id);
	if (lock < 0)
		return OP_EXIT_FAIL; /* another shim has it (or the instance is gone) */
	char stop[4096];
	if (op_inst_path(stop, sizeof stop, s.state_dir, id, "stop") == 0 &&
		access(stop, F_OK) == 0)
		return OP_EXIT_OK; /* stopped before it ran: the host removes it */
	op_err e = {0};
	int rc = setup_io(&s, id, (size_t)log_max, (int)log_keep, &e);
	if (rc == 0)
		rc = load(&s, id, &e);
	if (rc == 0)
		rc = shim_build_exec(&s) == 0 ? 0 : op_err_set(&e, OP_ENOMEM, "out of memory");
	if (secfd >= 0) /* secrets_int.h: the values, then the env and files they go to */
		rc = rc ? (close(secfd), rc) : op_shim_secrets_read(secfd, &s.cmd, &e);
	if (rc == 0 && s.comp->nsecrets)
		rc = op_shim_secrets_env(&s.cmd, s.comp, &s.envp, &e);
	if (rc == 0 && s.comp->nsecrets) {
		/* The files belong to the user the workload runs as (a fence that cannot be
		 * planned fails the start in shim_run()). */
		op_fence_plan fp;
		char why[512];
		bool as = shim_plan_fence(&s, &fp, why, sizeof why) == 0 && fp.setids;
		rc = op_shim_secrets_files(
			&s.cmd, s.comp, as ? fp.uid : (uid_t)-1, as ? fp.gid : (gid_t)-1, &e);
	}
	if (rc != 0) {
		op_log_error("instance failed", "id=%s error=\"%s\"", id, e.msg);
		snprintf(s.st.id, sizeof s.st.id, "%s", id);
		s.st.shim_pid = (int)getpid();
		op_proc_start_time(s.st.shim_pid, &s.st.shim_start);
		finish(&s, OP_INST_FAILED, e.msg);
	} else {
		if (!s.restart_at) /* else a failed instance waits for its next try */
			shim_run(&s);
		loop(&s);
	}
	op_probe_cancel(&s.probe);
	/* A stopped instance leaves nothing behind but its output, kept for a while. */
	if (s.stopping && op_logs_keep(s.state_dir, id, OP_LOGS_KEEP, &e) != 0)
		op_log_warn("cannot keep the instance's output", "id=%s error=\"%s\"", id, e.msg);
	if (s.stopping)
		op_shim_secrets_unlink(s.comp);
	if (s.stopping && op_inst_remove(s.state_dir, id, &e) != 0)
		op_log_warn("cannot remove instance", "id=%s error=\"%s\"", id, e.msg);
	op_outlog_close(&s.log);
	op_hostcmd_clear(&s.cmd);
	for (size_t i = 0; s.envp && s.envp[i]; i++)
		op_secret_free(s.envp[i], strlen(s.envp[i]));
	free(s.envp);
	if (s.argv_owned)
		op_wasm_argv_free(s.argv);
	else
		free(s.argv);
	close(lock);
	return rc == 0 ? OP_EXIT_OK : OP_EXIT_FAIL;
bad:
	usage(stderr);
	return OP_EXIT_USAGE;
}
