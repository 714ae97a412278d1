/* The commit marker (key `rev` of bucket `outpost`): the last accepted revision, written
 * after every app entry of it. It names the commit, counts accepted revisions (seq) and
 * lists every app with the digest of its canonical JSON, so an agent knows when it holds
 * a whole revision and which apps to prune. Decoding is strict: it comes off the
 * network. */
#ifndef OUTPOST_MARKER_H
#define OUTPOST_MARKER_H

#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_MARKER_MAX_APPS 100000

typedef struct op_marker_app {
	char name[OP_NAME_MAX + 1];
	char digest[OP_DIGEST_LEN + 1];
} op_marker_app;

typedef struct op_marker {
	char commit[41]; /* hex sha-1 */
	uint64_t seq; /* accepted revisions so far, >= 1 */
	char signer[256]; /* the principal the signing key maps to */
	char time[32]; /* committer time, RFC 3339 UTC */
	op_marker_app *apps; /* sorted by name, unique */
	size_t napps;
} op_marker;

/* JSON with sorted keys, compact; *json allocated. */
int op_marker_encode(const op_marker *m, char **json, op_err *e);
/* Fills m (op_marker_clear after); OP_EINVAL with a message naming the field. */
int op_marker_decode(const char *json, size_t len, op_marker *m, op_err *e);
void op_marker_clear(op_marker *m);
/* The digest listed for app name, or NULL. */
const char *op_marker_digest(const op_marker *m, const char *name);

#endif
