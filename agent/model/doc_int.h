/* Internal to agent/model: the node constructors doc.c (YAML) and doc_json.c (JSON)
 * share. Nodes are owned by the doc (freed by op_doc_clear). */
#ifndef OUTPOST_MODEL_DOC_INT_H
#define OUTPOST_MODEL_DOC_INT_H

#include "outpost/agent/model/doc.h"

/* A new node, or NULL: out of memory, or the doc holds OP_DOC_MAX_NODES already. */
op_node *op_doc_node_new(op_doc *doc, op_node_kind kind, int line, int col);
/* Which of the two a NULL from op_doc_node_new was: OP_ETOOBIG or OP_ENOMEM. */
int op_doc_node_fail(const op_doc *doc);
/* Appends key (NULL in a sequence) and val to parent, counting val's weight: 0 or
 * OP_ENOMEM. */
int op_doc_node_push(op_node *parent, op_node *key, op_node *val);

#endif
