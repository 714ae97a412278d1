/* How an app's instances stand this round (see appcount_int.h). */
#include "appcount_int.h"

#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/plan/hold.h"

/* The instance id as a host reports it; *host gets the host's name and *heard (may be
 * NULL) when its heartbeat arrived (monotonic ms). */
static const op_hb_inst *hb_inst(
	const ag_hosts *hs, const char *id, const char **host, int64_t *heard)
{
	for (size_t i = 0; i < hs->n; i++)
		for (size_t j = 0; j < hs->v[i].hb.ninsts; j++)
			if (!strcmp(hs->v[i].hb.insts[j].id, id)) {
				*host = hs->v[i].hb.host;
				if (heard)
					*heard = hs->v[i].last_ms;
				return &hs->v[i].hb.insts[j];
			}
	return NULL;
}

static bool has_prefix_suffix(const char *s, const char *pre, const char *suf)
{
	size_t n = strlen(s), p = strlen(pre), q = strlen(suf);
	return n >= p + q && !strncmp(s, pre, p) && !strcmp(s + n - q, suf);
}

/* How many instances of comp the plan wants at the site. */
static int desired_of(const op_plan_in *in, const op_component *comp)
{
	if (comp->scaler.type == OP_SCALER_SPREAD)
		return comp->scaler.instances;
	int n = 0;
	for (size_t h = 0; h < in->nhosts; h++) {
		bool match = comp->scaler.nspread == 0;
		for (size_t k = 0; k < comp->scaler.nspread; k++)
			match |= op_labels_match(
				&in->hosts[h].labels, &comp->scaler.spread[k].requirements);
		/* A wasm component is never placed on a host without a runtime (plan.h). */
		match &= comp->type != OP_COMP_WASM || in->hosts[h].wasm;
		n += in->hosts[h].alive && match ? comp->scaler.instances : 0;
	}
	return n;
}

/* The one line about the first failed instance; with the time of its next try. */
static void failed_line(const op_inst_view *v, const op_hb_inst *hi, const char *host, int64_t now,
	int64_t heard, char *out, size_t len)
{
	int w = snprintf(out, len, "%s on %s failed: exit %d%s%s", v->id, host,
		hi ? hi->exit_code : -1, hi && hi->error[0] ? ": " : "", hi ? hi->error : "");
	/* An absolute time (rounded up to 5 s), so that the key does not change with every
	 * heartbeat as the wait shrinks. */
	if (hi && hi->retry_ms > 0 && w > 0 && (size_t)w < len) {
		char at[32];
		int64_t t = (op_wall_ms() - (now - heard) + hi->retry_ms) / 1000;
		op_time_rfc3339((t + 4) / 5 * 5, at);
		snprintf(out + w, len - (size_t)w, "; next try at %s (outpost restart: now)", at);
	}
}

static void culprit(ag_app_count *c, const char *id, const char *host, int rank, int *best)
{
	if (rank >= *best)
		return;
	*best = rank;
	snprintf(c->culprit, sizeof c->culprit, "%s", id);
	snprintf(c->culprit_host, sizeof c->culprit_host, "%s", host);
}

static void count_inst(const op_plan_in *in, const ag_hosts *hs, const op_inst_view *v, int64_t now,
	bool kept, ag_app_count *c, int *best)
{
	bool alive = false;
	for (size_t h = 0; h < in->nhosts; h++)
		alive |= !strcmp(in->hosts[h].id, v->host) && in->hosts[h].alive;
	bool run = alive && v->state == OP_INST_RUNNING;
	c->running += run;
	c->healthy += run && v->health == OP_HEALTH_HEALTHY;
	const char *host = v->host;
	int64_t heard = now;
	const op_hb_inst *hi = hb_inst(hs, v->id, &host, &heard);
	if (run && v->health == OP_HEALTH_UNHEALTHY)
		culprit(c, v->id, host, 1, best);
	if (v->state == OP_INST_FAILED)
		culprit(c, v->id, host, 2, best);
	bool looping = hi && hi->restarts >= OP_CRASHLOOP_RESTARTS && !kept;
	if (looping)
		culprit(c, v->id, host, 0, best);
	if (run && v->health == OP_HEALTH_UNHEALTHY && !c->sick[0])
		snprintf(c->sick, sizeof c->sick, "; %s on %s unhealthy: %.200s", v->id, host,
			hi && hi->probe[0] ? hi->probe : "its probe fails");
	if (v->state == OP_INST_FAILED && !c->failed[0])
		failed_line(v, hi, host, now, heard, c->failed, sizeof c->failed);
	if (looping && !c->crashing[0])
		snprintf(c->crashing, sizeof c->crashing,
			"%s on %s restarted %d times: exit %d%s%.200s%s%.200s", v->id, host,
			hi->restarts, hi->exit_code, hi->error[0] ? ": " : "", hi->error,
			hi->probe[0] ? "; probe: " : "", hi->probe);
}

/* before has comp as it is: same name, same hash. */
static bool kept_from(const op_app *before, const op_component *comp, const char *hash)
{
	char h[13];
	for (size_t k = 0; before && k < before->ncomps; k++)
		if (!strcmp(before->comps[k].name, comp->name) &&
			op_component_hash(&before->comps[k], h) == 0 && !strcmp(h, hash))
			return true;
	return false;
}

void ag_app_count_of(const op_plan_in *in, const ag_hosts *hs, const op_app *app,
	const op_app *before, int64_t now, ag_app_count *c)
{
	memset(c, 0, sizeof *c);
	int best = 3;
	for (size_t k = 0; k < app->ncomps; k++) {
		const op_component *comp = &app->comps[k];
		char hash[13], pre[2 * OP_NAME_MAX + 4], suf[16];
		if (op_component_hash(comp, hash) != 0)
			continue;
		snprintf(pre, sizeof pre, "%s.%s.", app->name, comp->name);
		snprintf(suf, sizeof suf, "-%s", hash);
		c->desired += desired_of(in, comp);
		bool kept = kept_from(before, comp, hash);
		for (size_t i = 0; i < in->ninsts; i++)
			if (has_prefix_suffix(in->insts[i].id, pre, suf))
				count_inst(in, hs, &in->insts[i], now, kept, c, &best);
	}
}
