/* The agent's status in the site's outpost-status bucket: site.<site>.agent, one key
 * per app it runs (deployed / reconciling / failed, desired and running counts, the
 * revision) and one per host. A key is written when its content changes, and all of
 * them again every resync period so "last seen" stays honest; keys of apps and hosts
 * that are gone are deleted. The hub sources these keys whenever the link is up. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

static ag_status_rec *rec_find(op_agent *a, const char *key)
{
	for (size_t i = 0; i < a->nsrec; i++)
		if (!strcmp(a->srec[i].key, key))
			return &a->srec[i];
	return NULL;
}

/* Writes body (stolen) under key when it differs from the last write or on resync;
 * the time it was written (and seen, for hosts, when not NULL) are added to what is
 * written but not compared. */
static void put(op_agent *a, const char *key, json_t *body, const char *seen, bool resync)
{
	char *s = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT);
	ag_status_rec *r = rec_find(a, key);
	if (!s) {
		json_decref(body);
		return;
	}
	if (!r && ag_grow((void **)&a->srec, &a->capsrec, a->nsrec + 1, sizeof *a->srec) == 0) {
		r = &a->srec[a->nsrec++];
		r->key = strdup(key);
		r->body = NULL;
	}
	if (!r || !r->key) {
		free(s);
		json_decref(body);
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
	natsStatus st = out ? kvStore_PutString(NULL, a->status, key, out) : NATS_NO_MEMORY;
	free(out);
	if (st == NATS_OK) {
		free(r->body);
		r->body = s;
	} else {
		free(s);
	}
}

static json_t *labels_json(const op_kvs *l)
{
	json_t *o = json_object();
	for (size_t i = 0; i < l->n; i++)
		json_object_set_new(o, l->v[i].key, json_string(l->v[i].val));
	return o;
}

static const op_hb_inst *hb_inst(op_agent *a, const char *id, const char **host)
{
	for (size_t i = 0; i < a->nhosts; i++)
		for (size_t j = 0; j < a->hosts[i].hb.ninsts; j++)
			if (!strcmp(a->hosts[i].hb.insts[j].id, id)) {
				*host = a->hosts[i].hb.host;
				return &a->hosts[i].hb.insts[j];
			}
	return NULL;
}

static bool has_prefix_suffix(const char *s, const char *pre, const char *suf)
{
	size_t n = strlen(s), p = strlen(pre), q = strlen(suf);
	return n >= p + q && !strncmp(s, pre, p) && !strcmp(s + n - q, suf);
}

static void app_status(op_agent *a, const op_plan_in *in, const op_app *app, const op_cmd *cmds,
	size_t ncmds, bool resync, int64_t now)
{
	int desired = 0, running = 0;
	char failed[1024] = "";
	for (size_t c = 0; c < app->ncomps; c++) {
		const op_component *comp = &app->comps[c];
		char hash[13], pre[2 * OP_NAME_MAX + 4], suf[16];
		if (op_component_hash(comp, hash) != 0)
			continue;
		snprintf(pre, sizeof pre, "%s.%s.", app->name, comp->name);
		snprintf(suf, sizeof suf, "-%s", hash);
		if (comp->scaler.type == OP_SCALER_SPREAD) {
			desired += comp->scaler.instances;
		} else {
			for (size_t h = 0; h < in->nhosts; h++) {
				bool match = comp->scaler.nspread == 0;
				for (size_t k = 0; k < comp->scaler.nspread; k++)
					match |= op_labels_match(&in->hosts[h].labels,
						&comp->scaler.spread[k].requirements);
				desired += in->hosts[h].alive && match ? comp->scaler.instances : 0;
			}
		}
		for (size_t i = 0; i < in->ninsts; i++) {
			const op_inst_view *v = &in->insts[i];
			if (!has_prefix_suffix(v->id, pre, suf))
				continue;
			bool alive = false;
			for (size_t h = 0; h < in->nhosts; h++)
				alive |= !strcmp(in->hosts[h].id, v->host) && in->hosts[h].alive;
			running += alive && v->state == OP_INST_RUNNING;
			if (v->state == OP_INST_FAILED && !failed[0]) {
				const char *host = v->host;
				const op_hb_inst *hi = hb_inst(a, v->id, &host);
				snprintf(failed, sizeof failed, "%s on %s failed: exit %d%s%s",
					v->id, host, hi ? hi->exit_code : -1,
					hi && hi->error[0] ? ": " : "", hi ? hi->error : "");
			}
		}
	}
	bool pending = false;
	for (size_t i = 0; i < ncmds; i++)
		pending |= !strncmp(cmds[i].inst, app->name, strlen(app->name)) &&
			cmds[i].inst[strlen(app->name)] == '.';
	const char *state = failed[0]              ? "failed"
		: (running == desired && !pending) ? "deployed"
						   : "reconciling";
	char msg[1100];
	if (failed[0])
		snprintf(msg, sizeof msg, "%s", failed);
	else
		snprintf(msg, sizeof msg, "%d of %d running", running, desired);
	const char *version = op_kvs_get(&app->annotations, "version");
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:i, s:i}", "v", 1, "site",
		a->cfg.site, "app", app->name, "state", state, "message", msg, "commit",
		a->run.marker.commit, "seq", (json_int_t)a->run.marker.seq, "version",
		version ? version : "", "desired", desired, "running", running);
	char key[256];
	snprintf(key, sizeof key, "site.%s.app.%s", a->cfg.site, app->name);
	(void)now;
	if (j)
		put(a, key, j, NULL, resync);
}

static void host_status(op_agent *a, const ag_host *h, bool resync, int64_t now)
{
	json_t *insts = json_array();
	for (size_t i = 0; i < h->hb.ninsts; i++) {
		const op_hb_inst *in = &h->hb.insts[i];
		json_array_append_new(insts,
			json_pack("{s:s, s:s, s:i, s:i, s:i, s:s}", "id", in->id, "state",
				op_inst_state_name(in->state), "pid", in->pid, "restarts",
				in->restarts, "exit", in->exit_code, "error", in->error));
	}
	char seen[32];
	op_time_rfc3339((op_wall_ms() - (now - h->last_ms)) / 1000, seen);
	json_t *j = json_pack("{s:i, s:s, s:s, s:b, s:o, s:o}", "v", 1, "site", a->cfg.site, "host",
		h->hb.host, "alive", ag_host_alive(a, h, now), "labels", labels_json(&h->hb.labels),
		"instances", insts);
	if (!j)
		return;
	/* last_seen changes with every heartbeat: written on resync or with a real change. */
	char key[256];
	snprintf(key, sizeof key, "site.%s.host.%s", a->cfg.site, h->hb.host);
	put(a, key, j, seen, resync);
}

/* The site's judgement of the hub's newest freshness record (fresh.h): the mirror's,
 * or the hub's as read past a stalled mirror when that one is newer. Logs changes. */
static void freshness(op_agent *a, op_fresh_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!a->have_fresh_pol)
		return;
	int64_t now = op_wall_ms() / 1000;
	op_fresh_run run = {a->have_run ? a->run.marker.seq : 0,
		a->have_run ? a->run.marker.commit : "", a->run_since_ms / 1000};
	const ag_table *tabs[2] = {&a->mirror, &a->mir.hub};
	bool first = true;
	for (int i = 0; i < 2; i++) {
		long k = ag_table_find(tabs[i], "fresh");
		if (k < 0 && !first)
			continue;
		op_fresh_verdict w;
		op_fresh_check(k >= 0 ? tabs[i]->v[k].val : NULL, k >= 0 ? tabs[i]->v[k].len : 0,
			&a->fresh_pol, now, a->cfg.stale_after_ms / 1000, &run, &w);
		if (first || (w.state != OP_FRESH_INVALID && w.time > v->time))
			*v = w;
		first = false;
	}
	if (v->state != a->fresh_state) {
		if (v->state == OP_FRESH_OK)
			op_log_info("fresh: the hub vouches for the revision this site runs",
				"signer=\"%s\"", v->signer);
		else
			op_log_warn("freshness", "state=%s why=\"%s\"",
				op_fresh_state_name(v->state), v->msg);
		a->fresh_state = v->state;
	}
}

void ag_status(op_agent *a, const op_plan_in *in, const op_cmd *cmds, size_t ncmds)
{
	int64_t now = op_now_ms();
	bool resync = now - a->last_resync_ms >= a->cfg.resync_ms;
	if (resync)
		a->last_resync_ms = now;
	for (size_t i = 0; i < a->nsrec; i++)
		a->srec[i].seen = false;
	char key[256];
	snprintf(key, sizeof key, "site.%s.agent", a->cfg.site);
	op_fresh_verdict fv;
	freshness(a, &fv);
	/* The warning joins a bucket with another origin, a stalled mirror and staleness. */
	char warning[sizeof a->warning + sizeof a->mir.note + sizeof fv.msg + 8];
	snprintf(warning, sizeof warning, "%s%s%s%s%s", a->warning,
		a->warning[0] && a->mir.note[0] ? "; " : "", a->mir.note,
		(a->warning[0] || a->mir.note[0]) && fv.msg[0] ? "; " : "", fv.msg);
	char ftime[32] = "";
	if (fv.time)
		op_time_rfc3339(fv.time, ftime);
	json_t *agent = json_pack(
		"{s:i, s:s, s:o, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s}", "v",
		1, "site", a->cfg.site, "labels", labels_json(&a->cfg.labels), "commit",
		a->have_run ? a->run.marker.commit : "", "seq",
		(json_int_t)(a->have_run ? a->run.marker.seq : 0), "signer",
		a->have_run ? a->run.marker.signer : "", "revision_time",
		a->have_run ? a->run.marker.time : "", "problem", a->problem, "warning", warning,
		"mirror", ag_mirror_state_name(a->mir.state), "apps", (int)in->napps, "hosts",
		(int)in->nhosts, "verify", a->cfg.trust ? "edge" : "hub", "freshness",
		op_fresh_state_name(fv.state), "fresh_time", ftime);
	if (agent && a->cfg.trust)
		json_object_set_new(agent, "policy", ag_policy_status(a));
	if (agent)
		put(a, key, agent, NULL, resync);
	for (size_t i = 0; i < in->napps; i++)
		app_status(a, in, in->apps[i], cmds, ncmds, resync, now);
	for (size_t i = 0; i < a->nhosts; i++)
		host_status(a, &a->hosts[i], resync, now);
	for (size_t i = 0; i < a->nsrec;) {
		if (a->srec[i].seen) {
			i++;
			continue;
		}
		kvStore_Delete(a->status, a->srec[i].key);
		free(a->srec[i].key);
		free(a->srec[i].body);
		a->srec[i] = a->srec[--a->nsrec];
	}
}
