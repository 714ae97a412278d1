/* Internal to the site agent: its status in the site's outpost-status bucket. The part
 * keeps what it wrote last (to write a key only when it changes) and the freshness
 * policy; what it shows each round comes from the other parts, borrowed. Loop-only. */
#ifndef OUTPOST_SITE_STATUS_INT_H
#define OUTPOST_SITE_STATUS_INT_H

#include <jansson.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/plan/pace.h"
#include "outpost/agent/plan/plan.h"
#include "outpost/agent/site/agent.h"
#include "outpost/agent/trust/fresh.h"
#include "outpost/agent/wire/revision.h"
#include "holds_int.h"
#include "hosts_int.h"
#include "policy_int.h"
#include "report_int.h"
#include "secrets_int.h"
#include "table_int.h"

typedef struct ag_status_rec {
	char *key;
	char *body; /* the JSON without its time, to write only on change */
	bool seen; /* still produced this round */
	char state[16]; /* an app key's state and spec, and since when (Unix seconds) */
	char spec[OP_DIGEST_LEN + 1];
	int64_t since;
} ag_status_rec;

/* A host the bucket holds a key of (written before this agent started) that this agent
 * has not heard: shown dead once the start-up window has passed, forgotten a day after
 * it was last seen. */
typedef struct ag_ghost {
	char *key;
	json_t *last; /* its last status, as the bucket held it */
	int64_t seen; /* wall clock seconds of its last_seen; 0 unknown */
} ag_ghost;

#define AG_REPORT_MS 5000 /* the agent key is written at least this often, by default */
#define AG_GHOST_FORGET_S (24 * 3600)

typedef struct ag_status {
	const char *site; /* borrowed from the configuration, as the next three */
	const op_kvs *labels;
	bool edge; /* --trust */
	int64_t resync_ms, stale_after_ms;
	int64_t report_ms, last_report_ms; /* the agent key's own rewrite, for liveness */
	ag_ghost *ghosts;
	size_t nghosts, capghosts;
	bool ghosts_loaded;
	kvStore *kv; /* borrowed: the site's outpost-status; NULL until it is open */
	ag_report *report; /* borrowed: what is written goes to the hub too; NULL none */
	ag_status_rec *rec;
	size_t nrec, caprec;
	int64_t last_resync_ms;
	op_pace pace; /* whether a round writes (pace.h) */
	op_trust_policy fresh_pol; /* --fresh-signers */
	bool have_fresh_pol;
	enum op_fresh_state fresh_state; /* as last reported */
	char failed[512]; /* the last write that failed (logged once) */
} ag_status;

/* What one round shows, borrowed from the other parts. */
typedef struct ag_status_in {
	const op_revision *run; /* NULL: none yet */
	int64_t run_since_ms; /* wall clock */
	const op_err *problem; /* the revision choice's (code 0: none) */
	const op_err *fault; /* the round's own failure (code 0: none) */
	const char *bucket_warning, *mirror_note, *mirror_state;
	const ag_table *mirror_keys, *hub_keys; /* where the freshness record is */
	json_t *artifacts; /* borrowed: the artifacts the site needs, as staging sees them */
	const op_marker *held; /* the revision waiting for its artifacts; NULL none */
	const ag_hosts *hosts;
	const ag_policy *policy; /* with --trust: shown as the policy in force */
	const ag_holds *holds; /* which spec each app runs, and why when it is held */
	const ag_blocked *blocked; /* apps kept out for their secrets (secrets_int.h) */
	size_t nblocked;
	const op_plan_in *plan; /* NULL: the round has none; only the agent key is written */
	const op_cmd *cmds;
	size_t ncmds;
	int64_t now; /* monotonic */
} ag_status_in;

/* Takes the configuration and reads --fresh-signers: 0 or its error. */
int ag_status_init(ag_status *st, const op_agent_cfg *cfg, op_err *e);
/* Writes what changed (everything on resync, the agent key every report_ms) and deletes
 * the keys of apps and hosts that are gone; what it wrote goes to the hub in one report.
 * A failed write is logged once and retried next round. */
void ag_status_write(ag_status *st, const ag_status_in *in);
void ag_status_clear(ag_status *st);
/* Writes body (stolen; NULL: it could not be built) under key when it differs from what
 * was written last, or always with resync; adds the time written and, when seen is not
 * NULL, last_seen. */
void ag_status_put(ag_status *st, const char *key, json_t *body, const char *seen, bool resync);
/* ghosts.c: the hosts the bucket remembers and this agent has not heard; written dead
 * once the start-up window has passed. Called by ag_status_write each round. */
void ag_ghosts_write(ag_status *st, const ag_status_in *si);
void ag_ghosts_clear(ag_status *st);

#endif
