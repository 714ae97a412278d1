/* Which stored artifacts the accepted revisions reference, and which objects `outpost
 * artifact gc` may therefore delete: pure decisions over plain lists, so that the rule
 * "never an artifact a kept revision references" is tested on its own. A manifest
 * references an artifact by its component's artifact.sha256: one digest, or one per
 * host arch (each counts). */
#ifndef OUTPOST_STORE_REFS_H
#define OUTPOST_STORE_REFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/store/objmeta.h"

typedef struct op_art_ref {
	uint8_t sha256[32];
	char app[OP_NAME_MAX + 1]; /* the app that references it */
} op_art_ref;

/* A list of (digest, app) pairs, each pair once. */
typedef struct op_art_refs {
	op_art_ref *v;
	size_t n, cap;
} op_art_refs;

/* Adds every artifact digest of app's components. 0 or OP_ENOMEM. */
int op_art_refs_add_app(op_art_refs *r, const op_app *app, op_err *e);
/* The same from an app's canonical JSON (as the hub bucket holds it): OP_EINVAL with
 * the first problem when it does not read back. */
int op_art_refs_add_json(op_art_refs *r, const char *json, size_t len, op_err *e);
/* Adds one pair (no-op when there). 0 or OP_ENOMEM. */
int op_art_refs_add(op_art_refs *r, const uint8_t sha[32], const char *app, op_err *e);
/* The same for a manifest's digest (64 hex, with or without "sha256:"); OP_EINVAL names
 * the app when it is not one. */
int op_art_refs_add_hex(op_art_refs *r, const char *hex, const char *app, op_err *e);
bool op_art_refs_has(const op_art_refs *r, const uint8_t sha[32]);
/* The apps that reference sha, sorted, comma-separated ("" for none), into out. */
void op_art_refs_apps(const op_art_refs *r, const uint8_t sha[32], char *out, size_t cap);
void op_art_refs_clear(op_art_refs *r);

/* What gc may delete among objs (the store's live objects): del[i] is set for each object
 * that no kept revision references, that the newest revision does not reference (kept
 * should hold it already: checked again), and that is at least min_age_s old at now
 * (Unix seconds; an object of unknown time is kept), so that a file CI just put for a
 * commit not yet synced survives. Objects other than live ones (links, delete markers,
 * no digest) are never chosen. Returns how many were chosen. */
size_t op_art_gc_choose(const op_objmeta *objs, size_t n, const op_art_refs *kept,
	const op_art_refs *newest, int64_t now, int64_t min_age_s, bool *del);

#endif
