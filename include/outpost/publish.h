/* Publishing an accepted revision into the hub bucket: app.<name> puts for what
 * changed, deletes for what is gone, then the commit marker `rev` last, with
 * compare-and-set on its previous revision so two syncs can never interleave. The
 * diff is a pure function; the writes are a thin loop around it. */
#ifndef OUTPOST_PUBLISH_H
#define OUTPOST_PUBLISH_H

#include <nats/nats.h>

#include "outpost/appset.h"
#include "outpost/marker.h"

/* One app as it should be (want) or as the bucket holds it (have). */
typedef struct op_pub_entry {
	char name[OP_NAME_MAX + 1];
	char digest[OP_DIGEST_LEN + 1];
	char *json; /* want only: canonical JSON, owned */
	size_t len;
} op_pub_entry;

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
void op_publish_diff_free(op_pub_diff *d);

typedef struct op_pub_result {
	size_t puts, dels;
	bool wrote_marker;
} op_pub_result;

/* Writes set as revision m (commit, seq, signer, time filled by the caller; m->apps is
 * filled here). marker_rev: the KV revision of the current `rev` (0: none yet). */
int op_publish(kvStore *kv, const op_appset *set, op_marker *m, uint64_t marker_rev,
	op_pub_result *r, op_err *e);

/* The hub bucket's configuration (TTL 0, history, value size). */
void op_publish_bucket_config(kvConfig *cfg);

#endif
