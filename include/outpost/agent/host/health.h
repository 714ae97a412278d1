/* An instance's health, pure: starting, healthy or unhealthy, from what happens to it
 * (started, probe passed or failed, time passing), with no I/O and no clock of its own:
 * the shim that runs the probes feeds it events with their times.
 *
 *   start at t       starting; the failure count is 0
 *   no probe         healthy once it has run min_ready (a tick at or after t+min_ready)
 *   probe passed     healthy; the failure count is 0; the last failure is forgotten
 *   probe failed     (or timed out) counted, unless it is still starting and within
 *                    start_period of its start (as Docker: a first pass ends the start
 *                    period early); counted failures in a row reaching `failures`:
 *                    unhealthy, until a probe passes
 *   stop             none (not running)
 * With a probe, min_ready plays no part; without one, probe events are ignored. Events
 * while not running are ignored. */
#ifndef OUTPOST_HEALTH_H
#define OUTPOST_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"

typedef struct op_health_cfg {
	bool probe; /* the component has a health check */
	int64_t start_period_ms;
	int failures; /* >= 1 */
	int64_t min_ready_ms; /* without a probe */
} op_health_cfg;

enum op_probe_result { OP_PROBE_PASS, OP_PROBE_FAIL, OP_PROBE_TIMEOUT };

typedef struct op_health_fsm {
	enum op_health state;
	int64_t started_ms; /* when the workload last started */
	int fails; /* counted failures in a row */
	char probe[256]; /* the last counted failure ("" none), as the heartbeat sends it */
} op_health_fsm;

/* The configuration of a component's instances. */
op_health_cfg op_health_cfg_of(const op_component *c);
/* The workload started (again) at now: starting. */
void op_health_start(op_health_fsm *f, int64_t now_ms);
/* The workload is gone: none, the count and last failure cleared. */
void op_health_stop(op_health_fsm *f);
/* A probe ended at now with result r; why says what failed ("http :8080/healthz:
 * status 503"), NULL or "" for a pass. Returns whether the state changed. */
bool op_health_probe(op_health_fsm *f, const op_health_cfg *c, enum op_probe_result r,
	const char *why, int64_t now_ms);
/* Time passed (no probe: min_ready). Returns whether the state changed. */
bool op_health_tick(op_health_fsm *f, const op_health_cfg *c, int64_t now_ms);
/* When a tick may next change the state (ms, on the clock of now), or -1 never. */
int64_t op_health_due(const op_health_fsm *f, const op_health_cfg *c);

#endif
