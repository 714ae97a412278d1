/* SSH signing for the freshness record (see include/outpost/agent/trust/sshsign.h). */
#include "outpost/agent/trust/sshsign.h"

#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BEGIN "-----BEGIN OPENSSH PRIVATE KEY-----"
#define END "-----END OPENSSH PRIVATE KEY-----"
#define MAGIC "openssh-key-v1"

void op_sshpriv_clear(op_sshpriv *k)
{
	op_sshkey_clear(&k->pub);
	sodium_memzero(k->sk, sizeof k->sk);
}

static int bad(op_err *e, const char *file, const char *what)
{
	return op_err_set(e, OP_EINVAL, "%s: %s", file, what);
}

int op_sshpriv_parse(op_sshpriv *k, const char *file, const char *text, size_t len, op_err *e)
{
	memset(k, 0, sizeof *k);
	const char *b = memmem(text, len, BEGIN, strlen(BEGIN));
	const char *end = b ? memmem(b, len - (size_t)(b - text), END, strlen(END)) : NULL;
	if (!b || !end)
		return bad(e, file, "not an OpenSSH private key (expected " BEGIN ")");
	b += strlen(BEGIN);
	size_t cap = (size_t)(end - b);
	unsigned char *raw = malloc(cap ? cap : 1);
	if (!raw)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	size_t n = 0;
	int rc = 0;
	if (op_base64_decode(b, cap, true, raw, cap, &n) != 0) {
		rc = bad(e, file, "the key's base64 is damaged");
		goto out;
	}
	op_ssh__rd r = {raw, n};
	const unsigned char *cipher, *kdf, *kdfopt, *pubblob, *priv;
	size_t lc, lk, lo, lp, lv;
	uint32_t nkeys;
	if (n < sizeof MAGIC || memcmp(raw, MAGIC, sizeof MAGIC) != 0) {
		rc = bad(e, file, "not an openssh-key-v1 key");
		goto out;
	}
	r.p += sizeof MAGIC;
	r.n -= sizeof MAGIC;
	if (op_ssh__str(&r, &cipher, &lc) || op_ssh__str(&r, &kdf, &lk) ||
		op_ssh__str(&r, &kdfopt, &lo) || op_ssh__u32(&r, &nkeys) ||
		op_ssh__str(&r, &pubblob, &lp) || op_ssh__str(&r, &priv, &lv) || r.n != 0) {
		rc = bad(e, file, "the key file is cut short or has trailing bytes");
		goto out;
	}
	if (!op_ssh__str_is(cipher, lc, "none") || !op_ssh__str_is(kdf, lk, "none")) {
		rc = bad(e, file,
			"the key is encrypted: give an unencrypted key (ssh-keygen -N '')");
		goto out;
	}
	if (nkeys != 1) {
		rc = bad(e, file, "expected exactly one key");
		goto out;
	}
	if ((rc = op_sshkey_from_blob(&k->pub, pubblob, lp, e)) != 0)
		goto out;
	if (k->pub.type != OP_SSHKEY_ED25519) {
		rc = bad(e, file, "only ssh-ed25519 keys can sign freshness records");
		goto out;
	}
	op_ssh__rd p = {priv, lv};
	uint32_t c1, c2;
	const unsigned char *type, *pk, *sk;
	size_t lt, lpk, lsk;
	if (op_ssh__u32(&p, &c1) || op_ssh__u32(&p, &c2) || op_ssh__str(&p, &type, &lt) ||
		op_ssh__str(&p, &pk, &lpk) || op_ssh__str(&p, &sk, &lsk)) {
		rc = bad(e, file, "the private section is cut short");
		goto out;
	}
	if (c1 != c2) {
		rc = bad(e, file, "the check words differ (a damaged or encrypted key)");
		goto out;
	}
	if (!op_ssh__str_is(type, lt, "ssh-ed25519") || lpk != 32 || lsk != 64 ||
		memcmp(sk + 32, pk, 32) != 0 || lp < 32 || memcmp(pubblob + lp - 32, pk, 32) != 0) {
		rc = bad(e, file, "the private key does not match its public key");
		goto out;
	}
	unsigned char derived_pk[32], derived_sk[64];
	if (crypto_sign_seed_keypair(derived_pk, derived_sk, sk) != 0 ||
		memcmp(derived_pk, pk, 32) != 0) {
		sodium_memzero(derived_sk, sizeof derived_sk);
		rc = bad(e, file, "the private key does not match its public key");
		goto out;
	}
	sodium_memzero(derived_sk, sizeof derived_sk);
	memcpy(k->sk, sk, 64);
out:
	sodium_memzero(raw, cap ? cap : 1);
	free(raw);
	if (rc)
		op_sshpriv_clear(k);
	return rc;
}

int op_sshpriv_load(op_sshpriv *k, const char *path, op_err *e)
{
	memset(k, 0, sizeof *k);
	FILE *f = fopen(path, "rb");
	if (!f)
		return op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
	char *buf = malloc(65536 + 1);
	if (!buf) {
		fclose(f);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	size_t n = fread(buf, 1, 65536 + 1, f);
	int err = ferror(f);
	fclose(f);
	int rc = err        ? op_err_set(e, OP_EIO, "%s: read error", path)
		: n > 65536 ? op_err_set(e, OP_ETOOBIG, "%s: larger than 64 KiB", path)
			    : op_sshpriv_parse(k, path, buf, n, e);
	sodium_memzero(buf, 65536 + 1);
	free(buf);
	return rc;
}

/* ---- SSHSIG -------------------------------------------------------------------------- */

typedef struct wbuf {
	unsigned char *p;
	size_t n, cap;
	bool oom;
} wbuf;

static void put(wbuf *w, const void *d, size_t n)
{
	if (w->oom || n == 0) /* nothing to copy, and w->p may still be NULL */
		return;
	if (w->n + n > w->cap) {
		size_t cap = (w->cap + n) * 2;
		unsigned char *p = realloc(w->p, cap);
		if (!p) {
			w->oom = true;
			return;
		}
		w->p = p;
		w->cap = cap;
	}
	memcpy(w->p + w->n, d, n);
	w->n += n;
}

static void put_u32(wbuf *w, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
		(unsigned char)(v >> 8), (unsigned char)v};
	put(w, b, 4);
}

static void put_str(wbuf *w, const void *d, size_t n)
{
	put_u32(w, (uint32_t)n);
	put(w, d, n);
}

int op_sshsig_sign(const op_sshpriv *k, const char *ns, const void *msg, size_t len,
	unsigned char **blob, size_t *blob_len, op_err *e)
{
	*blob = NULL;
	unsigned char h[crypto_hash_sha512_BYTES], sig[crypto_sign_BYTES];
	crypto_hash_sha512(h, msg, len);
	wbuf data = {0}, out = {0}, s = {0};
	put(&data, "SSHSIG", 6);
	put_str(&data, ns, strlen(ns));
	put_str(&data, "", 0);
	put_str(&data, "sha512", 6);
	put_str(&data, h, sizeof h);
	int rc = 0;
	if (data.oom || crypto_sign_detached(sig, NULL, data.p, data.n, k->sk) != 0) {
		rc = op_err_set(e, OP_ENOMEM, "cannot sign");
		goto done;
	}
	put_str(&s, "ssh-ed25519", 11);
	put_str(&s, sig, sizeof sig);
	put(&out, "SSHSIG", 6);
	put_u32(&out, 1);
	put_str(&out, k->pub.blob, k->pub.blob_len);
	put_str(&out, ns, strlen(ns));
	put_str(&out, "", 0);
	put_str(&out, "sha512", 6);
	put_str(&out, s.p, s.n);
	if (s.oom || out.oom) {
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
		goto done;
	}
	*blob = out.p;
	*blob_len = out.n;
	out.p = NULL;
done:
	free(data.p);
	free(s.p);
	free(out.p);
	return rc;
}

/* ---- new keys ------------------------------------------------------------------------ */

int op_sshpriv_generate(op_sshpriv *k, op_err *e)
{
	memset(k, 0, sizeof *k);
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
	if (sodium_init() < 0 || crypto_sign_keypair(pk, k->sk) != 0)
		return op_err_set(e, OP_ENOMEM, "libsodium cannot make a key");
	wbuf b = {0};
	put_str(&b, "ssh-ed25519", 11);
	put_str(&b, pk, sizeof pk);
	int rc = b.oom ? op_err_set(e, OP_ENOMEM, "out of memory")
		       : op_sshkey_from_blob(&k->pub, b.p, b.n, e);
	free(b.p);
	if (rc)
		op_sshpriv_clear(k);
	return rc;
}

static char *b64(const unsigned char *in, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(n);
	if (out)
		sodium_bin2base64(out, n, in, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

char *op_sshpriv_public_line(const op_sshpriv *k, const char *comment)
{
	char *key = b64(k->pub.blob, k->pub.blob_len), *line = NULL;
	if (key && asprintf(&line, "ssh-ed25519 %s %s\n", key, comment) < 0)
		line = NULL;
	free(key);
	return line;
}

/* Appends len bytes of s to out (cap bytes, *used of them taken, NUL-terminated):
 * false, and nothing appended, when they do not fit. */
static bool append(char *out, size_t cap, size_t *used, const char *s, size_t len)
{
	if (len >= cap - *used)
		return false;
	memcpy(out + *used, s, len);
	*used += len;
	out[*used] = '\0';
	return true;
}

char *op_sshpriv_format(const op_sshpriv *k, const char *comment)
{
	wbuf priv = {0}, all = {0};
	uint32_t check;
	randombytes_buf(&check, sizeof check);
	put_u32(&priv, check);
	put_u32(&priv, check);
	put_str(&priv, "ssh-ed25519", 11);
	put_str(&priv, k->sk + 32, 32);
	put_str(&priv, k->sk, 64);
	put_str(&priv, comment, strlen(comment));
	for (unsigned char pad = 1; priv.n % 8; pad++)
		put(&priv, &pad, 1);
	put(&all, MAGIC, sizeof MAGIC);
	put_str(&all, "none", 4);
	put_str(&all, "none", 4);
	put_str(&all, "", 0);
	put_u32(&all, 1);
	put_str(&all, k->pub.blob, k->pub.blob_len);
	put_str(&all, priv.p, priv.n);
	char *body = priv.oom || all.oom ? NULL : b64(all.p, all.n), *out = NULL;
	size_t n = body ? strlen(body) : 0, cap = n + n / 70 + 128, used = 0;
	if (body && (out = malloc(cap)) != NULL) {
		bool fits = append(out, cap, &used, BEGIN "\n", strlen(BEGIN "\n"));
		for (size_t i = 0; fits && i < n; i += 70)
			fits = append(out, cap, &used, body + i, n - i < 70 ? n - i : 70) &&
				append(out, cap, &used, "\n", 1);
		if (!fits || !append(out, cap, &used, END "\n", strlen(END "\n"))) {
			free(out); /* cannot happen: cap counts every byte */
			out = NULL;
		}
	}
	if (priv.p)
		sodium_memzero(priv.p, priv.cap);
	if (all.p)
		sodium_memzero(all.p, all.cap);
	if (body)
		sodium_memzero(body, n);
	free(priv.p);
	free(all.p);
	free(body);
	return out;
}
