/* Internal to the manifest parser: a component's fence, properties.user, group, umask
 * and limits (fence_check.c). */
#ifndef OUTPOST_AGENT_FENCE_INT_H
#define OUTPOST_AGENT_FENCE_INT_H

#include <jansson.h>

#include "check_int.h"

/* Reads the fence's keys of a component's properties (n, a mapping checked by ck_map)
 * into f; errors are reported in c. */
void ck_fence(op_check *c, const op_node *n, op_fence *f);
/* Frees f's parts. */
void ck_fence_clear(op_fence *f);
/* Adds the fence's keys that are set to props (a properties object); returns props,
 * or NULL (props dropped) when memory ran out. */
json_t *ck_fence_json(json_t *props, const op_fence *f);

#endif
