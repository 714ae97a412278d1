/* NATS: connecting with outpost's reconnect policy, JetStream contexts per domain and
 * the KV helpers the roles share. Thin wrappers over nats.c that turn its status codes
 * into op_err messages naming what failed. */
#ifndef OUTPOST_BUS_H
#define OUTPOST_BUS_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/base/limits.h"

#define OP_BUCKET "outpost"
#define OP_STATUS_BUCKET "outpost-status"
#define OP_DEFAULT_NATS "nats://127.0.0.1:4222"
#define OP_JS_WAIT_MS \
	5000 /* a JetStream request's wait for its answer (op_bus_connect's context) */

typedef struct op_bus {
	natsConnection *nc;
	jsCtx *js;
} op_bus;

/* Connects to url as name: reconnects forever, retries a failed first connect in
 * the background when wait_ms is 0, otherwise fails after wait_ms. domain (may be
 * NULL) is the JetStream domain the context talks to.
 *
 * Credentials and TLS come from the environment, so that no secret is ever on a
 * command line (a role's --creds/--tls-* flag sets the same variable):
 *   OUTPOST_NATS_CREDS  a file: `user:password` on its first line (as `outpost creds`
 *                       writes them), or a NATS .creds file (JWT and seed)
 *   OUTPOST_NATS_CA     CA bundle the server's certificate must chain to (TLS on)
 *   OUTPOST_NATS_CERT   client certificate (chain) and its key, for servers that
 *   OUTPOST_NATS_KEY    verify clients (both or neither)
 * With user:password credentials, reply inboxes are `_INBOX.<user>.>` so that a
 * server's permissions can give each user its own. Connection failures in the
 * background and asynchronous errors (permission violations) are logged, one line per
 * change. No message holds a password: a user:password in url is shown as `***`. */
int op_bus_connect(
	op_bus *b, const char *url, const char *name, const char *domain, int wait_ms, op_err *e);

/* url with the password of its user info (scheme://user:password@host) replaced by
 * `***`, for messages and logs; always NUL-terminated, truncated to len. */
void op_bus_url_redact(const char *url, char *out, size_t len);
void op_bus_close(op_bus *b);
bool op_bus_connected(const op_bus *b);
/* True when nats.c closed the connection for good on its own (the server refused the
 * credentials again on reconnect, or the TLS handshake failed twice): the role cannot
 * recover by waiting and should exit non-zero, so that its service manager starts it
 * again, after logging why (why gets nats.c's last error). */
bool op_bus_lost(const op_bus *b, char *why, size_t len);

/* Opens bucket, creating it with cfg when missing. */
int op_bus_kv(op_bus *b, kvConfig *cfg, kvStore **kv, op_err *e);

/* One key's latest value. *val is allocated (NUL-terminated), *rev its revision.
 * OP_ENOTFOUND when missing or deleted. */
int op_bus_kv_get(kvStore *kv, const char *key, char **val, size_t *len, uint64_t *rev, op_err *e);

/* Every live key under filter, its latest value, in key order: fn is called once a
 * key (agent/bus/scan.c). The read is one watcher; a watcher says it has all the
 * values there are when a delivery says nothing is pending, and while the bucket is
 * written that can come early (nats-server's count can fall to zero and rise again),
 * leaving keys out. So, with js (the context kv was opened with), the scan then asks
 * the stream's leader for the last sequence under filter and reads on until it has it:
 * the keys as they were at that moment, none left out. js NULL, or that question not
 * answered (credentials from before it was needed): the watcher's word, as before. */
typedef struct op_bus_kv_ent {
	const char *key;
	const char *val; /* NULL for keys only */
	size_t len;
	uint64_t rev;
	int64_t created_ms; /* when it was written, by the server's clock */
} op_bus_kv_ent;
typedef int (*op_bus_kv_ent_fn)(void *arg, const op_bus_kv_ent *ent);
int op_bus_kv_read(jsCtx *js, kvStore *kv, const char *filter, bool keys_only, op_bus_kv_ent_fn fn,
	void *arg, op_err *e);
/* The same, values or keys only (val NULL, len 0), for callers that need no time. */
typedef int (*op_bus_kv_fn)(void *arg, const char *key, const char *val, size_t len, uint64_t rev);
int op_bus_kv_scan(
	jsCtx *js, kvStore *kv, const char *filter, op_bus_kv_fn fn, void *arg, op_err *e);
int op_bus_kv_keys(
	jsCtx *js, kvStore *kv, const char *filter, op_bus_kv_fn fn, void *arg, op_err *e);

/* nats.c status as an op_err (OP_ENATS), with what was being done. */
int op_bus_err(op_err *e, natsStatus s, const char *what);

#endif
