/* The site's buckets: `outpost`, a KV mirror of the hub's (desired state, kept on the
 * site's disk so the site converges offline), and `outpost-status`, the site's own.
 * Created when missing; a mirror with another origin is reported, and replaced only
 * when the operator asks (--repair-mirror): it may be the site's only copy. */
#ifndef OUTPOST_SITE_H
#define OUTPOST_SITE_H

#include <stdbool.h>

#include "outpost/agent/bus/bus.h"

#define OP_HUB_API "$JS.hub.API"

typedef struct op_mirror_info {
	bool is_mirror; /* the bucket mirrors KV_outpost through $JS.hub.API */
	uint64_t lag; /* messages behind the origin, as last seen */
	int64_t active_ms; /* since the mirror last heard from the origin; -1 never */
	uint64_t last_seq; /* the local stream's last sequence */
} op_mirror_info;

/* Opens (creating as needed) both buckets of site. The mirror is delivered on
 * OP_MIRROR_DELIVER.<site> (only the site's account at the hub imports it).
 * *warning gets a note for status when the existing mirror has another origin or an
 * older outpost's deliveries (and repair is false: repair re-creates it). */
int op_site_buckets(op_bus *b, const char *site, bool repair, kvStore **desired, kvStore **status,
	char *warning, size_t wlen, op_err *e);
int op_site_mirror_info(op_bus *b, op_mirror_info *mi, op_err *e);

/* The hub's side, read across the leaf link (never written: see DESIGN.md). A context
 * for the hub's JetStream domain on the site's connection, requests waiting wait_ms;
 * *js is the caller's to jsCtx_Destroy. */
int op_site_hub_js(op_bus *b, int wait_ms, jsCtx **js, op_err *e);
/* The last sequence of the hub's KV_outpost: answers only while the link is up (no
 * responders, at once, while it is down). OP_ENOTFOUND: the hub answered, it has no
 * such bucket yet. */
int op_site_hub_last(jsCtx *hub, uint64_t *last_seq, op_err *e);
/* The hub's `outpost` bucket from sequence after + 1 to last: every message there in
 * order (puts, and deletes and purges with del true), fn called for each, through one
 * direct get a message (`next_by_subj`, answered by any replica of the stream, no
 * consumer: a fleet's stalled mirrors are read past at once after a storm, and a
 * consumer is created through the meta leader, one after another). Overlaid on the
 * live keys of the mirror as of sequence `after`, they give the hub's live keys as of
 * `last`. The read must reach `last` (a replica behind the leader answers short; it is
 * asked again, then OP_ENATS). Each request waits at most wait_ms. For when the mirror
 * stalls: the values are checked as the mirror's are (whole revisions, digests). */
typedef int (*op_site_kv_fn)(void *arg, const char *key, const char *val, size_t len, bool del);
int op_site_hub_read(jsCtx *hub, int wait_ms, uint64_t after, uint64_t last, op_site_kv_fn fn,
	void *arg, op_err *e);

#endif
