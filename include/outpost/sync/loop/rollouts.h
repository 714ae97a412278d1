/* Sync's rollouts: for each app of the accepted revision whose rollout policy has 2 or
 * more waves, the promotion record rollout.<app> (started when the revision brings a new
 * spec, promoted or halted as op_wave_decide says over the sites' reports in the hub's
 * outpost-status, signed with --fresh-key when sync has one) and the hub's view of it
 * (hub.rollout.<app> of outpost-status, rewritten on change). Runs after every pass and
 * every OP_ROLLOUT_TICK_MS between passes, so rollouts move while git is quiet; answers
 * outpost promote and outpost halt (wire/rollout.h's subjects). */
#ifndef OUTPOST_SYNC_ROLLOUTS_H
#define OUTPOST_SYNC_ROLLOUTS_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/trust/sshsign.h"

#define OP_ROLLOUT_TICK_MS 2000

typedef struct op_rollout_app {
	op_app *app;
	char digest[OP_DIGEST_LEN + 1];
	char *view; /* the hub.rollout.<app> value last written */
} op_rollout_app;

typedef struct op_rollouts {
	uint64_t seq; /* the revision apps are of; 0: none read */
	char commit[41];
	op_rollout_app *apps; /* those with 2+ waves */
	size_t n;
	bool failing; /* the last step failed (logged once) */
} op_rollouts;

/* One step: js the context both buckets were opened with, kv the hub's outpost bucket,
 * status its outpost-status, key the signing key or NULL; now_ms wall time. Never
 * fails: a failure is logged once, retried next step. */
void op_rollouts_step(op_rollouts *r, jsCtx *js, kvStore *kv, kvStore *status,
	const op_sshpriv *key, int64_t now_ms);
/* Answers a request on OP_SUBJECT_PROMOTE or OP_SUBJECT_HALT: the reply's JSON,
 * allocated (NULL when out of memory). */
char *op_rollouts_request(op_rollouts *r, kvStore *kv, kvStore *status, const op_sshpriv *key,
	const char *subject, const char *data, size_t len, int64_t now_ms);
void op_rollouts_clear(op_rollouts *r);

#endif
