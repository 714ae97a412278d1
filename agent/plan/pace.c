/* When a round writes its status: the rule of pace.h. */
#include "outpost/agent/plan/pace.h"

bool op_pace_write(op_pace *p, bool sends, uint64_t run_seq, int64_t now, int64_t max_ms)
{
	if (sends && run_seq == p->seq && (!p->deferring || now - p->since_ms < max_ms)) {
		if (!p->deferring)
			p->since_ms = now;
		p->deferring = true;
		return false;
	}
	p->deferring = false;
	p->seq = run_seq;
	return true;
}
