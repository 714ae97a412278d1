/* The log line: valid logfmt whatever its values hold (quotes, backslashes, spaces,
 * control characters, bytes off the network), one line per event, and every printf
 * conversion the code uses written as printf would. The lines are read back from a
 * temporary file standing in for stderr and parsed by a small logfmt reader. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outpost/agent/base/log.h"
#include "t.h"

static char line[4096];

/* Runs the log call with stderr on a temporary file; line gets what it wrote. */
#define CAPTURE(call) \
	do { \
		FILE *tf_ = tmpfile(); \
		T_REQUIRE(tf_); \
		int save_ = dup(STDERR_FILENO); \
		dup2(fileno(tf_), STDERR_FILENO); \
		call; \
		dup2(save_, STDERR_FILENO); \
		close(save_); \
		rewind(tf_); \
		size_t n_ = fread(line, 1, sizeof line - 1, tf_); \
		line[n_] = '\0'; \
		fclose(tf_); \
	} while (0)

/* The text after the time and level, from msg= on. */
static const char *from_msg(void)
{
	const char *m = strstr(line, " msg=");
	return m ? m + 1 : "";
}

/* A logfmt reader: key=value pairs separated by spaces, a value either bare (no space,
 * quote or '=') or quoted with \" and \\ escapes. Returns the number of pairs, -1 when
 * the line is not logfmt. With want, val gets that key's unescaped value. */
static int parse(const char *s, const char *want, char *val, size_t vlen)
{
	int pairs = 0;
	size_t i = 0, n = strlen(s);
	if (n == 0 || s[n - 1] != '\n' || memchr(s, '\n', n - 1))
		return -1; /* exactly one line */
	n--;
	while (i < n) {
		size_t k = i;
		while (i < n && s[i] != '=' && s[i] != ' ' && s[i] != '"')
			i++;
		if (i == k || i >= n || s[i] != '=')
			return -1;
		bool match = want && strlen(want) == i - k && !strncmp(s + k, want, i - k);
		i++;
		size_t o = 0;
		if (i < n && s[i] == '"') {
			for (i++; i < n && s[i] != '"'; i++) {
				if (s[i] == '\\') {
					if (++i >= n)
						return -1;
				}
				if (match && o + 1 < vlen)
					val[o++] = s[i];
			}
			if (i >= n)
				return -1; /* unterminated */
			i++;
		} else {
			for (; i < n && s[i] != ' '; i++) {
				if (s[i] == '"' || s[i] == '=')
					return -1;
				if (match && o + 1 < vlen)
					val[o++] = s[i];
			}
		}
		if (match)
			val[o] = '\0';
		pairs++;
		if (i < n && s[i] != ' ')
			return -1;
		if (i < n)
			i++;
	}
	return pairs;
}

static void test_quote_inside_quotes(void)
{
	CAPTURE(op_log_warn("manifest refused", "error=\"%s\"", "expected \"relative/path\""));
	T_EQ_STR(from_msg(), "msg=\"manifest refused\" error=\"expected \\\"relative/path\\\"\"\n");
	char v[256];
	T_EQ_INT(parse(line, "error", v, sizeof v), 4);
	T_EQ_STR(v, "expected \"relative/path\"");
}

static void test_backslash(void)
{
	CAPTURE(op_log_info("x", "path=\"%s\"", "C:\\dir\\"));
	T_EQ_STR(from_msg(), "msg=\"x\" path=\"C:\\\\dir\\\\\"\n");
	char v[64];
	T_EQ_INT(parse(line, "path", v, sizeof v), 4);
	T_EQ_STR(v, "C:\\dir\\");
}

/* A value the format left bare is quoted when it needs it, and left bare otherwise. */
static void test_bare_values(void)
{
	CAPTURE(op_log_info("x", "host=%s app=%s", "two words", "web"));
	T_EQ_STR(from_msg(), "msg=\"x\" host=\"two words\" app=web\n");
	CAPTURE(op_log_info("x", "k=%s", "a=b\"c"));
	T_EQ_STR(from_msg(), "msg=\"x\" k=\"a=b\\\"c\"\n");
	char v[64];
	T_EQ_INT(parse(line, "k", v, sizeof v), 4);
	T_EQ_STR(v, "a=b\"c");
}

/* No value ends the line or starts one of its own. */
static void test_control_characters(void)
{
	CAPTURE(op_log_warn(
		"heartbeat refused", "host=%s error=\"%s\"", "h\nlevel=error", "a\rb\x1b[31m\x7f"));
	T_EQ_STR(from_msg(),
		"msg=\"heartbeat refused\" host=\"h\\x0alevel=error\" "
		"error=\"a\\x0db\\x1b[31m\\x7f\"\n");
	T_EQ_INT(parse(line, NULL, NULL, 0), 5);
}

static void test_message_escaped(void)
{
	CAPTURE(op_log_info("say \"hi\"\n", NULL));
	T_EQ_STR(from_msg(), "msg=\"say \\\"hi\\\" \"\n");
	T_EQ_INT(parse(line, NULL, NULL, 0), 3);
}

/* Every kind of conversion the code writes, as printf writes it. */
static void test_conversions(void)
{
	CAPTURE(op_log_info("x", "a=%d b=%llu c=%zu d=%.3s e=%lld f=%u g=%ld h=%x i=%%", -7,
		18446744073709551615ULL, (size_t)42, "abcdef", -9000000000LL, 7u, -1L, 255u));
	T_EQ_STR(from_msg(),
		"msg=\"x\" a=-7 b=18446744073709551615 c=42 d=abc "
		"e=-9000000000 f=7 g=-1 h=ff i=%\n");
	CAPTURE(op_log_info("x", "w=\"%.*s\" p=%5s q=%-3d end=1", 2, "xyz", "ab", 1));
	T_EQ_STR(from_msg(), "msg=\"x\" w=\"xy\" p=\"   ab\" q=\"1  \" end=1\n");
	CAPTURE(op_log_info("x", "d=%td u=%zu", (ptrdiff_t)-3, (size_t)5));
	T_EQ_STR(from_msg(), "msg=\"x\" d=-3 u=5\n");
	const char *volatile none = NULL; /* a NULL the compiler cannot see */
	CAPTURE(op_log_info("x", "n=\"%s\"", none));
	T_EQ_STR(from_msg(), "msg=\"x\" n=\"(null)\"\n");
}

/* Property: for random byte strings as values, quoted and bare, the line is one valid
 * logfmt line, and a printable value reads back exactly. */
static void test_random_values(void)
{
	uint32_t x = 2463534242u;
	for (int round = 0; round < 2000; round++) {
		char v[64];
		size_t len = 0;
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		size_t n = x % 40;
		bool printable = round % 2 == 0;
		for (size_t i = 0; i < n; i++) {
			x ^= x << 13, x ^= x >> 17, x ^= x << 5;
			unsigned char c = (unsigned char)(x & 0xff);
			if (printable)
				c = (unsigned char)(0x20 + c % 95);
			if (c == 0)
				c = '"';
			v[len++] = (char)c;
		}
		v[len] = '\0';
		CAPTURE(op_log_info("r", "q=\"%s\" b=%s end=1", v, v));
		char back[256];
		int pairs = parse(line, "q", back, sizeof back);
		T_CHECK_MSG(pairs == 6, "round %d: not logfmt (%d): %s", round, pairs, line);
		if (printable && pairs == 6) {
			T_EQ_STR(back, v);
			T_REQUIRE(parse(line, "b", back, sizeof back) == 6);
			T_EQ_STR(back, v);
		}
		if (t_failed_checks)
			return;
	}
}

int main(void)
{
	T_RUN(test_quote_inside_quotes);
	T_RUN(test_backslash);
	T_RUN(test_bare_values);
	T_RUN(test_control_characters);
	T_RUN(test_message_escaped);
	T_RUN(test_conversions);
	T_RUN(test_random_values);
	return t_done();
}
