/* The hub loop: one pass fetches the branch, checks the head against the last
 * accepted commit (the marker in KV, so a fresh sync with no state still refuses
 * rollbacks), verifies signatures, validates every manifest and publishes all or
 * nothing. */
#ifndef OUTPOST_SYNC_H
#define OUTPOST_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/sync/loop/outcome.h"

typedef struct op_sync_cfg {
	const char *repo, *trust, *revoked, *branch, *path, *nats, *state, *ca_file;
	bool verify_all, match_committer;
	uint64_t seq_floor;
	const char *fresh_key; /* freshness: the hub's ed25519 signing key (NULL: off) */
	int64_t fresh_ttl_ms; /* how long a record is valid */
	int replicas; /* of the buckets sync creates (0: 1); fewer in place are reported */
	int write_window; /* a pass's writes in flight (0: OP_CHAIN_WINDOW; chain.h) */
} op_sync_cfg;

typedef struct op_sync op_sync;

int op_sync_new(op_sync **s, const op_sync_cfg *cfg, op_err *e);
/* One pass. Never fails itself: the outcome says what happened. When another sync
 * wrote the bucket meanwhile (one per node of a hub cluster), the pass waits for its
 * marker: the head published by the other is "unchanged" ("another sync published
 * revision N"); a revision the other left half way is finished by a new pass. */
void op_sync_pass(op_sync *s, op_sync_outcome *o);
void op_sync_free(op_sync *s);
/* Signs and writes a freshness record for the revision the bucket holds (fresh.h), when
 * --fresh-key is set and a pass has connected. Logs a failure once. */
void op_sync_fresh(op_sync *s);
/* Asks the sync running at nats for a pass now and prints its outcome; waits at most
 * wait_ms. The exit code: 0 accepted or unchanged, 1 rejected, failed or no answer. */
int op_sync_now(const char *nats, int64_t wait_ms);
#define OP_SYNC_NOW_SUBJECT "outpost.hub.sync.now"
/* One step of the rollouts (rollouts.h) over the buckets of s: after every pass and every
 * OP_ROLLOUT_TICK_MS between passes. Logs its failures once. */
void op_sync_rollouts(op_sync *s);
/* Answers outpost promote or halt (subject OP_SUBJECT_PROMOTE or OP_SUBJECT_HALT): the
 * reply, allocated. */
char *op_sync_rollout_request(op_sync *s, const char *subject, const char *data, size_t len);
/* For the loop: the connection of s (NULL before the first pass connects). */
struct op_bus *op_sync_bus(op_sync *s);

#endif
