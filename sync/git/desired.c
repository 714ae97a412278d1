/* The desired state of a commit (see include/outpost/sync/git/desired.h). */
#include "outpost/sync/git/desired.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct file {
	char *path;
	char blob[41];
	const op_mindex_entry *known; /* NULL: parsed this time */
};

struct walk {
	const op_mindex *idx;
	struct file *v;
	size_t n, cap;
	bool nomem;
};

static bool on_blob(void *arg, const char *file, const char blob[41])
{
	struct walk *w = arg;
	struct file *f = NULL;
	for (size_t i = 0; i < w->n && !f; i++) /* a walk redone on a rebuilt cache */
		if (!strcmp(w->v[i].path, file))
			f = &w->v[i];
	if (!f) {
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 64;
			struct file *v = realloc(w->v, cap * sizeof *v);
			if (!v) {
				w->nomem = true;
				return true;
			}
			w->v = v;
			w->cap = cap;
		}
		f = &w->v[w->n];
		if (!(f->path = strdup(file))) {
			w->nomem = true;
			return true;
		}
		w->n++;
	}
	memcpy(f->blob, blob, 41);
	f->known = op_mindex_find(w->idx, blob);
	return f->known != NULL;
}

static int by_name(const void *a, const void *b, void *arg)
{
	const op_pub_entry *v = arg;
	return strcmp(v[*(const size_t *)a].name, v[*(const size_t *)b].name);
}

static int sort_by_name(op_desired *out)
{
	size_t *ix = malloc((out->n + 1) * sizeof *ix);
	op_pub_entry *v = malloc((out->n + 1) * sizeof *v);
	char **files = malloc((out->n + 1) * sizeof *files);
	if (!ix || !v || !files) {
		free(ix), free(v), free(files);
		return OP_ENOMEM;
	}
	for (size_t i = 0; i < out->n; i++)
		ix[i] = i;
	qsort_r(ix, out->n, sizeof *ix, by_name, out->v);
	for (size_t i = 0; i < out->n; i++) {
		v[i] = out->v[ix[i]];
		files[i] = out->files[ix[i]];
	}
	free(ix);
	free(out->v);
	free(out->files);
	out->v = v;
	out->files = files;
	return 0;
}

static long set_find_file(const op_appset *set, const char *file)
{
	for (size_t i = 0; i < set->n; i++)
		if (!strcmp(set->files[i], file))
			return (long)i;
	return -1;
}

int op_desired_read(op_source *src, const op_mindex *idx, const char *sha, const char *path,
	op_desired *out, op_diags *d, op_err *e)
{
	memset(out, 0, sizeof *out);
	struct walk w = {.idx = idx};
	op_appset set = {0};
	int rc = op_source_read_apps(src, sha, path, &set, d, on_blob, &w, e);
	if (rc == 0 && w.nomem)
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
	out->invalid = set.invalid;
	if (rc == 0) {
		out->v = calloc(w.n + 1, sizeof *out->v);
		out->files = calloc(w.n + 1, sizeof *out->files);
		if (!out->v || !out->files)
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
	}
	for (size_t i = 0; rc == 0 && i < w.n; i++) {
		const struct file *f = &w.v[i];
		op_pub_entry *en = &out->v[out->n];
		if (f->known) {
			memcpy(en->name, f->known->name, sizeof en->name);
			memcpy(en->digest, f->known->digest, sizeof en->digest);
		} else {
			long k = set_find_file(&set, f->path);
			if (k < 0)
				continue; /* invalid: reported in d */
			snprintf(en->name, sizeof en->name, "%s", set.apps[k]->name);
			if (op_manifest_to_json(set.apps[k], &en->json, &en->len) != 0) {
				rc = op_err_set(e, OP_ENOMEM, "out of memory");
				break;
			}
			op_digest(en->json, en->len, en->digest);
		}
		memcpy(en->blob, f->blob, 41);
		out->files[out->n] = f->path;
		w.v[i].path = NULL;
		out->n++;
	}
	/* Names unique across files, whether parsed now or known from before: sorted by
	 * name (entries and their files together), a name twice names both files. */
	if (rc == 0 && (rc = sort_by_name(out)) != 0)
		op_err_set(e, OP_ENOMEM, "out of memory");
	for (size_t i = 1; rc == 0 && i < out->n; i++)
		if (!strcmp(out->v[i].name, out->v[i - 1].name)) {
			op_diags_add(d, out->files[i], 0, 0, "metadata.name",
				"app \"%s\" is already defined in %s; app names must be unique",
				out->v[i].name, out->files[i - 1]);
			out->invalid++;
		}
	for (size_t i = 0; i < w.n; i++)
		free(w.v[i].path);
	free(w.v);
	op_appset_clear(&set);
	if (rc)
		op_desired_clear(out);
	return rc;
}

int op_desired_load(void *arg, op_pub_entry *en, op_err *e)
{
	op_source *src = arg;
	char *buf = NULL;
	size_t len = 0;
	int rc = op_source_blob(src, en->blob, &buf, &len, e);
	if (rc)
		return rc;
	op_app *app = NULL;
	op_diags d = {0};
	rc = op_manifest_parse(en->name, buf, len, &app, &d);
	free(buf);
	op_diags_clear(&d);
	if (rc)
		return op_err_set(e, OP_EINVAL, "manifest of app %s (blob %.12s) no longer parses",
			en->name, en->blob);
	rc = op_manifest_to_json(app, &en->json, &en->len);
	op_app_free(app);
	if (rc)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	char dg[OP_DIGEST_LEN + 1];
	op_digest(en->json, en->len, dg);
	if (strcmp(dg, en->digest) != 0)
		return op_err_set(e, OP_EINVAL, "the manifest index is stale for app %s", en->name);
	return 0;
}

int op_desired_index(const op_desired *out, op_mindex *idx)
{
	op_mindex_entry *v = malloc((out->n + 1) * sizeof *v);
	if (!v)
		return OP_ENOMEM;
	for (size_t i = 0; i < out->n; i++) {
		memcpy(v[i].blob, out->v[i].blob, sizeof v[i].blob);
		memcpy(v[i].name, out->v[i].name, sizeof v[i].name);
		memcpy(v[i].digest, out->v[i].digest, sizeof v[i].digest);
	}
	int rc = op_mindex_set(idx, v, out->n);
	free(v);
	return rc;
}

void op_desired_clear(op_desired *out)
{
	for (size_t i = 0; i < out->n; i++) {
		free(out->v ? out->v[i].json : NULL);
		free(out->files ? out->files[i] : NULL);
	}
	free(out->v);
	free(out->files);
	memset(out, 0, sizeof *out);
}
