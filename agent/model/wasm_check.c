/* properties of a component of type wasm that a process has not: module, the module's
 * sha256 digest (the same on every arch, which is the point); path, where the box holds
 * the module (installed from the site's store and checked against the digest like any
 * artifact: the model keeps both as the component's artifact); dirs, the only host
 * directories the module is given, each under the guest path it sees. Paths are
 * absolute and plain (no "." or ".." parts), so a manifest cannot reach further than
 * the directories it names. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm_int.h"

static const char *const type_names[] = {"process", "wasm", NULL};

const char *op_comp_type_name(enum op_comp_type t)
{
	return type_names[t];
}

/* An absolute path without empty, "." or ".." parts. */
static char *read_plain_path(op_check *c, const op_node *n)
{
	char *s = ck_abs_path(c, n);
	if (!s)
		return NULL;
	bool ok = true;
	for (const char *p = s; ok && *p;) {
		p++; /* the '/' */
		size_t len = strcspn(p, "/");
		if ((len == 0 && p[0] == '/') || (len == 1 && p[0] == '.') ||
			(len == 2 && p[0] == '.' && p[1] == '.'))
			ok = false;
		p += len;
	}
	if (!ok) {
		ck_err(c, n, "expected a plain absolute path (no //, . or .. parts), got \"%.80s\"",
			s);
		free(s);
		return NULL;
	}
	return s;
}

static void read_module(op_check *c, const op_node *n, op_artifact *a)
{
	char *s = ck_str(c, n);
	if (!s)
		return;
	if (strncmp(s, "sha256:", 7) != 0 || !ck_sha256_hex(s + 7)) {
		ck_err(c, n,
			"expected the module's digest, sha256: and 64 lowercase hex digits, got "
			"\"%.80s\"",
			s);
		free(s);
		return;
	}
	a->sha256 = strdup(s + 7);
	if (!a->sha256)
		ck_nomem(c, n);
	free(s);
}

static void read_dir(op_check *c, const op_node *n, op_dir *d)
{
	static const char *const keys[] = {"guest", "host", "readonly", NULL};
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if (ck_need(c, n, "guest"))
		AT_KEY(c, "guest", d->guest = read_plain_path(c, ck_get(n, "guest")));
	if (ck_need(c, n, "host"))
		AT_KEY(c, "host", d->host = read_plain_path(c, ck_get(n, "host")));
	if ((v = ck_get(n, "readonly"))) {
		static const char *const bools[] = {"false", "true", NULL};
		int r;
		AT_KEY(c, "readonly", r = ck_enum(c, v, bools));
		d->readonly = r == 1;
	}
}

static void read_dirs(op_check *c, const op_node *n, op_component *comp)
{
	if (!ck_list(c, n, 0, OP_MAX_DIRS, "directories"))
		return;
	comp->dirs = calloc(n->n ? n->n : 1, sizeof *comp->dirs);
	if (!comp->dirs) {
		ck_nomem(c, n);
		return;
	}
	comp->ndirs = n->n;
	for (size_t i = 0; i < n->n; i++) {
		size_t m = ck_index(c, i);
		read_dir(c, n->vals[i], &comp->dirs[i]);
		for (size_t k = 0; k < i && comp->dirs[i].guest; k++)
			if (comp->dirs[k].guest &&
				!strcmp(comp->dirs[k].guest, comp->dirs[i].guest)) {
				ck_err(c, n->vals[i], "guest path %s is given twice",
					comp->dirs[i].guest);
				break;
			}
		ck_pop(c, m);
	}
}

void ck_wasm(op_check *c, const op_node *n, op_component *comp)
{
	op_artifact *a = &comp->artifact;
	comp->has_artifact = true;
	a->mode = OP_WASM_MODULE_MODE;
	a->unpack = OP_UNPACK_NONE;
	const op_node *v;
	if (ck_need(c, n, "module"))
		AT_KEY(c, "module", read_module(c, ck_get(n, "module"), a));
	if (ck_need(c, n, "path"))
		AT_KEY(c, "path", a->path = read_plain_path(c, ck_get(n, "path")));
	if ((v = ck_get(n, "dirs")))
		AT_KEY(c, "dirs", read_dirs(c, v, comp));
}

void ck_wasm_clear(op_component *comp)
{
	for (size_t i = 0; i < comp->ndirs; i++) {
		free(comp->dirs[i].guest);
		free(comp->dirs[i].host);
	}
	free(comp->dirs);
}

json_t *ck_wasm_json(json_t *props, const op_component *comp)
{
	char module[OP_DIGEST_LEN + 1];
	snprintf(module, sizeof module, "sha256:%s", comp->artifact.sha256);
	props = ck_json_set(props, "module", json_string(module));
	props = ck_json_set(props, "path", json_string(comp->artifact.path));
	if (props && comp->ndirs) {
		json_t *dirs = json_array();
		for (size_t i = 0; dirs && i < comp->ndirs; i++) {
			const op_dir *d = &comp->dirs[i];
			json_t *o = json_pack("{s:s, s:s}", "guest", d->guest, "host", d->host);
			if (o && d->readonly)
				o = ck_json_set(o, "readonly", json_true());
			if (!o || json_array_append_new(dirs, o) != 0) {
				json_decref(dirs);
				dirs = NULL;
			}
		}
		props = ck_json_set(props, "dirs", dirs);
	}
	return props;
}
