/* A whole revision at a site: the commit marker and the apps it lists, each checked
 * against the marker's digest. The agent applies whole revisions only (a marker whose
 * every app it holds with the right digest) and keeps the one it runs on disk, so a
 * restart in the middle of a catch-up keeps running the last whole revision. */
#ifndef OUTPOST_REVISION_H
#define OUTPOST_REVISION_H

#include <stdbool.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"

typedef struct op_revision {
	op_marker marker;
	op_app **apps; /* in marker order (sorted by name) */
	char **json; /* canonical JSON of each app */
	size_t napps;
	bool verified; /* derived at the edge from the signed commit (edge.h), not taken
			  from the hub; kept with the saved revision */
} op_revision;

/* Looks an app up by name: 0 and its stored JSON and length (borrowed), or
 * OP_ENOTFOUND. */
typedef int (*op_revision_lookup)(void *arg, const char *name, const char **json, size_t *len);

/* Builds the revision the marker describes from what lookup holds. OP_ENOTFOUND when
 * an app is missing or not yet at the listed digest (the revision is incomplete: wait);
 * OP_EINVAL when a listed app's JSON is present with the right digest but unreadable
 * (e.g. an unknown format), with e naming the app. Pure. */
int op_revision_assemble(
	const op_marker *m, op_revision_lookup lookup, void *arg, op_revision *out, op_err *e);
void op_revision_clear(op_revision *r);

/* Persists the revision as one JSON file, atomically; loads it back, re-checking every
 * digest. OP_ENOTFOUND when there is no file. */
int op_revision_save(const op_revision *r, const char *path, op_err *e);
int op_revision_load(op_revision *r, const char *path, op_err *e);

#endif
