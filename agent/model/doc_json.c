/* JSON into the same bounded tree as YAML (see include/outpost/agent/model/doc.h): the
 * canonical JSON the agent reads back from the bucket. jansson parses (strictly, with
 * duplicate keys refused); the positions it does not keep are scanned from the text. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc_int.h"

/* Where each node starts: jansson keeps no positions, so the text is scanned once more
 * for the start of every token that begins a key or a value (a string, a number, a
 * literal, '{' or '['). In text order these are the nodes in the order json_to_node
 * meets them (objects iterate in insertion order, and duplicates are refused), so a
 * cursor hands them out. Columns count characters, as libyaml's do. */
typedef struct jpos {
	int *line, *col;
	size_t n, next;
} jpos;

static int json_positions(const char *buf, size_t len, jpos *p)
{
	memset(p, 0, sizeof *p);
	size_t cap = 0;
	int line = 1, col = 1;
	for (int pass = 0; pass < 2; pass++) {
		size_t n = 0;
		line = 1, col = 1;
		for (size_t i = 0; i < len;) {
			unsigned char c = (unsigned char)buf[i];
			bool token = c == '"' || c == '{' || c == '[' || c == '-' ||
				(c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n';
			if (token && pass == 1 && n < cap)
				p->line[n] = line, p->col[n] = col;
			n += token;
			if (c == '"') { /* to the closing quote, escapes skipped */
				for (i++, col++; i < len && buf[i] != '"'; i++) {
					if (buf[i] == '\\' && i + 1 < len)
						i++, col++;
					if (((unsigned char)buf[i] & 0xc0) != 0x80)
						col++;
				}
				i++, col++;
			} else if (token && c != '{' && c != '[') {
				while (i < len &&
					strchr("+-.0123456789abcdefghijklmnopqrstuvwxyzE",
						buf[i]) &&
					buf[i])
					i++, col++;
			} else {
				if (c == '\n')
					line++, col = 0;
				if ((c & 0xc0) != 0x80)
					col++;
				i++;
			}
		}
		if (pass == 0) {
			cap = n;
			p->line = malloc((n ? n : 1) * sizeof *p->line);
			p->col = malloc((n ? n : 1) * sizeof *p->col);
			if (!p->line || !p->col) {
				free(p->line), free(p->col);
				memset(p, 0, sizeof *p);
				return OP_ENOMEM;
			}
		}
		p->n = n;
	}
	return 0;
}

static op_node *json_node_new(op_doc *doc, jpos *p, op_node_kind kind)
{
	size_t k = p->next++;
	return op_doc_node_new(doc, kind, k < p->n ? p->line[k] : 0, k < p->n ? p->col[k] : 0);
}

/* depth: collections around j; like the YAML side, at most OP_DOC_MAX_DEPTH nest. */
static int json_to_node(op_doc *doc, jpos *p, json_t *j, int depth, op_node **out)
{
	op_node *n;
	int rc;
	if (json_is_object(j) || json_is_array(j)) {
		bool obj = json_is_object(j);
		if (depth >= OP_DOC_MAX_DEPTH)
			return OP_ETOOBIG;
		if (!(n = json_node_new(doc, p, obj ? OP_NODE_MAP : OP_NODE_SEQ)))
			return op_doc_node_fail(doc);
		if (obj) {
			const char *k;
			json_t *v;
			json_object_foreach(j, k, v)
			{
				op_node *kn = json_node_new(doc, p, OP_NODE_SCALAR), *vn;
				if (!kn)
					return op_doc_node_fail(doc);
				if (!(kn->text = strdup(k)))
					return OP_ENOMEM;
				kn->len = strlen(k);
				if ((rc = json_to_node(doc, p, v, depth + 1, &vn)) != 0 ||
					(rc = op_doc_node_push(n, kn, vn)) != 0)
					return rc;
			}
		} else {
			size_t i;
			json_t *v;
			json_array_foreach(j, i, v)
			{
				op_node *vn;
				if ((rc = json_to_node(doc, p, v, depth + 1, &vn)) != 0 ||
					(rc = op_doc_node_push(n, NULL, vn)) != 0)
					return rc;
			}
		}
		*out = n;
		return 0;
	}
	if (!(n = json_node_new(doc, p, OP_NODE_SCALAR)))
		return op_doc_node_fail(doc);
	char num[64];
	const char *text;
	size_t len;
	if (json_is_string(j)) {
		text = json_string_value(j);
		len = json_string_length(j);
	} else {
		n->plain = true;
		if (json_is_integer(j))
			snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		else if (json_is_real(j)) {
			/* Keep a fraction or exponent, so that 4.0 does not read as 4. */
			snprintf(num, sizeof num, "%.17g", json_real_value(j));
			size_t l = strlen(num);
			if (strspn(num, "-0123456789") == l)
				snprintf(num + l, sizeof num - l, ".0");
		} else
			snprintf(num, sizeof num, "%s",
				json_is_true(j)            ? "true"
					: json_is_false(j) ? "false"
							   : "null");
		text = num;
		len = strlen(num);
	}
	if (!(n->text = malloc(len + 1)))
		return OP_ENOMEM;
	memcpy(n->text, text, len);
	n->text[len] = '\0';
	n->len = len;
	*out = n;
	return 0;
}

int op_doc_parse_json(op_doc *doc, const char *file, const char *buf, size_t len, op_diags *d)
{
	memset(doc, 0, sizeof *doc);
	if (len > OP_DOC_MAX_BYTES) {
		op_diags_add(d, file, 0, 0, "", "JSON too large: %zu bytes (at most %d)", len,
			OP_DOC_MAX_BYTES);
		return OP_ETOOBIG;
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	/* jansson fails without a message only when it is out of memory. */
	if (!j && !je.text[0])
		return OP_ENOMEM;
	/* An error that cannot be reported is reported as what stopped it. */
	if (!j) {
		int rc = op_diags_add(d, file, je.line > 0 ? je.line : 0,
			je.column > 0 ? je.column : 0, "", "JSON syntax error: %s", je.text);
		return rc ? rc : OP_EINVAL;
	}
	jpos p;
	int rc = json_positions(buf, len, &p);
	if (rc == 0)
		rc = json_to_node(doc, &p, j, 0, &doc->root);
	free(p.line);
	free(p.col);
	json_decref(j);
	if (rc == OP_ETOOBIG && op_diags_add(d, file, 0, 0, "", "JSON too deep or too large"))
		rc = OP_ENOMEM;
	return rc;
}
