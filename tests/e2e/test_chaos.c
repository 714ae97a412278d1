/* Seeded chaos: a hub (nats-server, sync) and one site (leaf nats-server, agent, three
 * hosts) under random faults, one a step: link cuts and restores, kill -9 of the agent,
 * a host, a whole box (host, shims, workloads), the site's server, the whole site at
 * once (a power cut), sync in the middle of a publish, the hub's server; and pushes,
 * signed (accepted) or not (unsigned, or with an invalid manifest: rejected).
 *
 * After every step, and once more after the faults stop (link back, everything up):
 * the site converges within DEADLINE_MS to the revision it can know (the head while the
 * link and the hub are up, else what it had), to exactly that revision's instance
 * counts; every workload has its shim and every shim one workload; every revision the
 * agent logged applying is one sync accepted (never an unsigned, rejected or half one);
 * after a push or a catch-up, every set of processes seen on the way is a step from the
 * old revision to the new one. The agent verifies every revision at the edge (--trust,
 * the same allowed_signers as the hub's): a half-written revision, a sync killed between
 * its blob and proof writes, must never fail that check once the marker is there.
 *
 * Rollouts take part: a canary site (its own leaf server, agent and host, no faults)
 * beside the site under faults, which is in the later wave of the apps with canary
 * waves (even indexes) and judges the others alone (a progress deadline of 3 s). Some
 * pushes are bad versions whose health probe never passes. The site then runs, per app,
 * the spec it ran before (a rollback at the site, or a later wave held by the hub's
 * halted rollout), and what it converges to follows that; the trail may pass through
 * the bad version only where the site judges it alone. From the logs: no spec of a
 * waved app starts at the site under faults before the hub promoted its wave, and every
 * rollback comes within the deadline (plus rounds) of the start it undoes, unless the
 * agent restarted between.
 *
 * CHAOS_SEED replays a run (the seed is printed at the start and with any failure),
 * CHAOS_STEPS sets its length (10 here: `make test`; `make chaos` runs 100). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fleet.h"
#include "t.h"

/* After the hub's server was killed, a site's mirror may stall for a while before
 * nats-server retries it (the agent reads past it), and a waved app waits for its
 * promotion until the canary's report reaches the hub (41 s seen). */
#define DEADLINE_MS 150000
#define NHOSTS 3
#define NAPPS 6
#define CANARY_HOST 7 /* the canary's host state dir: <tmp>/host7 */
#define PROGRESS_MS 3000
#define ROUNDS_MS 3000 /* rounds, heartbeats and a restart count past the deadline */

/* Even apps: canary first, the rest once it ran the spec healthy for 2 s; odd apps:
 * every site at once, judged alone. Both roll back after 3 s. */
#define WAVES \
	"    - name: waves\n      type: rollout\n      properties:\n        waves:\n" \
	"          - name: canary\n            requirements: {ring: canary}\n" \
	"          - name: rest\n        soak: 2s\n        progress_deadline: 3s\n"
#define ALONE "    - name: alone\n      type: rollout\n      properties: {progress_deadline: 3s}\n"
/* A bad version: it runs, but its probe never passes (and never restarts it). */
#define BAD_PROBE "        health: {exec: {command: /bin/false}, interval: 200ms, failures: 100}\n"

static fleet F;
static fl_site C = {.name = "canary"};
static unsigned long long seed;
static int step, nsteps;
static long long run_start;

/* xorshift64*: the run is a function of the seed. */
static unsigned long long rng_state;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 2685821657736338717ULL) >> 33) % n;
}

/* ---- what the site should run -------------------------------------------------------------- */

/* An accepted revision: its commit, seq and apps. */
typedef struct rev {
	char commit[41];
	uint64_t seq;
	fl_app apps[FL_MAXAPPS];
} rev;

static rev accepted[1024];
static int naccepted;
static rev head; /* the newest accepted */
static rev at_site; /* what the site can have: head, unless cut off since */
static bool link_cut, hub_down;
static int version = 1; /* every version number is used once */

static const char *plan_of(const rev *r)
{
	fl_app saved[FL_MAXAPPS];
	memcpy(saved, F.apps, sizeof saved);
	memcpy(F.apps, r->apps, sizeof F.apps);
	const char *p = fl_plan(&F);
	memcpy(F.apps, saved, sizeof saved);
	return p;
}

/* What the site under faults runs of each app: the last good spec it ran, which a bad
 * one does not replace (an app new at the site has none: it runs even a bad one, unless
 * the app has waves: the canary never passes it). */
static fl_app good[FL_MAXAPPS];

static bool bad(const fl_app *a)
{
	return a->on && a->props != NULL;
}

static rev expected_of(const rev *r)
{
	rev x = *r;
	for (int i = 0; i < FL_MAXAPPS; i++) {
		if (!bad(&r->apps[i]))
			continue;
		if (good[i].on)
			x.apps[i] = good[i];
		else if (i % 2 == 0) /* a waved app's bad spec never passes the canary */
			x.apps[i].on = false;
	}
	return x;
}

/* What the site runs now, as the model says. */
static const char *running_plan(void)
{
	rev x = expected_of(&at_site);
	return plan_of(&x);
}

/* The site runs r now: its good specs follow. */
static void site_ran(const rev *r)
{
	for (int i = 0; i < FL_MAXAPPS; i++)
		if (!r->apps[i].on)
			good[i].on = false;
		else if (!bad(&r->apps[i]))
			good[i] = r->apps[i];
}

static void note_accepted(const char *commit, uint64_t seq)
{
	rev r = {0};
	snprintf(r.commit, sizeof r.commit, "%s", commit);
	r.seq = seq;
	memcpy(r.apps, F.apps, sizeof r.apps);
	if (naccepted < 1024)
		accepted[naccepted++] = r;
	head = r;
	if (!link_cut && !hub_down)
		at_site = r;
}

static void fail_here(const char *what)
{
	t_fail(__FILE__, __LINE__,
		"step %d of %d (seed %llu; replay with CHAOS_SEED=%llu "
		"CHAOS_STEPS=%d): %s",
		step, nsteps, seed, seed, nsteps, what);
}

/* ---- invariants ------------------------------------------------------------------------------ */

/* Every "applying revision" line of the agent's log names an accepted commit and seq,
 * and no revision sync published was refused at the edge. */
static const char *applied_unaccepted(void)
{
	char *s = h_read(fl_agent_log());
	const char *bad = NULL;
	const char *refused = s ? strstr(s, "revision refused at the edge") : NULL;
	if (refused)
		bad = h_str("%.300s", refused);
	for (char *p = s; !bad && p && (p = strstr(p, "msg=\"applying revision\" commit=")); p++) {
		char c12[13] = "";
		unsigned long long sq = 0;
		if (sscanf(p, "msg=\"applying revision\" commit=%12s seq=%llu", c12, &sq) != 2) {
			bad = h_str("unreadable line: %.80s", p);
			break;
		}
		bool ok = false;
		for (int i = 0; i < naccepted && !ok; i++)
			ok = !strncmp(accepted[i].commit, c12, 12) && accepted[i].seq == sq;
		if (!ok) {
			bad = h_str("applied commit %s seq %llu, never accepted", c12, sq);
			break;
		}
	}
	free(s);
	return bad;
}

/* A log line's time=, in ms since the epoch; -1 when it has none. */
static long long line_ms(const char *line)
{
	struct tm tm = {0};
	int ms = 0;
	if (sscanf(line, "time=%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		    &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms) != 7)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm) * 1000 + ms;
}

/* The value after "key=" in line (up to a space or quote), into out. */
static bool line_field(const char *line, const char *key, char *out, size_t cap)
{
	const char *p = strstr(line, key);
	size_t n = 0;
	if (!p)
		return false;
	for (p += strlen(key); *p && *p != ' ' && *p != '"' && *p != '\n' && n + 1 < cap; p++)
		out[n++] = *p;
	out[n] = '\0';
	return n > 0;
}

/* The lines of a log, each handed to fn; stops when fn returns a finding. */
static const char *each_line(
	const char *path, const char *(*fn)(const char *line, void *), void *arg)
{
	char *s = h_read(path);
	const char *found = NULL;
	for (char *l = s; !found && l && *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		found = fn(l, arg);
		l = nl ? nl + 1 : NULL;
	}
	free(s);
	return found;
}

/* sync's promotions of the rest wave: app, the spec's digest (12 hex), when. */
typedef struct promo {
	char app[8], digest[16];
	unsigned long long seq;
	long long ms;
} promo;

typedef struct promos {
	promo v[1024];
	int n;
} promos;

static const char *sync_line(const char *l, void *arg)
{
	promos *p = arg;
	char app[8] = "", d[32] = "", sq[24] = "";
	if (p->n >= 1024 || !line_field(l, " app=", app, sizeof app) ||
		!line_field(l, " seq=", sq, sizeof sq))
		return NULL;
	if (strstr(l, "msg=\"hub.rollout started\"") && line_field(l, " digest=sha256:", d, 13)) {
		promo *x = &p->v[p->n++];
		snprintf(x->app, sizeof x->app, "%s", app);
		snprintf(x->digest, sizeof x->digest, "%s", d);
		x->seq = strtoull(sq, NULL, 10);
		x->ms = -1; /* not promoted yet */
	} else if (strstr(l, "msg=\"hub.rollout promoted")) {
		for (int i = p->n - 1; i >= 0; i--)
			if (!strcmp(p->v[i].app, app) && p->v[i].seq == strtoull(sq, NULL, 10)) {
				if (p->v[i].ms < 0)
					p->v[i].ms = line_ms(l);
				break;
			}
	}
	return NULL;
}

/* A spec of a waved app that the site under faults started before the hub promoted it
 * (sync logs a promotion just after it wrote the record: 500 ms of slack). */
static const char *agent_started(const char *l, void *arg)
{
	const promos *p = arg;
	char app[8] = "", spec[80] = "";
	if (!strstr(l, "msg=\"rollout: the app runs its new spec\"") ||
		!line_field(l, " app=", app, sizeof app) ||
		!line_field(l, " spec=sha256:", spec, sizeof spec) || atoi(app + 1) % 2 != 0)
		return NULL;
	long long t = line_ms(l);
	for (int i = 0; i < p->n; i++)
		if (!strcmp(p->v[i].app, app) && !strncmp(p->v[i].digest, spec, 12) &&
			p->v[i].ms >= 0 && p->v[i].ms <= t + 500)
			return NULL;
	return h_str(
		"the site started %s at %.12s before the hub promoted it: %.200s", app, spec, l);
}

static const char *wave_violation(void)
{
	static promos p;
	p.n = 0;
	each_line(h_path("sync.log"), sync_line, &p);
	return each_line(fl_agent_log(), agent_started, &p);
}

/* Each rollback against the start it undoes: within the deadline and some rounds,
 * unless the agent restarted between (a rollout is not judged before its hosts are
 * heard again). */
typedef struct starts {
	char app[FL_MAXAPPS][80];
	long long ms[FL_MAXAPPS];
} starts;

static const char *agent_rollbacks(const char *l, void *arg)
{
	starts *s = arg;
	char app[8] = "", spec[80] = "";
	if (strstr(l, "msg=\"agent started\"")) {
		for (int i = 0; i < FL_MAXAPPS; i++)
			s->ms[i] = -1;
		return NULL;
	}
	if (!line_field(l, " app=a", app, sizeof app))
		return NULL;
	int i = atoi(app);
	if (i < 0 || i >= FL_MAXAPPS)
		return NULL;
	if (strstr(l, "msg=\"rollout: the app runs its new spec\"") &&
		line_field(l, " spec=", spec, sizeof spec)) {
		snprintf(s->app[i], sizeof s->app[i], "%s", spec);
		s->ms[i] = line_ms(l);
	} else if (strstr(l, "msg=\"rolled back:") && line_field(l, " from=", spec, sizeof spec) &&
		s->ms[i] >= 0 && !strcmp(s->app[i], spec) &&
		line_ms(l) - s->ms[i] > PROGRESS_MS + ROUNDS_MS) {
		return h_str("a%02d rolled back %lld ms after it started (deadline %d ms): %.200s",
			i, line_ms(l) - s->ms[i], PROGRESS_MS, l);
	}
	return NULL;
}

static const char *rollback_late(void)
{
	static starts s;
	for (int i = 0; i < FL_MAXAPPS; i++)
		s.ms[i] = -1;
	return each_line(fl_agent_log(), agent_rollbacks, &s);
}

struct settle {
	const char *want, *from; /* from: check the trail against it (NULL: do not) */
	const char *to; /* the trail's other end: the revision as git says (bad specs too) */
	const rev *exp; /* what the site should run, per app */
	long long seq;
	const char *bad, *last;
	long long since; /* the present streak of "as wanted" began; 0 none */
};

/* Every host that is up shows alive in the agent's status: each has been through the
 * refresh that restarts what its state dir holds (a box that comes back runs its old
 * instances until the agent stops the surplus). */
static bool hosts_heard(void)
{
	for (int i = 0; i < F.nhosts; i++) {
		if (!F.host_up[i])
			continue;
		json_t *j = fl_kv_json(F.site_status, h_str("site.%s.host.h%d", F.name, i));
		bool alive = json_is_true(json_object_get(j, "alive"));
		json_decref(j);
		if (!alive)
			return false;
	}
	return true;
}

/* The site has judged every app: healthy at what it runs, or back on its good spec (a
 * rollback, or a halted wave), so that the spec a next push replaces is the one the
 * model says. An app new here with a bad spec and no waves is never judged: not waited
 * for. */
static bool apps_judged(const rev *exp)
{
	for (int i = 0; i < FL_MAXAPPS; i++) {
		const fl_app *a = &at_site.apps[i];
		if (!a->on || (bad(a) && !good[i].on && i % 2))
			continue;
		json_t *j = fl_kv_json(F.site_status, h_str("site.%s.app.a%02d", F.name, i));
		const char *st = json_string_value(json_object_get(j, "state"));
		bool ok = st &&
			(bad(a) ? !strcmp(st, i % 2 ? "rolled-back" : "waiting")
				: !strcmp(st, "deployed"));
		json_decref(j);
		if (!ok)
			return false;
	}
	(void)exp;
	return true;
}

/* As wanted, and still so one heartbeat (300 ms) and more later. */
static bool settled(void *arg)
{
	struct settle *s = arg;
	const char *set = fl_seen(&F);
	s->last = set;
	if (s->from && !s->bad)
		s->bad = fl_not_between(set, s->from, s->to);
	bool ok = !strcmp(set, s->want) && fl_agent_seq(&F) == s->seq && hosts_heard() &&
		apps_judged(s->exp);
	if (!ok)
		s->since = 0;
	else if (!s->since)
		s->since = h_now_ms();
	return ok && h_now_ms() - s->since >= 400;
}

/* Waits for the site to run what it should; checks the invariants. from: the plan it ran
 * before a revision change (the trail is checked), or NULL. */
static bool settle(const char *from)
{
	const rev *t = &at_site;
	rev x = expected_of(t);
	struct settle s = {plan_of(&x), from, plan_of(t), &x, (long long)t->seq, NULL, NULL, 0};
	long long t0 = h_now_ms();
	if (!h_wait_until(settled, &s, DEADLINE_MS)) {
		fail_here(h_str("not converged after %d ms: want %s (seq %llu), have %s (agent "
				"at seq %lld)",
			DEADLINE_MS, s.want, (unsigned long long)t->seq, s.last, fl_agent_seq(&F)));
		return false;
	}
	long long took = h_now_ms() - t0;
	if (took > 10000)
		printf("  step %d: converged after %lld ms\n", step, took);
	if (s.bad)
		fail_here(s.bad);
	/* A shim may still be starting its workload right after a restart. */
	const char *o = fl_orphans_settled(&F, 5000);
	if (o[0])
		fail_here(o);
	const char *u = applied_unaccepted();
	if (u)
		fail_here(u);
	const char *w = wave_violation();
	if (w)
		fail_here(w);
	const char *l = rollback_late();
	if (l)
		fail_here(l);
	site_ran(t);
	return !s.bad && !o[0] && !u && !w && !l;
}

/* ---- faults ---------------------------------------------------------------------------------- */

static bool pushable(void)
{
	return !hub_down && F.sync_pid > 0;
}

/* A random change to the model: an app added, scaled, changed or deleted. */
static void mutate(void)
{
	int i = (int)rnd(NAPPS);
	fl_app *a = &F.apps[i];
	if (!a->on) {
		bool daemon = rnd(4) == 0;
		*a = (fl_app){.on = true,
			.ver = version++,
			.instances = daemon ? 1 : 1 + (int)rnd(3),
			.daemon = daemon,
			.policies = i % 2 ? ALONE : WAVES};
		return;
	}
	switch (rnd(7)) {
	case 0:
	case 1: a->instances = a->daemon ? 1 + (int)rnd(2) : 1 + (int)rnd(4); break;
	case 2:
	case 3:
		a->ver = version++;
		a->props = NULL;
		break;
	case 4:
	case 5: /* a bad version */
		a->ver = version++;
		a->props = BAD_PROBE;
		break;
	default: a->on = false;
	}
}

static const char *act_push(void)
{
	if (!pushable())
		return NULL;
	const char *from = link_cut ? NULL : running_plan();
	mutate();
	uint64_t s = fl_push(&F);
	if (!s) {
		fail_here("a signed push was not accepted");
		return "push (failed)";
	}
	note_accepted(h_repo_rev(F.repo, "HEAD"), s);
	settle(from);
	return "push";
}

/* An unsigned commit, or a signed one with an invalid manifest: sync refuses it, and
 * the branch goes back to the last accepted commit (under --verify all an unsigned
 * commit in the history would refuse every later push). */
static const char *act_reject(void)
{
	if (!pushable())
		return NULL;
	bool unsigned_ = rnd(2) == 0;
	fl_app saved[FL_MAXAPPS];
	memcpy(saved, F.apps, sizeof saved);
	mutate();
	if (!unsigned_)
		h_repo_write(F.repo, "apps/bad.yaml",
			"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: "
			"bad}\n"
			"spec:\n  components:\n    - name: main\n      type: process\n"
			"      properties: {command: relative/path}\n");
	const char *sha = fl_commit(&F, unsigned_ ? NULL : F.key, "should be refused");
	json_t *j = sha ? fl_sync(&F, 30000) : NULL;
	const char *out = json_string_value(json_object_get(j, "outcome"));
	if (!out || strcmp(out, "rejected") != 0)
		fail_here(h_str("a %s commit was not rejected: %s",
			unsigned_ ? "unsigned" : "invalid", out ? out : "no answer"));
	json_decref(j);
	memcpy(F.apps, saved, sizeof saved);
	h_repo_git(F.repo, NULL, "reset -q --hard %s", head.commit);
	settle(NULL);
	return unsigned_ ? "unsigned push, rejected" : "invalid push, rejected";
}

static const char *act_link(void)
{
	if (!link_cut) {
		h_link_cut(F.site);
		link_cut = true;
		settle(NULL);
		return "link cut";
	}
	const char *from = running_plan();
	h_link_restore(F.site);
	link_cut = false;
	if (!hub_down)
		at_site = head;
	settle(from);
	return "link restored";
}

static const char *act_agent(void)
{
	h_proc_stop(F.agent_pid, true, 1000);
	fl_start_agent(&F);
	settle(NULL);
	return "agent kill -9";
}

static int pick_host(bool up)
{
	int n = 0, pick[FL_MAXHOSTS];
	for (int i = 0; i < F.nhosts; i++)
		if (F.host_up[i] == up)
			pick[n++] = i;
	return n ? pick[rnd((unsigned)n)] : -1;
}

static const char *act_host(void)
{
	int i = pick_host(true);
	h_proc_stop(F.host_pid[i], true, 1000);
	fl_start_host(&F, i);
	settle(NULL);
	return h_str("host h%d kill -9", i);
}

/* A box goes down (host, shims, workloads), or one that is down comes back. */
static const char *act_box(void)
{
	int down = pick_host(false);
	if (down >= 0 && (fl_hosts_up(&F) < 2 || rnd(2))) {
		fl_start_host(&F, down);
		settle(NULL);
		return h_str("box h%d back", down);
	}
	if (fl_hosts_up(&F) < 2)
		return NULL;
	int i = pick_host(true);
	if (!fl_box_down(&F, i))
		fail_here(h_str("processes of box h%d survived", i));
	settle(NULL);
	return h_str("box h%d down", i);
}

static const char *act_site_server(void)
{
	h_nats_stop(F.site, true);
	if (h_nats_start_again(F.site) != 0)
		fail_here("the site's server did not start again");
	settle(NULL);
	return "site server kill -9";
}

static const char *act_power(void)
{
	if (!fl_power_cut(&F))
		fail_here("processes of the site survived the power cut");
	if (h_nats_start_again(F.site) != 0)
		fail_here("the site's server did not start again");
	fl_start_agent(&F);
	for (int i = 0; i < F.nhosts; i++)
		if (F.host_up[i])
			fl_start_host(&F, i);
	settle(NULL);
	return "site power cut";
}

struct until {
	long long at;
};

static bool reached(void *arg)
{
	return h_now_ms() >= ((struct until *)arg)->at;
}

/* sync killed at a random moment of a publish; started again, it finishes the job. */
static const char *act_sync(void)
{
	if (!pushable())
		return NULL;
	const char *from = link_cut ? NULL : running_plan();
	mutate();
	const char *sha = fl_commit(&F, F.key, "sync dies publishing this");
	natsConnection_PublishRequestString(F.hub_nc, "outpost.hub.sync.now", "_INBOX.chaos", "{}");
	natsConnection_Flush(F.hub_nc);
	h_wait_until(reached, &(struct until){h_now_ms() + rnd(150)}, 1000);
	h_proc_stop(F.sync_pid, true, 1000);
	fl_start_sync(&F);
	json_t *j = fl_sync(&F, 30000);
	const char *out = json_string_value(json_object_get(j, "outcome"));
	const char *commit = json_string_value(json_object_get(j, "commit"));
	uint64_t s = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	if (!out || (strcmp(out, "accepted") && strcmp(out, "unchanged")) || !commit || !sha ||
		strcmp(commit, sha) != 0)
		fail_here(h_str(
			"sync did not publish after its restart: %s", out ? out : "no answer"));
	else
		note_accepted(sha, s);
	json_decref(j);
	settle(from);
	return "sync kill -9 while publishing";
}

static const char *act_hub(void)
{
	h_nats_stop(F.hub, true);
	hub_down = true;
	settle(NULL);
	if (h_nats_start_again(F.hub) != 0)
		fail_here("the hub's server did not start again");
	hub_down = false;
	const char *from = running_plan();
	if (!link_cut)
		at_site = head;
	settle(from);
	return "hub server kill -9";
}

/* ---- the run -----------------------------------------------------------------------------------
 */

static void test_chaos(void)
{
	const char *s = getenv("CHAOS_SEED"), *n = getenv("CHAOS_STEPS");
	seed = s && *s ? strtoull(s, NULL, 10)
		       : (unsigned long long)time(NULL) ^ (unsigned long long)getpid();
	nsteps = n && *n ? atoi(n) : 10;
	rng_state = seed ? seed : 1;
	printf("  chaos: seed %llu, %d steps (replay: CHAOS_SEED=%llu CHAOS_STEPS=%d)\n", seed,
		nsteps, seed, nsteps);
	run_start = h_now_ms();
	F.agent_args = h_str("--trust %s", h_path("allowed_signers")); /* fl_start writes it */
	F.site_hosts = CANARY_HOST; /* the canary's workloads are not the plant's */
	T_REQUIRE(fl_start(&F, "plant", NHOSTS));
	T_REQUIRE(
		fl_site_start(&F, &C, CANARY_HOST, h_str("--label ring=canary %s", F.agent_args)));
	/* The hub knows both sites before the first push: a wave it knows no site of is
	 * promoted through. */
	T_REQUIRE(fl_wait_key(F.hub_status, "site.canary.agent", DEADLINE_MS));
	T_REQUIRE(fl_wait_key(F.hub_status, "site.plant.agent", DEADLINE_MS));
	/* sync's first pass published the empty first commit. */
	json_t *j = fl_sync(&F, 30000);
	const char *c0 = json_string_value(json_object_get(j, "commit"));
	T_REQUIRE(c0 && json_integer_value(json_object_get(j, "seq")) > 0);
	note_accepted(c0, (uint64_t)json_integer_value(json_object_get(j, "seq")));
	json_decref(j);
	F.apps[0] = (fl_app){
		.on = true, .ver = version++, .instances = 3, .daemon = false, .policies = WAVES};
	F.apps[1] = (fl_app){
		.on = true, .ver = version++, .instances = 1, .daemon = true, .policies = ALONE};
	uint64_t sq = fl_push(&F);
	T_REQUIRE(sq > 0);
	note_accepted(h_repo_rev(F.repo, "HEAD"), sq);
	T_REQUIRE(settle(NULL));
	static const char *(*const acts[])(void) = {act_push, act_push, act_push, act_reject,
		act_link, act_link, act_agent, act_host, act_box, act_site_server, act_power,
		act_sync, act_hub};
	int nacts = (int)(sizeof acts / sizeof *acts);
	for (step = 1; step <= nsteps && t_failed_checks == 0; step++) {
		long long t0 = h_now_ms();
		const char *what = NULL;
		while (!what)
			what = acts[rnd((unsigned)nacts)]();
		printf("  step %3d: %-32s %5lld ms%s\n", step, what, h_now_ms() - t0,
			link_cut ? " (link cut)" : "");
	}
	/* The faults stop: link back, every box up, one last push. */
	step = nsteps + 1;
	if (t_failed_checks == 0) {
		if (link_cut)
			act_link();
		for (int i = pick_host(false); i >= 0; i = pick_host(false))
			fl_start_host(&F, i);
		settle(NULL); /* a box back runs what it ran until the agent says otherwise */
		act_push();
		int bads = 0;
		for (int i = 0; i < naccepted; i++)
			for (int k = 0; k < FL_MAXAPPS; k++)
				bads += bad(&accepted[i].apps[k]) &&
					(i == 0 ||
						accepted[i - 1].apps[k].ver !=
							accepted[i].apps[k].ver);
		printf("  chaos: %d bad versions pushed, %d rollbacks at the plant, %d "
		       "promotions\n",
			bads, fl_log_count(fl_agent_log(), 0, "rolled back: the app"),
			fl_log_count(h_path("sync.log"), 0, "msg=\"hub.rollout promoted\""));
		printf("  chaos: %d steps in %lld ms, %d revisions accepted, seed %llu\n", nsteps,
			h_now_ms() - run_start, naccepted, seed);
	}
	fl_site_stop(&C);
	fl_stop(&F);
}

int main(void)
{
	T_RUN(test_chaos);
	return t_done();
}
