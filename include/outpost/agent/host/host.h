/* The instances of one edge box, as `outpost host` sees them: each is a directory under
 * <state>/instances/ (see supervise.h) with an `outpost shim` supervising it. The
 * directories are the truth, not this process's memory: the host can be killed and
 * restarted at any time, and on every refresh it looks at each directory again, adopts
 * the shims that still run (pid and start time match), starts a new shim for an
 * instance whose shim was lost, and removes the stopped ones. NATS lives in
 * host_cmd.c; this module does no network I/O. */
#ifndef OUTPOST_HOST_H
#define OUTPOST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/wire/proto.h"

#define OP_HOST_STATE_DEFAULT "/var/lib/outpost/host"
#define OP_STOP_GRACE_DEFAULT_MS 10000
#define OP_LOG_MAX_DEFAULT (1024 * 1024)
#define OP_LOG_KEEP_DEFAULT 2

typedef struct op_host_cfg {
	const char *state; /* --state dir (created when missing) */
	int64_t grace_ms; /* SIGTERM to SIGKILL, passed to every shim */
	size_t log_max; /* output log cap per file */
	int log_keep; /* rotated files kept */
	int64_t max_backoff_ms; /* --max-backoff: the cap of a failed instance's retries */
	const char *nats; /* --nats, passed to every shim (artifacts from the site's store) */
	const char *default_user; /* --default-user, passed to every shim (NULL: the host's) */
	const char *wasm_runtime; /* --wasm-runtime, passed to every shim (NULL: the default) */
	const char *cgroup_base; /* the prepared cgroup v2 base (cgroup.h), NULL: rlimits */
} op_host_cfg;

typedef struct op_host op_host;

/* Makes the state dirs and a host over them (op_host_close). cfg's strings must live
 * as long as the host. The first op_host_refresh adopts what runs. */
int op_host_open(op_host **h, const op_host_cfg *cfg, op_err *e);
void op_host_close(op_host *h);

/* Carries out one command and says how it went in r. A start of an id the host holds
 * (in any state) is ok and changes nothing; a start of an id being stopped is refused;
 * a stop of an unknown id is ok. The reply of a stop does not wait for the shim to
 * finish: the instance shows as stopping until it is gone. */
void op_host_handle(op_host *h, const op_hostcmd *c, op_hostreply *r);

/* Answers a log request from the files under state: the output of the app's instances
 * there and the kept output of stopped ones (see supervise.h), within the reply's
 * bounds (see proto.h). Fills r (op_logreply_clear after). Uses no op_host, so it may
 * run on another thread than the host's loop. */
int op_host_logs(
	const char *state, const char *host, const op_logreq *q, op_logreply *r, op_err *e);

/* Looks at every instance directory (adopting, restarting lost shims, removing stopped
 * instances) and fills *insts (allocated, free()) with what to report. */
int op_host_refresh(op_host *h, op_hb_inst **insts, size_t *n, op_err *e);

/* Whether the last refresh reported an instance in a state its shim leaves by itself
 * soon (starting, stopping, running with its health undecided). */
bool op_host_pending(const op_host *h);
/* Whether a heartbeat brought forward, made of the last refresh, goes out (beat.h):
 * something settled or went away since the last one sent, or nothing is in passing. */
bool op_host_due(const op_host *h);
/* The last refresh went out as a heartbeat. */
void op_host_sent(op_host *h);
/* Whether such an instance has moved on since: its shim wrote a new record, or ended.
 * A stat per pending instance, no read: cheap enough to ask many times a second. */
bool op_host_moved(op_host *h);

#endif
