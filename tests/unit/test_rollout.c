/* The promotion record codec (wire/rollout.h): the canonical bytes, the round trip, and
 * each field refused by name, since records come off the network. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/rollout_sig.h"
#include "outpost/agent/wire/rollout.h"
#include "t.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define HEX40 "0123456789abcdef0123456789abcdef01234567"
#define GOOD \
	"{\"app\":\"thermo\",\"commit\":\"" HEX40 "\",\"digest\":\"sha256:" HEX64 \
	"\",\"halted\":false,\"promoted\":1,\"reason\":\"wave canary: 3 of 3 sites healthy\"," \
	"\"seq\":7,\"time\":\"2026-12-06T19:00:00Z\",\"v\":1}"

static op_promotion sample(void)
{
	op_promotion p = {.seq = 7, .promoted = 1, .time = 1796583600};
	snprintf(p.app, sizeof p.app, "thermo");
	snprintf(p.digest, sizeof p.digest, "sha256:%s", HEX64);
	snprintf(p.commit, sizeof p.commit, "%s", HEX40);
	snprintf(p.reason, sizeof p.reason, "wave canary: 3 of 3 sites healthy");
	return p;
}

static void test_canonical(void)
{
	op_promotion p = sample(), q;
	op_err e = {0};
	char *j = NULL;
	T_EQ_INT(op_promotion_encode(&p, &j, &e), 0);
	T_REQUIRE(j);
	T_EQ_STR(j, GOOD);
	T_EQ_INT(op_promotion_decode(j, strlen(j), &q, &e), 0);
	T_EQ_STR(q.app, "thermo");
	T_EQ_STR(q.commit, HEX40);
	T_EQ_INT(q.seq, 7);
	T_EQ_INT(q.promoted, 1);
	T_CHECK(!q.halted);
	T_EQ_INT(q.time, 1796583600);
	T_EQ_STR(q.reason, p.reason);
	free(j);
	/* halted, with an empty reason */
	p.halted = true;
	p.reason[0] = '\0';
	p.promoted = 15;
	T_EQ_INT(op_promotion_encode(&p, &j, &e), 0);
	T_REQUIRE(j);
	T_CHECK(strstr(j, "\"halted\":true") && strstr(j, "\"reason\":\"\"") &&
		strstr(j, "\"promoted\":15"));
	T_EQ_INT(op_promotion_decode(j, strlen(j), &q, &e), 0);
	T_CHECK(q.halted && q.promoted == 15 && q.reason[0] == '\0');
	free(j);
}

static void test_key(void)
{
	char k[OP_PROMOTION_KEY_MAX];
	op_err e = {0};
	T_EQ_INT(op_promotion_key("thermo", k, &e), 0);
	T_EQ_STR(k, "rollout.thermo");
	T_EQ_INT(op_promotion_key("a.b", k, &e), OP_EINVAL);
	T_EQ_INT(op_promotion_key("", k, &e), OP_EINVAL);
	char n63[64];
	memset(n63, 'a', 63);
	n63[63] = '\0';
	T_EQ_INT(op_promotion_key(n63, k, &e), 0);
	T_EQ_INT(strlen(k), 8 + 63);
}

/* GOOD with one piece replaced. */
static char *edit(const char *from, const char *to)
{
	static char buf[8192];
	const char *at = strstr(GOOD, from);
	if (!at)
		return NULL;
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
	return buf;
}

static void test_refused(void)
{
	static const struct {
		const char *from, *to, *msg;
	} rows[] = {
		{"\"v\":1", "\"v\":2", "v: unknown version 2"},
		{"\"v\":1", "\"v\":\"1\"", "rollout record: "},
		{",\"v\":1", "", "rollout record: "},
		{"\"v\":1", "\"v\":1,\"sig\":\"x\"", "sig: expected the base64"},
		{"\"v\":1", "\"v\":1,\"sig\":\"\"", "sig: expected the base64"},
		{"\"v\":1", "\"v\":1,\"sig\":\"AB==\"", "sig: expected the base64"},
		{"\"v\":1", "\"v\":1,\"sig\":\"AA\"", "sig: expected the base64"},
		{"\"v\":1", "\"v\":1,\"sig\":\" AA==\"", "sig: expected the base64"},
		{"\"v\":1", "\"v\":1,\"sig\":7", "rollout record: "},
		{"\"v\":1", "\"v\":1,\"sig\":null", "rollout record: "},
		{"\"v\":1", "\"v\":1,\"sig\":\"AA==\",\"sig\":\"AA==\"", "not JSON"},
		{"\"v\":1", "\"v\":1,\"extra\":1", "rollout record: "},
		{"\"v\":1", "\"v\":1,\"v\":1", "not JSON"},
		{"\"thermo\"", "\"Thermo\"", "app: expected a name"},
		{"\"thermo\"", "\"\"", "app: expected a name"},
		{"\"sha256:", "\"sha512:", "digest: expected sha256:<64 lowercase hex>"},
		{"\"sha256:0123", "\"sha256:A123", "digest: expected"},
		{"\"sha256:0123", "\"sha256:123", "digest: expected"},
		{"\"" HEX40 "\"", "\"" HEX40 "0\"", "commit: expected 40 lowercase hex"},
		{"\"" HEX40 "\"", "\"\"", "commit: expected"},
		{"\"seq\":7", "\"seq\":0", "seq: expected a positive integer"},
		{"\"seq\":7", "\"seq\":-7", "seq: expected"},
		{"\"seq\":7", "\"seq\":7.0", "rollout record: "},
		{"\"promoted\":1", "\"promoted\":-1", "promoted: expected a wave index"},
		{"\"promoted\":1", "\"promoted\":16", "promoted: expected a wave index"},
		{"\"halted\":false", "\"halted\":0", "rollout record: "},
		{"\"halted\":false", "\"halted\":null", "rollout record: "},
		{"\"wave canary", "\"\\u001b[2Jwave canary", "reason: expected"},
		{"\"wave canary", "\"\\u00e9 canary", "reason: expected"},
		{"\"wave canary", "\"wave\\ncanary", "reason: expected"},
		{"2026-12-06T19:00:00Z", "2026-02-31T19:00:00Z", "time: expected RFC 3339"},
		{"2026-12-06T19:00:00Z", "2026-12-06T19:00:00+00:00", "time: expected"},
		{"\"time\":\"2026-12-06T19:00:00Z\"", "\"time\":\"\"", "time: expected"},
		{"2026-12-06T19:00:00Z", "2026-12-06 19:00:00Z", "time: expected"},
		{"2026-12-06T19:00:00Z", "2026-12-06T19:00:60Z", "time: expected"},
		{"{", "[{", "not JSON"},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char *j = edit(rows[i].from, rows[i].to);
		T_REQUIRE(j);
		op_promotion p;
		op_err e = {0};
		int rc = op_promotion_decode(j, strlen(j), &p, &e);
		T_CHECK_MSG(rc == OP_EINVAL && strstr(e.msg, rows[i].msg) && p.app[0] == '\0',
			"row %zu: rc %d, \"%s\" (want ...%s...)", i, rc, e.msg, rows[i].msg);
	}
	/* the reason's bound, exactly */
	char big[300];
	big[0] = '"';
	memset(big + 1, 'r', 256);
	big[256] = '\0';
	char *j = edit("\"wave canary: 3 of 3 sites healthy", big);
	op_promotion p;
	op_err e = {0};
	T_REQUIRE(j);
	T_EQ_INT(op_promotion_decode(j, strlen(j), &p, &e), 0);
	T_EQ_INT(strlen(p.reason), 255);
	big[256] = 'r';
	big[257] = '\0';
	j = edit("\"wave canary: 3 of 3 sites healthy", big);
	T_EQ_INT(op_promotion_decode(j, strlen(j), &p, &e), OP_EINVAL);
}

static void test_bounds(void)
{
	op_promotion p;
	op_err e = {0};
	char buf[OP_PROMOTION_MAX + 2];
	memset(buf, ' ', sizeof buf);
	memcpy(buf, GOOD, strlen(GOOD));
	T_EQ_INT(op_promotion_decode(buf, OP_PROMOTION_MAX, &p, &e), 0);
	T_EQ_INT(op_promotion_decode(buf, OP_PROMOTION_MAX + 1, &p, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "too large"));
	T_EQ_INT(op_promotion_decode("", 0, &p, &e), OP_EINVAL);
	/* a NUL inside is refused, not read up to */
	char nul[] = GOOD "\0x";
	T_EQ_INT(op_promotion_decode(nul, sizeof nul - 1, &p, &e), OP_EINVAL);
}

static void test_encode_checks(void)
{
	op_err e = {0};
	char *j = (char *)1;
	op_promotion p = sample();
	p.app[0] = 'X';
	T_EQ_INT(op_promotion_encode(&p, &j, &e), OP_EINVAL);
	T_CHECK(j == NULL && strstr(e.msg, "app"));
	p = sample();
	p.seq = 0;
	T_EQ_INT(op_promotion_encode(&p, &j, &e), OP_EINVAL);
	p = sample();
	p.seq = (uint64_t)INT64_MAX + 1;
	T_EQ_INT(op_promotion_encode(&p, &j, &e), OP_EINVAL);
	p = sample();
	p.time = -1;
	T_EQ_INT(op_promotion_encode(&p, &j, &e), OP_EINVAL);
	p = sample();
	p.reason[3] = '\t';
	T_EQ_INT(op_promotion_encode(&p, &j, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "reason"));
	p = sample();
	p.promoted = OP_MAX_WAVES;
	T_EQ_INT(op_promotion_encode(&p, &j, &e), OP_EINVAL);
}

/* A fresh ed25519 key and an allowed_signers policy naming it as principal hub. */
static void key_and_policy(op_sshpriv *k, op_trust_policy *pol, const char *options)
{
	op_err e = {0};
	T_REQUIRE(op_sshpriv_generate(k, &e) == 0);
	char *pub = op_sshpriv_public_line(k, "outpost-hub"), text[1024];
	T_REQUIRE(pub);
	snprintf(text, sizeof text, "hub %s%s\n", options, pub);
	free(pub);
	T_REQUIRE(op_trust_parse(pol, "fresh_signers", text, strlen(text), &e) == 0);
}

static void test_signed(void)
{
	op_sshpriv k, other;
	op_trust_policy pol, otherpol;
	key_and_policy(&k, &pol, "");
	key_and_policy(&other, &otherpol, "");
	op_promotion p = sample(), q;
	op_err e = {0};
	char *j = NULL, *plain = NULL;
	T_EQ_INT(op_promotion_sign(&p, &k, &j, &e), 0);
	T_REQUIRE(j);
	/* the unsigned bytes with "sig" in its sorted place */
	T_EQ_INT(op_promotion_sign(&p, NULL, &plain, &e), 0);
	T_EQ_STR(plain, GOOD);
	const char *sig = strstr(j, ",\"sig\":\"");
	T_REQUIRE(sig && strstr(sig, "\",\"time\":"));
	T_CHECK(!strncmp(j, GOOD, (size_t)(sig - j)));
	/* checked against its key, taken without a policy, refused by another key */
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), 0);
	T_CHECK(q.seq == 7 && q.promoted == 1 && !strcmp(q.app, "thermo"));
	T_EQ_INT(op_promotion_check(j, strlen(j), NULL, &q, &e), 0);
	T_EQ_INT(op_promotion_decode(j, strlen(j), &q, &e), 0);
	T_EQ_INT(q.time, 1796583600);
	T_EQ_INT(op_promotion_check(j, strlen(j), &otherpol, &q, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "rollout record of thermo") && q.app[0] == '\0');
	/* unsigned: taken without a policy only */
	T_EQ_INT(op_promotion_check(plain, strlen(plain), NULL, &q, &e), 0);
	T_EQ_INT(op_promotion_check(plain, strlen(plain), &pol, &q, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "not signed"));
	/* unreadable stays OP_EINVAL whatever the policy */
	T_EQ_INT(op_promotion_check("{}", 2, &pol, &q, &e), OP_EINVAL);
	T_EQ_INT(op_promotion_check("{}", 2, NULL, &q, &e), OP_EINVAL);
	/* a field changed after signing */
	char *t = strstr(j, "\"promoted\":1");
	T_REQUIRE(t);
	t[11] = '2';
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), OP_ETRUST);
	T_EQ_INT(op_promotion_check(j, strlen(j), NULL, &q, &e), 0);
	free(j);
	/* the freshness namespace is not the rollout's */
	unsigned char *blob = NULL;
	size_t blen = 0;
	T_EQ_INT(op_sshsig_sign(&k, "outpost-fresh", plain, strlen(plain), &blob, &blen, &e), 0);
	T_EQ_INT(op_promotion_encode_signed(&p, blob, blen, &j, &e), 0);
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), OP_ETRUST);
	free(j);
	free(blob);
	/* a blob that is no SSHSIG */
	unsigned char junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	T_EQ_INT(op_promotion_encode_signed(&p, junk, sizeof junk, &j, &e), 0);
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "signature"));
	free(j);
	T_EQ_INT(op_promotion_encode_signed(&p, junk, 0, &j, &e), OP_EINVAL);
	T_CHECK(j == NULL);
	free(plain);
	op_trust_clear(&pol);
	op_trust_clear(&otherpol);
	op_sshpriv_clear(&other);
	/* the key must be valid at the record's time (2026-12-06) */
	op_sshpriv k2;
	key_and_policy(&k2, &pol, "valid-before=\"20260101\" ");
	T_EQ_INT(op_promotion_sign(&p, &k2, &j, &e), 0);
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "expired") || strstr(e.msg, "valid"));
	free(j);
	op_trust_clear(&pol);
	op_sshpriv_clear(&k2);
	key_and_policy(&k2, &pol, "valid-after=\"20260101\" ");
	T_EQ_INT(op_promotion_sign(&p, &k2, &j, &e), 0);
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), 0);
	free(j);
	op_trust_clear(&pol);
	op_sshpriv_clear(&k2);
	/* a namespace the line does not allow */
	key_and_policy(&k2, &pol, "namespaces=\"outpost-fresh\" ");
	T_EQ_INT(op_promotion_sign(&p, &k2, &j, &e), 0);
	T_EQ_INT(op_promotion_check(j, strlen(j), &pol, &q, &e), OP_ETRUST);
	free(j);
	op_trust_clear(&pol);
	op_sshpriv_clear(&k2);
	op_sshpriv_clear(&k);
}

int main(void)
{
	T_RUN(test_canonical);
	T_RUN(test_key);
	T_RUN(test_refused);
	T_RUN(test_bounds);
	T_RUN(test_encode_checks);
	T_RUN(test_signed);
	return t_done();
}
