/* Whether the agent asks the hub: the rules of gauge.h. */
#include "outpost/agent/plan/gauge.h"

enum op_gauge op_mirror_gauge(const op_gauge_in *in)
{
	bool trusted = in->heard && in->heard_before && in->level_before && in->asked_ms &&
		in->now_ms - in->asked_ms < OP_GAUGE_POLL_MS;
	if (!trusted)
		return OP_GAUGE_ASK;
	if (!in->changed && in->last_seq == in->last_seq_before)
		return OP_GAUGE_IDLE;
	if (in->lag == 0 && in->last_seq >= in->last_seq_before)
		return OP_GAUGE_LIVE;
	return OP_GAUGE_ASK;
}

const char *op_gauge_name(enum op_gauge g)
{
	static const char *const names[] = {"ask", "idle", "live"};
	return names[g];
}
