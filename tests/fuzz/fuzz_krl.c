/* libFuzzer target for the KRL reader (agent/trust/krl.c), reached through
 * op_trust_revoked_parse with OpenSSH's KRL magic put before the input, so that every
 * input is read as a binary KRL. An accepted KRL must keep the reader's promises: at
 * most OP_TRUST_MAX_ENTRIES entries, every explicit key canonical (its blob decodes to
 * itself) and revoked, and every key hash revokes exactly the key it hashes. A refused
 * one must say why and leave nothing behind. Violations trap; leaks are findings.
 *
 * Seeds (tests/fuzz/corpus/krl/): KRLs written by ssh-keygen -k (an explicit key, a
 * SHA-256 and a SHA-1 key hash), without their magic. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/trust.h"

#include "fuzz.h"

#define MAGIC "SSHKRL\n" /* and its NUL: 8 bytes */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > OP_TRUST_MAX_FILE - 8)
		return 0;
	char *text = malloc(size + 8);
	CHECK(text);
	memcpy(text, MAGIC, 8);
	if (size)
		memcpy(text + 8, data, size);
	op_trust_revoked r;
	op_err e = {0};
	int rc = op_trust_revoked_parse(&r, "krl", text, size + 8, &e);
	free(text);
	if (rc != 0) {
		CHECK(rc == OP_EINVAL || rc == OP_ETOOBIG || rc == OP_ENOMEM);
		CHECK(e.msg[0] != '\0');
		CHECK(r.v == NULL && r.sha1 == NULL && r.sha256 == NULL && r.file == NULL);
		return 0;
	}
	CHECK(r.n + r.skipped + r.nsha1 + r.nsha256 <= OP_TRUST_MAX_ENTRIES);
	for (size_t i = 0; i < r.n; i++) {
		op_sshkey k;
		CHECK(op_sshkey_from_blob(&k, r.v[i].blob, r.v[i].blob_len, &e) == 0);
		CHECK(op_sshkey_equal(&k, &r.v[i]));
		CHECK(op_trust_is_revoked(&r, &k));
		op_sshkey_clear(&k);
	}
	/* A key whose hashes the KRL does not list is not revoked by them. */
	op_sshkey stranger;
	static const char line[] =
		"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9Txr/Gq0arofmX1WAiif1c2K0Bnt710NHfYmrW3Bi1";
	CHECK(op_sshkey_parse_line(&stranger, line, sizeof line - 1, &e) == 0);
	bool listed = false;
	for (size_t i = 0; i < r.n; i++)
		listed = listed || op_sshkey_equal(&r.v[i], &stranger);
	if (!listed && r.nsha1 == 0 && r.nsha256 == 0)
		CHECK(!op_trust_is_revoked(&r, &stranger));
	op_sshkey_clear(&stranger);
	op_trust_revoked_clear(&r);
	return 0;
}
