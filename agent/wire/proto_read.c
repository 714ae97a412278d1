/* Readers and writers for the agent <-> host messages (see proto_read.h). */
#include "proto_int.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/proto.h"

int pr_bad(const pr_rd *r, const char *key, const char *fmt, const char *what)
{
	op_err_set(r->e, OP_EINVAL, "%s: %s%s: %s%s", r->msg, r->path, key, fmt, what);
	return OP_EINVAL; /* a constant, so that the analyzers see a refusal is not 0 */
}

/* Refuses keys not in allowed (NULL-terminated). */
int pr_only_keys(const pr_rd *r, json_t *o, const char *const *allowed)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		size_t i = 0;
		while (allowed[i] && strcmp(allowed[i], k) != 0)
			i++;
		if (!allowed[i]) {
			op_err_set(
				r->e, OP_EINVAL, "%s: %s%.64s: unknown field", r->msg, r->path, k);
			return OP_EINVAL;
		}
	}
	return 0;
}

json_t *pr_field(const pr_rd *r, json_t *o, const char *key, bool required, int *rc)
{
	json_t *v = json_object_get(o, key);
	if (!v && required) {
		op_err_set(r->e, OP_EINVAL, "%s: %s%s: missing", r->msg, r->path, key);
		*rc = OP_EINVAL;
	}
	return v;
}

/* A string field of 1..max bytes (0..max when may_empty) that check accepts. */
int pr_str(const pr_rd *r, json_t *o, const char *key, bool required, size_t max, bool may_empty,
	bool (*check)(const char *), const char *want, const char **out)
{
	int rc = 0;
	json_t *v = pr_field(r, o, key, required, &rc);
	*out = NULL;
	if (!v)
		return rc;
	const char *s = json_string_value(v);
	if (!s)
		return pr_bad(r, key, "expected a string", "");
	size_t n = json_string_length(v);
	if (n != strlen(s) || n > max || (!may_empty && n == 0) || (check && !check(s)))
		return pr_bad(r, key, "expected ", want);
	*out = s;
	return 0;
}

int pr_int(
	const pr_rd *r, json_t *o, const char *key, json_int_t min, json_int_t max, json_int_t *out)
{
	int rc = 0;
	json_t *v = pr_field(r, o, key, true, &rc);
	if (!v)
		return rc;
	if (!json_is_integer(v))
		return pr_bad(r, key, "expected an integer", "");
	json_int_t x = json_integer_value(v);
	if (x < min || x > max) {
		char want[96];
		snprintf(want, sizeof want, "%lld..%lld", (long long)min, (long long)max);
		return pr_bad(r, key, "expected an integer in ", want);
	}
	*out = x;
	return 0;
}

/* Parses len bytes of JSON into an object, after the size check; checks "v". */
json_t *pr_load(const pr_rd *r, const char *buf, size_t len, size_t max, int *rc)
{
	if (len > max) {
		*rc = op_err_set(r->e, OP_ETOOBIG, "%s: %zu bytes is over the limit of %zu", r->msg,
			len, max);
		return NULL;
	}
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j && !je.text[0]) { /* jansson's only failure without a message */
		*rc = op_err_set(r->e, OP_ENOMEM, "%s: out of memory", r->msg);
		return NULL;
	}
	if (!j) {
		*rc = op_err_set(r->e, OP_EINVAL, "%s: not JSON: %s (at byte %d)", r->msg, je.text,
			je.position);
		return NULL;
	}
	if (!json_is_object(j)) {
		*rc = op_err_set(r->e, OP_EINVAL, "%s: expected a JSON object", r->msg);
		json_decref(j);
		return NULL;
	}
	json_int_t v = 0;
	if ((*rc = pr_int(r, j, "v", INT64_MIN, INT64_MAX, &v)) != 0) {
		json_decref(j);
		return NULL;
	}
	if (v != OP_PROTO_VERSION) {
		*rc = op_err_set(r->e, OP_EINVAL,
			"%s: v: unknown version %lld (this outpost reads %d)", r->msg, (long long)v,
			OP_PROTO_VERSION);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Serializes j (taken) within max bytes. */
int pr_dump(json_t *j, const char *msg, size_t max, char **json, op_err *e)
{
	*json = NULL;
	if (!j)
		return op_err_set(
			e, OP_ENOMEM, "%s: cannot encode (out of memory or bad field)", msg);
	char *s = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	if (!s)
		return op_err_set(e, OP_ENOMEM, "%s: out of memory", msg);
	size_t n = strlen(s);
	if (n > max) {
		free(s);
		return op_err_set(
			e, OP_ETOOBIG, "%s: %zu bytes is over the limit of %zu", msg, n, max);
	}
	*json = s;
	return 0;
}

/* Sets o[key] = v (taking v); on failure drops o and returns NULL. */
json_t *pr_set(json_t *o, const char *key, json_t *v)
{
	if (!o || !v) {
		json_decref(o);
		json_decref(v);
		return NULL;
	}
	if (json_object_set_new(o, key, v) != 0) { /* v is dropped by jansson */
		json_decref(o);
		return NULL;
	}
	return o;
}
