/* The rollout policy: canary waves of sites, and how long a wave must run a new spec
 * healthy (soak) before the hub promotes the next one. Read strictly like the rest of
 * the manifest; defaults are filled here, so the canonical JSON writes them out.
 * Durations are written the command line's way and always with their unit: a bare 10
 * could be seconds or milliseconds to whoever reads the manifest. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "rollout_int.h"

static void read_wave(op_check *c, const op_node *n, op_wave *w)
{
	static const char *const keys[] = {"name", "requirements", NULL};
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if (ck_need(c, n, "name")) {
		size_t m = ck_key(c, "name");
		w->name = ck_name(c, ck_get(n, "name"), "a wave name");
		ck_pop(c, m);
	}
	if ((v = ck_get(n, "requirements"))) {
		size_t m = ck_key(c, "requirements");
		ck_kvs(c, v, OP_MAX_LABELS, CK_KEY_LABEL, CK_VAL_LABEL, &w->requirements);
		ck_pop(c, m);
	}
}

static void read_waves(op_check *c, const op_node *n, op_rollout_policy *r)
{
	if (!ck_list(c, n, 0, OP_MAX_WAVES, "waves"))
		return;
	r->waves = calloc(n->n ? n->n : 1, sizeof *r->waves);
	r->nwaves = r->waves ? n->n : 0;
	if (!r->waves)
		ck_nomem(c, n);
	for (size_t i = 0; i < r->nwaves; i++) {
		size_t mi = ck_index(c, i);
		read_wave(c, n->vals[i], &r->waves[i]);
		for (size_t j = 0; j < i && r->waves[i].name; j++) {
			if (!r->waves[j].name || strcmp(r->waves[j].name, r->waves[i].name) != 0)
				continue;
			size_t mn = ck_key(c, "name");
			ck_err(c, ck_get(n->vals[i], "name"),
				"duplicate wave name \"%s\" (waves[%zu] has it)", r->waves[i].name,
				j);
			ck_pop(c, mn);
			break;
		}
		ck_pop(c, mi);
	}
}

void op_rollout_read(op_check *c, const op_node *n, op_rollout_policy *r)
{
	static const char *const keys[] = {"waves", "soak", "min_sites", "progress_deadline", NULL};
	r->soak_ms = OP_ROLLOUT_SOAK_DEFAULT_MS;
	r->progress_deadline_ms = OP_ROLLOUT_DEADLINE_DEFAULT_MS;
	r->min_sites = -1;
	if (!n || !ck_map(c, n, keys))
		return;
	const op_node *v;
	size_t m;
	if ((v = ck_get(n, "waves"))) {
		m = ck_key(c, "waves");
		read_waves(c, v, r);
		ck_pop(c, m);
	}
	if ((v = ck_get(n, "soak"))) {
		m = ck_key(c, "soak");
		ck_duration(c, v, 0, OP_MAX_DURATION_MS, &r->soak_ms);
		ck_pop(c, m);
	}
	if ((v = ck_get(n, "progress_deadline"))) {
		m = ck_key(c, "progress_deadline");
		ck_duration(c, v, 1000, OP_MAX_DURATION_MS, &r->progress_deadline_ms);
		ck_pop(c, m);
	}
	if ((v = ck_get(n, "min_sites"))) {
		m = ck_key(c, "min_sites");
		ck_int(c, v, 1, OP_MAX_MIN_SITES, &r->min_sites);
		ck_pop(c, m);
	}
}

static json_t *duration_json(int64_t ms)
{
	char s[32];
	op_format_duration_ms(ms, s);
	return json_string(s);
}

json_t *op_rollout_json(const op_rollout_policy *r)
{
	json_t *waves = json_array();
	for (size_t i = 0; waves && i < r->nwaves; i++) {
		json_t *req = json_object();
		const op_kvs *k = &r->waves[i].requirements;
		for (size_t j = 0; req && j < k->n; j++)
			if (json_object_set_new(req, k->v[j].key, json_string(k->v[j].val)) != 0)
				json_decref(req), req = NULL;
		json_t *w = req
			? json_pack("{s:s, s:o}", "name", r->waves[i].name, "requirements", req)
			: NULL;
		if (!w || json_array_append_new(waves, w) != 0)
			json_decref(waves), waves = NULL;
	}
	if (!waves)
		return NULL;
	json_t *props = json_pack("{s:o, s:o, s:o}", "waves", waves, "soak",
		duration_json(r->soak_ms), "progress_deadline",
		duration_json(r->progress_deadline_ms));
	if (props && r->min_sites >= 1 &&
		json_object_set_new(props, "min_sites", json_integer(r->min_sites)) != 0)
		json_decref(props), props = NULL;
	if (!props)
		return NULL;
	return json_pack(
		"{s:s, s:s, s:o}", "name", r->name, "type", "rollout", "properties", props);
}

void op_rollout_clear(op_rollout_policy *r)
{
	free(r->name);
	for (size_t i = 0; i < r->nwaves; i++) {
		free(r->waves[i].name);
		op_kvs_clear(&r->waves[i].requirements);
	}
	free(r->waves);
	memset(r, 0, sizeof *r);
}
