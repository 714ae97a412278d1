/* A sync that lost the race for the bucket (see standby.h). Every write of a revision is
 * chained on the stream's last sequence, so of two syncs publishing at once the second
 * is refused at its first write and has written nothing. It then waits for the winner's
 * marker: the head it wanted published is done; a marker of another revision, or a
 * bucket that stopped moving without one (the winner died half way), calls for a new
 * pass, which writes only what the bucket lacks and then the marker. */
#include "outpost/sync/publish/standby.h"

#include <stdio.h>
#include <string.h>

enum op_standby op_standby_next(const op_standby_view *v)
{
	if (v->marker_commit && v->head && *v->head && !strcmp(v->marker_commit, v->head))
		return OP_STANDBY_PUBLISHED;
	if (v->marker_seq != v->prev_seq)
		return OP_STANDBY_AGAIN;
	if (v->waited_ms >= OP_STANDBY_MAX_MS)
		return OP_STANDBY_GIVEUP;
	if (v->still_ms >= OP_STANDBY_QUIET_MS)
		return OP_STANDBY_AGAIN;
	return OP_STANDBY_WAIT;
}

const char *op_standby_name(enum op_standby s)
{
	switch (s) {
	case OP_STANDBY_PUBLISHED: return "published";
	case OP_STANDBY_AGAIN: return "again";
	case OP_STANDBY_WAIT: return "wait";
	case OP_STANDBY_GIVEUP: return "giveup";
	}
	return "giveup";
}

bool op_replicas_short(const char *stream, int have, int want, char *fix, size_t cap)
{
	if (have >= want)
		return false;
	if (cap)
		snprintf(fix, cap, "nats stream edit %s --replicas %d", stream, want);
	return true;
}
