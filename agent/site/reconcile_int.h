/* Internal to the site agent: reconcile rounds. A round is a snapshot of what the hosts
 * report (plus the commands they acknowledged but do not report yet) against the
 * revision the site runs, the plan's commands for it, and then the commands sent,
 * rate-limited, each retried with exponential backoff when it fails. The part keeps the
 * commands in flight and the failed ones between rounds. Loop-only. */
#ifndef OUTPOST_SITE_RECONCILE_INT_H
#define OUTPOST_SITE_RECONCILE_INT_H

#include <pthread.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/plan/plan.h"
#include "outpost/agent/site/agent.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/wire/revision.h"
#include "hosts_int.h"

/* A command the host acknowledged that its heartbeats do not show yet. */
typedef struct ag_pending {
	enum op_cmd_op op;
	char inst[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1];
	char boot[64];
	uint64_t seq; /* the host's heartbeat seq when acknowledged */
	int64_t at_ms;
} ag_pending;

/* A command that failed: not retried before next_ms. */
typedef struct ag_retry {
	enum op_cmd_op op;
	char inst[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1];
	int fails;
	int64_t next_ms;
	char error[512];
} ag_retry;

typedef struct ag_reconcile {
	const char *site; /* borrowed from the configuration, as the labels */
	const op_kvs *labels;
	int64_t cmd_timeout_ms;
	int max_cmds_per_tick;
	ag_pending *pend;
	size_t npend, cappend;
	ag_retry *retry;
	size_t nretry, capretry;
	bool nomem; /* a command could not be remembered (logged once) */
	/* Fills a start's secret values for component c (agent.c's: secrets_int.h); NULL
	 * when no component has any. */
	int (*open)(void *arg, const op_component *c, op_hostcmd *hc, op_err *e);
	void *open_arg;
} ag_reconcile;

/* One round: the plan's input (apps and hosts borrowed from the revision and the hosts'
 * table: valid while the mutex is held) and its commands. */
typedef struct ag_round {
	const op_app **apps;
	size_t napps;
	op_host_view *hosts;
	size_t nhosts;
	op_inst_view *insts;
	size_t ninsts, capinsts;
	op_plan_in in;
	op_cmd *cmds;
	size_t ncmds;
	bool planned; /* in is whole (the snapshot did not fail) */
} ag_round;

void ag_reconcile_init(ag_reconcile *rc, const op_agent_cfg *cfg);
/* Under mu: the round's snapshot and plan of apps (borrowed: the revision's, as the holds
 * say; have_run false: no revision yet, nothing to plan). 0, or OP_ENOMEM or the plan's
 * error, with e; r->planned says whether r->in can be shown. */
int ag_reconcile_plan(ag_reconcile *rc, const ag_hosts *hs, const op_app *const *apps, size_t napps,
	bool have_run, int64_t now, ag_round *r, op_err *e);
/* How many of the round's commands ag_reconcile_send would send now (those a failure
 * holds back until their retry are not counted). */
size_t ag_reconcile_due(ag_reconcile *rc, const ag_round *r, int64_t now);
/* Under mu, released while each command is on the wire (heartbeats keep flowing; the
 * round's borrowed host labels may be replaced then). */
void ag_reconcile_send(
	ag_reconcile *rc, const ag_hosts *hs, op_bus *bus, pthread_mutex_t *mu, const ag_round *r);
void ag_round_clear(ag_round *r);
void ag_reconcile_clear(ag_reconcile *rc);

#endif
