/* Publishing an accepted revision into the hub bucket: app.<name> puts for what
 * changed, deletes for what is gone, then the commit marker `rev` last, with
 * compare-and-set on its previous revision so two syncs can never interleave. The
 * diff is a pure function; the writes are a thin loop around it. */
#ifndef OUTPOST_PUBLISH_H
#define OUTPOST_PUBLISH_H

#include <nats/nats.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/sync/git/proofgen.h"

/* One app as it should be (want) or as the bucket holds it (have). */
typedef struct op_pub_entry {
	char name[OP_NAME_MAX + 1];
	char digest[OP_DIGEST_LEN + 1];
	char *json; /* want only: canonical JSON, owned; NULL until needed (see load) */
	size_t len;
	char blob[41]; /* want only: the manifest's git blob, for load */
} op_pub_entry;

/* Fills e->json (and len) for an entry that must be written and has none yet. */
typedef int (*op_pub_load)(void *arg, op_pub_entry *e, op_err *err);

typedef struct op_pub_diff {
	size_t *puts; /* indexes into want */
	size_t nputs;
	size_t *dels; /* indexes into have */
	size_t ndels;
} op_pub_diff;

/* Which wanted apps to put (absent or different digest) and which held apps to delete
 * (not wanted). want and have are sorted by name. Pure. */
int op_publish_diff(const op_pub_entry *want, size_t nwant, const op_pub_entry *have, size_t nhave,
	op_pub_diff *d);
void op_publish_diff_clear(op_pub_diff *d);

/* The revision's proof (proof.h) and the manifest blobs it names, published with it:
 * blob puts after the app puts, blob deletes after the app deletes, then `proof`, then
 * the marker. */
typedef int (*op_pub_blob_load)(void *arg, const char *id, char **buf, size_t *len, op_err *e);
typedef struct op_pub_proof {
	const char *json;
	size_t len;
	const op_blob_ids *blobs;
	op_pub_blob_load load;
	void *load_arg;
} op_pub_proof;

typedef struct op_pub_result {
	size_t puts, dels;
	size_t blob_puts, blob_dels;
	bool wrote_marker;
} op_pub_result;

/* Writes want (sorted by name, unique) as revision m (commit, seq, signer, time filled
 * by the caller; m->apps is filled here): app puts, deletes, then the marker, each write
 * required to follow the one before in the stream, the first one base_seq (the
 * stream's last sequence, read before the marker was read), up to window of them in
 * flight (chain.h), the marker alone once all before it are stored. So nothing
 * interleaves with another writer, and a mirror replaying the stream can check the same
 * condition (a key's own revisions may be trimmed by then). marker_rev: the stream sequence of
 * the current `rev` (0: none); prev: that marker. When it is the last write
 * (marker_rev == base_seq), the bucket holds exactly what prev lists and is not read
 * back; otherwise every app key is (the blob keys always are, names only). proof may be
 * NULL (nothing but apps and the marker). OP_ECONFLICT when the bucket changed meanwhile. */
int op_publish(natsConnection *nc, kvStore *kv, op_pub_entry *want, size_t nwant, op_pub_load load,
	void *load_arg, const op_pub_proof *proof, op_marker *m, const op_marker *prev,
	uint64_t marker_rev, uint64_t base_seq, int window, op_pub_result *r, op_err *e);
/* For a revision already in place whose proof is missing or another commit's (a bucket
 * written before proofs existed, a proof lost): the blobs the bucket lacks, then the
 * proof, chained from base_seq. *puts: blobs written. */
int op_publish_proof(natsConnection *nc, kvStore *kv, const op_pub_proof *proof, uint64_t base_seq,
	int window, size_t *puts, op_err *e);
/* The hub stream's last sequence. */
int op_publish_last_seq(jsCtx *js, uint64_t *seq, op_err *e);

/* The hub bucket's configuration (TTL 0, history, value size). */
void op_publish_bucket_config(kvConfig *cfg);

#endif
