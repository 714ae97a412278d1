/* FIDO signatures (OpenSSH's PROTOCOL.u2f): a security key never signs the message
 * itself but SHA-256(application) || flags || counter || SHA-256(message), and the
 * signature blob carries the flags and counter after the signature. outpost judges them
 * as `ssh-keygen -Y verify` does: the flags are signed but not required (a signature
 * made without touching the key verifies), the counter is not looked at. */
#include "sshkey_int.h"

#include <mbedtls/sha256.h>
#include <string.h>

int op_ssh__sk_split(const unsigned char *data, size_t len, const unsigned char **inner,
	size_t *inner_len, unsigned char tail[5])
{
	op_ssh__rd r = {data, len};
	if (op_ssh__str(&r, inner, inner_len) != 0 || r.n != 5)
		return -1; /* truncated, or bytes after the counter */
	memcpy(tail, r.p, 5);
	return 0;
}

void op_ssh__sk_signed(const op_ssh__parts *k, const unsigned char tail[5],
	const unsigned char *msg, size_t len, unsigned char out[OP_SSH__SK_SIGNED])
{
	mbedtls_sha256(k->app, k->applen, out, 0);
	memcpy(out + 32, tail, 5);
	mbedtls_sha256(msg, len, out + 37, 0);
}
