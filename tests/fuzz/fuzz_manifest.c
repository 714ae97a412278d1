/* libFuzzer target for the manifest reader: the same bytes go to the YAML path
 * (op_manifest_parse) and to the JSON path (op_manifest_from_json). A rejected input
 * must come with a diagnostic; an accepted one must give a model that keeps the
 * validator's promises (names, paths, ranges, sorted maps) and whose canonical JSON is
 * a fixed point: JSON -> model -> JSON gives the same bytes and an equal model. An
 * accepted app also goes through op_appset_add twice, where the second must be refused
 * as a duplicate name. Any violation traps, so libFuzzer keeps the input; leaks are
 * findings too (ASan's leak check runs after each input). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/model/manifest.h"

#include "fuzz.h"

/* --- model equality (positions aside: JSON has none) ------------------------------- */

static bool str_eq(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool strs_eq(const op_strs *a, const op_strs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!str_eq(a->v[i], b->v[i]))
			return false;
	return true;
}

static bool kvs_eq(const op_kvs *a, const op_kvs *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (!str_eq(a->v[i].key, b->v[i].key) || !str_eq(a->v[i].val, b->v[i].val))
			return false;
	return true;
}

static bool trait_eq(const op_trait *a, const op_trait *b)
{
	if (a->type != b->type || a->instances != b->instances || a->nspread != b->nspread)
		return false;
	for (size_t i = 0; i < a->nspread; i++) {
		const op_spread *x = &a->spread[i], *y = &b->spread[i];
		if (!str_eq(x->name, y->name) || x->weight != y->weight ||
			!kvs_eq(&x->requirements, &y->requirements))
			return false;
	}
	return true;
}

static bool comp_eq(const op_component *a, const op_component *b)
{
	if (!str_eq(a->name, b->name) || !str_eq(a->command, b->command) ||
		!strs_eq(&a->args, &b->args) || !kvs_eq(&a->env, &b->env) ||
		!str_eq(a->workdir, b->workdir) || a->restart != b->restart ||
		a->rollout != b->rollout || a->has_artifact != b->has_artifact)
		return false;
	if (a->type != b->type || !str_eq(a->fence.user, b->fence.user) ||
		!str_eq(a->fence.group, b->fence.group) ||
		a->fence.has_umask != b->fence.has_umask || a->fence.umask != b->fence.umask ||
		a->fence.memory != b->fence.memory || a->fence.open_files != b->fence.open_files ||
		a->fence.processes != b->fence.processes ||
		a->fence.cpu_time_ms != b->fence.cpu_time_ms || a->ndirs != b->ndirs)
		return false;
	for (size_t i = 0; i < a->ndirs; i++)
		if (!str_eq(a->dirs[i].guest, b->dirs[i].guest) ||
			!str_eq(a->dirs[i].host, b->dirs[i].host) ||
			a->dirs[i].readonly != b->dirs[i].readonly)
			return false;
	if (a->has_artifact &&
		(!str_eq(a->artifact.path, b->artifact.path) ||
			!str_eq(a->artifact.sha256, b->artifact.sha256) ||
			!kvs_eq(&a->artifact.sha256_arch, &b->artifact.sha256_arch)))
		return false;
	return trait_eq(&a->scaler, &b->scaler);
}

static bool app_eq(const op_app *a, const op_app *b)
{
	if (!str_eq(a->name, b->name) || !kvs_eq(&a->annotations, &b->annotations) ||
		a->has_placement != b->has_placement || a->ncomps != b->ncomps)
		return false;
	if (a->has_placement) {
		const op_placement *x = &a->placement, *y = &b->placement;
		if (!str_eq(x->name, y->name) || x->has_sites != y->has_sites ||
			!strs_eq(&x->sites, &y->sites) ||
			!kvs_eq(&x->requirements, &y->requirements))
			return false;
	}
	for (size_t i = 0; i < a->ncomps; i++)
		if (!comp_eq(&a->comps[i], &b->comps[i]))
			return false;
	return true;
}

/* --- what a valid model promises ---------------------------------------------------- */

static bool text_ok(const char *s)
{
	return s && strlen(s) <= OP_MAX_STRING;
}

static bool hex64(const char *s)
{
	size_t i = 0;
	for (; s && s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

/* Keys strictly ascending (sorted, unique), values present, at most max entries. */
static void check_kvs(const op_kvs *m, size_t max, bool sha)
{
	CHECK(m->n <= max);
	for (size_t i = 0; i < m->n; i++) {
		CHECK(m->v[i].key && *m->v[i].key && text_ok(m->v[i].val));
		CHECK(!sha || hex64(m->v[i].val));
		CHECK(i == 0 || strcmp(m->v[i - 1].key, m->v[i].key) < 0);
	}
}

static void check_names(const op_strs *s, size_t min, size_t max)
{
	CHECK(s->n >= min && s->n <= max);
	for (size_t i = 0; i < s->n; i++) {
		CHECK(op_name_valid(s->v[i]) && strcmp(s->v[i], "hub") != 0);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(s->v[i], s->v[j]) != 0);
	}
}

static void check_trait(const op_trait *t)
{
	CHECK(t->type == OP_SCALER_SPREAD || t->type == OP_SCALER_DAEMON);
	CHECK(t->instances >= 0 &&
		t->instances <= (t->type == OP_SCALER_SPREAD ? OP_MAX_INSTANCES : OP_MAX_DAEMON));
	CHECK(t->nspread <= OP_MAX_SPREAD && (t->nspread == 0 || t->spread));
	for (size_t i = 0; i < t->nspread; i++) {
		const op_spread *s = &t->spread[i];
		CHECK(s->name && op_name_valid(s->name));
		CHECK(s->weight >= 1 && s->weight <= OP_MAX_WEIGHT);
		check_kvs(&s->requirements, OP_MAX_LABELS, false);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(t->spread[j].name, s->name) != 0);
	}
}

static void check_component(const op_component *c)
{
	CHECK(c->name && op_name_valid(c->name));
	if (c->type == OP_COMP_WASM) {
		/* A module: no command or workdir; its digest and path are the artifact. */
		CHECK(!c->command && !c->workdir && c->has_artifact && c->artifact.sha256);
		CHECK(c->ndirs <= OP_MAX_DIRS);
		for (size_t i = 0; i < c->ndirs; i++)
			CHECK(text_ok(c->dirs[i].guest) && c->dirs[i].guest[0] == '/' &&
				text_ok(c->dirs[i].host) && c->dirs[i].host[0] == '/' &&
				!strstr(c->dirs[i].host, "/../") && !strstr(c->dirs[i].host, "//"));
	} else {
		CHECK(c->type == OP_COMP_PROCESS && c->ndirs == 0);
		CHECK(text_ok(c->command) && c->command[0] == '/');
		CHECK(!c->workdir || (text_ok(c->workdir) && c->workdir[0] == '/'));
	}
	CHECK(c->fence.umask <= 0777);
	CHECK(!c->fence.memory ||
		(c->fence.memory >= OP_LIMIT_MEMORY_MIN && c->fence.memory <= OP_LIMIT_MEMORY_MAX));
	CHECK(c->fence.open_files >= 0 && c->fence.open_files <= OP_LIMIT_FILES_MAX);
	CHECK(c->fence.processes >= 0 && c->fence.processes <= OP_LIMIT_PROCS_MAX);
	CHECK(c->fence.cpu_time_ms >= 0 && c->fence.cpu_time_ms % 1000 == 0);
	CHECK(c->args.n <= OP_MAX_ARGS);
	for (size_t i = 0; i < c->args.n; i++)
		CHECK(text_ok(c->args.v[i]));
	check_kvs(&c->env, OP_MAX_ENV, false);
	CHECK(c->restart >= OP_RESTART_ALWAYS && c->restart <= OP_RESTART_NEVER);
	CHECK(c->rollout == OP_ROLLOUT_START_FIRST || c->rollout == OP_ROLLOUT_STOP_FIRST);
	if (c->has_artifact) {
		const op_artifact *a = &c->artifact;
		CHECK(text_ok(a->path) && a->path[0] == '/');
		/* One digest for every arch, or a non-empty per-arch map: never both. */
		CHECK(a->sha256 ? hex64(a->sha256) && a->sha256_arch.n == 0
				: a->sha256_arch.n >= 1);
		check_kvs(&a->sha256_arch, 16, true);
	}
	check_trait(&c->scaler);
}

static void check_model(const op_app *app)
{
	CHECK(app->name && op_name_valid(app->name));
	check_kvs(&app->annotations, OP_MAX_ANNOTATIONS, false);
	if (app->has_placement) {
		const op_placement *p = &app->placement;
		CHECK(p->name && op_name_valid(p->name));
		if (p->has_sites)
			check_names(&p->sites, 1, OP_MAX_SITES);
		else
			CHECK(p->sites.n == 0);
		check_kvs(&p->requirements, OP_MAX_LABELS, false);
	}
	CHECK(app->ncomps >= 1 && app->ncomps <= OP_MAX_COMPONENTS && app->comps);
	for (size_t i = 0; i < app->ncomps; i++) {
		check_component(&app->comps[i]);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(app->comps[i].name, app->comps[j].name) != 0);
	}
}

/* --- the invariants ----------------------------------------------------------------- */

/* A refusal names at least one problem, and only refusals do. */
static void check_verdict(int rc, const op_app *app, const op_diags *d)
{
	if (rc == 0) {
		CHECK(app != NULL);
		CHECK(op_diags_count(d) == 0);
		return;
	}
	CHECK(app == NULL);
	CHECK(rc == OP_EINVAL || rc == OP_ETOOBIG);
	CHECK(op_diags_count(d) > 0);
	for (size_t i = 0; i < d->n; i++)
		CHECK(d->v[i].file && d->v[i].path && d->v[i].msg && *d->v[i].msg);
}

/* Canonical JSON is a fixed point: app -> JSON -> app' -> JSON' with JSON == JSON'
 * (hence equal digests) and app == app'. */
static void check_roundtrip(const op_app *app)
{
	char *json = NULL, *again = NULL;
	size_t len = 0, alen = 0;
	CHECK(op_manifest_to_json(app, &json, &len) == 0);
	CHECK(json && strlen(json) == len);

	op_app *back = NULL;
	op_diags d = {0};
	int rc = op_manifest_from_json("canonical.json", json, len, &back, &d);
	CHECK(rc == 0 && back);
	CHECK(op_diags_count(&d) == 0);
	check_model(back);
	CHECK(app_eq(app, back));

	CHECK(op_manifest_to_json(back, &again, &alen) == 0);
	CHECK(again && alen == len && memcmp(json, again, len) == 0);

	char d1[OP_DIGEST_LEN + 1], d2[OP_DIGEST_LEN + 1];
	op_digest(json, len, d1);
	op_digest(again, alen, d2);
	CHECK(strlen(d1) == OP_DIGEST_LEN && strcmp(d1, d2) == 0);

	op_diags_clear(&d);
	op_app_free(back);
	free(json);
	free(again);
}

/* The same file added twice to a set: the first is kept, the second is a duplicate. */
static void check_appset(const char *buf, size_t len, const op_app *app)
{
	op_appset s = {0};
	op_diags d = {0};
	CHECK(op_appset_add(&s, "a.yaml", buf, len, &d) == 0);
	CHECK(op_appset_add(&s, "b.yaml", buf, len, &d) == OP_EINVAL);
	CHECK(s.n == 1 && s.nfiles == 2 && s.invalid == 1);
	CHECK(op_appset_find(&s, app->name) == 0);
	CHECK(app_eq(app, s.apps[0]));
	CHECK(op_diags_count(&d) == 1);
	op_diags_clear(&d);
	op_appset_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	op_app *app = NULL;
	op_diags d = {0};

	int rc = op_manifest_parse("fuzz.yaml", buf, size, &app, &d);
	check_verdict(rc, app, &d);
	if (rc == 0) {
		check_model(app);
		check_roundtrip(app);
		check_appset(buf, size, app);
	}
	op_app_free(app);
	op_diags_clear(&d);

	app = NULL;
	memset(&d, 0, sizeof d);
	rc = op_manifest_from_json("fuzz.json", buf, size, &app, &d);
	check_verdict(rc, app, &d);
	if (rc == 0) {
		check_model(app);
		check_roundtrip(app);
	}
	op_app_free(app);
	op_diags_clear(&d);
	return 0;
}
