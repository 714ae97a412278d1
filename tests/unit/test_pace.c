/* When a round writes its status (pace.h): the named cases, then every sequence of rounds
 * of a few steps against the rules as the header states them. */
#include "outpost/agent/plan/pace.h"
#include "t.h"

#define MAX 1000

static void test_named(void)
{
	op_pace p = {0};
	/* A round that sends nothing writes. */
	T_CHECK(op_pace_write(&p, false, 5000, MAX));
	/* A push: the round that starts the new instance defers; the heartbeat's round,
	 * sending nothing, writes what the step settled in. */
	T_CHECK(!op_pace_write(&p, true, 6000, MAX));
	T_CHECK(op_pace_write(&p, false, 6040, MAX));
	/* Healthy: the round that stops the old one defers, the next writes "deployed". */
	T_CHECK(!op_pace_write(&p, true, 6300, MAX));
	T_CHECK(op_pace_write(&p, false, 6330, MAX));
	/* A host that does not answer: its command is sent again each round; the status is
	 * written once a second all the same, counted from the first round deferred. */
	T_CHECK(!op_pace_write(&p, true, 7000, MAX));
	T_CHECK(!op_pace_write(&p, true, 7500, MAX));
	T_CHECK(op_pace_write(&p, true, 8000, MAX));
	T_CHECK(!op_pace_write(&p, true, 8500, MAX));
	T_CHECK(!op_pace_write(&p, true, 9000, MAX));
	T_CHECK(op_pace_write(&p, true, 9500, MAX));
	/* The first round of an agent. */
	op_pace q = {0};
	T_CHECK(!op_pace_write(&q, true, 1, MAX));
	T_CHECK(op_pace_write(&q, true, 1 + MAX, MAX));
}

/* Every sequence of STEPS rounds, each sending or not, each after one of the gaps. */
#define STEPS 6
static const int64_t gaps[] = {0, 1, 400, MAX - 1, MAX, 2 * MAX};
#define NGAPS (int)(sizeof gaps / sizeof gaps[0])

static void test_every_sequence(void)
{
	long cases = 1;
	for (int i = 0; i < STEPS; i++)
		cases *= 2 * NGAPS;
	long bad = 0, deferred = 0;
	for (long c = 0; c < cases; c++) {
		op_pace p = {0};
		int64_t now = 100000, first = -1; /* the first round not written since a write */
		long v = c;
		for (int i = 0; i < STEPS; i++) {
			bool sends = v % 2;
			now += gaps[(v / 2) % NGAPS];
			v /= 2 * NGAPS;
			bool w = op_pace_write(&p, sends, now, MAX);
			int64_t oldest = first < 0 ? now : first;
			bool want = !sends || now - oldest >= MAX;
			bad += w != want;
			deferred += !w;
			first = w ? -1 : oldest;
		}
	}
	T_EQ_INT(bad, 0);
	T_CHECK(deferred > 0);
}

int main(void)
{
	T_RUN(test_named);
	T_RUN(test_every_sequence);
	return t_done();
}
