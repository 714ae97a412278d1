/* Verification at the edge: a site that runs with its own copy of the trust policy does
 * not take the hub's word for a revision. From the revision's proof (proof.h) and the
 * manifest blobs it checks the commit's id and SSH signature with its own policy, every
 * tree id down the synced path, every blob id, and derives each app's canonical JSON from
 * the blob's YAML; the result must be exactly the apps and digests the marker lists. */
#ifndef OUTPOST_EDGE_H
#define OUTPOST_EDGE_H

#include <stddef.h>

#include "outpost/agent/wire/marker.h"
#include "outpost/agent/wire/proof.h"
#include "outpost/agent/wire/revision.h"
#include "outpost/agent/trust/verify.h"

/* A blob's bytes by id (borrowed): 0, or OP_ENOTFOUND when the site does not hold it. */
typedef int (*op_edge_blob_fn)(void *arg, const char *id, const char **buf, size_t *len);

/* Builds the revision m describes from the proof (proof_json, NULL when the bucket has
 * none) and the blobs, checked as above against pol and the synced path the site
 * expects. 0 with out filled (its marker's signer and time are the site's own reading of
 * the commit, whatever the hub wrote); OP_ENOTFOUND when a blob is not here yet (wait);
 * OP_ETRUST when the revision is refused, e saying why; OP_ENOMEM. Pure. */
int op_edge_verify(const op_policy *pol, const char *path, const op_marker *m,
	const char *proof_json, size_t proof_len, op_edge_blob_fn blob, void *arg, op_revision *out,
	op_err *e);
/* The same over a decoded proof (borrowed). */
int op_edge_verify_proof(const op_policy *pol, const char *path, const op_marker *m,
	const op_proof *p, op_edge_blob_fn blob, void *arg, op_revision *out, op_err *e);

#endif
