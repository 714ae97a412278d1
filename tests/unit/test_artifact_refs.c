/* What accepted revisions reference, and what `outpost artifact gc` may delete: the
 * digests of manifests (one for every arch, or one per arch), read from YAML and from the
 * canonical JSON the hub holds, and the gc choice over a table of objects. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/store/refs.h"
#include "t.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"
#define H4 "4444444444444444444444444444444444444444444444444444444444444444"

#define APP_HEAD(name) \
	"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: " name "}\n" \
	"spec:\n  components:\n"
#define COMP_ONE(name, hex) \
	"    - name: " name "\n      type: process\n      properties:\n" \
	"        command: /opt/" name "\n        artifact: {path: /opt/" name ", sha256: " hex \
	"}\n"
#define COMP_ARCH(name, a, b) \
	"    - name: " name "\n      type: process\n      properties:\n" \
	"        command: /opt/" name "\n        artifact: {path: /opt/" name \
	", sha256: {amd64: " a ", arm64: " b "}}\n"
#define COMP_NONE(name) \
	"    - name: " name "\n      type: process\n      properties: {command: /bin/true}\n"

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

static void test_refs_from_manifests(void)
{
	op_app *thermo = parse(APP_HEAD("thermo") COMP_ONE("reader", H1) COMP_ARCH("writer", H2, H3)
			COMP_NONE("idle"));
	op_app *gate = parse(APP_HEAD("gate") COMP_ONE("gw", H1));
	T_REQUIRE(thermo && gate);
	op_art_refs r = {0};
	op_err e = {0};
	T_EQ_INT(op_art_refs_add_app(&r, thermo, &e), 0);
	T_EQ_INT(op_art_refs_add_app(&r, gate, &e), 0);
	T_EQ_INT(op_art_refs_add_app(&r, gate, &e), 0); /* a pair is held once */
	T_EQ_INT(r.n, 4);
	uint8_t s[32];
	char apps[64];
	sha(H1, s);
	T_CHECK(op_art_refs_has(&r, s));
	op_art_refs_apps(&r, s, apps, sizeof apps);
	T_EQ_STR(apps, "gate,thermo"); /* sorted, whatever the order added */
	sha(H3, s);
	op_art_refs_apps(&r, s, apps, sizeof apps);
	T_EQ_STR(apps, "thermo");
	sha(H4, s);
	T_CHECK(!op_art_refs_has(&r, s));
	op_art_refs_apps(&r, s, apps, sizeof apps);
	T_EQ_STR(apps, "");
	/* The canonical JSON the hub holds says the same. */
	char *json = NULL;
	size_t len = 0;
	T_REQUIRE(op_manifest_to_json(thermo, &json, &len) == 0);
	op_art_refs j = {0};
	T_EQ_INT(op_art_refs_add_json(&j, json, len, &e), 0);
	T_EQ_INT(j.n, 3);
	sha(H2, s);
	T_CHECK(op_art_refs_has(&j, s));
	T_EQ_INT(op_art_refs_add_json(&j, "{\"format\":2}", 12, &e), OP_EINVAL);
	T_CHECK(e.msg[0]);
	free(json);
	op_art_refs_clear(&j);
	op_art_refs_clear(&r);
	T_CHECK(r.n == 0 && !r.v);
	op_app_free(thermo);
	op_app_free(gate);
}

static op_objmeta obj(const char *name, const char *hex, int64_t mtime)
{
	op_objmeta m = {0};
	m.name = (char *)name;
	snprintf(m.nuid, sizeof m.nuid, "n%s", name);
	m.size = 10;
	m.chunks = 1;
	m.has_digest = true;
	sha(hex, m.sha256);
	m.mtime = mtime;
	return m;
}

static void test_gc_choice(void)
{
	const int64_t now = 1800000000, hour = 3600;
	op_objmeta objs[8];
	objs[0] = obj("kept", H1, now - 10 * hour); /* a kept revision references it */
	objs[1] = obj("newest", H2, now - 10 * hour); /* the newest references it */
	objs[2] = obj("old", H3, now - 10 * hour); /* nobody: deleted */
	objs[3] = obj("young", H4, now - 60); /* nobody, but just put */
	objs[4] = obj("undated", H3, 0); /* nobody, time unknown: kept */
	objs[5] = obj("other-name", H3, now - 2 * hour); /* the same bytes, put by others */
	objs[6] = obj("deleted", H3, now - 10 * hour);
	objs[6].deleted = true;
	objs[7] = obj("link", H3, now - 10 * hour);
	objs[7].link = true;
	op_art_refs kept = {0}, newest = {0};
	uint8_t s[32];
	sha(H1, s);
	op_art_refs_add(&kept, s, "thermo", NULL);
	sha(H2, s);
	op_art_refs_add(&newest, s, "gate", NULL); /* kept lacks it: the newest still wins */
	bool del[8];
	T_EQ_INT(op_art_gc_choose(objs, 8, &kept, &newest, now, hour, del), 2);
	bool want[8] = {false, false, true, false, false, true, false, false};
	for (int i = 0; i < 8; i++)
		T_CHECK_MSG(del[i] == want[i], "%s: %d", objs[i].name, del[i]);
	/* With no minimum age the young one goes too; with a day, only none. */
	T_EQ_INT(op_art_gc_choose(objs, 8, &kept, &newest, now, 0, del), 3);
	T_CHECK(del[3]);
	T_EQ_INT(op_art_gc_choose(objs, 8, &kept, &newest, now, 24 * hour, del), 0);
	/* Everything referenced: nothing chosen. */
	sha(H3, s);
	op_art_refs_add(&kept, s, "x", NULL);
	sha(H4, s);
	op_art_refs_add(&kept, s, "x", NULL);
	T_EQ_INT(op_art_gc_choose(objs, 8, &kept, &newest, now, 0, del), 0);
	op_art_refs_clear(&kept);
	op_art_refs_clear(&newest);
}

int main(void)
{
	T_RUN(test_refs_from_manifests);
	T_RUN(test_gc_choice);
	return t_done();
}
