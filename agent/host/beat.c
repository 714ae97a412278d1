/* When a heartbeat brought forward goes out: the rule of beat.h. */
#include "outpost/agent/host/beat.h"

/* Reported settled now, and not so by the last heartbeat sent. */
static bool settled_news(const op_beat_inst *x)
{
	const op_beat_view *a = &x->now, *b = &x->sent;
	if (!a->on || a->passing)
		return false;
	return !b->on || b->passing || b->state != a->state || b->health != a->health;
}

bool op_beat_due(const op_beat_inst *v, size_t n, size_t gone)
{
	if (gone > 0)
		return true;
	bool passing = false;
	for (size_t i = 0; i < n; i++) {
		if (settled_news(&v[i]) || (!v[i].now.on && v[i].sent.on))
			return true;
		passing |= v[i].now.on && v[i].now.passing;
	}
	return !passing;
}
