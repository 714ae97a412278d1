/* A pass's chained writes sent ahead of their acknowledgments (sync/publish/chain.c),
 * against a real nats-server's KV stream:
 * - in order, each right after the one before, with any window;
 * - another writer first: the chain's first write is refused, and the write after it,
 *   which finds the other writer's where it expected its own, is stored but the chain
 *   still answers a conflict, so the caller never sends a marker after it;
 * - a subject no stream takes: an error that is not a conflict, in bounded time. */
#include <nats/nats.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/sync/publish/chain.h"
#include "outpost/sync/publish/publish.h"
#include "t.h"

static h_nats *hub;
static op_bus bus;
static kvStore *kv;

static uint64_t last_seq(void)
{
	uint64_t seq = 0;
	op_err e = {0};
	T_CHECK(op_publish_last_seq(bus.js, &seq, &e) == 0);
	return seq;
}

static void test_setup(void)
{
	op_err e = {0};
	T_REQUIRE((hub = h_hub_start()) != NULL);
	T_REQUIRE(op_bus_connect(&bus, h_nats_url(hub), "test", "hub", 5000, &e) == 0);
	kvConfig cfg;
	op_publish_bucket_config(&cfg);
	T_REQUIRE(js_CreateKeyValue(&kv, bus.js, &cfg) == NATS_OK);
}

static void test_in_order(void)
{
	for (int window = 1; window <= 8; window *= 8) {
		op_err e = {0};
		op_chain c;
		uint64_t base = last_seq();
		T_REQUIRE(op_chain_open(&c, bus.nc, base, window, &e) == 0);
		for (int i = 0; i < 20; i++)
			T_CHECK(op_chain_put(&c, h_str("app.k%02d", i), "{}", 2, &e) == 0);
		T_CHECK(op_chain_put(&c, "app.k00", NULL, 0, &e) == 0); /* a delete */
		T_EQ_INT(op_chain_wait(&c, &e), 0);
		T_EQ_INT((int)(op_chain_last(&c) - base), 21);
		op_chain_close(&c);
		T_EQ_INT((int)(last_seq() - base), 21);
	}
}

static void test_other_writer_first(void)
{
	op_err e = {0};
	op_chain mine, other;
	uint64_t base = last_seq();
	T_REQUIRE(op_chain_open(&mine, bus.nc, base, 0, &e) == 0);
	T_REQUIRE(op_chain_open(&other, bus.nc, base, 0, &e) == 0);
	T_CHECK(op_chain_put(&other, "app.theirs", "{}", 2, &e) == 0);
	T_EQ_INT(op_chain_wait(&other, &e), 0);
	T_CHECK(op_chain_put(&mine, "app.first", "{}", 2, &e) == 0);
	T_CHECK(op_chain_put(&mine, "app.second", "{}", 2, &e) == 0);
	int rc = op_chain_wait(&mine, &e);
	T_EQ_INT(rc, OP_ECONFLICT);
	T_CHECK_MSG(strstr(e.msg, "app.first") && strstr(e.msg, "another sync"), "%s", e.msg);
	/* Its second write expected the sequence the other's write took: stored, after it.
	 * What the conflict answer is for: no marker may follow. */
	T_EQ_INT((int)(last_seq() - base), 2);
	op_chain_close(&mine);
	op_chain_close(&other);
}

static void test_no_stream(void)
{
	op_err e = {0};
	op_chain c;
	T_REQUIRE(js_DeleteKeyValue(bus.js, OP_BUCKET) == NATS_OK);
	kvStore_Destroy(kv);
	kv = NULL;
	long long t0 = h_now_ms();
	T_REQUIRE(op_chain_open(&c, bus.nc, 0, 0, &e) == 0);
	int rc = op_chain_put(&c, "app.x", "{}", 2, &e);
	if (rc == 0)
		rc = op_chain_wait(&c, &e);
	op_chain_close(&c);
	T_CHECK_MSG(rc != 0 && rc != OP_ECONFLICT, "rc %d: %s", rc, e.msg);
	T_CHECK(strstr(e.msg, "app.x") != NULL);
	printf("  no stream: %s (%lld ms)\n", e.msg, h_now_ms() - t0);
}

int main(void)
{
	T_RUN(test_setup);
	T_RUN(test_in_order);
	T_RUN(test_other_writer_first);
	T_RUN(test_no_stream);
	kvStore_Destroy(kv);
	op_bus_close(&bus);
	return t_done();
}
