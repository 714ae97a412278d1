/* When a round writes its status (pace.h): the named cases, then every sequence of rounds
 * of a few steps against the rules as the header states them. */
#include "outpost/agent/plan/pace.h"
#include "t.h"

#define MAX 1000

static void test_named(void)
{
	op_pace p = {0};
	/* A round that sends nothing writes. */
	T_CHECK(op_pace_write(&p, false, 0, 5000, MAX));
	/* The first revision: its round writes at once though it starts instances. */
	T_CHECK(op_pace_write(&p, true, 7, 5010, MAX));
	/* A push: the round that takes revision 8 writes (the hub learns it applied it); the
	 * heartbeat's round, sending nothing, writes what the start settled in. */
	T_CHECK(op_pace_write(&p, true, 8, 6000, MAX));
	T_CHECK(op_pace_write(&p, false, 8, 6040, MAX));
	/* Healthy: the round that stops the old one defers, the next writes "deployed". */
	T_CHECK(!op_pace_write(&p, true, 8, 6300, MAX));
	T_CHECK(op_pace_write(&p, false, 8, 6330, MAX));
	/* A host that does not answer: its command is sent again each round; the status is
	 * written once a second all the same, counted from the first round deferred. */
	T_CHECK(!op_pace_write(&p, true, 8, 7000, MAX));
	T_CHECK(!op_pace_write(&p, true, 8, 7500, MAX));
	T_CHECK(op_pace_write(&p, true, 8, 8000, MAX));
	T_CHECK(!op_pace_write(&p, true, 8, 8500, MAX));
	T_CHECK(!op_pace_write(&p, true, 8, 9000, MAX));
	T_CHECK(op_pace_write(&p, true, 8, 9500, MAX));
	/* A newer revision while deferring: written at once. */
	T_CHECK(!op_pace_write(&p, true, 8, 9600, MAX));
	T_CHECK(op_pace_write(&p, true, 9, 9700, MAX));
	T_CHECK(!op_pace_write(&p, true, 9, 9800, MAX));
}

/* Every sequence of STEPS rounds: each sending or not, after one of the gaps, running the
 * revision of the round before or the next one. */
#define STEPS 5
static const int64_t gaps[] = {0, 1, 400, MAX - 1, MAX, 2 * MAX};
#define NGAPS (int)(sizeof gaps / sizeof gaps[0])
#define CHOICES (2 * 2 * NGAPS)

static void test_every_sequence(void)
{
	long cases = 1;
	for (int i = 0; i < STEPS; i++)
		cases *= CHOICES;
	long bad = 0, deferred = 0;
	for (long c = 0; c < cases; c++) {
		op_pace p = {0};
		int64_t now = 100000, first = -1; /* the first round not written since a write */
		uint64_t seq = 0, written = 0; /* the revision run, and the last written's */
		long v = c;
		for (int i = 0; i < STEPS; i++) {
			bool sends = v % 2;
			seq += (v / 2) % 2;
			now += gaps[(v / 4) % NGAPS];
			v /= CHOICES;
			bool w = op_pace_write(&p, sends, seq, now, MAX);
			int64_t oldest = first < 0 ? now : first;
			bool want = !sends || seq != written || now - oldest >= MAX;
			bad += w != want;
			deferred += !w;
			first = w ? -1 : oldest;
			if (w)
				written = seq;
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
