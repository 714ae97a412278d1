/* Whether the agent asks the hub (gauge.h): the named cases, then every combination of
 * the inputs against the rules as the header states them. */
#include <string.h>

#include "outpost/agent/plan/gauge.h"
#include "t.h"

#define NOW 1000000

/* A mirror that heard from the hub at both measures, was level, asked 1 s ago, unchanged. */
static op_gauge_in base(void)
{
	return (op_gauge_in){.now_ms = NOW,
		.asked_ms = NOW - 1000,
		.heard = true,
		.heard_before = true,
		.level_before = true,
		.last_seq = 40,
		.last_seq_before = 40};
}

static void test_named(void)
{
	op_gauge_in in = base();
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_IDLE);
	/* A revision arrives, nothing pending after it: the mirror has the hub's word. */
	in.changed = true;
	in.last_seq = 45;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_LIVE);
	/* More to come: how much is the hub's to say. */
	in.lag = 3;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	/* Right after a cut the mirror says no lag before it learnt what the hub holds. */
	in = base();
	in.changed = true;
	in.last_seq = 45;
	in.heard_before = false;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	in.heard_before = true;
	in.heard = false;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	/* Behind at the last measure: the hub says when it is level again. */
	in = base();
	in.level_before = false;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	/* Asked long ago, or never. */
	in = base();
	in.asked_ms = NOW - OP_GAUGE_POLL_MS;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	in.asked_ms = NOW - OP_GAUGE_POLL_MS + 1;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_IDLE);
	in.asked_ms = 0;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	/* A mirror that went backwards (re-created, purged): asked. */
	in = base();
	in.last_seq = 39;
	T_EQ_INT(op_mirror_gauge(&in), OP_GAUGE_ASK);
	T_EQ_STR(op_gauge_name(OP_GAUGE_ASK), "ask");
	T_EQ_STR(op_gauge_name(OP_GAUGE_IDLE), "idle");
	T_EQ_STR(op_gauge_name(OP_GAUGE_LIVE), "live");
}

/* The rules as the header states them. */
static enum op_gauge want(const op_gauge_in *in)
{
	bool trusted = in->heard && in->heard_before && in->level_before && in->asked_ms &&
		NOW - in->asked_ms < OP_GAUGE_POLL_MS;
	if (!trusted)
		return OP_GAUGE_ASK;
	if (!in->changed && in->last_seq == in->last_seq_before)
		return OP_GAUGE_IDLE;
	return in->lag == 0 && in->last_seq >= in->last_seq_before ? OP_GAUGE_LIVE : OP_GAUGE_ASK;
}

/* Every combination: the hub is left unasked only by a mirror that kept hearing from it
 * since it was level, asked lately; then idle when nothing moved, live when it moved on
 * with nothing pending. */
static void test_every_case(void)
{
	const int64_t asked[] = {0, NOW - OP_GAUGE_POLL_MS - 1, NOW - OP_GAUGE_POLL_MS,
		NOW - OP_GAUGE_POLL_MS + 1, NOW - 1, NOW};
	int n = 0, unasked = 0;
	for (int i = 0; i < 6 * 16 * 27; i++) {
		int bits = i / 6 % 16, rest = i / 96;
		op_gauge_in in = {.now_ms = NOW,
			.asked_ms = asked[i % 6],
			.heard = bits & 1,
			.heard_before = bits & 2,
			.level_before = bits & 4,
			.changed = bits & 8,
			.last_seq = (uint64_t)(rest % 3),
			.last_seq_before = (uint64_t)(rest / 3 % 3),
			.lag = (uint64_t)(rest / 9)};
		op_gauge_in copy = in;
		enum op_gauge g = op_mirror_gauge(&in);
		T_EQ_INT(g, want(&in));
		T_CHECK(!memcmp(&in, &copy, sizeof in));
		unasked += g != OP_GAUGE_ASK;
		n++;
	}
	T_EQ_INT(n, 2592);
	T_CHECK(unasked > 0 && unasked < n);
}

int main(void)
{
	T_RUN(test_named);
	T_RUN(test_every_case);
	return t_done();
}
