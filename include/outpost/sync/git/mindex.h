/* The manifest index of the hub: git blob id -> (app name, digest of its canonical
 * JSON), for the manifests of the last accepted revision, kept in --state. A blob's
 * bytes never change, so a manifest whose blob is in the index need not be parsed again:
 * a pass over 1,000 apps with one changed parses one. It is only a cache: a missing or
 * damaged file is an empty index. */
#ifndef OUTPOST_MINDEX_H
#define OUTPOST_MINDEX_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

typedef struct op_mindex_entry {
	char blob[41];
	char name[OP_NAME_MAX + 1];
	char digest[OP_DIGEST_LEN + 1];
} op_mindex_entry;

typedef struct op_mindex {
	op_mindex_entry *v; /* sorted by blob */
	size_t n;
} op_mindex;

/* Reads path into m (empty when missing or not wholly readable). */
void op_mindex_load(op_mindex *m, const char *path);
/* Replaces m's content with entries (copied, then sorted). */
int op_mindex_set(op_mindex *m, const op_mindex_entry *entries, size_t n);
int op_mindex_save(const op_mindex *m, const char *path, op_err *e);
const op_mindex_entry *op_mindex_find(const op_mindex *m, const char *blob);
void op_mindex_clear(op_mindex *m);

#endif
