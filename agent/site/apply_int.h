/* Internal to the site agent: the revision the site runs, kept on disk so that a restart
 * in the middle of a catch-up keeps running the last whole revision, and the moves to
 * the next one as op_revision_choose (choose.h) decides them. Loop-only. */
#ifndef OUTPOST_SITE_APPLY_INT_H
#define OUTPOST_SITE_APPLY_INT_H

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/plan/choose.h"
#include "outpost/agent/site/agent.h"
#include "outpost/agent/wire/revision.h"
#include "policy_int.h"
#include "table_int.h"

typedef struct ag_applied {
	op_revision run;
	bool have_run;
	int64_t since_ms; /* wall clock: when this process started running it */
	char path[1024]; /* where it is kept: <state>/revision.json */
	op_choose_memo memo; /* the choice's memory between rounds */
	ag_policy policy; /* with --trust: the policy the site holds, following rotations */
	/* Whether a revision may apply now (its artifacts are all staged: agent.c's); NULL
	 * lets every revision apply. A revision the gate holds is kept as pending, so that
	 * it is not assembled (verified) again every round, and logged once. */
	bool (*gate)(void *arg, const op_revision *r, op_err *why);
	void *gate_arg;
	op_revision pending;
	bool have_pending;
	char held[OP_DIGEST_LEN + 1]; /* the commit held last (logged once) */
	/* from the configuration (borrowed) */
	const char *trust, *revoked, *dir; /* --trust, --revoked, --path */
	int64_t resync_ms;
} ag_applied;

/* Takes the configuration and loads the saved revision, if any (a bad one is logged and
 * ignored: the mirror has it again). 0, or OP_ETOOBIG for a state path too long. */
int ag_applied_init(ag_applied *ap, const op_agent_cfg *cfg, op_err *e);
/* Under mu: one choice over t (the mirror's keys, or with from_hub the hub's read past a
 * stalled mirror), the mirror as view says (measured on bus when the choice asks);
 * moves to the revision chosen. *problem becomes the choice's reason for status (a
 * refusal, a wait at the edge), is cleared by a move, and else stays as it was. */
void ag_applied_choose(ag_applied *ap, const ag_table *t, bool from_hub,
	const op_choose_mirror *view, op_bus *bus, int64_t now, op_err *problem);
void ag_applied_clear(ag_applied *ap);

#endif
