/* A refused sync's next step and the replicas check (standby.h), over every case. */
#include <stdio.h>
#include <string.h>

#include "outpost/sync/publish/standby.h"
#include "t.h"

#define H1 "1111111111111111111111111111111111111111"
#define H0 "0000000000000000000000000000000000000000"

static enum op_standby next(const char *marker, uint64_t mseq, int64_t still, int64_t waited)
{
	op_standby_view v = {H1, 4, marker, mseq, still, waited};
	return op_standby_next(&v);
}

static void test_standby(void)
{
	/* The winner's marker names our head: done, whatever else is true. */
	T_EQ_INT(next(H1, 5, 0, 0), OP_STANDBY_PUBLISHED);
	T_EQ_INT(next(H1, 5, 99999, 99999), OP_STANDBY_PUBLISHED);
	/* Another revision landed (an older head of a sync that fetched earlier). */
	T_EQ_INT(next(H0, 5, 0, 0), OP_STANDBY_AGAIN);
	T_EQ_INT(next(H0, 5, 0, OP_STANDBY_MAX_MS), OP_STANDBY_AGAIN);
	/* The marker is still the one the pass began from: writing goes on, or stopped. */
	T_EQ_INT(next(H0, 4, 0, 0), OP_STANDBY_WAIT);
	T_EQ_INT(next(H0, 4, OP_STANDBY_QUIET_MS - 1, 5000), OP_STANDBY_WAIT);
	T_EQ_INT(next(H0, 4, OP_STANDBY_QUIET_MS, 5000), OP_STANDBY_AGAIN);
	T_EQ_INT(next(H0, 4, 0, OP_STANDBY_MAX_MS), OP_STANDBY_GIVEUP);
	T_EQ_INT(next(H0, 4, OP_STANDBY_QUIET_MS, OP_STANDBY_MAX_MS), OP_STANDBY_GIVEUP);
	/* No marker at all: the first revision of a bucket. */
	op_standby_view v = {H1, 0, NULL, 0, 0, 0};
	T_EQ_INT(op_standby_next(&v), OP_STANDBY_WAIT);
	v.marker_commit = "";
	v.still_ms = OP_STANDBY_QUIET_MS;
	T_EQ_INT(op_standby_next(&v), OP_STANDBY_AGAIN);
	/* A head of "" (no fetch) never counts as published by an empty marker. */
	v.head = "";
	v.still_ms = 0;
	T_EQ_INT(op_standby_next(&v), OP_STANDBY_WAIT);
	T_EQ_STR(op_standby_name(OP_STANDBY_PUBLISHED), "published");
	T_EQ_STR(op_standby_name(OP_STANDBY_GIVEUP), "giveup");
}

static void test_replicas(void)
{
	char fix[64] = "";
	T_CHECK(!op_replicas_short("KV_outpost", 3, 3, fix, sizeof fix));
	T_CHECK(!op_replicas_short("KV_outpost", 3, 1, fix, sizeof fix));
	T_EQ_STR(fix, "");
	T_CHECK(op_replicas_short("KV_outpost", 1, 3, fix, sizeof fix));
	T_EQ_STR(fix, "nats stream edit KV_outpost --replicas 3");
	/* Cut short, never overrun. */
	char small[10];
	T_CHECK(op_replicas_short("OBJ_outpost-artifacts", 1, 5, small, sizeof small));
	T_EQ_INT(strlen(small), 9);
}

int main(void)
{
	T_RUN(test_standby);
	T_RUN(test_replicas);
	return t_done();
}
