/* Per-app holds at a site (hold.h): every state against every kind of round (same or
 * another target, may run or not, progress healthy / short / crashing / past the
 * deadline), and the sequences an operator meets: a rollout that passes, one rolled back
 * and not retried, a newer spec after a rollback, a wave that waits then runs, a new app
 * that fails (no rollback), and a rollout replaced before it finished; which moves must
 * reach the disk. */
#include <stdio.h>
#include <string.h>

#include "outpost/agent/plan/hold.h"
#include "t.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "sha256:3333333333333333333333333333333333333333333333333333333333333333"
#define T0 (1800000000LL * 1000)
#define DEADLINE (5LL * 60 * 1000)

static op_hold_in round_(const char *target, bool may, int desired, int healthy, int64_t at)
{
	op_hold_in in = {target, may, may ? NULL : "wave rest waits for promotion", DEADLINE,
		{desired, healthy, NULL, NULL}, T0 + at};
	return in;
}

static op_hold steady(const char *spec)
{
	op_hold h;
	op_hold_steady(&h, "web", spec, T0);
	return h;
}

static void test_rollout_passes(void)
{
	op_hold h = steady(D1);
	op_hold_in in = round_(D2, true, 2, 0, 1000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_START);
	T_EQ_INT(h.state, OP_HOLD_ROLLING);
	T_EQ_STR(h.spec, D2);
	T_EQ_STR(h.prev, D1);
	T_EQ_STR(h.target, D2);
	T_CHECK(h.since_ms == T0 + 1000);
	in = round_(D2, true, 2, 1, 2000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_INT(h.state, OP_HOLD_ROLLING);
	in = round_(D2, true, 2, 2, 3000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_DONE);
	T_EQ_INT(h.state, OP_HOLD_STEADY);
	T_EQ_STR(h.spec, D2);
	T_EQ_STR(h.prev, "");
	T_EQ_STR(h.reason, "");
	/* steady stays steady whatever its instances do (the shim restarts them) */
	in = round_(D2, true, 2, 0, DEADLINE * 3);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_INT(h.state, OP_HOLD_STEADY);
}

static void test_deadline(void)
{
	op_hold h = steady(D1);
	op_hold_in in = round_(D2, true, 3, 0, 0);
	op_hold_step(&h, &in);
	/* one millisecond before the deadline: still rolling; at it: rolled back */
	in = round_(D2, true, 3, 2, DEADLINE - 1);
	in.progress.sick = "web.api.2-abc on h1 unhealthy: http :8080/healthz: status 503";
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	in.now_ms = T0 + DEADLINE;
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_ROLLBACK);
	T_EQ_INT(h.state, OP_HOLD_ROLLED_BACK);
	T_EQ_STR(h.spec, D1);
	T_EQ_STR(h.prev, "");
	T_EQ_STR(h.target, D2);
	T_CHECK(h.since_ms == T0 + DEADLINE);
	T_CHECK_MSG(strstr(h.reason, "2 of 3 instances healthy after the progress deadline (5m)") &&
			strstr(h.reason, "status 503"),
		"reason: %s", h.reason);
	/* the same spec again, healthy or not, may run or not: not retried */
	for (int may = 0; may < 2; may++) {
		in = round_(D2, may, 3, 3, DEADLINE * 2);
		T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
		T_EQ_INT(h.state, OP_HOLD_ROLLED_BACK);
		T_EQ_STR(h.spec, D1);
	}
	/* a newer spec: a rollout of its own, back to the spec that runs */
	in = round_(D3, true, 3, 0, DEADLINE * 3);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_START);
	T_EQ_STR(h.spec, D3);
	T_EQ_STR(h.prev, D1);
	T_EQ_STR(h.reason, "");
	/* and a revision going back to the spec that runs is steady at once */
	h = steady(D1);
	in = round_(D2, true, 3, 0, 0);
	op_hold_step(&h, &in);
	in = round_(D2, true, 3, 0, DEADLINE);
	op_hold_step(&h, &in);
	in = round_(D1, true, 3, 0, DEADLINE + 1);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_STEADY);
	T_EQ_INT(h.state, OP_HOLD_STEADY);
	T_EQ_STR(h.spec, D1);
	T_EQ_STR(h.target, D1);
}

static void test_nothing_to_judge(void)
{
	/* no instance wanted (no host for it yet, or the hosts not heard since a restart):
	 * neither done nor rolled back, however long */
	op_hold h = steady(D1);
	op_hold_in in = round_(D2, true, 0, 0, 0);
	op_hold_step(&h, &in);
	in = round_(D2, true, 0, 0, DEADLINE * 4);
	in.progress.crashing = "x";
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_INT(h.state, OP_HOLD_ROLLING);
	/* then judged as soon as there is something to judge */
	in = round_(D2, true, 1, 0, DEADLINE * 4);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_ROLLBACK);
}

static void test_crash_loop(void)
{
	op_hold h = steady(D1);
	op_hold_in in = round_(D2, true, 1, 0, 0);
	op_hold_step(&h, &in);
	in = round_(D2, true, 1, 0, 5000);
	in.progress.crashing = "web.api.0-abc on h1 restarted 3 times: exit 1: boom";
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_ROLLBACK);
	T_EQ_STR(h.spec, D1);
	T_CHECK_MSG(!strncmp(h.reason, "crash loop: web.api.0-abc", 25), "reason: %s", h.reason);
	/* healthy wins over a crash count: the rollout is judged done first */
	h = steady(D1);
	in = round_(D2, true, 1, 0, 0);
	op_hold_step(&h, &in);
	in = round_(D2, true, 1, 1, 5000);
	in.progress.crashing = "x";
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_DONE);
}

static void test_new_app(void)
{
	/* an app new at the site runs nothing before; failing, it is never rolled back */
	op_hold h;
	op_hold_init(&h, "web");
	T_EQ_STR(h.spec, "");
	op_hold_in in = round_(D1, true, 1, 0, 0);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_START);
	T_EQ_STR(h.prev, "");
	in = round_(D1, true, 1, 0, DEADLINE * 10);
	in.progress.crashing = "web.api.0-abc restarted 9 times";
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_INT(h.state, OP_HOLD_ROLLING);
	T_EQ_STR(h.spec, D1);
	/* a new app waits for its wave running nothing */
	op_hold_init(&h, "web");
	in = round_(D1, false, 1, 0, 0);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_WAIT);
	T_EQ_INT(h.state, OP_HOLD_WAITING);
	T_EQ_STR(h.spec, "");
	T_EQ_STR(h.reason, "wave rest waits for promotion");
}

static void test_waves(void)
{
	op_hold h = steady(D1);
	op_hold_in in = round_(D2, false, 2, 2, 0);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_WAIT);
	T_EQ_STR(h.spec, D1);
	T_EQ_STR(h.target, D2);
	/* the reason follows the gate's, quietly */
	in.wait_why = "rollout halted at wave canary";
	in.now_ms = T0 + 10;
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_STR(h.reason, "rollout halted at wave canary");
	T_CHECK(h.since_ms == T0); /* waiting since the spec arrived */
	/* a wait is not judged: no deadline while waiting */
	in = round_(D2, false, 2, 0, DEADLINE * 5);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_INT(h.state, OP_HOLD_WAITING);
	/* promoted: rolled out from what it ran */
	in = round_(D2, true, 2, 2, DEADLINE * 6);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_START);
	T_EQ_STR(h.prev, D1);
	T_EQ_STR(h.reason, "");
	/* a newer spec the wave may not run yet, while it waits: waits on, for that one */
	h = steady(D1);
	in = round_(D2, false, 2, 2, 0);
	op_hold_step(&h, &in);
	in = round_(D3, false, 2, 2, 10);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_WAIT);
	T_EQ_STR(h.target, D3);
	T_EQ_STR(h.spec, D1);
}

static void test_replaced_mid_rollout(void)
{
	/* a rollout replaced before it finished keeps the last good spec to go back to */
	op_hold h = steady(D1);
	op_hold_in in = round_(D2, true, 2, 0, 0);
	op_hold_step(&h, &in);
	in = round_(D3, true, 2, 0, 1000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_START);
	T_EQ_STR(h.prev, D1);
	T_EQ_STR(h.spec, D3);
	T_CHECK(h.since_ms == T0 + 1000); /* the deadline counts from the newer spec */
	in = round_(D3, true, 2, 0, 1000 + DEADLINE);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_ROLLBACK);
	T_EQ_STR(h.spec, D1);
	/* a steady app whose revision names its own spec again: nothing */
	h = steady(D1);
	in = round_(D1, false, 2, 0, 0);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_EQ_INT(h.state, OP_HOLD_STEADY);
}

static void test_gate(void)
{
	op_kv canary_kv[] = {{"ring", "canary"}};
	op_wave waves[] = {{"canary", {canary_kv, 1}}, {"rest", {NULL, 0}}};
	op_app app = {.name = "web",
		.has_rollout = true,
		.rollout = {"r", waves, 2, 60000, -1, DEADLINE}};
	op_app plain = {.name = "web"};
	op_kv l_canary[] = {{"ring", "canary"}};
	op_kvs canary = {l_canary, 1}, other = {NULL, 0};
	op_promotion rec = {.app = "web", .digest = D2, .seq = 4, .promoted = 0};
	char why[400] = "";
	/* without a policy, or in the first wave: at once, record or none */
	T_CHECK(op_hold_gate(&plain, D2, &other, NULL, NULL, why, sizeof why));
	T_CHECK(op_hold_gate(&app, D2, &canary, NULL, NULL, why, sizeof why));
	T_CHECK(op_hold_gate(&app, D2, &canary, NULL, "bad signature", why, sizeof why));
	/* a later wave: no record, another spec's, refused, not promoted yet, halted */
	T_CHECK(!op_hold_gate(&app, D2, &other, NULL, NULL, why, sizeof why));
	T_CHECK_MSG(strstr(why, "wave rest (2 of 2) waits for the hub to promote"), "%s", why);
	T_CHECK(!op_hold_gate(
		&app, D2, &other, &rec, "not signed by a key of fresh.signers", why, sizeof why));
	T_CHECK_MSG(strstr(why, "refused: not signed"), "%s", why);
	T_CHECK(!op_hold_gate(&app, D2, &other, &rec, NULL, why, sizeof why));
	T_CHECK_MSG(strstr(why, "waits for promotion (wave canary promoted so far)"), "%s", why);
	rec.halted = true;
	snprintf(rec.reason, sizeof rec.reason, "site a rolled back");
	T_CHECK(!op_hold_gate(&app, D2, &other, &rec, NULL, why, sizeof why));
	T_CHECK_MSG(strstr(why, "waits: the rollout is halted at wave canary: site a rolled back"),
		"%s", why);
	/* the hub's own reason names the wave already: said once */
	snprintf(rec.reason, sizeof rec.reason, "halted at wave canary: a rolled back");
	T_CHECK(!op_hold_gate(&app, D2, &other, &rec, NULL, why, sizeof why));
	T_CHECK_MSG(strstr(why, "waits: the rollout is halted at wave canary: a rolled back") &&
			!strstr(why, "canary: halted"),
		"%s", why);
	rec.halted = false;
	rec.promoted = 1;
	T_CHECK(op_hold_gate(&app, D2, &other, &rec, NULL, why, sizeof why));
	/* promoted, but for another spec: this one waits */
	T_CHECK(!op_hold_gate(&app, D3, &other, &rec, NULL, why, sizeof why));
	T_CHECK_MSG(strstr(why, "another spec"), "%s", why);
	/* a halt after the wave was promoted does not take it back */
	rec.halted = true;
	T_CHECK(op_hold_gate(&app, D2, &other, &rec, NULL, why, sizeof why));
}

/* Every pair of states, each field the same or changed: durable exactly when the new
 * hold is rolled back and it moved (since_ms alone is no move). */
static void test_durable_pairs(void)
{
	static const char *const specs[] = {"", D1, D2};
	enum { FIELDS = 6 }; /* app, spec, prev, target, reason, since_ms */
	int n = 0;
	for (int a = OP_HOLD_STEADY; a <= OP_HOLD_ROLLED_BACK; a++)
		for (int b = OP_HOLD_STEADY; b <= OP_HOLD_ROLLED_BACK; b++)
			for (int f = -1; f < FIELDS; f++)
				for (size_t sp = 0; sp < 3; sp++) {
					op_hold old;
					op_hold_init(&old, "web");
					old.state = (enum op_hold_state)a;
					snprintf(old.spec, sizeof old.spec, "%s", specs[sp]);
					snprintf(old.prev, sizeof old.prev, "%s",
						specs[(sp + 1) % 3]);
					snprintf(old.target, sizeof old.target, "%s",
						specs[(sp + 2) % 3]);
					old.since_ms = T0;
					op_hold now = old;
					now.state = (enum op_hold_state)b;
					switch (f) {
					case 0: snprintf(now.app, sizeof now.app, "db"); break;
					case 1:
						snprintf(now.spec, sizeof now.spec, "%s", D3);
						break;
					case 2:
						snprintf(now.prev, sizeof now.prev, "%s", D3);
						break;
					case 3:
						snprintf(now.target, sizeof now.target, "%s", D3);
						break;
					case 4:
						snprintf(now.reason, sizeof now.reason,
							"crash loop");
						break;
					case 5: now.since_ms = T0 + 1; break;
					default: break;
					}
					bool moved = a != b || (f >= 0 && f <= 4);
					bool want = b == OP_HOLD_ROLLED_BACK && moved;
					T_CHECK_MSG(op_hold_durable(&old, &now) == want,
						"%s -> %s, field %d, spec %zu: want %d",
						op_hold_state_name((enum op_hold_state)a),
						op_hold_state_name((enum op_hold_state)b), f, sp,
						want);
					n++;
				}
	T_EQ_INT(n, 4 * 4 * 7 * 3);
}

/* Along the step machine: a rollout that passes and a wave that waits never need the
 * disk; the round that rolls back does, once, and the rounds after it do not. */
static void test_durable_steps(void)
{
	op_hold h = steady(D1), old = h;
	op_hold_in in = round_(D2, true, 1, 0, 0);
	op_hold_step(&h, &in);
	T_CHECK(!op_hold_durable(&old, &h)); /* rolling */
	old = h;
	in = round_(D2, true, 1, 1, 1000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_DONE);
	T_CHECK(!op_hold_durable(&old, &h));
	old = h;
	in = round_(D3, false, 1, 1, 2000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_WAIT);
	T_CHECK(!op_hold_durable(&old, &h));
	h = steady(D1);
	in = round_(D2, true, 1, 0, 0);
	op_hold_step(&h, &in);
	old = h;
	in = round_(D2, true, 1, 0, 5000);
	in.progress.crashing = "web.api.0-abc on h1 restarted 3 times: exit 1: boom";
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_ROLLBACK);
	T_CHECK(op_hold_durable(&old, &h));
	old = h;
	in = round_(D2, true, 1, 0, 6000);
	T_EQ_INT(op_hold_step(&h, &in), OP_HOLD_EV_NONE);
	T_CHECK(!op_hold_durable(&old, &h));
}

static void test_names(void)
{
	T_EQ_STR(op_hold_state_name(OP_HOLD_ROLLED_BACK), "rolled-back");
	T_EQ_STR(op_hold_state_name(OP_HOLD_WAITING), "waiting");
	T_EQ_STR(op_hold_event_name(OP_HOLD_EV_ROLLBACK), "rollback");
}

int main(void)
{
	T_RUN(test_rollout_passes);
	T_RUN(test_deadline);
	T_RUN(test_nothing_to_judge);
	T_RUN(test_crash_loop);
	T_RUN(test_new_app);
	T_RUN(test_waves);
	T_RUN(test_replaced_mid_rollout);
	T_RUN(test_gate);
	T_RUN(test_durable_pairs);
	T_RUN(test_durable_steps);
	T_RUN(test_names);
	return t_done();
}
