/* The site-local messages between agent and hosts, as plain structs with strict,
 * bounded JSON codecs (every payload has "v":1; anything else is refused).
 *
 *   outpost.<site>.hb.<host>        host -> agent, every --heartbeat: op_heartbeat
 *   outpost.<site>.host.<host>.cmd  agent -> host, request/reply: op_hostcmd -> op_hostreply
 */
#ifndef OUTPOST_PROTO_H
#define OUTPOST_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/err.h"
#include "outpost/manifest.h"
#include "outpost/plan.h"

#define OP_PROTO_VERSION 1
#define OP_HB_MAX_INSTANCES 1024
#define OP_HB_MAX_BYTES (512 * 1024)
#define OP_CMD_MAX_BYTES (256 * 1024)

typedef struct op_hb_inst {
	char id[OP_INST_MAX + 1];
	enum op_inst_state state;
	int pid;       /* 0 when not running */
	int restarts;
	int exit_code; /* last exit: code, or 128+signal; -1 none yet */
	char error[256]; /* why failed (artifact refused, crash loop, exec error) */
} op_hb_inst;

typedef struct op_heartbeat {
	char host[OP_HOST_MAX + 1];
	char site[OP_NAME_MAX + 1];
	char boot[64];  /* changes when `outpost host` restarts */
	uint64_t seq;   /* counts heartbeats of this boot */
	op_kvs labels;  /* site, arch, hostname, and --label ones */
	op_hb_inst *insts;
	size_t ninsts;
} op_heartbeat;

int op_heartbeat_encode(const op_heartbeat *hb, char **json, op_err *e);
int op_heartbeat_decode(const char *json, size_t len, op_heartbeat *hb, op_err *e);
void op_heartbeat_free(op_heartbeat *hb);

/* A start carries the app and component (canonical JSON of the whole app, so the host
 * validates it like any manifest) and which component of it; a stop only the id. */
typedef struct op_hostcmd {
	enum op_cmd_op op;
	char id[OP_INST_MAX + 1];
	op_app *app;    /* start only; owned */
	size_t comp;    /* start only: index into app->comps */
} op_hostcmd;

int op_hostcmd_encode(const op_hostcmd *c, char **json, op_err *e);
int op_hostcmd_decode(const char *json, size_t len, op_hostcmd *c, op_err *e);
void op_hostcmd_free(op_hostcmd *c);

typedef struct op_hostreply {
	bool ok;
	char error[512];
} op_hostreply;

int op_hostreply_encode(const op_hostreply *r, char **json, op_err *e);
int op_hostreply_decode(const char *json, size_t len, op_hostreply *r, op_err *e);

const char *op_inst_state_name(enum op_inst_state s);
int op_inst_state_parse(const char *s, enum op_inst_state *out);

#endif
