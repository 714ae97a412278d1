/* Internal to the manifest parser: a validation context over a doc tree that keeps the
 * current field path and records one diagnostic per problem, and the typed readers
 * (string, name, integer, enum, list, map) that every part of the manifest uses. */
#ifndef OUTPOST_AGENT_CHECK_H
#define OUTPOST_AGENT_CHECK_H

#include <jansson.h>

#include "outpost/agent/model/doc.h"
#include "outpost/agent/model/manifest.h"

typedef struct op_check {
	const char *file;
	op_diags *d;
	char path[512];
	size_t plen;
	int errors;
	bool nomem; /* an allocation failed (or a report could not be kept): OP_ENOMEM */
	bool json; /* reading canonical JSON (which may carry what Git may not) */
} op_check;

void ck_err(op_check *c, const op_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Reports that memory ran out at n; the manifest then fails with OP_ENOMEM, not as
 * invalid. */
void ck_nomem(op_check *c, const op_node *at);
/* Path steps: each returns the length to restore with ck_pop. */
size_t ck_key(op_check *c, const char *key);
size_t ck_index(op_check *c, size_t i);
void ck_pop(op_check *c, size_t mark);
/* Runs stmt (a reader of key's value) under the key's path. */
#define AT_KEY(c, key, stmt) \
	do { \
		size_t m_ = ck_key(c, key); \
		stmt; \
		ck_pop(c, m_); \
	} while (0)

/* A mapping whose keys are all in allowed (NULL-terminated) and none twice. Reports
 * and returns false when n is not a mapping; unknown and duplicate keys are reported
 * but the mapping is still read. */
bool ck_map(op_check *c, const op_node *n, const char *const *allowed);
/* The value of key in a mapping checked by ck_map, or NULL. */
const op_node *ck_get(const op_node *map, const char *key);
/* Reports a missing required field at the mapping's position. */
bool ck_need(op_check *c, const op_node *map, const char *key);

/* Readers: NULL / false on error (reported). Strings are returned allocated. */
char *ck_str(op_check *c, const op_node *n);
char *ck_name(op_check *c, const op_node *n, const char *what);
char *ck_abs_path(op_check *c, const op_node *n);
char *ck_exact(op_check *c, const op_node *n, const char *want);
bool ck_int(op_check *c, const op_node *n, long long min, long long max, int *out);
/* A duration written like the command line's but with its unit ("500ms", "10s", "5m",
 * "2h"), from min_ms to max_ms. */
bool ck_duration(op_check *c, const op_node *n, int64_t min_ms, int64_t max_ms, int64_t *out);
/* Index into names (NULL-terminated) or -1. */
int ck_enum(op_check *c, const op_node *n, const char *const *names);
/* A list of 0..max items; returns false (reported) when not a list or too long. */
bool ck_list(op_check *c, const op_node *n, size_t min, size_t max, const char *what);

enum ck_keyrule { CK_KEY_LABEL, CK_KEY_ENV, CK_KEY_ANNOTATION, CK_KEY_ARCH };
enum ck_valrule { CK_VAL_TEXT, CK_VAL_LABEL, CK_VAL_SHA256 };
/* A string map with keys and values under the given rules, sorted into out. */
bool ck_kvs(op_check *c, const op_node *n, size_t max, enum ck_keyrule kr, enum ck_valrule vr,
	op_kvs *out);
/* A list of strings; names: each must be a name (and not "hub" when sites). */
bool ck_strs(op_check *c, const op_node *n, size_t min, size_t max, bool sites, op_strs *out);

bool ck_sha256_hex(const char *s);
/* A quoted octal mode ("0755"), 0..07777, into *mode (left as it is on error). */
void ck_mode(op_check *c, const op_node *n, unsigned *mode);

/* secref.c: properties.env (plain values and {secret: NAME}) and properties.files. */
void ck_env(op_check *c, const op_node *n, op_component *comp);
void ck_files(op_check *c, const op_node *n, op_component *comp);
/* The JSON of a component's secret refs: env entries into env (an object), the files
 * as a new array (NULL when there are none, or when memory ran out: *nomem). */
struct json_t;
int ck_secrets_json(const op_component *comp, struct json_t *env, struct json_t **files);
void ck_secrets_clear(op_component *comp);

/* o with key set to v (stolen); on any failure both are released and NULL returned, so
 * that a chain of sets needs one check at its end (manifest_json.c). */
json_t *ck_json_set(json_t *o, const char *key, json_t *v);

#endif
