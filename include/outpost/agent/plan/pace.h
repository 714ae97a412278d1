/* When a round of the agent writes its status, pure. A round that sends commands to its
 * hosts is in the middle of a step: what it would write (an instance about to start or
 * stop) is overtaken within the command's round trip, when the host's heartbeat shows
 * the step done and wakes the next round. Such a round is deferred: its status is left
 * to the next round, so that mostly the states a step settles in are written. Except a
 * round that runs a revision newer than the last one written: the hub learns at once
 * which revision the site applied. A push to a site writes its app key three times and
 * its host's twice (instead of four and three times) and sends the hub three reports
 * instead of four. A host that does not answer never hides a state for long: a round is
 * deferred at most OP_PACE_MAX_MS after the first one deferred. No clock (now is an
 * input), no I/O. */
#ifndef OUTPOST_PACE_H
#define OUTPOST_PACE_H

#include <stdbool.h>
#include <stdint.h>

#define OP_PACE_MAX_MS 1000

typedef struct op_pace {
	int64_t since_ms; /* when the first round deferred was; meaningful while deferring */
	bool deferring; /* the last round was deferred */
	uint64_t seq; /* the revision (its seq) the last round written ran; 0 none */
} op_pace;

/* Whether this round writes its status: false, deferred, when it sends commands (sends),
 * runs the revision the last round written ran (run_seq; 0: none) and less than max_ms
 * passed since the first round deferred; true otherwise. Keeps in p what the next round
 * needs. now: monotonic ms. */
bool op_pace_write(op_pace *p, bool sends, uint64_t run_seq, int64_t now, int64_t max_ms);

#endif
