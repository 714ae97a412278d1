/* The planner's driver: it checks and orders the input (alive hosts by id, reported
 * instances by id and host, apps by name), so that nothing depends on the order the
 * agent happened to collect things in, sorts every reported instance to the component
 * it belongs to (or stops it), lets plan_place.c decide each component, and sorts the
 * commands. Also the small pure helpers around instance ids and labels (spec hashes:
 * spechash.c).
 * Pure: no I/O, no clock, no globals. See include/outpost/agent/plan/plan.h for the rules. */
#include "outpost/agent/plan/plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "plan_int.h"

/* --- ids, labels ------------------------------------------------------------------ */

int pl_fmt_id(const char *app, const char *comp, int n, const char *host, const char *hash,
	char out[OP_INST_MAX + 1])
{
	if (n < 0)
		return OP_EINVAL;
	int len = host ? snprintf(out, OP_INST_MAX + 1, "%s.%s.%d@%s-%s", app, comp, n, host, hash)
		       : snprintf(out, OP_INST_MAX + 1, "%s.%s.%d-%s", app, comp, n, hash);
	if (len < 0)
		return OP_EINVAL;
	return len > OP_INST_MAX ? OP_ETOOBIG : 0;
}

int op_inst_id(const op_app *app, const op_component *c, const char *hash, int n, const char *host,
	char out[OP_INST_MAX + 1])
{
	bool daemon = c->scaler.type == OP_SCALER_DAEMON;
	if (daemon && (!host || !*host))
		return OP_EINVAL;
	return pl_fmt_id(app->name, c->name, n, daemon ? host : NULL, hash, out);
}

/* Copies s[0..len) into out[cap] if it is a name ([a-z0-9-], 1..cap-1). */
static bool take_name(const char *s, size_t len, char *out, size_t cap)
{
	if (len == 0 || len >= cap)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	memcpy(out, s, len);
	out[len] = '\0';
	return true;
}

int op_inst_id_parse(const char *id, op_inst_ref *out)
{
	memset(out, 0, sizeof *out);
	const char *d1 = strchr(id, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	const char *dash = d2 ? strrchr(d2, '-') : NULL;
	if (!dash || strlen(dash + 1) != 12)
		return OP_EINVAL;
	if (!take_name(id, (size_t)(d1 - id), out->app, sizeof out->app) ||
		!take_name(d1 + 1, (size_t)(d2 - d1 - 1), out->comp, sizeof out->comp))
		return OP_EINVAL;
	for (int i = 0; i < 12; i++) {
		char c = dash[1 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return OP_EINVAL;
		out->hash[i] = c;
	}
	const char *p = d2 + 1, *at = memchr(p, '@', (size_t)(dash - p));
	const char *nend = at ? at : dash;
	/* Plain decimal: no sign, no leading zero, at most 9 digits. */
	if (nend == p || nend - p > 9 || (*p == '0' && nend - p > 1))
		return OP_EINVAL;
	for (const char *q = p; q < nend; q++) {
		if (*q < '0' || *q > '9')
			return OP_EINVAL;
		out->n = out->n * 10 + (*q - '0');
	}
	if (at && !take_name(at + 1, (size_t)(dash - at - 1), out->host, sizeof out->host))
		return OP_EINVAL;
	return 0;
}

bool op_labels_match(const op_kvs *labels, const op_kvs *requirements)
{
	for (size_t i = 0; i < requirements->n; i++) {
		const char *v = op_kvs_get(labels, requirements->v[i].key);
		if (!v || strcmp(v, requirements->v[i].val) != 0)
			return false;
	}
	return true;
}

bool op_placement_matches(const op_app *app, const char *site, const op_kvs *site_labels)
{
	if (!app->has_placement)
		return true;
	const op_placement *p = &app->placement;
	if (p->has_sites) {
		bool listed = false;
		for (size_t i = 0; i < p->sites.n && !listed; i++)
			listed = strcmp(p->sites.v[i], site) == 0;
		if (!listed)
			return false;
	}
	return op_labels_match(site_labels, &p->requirements);
}

/* --- commands ----------------------------------------------------------------------- */

int pl_emit(
	struct pl_ctx *x, enum op_cmd_op op, size_t host, const char *id, size_t app, size_t comp)
{
	if (x->ncmds == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 16;
		op_cmd *v = realloc(x->cmds, cap * sizeof *v);
		if (!v)
			return OP_ENOMEM;
		x->cmds = v;
		x->cap = cap;
	}
	op_cmd *c = &x->cmds[x->ncmds++];
	memset(c, 0, sizeof *c);
	c->op = op;
	memcpy(c->host, x->hosts[host].v->id, sizeof c->host);
	c->host[OP_HOST_MAX] = '\0';
	size_t len = strnlen(id, OP_INST_MAX);
	memcpy(c->inst, id, len);
	c->app = op == OP_CMD_START ? app : OP_PLAN_NOIDX;
	c->comp = op == OP_CMD_START ? comp : OP_PLAN_NOIDX;
	if (op == OP_CMD_START)
		x->hosts[host].load++;
	return 0;
}

int pl_stop(struct pl_ctx *x, const struct pl_rec *r)
{
	if (r->v->state == OP_INST_STOPPING)
		return 0;
	return pl_emit(x, OP_CMD_STOP, r->host, r->v->id, PL_NONE, PL_NONE);
}

static int cmd_cmp(const void *a, const void *b)
{
	const op_cmd *x = a, *y = b;
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	int c = strcmp(x->inst, y->inst);
	return c ? c : strcmp(x->host, y->host);
}

/* --- ordering the input ------------------------------------------------------------- */

static int hostview_cmp(const void *a, const void *b)
{
	const op_host_view *const *x = a, *const *y = b;
	return strncmp((*x)->id, (*y)->id, sizeof(*x)->id);
}

static size_t host_find(const struct pl_ctx *x, const char *id)
{
	size_t lo = 0, hi = x->nhosts;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(id, x->hosts[mid].v->id, OP_HOST_MAX + 1);
		if (c == 0)
			return mid;
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return PL_NONE;
}

static int rec_cmp(const void *a, const void *b)
{
	const struct pl_rec *x = a, *y = b;
	int c = strncmp(x->v->id, y->v->id, OP_INST_MAX + 1);
	if (c)
		return c;
	if (x->host != y->host)
		return x->host < y->host ? -1 : 1;
	return (int)x->v->state - (int)y->v->state;
}

struct app_ix {
	const char *name;
	size_t idx;
};

static int appix_name_cmp(const void *a, const void *b)
{
	const struct app_ix *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int appix_cmp(const void *a, const void *b)
{
	const struct app_ix *x = a, *y = b;
	int c = appix_name_cmp(a, b);
	return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

static size_t app_find(const struct app_ix *v, size_t n, const char *name)
{
	struct app_ix key = {.name = name, .idx = 0};
	const struct app_ix *hit = bsearch(&key, v, n, sizeof *v, appix_name_cmp);
	return hit ? hit->idx : PL_NONE;
}

/* Sorts the apps by name; OP_EINVAL when two share one. */
static int order_apps(const op_plan_in *in, struct app_ix *apps)
{
	for (size_t i = 0; i < in->napps; i++) {
		if (!in->apps[i] || !in->apps[i]->name)
			return OP_EINVAL;
		apps[i] = (struct app_ix){.name = in->apps[i]->name, .idx = i};
	}
	qsort(apps, in->napps, sizeof *apps, appix_cmp);
	for (size_t i = 1; i < in->napps; i++)
		if (strcmp(apps[i - 1].name, apps[i].name) == 0)
			return OP_EINVAL;
	return 0;
}

/* Fills x->hosts with the alive hosts, sorted by id; OP_EINVAL when two hosts (alive or
 * not) share an id. */
static int order_hosts(const op_plan_in *in, struct pl_ctx *x, const op_host_view **tmp)
{
	for (size_t i = 0; i < in->nhosts; i++)
		tmp[i] = &in->hosts[i];
	qsort(tmp, in->nhosts, sizeof *tmp, hostview_cmp);
	for (size_t i = 0; i < in->nhosts; i++) {
		if (i > 0 && hostview_cmp(&tmp[i - 1], &tmp[i]) == 0)
			return OP_EINVAL;
		if (tmp[i]->alive)
			x->hosts[x->nhosts++] = (struct pl_host){.v = tmp[i], .load = 0};
	}
	return 0;
}

/* Reads one reported instance into r; false when its host is not an alive one. */
static bool read_rec(const struct pl_ctx *x, const struct app_ix *apps, const size_t *base,
	char (*hashes)[13], const op_inst_view *v, struct pl_rec *r)
{
	*r = (struct pl_rec){.v = v, .app = PL_NONE, .comp = PL_NONE, .dhost = PL_NONE};
	if ((r->host = host_find(x, v->host)) == PL_NONE)
		return false;
	op_inst_ref ref;
	char id[OP_INST_MAX + 1];
	memcpy(id, v->id, OP_INST_MAX);
	id[OP_INST_MAX] = '\0';
	if (op_inst_id_parse(id, &ref) != 0)
		return true;
	size_t a = app_find(apps, x->in->napps, ref.app);
	if (a == PL_NONE)
		return true;
	const op_app *app = x->in->apps[a];
	for (size_t c = 0; c < app->ncomps; c++) {
		if (strcmp(app->comps[c].name, ref.comp) != 0)
			continue;
		r->app = a;
		r->comp = c;
		r->n = ref.n;
		r->daemon_form = ref.host[0] != '\0';
		r->dhost = r->daemon_form ? host_find(x, ref.host) : PL_NONE;
		r->cur = strcmp(ref.hash, hashes[base[a] + c]) == 0;
		break;
	}
	return true;
}

/* Sorts the records by id and host and merges reports of one id on one host. */
static size_t order_recs(struct pl_rec *recs, size_t n)
{
	qsort(recs, n, sizeof *recs, rec_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m > 0 && recs[m - 1].host == recs[i].host &&
			strncmp(recs[m - 1].v->id, recs[i].v->id, OP_INST_MAX + 1) == 0)
			continue;
		recs[m++] = recs[i];
	}
	return m;
}

struct work {
	struct app_ix *apps;
	const op_host_view **hv;
	size_t *base; /* per app: index of its first component in the flat arrays */
	char (*hashes)[13]; /* per component */
	struct pl_rec *recs;
	struct pl_rec **bucket; /* records grouped by component */
	size_t *bstart; /* per component: first in bucket; one more at the end */
	size_t *pos; /* scratch for filling the buckets */
};

static void work_clear(struct work *w)
{
	free(w->apps);
	free(w->hv);
	free(w->base);
	free(w->hashes);
	free(w->recs);
	free(w->bucket);
	free(w->bstart);
	free(w->pos);
}

static int plan(const op_plan_in *in, struct pl_ctx *x, struct work *w)
{
	size_t na = in->napps, nh = in->nhosts, ni = in->ninsts;
	w->apps = calloc(na + 1, sizeof *w->apps);
	w->hv = calloc(nh + 1, sizeof *w->hv);
	x->hosts = calloc(nh + 1, sizeof *x->hosts);
	w->base = calloc(na + 1, sizeof *w->base);
	w->recs = calloc(ni + 1, sizeof *w->recs);
	w->bucket = calloc(ni + 1, sizeof *w->bucket);
	if (!w->apps || !w->hv || !x->hosts || !w->base || !w->recs || !w->bucket)
		return OP_ENOMEM;
	int rc;
	if ((rc = order_apps(in, w->apps)) != 0 || (rc = order_hosts(in, x, w->hv)) != 0)
		return rc;
	size_t ncomp = 0;
	for (size_t a = 0; a < na; a++) {
		w->base[a] = ncomp;
		ncomp += in->apps[a]->ncomps;
	}
	w->hashes = calloc(ncomp + 1, sizeof *w->hashes);
	w->bstart = calloc(ncomp + 1, sizeof *w->bstart);
	if (!w->hashes || !w->bstart)
		return OP_ENOMEM;
	for (size_t a = 0; a < na; a++)
		for (size_t c = 0; c < in->apps[a]->ncomps; c++)
			if ((rc = op_component_hash(
				     &in->apps[a]->comps[c], w->hashes[w->base[a] + c])) != 0)
				return rc;

	size_t nr = 0;
	for (size_t i = 0; i < ni; i++)
		nr += read_rec(x, w->apps, w->base, w->hashes, &in->insts[i], &w->recs[nr]);
	nr = order_recs(w->recs, nr);

	/* Loads for the tie-break, then what belongs to no desired component goes. */
	for (size_t i = 0; i < nr; i++) {
		const struct pl_rec *r = &w->recs[i];
		if (r->v->state != OP_INST_STOPPING && r->v->state != OP_INST_EXITED)
			x->hosts[r->host].load++;
		if (r->app == PL_NONE && (rc = pl_stop(x, r)) != 0)
			return rc;
		if (r->app != PL_NONE)
			w->bstart[w->base[r->app] + r->comp + 1]++;
	}
	for (size_t f = 0; f < ncomp; f++)
		w->bstart[f + 1] += w->bstart[f];
	if (!(w->pos = malloc((ncomp + 1) * sizeof *w->pos)))
		return OP_ENOMEM;
	memcpy(w->pos, w->bstart, (ncomp + 1) * sizeof *w->pos);
	for (size_t i = 0; i < nr; i++) /* stable: each bucket stays sorted by id, host */
		if (w->recs[i].app != PL_NONE)
			w->bucket[w->pos[w->base[w->recs[i].app] + w->recs[i].comp]++] =
				&w->recs[i];

	for (size_t i = 0; i < na; i++) {
		size_t a = w->apps[i].idx;
		for (size_t c = 0; c < in->apps[a]->ncomps; c++) {
			size_t f = w->base[a] + c;
			if ((rc = pl_component(x, a, c, w->hashes[f], w->bucket + w->bstart[f],
				     w->bstart[f + 1] - w->bstart[f])) != 0)
				return rc;
		}
	}
	return 0;
}

int op_plan_compute(const op_plan_in *in, op_cmd **cmds, size_t *ncmds)
{
	*cmds = NULL;
	*ncmds = 0;
	if (!in || (in->napps && !in->apps) || (in->nhosts && !in->hosts) ||
		(in->ninsts && !in->insts))
		return OP_EINVAL;
	struct pl_ctx x = {.in = in};
	struct work w = {0};
	int rc = plan(in, &x, &w);
	work_clear(&w);
	free(x.hosts);
	if (rc != 0 || x.ncmds == 0) {
		free(x.cmds);
		return rc;
	}
	qsort(x.cmds, x.ncmds, sizeof *x.cmds, cmd_cmp);
	*cmds = x.cmds;
	*ncmds = x.ncmds;
	return 0;
}
