/* The site-local messages between agent and hosts, as plain structs with strict,
 * bounded JSON codecs (every payload has "v":1; anything else is refused).
 *
 *   outpost.<site>.hb.<host>        host -> agent, every --heartbeat: op_heartbeat
 *   outpost.<site>.host.<host>.cmd  agent -> host, request/reply: op_hostcmd -> op_hostreply
 *
 * Wire formats (keys sorted, compact; every key listed is required unless marked
 * optional, and a key not listed is refused, so a newer message needs a new "v"):
 *
 *   heartbeat {"v":1,"host":"h1","site":"plant-7","boot":"<1..63 [a-z0-9-]>","seq":N,
 *              "interval_ms":2000,"labels":{"arch":"amd64",...},
 *              "limits":"rlimit" (optional: what enforces the workloads' limits),
 *              "cgroup":"v2"|"v2-undelegated"|"v1"|"none" (optional: what the box offers),
 *              "wasm":"none"|"<the runtime's version>" (optional: WebAssembly runtime),
 *              "instances":[{"id":"...","state":"running","pid":123,"restarts":0,
 *                            "exit":-1,"error":"..." (optional, omitted when empty),
 *                            "retry_ms":N (optional), "health":"starting"|"healthy"|
 *                            "unhealthy" (optional: only while running),
 *                            "probe":"..." (optional, omitted when empty)}]}
 *   start     {"v":1,"op":"start","id":"<instance id>","comp":0,"app":{<canonical app>}}
 *   stop      {"v":1,"op":"stop","id":"<instance id>"}
 *   reply     {"v":1,"ok":true} | {"v":1,"ok":false,"error":"..."}
 *
 * Decoders take bytes off the network: they check sizes first, then every field's
 * type and range, and name the field in the error ("heartbeat: instances[2].state:
 * ..."). A start's app goes through op_manifest_from_json, the same validator as a
 * manifest, and its instance id must begin with "<app>.<component>.". Error texts are
 * passed through op_proto_text both ways (control characters become spaces), so that
 * what is decoded encodes to the same bytes. */
#ifndef OUTPOST_PROTO_H
#define OUTPOST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"

#define OP_PROTO_VERSION 1
#define OP_HB_MAX_INSTANCES 1024
#define OP_HB_MAX_LABELS 64
/* Under nats-server's default max_payload (1 MiB): 1024 instances with long ids and
 * errors fit. */
#define OP_HB_MAX_BYTES (768 * 1024)
#define OP_CMD_MAX_BYTES (256 * 1024)
#define OP_REPLY_MAX_BYTES 4096
#define OP_BOOT_MAX 63
#define OP_HB_MIN_INTERVAL_MS 100
#define OP_HB_MAX_INTERVAL_MS 3600000

typedef struct op_hb_inst {
	char id[OP_INST_MAX + 1];
	enum op_inst_state state;
	int pid; /* the workload's pid; 0 when not running */
	int restarts;
	int exit_code; /* last exit: code, or 128+signal; -1 none yet */
	char error[256]; /* why failed (artifact refused, crash loop, exec error); "" none */
	int64_t retry_ms; /* failed: it is tried again in this many ms; 0 none (not sent) */
	/* Sent only while running, and not when NONE; a running instance without it (a
	 * host older than health checks, or one that does not run them) is read as
	 * healthy, so an upgrade never stalls a rollout. NONE in every other state. */
	enum op_health health;
	char probe[256]; /* the last failed probe ("http :8080/healthz: status 503"); "" none */
} op_hb_inst;

typedef struct op_heartbeat {
	char host[OP_HOST_MAX + 1];
	char site[OP_NAME_MAX + 1];
	char boot[OP_BOOT_MAX + 1]; /* changes when `outpost host` restarts */
	uint64_t seq; /* counts heartbeats of this boot */
	int64_t interval_ms; /* the host's --heartbeat: the agent's timeout is a multiple */
	op_kvs labels; /* site, arch, hostname, and --label ones; sorted, owned */
	char limits[16]; /* "rlimit"; "" not said (an older host) */
	char cgroup[24]; /* "v2", "v2-undelegated", "v1", "none"; "" not said */
	char wasm[40]; /* "none" or the runtime's version; "" not said (none) */
	op_hb_inst *insts; /* owned */
	size_t ninsts;
} op_heartbeat;

/* *json is allocated (free()); OP_ETOOBIG past OP_HB_MAX_BYTES or the count caps,
 * OP_EINVAL for a field out of its range. */
int op_heartbeat_encode(const op_heartbeat *hb, char **json, op_err *e);
/* Fills hb (op_heartbeat_clear after, also on failure). */
int op_heartbeat_decode(const char *json, size_t len, op_heartbeat *hb, op_err *e);
void op_heartbeat_clear(op_heartbeat *hb);

/* A start carries the app and component (canonical JSON of the whole app, so the host
 * validates it like any manifest) and which component of it; a stop only the id. */
/* A secret's value (model/sealed.h), opened by the site's agent for one start: it
 * travels in that start command only ("secrets":{"<name>":"<base64>"}), from the host
 * to the shim through a memory file, and is never written to disk nor logged. */
typedef struct op_secret_val {
	char name[OP_NAME_MAX + 1];
	unsigned char *val; /* owned, wiped when freed */
	size_t len;
} op_secret_val;

typedef struct op_hostcmd {
	enum op_cmd_op op;
	char id[OP_INST_MAX + 1];
	op_app *app; /* start only; owned (op_hostcmd_clear frees it) */
	size_t comp; /* start only: index into app->comps */
	op_secret_val *secrets; /* start only: the values the component refers to; owned */
	size_t nsecrets;
} op_hostcmd;

int op_hostcmd_encode(const op_hostcmd *c, char **json, op_err *e);
/* Fills c (op_hostcmd_clear after, also on failure). */
int op_hostcmd_decode(const char *json, size_t len, op_hostcmd *c, op_err *e);
void op_hostcmd_clear(op_hostcmd *c);

/* proto_secrets.c: the values as one JSON object {"<name>":"<base64>"} (what a start's
 * "secrets" holds, and what the host hands the shim); *json allocated (wipe it with
 * op_secret_free(json, strlen(json) + 1)). Decoding checks names and sizes; its errors
 * never quote a value. */
int op_secret_vals_encode(const op_secret_val *v, size_t n, char **json, op_err *e);
int op_secret_vals_decode(const char *json, size_t len, op_secret_val **v, size_t *n, op_err *e);
/* The value of secret name in v, or NULL. */
const op_secret_val *op_secret_vals_find(const op_secret_val *v, size_t n, const char *name);
void op_secret_vals_free(op_secret_val *v, size_t n);

typedef struct op_hostreply {
	bool ok;
	char error[512]; /* when !ok: why, never empty */
} op_hostreply;

int op_hostreply_encode(const op_hostreply *r, char **json, op_err *e);
int op_hostreply_decode(const char *json, size_t len, op_hostreply *r, op_err *e);

/* --- logs (proto_logs.c) ---------------------------------------------------------------
 *
 *   outpost-logs.<site>.<host>      a reader -> host, request/reply: op_logreq -> op_logreply
 *
 * Not under outpost.>: a site's leaf remote refuses every outpost.> subject from the
 * hub (host commands), and this one read-only subject is allowed across it by name.
 *
 *   request {"v":1,"app":"web","instance":"<id>" (optional),"tail":65536,
 *            "running_only":false,"after":[{"id":"<id>","ino":N,"off":N}] (optional)}
 *   reply   {"v":1,"host":"h1","truncated":false,
 *            "logs":[{"id":"<id>","running":true,"stopped_ms":0,"state":"running",
 *                     "exit":-1,"ino":N,"off":N,"data":"...","more":false,"gap":false}]}
 *
 * A log is the output of one instance: a running one's (under its id), or a stopped
 * one's the host kept. Without a cursor in "after", a log is read from tail bytes
 * before its end (0: from its start); with one (the ino and offset a reply gave), from
 * there on, so that a follower polls for what is new. Replies are bounded: at most
 * OP_LOGS_DATA_MAX bytes of output in all, "more" when a log has more past its data,
 * "truncated" when logs were left out. Data is text: invalid UTF-8 and NUL bytes
 * arrive as '?'. */
#define OP_LOGS_PREFIX "outpost-logs" /* the subject: OP_LOGS_PREFIX.<site>.<host> */
#define OP_LOGS_REQ_MAX_BYTES (64 * 1024)
#define OP_LOGS_MAX_AFTER 256
#define OP_LOGS_MAX_LOGS 256
#define OP_LOGS_DATA_MAX (128 * 1024)
/* Each data byte escapes to at most 6 ("\u001b"), plus the fields of every log. */
#define OP_LOGS_REPLY_MAX_BYTES (6 * OP_LOGS_DATA_MAX + OP_LOGS_MAX_LOGS * 512)
#define OP_LOGS_TAIL_DEFAULT (64 * 1024)

typedef struct op_logcur {
	char id[OP_INST_MAX + 1];
	uint64_t ino, off;
} op_logcur;

typedef struct op_logreq {
	char app[OP_NAME_MAX + 1];
	char inst[OP_INST_MAX + 1]; /* "" all of the app's */
	uint64_t tail; /* bytes before the end of a log read without a cursor; 0 all */
	bool running_only; /* leave out the logs of stopped instances */
	op_logcur *after; /* owned */
	size_t nafter;
} op_logreq;

typedef struct op_logent {
	char id[OP_INST_MAX + 1];
	bool running; /* the instance is on the host (in any state) */
	int64_t stopped_ms; /* a kept log: when its instance went (Unix ms); 0 running */
	enum op_inst_state state; /* its last state */
	int exit_code; /* its last exit, -1 none */
	uint64_t ino, off; /* the cursor just past data */
	char *data; /* owned, NUL-terminated text */
	size_t len;
	bool more; /* the log goes on past data */
	bool gap; /* output between the cursor asked for and data is gone (rotated away) */
} op_logent;

typedef struct op_logreply {
	char host[OP_HOST_MAX + 1];
	op_logent *v; /* owned */
	size_t n;
	bool truncated; /* logs left out (more than OP_LOGS_MAX_LOGS) */
} op_logreply;

int op_logreq_encode(const op_logreq *q, char **json, op_err *e);
/* Fills q (op_logreq_clear after, also on failure). */
int op_logreq_decode(const char *json, size_t len, op_logreq *q, op_err *e);
void op_logreq_clear(op_logreq *q);
/* Data is made text here (see above). */
int op_logreply_encode(const op_logreply *r, char **json, op_err *e);
/* Fills r (op_logreply_clear after, also on failure). */
int op_logreply_decode(const char *json, size_t len, op_logreply *r, op_err *e);
void op_logreply_clear(op_logreply *r);

const char *op_inst_state_name(enum op_inst_state s);
int op_inst_state_parse(const char *s, enum op_inst_state *out);
/* "none", "starting", "healthy", "unhealthy". */
const char *op_health_name(enum op_health h);
/* One of the names but "none" (which is never sent). */
int op_health_parse(const char *s, enum op_health *out);

/* An instance id: 1..OP_INST_MAX of [a-z0-9.@-], starting with [a-z0-9] (it also names
 * the host's per-instance state directory, so no "/" and no leading "."). */
bool op_inst_id_valid(const char *id);
/* Host label rules, as for requirements in manifests: key 1..63 of [A-Za-z0-9._/-],
 * value 1..63 of [A-Za-z0-9._-]. */
bool op_label_key_valid(const char *k);
bool op_label_value_valid(const char *v);

/* Copies src into dst[cap] (cap >= 4) as text that is safe in JSON and logs: valid
 * UTF-8 (an invalid byte becomes '?'), control characters as spaces, and when it does
 * not fit, cut at a character boundary and ended with "...". The encoders pass every
 * error text through it, so a message cut in the middle of a character never makes a
 * heartbeat or a reply unencodable. */
void op_proto_text(char *dst, size_t cap, const char *src);

#endif
