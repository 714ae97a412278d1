/* Supervising one instance on an edge box: the restart decision and its backoff (pure),
 * the shim's state file and its codec, the per-instance files under the host's --state
 * dir, and the few process and file helpers the host and the shim share.
 *
 * The model is s6's: an instance is up, down for good, or waiting to be restarted
 * after a delay. Each instance lives under <state>/instances/<id>/:
 *   spec.json    the start command as received (op_hostcmd JSON), written by the host
 *   state.json   written by the shim, atomically, at every state change (op_shim_state)
 *   lock         flock()ed by the shim for its whole life: never two shims at once
 *   stop         present once a stop was asked for (the shim or the host removes the dir)
 *   output.log   the workload's stdout and stderr, size-capped, rotated to .1, .2
 * When an instance goes (stopped, or replaced by a new spec), its output is kept under
 * <state>/logs/<Unix ms, 13 digits>.<id>/ (output.log, its rotations and the last
 * state.json), the newest OP_LOGS_KEEP per component: a crashed version's output
 * outlives it, in at most OP_LOGS_KEEP x (log keep + 1) x log max bytes a component. */
#ifndef OUTPOST_SUPERVISE_H
#define OUTPOST_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"

/* --- the restart decision (pure) ------------------------------------------------------ */

typedef struct op_restart_policy {
	int64_t base_ms; /* the first delay (of the second restart in a row) */
	int64_t max_ms; /* the doubling stops here */
	int64_t min_run_ms; /* a run this long resets the crash-loop count */
	int loop_limit; /* this many short runs in a row: failed */
} op_restart_policy;

/* The first restart at once, then 200 ms doubling to 30 s; 5 exits in a row that each
 * ran less than 10 s: failed. */
#define OP_RESTART_POLICY_DEFAULT ((op_restart_policy){200, 30000, 10000, 5})

enum op_next {
	OP_NEXT_RESTART, /* after delay_ms */
	OP_NEXT_EXITED, /* the policy does not restart it: ended for good */
	OP_NEXT_FAILED, /* crash loop: not restarted */
};

typedef struct op_decision {
	enum op_next next;
	int64_t delay_ms; /* OP_NEXT_RESTART only */
} op_decision;

/* The delay before the n-th restart of a crash-loop run (n >= 1): base * 2^(n-1),
 * capped at max_ms. */
int64_t op_backoff_ms(const op_restart_policy *p, int n);

/* What follows an exit: mode is the component's restart policy, exit_code the exit
 * status (128+N for signal N), run_ms how long the run lasted. *short_runs counts the
 * runs in a row shorter than p->min_run_ms and is updated. always restarts whatever
 * the code, on-failure when it is not 0, never does not. The first restart of a run
 * (the count at 0 or 1) is immediate, the n-th after it waits op_backoff_ms(p, n - 1). */
op_decision op_restart_decide(const op_restart_policy *p, enum op_restart mode, int exit_code,
	int64_t run_ms, int *short_runs);

/* The Debian architecture name of a uname machine: x86_64 -> amd64, aarch64 -> arm64,
 * armv7l -> armhf, riscv64 -> riscv64, ...; an unknown machine is returned as it is. */
const char *op_arch_name(const char *machine);
/* This machine's Debian arch (uname), in a static buffer. */
const char *op_arch_self(void);
/* The digest an artifact wants on arch: the single digest, else the one for arch, else
 * NULL (then the artifact cannot be checked here: refused). */
const char *op_artifact_digest(const op_artifact *a, const char *arch);

/* --- the shim's state file ------------------------------------------------------------ */

typedef struct op_shim_state {
	char id[OP_INST_MAX + 1];
	enum op_inst_state state;
	int shim_pid; /* the shim */
	uint64_t shim_start; /* its start time: /proc/<pid>/stat field 22 (clock ticks) */
	int pid; /* the workload, 0 when none */
	uint64_t pid_start; /* its start time, as shim_start */
	int restarts;
	int exit_code; /* last exit, -1 none */
	char error[256]; /* why failed; "" none */
	int64_t retry_at; /* failed: when it is tried again (wall clock ms); 0 none */
	enum op_health health; /* running: what its probes (or min_ready) say; none else */
	char probe[256]; /* the last counted failed probe; "" none */
} op_shim_state;

/* A failed instance is tried again after a backoff of its own: from OP_FAIL_RETRY_MS,
 * doubling, capped at the host's --max-backoff (default OP_MAX_BACKOFF_MS). n >= 1 counts
 * the failures in a row. */
#define OP_FAIL_RETRY_MS 10000
#define OP_MAX_BACKOFF_MS (5 * 60 * 1000)
int64_t op_fail_retry_ms(int64_t max_backoff_ms, int n);

/* {"v":1,"id":..,"state":"running","shim_pid":..,"shim_start":..,"pid":..,
 *  "pid_start":..,"restarts":..,"exit":..,"error":"..","retry_at":..,"health":"..",
 *  "probe":".."}; *json allocated. retry_at, health and probe are written only when
 * set, and read when present (older files lack them). */
int op_shim_state_encode(const op_shim_state *s, char **json, op_err *e);
/* Strict: every field, in range; OP_EINVAL naming the field. */
int op_shim_state_decode(const char *json, size_t len, op_shim_state *s, op_err *e);
/* Reads and decodes <state>/instances/<id>/state.json; OP_ENOTFOUND when missing. */
int op_shim_state_load(const char *state_dir, const char *id, op_shim_state *s, op_err *e);
/* Writes it atomically, and durably (fsync) unless sync is false. */
int op_shim_state_write(const char *state_dir, const op_shim_state *s, bool sync, op_err *e);
/* Writes it atomically and durably. */
int op_shim_state_save(const char *state_dir, const op_shim_state *s, op_err *e);

/* <state>/instances/<id>[/file] into out (file may be NULL); OP_EINVAL if too long. */
int op_inst_path(char *out, size_t n, const char *state_dir, const char *id, const char *file);

/* --- processes and files -------------------------------------------------------------- */

/* A process's start time (field 22 of /proc/<pid>/stat); OP_ENOTFOUND when there is
 * no such process or it is a zombie. */
int op_proc_start_time(int pid, uint64_t *start);
/* True when pid runs and started at start (so a reused pid is not taken for it). */
bool op_proc_alive(int pid, uint64_t start);
/* Sends sig to the process group of pid if pid still is the process that started at
 * start (the workload leads its own group). */
void op_proc_kill_group(int pid, uint64_t start, int sig);
/* Removes an instance's directory and the files in it; a missing one is fine. */
int op_inst_remove(const char *state_dir, const char *id, op_err *e);
/* Kept logs: the instances of one component whose output is kept after they go. */
#define OP_LOGS_KEEP 3
/* Moves the output of instance id (if any) into a kept-log dir named for now, then
 * removes the oldest kept logs of its component (<app>.<component>) past keep. Called
 * before op_inst_remove by whoever removes an instance. */
int op_logs_keep(const char *state_dir, const char *id, int keep, op_err *e);
/* Whether name is a kept-log dir's: "<13 digits>.<instance id>"; *id points into it. */
bool op_logs_name(const char *name, const char **id, int64_t *ms);
/* The sha256 of a file as 64 lowercase hex digits. */
int op_file_sha256(const char *path, char hex[65], op_err *e);

/* A size-capped output log: past max bytes, path.<keep-1> -> path.<keep> ... path ->
 * path.1 and a new path is started, so at most (keep + 1) * max bytes are kept. */
typedef struct op_outlog {
	int fd;
	char path[4096];
	size_t max, size;
	int keep;
} op_outlog;

int op_outlog_open(op_outlog *l, const char *path, size_t max, int keep, op_err *e);
/* Appends, rotating as needed; 0 or OP_EIO. */
int op_outlog_write(op_outlog *l, const void *buf, size_t n);
void op_outlog_close(op_outlog *l);

#endif
