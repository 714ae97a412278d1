/* Unit tests of freshness (agent/trust/fresh.c) and of SSH signing (agent/trust/sshsign.c): keys
 * made by ssh-keygen at test time; our signatures checked by our verifier and by `ssh-keygen -Y
 * verify`; every refusal of the site's check on an otherwise good record. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "../t.h"
#include "outpost/agent/trust/fresh.h"
#include "outpost/agent/trust/sshsign.h"
#include "outpost/agent/base/util.h"

static const h_key *hub_key, *other_key;
static op_sshpriv priv;
static op_trust_policy pol;

#define NOW 1800000000 /* 2027-01-15 */

static void test_setup(void)
{
	hub_key = h_keygen("ed25519");
	other_key = h_keygen("ed25519");
	T_REQUIRE(hub_key && other_key);
	op_err e = {0};
	T_REQUIRE(op_sshpriv_load(&priv, hub_key->path, &e) == 0);
	const char *text = h_str("hub@outpost namespaces=\"outpost-fresh\" %s\n", hub_key->pub);
	T_REQUIRE(op_trust_parse(&pol, "signers", text, strlen(text), &e) == 0);
}

static char *armor(const unsigned char *blob, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	size_t cap = n + n / 70 + 128, used = 0;
	char *b = malloc(n), *out = malloc(cap);
	if (!b || !out) {
		free(b);
		free(out);
		return NULL;
	}
	sodium_bin2base64(b, n, blob, len, sodium_base64_VARIANT_ORIGINAL);
	int w = snprintf(out, cap, "-----BEGIN SSH SIGNATURE-----\n");
	for (size_t i = 0; w >= 0 && (used += (size_t)w) < cap && i < strlen(b); i += 70)
		w = snprintf(out + used, cap - used, "%.70s\n", b + i);
	if (w >= 0 && used < cap)
		w = snprintf(out + used, cap - used, "-----END SSH SIGNATURE-----\n");
	free(b);
	if (w < 0 || used + (size_t)w >= cap) {
		free(out);
		return NULL;
	}
	return out;
}

static void test_sign_verifies_with_ssh_keygen(void)
{
	const char *msg = "the record's payload";
	unsigned char *blob = NULL;
	size_t len = 0;
	op_err e = {0};
	T_REQUIRE(op_sshsig_sign(&priv, OP_FRESH_NS, msg, strlen(msg), &blob, &len, &e) == 0);
	/* Ours. */
	op_sshsig s;
	T_REQUIRE(op_sshsig_parse_blob(&s, blob, len, &e) == 0);
	T_EQ_INT(op_sshsig_verify(&s, OP_FRESH_NS, msg, strlen(msg), &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", msg, strlen(msg), &e), OP_ETRUST);
	T_EQ_INT(op_sshsig_verify(&s, OP_FRESH_NS, "other", 5, &e), OP_ETRUST);
	op_sshsig_clear(&s);
	/* OpenSSH's. */
	char *arm = armor(blob, len);
	h_write(h_path("msg"), "%s", msg);
	h_write(h_path("msg.sig"), "%s", arm);
	h_write(h_path("signers"), "hub@outpost %s\n", hub_key->pub);
	int rc = h_run(NULL,
		"ssh-keygen -Y verify -f %s -I hub@outpost -n outpost-fresh -s %s < %s",
		h_path("signers"), h_path("msg.sig"), h_path("msg"));
	T_EQ_INT(rc, 0);
	rc = h_run(NULL, "ssh-keygen -Y verify -f %s -I hub@outpost -n git -s %s < %s",
		h_path("signers"), h_path("msg.sig"), h_path("msg"));
	T_CHECK(rc != 0);
	free(arm);
	free(blob);
}

static void test_private_key_refusals(void)
{
	op_sshpriv k;
	op_err e = {0};
	/* An encrypted key, an ecdsa key, no key, a damaged key. */
	h_run(NULL, "ssh-keygen -q -t ed25519 -N secret-pass -f %s", h_path("enc"));
	T_EQ_INT(op_sshpriv_load(&k, h_path("enc"), &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "encrypted") && !strstr(e.msg, "secret-pass"));
	const h_key *ec = h_keygen("ecdsa");
	T_REQUIRE(ec);
	T_EQ_INT(op_sshpriv_load(&k, ec->path, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "ed25519"));
	T_EQ_INT(op_sshpriv_load(&k, h_path("missing"), &e), OP_EIO);
	const char *junk = "-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n"
			   "-----END OPENSSH PRIVATE KEY-----\n";
	T_EQ_INT(op_sshpriv_parse(&k, "junk", junk, strlen(junk), &e), OP_EINVAL);
	char *text = h_read(hub_key->path);
	T_REQUIRE(text);
	char *mid = strstr(text, "\n") + 30; /* one base64 character changed */
	*mid = *mid == 'A' ? 'B' : 'A';
	T_EQ_INT(op_sshpriv_parse(&k, "damaged", text, strlen(text), &e), OP_EINVAL);
	free(text);
}

/* A key outpost makes (outpost creds): OpenSSH reads the file, we read it back. */
static void test_generated_key(void)
{
	op_sshpriv k, back;
	op_err e = {0};
	T_REQUIRE(op_sshpriv_generate(&k, &e) == 0);
	char *text = op_sshpriv_format(&k, "outpost-hub"), *pub = op_sshpriv_public_line(&k, "x");
	T_REQUIRE(text && pub);
	T_EQ_INT(op_sshpriv_parse(&back, "generated", text, strlen(text), &e), 0);
	T_CHECK(!memcmp(back.sk, k.sk, 64) && op_sshkey_equal(&back.pub, &k.pub));
	h_write(h_path("gen.key"), "%s", text);
	h_run(NULL, "chmod 600 %s", h_path("gen.key"));
	char *out = NULL;
	T_EQ_INT(h_run(&out, "ssh-keygen -y -f %s", h_path("gen.key")), 0);
	T_CHECK_MSG(out && !strncmp(out, pub, strlen("ssh-ed25519 ") + 68), "%s vs %s", out, pub);
	free(out);
	free(text);
	free(pub);
	op_sshpriv_clear(&back);
	op_sshpriv_clear(&k);
}

/* A record signed by key (NULL: the hub's) under namespace ns. */
static char *record(
	const op_sshpriv *key, const char *ns, uint64_t seq, int64_t time, int64_t ttl, bool tamper)
{
	op_fresh f = {.seq = seq, .time = time, .expires = time + ttl};
	memset(f.commit, 'a', 40);
	char *payload = NULL, *json = NULL;
	op_err e = {0};
	if (op_fresh_payload(&f, &payload, &e) ||
		op_sshsig_sign(
			key ? key : &priv, ns, payload, strlen(payload), &f.sig, &f.sig_len, &e))
		return NULL;
	if (tamper)
		f.seq++;
	op_fresh_encode(&f, &json, &e);
	free(payload);
	op_fresh_clear(&f);
	return json;
}

#define COMMIT_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* what record() names */

/* The site runs seq run of COMMIT_A since an hour before NOW. */
static enum op_fresh_state check(const char *json, int64_t now, uint64_t run, op_fresh_verdict *v)
{
	op_fresh_run r = {run, COMMIT_A, NOW - 3600};
	op_fresh_check(json, json ? strlen(json) : 0, &pol, now, 600, &r, v);
	return v->state;
}

static void test_check_states(void)
{
	op_fresh_verdict v;
	char *good = record(NULL, OP_FRESH_NS, 5, NOW - 60, 3600, false);
	T_REQUIRE(good);
	T_EQ_INT(check(good, NOW, 5, &v), OP_FRESH_OK);
	T_EQ_STR(v.signer, "hub@outpost");
	T_EQ_INT(v.time, NOW - 60);
	T_EQ_STR(v.msg, "");
	/* The site runs an older revision than the hub vouches for. */
	T_EQ_INT(check(good, NOW, 4, &v), OP_FRESH_BEHIND);
	T_CHECK(strstr(v.msg, "seq 5"));
	/* Older than the limit; past the expiry; none at all. */
	T_EQ_INT(check(good, NOW + 600, 5, &v), OP_FRESH_STALE);
	T_CHECK(strstr(v.msg, "more than 600s ago"));
	char *short_ttl = record(NULL, OP_FRESH_NS, 5, NOW - 60, 30, false);
	T_EQ_INT(check(short_ttl, NOW, 5, &v), OP_FRESH_STALE);
	T_CHECK(strstr(v.msg, "expired"));
	T_EQ_INT(check(NULL, NOW, 5, &v), OP_FRESH_STALE);
	/* From the future (more than the limit ahead): a clock is wrong. */
	char *future = record(NULL, OP_FRESH_NS, 5, NOW + 601, 3600, false);
	T_EQ_INT(check(future, NOW, 5, &v), OP_FRESH_INVALID);
	T_CHECK(strstr(v.msg, "future"));
	free(future);
	/* The site runs seq 6 since NOW-3600; the hub signed seq 5 after that: it does not
	 * vouch for what runs here. Signed before the site moved: the next one is coming. */
	T_EQ_INT(check(good, NOW, 6, &v), OP_FRESH_UNVOUCHED);
	T_CHECK(strstr(v.msg, "unvouched: this site runs seq 6"));
	op_fresh_run moved = {6, COMMIT_A, NOW - 30};
	op_fresh_check(good, strlen(good), &pol, NOW, 600, &moved, &v);
	T_EQ_INT(v.state, OP_FRESH_OK);
	/* The same seq, another commit: not vouched for either. */
	op_fresh_run other = {5, "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", NOW - 3600};
	op_fresh_check(good, strlen(good), &pol, NOW, 600, &other, &v);
	T_EQ_INT(v.state, OP_FRESH_UNVOUCHED);
	/* The message is the same a second later: status is written on change only. */
	op_fresh_verdict w;
	check(good, NOW + 601, 5, &w);
	check(good, NOW + 602, 5, &v);
	T_EQ_STR(v.msg, w.msg);
	free(good);
	free(short_ttl);
}

static void test_check_refusals(void)
{
	op_fresh_verdict v;
	op_sshpriv other;
	op_err e = {0};
	T_REQUIRE(op_sshpriv_load(&other, other_key->path, &e) == 0);
	char *untrusted = record(&other, OP_FRESH_NS, 5, NOW, 3600, false);
	char *wrong_ns = record(NULL, "git", 5, NOW, 3600, false);
	char *tampered = record(NULL, OP_FRESH_NS, 5, NOW, 3600, true);
	T_EQ_INT(check(untrusted, NOW, 5, &v), OP_FRESH_INVALID);
	T_CHECK_MSG(strstr(v.msg, "freshness record: "), "%s", v.msg);
	T_EQ_INT(check(wrong_ns, NOW, 5, &v), OP_FRESH_INVALID);
	T_EQ_INT(check(tampered, NOW, 5, &v), OP_FRESH_INVALID);
	const char *bad[] = {"", "{}", "[]", "{\"format\":1}",
		"{\"commit\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"expires\":\"2027-01-"
		"15T00:00:00Z\","
		"\"format\":2,\"seq\":1,\"sig\":\"\",\"time\":\"2027-01-15T00:00:00Z\"}",
		"{\"commit\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\",\"expires\":\"2027-01-"
		"15T00:00:00Z\","
		"\"format\":1,\"seq\":1,\"sig\":\"\",\"time\":\"2027-01-15T00:00:00Z\"}",
		"{\"commit\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"expires\":\"2027-01-15 "
		"00:00:00\","
		"\"format\":1,\"seq\":1,\"sig\":\"\",\"time\":\"2027-01-15T00:00:00Z\"}",
		"{\"commit\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"expires\":\"2027-01-"
		"15T00:00:00Z\","
		"\"format\":1,\"seq\":0,\"sig\":\"\",\"time\":\"2027-01-15T00:00:00Z\"}",
		"{\"commit\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"expires\":\"2027-01-"
		"15T00:00:00Z\","
		"\"format\":1,\"seq\":1,\"sig\":\"!!\",\"time\":\"2027-01-15T00:00:00Z\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		op_fresh f;
		T_CHECK_MSG(op_fresh_decode(bad[i], strlen(bad[i]), &f, &e) == OP_EINVAL,
			"case %zu", i);
		T_EQ_INT(check(bad[i], NOW, 1, &v), OP_FRESH_INVALID);
	}
	int64_t t;
	T_EQ_INT(op_time_parse_rfc3339("2027-01-15T08:00:00Z", &t), 0);
	T_EQ_INT(t, 1800000000 - 1800000000 % 86400 + 8 * 3600);
	T_EQ_INT(op_time_parse_rfc3339("2027-01-15T08:00:00+01", &t), OP_EINVAL);
	T_EQ_INT(op_time_parse_rfc3339("2027-13-15T08:00:00Z", &t), OP_EINVAL);
	T_EQ_INT(op_time_parse_rfc3339("+027-01-15T08:00:00Z", &t), OP_EINVAL);
	free(untrusted);
	free(wrong_ns);
	free(tampered);
	op_sshpriv_clear(&other);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_sign_verifies_with_ssh_keygen);
		T_RUN(test_private_key_refusals);
		T_RUN(test_generated_key);
		T_RUN(test_check_states);
		T_RUN(test_check_refusals);
	}
	op_sshpriv_clear(&priv);
	op_trust_clear(&pol);
	return t_done();
}
