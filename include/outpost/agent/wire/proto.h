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
 *              "instances":[{"id":"...","state":"running","pid":123,"restarts":0,
 *                            "exit":-1,"error":"..." (optional, omitted when empty)}]}
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
} op_hb_inst;

typedef struct op_heartbeat {
	char host[OP_HOST_MAX + 1];
	char site[OP_NAME_MAX + 1];
	char boot[OP_BOOT_MAX + 1]; /* changes when `outpost host` restarts */
	uint64_t seq; /* counts heartbeats of this boot */
	int64_t interval_ms; /* the host's --heartbeat: the agent's timeout is a multiple */
	op_kvs labels; /* site, arch, hostname, and --label ones; sorted, owned */
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
typedef struct op_hostcmd {
	enum op_cmd_op op;
	char id[OP_INST_MAX + 1];
	op_app *app; /* start only; owned (op_hostcmd_clear frees it) */
	size_t comp; /* start only: index into app->comps */
} op_hostcmd;

int op_hostcmd_encode(const op_hostcmd *c, char **json, op_err *e);
/* Fills c (op_hostcmd_clear after, also on failure). */
int op_hostcmd_decode(const char *json, size_t len, op_hostcmd *c, op_err *e);
void op_hostcmd_clear(op_hostcmd *c);

typedef struct op_hostreply {
	bool ok;
	char error[512]; /* when !ok: why, never empty */
} op_hostreply;

int op_hostreply_encode(const op_hostreply *r, char **json, op_err *e);
int op_hostreply_decode(const char *json, size_t len, op_hostreply *r, op_err *e);

const char *op_inst_state_name(enum op_inst_state s);
int op_inst_state_parse(const char *s, enum op_inst_state *out);

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
