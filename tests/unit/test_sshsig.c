/* Unit tests of SSH signatures (agent/trust/sshkey.c, agent/trust/sshsig.c,
 * agent/trust/commitsig.c). Real signatures come from ssh-keygen -Y sign at test time (fresh
 * ed25519, ecdsa p256 and rsa keys in the harness's temp dir); crafted ones are rebuilt from them
 * field by field, so every refusal is tested on an otherwise valid signature. An rsa-sha2-256
 * signature (ssh-keygen only makes rsa-sha2-512) is made with mbedtls from a PEM key
 * that ssh-keygen wrote. */
#include "outpost/agent/trust/sshsig.h"

#include <mbedtls/pk.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "../harness_wire.h"
#include "../t.h"

/* ---- helpers: byte buffers, base64 and armor ------------------------------------------- */

static char *b64(const unsigned char *in, size_t len, size_t wrap)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc(len * 2 + 16), *o = out;
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
			if (wrap && ++col == wrap) {
				*o++ = '\n';
				col = 0;
			}
		}
	}
	if (wrap && col)
		*o++ = '\n';
	*o = '\0';
	return out;
}

/* Armors a blob as ssh-keygen does (70 columns); caller frees. */
static char *armor(const t_buf *b)
{
	char *body = b64(b->d, b->n, 70);
	char *out = NULL;
	if (asprintf(&out, "-----BEGIN SSH SIGNATURE-----\n%s-----END SSH SIGNATURE-----\n", body) <
		0)
		out = NULL;
	free(body);
	return out;
}

/* The blob inside armored text. */
static bool dearmor(const char *text, t_buf *b)
{
	const char *p = strchr(text, '\n'), *end = strstr(text, "-----END");
	b->n = 0;
	return p && end &&
		op_base64_decode(p, (size_t)(end - p), true, b->d, sizeof b->d, &b->n) == 0;
}

/* The fields of an SSHSIG blob, pointing into it. */
typedef struct fields {
	const unsigned char *key, *ns, *reserved, *hash, *sig;
	size_t klen, nslen, rlen, hlen, slen;
	uint32_t version;
} fields;

static bool split_blob(const t_buf *b, fields *f)
{
	op_ssh__rd r = {b->d + 6, b->n - 6};
	return b->n > 6 && op_ssh__u32(&r, &f->version) == 0 &&
		op_ssh__str(&r, &f->key, &f->klen) == 0 &&
		op_ssh__str(&r, &f->ns, &f->nslen) == 0 &&
		op_ssh__str(&r, &f->reserved, &f->rlen) == 0 &&
		op_ssh__str(&r, &f->hash, &f->hlen) == 0 &&
		op_ssh__str(&r, &f->sig, &f->slen) == 0 && r.n == 0;
}

/* Rebuilds a blob from fields, any of which a test replaced. */
static void join_blob(t_buf *b, const fields *f, const char *magic)
{
	b->n = 0;
	t_put(b, magic, 6);
	t_put_u32(b, f->version);
	t_put_str(b, f->key, f->klen);
	t_put_str(b, f->ns, f->nslen);
	t_put_str(b, f->reserved, f->rlen);
	t_put_str(b, f->hash, f->hlen);
	t_put_str(b, f->sig, f->slen);
}

static int parse_buf(const t_buf *b, op_sshsig *s, op_err *e)
{
	memset(e, 0, sizeof *e);
	return op_sshsig_parse_blob(s, b->d, b->n, e);
}

/* ---- helpers: keys and signatures from ssh-keygen ------------------------------------------ */

static const char *msg_path(void)
{
	static const char *path;
	if (!path) {
		path = h_path("message");
		h_write(path, "outpost signs this\n");
	}
	return path;
}

#define MSG "outpost signs this\n"

/* Signs the message file with ssh-keygen; the armored signature (caller frees). */
static char *sign(const h_key *k, const char *ns, const char *hashalg)
{
	const char *sig = h_str("%s.sig", msg_path());
	remove(sig);
	if (h_run(NULL, "ssh-keygen -q -Y sign -f %s -n %s %s %s", h_q(k->path), h_q(ns),
		    hashalg ? h_str("-O hashalg=%s", hashalg) : "", h_q(msg_path())) != 0)
		return NULL;
	return h_read(sig);
}

static const h_key *keys[3];
static const char *const key_types[3] = {"ed25519", "ecdsa", "rsa"};

static bool make_keys(void)
{
	for (int i = 0; i < 3; i++)
		if (!keys[i] && !(keys[i] = h_keygen(key_types[i])))
			return false;
	return true;
}

static op_sshkey pubkey(const h_key *k)
{
	op_sshkey pk;
	op_err e = {0};
	if (op_sshkey_parse_line(&pk, k->pub, strlen(k->pub), &e) != 0)
		t_fail(__FILE__, __LINE__, "%s: %s", k->pub, e.msg);
	return pk;
}

/* ---- tests ---------------------------------------------------------------------------- */

static void test_base64(void)
{
	unsigned char out[64];
	size_t n;
	T_EQ_INT(op_base64_decode("", 0, false, out, sizeof out, &n), 0);
	T_EQ_INT(n, 0);
	T_EQ_INT(op_base64_decode("Zg==", 4, false, out, sizeof out, &n), 0);
	T_CHECK(n == 1 && out[0] == 'f');
	T_EQ_INT(op_base64_decode("Zm8=", 4, false, out, sizeof out, &n), 0);
	T_CHECK(n == 2 && memcmp(out, "fo", 2) == 0);
	T_EQ_INT(op_base64_decode("Zm9vYmFy", 8, false, out, sizeof out, &n), 0);
	T_CHECK(n == 6 && memcmp(out, "foobar", 6) == 0);
	T_EQ_INT(op_base64_decode(" Zm9v\r\nYmFy\t\n", 13, true, out, sizeof out, &n), 0);
	T_CHECK(n == 6 && memcmp(out, "foobar", 6) == 0);
	T_EQ_INT(op_base64_decode("Zm9v YmFy", 9, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zg", 2, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zg=", 3, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Z===", 4, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("====", 4, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zm9v=", 5, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zg==Zg==", 8, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zh==", 4, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zm9=", 4, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zm9v!", 5, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zm-_", 4, false, out, sizeof out, &n), OP_EINVAL);
	T_EQ_INT(op_base64_decode("Zm9vYmFy", 8, false, out, 5, &n), OP_ETOOBIG);
	T_EQ_INT(op_base64_decode("Zm9vYg==", 8, false, out, 3, &n), OP_ETOOBIG);
	const char nul[] = "Zm\0v";
	T_EQ_INT(op_base64_decode(nul, 4, true, out, sizeof out, &n), OP_EINVAL);
}

static void test_keys(void)
{
	T_REQUIRE(make_keys());
	op_sshkey k[3];
	for (int i = 0; i < 3; i++) {
		/* The .pub file, comment and newline included. */
		char *line = h_read(h_str("%s.pub", keys[i]->path));
		op_err e = {0};
		T_REQUIRE(line);
		T_EQ_INT(op_sshkey_parse_line(&k[i], line, strlen(line), &e), 0);
		T_EQ_INT(k[i].type, i + 1);
		op_sshkey bare = pubkey(keys[i]), copy;
		T_CHECK(op_sshkey_equal(&k[i], &bare));
		T_EQ_INT(op_sshkey_copy(&copy, &bare, &e), 0);
		T_CHECK(op_sshkey_equal(&copy, &k[i]));
		op_sshkey_clear(&copy);
		op_sshkey_clear(&bare);
		/* The fingerprint is ssh-keygen's. */
		char *out = NULL, fp[OP_SSHKEY_FP_LEN];
		T_EQ_INT(h_run(&out, "ssh-keygen -l -f %s.pub", h_q(keys[i]->path)), 0);
		op_sshkey_fingerprint(&k[i], fp);
		T_CHECK_MSG(out && strstr(out, fp), "%s not in %s", fp, out ? out : "");
		free(out);
		free(line);
	}
	T_CHECK(!op_sshkey_equal(&k[0], &k[1]) && !op_sshkey_equal(&k[1], &k[2]));
	T_CHECK(!op_sshkey_equal(&k[0], NULL));
	/* Another key of the same type differs. */
	const h_key *other = h_keygen("ed25519");
	T_REQUIRE(other);
	op_sshkey o = pubkey(other);
	T_CHECK(!op_sshkey_equal(&k[0], &o));
	op_sshkey_clear(&o);
	for (int i = 0; i < 3; i++)
		op_sshkey_clear(&k[i]);
	T_CHECK(k[0].blob == NULL);
	op_sshkey_clear(NULL);

	/* P-384 and P-521 keys; unsupported types are named. */
	op_err e = {0};
	op_sshkey x;
	for (int bits = 384; bits <= 521; bits += 137) {
		const char *path = h_path("keys/p%d", bits);
		T_EQ_INT(h_run(NULL, "ssh-keygen -q -t ecdsa -b %d -N '' -f %s", bits, h_q(path)),
			0);
		char *line = h_read(h_str("%s.pub", path));
		T_REQUIRE(line);
		T_EQ_INT(op_sshkey_parse_line(&x, line, strlen(line), &e), 0);
		T_EQ_INT(x.type, bits == 384 ? OP_SSHKEY_ECDSA_P384 : OP_SSHKEY_ECDSA_P521);
		T_CHECK(strncmp(line, op_sshkey_type_name(x.type), 19) == 0);
		op_sshkey_clear(&x);
		free(line);
	}
	T_EQ_INT(op_sshkey_parse_line(&x, "ssh-dss AAAA", 12, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "ssh-dss is not supported"), "%s", e.msg);
	T_EQ_INT(op_sshkey_parse_line(&x, "", 0, &e), OP_EINVAL);
	T_EQ_INT(op_sshkey_parse_line(&x, "ssh-ed25519", 11, &e), OP_EINVAL);
	T_EQ_INT(op_sshkey_parse_line(&x, "ssh-foo AAAA", 12, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "unknown key type \"ssh-foo\""), "%s", e.msg);
	T_EQ_INT(op_sshkey_parse_line(&x, "ssh-ed25519 AAAA\nx", 18, &e), OP_EINVAL);
	T_CHECK(x.blob == NULL);
}

static void key_blob(t_buf *b, const char *type, const void *a, size_t alen)
{
	b->n = 0;
	t_put_cstr(b, type);
	t_put_str(b, a, alen);
}

static void test_keys_crafted(void)
{
	t_buf b;
	op_sshkey k;
	op_err e = {0};
	unsigned char pk[65] = {0};
	/* ed25519: 32 bytes exactly, nothing after. */
	key_blob(&b, "ssh-ed25519", pk, 32);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), 0);
	op_sshkey_clear(&k);
	key_blob(&b, "ssh-ed25519", pk, 31);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL);
	key_blob(&b, "ssh-ed25519", pk, 32);
	t_put_u32(&b, 0);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "bytes after the ssh-ed25519 public key"), "%s", e.msg);
	/* ecdsa: the curve name must match, the point be uncompressed and on the curve. */
	b.n = 0;
	t_put_cstr(&b, "ecdsa-sha2-nistp256");
	t_put_cstr(&b, "nistp256");
	pk[0] = 4;
	t_put_str(&b, pk, 65);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL); /* (0, 0) is no point */
	T_CHECK_MSG(strstr(e.msg, "not a valid key"), "%s", e.msg);
	b.n = 0;
	t_put_cstr(&b, "ecdsa-sha2-nistp256");
	t_put_cstr(&b, "nistp384");
	t_put_str(&b, pk, 65);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL);
	b.n = 0;
	t_put_cstr(&b, "ecdsa-sha2-nistp256");
	t_put_cstr(&b, "nistp256");
	pk[0] = 2;
	t_put_str(&b, pk, 33);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "uncompressed"), "%s", e.msg);
	/* rsa: sizes from 1024 to 8192 bits; negative numbers refused; a non-minimal mpint
	 * is the same key as the minimal one. */
	unsigned char n[1100];
	memset(n, 0xc5, sizeof n);
	unsigned char e3[] = {1, 0, 1};
	static const int sizes[] = {1016, 1024, 8192, 8200};
	for (size_t i = 0; i < 4; i++) {
		int bits = sizes[i];
		b.n = 0;
		t_put_cstr(&b, "ssh-rsa");
		t_put_str(&b, e3, 3);
		t_put_u32(&b, (uint32_t)bits / 8 + 1);
		t_put(&b, "", 1);
		t_put(&b, n, (size_t)bits / 8);
		int rc = op_sshkey_from_blob(&k, b.d, b.n, &e);
		if (bits < 1024 || bits > 8192)
			T_CHECK_MSG(
				rc == OP_ETRUST && strstr(e.msg, "outpost accepts 1024 to 8192"),
				"%d bits: %d %s", bits, rc, e.msg);
		else
			T_CHECK_MSG(rc == 0, "%d bits: %s", bits, e.msg);
		op_sshkey_clear(&k);
	}
	/* Exponents: odd, at least 3, at most 32 bits (a huge one would make verifying
	 * slow). */
	static const struct {
		unsigned char e[6];
		size_t n;
		int rc;
	} exps[] = {{{3}, 1, 0}, {{1, 0, 1}, 3, 0}, {{0x7f, 0xff, 0xff, 0xff}, 4, 0},
		{{1}, 1, OP_ETRUST}, {{1, 0, 0}, 3, OP_ETRUST}, {{1, 0, 0, 0, 1}, 5, OP_ETRUST},
		{{0}, 0, OP_ETRUST}};
	for (size_t i = 0; i < sizeof exps / sizeof *exps; i++) {
		b.n = 0;
		t_put_cstr(&b, "ssh-rsa");
		t_put_str(&b, exps[i].e, exps[i].n);
		t_put_u32(&b, 2048 / 8 + 1);
		t_put(&b, "", 1);
		t_put(&b, n, 2048 / 8);
		int rc = op_sshkey_from_blob(&k, b.d, b.n, &e);
		T_CHECK_MSG(rc == exps[i].rc, "exponent %zu: %d %s", i, rc, e.msg);
		if (rc)
			T_CHECK_MSG(strstr(e.msg, "exponent"), "%s", e.msg);
		op_sshkey_clear(&k);
	}
	/* A real 1024-bit key, with an extra zero in front of its exponent. */
	op_sshkey rsa1, rsa2;
	const char *line =
		"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQC7cO9pxyYxhbNETBLX3Q2QOPIjLlYbOPvjl3k"
		"IW/4obr4zbQa997aBshoDZJmFrXSGFHxYi2l2dL0OhEwqLNGwGX+Nls7N9j2V/wsjVxUaU+nB"
		"WTKBowxPJdDXP5r+7QxIy+AuvUitWHXQTcW6JamY+4YaVM3uxThqyJVFV2LM5Q==";
	T_REQUIRE(op_sshkey_parse_line(&rsa1, line, strlen(line), &e) == 0);
	op_ssh__rd r = {rsa1.blob, rsa1.blob_len};
	const unsigned char *t, *ex, *mod;
	size_t tl, exl, modl;
	T_REQUIRE(op_ssh__str(&r, &t, &tl) == 0 && op_ssh__str(&r, &ex, &exl) == 0 &&
		op_ssh__str(&r, &mod, &modl) == 0);
	b.n = 0;
	t_put_cstr(&b, "ssh-rsa");
	t_put_u32(&b, (uint32_t)exl + 2);
	t_put(&b, "\0\0", 2);
	t_put(&b, ex, exl);
	t_put_str(&b, mod, modl);
	T_EQ_INT(op_sshkey_from_blob(&rsa2, b.d, b.n, &e), 0);
	T_CHECK(op_sshkey_equal(&rsa1, &rsa2));
	op_sshkey_clear(&rsa2);
	/* Negative modulus (top bit set without a zero byte). */
	b.n = 0;
	t_put_cstr(&b, "ssh-rsa");
	t_put_str(&b, ex, exl);
	t_put_str(&b, mod + 1, modl - 1);
	T_EQ_INT(op_sshkey_from_blob(&rsa2, b.d, b.n, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "negative"), "%s", e.msg);
	op_sshkey_clear(&rsa1);
	/* Unknown and unsupported types; a key that is too big. */
	key_blob(&b, "ssh-foo", pk, 32);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL);
	key_blob(&b, "sk-ssh-ed25519@openssh.com", pk, 32); /* no application string */
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_EINVAL);
	key_blob(&b, "ssh-ed448", pk, 32);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_ETRUST);
	key_blob(&b, "ssh-ed25519-cert-v01@openssh.com", pk, 32);
	T_EQ_INT(op_sshkey_from_blob(&k, b.d, b.n, &e), OP_ETRUST);
	static unsigned char huge[OP_SSHKEY_MAX_BLOB + 1];
	T_EQ_INT(op_sshkey_from_blob(&k, huge, sizeof huge, &e), OP_ETOOBIG);
	T_EQ_INT(op_sshkey_from_blob(&k, huge, 0, &e), OP_EINVAL);
	T_CHECK(k.blob == NULL);
}

static void test_sign_verify(void)
{
	T_REQUIRE(make_keys());
	static const char *const want_alg[3] = {
		"ssh-ed25519", "ecdsa-sha2-nistp256", "rsa-sha2-512"};
	for (int i = 0; i < 3; i++) {
		for (int h = 0; h < 2; h++) {
			char *text = sign(keys[i], "git", h ? "sha256" : NULL);
			op_sshsig s;
			op_err e = {0};
			T_REQUIRE(text);
			T_EQ_INT(op_sshsig_parse(&s, text, strlen(text), &e), 0);
			T_EQ_STR(s.ns, "git");
			T_EQ_INT(s.hash, h ? OP_SSHSIG_SHA256 : OP_SSHSIG_SHA512);
			/* ssh-keygen pairs RSA's digest with the hash: rsa-sha2-256 for sha256. */
			T_EQ_STR(s.sig_alg, i == 2 && h ? "rsa-sha2-256" : want_alg[i]);
			op_sshkey pk = pubkey(keys[i]);
			T_CHECK(op_sshkey_equal(&s.key, &pk));
			op_sshkey_clear(&pk);
			T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
			T_EQ_INT(op_sshsig_verify(&s, NULL, MSG, strlen(MSG), &e), 0);
			/* Different data, one byte more or less, another namespace. */
			T_EQ_INT(op_sshsig_verify(&s, "git", "outpost signs that\n", 19, &e),
				OP_ETRUST);
			T_CHECK_MSG(strstr(e.msg, "does not verify"), "%s", e.msg);
			T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG) - 1, &e), OP_ETRUST);
			T_EQ_INT(op_sshsig_verify(&s, "git", MSG "x", strlen(MSG) + 1, &e),
				OP_ETRUST);
			T_EQ_INT(op_sshsig_verify(&s, "file", MSG, strlen(MSG), &e), OP_ETRUST);
			T_CHECK_MSG(strstr(e.msg, "namespace \"git\", not \"file\""), "%s", e.msg);
			op_sshsig_clear(&s);
			T_CHECK(s.sig == NULL && s.ns == NULL);
			free(text);
		}
		/* Signed for namespace "file": refused for git, good for file. */
		char *text = sign(keys[i], "file", NULL);
		op_sshsig s;
		op_err e = {0};
		T_REQUIRE(text);
		T_EQ_INT(op_sshsig_parse(&s, text, strlen(text), &e), 0);
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
		T_CHECK_MSG(strstr(e.msg, "namespace \"file\", not \"git\""), "%s", e.msg);
		T_EQ_INT(op_sshsig_verify(&s, "file", MSG, strlen(MSG), &e), 0);
		op_sshsig_clear(&s);
		free(text);
	}
	op_sshsig none;
	memset(&none, 0, sizeof none);
	op_err e;
	T_EQ_INT(op_sshsig_verify(&none, "git", "", 0, &e), OP_EINVAL);
	T_EQ_STR(op_sshsig_hash_name(OP_SSHSIG_SHA256), "sha256");
	T_EQ_STR(op_sshsig_hash_name(OP_SSHSIG_SHA512), "sha512");
}

/* ECDSA on P-384 and P-521 (SHA-384 and SHA-512 digests, RFC 5656), signed by
 * ssh-keygen. */
static void test_ecdsa_p384_p521(void)
{
	for (int bits = 384; bits <= 521; bits += 137) {
		const char *path = h_path("keys/sign-p%d", bits);
		T_EQ_INT(h_run(NULL, "ssh-keygen -q -t ecdsa -b %d -N '' -f %s", bits, h_q(path)),
			0);
		h_key k = {.type = "ecdsa", .path = path};
		char *text = sign(&k, "git", NULL), *pub = h_read(h_str("%s.pub", path));
		op_sshsig s;
		op_sshkey pk;
		op_err e = {0};
		T_REQUIRE(text && pub);
		T_EQ_INT(op_sshkey_parse_line(&pk, pub, strlen(pub), &e), 0);
		T_EQ_INT(op_sshsig_parse(&s, text, strlen(text), &e), 0);
		T_CHECK(op_sshkey_equal(&s.key, &pk));
		T_EQ_STR(s.sig_alg, bits == 384 ? "ecdsa-sha2-nistp384" : "ecdsa-sha2-nistp521");
		T_EQ_INT(s.sig_len, bits == 384 ? 96 : 132);
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG "x", strlen(MSG) + 1, &e), OP_ETRUST);
		s.sig[5] ^= 1;
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
		op_sshsig_clear(&s);
		op_sshkey_clear(&pk);
		free(text);
		free(pub);
	}
}

/* The SSHSIG blob of MSG by an sk-ssh-ed25519 key (pk, sk) with application app, as a
 * security key signs it (PROTOCOL.u2f); the signature blob claims claim_flags and
 * carries tail (may be empty) after its counter; alg names its algorithm. */
static void sk_blob(t_buf *out, const unsigned char pk[32], const unsigned char sk[64],
	const char *app, unsigned char flags, unsigned char claim_flags, const char *alg,
	const char *tail)
{
	unsigned char mh[64], d[69];
	t_buf key = {.n = 0}, sd = {.n = 0}, sig = {.n = 0}, inner = {.n = 0};
	t_put_cstr(&key, "sk-ssh-ed25519@openssh.com");
	t_put_str(&key, pk, 32);
	t_put_cstr(&key, app);
	mbedtls_sha512((const unsigned char *)MSG, strlen(MSG), mh, 0);
	t_put(&sd, "SSHSIG", 6);
	t_put_cstr(&sd, "git");
	t_put_cstr(&sd, "");
	t_put_cstr(&sd, "sha512");
	t_put_str(&sd, mh, sizeof mh);
	mbedtls_sha256((const unsigned char *)app, strlen(app), d, 0);
	d[32] = flags;
	memcpy(d + 33, "\0\0\0\x2a", 4);
	mbedtls_sha256(sd.d, sd.n, d + 37, 0);
	unsigned char es[64];
	crypto_sign_ed25519_detached(es, NULL, d, sizeof d, sk);
	t_put(&inner, es, sizeof es);
	t_put_cstr(&sig, alg);
	t_put_str(&sig, inner.d, inner.n);
	t_put(&sig, &claim_flags, 1);
	t_put_u32(&sig, 42);
	t_put(&sig, tail, strlen(tail));
	out->n = 0;
	t_put(out, "SSHSIG", 6);
	t_put_u32(out, 1);
	t_put_str(out, key.d, key.n);
	t_put_cstr(out, "git");
	t_put_cstr(out, "");
	t_put_cstr(out, "sha512");
	t_put_str(out, sig.d, sig.n);
}

/* FIDO signatures verify as ssh-keygen -Y verify verifies them: with or without the
 * user-presence flag, never with flags other than those signed. */
static void test_sk_signatures(void)
{
	unsigned char pk[32], sk[64];
	t_buf b;
	op_sshsig s;
	op_err e = {0};
	T_REQUIRE(sodium_init() >= 0);
	crypto_sign_ed25519_keypair(pk, sk);
	for (unsigned char flags = 0; flags < 6; flags += 5) {
		sk_blob(&b, pk, sk, "ssh:", flags, flags, "sk-ssh-ed25519@openssh.com", "");
		T_EQ_INT(parse_buf(&b, &s, &e), 0);
		T_EQ_INT(s.key.type, OP_SSHKEY_SK_ED25519);
		T_EQ_INT(s.sig_len, 69);
		T_EQ_INT(s.sig[64], flags);
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG "x", strlen(MSG) + 1, &e), OP_ETRUST);
		s.sig[68] ^= 1; /* the counter is signed */
		T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
		op_sshsig_clear(&s);
	}
	/* Another application, flags changed after signing. */
	sk_blob(&b, pk, sk, "ssh:outpost", 1, 1, "sk-ssh-ed25519@openssh.com", "");
	T_EQ_INT(parse_buf(&b, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	op_sshsig_clear(&s);
	sk_blob(&b, pk, sk, "ssh:", 0, 1, "sk-ssh-ed25519@openssh.com", "");
	T_EQ_INT(parse_buf(&b, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
	op_sshsig_clear(&s);
	/* Bytes after the counter; a webauthn signature; a plain ed25519 one. */
	sk_blob(&b, pk, sk, "ssh:", 1, 1, "sk-ssh-ed25519@openssh.com", "x");
	T_EQ_INT(parse_buf(&b, &s, &e), OP_EINVAL);
	sk_blob(&b, pk, sk, "ssh:", 1, 1, "webauthn-sk-ecdsa-sha2-nistp256@openssh.com", "");
	T_EQ_INT(parse_buf(&b, &s, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "does not fit"), "%s", e.msg);
	sk_blob(&b, pk, sk, "ssh:", 1, 1, "ssh-ed25519", "");
	T_EQ_INT(parse_buf(&b, &s, &e), OP_EINVAL);
	/* The key's text form and fingerprint. */
	op_sshkey k;
	t_buf kb = {.n = 0};
	t_put_cstr(&kb, "sk-ssh-ed25519@openssh.com");
	t_put_str(&kb, pk, 32);
	t_put_cstr(&kb, "ssh:");
	char *line = NULL, *body = b64(kb.d, kb.n, 0);
	T_REQUIRE(asprintf(&line, "sk-ssh-ed25519@openssh.com %s me@laptop", body) > 0);
	T_EQ_INT(op_sshkey_parse_line(&k, line, strlen(line), &e), 0);
	T_EQ_INT(k.blob_len, kb.n);
	T_CHECK(memcmp(k.blob, kb.d, kb.n) == 0);
	op_sshkey_clear(&k);
	free(line);
	free(body);
}

/* A signature whose key was swapped for another key of the same type fails. */
static void test_key_swap(void)
{
	T_REQUIRE(make_keys());
	const h_key *k2 = h_keygen("ed25519");
	T_REQUIRE(k2);
	char *text = sign(keys[0], "git", NULL);
	t_buf b;
	fields f;
	T_REQUIRE(text && dearmor(text, &b) && split_blob(&b, &f));
	op_sshkey other = pubkey(k2);
	f.key = other.blob;
	f.klen = other.blob_len;
	t_buf b2;
	join_blob(&b2, &f, "SSHSIG");
	op_sshsig s;
	op_err e;
	T_EQ_INT(parse_buf(&b2, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
	op_sshsig_clear(&s);
	op_sshkey_clear(&other);
	free(text);
}

static int rng(void *ctx, unsigned char *out, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)rand();
	return 0;
}

/* Builds an SSHSIG by an RSA PEM key with the given signature algorithm name and
 * digest, over MSG in namespace git with hash sha512. */
static bool rsa_sshsig(
	const char *pem, const op_sshkey *pub, const char *alg, mbedtls_md_type_t md, t_buf *out)
{
	mbedtls_pk_context pk;
	mbedtls_pk_init(&pk);
	bool ok = false;
	if (mbedtls_pk_parse_key(
		    &pk, (const unsigned char *)pem, strlen(pem) + 1, NULL, 0, rng, NULL) != 0)
		goto done;
	unsigned char h[64], digest[64], sig[1024];
	mbedtls_sha512((const unsigned char *)MSG, strlen(MSG), h, 0);
	t_buf d = {.n = 0};
	t_put(&d, "SSHSIG", 6);
	t_put_cstr(&d, "git");
	t_put_str(&d, "", 0);
	t_put_cstr(&d, "sha512");
	t_put_str(&d, h, 64);
	const mbedtls_md_info_t *mi = mbedtls_md_info_from_type(md);
	if (!mi || mbedtls_md(mi, d.d, d.n, digest) != 0)
		goto done;
	mbedtls_rsa_context *rsa = mbedtls_pk_rsa(pk);
	if (mbedtls_rsa_pkcs1_sign(rsa, rng, NULL, md, mbedtls_md_get_size(mi), digest, sig) != 0)
		goto done;
	t_buf inner = {.n = 0};
	t_put_cstr(&inner, alg);
	t_put_str(&inner, sig, mbedtls_rsa_get_len(rsa));
	out->n = 0;
	t_put(out, "SSHSIG", 6);
	t_put_u32(out, 1);
	t_put_str(out, pub->blob, pub->blob_len);
	t_put_cstr(out, "git");
	t_put_str(out, "", 0);
	t_put_cstr(out, "sha512");
	t_put_str(out, inner.d, inner.n);
	ok = true;
done:
	mbedtls_pk_free(&pk);
	return ok;
}

static void test_rsa_algorithms(void)
{
	const char *path = h_path("keys/rsa-pem");
	h_mkdirs(h_path("keys"));
	T_REQUIRE(h_run(NULL, "ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f %s", h_q(path)) == 0);
	char *pem = h_read(path), *publine = h_read(h_str("%s.pub", path));
	T_REQUIRE(pem && publine);
	op_sshkey pub;
	op_err e = {0};
	T_REQUIRE(op_sshkey_parse_line(&pub, publine, strlen(publine), &e) == 0);
	t_buf b;
	op_sshsig s;
	/* rsa-sha2-256 and rsa-sha2-512 verify. */
	T_REQUIRE(rsa_sshsig(pem, &pub, "rsa-sha2-256", MBEDTLS_MD_SHA256, &b));
	char *text = armor(&b);
	T_EQ_INT(op_sshsig_parse(&s, text, strlen(text), &e), 0);
	T_EQ_STR(s.sig_alg, "rsa-sha2-256");
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", "other", 5, &e), OP_ETRUST);
	op_sshsig_clear(&s);
	free(text);
	T_REQUIRE(rsa_sshsig(pem, &pub, "rsa-sha2-512", MBEDTLS_MD_SHA512, &b));
	T_EQ_INT(parse_buf(&b, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	op_sshsig_clear(&s);
	/* A SHA-256 signature labelled rsa-sha2-512 (and the reverse) fails. */
	T_REQUIRE(rsa_sshsig(pem, &pub, "rsa-sha2-512", MBEDTLS_MD_SHA256, &b));
	T_EQ_INT(parse_buf(&b, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
	op_sshsig_clear(&s);
	/* A genuine SHA-1 ssh-rsa signature is refused by name at parse time. */
	T_REQUIRE(rsa_sshsig(pem, &pub, "ssh-rsa", MBEDTLS_MD_SHA1, &b));
	T_EQ_INT(parse_buf(&b, &s, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "ssh-rsa (SHA-1) is refused"), "%s", e.msg);
	T_CHECK(s.sig == NULL && s.key.blob == NULL);
	/* Unknown RSA algorithm names, and an algorithm of another key type. */
	T_REQUIRE(rsa_sshsig(pem, &pub, "rsa-sha2-384", MBEDTLS_MD_SHA384, &b));
	T_EQ_INT(parse_buf(&b, &s, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "\"rsa-sha2-384\" is not supported"), "%s", e.msg);
	T_REQUIRE(rsa_sshsig(pem, &pub, "ssh-ed25519", MBEDTLS_MD_SHA256, &b));
	T_EQ_INT(parse_buf(&b, &s, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "does not fit a ssh-rsa key"), "%s", e.msg);
	op_sshkey_clear(&pub);
	free(pem);
	free(publine);
}

/* Every prefix of a valid signature is refused, and every one-byte change either is
 * refused or fails to verify; never a crash (ASan runs this too). */
static void test_truncated_and_corrupted(void)
{
	T_REQUIRE(make_keys());
	for (int i = 0; i < 3; i++) {
		char *text = sign(keys[i], "git", NULL);
		t_buf b;
		T_REQUIRE(text && dearmor(text, &b));
		op_sshsig s;
		op_err e;
		size_t len = strlen(text);
		for (size_t n = 0; n + 1 < len; n++) {
			int rc = op_sshsig_parse(&s, text, n, &e);
			T_CHECK_MSG(
				rc != 0, "%s: armored prefix of %zu bytes parsed", key_types[i], n);
			if (rc == 0)
				op_sshsig_clear(&s);
		}
		/* Without only its final newline it is still whole. */
		T_EQ_INT(op_sshsig_parse(&s, text, len - 1, &e), 0);
		op_sshsig_clear(&s);
		for (size_t n = 0; n < b.n; n++) {
			/* Heap copies of exactly n bytes, so ASan sees any overread. */
			unsigned char *p = malloc(n ? n : 1);
			T_REQUIRE(p);
			memcpy(p, b.d, n);
			int rc = op_sshsig_parse_blob(&s, p, n, &e);
			T_CHECK_MSG(
				rc != 0, "%s: blob prefix of %zu bytes parsed", key_types[i], n);
			if (rc == 0)
				op_sshsig_clear(&s);
			free(p);
		}
		static const unsigned char masks[] = {0x01, 0x80, 0xff};
		int parsed = 0;
		for (size_t n = 0; n < b.n; n++) {
			for (size_t m = 0; m < sizeof masks; m++) {
				unsigned char *p = malloc(b.n);
				T_REQUIRE(p);
				memcpy(p, b.d, b.n);
				p[n] ^= masks[m];
				if (op_sshsig_parse_blob(&s, p, b.n, &e) == 0) {
					parsed++;
					T_CHECK_MSG(op_sshsig_verify(
							    &s, "git", MSG, strlen(MSG), &e) != 0,
						"%s: byte %zu ^ %02x still verifies", key_types[i],
						n, masks[m]);
					op_sshsig_clear(&s);
				}
				free(p);
			}
		}
		T_CHECK(parsed > 0); /* some changes (the signature bytes) do parse */
		free(text);
	}
}

static void test_crafted_fields(void)
{
	T_REQUIRE(make_keys());
	char *text = sign(keys[0], "git", NULL);
	t_buf b, c;
	fields f, g;
	op_sshsig s;
	op_err e;
	T_REQUIRE(text && dearmor(text, &b) && split_blob(&b, &f));
	/* Untouched: good. */
	join_blob(&c, &f, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	op_sshsig_clear(&s);
	/* Magic, version. */
	join_blob(&c, &f, "SSHSIF");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "SSHSIG"), "%s", e.msg);
	for (uint32_t v = 0; v <= 2; v += 2) {
		g = f;
		g.version = v;
		join_blob(&c, &g, "SSHSIG");
		T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
		T_CHECK_MSG(strstr(e.msg, "version"), "%s", e.msg);
	}
	/* Reserved must be empty. */
	g = f;
	g.reserved = (const unsigned char *)"x";
	g.rlen = 1;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "reserved"), "%s", e.msg);
	/* Hash algorithms other than sha256 / sha512. */
	static const char *const hashes[] = {"sha1", "md5", "SHA512", "sha512\0", ""};
	for (size_t i = 0; i < sizeof hashes / sizeof *hashes; i++) {
		g = f;
		g.hash = (const unsigned char *)hashes[i];
		g.hlen = strlen(hashes[i]) + (i == 3);
		join_blob(&c, &g, "SSHSIG");
		T_EQ_INT(parse_buf(&c, &s, &e), OP_ETRUST);
		T_CHECK_MSG(strstr(e.msg, "hash algorithm"), "%s", e.msg);
	}
	g = f;
	g.hash = (const unsigned char *)"sha1";
	g.hlen = 4;
	join_blob(&c, &g, "SSHSIG");
	parse_buf(&c, &s, &e);
	T_CHECK_MSG(strstr(e.msg, "\"sha1\" is not supported (sha256 or sha512)"), "%s", e.msg);
	/* sha256 named but the signer hashed with sha512: fails to verify. */
	g = f;
	g.hash = (const unsigned char *)"sha256";
	g.hlen = 6;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
	op_sshsig_clear(&s);
	/* Namespaces: a NUL inside, too long, changed after signing. */
	g = f;
	g.ns = (const unsigned char *)"git\0x";
	g.nslen = 5;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	static unsigned char longns[OP_SSHSIG_MAX_NS + 1];
	memset(longns, 'n', sizeof longns);
	g = f;
	g.ns = longns;
	g.nslen = sizeof longns;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	g = f;
	g.ns = (const unsigned char *)"gi";
	g.nslen = 2;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "gi", MSG, strlen(MSG), &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "does not verify"), "%s", e.msg);
	op_sshsig_clear(&s);
	/* Trailing bytes after the blob, after the inner signature, after its data. */
	join_blob(&c, &f, "SSHSIG");
	t_put(&c, "", 1);
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "1 bytes after the signature"), "%s", e.msg);
	t_buf inner = {.n = 0};
	t_put(&inner, f.sig, f.slen);
	t_put_u32(&inner, 0);
	g = f;
	g.sig = inner.d;
	g.slen = inner.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	/* The ed25519 signature must be 64 bytes. */
	op_ssh__rd r = {f.sig, f.slen};
	const unsigned char *alg, *raw;
	size_t alen, rlen;
	T_REQUIRE(op_ssh__str(&r, &alg, &alen) == 0 && op_ssh__str(&r, &raw, &rlen) == 0);
	for (size_t n = 63; n <= 65; n += 2) {
		unsigned char big[65] = {0};
		memcpy(big, raw, 64);
		inner.n = 0;
		t_put_str(&inner, alg, alen);
		t_put_str(&inner, big, n);
		g = f;
		g.sig = inner.d;
		g.slen = inner.n;
		join_blob(&c, &g, "SSHSIG");
		T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
		T_CHECK_MSG(strstr(e.msg, "expected 64"), "%s", e.msg);
	}
	/* Another key type's algorithm name. */
	inner.n = 0;
	t_put_cstr(&inner, "ecdsa-sha2-nistp256");
	t_put_str(&inner, raw, rlen);
	g = f;
	g.sig = inner.d;
	g.slen = inner.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	/* A key of an unsupported type in the signature. */
	unsigned char pk[32] = {1};
	t_buf kb = {.n = 0};
	t_put_cstr(&kb, "ssh-ed448");
	t_put_str(&kb, pk, 32);
	g = f;
	g.key = kb.d;
	g.klen = kb.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "ssh-ed448 is not supported"), "%s", e.msg);
	free(text);
}

/* ecdsa r and s: minimal mpints, at most 256 bits, non-negative. */
static void test_ecdsa_numbers(void)
{
	T_REQUIRE(make_keys());
	char *text = sign(keys[1], "git", NULL);
	t_buf b, c;
	fields f, g;
	op_sshsig s;
	op_err e;
	T_REQUIRE(text && dearmor(text, &b) && split_blob(&b, &f));
	op_ssh__rd r = {f.sig, f.slen}, rs;
	const unsigned char *alg, *raw, *rm, *sm;
	size_t alen, rlen, rl, sl;
	T_REQUIRE(op_ssh__str(&r, &alg, &alen) == 0 && op_ssh__str(&r, &raw, &rlen) == 0);
	rs = (op_ssh__rd){raw, rlen};
	T_REQUIRE(op_ssh__str(&rs, &rm, &rl) == 0 && op_ssh__str(&rs, &sm, &sl) == 0);
	/* r with two extra leading zeros is the same number: still verifies. */
	t_buf nums = {.n = 0}, inner = {.n = 0};
	t_put_u32(&nums, (uint32_t)rl + 2);
	t_put(&nums, "\0\0", 2);
	t_put(&nums, rm, rl);
	t_put_str(&nums, sm, sl);
	t_put_cstr(&inner, "ecdsa-sha2-nistp256");
	t_put_str(&inner, nums.d, nums.n);
	g = f;
	g.sig = inner.d;
	g.slen = inner.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	op_sshsig_clear(&s);
	/* 33 significant bytes: refused. */
	nums.n = inner.n = 0;
	t_put_u32(&nums, 33);
	t_put(&nums, "\x01", 1);
	t_put(&nums, rm + (rl - 32), 32);
	t_put_str(&nums, sm, sl);
	t_put_cstr(&inner, "ecdsa-sha2-nistp256");
	t_put_str(&inner, nums.d, nums.n);
	g.sig = inner.d;
	g.slen = inner.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	/* A negative s. */
	nums.n = inner.n = 0;
	t_put_str(&nums, rm, rl);
	t_put_u32(&nums, 1);
	t_put(&nums, "\x80", 1);
	t_put_cstr(&inner, "ecdsa-sha2-nistp256");
	t_put_str(&inner, nums.d, nums.n);
	g.sig = inner.d;
	g.slen = inner.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), OP_EINVAL);
	/* Zero r and s parse (they are numbers) but never verify. */
	nums.n = inner.n = 0;
	t_put_u32(&nums, 0);
	t_put_u32(&nums, 0);
	t_put_cstr(&inner, "ecdsa-sha2-nistp256");
	t_put_str(&inner, nums.d, nums.n);
	g.sig = inner.d;
	g.slen = inner.n;
	join_blob(&c, &g, "SSHSIG");
	T_EQ_INT(parse_buf(&c, &s, &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), OP_ETRUST);
	op_sshsig_clear(&s);
	free(text);
}

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from), tl = strlen(to);
	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	char *out = malloc(strlen(s) + n * tl + 1), *o = out;
	for (const char *p = s, *q; *p; p = q + fl) {
		q = strstr(p, from);
		if (!q) {
			memcpy(o, p, strlen(p) + 1);
			return out;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		*o = '\0';
	}
	return out;
}

static void test_armor(void)
{
	T_REQUIRE(make_keys());
	char *text = sign(keys[0], "git", NULL);
	op_sshsig s;
	op_err e;
	T_REQUIRE(text);
	char *crlf = replace_all(text, "\n", "\r\n");
	T_EQ_INT(op_sshsig_parse(&s, crlf, strlen(crlf), &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	op_sshsig_clear(&s);
	/* Re-wrapped at 76 columns or on one line: still the same bytes. */
	t_buf b;
	T_REQUIRE(dearmor(text, &b));
	char *body = b64(b.d, b.n, 0), *one = NULL;
	T_REQUIRE(asprintf(&one, "-----BEGIN SSH SIGNATURE-----\n%s\n-----END SSH SIGNATURE-----",
			  body) > 0);
	T_EQ_INT(op_sshsig_parse(&s, one, strlen(one), &e), 0);
	op_sshsig_clear(&s);
	free(one);
	free(body);
	/* Whatever follows the END line is ignored, as ssh-keygen (and so git) ignores it. */
	char *more = NULL;
	T_REQUIRE(asprintf(&more, "%s\n \t\n", text) > 0);
	T_EQ_INT(op_sshsig_parse(&s, more, strlen(more), &e), 0);
	op_sshsig_clear(&s);
	free(more);
	T_REQUIRE(asprintf(&more, "%sx\n", text) > 0);
	T_EQ_INT(op_sshsig_parse(&s, more, strlen(more), &e), 0);
	T_EQ_INT(op_sshsig_verify(&s, "git", MSG, strlen(MSG), &e), 0);
	op_sshsig_clear(&s);
	free(more);
	/* The header must start the text and end its line. */
	T_REQUIRE(asprintf(&more, " %s", text) > 0);
	T_EQ_INT(op_sshsig_parse(&s, more, strlen(more), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "not an SSH signature"), "%s", e.msg);
	free(more);
	char *hdr = replace_all(text, "SIGNATURE-----\nU1NI", "SIGNATURE----- U1NI");
	T_EQ_INT(op_sshsig_parse(&s, hdr, strlen(hdr), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "no line end"), "%s", e.msg);
	free(hdr);
	/* Missing footer; a bad base64 character; a PGP signature. */
	char *nofoot = replace_all(text, "-----END SSH SIGNATURE-----", "");
	T_EQ_INT(op_sshsig_parse(&s, nofoot, strlen(nofoot), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "missing"), "%s", e.msg);
	free(nofoot);
	char *badc = replace_all(text, "U1NIU0lH", "U1NI*0lH");
	T_EQ_INT(op_sshsig_parse(&s, badc, strlen(badc), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "base64"), "%s", e.msg);
	free(badc);
	const char *pgp = "-----BEGIN PGP SIGNATURE-----\n\niQ==\n-----END PGP SIGNATURE-----\n";
	T_EQ_INT(op_sshsig_parse(&s, pgp, strlen(pgp), &e), OP_EINVAL);
	/* Empty body; too big. */
	const char *empty = "-----BEGIN SSH SIGNATURE-----\n-----END SSH SIGNATURE-----\n";
	T_EQ_INT(op_sshsig_parse(&s, empty, strlen(empty), &e), OP_EINVAL);
	char *huge = calloc(OP_SSHSIG_MAX_ARMOR + 2, 1);
	T_REQUIRE(huge);
	memcpy(huge, text, strlen(text));
	T_EQ_INT(op_sshsig_parse(&s, huge, OP_SSHSIG_MAX_ARMOR + 1, &e), OP_ETOOBIG);
	free(huge);
	T_EQ_INT(op_sshsig_parse_blob(&s, "", 0, &e), OP_EINVAL);
	free(crlf);
	free(text);
}

static void split(const char *commit, bool sha256, op_commit_sig *c)
{
	op_err e = {0};
	if (op_commit_split_signature(c, commit, strlen(commit), sha256, &e) != 0)
		t_fail(__FILE__, __LINE__, "split: %s", e.msg);
}

static void test_commit_split(void)
{
	op_commit_sig c;
	const char *signed_commit = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
				    "parent 1111111111111111111111111111111111111111\n"
				    "author A U <a@x> 1714564800 +0000\n"
				    "committer C U <c@x> 1714564801 +0200\n"
				    "gpgsig -----BEGIN SSH SIGNATURE-----\n"
				    " U1NIU0lH\n"
				    " \n"
				    "  two spaces\n"
				    " -----END SSH SIGNATURE-----\n"
				    "\n"
				    "subject\n"
				    "\n"
				    "gpgsig in the body stays\n"
				    " and so does this\n";
	split(signed_commit, false, &c);
	T_EQ_STR(c.sig,
		"-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n\n two spaces\n"
		"-----END SSH SIGNATURE-----\n");
	T_EQ_INT(c.sig_len, strlen(c.sig));
	T_EQ_STR(c.payload,
		"tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
		"parent 1111111111111111111111111111111111111111\n"
		"author A U <a@x> 1714564800 +0000\n"
		"committer C U <c@x> 1714564801 +0200\n"
		"\n"
		"subject\n"
		"\n"
		"gpgsig in the body stays\n"
		" and so does this\n");
	T_EQ_INT(c.payload_len, strlen(c.payload));
	op_commit_sig_clear(&c);
	T_CHECK(c.sig == NULL && c.payload == NULL);
	/* In a SHA-256 repository the header is gpgsig-sha256; gpgsig is dropped. */
	split(signed_commit, true, &c);
	T_CHECK(c.sig == NULL);
	T_CHECK(strstr(c.payload, "gpgsig -----BEGIN") == NULL);
	T_CHECK(strstr(c.payload, "U1NI") == NULL);
	T_CHECK(strstr(c.payload, "committer C U <c@x> 1714564801 +0200\n\nsubject\n") != NULL);
	op_commit_sig_clear(&c);
	/* Both headers (a converted repository): each mode takes its own, drops the other. */
	const char *both = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
			   "committer C <c@x> 1 +0000\n"
			   "gpgsig-sha256 -----BEGIN SSH SIGNATURE-----\n"
			   " B\n"
			   " -----END SSH SIGNATURE-----\n"
			   "gpgsig -----BEGIN SSH SIGNATURE-----\n"
			   " A\n"
			   " -----END SSH SIGNATURE-----\n"
			   "mergetag object 2222\n"
			   " type commit\n"
			   "\nmsg\n";
	const char *payload = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
			      "committer C <c@x> 1 +0000\n"
			      "mergetag object 2222\n"
			      " type commit\n"
			      "\nmsg\n";
	split(both, false, &c);
	T_EQ_STR(c.sig, "-----BEGIN SSH SIGNATURE-----\nA\n-----END SSH SIGNATURE-----\n");
	T_EQ_STR(c.payload, payload);
	op_commit_sig_clear(&c);
	split(both, true, &c);
	T_EQ_STR(c.sig, "-----BEGIN SSH SIGNATURE-----\nB\n-----END SSH SIGNATURE-----\n");
	T_EQ_STR(c.payload, payload);
	op_commit_sig_clear(&c);
	/* Unsigned: no signature, the payload is the whole object. */
	const char *plain = "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n"
			    "committer C <c@x> 1 +0000\n\nmsg";
	split(plain, false, &c);
	T_CHECK(c.sig == NULL && c.sig_len == 0);
	T_EQ_STR(c.payload, plain);
	op_commit_sig_clear(&c);
	/* "gpgsig" with no space, "gpgsigx": not the signature header. */
	split("tree t\ngpgsig\n x\ngpgsigx y\ncommitter C <c@x> 1 +0000\n\nm\n", false, &c);
	T_CHECK(c.sig == NULL);
	T_EQ_STR(c.payload, "tree t\ncommitter C <c@x> 1 +0000\n\nm\n");
	op_commit_sig_clear(&c);
	/* Edge shapes: empty, header at the very end without a newline. */
	split("", false, &c);
	T_CHECK(c.sig == NULL && c.payload_len == 0);
	op_commit_sig_clear(&c);
	split("tree t\ngpgsig abc", false, &c);
	T_EQ_STR(c.sig, "abc");
	T_EQ_STR(c.payload, "tree t\n");
	op_commit_sig_clear(&c);
	/* A NUL in the message is kept (lengths, not strings). */
	const char nul[] = "tree t\ngpgsig s\n\nm\0n\n";
	op_err e;
	T_EQ_INT(op_commit_split_signature(&c, nul, sizeof nul - 1, false, &e), 0);
	T_EQ_INT(c.payload_len, 12);
	T_CHECK(memcmp(c.payload, "tree t\n\nm\0n\n", 12) == 0);
	op_commit_sig_clear(&c);
	op_commit_sig_clear(NULL);
}

static int committer(const char *commit, char **email, int64_t *t)
{
	op_err e;
	return op_commit_committer(commit, strlen(commit), email, t, &e);
}

static void test_committer(void)
{
	char *email;
	int64_t t;
	T_EQ_INT(committer("tree t\nauthor A <a@x> 5 +0000\ncommitter C U <c@x> 1714564800 +0200\n"
			   "committer D <d@x> 7 +0000\n\nmsg\n",
			 &email, &t),
		0);
	T_EQ_STR(email, "c@x");
	T_EQ_INT(t, 1714564800);
	free(email);
	/* Odd idents read as git reads them: the time after the last '>'. */
	T_EQ_INT(committer("committer <x> Y <c@x>   42 -0100", &email, &t), 0);
	T_EQ_STR(email, "x");
	T_EQ_INT(t, 42);
	free(email);
	T_EQ_INT(committer("committer N <> 9 +0000\n", &email, &t), 0);
	T_EQ_STR(email, "");
	free(email);
	T_EQ_INT(committer("committer N <c@x> 253402300799 +0000\n", &email, &t), 0);
	T_EQ_INT(t, 253402300799LL);
	free(email);
	/* Refused. */
	T_EQ_INT(committer("tree t\n\ncommitter C <c@x> 1 +0000\n", &email, &t), OP_ENOTFOUND);
	T_EQ_INT(committer("", &email, &t), OP_ENOTFOUND);
	T_EQ_INT(committer("committerx <c@x> 1 +0000\n", &email, &t), OP_ENOTFOUND);
	T_EQ_INT(committer(" committer C <c@x> 1 +0000\n", &email, &t), OP_ENOTFOUND);
	T_EQ_INT(committer("committer C c@x 1 +0000\n", &email, &t), OP_EINVAL);
	T_EQ_INT(committer("committer C <c@x 1 +0000\n", &email, &t), OP_EINVAL);
	T_EQ_INT(committer("committer C <c@x>\n", &email, &t), OP_EINVAL);
	T_EQ_INT(committer("committer C <c@x> +0000\n", &email, &t), OP_EINVAL);
	T_EQ_INT(committer("committer C <c@x> 0 +0000\n", &email, &t), 0);
	T_EQ_INT(t, 0); /* git verifies such a commit at the current time */
	free(email);
	T_EQ_INT(committer("committer C <c@x> 253402300800 +0000\n", &email, &t), OP_EINVAL);
	T_EQ_INT(committer("committer C <c@x> 99999999999999999999999 +0000\n", &email, &t),
		OP_EINVAL);
	T_CHECK(email == NULL);
}

/* A commit signed by git itself: split, parse and verify over the payload. */
static void test_git_commit(void)
{
	T_REQUIRE(make_keys());
	h_repo *r = h_repo_new("repo");
	T_REQUIRE(r);
	for (int i = 0; i < 3; i++) {
		h_commit c = {.key = keys[i], .date = "2024-05-01T12:00:00Z"};
		const char *sha = h_repo_commit(r, &c);
		T_REQUIRE(sha);
		char *raw = NULL;
		T_REQUIRE(h_repo_git(r, &raw, "cat-file commit %s", sha) == 0);
		op_commit_sig cs;
		op_sshsig s;
		op_err e = {0};
		split(raw, false, &cs);
		T_REQUIRE(cs.sig);
		T_EQ_INT(op_sshsig_parse(&s, cs.sig, cs.sig_len, &e), 0);
		T_EQ_INT(op_sshsig_verify(&s, "git", cs.payload, cs.payload_len, &e), 0);
		/* The signature does not cover the object with its own header. */
		T_EQ_INT(op_sshsig_verify(&s, "git", raw, strlen(raw), &e), OP_ETRUST);
		char *email;
		int64_t t;
		T_EQ_INT(op_commit_committer(cs.payload, cs.payload_len, &email, &t, &e), 0);
		T_EQ_STR(email, "test@example.com");
		T_EQ_INT(t, 1714564800);
		free(email);
		op_sshsig_clear(&s);
		op_commit_sig_clear(&cs);
		free(raw);
	}
}

int main(void)
{
	srand(1);
	T_RUN(test_base64);
	T_RUN(test_keys);
	T_RUN(test_keys_crafted);
	T_RUN(test_sign_verify);
	T_RUN(test_ecdsa_p384_p521);
	T_RUN(test_sk_signatures);
	T_RUN(test_key_swap);
	T_RUN(test_rsa_algorithms);
	T_RUN(test_truncated_and_corrupted);
	T_RUN(test_crafted_fields);
	T_RUN(test_ecdsa_numbers);
	T_RUN(test_armor);
	T_RUN(test_commit_split);
	T_RUN(test_committer);
	T_RUN(test_git_commit);
	return t_done();
}
