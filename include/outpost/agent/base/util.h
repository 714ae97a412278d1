/* Small helpers every role uses: durations on the command line, RFC 3339 times,
 * monotonic clocks, whole files read and written atomically. */
#ifndef OUTPOST_UTIL_H
#define OUTPOST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "outpost/agent/base/err.h"

/* "250ms", "30s", "5m", "2h" (a bare number is seconds) into milliseconds. */
int op_parse_duration_ms(const char *s, int64_t *ms);
/* ms (>= 0) in the largest unit that holds it whole: "2h", "5m", "10s", "500ms", "0s";
 * op_parse_duration_ms reads it back to the same value. */
void op_format_duration_ms(int64_t ms, char out[32]);
/* A decimal unsigned integer, the whole string. */
int op_parse_u64(const char *s, uint64_t *v);
/* Seconds since the epoch as RFC 3339 UTC ("2026-11-25T20:33:08Z"). */
void op_time_rfc3339(int64_t t, char out[32]);
/* RFC 3339 UTC as op_time_rfc3339 writes it (YYYY-MM-DDTHH:MM:SSZ) into Unix seconds:
 * 0, or OP_EINVAL. */
int op_time_parse_rfc3339(const char *s, int64_t *t);
int64_t op_now_ms(void); /* CLOCK_MONOTONIC */
int64_t op_wall_ms(void); /* CLOCK_REALTIME */
/* The CLOCK_REALTIME time ms from now, as pthread_cond_timedwait takes a deadline. */
void op_deadline_in(struct timespec *ts, int64_t ms);
/* mkdir -p with mode for the leaves created. */
int op_mkdirs(const char *path, unsigned mode, op_err *e);
/* Writes path via a temp file, fsync and rename, then fsyncs the directory. */
int op_write_atomic(const char *path, const void *buf, size_t len, op_err *e);
/* The same without fsync: readers see the whole old or the whole new file, but a crash
 * may lose it. For a record that a durable write supersedes soon after. */
int op_write_atomic_nosync(const char *path, const void *buf, size_t len, op_err *e);
/* Reads a whole file of at most max bytes; *buf allocated (NUL-terminated), *len (may be
 * NULL) its length. OP_ENOTFOUND when missing, OP_ETOOBIG past max. */
int op_read_file(const char *path, size_t max, char **buf, size_t *len, op_err *e);

/* Makes room for need elements of size bytes in the growable array *v of capacity *cap
 * (doubling, from 16): 0, or OP_ENOMEM with *v and *cap as they were. */
int op_grow(void **v, size_t *cap, size_t need, size_t size);

/* oom_score_adj of outpost's own long-lived processes (host, shims, agent): the
 * kernel's last choice but one when memory runs out; workloads raise theirs
 * (agent/host/fence.h). */
#define OP_OOM_OUTPOST (-500)
/* Writes this process's own oom_score_adj: 0, or OP_EIO saying why. */
int op_oom_adj_self(int adj, op_err *e);

#endif
