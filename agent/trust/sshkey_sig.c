/* Signatures of each SSH key type (see include/outpost/agent/trust/sshsig.h): the
 * signature blob decoded into fixed-width bytes at parse time, and the arithmetic
 * (libsodium for ed25519, mbedtls for ECDSA and RSA) at verify time. FIDO keys sign
 * other bytes than the message (sshsk.c builds them); the arithmetic is the same. */
#include "sshkey_int.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define ED25519_SIG 64

/* The mbedtls objects of a key, for checks and verification. */
typedef struct key_ctx {
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_rsa_context rsa;
	int kind;
} key_ctx;

static void ctx_clear(key_ctx *c)
{
	if (c->kind == OP_SSH__ECDSA) {
		mbedtls_ecp_point_free(&c->q);
		mbedtls_ecp_group_free(&c->grp);
	} else if (c->kind == OP_SSH__RSA) {
		mbedtls_rsa_free(&c->rsa);
	}
	c->kind = 0;
}

static int ctx_load(key_ctx *c, const op_ssh__parts *k)
{
	c->kind = 0;
	if (k->kt->kind == OP_SSH__ECDSA) {
		mbedtls_ecp_group_init(&c->grp);
		mbedtls_ecp_point_init(&c->q);
		c->kind = OP_SSH__ECDSA;
		if (mbedtls_ecp_group_load(&c->grp, (mbedtls_ecp_group_id)k->kt->group) != 0 ||
			mbedtls_ecp_point_read_binary(&c->grp, &c->q, k->a, k->alen) != 0 ||
			mbedtls_ecp_check_pubkey(&c->grp, &c->q) != 0)
			return -1;
	} else if (k->kt->kind == OP_SSH__RSA) {
		mbedtls_rsa_init(&c->rsa);
		c->kind = OP_SSH__RSA;
		if (mbedtls_rsa_import_raw(&c->rsa, k->b, k->blen, NULL, 0, NULL, 0, NULL, 0, k->a,
			    k->alen) != 0 ||
			mbedtls_rsa_complete(&c->rsa) != 0 ||
			mbedtls_rsa_check_pubkey(&c->rsa) != 0)
			return -1;
	}
	return 0;
}

int op_ssh__key_valid(const op_ssh__parts *k)
{
	key_ctx c;
	int bad = ctx_load(&c, k);
	ctx_clear(&c);
	return bad;
}

/* Copies a magnitude right-aligned into a zeroed field of width w. */
static int put_right(unsigned char *out, size_t w, const unsigned char *m, size_t n)
{
	if (n > w)
		return -1;
	memset(out, 0, w - n);
	memcpy(out + w - n, m, n);
	return 0;
}

/* The algorithm name a signature blob must carry for key type kt: *alg (static), or an
 * error naming what it carries. */
static int sig_alg(const op_ssh__ktype *kt, const unsigned char *name, size_t nlen,
	const char **alg, op_err *e)
{
	char shown[64];
	if (kt->kind == OP_SSH__RSA) {
		if (op_ssh__str_is(name, nlen, "ssh-rsa"))
			return op_err_set(e, OP_ETRUST,
				"RSA signature algorithm ssh-rsa (SHA-1) is refused: sign with "
				"rsa-sha2-512 or rsa-sha2-256 (ssh-keygen -Y sign does)");
		if (op_ssh__str_is(name, nlen, "rsa-sha2-256"))
			*alg = "rsa-sha2-256";
		else if (op_ssh__str_is(name, nlen, "rsa-sha2-512"))
			*alg = "rsa-sha2-512";
		else
			*alg = NULL;
	} else {
		*alg = op_ssh__str_is(name, nlen, kt->name) ? kt->name : NULL;
	}
	if (*alg)
		return 0;
	op_ssh__printable(shown, sizeof shown, name, nlen);
	if (op_sshkey_type_known((const char *)name, nlen) ||
		op_ssh__str_is(name, nlen, "rsa-sha2-256") ||
		op_ssh__str_is(name, nlen, "rsa-sha2-512"))
		return op_err_set(e, OP_EINVAL, "signature algorithm %s does not fit a %s key",
			shown, kt->name);
	return op_err_set(e, OP_ETRUST, "signature algorithm \"%s\" is not supported", shown);
}

int op_ssh__sig_decode(const op_sshkey *k, const unsigned char *blob, size_t len, const char **alg,
	unsigned char **sig, size_t *sig_len, op_err *e)
{
	op_ssh__rd r = {blob, len};
	const unsigned char *name, *data;
	size_t nlen, dlen;
	unsigned char tail[5];
	op_ssh__parts kp;
	int rc;
	*sig = NULL;
	if (op_ssh__decode_key(&kp, k->blob, k->blob_len, NULL) != 0)
		return op_err_set(e, OP_EINVAL, "bad key");
	const op_ssh__ktype *kt = kp.kt;
	if (op_ssh__str(&r, &name, &nlen) != 0)
		return op_err_set(e, OP_EINVAL, "signature blob truncated");
	if ((rc = sig_alg(kt, name, nlen, alg, e)) != 0)
		return rc;
	if (kt->sk) {
		/* string sig, byte flags, uint32 counter: the rest of the blob */
		if (op_ssh__sk_split(r.p, r.n, &data, &dlen, tail) != 0)
			return op_err_set(e, OP_EINVAL, "%s signature blob truncated", kt->name);
		r.n = 0;
	} else if (op_ssh__str(&r, &data, &dlen) != 0) {
		return op_err_set(e, OP_EINVAL, "signature blob truncated");
	}
	if (r.n != 0)
		return op_err_set(e, OP_EINVAL, "%zu bytes after the signature blob", r.n);
	size_t w = kt->kind == OP_SSH__ED25519 ? ED25519_SIG
		: kt->kind == OP_SSH__ECDSA    ? 2 * kt->scalar
					       : kp.blen; /* the modulus size in bytes */
	if (kt->kind == OP_SSH__ED25519 && dlen != ED25519_SIG)
		return op_err_set(
			e, OP_EINVAL, "%s signature of %zu bytes (expected 64)", kt->name, dlen);
	/* Like OpenSSH, an RSA signature shorter than the modulus is left-padded. */
	if (kt->kind == OP_SSH__RSA && dlen > w)
		return op_err_set(e, OP_EINVAL,
			"RSA signature of %zu bytes is longer than the %zu-byte modulus", dlen, w);
	unsigned char *out = malloc(w + (kt->sk ? sizeof tail : 0));
	if (!out)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (kt->kind == OP_SSH__ECDSA) {
		op_ssh__rd in = {data, dlen};
		const unsigned char *rm, *sm;
		size_t rl, sl;
		if (op_ssh__mpint(&in, &rm, &rl) != 0 || op_ssh__mpint(&in, &sm, &sl) != 0 ||
			in.n != 0 || put_right(out, kt->scalar, rm, rl) != 0 ||
			put_right(out + kt->scalar, kt->scalar, sm, sl) != 0) {
			free(out);
			return op_err_set(e, OP_EINVAL,
				"%s signature is not two numbers below %zu bits", kt->name,
				kt->scalar * 8);
		}
	} else {
		put_right(out, w, data, dlen);
	}
	if (kt->sk) {
		memcpy(out + w, tail, sizeof tail);
		w += sizeof tail;
	}
	*sig = out;
	*sig_len = w;
	return 0;
}

static int ecdsa_check(
	const op_ssh__parts *kp, const unsigned char *sig, const unsigned char *data, size_t len)
{
	const op_ssh__ktype *kt = kp->kt;
	unsigned char h[64];
	size_t hl;
	mbedtls_mpi r, s;
	key_ctx c;
	int ok = -1;
	/* RFC 5656 6.2.1: the hash follows the curve size. */
	if (kt->scalar <= 32 || kt->sk) {
		mbedtls_sha256(data, len, h, 0);
		hl = 32;
	} else {
		mbedtls_sha512(data, len, h, kt->scalar <= 48);
		hl = kt->scalar <= 48 ? 48 : 64;
	}
	if (ctx_load(&c, kp) != 0) {
		ctx_clear(&c);
		return -1;
	}
	mbedtls_mpi_init(&r);
	mbedtls_mpi_init(&s);
	if (mbedtls_mpi_read_binary(&r, sig, kt->scalar) == 0 &&
		mbedtls_mpi_read_binary(&s, sig + kt->scalar, kt->scalar) == 0 &&
		mbedtls_ecdsa_verify(&c.grp, h, hl, &c.q, &r, &s) == 0)
		ok = 0;
	mbedtls_mpi_free(&r);
	mbedtls_mpi_free(&s);
	ctx_clear(&c);
	return ok;
}

static int rsa_check(const op_ssh__parts *kp, const char *alg, const unsigned char *sig,
	size_t sig_len, const unsigned char *data, size_t len)
{
	unsigned char h[64];
	bool s512 = strcmp(alg, "rsa-sha2-512") == 0;
	key_ctx c;
	int ok = -1;
	if (ctx_load(&c, kp) == 0 && sig_len == mbedtls_rsa_get_len(&c.rsa)) {
		if (s512)
			mbedtls_sha512(data, len, h, 0);
		else
			mbedtls_sha256(data, len, h, 0);
		if (mbedtls_rsa_pkcs1_verify(&c.rsa, s512 ? MBEDTLS_MD_SHA512 : MBEDTLS_MD_SHA256,
			    s512 ? 64 : 32, h, sig) == 0)
			ok = 0;
	}
	ctx_clear(&c);
	return ok;
}

int op_ssh__sig_check(const op_sshkey *k, const char *alg, const unsigned char *sig, size_t sig_len,
	const unsigned char *data, size_t len)
{
	op_ssh__parts kp;
	unsigned char signed_sk[OP_SSH__SK_SIGNED];
	if (op_ssh__decode_key(&kp, k->blob, k->blob_len, NULL) != 0)
		return -1;
	const op_ssh__ktype *kt = kp.kt;
	size_t w = kt->kind == OP_SSH__ED25519 ? ED25519_SIG
		: kt->kind == OP_SSH__ECDSA    ? 2 * kt->scalar
					       : sig_len;
	if (sig_len != w + (kt->sk ? 5 : 0))
		return -1;
	if (kt->sk) {
		/* The authenticator signed the application, flags, counter and the
		 * message's hash, not the message. */
		op_ssh__sk_signed(&kp, sig + w, data, len, signed_sk);
		data = signed_sk;
		len = sizeof signed_sk;
	}
	if (kt->kind == OP_SSH__ED25519) {
		if (sodium_init() < 0)
			return -1;
		return crypto_sign_ed25519_verify_detached(sig, data, len, kp.a) == 0 ? 0 : -1;
	}
	if (kt->kind == OP_SSH__ECDSA)
		return ecdsa_check(&kp, sig, data, len);
	return rsa_check(&kp, alg, sig, sig_len, data, len);
}
