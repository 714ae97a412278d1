/* Per-app holds at a site: the rules of hold.h as one step over a plain struct. */
#include "outpost/agent/plan/hold.h"

#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/plan/wave.h"

const char *op_hold_state_name(enum op_hold_state s)
{
	static const char *const names[] = {"steady", "rolling", "waiting", "rolled-back"};
	return names[s];
}

const char *op_hold_event_name(enum op_hold_event ev)
{
	static const char *const names[] = {"none", "start", "wait", "done", "rollback", "steady"};
	return names[ev];
}

bool op_hold_durable(const op_hold *old, const op_hold *now)
{
	return now->state == OP_HOLD_ROLLED_BACK &&
		(old->state != now->state || strcmp(old->app, now->app) != 0 ||
			strcmp(old->spec, now->spec) != 0 || strcmp(old->prev, now->prev) != 0 ||
			strcmp(old->target, now->target) != 0 ||
			strcmp(old->reason, now->reason) != 0);
}

void op_hold_init(op_hold *h, const char *app)
{
	memset(h, 0, sizeof *h);
	snprintf(h->app, sizeof h->app, "%s", app);
}

void op_hold_steady(op_hold *h, const char *app, const char *spec, int64_t now_ms)
{
	op_hold_init(h, app);
	snprintf(h->spec, sizeof h->spec, "%s", spec);
	snprintf(h->target, sizeof h->target, "%s", spec);
	h->since_ms = now_ms;
}

static enum op_hold_event enter(
	op_hold *h, enum op_hold_state s, const char *reason, int64_t now, enum op_hold_event ev)
{
	h->state = s;
	h->since_ms = now;
	snprintf(h->reason, sizeof h->reason, "%s", reason ? reason : "");
	return ev;
}

/* Rolling out the target: what runs now is what a rollback goes back to, unless that is
 * an unfinished rollout itself (then the last good spec stays). */
static enum op_hold_event start(op_hold *h, const op_hold_in *in)
{
	if (h->state != OP_HOLD_ROLLING)
		snprintf(h->prev, sizeof h->prev, "%s", h->spec);
	snprintf(h->spec, sizeof h->spec, "%s", in->target);
	return enter(h, OP_HOLD_ROLLING, NULL, in->now_ms, OP_HOLD_EV_START);
}

static enum op_hold_event judge(op_hold *h, const op_hold_in *in)
{
	const op_hold_progress *p = &in->progress;
	if (p->desired == 0)
		return OP_HOLD_EV_NONE; /* nothing to judge (no host for it yet) */
	if (p->healthy >= p->desired) {
		h->prev[0] = '\0';
		return enter(h, OP_HOLD_STEADY, NULL, in->now_ms, OP_HOLD_EV_DONE);
	}
	if (!h->prev[0])
		return OP_HOLD_EV_NONE; /* nothing to go back to: status says what fails */
	char why[OP_HOLD_REASON_MAX], d[32];
	if (p->crashing) {
		snprintf(why, sizeof why, "crash loop: %.500s", p->crashing);
	} else if (in->now_ms - h->since_ms >= in->deadline_ms) {
		op_format_duration_ms(in->deadline_ms, d);
		snprintf(why, sizeof why,
			"%d of %d instances healthy after the progress deadline (%s)%s%.400s",
			p->healthy, p->desired, d, p->sick ? ": " : "", p->sick ? p->sick : "");
	} else {
		return OP_HOLD_EV_NONE;
	}
	snprintf(h->spec, sizeof h->spec, "%s", h->prev);
	h->prev[0] = '\0';
	return enter(h, OP_HOLD_ROLLED_BACK, why, in->now_ms, OP_HOLD_EV_ROLLBACK);
}

enum op_hold_event op_hold_step(op_hold *h, const op_hold_in *in)
{
	if (strcmp(h->target, in->target) != 0) {
		/* A revision naming another spec: a rollout of its own. */
		snprintf(h->target, sizeof h->target, "%s", in->target);
		if (!strcmp(h->spec, in->target)) {
			h->prev[0] = '\0';
			return enter(h, OP_HOLD_STEADY, NULL, in->now_ms, OP_HOLD_EV_STEADY);
		}
		if (!in->may_run) {
			h->prev[0] = '\0';
			return enter(h, OP_HOLD_WAITING, in->wait_why, in->now_ms, OP_HOLD_EV_WAIT);
		}
		return start(h, in);
	}
	switch (h->state) {
	case OP_HOLD_STEADY: return OP_HOLD_EV_NONE;
	case OP_HOLD_ROLLED_BACK: return OP_HOLD_EV_NONE; /* not again until another spec arrives */
	case OP_HOLD_WAITING:
		if (in->may_run)
			return start(h, in);
		snprintf(h->reason, sizeof h->reason, "%s", in->wait_why ? in->wait_why : "");
		return OP_HOLD_EV_NONE;
	case OP_HOLD_ROLLING: return judge(h, in);
	}
	return OP_HOLD_EV_NONE;
}

bool op_hold_gate(const op_app *app, const char *target, const op_kvs *labels,
	const op_promotion *rec, const char *rec_error, char *why, size_t len)
{
	const op_rollout_policy *p = app->has_rollout ? &app->rollout : NULL;
	int w = op_wave_of(p, labels);
	if (!p || w == 0)
		return true;
	if (rec && !rec_error && !strcmp(rec->digest, target) && rec->promoted >= w)
		return true;
	const char *name = p->waves[w].name;
	int n = snprintf(why, len, "wave %s (%d of %d) ", name, w + 1, (int)p->nwaves);
	size_t at = n > 0 && (size_t)n < len ? (size_t)n : 0;
	if (rec_error)
		snprintf(why + at, len - at, "waits: the hub's rollout record is refused: %.300s",
			rec_error);
	else if (!rec)
		snprintf(why + at, len - at, "waits for the hub to promote %.19s", target);
	else if (strcmp(rec->digest, target) != 0)
		snprintf(why + at, len - at,
			"waits: the hub's rollout is of another spec (%.19s), not %.19s",
			rec->digest, target);
	else if (rec->halted && !strncmp(rec->reason, "halted at wave ", 15))
		snprintf(why + at, len - at, "waits: the rollout is %s", rec->reason);
	else if (rec->halted)
		snprintf(why + at, len - at, "waits: the rollout is halted at wave %s: %s",
			p->waves[rec->promoted].name, rec->reason[0] ? rec->reason : "by hand");
	else
		snprintf(why + at, len - at, "waits for promotion (wave %s promoted so far)",
			p->waves[rec->promoted].name);
	return false;
}
