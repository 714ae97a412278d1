/* Staging artifacts at a site, the pure part: which artifacts an app needs at a site
 * (for the archs its hosts report), how far each one is, whether a revision may apply,
 * which staged copies garbage collection drops, and the site's copy's stream config.
 * The agent's loop (agent/site/stage.c) does the I/O around these.
 *
 * A site's copy of the hub's store is a stream of the same name in the site's own
 * JetStream domain, with no subjects of its own and two sources per artifact the site
 * needs (the object's chunk subject and its meta subject, from the hub's stream across
 * the leaf link; the meta may arrive before the last chunk: counts decide). JetStream fills it
 * whenever the link is up and resumes a source where it stopped after a cut, so no byte crosses the
 * link twice; the copy reads as an object store (the same subjects and layout), which is what the
 * site's hosts install from. */
#ifndef OUTPOST_STORE_STAGE_H
#define OUTPOST_STORE_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/store/objmeta.h"
#include "outpost/agent/store/refs.h"

/* Where one artifact a site needs stands. */
enum op_stage_state {
	OP_STAGE_UNKNOWN, /* the hub's store not asked yet (the link has been down) */
	OP_STAGE_ABSENT, /* not in the hub's store: the file must already be on the box */
	OP_STAGE_FETCHING, /* in the hub's store; its bytes are crossing the link */
	OP_STAGE_STAGED, /* whole at the site, its digest checked */
	OP_STAGE_REFUSED, /* whole at the site, but its bytes are not what the digest says */
};

typedef struct op_stage_item {
	uint8_t sha256[32];
	enum op_stage_state state;
	uint64_t done, total; /* bytes at the site, and the object's size (0 unknown) */
} op_stage_item;

/* What a revision's artifacts add up to. */
typedef struct op_stage_verdict {
	bool ready; /* every item is staged or absent from the hub's store */
	size_t unknown, absent, fetching, staged, refused;
	uint64_t done, total; /* bytes, over the items in the hub's store */
} op_stage_verdict;

void op_stage_gate(const op_stage_item *v, size_t n, op_stage_verdict *out);

/* Whether an artifact moved between two looks at it (its state, or its bytes at the site):
 * what the agent's round shows and gates on is then out of date, and the round runs again
 * at once rather than at its next tick. */
bool op_stage_moved(const op_stage_item *was, const op_stage_item *now);

/* Bytes of m at a site that holds chunks of its chunk messages: the whole size when
 * every chunk is there, else chunks times the chunk size (m's max_chunk, or the size
 * over the count rounded up). */
uint64_t op_stage_done(const op_objmeta *m, uint64_t chunks);

/* The digests app needs at a site whose hosts report these archs: a component's single
 * digest always, a per-arch digest for each arch listed (none for an arch the site's
 * hosts lack). Added
 * to r under the app's name. 0 or OP_ENOMEM/OP_EINVAL (a bad digest). */
int op_stage_need_app(
	op_art_refs *r, const op_app *app, const char *const *archs, size_t narchs, op_err *e);

/* Which staged objects gc drops: del[i] for each one keep does not hold. Returns the
 * count. */
size_t op_stage_gc_choose(const op_objmeta *staged, size_t n, const op_art_refs *keep, bool *del);

/* The site's copy's stream config as JSON for $JS.API.STREAM.CREATE/UPDATE: file
 * storage, rollups allowed (object metas are rollups), direct gets, no limits, two
 * sources per object of objs (its chunk subject and its meta subject, each from the
 * hub's stream through api, e.g. "$JS.hub.API", delivered on deliver.S.<id>: with
 * credentials, "outpost-artifacts.<site>", which only that site's leaf link receives;
 * "" is JetStream's $JS.S). Sources keep the order of objs, so that an update that adds
 * one leaves the others as they are. *json allocated (free). 0, OP_EINVAL (a bad deliver
 * prefix, nuid or name), OP_ENOMEM. */
int op_stage_stream_config(const char *bucket, const char *api, const char *deliver,
	const op_objmeta *objs, size_t n, char **json, op_err *e);

const char *op_stage_state_name(enum op_stage_state s);

#endif
