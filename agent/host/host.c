/* The instances of an edge box (see include/outpost/agent/host/host.h). Every instance has its own
 * `outpost shim`, started through a double fork in a session of its own, so that it is
 * never this process's child: the host can die and come back without its shims
 * noticing, and it treats the shims it started and the ones it adopted alike, by the
 * pid and start time each shim writes into its state file. The host keeps in memory
 * only what one boot needs: the shims it spawned and has not yet seen in a state file,
 * whether it already sent a SIGTERM, which adoptions it already logged. */
#include "outpost/agent/host/host.h"

#include "secrets_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/host/beat.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"

/* A shim that has not written its state file this long after its start is lost. */
#define SPAWN_WAIT_MS 5000
/* A lost shim is started again at most this often. */
#define RESPAWN_MIN_MS 2000

typedef struct ent {
	char id[OP_INST_MAX + 1];
	int spawned; /* the shim this boot started, 0 none */
	uint64_t spawned_start;
	int64_t spawned_ms; /* when (monotonic) */
	int term_to; /* the shim pid that got our SIGTERM, 0 none */
	int seen; /* the shim pid last seen alive, to log an adoption once */
	bool lost; /* its shim's loss was logged (once, not per respawn) */
	bool mark; /* seen in this refresh */
	/* What the last look and the last heartbeat sent said of it (beat.h); reported in a
	 * state that changes by itself soon (beat.now.passing, op_host_moved): its state
	 * file as it was then, and the shim that wrote it. */
	op_beat_inst beat;
	struct stat file;
	int shim;
	uint64_t shim_start;
} ent;

struct op_host {
	op_host_cfg cfg;
	int lock; /* <state>/host.lock, held while the host runs */
	char grace[32], log_max[32], log_keep[16], backoff[32];
	ent *ents;
	size_t n, cap;
	size_t gone_sent; /* instances the last heartbeat sent reported, gone since */
};

int op_host_open(op_host **out, const op_host_cfg *cfg, op_err *e)
{
	char dir[4096];
	*out = NULL;
	if (snprintf(dir, sizeof dir, "%s/instances", cfg->state) >= (int)sizeof dir - 256)
		return op_err_set(e, OP_EINVAL, "--state: path too long");
	int rc = op_mkdirs(dir, 0700, e);
	if (rc)
		return rc;
	/* One host per state dir: two would each think the shims are theirs. */
	char path[4096];
	snprintf(path, sizeof path, "%s/host.lock", cfg->state);
	int lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0)
		return op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
	if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
		close(lock);
		return op_err_set(e, OP_ECONFLICT, "another outpost host uses %s", cfg->state);
	}
	/* Half-made instance dirs of an earlier boot (see handle_start). */
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		if (!strncmp(de->d_name, ".new-", 5))
			op_inst_remove(cfg->state, de->d_name, NULL);
	if (d)
		closedir(d);
	op_host *h = calloc(1, sizeof *h);
	if (!h) {
		close(lock);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	h->lock = lock;
	h->cfg = *cfg;
	snprintf(h->grace, sizeof h->grace, "%lld", (long long)cfg->grace_ms);
	snprintf(h->backoff, sizeof h->backoff, "%lld",
		(long long)(cfg->max_backoff_ms > 0 ? cfg->max_backoff_ms : OP_MAX_BACKOFF_MS));
	snprintf(h->log_max, sizeof h->log_max, "%zu", cfg->log_max);
	snprintf(h->log_keep, sizeof h->log_keep, "%d", cfg->log_keep);
	*out = h;
	return 0;
}

void op_host_close(op_host *h)
{
	if (!h)
		return;
	close(h->lock);
	free(h->ents);
	free(h);
}

static ent *ent_get(op_host *h, const char *id, bool create)
{
	for (size_t i = 0; i < h->n; i++)
		if (!strcmp(h->ents[i].id, id))
			return &h->ents[i];
	if (!create)
		return NULL;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		ent *v = realloc(h->ents, cap * sizeof *v);
		if (!v)
			return NULL;
		h->ents = v;
		h->cap = cap;
	}
	ent *x = &h->ents[h->n++];
	memset(x, 0, sizeof *x);
	snprintf(x->id, sizeof x->id, "%s", id);
	return x;
}

static void ent_drop(op_host *h, ent *x)
{
	if (x->beat.sent.on)
		h->gone_sent++;
	*x = h->ents[--h->n];
}

static bool inst_file_exists(op_host *h, const char *id, const char *file)
{
	char p[4096];
	return op_inst_path(p, sizeof p, h->cfg.state, id, file) == 0 && access(p, F_OK) == 0;
}

/* Starts `outpost shim` for id in a new session, through a double fork so that it is
 * not our child. Everything the children do is async-signal-safe: this process has
 * nats.c's threads. Returns the shim's pid, or -1. */
static int spawn_shim(op_host *h, const char *id, int secfd)
{
	char *argv[26] = {"outpost", "shim", "--state", (char *)h->cfg.state, "--id", (char *)id,
		"--grace-ms", h->grace, "--log-max", h->log_max, "--log-keep", h->log_keep,
		"--max-backoff-ms", h->backoff, NULL};
	size_t k = 14;
	if (secfd >= 0) { /* the values, as fd 3 (secrets_int.h) */
		argv[k++] = "--secrets-fd";
		argv[k++] = "3";
	}
	if (h->cfg.wasm_runtime) {
		argv[k++] = "--wasm-runtime";
		argv[k++] = (char *)h->cfg.wasm_runtime;
	}
	if (h->cfg.default_user) {
		argv[k++] = "--default-user";
		argv[k++] = (char *)h->cfg.default_user;
	}
	if (h->cfg.nats) {
		argv[k++] = "--nats";
		argv[k++] = (char *)h->cfg.nats;
	}
	if (h->cfg.cgroup_base) {
		argv[k++] = "--cgroup";
		argv[k++] = (char *)h->cfg.cgroup_base;
	}
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	pid_t child = fork();
	if (child < 0) {
		close(p[0]), close(p[1]), close(null);
		return -1;
	}
	if (child == 0) {
		setsid();
		pid_t shim = fork();
		if (shim == 0) {
			sigset_t none;
			sigemptyset(&none);
			sigprocmask(SIG_SETMASK, &none, NULL);
			if (null >= 0) {
				dup2(null, 0);
				dup2(null, 1);
			}
			if (secfd >= 0 && secfd != OP_SHIM_SECRETS_FD)
				dup2(secfd, OP_SHIM_SECRETS_FD); /* dup2 clears close-on-exec */
			else if (secfd == OP_SHIM_SECRETS_FD)
				fcntl(secfd, F_SETFD, 0);
			close_range(secfd >= 0 ? OP_SHIM_SECRETS_FD + 1 : 3, ~0U, 0);
			execve("/proc/self/exe", argv, environ);
			_exit(127);
		}
		int pid = shim;
		ssize_t w = write(p[1], &pid, sizeof pid);
		(void)w;
		_exit(0);
	}
	close(p[1]);
	if (null >= 0)
		close(null);
	int pid = -1;
	ssize_t r;
	while ((r = read(p[0], &pid, sizeof pid)) < 0 && errno == EINTR)
		;
	close(p[0]);
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	return r == (ssize_t)sizeof pid && pid > 0 ? pid : -1;
}

static void start_shim(op_host *h, ent *x, int secfd)
{
	int pid = spawn_shim(h, x->id, secfd);
	x->spawned_ms = op_now_ms();
	x->spawned = pid > 0 ? pid : 0;
	x->spawned_start = 0;
	if (pid > 0)
		op_proc_start_time(pid, &x->spawned_start);
	else
		op_log_error("cannot start shim", "id=%s error=\"%s\"", x->id, strerror(errno));
}

/* The identity of id's state file (its records are renamed into place: a new record is
 * a new inode); all zero when there is none. */
static void state_file(op_host *h, const char *id, struct stat *out)
{
	char p[4096];
	if (op_inst_path(p, sizeof p, h->cfg.state, id, "state.json") != 0 || stat(p, out) != 0)
		memset(out, 0, sizeof *out);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
		a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* A state the shim leaves by itself, soon: starting, stopping, or running with its
 * health not yet decided. */
static bool in_passing(const op_hb_inst *r)
{
	return r->state == OP_INST_STARTING || r->state == OP_INST_STOPPING ||
		(r->state == OP_INST_RUNNING && r->health == OP_HEALTH_STARTING);
}

/* What runs in one instance directory, and what to do about it (look_at). */
static bool look_at_inst(op_host *h, ent *x, op_hb_inst *out)
{
	op_shim_state st;
	op_err e = {0};
	int st_rc = op_shim_state_load(h->cfg.state, x->id, &st, &e);
	bool stop = inst_file_exists(h, x->id, "stop");
	bool shim_alive = st_rc == 0 && op_proc_alive(st.shim_pid, st.shim_start);
	bool spawned_alive = x->spawned && op_proc_alive(x->spawned, x->spawned_start) &&
		(!shim_alive || st.shim_pid != x->spawned);
	x->shim = shim_alive ? st.shim_pid : 0;
	x->shim_start = shim_alive ? st.shim_start : 0;
	memset(out, 0, sizeof *out);
	snprintf(out->id, sizeof out->id, "%s", x->id);
	out->exit_code = -1;
	if (st_rc == 0) {
		out->state = st.state;
		out->pid = st.state == OP_INST_RUNNING || st.state == OP_INST_STOPPING ? st.pid : 0;
		out->restarts = st.restarts;
		out->exit_code = st.exit_code;
		op_proto_text(out->error, sizeof out->error, st.error);
		if (st.state == OP_INST_RUNNING) /* else the heartbeat carries none */
			out->health = st.health;
		op_proto_text(out->probe, sizeof out->probe, st.probe);
		if (st.state == OP_INST_FAILED && st.retry_at > 0) {
			int64_t left = st.retry_at - op_wall_ms();
			out->retry_ms = left > 0 ? left : 0;
		}
	}
	if (shim_alive) {
		if (x->seen != st.shim_pid) {
			if (st.shim_pid != x->spawned)
				op_log_info("instance adopted", "id=%s shim=%d pid=%d state=%s",
					x->id, st.shim_pid, st.pid, op_inst_state_name(st.state));
			x->seen = st.shim_pid;
			x->spawned = 0;
		}
		x->lost = false;
		if (stop && x->term_to != st.shim_pid) {
			kill(st.shim_pid, SIGTERM);
			x->term_to = st.shim_pid;
		}
		if (stop)
			out->state = OP_INST_STOPPING;
		return true;
	}
	if (spawned_alive && op_now_ms() - x->spawned_ms < SPAWN_WAIT_MS) {
		/* Started, no state file of its own yet. */
		if (stop && x->term_to != x->spawned) {
			kill(x->spawned, SIGTERM);
			x->term_to = x->spawned;
		}
		out->state = stop ? OP_INST_STOPPING : OP_INST_STARTING;
		out->pid = 0;
		return true;
	}
	/* No shim runs this instance. */
	if (st_rc == 0) /* a lost shim's workload, if it still runs */
		op_proc_kill_group(st.pid, st.pid_start, SIGKILL);
	if (stop || !inst_file_exists(h, x->id, "spec.json")) {
		if (op_logs_keep(h->cfg.state, x->id, OP_LOGS_KEEP, &e) != 0)
			op_log_warn("cannot keep the instance's output", "id=%s error=\"%s\"",
				x->id, e.msg);
		if (op_inst_remove(h->cfg.state, x->id, &e) != 0)
			op_log_warn("cannot remove instance", "id=%s error=\"%s\"", x->id, e.msg);
		else if (stop)
			op_log_info("instance removed", "id=%s", x->id);
		ent_drop(h, x);
		return false;
	}
	/* Ended for good: exited, or failed where no try can help (its spec unreadable). A
	 * failed instance that waits for a retry lost its shim (a reboot): it gets one. */
	if (st_rc == 0 &&
		(st.state == OP_INST_EXITED || (st.state == OP_INST_FAILED && st.retry_at == 0)))
		return true;
	if ((!x->spawned || op_now_ms() - x->spawned_ms >= RESPAWN_MIN_MS) &&
		op_host_spec_has_secrets(h->cfg.state, x->id)) {
		/* Its secret values went with its shim: the agent starts it again with them
		 * (secrets_int.h), from the site's own mirror, with or without the hub. */
		op_log_warn("instance lost its shim", "id=%s state=%s action=ask-agent", x->id,
			st_rc == 0 ? op_inst_state_name(st.state) : "none");
		if (op_logs_keep(h->cfg.state, x->id, OP_LOGS_KEEP, &e) != 0 ||
			op_inst_remove(h->cfg.state, x->id, &e) != 0)
			op_log_warn("cannot remove instance", "id=%s error=\"%s\"", x->id, e.msg);
		ent_drop(h, x);
		return false;
	}
	if (!x->spawned || op_now_ms() - x->spawned_ms >= RESPAWN_MIN_MS) {
		if ((st_rc == 0 || x->spawned) && !x->lost)
			op_log_warn("instance lost its shim", "id=%s state=%s action=restart",
				x->id, st_rc == 0 ? op_inst_state_name(st.state) : "none");
		x->lost = true;
		start_shim(h, x, -1);
	}
	out->state = OP_INST_STARTING;
	out->pid = 0;
	return true;
}

/* One instance directory: what runs there, and what to do about it. Fills out and
 * returns true when the instance is to be reported. */
static bool look_at(op_host *h, ent *x, op_hb_inst *out)
{
	state_file(h, x->id, &x->file); /* before the read: a newer record is a change */
	bool report = look_at_inst(h, x, out);
	if (report)
		x->beat.now = (op_beat_view){true, in_passing(out), out->state, out->health};
	return report;
}

bool op_host_moved(op_host *h)
{
	for (size_t i = 0; i < h->n; i++) {
		ent *x = &h->ents[i];
		if (!x->beat.now.passing)
			continue;
		struct stat now;
		state_file(h, x->id, &now);
		if (!same_file(&now, &x->file) ||
			(x->shim && !op_proc_alive(x->shim, x->shim_start)))
			return true;
	}
	return false;
}

bool op_host_due(const op_host *h)
{
	op_beat_inst *v = malloc((h->n ? h->n : 1) * sizeof *v);
	if (!v)
		return true; /* a heartbeat too many is harmless */
	for (size_t i = 0; i < h->n; i++)
		v[i] = h->ents[i].beat;
	bool due = op_beat_due(v, h->n, h->gone_sent);
	free(v);
	return due;
}

void op_host_sent(op_host *h)
{
	for (size_t i = 0; i < h->n; i++)
		h->ents[i].beat.sent = h->ents[i].beat.now;
	h->gone_sent = 0;
}

bool op_host_pending(const op_host *h)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->ents[i].beat.now.passing)
			return true;
	return false;
}

static int inst_cmp(const void *a, const void *b)
{
	return strcmp(((const op_hb_inst *)a)->id, ((const op_hb_inst *)b)->id);
}

int op_host_refresh(op_host *h, op_hb_inst **insts, size_t *n, op_err *e)
{
	char dir[4096];
	*insts = NULL;
	*n = 0;
	snprintf(dir, sizeof dir, "%s/instances", h->cfg.state);
	DIR *d = opendir(dir);
	if (!d)
		return op_err_set(e, OP_EIO, "%s: %s", dir, strerror(errno));
	/* As many as the host holds, and room for some more: an array of the most a
	 * heartbeat carries (over half a MB) cleared on every refresh was a tenth of a
	 * host's time. */
	size_t cap = h->n + 16 < OP_HB_MAX_INSTANCES ? h->n + 16 : OP_HB_MAX_INSTANCES;
	op_hb_inst *v = malloc(cap * sizeof *v);
	if (!v) {
		closedir(d);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < h->n; i++)
		h->ents[i].mark = false;
	struct dirent *de;
	while ((de = readdir(d)) != NULL && *n < OP_HB_MAX_INSTANCES) {
		if (!op_inst_id_valid(de->d_name))
			continue; /* ".", "..", and nothing outpost made */
		if (*n == cap) {
			cap = cap * 2 < OP_HB_MAX_INSTANCES ? cap * 2 : OP_HB_MAX_INSTANCES;
			op_hb_inst *w = realloc(v, cap * sizeof *v);
			if (!w)
				break;
			v = w;
		}
		ent *x = ent_get(h, de->d_name, true);
		if (!x)
			break;
		x->mark = true;
		if (look_at(h, x, &v[*n]))
			++*n;
	}
	closedir(d);
	/* Forget what has no directory any more. */
	for (size_t i = 0; i < h->n;)
		if (!h->ents[i].mark)
			ent_drop(h, &h->ents[i]);
		else
			i++;
	qsort(v, *n, sizeof *v, inst_cmp);
	*insts = v;
	return 0;
}

static void ok(op_hostreply *r)
{
	r->ok = true;
	r->error[0] = '\0';
}

static void fail(op_hostreply *r, const char *op, const char *id, const char *why)
{
	char buf[1024];
	r->ok = false;
	snprintf(buf, sizeof buf, "%s %s: %.600s", op, id, why);
	op_proto_text(r->error, sizeof r->error, buf);
}

static size_t count_instances(op_host *h)
{
	char dir[4096];
	size_t n = 0;
	snprintf(dir, sizeof dir, "%s/instances", h->cfg.state);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL)
		n += op_inst_id_valid(de->d_name);
	if (d)
		closedir(d);
	return n;
}

static void handle_start(op_host *h, const op_hostcmd *c, op_hostreply *r)
{
	char dir[4096], spec[4096];
	op_err e = {0};
	if (op_inst_path(dir, sizeof dir, h->cfg.state, c->id, NULL) != 0 ||
		op_inst_path(spec, sizeof spec, h->cfg.state, c->id, "spec.json") != 0)
		return fail(r, "start", c->id, "state dir path too long");
	if (access(dir, F_OK) == 0) {
		if (inst_file_exists(h, c->id, "stop") || !inst_file_exists(h, c->id, "spec.json"))
			return fail(r, "start", c->id,
				"the instance is being stopped; start it again once it is gone");
		return ok(r); /* already there: idempotent */
	}
	if (count_instances(h) >= OP_HB_MAX_INSTANCES)
		return fail(r, "start", c->id, "too many instances on this host");
	/* spec.json holds the start without its secret values: those go to the shim
	 * only (secrets_int.h). */
	op_hostcmd bare = *c;
	bare.secrets = NULL;
	bare.nsecrets = 0;
	char *json = NULL;
	if (op_hostcmd_encode(&bare, &json, &e) != 0)
		return fail(r, "start", c->id, e.msg);
	/* The spec goes into a directory of its own made under a temporary name, then
	 * renamed: a half-written instance never shows up. */
	char tmp[4096 + 32];
	snprintf(tmp, sizeof tmp, "%s/instances/.new-%d", h->cfg.state, (int)getpid());
	char tspec[sizeof tmp + 16];
	snprintf(tspec, sizeof tspec, "%s/spec.json", tmp);
	op_inst_remove(h->cfg.state, tmp + strlen(h->cfg.state) + strlen("/instances/"), NULL);
	int rc = mkdir(tmp, 0700) == 0
		? op_write_atomic(tspec, json, strlen(json), &e)
		: op_err_set(&e, OP_EIO, "mkdir %s: %s", tmp, strerror(errno));
	free(json);
	if (rc == 0 && rename(tmp, dir) != 0)
		rc = op_err_set(&e, OP_EIO, "rename %s: %s", dir, strerror(errno));
	if (rc) {
		unlink(tspec);
		rmdir(tmp);
		return fail(r, "start", c->id, e.msg);
	}
	ent *x = ent_get(h, c->id, true);
	if (!x)
		return fail(r, "start", c->id, "out of memory");
	int secfd = -1;
	if (op_host_secrets_fd(c, &secfd, &e) != 0) {
		op_inst_remove(h->cfg.state, c->id, NULL);
		ent_drop(h, x);
		return fail(r, "start", c->id, e.msg);
	}
	const op_component *comp = &c->app->comps[c->comp];
	op_log_info("instance starting", "id=%s command=%s", c->id,
		comp->type == OP_COMP_WASM ? comp->artifact.path : comp->command);
	start_shim(h, x, secfd);
	if (secfd >= 0)
		close(secfd);
	ok(r);
}

static void handle_stop(op_host *h, const op_hostcmd *c, op_hostreply *r)
{
	char dir[4096], stop[4096];
	if (op_inst_path(dir, sizeof dir, h->cfg.state, c->id, NULL) != 0 ||
		op_inst_path(stop, sizeof stop, h->cfg.state, c->id, "stop") != 0)
		return fail(r, "stop", c->id, "state dir path too long");
	if (access(dir, F_OK) != 0)
		return ok(r); /* not here: idempotent */
	if (access(stop, F_OK) != 0) {
		int fd = open(stop, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0)
			return fail(r, "stop", c->id, strerror(errno));
		close(fd);
		op_log_info("instance stopping", "id=%s", c->id);
	}
	/* Signal the shim now rather than at the next refresh. */
	ent *x = ent_get(h, c->id, true);
	op_hb_inst scratch;
	if (x)
		look_at(h, x, &scratch);
	ok(r);
}

/* outpost restart: a failed instance is tried again now (its shim is told with
 * SIGUSR1); one that is not failed is left as it is, and the reply says so. */
static void handle_restart(op_host *h, const op_hostcmd *c, op_hostreply *r)
{
	op_shim_state st;
	op_err e = {0};
	if (op_shim_state_load(h->cfg.state, c->id, &st, &e) != 0)
		return fail(r, "restart", c->id, "no such instance on this host");
	if (st.state != OP_INST_FAILED)
		return fail(r, "restart", c->id, "not failed: it is left as it is");
	if (!op_proc_alive(st.shim_pid, st.shim_start) || kill(st.shim_pid, SIGUSR1) != 0)
		return fail(r, "restart", c->id, "its supervisor is not running");
	op_log_info("instance to be tried again now", "id=%s", c->id);
	ok(r);
}

void op_host_handle(op_host *h, const op_hostcmd *c, op_hostreply *r)
{
	memset(r, 0, sizeof *r);
	if (c->op == OP_CMD_START)
		handle_start(h, c, r);
	else if (c->op == OP_CMD_RESTART)
		handle_restart(h, c, r);
	else
		handle_stop(h, c, r);
}
