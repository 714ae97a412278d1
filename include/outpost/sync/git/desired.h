/* The desired state of one commit, as sync publishes it: one entry per manifest under
 * the synced path (app name, digest of the canonical JSON, the JSON when it was just
 * made), names unique across files. Manifests whose blob the index knows are not
 * parsed again; the others are parsed and validated, with every error reported. */
#ifndef OUTPOST_DESIRED_H
#define OUTPOST_DESIRED_H

#include "outpost/sync/git/mindex.h"
#include "outpost/sync/publish/publish.h"
#include "outpost/sync/git/source.h"

typedef struct op_desired {
	op_pub_entry *v; /* sorted by name */
	char **files; /* the manifest file of each entry */
	size_t n;
	int invalid; /* files with errors (then v is not to be published) */
} op_desired;

/* Reads the manifests of commit sha under path. Errors of the manifests go to d (and
 * count in invalid); the return value is for failures to read (git, memory). */
int op_desired_read(op_source *src, const op_mindex *idx, const char *sha, const char *path,
	op_desired *out, op_diags *d, op_err *e);
/* An op_pub_load over an op_source: parses the entry's blob again for its JSON. */
int op_desired_load(void *src, op_pub_entry *entry, op_err *e);
/* The index of what out holds (to save after it was published). */
int op_desired_index(const op_desired *out, op_mindex *idx);
void op_desired_clear(op_desired *out);

#endif
