/* Artifact references and gc's choice (see include/outpost/agent/store/refs.h). Lists are
 * small (artifacts of one fleet's apps), so lookups are linear. */
#include "outpost/agent/store/refs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

int op_art_refs_add(op_art_refs *r, const uint8_t sha[32], const char *app, op_err *e)
{
	for (size_t i = 0; i < r->n; i++)
		if (!memcmp(r->v[i].sha256, sha, 32) && !strcmp(r->v[i].app, app))
			return 0;
	if (op_grow((void **)&r->v, &r->cap, r->n + 1, sizeof *r->v) != 0)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	op_art_ref *ref = &r->v[r->n++];
	memcpy(ref->sha256, sha, 32);
	snprintf(ref->app, sizeof ref->app, "%s", app);
	return 0;
}

int op_art_refs_add_hex(op_art_refs *r, const char *hex, const char *app, op_err *e)
{
	uint8_t sha[32];
	if (op_art_digest_parse(hex, sha) != 0)
		return op_err_set(
			e, OP_EINVAL, "app %s: artifact digest \"%s\" is not valid", app, hex);
	return op_art_refs_add(r, sha, app, e);
}

int op_art_refs_add_app(op_art_refs *r, const op_app *app, op_err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < app->ncomps; i++) {
		const op_component *c = &app->comps[i];
		if (!c->has_artifact)
			continue;
		if (c->artifact.sha256)
			rc = op_art_refs_add_hex(r, c->artifact.sha256, app->name, e);
		for (size_t k = 0; !rc && k < c->artifact.sha256_arch.n; k++)
			rc = op_art_refs_add_hex(r, c->artifact.sha256_arch.v[k].val, app->name, e);
	}
	return rc;
}

int op_art_refs_add_json(op_art_refs *r, const char *json, size_t len, op_err *e)
{
	op_app *app = NULL;
	op_diags d = {0};
	int rc = op_manifest_from_json("app", json, len, &app, &d);
	if (rc == OP_ENOMEM) {
		op_diags_clear(&d);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	if (rc) {
		if (d.n)
			op_err_set(e, OP_EINVAL, "app JSON: %s: %s", d.v[0].path, d.v[0].msg);
		else
			op_err_set(e, OP_EINVAL, "app JSON does not read back");
		op_diags_clear(&d);
		return OP_EINVAL;
	}
	rc = op_art_refs_add_app(r, app, e);
	op_app_free(app);
	op_diags_clear(&d);
	return rc;
}

bool op_art_refs_has(const op_art_refs *r, const uint8_t sha[32])
{
	for (size_t i = 0; r && i < r->n; i++)
		if (!memcmp(r->v[i].sha256, sha, 32))
			return true;
	return false;
}

void op_art_refs_apps(const op_art_refs *r, const uint8_t sha[32], char *out, size_t cap)
{
	if (!cap)
		return;
	out[0] = '\0';
	/* Emits the names in order, smallest after the last emitted each round. */
	const char *last = "";
	for (;;) {
		const char *next = NULL;
		for (size_t i = 0; i < r->n; i++)
			if (!memcmp(r->v[i].sha256, sha, 32) && strcmp(r->v[i].app, last) > 0 &&
				(!next || strcmp(r->v[i].app, next) < 0))
				next = r->v[i].app;
		if (!next)
			return;
		size_t n = strlen(out);
		snprintf(out + n, cap - n, "%s%s", n ? "," : "", next);
		last = next;
	}
}

void op_art_refs_clear(op_art_refs *r)
{
	free(r->v);
	memset(r, 0, sizeof *r);
}

size_t op_art_gc_choose(const op_objmeta *objs, size_t n, const op_art_refs *kept,
	const op_art_refs *newest, int64_t now, int64_t min_age_s, bool *del)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		const op_objmeta *m = &objs[i];
		del[i] = op_objmeta_live(m) && !op_art_refs_has(kept, m->sha256) &&
			!op_art_refs_has(newest, m->sha256) && m->mtime > 0 &&
			now - m->mtime >= min_age_s;
		count += del[i];
	}
	return count;
}
