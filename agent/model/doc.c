/* YAML into one bounded tree with positions (see include/outpost/agent/model/doc.h; JSON
 * is doc_json.c). The nodes, owned by the doc, are made here for both.
 * The YAML side consumes libyaml's event stream with an explicit stack, so nesting is
 * bounded by OP_DOC_MAX_DEPTH rather than by the C stack; each node carries the
 * number of nodes below it with aliases expanded, so a billion-laughs file is refused
 * as soon as one subtree passes OP_DOC_MAX_NODES, without expanding anything. */
#include "doc_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

op_node *op_doc_node_new(op_doc *doc, op_node_kind kind, int line, int col)
{
	if (doc->nall >= OP_DOC_MAX_NODES)
		return NULL;
	if (doc->nall == doc->capall) {
		size_t cap = doc->capall ? doc->capall * 2 : 64;
		op_node **all = realloc(doc->all, cap * sizeof *all);
		if (!all)
			return NULL;
		doc->all = all;
		doc->capall = cap;
	}
	op_node *n = calloc(1, sizeof *n);
	if (!n)
		return NULL;
	n->kind = kind;
	n->line = line;
	n->col = col;
	n->weight = 1;
	doc->all[doc->nall++] = n;
	return n;
}

/* Why node_new gave NULL: the cap, or the allocator. */
int op_doc_node_fail(const op_doc *doc)
{
	return doc->nall >= OP_DOC_MAX_NODES ? OP_ETOOBIG : OP_ENOMEM;
}

int op_doc_node_push(op_node *parent, op_node *key, op_node *val)
{
	if (parent->n == parent->cap) {
		size_t cap = parent->cap ? parent->cap * 2 : 4;
		op_node **vals = realloc(parent->vals, cap * sizeof *vals);
		if (!vals)
			return OP_ENOMEM;
		parent->vals = vals;
		if (parent->kind == OP_NODE_MAP) {
			op_node **keys = realloc(parent->keys, cap * sizeof *keys);
			if (!keys)
				return OP_ENOMEM;
			parent->keys = keys;
		}
		parent->cap = cap;
	}
	if (parent->kind == OP_NODE_MAP)
		parent->keys[parent->n] = key;
	parent->vals[parent->n++] = val;
	size_t w = parent->weight + val->weight + (key ? key->weight : 0);
	parent->weight = w > OP_DOC_MAX_NODES ? OP_DOC_MAX_NODES + 1 : w;
	return 0;
}

void op_doc_clear(op_doc *doc)
{
	for (size_t i = 0; i < doc->nall; i++) {
		free(doc->all[i]->text);
		free(doc->all[i]->keys);
		free(doc->all[i]->vals);
		free(doc->all[i]);
	}
	free(doc->all);
	memset(doc, 0, sizeof *doc);
}

/* --- YAML -------------------------------------------------------------------------- */

struct frame {
	op_node *node;
	op_node *key; /* a map's key waiting for its value */
	char *anchor;
	size_t anchor_seq; /* when the anchor was defined (see struct anchor) */
};

/* seq orders definitions: a collection's anchor is defined where the collection
 * opens but registered where it closes, and an alias means the latest definition.
 * Closed anchors sit in a hash table (open addressing, one slot per name holding its
 * latest definition), so that a file of many anchors and aliases costs linear time. */
struct anchor {
	char *name; /* NULL: empty slot */
	op_node *node;
	size_t seq;
};

struct yctx {
	op_doc *doc;
	const char *file;
	op_diags *d;
	struct frame stack[OP_DOC_MAX_DEPTH + 1];
	int depth;
	struct anchor *anchors; /* capanchors slots, a power of two */
	size_t nanchors, capanchors;
	size_t seq; /* anchor definitions so far */
	int ndocs;
};

static int yerr(struct yctx *c, int code, const yaml_mark_t *m, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int yerr(struct yctx *c, int code, const yaml_mark_t *m, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* An error that cannot be reported is reported as what stopped it. */
	if (op_diags_add(c->d, c->file, m ? (int)m->line + 1 : 1, m ? (int)m->column + 1 : 1, "",
		    "%s", msg))
		return OP_ENOMEM;
	return code;
}

static size_t anchor_hash(const char *name)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a */
	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return (size_t)h;
}

/* The slot of name, or the empty slot where it would go. */
static struct anchor *anchor_slot(struct anchor *tab, size_t cap, const char *name)
{
	size_t i = anchor_hash(name) & (cap - 1);
	while (tab[i].name && strcmp(tab[i].name, name) != 0)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int anchor_grow(struct yctx *c)
{
	size_t cap = c->capanchors ? c->capanchors * 2 : 16;
	struct anchor *tab = calloc(cap, sizeof *tab);
	if (!tab)
		return OP_ENOMEM;
	for (size_t i = 0; i < c->capanchors; i++)
		if (c->anchors[i].name)
			*anchor_slot(tab, cap, c->anchors[i].name) = c->anchors[i];
	free(c->anchors);
	c->anchors = tab;
	c->capanchors = cap;
	return 0;
}

static int anchor_add(struct yctx *c, const char *name, op_node *n, size_t seq)
{
	if (2 * (c->nanchors + 1) > c->capanchors && anchor_grow(c) != 0)
		return OP_ENOMEM;
	struct anchor *a = anchor_slot(c->anchors, c->capanchors, name);
	if (!a->name) {
		if (!(a->name = strdup(name)))
			return OP_ENOMEM;
		c->nanchors++;
	} else if (a->seq > seq) {
		return 0; /* defined later than this one, inside it */
	}
	a->node = n;
	a->seq = seq;
	return 0;
}

/* The node of the latest definition of name; *open is set when that definition is a
 * collection still being read (an alias to it would make the tree cyclic). */
static op_node *anchor_find(struct yctx *c, const char *name, bool *open)
{
	op_node *n = NULL;
	size_t best = 0;
	*open = false;
	if (c->capanchors) {
		const struct anchor *a = anchor_slot(c->anchors, c->capanchors, name);
		if (a->name) {
			n = a->node;
			best = a->seq;
		}
	}
	for (int i = 0; i < c->depth; i++)
		if (c->stack[i].anchor && strcmp(c->stack[i].anchor, name) == 0 &&
			(!n || *open || c->stack[i].anchor_seq > best)) {
			*open = true;
			best = c->stack[i].anchor_seq;
			n = c->stack[i].node;
		}
	return n;
}

/* Attaches a finished node to the open collection (or makes it the root); m is where
 * the node stands in the text (an alias: the alias, not its anchor). */
static int attach(struct yctx *c, op_node *n, const yaml_mark_t *m)
{
	if (n->weight > OP_DOC_MAX_NODES)
		return yerr(c, OP_ETOOBIG, m,
			"document too large: more than %d nodes with aliases expanded",
			OP_DOC_MAX_NODES);
	if (c->depth == 0) {
		c->doc->root = n;
		return 0;
	}
	struct frame *f = &c->stack[c->depth - 1];
	int rc;
	if (f->node->kind == OP_NODE_SEQ) {
		rc = op_doc_node_push(f->node, NULL, n);
	} else if (!f->key) {
		if (n->kind != OP_NODE_SCALAR)
			return yerr(c, OP_EINVAL, m, "expected a scalar mapping key");
		f->key = n;
		return 0;
	} else {
		rc = op_doc_node_push(f->node, f->key, n);
		f->key = NULL;
	}
	/* Checked at every push, so that a list of aliases stops at the one too many. */
	if (rc == 0 && f->node->weight > OP_DOC_MAX_NODES)
		return yerr(c, OP_ETOOBIG, m,
			"document too large: more than %d nodes with aliases expanded",
			OP_DOC_MAX_NODES);
	return rc;
}

static bool is_merge_key(const op_node *k)
{
	return k && k->kind == OP_NODE_SCALAR && k->plain && k->len == 2 &&
		!memcmp(k->text, "<<", 2);
}

static bool has_key(const op_node *map, const op_node *k)
{
	for (size_t i = 0; i < map->n; i++)
		if (map->keys[i]->len == k->len && !memcmp(map->keys[i]->text, k->text, k->len))
			return true;
	return false;
}

/* YAML's merge key (<<: *base, or <<: [*a, *b]): the entries of the merged mappings whose
 * keys the mapping does not have itself join it, from the first merged mapping on; the
 * mapping's own keys win. Operators share properties between components this way. The
 * merged nodes are shared, as an alias's are, and counted again against the caps. */
static int merge_keys(struct yctx *c, op_node *n)
{
	size_t at = n->n;
	for (size_t i = 0; i < n->n; i++)
		if (is_merge_key(n->keys[i])) {
			if (at != n->n) {
				yaml_mark_t m = {.line = (size_t)n->keys[i]->line - 1,
					.column = (size_t)n->keys[i]->col - 1};
				return yerr(c, OP_EINVAL, &m, "a mapping takes one merge key (<<)");
			}
			at = i;
		}
	if (at == n->n)
		return 0;
	op_node *v = n->vals[at], *one[1] = {v}, **src = one;
	size_t nsrc = 1;
	if (v->kind == OP_NODE_SEQ)
		src = v->vals, nsrc = v->n;
	for (size_t i = 0; i < nsrc; i++)
		if (src[i]->kind != OP_NODE_MAP) {
			yaml_mark_t m = {.line = (size_t)src[i]->line - 1,
				.column = (size_t)src[i]->col - 1};
			return yerr(c, OP_EINVAL, &m,
				"a merge key (<<) takes a mapping or a list of mappings, like "
				"<<: *base");
		}
	op_node **keys = n->keys, **vals = n->vals;
	size_t own = n->n;
	n->keys = n->vals = NULL;
	n->n = n->cap = 0;
	n->weight = 1;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < own; i++)
		if (i != at)
			rc = op_doc_node_push(n, keys[i], vals[i]);
	for (size_t s = 0; rc == 0 && s < nsrc; s++)
		for (size_t i = 0; rc == 0 && i < src[s]->n; i++)
			if (!has_key(n, src[s]->keys[i]))
				rc = op_doc_node_push(n, src[s]->keys[i], src[s]->vals[i]);
	free(keys);
	free(vals);
	if (rc == 0 && n->weight > OP_DOC_MAX_NODES) {
		yaml_mark_t m = {.line = (size_t)n->line - 1, .column = (size_t)n->col - 1};
		return yerr(c, OP_ETOOBIG, &m,
			"document too large: more than %d nodes with aliases expanded",
			OP_DOC_MAX_NODES);
	}
	return rc;
}

static int check_tag(
	struct yctx *c, const yaml_char_t *tag, const yaml_mark_t *m, const char *allowed)
{
	if (!tag)
		return 0;
	if (strcmp((const char *)tag, allowed) == 0)
		return 0;
	return yerr(c, OP_EINVAL, m, "unsupported YAML tag %s", (const char *)tag);
}

static int on_event(struct yctx *c, yaml_event_t *ev)
{
	const yaml_mark_t *m = &ev->start_mark;
	int line = (int)m->line + 1, col = (int)m->column + 1;
	op_node *n;
	int rc;

	switch (ev->type) {
	case YAML_DOCUMENT_START_EVENT:
		if (++c->ndocs > 1)
			return yerr(c, OP_EINVAL, m, "expected one YAML document per file");
		return 0;
	case YAML_SCALAR_EVENT:
		if ((rc = check_tag(c, ev->data.scalar.tag, m, YAML_STR_TAG)) != 0)
			return rc;
		if (!(n = op_doc_node_new(c->doc, OP_NODE_SCALAR, line, col)))
			return op_doc_node_fail(c->doc) == OP_ENOMEM
				? OP_ENOMEM
				: yerr(c, OP_ETOOBIG, m, "too many nodes (at most %d)",
					  OP_DOC_MAX_NODES);
		n->len = ev->data.scalar.length;
		n->text = malloc(n->len + 1);
		if (!n->text)
			return OP_ENOMEM;
		memcpy(n->text, ev->data.scalar.value, n->len);
		n->text[n->len] = '\0';
		n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE && !ev->data.scalar.tag;
		if (ev->data.scalar.anchor &&
			(rc = anchor_add(c, (const char *)ev->data.scalar.anchor, n, ++c->seq)) !=
				0)
			return rc;
		return attach(c, n, m);
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT: {
		bool seq = ev->type == YAML_SEQUENCE_START_EVENT;
		const yaml_char_t *tag = seq ? ev->data.sequence_start.tag
					     : ev->data.mapping_start.tag;
		const yaml_char_t *anchor = seq ? ev->data.sequence_start.anchor
						: ev->data.mapping_start.anchor;
		if ((rc = check_tag(c, tag, m, seq ? YAML_SEQ_TAG : YAML_MAP_TAG)) != 0)
			return rc;
		if (c->depth >= OP_DOC_MAX_DEPTH)
			return yerr(c, OP_ETOOBIG, m, "nesting deeper than %d levels",
				OP_DOC_MAX_DEPTH);
		if (!(n = op_doc_node_new(c->doc, seq ? OP_NODE_SEQ : OP_NODE_MAP, line, col)))
			return op_doc_node_fail(c->doc) == OP_ENOMEM
				? OP_ENOMEM
				: yerr(c, OP_ETOOBIG, m, "too many nodes (at most %d)",
					  OP_DOC_MAX_NODES);
		struct frame *f = &c->stack[c->depth++];
		f->node = n;
		f->key = NULL;
		f->anchor = anchor ? strdup((const char *)anchor) : NULL;
		f->anchor_seq = anchor ? ++c->seq : 0;
		if (anchor && !f->anchor)
			return OP_ENOMEM;
		return 0;
	}
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT: {
		if (c->depth == 0) /* libyaml pairs start and end: a guard, not a case */
			return yerr(c, OP_EINVAL, m, "an end without a start");
		struct frame *f = &c->stack[--c->depth];
		n = f->node;
		char *anchor = f->anchor;
		f->anchor = NULL;
		rc = n->kind == OP_NODE_MAP ? merge_keys(c, n) : 0;
		if (rc == 0 && anchor)
			rc = anchor_add(c, anchor, n, f->anchor_seq);
		free(anchor);
		if (rc)
			return rc;
		/* Errors about the collection point where it starts, not where it ends. */
		yaml_mark_t start = {.line = (size_t)n->line - 1, .column = (size_t)n->col - 1};
		return attach(c, n, &start);
	}
	case YAML_ALIAS_EVENT: {
		/* An alias may not point into a node still open: the tree stays acyclic. */
		bool open;
		n = anchor_find(c, (const char *)ev->data.alias.anchor, &open);
		if (!n)
			return yerr(c, OP_EINVAL, m, "unknown alias *%s",
				(const char *)ev->data.alias.anchor);
		if (open)
			return yerr(c, OP_EINVAL, m,
				"alias *%s refers to a node that contains it (recursive alias)",
				(const char *)ev->data.alias.anchor);
		return attach(c, n, m);
	}
	default: return 0;
	}
}

int op_doc_parse_yaml(op_doc *doc, const char *file, const char *buf, size_t len, op_diags *d)
{
	memset(doc, 0, sizeof *doc);
	if (len > OP_DOC_MAX_BYTES) {
		op_diags_add(d, file, 1, 1, "", "file too large: %zu bytes (at most %d)", len,
			OP_DOC_MAX_BYTES);
		return OP_ETOOBIG;
	}
	struct yctx c = {.doc = doc, .file = file, .d = d};
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p))
		return OP_ENOMEM;
	/* A UTF-8 byte order mark (Windows editors write one) is not content; with the
	 * encoding forced, libyaml would count it as a column. */
	if (len >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) {
		buf += 3;
		len -= 3;
	}
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
	int rc = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&p, &ev)) {
			const yaml_mark_t *m = &p.problem_mark;
			if (p.error == YAML_MEMORY_ERROR ||
				op_diags_add(d, file, (int)m->line + 1, (int)m->column + 1, "",
					"YAML syntax error: %s%s%s",
					p.problem ? p.problem : "unknown", p.context ? " " : "",
					p.context ? p.context : ""))
				rc = OP_ENOMEM;
			else
				rc = OP_EINVAL;
			break;
		}
		bool end = ev.type == YAML_STREAM_END_EVENT;
		rc = on_event(&c, &ev);
		yaml_event_delete(&ev);
		if (rc || end)
			break;
	}
	yaml_parser_delete(&p);
	for (int i = 0; i < c.depth; i++)
		free(c.stack[i].anchor);
	for (size_t i = 0; i < c.capanchors; i++)
		free(c.anchors[i].name);
	free(c.anchors);
	return rc;
}

/* --- scalar readings ----------------------------------------------------------------- */

bool op_node_is_null(const op_node *n)
{
	if (!n)
		return true;
	if (n->kind != OP_NODE_SCALAR || !n->plain)
		return false;
	const char *t = n->text;
	return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
		!strcmp(t, "NULL");
}

int op_node_int(const op_node *n, long long min, long long max, long long *v)
{
	if (n->kind != OP_NODE_SCALAR || !n->plain || !n->len)
		return 0;
	const char *p = n->text;
	if (*p == '+' || *p == '-')
		p++;
	if (!*p)
		return 0;
	for (const char *q = p; *q; q++)
		if (*q < '0' || *q > '9')
			return 0;
	errno = 0;
	char *end;
	long long x = strtoll(n->text, &end, 10);
	if (errno == ERANGE || x < min || x > max)
		return -1;
	*v = x;
	return 1;
}

static bool is_bool(const char *t)
{
	static const char *const words[] = {
		"true", "True", "TRUE", "false", "False", "FALSE", NULL};
	for (const char *const *w = words; *w; w++)
		if (strcmp(t, *w) == 0)
			return true;
	return false;
}

/* YAML 1.2 core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?,
 * and .inf / .nan in their three spellings. */
static bool is_float(const char *t)
{
	static const char *const words[] = {".inf", ".Inf", ".INF", ".nan", ".NaN", ".NAN", NULL};
	if (*t == '+' || *t == '-')
		t++;
	for (const char *const *w = words; *w; w++)
		if (strcmp(t, *w) == 0)
			return true;
	size_t ipart = strspn(t, "0123456789");
	t += ipart;
	size_t fpart = 0;
	if (*t == '.') {
		fpart = strspn(t + 1, "0123456789");
		t += 1 + fpart;
	}
	if (!ipart && !fpart)
		return false;
	if (*t == 'e' || *t == 'E') {
		t++;
		if (*t == '+' || *t == '-')
			t++;
		size_t e = strspn(t, "0123456789");
		if (!e)
			return false;
		t += e;
	}
	return *t == '\0';
}

const char *op_node_kind_name(const op_node *n)
{
	if (!n || op_node_is_null(n))
		return "null";
	switch (n->kind) {
	case OP_NODE_MAP: return "a mapping";
	case OP_NODE_SEQ: return "a list";
	case OP_NODE_SCALAR: break;
	}
	if (n->plain && is_bool(n->text))
		return "a boolean";
	long long v;
	if (op_node_int(n, -(1LL << 62), 1LL << 62, &v) != 0)
		return "an integer";
	if (n->plain && is_float(n->text))
		return "a float";
	return "a string";
}
