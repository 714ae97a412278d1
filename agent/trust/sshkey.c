/* SSH public keys (see include/outpost/agent/trust/sshsig.h): wire blobs, their text form
 * and fingerprints. A key is decoded once, validated (curve point, RSA size) and
 * re-encoded canonically, so that equality is a byte comparison and a key that parses
 * is a key that can verify. Each key type is one row of a table; the signature code is
 * in sshkey_sig.c (and sshsk.c for FIDO keys). */
#include "sshkey_int.h"

#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSA_MIN_BITS 1024 /* OpenSSH's SSH_RSA_MINIMUM_MODULUS_SIZE */
#define RSA_MAX_BITS 8192 /* mbedtls' MBEDTLS_MPI_MAX_SIZE */
#define SUPPORTED \
	"ssh-ed25519, ecdsa-sha2-nistp256/384/521, ssh-rsa, sk-ssh-ed25519@openssh.com, " \
	"sk-ecdsa-sha2-nistp256@openssh.com"

static const op_ssh__ktype ktypes[] = {
	{OP_SSHKEY_ED25519, "ssh-ed25519", OP_SSH__ED25519, NULL, 0, 32, 0, false},
	{OP_SSHKEY_ECDSA_P256, "ecdsa-sha2-nistp256", OP_SSH__ECDSA, "nistp256",
		MBEDTLS_ECP_DP_SECP256R1, 65, 32, false},
	{OP_SSHKEY_RSA, "ssh-rsa", OP_SSH__RSA, NULL, 0, 0, 0, false},
	{OP_SSHKEY_ECDSA_P384, "ecdsa-sha2-nistp384", OP_SSH__ECDSA, "nistp384",
		MBEDTLS_ECP_DP_SECP384R1, 97, 48, false},
	{OP_SSHKEY_ECDSA_P521, "ecdsa-sha2-nistp521", OP_SSH__ECDSA, "nistp521",
		MBEDTLS_ECP_DP_SECP521R1, 133, 66, false},
	{OP_SSHKEY_SK_ED25519, "sk-ssh-ed25519@openssh.com", OP_SSH__ED25519, NULL, 0, 32, 0, true},
	{OP_SSHKEY_SK_ECDSA_P256, "sk-ecdsa-sha2-nistp256@openssh.com", OP_SSH__ECDSA, "nistp256",
		MBEDTLS_ECP_DP_SECP256R1, 65, 32, true},
};

const op_ssh__ktype *op_ssh__ktype_of(enum op_sshkey_type t)
{
	for (size_t i = 0; i < sizeof ktypes / sizeof *ktypes; i++)
		if (ktypes[i].type == t)
			return &ktypes[i];
	return NULL;
}

static const op_ssh__ktype *ktype_by_name(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < sizeof ktypes / sizeof *ktypes; i++)
		if (op_ssh__str_is(s, n, ktypes[i].name))
			return &ktypes[i];
	return NULL;
}

int op_ssh__mpint(op_ssh__rd *r, const unsigned char **m, size_t *len)
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
	const op_ssh__ktype *kt = op_ssh__ktype_of(t);
	return kt ? kt->name : "unknown";
}

bool op_sshkey_type_known(const char *name, size_t len)
{
	static const char *const known[] = {"ssh-dss", "ssh-ed448", "ssh-xmss@openssh.com",
		"webauthn-sk-ecdsa-sha2-nistp256@openssh.com"};
	static const char cert[] = "-cert-v01@openssh.com";
	if (ktype_by_name((const unsigned char *)name, len))
		return true;
	for (size_t i = 0; i < sizeof known / sizeof *known; i++)
		if (op_ssh__str_is((const unsigned char *)name, len, known[i]))
			return true;
	return len > sizeof cert - 1 &&
		memcmp(name + len - (sizeof cert - 1), cert, sizeof cert - 1) == 0;
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

static int decode_rsa(op_ssh__parts *k, op_ssh__rd *r, op_err *e)
{
	if (op_ssh__mpint(r, &k->a, &k->alen) != 0 || op_ssh__mpint(r, &k->b, &k->blen) != 0)
		return op_err_set(
			e, OP_EINVAL, "ssh-rsa key blob truncated or holds a negative number");
	size_t bits = bitlen(k->b, k->blen);
	if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
		return op_err_set(e, OP_ETRUST,
			"ssh-rsa key of %zu bits (outpost accepts %d to %d)", bits, RSA_MIN_BITS,
			RSA_MAX_BITS);
	/* A huge exponent would make every verification slow: like Go's x/crypto/ssh,
	 * refuse what no ssh-keygen makes (65537 is usual). */
	if (k->alen == 0 || k->alen > 4 || !(k->a[k->alen - 1] & 1) ||
		(k->alen == 1 && k->a[0] < 3))
		return op_err_set(e, OP_ETRUST,
			"ssh-rsa key exponent must be odd, at least 3 and at most 32 bits");
	return 0;
}

int op_ssh__decode_key(op_ssh__parts *k, const unsigned char *blob, size_t len, op_err *e)
{
	op_ssh__rd r = {blob, len};
	const unsigned char *name, *curve;
	size_t nlen, clen;
	char shown[64];
	int rc;
	memset(k, 0, sizeof *k);
	if (len > OP_SSHKEY_MAX_BLOB)
		return op_err_set(e, OP_ETOOBIG, "public key blob of %zu bytes (at most %d)", len,
			OP_SSHKEY_MAX_BLOB);
	if (op_ssh__str(&r, &name, &nlen) != 0)
		return op_err_set(e, OP_EINVAL, "public key blob truncated in its key type");
	const op_ssh__ktype *kt = k->kt = ktype_by_name(name, nlen);
	if (!kt) {
		op_ssh__printable(shown, sizeof shown, name, nlen);
		if (op_sshkey_type_known((const char *)name, nlen))
			return op_err_set(e, OP_ETRUST,
				"key type %s is not supported (" SUPPORTED ")", shown);
		return op_err_set(e, OP_EINVAL, "unknown key type \"%s\"", shown);
	}
	switch (kt->kind) {
	case OP_SSH__ED25519:
		if (op_ssh__str(&r, &k->a, &k->alen) != 0)
			return op_err_set(e, OP_EINVAL, "%s key blob truncated", kt->name);
		if (k->alen != kt->point)
			return op_err_set(e, OP_EINVAL, "%s public key of %zu bytes (expected 32)",
				kt->name, k->alen);
		break;
	case OP_SSH__ECDSA:
		if (op_ssh__str(&r, &curve, &clen) != 0 || op_ssh__str(&r, &k->a, &k->alen) != 0)
			return op_err_set(e, OP_EINVAL, "%s key blob truncated", kt->name);
		if (!op_ssh__str_is(curve, clen, kt->curve))
			return op_err_set(e, OP_EINVAL, "%s key names another curve than %s",
				kt->name, kt->curve);
		if (k->alen != kt->point || k->a[0] != 0x04)
			return op_err_set(
				e, OP_EINVAL, "%s key is not an uncompressed point", kt->name);
		break;
	case OP_SSH__RSA:
		if ((rc = decode_rsa(k, &r, e)) != 0)
			return rc;
		break;
	}
	if (kt->sk &&
		(op_ssh__str(&r, &k->app, &k->applen) != 0 || memchr(k->app, '\0', k->applen)))
		return op_err_set(e, OP_EINVAL, "%s key has no application string", kt->name);
	if (r.n != 0)
		return op_err_set(e, OP_EINVAL, "%zu bytes after the %s public key", r.n, kt->name);
	if (op_ssh__key_valid(k) != 0)
		return op_err_set(e, OP_EINVAL, "%s public key is not a valid key", kt->name);
	return 0;
}

int op_sshkey_from_blob(op_sshkey *k, const void *blob, size_t len, op_err *e)
{
	op_ssh__parts p;
	memset(k, 0, sizeof *k);
	int rc = op_ssh__decode_key(&p, blob, len, e);
	if (rc)
		return rc;
	const op_ssh__ktype *kt = p.kt;
	size_t n = 4 + strlen(kt->name) + 4 + 1 + p.alen + (p.b ? 4 + 1 + p.blen : 0) +
		(kt->curve ? 4 + strlen(kt->curve) : 0) + (kt->sk ? 4 + p.applen : 0);
	unsigned char *out = malloc(n), *o = out;
	if (!out)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	o = put_str(o, kt->name, strlen(kt->name));
	if (kt->kind == OP_SSH__RSA) {
		o = put_mpint(o, p.a, p.alen);
		o = put_mpint(o, p.b, p.blen);
	} else {
		if (kt->curve)
			o = put_str(o, kt->curve, strlen(kt->curve));
		o = put_str(o, p.a, p.alen);
	}
	if (kt->sk)
		o = put_str(o, p.app, p.applen);
	k->type = kt->type;
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
	const op_ssh__ktype *kt = ktype_by_name((const unsigned char *)text + t0, t1 - t0);
	if (!kt) {
		if (op_sshkey_type_known(text + t0, t1 - t0))
			return op_err_set(e, OP_ETRUST,
				"key type %s is not supported (" SUPPORTED ")", shown);
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
	if (k->type != kt->type) {
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
