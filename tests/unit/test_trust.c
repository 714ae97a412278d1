/* Unit tests of the trust policy (agent/trust/trust.c, agent/trust/trust_decide.c): allowed_signers
 * and revocation parsing with every option, date edge and error line, ssh-keygen's
 * patterns, and the decision, which must be git's (see include/outpost/agent/trust/trust.h; the
 * e2e test test_verify_git compares it with git itself). The keys are fixed public
 * keys made once by ssh-keygen. */
#include "outpost/agent/trust/trust.h"

#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness_wire.h"
#include "../t.h"

#define ED1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhdKu5ii1HzSYJlLAx3N37IaA53Kq7Enlp8mpw1EmdM"
#define ED1_FP "SHA256:EkVnvLlqh7RKeHzqn4niwskcm5NAlKCK2/5Mi5b3330"
#define ED2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDuLRVlH/yKQuDlxqcIdMRp62spgEdah3uxqA179ZYBn"
#define ED3 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9Txr/Gq0arofmX1WAiif1c2K0Bnt710NHfYmrW3Bi1"
#define EC1 \
	"ecdsa-sha2-nistp256 " \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEDyBe5mX7ai5nlfvNGG3O0HnjdjW" \
	"Lv1rHOYpxgU6cI9d07ch9rLLhYZbLPmZf5HfqMq+QAMssLl5yzx7kk5QNY="
#define EC384 \
	"ecdsa-sha2-nistp384 " \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAzODQAAAAIbmlzdHAzODQAAABhBNAXXlyw6QmXB6gR0/KYRuq3IR973" \
	"svNPBTfi2Ib8JSbx7V8rCYvgeFPWxbKguwgSjgmr8nfz00DJczcpBjsdd+j01jAAfYwkL5i6TIXtF6MS/" \
	"dLBjxZwF9ksD+SeulCuA=="
#define RSA1 \
	"ssh-rsa " \
	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7cO9pxyYxhbNETBLX3Q2QOPIjLlYbOPvjl3kIW/4obr4zbQa99" \
	"7aBshoDZJmFrXSGFHxYi2l2dL0OhEwqLNGwGX+Nls7N9j2V/wsjVxUaU+nBWTKBowxPJdDXP5r+7QxIy+" \
	"AuvUitWHXQTcW6JamY+4YaVM3uxThqyJVFV2LM5Q=="

/* 2024-05-01T12:00:00Z */
#define T0 1714564800LL

static op_sshkey key(const char *line)
{
	op_sshkey k;
	op_err e = {0};
	if (op_sshkey_parse_line(&k, line, strlen(line), &e) != 0)
		t_fail(__FILE__, __LINE__, "key: %s", e.msg);
	return k;
}

static int parse(op_trust_policy *p, const char *text, op_err *e)
{
	memset(e, 0, sizeof *e);
	return op_trust_parse(p, "signers", text, strlen(text), e);
}

/* Parses len bytes of text, expects the line it cannot use to be skipped, and checks
 * that a warning holds want and says the line was skipped: such a line can only grant,
 * so skipping it (as ssh-keygen does) never widens trust. */
static void bad(const char *text, size_t len, const char *want, int line)
{
	op_trust_policy p;
	op_err e = {0};
	int rc = op_trust_parse(&p, "signers", text, len, &e);
	if (rc != 0) {
		t_fail(__FILE__, line, "refused the file: %s", e.msg);
		return;
	}
	bool found = false;
	for (size_t i = 0; i < p.nwarn; i++)
		found = found || (strstr(p.warn[i], want) && strstr(p.warn[i], "line skipped"));
	if (!found)
		t_fail(__FILE__, line, "no warning \"%s\" (%zu warnings%s%s)", want, p.nwarn,
			p.nwarn ? ", first: " : "", p.nwarn ? p.warn[0] : "");
	if (p.skipped < 1)
		t_fail(__FILE__, line, "nothing skipped");
	op_trust_clear(&p);
}
#define BAD(text, want) bad(text, strlen(text), want, __LINE__)

static void test_parse_basic(void)
{
	op_trust_policy p;
	op_err e;
	const char *text = "# the team\n"
			   "\n"
			   "   \t\n"
			   "alice@example.com " ED1 " alice's laptop\n"
			   "  # indented comment\n"
			   "bob@example.com,robert@example.com\t" EC1 "\r\n"
			   "\"carol smith\" " RSA1 "\n"
			   "*@ops.example.com,!eve@ops.example.com " ED2; /* no final newline */
	T_EQ_INT(parse(&p, text, &e), 0);
	T_REQUIRE(p.n == 4);
	T_EQ_STR(p.file, "signers");
	T_EQ_INT(p.v[0].line, 4);
	T_EQ_STR(p.v[0].principals, "alice@example.com");
	T_CHECK(p.v[0].namespaces == NULL);
	T_EQ_INT(p.v[0].valid_after, 0);
	T_EQ_INT(p.v[0].valid_before, 0);
	T_EQ_INT(p.v[0].key.type, OP_SSHKEY_ED25519);
	T_EQ_INT(p.v[1].line, 6);
	T_EQ_STR(p.v[1].principals, "bob@example.com,robert@example.com");
	T_EQ_INT(p.v[1].key.type, OP_SSHKEY_ECDSA_P256);
	T_EQ_INT(p.v[2].line, 7);
	T_EQ_STR(p.v[2].principals, "carol smith");
	T_EQ_INT(p.v[2].key.type, OP_SSHKEY_RSA);
	T_EQ_INT(p.v[3].line, 8);
	T_EQ_STR(p.v[3].principals, "*@ops.example.com,!eve@ops.example.com");
	op_sshkey k = key(ED1);
	T_CHECK(op_sshkey_equal(&p.v[0].key, &k));
	T_CHECK(!op_sshkey_equal(&p.v[3].key, &k));
	op_sshkey_clear(&k);
	op_trust_clear(&p);
	T_CHECK(p.v == NULL && p.n == 0);
	op_trust_clear(&p); /* twice is harmless */

	/* Empty and comment-only files are valid and list nobody. */
	T_EQ_INT(parse(&p, "", &e), 0);
	T_EQ_INT(p.n, 0);
	op_trust_clear(&p);
	T_EQ_INT(parse(&p, "# nobody yet\n\n", &e), 0);
	T_EQ_INT(p.n, 0);
	op_trust_clear(&p);
}

static void test_parse_options(void)
{
	op_trust_policy p;
	op_err e;
	const char *text = "a@x namespaces=\"git\" " ED1 "\n"
			   "b@x namespaces=\"git,file\",valid-after=\"20240501\" " ED2 "\n"
			   "c@x valid-after=\"202405011200Z\",valid-before=\"20240501120001z\" " ED3
			   "\n"
			   "d@x VALID-BEFORE=\"20250101UTC\",Namespaces=\"*\" " EC1 "\n"
			   "e@x valid-before=\"20250101000000utc\" " RSA1 "\n"
			   "f@x namespaces=\"g\\\"it\" " ED1 "\n";
	T_EQ_INT(parse(&p, text, &e), 0);
	T_REQUIRE(p.n == 6);
	T_EQ_STR(p.v[0].namespaces, "git");
	T_EQ_STR(p.v[1].namespaces, "git,file");
	T_EQ_INT(p.v[1].valid_after, 1714521600); /* 2024-05-01T00:00:00Z */
	T_EQ_INT(p.v[1].valid_before, 0);
	T_EQ_INT(p.v[2].valid_after, T0);
	T_EQ_INT(p.v[2].valid_before, T0 + 1);
	T_EQ_INT(p.v[3].valid_before, 1735689600); /* 2025-01-01T00:00:00Z */
	T_EQ_STR(p.v[3].namespaces, "*");
	T_EQ_INT(p.v[4].valid_before, 1735689600);
	T_EQ_STR(p.v[5].namespaces, "g\"it");
	op_trust_clear(&p);
	if (t_failed_checks)
		fprintf(stderr, "  last error: %s\n", e.msg);
}

static void test_parse_time(void)
{
	int64_t t;
	T_EQ_INT(op_trust_parse_time("20240501", 8, &t), 0);
	T_EQ_INT(t, 1714521600);
	T_EQ_INT(op_trust_parse_time("20240501Z", 9, &t), 0);
	T_EQ_INT(t, 1714521600);
	T_EQ_INT(op_trust_parse_time("202405011200", 12, &t), 0);
	T_EQ_INT(t, T0);
	T_EQ_INT(op_trust_parse_time("20240501120000UTC", 17, &t), 0);
	T_EQ_INT(t, T0);
	T_EQ_INT(op_trust_parse_time("20240229", 8, &t), 0); /* leap day */
	T_EQ_INT(t, 1709164800);
	T_EQ_INT(op_trust_parse_time("20000229", 8, &t), 0); /* 400-year leap */
	T_EQ_INT(op_trust_parse_time("99991231235959Z", 15, &t), 0);
	T_EQ_INT(t, 253402300799LL);
	T_EQ_INT(op_trust_parse_time("19700101000001Z", 15, &t), 0);
	T_EQ_INT(t, 1);
	/* Refused: 0 (OpenSSH's "no bound"), before 1970, impossible fields, bad lengths. */
	T_EQ_INT(op_trust_parse_time("19700101", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("19691231", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20230229", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("19000229", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20241301", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20240001", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20240431", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20240500", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("202405012400", 12, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("202405011260", 12, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20240501120060", 14, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("2024050", 7, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("2024050112", 10, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("2024-05-01", 10, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("2024050 ", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("+2024050", 8, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("Z", 1, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("", 0, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20240501ZZ", 10, &t), OP_EINVAL);
	T_EQ_INT(op_trust_parse_time("20240501+0100", 13, &t), OP_EINVAL);
}

static void test_parse_errors(void)
{
	/* Each names the file and line. */
	BAD("a@x " ED1 "\nb@x cert-authority " ED2 "\n", "signers:2: cert-authority");
	BAD("# c\n\nb@x cert-authority,namespaces=\"git\" " ED2, "signers:3: cert-authority");
	BAD("a@x CERT-AUTHORITY " ED2, "signers:1: cert-authority");
	BAD("a@x restrict " ED1, "signers:1: unknown option \"restrict\"");
	BAD("a@x namespaces=git " ED1, "signers:1: value of namespaces must be in double quotes");
	BAD("a@x valid-after=20240101 " ED1, "must be in double quotes");
	BAD("a@x namespaces=\"git " ED1, "unterminated quote");
	BAD("a@x namespaces=\"git\",namespaces=\"file\" " ED1, "namespaces given twice");
	BAD("a@x valid-after=\"20240101\",valid-after=\"20240102\" " ED1,
		"valid-after given twice");
	BAD("a@x valid-before=\"20240101\",valid-before=\"20240102\" " ED1,
		"valid-before given twice");
	BAD("a@x valid-after=\"20240102\",valid-before=\"20240101\" " ED1, "not after valid-after");
	BAD("a@x valid-after=\"20240101\",valid-before=\"20240101\" " ED1, "not after valid-after");
	BAD("a@x valid-after=\"20240230\" " ED1, "valid-after=\"20240230\" is not a time");
	BAD("a@x valid-before=\"19700101\" " ED1, "valid-before=\"19700101\" is not a time");
	BAD("a@x valid-before=\"2024-01-01\" " ED1, "expected YYYYMMDD");
	BAD("a@x namespaces=\"\" " ED1, "empty namespaces");
	BAD("a@x namespaces=\"git,\" " ED1, "namespaces ends with ','");
	BAD("a@x namespaces=\"git,,file\" " ED1, "empty pattern in namespaces");
	BAD("a@x namespaces=\"git\", " ED1, "option list ends with ','");
	BAD("a@x namespaces=\"git\"x " ED1, "expected ',' or a blank");
	BAD("a@x\n", "signers:1: missing key");
	BAD("a@x   \n", "signers:1: missing key");
	BAD("a@x namespaces=\"git\"\n", "missing key after the options");
	BAD("a@x namespaces=\"git\" \n", "missing key after the options");
	BAD("a@x ssh-ed25519\n", "missing base64 key after ssh-ed25519");
	BAD("a@x ssh-ed25519 AAAA!!!!\n", "not valid base64");
	BAD("a@x ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFhdKu5ii1HzSYJlLAx3N37IaA53Kq7Enlp8mpw1\n",
		"truncated");
	BAD("a@x ssh-ed448 AAAA\n", "ssh-ed448 is not supported");
	BAD("a@x ssh-dss AAAA\n", "ssh-dss is not supported");
	BAD("a@x ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIFhdKu5ii1HzSYJlLAx3N37IaA53Kq7Enlp8mpw1EmdM\n",
		"key text says ssh-rsa but the key is ssh-ed25519");
	BAD("a@x " ED1 "comment\n", "signers:1: ssh-ed25519 key is not valid base64");
	BAD("a@x,,b@x " ED1, "empty pattern in principals");
	BAD("a@x,! " ED1, "empty pattern in principals");
	BAD("a@x, " ED1, "principals ends with ','");
	BAD(",a@x " ED1, "empty pattern in principals");
	BAD("\"\" " ED1, "empty principals");
	BAD("\"a@x " ED1, "principals have no closing quote");
	BAD("\"a@x\"b " ED1, "expected a blank after the quoted principals");
	BAD("a\"b c\" " ED1, "a quote inside principals");
	static const char nul[] = "a@x " ED1 "\nb@x\0 " ED2 "\n";
	bad(nul, sizeof nul - 1, "signers:2: NUL byte", __LINE__);
	BAD("a@x\r " ED1 "\n", "signers:1: carriage return inside the line");
	/* A principal over the cap. */
	char big[600];
	memset(big, 'a', 300);
	snprintf(big + 300, sizeof big - 300, " %s", ED1);
	BAD(big, "longer than 255 bytes");

	/* A broken line among good ones is skipped alone, named by its line. */
	const char *mixed = "a@x " ED1 "\nb@x " ED2 "\n# fine\nc@x bogus " ED3 "\nd@x " EC1 "\n";
	BAD(mixed, "signers:4: unknown option \"bogus\"");
	op_trust_policy p;
	op_err e = {0};
	T_EQ_INT(parse(&p, mixed, &e), 0);
	T_EQ_INT(p.n, 3);
	T_EQ_INT(p.skipped, 1);
	T_EQ_INT(p.nwarn, 1);
	T_EQ_INT(p.v[2].line, 5);
	op_trust_clear(&p);
	/* OpenSSH 10 knows no no-touch-required option in allowed_signers: skipped. */
	BAD("a@x no-touch-required " ED1, "unknown option \"no-touch-required\"");
	/* Warnings past the cap are counted, not kept. */
	char *many = malloc(128 * 40);
	T_REQUIRE(many);
	many[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(many, "x@y bogus " ED1 "\n");
	T_EQ_INT(parse(&p, many, &e), 0);
	T_EQ_INT(p.n, 0);
	T_EQ_INT(p.skipped, 40);
	T_EQ_INT(p.nwarn, OP_TRUST_MAX_WARN);
	op_trust_clear(&p);
	free(many);
}

/* A time without Z is UTC, with one warning per line (ssh-keygen reads local time). */
static void test_local_time_warning(void)
{
	op_trust_policy p;
	op_err e = {0};
	T_EQ_INT(parse(&p,
			 "a@x valid-after=\"20240101\",valid-before=\"20250101\" " ED1 "\n"
			 "b@x valid-after=\"20240101Z\" " ED2 "\n"
			 "c@x valid-before=\"202501011200\" " ED3 "\n",
			 &e),
		0);
	T_EQ_INT(p.n, 3);
	T_EQ_INT(p.skipped, 0);
	T_EQ_INT(p.nwarn, 2);
	T_CHECK_MSG(
		strstr(p.warn[0], "signers:1: a time without Z is read as UTC"), "%s", p.warn[0]);
	T_CHECK_MSG(strstr(p.warn[1], "signers:3:"), "%s", p.warn[1]);
	T_EQ_INT(p.v[0].valid_after, 1704067200);
	op_trust_clear(&p);
}

static void test_match(void)
{
	T_CHECK(op_trust_match("alice@example.com", "alice@example.com"));
	T_CHECK(!op_trust_match("alice@example.com", "Alice@example.com")); /* case matters */
	T_CHECK(op_trust_match("alice@example.com", "*@example.com"));
	T_CHECK(op_trust_match("alice@example.com", "*"));
	T_CHECK(op_trust_match("", "*"));
	T_CHECK(!op_trust_match("", "?"));
	T_CHECK(op_trust_match("a", "?"));
	T_CHECK(op_trust_match("alice@example.com", "a?ice@*.com"));
	T_CHECK(op_trust_match("alice@example.com", "*e*e*e*"));
	T_CHECK(!op_trust_match("alice@example.com", "*@example.org"));
	T_CHECK(!op_trust_match("alice@example.comx", "*@example.com"));
	T_CHECK(op_trust_match("x*y", "x*y"));
	T_CHECK(op_trust_match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "*a*a*a*a*a*a*a*a*a*b"));
	T_CHECK(!op_trust_match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "*a*a*a*a*a*a*a*a*a*b"));

	T_EQ_INT(op_trust_match_list("a@x", "a@x"), 1);
	T_EQ_INT(op_trust_match_list("a@x", "b@x,a@x"), 1);
	T_EQ_INT(op_trust_match_list("a@x", "b@x,c@x"), 0);
	T_EQ_INT(op_trust_match_list("eve@x", "*@x,!eve@x"), -1);
	T_EQ_INT(op_trust_match_list("eve@x", "!eve@x,*@x"), -1);
	T_EQ_INT(op_trust_match_list("bob@x", "!eve@x,*@x"), 1);
	T_EQ_INT(op_trust_match_list("bob@x", "!eve@x"), 0); /* negations alone never match */
	T_EQ_INT(op_trust_match_list("git", "g*,!file"), 1);
	T_EQ_INT(op_trust_match_list("", ""), 0);
	/* ssh-keygen passes the principal text itself to -I: a pattern matches itself,
	 * and "!bad@x" from a list is just a string that "*@x" matches. */
	T_EQ_INT(op_trust_match_list("*@x", "*@x"), 1);
	T_EQ_INT(op_trust_match_list("!bad@x", "!bad@x,*@x"), 1);
	/* An overlong pattern fails the list, as in OpenSSH. */
	char longp[1100];
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	T_EQ_INT(op_trust_match_list(longp, longp), 0);
}

/* Decides for key line `k` at time t in namespace "git". */
static void decide(const char *policy, const char *revoked, const char *k, int64_t t,
	const char *email, bool match, op_trust_verdict *v)
{
	op_trust_policy p;
	op_trust_revoked r;
	op_err e;
	if (parse(&p, policy, &e) != 0) {
		t_fail(__FILE__, __LINE__, "policy: %s", e.msg);
		memset(v, 0, sizeof *v);
		return;
	}
	if (revoked && op_trust_revoked_parse(&r, "revoked", revoked, strlen(revoked), &e) != 0)
		t_fail(__FILE__, __LINE__, "revoked: %s", e.msg);
	op_sshkey sk = key(k);
	op_trust_query q = {
		.key = &sk, .ns = "git", .time = t, .email = email, .match_committer = match};
	op_trust_decide(&p, revoked ? &r : NULL, &q, v);
	op_sshkey_clear(&sk);
	op_trust_clear(&p);
	if (revoked)
		op_trust_revoked_clear(&r);
}

#define ACCEPTS(policy, k, t, want_principal, want_line) \
	do { \
		op_trust_verdict v_; \
		decide(policy, NULL, k, t, NULL, false, &v_); \
		T_CHECK_MSG( \
			v_.accepted, "refused (%s): %s", op_trust_reason_name(v_.reason), v_.msg); \
		T_EQ_STR(v_.principal, want_principal); \
		T_EQ_INT(v_.line, want_line); \
	} while (0)
#define REFUSES(policy, k, t, why) \
	do { \
		op_trust_verdict v_; \
		decide(policy, NULL, k, t, NULL, false, &v_); \
		T_CHECK_MSG(!v_.accepted, "accepted: %s", v_.msg); \
		T_CHECK_MSG(v_.reason == why, "reason %s, not %s: %s", \
			op_trust_reason_name(v_.reason), op_trust_reason_name(why), v_.msg); \
		T_EQ_STR(v_.principal, ""); \
	} while (0)

static void test_decide_listed(void)
{
	op_trust_verdict v;
	decide("alice@example.com " ED1 "\n", NULL, ED1, T0, NULL, false, &v);
	T_CHECK(v.accepted);
	T_EQ_INT(v.reason, OP_TRUST_ACCEPTED);
	T_EQ_STR(v.principal, "alice@example.com");
	T_EQ_STR(v.fingerprint, ED1_FP);
	T_EQ_INT(v.line, 1);
	T_EQ_INT(v.time, T0);
	T_CHECK(strstr(v.msg, "alice@example.com") && strstr(v.msg, "signers:1"));

	REFUSES("alice@example.com " ED1 "\n", ED2, T0, OP_TRUST_NOT_LISTED);
	decide("alice@example.com " ED1 "\n", NULL, ED2, T0, NULL, false, &v);
	T_CHECK(strstr(v.msg, "is not in signers") != NULL);
	REFUSES("", ED1, T0, OP_TRUST_NOT_LISTED);
	/* Every key type; the first principal of the line is the signer. */
	ACCEPTS("x@x " ED1 "\nbob@x,rob@x " EC1 "\n", EC1, T0, "bob@x", 2);
	ACCEPTS("x@x " ED1 "\ncarol@x " RSA1 "\n", RSA1, T0, "carol@x", 2);
	/* A key listed twice: the first line decides, ... */
	ACCEPTS("a@x " ED1 "\nb@x " ED1 "\n", ED1, T0, "a@x", 1);
	/* ... the quoted principal with a blank is one principal. */
	ACCEPTS("\"Alice Smith\" " ED1 "\n", ED1, T0, "Alice Smith", 1);
}

static void test_decide_dates(void)
{
	const char *after = "a@x valid-after=\"20240501120000Z\" " ED1 "\n";
	const char *before = "a@x valid-before=\"20240501120000Z\" " ED1 "\n";
	const char *both = "a@x valid-after=\"20240501\",valid-before=\"20240502\" " ED1 "\n";
	/* Bounds are inclusive, as in ssh-keygen (time < after, time > before fail). */
	ACCEPTS(after, ED1, T0, "a@x", 1);
	ACCEPTS(after, ED1, T0 + 86400 * 365, "a@x", 1);
	REFUSES(after, ED1, T0 - 1, OP_TRUST_NOT_YET_VALID);
	ACCEPTS(before, ED1, T0, "a@x", 1);
	ACCEPTS(before, ED1, 1, "a@x", 1);
	REFUSES(before, ED1, T0 + 1, OP_TRUST_EXPIRED);
	ACCEPTS(both, ED1, 1714521600, "a@x", 1);
	ACCEPTS(both, ED1, 1714608000, "a@x", 1);
	REFUSES(both, ED1, 1714521599, OP_TRUST_NOT_YET_VALID);
	REFUSES(both, ED1, 1714608001, OP_TRUST_EXPIRED);

	op_trust_verdict v;
	decide(before, NULL, ED1, T0 + 1, NULL, false, &v);
	T_EQ_INT(v.line, 1);
	T_CHECK_MSG(strstr(v.msg,
			    "signers:1: key " ED1_FP " expired at 2024-05-01T12:00:00Z "
			    "(commit time 2024-05-01T12:00:01Z)"),
		"%s", v.msg);
	decide(after, NULL, ED1, T0 - 1, NULL, false, &v);
	T_CHECK_MSG(strstr(v.msg, "not valid before 2024-05-01T12:00:00Z"), "%s", v.msg);

	/* find-principals skips a line that is not valid at the time: a rotation. */
	const char *rot = "old@x valid-before=\"20240101\" " ED1 "\n"
			  "new@x valid-after=\"20240101000001\" " ED1 "\n";
	ACCEPTS(rot, ED1, T0, "new@x", 2);
	ACCEPTS(rot, ED1, 1704067200, "old@x", 1);
	/* None valid: the first dated line gives the reason. */
	REFUSES("a@x valid-before=\"20240101\" " ED1 "\nb@x valid-after=\"20250101\" " ED1 "\n",
		ED1, T0, OP_TRUST_EXPIRED);
	decide("a@x valid-before=\"20240101\" " ED1 "\nb@x valid-after=\"20250101\" " ED1 "\n",
		NULL, ED1, T0, NULL, false, &v);
	T_EQ_INT(v.line, 1);
}

static void test_decide_namespaces(void)
{
	ACCEPTS("a@x namespaces=\"git\" " ED1, ED1, T0, "a@x", 1);
	ACCEPTS("a@x namespaces=\"file,git\" " ED1, ED1, T0, "a@x", 1);
	ACCEPTS("a@x namespaces=\"g?t\" " ED1, ED1, T0, "a@x", 1);
	ACCEPTS("a@x namespaces=\"*\" " ED1, ED1, T0, "a@x", 1);
	REFUSES("a@x namespaces=\"file\" " ED1, ED1, T0, OP_TRUST_NAMESPACE_DENIED);
	REFUSES("a@x namespaces=\"!git,*\" " ED1, ED1, T0, OP_TRUST_NAMESPACE_DENIED);
	REFUSES("a@x namespaces=\"!file\" " ED1, ED1, T0, OP_TRUST_NAMESPACE_DENIED);
	op_trust_verdict v;
	decide("a@x namespaces=\"file\" " ED1, NULL, ED1, T0, NULL, false, &v);
	T_EQ_INT(v.line, 1);
	T_CHECK_MSG(strstr(v.msg, "not allowed for namespace \"git\" (namespaces=\"file\")"), "%s",
		v.msg);
	/* git's quirk: find-principals ignores namespaces and returns the first line's
	 * principals; verify -I a@x then only finds line 1, which denies git. Line 2 with
	 * another principal is never tried. */
	REFUSES("a@x namespaces=\"file\" " ED1 "\nb@x " ED1 "\n", ED1, T0,
		OP_TRUST_NAMESPACE_DENIED);
	/* But a second line for the same principal is found by verify -I a@x. */
	ACCEPTS("a@x namespaces=\"file\" " ED1 "\na@x namespaces=\"git\" " ED1 "\n", ED1, T0, "a@x",
		2);
	/* And the second principal of the first line is tried when the first fails. */
	ACCEPTS("a@x,b@x namespaces=\"file\" " ED1 "\nb@x " ED1 "\n", ED1, T0, "b@x", 2);
}

static void test_decide_patterns(void)
{
	/* The principal recorded is the text of the line, pattern and all, as git does. */
	ACCEPTS("*@example.com " ED1, ED1, T0, "*@example.com", 1);
	ACCEPTS("!bad@x,*@x " ED1, ED1, T0, "!bad@x", 1);
	/* A line of negations only: -I !a@x matches nothing, no principal verifies. */
	REFUSES("!a@x " ED1, ED1, T0, OP_TRUST_NO_PRINCIPAL);
	/* A principal verified through another line's pattern. */
	ACCEPTS("dev@x namespaces=\"file\" " ED1 "\n*@x " ED1 "\n", ED1, T0, "dev@x", 2);
}

static void test_decide_revoked(void)
{
	op_trust_verdict v;
	const char *policy = "a@x " ED1 "\nb@x " ED2 "\n";
	const char *revoked = "# gone\n" ED2 " lost laptop\n\n" EC384 "\n";
	decide(policy, revoked, ED1, T0, NULL, false, &v);
	T_CHECK(v.accepted);
	decide(policy, revoked, ED2, T0, NULL, false, &v);
	T_CHECK(!v.accepted);
	T_EQ_INT(v.reason, OP_TRUST_REVOKED);
	T_CHECK_MSG(strstr(v.msg, "revoked by revoked"), "%s", v.msg);
	/* Revoked whatever the dates say, listed or not. */
	decide("b@x valid-before=\"20990101\" " ED2, revoked, ED2, T0, NULL, false, &v);
	T_EQ_INT(v.reason, OP_TRUST_REVOKED);
	decide("", revoked, ED2, T0, NULL, false, &v);
	T_EQ_INT(v.reason, OP_TRUST_REVOKED);
}

static void test_decide_committer(void)
{
	op_trust_verdict v;
	const char *p = "alice@example.com " ED1 "\n*@ops.x,!eve@ops.x " ED2 "\n";
	decide(p, NULL, ED1, T0, "alice@example.com", true, &v);
	T_CHECK(v.accepted);
	T_EQ_STR(v.principal, "alice@example.com");
	decide(p, NULL, ED1, T0, "mallory@example.com", true, &v);
	T_CHECK(!v.accepted);
	T_EQ_INT(v.reason, OP_TRUST_COMMITTER);
	T_EQ_STR(v.principal, "");
	T_CHECK_MSG(strstr(v.msg, "<mallory@example.com>"), "%s", v.msg);
	decide(p, NULL, ED1, T0, NULL, true, &v);
	T_EQ_INT(v.reason, OP_TRUST_COMMITTER);
	/* Off by default: git's verdict only. */
	decide(p, NULL, ED1, T0, "mallory@example.com", false, &v);
	T_CHECK(v.accepted);
	/* Patterns match the committer as ssh-keygen -I would. */
	decide(p, NULL, ED2, T0, "bob@ops.x", true, &v);
	T_CHECK(v.accepted);
	T_EQ_STR(v.principal, "*@ops.x");
	decide(p, NULL, ED2, T0, "eve@ops.x", true, &v);
	T_EQ_INT(v.reason, OP_TRUST_COMMITTER);
	/* It never widens git's verdict. */
	decide("a@x namespaces=\"file\" " ED1 "\nb@x " ED1 "\n", NULL, ED1, T0, "b@x", true, &v);
	T_CHECK(!v.accepted);
	T_EQ_INT(v.reason, OP_TRUST_NAMESPACE_DENIED);
	/* A committer email matching a line valid at a different time does not count. */
	decide("a@x " ED1 "\nb@x valid-before=\"20200101\" " ED1 "\n", NULL, ED1, T0, "b@x", true,
		&v);
	T_EQ_INT(v.reason, OP_TRUST_COMMITTER);
}

static void test_revoked_parse(void)
{
	op_trust_revoked r;
	op_err e = {0};
	const char *text = "# revoked keys\n" ED1 " old\n\n  " EC1 "\r\n" RSA1 "\n" EC384
			   " p384\nssh-dss AAAA dsa\n";
	T_EQ_INT(op_trust_revoked_parse(&r, "rev", text, strlen(text), &e), 0);
	T_EQ_INT(r.n, 4);
	T_EQ_INT(r.skipped, 1);
	op_sshkey k1 = key(ED1), k2 = key(ED2), k3 = key(RSA1);
	T_CHECK(op_trust_is_revoked(&r, &k1));
	T_CHECK(!op_trust_is_revoked(&r, &k2));
	T_CHECK(op_trust_is_revoked(&r, &k3));
	T_CHECK(!op_trust_is_revoked(NULL, &k1));
	op_trust_revoked_clear(&r);
	op_sshkey_clear(&k1);
	op_sshkey_clear(&k2);
	op_sshkey_clear(&k3);

	T_EQ_INT(op_trust_revoked_parse(&r, "rev", "", 0, &e), 0);
	T_EQ_INT(r.n, 0);
	op_trust_revoked_clear(&r);

	const char *bad1 = ED1 "\nalice@x " ED2 "\n";
	T_EQ_INT(op_trust_revoked_parse(&r, "rev", bad1, strlen(bad1), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "rev:2: unknown key type \"alice@x\""), "%s", e.msg);
	T_CHECK(r.v == NULL && r.file == NULL);
	const char *bad2 = "\n\nssh-ed25519 AAAA\n";
	T_EQ_INT(op_trust_revoked_parse(&r, "rev", bad2, strlen(bad2), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "rev:3:"), "%s", e.msg);
	const char krl[] = "SSHKRL\n\0\0\0\0\1";
	T_EQ_INT(op_trust_revoked_parse(&r, "rev", krl, sizeof krl - 1, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "rev: KRL header truncated"), "%s", e.msg);
}

/* A KRL as ssh-keygen -k writes it (PROTOCOL.krl): the header, then sections, in the
 * tests' SSH wire buffer (harness_wire.h). */
static void krl_header(t_buf *b, uint32_t format)
{
	static const unsigned char zero[24];
	b->n = 0;
	t_put(b, "SSHKRL\n", 8);
	t_put_u32(b, format);
	t_put(b, zero, sizeof zero); /* krl version, date, flags */
	t_put_str(b, "", 0); /* reserved */
	t_put_str(b, "comment", 7);
}

/* One section of type t holding the items given (each as a string). */
static void krl_section(
	t_buf *b, int t, const unsigned char *const *items, const size_t *lens, size_t n)
{
	t_buf s = {.n = 0};
	for (size_t i = 0; i < n; i++)
		t_put_str(&s, items[i], lens[i]);
	unsigned char type = (unsigned char)t;
	t_put(b, &type, 1);
	t_put_str(b, s.d, s.n);
}

static int krl_parse(op_trust_revoked *r, const t_buf *b, op_err *e)
{
	return op_trust_revoked_parse(r, "rev.krl", (const char *)b->d, b->n, e);
}

static void test_revoked_krl(void)
{
	op_trust_revoked r;
	op_err e = {0};
	t_buf b;
	op_sshkey k1 = key(ED1), k2 = key(ED2), k3 = key(EC1), k4 = key(RSA1);
	unsigned char h256[32], h1[20];
	mbedtls_sha256(k2.blob, k2.blob_len, h256, 0);
	mbedtls_sha1(k3.blob, k3.blob_len, h1);
	const unsigned char *keys[] = {k1.blob}, *s256[] = {h256}, *s1[] = {h1};
	size_t klen[] = {k1.blob_len}, l256[] = {32}, l1[] = {20};

	krl_header(&b, 1);
	krl_section(&b, 2, keys, klen, 1);
	krl_section(&b, 5, s256, l256, 1);
	krl_section(&b, 3, s1, l1, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), 0);
	T_CHECK(op_trust_is_revoked(&r, &k1));
	T_CHECK(op_trust_is_revoked(&r, &k2));
	T_CHECK(op_trust_is_revoked(&r, &k3));
	T_CHECK(!op_trust_is_revoked(&r, &k4));
	op_trust_revoked_clear(&r);
	/* An empty KRL revokes nothing. */
	krl_header(&b, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), 0);
	T_CHECK(!op_trust_is_revoked(&r, &k1));
	op_trust_revoked_clear(&r);

	/* What outpost cannot use refuses the whole list, by name. */
	krl_header(&b, 1);
	krl_section(&b, 1, keys, klen, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "rev.krl: the KRL revokes certificates"), "%s", e.msg);
	T_CHECK(r.v == NULL && r.file == NULL);
	krl_header(&b, 1);
	krl_section(&b, 2, keys, klen, 1);
	krl_section(&b, 4, keys, klen, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "signed KRLs are not supported"), "%s", e.msg);
	krl_header(&b, 1);
	krl_section(&b, 9, keys, klen, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "unknown KRL section type 9"), "%s", e.msg);
	krl_header(&b, 2);
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "KRL format 2"), "%s", e.msg);
	krl_header(&b, 1);
	krl_section(&b, 5, s1, l1, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "SHA-256 key hash of 20 bytes"), "%s", e.msg);
	krl_header(&b, 1);
	krl_section(&b, 2, keys, klen, 1);
	b.n -= 3;
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "truncated"), "%s", e.msg);
	/* A malformed key in the explicit section: refused, not skipped. */
	krl_header(&b, 1);
	const unsigned char *junk[] = {(const unsigned char *)"\0\0\0\013ssh-ed25519\0\0\0\1x"};
	size_t jlen[] = {20};
	krl_section(&b, 2, junk, jlen, 1);
	T_EQ_INT(krl_parse(&r, &b, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "rev.krl: revoked key:"), "%s", e.msg);
	op_sshkey_clear(&k1);
	op_sshkey_clear(&k2);
	op_sshkey_clear(&k3);
	op_sshkey_clear(&k4);
}

static void test_limits(void)
{
	op_trust_policy p;
	op_err e = {0};
	/* Too many entries. */
	size_t line = strlen("a@x " ED1 "\n");
	size_t n = OP_TRUST_MAX_ENTRIES + 1;
	char *big = malloc(n * line + 1);
	T_REQUIRE(big);
	for (size_t i = 0; i < n; i++)
		memcpy(big + i * line, "a@x " ED1 "\n", line);
	big[n * line] = '\0';
	T_EQ_INT(op_trust_parse(&p, "s", big, n * line, &e), OP_ETOOBIG);
	T_CHECK_MSG(strstr(e.msg, "s:10001: more than 10000 signers"), "%s", e.msg);
	/* Exactly the cap is fine. */
	T_EQ_INT(op_trust_parse(&p, "s", big, (n - 1) * line, &e), 0);
	T_EQ_INT(p.n, OP_TRUST_MAX_ENTRIES);
	op_trust_clear(&p);
	free(big);
	/* Too many bytes. */
	T_EQ_INT(op_trust_parse(&p, "s", "", OP_TRUST_MAX_FILE + 1, &e), OP_ETOOBIG);
}

static void test_verify_commit_refusals(void)
{
	op_trust_policy p;
	op_trust_verdict v;
	op_err e;
	T_EQ_INT(parse(&p, "a@x " ED1 "\n", &e), 0);
	const char *unsigned_commit = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
				      "author A <a@x> 1714564800 +0000\n"
				      "committer A <a@x> 1714564800 +0000\n\nhi\n";
	T_EQ_INT(op_trust_verify_commit(
			 &p, NULL, unsigned_commit, strlen(unsigned_commit), NULL, &v),
		OP_ETRUST);
	T_EQ_INT(v.reason, OP_TRUST_UNSIGNED);
	T_CHECK(!v.accepted);
	const char *pgp =
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"committer A <a@x> 1714564800 +0000\n"
		"gpgsig -----BEGIN PGP SIGNATURE-----\n \n iQ==\n -----END PGP SIGNATURE-----\n"
		"\nhi\n";
	T_EQ_INT(op_trust_verify_commit(&p, NULL, pgp, strlen(pgp), NULL, &v), OP_ETRUST);
	T_EQ_INT(v.reason, OP_TRUST_UNSUPPORTED);
	const char *junk =
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"committer A <a@x> 1714564800 +0000\n"
		"gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n"
		"\nhi\n";
	T_EQ_INT(op_trust_verify_commit(&p, NULL, junk, strlen(junk), NULL, &v), OP_ETRUST);
	T_EQ_INT(v.reason, OP_TRUST_MALFORMED);
	T_EQ_INT(v.time, 1714564800);
	const char *notime =
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"committer A <a@x>\n"
		"gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n"
		"\nhi\n";
	T_EQ_INT(op_trust_verify_commit(&p, NULL, notime, strlen(notime), NULL, &v), OP_ETRUST);
	T_EQ_INT(v.reason, OP_TRUST_MALFORMED);
	T_CHECK_MSG(strstr(v.msg, "no time"), "%s", v.msg);
	op_trust_clear(&p);
}

int main(void)
{
	T_RUN(test_parse_basic);
	T_RUN(test_parse_options);
	T_RUN(test_parse_time);
	T_RUN(test_parse_errors);
	T_RUN(test_local_time_warning);
	T_RUN(test_match);
	T_RUN(test_decide_listed);
	T_RUN(test_decide_dates);
	T_RUN(test_decide_namespaces);
	T_RUN(test_decide_patterns);
	T_RUN(test_decide_revoked);
	T_RUN(test_decide_committer);
	T_RUN(test_revoked_parse);
	T_RUN(test_revoked_krl);
	T_RUN(test_limits);
	T_RUN(test_verify_commit_refusals);
	return t_done();
}
