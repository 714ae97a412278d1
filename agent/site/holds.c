/* The per-app holds over the revision the site runs (see holds_int.h). */
#include "holds_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

#define HOLDS_FORMAT 1
#define HOLDS_MAX (64 * 1024 * 1024)

static void ent_clear(ag_hold_ent *x)
{
	free(x->spec_json);
	free(x->prev_json);
	op_app_free(x->spec_app);
	memset(x, 0, sizeof *x);
}

void ag_holds_clear(ag_holds *hs)
{
	for (size_t i = 0; i < hs->n; i++)
		ent_clear(&hs->v[i]);
	free(hs->v);
	free(hs->apps);
	free(hs->labels.v);
	memset(hs, 0, sizeof *hs);
}

const ag_hold_ent *ag_holds_find(const ag_holds *hs, const char *app)
{
	for (size_t i = 0; i < hs->n; i++)
		if (!strcmp(hs->v[i].h.app, app))
			return &hs->v[i];
	return NULL;
}

/* spec_app for a spec that is not the revision's (read back from its JSON). */
static int reparse(ag_hold_ent *x, op_err *e)
{
	op_app_free(x->spec_app);
	x->spec_app = NULL;
	if (!x->spec_json)
		return 0;
	op_diags d = {0};
	int rc = op_manifest_from_json(
		x->h.app, x->spec_json, strlen(x->spec_json), &x->spec_app, &d);
	if (rc)
		op_err_set(e, rc, "app %s: its held spec is unreadable: %s", x->h.app,
			d.n ? d.v[0].msg : op_err_name(rc));
	op_diags_clear(&d);
	return rc;
}

/* ---- the file ------------------------------------------------------------------------ */

static int save(const ag_holds *hs, op_err *e)
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
	int rc = op_write_atomic(hs->path, s, strlen(s), e);
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
		ent_clear(x);
		return rc;
	}
	hs->n++;
	return 0;
}

static int load(ag_holds *hs, op_err *e)
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

int ag_holds_init(
	ag_holds *hs, const op_agent_cfg *cfg, bool have_run, const op_trust_policy *pol, op_err *e)
{
	memset(hs, 0, sizeof *hs);
	hs->pol = pol;
	hs->site = cfg->site;
	hs->labels.v = calloc(cfg->labels.n + 1, sizeof *hs->labels.v);
	if (!hs->labels.v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->labels.n; i++)
		hs->labels.v[hs->labels.n++] = cfg->labels.v[i];
	if (!op_kvs_get(&cfg->labels, "site"))
		hs->labels.v[hs->labels.n++] = (op_kv){(char *)"site", (char *)cfg->site};
	if (snprintf(hs->path, sizeof hs->path, "%s/holds.json", cfg->state) >=
		(int)sizeof hs->path)
		return op_err_set(e, OP_ETOOBIG, "--state: path too long");
	op_err le = {0};
	int rc = load(hs, &le);
	if (rc == OP_ENOTFOUND) {
		hs->seed = have_run;
	} else if (rc) {
		op_log_warn("holds: the saved file is unreadable; apps run as the revision says",
			"file=%s error=\"%s\"", hs->path, le.msg);
		for (size_t i = 0; i < hs->n; i++)
			ent_clear(&hs->v[i]);
		hs->n = 0;
		hs->seed = have_run;
	}
	return 0;
}

/* ---- rounds -------------------------------------------------------------------------- */

static int run_index(const op_revision *run, const char *app)
{
	for (size_t i = 0; run && i < run->napps; i++)
		if (!strcmp(run->apps[i]->name, app))
			return (int)i;
	return -1;
}

/* The app as the hold says: the revision's (a) when the hold runs its spec, the held
 * spec's when another, none when none. */
static const op_app *effective(ag_hold_ent *x, const op_app *a, op_err *e)
{
	if (!x->h.spec[0])
		return NULL;
	if (!strcmp(x->h.spec, x->h.target))
		return a;
	if (!x->spec_app && reparse(x, e) != 0) {
		op_log_warn("holds: a held spec is unreadable; the app runs as the revision says",
			"app=%s error=\"%s\"", x->h.app, e->msg);
		return a;
	}
	return x->spec_app;
}

int ag_holds_sync(ag_holds *hs, const op_revision *run, op_err *e)
{
	bool changed = false;
	for (size_t i = 0; i < hs->n;) {
		if (run_index(run, hs->v[i].h.app) >= 0) {
			i++;
			continue;
		}
		ent_clear(&hs->v[i]);
		hs->v[i] = hs->v[--hs->n];
		changed = true;
	}
	hs->napps = 0;
	if (op_grow((void **)&hs->apps, &hs->capapps, (run ? run->napps : 0) + 1, sizeof *hs->apps))
		return op_err_set(e, OP_ENOMEM, "holds: out of memory");
	for (size_t i = 0; run && i < run->napps; i++) {
		const op_app *a = run->apps[i];
		ag_hold_ent *x = (ag_hold_ent *)ag_holds_find(hs, a->name);
		if (!x) {
			if (op_grow((void **)&hs->v, &hs->cap, hs->n + 1, sizeof *hs->v))
				return op_err_set(e, OP_ENOMEM, "holds: out of memory");
			x = &hs->v[hs->n++];
			memset(x, 0, sizeof *x);
			const char *d = op_marker_digest(&run->marker, a->name);
			if (hs->seed && d) {
				op_hold_steady(&x->h, a->name, d, op_wall_ms());
				x->spec_json = strdup(run->json[i]);
			} else {
				op_hold_init(&x->h, a->name);
			}
			changed = true;
		}
		const op_app *eff = effective(x, a, e);
		if (eff)
			hs->apps[hs->napps++] = eff;
	}
	hs->seed = false;
	if (changed && run) {
		op_err se = {0};
		if (save(hs, &se) != 0)
			op_log_warn("holds: cannot save", "file=%s error=\"%s\"", hs->path, se.msg);
	}
	return 0;
}

/* The hub's promotion record for app as the site judges it: NULL none; else p, with err
 * filled when it is refused. */
static const op_promotion *record(const ag_holds *hs, const ag_table *keys, const char *app,
	op_promotion *p, char *err, size_t len)
{
	char key[OP_PROMOTION_KEY_MAX];
	op_err e = {0};
	const ag_entry *k = op_promotion_key(app, key, &e) == 0 ? ag_table_get(keys, key) : NULL;
	if (!k)
		return NULL;
	if (op_promotion_check(k->val, k->len, hs->pol, p, &e) != 0)
		snprintf(err, len, "%.280s", e.msg);
	return p;
}

/* A copy of the JSON of spec d, from what the hold had and the revision's. */
static char *json_of(const char *d, const op_hold *old, const ag_hold_ent *x, const char *target,
	const char *tjson)
{
	const char *src = !d[0]         ? NULL
		: !strcmp(d, target)    ? tjson
		: !strcmp(d, old->spec) ? x->spec_json
		: !strcmp(d, old->prev) ? x->prev_json
					: NULL;
	return src ? strdup(src) : NULL;
}

static void moved(ag_hold_ent *x, const op_hold *old, const char *target, const char *tjson)
{
	char *spec = json_of(x->h.spec, old, x, target, tjson);
	char *prev = json_of(x->h.prev, old, x, target, tjson);
	if ((x->h.spec[0] && !spec) || (x->h.prev[0] && !prev))
		op_log_warn("holds: out of memory keeping a spec", "app=%s", x->h.app);
	free(x->spec_json);
	free(x->prev_json);
	x->spec_json = spec;
	x->prev_json = prev;
	op_app_free(x->spec_app);
	x->spec_app = NULL;
}

static void said(const ag_hold_ent *x, enum op_hold_event ev, const op_hold *old)
{
	char dl[32];
	switch (ev) {
	case OP_HOLD_EV_START:
		op_log_info("rollout: the app runs its new spec", "app=%s spec=%s prev=%s",
			x->h.app, x->h.spec, x->h.prev[0] ? x->h.prev : "none");
		break;
	case OP_HOLD_EV_WAIT:
		op_log_info("rollout: the app waits for its wave", "app=%s spec=%s why=\"%s\"",
			x->h.app, x->h.target, x->h.reason);
		break;
	case OP_HOLD_EV_DONE:
		op_format_duration_ms(x->h.since_ms - old->since_ms, dl);
		op_log_info("rollout: the app is healthy at its new spec", "app=%s spec=%s took=%s",
			x->h.app, x->h.spec, dl);
		break;
	case OP_HOLD_EV_STEADY:
		op_log_info("rollout: the revision names the spec the app runs", "app=%s spec=%s",
			x->h.app, x->h.spec);
		break;
	default: break; /* a rollback is said once its culprit's output is read */
	}
}

bool ag_holds_step(ag_holds *hs, const op_revision *run, const ag_table *keys, const op_plan_in *in,
	const ag_hosts *hosts, bool judge, int64_t now)
{
	bool changed = false, dirty = false;
	int64_t wall = op_wall_ms();
	for (size_t n = 0; run && n < hs->n; n++) {
		ag_hold_ent *x = &hs->v[n];
		int i = run_index(run, x->h.app);
		const char *target = op_marker_digest(&run->marker, x->h.app);
		if (i < 0 || !target)
			continue;
		const op_app *a = run->apps[i];
		op_promotion p;
		char err[300] = "", why[400] = "";
		const op_promotion *rec = record(hs, keys, a->name, &p, err, sizeof err);
		bool may = op_hold_gate(
			a, target, &hs->labels, rec, err[0] ? err : NULL, why, sizeof why);
		op_err e = {0};
		const op_app *eff = effective(x, a, &e);
		ag_app_count c = {0};
		if (eff && in && judge)
			ag_app_count_of(in, hosts, eff, now, &c);
		const char *sick = c.sick[0] ? c.sick + 2 : c.failed[0] ? c.failed : NULL;
		op_hold_in hin = {target, may, why,
			a->has_rollout ? a->rollout.progress_deadline_ms
				       : OP_ROLLOUT_DEADLINE_DEFAULT_MS,
			{c.desired, c.healthy, c.crashing[0] ? c.crashing : NULL, sick}, wall};
		op_hold old = x->h;
		enum op_hold_event ev = op_hold_step(&x->h, &hin);
		dirty |= ev != OP_HOLD_EV_NONE || strcmp(old.reason, x->h.reason) != 0;
		if (strcmp(old.spec, x->h.spec) != 0 || strcmp(old.prev, x->h.prev) != 0) {
			moved(x, &old, target, run->json[i]);
			changed |= strcmp(old.spec, x->h.spec) != 0;
		}
		if (ev == OP_HOLD_EV_ROLLBACK) {
			x->explain = true;
			snprintf(x->culprit, sizeof x->culprit, "%s", c.culprit);
			snprintf(x->culprit_host, sizeof x->culprit_host, "%s", c.culprit_host);
		}
		said(x, ev, &old);
	}
	if (dirty) {
		op_err se = {0};
		if (save(hs, &se) != 0)
			op_log_warn("holds: cannot save", "file=%s error=\"%s\"", hs->path, se.msg);
	}
	return changed;
}

/* The last lines of data, at most n, joined by " | " into out. */
static void last_lines(const char *data, size_t len, int n, char *out, size_t cap)
{
	size_t end = len;
	while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == ' '))
		end--;
	size_t start = end;
	for (int k = 0; k < n && start > 0; k++) {
		start--;
		while (start > 0 && data[start - 1] != '\n')
			start--;
	}
	size_t o = 0;
	for (size_t i = start; i < end && o + 4 < cap; i++) {
		if (data[i] == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else {
			out[o++] = data[i];
		}
	}
	out[o] = '\0';
}

/* The output of inst on host, the last lines of it; "" when it cannot be read. */
static void output_of(const ag_holds *hs, op_bus *bus, pthread_mutex_t *mu, const char *app,
	const char *inst, const char *host, char *out, size_t cap)
{
	out[0] = '\0';
	op_logreq q = {.tail = 2048};
	snprintf(q.app, sizeof q.app, "%s", app);
	snprintf(q.inst, sizeof q.inst, "%s", inst);
	char *json = NULL, subj[256];
	op_err e = {0};
	if (op_logreq_encode(&q, &json, &e) != 0)
		return;
	snprintf(subj, sizeof subj, OP_LOGS_PREFIX ".%s.%s", hs->site, host);
	natsMsg *m = NULL;
	pthread_mutex_unlock(mu);
	natsStatus s = natsConnection_Request(&m, bus->nc, subj, json, (int)strlen(json), 1000);
	pthread_mutex_lock(mu);
	free(json);
	op_logreply r = {0};
	if (s == NATS_OK &&
		op_logreply_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &r, &e) ==
			0)
		for (size_t i = 0; i < r.n && !out[0]; i++)
			if (!strcmp(r.v[i].id, inst))
				last_lines(r.v[i].data, r.v[i].len, 3, out, cap);
	op_logreply_clear(&r);
	natsMsg_Destroy(m);
}

void ag_holds_explain(ag_holds *hs, op_bus *bus, pthread_mutex_t *mu)
{
	bool any = false;
	for (size_t n = 0; n < hs->n; n++) {
		if (!hs->v[n].explain)
			continue;
		/* The entry may move while mu is released: found again by name after. */
		char app[OP_NAME_MAX + 1], inst[OP_INST_MAX + 1], host[OP_HOST_MAX + 1], out[300];
		snprintf(app, sizeof app, "%s", hs->v[n].h.app);
		snprintf(inst, sizeof inst, "%s", hs->v[n].culprit);
		snprintf(host, sizeof host, "%s", hs->v[n].culprit_host);
		hs->v[n].explain = false;
		out[0] = '\0';
		if (inst[0] && host[0])
			output_of(hs, bus, mu, app, inst, host, out, sizeof out);
		ag_hold_ent *x = (ag_hold_ent *)ag_holds_find(hs, app);
		if (!x || x->h.state != OP_HOLD_ROLLED_BACK)
			continue;
		size_t l = strlen(x->h.reason);
		if (out[0] && l < sizeof x->h.reason)
			snprintf(x->h.reason + l, sizeof x->h.reason - l, "; last output: %s", out);
		op_log_warn("rolled back: the app is on its previous spec again",
			"app=%s from=%s to=%s reason=\"%s\"", x->h.app, x->h.target,
			x->h.spec[0] ? x->h.spec : "none", x->h.reason);
		any = true;
	}
	if (any) {
		op_err se = {0};
		if (save(hs, &se) != 0)
			op_log_warn("holds: cannot save", "file=%s error=\"%s\"", hs->path, se.msg);
	}
}
