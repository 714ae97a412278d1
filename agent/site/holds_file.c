/* The holds' file, <state>/holds.json (see holds_int.h): every hold with the canonical
 * JSON of the specs it keeps, written atomically whenever one moves (synced to disk only
 * for a rollback's verdict: op_hold_durable); read back with each spec checked against
 * its digest. */
#include "holds_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

#define HOLDS_FORMAT 1
#define HOLDS_MAX (64 * 1024 * 1024)

static int save(const ag_holds *hs, bool durable, op_err *e)
{
	json_t *apps = json_array();
	for (size_t i = 0; apps && i < hs->n; i++) {
		const ag_hold_ent *x = &hs->v[i];
		json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s*, s:s*}", "app",
			x->h.app, "state", op_hold_state_name(x->h.state), "spec", x->h.spec,
			"prev", x->h.prev, "target", x->h.target, "since_ms",
			(json_int_t)x->h.since_ms, "reason", x->h.reason, "spec_json", x->spec_json,
			"prev_json", x->prev_json);
		if (!o || json_array_append_new(apps, o)) {
			json_decref(apps);
			apps = NULL;
		}
	}
	json_t *j = apps ? json_pack("{s:i, s:o}", "format", HOLDS_FORMAT, "apps", apps) : NULL;
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return op_err_set(e, OP_ENOMEM, "holds: out of memory");
	int rc = durable ? op_write_atomic(hs->path, s, strlen(s), e)
			 : op_write_atomic_nosync(hs->path, s, strlen(s), e);
	free(s);
	return rc;
}

static int state_parse(const char *s, enum op_hold_state *out)
{
	for (int i = OP_HOLD_STEADY; i <= OP_HOLD_ROLLED_BACK; i++)
		if (!strcmp(s, op_hold_state_name((enum op_hold_state)i))) {
			*out = (enum op_hold_state)i;
			return 0;
		}
	return OP_EINVAL;
}

/* A JSON spec kept in the file must be the spec it says it is. */
static int spec_copy(const char *json, const char *digest, char **out)
{
	*out = NULL;
	if (!digest[0])
		return json ? OP_EINVAL : 0;
	char d[OP_DIGEST_LEN + 1];
	if (!json)
		return OP_EINVAL;
	op_digest(json, strlen(json), d);
	if (strcmp(d, digest) != 0)
		return OP_EINVAL;
	*out = strdup(json);
	return *out ? 0 : OP_ENOMEM;
}

static int load_one(ag_holds *hs, json_t *o, op_err *e)
{
	const char *app, *state, *spec, *prev, *target, *reason, *sj = NULL, *pj = NULL;
	json_int_t since;
	json_error_t je;
	if (json_unpack_ex(o, &je, 0, "{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s?s, s?s}", "app", &app,
		    "state", &state, "spec", &spec, "prev", &prev, "target", &target, "since_ms",
		    &since, "reason", &reason, "spec_json", &sj, "prev_json", &pj))
		return op_err_set(e, OP_EINVAL, "%s", je.text);
	if (op_grow((void **)&hs->v, &hs->cap, hs->n + 1, sizeof *hs->v))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	ag_hold_ent *x = &hs->v[hs->n];
	memset(x, 0, sizeof *x);
	op_hold_init(&x->h, app);
	int rc = state_parse(state, &x->h.state);
	if (rc == 0 &&
		(!op_name_valid(app) || strlen(spec) > OP_DIGEST_LEN ||
			strlen(prev) > OP_DIGEST_LEN || strlen(target) > OP_DIGEST_LEN))
		rc = OP_EINVAL;
	if (rc == 0) {
		snprintf(x->h.spec, sizeof x->h.spec, "%s", spec);
		snprintf(x->h.prev, sizeof x->h.prev, "%s", prev);
		snprintf(x->h.target, sizeof x->h.target, "%s", target);
		snprintf(x->h.reason, sizeof x->h.reason, "%s", reason);
		x->h.since_ms = since;
		rc = spec_copy(sj, spec, &x->spec_json);
	}
	if (rc == 0)
		rc = spec_copy(pj, prev, &x->prev_json);
	if (rc)
		op_err_set(e, rc, "app %s: a spec does not match its digest", app);
	if (rc) {
		ag_hold_ent_clear(x);
		return rc;
	}
	hs->n++;
	return 0;
}

int ag_holds_load(ag_holds *hs, op_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = op_read_file(hs->path, HOLDS_MAX, &buf, &len, e);
	if (rc)
		return rc;
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	free(buf);
	json_t *apps = json_object_get(j, "apps");
	if (!j || json_integer_value(json_object_get(j, "format")) != HOLDS_FORMAT ||
		!json_is_array(apps)) {
		json_decref(j);
		return op_err_set(e, OP_EINVAL, "not a holds file of format %d", HOLDS_FORMAT);
	}
	size_t i;
	json_t *o;
	json_array_foreach(apps, i, o)
	{
		if ((rc = load_one(hs, o, e)) != 0)
			break;
	}
	json_decref(j);
	return rc;
}

void ag_holds_save(const ag_holds *hs, bool durable)
{
	op_err e = {0};
	if (save(hs, durable, &e) != 0)
		op_log_warn("holds: cannot save", "file=%s error=\"%s\"", hs->path, e.msg);
}
