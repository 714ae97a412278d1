/* Whole revisions (see include/outpost/agent/wire/revision.h). */
#include "outpost/agent/wire/revision.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

void op_revision_clear(op_revision *r)
{
	for (size_t i = 0; r->apps && r->json && i < r->napps; i++) {
		op_app_free(r->apps[i]);
		free(r->json[i]);
	}
	free(r->apps);
	free(r->json);
	op_marker_clear(&r->marker);
	memset(r, 0, sizeof *r);
}

static int copy_marker(op_marker *dst, const op_marker *src)
{
	*dst = *src;
	dst->apps = calloc(src->napps + 1, sizeof *dst->apps);
	if (!dst->apps)
		return OP_ENOMEM;
	if (src->napps) /* a marker of no apps may hold no array at all */
		memcpy(dst->apps, src->apps, src->napps * sizeof *dst->apps);
	return 0;
}

int op_revision_assemble(
	const op_marker *m, op_revision_lookup lookup, void *arg, op_revision *out, op_err *e)
{
	memset(out, 0, sizeof *out);
	out->apps = calloc(m->napps + 1, sizeof *out->apps);
	out->json = calloc(m->napps + 1, sizeof *out->json);
	if (!out->apps || !out->json || copy_marker(&out->marker, m) != 0) {
		op_revision_clear(out);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	int rc = 0;
	for (size_t i = 0; i < m->napps && rc == 0; i++) {
		const op_marker_app *a = &m->apps[i];
		const char *json;
		size_t len;
		char dg[OP_DIGEST_LEN + 1];
		if (lookup(arg, a->name, &json, &len) != 0) {
			rc = op_err_set(e, OP_ENOTFOUND, "app %s of revision %llu not here yet",
				a->name, (unsigned long long)m->seq);
			break;
		}
		op_digest(json, len, dg);
		if (strcmp(dg, a->digest) != 0) {
			rc = op_err_set(e, OP_ENOTFOUND,
				"app %s is not yet at revision %llu's digest", a->name,
				(unsigned long long)m->seq);
			break;
		}
		op_diags d = {0};
		char file[96];
		snprintf(file, sizeof file, "app.%s", a->name);
		int prc = op_manifest_from_json(file, json, len, &out->apps[out->napps], &d);
		if (prc == OP_ENOMEM) {
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
			op_diags_clear(&d);
			break;
		} else if (prc != 0) {
			rc = op_err_set(e, OP_EINVAL, "app %s: %s: %s", a->name,
				d.n ? d.v[0].path : "", d.n ? d.v[0].msg : "unreadable");
			op_diags_clear(&d);
			break;
		}
		op_diags_clear(&d);
		if (strcmp(out->apps[out->napps]->name, a->name) != 0) {
			rc = op_err_set(e, OP_EINVAL, "key app.%s holds app %s", a->name,
				out->apps[out->napps]->name);
			op_app_free(out->apps[out->napps]);
			out->apps[out->napps] = NULL;
			break;
		}
		if (!(out->json[out->napps] = strndup(json, len))) {
			op_app_free(out->apps[out->napps]);
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
			break;
		}
		out->napps++;
	}
	if (rc)
		op_revision_clear(out);
	return rc;
}

int op_revision_save(const op_revision *r, const char *path, op_err *e)
{
	char *mj = NULL;
	int rc = op_marker_encode(&r->marker, &mj, e);
	if (rc)
		return rc;
	/* An app that cannot be added fails the save: a file without it would load as a
	 * damaged revision. */
	json_t *apps = json_object();
	for (size_t i = 0; apps && i < r->napps; i++)
		if (json_object_set_new(apps, r->apps[i]->name, json_string(r->json[i])) != 0) {
			json_decref(apps);
			apps = NULL;
		}
	json_t *j = json_pack("{s:i, s:s, s:o, s:b}", "v", 1, "marker", mj, "apps", apps,
		"verified", r->verified);
	free(mj);
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	rc = op_write_atomic(path, s, strlen(s), e);
	free(s);
	return rc;
}

struct saved {
	json_t *apps;
};

static int saved_lookup(void *arg, const char *name, const char **json, size_t *len)
{
	json_t *v = json_object_get(((struct saved *)arg)->apps, name);
	if (!json_is_string(v))
		return OP_ENOTFOUND;
	*json = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

int op_revision_load(op_revision *r, const char *path, op_err *e)
{
	memset(r, 0, sizeof *r);
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		FILE *f = fopen(path, "r");
		if (!f && errno == ENOENT)
			return op_err_set(e, OP_ENOTFOUND, "%s: no saved revision", path);
		if (f)
			fclose(f);
		return op_err_set(e, OP_EINVAL, "%s: %s", path, je.text);
	}
	const char *mj = NULL;
	struct saved sv = {NULL};
	int v = 0, verified = 0;
	int rc;
	if (json_unpack_ex(j, &je, JSON_STRICT, "{s:i, s:s, s:o, s?b}", "v", &v, "marker", &mj,
		    "apps", &sv.apps, "verified", &verified) != 0) {
		rc = op_err_set(e, OP_EINVAL, "%s: %s", path, je.text);
	} else {
		op_marker m;
		rc = op_marker_decode(mj, strlen(mj), &m, e);
		if (rc == 0) {
			rc = op_revision_assemble(&m, saved_lookup, &sv, r, e);
			if (rc == OP_ENOTFOUND)
				rc = OP_EINVAL; /* a saved revision is whole or damaged */
			r->verified = rc == 0 && verified;
			op_marker_clear(&m);
		}
	}
	json_decref(j);
	return rc;
}
