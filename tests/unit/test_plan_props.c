/* The planner against its properties, over thousands of random sites. Each scenario is
 * built from one seed (xorshift64*; a failure prints it, PLAN_SEED=<seed> replays that
 * scenario alone and prints its rounds): random hosts (labels arch/role/zone, some
 * dead), random apps (1..4 components, spread or daemon, random requirements and
 * weights, 0..12 instances) and random reports (current and stale hashes, every state,
 * dead hosts, duplicates, junk). Then:
 *   - every plan: the same twice and with hosts and instances shuffled; commands sorted,
 *     never to a dead host, never twice, never start and stop one instance on one host;
 *     starts are well-formed ids of the current spec on hosts that meet the requirements;
 *     stops name something that runs there; sticky: of the ordinals that run where an
 *     entry allows them, as many stay as the shares can hold (checked against Hall's
 *     deficiency, computed here);
 *   - plan/apply reaches a fixpoint in bounded rounds, and there: nothing undesired
 *     runs, no id twice, exact counts per component (the shares of the entries that have
 *     a host, and the shares are met by a valid assignment of instances to entries),
 *     old specs only where a FAILED new instance halted the rollout;
 *   - a fresh placement is done in one round (plan(apply(plan)) is empty) and even within
 *     an entry (max - min <= 1 over its hosts, where entries share no host);
 *   - a spec change rolls one at a time: at most count+1 run (start-first), at least
 *     count-1 (stop-first), done within 2*count+2 rounds;
 *   - hosts dying and returning lead to a new fixpoint with the same properties.
 * The shares are computed here independently (largest remainder, ties to lower index). */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"
#include "t.h"

#define NSCEN 2000
#define MAXH 10
#define MAXA 3
#define MAXC 4
#define MAXS 4
#define MAXI 4096

/* --- randomness ---------------------------------------------------------------------- */

static uint64_t rs;
static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * UINT64_C(2685821657736338717);
}
static int rint_in(int lo, int hi) /* inclusive */
{
	return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}
static bool chance(int pct)
{
	return rint_in(0, 99) < pct;
}
static uint64_t mix(uint64_t x) /* splitmix64: one scenario seed from a base */
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return (x ^ (x >> 31)) | 1;
}

/* --- the scenario ------------------------------------------------------------------- */

static const char *const keys[] = {"arch", "role", "zone"};
static const char *const vals[3][3] = {
	{"amd64", "arm64", "riscv64"}, {"gw", "db", "edge"}, {"a", "b", "c"}};

struct entry {
	int req[3]; /* per key: value index, or -1 */
	int weight;
};
struct comp {
	bool daemon;
	int n, nspread, version, restart, rollout;
	struct entry spread[MAXS];
};
struct app {
	char name[16];
	int ncomps;
	struct comp c[MAXC];
};

static struct {
	uint64_t seed;
	bool verbose;
	op_host_view hosts[MAXH];
	size_t nhosts;
	struct app apps[MAXA];
	size_t napps;
	op_app *parsed[MAXA];
	char hash[MAXA][MAXC][13];
	op_inst_view insts[MAXI];
	size_t ninsts;
	int max_rounds;
	long plans;
} S;

static struct {
	long even, rollouts, halted, hall;
} stats;
static bool scen_fail;
static bool stale = true; /* the classification of S.insts needs redoing */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	if (scen_fail)
		return; /* the first failure of a scenario says it */
	scen_fail = true;
	va_list ap;
	char msg[1024];
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	t_fail(__FILE__, __LINE__, "seed %llu (replay: PLAN_SEED=%llu): %s",
		(unsigned long long)S.seed, (unsigned long long)S.seed, msg);
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

static void labels_free(op_kvs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].key), free(m->v[i].val);
	free(m->v);
	*m = (op_kvs){0};
}

static void scen_free(void)
{
	for (size_t i = 0; i < S.nhosts; i++)
		labels_free(&S.hosts[i].labels);
	for (size_t i = 0; i < S.napps; i++)
		op_app_free(S.parsed[i]);
	memset(&S, 0, sizeof S);
}

static void gen_hosts(void)
{
	S.nhosts = (size_t)rint_in(1, MAXH);
	for (size_t i = 0; i < S.nhosts; i++) {
		op_host_view *h = &S.hosts[i];
		/* Ids in an order unrelated to their position. */
		snprintf(h->id, sizeof h->id, "h%02d-%c", (int)((i * 7 + 3) % MAXH), "xyz"[i % 3]);
		h->alive = chance(85);
		h->labels.v = calloc(3, sizeof *h->labels.v);
		for (int k = 0; k < 3; k++) {
			if (k == 1 && chance(30))
				continue; /* role is optional */
			int v = k == 0 ? (chance(50) ? 0 : chance(85) ? 1 : 2) : rint_in(0, 2);
			h->labels.v[h->labels.n].key = strdup(keys[k]);
			h->labels.v[h->labels.n].val = strdup(vals[k][v]);
			h->labels.n++;
		}
		qsort(h->labels.v, h->labels.n, sizeof *h->labels.v, kv_cmp);
	}
}

static void gen_apps(void)
{
	S.napps = (size_t)rint_in(1, MAXA);
	for (size_t a = 0; a < S.napps; a++) {
		struct app *p = &S.apps[a];
		snprintf(p->name, sizeof p->name, "app%zu", (S.napps - a) * 3 % 7);
		p->ncomps = rint_in(1, MAXC);
		for (int c = 0; c < p->ncomps; c++) {
			struct comp *q = &p->c[c];
			q->daemon = chance(20);
			q->n = q->daemon ? rint_in(0, 3) : rint_in(0, 12);
			q->nspread = chance(30) ? 0 : rint_in(1, MAXS);
			q->version = rint_in(0, 2);
			q->restart = rint_in(0, 2);
			q->rollout = rint_in(0, 1);
			for (int s = 0; s < q->nspread; s++) {
				struct entry *e = &q->spread[s];
				for (int k = 0; k < 3; k++)
					e->req[k] = chance(25) ? rint_in(0, 2) : -1;
				e->weight = chance(70) ? rint_in(1, 100)
					: chance(50)   ? 100
						       : rint_in(1, 1000000);
			}
		}
	}
}

static const char *const restarts[] = {"always", "on-failure", "never"};
static const char *const rollouts[] = {"start-first", "stop-first"};

/* (Re)parses app a from its description. */
static bool build_app(size_t a)
{
	const struct app *p = &S.apps[a];
	char y[16384];
	size_t n = 0;
#define OUT(...) n += (size_t)snprintf(y + n, sizeof y - n, __VA_ARGS__)
	OUT("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: %s\n"
	    "spec:\n  components:\n",
		p->name);
	for (int c = 0; c < p->ncomps; c++) {
		const struct comp *q = &p->c[c];
		OUT("    - name: c%d\n      type: process\n      properties:\n"
		    "        command: /bin/c%d\n        args: [v%d]\n        restart: %s\n"
		    "        rollout: %s\n      traits:\n        - type: %s\n"
		    "          properties:\n            instances: %d\n",
			c, c, q->version, restarts[q->restart], rollouts[q->rollout],
			q->daemon ? "daemonscaler" : "spreadscaler", q->n);
		if (q->nspread)
			OUT("            spread:\n");
		for (int s = 0; s < q->nspread; s++) {
			const struct entry *e = &q->spread[s];
			OUT("              - weight: %d\n", e->weight);
			bool any = false;
			for (int k = 0; k < 3; k++)
				if (e->req[k] >= 0) {
					OUT("%s%s: %s",
						any ? ", " : "                requirements: {",
						keys[k], vals[k][e->req[k]]);
					any = true;
				}
			if (any)
				OUT("}\n");
		}
	}
#undef OUT
	op_app_free(S.parsed[a]);
	S.parsed[a] = NULL;
	op_diags d = {0};
	if (op_manifest_parse("p.yaml", y, strlen(y), &S.parsed[a], &d) != 0) {
		op_diags_print(&d, stderr);
		fail("generated manifest refused:\n%s", y);
		op_diags_clear(&d);
		return false;
	}
	op_diags_clear(&d);
	stale = true;
	/* The hash is of the properties exactly as the canonical app JSON has them. */
	char *json = NULL;
	json_t *root = NULL;
	if (op_manifest_to_json(S.parsed[a], &json, NULL) == 0)
		root = json_loads(json, 0, NULL);
	free(json);
	json_t *comps = json_object_get(json_object_get(root, "spec"), "components");
	for (int c = 0; c < p->ncomps; c++) {
		char *props = json_dumps(
			json_object_get(json_array_get(comps, (size_t)c), "properties"),
			JSON_SORT_KEYS | JSON_COMPACT);
		char dg[OP_DIGEST_LEN + 1] = "sha256:";
		if (props)
			op_digest(props, strlen(props), dg);
		free(props);
		if (op_component_hash(&S.parsed[a]->comps[c], S.hash[a][c]) != 0 ||
			strncmp(S.hash[a][c], dg + 7, 12) != 0)
			fail("hash of %s.c%d: %s, the canonical JSON gives %.12s", p->name, c,
				S.hash[a][c], dg + 7);
	}
	json_decref(root);
	return true;
}

static void add_inst(const char *id, const char *host, enum op_inst_state st)
{
	for (size_t i = 0; i < S.ninsts; i++)
		if (!strcmp(S.insts[i].id, id) && !strcmp(S.insts[i].host, host))
			return; /* a host reports an id once */
	if (S.ninsts >= MAXI) {
		fail("too many instances");
		return;
	}
	stale = true;
	op_inst_view *v = &S.insts[S.ninsts++];
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", id);
	snprintf(v->host, sizeof v->host, "%s", host);
	v->state = st;
	v->health = st == OP_INST_RUNNING ? OP_HEALTH_HEALTHY : OP_HEALTH_NONE;
}

static enum op_inst_state rnd_state(void)
{
	int r = rint_in(0, 99);
	return r < 60    ? OP_INST_RUNNING
		: r < 68 ? OP_INST_STARTING
		: r < 74 ? OP_INST_BACKOFF
		: r < 80 ? OP_INST_FAILED
		: r < 90 ? OP_INST_EXITED
			 : OP_INST_STOPPING;
}

static void gen_insts(void)
{
	static const char *const old_hash[] = {"0123456789ab", "fedcba987654"};
	for (size_t a = 0; a < S.napps; a++)
		for (int c = 0; c < S.apps[a].ncomps; c++) {
			const struct comp *q = &S.apps[a].c[c];
			int m = rint_in(0, 2 * q->n + 3);
			for (int i = 0; i < m; i++) {
				const char *h = S.hosts[rint_in(0, (int)S.nhosts - 1)].id;
				const char *hash = chance(70) ? S.hash[a][c]
							      : old_hash[rint_in(0, 1)];
				int n = rint_in(0, q->n + 2);
				char id[OP_INST_MAX + 1];
				if (q->daemon)
					snprintf(id, sizeof id, "%s.c%d.%d@%s-%s", S.apps[a].name,
						c, n,
						chance(85)
							? h
							: S.hosts[rint_in(0, (int)S.nhosts - 1)].id,
						hash);
				else
					snprintf(id, sizeof id, "%s.c%d.%d-%s", S.apps[a].name, c,
						n, hash);
				add_inst(id, h, rnd_state());
				if (chance(15)) /* the same id elsewhere */
					add_inst(id, S.hosts[rint_in(0, (int)S.nhosts - 1)].id,
						rnd_state());
			}
		}
	static const char *const junk[] = {"gone.c0.0-0123456789ab", "app1.c9.0-0123456789ab",
		"garbage", "app0.c0.x-0123456789ab", "app0.c0.01-0123456789ab"};
	for (int i = rint_in(0, 3); i > 0; i--)
		add_inst(junk[rint_in(0, 4)], S.hosts[rint_in(0, (int)S.nhosts - 1)].id,
			rnd_state());
}

/* --- the model's view, computed here ---------------------------------------------------- */

static const op_host_view *host_of(const char *id)
{
	for (size_t i = 0; i < S.nhosts; i++)
		if (!strcmp(S.hosts[i].id, id))
			return &S.hosts[i];
	return NULL;
}

static bool host_alive(const char *id)
{
	const op_host_view *h = host_of(id);
	return h && h->alive;
}

static bool meets(const op_host_view *h, const struct entry *e)
{
	for (int k = 0; k < 3; k++) {
		if (e->req[k] < 0)
			continue;
		const char *v = op_kvs_get(&h->labels, keys[k]);
		if (!v || strcmp(v, vals[k][e->req[k]]))
			return false;
	}
	return true;
}

/* Entries of q that host h meets, as a mask (one implicit entry when there are none). */
static unsigned mask_of(const struct comp *q, const op_host_view *h)
{
	if (!h || !h->alive)
		return 0;
	if (q->nspread == 0)
		return 1;
	unsigned m = 0;
	for (int s = 0; s < q->nspread; s++)
		if (meets(h, &q->spread[s]))
			m |= 1u << s;
	return m;
}

static void shares_of(const struct comp *q, int *share)
{
	if (q->nspread == 0) {
		share[0] = q->n;
		return;
	}
	long long total = 0;
	for (int s = 0; s < q->nspread; s++)
		total += q->spread[s].weight;
	int left = q->n;
	long long rem[MAXS];
	for (int s = 0; s < q->nspread; s++) {
		share[s] = (int)((long long)q->n * q->spread[s].weight / total);
		rem[s] = (long long)q->n * q->spread[s].weight % total;
		left -= share[s];
	}
	while (left-- > 0) { /* one each to the largest remainders, lower index first */
		int best = -1;
		for (int s = 0; s < q->nspread; s++)
			if (rem[s] >= 0 && (best < 0 || rem[s] > rem[best]))
				best = s;
		if (best < 0) /* cannot be: fewer left over than entries */
			break;
		share[best]++;
		rem[best] = -1;
	}
}

struct found {
	int app, comp; /* -1 when nothing desired */
	op_inst_ref ref;
	bool cur;
};

static struct found classify(const char *id)
{
	struct found f = {.app = -1, .comp = -1};
	if (op_inst_id_parse(id, &f.ref) != 0)
		return f;
	for (size_t a = 0; a < S.napps; a++) {
		if (strcmp(S.apps[a].name, f.ref.app))
			continue;
		for (int c = 0; c < S.apps[a].ncomps; c++) {
			char name[16];
			snprintf(name, sizeof name, "c%d", c);
			if (!strcmp(name, f.ref.comp)) {
				f.app = (int)a;
				f.comp = c;
				f.cur = !strcmp(f.ref.hash, S.hash[a][c]);
			}
		}
	}
	return f;
}

/* The classification of S.insts[i], redone only when something changed. */
static const struct found *fnd(size_t i)
{
	static struct found f[MAXI];
	if (stale) {
		for (size_t k = 0; k < S.ninsts; k++)
			f[k] = classify(S.insts[k].id);
		stale = false;
	}
	return &f[i];
}

/* Whether an instance of this kind may run on host h at all (form, ordinal, labels). */
static bool allowed(const struct found *f, const char *h)
{
	if (f->app < 0)
		return false;
	const struct comp *q = &S.apps[f->app].c[f->comp];
	if (f->ref.n >= q->n || q->daemon != (f->ref.host[0] != '\0'))
		return false;
	if (q->daemon && strcmp(f->ref.host, h))
		return false;
	return mask_of(q, host_of(h)) != 0;
}

/* --- planning and applying ----------------------------------------------------------- */

static long long plan_ns;
static int plan_raw(const op_host_view *hosts, const op_inst_view *insts, op_cmd **cmds, size_t *n)
{
	const op_app *apps[MAXA];
	for (size_t a = 0; a < S.napps; a++)
		apps[a] = S.parsed[a];
	op_plan_in in = {apps, S.napps, hosts, S.nhosts, insts, S.ninsts};
	S.plans++;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = op_plan_compute(&in, cmds, n);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	plan_ns += (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	return rc;
}

static bool same(const op_cmd *a, size_t na, const op_cmd *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].op != b[i].op || strcmp(a[i].inst, b[i].inst) ||
			strcmp(a[i].host, b[i].host) || a[i].app != b[i].app ||
			a[i].comp != b[i].comp)
			return false;
	return true;
}

static int cmd_order(const op_cmd *x, const op_cmd *y)
{
	if (x->op != y->op)
		return x->op < y->op ? -1 : 1;
	int c = strcmp(x->inst, y->inst);
	return c ? c : strcmp(x->host, y->host);
}

static void check_cmds(const op_cmd *cmds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const op_cmd *c = &cmds[i];
		if (!host_alive(c->host))
			fail("command to dead or unknown host %s (%s)", c->host, c->inst);
		if (i > 0 && cmd_order(&cmds[i - 1], c) >= 0)
			fail("commands not sorted or repeated at %s", c->inst);
		for (size_t j = 0; j < n; j++)
			if (j != i && c->op == OP_CMD_START && cmds[j].op == OP_CMD_STOP &&
				!strcmp(c->inst, cmds[j].inst) && !strcmp(c->host, cmds[j].host))
				fail("start and stop of %s on %s", c->inst, c->host);
		if (c->op == OP_CMD_STOP) {
			bool there = false;
			for (size_t k = 0; k < S.ninsts && !there; k++)
				there = !strcmp(S.insts[k].id, c->inst) &&
					!strcmp(S.insts[k].host, c->host) &&
					S.insts[k].state != OP_INST_STOPPING;
			if (!there)
				fail("stop of %s on %s, which does not run there", c->inst,
					c->host);
			if (c->app != OP_PLAN_NOIDX || c->comp != OP_PLAN_NOIDX)
				fail("stop with indexes");
			continue;
		}
		struct found f = classify(c->inst);
		if (f.app < 0 || !f.cur || (size_t)f.app != c->app || (size_t)f.comp != c->comp)
			fail("start of %s: not the current spec of app %zu comp %zu", c->inst,
				c->app, c->comp);
		else if (!allowed(&f, c->host))
			fail("start of %s on %s, where it may not run", c->inst, c->host);
		char id[OP_INST_MAX + 1];
		if (f.app >= 0 &&
			(op_inst_id(S.parsed[f.app], &S.parsed[f.app]->comps[f.comp],
				 S.hash[f.app][f.comp], f.ref.n, c->host, id) != 0 ||
				strcmp(id, c->inst)))
			fail("start of %s: op_inst_id gives %s", c->inst, id);
	}
}

/* The most of n ordinals (entries they may go in: masks) that fit in the entries'
 * capacities: n minus the worst deficiency over subsets of entries (Hall, König). */
static int max_fit(const unsigned *masks, int n, const int *cap, int k)
{
	int worst = 0;
	for (unsigned t = 0; t < (1u << k); t++) {
		int inside = 0, room = 0;
		for (int i = 0; i < n; i++)
			inside += (masks[i] & ~t) == 0;
		for (int s = 0; s < k; s++)
			room += t >> s & 1 ? cap[s] : 0;
		worst = inside - room > worst ? inside - room : worst;
	}
	return n - worst;
}

static bool stopped_by(const op_cmd *cmds, size_t n, const op_inst_view *v)
{
	for (size_t i = 0; i < n; i++)
		if (cmds[i].op == OP_CMD_STOP && !strcmp(cmds[i].inst, v->id) &&
			!strcmp(cmds[i].host, v->host))
			return true;
	return false;
}

/* Sticky: of the ordinals that run where some entry allows them, the plan keeps as many
 * as the shares can hold (a maximum matching), so nothing is stopped that could stay. */
static void check_sticky(const op_cmd *cmds, size_t n)
{
	for (size_t a = 0; a < S.napps; a++)
		for (int c = 0; c < S.apps[a].ncomps; c++) {
			const struct comp *q = &S.apps[a].c[c];
			if (q->daemon)
				continue;
			int share[MAXS], k = q->nspread ? q->nspread : 1, m = 0, kept = 0;
			unsigned masks[64] = {0};
			shares_of(q, share);
			for (int o = 0; o < q->n && m < 64; o++) {
				unsigned um = 0;
				bool keep = false;
				for (size_t i = 0; i < S.ninsts; i++) {
					const struct found *f = fnd(i);
					const op_inst_view *v = &S.insts[i];
					if (f->app != (int)a || f->comp != c || !f->cur ||
						f->ref.n != o || f->ref.host[0] ||
						v->state == OP_INST_STOPPING)
						continue;
					unsigned hm = mask_of(q, host_of(v->host));
					um |= hm;
					keep |= hm && !stopped_by(cmds, n, v);
				}
				if (um) {
					masks[m++] = um;
					kept += keep;
				}
			}
			int best = max_fit(masks, m, share, k);
			if (kept != best)
				fail("%s.c%d: the plan keeps %d running ordinals, %d could stay",
					S.apps[a].name, c, kept, best);
		}
}

/* Plans and checks the plan; the caller frees *cmds. */
static bool plan(op_cmd **cmds, size_t *n)
{
	static op_host_view sh[MAXH];
	static op_inst_view si[MAXI];
	*cmds = NULL;
	*n = 0;
	if (plan_raw(S.hosts, S.insts, cmds, n) != 0) {
		fail("op_plan_compute failed");
		return false;
	}
	op_cmd *again = NULL;
	size_t nagain = 0;
	if (plan_raw(S.hosts, S.insts, &again, &nagain) != 0 || !same(*cmds, *n, again, nagain))
		fail("the same input gave other commands");
	free(again);
	memcpy(sh, S.hosts, S.nhosts * sizeof *sh);
	memcpy(si, S.insts, S.ninsts * sizeof *si);
	for (size_t i = S.nhosts; i > 1; i--) {
		size_t j = rnd() % i;
		op_host_view t = sh[i - 1];
		sh[i - 1] = sh[j];
		sh[j] = t;
	}
	for (size_t i = S.ninsts; i > 1; i--) {
		size_t j = rnd() % i;
		op_inst_view t = si[i - 1];
		si[i - 1] = si[j];
		si[j] = t;
	}
	if (plan_raw(sh, si, &again, &nagain) != 0 || !same(*cmds, *n, again, nagain))
		fail("shuffled hosts and instances gave other commands");
	free(again);
	check_cmds(*cmds, *n);
	check_sticky(*cmds, *n);
	if (S.verbose)
		for (size_t i = 0; i < *n; i++)
			printf("  %c %s on %s\n", (*cmds)[i].op == OP_CMD_START ? '+' : '-',
				(*cmds)[i].inst, (*cmds)[i].host);
	return true;
}

/* The hosts act: starts run, stops go; what was in progress finishes (stopping ones go,
 * starting and backing-off ones run). Dead hosts do nothing. */
static bool apply(const op_cmd *cmds, size_t n)
{
	bool changed = n > 0;
	for (size_t i = 0; i < n; i++) {
		const op_cmd *c = &cmds[i];
		size_t k = 0;
		while (k < S.ninsts &&
			(strcmp(S.insts[k].id, c->inst) || strcmp(S.insts[k].host, c->host)))
			k++;
		if (c->op == OP_CMD_STOP && k < S.ninsts)
			S.insts[k] = S.insts[--S.ninsts], stale = true;
		else if (c->op == OP_CMD_START && k < S.ninsts)
			S.insts[k].state = OP_INST_RUNNING, S.insts[k].health = OP_HEALTH_HEALTHY;
		else if (c->op == OP_CMD_START)
			add_inst(c->inst, c->host, OP_INST_RUNNING);
	}
	for (size_t k = S.ninsts; k-- > 0;) {
		op_inst_view *v = &S.insts[k];
		if (!host_alive(v->host))
			continue;
		if (v->state == OP_INST_STOPPING)
			*v = S.insts[--S.ninsts], changed = stale = true;
		else if (v->state == OP_INST_STARTING || v->state == OP_INST_BACKOFF)
			v->state = OP_INST_RUNNING, v->health = OP_HEALTH_HEALTHY, changed = true;
	}
	return changed;
}

static int max_slots(void)
{
	int m = 1;
	for (size_t a = 0; a < S.napps; a++)
		for (int c = 0; c < S.apps[a].ncomps; c++) {
			const struct comp *q = &S.apps[a].c[c];
			int s = q->daemon ? q->n * (int)S.nhosts : q->n;
			m = s > m ? s : m;
		}
	return m;
}

/* plan/apply to the fixpoint; false (and a failure) past the bound. */
static bool converge(const char *phase)
{
	int bound = 2 * max_slots() + 8;
	for (int r = 0; r <= bound; r++) {
		op_cmd *cmds;
		size_t n;
		if (S.verbose)
			printf("%s round %d\n", phase, r);
		if (!plan(&cmds, &n))
			return false;
		bool changed = apply(cmds, n);
		free(cmds);
		if (!changed) {
			S.max_rounds = r > S.max_rounds ? r : S.max_rounds;
			return true;
		}
		if (scen_fail)
			return false;
	}
	fail("%s: no fixpoint in %d rounds", phase, bound);
	return false;
}

/* Instances of app a component c on alive hosts that are not being stopped. */
static int running(size_t a, int c, bool cur_only)
{
	int k = 0;
	for (size_t i = 0; i < S.ninsts; i++) {
		const struct found *f = fnd(i);
		k += f->app == (int)a && f->comp == c && host_alive(S.insts[i].host) &&
			S.insts[i].state != OP_INST_STOPPING && (f->cur || !cur_only);
	}
	return k;
}

/* Can n instances with these masks fill caps exactly? Hall's condition over the subsets
 * of entries: the instances confined to a subset fit in its capacity. */
static bool assignable(const unsigned *masks, int n, const int *cap, int k)
{
	int total = 0;
	for (int s = 0; s < k; s++)
		total += cap[s];
	if (n != total)
		return false;
	for (unsigned t = 0; t < (1u << k); t++) {
		int inside = 0, room = 0;
		for (int i = 0; i < n; i++)
			inside += (masks[i] & ~t) == 0;
		for (int s = 0; s < k; s++)
			room += t >> s & 1 ? cap[s] : 0;
		if (inside > room)
			return false;
	}
	return true;
}

static void check_fixpoint(const char *phase)
{
	/* Nothing undesired, nothing twice, nothing being stopped. */
	for (size_t i = 0; i < S.ninsts; i++) {
		const op_inst_view *v = &S.insts[i];
		if (!host_alive(v->host))
			continue;
		const struct found *f = fnd(i);
		if (!allowed(f, v->host))
			fail("%s: %s runs on %s, where it may not", phase, v->id, v->host);
		if (v->state == OP_INST_STOPPING)
			fail("%s: %s still stopping", phase, v->id);
		for (size_t j = i + 1; j < S.ninsts; j++)
			if (!strcmp(S.insts[j].id, v->id) && host_alive(S.insts[j].host))
				fail("%s: %s on %s and %s", phase, v->id, v->host, S.insts[j].host);
	}
	for (size_t a = 0; a < S.napps; a++)
		for (int c = 0; c < S.apps[a].ncomps; c++) {
			const struct comp *q = &S.apps[a].c[c];
			int all = running(a, c, false), cur = running(a, c, true);
			bool halted = false;
			for (size_t i = 0; i < S.ninsts; i++) {
				const struct found *f = fnd(i);
				halted |= f->app == (int)a && f->comp == c && f->cur &&
					host_alive(S.insts[i].host) &&
					S.insts[i].state == OP_INST_FAILED;
			}
			for (size_t i = 0; i < S.ninsts && all == cur; i++) {
				const struct found *f = fnd(i);
				if (f->app == (int)a && f->comp == c &&
					host_alive(S.insts[i].host) &&
					S.insts[i].state == OP_INST_EXITED && q->restart == 0)
					fail("%s: %s exited under restart always, not restarted",
						phase, S.insts[i].id);
			}
			if (all != cur) { /* a halted rollout may also hold back restarts */
				stats.halted += halted;
				if (!halted)
					fail("%s: %s.c%d runs %d old instances and nothing halted "
					     "the "
					     "rollout",
						phase, S.apps[a].name, c, all - cur);
				continue;
			}
			if (q->daemon) {
				int want = 0;
				for (size_t h = 0; h < S.nhosts; h++)
					want += mask_of(q, &S.hosts[h]) ? q->n : 0;
				if (cur != want)
					fail("%s: daemon %s.c%d runs %d, want %d", phase,
						S.apps[a].name, c, cur, want);
				continue;
			}
			int share[MAXS], cap[MAXS] = {0}, k = q->nspread ? q->nspread : 1;
			shares_of(q, share);
			for (int s = 0; s < k; s++) {
				bool any = false;
				for (size_t h = 0; h < S.nhosts; h++)
					any |= (mask_of(q, &S.hosts[h]) >> s) & 1;
				cap[s] = any ? share[s] : 0;
			}
			unsigned masks[64] = {0};
			int m = 0;
			for (size_t i = 0; i < S.ninsts && m < 64; i++) {
				const struct found *f = fnd(i);
				if (f->app == (int)a && f->comp == c && host_alive(S.insts[i].host))
					masks[m++] = mask_of(q, host_of(S.insts[i].host));
			}
			stats.hall += m > 0;
			if (!assignable(masks, m, cap, k))
				fail("%s: %s.c%d: %d instances do not fill the shares of the "
				     "entries "
				     "that have hosts",
					phase, S.apps[a].name, c, m);
		}
}

/* --- phases ------------------------------------------------------------------------- */

/* From nothing: one round, then nothing to do; even within entries that share no host. */
static void phase_fresh(void)
{
	S.ninsts = 0;
	stale = true;
	op_cmd *cmds;
	size_t n;
	if (!plan(&cmds, &n))
		return;
	apply(cmds, n);
	free(cmds);
	if (!plan(&cmds, &n))
		return;
	if (n != 0)
		fail("fresh placement: plan(apply(plan)) gives %zu commands (first: %s on %s)", n,
			cmds[0].inst, cmds[0].host);
	free(cmds);
	check_fixpoint("fresh");
	for (size_t a = 0; a < S.napps; a++)
		for (int c = 0; c < S.apps[a].ncomps; c++) {
			const struct comp *q = &S.apps[a].c[c];
			int k = q->nspread ? q->nspread : 1;
			bool disjoint = true;
			for (size_t h = 0; h < S.nhosts; h++) {
				unsigned m = mask_of(q, &S.hosts[h]);
				disjoint &= (m & (m - 1)) == 0;
			}
			if (q->daemon || !disjoint)
				continue;
			for (int s = 0; s < k; s++) {
				int lo = 1 << 30, hi = -1;
				for (size_t h = 0; h < S.nhosts; h++) {
					if (!(mask_of(q, &S.hosts[h]) >> s & 1))
						continue;
					int cnt = 0;
					for (size_t i = 0; i < S.ninsts; i++) {
						const struct found *f = fnd(i);
						cnt += f->app == (int)a && f->comp == c &&
							!strcmp(S.insts[i].host, S.hosts[h].id);
					}
					lo = cnt < lo ? cnt : lo;
					hi = cnt > hi ? cnt : hi;
				}
				stats.even += hi > 0;
				if (hi >= 0 && hi - lo > 1)
					fail("fresh: %s.c%d entry %d: %d to %d per host",
						S.apps[a].name, c, s, lo, hi);
			}
		}
}

/* From the fresh fixpoint, a new spec for one component, rolled out. */
static void phase_rollout(void)
{
	size_t a = (size_t)rint_in(0, (int)S.napps - 1);
	int c = rint_in(0, S.apps[a].ncomps - 1);
	struct comp *q = &S.apps[a].c[c];
	int before = running(a, c, false);
	q->version += 10;
	if (!build_app(a))
		return;
	int rounds = 0, bound = 2 * before + 2;
	stats.rollouts += before > 0;
	for (;;) {
		op_cmd *cmds;
		size_t n;
		if (!plan(&cmds, &n))
			return;
		if (n == 0)
			break;
		apply(cmds, n);
		free(cmds);
		rounds++;
		int now = running(a, c, false);
		if (q->rollout == 0 && now > before + 1)
			fail("start-first rollout of %d runs %d", before, now);
		if (q->rollout == 1 && now < before - 1)
			fail("stop-first rollout of %d runs %d", before, now);
		if (rounds > bound || scen_fail) {
			fail("rollout of %d (%s) not done in %d rounds", before,
				rollouts[q->rollout], bound);
			return;
		}
	}
	if (running(a, c, true) != before || running(a, c, false) != before)
		fail("rollout: %d new, %d in all, want %d", running(a, c, true),
			running(a, c, false), before);
	check_fixpoint("rollout");
}

static void run(uint64_t seed, bool verbose)
{
	scen_free();
	scen_fail = false;
	S.seed = seed;
	S.verbose = verbose;
	rs = seed;
	gen_hosts();
	gen_apps();
	for (size_t a = 0; a < S.napps; a++)
		if (!build_app(a))
			goto out;
	/* Random reports, to a fixpoint. */
	gen_insts();
	if (!converge("random"))
		goto out;
	check_fixpoint("random");
	/* Hosts die and return; the dead keep their instances. */
	for (int i = rint_in(1, 2); i > 0; i--) {
		op_host_view *h = &S.hosts[rint_in(0, (int)S.nhosts - 1)];
		h->alive = !h->alive;
	}
	if (!converge("flip"))
		goto out;
	check_fixpoint("flip");
	phase_fresh();
	if (!scen_fail)
		phase_rollout();
out:;
	long plans = S.plans;
	int rounds = S.max_rounds;
	scen_free();
	S.plans = plans;
	S.max_rounds = rounds;
}

static long total_plans;
static int worst_rounds;

static void test_properties(void)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (uint64_t i = 1; i <= NSCEN; i++) {
		run(mix(i), false);
		total_plans += S.plans;
		worst_rounds = S.max_rounds > worst_rounds ? S.max_rounds : worst_rounds;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	printf("     %d scenarios in %.0f ms: %ld plans, %.1f us each; fixpoint in <= %d rounds\n",
		NSCEN, ms, total_plans, (double)plan_ns / 1e3 / (double)total_plans, worst_rounds);
	printf("     checked: %ld share assignments, %ld even entries, %ld rollouts, %ld halted "
	       "by a FAILED instance\n",
		stats.hall, stats.even, stats.rollouts, stats.halted);
}

static uint64_t replay_seed;
static void test_replay(void)
{
	run(replay_seed, true);
}

int main(void)
{
	const char *seed = getenv("PLAN_SEED");
	if (seed && *seed) {
		char *end;
		unsigned long long v = strtoull(seed, &end, 0);
		if (*end) {
			fprintf(stderr, "PLAN_SEED: not a number: %s\n", seed);
			return 2;
		}
		replay_seed = v;
		T_RUN(test_replay);
		return t_done();
	}
	T_RUN(test_properties);
	return t_done();
}
