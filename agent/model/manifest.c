/* Manifest validation: a doc tree (from YAML or JSON) into an op_app, strictly. Every
 * part is read even after an error so that one run reports all of a file's problems;
 * the app is handed out only when there were none. Defaults are filled here, once, so
 * the canonical JSON (manifest_json.c) only writes what the model holds. */
#include "outpost/agent/model/manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check_int.h"
#include "fence_int.h"
#include "health_int.h"
#include "rollout_int.h"
#include "wasm_int.h"

static const char *const restart_names[] = {"always", "on-failure", "never", NULL};
static const char *const rollout_names[] = {"start-first", "stop-first", NULL};
static const char *const scaler_names[] = {"spreadscaler", "daemonscaler", NULL};

const char *op_restart_name(enum op_restart r)
{
	return restart_names[r];
}
const char *op_rollout_name(enum op_rollout r)
{
	return rollout_names[r];
}
const char *op_scaler_name(enum op_scaler s)
{
	return scaler_names[s];
}

static void read_spread(op_check *c, const op_node *n, size_t idx, op_spread *s)
{
	static const char *const keys[] = {"name", "requirements", "weight", NULL};
	s->weight = 100;
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if ((v = ck_get(n, "name")))
		AT_KEY(c, "name", s->name = ck_name(c, v, "a spread name"));
	else {
		char def[32];
		snprintf(def, sizeof def, "spread-%zu", idx);
		if (!(s->name = strdup(def)))
			ck_nomem(c, n);
	}
	if ((v = ck_get(n, "requirements")))
		AT_KEY(c, "requirements",
			ck_kvs(c, v, OP_MAX_LABELS, CK_KEY_LABEL, CK_VAL_LABEL, &s->requirements));
	if ((v = ck_get(n, "weight")))
		AT_KEY(c, "weight", ck_int(c, v, 1, OP_MAX_WEIGHT, &s->weight));
}

static void read_scaler_props(op_check *c, const op_node *n, op_trait *t)
{
	static const char *const keys[] = {"instances", "spread", NULL};
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if (ck_need(c, n, "instances")) {
		int max = t->type == OP_SCALER_SPREAD ? OP_MAX_INSTANCES : OP_MAX_DAEMON;
		AT_KEY(c, "instances", ck_int(c, ck_get(n, "instances"), 0, max, &t->instances));
	}
	if (!(v = ck_get(n, "spread")))
		return;
	size_t m = ck_key(c, "spread");
	if (ck_list(c, v, 0, OP_MAX_SPREAD, "spread entries")) {
		t->spread = calloc(v->n ? v->n : 1, sizeof *t->spread);
		t->nspread = t->spread ? v->n : 0;
		if (!t->spread)
			ck_nomem(c, v);
		for (size_t i = 0; i < t->nspread; i++) {
			size_t mi = ck_index(c, i);
			read_spread(c, v->vals[i], i, &t->spread[i]);
			for (size_t j = 0; j < i && t->spread[i].name; j++) {
				if (!t->spread[j].name ||
					strcmp(t->spread[j].name, t->spread[i].name) != 0)
					continue;
				/* At the name when it is written; a default name collides at the
				 * entry. */
				const op_node *nm = ck_get(v->vals[i], "name");
				size_t mn = nm ? ck_key(c, "name") : c->plen;
				ck_err(c, nm ? nm : v->vals[i],
					"duplicate spread name \"%s\" (spread[%zu] has it)",
					t->spread[i].name, j);
				ck_pop(c, mn);
				break;
			}
			ck_pop(c, mi);
		}
	}
	ck_pop(c, m);
}

static void read_traits(op_check *c, const op_node *n, op_component *comp)
{
	static const char *const keys[] = {"type", "properties", NULL};
	comp->scaler.type = OP_SCALER_SPREAD;
	comp->scaler.instances = 1;
	if (!n || !ck_list(c, n, 0, 8, "traits"))
		return;
	const op_node *first = NULL;
	for (size_t i = 0; i < n->n; i++) {
		const op_node *t = n->vals[i];
		size_t m = ck_index(c, i);
		if (ck_map(c, t, keys) && ck_need(c, t, "type")) {
			int type;
			AT_KEY(c, "type", type = ck_enum(c, ck_get(t, "type"), scaler_names));
			if (type >= 0 && first) {
				ck_err(c, t,
					"a component takes one scaler trait (spreadscaler or "
					"daemonscaler); the first is at line %d",
					first->line);
			} else if (type >= 0) {
				first = t;
				comp->scaler.type = (enum op_scaler)type;
				if (ck_need(c, t, "properties"))
					AT_KEY(c, "properties",
						read_scaler_props(
							c, ck_get(t, "properties"), &comp->scaler));
			}
		}
		ck_pop(c, m);
	}
}

/* A mode is a quoted octal string ("0755"): a plain 0755 is the integer 755 in YAML 1.2
 * and 493 in YAML 1.1, so which one the writer meant cannot be told. */
void ck_mode(op_check *c, const op_node *n, unsigned *mode)
{
	if (n && n->kind == OP_NODE_SCALAR && n->plain && !op_node_is_null(n)) {
		ck_err(c, n,
			"expected a quoted octal string such as \"0755\", got %.20s unquoted "
			"(an unquoted number is read as decimal or octal depending on the reader)",
			n->text);
		return;
	}
	char *s = ck_str(c, n);
	if (!s)
		return;
	size_t len = strlen(s);
	bool ok = len >= 3 && len <= 5 && s[0] == '0';
	unsigned v = 0;
	for (size_t i = 0; ok && i < len; i++) {
		ok = s[i] >= '0' && s[i] <= '7';
		v = v * 8 + (unsigned)(s[i] - '0');
	}
	if (!ok || v > 07777)
		ck_err(c, n,
			"expected an octal mode of 3 or 4 digits after a 0, such as \"0755\", got "
			"\"%.20s\"",
			s);
	else
		*mode = v;
	free(s);
}

static void read_artifact(op_check *c, const op_node *n, op_artifact *a)
{
	static const char *const keys[] = {"path", "sha256", "mode", "unpack", NULL};
	static const char *const unpacks[] = {"tar", NULL};
	a->mode = OP_ARTIFACT_MODE_DEFAULT;
	a->unpack = OP_UNPACK_NONE;
	if (!ck_map(c, n, keys))
		return;
	const op_node *u;
	if ((u = ck_get(n, "mode")))
		AT_KEY(c, "mode", ck_mode(c, u, &a->mode));
	if ((u = ck_get(n, "unpack"))) {
		int r;
		AT_KEY(c, "unpack", r = ck_enum(c, u, unpacks));
		if (r == 0)
			a->unpack = OP_UNPACK_TAR;
	}
	if (ck_need(c, n, "path"))
		AT_KEY(c, "path", a->path = ck_abs_path(c, ck_get(n, "path")));
	if (!ck_need(c, n, "sha256"))
		return;
	const op_node *v = ck_get(n, "sha256");
	size_t m = ck_key(c, "sha256");
	if (v->kind == OP_NODE_MAP) {
		if (v->n == 0)
			ck_err(c, v, "expected at least one architecture's digest");
		else
			ck_kvs(c, v, 16, CK_KEY_ARCH, CK_VAL_SHA256, &a->sha256_arch);
	} else if (v->kind == OP_NODE_SEQ) {
		ck_err(c, v,
			"expected a sha256 digest of 64 lowercase hex digits, or a mapping of "
			"architecture to digest, got a list");
	} else {
		char *s = ck_str(c, v);
		if (s && !ck_sha256_hex(s)) {
			ck_err(c, v,
				"expected a sha256 digest of 64 lowercase hex digits, or a "
				"mapping of architecture to digest");
			free(s);
			s = NULL;
		}
		a->sha256 = s;
	}
	ck_pop(c, m);
}

/* The properties of a process or (type wasm) of a WASI module. */
static void read_properties(op_check *c, const op_node *n, op_component *comp)
{
	static const char *const keys[] = {"command", "args", "env", "workdir", "restart",
		"rollout", "artifact", "health", "min_ready", "files", "user", "group", "umask",
		"limits", NULL};
	static const char *const wasm_keys[] = {"module", "path", "args", "env", "dirs", "restart",
		"rollout", "health", "min_ready", "user", "group", "umask", "limits", NULL};
	bool wasm = comp->type == OP_COMP_WASM;
	comp->min_ready_ms = OP_MIN_READY_MS;
	if (!ck_map(c, n, wasm ? wasm_keys : keys))
		return;
	const op_node *v;
	if (wasm)
		ck_wasm(c, n, comp);
	else if (ck_need(c, n, "command"))
		AT_KEY(c, "command", comp->command = ck_abs_path(c, ck_get(n, "command")));
	if ((v = ck_get(n, "args")))
		AT_KEY(c, "args", ck_strs(c, v, 0, OP_MAX_ARGS, false, &comp->args));
	if ((v = ck_get(n, "env")))
		AT_KEY(c, "env", ck_env(c, v, comp));
	/* The runtime takes a module's environment on its command line, which any user
	 * of the box can read: no secret goes there. */
	if (wasm && comp->nsecrets && (v = ck_get(n, "env")))
		AT_KEY(c, "env",
			ck_err(c, v,
				"type wasm: a secret cannot be given to a module (the runtime "
				"takes "
				"its environment on its command line); use a process"));
	if ((v = ck_get(n, "files")))
		AT_KEY(c, "files", ck_files(c, v, comp));
	if ((v = ck_get(n, "workdir")))
		AT_KEY(c, "workdir", comp->workdir = ck_abs_path(c, v));
	if ((v = ck_get(n, "restart"))) {
		int r;
		AT_KEY(c, "restart", r = ck_enum(c, v, restart_names));
		comp->restart = r < 0 ? OP_RESTART_ALWAYS : (enum op_restart)r;
	}
	if ((v = ck_get(n, "rollout"))) {
		int r;
		AT_KEY(c, "rollout", r = ck_enum(c, v, rollout_names));
		comp->rollout = r < 0 ? OP_ROLLOUT_START_FIRST : (enum op_rollout)r;
	}
	if (!wasm && (v = ck_get(n, "artifact"))) {
		comp->has_artifact = true;
		AT_KEY(c, "artifact", read_artifact(c, v, &comp->artifact));
	}
	if ((v = ck_get(n, "health"))) {
		comp->has_health = true;
		AT_KEY(c, "health", ck_health(c, v, &comp->health));
	}
	if ((v = ck_get(n, "min_ready")))
		AT_KEY(c, "min_ready", ck_duration(c, v, 0, OP_HEALTH_MAX_MS, &comp->min_ready_ms));
	ck_fence(c, n, &comp->fence);
}

static void read_component(op_check *c, const op_node *n, op_component *comp)
{
	static const char *const keys[] = {"name", "type", "properties", "traits", NULL};
	static const char *const types[] = {"process", "wasm", NULL};
	if (!ck_map(c, n, keys)) {
		read_traits(c, NULL, comp);
		return;
	}
	if (ck_need(c, n, "name"))
		AT_KEY(c, "name", comp->name = ck_name(c, ck_get(n, "name"), "a component name"));
	int type = 0;
	if (ck_need(c, n, "type"))
		AT_KEY(c, "type", type = ck_enum(c, ck_get(n, "type"), types));
	comp->type = type == 1 ? OP_COMP_WASM : OP_COMP_PROCESS;
	if (ck_need(c, n, "properties"))
		AT_KEY(c, "properties", read_properties(c, ck_get(n, "properties"), comp));
	AT_KEY(c, "traits", read_traits(c, ck_get(n, "traits"), comp));
}

static void read_policies(op_check *c, const op_node *n, op_app *app)
{
	static const char *const keys[] = {"name", "type", "properties", NULL};
	static const char *const pkeys[] = {"sites", "requirements", NULL};
	static const char *const types[] = {"placement", "rollout", NULL};
	if (!ck_list(c, n, 0, 8, "policies"))
		return;
	const op_node *rollout = NULL;
	for (size_t i = 0; i < n->n; i++) {
		const op_node *p = n->vals[i], *props, *v;
		size_t m = ck_index(c, i);
		if (!ck_map(c, p, keys)) {
			ck_pop(c, m);
			continue;
		}
		char *name = NULL;
		if (ck_need(c, p, "name"))
			AT_KEY(c, "name", name = ck_name(c, ck_get(p, "name"), "a policy name"));
		int type = -1;
		if (ck_need(c, p, "type"))
			AT_KEY(c, "type", type = ck_enum(c, ck_get(p, "type"), types));
		if (type == 0 && app->has_placement) {
			ck_err(c, p, "an app takes one placement policy");
			type = -1;
		}
		if (type == 1 && rollout) {
			ck_err(c, p, "an app takes one rollout policy; the first is at line %d",
				rollout->line);
			type = -1;
		} else if (type == 1) {
			rollout = p;
			app->has_rollout = true;
			app->rollout.name = name;
			AT_KEY(c, "properties",
				op_rollout_read(c, ck_get(p, "properties"), &app->rollout));
			ck_pop(c, m);
			continue;
		}
		if (type != 0) {
			free(name);
			ck_pop(c, m);
			continue;
		}
		op_placement *pl = &app->placement;
		app->has_placement = true;
		pl->name = name;
		if (ck_need(c, p, "properties")) {
			size_t mp = ck_key(c, "properties");
			props = ck_get(p, "properties");
			if (ck_map(c, props, pkeys)) {
				if ((v = ck_get(props, "sites"))) {
					pl->has_sites = true;
					AT_KEY(c, "sites",
						ck_strs(c, v, 1, OP_MAX_SITES, true, &pl->sites));
				}
				if ((v = ck_get(props, "requirements")))
					AT_KEY(c, "requirements",
						ck_kvs(c, v, OP_MAX_LABELS, CK_KEY_LABEL,
							CK_VAL_LABEL, &pl->requirements));
			}
			ck_pop(c, mp);
		}
		ck_pop(c, m);
	}
}

static void read_spec(op_check *c, const op_node *n, op_app *app)
{
	static const char *const keys[] = {"components", "policies", NULL};
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if ((v = ck_get(n, "policies")))
		AT_KEY(c, "policies", read_policies(c, v, app));
	if (!ck_need(c, n, "components"))
		return;
	v = ck_get(n, "components");
	size_t m = ck_key(c, "components");
	if (ck_list(c, v, 1, OP_MAX_COMPONENTS, "components")) {
		app->comps = calloc(v->n, sizeof *app->comps);
		app->ncomps = app->comps ? v->n : 0;
		if (!app->comps)
			ck_nomem(c, v);
		for (size_t i = 0; i < app->ncomps; i++) {
			size_t mi = ck_index(c, i);
			read_component(c, v->vals[i], &app->comps[i]);
			for (size_t j = 0; j < i && app->comps[i].name; j++) {
				if (app->comps[j].name &&
					!strcmp(app->comps[j].name, app->comps[i].name)) {
					const op_node *nm = ck_get(v->vals[i], "name");
					size_t mn = ck_key(c, "name");
					ck_err(c, nm,
						"duplicate component name \"%s\" (first at line "
						"%d)",
						app->comps[i].name,
						ck_get(v->vals[j], "name")->line);
					ck_pop(c, mn);
					break;
				}
			}
			ck_pop(c, mi);
		}
	}
	ck_pop(c, m);
}

static void read_metadata(op_check *c, const op_node *n, op_app *app)
{
	static const char *const keys[] = {"name", "annotations", NULL};
	if (!ck_map(c, n, keys))
		return;
	const op_node *v;
	if (ck_need(c, n, "name")) {
		v = ck_get(n, "name");
		app->name_line = v->line;
		app->name_col = v->col;
		AT_KEY(c, "name", app->name = ck_name(c, v, "an app name"));
	}
	if ((v = ck_get(n, "annotations")))
		AT_KEY(c, "annotations",
			ck_kvs(c, v, OP_MAX_ANNOTATIONS, CK_KEY_ANNOTATION, CK_VAL_TEXT,
				&app->annotations));
}

/* json: the document is canonical JSON, which carries "format". */
static int read_app(op_check *c, const op_node *root, bool json, op_app **out)
{
	static const char *const keys[] = {"apiVersion", "kind", "metadata", "spec", NULL};
	static const char *const jkeys[] = {
		"apiVersion", "format", "kind", "metadata", "spec", NULL};
	op_app *app = calloc(1, sizeof *app);
	if (!app)
		return OP_ENOMEM;
	if (!root) {
		/* Nothing to point at; the start of the file is where the manifest belongs. */
		static const op_node start = {.kind = OP_NODE_SCALAR, .line = 1, .col = 1};
		ck_err(c, &start,
			"expected a mapping (an Application manifest), got an empty file");
	} else if (ck_map(c, root, json ? jkeys : keys)) {
		const op_node *v;
		if (json && ck_need(c, root, "format")) {
			long long f = 0;
			v = ck_get(root, "format");
			if (op_node_int(v, 0, 1 << 30, &f) != 1 || f != OP_FORMAT) {
				size_t m = ck_key(c, "format");
				ck_err(c, v, "unknown format %s (this outpost reads format %d)",
					v->kind == OP_NODE_SCALAR ? v->text : "?", OP_FORMAT);
				ck_pop(c, m);
			}
		}
		if (ck_need(c, root, "apiVersion"))
			AT_KEY(c, "apiVersion",
				free(ck_exact(c, ck_get(root, "apiVersion"), OP_API_VERSION)));
		if (ck_need(c, root, "kind"))
			AT_KEY(c, "kind", free(ck_exact(c, ck_get(root, "kind"), OP_KIND)));
		if (ck_need(c, root, "metadata"))
			AT_KEY(c, "metadata", read_metadata(c, ck_get(root, "metadata"), app));
		if (ck_need(c, root, "spec"))
			AT_KEY(c, "spec", read_spec(c, ck_get(root, "spec"), app));
	}
	if (c->errors) {
		op_app_free(app);
		return c->nomem ? OP_ENOMEM : OP_EINVAL;
	}
	*out = app;
	return 0;
}

static int parse_doc(
	const char *file, const char *buf, size_t len, bool json, op_app **out, op_diags *d)
{
	op_doc doc;
	*out = NULL;
	int rc = json ? op_doc_parse_json(&doc, file, buf, len, d)
		      : op_doc_parse_yaml(&doc, file, buf, len, d);
	if (rc == 0) {
		op_check c = {.file = file, .d = d, .json = json};
		rc = read_app(&c, doc.root, json, out);
	}
	op_doc_clear(&doc);
	return rc;
}

int op_manifest_parse(const char *file, const char *buf, size_t len, op_app **out, op_diags *d)
{
	return parse_doc(file, buf, len, false, out, d);
}

int op_manifest_from_json(const char *file, const char *json, size_t len, op_app **out, op_diags *d)
{
	return parse_doc(file, json, len, true, out, d);
}

int op_manifest_load(const char *path, const char *display, op_app **out, op_diags *d)
{
	*out = NULL;
	FILE *f = fopen(path, "rb");
	if (!f) {
		op_diags_add(d, display, 0, 0, "", "cannot open: %s", strerror(errno));
		return OP_EIO;
	}
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && st.st_size > OP_DOC_MAX_BYTES) {
		fclose(f);
		op_diags_add(d, display, 1, 1, "", "file too large: %lld bytes (at most %d)",
			(long long)st.st_size, OP_DOC_MAX_BYTES);
		return OP_ETOOBIG;
	}
	char *buf = malloc(OP_DOC_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return OP_ENOMEM;
	}
	size_t n = fread(buf, 1, OP_DOC_MAX_BYTES + 1, f);
	int rd_err = ferror(f);
	fclose(f);
	int rc;
	if (rd_err) {
		op_diags_add(d, display, 0, 0, "", "cannot read: %s", strerror(EIO));
		rc = OP_EIO;
	} else {
		rc = op_manifest_parse(display, buf, n, out, d);
	}
	free(buf);
	return rc;
}
