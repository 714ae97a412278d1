/* Internal to agent/host: the shim of one instance (shim_cmd.c: its loop, its state and
 * health; shim_run.c: a run of the workload, from the argv and environment to its exec;
 * shim_mem.c: its memory. One shim lives beside every instance, so what it keeps
 * mapped while it waits is what an instance costs a box). */
#ifndef OUTPOST_HOST_SHIM_INT_H
#define OUTPOST_HOST_SHIM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/host/cgroup.h"
#include "outpost/agent/host/fence.h"
#include "outpost/agent/host/health.h"
#include "outpost/agent/host/host.h"
#include "outpost/agent/host/probe.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/wire/proto.h"

typedef struct shim {
	const char *state_dir;
	const char *nats; /* --nats: the site's server, for artifacts (NULL: none) */
	const char *default_user; /* --default-user: for a component naming none (NULL: ours) */
	const char *wasm_runtime; /* --wasm-runtime: runs components of type wasm */
	const char *cgroup_base; /* --cgroup: the host's prepared cgroup v2 base, NULL none */
	const char *exec_path; /* the command, or for wasm the runtime */
	bool argv_owned; /* wasm: argv's strings are ours (op_wasm_argv) */
	int64_t grace_ms;
	op_hostcmd cmd;
	const op_component *comp;
	op_shim_state st;
	op_restart_policy policy;
	int short_runs;
	char **argv, **envp;
	int sigfd, out_r, out_w, null;
	op_outlog log;
	int64_t started_ms; /* when the current run started */
	int64_t restart_at; /* backoff: when to start again, 0 none */
	int64_t kill_at; /* stopping: when to send SIGKILL, 0 none */
	int64_t max_backoff_ms; /* --max-backoff: the cap of a failed instance's retries */
	int fails; /* failures in a row (a run that lasted min_run_ms resets it) */
	bool stopping, done;
	bool shed; /* a run started: give back what it touched (see shed()) */
	op_health_cfg hcfg;
	op_health_fsm health;
	op_probe_run probe;
	op_fence_plan fence; /* the current run's, for its exec probes too */
	op_cgroup_plan cgp; /* the instance's cgroup limits (cgp.use: it has a cgroup) */
	op_cgroup_inst cg; /* the current run's cgroup, when cgp.use */
	int64_t probe_at; /* when the next probe begins, 0 none */
	bool sick; /* unhealthy: being stopped to be restarted */
} shim;

/* shim_cmd.c: writes state.json atomically. shim_save makes it durable (fsync), for the
 * records that outlive the run: exited for good, failed (its retry and crash-loop count).
 * shim_note does not, for those that describe a live run (running, its health, stopping,
 * between restarts) and for the end of a stopped one, whose directory the shim removes
 * as it ends: a power cut ends the run, and the next host takes any of them as an
 * instance lost, whichever it finds; a crash of the shim or host alone loses nothing
 * the kernel already has. */
void shim_save(shim *s);
void shim_note(shim *s);
/* shim_cmd.c: the instance failed (why; a crash loop or not): retried after a backoff */
void shim_fail(shim *s, const char *why, bool crash_loop);
/* shim_health.c: the health of a run that just started */
void shim_health_start(shim *s, int64_t now);
/* shim_health.c: the workload is gone or going: no more probes */
void shim_health_stop(shim *s);
/* shim_health.c: a probe begun at begun ended (its result in s->probe) */
void shim_probe_ended(shim *s, int64_t begun);
/* shim_health.c: probes and min_ready, at their times */
void shim_health_due(shim *s, int64_t now);

/* shim_run.c: the workload's argv and environment (s->argv, s->envp); 0 or OP_ENOMEM */
int shim_build_exec(shim *s);
/* shim_run.c: the fence of a run (users, limits); 0, or why not in why */
int shim_plan_fence(shim *s, op_fence_plan *p, char *why, size_t n);
/* shim_run.c: ends the run's cgroup (when it has one); true if it was killed for memory */
bool shim_cgroup_end(shim *s);
/* shim_run.c: starts the workload: running, or failed (shim_fail) */
void shim_run(shim *s);

/* Gives back what starting a run touched: the heap's free pages, and the binary's
 * read-only pages (still in the page cache, shared; touched again as minor faults). */
void op_shim_shed(void);

#endif
