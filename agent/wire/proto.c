/* The agent <-> host messages (see include/outpost/agent/wire/proto.h): encoders write sorted,
 * compact JSON; decoders read bytes off the network, so they check the size first,
 * then refuse duplicate or unknown keys, wrong types and values out of range, and
 * name the field that is wrong. Small readers over a jansson object (proto_read.c)
 * carry the message name and field path into every error. */
#include "outpost/agent/wire/proto.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/sealed.h"
#include "proto_int.h"

static const char *const state_names[] = {
	[OP_INST_STARTING] = "starting",
	[OP_INST_RUNNING] = "running",
	[OP_INST_BACKOFF] = "backoff",
	[OP_INST_FAILED] = "failed",
	[OP_INST_EXITED] = "exited",
	[OP_INST_STOPPING] = "stopping",
};
#define NSTATES (sizeof state_names / sizeof *state_names)

const char *op_inst_state_name(enum op_inst_state s)
{
	return (size_t)s < NSTATES ? state_names[s] : "unknown";
}

int op_inst_state_parse(const char *s, enum op_inst_state *out)
{
	for (size_t i = 0; s && i < NSTATES; i++)
		if (!strcmp(s, state_names[i])) {
			*out = (enum op_inst_state)i;
			return 0;
		}
	return OP_EINVAL;
}

static const char *const health_names[] = {
	[OP_HEALTH_NONE] = "none",
	[OP_HEALTH_STARTING] = "starting",
	[OP_HEALTH_HEALTHY] = "healthy",
	[OP_HEALTH_UNHEALTHY] = "unhealthy",
};
#define NHEALTH (sizeof health_names / sizeof *health_names)

const char *op_health_name(enum op_health h)
{
	return (size_t)h < NHEALTH ? health_names[h] : "unknown";
}

int op_health_parse(const char *s, enum op_health *out)
{
	for (size_t i = OP_HEALTH_STARTING; s && i < NHEALTH; i++)
		if (!strcmp(s, health_names[i])) {
			*out = (enum op_health)i;
			return 0;
		}
	return OP_EINVAL;
}

static bool chars_ok(const char *s, size_t max, const char *extra, bool upper)
{
	size_t n = 0;
	for (; s && s[n]; n++) {
		char c = s[n];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			    (upper && c >= 'A' && c <= 'Z') || strchr(extra, c)))
			return false;
	}
	return n >= 1 && n <= max;
}

bool op_inst_id_valid(const char *id)
{
	return chars_ok(id, OP_INST_MAX, ".@-", false) && id[0] != '.' && id[0] != '-' &&
		id[0] != '@';
}

bool op_label_key_valid(const char *k)
{
	return chars_ok(k, 63, "._/-", true);
}

bool op_label_value_valid(const char *v)
{
	return chars_ok(v, 63, "._-", true);
}

static bool boot_valid(const char *s)
{
	return chars_ok(s, OP_BOOT_MAX, "-", false);
}

/* --- text -------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), 0 when s starts an invalid one. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] >= 0xe0 && s[0] <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))
			return 0; /* overlong, surrogate */
		return 3;
	}
	if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
			return 0; /* overlong, past U+10FFFF */
		return 4;
	}
	return 0;
}

void op_proto_text(char *dst, size_t cap, const char *src)
{
	size_t o = 0;
	bool cut = false;
	for (const unsigned char *p = (const unsigned char *)src; p && *p;) {
		size_t n = utf8_len(p), out = n ? n : 1;
		if (o + out > cap - 1) {
			cut = true;
			break;
		}
		if (n == 0)
			dst[o] = '?';
		else if (n == 1 && (*p < 0x20 || *p == 0x7f))
			dst[o] = ' ';
		else
			memcpy(dst + o, p, n);
		o += out;
		p += out;
	}
	if (cut) {
		while (o > 0 && o + 3 > cap - 1) {
			o--;
			while (o > 0 && ((unsigned char)dst[o] & 0xc0) == 0x80)
				o--;
		}
		memcpy(dst + o, "...", 3);
		o += 3;
	}
	dst[o] = '\0';
}

/* --- heartbeat ------------------------------------------------------------------------- */

static json_t *hb_inst_json(const op_hb_inst *in)
{
	if (!op_inst_id_valid(in->id) || (size_t)in->state >= NSTATES)
		return NULL;
	json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i}", "id", in->id, "state",
		op_inst_state_name(in->state), "pid", in->pid, "restarts", in->restarts, "exit",
		in->exit_code);
	if (o && in->error[0]) {
		char text[sizeof in->error];
		op_proto_text(text, sizeof text, in->error);
		o = pr_set(o, "error", json_string(text));
	}
	if (o && in->retry_ms > 0)
		o = pr_set(o, "retry_ms", json_integer(in->retry_ms));
	if (o && (size_t)in->health >= NHEALTH) {
		json_decref(o);
		return NULL;
	}
	if (o && in->state == OP_INST_RUNNING && in->health != OP_HEALTH_NONE)
		o = pr_set(o, "health", json_string(op_health_name(in->health)));
	if (o && in->probe[0]) {
		char text[sizeof in->probe];
		op_proto_text(text, sizeof text, in->probe);
		o = pr_set(o, "probe", json_string(text));
	}
	return o;
}

int op_heartbeat_encode(const op_heartbeat *hb, char **json, op_err *e)
{
	*json = NULL;
	if (hb->ninsts > OP_HB_MAX_INSTANCES || hb->labels.n > OP_HB_MAX_LABELS)
		return op_err_set(e, OP_ETOOBIG,
			"heartbeat: %zu instances, %zu labels: over the "
			"limit of %d, %d",
			hb->ninsts, hb->labels.n, OP_HB_MAX_INSTANCES, OP_HB_MAX_LABELS);
	if (!op_name_valid(hb->host) || !op_name_valid(hb->site) || !boot_valid(hb->boot))
		return op_err_set(e, OP_EINVAL, "heartbeat: bad host, site or boot id");
	json_t *labels = json_object();
	for (size_t i = 0; labels && i < hb->labels.n; i++)
		labels = pr_set(labels, hb->labels.v[i].key, json_string(hb->labels.v[i].val));
	json_t *insts = json_array();
	for (size_t i = 0; insts && i < hb->ninsts; i++) {
		json_t *o = hb_inst_json(&hb->insts[i]);
		if (!o || json_array_append_new(insts, o) != 0) {
			json_decref(insts);
			insts = NULL;
		}
	}
	json_t *j = NULL;
	if (labels && insts)
		j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:I, s:O, s:O}", "v", OP_PROTO_VERSION,
			"host", hb->host, "site", hb->site, "boot", hb->boot, "seq",
			(json_int_t)hb->seq, "interval_ms", (json_int_t)hb->interval_ms, "labels",
			labels, "instances", insts);
	json_decref(labels);
	json_decref(insts);
	/* Left out when unsaid, so an older agent's decoder still takes the heartbeat. */
	if (j && hb->limits[0])
		j = pr_set(j, "limits", json_string(hb->limits));
	if (j && hb->cgroup[0])
		j = pr_set(j, "cgroup", json_string(hb->cgroup));
	if (j && hb->wasm[0])
		j = pr_set(j, "wasm", json_string(hb->wasm));
	return pr_dump(j, "heartbeat", OP_HB_MAX_BYTES, json, e);
}

static int hb_inst_decode(const pr_rd *r, json_t *o, op_hb_inst *in)
{
	static const char *const keys[] = {"id", "state", "pid", "restarts", "exit", "error",
		"retry_ms", "health", "probe", NULL};
	if (!json_is_object(o))
		return op_err_set(r->e, OP_EINVAL, "%s: %.*s: expected an object", r->msg,
			(int)strlen(r->path) - 1, r->path);
	int rc;
	const char *id, *state, *error, *health, *probe;
	json_int_t pid, restarts, code, retry = 0;
	if ((rc = pr_only_keys(r, o, keys)) ||
		(rc = pr_str(r, o, "id", true, OP_INST_MAX, false, op_inst_id_valid,
			 "an instance id: [a-z0-9.@-], 1..255", &id)) ||
		(rc = pr_str(r, o, "state", true, 16, false, NULL, "a state", &state)) ||
		(rc = pr_int(r, o, "pid", 0, INT32_MAX, &pid)) ||
		(rc = pr_int(r, o, "restarts", 0, INT32_MAX, &restarts)) ||
		(rc = pr_int(r, o, "exit", -1, 255, &code)) ||
		(json_object_get(o, "retry_ms") &&
			(rc = pr_int(r, o, "retry_ms", 0, INT32_MAX, &retry))) ||
		(rc = pr_str(r, o, "error", false, sizeof in->error - 1, true, NULL,
			 "a string of at most 255 bytes", &error)) ||
		(rc = pr_str(r, o, "health", false, 16, false, NULL, "a health", &health)) ||
		(rc = pr_str(r, o, "probe", false, sizeof in->probe - 1, true, NULL,
			 "a string of at most 255 bytes", &probe)))
		return rc;
	if (op_inst_state_parse(state, &in->state) != 0)
		return pr_bad(r, "state",
			"expected one of starting, running, backoff, failed, "
			"exited, stopping",
			"");
	in->health = in->state == OP_INST_RUNNING ? OP_HEALTH_HEALTHY : OP_HEALTH_NONE;
	if (health && in->state != OP_INST_RUNNING)
		return pr_bad(r, "health", "expected only while the state is running", "");
	if (health && op_health_parse(health, &in->health) != 0)
		return pr_bad(r, "health", "expected one of starting, healthy, unhealthy", "");
	memcpy(in->id, id, strlen(id) + 1);
	in->pid = (int)pid;
	in->restarts = (int)restarts;
	in->exit_code = (int)code;
	in->retry_ms = (int64_t)retry;
	op_proto_text(in->error, sizeof in->error, error ? error : ""); /* goes into logs */
	op_proto_text(in->probe, sizeof in->probe, probe ? probe : "");
	return 0;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

static int labels_decode(const pr_rd *r, json_t *o, op_kvs *out)
{
	if (!json_is_object(o))
		return pr_bad(r, "labels", "expected an object", "");
	if (json_object_size(o) > OP_HB_MAX_LABELS)
		return op_err_set(
			r->e, OP_ETOOBIG, "%s: labels: more than %d", r->msg, OP_HB_MAX_LABELS);
	out->v = calloc(json_object_size(o) + 1, sizeof *out->v);
	if (!out->v)
		return op_err_set(r->e, OP_ENOMEM, "%s: out of memory", r->msg);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		const char *s = json_string_value(v);
		if (!op_label_key_valid(k) || !s || json_string_length(v) != strlen(s) ||
			!op_label_value_valid(s))
			return op_err_set(r->e, OP_EINVAL,
				"%s: labels.%.64s: expected a key of "
				"[A-Za-z0-9._/-] and a value of "
				"[A-Za-z0-9._-], 1..63 each",
				r->msg, k);
		op_kv *kv = &out->v[out->n];
		kv->key = strdup(k);
		kv->val = strdup(s);
		out->n++;
		if (!kv->key || !kv->val)
			return op_err_set(r->e, OP_ENOMEM, "%s: out of memory", r->msg);
	}
	qsort(out->v, out->n, sizeof *out->v, kv_cmp);
	return 0;
}

/* A word of the heartbeat's host facts: printable, no spaces or quotes. */
static bool text_ok(const char *s)
{
	for (; *s; s++)
		if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
			return false;
	return true;
}

int op_heartbeat_decode(const char *buf, size_t len, op_heartbeat *hb, op_err *e)
{
	static const char *const keys[] = {"v", "host", "site", "boot", "seq", "interval_ms",
		"labels", "instances", "limits", "cgroup", "wasm", NULL};
	memset(hb, 0, sizeof *hb);
	pr_rd r = {"heartbeat", "", e};
	int rc = 0;
	json_t *j = pr_load(&r, buf, len, OP_HB_MAX_BYTES, &rc);
	if (!j)
		return rc;
	const char *host, *site, *boot, *limits = NULL, *cgroup = NULL, *wasm = NULL;
	json_int_t seq, every;
	json_t *labels, *insts;
	if ((rc = pr_only_keys(&r, j, keys)) ||
		(rc = pr_str(&r, j, "host", true, OP_HOST_MAX, false, op_name_valid,
			 "a host id: [a-z0-9-], 1..63", &host)) ||
		(rc = pr_str(&r, j, "site", true, OP_NAME_MAX, false, op_name_valid,
			 "a site name: [a-z0-9-], 1..63", &site)) ||
		(rc = pr_str(&r, j, "boot", true, OP_BOOT_MAX, false, boot_valid,
			 "a boot id: [a-z0-9-], 1..63", &boot)) ||
		(rc = pr_int(&r, j, "seq", 0, INT64_MAX, &seq)) ||
		(rc = pr_int(&r, j, "interval_ms", OP_HB_MIN_INTERVAL_MS, OP_HB_MAX_INTERVAL_MS,
			 &every)) ||
		!(labels = pr_field(&r, j, "labels", true, &rc)) ||
		!(insts = pr_field(&r, j, "instances", true, &rc)) ||
		(rc = labels_decode(&r, labels, &hb->labels)) ||
		(rc = pr_str(&r, j, "limits", false, sizeof hb->limits - 1, false, text_ok,
			 "a word", &limits)) ||
		(rc = pr_str(&r, j, "cgroup", false, sizeof hb->cgroup - 1, false, text_ok,
			 "a word", &cgroup)) ||
		(rc = pr_str(&r, j, "wasm", false, sizeof hb->wasm - 1, false, text_ok,
			 "none or a version", &wasm)))
		goto out;
	snprintf(hb->limits, sizeof hb->limits, "%s", limits ? limits : "");
	snprintf(hb->cgroup, sizeof hb->cgroup, "%s", cgroup ? cgroup : "");
	snprintf(hb->wasm, sizeof hb->wasm, "%s", wasm ? wasm : "");
	if (!json_is_array(insts)) {
		rc = pr_bad(&r, "instances", "expected an array", "");
		goto out;
	}
	size_t n = json_array_size(insts);
	if (n > OP_HB_MAX_INSTANCES) {
		rc = op_err_set(e, OP_ETOOBIG, "heartbeat: instances: %zu is over the limit of %d",
			n, OP_HB_MAX_INSTANCES);
		goto out;
	}
	hb->insts = calloc(n + 1, sizeof *hb->insts);
	if (!hb->insts) {
		rc = op_err_set(e, OP_ENOMEM, "heartbeat: out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char path[32];
		snprintf(path, sizeof path, "instances[%zu].", i);
		pr_rd ri = {"heartbeat", path, e};
		if ((rc = hb_inst_decode(&ri, json_array_get(insts, i), &hb->insts[i])) != 0)
			goto out;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(hb->insts[k].id, hb->insts[i].id)) {
				rc = pr_bad(&ri, "id", "duplicate instance ", hb->insts[i].id);
				goto out;
			}
		hb->ninsts++;
	}
	memcpy(hb->host, host, strlen(host) + 1);
	memcpy(hb->site, site, strlen(site) + 1);
	memcpy(hb->boot, boot, strlen(boot) + 1);
	hb->seq = (uint64_t)seq;
	hb->interval_ms = every;
out:
	json_decref(j);
	if (rc)
		op_heartbeat_clear(hb);
	return rc;
}

void op_heartbeat_clear(op_heartbeat *hb)
{
	for (size_t i = 0; hb->labels.v && i < hb->labels.n; i++) {
		free(hb->labels.v[i].key);
		free(hb->labels.v[i].val);
	}
	free(hb->labels.v);
	free(hb->insts);
	hb->labels.v = NULL;
	hb->labels.n = 0;
	hb->insts = NULL;
	hb->ninsts = 0;
}

/* --- commands -------------------------------------------------------------------------- */

/* Whether id names an instance of component comp of app: "<app>.<comp>.<rest>". */
static bool id_of(const char *id, const op_app *app, size_t comp)
{
	size_t an = strlen(app->name), cn = strlen(app->comps[comp].name);
	return !strncmp(id, app->name, an) && id[an] == '.' &&
		!strncmp(id + an + 1, app->comps[comp].name, cn) && id[an + 1 + cn] == '.' &&
		id[an + 2 + cn] != '\0';
}

int op_hostcmd_encode(const op_hostcmd *c, char **json, op_err *e)
{
	*json = NULL;
	if (!op_inst_id_valid(c->id))
		return op_err_set(e, OP_EINVAL, "command: id: expected an instance id");
	if (c->op == OP_CMD_STOP || c->op == OP_CMD_RESTART)
		return pr_dump(json_pack("{s:i, s:s, s:s}", "v", OP_PROTO_VERSION, "op",
				       c->op == OP_CMD_STOP ? "stop" : "restart", "id", c->id),
			"command", OP_CMD_MAX_BYTES, json, e);
	if (c->op != OP_CMD_START || !c->app || c->comp >= c->app->ncomps)
		return op_err_set(e, OP_EINVAL,
			"command: expected a start with an app and one of "
			"its components, or a stop");
	if (!id_of(c->id, c->app, c->comp))
		return op_err_set(e, OP_EINVAL, "command: id: %s is not an instance of %s.%s",
			c->id, c->app->name, c->app->comps[c->comp].name);
	char *app = NULL;
	size_t alen = 0;
	if (op_manifest_to_json(c->app, &app, &alen) != 0)
		return op_err_set(e, OP_ENOMEM, "command: cannot encode the app");
	if (alen > OP_CMD_MAX_BYTES) {
		free(app);
		return op_err_set(e, OP_ETOOBIG,
			"command: app %s: %zu bytes is over the limit "
			"of %d",
			c->app->name, alen, OP_CMD_MAX_BYTES);
	}
	json_t *aj = json_loadb(app, alen, 0, NULL);
	free(app);
	json_t *j = aj ? json_pack("{s:i, s:s, s:s, s:I, s:o}", "v", OP_PROTO_VERSION, "op",
				 "start", "id", c->id, "comp", (json_int_t)c->comp, "app", aj)
		       : NULL;
	if (j && c->nsecrets) {
		char *sj = NULL;
		int rc = op_secret_vals_encode(c->secrets, c->nsecrets, &sj, e);
		if (rc) {
			json_decref(j);
			return rc;
		}
		j = pr_set(j, "secrets", json_loads(sj, 0, NULL));
		op_secret_free(sj, strlen(sj) + 1);
	}
	return pr_dump(j, "command", OP_CMD_MAX_BYTES, json, e);
}

/* The app object back to bytes and through the manifest validator. */
static int app_decode(const pr_rd *r, json_t *aj, op_app **app)
{
	if (!json_is_object(aj))
		return pr_bad(r, "app", "expected an object (the app's canonical JSON)", "");
	char *s = json_dumps(aj, JSON_SORT_KEYS | JSON_COMPACT);
	if (!s)
		return op_err_set(r->e, OP_ENOMEM, "%s: out of memory", r->msg);
	op_diags d = {0};
	int rc = op_manifest_from_json("app", s, strlen(s), app, &d);
	free(s);
	if (rc == OP_ENOMEM) {
		op_err_set(r->e, rc, "%s: out of memory", r->msg);
	} else if (rc != 0) {
		if (d.n > 0)
			op_err_set(r->e, OP_EINVAL, "%s: app: %s: %s", r->msg, d.v[0].path,
				d.v[0].msg);
		else
			op_err_set(r->e, OP_EINVAL, "%s: app: invalid", r->msg);
		rc = OP_EINVAL;
	}
	op_diags_clear(&d);
	return rc;
}

int op_hostcmd_decode(const char *buf, size_t len, op_hostcmd *c, op_err *e)
{
	static const char *const start_keys[] = {"v", "op", "id", "comp", "app", "secrets", NULL};
	static const char *const stop_keys[] = {"v", "op", "id", NULL};
	memset(c, 0, sizeof *c);
	pr_rd r = {"command", "", e};
	int rc = 0;
	json_t *j = pr_load(&r, buf, len, OP_CMD_MAX_BYTES, &rc);
	if (!j)
		return rc;
	const char *op, *id;
	if ((rc = pr_str(&r, j, "op", true, 8, false, NULL, "start, stop or restart", &op)))
		goto out;
	if (strcmp(op, "start") != 0 && strcmp(op, "stop") != 0 && strcmp(op, "restart") != 0) {
		rc = pr_bad(&r, "op", "expected start, stop or restart", "");
		goto out;
	}
	c->op = !strcmp(op, "start")  ? OP_CMD_START
		: !strcmp(op, "stop") ? OP_CMD_STOP
				      : OP_CMD_RESTART;
	if ((rc = pr_only_keys(&r, j, c->op == OP_CMD_START ? start_keys : stop_keys)) ||
		(rc = pr_str(&r, j, "id", true, OP_INST_MAX, false, op_inst_id_valid,
			 "an instance id: [a-z0-9.@-], 1..255", &id)))
		goto out;
	memcpy(c->id, id, strlen(id) + 1);
	if (c->op != OP_CMD_START)
		goto out;
	json_int_t comp;
	json_t *aj;
	if ((rc = pr_int(&r, j, "comp", 0, OP_MAX_COMPONENTS - 1, &comp)) ||
		!(aj = pr_field(&r, j, "app", true, &rc)) || (rc = app_decode(&r, aj, &c->app)))
		goto out;
	if ((size_t)comp >= c->app->ncomps) {
		rc = pr_bad(&r, "comp", "expected the index of one of the app's components", "");
		goto out;
	}
	c->comp = (size_t)comp;
	if (!id_of(c->id, c->app, c->comp)) {
		rc = op_err_set(e, OP_EINVAL, "command: id: %s is not an instance of %s.%s", c->id,
			c->app->name, c->app->comps[c->comp].name);
		goto out;
	}
	json_t *sj = json_object_get(j, "secrets");
	if (sj) {
		char *s = json_dumps(sj, JSON_COMPACT);
		rc = s ? op_secret_vals_decode(s, strlen(s), &c->secrets, &c->nsecrets, e)
		       : op_err_set(e, OP_EINVAL, "command: secrets: expected an object");
		if (s)
			op_secret_free(s, strlen(s) + 1);
	}
out:
	json_decref(j);
	if (rc)
		op_hostcmd_clear(c);
	return rc;
}

void op_hostcmd_clear(op_hostcmd *c)
{
	op_app_free(c->app);
	c->app = NULL;
	op_secret_vals_free(c->secrets, c->nsecrets);
	c->secrets = NULL;
	c->nsecrets = 0;
}

/* --- replies --------------------------------------------------------------------------- */

int op_hostreply_encode(const op_hostreply *r, char **json, op_err *e)
{
	json_t *j = json_pack("{s:i, s:b}", "v", OP_PROTO_VERSION, "ok", r->ok);
	if (j && !r->ok) {
		char text[sizeof r->error];
		op_proto_text(text, sizeof text, r->error[0] ? r->error : "failed");
		j = pr_set(j, "error", json_string(text));
	}
	return pr_dump(j, "reply", OP_REPLY_MAX_BYTES, json, e);
}

int op_hostreply_decode(const char *buf, size_t len, op_hostreply *out, op_err *e)
{
	static const char *const keys[] = {"v", "ok", "error", NULL};
	memset(out, 0, sizeof *out);
	pr_rd r = {"reply", "", e};
	int rc = 0;
	json_t *j = pr_load(&r, buf, len, OP_REPLY_MAX_BYTES, &rc);
	if (!j)
		return rc;
	json_t *ok;
	const char *error = NULL;
	if ((rc = pr_only_keys(&r, j, keys)) || !(ok = pr_field(&r, j, "ok", true, &rc)))
		goto out;
	if (!json_is_boolean(ok)) {
		rc = pr_bad(&r, "ok", "expected true or false", "");
		goto out;
	}
	out->ok = json_is_true(ok);
	if ((rc = pr_str(&r, j, "error", !out->ok, sizeof out->error - 1, false, NULL,
		     "a message of 1..511 bytes", &error)))
		goto out;
	if (out->ok && error)
		rc = pr_bad(&r, "error", "unexpected with \"ok\":true", "");
	else
		op_proto_text(out->error, sizeof out->error, error ? error : "");
out:
	json_decref(j);
	return rc;
}
