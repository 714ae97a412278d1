/* Staging's pure decisions (agent/store/stage.c): the gate over every combination of
 * artifact states, progress in bytes from chunk counts, when an artifact moved (the
 * agent's round runs again at once), what a site needs for the archs its hosts report,
 * gc's choice, and the site's copy's stream config (read back as JSON: two sources per
 * object, one filter each, from the hub's API, start at 1). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/store/stage.h"
#include "t.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"

static op_app *parse(const char *yaml)
{
	op_app *a = NULL;
	op_diags d = {0};
	if (op_manifest_parse("t.yaml", yaml, strlen(yaml), &a, &d) != 0)
		op_diags_print(&d, stderr);
	op_diags_clear(&d);
	return a;
}

static void sha(const char *hex, uint8_t out[32])
{
	if (op_art_digest_parse(hex, out) != 0)
		memset(out, 0, 32);
}

/* Every assignment of the five states to three items: ready exactly when none is
 * unknown, fetching or refused; the counts add up; bytes count the items in the store. */
static void test_gate_exhaustive(void)
{
	const int S = 5;
	int checked = 0;
	for (int a = 0; a < S; a++)
		for (int b = 0; b < S; b++)
			for (int c = 0; c < S; c++) {
				op_stage_item v[3] = {
					{.state = (enum op_stage_state)a, .done = 1, .total = 10},
					{.state = (enum op_stage_state)b, .done = 2, .total = 20},
					{.state = (enum op_stage_state)c, .done = 3, .total = 30}};
				op_stage_verdict out;
				op_stage_gate(v, 3, &out);
				bool want = true;
				uint64_t done = 0, total = 0;
				for (int i = 0; i < 3; i++) {
					enum op_stage_state s = v[i].state;
					want &= s == OP_STAGE_ABSENT || s == OP_STAGE_STAGED;
					if (s != OP_STAGE_ABSENT && s != OP_STAGE_UNKNOWN) {
						done += v[i].done;
						total += v[i].total;
					}
				}
				T_EQ_INT(out.ready, want);
				T_EQ_INT((int)(out.unknown + out.absent + out.fetching +
						 out.staged + out.refused),
					3);
				T_EQ_INT((int)out.done, (int)done);
				T_EQ_INT((int)out.total, (int)total);
				checked++;
			}
	T_EQ_INT(checked, 125);
	op_stage_verdict none;
	op_stage_gate(NULL, 0, &none);
	T_CHECK(none.ready); /* a revision without artifacts waits for nothing */
}

static void test_done_from_chunks(void)
{
	op_objmeta m = {.size = 300, .chunks = 3, .max_chunk = 128};
	T_EQ_INT((int)op_stage_done(&m, 0), 0);
	T_EQ_INT((int)op_stage_done(&m, 1), 128);
	T_EQ_INT((int)op_stage_done(&m, 2), 256);
	T_EQ_INT((int)op_stage_done(&m, 3), 300);
	T_EQ_INT((int)op_stage_done(&m, 4), 300); /* never past the size */
	op_objmeta n = {.size = 10, .chunks = 3}; /* no max_chunk: size over count, up */
	T_EQ_INT((int)op_stage_done(&n, 1), 4);
	T_EQ_INT((int)op_stage_done(&n, 2), 8);
	op_objmeta empty = {.size = 0, .chunks = 0};
	T_EQ_INT((int)op_stage_done(&empty, 0), 0);
}

/* Every pair of states, and bytes alone: moved exactly when what the round shows and
 * gates on differs. The case that matters: the round said "not looked up yet" and the
 * step found the object in the hub's store (unknown -> staging, bytes still 0). */
static void test_moved(void)
{
	const int S = 5;
	for (int a = 0; a < S; a++)
		for (int b = 0; b < S; b++) {
			op_stage_item was = {
				.state = (enum op_stage_state)a, .done = 5, .total = 9};
			op_stage_item now = was;
			now.state = (enum op_stage_state)b;
			T_EQ_INT(op_stage_moved(&was, &now), a != b);
		}
	op_stage_item unknown = {.state = OP_STAGE_UNKNOWN};
	op_stage_item asked = {.state = OP_STAGE_FETCHING, .total = 48 << 20};
	T_CHECK(op_stage_moved(&unknown, &asked));
	op_stage_item more = asked;
	more.done = 128 << 10; /* chunks crossed: status shows the bytes */
	T_CHECK(op_stage_moved(&asked, &more));
	T_CHECK(!op_stage_moved(&more, &more)); /* nothing new: no extra round */
	op_stage_item other = more;
	other.total = 1; /* the hub's object replaced (a corrected upload) */
	T_CHECK(op_stage_moved(&more, &other));
}

static void test_needs_by_arch(void)
{
	op_app *app = parse(
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: thermo}\n"
		"spec:\n  components:\n"
		"    - name: one\n      type: process\n      properties:\n"
		"        command: /opt/one\n        artifact: {path: /opt/one, sha256: " H1 "}\n"
		"    - name: two\n      type: process\n      properties:\n"
		"        command: /opt/two\n        artifact: {path: /opt/two, sha256: "
		"{amd64: " H2 ", arm64: " H3 "}}\n");
	T_REQUIRE(app);
	uint8_t s1[32], s2[32], s3[32];
	sha(H1, s1), sha(H2, s2), sha(H3, s3);
	op_err e = {0};
	const char *none[1] = {NULL}, *amd[] = {"amd64"}, *both[] = {"arm64", "amd64"},
		   *other[] = {"riscv64"};
	struct {
		const char *const *archs;
		size_t n;
		bool h2, h3;
	} cases[] = {{none, 0, false, false}, {amd, 1, true, false}, {both, 2, true, true},
		{other, 1, false, false}};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		op_art_refs r = {0};
		T_EQ_INT(op_stage_need_app(&r, app, cases[i].archs, cases[i].n, &e), 0);
		T_CHECK(op_art_refs_has(&r, s1)); /* one digest for every arch: always */
		T_EQ_INT(op_art_refs_has(&r, s2), cases[i].h2);
		T_EQ_INT(op_art_refs_has(&r, s3), cases[i].h3);
		op_art_refs_clear(&r);
	}
	op_app_free(app);
}

static void test_gc_choose(void)
{
	op_objmeta objs[3] = {{.has_digest = true}, {.has_digest = true}, {.has_digest = false}};
	sha(H1, objs[0].sha256);
	sha(H2, objs[1].sha256);
	op_art_refs keep = {0};
	uint8_t s1[32];
	sha(H1, s1);
	op_art_refs_add(&keep, s1, "a", NULL);
	bool del[3];
	T_EQ_INT((int)op_stage_gc_choose(objs, 3, &keep, del), 2);
	T_CHECK(!del[0] && del[1] && del[2]); /* kept; not kept; no digest: not ours */
	op_art_refs_clear(&keep);
	T_EQ_INT((int)op_stage_gc_choose(objs, 3, &keep, del), 3);
}

static void test_stream_config(void)
{
	op_objmeta objs[2] = {
		{.name = "sha256:" H1, .nuid = "N1"}, {.name = "other", .nuid = "N2"}};
	char *json = NULL;
	op_err e = {0};
	T_EQ_INT(op_stage_stream_config("outpost-artifacts", "$JS.hub.API",
			 "outpost-artifacts.plant-7", objs, 2, &json, &e),
		0);
	json_t *j = json_loads(json, 0, NULL);
	T_REQUIRE(j);
	T_EQ_STR(json_string_value(json_object_get(j, "name")), "OBJ_outpost-artifacts");
	T_CHECK(json_object_get(j, "subjects") == NULL); /* a copy: sources only */
	T_CHECK(json_is_true(json_object_get(j, "allow_rollup_hdrs")));
	json_t *src = json_object_get(j, "sources");
	T_EQ_INT((int)json_array_size(src), 4);
	char m1[512];
	T_REQUIRE(op_objmeta_meta_subject("outpost-artifacts", objs[0].name, m1, sizeof m1) == 0);
	const char *want[] = {"$O.outpost-artifacts.C.N1", m1, "$O.outpost-artifacts.C.N2",
		"$O.outpost-artifacts.M.b3RoZXI="};
	for (size_t i = 0; i < 4; i++) {
		json_t *s = json_array_get(src, i);
		const char *f = json_string_value(json_object_get(s, "filter_subject"));
		T_CHECK_MSG(f && !strcmp(f, want[i]), "source %zu: %s", i, f ? f : "(none)");
		T_EQ_STR(json_string_value(json_object_get(s, "name")), "OBJ_outpost-artifacts");
		T_EQ_INT((int)json_integer_value(json_object_get(s, "opt_start_seq")), 1);
		T_EQ_STR(json_string_value(json_object_get(json_object_get(s, "external"), "api")),
			"$JS.hub.API");
		T_EQ_STR(json_string_value(
				 json_object_get(json_object_get(s, "external"), "deliver")),
			"outpost-artifacts.plant-7");
	}
	json_decref(j);
	free(json);
	/* "" is JetStream's own deliver subject ($JS.S), as without credentials */
	T_EQ_INT(op_stage_stream_config("outpost-artifacts", "$JS.hub.API", "", objs, 1, &json, &e),
		0);
	j = json_loads(json, 0, NULL);
	T_EQ_STR(json_string_value(json_object_get(
			 json_object_get(
				 json_array_get(json_object_get(j, "sources"), 0), "external"),
			 "deliver")),
		"");
	json_decref(j);
	free(json);
	json = NULL;
	op_objmeta bad = {.name = "x", .nuid = "a.b"};
	T_EQ_INT(op_stage_stream_config("outpost-artifacts", "$JS.hub.API", "", &bad, 1, &json, &e),
		OP_EINVAL);
	T_CHECK(json == NULL);
	const char *bad_deliver[] = {"a.*", "a.>", ".a", "a.", "a..b", "a b", "x\ty"};
	for (size_t i = 0; i < sizeof bad_deliver / sizeof *bad_deliver; i++) {
		e.msg[0] = '\0';
		T_CHECK_MSG(op_stage_stream_config("outpost-artifacts", "$JS.hub.API",
				    bad_deliver[i], objs, 1, &json, &e) == OP_EINVAL &&
				json == NULL && strstr(e.msg, "deliver prefix"),
			"deliver \"%s\" accepted", bad_deliver[i]);
	}
}

int main(void)
{
	T_RUN(test_gate_exhaustive);
	T_RUN(test_done_from_chunks);
	T_RUN(test_moved);
	T_RUN(test_needs_by_arch);
	T_RUN(test_gc_choose);
	T_RUN(test_stream_config);
	return t_done();
}
