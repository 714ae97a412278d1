/* Signing with an SSH key, for the hub's freshness record: an unencrypted OpenSSH
 * ed25519 private key file (`ssh-keygen -t ed25519 -N ''`) and SSHSIG signatures
 * (PROTOCOL.sshsig) that op_sshsig_verify and `ssh-keygen -Y verify` accept. */
#ifndef OUTPOST_SSHSIGN_H
#define OUTPOST_SSHSIGN_H

#include <stddef.h>

#include "outpost/agent/trust/sshsig.h"

typedef struct op_sshpriv {
	op_sshkey pub;
	unsigned char sk[64]; /* libsodium's secret key: seed || public key */
} op_sshpriv;

/* Reads an "-----BEGIN OPENSSH PRIVATE KEY-----" file's text. Refused with a clear
 * error: an encrypted key (passphrase), a key type other than ed25519, several keys,
 * check words that differ. Errors never quote key material. */
int op_sshpriv_parse(op_sshpriv *k, const char *file, const char *text, size_t len, op_err *e);
/* Reads and parses the file (at most 64 KiB). */
int op_sshpriv_load(op_sshpriv *k, const char *path, op_err *e);
void op_sshpriv_clear(op_sshpriv *k);
/* A new ed25519 key (libsodium's random source). */
int op_sshpriv_generate(op_sshpriv *k, op_err *e);
/* The key as an unencrypted OpenSSH private key file, which ssh-keygen reads; and its
 * public key line "ssh-ed25519 <base64> comment". Malloc'd; NULL when out of memory. */
char *op_sshpriv_format(const op_sshpriv *k, const char *comment);
char *op_sshpriv_public_line(const op_sshpriv *k, const char *comment);

/* The SSHSIG blob (binary, not armored) of msg under namespace ns, hash sha512; *blob
 * allocated. */
int op_sshsig_sign(const op_sshpriv *k, const char *ns, const void *msg, size_t len,
	unsigned char **blob, size_t *blob_len, op_err *e);

#endif
