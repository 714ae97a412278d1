/* An instance's health as a small state machine over plain events (see health.h): the
 * shim owns the clock and the probes, this file only decides. */
#include "outpost/agent/host/health.h"

#include <stdio.h>
#include <string.h>

op_health_cfg op_health_cfg_of(const op_component *c)
{
	op_health_cfg h = {.probe = c->has_health, .min_ready_ms = c->min_ready_ms, .failures = 1};
	if (c->has_health) {
		h.start_period_ms = c->health.start_period_ms;
		h.failures = c->health.failures > 0 ? c->health.failures : 1;
	}
	return h;
}

void op_health_start(op_health_fsm *f, int64_t now_ms)
{
	f->state = OP_HEALTH_STARTING;
	f->started_ms = now_ms;
	f->fails = 0;
	f->probe[0] = '\0';
}

void op_health_stop(op_health_fsm *f)
{
	f->state = OP_HEALTH_NONE;
	f->fails = 0;
	f->probe[0] = '\0';
}

static bool set_state(op_health_fsm *f, enum op_health s)
{
	bool changed = f->state != s;
	f->state = s;
	return changed;
}

bool op_health_probe(op_health_fsm *f, const op_health_cfg *c, enum op_probe_result r,
	const char *why, int64_t now_ms)
{
	if (f->state == OP_HEALTH_NONE || !c->probe)
		return false;
	if (r == OP_PROBE_PASS) {
		f->fails = 0;
		f->probe[0] = '\0';
		return set_state(f, OP_HEALTH_HEALTHY);
	}
	if (f->state == OP_HEALTH_STARTING && now_ms - f->started_ms < c->start_period_ms)
		return false;
	snprintf(f->probe, sizeof f->probe, "%s",
		why && *why                     ? why
			: r == OP_PROBE_TIMEOUT ? "timed out"
						: "failed");
	if (f->fails < c->failures)
		f->fails++;
	return f->fails >= c->failures ? set_state(f, OP_HEALTH_UNHEALTHY) : false;
}

bool op_health_tick(op_health_fsm *f, const op_health_cfg *c, int64_t now_ms)
{
	if (f->state != OP_HEALTH_STARTING || c->probe || now_ms - f->started_ms < c->min_ready_ms)
		return false;
	return set_state(f, OP_HEALTH_HEALTHY);
}

int64_t op_health_due(const op_health_fsm *f, const op_health_cfg *c)
{
	if (f->state != OP_HEALTH_STARTING || c->probe)
		return -1;
	return f->started_ms + c->min_ready_ms;
}
