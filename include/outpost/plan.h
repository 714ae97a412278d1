/* Scheduling, pure: plan(desired apps, hosts, observed instances) -> commands. No I/O,
 * no clock, no globals: the same input always gives the same commands, so it is tested
 * exhaustively and at scale, and the agent just calls it whenever anything changes.
 *
 * Instance ids are deterministic and unique per site:
 *   spreadscaler: <app>.<component>.<n>-<h>        n = 0..instances-1
 *   daemonscaler: <app>.<component>.<n>@<host>-<h> n = 0..instances-1 on each host
 * where <h> is the first 12 hex digits of the sha256 of the component's canonical
 * properties JSON (traits are not in it: scaling never restarts an instance, a spec
 * change yields new ids). */
#ifndef OUTPOST_PLAN_H
#define OUTPOST_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/manifest.h"

#define OP_HOST_MAX 63
#define OP_INST_MAX 200 /* an instance id */

enum op_inst_state {
	OP_INST_STARTING, /* asked to start, not yet running */
	OP_INST_RUNNING,
	OP_INST_BACKOFF,  /* exited, restart pending (restart policy) */
	OP_INST_FAILED,   /* crash loop limit reached or artifact refused: not restarted */
	OP_INST_EXITED,   /* ended for good (restart never / on-failure after success) */
	OP_INST_STOPPING,
};

typedef struct op_host_view {
	char id[OP_HOST_MAX + 1];
	op_kvs labels; /* site, arch, hostname and the --label ones; sorted */
	bool alive;    /* heartbeating (and past the agent's start-up window) */
} op_host_view;

typedef struct op_inst_view {
	char id[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1]; /* where it runs */
	enum op_inst_state state;
} op_inst_view;

typedef struct op_plan_in {
	const op_app *const *apps; /* the apps this site runs (placement already applied) */
	size_t napps;
	const op_host_view *hosts;
	size_t nhosts;
	const op_inst_view *insts; /* what the hosts report */
	size_t ninsts;
} op_plan_in;

enum op_cmd_op { OP_CMD_START, OP_CMD_STOP };

typedef struct op_cmd {
	enum op_cmd_op op;
	char host[OP_HOST_MAX + 1];
	char inst[OP_INST_MAX + 1];
	size_t app, comp; /* start: indexes into in->apps and its comps */
} op_cmd;

/* Computes the commands that move what runs towards what is desired. *cmds is
 * allocated (free()), sorted deterministically. 0 or OP_ENOMEM. */
int op_plan_compute(const op_plan_in *in, op_cmd **cmds, size_t *ncmds);

/* The 12-hex spec hash of a component (sha256 of its canonical properties JSON). */
int op_component_hash(const op_component *c, char out[13]);
/* Builds an instance id; host is used for daemonscaler ids only. */
int op_inst_id(const op_app *app, const op_component *c, const char *hash, int n,
	const char *host, char out[OP_INST_MAX + 1]);
/* Whether host labels satisfy requirements (every key present with the same value). */
bool op_labels_match(const op_kvs *labels, const op_kvs *requirements);
/* Whether an app's placement selects a site with these labels (includes "site"). */
bool op_placement_matches(const op_app *app, const char *site, const op_kvs *site_labels);

#endif
