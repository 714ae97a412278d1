/* Whether the agent asks the hub how far its bucket goes, pure. The agent measures its
 * mirror every second and whenever the mirror changes; asking the hub is a stream info
 * request across the leaf link to the stream's leader, and a fleet's agents asking at
 * every change would cost the hub a request per site and revision. The hub is not asked:
 * - idle: the mirror heard from the hub at this measure and the one before, was level
 *   with the hub then, and has not changed since;
 * - live: the same, but the mirror moved forward and says it has nothing pending. A
 *   mirror's lag comes with each message the hub's consumer delivers (the messages it
 *   still has past that one), so a mirror that has kept hearing from the hub since it was
 *   level has the hub's word on what follows;
 * and in both cases only if the hub was asked less than OP_GAUGE_POLL_MS ago. Anything
 * else asks: a mirror that stopped hearing (right after a cut it says no lag before it
 * learnt what the hub holds), one that was behind or that reports a lag, one that went
 * backwards, or the first measure. No clock (now is an input), no I/O. */
#ifndef OUTPOST_GAUGE_H
#define OUTPOST_GAUGE_H

#include <stdbool.h>
#include <stdint.h>

#define OP_GAUGE_POLL_MS 30000 /* the hub is asked at least this often */

enum op_gauge { OP_GAUGE_ASK, OP_GAUGE_IDLE, OP_GAUGE_LIVE };

typedef struct op_gauge_in {
	int64_t now_ms; /* monotonic */
	int64_t asked_ms; /* the hub was last asked; 0 never */
	bool heard; /* the mirror heard from the hub lately, at this measure */
	bool heard_before; /* and at the measure before */
	bool level_before; /* that measure found it level with the hub */
	bool changed; /* the mirror's watcher delivered since */
	uint64_t last_seq, last_seq_before; /* the mirror's last sequence, now and then */
	uint64_t lag; /* the mirror's lag as it last heard */
} op_gauge_in;

enum op_gauge op_mirror_gauge(const op_gauge_in *in);
const char *op_gauge_name(enum op_gauge g);

#endif
