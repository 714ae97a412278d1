/* The rollout policy of a manifest (canary waves): its defaults, every way it can be
 * wrong (each with its line, column and field path), and its canonical JSON, which
 * must read back to the same model and bytes, and which an app without the policy
 * must not change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/model/manifest.h"
#include "t.h"

#define TOP "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: app\n"
#define POL TOP "spec:\n  policies:\n    - name: r\n      type: rollout\n" /* 1-8 */
#define PROPS POL "      properties:\n" /* 9 */
#define COMPS \
	"  components:\n    - name: c\n      type: process\n      properties:\n" \
	"        command: /bin/c\n"

static void print_diags(const op_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "    got %d:%d: %s: %s\n", d->v[i].line, d->v[i].col, d->v[i].path,
			d->v[i].msg);
}

static op_app *parse_ok(const char *yaml)
{
	op_diags d = {0};
	op_app *app = NULL;
	int rc = op_manifest_parse("ok.yaml", yaml, strlen(yaml), &app, &d);
	T_CHECK_MSG(rc == 0 && app, "parse failed: rc %d", rc);
	if (rc)
		print_diags(&d);
	op_diags_clear(&d);
	return app;
}

static void test_defaults(void)
{
	op_app *a = parse_ok(POL COMPS);
	T_REQUIRE(a);
	T_CHECK(a->has_rollout && !a->has_placement);
	T_EQ_STR(a->rollout.name, "r");
	T_EQ_INT(a->rollout.nwaves, 0);
	T_EQ_INT(a->rollout.soak_ms, 600000);
	T_EQ_INT(a->rollout.progress_deadline_ms, 300000);
	T_EQ_INT(a->rollout.min_sites, -1);
	op_app_free(a);

	a = parse_ok(PROPS "        waves: []\n" COMPS);
	T_REQUIRE(a);
	T_CHECK(a->has_rollout && a->rollout.nwaves == 0);
	op_app_free(a);

	a = parse_ok(TOP "spec:\n" COMPS);
	T_REQUIRE(a);
	T_CHECK(!a->has_rollout && a->rollout.waves == NULL);
	op_app_free(a);
}

static void test_full(void)
{
	op_app *a = parse_ok(TOP "spec:\n  policies:\n"
				 "    - name: where\n      type: placement\n"
				 "      properties: {requirements: {region: eu}}\n"
				 "    - name: canary\n      type: rollout\n      properties:\n"
				 "        waves:\n"
				 "          - name: canary\n"
				 "            requirements: {ring: canary, region: eu}\n"
				 "          - name: rest\n"
				 "        soak: 500ms\n"
				 "        min_sites: 2\n"
				 "        progress_deadline: 2h\n" COMPS);
	T_REQUIRE(a);
	T_CHECK(a->has_placement && a->has_rollout);
	const op_rollout_policy *r = &a->rollout;
	T_EQ_STR(r->name, "canary");
	T_REQUIRE(r->nwaves == 2);
	T_EQ_STR(r->waves[0].name, "canary");
	T_EQ_INT(r->waves[0].requirements.n, 2);
	T_EQ_STR(op_kvs_get(&r->waves[0].requirements, "ring"), "canary");
	T_EQ_STR(r->waves[1].name, "rest");
	T_EQ_INT(r->waves[1].requirements.n, 0);
	T_EQ_INT(r->soak_ms, 500);
	T_EQ_INT(r->min_sites, 2);
	T_EQ_INT(r->progress_deadline_ms, 2 * 3600 * 1000);
	op_app_free(a);
}

struct bad {
	const char *yaml;
	int line, col;
	const char *path;
	const char *msg;
};

#define P "spec.policies[0].properties"
static const struct bad bads[] = {
	{PROPS "        wave: []\n" COMPS, 10, 9, P ".wave",
		"unknown field (expected one of: waves, soak"},
	{PROPS "        waves: {a: b}\n" COMPS, 10, 16, P ".waves", "expected a list"},
	{PROPS "        waves: [{requirements: {}}]\n" COMPS, 10, 17, P ".waves[0].name",
		"missing required field"},
	{PROPS "        waves: [{name: Big}]\n" COMPS, 10, 24, P ".waves[0].name", "wave name"},
	{PROPS "        waves: [{name: a, ring: x}]\n" COMPS, 10, 27, P ".waves[0].ring",
		"unknown field"},
	{PROPS "        waves: [{name: a}, {name: b}, {name: a}]\n" COMPS, 10, 46,
		P ".waves[2].name", "duplicate wave name \"a\" (waves[0] has it)"},
	{PROPS "        waves: [{name: a, requirements: [x]}]\n" COMPS, 10, 41,
		P ".waves[0].requirements", "expected a mapping"},
	{PROPS "        waves: [{name: a, requirements: {Bad Key: x}}]\n" COMPS, 10, 42,
		P ".waves[0].requirements.Bad Key", "expected a label key"},
	{PROPS "        soak: 10\n" COMPS, 10, 15, P ".soak", "with its unit"},
	{PROPS "        soak: 10d\n" COMPS, 10, 15, P ".soak", "with its unit"},
	{PROPS "        soak: -1s\n" COMPS, 10, 15, P ".soak", "with its unit"},
	{PROPS "        soak: 169h\n" COMPS, 10, 15, P ".soak", "from 0s to 168h"},
	{PROPS "        soak: [1s]\n" COMPS, 10, 15, P ".soak", "expected a duration"},
	{PROPS "        soak: ~\n" COMPS, 10, 15, P ".soak", "expected a duration"},
	{PROPS "        progress_deadline: 999ms\n" COMPS, 10, 28, P ".progress_deadline",
		"from 1s to 168h"},
	{PROPS "        progress_deadline: 1000000000s\n" COMPS, 10, 28, P ".progress_deadline",
		"with its unit"},
	{PROPS "        min_sites: 0\n" COMPS, 10, 20, P ".min_sites", "from 1 to 100000"},
	{PROPS "        min_sites: \"2\"\n" COMPS, 10, 20, P ".min_sites", "without quotes"},
	{POL "      properties: []\n" COMPS, 9, 19, P, "expected a mapping"},
	{POL "      properties: {}\n    - name: s\n      type: rollout\n" COMPS, 10, 7,
		"spec.policies[1]", "an app takes one rollout policy; the first is at line 7"},
};

static void test_invalid(void)
{
	for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
		const struct bad *b = &bads[i];
		op_diags d = {0};
		op_app *app = NULL;
		int rc = op_manifest_parse("t.yaml", b->yaml, strlen(b->yaml), &app, &d);
		bool ok = rc == OP_EINVAL && !app && op_diags_count(&d) == 1 &&
			d.v[0].line == b->line && d.v[0].col == b->col &&
			!strcmp(d.v[0].path, b->path) && strstr(d.v[0].msg, b->msg);
		T_CHECK_MSG(ok, "row %zu: want %d:%d: %s: ...%s... alone; rc %d", i, b->line,
			b->col, b->path, b->msg, rc);
		if (!ok)
			print_diags(&d);
		op_app_free(app);
		op_diags_clear(&d);
	}
}

static char *json_of(const op_app *a)
{
	char *j = NULL;
	size_t n = 0;
	T_EQ_INT(op_manifest_to_json(a, &j, &n), 0);
	return j;
}

static bool same_rollout(const op_app *a, const op_app *b)
{
	if (a->has_rollout != b->has_rollout)
		return false;
	const op_rollout_policy *p = &a->rollout, *q = &b->rollout;
	if (!a->has_rollout)
		return true;
	if (strcmp(p->name, q->name) || p->nwaves != q->nwaves || p->soak_ms != q->soak_ms ||
		p->min_sites != q->min_sites || p->progress_deadline_ms != q->progress_deadline_ms)
		return false;
	for (size_t i = 0; i < p->nwaves; i++) {
		const op_kvs *x = &p->waves[i].requirements, *y = &q->waves[i].requirements;
		if (strcmp(p->waves[i].name, q->waves[i].name) || x->n != y->n)
			return false;
		for (size_t k = 0; k < x->n; k++)
			if (strcmp(x->v[k].key, y->v[k].key) || strcmp(x->v[k].val, y->v[k].val))
				return false;
	}
	return true;
}

static const char *const round_trips[] = {
	POL COMPS,
	PROPS "        waves: []\n        soak: 0s\n" COMPS,
	PROPS "        waves: [{name: a, requirements: {ring: canary}}, {name: b}]\n"
	      "        soak: 1500ms\n        min_sites: 100000\n"
	      "        progress_deadline: 168h\n" COMPS,
	PROPS "        soak: 90s\n        progress_deadline: 61m\n" COMPS,
	TOP "spec:\n  policies:\n    - name: r\n      type: rollout\n"
	    "    - name: p\n      type: placement\n      properties: {sites: [x]}\n" COMPS,
};

static void test_round_trips(void)
{
	for (size_t i = 0; i < sizeof round_trips / sizeof round_trips[0]; i++) {
		op_app *a = parse_ok(round_trips[i]), *b = NULL;
		T_REQUIRE(a);
		char *j1 = json_of(a), *j2 = NULL;
		op_diags d = {0};
		T_REQUIRE(j1);
		T_CHECK_MSG(op_manifest_from_json("kv", j1, strlen(j1), &b, &d) == 0 && b,
			"row %zu: JSON refused: %s", i, d.n ? d.v[0].msg : "");
		if (b) {
			T_CHECK_MSG(same_rollout(a, b), "row %zu: models differ", i);
			j2 = json_of(b);
			T_CHECK_MSG(j2 && !strcmp(j1, j2), "row %zu: bytes differ:\n%s\n%s", i, j1,
				j2 ? j2 : "");
		}
		free(j1);
		free(j2);
		op_app_free(a);
		op_app_free(b);
		op_diags_clear(&d);
	}
}

/* The policy's canonical form, to the byte; without it, the JSON has no trace of it. */
static void test_canonical(void)
{
	op_app *a = parse_ok(PROPS "        waves: [{name: a, requirements: {ring: x}}]\n"
				   "        min_sites: 3\n        soak: 120s\n" COMPS);
	T_REQUIRE(a);
	char *j = json_of(a);
	T_REQUIRE(j);
	T_CHECK_MSG(strstr(j,
			    "\"policies\":[{\"name\":\"r\",\"properties\":{\"min_sites\":3,"
			    "\"progress_deadline\":\"5m\",\"soak\":\"2m\",\"waves\":[{\"name\":"
			    "\"a\",\"requirements\":{\"ring\":\"x\"}}]},\"type\":\"rollout\"}]"),
		"%s", j);
	free(j);
	op_app_free(a);
	a = parse_ok(TOP "spec:\n" COMPS);
	T_REQUIRE(a);
	j = json_of(a);
	T_CHECK(j && !strstr(j, "rollout\"}") && !strstr(j, "soak") &&
		strstr(j, "\"policies\":[]"));
	free(j);
	op_app_free(a);
}

static void test_duration_format(void)
{
	static const struct {
		long long ms;
		const char *s;
	} rows[] = {{0, "0s"}, {1, "1ms"}, {999, "999ms"}, {1000, "1s"}, {1500, "1500ms"},
		{59000, "59s"}, {60000, "1m"}, {90000, "90s"}, {3600000, "1h"}, {3660000, "61m"},
		{OP_MAX_DURATION_MS, "168h"}, {OP_MAX_DURATION_MS - 1, "604799999ms"}};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char out[32];
		op_format_duration_ms(rows[i].ms, out);
		T_EQ_STR(out, rows[i].s);
	}
}

int main(void)
{
	T_RUN(test_defaults);
	T_RUN(test_full);
	T_RUN(test_invalid);
	T_RUN(test_round_trips);
	T_RUN(test_canonical);
	T_RUN(test_duration_format);
	return t_done();
}
