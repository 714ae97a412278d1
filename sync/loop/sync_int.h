/* Internal to sync's pass (sync.c): the state of a sync, and the parts of a pass kept in
 * files of their own. */
#ifndef OUTPOST_SYNC_INT_H
#define OUTPOST_SYNC_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/trust/sshsign.h"
#include "outpost/sync/git/mindex.h"
#include "outpost/sync/git/proofgen.h"
#include "outpost/sync/git/source.h"
#include "outpost/sync/loop/artcheck.h"
#include "outpost/sync/loop/outcome.h"
#include "outpost/sync/loop/rollouts.h"
#include "outpost/sync/loop/sync.h"

struct op_sync {
	op_sync_cfg cfg;
	op_source *src;
	op_bus bus;
	kvStore *kv, *status;
	op_mindex index; /* blob -> app and digest, of the last accepted revision */
	char index_path[4096];
	op_sshpriv fresh_key; /* --fresh-key, when given */
	char good_commit[41]; /* the revision this process published or found in place */
	uint64_t good_seq; /* (what freshness records vouch for); 0: none yet */
	uint64_t fresh_seq; /* the seq the last record named (for the log) */
	bool fresh_failing;
	/* The last rejection or failure logged (digest of outcome, commit, reason and
	 * errors): the same one is not logged again every pass, only when it changes. */
	char last_refusal[65]; /* hex sha256 */
	op_artwatch art; /* the accepted revision's artifacts against the store */
	op_rollouts rollouts; /* canary waves of the accepted revision's apps */
	bool kv_checked, status_checked, store_checked; /* replicas looked at */
	bool status_failing; /* hub.sync could not be written (said once) */
};

/* Every commit after base (the last accepted one; NULL: none) up to head, oldest first
 * (with --verify head, the head alone), under the trust policy in force before it; a
 * commit that verified and changes the repository's policy puts its own in force for
 * the commits after it. 0, or -1 with the outcome rejected or failed. */
int op_sync_verify_range(op_sync *s, const char *head, const char *base, op_sync_outcome *o);

/* The proof of commit c (proof.h): the signed commit, the trees down the path (as JSON
 * in *json), the manifest blobs. 0 or an OP_E* code in e. */
int op_sync_proof_build(
	op_sync *s, const op_commit *c, char **json, size_t *len, op_blob_ids *blobs, op_err *e);
/* The bucket holds the revision of head already: publishes its proof when the bucket's
 * is another's or missing (written by an older sync, or lost), so that sites verifying
 * at the edge need not wait for the next commit. Logged. */
void op_sync_proof_repair(op_sync *s, const char *head, uint64_t base_seq);
/* A blob of the source (src: the op_source), for op_publish_proof. */
int op_sync_load_blob(void *src, const char *id, char **buf, size_t *len, op_err *e);

/* This pass's first chained write was refused: another sync writes the bucket (one on
 * every node of a hub cluster). Watches the marker and the stream's last sequence
 * until op_standby_next decides; true when a new pass should follow at once. */
bool op_sync_stand_by(op_sync *s, const char *head, uint64_t prev_seq, op_sync_outcome *o);

#endif
