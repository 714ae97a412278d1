/* A small document tree with source positions: what YAML (libyaml events) and JSON
 * (jansson) both turn into, so that one validator (manifest.c) serves both. The tree
 * is bounded while it is built: nesting depth, node count and alias expansion are
 * capped, so a hostile file (billion laughs, deep nesting) is refused fast. */
#ifndef OUTPOST_DOC_H
#define OUTPOST_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/base/err.h"

#define OP_DOC_MAX_BYTES (1024 * 1024) /* a manifest file */
#define OP_DOC_MAX_DEPTH 32
#define OP_DOC_MAX_NODES 100000 /* counting every alias expansion */

typedef enum { OP_NODE_SCALAR, OP_NODE_MAP, OP_NODE_SEQ } op_node_kind;

typedef struct op_node {
	op_node_kind kind;
	int line, col; /* 1-based (JSON too: see doc.c) */
	/* scalar */
	char *text;
	size_t len;
	bool plain; /* unquoted: may read as null, bool or integer */
	/* map: keys[i] -> vals[i]; seq: vals[i]. Keys are scalars. Alias targets are shared. */
	struct op_node **keys, **vals;
	size_t n, cap;
	size_t weight; /* nodes in this subtree with aliases expanded */
} op_node;

typedef struct op_doc {
	op_node *root;
	op_node **all; /* every node, owned here */
	size_t nall, capall;
} op_doc;

/* Parses YAML bytes into a tree. One document, no custom tags, aliases allowed within
 * the caps. On error adds a diagnostic naming file:line:col and returns OP_EINVAL or
 * OP_ETOOBIG (OP_ENOMEM when memory ran out). The doc must be freed with op_doc_clear
 * either way. */
int op_doc_parse_yaml(op_doc *doc, const char *file, const char *buf, size_t len, op_diags *d);
/* Parses JSON bytes into a tree (all positions 0). Same error contract. */
int op_doc_parse_json(op_doc *doc, const char *file, const char *buf, size_t len, op_diags *d);
void op_doc_clear(op_doc *doc);

/* Scalar readings of a plain scalar (YAML 1.2 core schema, decimal integers only). */
bool op_node_is_null(const op_node *n);
/* Returns 1 and sets *v when n is a plain integer in [min,max]; 0 when not an integer;
 * -1 when an integer out of range. */
int op_node_int(const op_node *n, long long min, long long max, long long *v);
const char *op_node_kind_name(const op_node *n);

#endif
