/* One component's placement and rollout (the rules are in include/outpost/agent/plan/plan.h).
 *
 * Both scalers come down to slots: a spreadscaler has one per ordinal (its host is
 * chosen), a daemonscaler one per (eligible host, ordinal) (its host is fixed). Each slot
 * may hold the kept copy of its current id, old-hash instances, and ids being stopped.
 * roll() then walks the slots in order and decides starts and stops, at once or one at
 * a time while old instances remain.
 *
 * Stickiness for a spreadscaler is a maximum b-matching of running ordinals to spread
 * entries (capacity: an entry's share). Hosts that meet the same entries are alike, so
 * the matching works on groups of equal masks: few nodes, however many instances.
 * Ordinals are added lowest first, each by one augmenting path (a BFS over at most 32
 * entries); an ordinal that finds no path is surplus. Adding in order gives the kept set
 * that prefers lower ordinals (a greedy basis of a transversal matroid). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plan_int.h"

struct slot {
	size_t keep; /* index in recs of the kept copy of the current id, or PL_NONE */
	size_t host; /* daemonscaler: the slot's host */
	size_t old; /* first old-hash instance (index in recs), chained by next_old */
	size_t clo, chi; /* spreadscaler: recs[clo..chi) are copies of the current id */
	bool blocked; /* the current id is being stopped somewhere */
	bool oldstop; /* an old-hash instance of this slot is being stopped */
};

struct comp {
	struct pl_ctx *x;
	size_t app, ci;
	const op_app *a;
	const op_component *c;
	const char *hash;
	struct pl_rec *const *recs;
	size_t nrecs;
	size_t *next_old; /* per rec */
	struct slot *slots;
	size_t nslots;
	int n; /* instances */
	bool daemon;
	uint32_t *mask; /* per alive host: the spread entries whose requirements it meets */
	/* spreadscaler */
	int k; /* entries (1 for the implicit one) */
	int share[OP_MAX_SPREAD], load[OP_MAX_SPREAD], deficit[OP_MAX_SPREAD];
	int *count; /* per alive host: kept and started instances of this component */
	/* daemonscaler */
	size_t *elig; /* eligible index -> host */
	size_t *epos; /* host -> eligible index, or PL_NONE */
	size_t nelig;
};

/* A wasm component meets no entry on a host without a WebAssembly runtime: it is never
 * placed there, as if requirements said so. */
static uint32_t host_mask(const op_component *c, const op_host_view *h)
{
	const op_trait *t = &c->scaler;
	if (c->type == OP_COMP_WASM && !h->wasm)
		return 0;
	if (t->nspread == 0)
		return 1;
	uint32_t m = 0;
	for (size_t s = 0; s < t->nspread && s < OP_MAX_SPREAD; s++)
		if (op_labels_match(&h->labels, &t->spread[s].requirements))
			m |= UINT32_C(1) << s;
	return m;
}

/* Largest remainder: floors first, then one more to the largest remainders, ties to
 * the lower index, so the shares add up to n exactly. */
static void shares(const op_trait *t, int n, int k, int *share)
{
	if (t->nspread == 0) {
		share[0] = n;
		return;
	}
	long long total = 0, rem[OP_MAX_SPREAD];
	for (int s = 0; s < k; s++)
		total += t->spread[s].weight > 0 ? t->spread[s].weight : 0;
	int given = 0;
	for (int s = 0; s < k; s++) {
		long long q = total
			? (long long)n * (t->spread[s].weight > 0 ? t->spread[s].weight : 0)
			: 0;
		share[s] = total ? (int)(q / total) : (s == 0 ? n : 0);
		rem[s] = total ? q % total : -1;
		given += share[s];
	}
	for (; given < n; given++) {
		int best = 0;
		for (int s = 1; s < k; s++)
			if (rem[s] > rem[best])
				best = s;
		share[best]++;
		rem[best] = -1;
	}
}

/* --- the matching ------------------------------------------------------------------- */

struct match {
	int k;
	const int *cap;
	int *load;
	uint32_t *gmask; /* per group */
	int *flow; /* per group and entry: ordinals of the group matched to the entry */
	size_t ng;
};

/* Adds one ordinal of group g: true when an augmenting path made room for it. */
static bool augment(struct match *m, size_t g)
{
	int queue[OP_MAX_SPREAD], prev[OP_MAX_SPREAD], qh = 0, qt = 0, k = m->k;
	size_t via[OP_MAX_SPREAD];
	uint32_t seen = 0;
	for (int s = 0; s < k; s++)
		if (m->gmask[g] >> s & 1) {
			seen |= UINT32_C(1) << s;
			prev[s] = -1;
			via[s] = g;
			queue[qt++] = s;
		}
	while (qh < qt) {
		int s = queue[qh++];
		if (m->load[s] < m->cap[s]) {
			/* Along the path each entry passes one ordinal of group via[t] on to t. */
			m->load[s]++;
			for (int t = s;; t = prev[t]) {
				m->flow[via[t] * (size_t)k + (size_t)t]++;
				if (prev[t] < 0)
					break;
				m->flow[via[t] * (size_t)k + (size_t)prev[t]]--;
			}
			return true;
		}
		for (size_t gg = 0; gg < m->ng; gg++) {
			if (m->flow[gg * (size_t)k + (size_t)s] == 0)
				continue;
			for (int t = 0; t < k; t++)
				if ((m->gmask[gg] >> t & 1) && !(seen >> t & 1)) {
					seen |= UINT32_C(1) << t;
					prev[t] = s;
					via[t] = gg;
					queue[qt++] = t;
				}
		}
	}
	return false;
}

/* Preference among copies of one id: RUNNING, then other present states, then an
 * EXITED one that needs a restart; then the lower host. */
static int copy_rank(const struct comp *p, const struct pl_rec *r)
{
	enum op_inst_state st = r->v->state;
	if (st == OP_INST_RUNNING)
		return 0;
	return st == OP_INST_EXITED && p->c->restart == OP_RESTART_ALWAYS ? 2 : 1;
}

/* Matches the ordinals that run to entries, keeps one copy of each matched ordinal and
 * stops every other copy. */
static int spread_keep(struct comp *p)
{
	size_t n = (size_t)p->n, k = (size_t)p->k;
	size_t *group = malloc((n + 1) * sizeof *group);
	uint32_t *gmask = malloc((n + 1) * sizeof *gmask);
	int *flow = calloc((n + 1) * k, sizeof *flow);
	int rc = OP_ENOMEM;
	if (!group || !gmask || !flow)
		goto out;
	struct match m = {
		.k = p->k, .cap = p->share, .load = p->load, .gmask = gmask, .flow = flow, .ng = 0};
	for (size_t o = 0; o < n; o++) {
		const struct slot *s = &p->slots[o];
		uint32_t um = 0;
		for (size_t i = s->clo; i < s->chi; i++)
			if (p->recs[i]->v->state != OP_INST_STOPPING)
				um |= p->mask[p->recs[i]->host];
		group[o] = PL_NONE;
		if (um == 0)
			continue;
		size_t g = 0;
		while (g < m.ng && gmask[g] != um)
			g++;
		if (g == m.ng)
			gmask[m.ng++] = um;
		if (augment(&m, g))
			group[o] = g;
	}
	/* Which entry each kept ordinal counts in, lowest ordinals to lowest entries of its
	 * group's flow, and its copy: the best one on a host that meets that entry. */
	for (size_t o = 0; o < n; o++) {
		struct slot *s = &p->slots[o];
		uint32_t bit = 0;
		if (group[o] != PL_NONE) {
			int *f = &flow[group[o] * k];
			size_t e = 0;
			while (f[e] == 0)
				e++;
			f[e]--;
			bit = UINT32_C(1) << e;
		}
		for (size_t i = s->clo; i < s->chi; i++) {
			const struct pl_rec *r = p->recs[i];
			if (r->v->state == OP_INST_STOPPING || !(p->mask[r->host] & bit))
				continue;
			if (s->keep == PL_NONE || copy_rank(p, r) < copy_rank(p, p->recs[s->keep]))
				s->keep = i;
		}
		for (size_t i = s->clo; i < s->chi; i++)
			if (i != s->keep && (rc = pl_stop(p->x, p->recs[i])) != 0)
				goto out;
		if (s->keep != PL_NONE)
			p->count[p->recs[s->keep]->host]++;
	}
	rc = 0;
out:
	free(group);
	free(gmask);
	free(flow);
	return rc;
}

/* The host for one more instance: the first entry short of its share, on its eligible
 * host with the fewest of this component, then the fewest overall, then the lowest id. */
static size_t spread_place(struct comp *p)
{
	for (int s = 0; s < p->k; s++) {
		if (p->deficit[s] <= 0)
			continue;
		size_t best = PL_NONE;
		for (size_t h = 0; h < p->x->nhosts; h++) {
			if (!(p->mask[h] >> s & 1))
				continue;
			if (best == PL_NONE || p->count[h] < p->count[best] ||
				(p->count[h] == p->count[best] &&
					p->x->hosts[h].load < p->x->hosts[best].load))
				best = h;
		}
		p->deficit[s]--;
		p->count[best]++;
		return best;
	}
	return PL_NONE;
}

static bool can_place(const struct comp *p)
{
	if (p->daemon)
		return true;
	for (int s = 0; s < p->k; s++)
		if (p->deficit[s] > 0)
			return true;
	return false;
}

/* --- classifying a component's instances into slots --------------------------------- */

static void add_old(struct comp *p, size_t slot, size_t i)
{
	p->next_old[i] = p->slots[slot].old;
	p->slots[slot].old = i;
}

/* Files an instance that is in the right form, on an allowed host, with slot < nslots. */
static int file_rec(struct comp *p, size_t slot, size_t i)
{
	const struct pl_rec *r = p->recs[i];
	enum op_inst_state st = r->v->state;
	struct slot *s = &p->slots[slot];
	if (r->cur) {
		if (st == OP_INST_STOPPING)
			s->blocked = true;
		else if (p->daemon)
			s->keep = i;
		return 0;
	}
	if (st == OP_INST_STOPPING) {
		s->oldstop = true;
		return 0;
	}
	if (st == OP_INST_EXITED || st == OP_INST_FAILED)
		return pl_stop(p->x, r);
	/* Copies of one old id are adjacent (recs are sorted by id): one stays, RUNNING
	 * first, then the lower host; the others go. */
	size_t h = s->old;
	if (h != PL_NONE && strcmp(p->recs[h]->v->id, r->v->id) == 0) {
		if (st != OP_INST_RUNNING || p->recs[h]->v->state == OP_INST_RUNNING)
			return pl_stop(p->x, r);
		s->old = p->next_old[h];
		add_old(p, slot, i);
		return pl_stop(p->x, p->recs[h]);
	}
	add_old(p, slot, i);
	return 0;
}

static int spread_file(struct comp *p)
{
	for (size_t i = 0; i < p->nrecs; i++) {
		const struct pl_rec *r = p->recs[i];
		int rc;
		/* Requirements always win, over old instances too. */
		if (r->daemon_form || r->n >= p->n || (!r->cur && p->mask[r->host] == 0)) {
			if ((rc = pl_stop(p->x, r)) != 0)
				return rc;
			continue;
		}
		struct slot *s = &p->slots[r->n];
		if (r->cur) { /* copies of one id are adjacent: recs are sorted by id */
			if (s->chi == 0)
				s->clo = i;
			s->chi = i + 1;
		}
		if ((rc = file_rec(p, (size_t)r->n, i)) != 0)
			return rc;
	}
	int rc = spread_keep(p);
	for (int s = 0; s < p->k; s++) {
		bool any = false;
		for (size_t h = 0; h < p->x->nhosts && !any; h++)
			any = p->mask[h] >> s & 1;
		p->deficit[s] = any ? p->share[s] - p->load[s] : 0;
	}
	return rc;
}

static int daemon_file(struct comp *p)
{
	size_t n = (size_t)p->n;
	for (size_t i = 0; i < p->nrecs; i++) {
		const struct pl_rec *r = p->recs[i];
		int rc;
		if (!r->daemon_form || r->dhost != r->host || p->epos[r->host] == PL_NONE ||
			r->n >= p->n) {
			if ((rc = pl_stop(p->x, r)) != 0)
				return rc;
			continue;
		}
		if ((rc = file_rec(p, p->epos[r->host] * n + (size_t)r->n, i)) != 0)
			return rc;
	}
	return 0;
}

/* --- starts, stops, and the rollout ------------------------------------------------- */

static int stop_old(struct comp *p, size_t slot)
{
	for (size_t i = p->slots[slot].old; i != PL_NONE; i = p->next_old[i]) {
		int rc = pl_stop(p->x, p->recs[i]);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int start_new(struct comp *p, size_t slot)
{
	char id[OP_INST_MAX + 1];
	size_t n = (size_t)p->n, h = p->daemon ? p->slots[slot].host : spread_place(p);
	if (h == PL_NONE)
		return 0;
	int rc = p->daemon ? pl_fmt_id(p->a->name, p->c->name, (int)(slot % n),
				     p->x->hosts[h].v->id, p->hash, id)
			   : pl_fmt_id(p->a->name, p->c->name, (int)slot, NULL, p->hash, id);
	if (rc != 0)
		return rc;
	return pl_emit(p->x, OP_CMD_START, h, id, p->app, p->ci);
}

static int restart_in_place(struct comp *p, size_t slot)
{
	const struct pl_rec *r = p->recs[p->slots[slot].keep];
	return pl_emit(p->x, OP_CMD_START, r->host, r->v->id, p->app, p->ci);
}

static enum op_inst_state kept_state(const struct comp *p, const struct slot *s)
{
	return p->recs[s->keep]->v->state;
}

/* RUNNING and healthy, or done for good (EXITED under restart never or on-failure). */
static bool ready(const struct comp *p, const struct slot *s)
{
	if (s->keep == PL_NONE)
		return false;
	const op_inst_view *v = p->recs[s->keep]->v;
	return (v->state == OP_INST_RUNNING && v->health == OP_HEALTH_HEALTHY) ||
		(v->state == OP_INST_EXITED && p->c->restart != OP_RESTART_ALWAYS);
}

static bool needs_restart(const struct comp *p, const struct slot *s)
{
	return s->keep != PL_NONE && kept_state(p, s) == OP_INST_EXITED &&
		p->c->restart == OP_RESTART_ALWAYS;
}

static bool in_flight(const struct comp *p, const struct slot *s)
{
	if (s->keep == PL_NONE)
		return false;
	const op_inst_view *v = p->recs[s->keep]->v;
	return v->state == OP_INST_STARTING || v->state == OP_INST_BACKOFF ||
		v->state == OP_INST_FAILED ||
		(v->state == OP_INST_RUNNING && v->health != OP_HEALTH_HEALTHY);
}

static int roll(struct comp *p)
{
	bool stop_first = p->c->rollout == OP_ROLLOUT_STOP_FIRST, rolling = false;
	int flying = 0;
	for (size_t i = 0; i < p->nslots; i++) {
		const struct slot *s = &p->slots[i];
		/* stop-first waits for the old one to go before its replacement starts;
		 * start-first waits for it to go before the next replacement starts, so at
		 * most one instance more than desired exists at any time. */
		bool waiting = stop_first ? s->oldstop && !ready(p, s) : s->oldstop;
		rolling |= s->old != PL_NONE || waiting;
		flying += in_flight(p, s) || waiting;
	}
	/* An old instance replaced in this round is still there until its stop is done:
	 * start-first starts the next replacement after that, not beside it. */
	for (size_t i = 0; !stop_first && i < p->nslots; i++)
		flying += p->slots[i].old != PL_NONE && ready(p, &p->slots[i]);
	/* One change at a time while old instances remain, none while one is in flight. */
	int budget = !rolling ? INT32_MAX : flying ? 0 : 1;
	for (size_t i = 0; i < p->nslots; i++) {
		const struct slot *s = &p->slots[i];
		int rc = 0;
		if (s->old != PL_NONE) {
			/* Replaced, or never replaceable: the old instance goes now. */
			if (ready(p, s) || (s->keep == PL_NONE && !can_place(p))) {
				rc = stop_old(p, i);
			} else if (s->keep != PL_NONE) {
				if (needs_restart(p, s) && budget > 0 &&
					(rc = restart_in_place(p, i)) == 0)
					budget--;
			} else if (!s->blocked && budget > 0) {
				rc = stop_first ? stop_old(p, i) : start_new(p, i);
				budget--;
			}
		} else if (s->keep != PL_NONE) {
			if (needs_restart(p, s) && budget > 0 && (rc = restart_in_place(p, i)) == 0)
				budget--;
		} else if (!(stop_first && s->oldstop) && !s->blocked && budget > 0 &&
			can_place(p)) {
			rc = start_new(p, i);
			budget--;
		}
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* --- one component -------------------------------------------------------------------- */

static int setup(struct comp *p)
{
	struct pl_ctx *x = p->x;
	size_t nh = x->nhosts;
	p->next_old = malloc((p->nrecs + 1) * sizeof *p->next_old);
	p->mask = calloc(nh + 1, sizeof *p->mask);
	p->count = calloc(nh + 1, sizeof *p->count);
	p->elig = calloc(nh + 1, sizeof *p->elig);
	p->epos = calloc(nh + 1, sizeof *p->epos);
	if (!p->next_old || !p->mask || !p->count || !p->elig || !p->epos)
		return OP_ENOMEM;
	for (size_t i = 0; i < p->nrecs; i++)
		p->next_old[i] = PL_NONE;
	for (size_t h = 0; h < nh; h++) {
		p->mask[h] = host_mask(p->c, x->hosts[h].v);
		p->epos[h] = p->mask[h] ? p->nelig : PL_NONE;
		if (p->mask[h])
			p->elig[p->nelig++] = h;
	}
	p->nslots = p->daemon ? p->nelig * (size_t)p->n : (size_t)p->n;
	p->slots = calloc(p->nslots + 1, sizeof *p->slots);
	if (!p->slots)
		return OP_ENOMEM;
	for (size_t i = 0; i < p->nslots; i++) {
		p->slots[i].keep = p->slots[i].old = PL_NONE;
		p->slots[i].host = p->daemon ? p->elig[i / (size_t)p->n] : PL_NONE;
	}
	return 0;
}

int pl_component(struct pl_ctx *x, size_t app, size_t comp, const char *hash,
	struct pl_rec *const *recs, size_t nrecs)
{
	const op_app *a = x->in->apps[app];
	const op_component *c = &a->comps[comp];
	struct comp p = {.x = x,
		.app = app,
		.ci = comp,
		.a = a,
		.c = c,
		.hash = hash,
		.recs = recs,
		.nrecs = nrecs,
		.n = c->scaler.instances > 0 ? c->scaler.instances : 0,
		.daemon = c->scaler.type == OP_SCALER_DAEMON};
	p.k = c->scaler.nspread == 0                ? 1
		: c->scaler.nspread > OP_MAX_SPREAD ? OP_MAX_SPREAD
						    : (int)c->scaler.nspread;
	int rc = setup(&p);
	if (rc == 0 && !p.daemon)
		shares(&c->scaler, p.n, p.k, p.share);
	if (rc == 0)
		rc = p.daemon ? daemon_file(&p) : spread_file(&p);
	if (rc == 0)
		rc = roll(&p);
	free(p.next_old);
	free(p.mask);
	free(p.count);
	free(p.elig);
	free(p.epos);
	free(p.slots);
	return rc;
}
