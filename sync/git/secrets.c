/* The hub's check of sealed secrets (see include/outpost/sync/git/secrets.h). Each
 * manifest is read again from its blob for its references (the index keeps digests, not
 * models); each sealed file is read and parsed once however many apps use it. */
#include "outpost/sync/git/secrets.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/model/sealed.h"
#include "outpost/agent/wire/proof.h"

struct seen {
	char name[OP_NAME_MAX + 1];
	bool ok;
};

struct check {
	op_source *src;
	const char *sha;
	char dir[OP_PROOF_PATH_MAX + 1];
	struct seen *v;
	size_t n, cap;
	int bad;
	op_diags *d;
};

/* Whether secrets/<name>.yaml is a good sealed file (checked once). */
static int sealed_ok(
	struct check *k, const char *name, const char *file, const char *field, op_err *e)
{
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->v[i].name, name)) {
			if (!k->v[i].ok)
				op_diags_add(k->d, file, 0, 0, field,
					"secret %s: %s/%s.yaml is missing or invalid (see its "
					"errors)",
					name, k->dir, name);
			return 0;
		}
	if (op_grow((void **)&k->v, &k->cap, k->n + 1, sizeof *k->v) != 0)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	struct seen *s = &k->v[k->n++];
	snprintf(s->name, sizeof s->name, "%s", name);
	s->ok = false;
	char path[OP_PROOF_PATH_MAX + OP_NAME_MAX + 8], blob[41];
	snprintf(path, sizeof path, "%s/%s.yaml", k->dir, name);
	op_err fe = {0};
	int rc = op_source_file(k->src, k->sha, path, blob, &fe);
	if (rc == OP_ENOTFOUND) {
		op_diags_add(k->d, file, 0, 0, field,
			"secret %s: no file %s in the commit (seal it with outpost secret seal "
			"--name %s)",
			name, path, name);
		k->bad++;
		return 0;
	}
	if (rc)
		return op_err_set(e, rc, "%s", fe.msg);
	char *buf = NULL;
	size_t len = 0;
	if ((rc = op_source_blob(k->src, blob, &buf, &len, e)) != 0)
		return rc;
	op_sealed sealed;
	size_t before = op_diags_count(k->d);
	rc = op_sealed_parse(path, buf, len, &sealed, k->d);
	free(buf);
	if (rc == OP_ENOMEM)
		return op_err_set(e, rc, "out of memory");
	if (rc == 0 && strcmp(sealed.name, name) != 0) {
		op_diags_add(k->d, path, 0, 0, "metadata.name",
			"the file of secret %s names secret \"%s\"", name, sealed.name);
		rc = OP_EINVAL;
	}
	op_sealed_clear(&sealed);
	if (rc) {
		if (op_diags_count(k->d) == before)
			op_diags_add(k->d, path, 0, 0, "", "not a sealed secret");
		op_diags_add(k->d, file, 0, 0, field, "secret %s: %s is invalid", name, path);
		k->bad++;
		return 0;
	}
	s->ok = true;
	return 0;
}

static int check_app(struct check *k, const char *file, const char *blob, op_err *e)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = op_source_blob(k->src, blob, &buf, &len, e);
	if (rc)
		return rc;
	op_app *app = NULL;
	op_diags pd = {0};
	rc = op_manifest_parse(file, buf, len, &app, &pd);
	free(buf);
	op_diags_clear(&pd);
	if (rc) /* it parsed when the revision was read: the blob cannot change */
		return op_err_set(e, rc == OP_ENOMEM ? rc : OP_EINVAL, "%s no longer parses", file);
	for (size_t i = 0; rc == 0 && i < app->ncomps; i++) {
		const op_component *c = &app->comps[i];
		size_t files = 0;
		for (size_t j = 0; rc == 0 && j < c->nsecrets; j++) {
			const op_secref *r = &c->secrets[j];
			char field[256];
			if (r->env)
				snprintf(field, sizeof field,
					"spec.components[%zu].properties.env.%.100s", i, r->env);
			else
				snprintf(field, sizeof field,
					"spec.components[%zu].properties.files[%zu]", i, files++);
			rc = sealed_ok(k, r->secret, file, field, e);
		}
	}
	op_app_free(app);
	return rc;
}

/* The trees the walk of secrets/ reads, from the sync cache (kept until the check ends,
 * as op_proof_walk hands their bytes out). */
struct trees {
	op_source *src;
	char **v;
	size_t n, cap;
};

static int get_tree(void *arg, const char *id, const unsigned char **raw, size_t *len, op_err *e)
{
	struct trees *t = arg;
	char *buf = NULL;
	if (op_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) != 0)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	int rc = op_source_tree(t->src, id, &buf, len, e);
	if (rc)
		return rc;
	t->v[t->n++] = buf;
	*raw = (const unsigned char *)buf;
	return 0;
}

/* Every *.yaml under secrets/, referenced or not: a sealed secret named as its file
 * (secrets/NAME.yaml holds metadata.name NAME), so that no broken file waits in Git
 * for the manifest that will need it. */
static int on_sealed_file(void *arg, const char *file, const char *blob, op_err *e)
{
	struct check *k = arg;
	const char *base = file + strlen(k->dir) + 1;
	size_t n = strlen(base);
	char name[OP_NAME_MAX + 1] = "";
	if (!strchr(base, '/') && n > 5 && n - 5 <= OP_NAME_MAX && !strcmp(base + n - 5, ".yaml"))
		snprintf(name, sizeof name, "%.*s", (int)(n - 5), base);
	if (!name[0] || !op_name_valid(name)) {
		op_diags_add(k->d, file, 0, 0, "",
			"expected secrets named %s/NAME.yaml, NAME of [a-z0-9-], 1..63", k->dir);
		k->bad++;
		return 0;
	}
	for (size_t i = 0; i < k->n; i++)
		if (!strcmp(k->v[i].name, name))
			return 0; /* checked as a reference */
	if (op_grow((void **)&k->v, &k->cap, k->n + 1, sizeof *k->v) != 0)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	struct seen *s = &k->v[k->n++];
	snprintf(s->name, sizeof s->name, "%s", name);
	char *buf = NULL;
	size_t len = 0;
	int rc = op_source_blob(k->src, blob, &buf, &len, e);
	if (rc)
		return rc;
	op_sealed sealed;
	size_t before = op_diags_count(k->d);
	rc = op_sealed_parse(file, buf, len, &sealed, k->d);
	free(buf);
	if (rc == OP_ENOMEM)
		return op_err_set(e, rc, "out of memory");
	if (rc == 0 && strcmp(sealed.name, name) != 0) {
		op_diags_add(k->d, file, 0, 0, "metadata.name",
			"the file of secret %s names secret \"%s\"", name, sealed.name);
		rc = OP_EINVAL;
	}
	op_sealed_clear(&sealed);
	if (rc && op_diags_count(k->d) == before)
		op_diags_add(k->d, file, 0, 0, "", "not a sealed secret");
	k->bad += rc ? 1 : 0;
	s->ok = rc == 0;
	return 0;
}

int op_secrets_check(op_source *src, const char *sha, const char *path, const op_desired *want,
	op_diags *d, op_err *e)
{
	struct check k = {.src = src, .sha = sha, .d = d};
	op_proof_secrets_dir(path, k.dir);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < want->n; i++)
		rc = check_app(&k, want->files[i], want->v[i].blob, e);
	op_commit c;
	if (rc == 0 && (rc = op_source_commit(src, sha, &c, e)) == 0) {
		struct trees t = {.src = src};
		rc = op_proof_walk(c.raw, c.len, k.dir, get_tree, &t, on_sealed_file, &k, e);
		if (rc == OP_ENOTFOUND)
			rc = 0; /* no secrets directory */
		else if (rc == OP_EINVAL) { /* a symbolic link among them: the walk's verdict */
			op_diags_add(d, k.dir, 0, 0, "", "%s", e->msg);
			k.bad++;
			rc = 0;
		}
		for (size_t i = 0; i < t.n; i++)
			free(t.v[i]);
		free(t.v);
		op_commit_clear(&c);
	}
	free(k.v);
	return rc ? rc : k.bad;
}
