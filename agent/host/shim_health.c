/* The shim's view of its workload's health (health.h) while a run lives: probes at
 * their times (probe.h), min_ready, and an unhealthy instance restarted as a crash would
 * be. Health and the last failed probe go into state.json for the host's heartbeats. */
#include <signal.h>
#include <string.h>

#include "shim_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/host/health.h"
#include "outpost/agent/host/probe.h"

/* Copies the health into the state; true when that changed it. */
static bool health_sync(shim *s)
{
	bool changed = s->st.health != s->health.state || strcmp(s->st.probe, s->health.probe) != 0;
	s->st.health = s->health.state;
	memcpy(s->st.probe, s->health.probe, sizeof s->st.probe);
	return changed;
}

void shim_health_start(shim *s, int64_t now)
{
	op_health_start(&s->health, now);
	s->probe_at = s->hcfg.probe ? now + s->comp->health.interval_ms : 0;
	s->sick = false;
	health_sync(s);
}

void shim_health_stop(shim *s)
{
	op_probe_cancel(&s->probe);
	op_health_stop(&s->health);
	s->probe_at = 0;
	health_sync(s);
}

/* Unhealthy: stopped like a crash, so that the restart policy brings it back. */
static void restart_unhealthy(shim *s, int64_t now)
{
	s->sick = true;
	s->probe_at = 0;
	op_log_warn("instance unhealthy", "id=%s pid=%d probe=\"%s\" action=restart", s->st.id,
		s->st.pid, s->health.probe);
	kill(-s->st.pid, SIGTERM);
	s->kill_at = now + s->grace_ms;
}

void shim_probe_ended(shim *s, int64_t begun)
{
	int64_t now = op_now_ms();
	enum op_health was = s->health.state;
	op_health_probe(&s->health, &s->hcfg, s->probe.result, s->probe.why, now);
	int64_t next = begun + s->comp->health.interval_ms;
	s->probe_at = next > now ? next : now;
	if (!health_sync(s))
		return;
	shim_note(s);
	if (was != s->health.state)
		op_log_info("instance health", "id=%s health=%s probe=\"%s\"", s->st.id,
			op_health_name(s->health.state), s->health.probe);
	if (s->health.state == OP_HEALTH_UNHEALTHY && !s->sick && !s->stopping)
		restart_unhealthy(s, now);
}

void shim_health_due(shim *s, int64_t now)
{
	if (!s->st.pid || s->stopping || s->sick)
		return;
	int64_t begun = s->probe.deadline_ms - s->comp->health.timeout_ms;
	if (s->probe.active && now >= s->probe.deadline_ms) {
		op_probe_timeout(&s->probe);
		shim_probe_ended(s, begun);
	} else if (!s->probe.active && s->probe_at && now >= s->probe_at) {
		if (!op_probe_begin(&s->probe, &s->comp->health, s->envp, now))
			shim_probe_ended(s, now);
	}
	if (op_health_tick(&s->health, &s->hcfg, now) && health_sync(s)) {
		shim_note(s);
		op_log_info("instance health", "id=%s health=%s", s->st.id,
			op_health_name(s->health.state));
	}
}
