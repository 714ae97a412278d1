/* When a host's heartbeat brought forward goes out, pure (host_cmd.c does the I/O).
 *
 * A host sends a heartbeat every --heartbeat, and brings one forward after a command and
 * when a shim moves an instance on, so that a rollout's next step need not wait for the
 * interval. Each heartbeat wakes the site's agent for a round of planning and status
 * writes, so one brought forward goes out only when it tells the agent something it acts
 * on: an instance settled (it runs with its health decided, or ended) or went away since
 * the last heartbeat sent, or nothing at all is on its way. A step in passing (starting,
 * stopping, running with its health undecided) waits for the step that ends it, or for
 * the interval, whose heartbeat always goes out. A start is then seen running and
 * healthy, a stop gone, one heartbeat each instead of two or three. */
#ifndef OUTPOST_BEAT_H
#define OUTPOST_BEAT_H

#include <stdbool.h>
#include <stddef.h>

/* What a heartbeat says of one instance. */
typedef struct op_beat_view {
	bool on; /* it is reported */
	bool passing; /* in passing (starting, stopping, health undecided) */
	int state, health; /* op_inst_state, op_health */
} op_beat_view;

/* One instance: as the host's last look reports it, and as the last heartbeat sent
 * reported it. */
typedef struct op_beat_inst {
	op_beat_view now, sent;
} op_beat_inst;

/* Whether a heartbeat brought forward goes out now: n instances the host holds, and gone
 * of those the last heartbeat sent reported that are no more. */
bool op_beat_due(const op_beat_inst *v, size_t n, size_t gone);

#endif
