/* The Git side of sync (libgit2): a bare cache under the state dir, fetched from the
 * configured remote; commits read raw (for signature checks), ancestry, the range of
 * commits between two revisions, and the manifests of a commit's tree. */
#ifndef OUTPOST_SOURCE_H
#define OUTPOST_SOURCE_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/base/err.h"
#include "outpost/agent/trust/verify.h"

typedef struct op_source op_source;

/* Opens (or creates, or rebuilds when unreadable) the cache in state_dir for url.
 * ca_file: CA bundle for https (NULL: the first of the usual system paths). */
int op_source_open(
	op_source **s, const char *state_dir, const char *url, const char *ca_file, op_err *e);
/* Fetches branch; head gets the remote branch's commit. A fetch that fails on a cache
 * that may be damaged is retried once on a fresh cache. */
int op_source_fetch(op_source *s, const char *branch, char head[41], op_err *e);
int op_source_commit(op_source *s, const char *sha, op_commit *c, op_err *e);
void op_commit_clear(op_commit *c);
/* *yes: sha equals ancestor or descends from it. OP_ENOTFOUND if ancestor is unknown. */
int op_source_descends(op_source *s, const char *sha, const char *ancestor, bool *yes, op_err *e);
/* The commits reachable from head and not from base (base NULL: head only), newest
 * first; *shas allocated. At most max commits (else OP_ETOOBIG). */
int op_source_range(op_source *s, const char *head, const char *base, size_t max, char (**shas)[41],
	size_t *n, op_err *e);
/* Called for each manifest file with its blob id before the blob is read: return true
 * when the caller already knows that blob (it is then not read or parsed), false to
 * have it parsed into the set. A file may be reported again when the walk is redone
 * on a rebuilt cache. */
typedef bool (*op_source_blob_fn)(void *arg, const char *file, const char blob[41]);
/* Adds every manifest (.yaml, .yml) under path in the commit's tree to set, named by their
 * path in the repository, asking known (may be NULL) first; diagnostics to d. OP_ENOTFOUND
 * when path is not in the tree. */
int op_source_read_apps(op_source *s, const char *sha, const char *path, op_appset *set,
	op_diags *d, op_source_blob_fn known, void *known_arg, op_err *e);
/* The blob id of the file at path in commit sha's tree; OP_ENOTFOUND when there is no
 * such file. */
int op_source_file(op_source *s, const char *sha, const char *path, char blob[41], op_err *e);
/* A blob's bytes (*buf allocated, NUL-terminated). */
int op_source_blob(op_source *s, const char *blob, char **buf, size_t *len, op_err *e);
/* A tree object's raw bytes (*buf allocated), for the revision proof. */
int op_source_tree(op_source *s, const char *id, char **buf, size_t *len, op_err *e);
void op_source_free(op_source *s);

#endif
