/* One health probe in flight, run by the shim inside its poll loop: no threads, no
 * blocking call. A probe is begun, then stepped each time its fd is ready, and ended at
 * its deadline if it has not ended by itself.
 *
 *   exec  fork/exec the command (its own process group, /dev/null in, stdout and stderr
 *         into a pipe of which the last line is kept); passes on exit 0. At the
 *         deadline its group is killed (SIGKILL). The shim reaps every child with
 *         waitpid(-1): it hands the probe's status to op_probe_reaped.
 *   http  non-blocking connect to 127.0.0.1:port, `GET path HTTP/1.0`, the status line
 *         read; passes on 2xx.
 *   tcp   non-blocking connect to 127.0.0.1:port; passes when accepted.
 * Memory is the struct: nothing is allocated. */
#ifndef OUTPOST_PROBE_H
#define OUTPOST_PROBE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "outpost/agent/host/fence.h"
#include "outpost/agent/host/health.h"
#include "outpost/agent/model/manifest.h"

typedef struct op_probe_run {
	const op_health_check *hc;
	const op_fence_plan *fence; /* exec: the workload's fence, applied to the probe too;
				       NULL none (set by the caller, kept across runs) */
	bool active; /* begun, not ended */
	int fd; /* socket or the exec pipe's read end; -1 none */
	pid_t pid; /* exec: the probe's process while not reaped; 0 none */
	int status; /* exec: its wait status, once reaped */
	bool reaped, eof; /* exec */
	int phase; /* http: 0 connecting, 1 sending, 2 reading */
	size_t sent;
	int64_t deadline_ms;
	char buf[256]; /* http: the status line so far; exec: the last line of output */
	size_t len;
	enum op_probe_result result; /* once ended */
	char why[256]; /* once ended: what failed, "" on a pass */
} op_probe_run;

/* In a child the shim forks (a workload, an exec probe): a process group of its own, no
 * blocked signals, SIGPIPE and SIGHUP back to their defaults (the shim ignores them; what
 * it runs must not). */
void op_child_reset(void);

/* Begins hc's probe at now; envp is the exec probe's environment. Returns true when it
 * is in flight, false when it ended at once (result and why filled). */
bool op_probe_begin(op_probe_run *r, const op_health_check *hc, char *const envp[], int64_t now_ms);
/* The poll events its fd waits for (0: none, it waits for its exit only). */
short op_probe_events(const op_probe_run *r);
/* Its fd had revents: reads or writes what it can. Returns true when the probe ended. */
bool op_probe_step(op_probe_run *r, short revents);
/* The exec probe's process exited with status. Returns true when the probe ended. */
bool op_probe_reaped(op_probe_run *r, int status);
/* Its deadline passed: a timeout (an exec probe's group is killed and reaped). */
void op_probe_timeout(op_probe_run *r);
/* Abandons a probe in flight (the workload is gone): as a timeout, no result. */
void op_probe_cancel(op_probe_run *r);

#endif
