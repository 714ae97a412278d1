/* Shared between plan.c (the driver: inputs, ids, output) and place.c (one
 * component's placement and rollout). Not a module interface: nothing else includes it. */
#ifndef OUTPOST_PLAN_INT_H
#define OUTPOST_PLAN_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/plan/plan.h"

#define PL_NONE ((size_t)-1)

/* An alive host; the table is sorted by id, so a position orders like the id. */
struct pl_host {
	const op_host_view *v;
	int load; /* instances on it (all apps), for the placement tie-break */
};

/* One observed instance on an alive host, after duplicate reports were merged. */
struct pl_rec {
	const op_inst_view *v;
	size_t host; /* position in the alive host table */
	size_t app, comp; /* app: index into in->apps; PL_NONE when no desired component */
	bool daemon_form; /* the id has @<host> */
	size_t dhost; /* daemon form: position of the host named in the id, or PL_NONE */
	bool cur; /* its hash is the component's current one */
	int n; /* ordinal */
};

struct pl_ctx {
	const op_plan_in *in;
	struct pl_host *hosts;
	size_t nhosts;
	op_cmd *cmds;
	size_t ncmds, cap;
};

/* Appends a command; app/comp are PL_NONE for stops. 0 or OP_ENOMEM. */
int pl_emit(
	struct pl_ctx *x, enum op_cmd_op op, size_t host, const char *id, size_t app, size_t comp);
/* Stops r unless it is already stopping. */
int pl_stop(struct pl_ctx *x, const struct pl_rec *r);
/* Formats an id in the canonical form; host NULL for the spreadscaler form. */
int pl_fmt_id(const char *app, const char *comp, int n, const char *host, const char *hash,
	char out[OP_INST_MAX + 1]);
/* Places one component: recs are its instances (sorted by id, then host). */
int pl_component(struct pl_ctx *x, size_t app, size_t comp, const char *hash,
	struct pl_rec *const *recs, size_t nrecs);

#endif
