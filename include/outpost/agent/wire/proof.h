/* The proof published beside each revision (key `proof` of bucket `outpost`), so that a
 * site need not trust the hub: the raw signed commit object and every git tree from the
 * commit's root tree down to the synced path and below it. With the manifest blobs
 * (keys `proof.blob.<id>`, the raw bytes), a site recomputes every object id, checks the
 * commit's signature with its own policy, lists the manifest files exactly as sync reads
 * them, and derives each app's canonical JSON from its YAML itself.
 *
 * The head's .outpost tree is among the trees and its allowed_signers and revoked are
 * among the blobs, so a site knows the trust policy the commit names. When the policy
 * changed within a window of the commit's first-parent history, the proof also carries
 * the chain a site follows the rotations on (trust/follow.h): the raw commit objects of
 * the first-parent chain from the commit's parent down to the parent of the oldest
 * policy-changing commit (or down to a root commit), newest first, with the root and
 * .outpost trees of each policy-changing commit and of that oldest parent.
 *
 * JSON, sorted keys: {"format":1,"commit":"<hex>","path":"apps","object":"<base64>",
 * "trees":["<base64>",...]}, or with a chain {"format":2,...,"commits":["<base64>",...]}
 * (format 1 stays byte for byte what it was, for older readers). Decoding is strict and
 * bounded: it comes off the network. */
#ifndef OUTPOST_PROOF_H
#define OUTPOST_PROOF_H

#include <stddef.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/wire/gitobj.h"

#define OP_PROOF_FORMAT 1
#define OP_PROOF_FORMAT_CHAIN 2 /* with "commits" */
#define OP_PROOF_MAX_CHAIN 1024 /* commits in the chain */
#define OP_PROOF_MAX_CHAIN_BYTES (512u << 10) /* bytes of the chain's commit objects */
#define OP_PROOF_MAX_TREES 20000
#define OP_PROOF_MAX_DEPTH 64 /* directories below the path */
#define OP_PROOF_PATH_MAX 1024
#define OP_PROOF_BLOB_PREFIX "proof.blob."

typedef struct op_proof_tree {
	char id[OP_GIT_ID_LEN + 1];
	unsigned char *raw;
	size_t len;
} op_proof_tree;

typedef struct op_proof_commit {
	char id[OP_GIT_ID_LEN + 1];
	char *raw; /* NUL-terminated, len bytes before it */
	size_t len;
} op_proof_commit;

typedef struct op_proof {
	char commit[OP_GIT_ID_LEN + 1];
	char path[OP_PROOF_PATH_MAX + 1]; /* as op_proof_path_clean leaves it */
	char *object; /* the raw commit, as `git cat-file commit` prints it */
	size_t olen;
	op_proof_tree *trees; /* sorted by id, unique */
	size_t ntrees, cap;
	op_proof_commit *commits; /* the chain, newest first (the commit's parent first) */
	size_t ncommits, chain_bytes;
} op_proof;

/* A synced path as sync and the proof name it: trailing slashes removed, "" is ".". */
void op_proof_path_clean(const char *path, char out[OP_PROOF_PATH_MAX + 1]);

/* Sets the commit object (copied; commit gets its id). */
int op_proof_set_commit(op_proof *p, const char *raw, size_t len, op_err *e);
/* Adds a tree's bytes (copied, its id computed) unless held already. */
int op_proof_add_tree(op_proof *p, const void *raw, size_t len, op_err *e);
/* Appends a commit object to the chain (copied, its id computed); OP_ETOOBIG past
 * OP_PROOF_MAX_CHAIN commits or OP_PROOF_MAX_CHAIN_BYTES bytes. */
int op_proof_add_commit(op_proof *p, const char *raw, size_t len, op_err *e);
/* The tree with this id, or NULL. */
const op_proof_tree *op_proof_find(const op_proof *p, const char *id);

int op_proof_encode(const op_proof *p, char **json, size_t *len, op_err *e);
/* Fills p (op_proof_clear after): every id recomputed from the bytes, the commit's
 * included. OP_EINVAL or OP_ETOOBIG with a message naming the field. */
int op_proof_decode(const char *json, size_t len, op_proof *p, op_err *e);
void op_proof_clear(op_proof *p);

/* A tree's bytes by id: 0, OP_ENOTFOUND, or another error. */
typedef int (*op_proof_tree_fn)(
	void *arg, const char *id, const unsigned char **raw, size_t *len, op_err *e);
/* Called for each manifest file (named path/relative-path, as sync names it) with its
 * blob id; a non-zero return stops the walk with that code. */
typedef int (*op_proof_file_fn)(void *arg, const char *file, const char *blob, op_err *e);

/* The manifest files of a commit under path, by sync's rules: every *.yaml / *.yml blob
 * below path, walked in tree order, dot-names skipped (directories too); a manifest
 * that is a symbolic link is an error (OP_EINVAL). Trees come from get. OP_ENOTFOUND
 * when path is not a directory of the commit; OP_ETOOBIG past the caps. */
int op_proof_walk(const char *commit, size_t clen, const char *path, op_proof_tree_fn get,
	void *get_arg, op_proof_file_fn on_file, void *file_arg, op_err *e);
/* op_proof_walk over the proof's own commit, path and trees (a tree it lacks is an
 * error: OP_EINVAL). */
int op_proof_files(const op_proof *p, op_proof_file_fn on_file, void *arg, op_err *e);

/* Where a revision's sealed secrets are (model/sealed.h): secrets/ beside the synced
 * path (its parent's "secrets", "secrets" at the root for "apps" and for "."). The proof
 * carries its trees, and its *.yaml files are published as blobs with the manifests. */
void op_proof_secrets_dir(const char *path, char out[OP_PROOF_PATH_MAX + 1]);
/* The sealed files of the proof's commit (as op_proof_files: file named dir/NAME.yaml),
 * or OP_ENOTFOUND when the commit has no secrets directory. */
int op_proof_secret_files(const op_proof *p, op_proof_file_fn on_file, void *arg, op_err *e);

#endif
