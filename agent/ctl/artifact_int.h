/* Shared by artifact_cmd.c and artifact_revs.c: what the hub's accepted revisions
 * reference, read from its `outpost` bucket. */
#ifndef OUTPOST_CTL_ARTIFACT_INT_H
#define OUTPOST_CTL_ARTIFACT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/store/refs.h"

typedef struct art_revs {
	bool have; /* the hub has an accepted revision */
	uint64_t newest_seq;
	char newest_commit[41];
	size_t kept; /* revisions read (at most the keep asked for) */
	uint64_t oldest_seq; /* the oldest of them */
	op_art_refs newest; /* what the newest revision's apps reference */
	op_art_refs all; /* what any of the kept revisions' apps reference */
} art_revs;

/* Reads the last keep (>= 1) accepted revisions: the history of the marker `rev`, and
 * for each app a marker lists, the value of app.<name> at the marker's digest (from the
 * key's history). No bucket or no marker: r->have false, 0. A kept revision that cannot
 * be read whole (the bucket keeps a few values per key) is an error naming the limit:
 * gc must not guess. art_revs_clear after. */
int art_revs_read(op_bus *b, size_t keep, art_revs *r, op_err *e);
void art_revs_clear(art_revs *r);

#endif
