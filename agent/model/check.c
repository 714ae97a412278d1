/* Typed readers for the manifest validator (see check.h). Each reader reports what it
 * expected and what it found, at the node's position, under the current field path. */
#include "check_int.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

void ck_err(op_check *c, const op_node *at, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	c->errors++;
	if (op_diags_add(c->d, c->file, at ? at->line : 0, at ? at->col : 0, c->path, "%s", msg))
		c->nomem = true;
}

void ck_nomem(op_check *c, const op_node *at)
{
	c->nomem = true;
	ck_err(c, at, "out of memory");
}

/* Appends text to the path, truncating at its capacity. */
static size_t push(op_check *c, const char *text)
{
	size_t mark = c->plen;
	int w = snprintf(c->path + c->plen, sizeof c->path - c->plen, "%s", text);
	if (w > 0)
		c->plen += (size_t)w < sizeof c->path - c->plen ? (size_t)w
								: sizeof c->path - c->plen - 1;
	return mark;
}

size_t ck_key(op_check *c, const char *key)
{
	size_t mark = c->plen;
	if (c->plen)
		push(c, ".");
	push(c, key);
	return mark;
}

size_t ck_index(op_check *c, size_t i)
{
	char step[32];
	snprintf(step, sizeof step, "[%zu]", i);
	return push(c, step);
}

void ck_pop(op_check *c, size_t mark)
{
	c->plen = mark;
	c->path[mark] = '\0';
}

static const char *found(const op_node *n)
{
	return op_node_kind_name(n);
}

bool ck_map(op_check *c, const op_node *n, const char *const *allowed)
{
	if (!n || n->kind != OP_NODE_MAP) {
		ck_err(c, n, "expected a mapping, got %s", found(n));
		return false;
	}
	/* The first key seen of each allowed name: finding duplicates stays linear in the
	 * size of the mapping, however many unknown keys a hostile file puts before them. */
	const op_node *first[16] = {0};
	for (size_t i = 0; i < n->n; i++) {
		const op_node *k = n->keys[i];
		size_t a = 0;
		/* A key with a NUL byte would compare equal to its prefix. */
		while (allowed[a] &&
			(strlen(k->text) != k->len || strcmp(k->text, allowed[a]) != 0))
			a++;
		if (!allowed[a]) {
			char list[256] = "";
			size_t used = 0;
			for (const char *const *p = allowed; *p; p++) {
				int w = snprintf(list + used, sizeof list - used, "%s%s",
					p == allowed ? "" : ", ", *p);
				if (w < 0 || (size_t)w >= sizeof list - used)
					break;
				used += (size_t)w;
			}
			size_t m = ck_key(c, k->text);
			ck_err(c, k, "unknown field (expected one of: %s)", list);
			ck_pop(c, m);
			continue;
		}
		const op_node *dup = NULL;
		if (a < sizeof first / sizeof first[0]) {
			dup = first[a];
			first[a] = dup ? dup : k;
		} else {
			for (size_t j = 0; j < i && !dup; j++)
				if (strcmp(n->keys[j]->text, k->text) == 0)
					dup = n->keys[j];
		}
		if (dup) {
			size_t m = ck_key(c, k->text);
			ck_err(c, k, "duplicate key (first at line %d)", dup->line);
			ck_pop(c, m);
		}
	}
	return true;
}

const op_node *ck_get(const op_node *map, const char *key)
{
	if (!map || map->kind != OP_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i]->text, key) == 0)
			return map->vals[i];
	return NULL;
}

bool ck_need(op_check *c, const op_node *map, const char *key)
{
	if (ck_get(map, key))
		return true;
	size_t m = ck_key(c, key);
	ck_err(c, map, "missing required field");
	ck_pop(c, m);
	return false;
}

char *ck_str(op_check *c, const op_node *n)
{
	if (!n || n->kind != OP_NODE_SCALAR || op_node_is_null(n)) {
		ck_err(c, n, "expected a string, got %s", found(n));
		return NULL;
	}
	if (n->len > OP_MAX_STRING) {
		ck_err(c, n, "string too long: %zu bytes (at most %d)", n->len, OP_MAX_STRING);
		return NULL;
	}
	if (memchr(n->text, '\0', n->len)) {
		ck_err(c, n, "string contains a NUL byte");
		return NULL;
	}
	char *s = strdup(n->text);
	if (!s)
		ck_nomem(c, n);
	return s;
}

bool op_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > OP_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

char *ck_name(op_check *c, const op_node *n, const char *what)
{
	char *s = ck_str(c, n);
	if (s && !op_name_valid(s)) {
		ck_err(c, n, "expected %s: 1 to %d characters of [a-z0-9-], got \"%.80s\"", what,
			OP_NAME_MAX, s);
		free(s);
		return NULL;
	}
	return s;
}

char *ck_abs_path(op_check *c, const op_node *n)
{
	char *s = ck_str(c, n);
	if (s && s[0] != '/') {
		ck_err(c, n, "expected an absolute path, got \"%.80s\"", s);
		free(s);
		return NULL;
	}
	/* A block scalar (command: |) ends in a newline, and a control character in a
	 * path fails only at run time, on the box: refused here, where it was written. */
	for (const char *p = s; p && *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			ck_err(c, n,
				"expected an absolute path without control characters, got "
				"\"%.80s\"%s",
				s,
				p[0] == '\n' && !p[1] ? " (its last character is a newline: write "
							"the path on the key's line, not as a | "
							"block)"
						      : "");
			free(s);
			return NULL;
		}
	return s;
}

char *ck_exact(op_check *c, const op_node *n, const char *want)
{
	char *s = ck_str(c, n);
	if (s && strcmp(s, want) != 0) {
		ck_err(c, n, "expected \"%s\", got \"%.80s\"", want, s);
		free(s);
		return NULL;
	}
	return s;
}

/* "4" is a string in YAML; the error says so, since it reads like a number. */
static bool quoted_int(const op_node *n)
{
	if (!n || n->kind != OP_NODE_SCALAR || n->plain)
		return false;
	op_node p = *n;
	p.plain = true;
	long long v;
	return op_node_int(&p, LLONG_MIN, LLONG_MAX, &v) != 0;
}

/* 0x10 and 0o17 are integers in YAML 1.2 and strings in the YAML 1.1 manifests are read
 * by: say which, since the text looks like a number. */
static const char *base_hint(const char *t)
{
	if (t[0] == '0' && (t[1] == 'x' || t[1] == 'X' || t[1] == 'o' || t[1] == 'b'))
		return ", which is not a decimal integer (hex, octal and binary are not read: "
		       "write the number in decimal)";
	return ", which is not an integer";
}

bool ck_int(op_check *c, const op_node *n, long long min, long long max, int *out)
{
	long long v = 0;
	int r = n ? op_node_int(n, min, max, &v) : 0;
	if (r == 1) {
		*out = (int)v;
		return true;
	}
	if (r == -1) {
		ck_err(c, n, "expected an integer from %lld to %lld, got %s", min, max, n->text);
		return false;
	}
	if (n && quoted_int(n))
		ck_err(c, n,
			"expected an integer from %lld to %lld, got the string \"%.80s\" "
			"(write the number without quotes)",
			min, max, n->text);
	else if (n && n->kind == OP_NODE_SCALAR && n->plain && !op_node_is_null(n) &&
		!strcmp(found(n), "a string"))
		ck_err(c, n, "expected an integer from %lld to %lld, got %.80s%s", min, max,
			n->text, base_hint(n->text));
	else
		ck_err(c, n, "expected an integer from %lld to %lld, got %s", min, max, found(n));
	return false;
}

bool ck_duration(op_check *c, const op_node *n, int64_t min_ms, int64_t max_ms, int64_t *out)
{
	if (!n || n->kind != OP_NODE_SCALAR || op_node_is_null(n)) {
		ck_err(c, n, "expected a duration such as 500ms, 10s or 5m, got %s", found(n));
		return false;
	}
	char *s = ck_str(c, n);
	if (!s)
		return false;
	int64_t v;
	size_t digits = strspn(s, "0123456789");
	char lo[32], hi[32];
	op_format_duration_ms(min_ms, lo);
	op_format_duration_ms(max_ms, hi);
	bool ok = false;
	/* A bare number is seconds on the command line, but here "interval: 500" reads as
	 * milliseconds as easily: the unit is required. */
	if (digits == 0 || !s[digits] || op_parse_duration_ms(s, &v) != 0)
		ck_err(c, n,
			"expected a duration with its unit (ms, s, m or h), such as 500ms, 10s "
			"or 5m, got \"%.40s\"",
			s);
	else if (v < min_ms || v > max_ms)
		ck_err(c, n, "expected a duration from %s to %s, got %s", lo, hi, s);
	else {
		*out = v;
		ok = true;
	}
	free(s);
	return ok;
}

int ck_enum(op_check *c, const op_node *n, const char *const *names)
{
	char *s = ck_str(c, n);
	if (!s)
		return -1;
	char list[256] = "";
	size_t used = 0;
	for (int i = 0; names[i]; i++) {
		if (strcmp(s, names[i]) == 0) {
			free(s);
			return i;
		}
		int w = snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "", names[i]);
		if (w > 0 && (size_t)w < sizeof list - used)
			used += (size_t)w;
	}
	ck_err(c, n, "expected one of: %s; got \"%.80s\"", list, s);
	free(s);
	return -1;
}

bool ck_list(op_check *c, const op_node *n, size_t min, size_t max, const char *what)
{
	if (!n || n->kind != OP_NODE_SEQ) {
		ck_err(c, n, "expected a list of %s, got %s", what, found(n));
		return false;
	}
	if (n->n < min || n->n > max) {
		ck_err(c, n, "expected %zu to %zu %s, got %zu", min, max, what, n->n);
		return false;
	}
	return true;
}

bool ck_sha256_hex(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

static bool key_ok(const char *k, enum ck_keyrule r, const char **want)
{
	size_t n = strlen(k);
	static const char *const arches[] = {"amd64", "arm64", "armhf", "armel", "i386", "riscv64",
		"ppc64el", "s390x", "mips64el", "loong64", NULL};
	switch (r) {
	case CK_KEY_ARCH:
		*want = "a Debian architecture name (amd64, arm64, armhf, riscv64, ...)";
		for (const char *const *a = arches; *a; a++)
			if (strcmp(k, *a) == 0)
				return true;
		return false;
	case CK_KEY_ENV:
		*want = "an environment variable name [A-Za-z_][A-Za-z0-9_]*";
		if (n < 1 || n > 255 || (k[0] >= '0' && k[0] <= '9'))
			return false;
		for (; *k; k++)
			if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
				    (*k >= '0' && *k <= '9') || *k == '_'))
				return false;
		return true;
	case CK_KEY_LABEL:
	case CK_KEY_ANNOTATION:
		*want = r == CK_KEY_LABEL ? "a label key of 1 to 63 characters [A-Za-z0-9._/-]"
					  : "a key of 1 to 253 characters [A-Za-z0-9._/-]";
		if (n < 1 || n > (r == CK_KEY_LABEL ? 63u : 253u))
			return false;
		for (; *k; k++)
			if (!((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
				    (*k >= '0' && *k <= '9') || *k == '.' || *k == '_' ||
				    *k == '/' || *k == '-'))
				return false;
		return true;
	}
	return false;
}

static bool val_ok(const char *v, enum ck_valrule r, const char **want)
{
	size_t n = strlen(v);
	switch (r) {
	case CK_VAL_TEXT: return true;
	case CK_VAL_SHA256:
		*want = "a sha256 digest of 64 lowercase hex digits";
		return ck_sha256_hex(v);
	case CK_VAL_LABEL:
		*want = "a label value of 1 to 63 characters [A-Za-z0-9._-]";
		if (n < 1 || n > 63)
			return false;
		for (; *v; v++)
			if (!((*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') ||
				    (*v >= '0' && *v <= '9') || *v == '.' || *v == '_' ||
				    *v == '-'))
				return false;
		return true;
	}
	return false;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

bool ck_kvs(op_check *c, const op_node *n, size_t max, enum ck_keyrule kr, enum ck_valrule vr,
	op_kvs *out)
{
	if (!n || n->kind != OP_NODE_MAP) {
		ck_err(c, n, "expected a mapping, got %s", found(n));
		return false;
	}
	if (n->n > max) {
		ck_err(c, n, "expected at most %zu entries, got %zu", max, n->n);
		return false;
	}
	int before = c->errors;
	out->v = calloc(n->n ? n->n : 1, sizeof *out->v);
	out->n = 0;
	if (!out->v) {
		ck_nomem(c, n);
		return false;
	}
	for (size_t i = 0; i < n->n; i++) {
		const op_node *k = n->keys[i];
		const char *want = "";
		size_t m = ck_key(c, k->text);
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(n->keys[j]->text, k->text) == 0;
		if (dup) {
			ck_err(c, k, "duplicate key");
		} else if (strlen(k->text) != k->len) {
			ck_err(c, k, "key contains a NUL byte");
		} else if (!key_ok(k->text, kr, &want)) {
			ck_err(c, k, "expected %s, got \"%.80s\"", want, k->text);
		} else {
			char *v = ck_str(c, n->vals[i]);
			if (v && !val_ok(v, vr, &want)) {
				ck_err(c, n->vals[i], "expected %s, got \"%.80s\"", want, v);
				free(v);
			} else if (v && !(out->v[out->n].key = strdup(k->text))) {
				ck_nomem(c, k);
				free(v);
			} else if (v) {
				out->v[out->n++].val = v;
			}
		}
		ck_pop(c, m);
	}
	qsort(out->v, out->n, sizeof *out->v, kv_cmp);
	return c->errors == before;
}

bool ck_strs(op_check *c, const op_node *n, size_t min, size_t max, bool sites, op_strs *out)
{
	if (!ck_list(c, n, min, max, sites ? "site names" : "strings"))
		return false;
	int before = c->errors;
	out->v = calloc(n->n ? n->n : 1, sizeof *out->v);
	out->n = 0;
	if (!out->v) {
		ck_nomem(c, n);
		return false;
	}
	for (size_t i = 0; i < n->n; i++) {
		size_t m = ck_index(c, i);
		char *s = sites ? ck_name(c, n->vals[i], "a site name") : ck_str(c, n->vals[i]);
		if (s && sites && strcmp(s, "hub") == 0) {
			ck_err(c, n->vals[i], "the site name \"hub\" is reserved for the hub");
			free(s);
			s = NULL;
		}
		for (size_t j = 0; s && sites && j < out->n; j++) {
			if (strcmp(out->v[j], s) == 0) {
				ck_err(c, n->vals[i], "duplicate site \"%s\"", s);
				free(s);
				s = NULL;
			}
		}
		if (s)
			out->v[out->n++] = s;
		ck_pop(c, m);
	}
	return c->errors == before;
}
