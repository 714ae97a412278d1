/* The hub's side of the revision proof (proof.h): built from the sync cache for an
 * accepted commit, with the list of manifest blobs it names, which sync publishes under
 * proof.blob.<id>. */
#ifndef OUTPOST_PROOFGEN_H
#define OUTPOST_PROOFGEN_H

#include "outpost/agent/wire/proof.h"
#include "outpost/sync/git/source.h"

/* The window of the head's first-parent history searched for policy changes: at most
 * this many commits below the head and bytes of their objects (the chain a site may
 * follow; a site further behind is reset by its operator). */
#define OP_PROOF_WINDOW 1000
#define OP_PROOF_WINDOW_BYTES (384u << 10)

/* Blob ids, sorted, unique. */
typedef struct op_blob_ids {
	char (*v)[OP_GIT_ID_LEN + 1];
	size_t n, cap;
} op_blob_ids;

/* The proof of commit c under path (with its .outpost tree, and the chain when the
 * policy changed within the window), and the blobs it names: its manifest files and
 * the policy files of the commit and of the chain. */
int op_proof_build(op_source *src, const op_commit *c, const char *path, op_proof *p,
	op_blob_ids *blobs, op_err *e);
/* The manifest and policy blobs a proof names (walking its own trees). */
int op_proof_blobs(const op_proof *p, op_blob_ids *blobs, op_err *e);
/* Sorts and removes duplicates. */
void op_blob_ids_sort(op_blob_ids *b);
bool op_blob_ids_has(const op_blob_ids *b, const char *id);
void op_blob_ids_clear(op_blob_ids *b);

#endif
