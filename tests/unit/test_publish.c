/* The pure parts of sync: the publish diff, the commit marker codec, and the small
 * parsers the CLI uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/marker.h"
#include "outpost/sync/publish/publish.h"
#include "outpost/agent/base/util.h"
#include "t.h"

/* The bad-marker table holds printf formats. */
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

static op_pub_entry ent(const char *name, char d)
{
	op_pub_entry e;
	memset(&e, 0, sizeof e);
	snprintf(e.name, sizeof e.name, "%s", name);
	memcpy(e.digest, "sha256:", 7);
	memset(e.digest + 7, d, 64);
	return e;
}

static void test_diff(void)
{
	op_pub_entry want[] = {ent("a", '1'), ent("b", '2'), ent("d", '4')};
	op_pub_entry have[] = {ent("a", '1'), ent("b", '9'), ent("c", '3')};
	op_pub_diff d;
	T_REQUIRE(op_publish_diff(want, 3, have, 3, &d) == 0);
	T_EQ_INT(d.nputs, 2);
	T_EQ_INT(d.puts[0], 1); /* b changed */
	T_EQ_INT(d.puts[1], 2); /* d new */
	T_EQ_INT(d.ndels, 1);
	T_EQ_INT(d.dels[0], 2); /* c gone */
	op_publish_diff_clear(&d);

	/* Same on both sides: nothing to write. Empty sides. */
	T_REQUIRE(op_publish_diff(want, 3, want, 3, &d) == 0);
	T_EQ_INT(d.nputs + d.ndels, 0);
	op_publish_diff_clear(&d);
	T_REQUIRE(op_publish_diff(NULL, 0, have, 3, &d) == 0);
	T_EQ_INT(d.ndels, 3);
	T_EQ_INT(d.nputs, 0);
	op_publish_diff_clear(&d);
	T_REQUIRE(op_publish_diff(want, 3, NULL, 0, &d) == 0);
	T_EQ_INT(d.nputs, 3);
	op_publish_diff_clear(&d);
}

/* Exhaustive over small sets: every name in want is put iff absent or different in
 * have; every name only in have is deleted; nothing else. */
static void test_diff_exhaustive(void)
{
	const char *names[] = {"a", "b", "c", "d"};
	int bad = 0;
	for (int mw = 0; mw < 16; mw++)
		for (int mh = 0; mh < 16; mh++)
			for (int md = 0; md < 16; md++) {
				op_pub_entry w[4], h[4];
				size_t nw = 0, nh = 0;
				for (int i = 0; i < 4; i++) {
					if (mw & (1 << i))
						w[nw++] = ent(names[i], '1');
					if (mh & (1 << i))
						h[nh++] = ent(
							names[i], (md & (1 << i)) ? '2' : '1');
				}
				op_pub_diff d;
				if (op_publish_diff(w, nw, h, nh, &d) != 0) {
					bad++;
					continue;
				}
				size_t puts = 0, dels = 0;
				for (int i = 0; i < 4; i++) {
					bool inw = mw & (1 << i), inh = mh & (1 << i);
					bool differ = md & (1 << i);
					puts += inw && (!inh || differ);
					dels += inh && !inw;
				}
				if (d.nputs != puts || d.ndels != dels) {
					if (!bad)
						fprintf(stderr,
							"mw=%d mh=%d md=%d: puts %zu/%zu dels "
							"%zu/%zu\n",
							mw, mh, md, d.nputs, puts, d.ndels, dels);
					bad++;
				}
				op_publish_diff_clear(&d);
			}
	T_EQ_INT(bad, 0);
}

static void test_marker_roundtrip(void)
{
	op_marker m = {0}, back;
	memset(m.commit, 'a', 40);
	m.seq = 7;
	snprintf(m.signer, sizeof m.signer, "ops@example.com");
	snprintf(m.time, sizeof m.time, "2026-11-25T20:00:00Z");
	op_marker_app apps[2] = {0};
	snprintf(apps[0].name, sizeof apps[0].name, "alpha");
	snprintf(apps[1].name, sizeof apps[1].name, "beta");
	memcpy(apps[0].digest, ent("x", '1').digest, OP_DIGEST_LEN + 1);
	memcpy(apps[1].digest, ent("x", '2').digest, OP_DIGEST_LEN + 1);
	m.apps = apps;
	m.napps = 2;
	char *json = NULL;
	op_err e = {0};
	T_REQUIRE(op_marker_encode(&m, &json, &e) == 0);
	T_CHECK(!strncmp(json, "{\"apps\":{\"alpha\":\"sha256:1111", 29));
	T_CHECK(strstr(json, "\"format\":1") && strstr(json, "\"seq\":7"));
	T_REQUIRE(op_marker_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_STR(back.commit, m.commit);
	T_EQ_INT(back.seq, 7);
	T_EQ_INT(back.napps, 2);
	T_EQ_STR(op_marker_digest(&back, "beta"), apps[1].digest);
	T_CHECK(op_marker_digest(&back, "gamma") == NULL);
	op_marker_clear(&back);
	free(json);
}

static void test_marker_refused(void)
{
	const char *c40 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	const char *dg = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	char buf[1024];
	const char *bad[][2] = {
		{"{\"format\":2,\"commit\":\"%s\",\"seq\":1,\"signer\":\"s\",\"time\":\"2024-05-"
		 "01T12:00:00Z\","
		 "\"apps\":{}}",
			"unknown format 2"},
		{"{\"format\":1,\"commit\":\"abc\",\"seq\":1,\"signer\":\"s\",\"time\":\"2024-05-"
		 "01T12:00:00Z\","
		 "\"apps\":{}}",
			"commit"},
		{"{\"format\":1,\"commit\":\"%s\",\"seq\":0,\"signer\":\"s\",\"time\":\"2024-05-"
		 "01T12:00:00Z\","
		 "\"apps\":{}}",
			"seq"},
		{"{\"format\":1,\"commit\":\"%s\",\"seq\":1,\"signer\":\"s\",\"time\":\"2024-05-"
		 "01T12:00:00Z\","
		 "\"apps\":{\"Bad\":\"x\"}}",
			"apps.Bad"},
		{"{\"format\":1,\"commit\":\"%s\",\"seq\":1,\"signer\":\"s\",\"time\":\"2024-05-"
		 "01T12:00:00Z\","
		 "\"apps\":[]}",
			"apps"},
		{"{\"format\":1,\"commit\":\"%s\",\"seq\":1,\"signer\":\"s\",\"time\":\"2024-05-"
		 "01T12:00:00Z\","
		 "\"apps\":{},\"extra\":1}",
			"marker"},
	};
	/* A signer that could forge a log line, a time that is not RFC 3339 UTC. */
	const char *bad_meta[] = {
		"\"signer\":\"a\\nlevel=error\",\"time\":\"2024-05-01T12:00:00Z\"",
		"\"signer\":\"a\\\"b\",\"time\":\"2024-05-01T12:00:00Z\"",
		"\"signer\":\"s\",\"time\":\"yesterday\"",
		"\"signer\":\"s\",\"time\":\"2024-05-01 12:00:00\""};
	for (size_t i = 0; i < sizeof bad_meta / sizeof *bad_meta; i++) {
		snprintf(buf, sizeof buf,
			"{\"format\":1,\"commit\":\"%s\",\"seq\":1,%s,\"apps\":{}}", c40,
			bad_meta[i]);
		op_marker m;
		op_err e = {0};
		T_CHECK_MSG(op_marker_decode(buf, strlen(buf), &m, &e) == OP_EINVAL, "meta %zu", i);
		T_CHECK_MSG(strstr(e.msg, "is not valid"), "meta %zu: %s", i, e.msg);
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(buf, sizeof buf, bad[i][0], c40);
		op_marker m;
		op_err e = {0};
		T_CHECK_MSG(op_marker_decode(buf, strlen(buf), &m, &e) == OP_EINVAL, "case %zu", i);
		T_CHECK_MSG(strstr(e.msg, bad[i][1]) != NULL, "case %zu: %s", i, e.msg);
	}
	snprintf(buf, sizeof buf,
		"{\"format\":1,\"commit\":\"%s\",\"seq\":3,\"signer\":\"s\",\"time\":\"2024-05-"
		"01T12:00:00Z\","
		"\"apps\":{\"ok\":\"%s\"}}",
		c40, dg);
	op_marker m;
	T_CHECK(op_marker_decode(buf, strlen(buf), &m, NULL) == 0);
	op_marker_clear(&m);
}

static void test_durations(void)
{
	int64_t ms;
	T_CHECK(op_parse_duration_ms("30s", &ms) == 0 && ms == 30000);
	T_CHECK(op_parse_duration_ms("250ms", &ms) == 0 && ms == 250);
	T_CHECK(op_parse_duration_ms("5m", &ms) == 0 && ms == 300000);
	T_CHECK(op_parse_duration_ms("2h", &ms) == 0 && ms == 7200000);
	T_CHECK(op_parse_duration_ms("7", &ms) == 0 && ms == 7000);
	const char *bad[] = {"", "s", "-1s", "1.5s", "10x", "1s1", "9999999999s", NULL};
	for (int i = 0; bad[i]; i++)
		T_CHECK_MSG(op_parse_duration_ms(bad[i], &ms) != 0, "accepted \"%s\"", bad[i]);
	uint64_t v;
	T_CHECK(op_parse_u64("18446744073709551615", &v) == 0 && v == UINT64_MAX);
	T_CHECK(op_parse_u64("18446744073709551616", &v) != 0);
	T_CHECK(op_parse_u64("+1", &v) != 0 && op_parse_u64("", &v) != 0);
	char t[32];
	op_time_rfc3339(0, t);
	T_EQ_STR(t, "1970-01-01T00:00:00Z");
}

int main(void)
{
	T_RUN(test_diff);
	T_RUN(test_diff_exhaustive);
	T_RUN(test_marker_roundtrip);
	T_RUN(test_marker_refused);
	T_RUN(test_durations);
	return t_done();
}
