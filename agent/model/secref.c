/* Secret references in a component's properties: env entries whose value is
 * {secret: NAME} and the files list [{path, secret, mode}]. Only the reference is in the
 * manifest; the sealed value is in secrets/NAME.yaml (secret.h). The canonical JSON
 * writes an env reference as an object beside the plain values and the files as a list,
 * both only when there are any, so apps without secrets keep their digests. A site's
 * agent adds "sealed" (the sealed file's git blob id) to each reference: accepted from
 * JSON only, never from Git, where the signed file is what it stands for. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_int.h"

static bool hex40(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 40;
}

static op_secref *grow(op_check *c, const op_node *at, op_component *comp)
{
	op_secref *v = realloc(comp->secrets, (comp->nsecrets + 1) * sizeof *v);
	if (!v) {
		ck_nomem(c, at);
		return NULL;
	}
	comp->secrets = v;
	op_secref *r = &v[comp->nsecrets];
	memset(r, 0, sizeof *r);
	return r;
}

/* {secret: NAME} (and from JSON, sealed: <blob id>) into r. */
static bool read_ref(op_check *c, const op_node *n, bool file, op_secref *r)
{
	static const char *const keys[] = {"secret", NULL};
	static const char *const jkeys[] = {"secret", "sealed", NULL};
	static const char *const fkeys[] = {"path", "secret", "mode", NULL};
	static const char *const fjkeys[] = {"path", "secret", "mode", "sealed", NULL};
	int before = c->errors;
	if (!ck_map(c, n, file ? (c->json ? fjkeys : fkeys) : (c->json ? jkeys : keys)))
		return false;
	const op_node *v;
	if (ck_need(c, n, "secret"))
		AT_KEY(c, "secret", r->secret = ck_name(c, ck_get(n, "secret"), "a secret name"));
	if ((v = ck_get(n, "sealed"))) {
		size_t m = ck_key(c, "sealed");
		char *s = ck_str(c, v);
		if (s && !hex40(s)) {
			ck_err(c, v, "expected a git blob id of 40 lowercase hex digits");
			free(s);
			s = NULL;
		}
		r->sealed = s;
		ck_pop(c, m);
	}
	if (file) {
		r->mode = OP_SECRET_FILE_MODE_DEFAULT;
		if (ck_need(c, n, "path"))
			AT_KEY(c, "path", r->path = ck_abs_path(c, ck_get(n, "path")));
		if ((v = ck_get(n, "mode")))
			AT_KEY(c, "mode", ck_mode(c, v, &r->mode));
	}
	return c->errors == before;
}

static void ref_clear(op_secref *r)
{
	free(r->env), free(r->path), free(r->secret), free(r->sealed);
	memset(r, 0, sizeof *r);
}

static bool env_name(const op_node *k)
{
	if (strlen(k->text) != k->len || k->len < 1 || k->len > 255 ||
		(k->text[0] >= '0' && k->text[0] <= '9'))
		return false;
	for (const char *p = k->text; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return true;
}

static int env_cmp(const void *a, const void *b)
{
	return strcmp(((const op_secref *)a)->env, ((const op_secref *)b)->env);
}

void ck_env(op_check *c, const op_node *n, op_component *comp)
{
	if (!n || n->kind != OP_NODE_MAP) {
		ck_kvs(c, n, OP_MAX_ENV, CK_KEY_ENV, CK_VAL_TEXT, &comp->env);
		return;
	}
	if (n->n > OP_MAX_ENV) {
		ck_err(c, n, "expected at most %d entries, got %zu", OP_MAX_ENV, n->n);
		return;
	}
	/* The plain values go through the usual reader, on a shallow copy without the
	 * references. */
	op_node plain = *n;
	plain.keys = calloc(n->n ? n->n : 1, sizeof *plain.keys);
	plain.vals = calloc(n->n ? n->n : 1, sizeof *plain.vals);
	plain.n = 0;
	if (!plain.keys || !plain.vals) {
		free(plain.keys), free(plain.vals);
		ck_nomem(c, n);
		return;
	}
	for (size_t i = 0; i < n->n; i++) {
		const op_node *k = n->keys[i];
		bool dup = false;
		for (size_t j = 0; j < i; j++)
			dup |= strcmp(n->keys[j]->text, k->text) == 0;
		if (!dup && n->vals[i]->kind != OP_NODE_MAP) {
			plain.keys[plain.n] = n->keys[i];
			plain.vals[plain.n++] = n->vals[i];
			continue;
		}
		size_t m = ck_key(c, k->text);
		op_secref *r = NULL;
		if (dup)
			ck_err(c, k, "duplicate key");
		else if (!env_name(k))
			ck_err(c, k,
				"expected an environment variable name [A-Za-z_][A-Za-z0-9_]*, got "
				"\"%.80s\"",
				k->text);
		else if ((r = grow(c, k, comp)) != NULL) {
			bool ok = read_ref(c, n->vals[i], false, r);
			if (ok && !(r->env = strdup(k->text)))
				ck_nomem(c, k);
			if (ok && r->env)
				comp->nsecrets++;
			else
				ref_clear(r);
		}
		ck_pop(c, m);
	}
	ck_kvs(c, &plain, OP_MAX_ENV, CK_KEY_ENV, CK_VAL_TEXT, &comp->env);
	free(plain.keys);
	free(plain.vals);
	if (comp->nsecrets > 1)
		qsort(comp->secrets, comp->nsecrets, sizeof *comp->secrets, env_cmp);
}

void ck_files(op_check *c, const op_node *n, op_component *comp)
{
	if (!ck_list(c, n, 0, OP_MAX_SECRET_FILES, "secret files"))
		return;
	size_t first = comp->nsecrets;
	for (size_t i = 0; i < n->n; i++) {
		size_t m = ck_index(c, i);
		op_secref *r = grow(c, n->vals[i], comp);
		if (r && read_ref(c, n->vals[i], true, r)) {
			bool dup = false;
			for (size_t j = first; j < comp->nsecrets; j++)
				dup |= strcmp(comp->secrets[j].path, r->path) == 0;
			if (dup) {
				AT_KEY(c, "path",
					ck_err(c, ck_get(n->vals[i], "path"),
						"the file \"%.200s\" is listed twice", r->path));
				ref_clear(r);
			} else {
				comp->nsecrets++;
			}
		} else if (r) {
			ref_clear(r);
		}
		ck_pop(c, m);
	}
}

static json_t *ref_json(const op_secref *r)
{
	json_t *o = json_pack("{s:s}", "secret", r->secret);
	if (o && r->sealed && json_object_set_new(o, "sealed", json_string(r->sealed)) != 0) {
		json_decref(o);
		return NULL;
	}
	if (o && r->path) {
		char mode[8];
		snprintf(mode, sizeof mode, "0%03o", r->mode);
		if (json_object_set_new(o, "path", json_string(r->path)) != 0 ||
			json_object_set_new(o, "mode", json_string(mode)) != 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

int ck_secrets_json(const op_component *comp, json_t *env, json_t **files)
{
	*files = NULL;
	for (size_t i = 0; i < comp->nsecrets; i++) {
		const op_secref *r = &comp->secrets[i];
		json_t *o = ref_json(r);
		if (!o)
			return OP_ENOMEM;
		if (r->env) {
			if (json_object_set_new(env, r->env, o) != 0)
				return OP_ENOMEM;
			continue;
		}
		if (!*files && !(*files = json_array())) {
			json_decref(o);
			return OP_ENOMEM;
		}
		if (json_array_append_new(*files, o) != 0)
			return OP_ENOMEM;
	}
	return 0;
}

void ck_secrets_clear(op_component *comp)
{
	for (size_t i = 0; i < comp->nsecrets; i++)
		ref_clear(&comp->secrets[i]);
	free(comp->secrets);
	comp->secrets = NULL;
	comp->nsecrets = 0;
}
