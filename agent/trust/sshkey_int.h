/* Inside agent/trust: what sshkey.c knows of each key type, shared with the signature
 * code (sshkey_sig.c, and sshsk.c for FIDO keys). A key blob is decoded into parts that
 * point into it; nothing here allocates. */
#ifndef OUTPOST_SSHKEY_INT_H
#define OUTPOST_SSHKEY_INT_H

#include "outpost/agent/trust/sshsig.h"

enum op_ssh__kind { OP_SSH__ED25519 = 1, OP_SSH__ECDSA, OP_SSH__RSA };

/* One key type. For ECDSA, point is the uncompressed point's size and scalar the width
 * of r and s; for ed25519, point is the public key's size. */
typedef struct op_ssh__ktype {
	enum op_sshkey_type type;
	const char *name; /* the key type, and the signature algorithm of its signatures */
	enum op_ssh__kind kind;
	const char *curve; /* "nistp256"...; NULL unless ECDSA */
	int group; /* mbedtls_ecp_group_id; 0 unless ECDSA */
	size_t point, scalar;
	bool sk; /* a FIDO key: the blob ends with its application string */
} op_ssh__ktype;

const op_ssh__ktype *op_ssh__ktype_of(enum op_sshkey_type t);

/* A decoded key blob, pointing into it. */
typedef struct op_ssh__parts {
	const op_ssh__ktype *kt;
	const unsigned char *a; /* ed25519 public key; ECDSA point; RSA e */
	size_t alen;
	const unsigned char *b; /* RSA n */
	size_t blen;
	const unsigned char *app; /* FIDO keys: the application ("ssh:"), no NUL */
	size_t applen;
} op_ssh__parts;

/* Decodes and validates a blob (e may be NULL). */
int op_ssh__decode_key(op_ssh__parts *k, const unsigned char *blob, size_t len, op_err *e);
/* An SSH mpint holding a non-negative number: its magnitude without leading zeros. */
int op_ssh__mpint(op_ssh__rd *r, const unsigned char **m, size_t *len);
/* 0 when the parts are a usable key (the point is on its curve, the RSA key is
 * consistent): checked with mbedtls, in sshkey_sig.c. */
int op_ssh__key_valid(const op_ssh__parts *k);

/* FIDO (sshsk.c). A signature blob's data after its algorithm name: the inner signature
 * (ed25519: string of 64 bytes; ECDSA: string holding mpint r, mpint s), byte flags,
 * uint32 counter. *inner points into data. */
int op_ssh__sk_split(const unsigned char *data, size_t len, const unsigned char **inner,
	size_t *inner_len, unsigned char tail[5]);
/* The bytes an authenticator signs (PROTOCOL.u2f): SHA-256(application) || flags ||
 * counter || SHA-256(message), with tail = flags || counter. */
#define OP_SSH__SK_SIGNED 69
void op_ssh__sk_signed(const op_ssh__parts *k, const unsigned char tail[5],
	const unsigned char *msg, size_t len, unsigned char out[OP_SSH__SK_SIGNED]);

#endif
