/* Installing a component's artifact on an edge box before its workload starts (the shim
 * calls it; issue 15). The file (or, for `unpack: tar`, the directory) at the artifact's
 * path must have the digest the signed spec wants; when it does not, it is installed:
 *   - from the host's cache, <state>/cache/sha256-<hex>, re-hashed before it is used,
 *   - else from the site's copy of the artifact store (the host's own NATS server),
 *     streamed into the cache with its digest checked as it comes.
 * From the cache it goes to a temp file (or directory) beside path, hashed again while
 * copied, fsynced, given the spec's mode, and renamed into place (a directory swapped
 * in with RENAME_EXCHANGE, the old one removed), then the directory is fsynced: path is
 * whole and verified or untouched, never half written, and nothing unverified runs. A
 * directory artifact keeps its digest in a stamp file, <path>/.outpost-artifact
 * ("sha256:<hex>\n"), so that "already installed" is a stamp check, not a re-hash.
 *
 * The cache keeps, per path, the current digest and the previous one (a rollback needs
 * no download), in records <state>/cache/paths/<sha256 of path> ("<path>\n<digest>\n
 * [<digest>\n]"); a cache file no record names is removed, and so is every temp left by
 * an install that was killed. Installs on one host hold <state>/cache/lock, one at a
 * time. */
#ifndef OUTPOST_INSTALL_H
#define OUTPOST_INSTALL_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_CACHE_PER_PATH 2
#define OP_STAMP_NAME ".outpost-artifact"

/* --- decisions (pure) ------------------------------------------------------------------ */

enum op_install_src {
	OP_INSTALL_KEEP, /* path already has the digest */
	OP_INSTALL_FROM_CACHE,
	OP_INSTALL_FROM_STORE,
	OP_INSTALL_NO_SOURCE, /* not installed, not cached, no store to ask */
};

/* Where an artifact comes from: installed is whether path (or its stamp) has the digest,
 * cached whether a cache file re-hashed to it, can_fetch whether a store is known. */
enum op_install_src op_install_decide(bool installed, bool cached, bool can_fetch);
const char *op_install_src_name(enum op_install_src s);

/* The digests (64 hex) a path's record keeps once now is installed: now, then the first
 * of old[0..nold) (newest first) that is not now. keep gets pointers to them; returns
 * how many (1..OP_CACHE_PER_PATH). */
size_t op_cache_keep(
	const char *const *old, size_t nold, const char *now, const char *keep[OP_CACHE_PER_PATH]);
/* Whether a name in the cache dir is to be removed: a temp (".tmp-..."), or a cache file
 * "sha256-<hex>" whose hex is not in kept[0..n). Anything else is left alone. */
bool op_cache_drop(const char *name, const char *const *kept, size_t n);

/* --- the install (I/O) ------------------------------------------------------------------ */

typedef struct op_install_req {
	const op_artifact *a;
	const char *want; /* 64 hex: the digest for this host's arch */
	const char *state_dir; /* the host's --state */
	const char *nats; /* the site's NATS URL, or NULL: no store fetch */
} op_install_req;

/* Makes path hold the artifact (see above). *from says where it came from. On error e
 * says why, naming the artifact's path, and path is as it was. A SIGTERM or SIGINT that
 * is pending (the shim blocks them) stops a store read early with OP_EIO. */
int op_install(const op_install_req *r, enum op_install_src *from, op_err *e);

#endif
