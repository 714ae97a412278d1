/* The per-app holds over the revision the site runs (see holds_int.h). */
#include "holds_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

void ag_hold_ent_clear(ag_hold_ent *x)
{
	free(x->spec_json);
	free(x->prev_json);
	op_app_free(x->spec_app);
	op_app_free(x->prev_app);
	memset(x, 0, sizeof *x);
}

void ag_holds_clear(ag_holds *hs)
{
	for (size_t i = 0; i < hs->n; i++)
		ag_hold_ent_clear(&hs->v[i]);
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

/* An app read back from a hold's canonical JSON into *out (NULL when json is). */
static int read_back(const char *app, const char *json, op_app **out, op_err *e)
{
	op_app_free(*out);
	*out = NULL;
	if (!json)
		return 0;
	op_diags d = {0};
	int rc = op_manifest_from_json(app, json, strlen(json), out, &d);
	if (rc)
		op_err_set(e, rc, "app %s: its held spec is unreadable: %s", app,
			d.n ? d.v[0].msg : op_err_name(rc));
	op_diags_clear(&d);
	return rc;
}

/* spec_app for a spec that is not the revision's. */
static int reparse(ag_hold_ent *x, op_err *e)
{
	return read_back(x->h.app, x->spec_json, &x->spec_app, e);
}

/* The spec a rollout would go back to, read once; NULL when none or unreadable. */
static const op_app *prev_of(ag_hold_ent *x)
{
	op_err e = {0};
	if (!x->h.prev[0] || !x->prev_json)
		return NULL;
	if (!x->prev_app && read_back(x->h.app, x->prev_json, &x->prev_app, &e) != 0)
		return NULL;
	return x->prev_app;
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
	int rc = ag_holds_load(hs, &le);
	if (rc == OP_ENOTFOUND) {
		hs->seed = have_run;
	} else if (rc) {
		op_log_warn("holds: the saved file is unreadable; apps run as the revision says",
			"file=%s error=\"%s\"", hs->path, le.msg);
		for (size_t i = 0; i < hs->n; i++)
			ag_hold_ent_clear(&hs->v[i]);
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
		ag_hold_ent_clear(&hs->v[i]);
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
	if (changed && run)
		ag_holds_save(hs, false); /* the revision's apps: the revision's file is durable */
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
	op_app_free(x->prev_app);
	x->prev_app = NULL;
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
	bool changed = false, dirty = false, durable = false;
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
			ag_app_count_of(in, hosts, eff, prev_of(x), now, &c);
		const char *sick = c.sick[0] ? c.sick + 2 : c.failed[0] ? c.failed : NULL;
		op_hold_in hin = {target, may, why,
			a->has_rollout ? a->rollout.progress_deadline_ms
				       : OP_ROLLOUT_DEADLINE_DEFAULT_MS,
			{c.desired, c.healthy, c.crashing[0] ? c.crashing : NULL, sick}, wall};
		op_hold old = x->h;
		enum op_hold_event ev = op_hold_step(&x->h, &hin);
		dirty |= ev != OP_HOLD_EV_NONE || strcmp(old.reason, x->h.reason) != 0;
		durable |= op_hold_durable(&old, &x->h);
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
	if (dirty)
		ag_holds_save(hs, durable);
	return changed;
}
