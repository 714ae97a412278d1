/* Internal to the manifest parser: a component's health check (health_check.c). */
#ifndef OUTPOST_AGENT_HEALTH_INT_H
#define OUTPOST_AGENT_HEALTH_INT_H

#include <jansson.h>

#include "check_int.h"

/* Reads properties.health into h (defaults filled); errors are reported in c. */
void ck_health(op_check *c, const op_node *n, op_health_check *h);
/* Frees h's parts. */
void ck_health_clear(op_health_check *h);
/* The check's canonical JSON object; NULL when memory ran out. */
json_t *ck_health_json(const op_health_check *h);

#endif
