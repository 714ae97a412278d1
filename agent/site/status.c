/* The agent's status in the site's outpost-status bucket (see status_int.h):
 * site.<site>.agent, one key per app it runs (deployed / reconciling / failed, desired and
 * running counts, the revision) and one per host. A key is written when its content
 * changes, and all of them again every resync period so "last seen" stays honest; keys of
 * apps and hosts that are gone are deleted. The hub sources these keys whenever the link
 * is up. */
#include "status_int.h"

#include "appcount_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

int ag_status_init(ag_status *st, const op_agent_cfg *cfg, op_err *e)
{
	memset(st, 0, sizeof *st);
	st->site = cfg->site;
	st->labels = &cfg->labels;
	st->edge = cfg->trust != NULL;
	st->resync_ms = cfg->resync_ms;
	int64_t report = cfg->report_ms > 0 ? cfg->report_ms : AG_REPORT_MS;
	st->report_ms = cfg->resync_ms < report ? cfg->resync_ms : report;
	st->stale_after_ms = cfg->stale_after_ms;
	if (!cfg->fresh_signers)
		return 0;
	char *buf = NULL;
	size_t len = 0;
	int rc = op_read_file(cfg->fresh_signers, OP_TRUST_MAX_FILE, &buf, &len, e);
	if (rc == 0)
		rc = op_trust_parse(&st->fresh_pol, cfg->fresh_signers, buf, len, e);
	free(buf);
	st->have_fresh_pol = rc == 0;
	return rc;
}

void ag_status_clear(ag_status *st)
{
	for (size_t i = 0; i < st->nrec; i++)
		free(st->rec[i].key), free(st->rec[i].body);
	free(st->rec);
	ag_ghosts_clear(st);
	if (st->have_fresh_pol)
		op_trust_clear(&st->fresh_pol);
	memset(st, 0, sizeof *st);
}

/* One line per change of failure, not one per round. */
static void failed(ag_status *st, const char *key, const char *why)
{
	char msg[sizeof st->failed];
	snprintf(msg, sizeof msg, "%s", why);
	if (strcmp(msg, st->failed) != 0)
		op_log_warn("cannot write status; will retry", "key=%s error=\"%s\"", key, why);
	snprintf(st->failed, sizeof st->failed, "%s", msg);
}

static ag_status_rec *rec_find(ag_status *st, const char *key)
{
	for (size_t i = 0; i < st->nrec; i++)
		if (!strcmp(st->rec[i].key, key))
			return &st->rec[i];
	return NULL;
}

static ag_status_rec *rec_add(ag_status *st, const char *key)
{
	char *k = strdup(key);
	if (!k || op_grow((void **)&st->rec, &st->caprec, st->nrec + 1, sizeof *st->rec)) {
		free(k);
		return NULL;
	}
	ag_status_rec *r = &st->rec[st->nrec++];
	r->key = k;
	r->body = NULL;
	return r;
}

/* Writes body (stolen; NULL: it could not be built) under key when it differs from the
 * last write or on resync; the time it was written (and seen, for hosts, when not NULL)
 * are added to what is written but not compared. */
void ag_status_put(ag_status *st, const char *key, json_t *body, const char *seen, bool resync)
{
	char *s = body ? json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	ag_status_rec *r = rec_find(st, key);
	if (s && !r)
		r = rec_add(st, key);
	if (!s || !r) {
		if (r)
			r->seen = true; /* kept as it was, not deleted */
		free(s);
		json_decref(body);
		failed(st, key, "out of memory");
		return;
	}
	r->seen = true;
	if (!resync && r->body && !strcmp(r->body, s)) {
		free(s);
		json_decref(body);
		return;
	}
	char now[32];
	op_time_rfc3339(op_wall_ms() / 1000, now);
	json_object_set_new(body, "updated", json_string(now));
	if (seen)
		json_object_set_new(body, "last_seen", json_string(seen));
	char *out = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(body);
	natsStatus ns = out ? kvStore_PutString(NULL, st->kv, key, out) : NATS_NO_MEMORY;
	if (ns == NATS_OK && st->report)
		ag_report_put(st->report, key, out);
	free(out);
	if (ns == NATS_OK) {
		free(r->body);
		r->body = s;
		st->failed[0] = '\0';
	} else {
		free(s);
		failed(st, key, natsStatus_GetText(ns));
	}
}

static json_t *labels_json(const op_kvs *l)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < l->n; i++)
		json_object_set_new(o, l->v[i].key, json_string(l->v[i].val));
	return o;
}

/* Whether alive host h meets one of comp's spreads (or comp has none). */
static bool host_fits(const op_host_view *h, const op_component *comp)
{
	if (!h->alive)
		return false;
	bool any = comp->scaler.nspread == 0;
	for (size_t k = 0; k < comp->scaler.nspread && !any; k++)
		any = op_labels_match(&h->labels, &comp->scaler.spread[k].requirements);
	return any;
}

/* Why a component that wants instances has no host to run on, into why ("" when it
 * has one): no host alive at all, none whose labels match any of its spreads, or (a
 * wasm component) none of those with a WebAssembly runtime. */
static void not_placed(const op_plan_in *in, const op_component *comp, char *why, size_t len)
{
	if (comp->scaler.instances == 0)
		return;
	bool fits = false, runs = false, alive = false;
	for (size_t h = 0; h < in->nhosts; h++) {
		bool f = host_fits(&in->hosts[h], comp);
		fits |= f;
		runs |= f && (comp->type != OP_COMP_WASM || in->hosts[h].wasm);
		alive |= in->hosts[h].alive;
	}
	if (runs)
		return;
	if (!alive) {
		snprintf(why, len, "not placed: no host of this site is alive");
		return;
	}
	if (fits) {
		snprintf(why, len,
			"not placed: no host it may run on has a WebAssembly runtime (component "
			"%s)",
			comp->name ? comp->name : "?");
		return;
	}
	/* The requirements of its spreads, "k=v,k=v" each, joined by " or ". */
	size_t n = (size_t)snprintf(why, len, "not placed: no host matches ");
	for (size_t k = 0; k < comp->scaler.nspread && n < len; k++) {
		const op_kvs *r = &comp->scaler.spread[k].requirements;
		n += (size_t)snprintf(why + n, len - n, "%s", k ? " or " : "");
		for (size_t i = 0; i < r->n && n < len; i++)
			n += (size_t)snprintf(why + n, len - n, "%s%s=%s", i ? "," : "",
				r->v[i].key, r->v[i].val);
	}
	if (n < len && comp->name)
		snprintf(why + n, len - n, " (component %s)", comp->name);
}

static void app_put(ag_status *st, const ag_status_in *si, const op_app *app, const ag_hold_ent *x,
	const char *state, const char *msg, const int n[3], bool resync);

static void app_status(ag_status *st, const ag_status_in *si, const op_app *app, bool resync)
{
	const op_plan_in *in = si->plan;
	ag_app_count n;
	ag_app_count_of(in, si->hosts, app, NULL, si->now, &n);
	int desired = n.desired, running = n.running, healthy = n.healthy;
	const char *failed_ = n.failed, *sick = n.sick;
	char unplaced[300] = "";
	for (size_t c = 0; c < app->ncomps && !unplaced[0]; c++)
		not_placed(in, &app->comps[c], unplaced, sizeof unplaced);
	bool pending = false;
	for (size_t i = 0; i < si->ncmds; i++)
		pending |= !strncmp(si->cmds[i].inst, app->name, strlen(app->name)) &&
			si->cmds[i].inst[strlen(app->name)] == '.';
	const char *state = failed_[0]             ? "failed"
		: unplaced[0]                      ? "not-placed"
		: (healthy == desired && !pending) ? "deployed"
						   : "reconciling";
	char msg[1800];
	if (failed_[0])
		snprintf(msg, sizeof msg, "%s", failed_);
	else if (unplaced[0])
		snprintf(msg, sizeof msg, "%s", unplaced);
	else if (healthy < running)
		snprintf(msg, sizeof msg, "%d of %d running, %d healthy%s", running, desired,
			healthy, sick);
	else
		snprintf(msg, sizeof msg, "%d of %d running%s", running, desired, sick);
	const ag_hold_ent *x = si->holds ? ag_holds_find(si->holds, app->name) : NULL;
	char held[sizeof msg];
	if (x && (x->h.state == OP_HOLD_ROLLED_BACK || x->h.state == OP_HOLD_WAITING)) {
		state = op_hold_state_name(x->h.state);
		if (x->h.state == OP_HOLD_ROLLED_BACK)
			snprintf(held, sizeof held,
				"rolled back from %.19s: %s; the previous spec: %.300s",
				x->h.target, x->h.reason, msg);
		else
			snprintf(held, sizeof held, "%s; the previous spec: %.300s", x->h.reason,
				msg);
		snprintf(msg, sizeof msg, "%s", held);
	}
	app_put(st, si, app, x, state, msg, (int[]){desired, running, healthy}, resync);
}

/* An app the site holds without running any spec of it (new here, its wave waits). */
static void waiting_status(ag_status *st, const ag_status_in *si, const ag_hold_ent *x, bool resync)
{
	for (size_t i = 0; si->run && i < si->run->napps; i++) {
		const op_app *a = si->run->apps[i];
		if (!strcmp(a->name, x->h.app) && op_placement_matches(a, st->site, st->labels))
			app_put(st, si, a, x, "waiting", x->h.reason, (int[]){0, 0, 0}, resync);
	}
}

static void app_put(ag_status *st, const ag_status_in *si, const op_app *app, const ag_hold_ent *x,
	const char *state, const char *msg, const int n[3], bool resync)
{
	const char *version = op_kvs_get(&app->annotations, "version");
	const char *target = si->run ? op_marker_digest(&si->run->marker, app->name) : NULL;
	const char *spec = x ? x->h.spec : target ? target : "";
	char key[256];
	snprintf(key, sizeof key, "site.%s.app.%s", st->site, app->name);
	/* Since when the app is in this state at this spec: a held app's, since its hold
	 * began; else as this agent saw it change. */
	ag_status_rec *r = rec_find(st, key);
	int64_t since = op_wall_ms() / 1000;
	if (x && (x->h.state == OP_HOLD_ROLLED_BACK || x->h.state == OP_HOLD_WAITING))
		since = x->h.since_ms / 1000;
	else if (r && !strcmp(r->state, state) && !strcmp(r->spec, spec))
		since = r->since;
	char since_s[32];
	op_time_rfc3339(since, since_s);
	json_t *j = json_pack(
		"{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:i, s:i, s:s, s:s, s:s, s:s}", "v",
		1, "site", st->site, "app", app->name, "state", state, "message", msg, "commit",
		si->run ? si->run->marker.commit : "", "seq",
		(json_int_t)(si->run ? si->run->marker.seq : 0), "version", version ? version : "",
		"desired", n[0], "running", n[1], "healthy", n[2], "spec", spec, "target",
		target ? target : "", "since", since_s, "reason", x ? x->h.reason : "");
	ag_status_put(st, key, j, NULL, resync);
	if ((r = rec_find(st, key)) != NULL) {
		snprintf(r->state, sizeof r->state, "%s", state);
		snprintf(r->spec, sizeof r->spec, "%s", spec);
		r->since = since;
	}
}

static void host_status(
	ag_status *st, const ag_hosts *hs, const ag_host *h, bool resync, int64_t now)
{
	json_t *insts = json_array();
	for (size_t i = 0; insts && i < h->hb.ninsts; i++) {
		const op_hb_inst *in = &h->hb.insts[i];
		json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:s}", "id", in->id, "state",
			op_inst_state_name(in->state), "pid", in->pid, "restarts", in->restarts,
			"exit", in->exit_code, "error", in->error);
		if (o && in->health != OP_HEALTH_NONE)
			json_object_set_new(o, "health", json_string(op_health_name(in->health)));
		if (o && in->probe[0])
			json_object_set_new(o, "probe", json_string(in->probe));
		json_array_append_new(insts, o);
	}
	char seen[32];
	op_time_rfc3339((op_wall_ms() - (now - h->last_ms)) / 1000, seen);
	json_t *j = json_pack("{s:i, s:s, s:s, s:b, s:o, s:o}", "v", 1, "site", st->site, "host",
		h->hb.host, "alive", ag_host_alive(hs, h, now), "labels",
		labels_json(&h->hb.labels), "instances", insts);
	/* What fences its workloads in and whether it runs wasm, as far as it says. */
	if (j && h->hb.limits[0])
		json_object_set_new(j, "limits", json_string(h->hb.limits));
	if (j && h->hb.cgroup[0])
		json_object_set_new(j, "cgroup", json_string(h->hb.cgroup));
	if (j)
		json_object_set_new(j, "wasm", json_string(h->hb.wasm[0] ? h->hb.wasm : "none"));
	/* last_seen changes with every heartbeat: written on resync or with a real change. */
	char key[256];
	snprintf(key, sizeof key, "site.%s.host.%s", st->site, h->hb.host);
	ag_status_put(st, key, j, seen, resync);
}

/* The site's judgement of the hub's newest freshness record (fresh.h): the mirror's,
 * or the hub's as read past a stalled mirror when that one is newer. Logs changes. */
static void freshness(ag_status *st, const ag_status_in *si, op_fresh_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!st->have_fresh_pol)
		return;
	int64_t now = op_wall_ms() / 1000;
	op_fresh_run run = {si->run ? si->run->marker.seq : 0,
		si->run ? si->run->marker.commit : "", si->run_since_ms / 1000};
	const ag_table *tabs[2] = {si->mirror_keys, si->hub_keys};
	bool first = true;
	for (int i = 0; i < 2; i++) {
		const ag_entry *k = tabs[i] ? ag_table_get(tabs[i], "fresh") : NULL;
		if (!k && !first)
			continue;
		op_fresh_verdict w;
		op_fresh_check(k ? k->val : NULL, k ? k->len : 0, &st->fresh_pol, now,
			st->stale_after_ms / 1000, &run, &w);
		if (first || (w.state != OP_FRESH_INVALID && w.time > v->time))
			*v = w;
		first = false;
	}
	if (v->state != st->fresh_state) {
		if (v->state == OP_FRESH_OK)
			op_log_info("fresh: the hub vouches for the revision this site runs",
				"signer=\"%s\"", v->signer);
		else
			op_log_warn("freshness", "state=%s why=\"%s\"",
				op_fresh_state_name(v->state), v->msg);
		st->fresh_state = v->state;
	}
}

/* "a; b; c" of the parts that are not empty. */
static void join(char *out, size_t len, const char *const *parts, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (!parts[i] || !parts[i][0] || used >= len)
			continue;
		int w = snprintf(out + used, len - used, "%s%s", used ? "; " : "", parts[i]);
		if (w < 0)
			return;
		used += (size_t)w;
	}
}

static void agent_status(ag_status *st, const ag_status_in *si, bool resync)
{
	op_fresh_verdict fv;
	freshness(st, si, &fv);
	/* The warning joins a bucket with another origin, a stalled mirror and staleness;
	 * the problem, the revision choice's and the round's own failure. */
	char warning[512 + 320 + sizeof fv.msg + 8], problem[2 * sizeof si->problem->msg + 16];
	const char *w[] = {si->bucket_warning, si->mirror_note, fv.msg};
	join(warning, sizeof warning, w, 3);
	const char *p[] = {
		si->problem->code ? si->problem->msg : "", si->fault->code ? si->fault->msg : ""};
	join(problem, sizeof problem, p, 2);
	char ftime[32] = "";
	if (fv.time)
		op_time_rfc3339(fv.time, ftime);
	const op_marker *m = si->run ? &si->run->marker : NULL;
	json_t *j = json_pack(
		"{s:i, s:s, s:o, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s}", "v",
		1, "site", st->site, "labels", labels_json(st->labels), "commit",
		m ? m->commit : "", "seq", (json_int_t)(m ? m->seq : 0), "signer",
		m ? m->signer : "", "revision_time", m ? m->time : "", "problem", problem,
		"warning", warning, "mirror", si->mirror_state, "apps",
		(int)(si->plan ? si->plan->napps : 0), "hosts", (int)si->hosts->n, "verify",
		st->edge ? "edge" : "hub", "freshness", op_fresh_state_name(fv.state), "fresh_time",
		ftime);
	if (j) {
		/* How often this key is rewritten, so that a reader can tell an agent (or a
		 * link) that stopped reporting from one with nothing new to say. */
		json_object_set_new(j, "resync_ms", json_integer(st->resync_ms));
		json_object_set_new(j, "report_ms", json_integer(st->report_ms));
		if (st->edge && si->policy)
			json_object_set_new(j, "policy", ag_policy_status(si->policy));
		/* Only with artifacts, so that sites without any report what they did. */
		if (json_array_size(si->artifacts))
			json_object_set(j, "artifacts", si->artifacts);
		if (si->held)
			json_object_set_new(j, "staging",
				json_pack("{s:s, s:I}", "commit", si->held->commit, "seq",
					(json_int_t)si->held->seq));
	}
	char key[256];
	snprintf(key, sizeof key, "site.%s.agent", st->site);
	bool report = si->now - st->last_report_ms >= st->report_ms;
	if (report)
		st->last_report_ms = si->now;
	ag_status_put(st, key, j, NULL, resync || report);
}

static void write_round(ag_status *st, const ag_status_in *si)
{
	bool resync = si->now - st->last_resync_ms >= st->resync_ms;
	if (resync)
		st->last_resync_ms = si->now;
	/* Without a plan this round, the keys of apps and hosts stay as they were. */
	for (size_t i = 0; i < st->nrec; i++)
		st->rec[i].seen = si->plan == NULL;
	agent_status(st, si, resync);
	if (!si->plan)
		return;
	for (size_t i = 0; i < si->plan->napps; i++)
		app_status(st, si, si->plan->apps[i], resync);
	for (size_t i = 0; si->holds && i < si->holds->n; i++)
		if (!si->holds->v[i].h.spec[0] && si->holds->v[i].h.state == OP_HOLD_WAITING)
			waiting_status(st, si, &si->holds->v[i], resync);
	for (size_t i = 0; i < si->nblocked; i++)
		if (op_placement_matches(si->blocked[i].app, st->site, st->labels))
			app_put(st, si, si->blocked[i].app, NULL, "failed", si->blocked[i].why,
				(int[]){0, 0, 0}, resync);
	for (size_t i = 0; i < si->hosts->n; i++)
		host_status(st, si->hosts, &si->hosts->v[i], resync, si->now);
	ag_ghosts_write(st, si);
	for (size_t i = 0; i < st->nrec;) {
		if (st->rec[i].seen) {
			i++;
			continue;
		}
		if (kvStore_Delete(st->kv, st->rec[i].key) == NATS_OK && st->report)
			ag_report_put(st->report, st->rec[i].key, NULL);
		free(st->rec[i].key);
		free(st->rec[i].body);
		st->rec[i] = st->rec[--st->nrec];
	}
}

void ag_status_write(ag_status *st, const ag_status_in *si)
{
	if (!st->kv)
		return;
	write_round(st, si);
	if (st->report)
		ag_report_send(st->report);
}
