/* SSHSIG (OpenSSH's PROTOCOL.sshsig): the armor, the signature blob and the check of a
 * signature over a message (see include/outpost/agent/trust/sshsig.h). The blob is read with a
 * bounds-checked reader and decoded completely at parse time, so that verification is
 * only hashing and arithmetic. */
#include "outpost/agent/trust/sshsig.h"

#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <stdlib.h>
#include <string.h>

#define MAGIC "SSHSIG"
#define BEGIN "-----BEGIN SSH SIGNATURE-----"
#define END "-----END SSH SIGNATURE-----"

const char *op_sshsig_hash_name(enum op_sshsig_hash h)
{
	return h == OP_SSHSIG_SHA256 ? "sha256" : h == OP_SSHSIG_SHA512 ? "sha512" : "unknown";
}

void op_sshsig_clear(op_sshsig *s)
{
	if (!s)
		return;
	op_sshkey_clear(&s->key);
	free(s->ns);
	free(s->sig);
	memset(s, 0, sizeof *s);
}

int op_sshsig_parse(op_sshsig *s, const char *armored, size_t len, op_err *e)
{
	memset(s, 0, sizeof *s);
	if (len > OP_SSHSIG_MAX_ARMOR)
		return op_err_set(e, OP_ETOOBIG, "signature of %zu bytes (at most %d)", len,
			OP_SSHSIG_MAX_ARMOR);
	size_t blen = strlen(BEGIN);
	if (len < blen || memcmp(armored, BEGIN, blen) != 0)
		return op_err_set(
			e, OP_EINVAL, "not an SSH signature: it must start with \"" BEGIN "\"");
	const char *p = armored + blen, *end = armored + len;
	if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	else if (end - p >= 1 && p[0] == '\n')
		p += 1;
	else
		return op_err_set(e, OP_EINVAL, "no line end after \"" BEGIN "\"");
	const char *foot = memmem(p - 1, (size_t)(end - (p - 1)), "\n" END, strlen("\n" END));
	if (!foot)
		return op_err_set(e, OP_EINVAL, "missing \"" END "\" line");
	/* What follows the END line is not read: ssh-keygen -Y verify (which git runs)
	 * ignores it, and the signature covers none of it. */
	size_t body = foot > p ? (size_t)(foot - p) : 0;
	unsigned char *blob = malloc(body / 4 * 3 + 3);
	size_t n;
	if (!blob)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (op_base64_decode(p, body, true, blob, body / 4 * 3 + 3, &n) != 0) {
		free(blob);
		return op_err_set(e, OP_EINVAL, "the signature's body is not valid base64");
	}
	int rc = op_sshsig_parse_blob(s, blob, n, e);
	free(blob);
	return rc;
}

static int fail(op_sshsig *s, int rc)
{
	op_sshsig_clear(s);
	return rc;
}

int op_sshsig_parse_blob(op_sshsig *s, const void *blob, size_t len, op_err *e)
{
	op_ssh__rd r = {blob, len};
	const unsigned char *key, *ns, *reserved, *hash, *sig;
	size_t klen, nslen, rlen, hlen, slen;
	uint32_t version;
	char shown[64];
	memset(s, 0, sizeof *s);
	if (len > OP_SSHSIG_MAX_ARMOR)
		return op_err_set(e, OP_ETOOBIG, "signature blob of %zu bytes", len);
	if (len < strlen(MAGIC) || memcmp(blob, MAGIC, strlen(MAGIC)) != 0)
		return op_err_set(e, OP_EINVAL, "signature does not start with \"SSHSIG\"");
	r.p += strlen(MAGIC);
	r.n -= strlen(MAGIC);
	if (op_ssh__u32(&r, &version) != 0)
		return op_err_set(e, OP_EINVAL, "signature truncated in its version");
	if (version != 1)
		return op_err_set(e, OP_EINVAL, "signature version %u (expected 1)", version);
	if (op_ssh__str(&r, &key, &klen) != 0)
		return op_err_set(e, OP_EINVAL, "signature truncated in its public key");
	int rc = op_sshkey_from_blob(&s->key, key, klen, e);
	if (rc)
		return fail(s, rc);
	if (op_ssh__str(&r, &ns, &nslen) != 0 || op_ssh__str(&r, &reserved, &rlen) != 0 ||
		op_ssh__str(&r, &hash, &hlen) != 0 || op_ssh__str(&r, &sig, &slen) != 0)
		return fail(s, op_err_set(e, OP_EINVAL, "signature truncated"));
	if (r.n != 0)
		return fail(s, op_err_set(e, OP_EINVAL, "%zu bytes after the signature", r.n));
	if (nslen > OP_SSHSIG_MAX_NS || memchr(ns, '\0', nslen))
		return fail(s,
			op_err_set(e, OP_EINVAL, "signature namespace is too long or holds a NUL"));
	if (rlen != 0)
		return fail(s, op_err_set(e, OP_EINVAL, "signature's reserved field is not empty"));
	if (op_ssh__str_is(hash, hlen, "sha256"))
		s->hash = OP_SSHSIG_SHA256;
	else if (op_ssh__str_is(hash, hlen, "sha512"))
		s->hash = OP_SSHSIG_SHA512;
	else {
		op_ssh__printable(shown, sizeof shown, hash, hlen);
		return fail(s,
			op_err_set(e, OP_ETRUST,
				"signature hash algorithm \"%s\" is not supported (sha256 or "
				"sha512)",
				shown));
	}
	s->ns = malloc(nslen + 1);
	if (!s->ns)
		return fail(s, op_err_set(e, OP_ENOMEM, "out of memory"));
	memcpy(s->ns, ns, nslen);
	s->ns[nslen] = '\0';
	rc = op_ssh__sig_decode(&s->key, sig, slen, &s->sig_alg, &s->sig, &s->sig_len, e);
	if (rc)
		return fail(s, rc);
	return 0;
}

int op_sshsig_verify(const op_sshsig *s, const char *ns, const void *msg, size_t len, op_err *e)
{
	char shown[64];
	if (!s || !s->sig || !s->ns)
		return op_err_set(e, OP_EINVAL, "no signature to verify");
	if (ns && strcmp(s->ns, ns) != 0) {
		op_ssh__printable(shown, sizeof shown, s->ns, strlen(s->ns));
		return op_err_set(
			e, OP_ETRUST, "signature is for namespace \"%s\", not \"%s\"", shown, ns);
	}
	unsigned char h[64];
	size_t hl = s->hash == OP_SSHSIG_SHA256 ? 32 : 64;
	if (s->hash == OP_SSHSIG_SHA256)
		mbedtls_sha256(msg, len, h, 0);
	else
		mbedtls_sha512(msg, len, h, 0);
	/* The signed data. Like OpenSSH, the reserved field is signed empty. */
	const char *hn = op_sshsig_hash_name(s->hash);
	size_t nsl = strlen(s->ns), hnl = strlen(hn);
	size_t n = strlen(MAGIC) + 4 + nsl + 4 + 4 + hnl + 4 + hl;
	unsigned char *d = malloc(n), *o = d;
	if (!d)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(o, MAGIC, strlen(MAGIC));
	o += strlen(MAGIC);
	const void *parts[] = {s->ns, "", hn, h};
	size_t lens[] = {nsl, 0, hnl, hl};
	for (int i = 0; i < 4; i++) {
		o[0] = (unsigned char)(lens[i] >> 24);
		o[1] = (unsigned char)(lens[i] >> 16);
		o[2] = (unsigned char)(lens[i] >> 8);
		o[3] = (unsigned char)lens[i];
		memcpy(o + 4, parts[i], lens[i]);
		o += 4 + lens[i];
	}
	int bad = op_ssh__sig_check(&s->key, s->sig_alg, s->sig, s->sig_len, d, n);
	free(d);
	if (bad)
		return op_err_set(
			e, OP_ETRUST, "%s signature does not verify over this data", s->sig_alg);
	return 0;
}
