/* The hub's decoder of site announcements: what agents send is accepted and gives the
 * site name; refusals are a table of payloads, each with the code and a piece of the
 * message it must give, and no refusal message carries any of the input (it is logged
 * and sent back). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/sync/loop/announce.h"
#include "t.h"

#define N63 "abcdefghij0123456789abcdefghij0123456789abcdefghij0123456789abc"
#define N64 N63 "d"

/* True when msg is printable ASCII without a quote or a backslash: nothing of the
 * input, whatever it held, can have been copied into it. */
static bool msg_clean(const char *msg)
{
	for (const char *p = msg; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			return false;
	return msg[0] != '\0';
}

static int decode(const char *json, char site[OP_NAME_MAX + 1], op_err *e)
{
	return op_announce_decode(json, strlen(json), site, e);
}

static void test_accepted(void)
{
	static const struct {
		const char *json, *site;
	} ok[] = {
		{"{\"v\":1,\"site\":\"plant-7\"}", "plant-7"},
		/* as agent.c sends it: sorted keys, the site's --labels and site=NAME */
		{"{\"labels\":{\"region\":\"eu\",\"site\":\"plant-7\",\"zone.io/Rack\":\"r_12\"},"
		 "\"site\":\"plant-7\",\"v\":1}",
			"plant-7"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{}}", "a"},
		{" {\n  \"site\" : \"0-0\",\n  \"v\" : 1\n}\n", "0-0"},
		{"{\"v\":1,\"site\":\"" N63 "\",\"labels\":{\"" N63 "\":\"" N63 "\"}}", N63},
		/* fields a newer agent may add are ignored */
		{"{\"v\":1,\"site\":\"s\",\"hostname\":\"x y\",\"extra\":[1,{\"a\":null}]}", "s"},
		{"{\"v\":1,\"site\":\"hubs\"}", "hubs"},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		char site[OP_NAME_MAX + 1];
		op_err e = {0};
		T_CHECK_MSG(decode(ok[i].json, site, &e) == 0, "%s: %s", ok[i].json, e.msg);
		T_EQ_STR(site, ok[i].site);
	}
}

/* len is what counts: the bytes after it are never read, and no NUL is needed. */
static void test_length(void)
{
	const char buf[] = "{\"v\":1,\"site\":\"ab\"}{\"v\":2";
	char site[OP_NAME_MAX + 1];
	op_err e = {0};
	T_EQ_INT(op_announce_decode(buf, strlen("{\"v\":1,\"site\":\"ab\"}"), site, &e), 0);
	T_EQ_STR(site, "ab");
	T_EQ_INT(op_announce_decode(buf, strlen(buf), site, &e), OP_EINVAL);
	T_EQ_STR(site, "");
	char one[] = {'{'};
	T_EQ_INT(op_announce_decode(one, sizeof one, site, &e), OP_EINVAL);
	T_EQ_INT(op_announce_decode(NULL, 0, site, &e), OP_EINVAL);
	T_CHECK(msg_clean(e.msg));
}

/* Exactly OP_ANNOUNCE_MAX_BYTES is read; one more byte is refused before parsing. */
static void test_size(void)
{
	size_t max = OP_ANNOUNCE_MAX_BYTES;
	char *buf = malloc(max + 2);
	T_REQUIRE(buf);
	const char *head = "{\"v\":1,\"site\":\"big\"}";
	memset(buf, ' ', max + 1);
	memcpy(buf, head, strlen(head));
	buf[max + 1] = '\0';
	char site[OP_NAME_MAX + 1];
	op_err e = {0};
	T_EQ_INT(op_announce_decode(buf, max, site, &e), 0);
	T_EQ_STR(site, "big");
	T_EQ_INT(op_announce_decode(buf, max + 1, site, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "65537 bytes is over the limit of 65536"));
	T_EQ_STR(site, "");
	free(buf);
}

/* 64 labels are taken, 65 refused. */
static void test_label_count(void)
{
	char buf[4096];
	char site[OP_NAME_MAX + 1];
	op_err e = {0};
	for (int n = OP_ANNOUNCE_MAX_LABELS; n <= OP_ANNOUNCE_MAX_LABELS + 1; n++) {
		size_t len = (size_t)snprintf(
			buf, sizeof buf, "{\"v\":1,\"site\":\"s\",\"labels\":{");
		for (int i = 0; i < n; i++)
			len += (size_t)snprintf(
				buf + len, sizeof buf - len, "%s\"k%d\":\"v\"", i ? "," : "", i);
		len += (size_t)snprintf(buf + len, sizeof buf - len, "}}");
		T_REQUIRE(len < sizeof buf);
		int rc = op_announce_decode(buf, len, site, &e);
		if (n <= OP_ANNOUNCE_MAX_LABELS) {
			T_EQ_INT(rc, 0);
		} else {
			T_EQ_INT(rc, OP_ETOOBIG);
			T_CHECK(strstr(e.msg, "labels: more than 64"));
		}
	}
}

static void test_refusals(void)
{
	static const struct {
		const char *json;
		int code;
		const char *want;
	} bad[] = {
		{"", OP_EINVAL, "not JSON"},
		{"{\"v\":1,\"site\":\"a\"", OP_EINVAL, "not JSON"},
		{"\"plant-7\"", OP_EINVAL, "not JSON"},
		{"[{\"v\":1,\"site\":\"a\"}]", OP_EINVAL, "expected a JSON object"},
		{"{\"v\":1,\"site\":\"a\",\"site\":\"b\"}", OP_EINVAL, "not JSON"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"x\",\"k\":\"y\"}}", OP_EINVAL,
			"not JSON"},
		{"{\"v\":1,\"site\":\"a\\u0000b\"}", OP_EINVAL, "not JSON"},
		{"{\"v\":1,\"site\":\"a\n\"}", OP_EINVAL, "not JSON"}, /* raw control character */
		{"{\"v\":1,\"site\":\"\xff\"}", OP_EINVAL, "not JSON"},
		{"{\"site\":\"a\"}", OP_EINVAL, "v: expected the integer 1"},
		{"{\"v\":2,\"site\":\"a\"}", OP_EINVAL, "v: expected"},
		{"{\"v\":\"1\",\"site\":\"a\"}", OP_EINVAL, "v: expected"},
		{"{\"v\":1.0,\"site\":\"a\"}", OP_EINVAL, "v: expected"},
		{"{\"v\":true,\"site\":\"a\"}", OP_EINVAL, "v: expected"},
		{"{\"v\":null,\"site\":\"a\"}", OP_EINVAL, "v: expected"},
		{"{\"v\":1}", OP_EINVAL, "site: expected a site name"},
		{"{\"v\":1,\"site\":null}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":7}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":[\"a\"]}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"hub\"}", OP_EINVAL, "not hub"},
		{"{\"v\":1,\"site\":\"Plant\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"plant 7\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"a.b\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"a/..\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"a>\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"*\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"" N64 "\"}", OP_EINVAL, "site: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":null}", OP_EINVAL,
			"labels: expected an object"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":[]}", OP_EINVAL, "labels: expected an object"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":\"k=v\"}", OP_EINVAL, "labels: expected an"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":1}}", OP_EINVAL,
			"labels: expected keys"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":null}}", OP_EINVAL,
			"labels: expected keys"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":{}}}", OP_EINVAL,
			"labels: expected keys"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"\"}}", OP_EINVAL,
			"labels: expected keys"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"\":\"v\"}}", OP_EINVAL,
			"labels: expected keys"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"a b\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"a/b\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"a=b\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k=v\":\"v\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\\n\":\"v\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"v\\n\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"" N64 "\":\"v\"}}", OP_EINVAL,
			"labels: expected"},
		{"{\"v\":1,\"site\":\"a\",\"labels\":{\"k\":\"" N64 "\"}}", OP_EINVAL,
			"labels: expected"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char site[OP_NAME_MAX + 1];
		memcpy(site, "stale", 6);
		op_err e = {0};
		int rc = decode(bad[i].json, site, &e);
		T_CHECK_MSG(
			rc == bad[i].code, "%s: code %d, want %d", bad[i].json, rc, bad[i].code);
		T_CHECK_MSG(strstr(e.msg, bad[i].want), "%s: message \"%s\", want \"%s\"",
			bad[i].json, e.msg, bad[i].want);
		T_CHECK_MSG(
			msg_clean(e.msg), "%s: message quotes the input: %s", bad[i].json, e.msg);
		T_EQ_STR(site, "");
	}
}

/* A refusal never echoes the input, even what a log reader would take for fields. */
static void test_no_echo(void)
{
	static const char *const evil[] = {
		"{\"v\":1,\"site\":\"x\\\" level=error msg=\\\"forged\"}",
		"{\"v\":1,\"site\":\"x\",\"labels\":{\"forged\\nlevel=error\":\"v\"}}",
		"{\"v\":1,\"site\":\"forged\nlevel=error\"}",
		"{\"v\":1,\"forged\x01level=error\":1,\"site\":\"a\",\"site\":\"b\"}",
		"{\"v\":1,\"site\":\"x\"} forged",
		"{\"v\":1,\"site\":\"x\",\"labels\":{\"k\":\"forged\\u2028\"}}",
	};
	for (size_t i = 0; i < sizeof evil / sizeof *evil; i++) {
		char site[OP_NAME_MAX + 1];
		op_err e = {0};
		T_CHECK_MSG(decode(evil[i], site, &e) != 0, "accepted: %s", evil[i]);
		T_CHECK_MSG(!strstr(e.msg, "forged") && msg_clean(e.msg), "%s: message: %s",
			evil[i], e.msg);
	}
}

int main(void)
{
	T_RUN(test_accepted);
	T_RUN(test_length);
	T_RUN(test_size);
	T_RUN(test_label_count);
	T_RUN(test_refusals);
	T_RUN(test_no_echo);
	return t_done();
}
