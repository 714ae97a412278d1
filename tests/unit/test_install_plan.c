/* The pure half of artifact installs: where an artifact comes from, and which cache
 * files a host keeps (the current digest of each path and the previous one). */
#include <string.h>

#include "outpost/agent/host/install.h"
#include "t.h"

#define A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static void test_decide_table(void)
{
	/* Every combination: installed wins, then the cache, then the store if known. */
	for (int i = 0; i < 8; i++) {
		bool inst = i & 1, cached = i & 2, fetch = i & 4;
		enum op_install_src want = inst ? OP_INSTALL_KEEP
			: cached                ? OP_INSTALL_FROM_CACHE
			: fetch                 ? OP_INSTALL_FROM_STORE
						: OP_INSTALL_NO_SOURCE;
		T_CHECK_MSG(op_install_decide(inst, cached, fetch) == want, "case %d", i);
	}
	T_EQ_STR(op_install_src_name(OP_INSTALL_FROM_CACHE), "cache");
	T_EQ_STR(op_install_src_name(OP_INSTALL_FROM_STORE), "store");
	T_EQ_STR(op_install_src_name(OP_INSTALL_KEEP), "installed");
	T_EQ_STR(op_install_src_name(OP_INSTALL_NO_SOURCE), "none");
}

static void test_keep(void)
{
	const char *keep[OP_CACHE_PER_PATH];
	/* First install: only it. */
	T_EQ_INT(op_cache_keep(NULL, 0, A, keep), 1);
	T_EQ_STR(keep[0], A);
	/* Upgrade: new, then the previous. */
	const char *o1[] = {A};
	T_EQ_INT(op_cache_keep(o1, 1, B, keep), 2);
	T_EQ_STR(keep[0], B);
	T_EQ_STR(keep[1], A);
	/* Rollback to A: A first, B kept (so going forward again needs no download). */
	const char *o2[] = {B, A};
	T_EQ_INT(op_cache_keep(o2, 2, A, keep), 2);
	T_EQ_STR(keep[0], A);
	T_EQ_STR(keep[1], B);
	/* A third version: the oldest goes. */
	T_EQ_INT(op_cache_keep(o2, 2, C, keep), 2);
	T_EQ_STR(keep[0], C);
	T_EQ_STR(keep[1], B);
	/* The same again: nothing changes. */
	T_EQ_INT(op_cache_keep(o2, 2, B, keep), 2);
	T_EQ_STR(keep[0], B);
	T_EQ_STR(keep[1], A);
	const char *o3[] = {B};
	T_EQ_INT(op_cache_keep(o3, 1, B, keep), 1);
}

static void test_drop(void)
{
	const char *kept[] = {A, B};
	T_CHECK(!op_cache_drop("sha256-" A, kept, 2));
	T_CHECK(!op_cache_drop("sha256-" B, kept, 2));
	T_CHECK(op_cache_drop("sha256-" C, kept, 2));
	T_CHECK(op_cache_drop("sha256-" A, kept, 0));
	T_CHECK(op_cache_drop(".tmp-" A "-123", kept, 2)); /* a killed fetch's temp */
	/* Names that are not the cache's are left alone. */
	T_CHECK(!op_cache_drop("lock", kept, 2));
	T_CHECK(!op_cache_drop("paths", kept, 2));
	T_CHECK(!op_cache_drop(".", kept, 2));
	T_CHECK(!op_cache_drop("..", kept, 2));
	T_CHECK(!op_cache_drop("sha256-abc", kept, 2));
	T_CHECK(!op_cache_drop("sha256-" A "0", kept, 2));
	T_CHECK(!op_cache_drop(
		"sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", kept,
		2));
}

int main(void)
{
	T_RUN(test_decide_table);
	T_RUN(test_keep);
	T_RUN(test_drop);
	return t_done();
}
