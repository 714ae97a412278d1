/* Sync's warning that the accepted revision pins artifacts the hub's store lacks: the
 * pure choice over the revision's pins and the store's objects, every case of an object
 * that holds a digest or does not (deleted, a link, no digest, another digest), a store
 * that is not there, a digest pinned by several apps, and the copy the outcome keeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/sync/loop/artcheck.h"
#include "t.h"

#define H1 "1111111111111111111111111111111111111111111111111111111111111111"
#define H2 "2222222222222222222222222222222222222222222222222222222222222222"
#define H3 "3333333333333333333333333333333333333333333333333333333333333333"

static void sha(const char *hex, uint8_t out[32])
{
	T_REQUIRE(op_art_digest_parse(hex, out) == 0);
}

static void pin(op_art_refs *r, const char *hex, const char *app)
{
	uint8_t s[32];
	sha(hex, s);
	T_REQUIRE(op_art_refs_add(r, s, app, NULL) == 0);
}

static op_objmeta obj(const char *hex)
{
	op_objmeta m;
	memset(&m, 0, sizeof m);
	m.name = "sha256:x";
	snprintf(m.nuid, sizeof m.nuid, "N");
	m.has_digest = true;
	m.size = 3;
	m.chunks = 1;
	sha(hex, m.sha256);
	return m;
}

static bool is(const op_art_missing_item *it, const char *hex, const char *apps)
{
	uint8_t s[32];
	sha(hex, s);
	return !memcmp(it->sha256, s, 32) && !strcmp(it->apps, apps);
}

static void test_none_pinned(void)
{
	op_art_refs r = {0};
	op_art_missing m = {0};
	op_objmeta have = obj(H1);
	T_EQ_INT(op_artcheck_missing(&r, &have, 1, &m, NULL), 0);
	T_EQ_INT((int)m.n, 0);
	T_EQ_INT(op_artcheck_missing(&r, NULL, 0, &m, NULL), 0);
	T_EQ_INT((int)m.n, 0);
}

static void test_no_store_all_missing(void)
{
	op_art_refs r = {0};
	op_art_missing m = {0};
	pin(&r, H2, "web");
	pin(&r, H1, "gw");
	pin(&r, H1, "api");
	T_EQ_INT(op_artcheck_missing(&r, NULL, 0, &m, NULL), 0);
	T_EQ_INT((int)m.n, 2);
	if (m.n == 2) { /* sorted by digest, each once, its apps sorted */
		T_CHECK(is(&m.v[0], H1, "api,gw"));
		T_CHECK(is(&m.v[1], H2, "web"));
	}
	op_art_missing_clear(&m);
	op_art_refs_clear(&r);
}

static void test_held_or_not(void)
{
	op_art_refs r = {0};
	op_art_missing m = {0};
	pin(&r, H1, "a");
	pin(&r, H2, "b");
	pin(&r, H3, "c");
	/* H1 held; H2 only as a deleted object, a link and an object without a digest;
	 * H3 not at all */
	op_objmeta have[4] = {obj(H2), obj(H2), obj(H2), obj(H1)};
	have[0].deleted = true;
	have[1].link = true;
	have[2].has_digest = false;
	T_EQ_INT(op_artcheck_missing(&r, have, 4, &m, NULL), 0);
	T_EQ_INT((int)m.n, 2);
	if (m.n == 2) {
		T_CHECK(is(&m.v[0], H2, "b"));
		T_CHECK(is(&m.v[1], H3, "c"));
	}
	/* each object live: nothing missing, and the previous answer replaced */
	op_objmeta all[3] = {obj(H3), obj(H2), obj(H1)};
	T_EQ_INT(op_artcheck_missing(&r, all, 3, &m, NULL), 0);
	T_EQ_INT((int)m.n, 0);
	T_CHECK(m.v == NULL);
	op_art_refs_clear(&r);
}

static void test_copy(void)
{
	op_art_refs r = {0};
	op_art_missing m = {0}, c = {0};
	pin(&r, H1, "a");
	pin(&r, H2, "b");
	T_EQ_INT(op_artcheck_missing(&r, NULL, 0, &m, NULL), 0);
	T_EQ_INT(op_art_missing_copy(&c, &m, NULL), 0);
	op_art_missing_clear(&m);
	T_EQ_INT((int)c.n, 2);
	if (c.n == 2)
		T_CHECK(is(&c.v[0], H1, "a") && is(&c.v[1], H2, "b"));
	T_EQ_INT(op_art_missing_copy(&c, &m, NULL), 0); /* an empty one empties */
	T_EQ_INT((int)c.n, 0);
	op_art_refs_clear(&r);
}

int main(void)
{
	T_RUN(test_none_pinned);
	T_RUN(test_no_store_all_missing);
	T_RUN(test_held_or_not);
	T_RUN(test_copy);
	return t_done();
}
