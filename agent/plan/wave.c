/* Canary waves: the wave of a site and the promotion of the next one, as rules over
 * what the sites of the current wave last reported (the rules: wave.h). */
#include "outpost/agent/plan/wave.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/plan/plan.h"

int op_wave_count(const op_rollout_policy *p)
{
	return p && p->nwaves ? (int)p->nwaves : 1;
}

int op_wave_of(const op_rollout_policy *p, const op_kvs *site_labels)
{
	if (!p || !p->nwaves)
		return 0;
	for (size_t i = 0; i < p->nwaves; i++)
		if (op_labels_match(site_labels, &p->waves[i].requirements))
			return (int)i;
	return (int)p->nwaves - 1;
}

const char *op_wave_verdict_name(enum op_wave_verdict v)
{
	static const char *const names[] = {"promote", "wait", "halt", "done"};
	return names[v];
}

static bool at(const op_wave_site *s, const char *digest, const char *state)
{
	return s->digest && s->state && !strcmp(s->digest, digest) && !strcmp(s->state, state);
}

static bool counted(const op_wave_site *s, int64_t now, int64_t window)
{
	return s->report_ms >= 0 && now - s->report_ms <= window;
}

static bool healthy(const op_wave_site *s, const char *digest, int64_t soak)
{
	return at(s, digest, "deployed") && s->since_ms <= s->report_ms &&
		s->report_ms - s->since_ms >= soak;
}

/* What keeps s from counting as healthy, for the why line. */
static void missing(
	const op_wave_site *s, const op_wave_in *in, int64_t window, char *buf, size_t cap)
{
	char d[32];
	if (!counted(s, in->now_ms, window)) {
		if (s->report_ms < 0) {
			snprintf(buf, cap, "%s has not reported", s->name);
		} else {
			op_format_duration_ms(in->now_ms - s->report_ms, d);
			snprintf(buf, cap, "%s silent for %s", s->name, d);
		}
	} else if (!s->digest || strcmp(s->digest, in->digest) != 0) {
		snprintf(buf, cap, "%s runs another spec", s->name);
	} else if (!at(s, in->digest, "deployed")) {
		snprintf(buf, cap, "%s is %.40s", s->name, s->state ? s->state : "(no state)");
	} else {
		op_format_duration_ms(
			s->report_ms > s->since_ms ? s->report_ms - s->since_ms : 0, d);
		snprintf(buf, cap, "%s deployed for %s", s->name, d);
	}
}

static const char *wave_name(const op_rollout_policy *p, int k, char buf[16])
{
	if (p && k >= 0 && (size_t)k < p->nwaves)
		return p->waves[k].name;
	snprintf(buf, 16, "%d", k);
	return buf;
}

void op_wave_decide(const op_wave_in *in, op_wave_out *out)
{
	const op_rollout_policy *p = in->policy;
	int k = in->promoted < 0 ? 0 : in->promoted, last = op_wave_count(p) - 1;
	size_t n = in->sites ? in->nsites : 0;
	int64_t soak = p ? p->soak_ms : 0;
	int64_t window = soak > OP_WAVE_WINDOW_MIN_MS ? soak : OP_WAVE_WINDOW_MIN_MS;
	char wn[16], d[32], miss[160];
	const char *name = wave_name(p, k, wn);

	memset(out, 0, sizeof *out);
	out->wave = k;
	out->wait_ms = -1;
	if (in->halted) {
		out->verdict = OP_WAVE_HALT;
		snprintf(out->why, sizeof out->why, "halted at wave %s", name);
		return;
	}
	if (k >= last) {
		out->verdict = OP_WAVE_DONE;
		out->wave = last;
		snprintf(out->why, sizeof out->why, "every wave promoted");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		if (at(&in->sites[i], in->digest, "rolled-back")) {
			out->verdict = OP_WAVE_HALT;
			out->site = in->sites[i].name;
			snprintf(out->why, sizeof out->why, "halted at wave %s: %s rolled back",
				name, out->site);
			return;
		}
	}
	const op_wave_site *first = NULL;
	for (size_t i = 0; i < n; i++) {
		const op_wave_site *s = &in->sites[i];
		bool c = counted(s, in->now_ms, window), h = c && healthy(s, in->digest, soak);
		out->counted += c;
		out->healthy += h;
		/* A silent site is named only when no counted one is missing. */
		if (!h && (!first || (c && !counted(first, in->now_ms, window))))
			first = s;
		if (c && !h && at(s, in->digest, "deployed") && s->since_ms <= s->report_ms) {
			int64_t left = soak - (s->report_ms - s->since_ms);
			if (out->wait_ms < 0 || left < out->wait_ms)
				out->wait_ms = left;
		}
	}
	if (p && p->min_sites >= 1)
		out->need = (size_t)p->min_sites < n ? (size_t)p->min_sites : n;
	else
		out->need = out->counted;
	if (n == 0 || (out->need >= 1 && out->healthy >= out->need)) {
		out->verdict = OP_WAVE_PROMOTE;
		out->wave = k + 1;
		out->wait_ms = -1;
		snprintf(out->why, sizeof out->why,
			n ? "wave %s: %zu of %zu sites healthy" : "wave %s has no sites", name,
			out->healthy, n);
		return;
	}
	out->verdict = OP_WAVE_WAIT;
	op_format_duration_ms(soak, d);
	if (out->need == 0) {
		out->site = NULL;
		snprintf(out->why, sizeof out->why,
			"wave %s: none of its %zu sites reported within %s", name, n, d);
		return;
	}
	out->site = first ? first->name : NULL;
	miss[0] = '\0';
	if (first)
		missing(first, in, window, miss, sizeof miss);
	snprintf(out->why, sizeof out->why,
		"wave %s: %zu of %zu sites healthy for %s, %zu needed%s%s", name, out->healthy, n,
		d, out->need, first ? "; " : "", miss);
}
