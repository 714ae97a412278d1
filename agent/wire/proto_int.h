/* Internal to the agent <-> host codecs (proto.c): readers over a jansson object that
 * carry the message name and field path into every error, and the encoders' helpers. */
#ifndef OUTPOST_AGENT_PROTO_READ_H
#define OUTPOST_AGENT_PROTO_READ_H

#include <jansson.h>
#include <stdbool.h>

#include "outpost/agent/base/err.h"

/* Where a reader is: the message name and the field path of the object being read. */
typedef struct pr_rd {
	const char *msg; /* "heartbeat", "command", "reply" */
	const char *path; /* "" or "instances[2]." (with the trailing dot) */
	op_err *e;
} pr_rd;

/* Sets the error "<msg>: <path><key>: <fmt><what>"; returns OP_EINVAL. */
int pr_bad(const pr_rd *r, const char *key, const char *fmt, const char *what);
/* Refuses keys not in allowed (NULL-terminated). */
int pr_only_keys(const pr_rd *r, json_t *o, const char *const *allowed);
/* o[key], or NULL (and *rc set when required). */
json_t *pr_field(const pr_rd *r, json_t *o, const char *key, bool required, int *rc);
/* A string field of 1..max bytes (0..max when may_empty) that check accepts. */
int pr_str(const pr_rd *r, json_t *o, const char *key, bool required, size_t max, bool may_empty,
	bool (*check)(const char *), const char *want, const char **out);
/* A required integer field in [min, max]. */
int pr_int(const pr_rd *r, json_t *o, const char *key, json_int_t min, json_int_t max,
	json_int_t *out);
/* Parses len bytes of JSON into an object, after the size check; checks "v". */
json_t *pr_load(const pr_rd *r, const char *buf, size_t len, size_t max, int *rc);
/* Serializes j (taken) within max bytes. */
int pr_dump(json_t *j, const char *msg, size_t max, char **json, op_err *e);
/* Sets o[key] = v (taking v); on failure drops o and returns NULL. */
json_t *pr_set(json_t *o, const char *key, json_t *v);

#endif
