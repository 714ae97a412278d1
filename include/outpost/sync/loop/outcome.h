/* What a sync pass says (the outcome of op_sync_pass, sync.h): its kind, the commit
 * looked at, the reason and the manifest errors; as JSON (the hub.sync status value and
 * the sync.now reply), and the key under which a refusal is said once (sync.c logs a
 * rejection or failure again only when its key changes). No I/O here. */
#ifndef OUTPOST_SYNC_OUTCOME_H
#define OUTPOST_SYNC_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/sync/loop/artcheck.h"

enum op_sync_kind { OP_SYNC_ACCEPTED, OP_SYNC_UNCHANGED, OP_SYNC_REJECTED, OP_SYNC_FAILED };

typedef struct op_sync_outcome {
	enum op_sync_kind kind;
	char commit[41]; /* the head looked at ("" if the fetch failed) */
	char signer[256];
	uint64_t seq;
	uint64_t rev_seq; /* the hub's newest accepted revision after the pass (the marker's
			     seq, whatever the outcome): how far behind a site is counts from it */
	char reason[1024];
	op_diags errors; /* manifest errors of a rejected revision */
	size_t puts, dels;
	int64_t ms; /* how long the pass took */
	op_art_missing missing; /* pinned by the accepted revision, not in the hub's store */
} op_sync_outcome;

void op_sync_outcome_clear(op_sync_outcome *o);
/* Sets the outcome's kind, and its reason from fmt. */
void op_sync_reason(op_sync_outcome *o, enum op_sync_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *op_sync_kind_name(enum op_sync_kind k);
/* The outcome as JSON (the hub.sync status value and the sync.now reply); NULL out of
 * memory. */
char *op_sync_outcome_json(const op_sync_outcome *o);
/* The refusal's key, hex sha256 of its kind, commit, reason and manifest errors (file,
 * line, column, message); "" for an outcome that is no refusal (accepted, unchanged). */
void op_sync_refusal_key(const op_sync_outcome *o, char key[65]);

#endif
