/* The canonical JSON of an app: jansson with sorted keys and compact separators,
 * arrays in manifest order, every default written out, "format":1 at the top. Equal
 * models give equal bytes; op_manifest_from_json reads them back through the same
 * validator as YAML, so JSON -> model is as strict as YAML -> model. */
#include "outpost/agent/model/manifest.h"

#include <jansson.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"
#include "fence_int.h"
#include "health_int.h"
#include "outpost/agent/base/util.h"
#include "rollout_int.h"
#include "wasm_int.h"

/* Every builder returns NULL when any part failed (out of memory): a JSON with a part
 * missing would be published with a digest of its own. */

/* Appends v to the array a (taking v); on failure drops a and returns NULL. */
static json_t *push(json_t *a, json_t *v)
{
	if (!a || !v || json_array_append_new(a, v) != 0) {
		json_decref(a);
		if (!a)
			json_decref(v);
		return NULL;
	}
	return a;
}

/* Sets o[key] = v (taking v); on failure drops o and returns NULL. */
json_t *ck_json_set(json_t *o, const char *key, json_t *v)
{
	if (!o || !v || json_object_set_new(o, key, v) != 0) {
		json_decref(o);
		if (!o)
			json_decref(v);
		return NULL;
	}
	return o;
}

static json_t *kvs_json(const op_kvs *m)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < m->n; i++)
		o = ck_json_set(o, m->v[i].key, json_string(m->v[i].val));
	return o;
}

static json_t *strs_json(const op_strs *s)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < s->n; i++)
		a = push(a, json_string(s->v[i]));
	return a;
}

static json_t *trait_json(const op_trait *t)
{
	json_t *spread = json_array();
	for (size_t i = 0; spread && i < t->nspread; i++)
		spread = push(spread,
			json_pack("{s:s, s:o, s:i}", "name", t->spread[i].name, "requirements",
				kvs_json(&t->spread[i].requirements), "weight",
				t->spread[i].weight));
	return json_pack("{s:s, s:{s:i, s:o}}", "type", op_scaler_name(t->type), "properties",
		"instances", t->instances, "spread", spread);
}

static json_t *component_json(const op_component *c)
{
	json_t *env = kvs_json(&c->env), *files = NULL;
	if (env && ck_secrets_json(c, env, &files) != 0) {
		json_decref(env);
		json_decref(files);
		return NULL;
	}
	json_t *props = json_pack("{s:o, s:o, s:s, s:s}", "args", strs_json(&c->args), "env", env,
		"restart", op_restart_name(c->restart), "rollout", op_rollout_name(c->rollout));
	bool wasm = c->type == OP_COMP_WASM;
	if (wasm)
		props = ck_wasm_json(props, c);
	else
		props = ck_json_set(props, "command", json_string(c->command));
	/* Left out without secret files (DESIGN: canonical JSON). */
	if (files)
		props = ck_json_set(props, "files", files);
	if (props && c->workdir)
		props = ck_json_set(props, "workdir", json_string(c->workdir));
	if (props && c->has_artifact && !wasm) {
		const op_artifact *a = &c->artifact;
		json_t *sha = a->sha256 ? json_string(a->sha256) : kvs_json(&a->sha256_arch);
		json_t *art = json_pack("{s:s, s:o}", "path", a->path, "sha256", sha);
		/* Left out at their defaults, so that revisions written before these fields
		 * existed keep their bytes and digests (DESIGN: canonical JSON). */
		if (art && a->mode != OP_ARTIFACT_MODE_DEFAULT) {
			char mode[8];
			snprintf(mode, sizeof mode, "0%03o", a->mode);
			art = ck_json_set(art, "mode", json_string(mode));
		}
		if (art && a->unpack == OP_UNPACK_TAR)
			art = ck_json_set(art, "unpack", json_string("tar"));
		props = ck_json_set(props, "artifact", art);
	}
	if (props && c->has_health)
		props = ck_json_set(props, "health", ck_health_json(&c->health));
	if (props && c->min_ready_ms != OP_MIN_READY_MS) {
		char d[32];
		op_format_duration_ms(c->min_ready_ms, d);
		props = ck_json_set(props, "min_ready", json_string(d));
	}
	props = ck_fence_json(props, &c->fence);
	if (!props)
		return NULL;
	return json_pack("{s:s, s:s, s:o, s:[o]}", "name", c->name, "type",
		op_comp_type_name(c->type), "properties", props, "traits", trait_json(&c->scaler));
}

static json_t *app_json(const op_app *app)
{
	json_t *comps = json_array(), *policies = json_array();
	for (size_t i = 0; comps && i < app->ncomps; i++)
		comps = push(comps, component_json(&app->comps[i]));
	if (policies && app->has_placement) {
		const op_placement *p = &app->placement;
		json_t *props = json_pack("{s:o}", "requirements", kvs_json(&p->requirements));
		if (props && p->has_sites)
			props = ck_json_set(props, "sites", strs_json(&p->sites));
		policies = push(policies,
			props ? json_pack("{s:s, s:s, s:o}", "name", p->name, "type", "placement",
					"properties", props)
			      : NULL);
	}
	/* Left out without a rollout policy, so that existing apps keep their digests. */
	if (policies && app->has_rollout)
		policies = push(policies, op_rollout_json(&app->rollout));
	if (!comps || !policies) {
		json_decref(comps);
		json_decref(policies);
		return NULL;
	}
	return json_pack("{s:s, s:i, s:s, s:{s:s, s:o}, s:{s:o, s:o}}", "apiVersion",
		OP_API_VERSION, "format", OP_FORMAT, "kind", OP_KIND, "metadata", "name", app->name,
		"annotations", kvs_json(&app->annotations), "spec", "components", comps, "policies",
		policies);
}

int op_manifest_to_json(const op_app *app, char **json, size_t *len)
{
	json_t *j = app_json(app);
	if (!j)
		return OP_ENOMEM;
	*json = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	if (!*json)
		return OP_ENOMEM;
	if (len)
		*len = strlen(*json);
	return 0;
}

void op_digest(const void *buf, size_t len, char out[OP_DIGEST_LEN + 1])
{
	unsigned char h[32];
	mbedtls_sha256(buf, len, h, 0);
	memcpy(out, "sha256:", 8); /* with its NUL; the hex overwrites it */
	for (int i = 0; i < 32; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", h[i]);
}

const char *op_kvs_get(const op_kvs *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->v[i].key, key) == 0)
			return m->v[i].val;
	return NULL;
}

void op_kvs_clear(op_kvs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].key), free(m->v[i].val);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static void strs_clear(op_strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

static void component_clear(op_component *c)
{
	free(c->name);
	free(c->command);
	strs_clear(&c->args);
	op_kvs_clear(&c->env);
	free(c->workdir);
	free(c->artifact.path);
	free(c->artifact.sha256);
	op_kvs_clear(&c->artifact.sha256_arch);
	ck_health_clear(&c->health);
	ck_secrets_clear(c);
	ck_fence_clear(&c->fence);
	ck_wasm_clear(c);
	for (size_t i = 0; i < c->scaler.nspread; i++) {
		free(c->scaler.spread[i].name);
		op_kvs_clear(&c->scaler.spread[i].requirements);
	}
	free(c->scaler.spread);
}

void op_app_free(op_app *app)
{
	if (!app)
		return;
	free(app->name);
	op_kvs_clear(&app->annotations);
	free(app->placement.name);
	strs_clear(&app->placement.sites);
	op_kvs_clear(&app->placement.requirements);
	op_rollout_clear(&app->rollout);
	for (size_t i = 0; i < app->ncomps; i++)
		component_clear(&app->comps[i]);
	free(app->comps);
	free(app);
}
