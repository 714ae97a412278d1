/* libFuzzer target for everything that reads signatures from a pusher: the armored
 * SSHSIG parser, the binary SSHSIG parser, git's commit splitter and committer reader,
 * the public key line and blob parsers, and base64. The same bytes go to each. Beyond
 * "no crash, no leak, no overread", accepted inputs must keep the parsers' promises:
 * a parsed key's blob is canonical (parsing it again gives the same bytes), a parsed
 * SSHSIG blob re-armored parses to the same signature, a split commit never grows, and
 * verification of whatever parsed runs to an answer. Any violation traps.
 *
 * Seeds (tests/fuzz/corpus/sshsig/): signatures by ssh-keygen -Y sign for ed25519,
 * ecdsa p256 and rsa keys (armored and dearmored), commits signed by git commit -S as
 * `git cat-file commit` prints them, and public key lines. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/sshsig.h"

#include "fuzz.h"

static const char msg[] = "outpost signs this\n";

static char *armor(const unsigned char *in, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char head[] = "-----BEGIN SSH SIGNATURE-----\n";
	static const char foot[] = "-----END SSH SIGNATURE-----\n";
	char *out = malloc(sizeof head + len * 2 + sizeof foot + 8), *o = out;
	CHECK(out);
	memcpy(o, head, sizeof head - 1);
	o += sizeof head - 1;
	size_t col = 0;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		char q[4] = {tab[v >> 18 & 63], tab[v >> 12 & 63],
			i + 1 < len ? tab[v >> 6 & 63] : '=', i + 2 < len ? tab[v & 63] : '='};
		for (int j = 0; j < 4; j++) {
			*o++ = q[j];
			if (++col == 70) {
				*o++ = '\n';
				col = 0;
			}
		}
	}
	if (col)
		*o++ = '\n';
	memcpy(o, foot, sizeof foot);
	return out;
}

static void check_key(const op_sshkey *k)
{
	op_sshkey again;
	op_err e;
	char fp[OP_SSHKEY_FP_LEN];
	CHECK(k->blob && k->blob_len > 0 && k->blob_len <= OP_SSHKEY_MAX_BLOB);
	CHECK(k->type >= OP_SSHKEY_ED25519 && k->type <= OP_SSHKEY_SK_ECDSA_P256);
	CHECK(op_sshkey_from_blob(&again, k->blob, k->blob_len, &e) == 0);
	CHECK(op_sshkey_equal(k, &again));
	op_sshkey_clear(&again);
	op_sshkey_fingerprint(k, fp);
	CHECK(strlen(fp) == OP_SSHKEY_FP_LEN - 1 && memcmp(fp, "SHA256:", 7) == 0);
}

static void check_sig(const op_sshsig *s)
{
	op_err e;
	check_key(&s->key);
	CHECK(s->ns && strlen(s->ns) <= OP_SSHSIG_MAX_NS);
	CHECK(s->hash == OP_SSHSIG_SHA256 || s->hash == OP_SSHSIG_SHA512);
	CHECK(s->sig && s->sig_alg);
	if (s->key.type == OP_SSHKEY_ED25519 || s->key.type == OP_SSHKEY_ECDSA_P256)
		CHECK(s->sig_len == 64);
	/* Runs to an answer; a fuzzed signature that verifies would be a forgery. */
	int rc = op_sshsig_verify(s, NULL, msg, sizeof msg - 1, &e);
	CHECK(rc == 0 || rc == OP_ETRUST);
	rc = op_sshsig_verify(s, "git", msg, sizeof msg - 1, &e);
	CHECK(rc == 0 || rc == OP_ETRUST);
}

static bool same_sig(const op_sshsig *a, const op_sshsig *b)
{
	return op_sshkey_equal(&a->key, &b->key) && strcmp(a->ns, b->ns) == 0 &&
		a->hash == b->hash && strcmp(a->sig_alg, b->sig_alg) == 0 &&
		a->sig_len == b->sig_len && memcmp(a->sig, b->sig, a->sig_len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	op_err e;
	op_sshsig s, t;
	op_sshkey k;
	const char *text = (const char *)data;

	/* Armored. */
	if (op_sshsig_parse(&s, text, size, &e) == 0) {
		check_sig(&s);
		op_sshsig_clear(&s);
	}
	CHECK(s.sig == NULL && s.key.blob == NULL);

	/* Binary; what parses must survive the armor round trip unchanged. */
	if (op_sshsig_parse_blob(&s, data, size, &e) == 0) {
		check_sig(&s);
		char *a = armor(data, size);
		CHECK(op_sshsig_parse(&t, a, strlen(a), &e) == 0);
		CHECK(same_sig(&s, &t));
		op_sshsig_clear(&t);
		free(a);
		op_sshsig_clear(&s);
	}

	/* Commits, in both object formats. */
	for (int sha256 = 0; sha256 < 2; sha256++) {
		op_commit_sig c;
		CHECK(op_commit_split_signature(&c, text, size, sha256, &e) == 0);
		CHECK(c.payload && c.payload_len <= size && c.payload[c.payload_len] == '\0');
		CHECK(c.payload_len + c.sig_len <= size);
		if (c.sig) {
			CHECK(c.sig[c.sig_len] == '\0');
			if (op_sshsig_parse(&s, c.sig, c.sig_len, &e) == 0) {
				check_sig(&s);
				op_sshsig_clear(&s);
			}
		} else {
			CHECK(c.sig_len == 0);
		}
		char *email = NULL;
		int64_t time;
		int rc = op_commit_committer(c.payload, c.payload_len, &email, &time, &e);
		if (rc == 0) {
			CHECK(email && time >= 0 && time <= 253402300799LL);
			free(email);
		} else {
			CHECK(email == NULL);
		}
		op_commit_sig_clear(&c);
	}

	/* Public keys: a text line, and the bytes as a blob. */
	if (op_sshkey_parse_line(&k, text, size, &e) == 0) {
		check_key(&k);
		op_sshkey_clear(&k);
	}
	CHECK(k.blob == NULL);
	if (op_sshkey_from_blob(&k, data, size, &e) == 0) {
		check_key(&k);
		op_sshkey_clear(&k);
	}

	/* base64 both ways of reading whitespace; the output never exceeds 3/4 of it. */
	unsigned char *out = malloc(size / 4 * 3 + 3);
	CHECK(out);
	size_t n;
	if (op_base64_decode(text, size, true, out, size / 4 * 3 + 3, &n) == 0)
		CHECK(n <= size / 4 * 3);
	if (op_base64_decode(text, size, false, out, size / 4 * 3 + 3, &n) == 0)
		CHECK(size % 4 == 0 && n <= size / 4 * 3 && n + 2 >= size / 4 * 3);
	free(out);
	return 0;
}
