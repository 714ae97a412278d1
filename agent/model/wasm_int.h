/* Internal to the manifest parser: what a component of type wasm has of its own,
 * properties.module, path and dirs (wasm_check.c). */
#ifndef OUTPOST_AGENT_WASM_INT_H
#define OUTPOST_AGENT_WASM_INT_H

#include <jansson.h>

#include "check_int.h"

/* Reads module, path and dirs of a wasm component's properties (n, a mapping checked
 * by ck_map) into comp (its artifact and dirs); errors are reported in c. */
void ck_wasm(op_check *c, const op_node *n, op_component *comp);
/* Frees comp's dirs. */
void ck_wasm_clear(op_component *comp);
/* Adds module, path and dirs to props; returns props, or NULL (props dropped) when
 * memory ran out. */
json_t *ck_wasm_json(json_t *props, const op_component *comp);

#endif
