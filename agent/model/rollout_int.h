/* Internal to the manifest: the rollout policy's reader, its canonical JSON and its
 * cleanup, kept apart from the placement and components they sit beside. */
#ifndef OUTPOST_AGENT_ROLLOUT_INT_H
#define OUTPOST_AGENT_ROLLOUT_INT_H

#include <jansson.h>

#include "check_int.h"

/* Reads a rollout policy's properties (n may be NULL: all defaults) into r, whose
 * name is already set. */
void op_rollout_read(op_check *c, const op_node *n, op_rollout_policy *r);
/* The policy entry {"name","type":"rollout","properties":{...}}, or NULL (no memory). */
json_t *op_rollout_json(const op_rollout_policy *r);
void op_rollout_clear(op_rollout_policy *r);

#endif
