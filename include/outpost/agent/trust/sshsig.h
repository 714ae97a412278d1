/* SSH signatures: OpenSSH's SSHSIG format (PROTOCOL.sshsig), the public keys it carries
 * (PROTOCOL.key, RFC 4253 6.6) and git's commit signatures (the `gpgsig` header).
 *
 * Pure functions over bytes: no I/O, no clock, no globals. Every length field of the
 * input is checked before it is used, because signatures arrive from anyone who can
 * push. Supported: ssh-ed25519 (libsodium), ecdsa-sha2-nistp256, -nistp384 and -nistp521
 * (mbedtls), ssh-rsa keys of 1024..8192 bits with rsa-sha2-256 or rsa-sha2-512
 * signatures (mbedtls, PKCS#1 v1.5), and FIDO keys sk-ssh-ed25519@openssh.com and
 * sk-ecdsa-sha2-nistp256@openssh.com (PROTOCOL.u2f; judged as ssh-keygen -Y verify
 * judges them: the user-presence flag is not required). Refused by name: SHA-1 "ssh-rsa"
 * signatures, hash algorithms other than sha256 and sha512, and every other key type
 * (DSA, ed448, webauthn signatures, certificates).
 *
 * Errors: OP_EINVAL for malformed input, OP_ETRUST for a well-formed signature or key
 * that outpost refuses (unsupported algorithm, bad signature, wrong namespace),
 * OP_ETOOBIG past a size cap, OP_ENOMEM. Every struct here is zeroed by its _free. */
#ifndef OUTPOST_SSHSIG_H
#define OUTPOST_SSHSIG_H

#include "outpost/agent/base/err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- public keys ------------------------------------------------------------------ */

enum op_sshkey_type {
	OP_SSHKEY_ED25519 = 1,
	OP_SSHKEY_ECDSA_P256,
	OP_SSHKEY_RSA,
	OP_SSHKEY_ECDSA_P384,
	OP_SSHKEY_ECDSA_P521,
	OP_SSHKEY_SK_ED25519, /* sk-ssh-ed25519@openssh.com */
	OP_SSHKEY_SK_ECDSA_P256 /* sk-ecdsa-sha2-nistp256@openssh.com */
};

/* A public key, validated (point on the curve, RSA modulus size). blob is its wire
 * encoding re-encoded canonically (minimal mpints), so that keys are equal exactly when
 * their blobs are: the comparison OpenSSH makes by value. */
typedef struct op_sshkey {
	enum op_sshkey_type type;
	unsigned char *blob; /* owned */
	size_t blob_len;
} op_sshkey;

#define OP_SSHKEY_MAX_BLOB 4096 /* an 8192-bit RSA key is about 1050 bytes */
#define OP_SSHKEY_FP_LEN 51 /* "SHA256:" + 43 base64 characters + NUL */

/* Decodes a key blob ("string keytype" and the key's fields, nothing after). */
int op_sshkey_from_blob(op_sshkey *k, const void *blob, size_t len, op_err *e);
/* Parses "keytype base64" at the start of text: blanks (space, tab) before it are
 * skipped; the type must be followed by blanks and the base64 by a blank or the end.
 * *used (may be NULL) gets the offset just past the base64. The type name must be the
 * blob's. On error e says what was expected. */
int op_sshkey_parse_text(op_sshkey *k, const char *text, size_t len, size_t *used, op_err *e);
/* Parses a public key line as in a .pub file: "ssh-ed25519 AAAA... [comment]"; leading
 * blanks and a trailing "\n" or "\r\n" are allowed. */
int op_sshkey_parse_line(op_sshkey *k, const char *line, size_t len, op_err *e);
/* True when both keys are the same key (same type and material). */
bool op_sshkey_equal(const op_sshkey *a, const op_sshkey *b);
/* Deep copy into dst (which the caller frees with op_sshkey_clear). */
int op_sshkey_copy(op_sshkey *dst, const op_sshkey *src, op_err *e);
/* "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa", ... (OpenSSH's names); "unknown"
 * otherwise. */
const char *op_sshkey_type_name(enum op_sshkey_type t);
/* The fingerprint ssh-keygen -l prints: "SHA256:" and unpadded base64 of SHA-256(blob). */
void op_sshkey_fingerprint(const op_sshkey *k, char fp[OP_SSHKEY_FP_LEN]);
/* True for a key type name OpenSSH knows (supported here or not): lets the trust file
 * parsers tell a key from options and name an unsupported type clearly. */
bool op_sshkey_type_known(const char *name, size_t len);
void op_sshkey_clear(op_sshkey *k);

/* ---- SSHSIG ----------------------------------------------------------------------- */

enum op_sshsig_hash { OP_SSHSIG_SHA256 = 1, OP_SSHSIG_SHA512 };

#define OP_SSHSIG_MAX_ARMOR 65536 /* armored text; a real one is under 3 KiB */
#define OP_SSHSIG_MAX_NS 256 /* namespace length */

/* A parsed signature. The signature blob is fully decoded and checked against the
 * key's type at parse time; op_sshsig_verify only does the arithmetic. */
typedef struct op_sshsig {
	op_sshkey key; /* the signer's public key, as the signature names it */
	char *ns; /* namespace ("git"), NUL-terminated, contains no NUL */
	enum op_sshsig_hash hash; /* the message digest the signer used */
	const char *sig_alg; /* static: the key type's name, or "rsa-sha2-256" or
				"rsa-sha2-512" for an RSA key */
	unsigned char *sig; /* owned: ed25519 64 bytes; ecdsa r||s (each as wide as the
			       curve's order); rsa the modulus-sized big-endian
			       signature; FIDO keys: that, then the flags byte and the
			       4-byte counter */
	size_t sig_len;
} op_sshsig;

/* Parses an armored signature: "-----BEGIN SSH SIGNATURE-----", a line end, base64
 * (line breaks and blanks allowed), "\n-----END SSH SIGNATURE-----"; whatever follows
 * that line is ignored, as ssh-keygen -Y verify (which git runs) ignores it. The
 * magic must be "SSHSIG", version 1, the reserved field empty, the hash sha256 or
 * sha512, nothing may follow the signature blob. On success s holds owned memory:
 * op_sshsig_clear it. On failure s is zeroed. */
int op_sshsig_parse(op_sshsig *s, const char *armored, size_t len, op_err *e);
/* The same for the binary (dearmored) SSHSIG blob. */
int op_sshsig_parse_blob(op_sshsig *s, const void *blob, size_t len, op_err *e);
/* Checks s over msg: the signed data is "SSHSIG" || string(ns) || string("") ||
 * string(hash name) || string(H(msg)), verified with s->key. When ns is not NULL the
 * signature's namespace must equal it. 0 when good; OP_ETRUST (e says whether the
 * namespace or the signature failed) otherwise. */
int op_sshsig_verify(const op_sshsig *s, const char *ns, const void *msg, size_t len, op_err *e);
/* "sha256" or "sha512". */
const char *op_sshsig_hash_name(enum op_sshsig_hash h);
void op_sshsig_clear(op_sshsig *s);

/* ---- git commit signatures ----------------------------------------------------------- */

/* A commit object split as git splits it (commit.c parse_buffer_signed_by_header): the
 * signature header's value, continuation lines unfolded, and the payload that was
 * signed: the object without that header and without any other gpgsig* header. */
typedef struct op_commit_sig {
	char *sig; /* owned, NUL-terminated; NULL when the commit is unsigned */
	size_t sig_len;
	char *payload; /* owned, NUL-terminated (the object may itself hold a NUL) */
	size_t payload_len;
} op_commit_sig;

/* Splits commit (as `git cat-file commit SHA` prints it). sha256_repo selects the
 * header: "gpgsig" in a SHA-1 repository, "gpgsig-sha256" in a SHA-256 one. An
 * unsigned commit is not an error: c->sig is NULL. */
int op_commit_split_signature(
	op_commit_sig *c, const char *commit, size_t len, bool sha256_repo, op_err *e);
void op_commit_sig_clear(op_commit_sig *c);

/* The committer of a commit (or of its payload), read as git reads it for signature
 * checks: the first "committer " header, the email between the first '<' and the
 * following '>', the time as the decimal digits after the last '>'. *email is the
 * caller's to free. OP_ENOTFOUND without a committer header; OP_EINVAL when the email
 * or the time is missing or the time is past 253402300799 (9999-12-31). A time of 0 is
 * returned as 0: git then verifies at the current time (no -Overify-time). */
int op_commit_committer(const char *commit, size_t len, char **email, int64_t *time, op_err *e);

/* ---- base64 ------------------------------------------------------------------------ */

/* Strict standard base64 (RFC 4648, with padding, unused bits zero). With skip_space,
 * spaces, tabs, CR and LF anywhere are ignored (armored bodies); without, any of them
 * is an error. Writes at most cap bytes to out; *out_len gets the decoded length.
 * OP_EINVAL on bad input, OP_ETOOBIG when cap is too small. */
int op_base64_decode(const char *in, size_t len, bool skip_space, unsigned char *out, size_t cap,
	size_t *out_len);

/* ---- internal: shared by agent/trust/ssh*.c, commitsig.c and trust*.c, not for other
 * modules */

/* A reader over wire bytes: each call checks the length it consumes; -1 when short. */
typedef struct op_ssh__rd {
	const unsigned char *p;
	size_t n;
} op_ssh__rd;
int op_ssh__u32(op_ssh__rd *r, uint32_t *v);
int op_ssh__str(op_ssh__rd *r, const unsigned char **s, size_t *len);
bool op_ssh__str_is(const unsigned char *s, size_t len, const char *lit);
/* Unpadded base64 of len bytes into out (NUL-terminated, cut to fit cap). */
void op_ssh__b64_nopad(const unsigned char *in, size_t len, char *out, size_t cap);
/* Copies hostile bytes for a message: non-printable as '?', cut with "..." at cap. */
void op_ssh__printable(char *out, size_t cap, const void *in, size_t len);
/* Decodes a signature blob (string alg, string data) for key k: *alg gets a static
 * name, *sig a malloc'd fixed-width signature (see op_sshsig.sig). */
int op_ssh__sig_decode(const op_sshkey *k, const unsigned char *blob, size_t len, const char **alg,
	unsigned char **sig, size_t *sig_len, op_err *e);
/* The arithmetic: 0 when sig is k's signature of data under alg, -1 otherwise. */
int op_ssh__sig_check(const op_sshkey *k, const char *alg, const unsigned char *sig, size_t sig_len,
	const unsigned char *data, size_t len);

#endif
