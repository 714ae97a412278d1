/* The document tree under the validator: its caps (bytes, depth, nodes with aliases
 * expanded), aliases and tags, positions, and the scalar readings. A hostile file must
 * be refused by a cap, with OP_ETOOBIG, before anything is expanded. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outpost/agent/model/doc.h"
#include "outpost/agent/model/manifest.h"
#include "t.h"

static void print_diags(const op_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "    got %d:%d: %s: %s\n", d->v[i].line, d->v[i].col, d->v[i].path,
			d->v[i].msg);
}

/* Parses s as YAML; returns the code, the doc and diagnostics left to the caller. */
static int yaml(op_doc *doc, op_diags *d, const char *s)
{
	return op_doc_parse_yaml(doc, "t.yaml", s, strlen(s), d);
}

/* Parses s, expects code rc and (when msg) a first diagnostic containing msg. */
static void expect_yaml(const char *s, int rc, const char *msg)
{
	op_doc doc;
	op_diags d = {0};
	int got = yaml(&doc, &d, s);
	bool ok = got == rc && (!msg || (d.n >= 1 && strstr(d.v[0].msg, msg)));
	if (!msg)
		ok = ok && d.n == 0;
	T_CHECK_MSG(ok, "%.60s: rc %d, want %d (%s)", s, got, rc, msg ? msg : "no diagnostic");
	if (!ok)
		print_diags(&d);
	op_doc_clear(&doc);
	op_diags_clear(&d);
}

/* --- caps ----------------------------------------------------------------------------- */

static void test_too_many_bytes(void)
{
	size_t n = OP_DOC_MAX_BYTES + 1;
	char *buf = malloc(n);
	T_REQUIRE(buf);
	memset(buf, '#', n); /* a comment: valid YAML at any length */
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(op_doc_parse_yaml(&doc, "big.yaml", buf, n, &d), OP_ETOOBIG);
	T_CHECK(doc.root == NULL);
	T_REQUIRE(d.n == 1);
	T_CHECK(strstr(d.v[0].msg, "file too large: 1048577 bytes (at most 1048576)") != NULL);
	T_EQ_INT(d.v[0].line, 1);
	op_doc_clear(&doc);
	op_diags_clear(&d);

	T_EQ_INT(op_doc_parse_json(&doc, "big.json", buf, n, &d), OP_ETOOBIG);
	T_CHECK(d.n == 1 && strstr(d.v[0].msg, "too large") != NULL);
	op_doc_clear(&doc);
	op_diags_clear(&d);

	op_app *app = (op_app *)1;
	T_EQ_INT(op_manifest_parse("big.yaml", buf, n, &app, &d), OP_ETOOBIG);
	T_CHECK(app == NULL);
	op_app_free(app);
	op_diags_clear(&d);

	/* At exactly the cap the size is fine (the document is then empty). */
	T_EQ_INT(op_doc_parse_yaml(&doc, "max.yaml", buf, n - 1, &d), 0);
	T_EQ_INT(d.n, 0);
	T_CHECK(doc.root == NULL);
	op_doc_clear(&doc);

	/* From disk the size is checked before reading. */
	char path[] = "/tmp/outpost-test-doc-XXXXXX";
	int fd = mkstemp(path);
	T_REQUIRE(fd >= 0);
	T_CHECK(write(fd, buf, n) == (ssize_t)n);
	close(fd);
	T_EQ_INT(op_manifest_load(path, "big.yaml", &app, &d), OP_ETOOBIG);
	T_CHECK(app == NULL);
	op_app_free(app);
	T_CHECK(d.n == 1 && !strcmp(d.v[0].file, "big.yaml") &&
		strstr(d.v[0].msg, "file too large") != NULL);
	op_diags_clear(&d);
	unlink(path);
	free(buf);
}

/* n nested flow lists: [[[...]]] */
static char *nested_flow(int n)
{
	char *s = malloc((size_t)n * 2 + 2);
	if (!s)
		return NULL;
	memset(s, '[', (size_t)n);
	memset(s + n, ']', (size_t)n);
	s[2 * n] = '\n';
	s[2 * n + 1] = '\0';
	return s;
}

/* n nested block mappings: k0:\n k1:\n  k2: ... v */
static char *nested_block(int n)
{
	size_t cap = (size_t)n * (size_t)(n + 8) + 16, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(
			s + len, cap - len, "%*sk%d:%s", i, "", i, i == n - 1 ? " v\n" : "\n");
	return s;
}

static void test_depth(void)
{
	char *s = nested_flow(OP_DOC_MAX_DEPTH);
	T_REQUIRE(s);
	expect_yaml(s, 0, NULL);
	free(s);
	s = nested_flow(OP_DOC_MAX_DEPTH + 1);
	T_REQUIRE(s);
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d, s), OP_ETOOBIG);
	T_REQUIRE(d.n == 1);
	T_CHECK(strstr(d.v[0].msg, "nesting deeper than 32 levels") != NULL);
	T_EQ_INT(d.v[0].line, 1);
	T_EQ_INT(d.v[0].col, OP_DOC_MAX_DEPTH + 1); /* the bracket that opens level 33 */
	op_doc_clear(&doc);
	op_diags_clear(&d);
	free(s);

	s = nested_block(OP_DOC_MAX_DEPTH);
	T_REQUIRE(s);
	expect_yaml(s, 0, NULL);
	free(s);
	s = nested_block(OP_DOC_MAX_DEPTH + 1);
	T_REQUIRE(s);
	expect_yaml(s, OP_ETOOBIG, "nesting deeper than");
	free(s);

	/* Far deeper is refused the same way, not by running out of stack. */
	s = nested_flow(100000);
	T_REQUIRE(s);
	expect_yaml(s, OP_ETOOBIG, "nesting deeper than");
	free(s);

	/* JSON: the same limit. */
	s = nested_flow(OP_DOC_MAX_DEPTH);
	T_REQUIRE(s);
	T_EQ_INT(op_doc_parse_json(&doc, "t.json", s, strlen(s), &d), 0);
	op_doc_clear(&doc);
	free(s);
	s = nested_flow(OP_DOC_MAX_DEPTH + 1);
	T_REQUIRE(s);
	T_EQ_INT(op_doc_parse_json(&doc, "t.json", s, strlen(s), &d), OP_ETOOBIG);
	T_CHECK(d.n == 1 && strstr(d.v[0].msg, "too deep") != NULL);
	op_doc_clear(&doc);
	op_diags_clear(&d);
	free(s);
	static const char deep_obj[] = "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
				       "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
				       "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":"
				       "{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":{\"a\":1"
				       "}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}}";
	T_EQ_INT(op_doc_parse_json(&doc, "t.json", deep_obj, sizeof deep_obj - 1, &d), 0);
	op_doc_clear(&doc);
	op_diags_clear(&d);
}

/* Level 0 is a list of ten scalars; each of `levels` more is a list of ten aliases to the
 * one before: 10^(levels+1) scalars once expanded. */
static char *laughs(int levels, bool mapping)
{
	size_t cap = 4096, len = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	len += (size_t)snprintf(
		s, cap, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i <= levels; i++) {
		len += (size_t)snprintf(
			s + len, cap - len, "l%d: &l%d %s", i, i, mapping ? "{" : "[");
		for (int k = 0; k < 10; k++) {
			if (mapping)
				len += (size_t)snprintf(
					s + len, cap - len, "%sk%d: *l%d", k ? ", " : "", k, i - 1);
			else
				len += (size_t)snprintf(
					s + len, cap - len, "%s*l%d", k ? ", " : "", i - 1);
		}
		len += (size_t)snprintf(s + len, cap - len, "%s\n", mapping ? "}" : "]");
	}
	return s;
}

static void test_billion_laughs(void)
{
	char *s = laughs(9, false);
	T_REQUIRE(s);
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d, s), OP_ETOOBIG);
	T_REQUIRE(d.n == 1);
	T_CHECK(strstr(d.v[0].msg, "too large") != NULL);
	T_CHECK(strstr(d.v[0].msg, "100000 nodes with aliases expanded") != NULL);
	/* Refused in the first list past the cap, l4, at the alias that passes it: the
	 * tenth, 1 + 10 * 11111 > 100000. */
	T_EQ_INT(d.v[0].line, 5);
	T_EQ_INT(d.v[0].col, 55);
	op_doc_clear(&doc);
	op_diags_clear(&d);
	free(s);

	/* Mappings of aliases, and the whole manifest path, are refused the same way. */
	s = laughs(9, true);
	T_REQUIRE(s);
	expect_yaml(s, OP_ETOOBIG, "too large");
	op_app *app = (op_app *)1;
	T_EQ_INT(op_manifest_parse("lol.yaml", s, strlen(s), &app, &d), OP_ETOOBIG);
	T_CHECK(app == NULL);
	op_app_free(app);
	op_diags_clear(&d);
	free(s);

	/* Just under the cap is a document like any other: 3 levels, 11111 nodes in l3. */
	s = laughs(3, false);
	T_REQUIRE(s);
	T_EQ_INT(yaml(&doc, &d, s), 0);
	T_REQUIRE(doc.root && doc.root->n == 4);
	T_EQ_INT(doc.root->vals[3]->weight, 11111);
	T_CHECK(doc.root->vals[3]->vals[9] == doc.root->vals[2]); /* shared, not copied */
	T_CHECK(doc.nall < 100);
	op_doc_clear(&doc);
	op_diags_clear(&d);
	free(s);

	/* Aliases as keys count too. */
	static const char keys[] = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
				   "b: &b {*a : 1, *a : 2, *a : 3, *a : 4, *a : 5, *a : 6, *a : 7, "
				   "*a : 8, *a : 9, *a : 10}\n";
	expect_yaml(keys, OP_EINVAL, "expected a scalar mapping key");
}

static void test_node_count_cap(void)
{
	size_t n = OP_DOC_MAX_NODES + 10, cap = n * 2 + 4, len = 1;
	char *s = malloc(cap);
	T_REQUIRE(s);
	s[0] = '[';
	for (size_t i = 0; i < n; i++) {
		s[len++] = '1';
		s[len++] = ',';
	}
	s[len - 1] = ']';
	s[len] = '\0';
	T_CHECK(len < OP_DOC_MAX_BYTES);
	expect_yaml(s, OP_ETOOBIG, "too many nodes (at most 100000)");
	op_doc doc;
	op_diags d = {0};
	int rc = op_doc_parse_json(&doc, "t.json", s, len, &d);
	T_EQ_INT(rc, OP_ETOOBIG);
	op_doc_clear(&doc);
	op_diags_clear(&d);
	free(s);
}

/* --- aliases and anchors ---------------------------------------------------------------- */

static void test_aliases(void)
{
	/* An alias into a node not yet closed would make the tree cyclic. */
	expect_yaml("a: &x [1, *x]\n", OP_EINVAL, "alias *x refers to a node that contains it");
	expect_yaml("a: &x {b: {c: *x}}\n", OP_EINVAL, "recursive alias");
	expect_yaml("&r {a: *r}\n", OP_EINVAL, "recursive alias");
	/* The latest definition wins: here the open list, so it is refused ... */
	expect_yaml("a: &x 1\nb: &x [*x]\n", OP_EINVAL, "recursive alias");
	/* ... and here the scalar defined inside the list, which is fine. */
	expect_yaml("a: &x [&x s, *x]\n", 0, NULL);
	expect_yaml("a: *nope\n", OP_EINVAL, "unknown alias *nope");
	expect_yaml("a: *x\nb: &x 1\n", OP_EINVAL, "unknown alias *x");

	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d, "a: &x 1\nb: &x 2\nc: *x\nd: &m {k: v}\ne: *m\n"), 0);
	T_REQUIRE(doc.root && doc.root->n == 5);
	T_EQ_STR(doc.root->vals[2]->text, "2");
	T_CHECK(doc.root->vals[4] == doc.root->vals[3]);
	op_doc_clear(&doc);

	T_EQ_INT(yaml(&doc, &d, "a: &x [&x s, *x]\n"), 0);
	T_REQUIRE(doc.root && doc.root->vals[0]->n == 2);
	T_EQ_STR(doc.root->vals[0]->vals[1]->text, "s");
	op_doc_clear(&doc);

	/* The error is at the alias. */
	T_EQ_INT(yaml(&doc, &d, "a: 1\nb:\n  - &x [2]\n  - [3, *x, *y]\n"), OP_EINVAL);
	T_REQUIRE(d.n == 1);
	T_EQ_INT(d.v[0].line, 4);
	T_EQ_INT(d.v[0].col, 13);
	T_EQ_STR(d.v[0].path, "(document)");
	op_doc_clear(&doc);
	op_diags_clear(&d);
}

/* Many anchors and aliases: each alias finds its own anchor. (Looked up by a hash, so
 * a file of this shape is linear to read; a list scan made it take seconds.) */
static void test_many_anchors(void)
{
	const size_t n = 40000;
	size_t cap = n * 32 + 16, len = 0;
	char *s = malloc(cap);
	T_REQUIRE(s);
	len += (size_t)snprintf(s + len, cap - len, "[");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "&a%zu v%zu, ", i, i);
	for (size_t i = n; i-- > 0;)
		len += (size_t)snprintf(s + len, cap - len, "*a%zu%s", i, i ? ", " : "]\n");
	T_REQUIRE(len < OP_DOC_MAX_BYTES);
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d, s), 0);
	print_diags(&d);
	T_REQUIRE(doc.root && doc.root->n == 2 * n);
	T_EQ_INT(doc.nall, n + 1);
	T_EQ_INT(doc.root->weight, 2 * n + 1);
	bool ok = true;
	for (size_t i = 0; i < n; i++)
		ok &= doc.root->vals[n + i] == doc.root->vals[n - 1 - i];
	T_CHECK(ok);
	op_doc_clear(&doc);
	free(s);

	/* One name defined again and again: each alias means the latest. */
	len = (size_t)snprintf(s = malloc(cap), cap, "[");
	T_REQUIRE(s);
	for (size_t i = 0; i < 1000; i++)
		len += (size_t)snprintf(s + len, cap - len, "&x d%zu, *x, ", i);
	snprintf(s + len, cap - len, "end]\n");
	T_EQ_INT(yaml(&doc, &d, s), 0);
	T_REQUIRE(doc.root && doc.root->n == 2001);
	ok = true;
	for (size_t i = 0; i < 1000; i++)
		ok &= doc.root->vals[2 * i + 1] == doc.root->vals[2 * i];
	T_CHECK(ok);
	op_doc_clear(&doc);
	op_diags_clear(&d);
	free(s);
}

static void test_tags(void)
{
	expect_yaml("a: !!str 1\nb: !!map {}\nc: !!seq []\n", 0, NULL);
	expect_yaml("a: !foo x\n", OP_EINVAL, "unsupported YAML tag !foo");
	expect_yaml("a: !!int 1\n", OP_EINVAL, "unsupported YAML tag tag:yaml.org,2002:int");
	expect_yaml("a: !!str {}\n", OP_EINVAL, "unsupported YAML tag tag:yaml.org,2002:str");
	expect_yaml("a: ! x\n", OP_EINVAL, "unsupported YAML tag !");
	expect_yaml("%TAG !e! tag:example.com,2000:\n---\na: !e!x 1\n", OP_EINVAL,
		"unsupported YAML tag tag:example.com,2000:x");

	/* !!str makes a scalar text even when it would read as an integer. */
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d, "a: !!str 12\n"), 0);
	T_REQUIRE(doc.root);
	T_CHECK(!doc.root->vals[0]->plain);
	long long v;
	T_EQ_INT(op_node_int(doc.root->vals[0], 0, 100, &v), 0);
	op_doc_clear(&doc);
}

static void test_documents(void)
{
	op_doc doc;
	op_diags d = {0};
	/* Nothing at all is no document, not an error here (the validator says so). */
	T_EQ_INT(yaml(&doc, &d, ""), 0);
	T_CHECK(doc.root == NULL);
	op_doc_clear(&doc);
	T_EQ_INT(yaml(&doc, &d, "# only a comment\n"), 0);
	T_CHECK(doc.root == NULL);
	op_doc_clear(&doc);
	T_EQ_INT(yaml(&doc, &d, "---\n...\n"), 0);
	T_CHECK(doc.root && op_node_is_null(doc.root));
	op_doc_clear(&doc);
	T_EQ_INT(d.n, 0);

	T_EQ_INT(yaml(&doc, &d, "a: 1\n---\nb: 2\n"), OP_EINVAL);
	T_REQUIRE(d.n == 1);
	T_EQ_INT(d.v[0].line, 2);
	T_CHECK(strstr(d.v[0].msg, "expected one YAML document per file") != NULL);
	op_doc_clear(&doc);
	op_diags_clear(&d);

	/* Syntax errors name where libyaml stopped. */
	T_EQ_INT(yaml(&doc, &d, "a: b\n  c: d\n"), OP_EINVAL);
	T_REQUIRE(d.n == 1);
	T_EQ_INT(d.v[0].line, 2);
	T_EQ_INT(d.v[0].col, 4);
	T_CHECK(strstr(d.v[0].msg, "YAML syntax error: mapping values are not allowed") != NULL);
	op_doc_clear(&doc);
	op_diags_clear(&d);

	/* Bytes that are not UTF-8 are a syntax error, not text passed on. */
	expect_yaml("a: \xff\xfe\n", OP_EINVAL, "YAML syntax error");
	expect_yaml("a: \"\\ud800\"\n", OP_EINVAL, "YAML syntax error");
}

static void test_positions(void)
{
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d, "top:\n  - x\n  - 'q'\n  - {k: 7}\nlast: \"s\"\n"), 0);
	const op_node *r = doc.root;
	T_REQUIRE(r && r->kind == OP_NODE_MAP && r->n == 2);
	T_EQ_INT(r->line, 1);
	T_EQ_INT(r->col, 1);
	T_EQ_STR(r->keys[0]->text, "top");
	const op_node *seq = r->vals[0];
	T_REQUIRE(seq->kind == OP_NODE_SEQ && seq->n == 3);
	T_EQ_INT(seq->line, 2);
	T_EQ_INT(seq->col, 3);
	T_EQ_INT(seq->vals[0]->line, 2);
	T_EQ_INT(seq->vals[0]->col, 5);
	T_CHECK(seq->vals[0]->plain);
	T_CHECK(!seq->vals[1]->plain);
	T_EQ_STR(seq->vals[1]->text, "q");
	T_EQ_INT(seq->vals[2]->kind, OP_NODE_MAP);
	T_EQ_INT(seq->vals[2]->col, 5);
	T_EQ_INT(seq->vals[2]->vals[0]->col, 9);
	T_EQ_INT(r->keys[1]->line, 5);
	T_EQ_INT(r->vals[1]->col, 7);
	/* Without aliases the weight is the node count. */
	T_EQ_INT(r->weight, doc.nall);
	T_EQ_INT(doc.nall, 10);
	op_doc_clear(&doc);

	/* JSON: positions of the text (characters, not bytes); strings are not plain, other
	 * scalars are. */
	static const char j[] = "{\"s\":\"5\",\"n\":5,\"t\":true,\"z\":null,\"f\":2.0,\"e\":1e2}";
	T_EQ_INT(op_doc_parse_json(&doc, "t.json", j, sizeof j - 1, &d), 0);
	r = doc.root;
	T_REQUIRE(r && r->n == 6);
	T_EQ_INT(r->line, 1);
	T_EQ_INT(r->col, 1);
	T_EQ_INT(r->vals[0]->col, 6);
	T_EQ_INT(r->keys[5]->col, 42);
	T_EQ_INT(r->vals[5]->col, 46);
	T_CHECK(!r->vals[0]->plain);
	T_CHECK(r->vals[1]->plain);
	long long v = 0;
	T_EQ_INT(op_node_int(r->vals[0], 0, 10, &v), 0);
	T_EQ_INT(op_node_int(r->vals[1], 0, 10, &v), 1);
	T_EQ_INT(v, 5);
	T_EQ_STR(op_node_kind_name(r->vals[2]), "a boolean");
	T_CHECK(op_node_is_null(r->vals[3]));
	/* A JSON real is never an integer, even with nothing after the point. */
	T_EQ_INT(op_node_int(r->vals[4], 0, 10, &v), 0);
	T_EQ_STR(op_node_kind_name(r->vals[4]), "a float");
	T_EQ_INT(op_node_int(r->vals[5], 0, 1000, &v), 0);
	T_EQ_STR(op_node_kind_name(r->vals[5]), "a float");
	op_doc_clear(&doc);

	static const char nested[] = "{\n  \"a\": [1,\n    {\"b\xc3\xa9\": \"x\"}],\n"
				     "  \"c\": \"\\u00e9\\\"x\"\n}\n";
	T_EQ_INT(op_doc_parse_json(&doc, "t.json", nested, sizeof nested - 1, &d), 0);
	r = doc.root;
	T_REQUIRE(r && r->n == 2 && r->vals[0]->n == 2 && r->vals[0]->vals[1]->n == 1);
	T_EQ_INT(r->keys[0]->line, 2);
	T_EQ_INT(r->keys[0]->col, 3);
	T_EQ_INT(r->vals[0]->col, 8);
	T_EQ_INT(r->vals[0]->vals[0]->col, 9);
	T_EQ_INT(r->vals[0]->vals[1]->line, 3);
	T_EQ_INT(r->vals[0]->vals[1]->col, 5);
	T_EQ_INT(r->vals[0]->vals[1]->keys[0]->col, 6);
	T_EQ_INT(r->vals[0]->vals[1]->vals[0]->col, 12);
	T_EQ_INT(r->keys[1]->line, 4);
	T_EQ_INT(r->vals[1]->col, 8);
	T_EQ_STR(r->vals[1]->text, "\xc3\xa9\"x");
	op_doc_clear(&doc);

	T_EQ_INT(op_doc_parse_json(&doc, "t.json", "{\"a\":1,\"a\":2}", 13, &d), OP_EINVAL);
	T_CHECK(d.n == 1 && strstr(d.v[0].msg, "duplicate object key") != NULL);
	op_doc_clear(&doc);
	op_diags_clear(&d);
	T_EQ_INT(op_doc_parse_json(&doc, "t.json", "{\n\"a\": tru}", 11, &d), OP_EINVAL);
	T_REQUIRE(d.n == 1);
	T_EQ_INT(d.v[0].line, 2);
	T_CHECK(strstr(d.v[0].msg, "JSON syntax error") != NULL);
	op_doc_clear(&doc);
	op_diags_clear(&d);
}

/* --- scalar readings ---------------------------------------------------------------- */

static void test_scalar_readings(void)
{
	op_doc doc;
	op_diags d = {0};
	T_EQ_INT(yaml(&doc, &d,
			 "[5, -3, +7, 007, '5', 5.0, 0x10, '', -, 99999999999999999999, 1_000, "
			 "~, null, Null, NULL, nULL, 'null', \"~\", true, True, FALSE, yes, .inf, "
			 "-1.5e3, 9223372036854775807, -9223372036854775808, 0, a: b]\n"),
		0);
	const op_node *s = doc.root;
	T_REQUIRE(s && s->kind == OP_NODE_SEQ && s->n == 28);
	long long v = 42;
	const long long lo = -(1LL << 62), hi = 1LL << 62;
	T_EQ_INT(op_node_int(s->vals[0], 0, 10, &v), 1);
	T_EQ_INT(v, 5);
	T_EQ_INT(op_node_int(s->vals[1], lo, hi, &v), 1);
	T_EQ_INT(v, -3);
	T_EQ_INT(op_node_int(s->vals[2], lo, hi, &v), 1);
	T_EQ_INT(v, 7);
	T_EQ_INT(op_node_int(s->vals[3], lo, hi, &v), 1); /* decimal, leading zeros */
	T_EQ_INT(v, 7);
	v = 42;
	T_EQ_INT(op_node_int(s->vals[4], lo, hi, &v), 0); /* quoted */
	T_EQ_INT(op_node_int(s->vals[5], lo, hi, &v), 0); /* float */
	T_EQ_INT(op_node_int(s->vals[6], lo, hi, &v), 0); /* hex is not read */
	T_EQ_INT(op_node_int(s->vals[7], lo, hi, &v), 0); /* empty, quoted */
	T_EQ_INT(op_node_int(s->vals[8], lo, hi, &v), 0); /* a sign alone */
	T_EQ_INT(op_node_int(s->vals[9], lo, hi, &v), -1); /* overflows long long */
	T_EQ_INT(op_node_int(s->vals[10], lo, hi, &v), 0); /* no digit separators */
	T_EQ_INT(v, 42); /* untouched by the failures */
	/* Bounds are inclusive; outside them is -1. */
	T_EQ_INT(op_node_int(s->vals[0], 5, 5, &v), 1);
	T_EQ_INT(op_node_int(s->vals[0], 0, 4, &v), -1);
	T_EQ_INT(op_node_int(s->vals[0], 6, 10, &v), -1);
	T_EQ_INT(op_node_int(s->vals[1], -2, 10, &v), -1);
	T_EQ_INT(op_node_int(s->vals[24], 0, LLONG_MAX, &v), 1);
	T_EQ_INT(v, LLONG_MAX);
	T_EQ_INT(op_node_int(s->vals[25], LLONG_MIN, 0, &v), 1);
	T_CHECK(v == LLONG_MIN);
	T_EQ_INT(op_node_int(s->vals[26], 0, 0, &v), 1);
	T_EQ_INT(op_node_int(s->vals[27], lo, hi, &v), 0); /* a mapping */
	T_EQ_INT(op_node_int(s, lo, hi, &v), 0); /* a list */

	/* Nulls: plain ~, null, Null, NULL and nothing; not other spellings, not quoted. */
	T_CHECK(op_node_is_null(NULL));
	T_CHECK(op_node_is_null(s->vals[11]));
	T_CHECK(op_node_is_null(s->vals[12]));
	T_CHECK(op_node_is_null(s->vals[13]));
	T_CHECK(op_node_is_null(s->vals[14]));
	T_CHECK(!op_node_is_null(s->vals[15]));
	T_CHECK(!op_node_is_null(s->vals[16]));
	T_CHECK(!op_node_is_null(s->vals[17]));
	T_CHECK(!op_node_is_null(s->vals[7])); /* '' is an empty string */
	T_CHECK(!op_node_is_null(s->vals[0]));
	T_CHECK(!op_node_is_null(s));
	T_CHECK(!op_node_is_null(s->vals[27]));

	T_EQ_STR(op_node_kind_name(NULL), "null");
	T_EQ_STR(op_node_kind_name(s->vals[11]), "null");
	T_EQ_STR(op_node_kind_name(s->vals[0]), "an integer");
	T_EQ_STR(op_node_kind_name(s->vals[9]), "an integer");
	T_EQ_STR(op_node_kind_name(s->vals[4]), "a string");
	T_EQ_STR(op_node_kind_name(s->vals[5]), "a float");
	T_EQ_STR(op_node_kind_name(s->vals[22]), "a float");
	T_EQ_STR(op_node_kind_name(s->vals[23]), "a float");
	T_EQ_STR(op_node_kind_name(s->vals[6]), "a string");
	T_EQ_STR(op_node_kind_name(s->vals[18]), "a boolean");
	T_EQ_STR(op_node_kind_name(s->vals[19]), "a boolean");
	T_EQ_STR(op_node_kind_name(s->vals[20]), "a boolean");
	T_EQ_STR(op_node_kind_name(s->vals[21]), "a string"); /* YAML 1.2: yes is text */
	T_EQ_STR(op_node_kind_name(s->vals[27]), "a mapping");
	T_EQ_STR(op_node_kind_name(s), "a list");
	op_doc_clear(&doc);

	/* A mapping value left empty is null. */
	T_EQ_INT(yaml(&doc, &d, "a:\nb: ''\n"), 0);
	T_REQUIRE(doc.root && doc.root->n == 2);
	T_CHECK(op_node_is_null(doc.root->vals[0]));
	T_CHECK(!op_node_is_null(doc.root->vals[1]));
	op_doc_clear(&doc);
	op_diags_clear(&d);
}

int main(void)
{
	T_RUN(test_too_many_bytes);
	T_RUN(test_depth);
	T_RUN(test_billion_laughs);
	T_RUN(test_node_count_cap);
	T_RUN(test_aliases);
	T_RUN(test_many_anchors);
	T_RUN(test_tags);
	T_RUN(test_documents);
	T_RUN(test_positions);
	T_RUN(test_scalar_readings);
	return t_done();
}
