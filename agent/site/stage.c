/* The artifacts staged at the site (see stage_int.h): the round's side (what is needed,
 * whether a revision may apply, status) and the kept needs of the revision before the
 * running one, so that a rollback to it downloads nothing. The I/O is in stage_io.c. */
#include "stage_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/plan/plan.h"

/* ---- kept needs across restarts ---------------------------------------------------- */

static json_t *digests_json(const op_art_refs *r)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < r->n; i++) {
		char d[OP_ART_DIGEST_LEN + 1];
		op_art_digest_format(r->v[i].sha256, d);
		json_array_append_new(a, json_pack("{s:s, s:s}", "digest", d, "app", r->v[i].app));
	}
	return a;
}

static bool keeps_nothing(const ag_stage *st)
{
	return st->run_needs.n == 0 && st->prev.n == 0;
}

/* A site without artifacts does not rewrite the file with every revision: with nothing
 * kept, a stale run_seq rotates nothing into prev after a restart. */
static void save(ag_stage *st)
{
	bool empty = keeps_nothing(st);
	if (empty && st->disk_empty)
		return;
	json_t *j = json_pack("{s:i, s:I, s:o, s:o}", "v", 1, "run_seq", (json_int_t)st->run_seq,
		"run", digests_json(&st->run_needs), "prev", digests_json(&st->prev));
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	op_err e = {0};
	if (!body || op_write_atomic(st->path, body, strlen(body), &e) != 0)
		op_log_warn("cannot keep the staging state", "path=%s error=\"%s\"", st->path,
			body ? e.msg : "out of memory");
	else
		st->disk_empty = empty;
	free(body);
}

static void load_refs(op_art_refs *r, json_t *a)
{
	size_t i;
	json_t *x;
	json_array_foreach(a, i, x)
	{
		uint8_t sha[32];
		const char *d = json_string_value(json_object_get(x, "digest"));
		const char *app = json_string_value(json_object_get(x, "app"));
		if (d && app && op_art_digest_parse(d, sha) == 0)
			op_art_refs_add(r, sha, app, NULL);
	}
}

int ag_stage_init(ag_stage *st, op_bus *bus, const op_agent_cfg *cfg, op_err *e)
{
	memset(st, 0, sizeof *st);
	st->bus = bus;
	st->site = cfg->site;
	int n = snprintf(st->path, sizeof st->path, "%s/staging.json", cfg->state);
	if (n < 0 || (size_t)n >= sizeof st->path)
		return op_err_set(e, OP_ETOOBIG, "--state %.200s: path too long", cfg->state);
	json_t *j = json_load_file(st->path, 0, NULL);
	if (j) { /* a bad file only costs a download: the hub has the bytes */
		st->run_seq = (uint64_t)json_integer_value(json_object_get(j, "run_seq"));
		load_refs(&st->run_needs, json_object_get(j, "run"));
		load_refs(&st->prev, json_object_get(j, "prev"));
		json_decref(j);
	}
	st->disk_empty = keeps_nothing(st);
	return 0;
}

void ag_stage_clear(ag_stage *st)
{
	for (size_t i = 0; i < st->n; i++)
		op_objmeta_clear(&st->v[i].hub);
	free(st->v);
	op_art_refs_clear(&st->want);
	op_art_refs_clear(&st->prev);
	op_art_refs_clear(&st->run_needs);
	memset(st, 0, sizeof *st);
}

/* ---- what the site needs ------------------------------------------------------------- */

size_t ag_stage_archs(const ag_hosts *hs, const char **archs, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < hs->n; i++) {
		const ag_host *h = &hs->v[i];
		const char *a = op_kvs_get(&h->hb.labels, "arch");
		if (!a)
			continue;
		bool seen = false;
		for (size_t k = 0; !seen && k < n; k++)
			seen = !strcmp(archs[k], a);
		if (!seen && n < max)
			archs[n++] = a;
	}
	return n;
}

int ag_stage_needs(const op_revision *r, const op_agent_cfg *cfg, const char *const *archs,
	size_t narchs, op_art_refs *out, op_err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && r && i < r->napps; i++)
		if (op_placement_matches(r->apps[i], cfg->site, &cfg->labels))
			rc = op_stage_need_app(out, r->apps[i], archs, narchs, e);
	return rc;
}

static ag_art *find(const ag_stage *st, const uint8_t sha[32])
{
	for (size_t i = 0; i < st->n; i++)
		if (!memcmp(st->v[i].sha256, sha, 32))
			return &st->v[i];
	return NULL;
}

static int add_all(op_art_refs *into, const op_art_refs *from, op_err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && from && i < from->n; i++)
		rc = op_art_refs_add(into, from->v[i].sha256, from->v[i].app, e);
	return rc;
}

int ag_stage_want(
	ag_stage *st, uint64_t run_seq, const op_art_refs *run, const op_art_refs *cand, op_err *e)
{
	int rc = 0;
	if (run && run_seq != st->run_seq) { /* a revision applied: its predecessor is kept */
		if (st->run_seq) {
			op_art_refs_clear(&st->prev);
			rc = add_all(&st->prev, &st->run_needs, e);
		}
		st->run_seq = run_seq;
		op_art_refs_clear(&st->run_needs);
		if (!rc)
			rc = add_all(&st->run_needs, run, e);
		save(st);
		st->gc_ms = 0; /* what the revision before last needed may go now */
	} else if (run && !rc && run->n != st->run_needs.n) { /* a new arch among the hosts */
		op_art_refs_clear(&st->run_needs);
		rc = add_all(&st->run_needs, run, e);
	}
	op_art_refs_clear(&st->want);
	if (!rc)
		rc = add_all(&st->want, run, e);
	if (!rc)
		rc = add_all(&st->want, cand, e);
	if (!rc)
		rc = add_all(&st->want, &st->prev, e);
	for (size_t i = 0; i < st->n; i++)
		st->v[i].wanted = false;
	for (size_t i = 0; !rc && i < st->want.n; i++) {
		ag_art *a = find(st, st->want.v[i].sha256);
		if (!a) {
			if (op_grow((void **)&st->v, &st->cap, st->n + 1, sizeof *st->v) != 0)
				return op_err_set(e, OP_ENOMEM, "out of memory");
			a = &st->v[st->n++];
			memset(a, 0, sizeof *a);
			memcpy(a->sha256, st->want.v[i].sha256, 32);
			op_art_digest_format(a->sha256, a->digest);
			st->next_ms = 0; /* ask about it now */
		}
		a->wanted = true;
	}
	return rc;
}

op_stage_item ag_stage_item(const ag_art *a)
{
	op_stage_item it = {.state = a ? a->state : OP_STAGE_UNKNOWN};
	if (a && a->have_hub) {
		it.total = a->hub.size;
		it.done = a->state == OP_STAGE_STAGED ? a->hub.size
						      : op_stage_done(&a->hub, a->chunks_here);
	}
	return it;
}

static double mb(uint64_t b)
{
	return (double)b / 1e6;
}

bool ag_stage_ready(const ag_stage *st, const op_art_refs *need, char *why, size_t cap)
{
	op_stage_item *items = calloc(need->n ? need->n : 1, sizeof *items);
	if (!items) {
		snprintf(why, cap, "out of memory");
		return false;
	}
	const ag_art *first_bad = NULL;
	for (size_t i = 0; i < need->n; i++) {
		const ag_art *a = find(st, need->v[i].sha256);
		items[i] = ag_stage_item(a);
		memcpy(items[i].sha256, need->v[i].sha256, 32);
		if (a && a->state == OP_STAGE_REFUSED && !first_bad)
			first_bad = a;
	}
	op_stage_verdict v;
	op_stage_gate(items, need->n, &v);
	free(items);
	if (v.ready)
		return true;
	if (first_bad)
		snprintf(why, cap, "artifact %s refused: %s", first_bad->digest, first_bad->why);
	else if (v.unknown)
		snprintf(why, cap,
			"staging: %zu artifact%s not looked up in the hub's store yet (is the link "
			"down?), %zu staging (%.1f of %.1f MB)",
			v.unknown, v.unknown == 1 ? "" : "s", v.fetching, mb(v.done), mb(v.total));
	else
		snprintf(why, cap, "staging: %zu artifact%s, %.1f of %.1f MB", v.fetching,
			v.fetching == 1 ? "" : "s", mb(v.done), mb(v.total));
	return false;
}

json_t *ag_stage_status(const ag_stage *st)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < st->n; i++) {
		const ag_art *x = &st->v[i];
		if (!x->wanted)
			continue;
		char apps[512];
		op_art_refs_apps(&st->want, x->sha256, apps, sizeof apps);
		op_stage_item it = ag_stage_item(x);
		json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I}", "digest", x->digest, "apps",
			apps, "state", op_stage_state_name(x->state), "done", (json_int_t)it.done,
			"total", (json_int_t)it.total);
		if (j && x->state == OP_STAGE_REFUSED)
			json_object_set_new(j, "error", json_string(x->why));
		json_array_append_new(a, j);
	}
	return a;
}
