/* SSH public keys (see include/outpost/agent/trust/sshsig.h): wire blobs, their text form,
 * fingerprints, and the per-key-type signature blob and arithmetic. A key is decoded
 * once, validated (curve point, RSA size) and re-encoded canonically, so that equality
 * is a byte comparison and a key that parses is a key that can verify. */
#include "outpost/agent/trust/sshsig.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/rsa.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ED25519_PK 32
#define ED25519_SIG 64
#define P256_POINT 65 /* 0x04 || X || Y */
#define P256_SCALAR 32
#define RSA_MIN_BITS 1024 /* OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE */
#define RSA_MAX_BITS 8192 /* mbedtls' MBEDTLS_MPI_MAX_SIZE */

/* An SSH mpint holding a non-negative number: its magnitude without leading zeros. */
static int rd_mpint(op_ssh__rd *r, const unsigned char **m, size_t *len)
{
	const unsigned char *p;
	size_t n;
	if (op_ssh__str(r, &p, &n) != 0)
		return -1;
	if (n > 0 && (p[0] & 0x80))
		return -1; /* negative */
	while (n > 0 && p[0] == 0) {
		p++;
		n--;
	}
	*m = p;
	*len = n;
	return 0;
}

/* ---- wire writing (into a buffer sized beforehand) ---------------------------------- */

static unsigned char *put_u32(unsigned char *o, size_t v)
{
	o[0] = (unsigned char)(v >> 24);
	o[1] = (unsigned char)(v >> 16);
	o[2] = (unsigned char)(v >> 8);
	o[3] = (unsigned char)v;
	return o + 4;
}

static unsigned char *put_str(unsigned char *o, const void *s, size_t n)
{
	o = put_u32(o, n);
	memcpy(o, s, n);
	return o + n;
}

/* A magnitude as a minimal mpint: a zero byte first when its top bit is set. */
static unsigned char *put_mpint(unsigned char *o, const unsigned char *m, size_t n)
{
	bool pad = n > 0 && (m[0] & 0x80);
	o = put_u32(o, n + pad);
	if (pad)
		*o++ = 0;
	memcpy(o, m, n);
	return o + n;
}

/* ---- key types -------------------------------------------------------------------- */

const char *op_sshkey_type_name(enum op_sshkey_type t)
{
	switch (t) {
	case OP_SSHKEY_ED25519: return "ssh-ed25519";
	case OP_SSHKEY_ECDSA_P256: return "ecdsa-sha2-nistp256";
	case OP_SSHKEY_RSA: return "ssh-rsa";
	}
	return "unknown";
}

static enum op_sshkey_type type_by_name(const unsigned char *s, size_t n)
{
	for (int t = OP_SSHKEY_ED25519; t <= OP_SSHKEY_RSA; t++)
		if (op_ssh__str_is(s, n, op_sshkey_type_name((enum op_sshkey_type)t)))
			return (enum op_sshkey_type)t;
	return 0;
}

bool op_sshkey_type_known(const char *name, size_t len)
{
	static const char *const known[] = {"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa",
		"ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "ssh-dss",
		"sk-ecdsa-sha2-nistp256@openssh.com", "sk-ssh-ed25519@openssh.com", "ssh-ed448",
		"ssh-xmss@openssh.com"};
	static const char cert[] = "-cert-v01@openssh.com";
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (op_ssh__str_is((const unsigned char *)name, len, known[i]))
			return true;
	return len > sizeof cert - 1 &&
		memcmp(name + len - (sizeof cert - 1), cert, sizeof cert - 1) == 0;
}

/* The mbedtls objects of a key, for checks and verification. */
typedef struct key_ctx {
	mbedtls_ecp_group grp;
	mbedtls_ecp_point q;
	mbedtls_rsa_context rsa;
	int kind;
} key_ctx;

static void ctx_clear(key_ctx *c)
{
	if (c->kind == OP_SSHKEY_ECDSA_P256) {
		mbedtls_ecp_point_free(&c->q);
		mbedtls_ecp_group_free(&c->grp);
	} else if (c->kind == OP_SSHKEY_RSA) {
		mbedtls_rsa_free(&c->rsa);
	}
	c->kind = 0;
}

/* Fields of a decoded key blob, pointing into it. */
typedef struct key_parts {
	enum op_sshkey_type type;
	const unsigned char *a; /* ed25519 pk; ecdsa point; rsa e */
	size_t alen;
	const unsigned char *b; /* rsa n */
	size_t blen;
} key_parts;

static int ctx_load(key_ctx *c, const key_parts *k)
{
	c->kind = 0;
	if (k->type == OP_SSHKEY_ECDSA_P256) {
		mbedtls_ecp_group_init(&c->grp);
		mbedtls_ecp_point_init(&c->q);
		c->kind = OP_SSHKEY_ECDSA_P256;
		if (mbedtls_ecp_group_load(&c->grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
			mbedtls_ecp_point_read_binary(&c->grp, &c->q, k->a, k->alen) != 0 ||
			mbedtls_ecp_check_pubkey(&c->grp, &c->q) != 0)
			return -1;
	} else if (k->type == OP_SSHKEY_RSA) {
		mbedtls_rsa_init(&c->rsa);
		c->kind = OP_SSHKEY_RSA;
		if (mbedtls_rsa_import_raw(&c->rsa, k->b, k->blen, NULL, 0, NULL, 0, NULL, 0, k->a,
			    k->alen) != 0 ||
			mbedtls_rsa_complete(&c->rsa) != 0 ||
			mbedtls_rsa_check_pubkey(&c->rsa) != 0)
			return -1;
	}
	return 0;
}

static size_t bitlen(const unsigned char *m, size_t n)
{
	if (n == 0)
		return 0;
	size_t bits = (n - 1) * 8;
	for (unsigned char top = m[0]; top; top >>= 1)
		bits++;
	return bits;
}

/* Decodes a blob into parts without allocating; e says what is wrong. */
static int decode_blob(key_parts *k, const unsigned char *blob, size_t len, op_err *e)
{
	op_ssh__rd r = {blob, len};
	const unsigned char *name, *curve;
	size_t nlen, clen;
	char shown[64];
	memset(k, 0, sizeof *k);
	if (len > OP_SSHKEY_MAX_BLOB)
		return op_err_set(e, OP_ETOOBIG, "public key blob of %zu bytes (at most %d)", len,
			OP_SSHKEY_MAX_BLOB);
	if (op_ssh__str(&r, &name, &nlen) != 0)
		return op_err_set(e, OP_EINVAL, "public key blob truncated in its key type");
	k->type = type_by_name(name, nlen);
	if (!k->type) {
		op_ssh__printable(shown, sizeof shown, name, nlen);
		if (op_sshkey_type_known((const char *)name, nlen))
			return op_err_set(e, OP_ETRUST,
				"key type %s is not supported (ssh-ed25519, ecdsa-sha2-nistp256, "
				"ssh-rsa)",
				shown);
		return op_err_set(e, OP_EINVAL, "unknown key type \"%s\"", shown);
	}
	switch (k->type) {
	case OP_SSHKEY_ED25519:
		if (op_ssh__str(&r, &k->a, &k->alen) != 0)
			return op_err_set(e, OP_EINVAL, "ssh-ed25519 key blob truncated");
		if (k->alen != ED25519_PK)
			return op_err_set(e, OP_EINVAL,
				"ssh-ed25519 public key of %zu bytes (expected 32)", k->alen);
		break;
	case OP_SSHKEY_ECDSA_P256:
		if (op_ssh__str(&r, &curve, &clen) != 0 || op_ssh__str(&r, &k->a, &k->alen) != 0)
			return op_err_set(e, OP_EINVAL, "ecdsa-sha2-nistp256 key blob truncated");
		if (!op_ssh__str_is(curve, clen, "nistp256"))
			return op_err_set(e, OP_EINVAL,
				"ecdsa-sha2-nistp256 key names another curve than nistp256");
		if (k->alen != P256_POINT || k->a[0] != 0x04)
			return op_err_set(e, OP_EINVAL,
				"ecdsa-sha2-nistp256 key is not an uncompressed point");
		break;
	case OP_SSHKEY_RSA:
		if (rd_mpint(&r, &k->a, &k->alen) != 0 || rd_mpint(&r, &k->b, &k->blen) != 0)
			return op_err_set(e, OP_EINVAL,
				"ssh-rsa key blob truncated or holds a negative number");
		size_t bits = bitlen(k->b, k->blen);
		if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
			return op_err_set(e, OP_ETRUST,
				"ssh-rsa key of %zu bits (outpost accepts %d to %d)", bits,
				RSA_MIN_BITS, RSA_MAX_BITS);
		/* A huge exponent would make every verification slow: like Go's x/crypto/ssh,
		 * refuse what no ssh-keygen makes (65537 is usual). */
		if (k->alen == 0 || k->alen > 4 || !(k->a[k->alen - 1] & 1) ||
			(k->alen == 1 && k->a[0] < 3))
			return op_err_set(e, OP_ETRUST,
				"ssh-rsa key exponent must be odd, at least 3 and at most 32 bits");
		break;
	}
	if (r.n != 0)
		return op_err_set(e, OP_EINVAL, "%zu bytes after the %s public key", r.n,
			op_sshkey_type_name(k->type));
	key_ctx c;
	int bad = ctx_load(&c, k);
	ctx_clear(&c);
	if (bad)
		return op_err_set(e, OP_EINVAL, "%s public key is not a valid key",
			op_sshkey_type_name(k->type));
	return 0;
}

static int decode_key(const op_sshkey *k, key_parts *parts)
{
	return decode_blob(parts, k->blob, k->blob_len, NULL);
}

int op_sshkey_from_blob(op_sshkey *k, const void *blob, size_t len, op_err *e)
{
	key_parts p;
	memset(k, 0, sizeof *k);
	int rc = decode_blob(&p, blob, len, e);
	if (rc)
		return rc;
	const char *name = op_sshkey_type_name(p.type);
	size_t n = 4 + strlen(name);
	if (p.type == OP_SSHKEY_ED25519)
		n += 4 + p.alen;
	else if (p.type == OP_SSHKEY_ECDSA_P256)
		n += 4 + strlen("nistp256") + 4 + p.alen;
	else
		n += 4 + 1 + p.alen + 4 + 1 + p.blen;
	unsigned char *out = malloc(n), *o = out;
	if (!out)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	o = put_str(o, name, strlen(name));
	if (p.type == OP_SSHKEY_ED25519) {
		o = put_str(o, p.a, p.alen);
	} else if (p.type == OP_SSHKEY_ECDSA_P256) {
		o = put_str(o, "nistp256", strlen("nistp256"));
		o = put_str(o, p.a, p.alen);
	} else {
		o = put_mpint(o, p.a, p.alen);
		o = put_mpint(o, p.b, p.blen);
	}
	k->type = p.type;
	k->blob = out;
	k->blob_len = (size_t)(o - out);
	return 0;
}

/* ---- text form ------------------------------------------------------------------------ */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

int op_sshkey_parse_text(op_sshkey *k, const char *text, size_t len, size_t *used, op_err *e)
{
	char shown[64];
	size_t i = 0, t0, t1, b0, b1;
	memset(k, 0, sizeof *k);
	while (i < len && blank(text[i]))
		i++;
	for (t0 = i; i < len && !blank(text[i]) && text[i] != '\r' && text[i] != '\n'; i++)
		;
	t1 = i;
	if (t1 == t0)
		return op_err_set(e, OP_EINVAL, "missing key (expected: keytype base64-key)");
	op_ssh__printable(shown, sizeof shown, text + t0, t1 - t0);
	enum op_sshkey_type want = type_by_name((const unsigned char *)text + t0, t1 - t0);
	if (!want) {
		if (op_sshkey_type_known(text + t0, t1 - t0))
			return op_err_set(e, OP_ETRUST,
				"key type %s is not supported (ssh-ed25519, ecdsa-sha2-nistp256, "
				"ssh-rsa)",
				shown);
		return op_err_set(e, OP_EINVAL, "unknown key type \"%s\"", shown);
	}
	while (i < len && blank(text[i]))
		i++;
	for (b0 = i; i < len && !blank(text[i]) && text[i] != '\r' && text[i] != '\n'; i++)
		;
	b1 = i;
	if (b1 == b0)
		return op_err_set(e, OP_EINVAL, "missing base64 key after %s", shown);
	if (b1 - b0 > (OP_SSHKEY_MAX_BLOB / 3 + 1) * 4)
		return op_err_set(e, OP_ETOOBIG, "%s key text is too long", shown);
	unsigned char blob[OP_SSHKEY_MAX_BLOB];
	size_t blen;
	if (op_base64_decode(text + b0, b1 - b0, false, blob, sizeof blob, &blen) != 0)
		return op_err_set(e, OP_EINVAL, "%s key is not valid base64", shown);
	int rc = op_sshkey_from_blob(k, blob, blen, e);
	if (rc)
		return rc;
	if (k->type != want) {
		enum op_sshkey_type got = k->type;
		op_sshkey_clear(k);
		return op_err_set(e, OP_EINVAL, "key text says %s but the key is %s", shown,
			op_sshkey_type_name(got));
	}
	if (used)
		*used = b1;
	return 0;
}

int op_sshkey_parse_line(op_sshkey *k, const char *line, size_t len, op_err *e)
{
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\n', len) || memchr(line, '\0', len)) {
		memset(k, 0, sizeof *k);
		return op_err_set(e, OP_EINVAL, "public key line holds a line break or NUL");
	}
	size_t used;
	int rc = op_sshkey_parse_text(k, line, len, &used, e);
	if (rc)
		return rc;
	if (used < len && !blank(line[used])) {
		op_sshkey_clear(k);
		return op_err_set(e, OP_EINVAL, "no blank between the key and its comment");
	}
	return 0;
}

bool op_sshkey_equal(const op_sshkey *a, const op_sshkey *b)
{
	return a && b && a->blob && b->blob && a->type == b->type && a->blob_len == b->blob_len &&
		memcmp(a->blob, b->blob, a->blob_len) == 0;
}

int op_sshkey_copy(op_sshkey *dst, const op_sshkey *src, op_err *e)
{
	memset(dst, 0, sizeof *dst);
	dst->blob = malloc(src->blob_len ? src->blob_len : 1);
	if (!dst->blob)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(dst->blob, src->blob, src->blob_len);
	dst->blob_len = src->blob_len;
	dst->type = src->type;
	return 0;
}

void op_sshkey_fingerprint(const op_sshkey *k, char fp[OP_SSHKEY_FP_LEN])
{
	unsigned char h[32];
	if (!k || !k->blob) {
		fp[0] = '\0';
		return;
	}
	mbedtls_sha256(k->blob, k->blob_len, h, 0);
	memcpy(fp, "SHA256:", 7);
	op_ssh__b64_nopad(h, sizeof h, fp + 7, OP_SSHKEY_FP_LEN - 7);
}

void op_sshkey_clear(op_sshkey *k)
{
	if (!k)
		return;
	free(k->blob);
	memset(k, 0, sizeof *k);
}

/* ---- signature blobs and arithmetic --------------------------------------------------- */

/* Copies a magnitude right-aligned into a zeroed field of width w. */
static int put_right(unsigned char *out, size_t w, const unsigned char *m, size_t n)
{
	if (n > w)
		return -1;
	memset(out, 0, w - n);
	memcpy(out + w - n, m, n);
	return 0;
}

int op_ssh__sig_decode(const op_sshkey *k, const unsigned char *blob, size_t len, const char **alg,
	unsigned char **sig, size_t *sig_len, op_err *e)
{
	op_ssh__rd r = {blob, len};
	const unsigned char *name, *data;
	size_t nlen, dlen;
	char shown[64];
	key_parts kp;
	*sig = NULL;
	if (decode_key(k, &kp) != 0)
		return op_err_set(e, OP_EINVAL, "bad key");
	if (op_ssh__str(&r, &name, &nlen) != 0 || op_ssh__str(&r, &data, &dlen) != 0)
		return op_err_set(e, OP_EINVAL, "signature blob truncated");
	if (r.n != 0)
		return op_err_set(e, OP_EINVAL, "%zu bytes after the signature blob", r.n);
	op_ssh__printable(shown, sizeof shown, name, nlen);
	size_t w;
	if (k->type == OP_SSHKEY_ED25519) {
		if (!op_ssh__str_is(name, nlen, "ssh-ed25519"))
			goto mismatch;
		*alg = "ssh-ed25519";
		if (dlen != ED25519_SIG)
			return op_err_set(e, OP_EINVAL,
				"ssh-ed25519 signature of %zu bytes (expected 64)", dlen);
		w = ED25519_SIG;
	} else if (k->type == OP_SSHKEY_ECDSA_P256) {
		if (!op_ssh__str_is(name, nlen, "ecdsa-sha2-nistp256"))
			goto mismatch;
		*alg = "ecdsa-sha2-nistp256";
		w = 2 * P256_SCALAR;
	} else {
		if (op_ssh__str_is(name, nlen, "ssh-rsa"))
			return op_err_set(e, OP_ETRUST,
				"RSA signature algorithm ssh-rsa (SHA-1) is refused: sign with "
				"rsa-sha2-512 or rsa-sha2-256 (ssh-keygen -Y sign does)");
		if (op_ssh__str_is(name, nlen, "rsa-sha2-256"))
			*alg = "rsa-sha2-256";
		else if (op_ssh__str_is(name, nlen, "rsa-sha2-512"))
			*alg = "rsa-sha2-512";
		else
			goto mismatch;
		w = kp.blen; /* the modulus size in bytes */
		/* Like OpenSSH, a signature shorter than the modulus is left-padded. */
		if (dlen > w)
			return op_err_set(e, OP_EINVAL,
				"RSA signature of %zu bytes is longer than the %zu-byte modulus",
				dlen, w);
	}
	unsigned char *out = malloc(w);
	if (!out)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (k->type == OP_SSHKEY_ECDSA_P256) {
		op_ssh__rd in = {data, dlen};
		const unsigned char *rm, *sm;
		size_t rl, sl;
		if (rd_mpint(&in, &rm, &rl) != 0 || rd_mpint(&in, &sm, &sl) != 0 || in.n != 0 ||
			put_right(out, P256_SCALAR, rm, rl) != 0 ||
			put_right(out + P256_SCALAR, P256_SCALAR, sm, sl) != 0) {
			free(out);
			return op_err_set(e, OP_EINVAL,
				"ecdsa-sha2-nistp256 signature is not two 256-bit numbers");
		}
	} else {
		put_right(out, w, data, dlen);
	}
	*sig = out;
	*sig_len = w;
	return 0;
mismatch:
	if (type_by_name(name, nlen) || op_ssh__str_is(name, nlen, "rsa-sha2-256") ||
		op_ssh__str_is(name, nlen, "rsa-sha2-512"))
		return op_err_set(e, OP_EINVAL, "signature algorithm %s does not fit a %s key",
			shown, op_sshkey_type_name(k->type));
	return op_err_set(e, OP_ETRUST, "signature algorithm \"%s\" is not supported", shown);
}

int op_ssh__sig_check(const op_sshkey *k, const char *alg, const unsigned char *sig, size_t sig_len,
	const unsigned char *data, size_t len)
{
	key_parts kp;
	if (decode_key(k, &kp) != 0)
		return -1;
	if (k->type == OP_SSHKEY_ED25519) {
		if (sig_len != ED25519_SIG || sodium_init() < 0)
			return -1;
		return crypto_sign_ed25519_verify_detached(sig, data, len, kp.a) == 0 ? 0 : -1;
	}
	key_ctx c;
	int ok = -1;
	if (ctx_load(&c, &kp) != 0)
		goto out;
	if (k->type == OP_SSHKEY_ECDSA_P256) {
		unsigned char h[32];
		mbedtls_mpi r, s;
		if (sig_len != 2 * P256_SCALAR)
			goto out;
		mbedtls_sha256(data, len, h, 0);
		mbedtls_mpi_init(&r);
		mbedtls_mpi_init(&s);
		if (mbedtls_mpi_read_binary(&r, sig, P256_SCALAR) == 0 &&
			mbedtls_mpi_read_binary(&s, sig + P256_SCALAR, P256_SCALAR) == 0 &&
			mbedtls_ecdsa_verify(&c.grp, h, sizeof h, &c.q, &r, &s) == 0)
			ok = 0;
		mbedtls_mpi_free(&r);
		mbedtls_mpi_free(&s);
	} else {
		unsigned char h[64];
		bool s512 = strcmp(alg, "rsa-sha2-512") == 0;
		if (sig_len != mbedtls_rsa_get_len(&c.rsa))
			goto out;
		if (s512)
			mbedtls_sha512(data, len, h, 0);
		else
			mbedtls_sha256(data, len, h, 0);
		if (mbedtls_rsa_pkcs1_verify(&c.rsa, s512 ? MBEDTLS_MD_SHA512 : MBEDTLS_MD_SHA256,
			    s512 ? 64 : 32, h, sig) == 0)
			ok = 0;
	}
out:
	ctx_clear(&c);
	return ok;
}
