/* Sealed secrets: a value readable only by the sites it is sealed to. Each site holds an
 * X25519 key pair (seal.key private, seal.pub public: one line of base64 each); a secret
 * is one libsodium sealed box of the value per site (crypto_box_seal: an ephemeral key,
 * so the writer keeps nothing that opens it), kept in Git as secrets/NAME.yaml:
 *
 *   apiVersion: outpost/v1
 *   kind: SealedSecret
 *   metadata: {name: db-pass}
 *   sealed:
 *     plant-7: {key: <base64 of the site's public key>, box: <base64 sealed box>}
 *
 * The key names which public key the box was sealed to, so that a site whose key changed
 * says so rather than failing to open. Parsing is strict and bounded (the file comes
 * from Git and, at a site, off the network); errors name file:line:col and the field. */
#ifndef OUTPOST_SEALED_H
#define OUTPOST_SEALED_H

#include <stddef.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_SEAL_KEY_LEN 32
#define OP_SEAL_BOX_EXTRA 48 /* crypto_box_SEALBYTES */
#define OP_SECRET_MAX (64 * 1024) /* bytes of one value */
#define OP_SEALED_MAX_SITES OP_MAX_SITES
#define OP_SEALED_API "outpost/v1"
#define OP_SEALED_KIND "SealedSecret"

typedef struct op_sealed_to {
	char site[OP_NAME_MAX + 1];
	unsigned char key[OP_SEAL_KEY_LEN];
	unsigned char *box;
	size_t len;
} op_sealed_to;

typedef struct op_sealed {
	char name[OP_NAME_MAX + 1];
	op_sealed_to *to; /* sorted by site */
	size_t n;
} op_sealed;

/* Parses a sealed file's YAML (or JSON) bytes into out (op_sealed_clear after, either
 * way). 0, or OP_EINVAL / OP_ETOOBIG with diagnostics in d, OP_ENOMEM. */
int op_sealed_parse(const char *file, const char *buf, size_t len, op_sealed *out, op_diags *d);
/* The YAML of s (allocated, NUL-terminated; the caller frees it). */
int op_sealed_encode(const op_sealed *s, char **yaml, size_t *len);
/* Seals value to one site's public key and adds it to s (replacing that site's). */
int op_sealed_add(op_sealed *s, const char *site, const unsigned char key[OP_SEAL_KEY_LEN],
	const void *value, size_t len, op_err *e);
/* Opens the box sealed to site with its key pair: *value allocated (the caller wipes
 * and frees it: op_secret_free), NUL-terminated after *len bytes. OP_ENOTFOUND when not
 * sealed to site, OP_ETRUST when sealed to another key or the box does not open. The
 * message never holds any of the value. */
int op_sealed_open(const op_sealed *s, const char *site, const unsigned char pk[OP_SEAL_KEY_LEN],
	const unsigned char sk[OP_SEAL_KEY_LEN], unsigned char **value, size_t *len, op_err *e);
void op_sealed_clear(op_sealed *s);

/* Zeroes and frees a plaintext; zeroes one in place. */
void op_secret_free(void *value, size_t len);
void op_secret_wipe(void *buf, size_t len);

/* A new key pair. */
int op_seal_keygen(unsigned char pk[OP_SEAL_KEY_LEN], unsigned char sk[OP_SEAL_KEY_LEN]);
/* Writes DIR/seal.key (0600) and DIR/seal.pub (0644), DIR made when missing (0700);
 * OP_ECONFLICT when seal.key exists (a key is never overwritten). */
int op_seal_key_write(const char *dir, op_err *e);
/* Reads a private key file (its public key derived) or a public key file. */
int op_seal_key_read(const char *path, unsigned char pk[OP_SEAL_KEY_LEN],
	unsigned char sk[OP_SEAL_KEY_LEN], op_err *e);
int op_seal_pub_read(const char *path, unsigned char pk[OP_SEAL_KEY_LEN], op_err *e);

#endif
