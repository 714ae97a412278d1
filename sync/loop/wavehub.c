/* Canary waves at the hub, pure (see include/outpost/sync/loop/wavehub.h). Status comes
 * from sites and is read leniently (a newer agent writes more); a site whose keys say
 * nothing usable is a site that does not count, never an error of the rollout. */
#include "outpost/sync/loop/wavehub.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/plan/plan.h"

static int by_key(const void *a, const void *b)
{
	return strcmp(((const op_wavehub_entry *)a)->key, ((const op_wavehub_entry *)b)->key);
}

void op_wavehub_entries_sort(op_wavehub_entry *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof *v, by_key);
}

static const op_wavehub_entry *find(const op_wavehub_entry *v, size_t n, const char *key)
{
	op_wavehub_entry k = {.key = key};
	return n ? bsearch(&k, v, n, sizeof *v, by_key) : NULL;
}

/* "site.<s>.<rest>": the site name into name; false when key is no site key. */
static bool site_of(const char *key, char name[OP_NAME_MAX + 1], const char **rest)
{
	if (strncmp(key, "site.", 5) != 0)
		return false;
	const char *s = key + 5, *dot = strchr(s, '.');
	if (!dot || dot == s || (size_t)(dot - s) > OP_NAME_MAX)
		return false;
	memcpy(name, s, (size_t)(dot - s));
	name[dot - s] = '\0';
	*rest = dot + 1;
	return op_name_valid(name);
}

static int by_kv_key(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

/* The labels object of an agent key (with site=<name> added when missing), sorted. */
static int read_labels(const char *site, const char *val, size_t len, op_kvs *out)
{
	json_t *j = json_loadb(val, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *l = json_object_get(j, "labels");
	int rc = json_is_object(l) ? 0 : OP_EINVAL;
	size_t cap = rc ? 0 : json_object_size(l) + 1;
	memset(out, 0, sizeof *out);
	if (!rc && !(out->v = calloc(cap, sizeof *out->v)))
		rc = OP_ENOMEM;
	const char *k;
	json_t *v;
	bool has_site = false;
	if (!rc) {
		json_object_foreach(l, k, v)
		{
			if (!json_is_string(v)) {
				rc = OP_EINVAL;
				break;
			}
			has_site |= !strcmp(k, "site");
			op_kv *kv = &out->v[out->n++];
			kv->key = strdup(k);
			kv->val = strdup(json_string_value(v));
			if (!kv->key || !kv->val) {
				rc = OP_ENOMEM;
				break;
			}
		}
	}
	if (!rc && !has_site) {
		op_kv *kv = &out->v[out->n++];
		kv->key = strdup("site");
		kv->val = strdup(site);
		if (!kv->key || !kv->val)
			rc = OP_ENOMEM;
	}
	json_decref(j);
	if (rc) {
		op_kvs_clear(out);
		return rc;
	}
	qsort(out->v, out->n, sizeof *out->v, by_kv_key);
	return 0;
}

static op_wavehub_site *site_find(const op_wavehub_sites *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return &s->v[i];
	return NULL;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const op_wavehub_site *)a)->name, ((const op_wavehub_site *)b)->name);
}

int op_wavehub_sites_read(const op_wavehub_entry *ents, size_t n, op_wavehub_sites *out, op_err *e)
{
	op_wavehub_sites_clear(out);
	char name[OP_NAME_MAX + 1];
	const char *rest;
	int rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		if (!site_of(ents[i].key, name, &rest) || strcmp(rest, "agent") != 0)
			continue;
		op_kvs labels;
		rc = read_labels(name, ents[i].val, ents[i].len, &labels);
		if (rc == OP_EINVAL || (rc == 0 && site_find(out, name))) {
			op_kvs_clear(&labels);
			rc = 0;
			continue;
		}
		if (rc)
			break;
		op_wavehub_site *v = realloc(out->v, (out->n + 1) * sizeof *v);
		if (!v) {
			op_kvs_clear(&labels);
			rc = OP_ENOMEM;
			break;
		}
		out->v = v;
		op_wavehub_site *s = &out->v[out->n++];
		memcpy(s->name, name, sizeof name);
		s->labels = labels;
		s->report_ms = -1;
	}
	/* The latest report of a site: the newest write of any of its keys. */
	for (size_t i = 0; i < n && !rc; i++) {
		op_wavehub_site *s = site_of(ents[i].key, name, &rest) ? site_find(out, name)
								       : NULL;
		if (s && ents[i].created_ms > s->report_ms)
			s->report_ms = ents[i].created_ms;
	}
	if (rc) {
		op_wavehub_sites_clear(out);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, by_name);
	return 0;
}

void op_wavehub_sites_clear(op_wavehub_sites *s)
{
	for (size_t i = 0; i < s->n; i++)
		op_kvs_clear(&s->v[i].labels);
	free(s->v);
	memset(s, 0, sizeof *s);
}

static bool copy_str(json_t *j, const char *k, char *out, size_t cap)
{
	const char *s = json_string_value(json_object_get(j, k));
	if (!s || strlen(s) >= cap)
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

int op_wavehub_report_read(const char *json, size_t len, op_wavehub_report *r)
{
	memset(r, 0, sizeof *r);
	r->since_ms = -1;
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	int64_t t;
	if (!json_is_object(j) || !copy_str(j, "state", r->state, sizeof r->state) ||
		!r->state[0]) {
		json_decref(j);
		memset(r, 0, sizeof *r);
		r->since_ms = -1;
		return OP_EINVAL;
	}
	/* Fields a site of an older outpost lacks stay "" or unknown. */
	copy_str(j, "spec", r->spec, sizeof r->spec);
	if (!copy_str(j, "target", r->target, sizeof r->target))
		memcpy(r->target, r->spec, sizeof r->spec);
	const char *since = json_string_value(json_object_get(j, "since"));
	if (since && op_time_parse_rfc3339(since, &t) == 0)
		r->since_ms = t * 1000;
	json_decref(j);
	return 0;
}

void op_wavehub_tally_clear(op_wavehub_tally *t)
{
	free(t->sites);
	free(t->reports);
	memset(t, 0, sizeof *t);
}

int op_wavehub_gather(const op_app *app, const char *digest, int wave,
	const op_wavehub_sites *sites, const op_wavehub_entry *ents, size_t nents,
	op_wavehub_tally *t, op_err *e)
{
	op_wavehub_tally_clear(t);
	if (sites->n) {
		t->sites = calloc(sites->n, sizeof *t->sites);
		t->reports = calloc(sites->n, sizeof *t->reports);
		if (!t->sites || !t->reports) {
			op_wavehub_tally_clear(t);
			return op_err_set(e, OP_ENOMEM, "out of memory");
		}
	}
	const op_rollout_policy *pol = app->has_rollout ? &app->rollout : NULL;
	for (size_t i = 0; i < sites->n; i++) {
		const op_wavehub_site *s = &sites->v[i];
		if (!op_placement_matches(app, s->name, &s->labels))
			continue;
		char key[2 * OP_NAME_MAX + 16];
		snprintf(key, sizeof key, "site.%s.app.%s", s->name, app->name);
		const op_wavehub_entry *ent = find(ents, nents, key);
		op_wavehub_report r;
		bool has = ent && op_wavehub_report_read(ent->val, ent->len, &r) == 0;
		bool rolled = has && !strcmp(r.state, "rolled-back");
		t->total++;
		t->done += has && !strcmp(r.state, "deployed") && !strcmp(r.spec, digest);
		t->rolled_back += rolled && !strcmp(r.target, digest);
		if (op_wave_of(pol, &s->labels) != wave)
			continue;
		op_wave_site *w = &t->sites[t->n];
		w->name = s->name;
		w->report_ms = s->report_ms;
		w->since_ms = -1;
		if (has) {
			t->reports[t->n] = r;
			const op_wavehub_report *kept = &t->reports[t->n];
			w->state = kept->state;
			w->digest = rolled ? kept->target : kept->spec;
			if (!w->digest[0])
				w->digest = NULL;
			w->since_ms = kept->since_ms;
		}
		t->n++;
	}
	return 0;
}

bool op_wavehub_starts(const op_promotion *held, const char *digest)
{
	return !held || strcmp(held->digest, digest) != 0;
}

void op_wavehub_start(const char *app, const char *digest, const char *commit, uint64_t seq,
	int64_t now_s, op_promotion *next)
{
	memset(next, 0, sizeof *next);
	snprintf(next->app, sizeof next->app, "%s", app);
	snprintf(next->digest, sizeof next->digest, "%s", digest);
	snprintf(next->commit, sizeof next->commit, "%s", commit);
	next->seq = seq;
	next->time = now_s;
}

enum op_wavehub_act op_wavehub_apply(
	const op_promotion *held, const op_wave_out *out, int64_t now_s, op_promotion *next)
{
	*next = *held;
	if (held->halted || (out->verdict != OP_WAVE_PROMOTE && out->verdict != OP_WAVE_HALT))
		return OP_WAVEHUB_KEEP;
	next->time = now_s;
	snprintf(next->reason, sizeof next->reason, "%.255s", out->why);
	if (out->verdict == OP_WAVE_HALT) {
		next->halted = true;
		return OP_WAVEHUB_HALT;
	}
	next->promoted = out->wave;
	return OP_WAVEHUB_PROMOTE;
}

static const char *wave_name(const op_rollout_policy *pol, int k, char buf[16])
{
	if (pol && k >= 0 && (size_t)k < pol->nwaves && pol->waves[k].name)
		return pol->waves[k].name;
	snprintf(buf, 16, "%d", k);
	return buf;
}

/* The index of the wave named by name or by index; -1 when none. */
static int wave_index(const op_rollout_policy *pol, const char *wave)
{
	int n = op_wave_count(pol);
	for (int i = 0; pol && i < n && (size_t)i < pol->nwaves; i++)
		if (pol->waves[i].name && !strcmp(pol->waves[i].name, wave))
			return i;
	uint64_t k;
	if (op_parse_u64(wave, &k) == 0 && k < (uint64_t)n)
		return (int)k;
	return -1;
}

int op_wavehub_promote(const op_promotion *held, const op_rollout_policy *pol, const char *wave,
	int64_t now_s, op_promotion *next, op_err *e)
{
	int last = op_wave_count(pol) - 1, k = held->promoted + 1;
	char a[16], b[16];
	*next = *held;
	if (wave && (k = wave_index(pol, wave)) < 0)
		return op_err_set(
			e, OP_EINVAL, "%s has no wave %s (waves 0..%d)", held->app, wave, last);
	if (k > last && !held->halted)
		return op_err_set(e, OP_EINVAL, "every wave of %s is promoted already", held->app);
	if (k > last)
		k = last;
	if (k < held->promoted || (k == held->promoted && !held->halted))
		return op_err_set(e, OP_EINVAL, "wave %s of %s is promoted already (wave %s is)",
			wave_name(pol, k, a), held->app, wave_name(pol, held->promoted, b));
	next->time = now_s;
	if (k == held->promoted)
		snprintf(next->reason, sizeof next->reason, "resumed by hand at wave %.100s",
			wave_name(pol, k, a));
	else
		snprintf(next->reason, sizeof next->reason, "promoted by hand to wave %.100s%s",
			wave_name(pol, k, a), held->halted ? ", resumed" : "");
	next->promoted = k;
	next->halted = false;
	return 0;
}

int op_wavehub_halt(const op_promotion *held, const op_rollout_policy *pol, const char *reason,
	int64_t now_s, op_promotion *next, op_err *e)
{
	*next = *held;
	if (held->halted)
		return 0;
	if (held->promoted >= op_wave_count(pol) - 1)
		return op_err_set(e, OP_EINVAL,
			"every wave of %s is promoted already: nothing is held back to halt",
			held->app);
	next->halted = true;
	next->time = now_s;
	snprintf(next->reason, sizeof next->reason, "%.255s",
		reason && reason[0] ? reason : "halted by hand");
	return 0;
}

char *op_wavehub_view(const op_promotion *rec, const op_rollout_policy *pol, const op_wave_out *out,
	const op_wavehub_tally *t)
{
	char wn[16];
	const char *verdict = rec->halted ? "halt"
		: out                     ? op_wave_verdict_name(out->verdict)
					  : "wait";
	json_t *sites = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "total",
		(json_int_t)(t ? t->total : 0), "done", (json_int_t)(t ? t->done : 0), "healthy",
		(json_int_t)(out ? out->healthy : 0), "rolled_back",
		(json_int_t)(t ? t->rolled_back : 0), "counted",
		(json_int_t)(out ? out->counted : 0), "need", (json_int_t)(out ? out->need : 0));
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:i, s:i, s:s, s:b, s:s, s:s, s:s, s:o*}",
		"v", 1, "app", rec->app, "digest", rec->digest, "commit", rec->commit, "seq",
		(json_int_t)rec->seq, "wave", rec->promoted, "waves", op_wave_count(pol),
		"wave_name", wave_name(pol, rec->promoted, wn), "halted", rec->halted, "reason",
		rec->reason, "verdict", verdict, "why", out ? out->why : "", "sites", sites);
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}
