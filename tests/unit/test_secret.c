/* Sealed secrets and secret references: the sealed file's format (strict, errors with
 * file:line:col and field), seal and open (only the sites named, only with their key),
 * and the manifest's env/files references (canonical JSON: absent without secrets,
 * "sealed" accepted from JSON only, a changed pin changing the component's bytes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/model/sealed.h"
#include "outpost/agent/wire/proto.h"
#include "t.h"

#define VALUE "s3cr\xc3\xa9t\nwith a newline\0and a NUL"
#define VLEN (sizeof VALUE - 1)

static void keys(unsigned char pk[OP_SEAL_KEY_LEN], unsigned char sk[OP_SEAL_KEY_LEN])
{
	T_CHECK(op_seal_keygen(pk, sk) == 0);
}

static void test_seal_open_round_trip(void)
{
	unsigned char pa[32], sa[32], pb[32], sb[32], pc[32], sc[32];
	keys(pa, sa), keys(pb, sb), keys(pc, sc);
	op_sealed s;
	memset(&s, 0, sizeof s);
	snprintf(s.name, sizeof s.name, "db-pass");
	op_err e = {0};
	T_REQUIRE(op_sealed_add(&s, "plant-9", pb, VALUE, VLEN, &e) == 0);
	T_REQUIRE(op_sealed_add(&s, "plant-7", pa, VALUE, VLEN, &e) == 0);
	char *yaml = NULL;
	size_t ylen = 0;
	T_REQUIRE(op_sealed_encode(&s, &yaml, &ylen) == 0);
	T_CHECK(memmem(yaml, ylen, "s3cr", 4) == NULL);
	op_sealed back;
	op_diags d = {0};
	int rc = op_sealed_parse("secrets/db-pass.yaml", yaml, ylen, &back, &d);
	if (rc)
		op_diags_print(&d, stderr);
	T_REQUIRE(rc == 0);
	T_EQ_STR(back.name, "db-pass");
	T_EQ_INT(back.n, 2);
	T_EQ_STR(back.to[0].site, "plant-7"); /* sorted */
	unsigned char *v = NULL;
	size_t vl = 0;
	T_EQ_INT(op_sealed_open(&back, "plant-7", pa, sa, &v, &vl, &e), 0);
	T_CHECK(v && vl == VLEN && memcmp(v, VALUE, VLEN) == 0);
	op_secret_free(v, vl);
	T_EQ_INT(op_sealed_open(&back, "plant-9", pb, sb, &v, &vl, &e), 0);
	T_CHECK(v && vl == VLEN && memcmp(v, VALUE, VLEN) == 0);
	op_secret_free(v, vl);
	/* A site it is not sealed to, and the right site with another key pair (the hub's,
	 * another site's): neither opens it, and the messages hold no value. */
	T_EQ_INT(op_sealed_open(&back, "plant-8", pc, sc, &v, &vl, &e), OP_ENOTFOUND);
	T_CHECK(strstr(e.msg, "not sealed to site plant-8") != NULL);
	T_EQ_INT(op_sealed_open(&back, "plant-7", pc, sc, &v, &vl, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "another key") != NULL);
	T_CHECK(v == NULL);
	/* Another site's private key with this site's public key: the box does not open. */
	T_EQ_INT(op_sealed_open(&back, "plant-7", pa, sb, &v, &vl, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "does not open") != NULL);
	/* Re-sealing for a site replaces its box. */
	T_REQUIRE(op_sealed_add(&back, "plant-7", pc, "x", 1, &e) == 0);
	T_EQ_INT(back.n, 2);
	T_EQ_INT(op_sealed_open(&back, "plant-7", pc, sc, &v, &vl, &e), 0);
	T_CHECK(vl == 1 && v && v[0] == 'x');
	op_secret_free(v, vl);
	op_sealed_clear(&back);
	op_sealed_clear(&s);
	op_diags_clear(&d);
	free(yaml);
}

static void test_seal_limits(void)
{
	unsigned char pk[32], sk[32];
	keys(pk, sk);
	op_sealed s;
	memset(&s, 0, sizeof s);
	op_err e = {0};
	T_EQ_INT(op_sealed_add(&s, "plant-7", pk, "", 0, &e), OP_ETOOBIG);
	char *big = calloc(OP_SECRET_MAX + 1, 1);
	T_REQUIRE(big);
	T_EQ_INT(op_sealed_add(&s, "plant-7", pk, big, OP_SECRET_MAX + 1, &e), OP_ETOOBIG);
	T_EQ_INT(op_sealed_add(&s, "plant-7", pk, big, OP_SECRET_MAX, &e), 0);
	T_EQ_INT(op_sealed_add(&s, "Plant", pk, "x", 1, &e), OP_EINVAL);
	free(big);
	op_sealed_clear(&s);
}

#define KEY "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
#define BOX "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define SHEAD "apiVersion: outpost/v1\nkind: SealedSecret\nmetadata:\n  name: db\nsealed:\n"

struct bad {
	const char *yaml;
	int line, col;
	const char *path, *msg;
};

static void test_sealed_invalid_table(void)
{
	static const struct bad rows[] = {
		{"", 1, 1, "(document)", "empty file"},
		{"[1]", 1, 1, "(document)", "mapping"},
		{"apiVersion: outpost/v2\nkind: SealedSecret\nmetadata: {name: db}\nsealed: {}\n",
			1, 13, "apiVersion", "outpost/v1"},
		{SHEAD "  plant-7: {key: " KEY ", box: " BOX "}\nextra: 1\n", 7, 1, "extra",
			"unknown"},
		{SHEAD "  {}\n", 6, 3, "sealed", "1 to"},
		{SHEAD "  Plant: {key: " KEY ", box: " BOX "}\n", 6, 3, "sealed.Plant",
			"site name"},
		{SHEAD "  plant-7: {key: AAAA, box: " BOX "}\n", 6, 18, "sealed.plant-7.key",
			"32 bytes"},
		{SHEAD "  plant-7: {key: " KEY ", box: AAAA}\n", 6, 69, "sealed.plant-7.box",
			"too short"},
		{SHEAD "  plant-7: {key: " KEY ", box: '!!'}\n", 6, 69, "sealed.plant-7.box",
			"base64"},
		{SHEAD "  plant-7: {key: " KEY "}\n", 6, 12, "sealed.plant-7.box", "missing"},
		{SHEAD "  plant-7: {key: " KEY ", box: " BOX "}\n  plant-7: {key: " KEY
		       ", box: " BOX "}\n",
			7, 3, "sealed.plant-7", "duplicate"},
		{"apiVersion: outpost/v1\nkind: SealedSecret\nmetadata: {name: Db}\nsealed: {}\n",
			3, 18, "metadata.name", "secret name"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const struct bad *r = &rows[i];
		op_sealed s;
		op_diags d = {0};
		int rc = op_sealed_parse("s.yaml", r->yaml, strlen(r->yaml), &s, &d);
		T_CHECK_MSG(rc == OP_EINVAL, "row %zu: rc %d", i, rc);
		bool found = false;
		for (size_t k = 0; k < d.n; k++)
			found |= d.v[k].line == r->line && d.v[k].col == r->col &&
				!strcmp(d.v[k].path, r->path) && strstr(d.v[k].msg, r->msg);
		if (!found) {
			t_fail(__FILE__, __LINE__, "row %zu: no %d:%d %s \"%s\"; got:", i, r->line,
				r->col, r->path, r->msg);
			op_diags_print(&d, stderr);
		}
		op_sealed_clear(&s);
		op_diags_clear(&d);
	}
}

#define MAN \
	"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: app\n" \
	"spec:\n  components:\n    - name: c\n      type: process\n      properties:\n" \
	"        command: /bin/c\n"

static void test_refs_parse_and_json(void)
{
	const char *y = MAN
		"        env: {ZED: z, DB_PASS: {secret: db-pass}, A: {secret: tok}}\n"
		"        files:\n"
		"          - {path: /run/thermo/db-pass, secret: db-pass, mode: \"0440\"}\n"
		"          - {path: /run/thermo/tls.key, secret: tls}\n";
	op_app *app = NULL;
	op_diags d = {0};
	int rc = op_manifest_parse("a.yaml", y, strlen(y), &app, &d);
	if (rc)
		op_diags_print(&d, stderr);
	T_REQUIRE(rc == 0);
	const op_component *c = &app->comps[0];
	T_EQ_INT(c->env.n, 1);
	T_EQ_INT(c->nsecrets, 4);
	T_EQ_STR(c->secrets[0].env, "A");
	T_EQ_STR(c->secrets[1].env, "DB_PASS");
	T_EQ_STR(c->secrets[1].secret, "db-pass");
	T_EQ_STR(c->secrets[2].path, "/run/thermo/db-pass");
	T_EQ_INT(c->secrets[2].mode, 0440);
	T_EQ_INT(c->secrets[3].mode, 0400);
	T_CHECK(c->secrets[0].sealed == NULL);
	char *json = NULL;
	T_REQUIRE(op_manifest_to_json(app, &json, NULL) == 0);
	T_CHECK(strstr(json, "\"DB_PASS\":{\"secret\":\"db-pass\"}") != NULL);
	T_CHECK(strstr(json,
			"\"files\":[{\"mode\":\"0440\",\"path\":\"/run/thermo/db-pass\","
			"\"secret\":\"db-pass\"}") != NULL);
	/* The site pins each reference to its sealed file's blob: other bytes (so other
	 * instance ids), read back the same. */
	app->comps[0].secrets[1].sealed = strdup("0123456789abcdef0123456789abcdef01234567");
	char *pinned = NULL;
	T_REQUIRE(op_manifest_to_json(app, &pinned, NULL) == 0);
	T_CHECK(strcmp(json, pinned) != 0);
	op_app *back = NULL;
	rc = op_manifest_from_json("a.json", pinned, strlen(pinned), &back, &d);
	T_REQUIRE(rc == 0);
	char *again = NULL;
	T_REQUIRE(op_manifest_to_json(back, &again, NULL) == 0);
	T_EQ_STR(again, pinned);
	op_app_free(back);
	free(again);
	free(pinned);
	free(json);
	op_app_free(app);
	op_diags_clear(&d);
}

static void test_refs_no_secrets_same_json(void)
{
	const char *y = MAN "        env: {A: b}\n";
	op_app *app = NULL;
	op_diags d = {0};
	T_REQUIRE(op_manifest_parse("a.yaml", y, strlen(y), &app, &d) == 0);
	char *json = NULL;
	T_REQUIRE(op_manifest_to_json(app, &json, NULL) == 0);
	T_CHECK(strstr(json, "files") == NULL);
	T_CHECK(strstr(json, "\"env\":{\"A\":\"b\"}") != NULL);
	free(json);
	op_app_free(app);
}

static void test_refs_invalid(void)
{
	static const struct bad rows[] = {
		{MAN "        env: {A: {secret: Bad}}\n", 11, 27,
			"spec.components[0].properties.env.A.secret", "secret name"},
		{MAN "        env: {A: {secret: x, sealed: "
		     "0123456789abcdef0123456789abcdef01234567}}\n",
			11, 30, "spec.components[0].properties.env.A.sealed", "unknown"},
		{MAN "        env: {A: {other: x}}\n", 11, 18,
			"spec.components[0].properties.env.A.secret", "missing"},
		{MAN "        env: {1A: {secret: x}}\n", 11, 15,
			"spec.components[0].properties.env.1A", "environment variable"},
		{MAN "        env: {A: {secret: x}, A: y}\n", 11, 31,
			"spec.components[0].properties.env.A", "duplicate"},
		{MAN "        files: [{path: run/x, secret: x}]\n", 11, 24,
			"spec.components[0].properties.files[0].path", "absolute"},
		{MAN "        files: [{path: /run/x, secret: x, mode: 0400}]\n", 11, 49,
			"spec.components[0].properties.files[0].mode", "quoted"},
		{MAN "        files: [{path: /run/x, secret: x}, {path: /run/x, secret: y}]\n", 11,
			51, "spec.components[0].properties.files[1].path", "twice"},
		{MAN "        files: [{secret: x}]\n", 11, 17,
			"spec.components[0].properties.files[0].path", "missing"},
		{MAN "        files: {path: /run/x}\n", 11, 16,
			"spec.components[0].properties.files", "list"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const struct bad *r = &rows[i];
		op_app *app = NULL;
		op_diags d = {0};
		int rc = op_manifest_parse("a.yaml", r->yaml, strlen(r->yaml), &app, &d);
		T_CHECK_MSG(rc == OP_EINVAL, "row %zu: rc %d", i, rc);
		bool found = false;
		for (size_t k = 0; k < d.n; k++)
			found |= d.v[k].line == r->line && d.v[k].col == r->col &&
				!strcmp(d.v[k].path, r->path) && strstr(d.v[k].msg, r->msg);
		if (!found) {
			t_fail(__FILE__, __LINE__, "row %zu: no %d:%d %s \"%s\"; got:", i, r->line,
				r->col, r->path, r->msg);
			op_diags_print(&d, stderr);
		}
		op_app_free(app);
		op_diags_clear(&d);
	}
}

/* A start with secret values: they go through the command's JSON and come back byte
 * for byte; a bad value is refused without being quoted. */
static void test_start_carries_values(void)
{
	const char *y = MAN "        env: {DB_PASS: {secret: db-pass}}\n";
	op_app *app = NULL;
	op_diags d = {0};
	T_REQUIRE(op_manifest_parse("a.yaml", y, strlen(y), &app, &d) == 0);
	op_secret_val v[2] = {{.name = "db-pass"}, {.name = "tls"}};
	v[0].val = (unsigned char *)strdup("p\"w\n\x01");
	v[0].len = 5;
	v[1].val = (unsigned char *)malloc(3);
	T_REQUIRE(v[0].val && v[1].val);
	memcpy(v[1].val, "a\0b", 3);
	v[1].len = 3;
	op_hostcmd c = {.op = OP_CMD_START, .app = app, .comp = 0, .secrets = v, .nsecrets = 2};
	snprintf(c.id, sizeof c.id, "app.c.0-0123456789ab");
	char *json = NULL;
	op_err e = {0};
	T_REQUIRE(op_hostcmd_encode(&c, &json, &e) == 0);
	T_CHECK(strstr(json, "\"secrets\":{\"db-pass\":\"") != NULL);
	op_hostcmd back;
	T_REQUIRE(op_hostcmd_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_INT(back.nsecrets, 2);
	const op_secret_val *b = op_secret_vals_find(back.secrets, back.nsecrets, "tls");
	T_CHECK(b && b->len == 3 && !memcmp(b->val, "a\0b", 3));
	b = op_secret_vals_find(back.secrets, back.nsecrets, "db-pass");
	T_CHECK(b && b->len == 5 && !memcmp(b->val, "p\"w\n\x01", 5));
	op_hostcmd_clear(&back);
	/* without values: no "secrets" key (what the host writes to spec.json) */
	c.nsecrets = 0;
	char *bare = NULL;
	T_REQUIRE(op_hostcmd_encode(&c, &bare, &e) == 0);
	T_CHECK(strstr(bare, "secrets") == NULL);
	free(bare);
	/* a value that is not base64, one that is too big, a bad name: refused, unquoted */
	const char *bad[] = {"{\"db-pass\":\"not base64 hunter2!\"}", "{\"Bad\":\"aGk=\"}",
		"{\"db-pass\":1}", "[]", "{\"db-pass\":\"\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		op_secret_val *out = NULL;
		size_t n = 0;
		T_CHECK_MSG(
			op_secret_vals_decode(bad[i], strlen(bad[i]), &out, &n, &e) == OP_EINVAL,
			"row %zu", i);
		T_CHECK(out == NULL && n == 0 && !strstr(e.msg, "hunter2"));
	}
	char *big = malloc(OP_SECRET_MAX * 2);
	T_REQUIRE(big);
	int k = snprintf(big, 32, "{\"x\":\"");
	memset(big + k, 'A', (OP_SECRET_MAX / 3 + 2) * 4);
	memcpy(big + k + (OP_SECRET_MAX / 3 + 2) * 4, "\"}", 3);
	op_secret_val *out = NULL;
	size_t n = 0;
	T_EQ_INT(op_secret_vals_decode(big, strlen(big), &out, &n, &e), OP_EINVAL);
	free(big);
	op_secret_free(v[0].val, v[0].len);
	op_secret_free(v[1].val, v[1].len);
	free(json);
	op_app_free(app);
}

int main(void)
{
	T_RUN(test_start_carries_values);
	T_RUN(test_seal_open_round_trip);
	T_RUN(test_seal_limits);
	T_RUN(test_sealed_invalid_table);
	T_RUN(test_refs_parse_and_json);
	T_RUN(test_refs_no_secrets_same_json);
	T_RUN(test_refs_invalid);
	return t_done();
}
