/* When a host's heartbeat brought forward goes out (agent/host/beat.c): every case of one
 * instance against a reference written case by case, then the steps of a rollout as a
 * host sees them, and a neighbour in passing that must not hold back another's news. */
#include <string.h>

#include "outpost/agent/host/beat.h"
#include "outpost/agent/plan/plan.h"
#include "t.h"

/* The references, the rule said differently. Alone, an instance holds a heartbeat back
 * only while it is in passing (and nothing went away). */
static bool want_alone(const op_beat_inst *x, size_t gone)
{
	return gone || !x->now.on || !x->now.passing;
}

/* Beside a neighbour in passing, x lets it out only with news: reported settled and not
 * so by the last heartbeat sent, or no longer reported. */
static bool want_beside_passing(const op_beat_inst *x, size_t gone)
{
	const op_beat_view *a = &x->now, *b = &x->sent;
	if (gone || (!a->on && b->on))
		return true;
	if (!a->on || a->passing)
		return false;
	bool told = b->on && !b->passing && b->state == a->state && b->health == a->health;
	return !told;
}

static void test_every_case(void)
{
	const int states[] = {OP_INST_STARTING, OP_INST_RUNNING, OP_INST_STOPPING, OP_INST_EXITED};
	const int healths[] = {OP_HEALTH_STARTING, OP_HEALTH_HEALTHY};
	op_beat_inst v[2] = {{.now = {true, true, OP_INST_STOPPING, 0},
		.sent = {true, false, OP_INST_RUNNING, OP_HEALTH_HEALTHY}}};
	int n = 0;
	for (int bits = 0; bits < 16; bits++)
		for (int c = 0; c < 4 * 2 * 4 * 2 * 2; c++) {
			int s = c % 4, hl = c / 4 % 2, ss = c / 8 % 4, sh = c / 32 % 2;
			size_t gone = (size_t)(c / 64);
			op_beat_inst x = {.now = {bits & 1, bits & 2, states[s], healths[hl]},
				.sent = {bits & 4, bits & 8, states[ss], healths[sh]}};
			bool alone = op_beat_due(&x, 1, gone);
			T_CHECK_MSG(alone == want_alone(&x, gone), "alone: bits %d case %d: %d",
				bits, c, alone);
			v[1] = x;
			bool beside = op_beat_due(v, 2, gone);
			T_CHECK_MSG(beside == want_beside_passing(&x, gone),
				"beside one in passing: bits %d case %d: %d", bits, c, beside);
			n++;
		}
	T_EQ_INT(n, 16 * 128);
	/* No instance at all: nothing is in passing. */
	T_CHECK(op_beat_due(NULL, 0, 0));
	T_CHECK(op_beat_due(NULL, 0, 1));
}

/* A look reports x so; what the last heartbeat sent said of it stays. */
static void look(op_beat_inst *x, int state, int health, bool passing)
{
	x->now = (op_beat_view){true, passing, state, health};
}

static void sent(op_beat_inst *x)
{
	x->sent = x->now;
}

/* A start-first rollout on one host: old runs healthy and was reported; new starts. */
static void test_rollout_steps(void)
{
	op_beat_inst v[2] = {0};
	look(&v[0], OP_INST_RUNNING, OP_HEALTH_HEALTHY, false);
	sent(&v[0]);
	/* The start command's look: new is starting. Held. */
	look(&v[1], OP_INST_STARTING, 0, true);
	T_CHECK(!op_beat_due(v, 2, 0));
	/* Running, its health undecided (min_ready): held. */
	look(&v[1], OP_INST_RUNNING, OP_HEALTH_STARTING, true);
	T_CHECK(!op_beat_due(v, 2, 0));
	/* Healthy: out. */
	look(&v[1], OP_INST_RUNNING, OP_HEALTH_HEALTHY, false);
	T_CHECK(op_beat_due(v, 2, 0));
	sent(&v[0]);
	sent(&v[1]);
	/* Nothing new and nothing passing (a command that changed nothing): out, as before. */
	T_CHECK(op_beat_due(v, 2, 0));
	/* The old one stopping: held. */
	look(&v[0], OP_INST_STOPPING, 0, true);
	T_CHECK(!op_beat_due(v, 2, 0));
	/* Gone: out. */
	T_CHECK(op_beat_due(&v[1], 1, 1));
	/* A stop seen at once as gone, the instance still in the table but not reported. */
	v[0].now.on = false;
	v[0].sent.on = true;
	T_CHECK(op_beat_due(v, 2, 0));
}

/* A neighbour stuck in passing (a long min_ready, a slow stop) does not hold back another
 * instance's news, but holds back a look with none. */
static void test_neighbour_in_passing(void)
{
	op_beat_inst v[2] = {0};
	look(&v[0], OP_INST_RUNNING, OP_HEALTH_STARTING, true);
	sent(&v[0]);
	look(&v[1], OP_INST_STARTING, 0, true);
	T_CHECK(!op_beat_due(v, 2, 0));
	look(&v[1], OP_INST_RUNNING, OP_HEALTH_HEALTHY, false);
	T_CHECK(op_beat_due(v, 2, 0));
	sent(&v[1]);
	T_CHECK(!op_beat_due(v, 2, 0));
	/* A settled one that changes (a crash: running to exited) is news. */
	look(&v[1], OP_INST_EXITED, 0, false);
	T_CHECK(op_beat_due(v, 2, 0));
	/* The neighbour's own end is news too. */
	look(&v[1], OP_INST_RUNNING, OP_HEALTH_HEALTHY, false);
	look(&v[0], OP_INST_RUNNING, OP_HEALTH_HEALTHY, false);
	T_CHECK(op_beat_due(v, 2, 0));
}

int main(void)
{
	T_RUN(test_every_case);
	T_RUN(test_rollout_steps);
	T_RUN(test_neighbour_in_passing);
	return t_done();
}
