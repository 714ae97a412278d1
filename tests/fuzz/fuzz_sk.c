/* libFuzzer target for FIDO signatures (agent/trust/sshsk.c and the sk paths of
 * agent/trust/sshkey.c and sshkey_sig.c). The first byte picks the mode: 0 and 1 wrap
 * the rest as the signature blob of an SSHSIG made by a fixed sk-ssh-ed25519 or
 * sk-ecdsa-sha2-nistp256 key; 2 reads the rest as a key blob. A signature that parses
 * must have the FIDO layout (the key's signature width, then flags and counter) and
 * must never verify: no input can forge a signature by the fixed keys. A key blob that
 * decodes must re-encode to itself. Violations trap; leaks are findings.
 *
 * Seeds (tests/fuzz/corpus/sk/): a well-formed signature blob of each type and an sk
 * key blob. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/sshsig.h"

#include "fuzz.h"

typedef struct wb {
	unsigned char *d;
	size_t n;
} wb;

static void put(wb *b, const void *p, size_t n)
{
	if (n)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void put_str(wb *b, const void *p, size_t n)
{
	unsigned char u[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
		(unsigned char)(n >> 8), (unsigned char)n};
	put(b, u, 4);
	put(b, p, n);
}

static void put_cstr(wb *b, const char *s)
{
	put_str(b, s, strlen(s));
}

/* The two fixed keys' blobs: an ed25519 public key and a P-256 point (both valid),
 * each with the application "ssh:". */
static unsigned char keys[2][160];
static size_t key_len[2];

static void make_keys(void)
{
	static const char p256[] =
		"ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBEDyBe5m"
		"X7ai5nlfvNGG3O0HnjdjWLv1rHOYpxgU6cI9d07ch9rLLhYZbLPmZf5HfqMq+QAMssLl5yzx7kk5QNY=";
	op_sshkey ec;
	op_err e = {0};
	CHECK(op_sshkey_parse_line(&ec, p256, sizeof p256 - 1, &e) == 0);
	CHECK(ec.blob_len == 4 + 19 + 4 + 8 + 4 + 65);
	unsigned char pk[32];
	for (int i = 0; i < 32; i++)
		pk[i] = (unsigned char)(i * 7 + 1);
	wb b = {keys[0], 0};
	put_cstr(&b, "sk-ssh-ed25519@openssh.com");
	put_str(&b, pk, sizeof pk);
	put_cstr(&b, "ssh:");
	key_len[0] = b.n;
	b = (wb){keys[1], 0};
	put_cstr(&b, "sk-ecdsa-sha2-nistp256@openssh.com");
	put_cstr(&b, "nistp256");
	put_str(&b, ec.blob + ec.blob_len - 65, 65);
	put_cstr(&b, "ssh:");
	key_len[1] = b.n;
	op_sshkey_clear(&ec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	op_err e = {0};
	if (!ready) {
		make_keys();
		ready = 1;
	}
	if (size < 1 || size > 8192)
		return 0;
	int mode = data[0] % 3;
	data++;
	size--;
	if (mode == 2) {
		op_sshkey k, again;
		if (op_sshkey_from_blob(&k, data, size, &e) != 0) {
			CHECK(e.msg[0] != '\0');
			return 0;
		}
		CHECK(op_sshkey_from_blob(&again, k.blob, k.blob_len, &e) == 0);
		CHECK(op_sshkey_equal(&k, &again));
		op_sshkey_clear(&again);
		op_sshkey_clear(&k);
		return 0;
	}
	unsigned char *blob = malloc(size + 256);
	CHECK(blob);
	wb b = {blob, 0};
	put(&b, "SSHSIG\0\0\0\1", 10);
	put_str(&b, keys[mode], key_len[mode]);
	put_cstr(&b, "git");
	put_cstr(&b, "");
	put_cstr(&b, "sha512");
	put_str(&b, data, size);
	op_sshsig s;
	if (op_sshsig_parse_blob(&s, blob, b.n, &e) == 0) {
		CHECK(s.key.type == (mode ? OP_SSHKEY_SK_ECDSA_P256 : OP_SSHKEY_SK_ED25519));
		CHECK(s.sig_len == 64 + 5);
		CHECK(strcmp(s.sig_alg, op_sshkey_type_name(s.key.type)) == 0);
		CHECK(op_sshsig_verify(&s, "git", "payload", 7, &e) == OP_ETRUST);
		op_sshsig_clear(&s);
	} else {
		CHECK(e.msg[0] != '\0');
	}
	free(blob);
	return 0;
}
