/* Which artifacts the accepted revision pins that the hub's store lacks: a site cannot
 * stage those (the file must already be on its boxes, the manifest's old meaning), so
 * sync says so in hub.sync and `outpost status` warns. The decision is pure
 * (op_artcheck_missing); op_artwatch does the reads around it at a bounded cost. */
#ifndef OUTPOST_SYNC_ARTCHECK_H
#define OUTPOST_SYNC_ARTCHECK_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/store/objmeta.h"
#include "outpost/agent/store/refs.h"

typedef struct op_art_missing_item {
	uint8_t sha256[32];
	char apps[512]; /* the apps that pin it, sorted, comma-separated (may be cut short) */
} op_art_missing_item;

typedef struct op_art_missing {
	op_art_missing_item *v;
	size_t n;
} op_art_missing;

/* The digests refs names that no live object of have (the store's objects, as listed)
 * holds by content, once each, sorted by digest, with the apps that pin each. A store
 * that does not exist is have == NULL, nhave 0: every digest is missing. *out is
 * replaced (cleared first). 0 or OP_ENOMEM. */
int op_artcheck_missing(const op_art_refs *refs, const op_objmeta *have, size_t nhave,
	op_art_missing *out, op_err *e);
/* A deep copy of m into out (cleared first). 0 or OP_ENOMEM. */
int op_art_missing_copy(op_art_missing *out, const op_art_missing *m, op_err *e);
void op_art_missing_clear(op_art_missing *m);

/* Sync's view of the accepted revision's artifacts across passes. The revision's pins
 * are read once per revision (the marker and its apps' values in the hub bucket); the
 * store is listed (one message per object: the last meta of each) when the revision
 * changes, then again at most every OP_ARTWATCH_MISSING_MS while something is missing
 * (so a put is noticed on the next pass, whatever asks for passes) and every
 * OP_ARTWATCH_QUIET_MS while nothing is (an object deleted by another client). */
#define OP_ARTWATCH_MISSING_MS 5000
#define OP_ARTWATCH_QUIET_MS (10 * 60 * 1000)

typedef struct op_artwatch {
	uint64_t seq; /* the revision refs hold (0: none read) */
	op_art_refs refs;
	op_art_missing missing; /* as of the last listing */
	int64_t next_ms; /* when the store is listed again */
	uint64_t warned_seq; /* the revision whose missing artifacts were logged */
	bool failing; /* the last listing failed (logged once) */
} op_artwatch;

/* One step after a pass, with the hub's bucket kv on b: rereads the pins when the
 * marker's seq changed, lists the store when due, logs each missing artifact once per
 * revision (a warning), and when the last goes. Never fails: a read that fails keeps
 * what was known and is logged once. */
void op_artwatch_step(op_artwatch *w, op_bus *b, kvStore *kv, int64_t now_ms);
void op_artwatch_clear(op_artwatch *w);

#endif
