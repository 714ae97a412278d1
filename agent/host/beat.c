/* When a heartbeat brought forward goes out: the rule of beat.h. */
#include "outpost/agent/host/beat.h"

/* Reported settled now, and not so by the last heartbeat sent. */
static bool settled_news(const op_beat_inst *x)
{
	if (!x->now || x->passing)
		return false;
	return !x->sent || x->sent_passing || x->sent_state != x->state ||
		x->sent_health != x->health;
}

bool op_beat_due(const op_beat_inst *v, size_t n, size_t gone)
{
	if (gone > 0)
		return true;
	bool passing = false;
	for (size_t i = 0; i < n; i++) {
		if (settled_news(&v[i]) || (!v[i].now && v[i].sent))
			return true;
		passing |= v[i].now && v[i].passing;
	}
	return !passing;
}
