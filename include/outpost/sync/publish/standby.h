/* More than one sync on a hub cluster (one per node): what the one whose chained write
 * was refused does next, and what a bucket with fewer replicas than asked needs. Pure:
 * the loop reads the bucket, these decide. */
#ifndef OUTPOST_STANDBY_H
#define OUTPOST_STANDBY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How long the bucket must stay still, with no marker of the head, before the writer
 * that moved it counts as dead; and how long a refused sync looks at all. */
#define OP_STANDBY_QUIET_MS 1500
#define OP_STANDBY_MAX_MS 15000

/* What a refused sync reads of the bucket again. */
typedef struct op_standby_view {
	const char *head; /* the commit this pass would publish */
	uint64_t prev_seq; /* the marker's seq when the pass began (0: none) */
	const char *marker_commit; /* the marker now ("" or NULL: none) */
	uint64_t marker_seq;
	int64_t still_ms; /* how long the stream's last sequence has not moved */
	int64_t waited_ms; /* since the refusal */
} op_standby_view;

enum op_standby {
	OP_STANDBY_PUBLISHED, /* another sync published this head: nothing left to do */
	OP_STANDBY_AGAIN, /* another revision landed, or the writer stopped half way: a new
			   * pass builds on it or finishes it */
	OP_STANDBY_WAIT, /* the bucket still moves: another sync is writing; look again */
	OP_STANDBY_GIVEUP /* it kept moving for OP_STANDBY_MAX_MS: the next pass tries */
};

enum op_standby op_standby_next(const op_standby_view *v);
const char *op_standby_name(enum op_standby s);

/* True when a stream with have replicas has fewer than want; then fix gets the command
 * that would change it ("nats stream edit KV_outpost --replicas 3"). */
bool op_replicas_short(const char *stream, int have, int want, char *fix, size_t cap);

#endif
