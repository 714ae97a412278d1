/* OpenSSH's binary key revocation lists (PROTOCOL.krl, written by `ssh-keygen -k`), as
 * git's gpg.ssh.revocationFile may hold one. outpost reads what can revoke a key it
 * accepts: explicit public keys and SHA-1 or SHA-256 hashes of key blobs. Sections it
 * cannot use (certificates by serial, key id or CA; a signed KRL) refuse the whole list
 * by name, since a revocation list is read in full or not at all. */
#include "outpost/agent/trust/trust.h"

#include <stdlib.h>
#include <string.h>

#define KRL_MAGIC_LEN 8 /* "SSHKRL\n\0" */
#define KRL_FORMAT 1

enum {
	SECTION_CERTIFICATES = 1,
	SECTION_EXPLICIT_KEY = 2,
	SECTION_SHA1 = 3,
	SECTION_SIGNATURE = 4,
	SECTION_SHA256 = 5
};

static int u64(op_ssh__rd *r)
{
	if (r->n < 8)
		return -1;
	r->p += 8;
	r->n -= 8;
	return 0;
}

/* Appends one item of size sz to *v (holding *n); doubling at powers of two. */
static int grow(void **v, size_t *n, size_t sz)
{
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 8;
		void *w = realloc(*v, cap * sz);
		if (!w)
			return OP_ENOMEM;
		*v = w;
	}
	return 0;
}

static int add_key(op_trust_revoked *r, const unsigned char *blob, size_t len, op_err *e)
{
	op_sshkey k;
	op_err ke = {0};
	int rc = op_sshkey_from_blob(&k, blob, len, &ke);
	if (rc == OP_ETRUST) {
		r->skipped++; /* a key type outpost never accepts a signature from */
		return 0;
	}
	if (rc)
		return op_err_set(e, rc, "%s: revoked key: %s", r->file, ke.msg);
	if (grow((void **)&r->v, &r->n, sizeof *r->v) != 0) {
		op_sshkey_clear(&k);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	r->v[r->n++] = k;
	return 0;
}

static int add_hash(op_trust_revoked *r, int type, const unsigned char *h, size_t len, op_err *e)
{
	size_t want = type == SECTION_SHA1 ? 20 : 32;
	if (len != want)
		return op_err_set(e, OP_EINVAL, "%s: a SHA-%s key hash of %zu bytes (expected %zu)",
			r->file, type == SECTION_SHA1 ? "1" : "256", len, want);
	if (type == SECTION_SHA1) {
		if (grow((void **)&r->sha1, &r->nsha1, sizeof *r->sha1) != 0)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		memcpy(r->sha1[r->nsha1++], h, len);
	} else {
		if (grow((void **)&r->sha256, &r->nsha256, sizeof *r->sha256) != 0)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		memcpy(r->sha256[r->nsha256++], h, len);
	}
	return 0;
}

static int section(op_trust_revoked *r, int type, op_ssh__rd *s, op_err *e)
{
	switch (type) {
	case SECTION_EXPLICIT_KEY:
	case SECTION_SHA1:
	case SECTION_SHA256: break;
	case SECTION_CERTIFICATES:
		return op_err_set(e, OP_EINVAL,
			"%s: the KRL revokes certificates, which outpost cannot read (it accepts "
			"no certificates): revoke the keys themselves (ssh-keygen -k with public "
			"keys or \"hash:\" lines)",
			r->file);
	case SECTION_SIGNATURE:
		return op_err_set(e, OP_EINVAL,
			"%s: signed KRLs are not supported: write it without -s (the file is "
			"the operator's own)",
			r->file);
	default: return op_err_set(e, OP_EINVAL, "%s: unknown KRL section type %d", r->file, type);
	}
	while (s->n > 0) {
		const unsigned char *item;
		size_t len;
		int rc;
		if (op_ssh__str(s, &item, &len) != 0)
			return op_err_set(e, OP_EINVAL, "%s: KRL section truncated", r->file);
		if (r->n + r->skipped + r->nsha1 + r->nsha256 >= OP_TRUST_MAX_ENTRIES)
			return op_err_set(e, OP_ETOOBIG, "%s: more than %d keys", r->file,
				OP_TRUST_MAX_ENTRIES);
		rc = type == SECTION_EXPLICIT_KEY ? add_key(r, item, len, e)
						  : add_hash(r, type, item, len, e);
		if (rc)
			return rc;
	}
	return 0;
}

int op_trust_krl_parse(op_trust_revoked *r, const unsigned char *krl, size_t len, op_err *e)
{
	op_ssh__rd in = {krl, len};
	const unsigned char *skip;
	size_t n;
	uint32_t format;
	if (len < KRL_MAGIC_LEN || memcmp(krl, "SSHKRL\n", KRL_MAGIC_LEN) != 0)
		return op_err_set(e, OP_EINVAL, "%s: not a KRL", r->file);
	in.p += KRL_MAGIC_LEN;
	in.n -= KRL_MAGIC_LEN;
	if (op_ssh__u32(&in, &format) != 0 || u64(&in) != 0 || u64(&in) != 0 || u64(&in) != 0 ||
		op_ssh__str(&in, &skip, &n) != 0 || op_ssh__str(&in, &skip, &n) != 0)
		return op_err_set(e, OP_EINVAL, "%s: KRL header truncated", r->file);
	if (format != KRL_FORMAT)
		return op_err_set(e, OP_EINVAL, "%s: KRL format %u (outpost reads format 1)",
			r->file, format);
	while (in.n > 0) {
		int type = in.p[0];
		op_ssh__rd s;
		in.p++;
		in.n--;
		if (op_ssh__str(&in, &s.p, &s.n) != 0)
			return op_err_set(e, OP_EINVAL, "%s: KRL section truncated", r->file);
		int rc = section(r, type, &s, e);
		if (rc)
			return rc;
	}
	return 0;
}
