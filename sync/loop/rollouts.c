/* Sync's rollouts: the reads and writes around the pure wave decisions (see
 * include/outpost/sync/loop/rollouts.h and wavehub.h). Records are plain puts, like
 * `fresh`: only this sync writes them, and a site takes the newest it holds. */
#include "outpost/sync/loop/rollouts.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/trust/rollout_sig.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/agent/wire/rollout.h"
#include "outpost/sync/loop/wavehub.h"

static void app_clear(op_rollout_app *a)
{
	op_app_free(a->app);
	free(a->view);
	memset(a, 0, sizeof *a);
}

void op_rollouts_clear(op_rollouts *r)
{
	for (size_t i = 0; i < r->n; i++)
		app_clear(&r->apps[i]);
	free(r->apps);
	memset(r, 0, sizeof *r);
}

static void view_delete(kvStore *status, const char *app)
{
	char key[sizeof OP_WAVEHUB_VIEW_PREFIX + OP_NAME_MAX];
	snprintf(key, sizeof key, OP_WAVEHUB_VIEW_PREFIX "%s", app);
	kvStore_Delete(status, key);
}

/* The apps of the revision the marker names that have 2+ waves, read again when the
 * marker's seq moves; views of apps that left are deleted. */
static int load_apps(op_rollouts *r, kvStore *kv, kvStore *status, op_err *e)
{
	char *val = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	op_marker m = {0};
	int rc = op_bus_kv_get(kv, "rev", &val, &len, &rev, e);
	if (rc == OP_ENOTFOUND) {
		free(val);
		return 0;
	}
	if (rc == 0)
		rc = op_marker_decode(val, len, &m, e);
	free(val);
	if (rc || m.seq == r->seq) {
		op_marker_clear(&m);
		return rc;
	}
	op_rollout_app *v = m.napps ? calloc(m.napps, sizeof *v) : NULL;
	size_t n = 0;
	if (m.napps && !v)
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && i < m.napps; i++) {
		char key[OP_NAME_MAX + 8];
		snprintf(key, sizeof key, "app.%s", m.apps[i].name);
		op_app *app = NULL;
		op_diags d = {0};
		rc = op_bus_kv_get(kv, key, &val, &len, &rev, e);
		if (rc == 0 && op_manifest_from_json(key, val, len, &app, &d) != 0)
			rc = op_err_set(e, OP_EINVAL, "%s: unreadable", key);
		free(val);
		val = NULL;
		op_diags_clear(&d);
		if (!rc && app->has_rollout && op_wave_count(&app->rollout) >= 2) {
			v[n].app = app;
			memcpy(v[n].digest, m.apps[i].digest, sizeof v[n].digest);
			n++;
		} else {
			op_app_free(app);
		}
	}
	if (rc) {
		for (size_t i = 0; i < n; i++)
			app_clear(&v[i]);
		free(v);
		op_marker_clear(&m);
		return rc;
	}
	/* Keep the views written of apps that stay; delete those of apps that left. */
	for (size_t i = 0; i < r->n; i++) {
		op_rollout_app *keep = NULL;
		for (size_t j = 0; j < n && !keep; j++)
			if (!strcmp(v[j].app->name, r->apps[i].app->name))
				keep = &v[j];
		if (keep) {
			keep->view = r->apps[i].view;
			r->apps[i].view = NULL;
		} else {
			view_delete(status, r->apps[i].app->name);
		}
	}
	for (size_t i = 0; i < r->n; i++)
		app_clear(&r->apps[i]);
	free(r->apps);
	r->apps = v;
	r->n = n;
	r->seq = m.seq;
	memcpy(r->commit, m.commit, sizeof r->commit);
	op_marker_clear(&m);
	return 0;
}

/* The status bucket's site keys, with the times they were written. */
typedef struct entries {
	op_wavehub_entry *v;
	size_t n;
} entries;

static void entries_clear(entries *x)
{
	for (size_t i = 0; i < x->n; i++) {
		free((char *)x->v[i].key);
		free((char *)x->v[i].val);
	}
	free(x->v);
	memset(x, 0, sizeof *x);
}

struct took {
	entries *x;
	size_t cap;
};

static int take_entry(void *arg, const op_bus_kv_ent *ent)
{
	struct took *t = arg;
	entries *x = t->x;
	if (op_grow((void **)&x->v, &t->cap, x->n + 1, sizeof *x->v) != 0)
		return OP_ENOMEM;
	op_wavehub_entry *it = &x->v[x->n++];
	char *val = malloc(ent->len + 1);
	if (val) {
		memcpy(val, ent->val, ent->len);
		val[ent->len] = '\0';
	}
	it->key = strdup(ent->key);
	it->val = val;
	it->len = ent->len;
	it->created_ms = ent->created_ms;
	return it->key && it->val ? 0 : OP_ENOMEM;
}

/* The sites' keys of the status bucket, as they are now: a report written while it is
 * read is not a reason to miss a site (a canary wave seen empty is promoted). They come
 * in key order (bytewise), as op_wavehub_gather looks them up. */
static int read_status(jsCtx *js, kvStore *status, entries *x, op_err *e)
{
	int rc = op_bus_kv_read(js, status, "site.>", false, take_entry, &(struct took){x, 0}, e);
	if (rc == OP_ENOMEM)
		op_err_set(e, OP_ENOMEM, "out of memory");
	if (rc)
		entries_clear(x);
	return rc;
}

/* The record held for app: 0 with *held filled, OP_ENOTFOUND when none or unreadable
 * (an unreadable one is written over by a new rollout, and said). */
static int get_record(kvStore *kv, const char *app, op_promotion *held, op_err *e)
{
	char key[OP_PROMOTION_KEY_MAX], *val = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	int rc = op_promotion_key(app, key, e);
	if (rc == 0)
		rc = op_bus_kv_get(kv, key, &val, &len, &rev, e);
	if (rc == 0 && op_promotion_decode(val, len, held, e) != 0) {
		op_log_warn("hub.rollout record unreadable: a new rollout starts",
			"app=%s error=\"%s\"", app, e->msg);
		rc = OP_ENOTFOUND;
	}
	free(val);
	return rc;
}

static int put_record(kvStore *kv, const op_promotion *p, const op_sshpriv *key, op_err *e)
{
	char k[OP_PROMOTION_KEY_MAX], *json = NULL;
	int rc = op_promotion_key(p->app, k, e);
	if (rc == 0)
		rc = op_promotion_sign(p, key, &json, e);
	if (rc == 0) {
		/* A plain put: no expectation header a mirror would have to recheck. */
		natsStatus s = kvStore_PutString(NULL, kv, k, json);
		if (s != NATS_OK)
			rc = op_bus_err(e, s, "put rollout record");
	}
	free(json);
	return rc;
}

static const char *wname(const op_rollout_policy *pol, int k)
{
	return k >= 0 && (size_t)k < pol->nwaves && pol->waves[k].name ? pol->waves[k].name : "?";
}

/* The record held for a, started anew when the revision brings another spec. */
static int current(op_rollouts *r, op_rollout_app *a, kvStore *kv, const op_sshpriv *key,
	int64_t now_ms, op_promotion *held, op_err *e)
{
	int rc = get_record(kv, a->app->name, held, e);
	if (rc && rc != OP_ENOTFOUND)
		return rc;
	if (!op_wavehub_starts(rc ? NULL : held, a->digest))
		return 0;
	op_wavehub_start(a->app->name, a->digest, r->commit, r->seq, now_ms / 1000, held);
	if ((rc = put_record(kv, held, key, e)) != 0)
		return rc;
	op_log_info("hub.rollout started", "app=%s digest=%.19s seq=%llu waves=%d wave=%s",
		a->app->name, a->digest, (unsigned long long)r->seq,
		op_wave_count(&a->app->rollout), wname(&a->app->rollout, 0));
	return 0;
}

static int step_app(op_rollouts *r, op_rollout_app *a, kvStore *kv, kvStore *status,
	const op_sshpriv *key, const op_wavehub_sites *sites, const entries *x, int64_t now_ms,
	op_err *e)
{
	op_promotion held, next;
	const op_rollout_policy *pol = &a->app->rollout;
	int rc = current(r, a, kv, key, now_ms, &held, e);
	if (rc)
		return rc;
	op_wavehub_tally t = {0};
	op_wave_out out;
	if ((rc = op_wavehub_gather(a->app, held.digest, held.promoted, sites, x->v, x->n, &t, e)))
		return rc;
	op_wave_in in = {.policy = pol,
		.promoted = held.promoted,
		.sites = t.sites,
		.nsites = t.n,
		.digest = held.digest,
		.now_ms = now_ms,
		.halted = held.halted};
	op_wave_decide(&in, &out);
	enum op_wavehub_act act = op_wavehub_apply(&held, &out, now_ms / 1000, &next);
	if (act != OP_WAVEHUB_KEEP && (rc = put_record(kv, &next, key, e)) != 0) {
		op_wavehub_tally_clear(&t);
		return rc;
	}
	if (act == OP_WAVEHUB_PROMOTE)
		op_log_info("hub.rollout promoted", "app=%s wave=%s index=%d seq=%llu why=\"%s\"",
			a->app->name, wname(pol, next.promoted), next.promoted,
			(unsigned long long)next.seq, out.why);
	else if (act == OP_WAVEHUB_HALT)
		op_log_warn("hub.rollout halted", "app=%s wave=%s site=%s reason=\"%s\"",
			a->app->name, wname(pol, next.promoted), out.site ? out.site : "-",
			next.reason);
	char *view = op_wavehub_view(&next, pol, &out, &t);
	op_wavehub_tally_clear(&t);
	if (!view)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (!a->view || strcmp(view, a->view) != 0) {
		char k[sizeof OP_WAVEHUB_VIEW_PREFIX + OP_NAME_MAX];
		snprintf(k, sizeof k, OP_WAVEHUB_VIEW_PREFIX "%s", a->app->name);
		natsStatus s = kvStore_PutString(NULL, status, k, view);
		if (s != NATS_OK) {
			free(view);
			return op_bus_err(e, s, "put hub.rollout status");
		}
		free(a->view);
		a->view = view;
	} else {
		free(view);
	}
	return 0;
}

static void said(op_rollouts *r, int rc, const op_err *e)
{
	if (rc && !r->failing)
		op_log_warn("hub.rollout cannot step; retrying", "error=\"%s\"", e->msg);
	else if (!rc && r->failing)
		op_log_info("hub.rollout steps again", NULL);
	r->failing = rc != 0;
}

void op_rollouts_step(op_rollouts *r, jsCtx *js, kvStore *kv, kvStore *status,
	const op_sshpriv *key, int64_t now_ms)
{
	op_err e = {0};
	if (!kv || !status)
		return;
	int rc = load_apps(r, kv, status, &e);
	if (rc || !r->n) {
		said(r, rc, &e);
		return;
	}
	entries x = {0};
	op_wavehub_sites sites = {0};
	if ((rc = read_status(js, status, &x, &e)) == 0)
		rc = op_wavehub_sites_read(x.v, x.n, &sites, &e);
	for (size_t i = 0; !rc && i < r->n; i++)
		rc = step_app(r, &r->apps[i], kv, status, key, &sites, &x, now_ms, &e);
	op_wavehub_sites_clear(&sites);
	entries_clear(&x);
	said(r, rc, &e);
}

static char *reply(const char *error, const op_promotion *p)
{
	json_t *rec = NULL;
	char *pj = NULL;
	op_err e = {0};
	if (p && op_promotion_encode(p, &pj, &e) == 0)
		rec = json_loads(pj, 0, NULL);
	free(pj);
	json_t *j = json_pack("{s:i, s:b, s:s, s:o?}", "v", 1, "ok", !error, "error",
		error ? error : "", "record", rec ? rec : json_null());
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

char *op_rollouts_request(op_rollouts *r, kvStore *kv, kvStore *status, const op_sshpriv *key,
	const char *subject, const char *data, size_t len, int64_t now_ms)
{
	bool promote = !strcmp(subject, OP_SUBJECT_PROMOTE);
	json_t *j = json_loadb(data, len > 4096 ? 0 : len, JSON_REJECT_DUPLICATES, NULL);
	const char *app = json_string_value(json_object_get(j, "app"));
	const char *wave = json_string_value(json_object_get(j, "wave"));
	const char *why = json_string_value(json_object_get(j, "reason"));
	char msg[512];
	op_err e = {0};
	op_promotion held, next;
	op_rollout_app *a = NULL;
	int rc = 0;
	if (!kv || !status)
		rc = op_err_set(&e, OP_ENATS, "sync has not connected to its buckets yet");
	else if (!app || !op_name_valid(app))
		rc = op_err_set(&e, OP_EINVAL, "the request names no app");
	else if ((rc = load_apps(r, kv, status, &e)) == 0) {
		for (size_t i = 0; i < r->n && !a; i++)
			if (!strcmp(r->apps[i].app->name, app))
				a = &r->apps[i];
		if (!a)
			rc = op_err_set(&e, OP_EINVAL,
				"%s: no such app with a rollout policy of 2 or more waves in the "
				"accepted revision (seq %llu)",
				app, (unsigned long long)r->seq);
	}
	if (!rc)
		rc = current(r, a, kv, key, now_ms, &held, &e);
	if (!rc && promote)
		rc = op_wavehub_promote(&held, &a->app->rollout, wave, now_ms / 1000, &next, &e);
	else if (!rc)
		rc = op_wavehub_halt(
			&held, &a->app->rollout, why ? why : "", now_ms / 1000, &next, &e);
	if (!rc && (next.halted != held.halted || next.promoted != held.promoted))
		rc = put_record(kv, &next, key, &e);
	if (rc) {
		snprintf(msg, sizeof msg, "%s", e.msg);
		op_log_warn(promote ? "hub.rollout promote refused" : "hub.rollout halt refused",
			"app=%s error=\"%s\"", app && op_name_valid(app) ? app : "-", msg);
		json_decref(j); /* app and the others point into it */
		return reply(msg, NULL);
	}
	json_decref(j);
	if (promote)
		op_log_info("hub.rollout promoted by hand", "app=%s wave=%s index=%d resumed=%s",
			next.app, wname(&a->app->rollout, next.promoted), next.promoted,
			held.halted ? "true" : "false");
	else if (!held.halted)
		op_log_warn("hub.rollout halted by hand", "app=%s wave=%s reason=\"%s\"", next.app,
			wname(&a->app->rollout, next.promoted), next.reason);
	return reply(NULL, &next);
}
