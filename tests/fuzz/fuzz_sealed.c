/* libFuzzer target for the sealed-secret file (agent/model/sealed.c), which a site reads
 * from its mirror and sync from Git: an accepted file must encode back to one that parses
 * the same (site for site, key and box byte for byte), and opening it with a fixed key
 * pair must either fail with a message or give a value within the cap. Violations trap;
 * leaks are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/sealed.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static unsigned char pk[OP_SEAL_KEY_LEN], sk[OP_SEAL_KEY_LEN];
	static int have_key;
	if (!have_key) {
		CHECK(op_seal_keygen(pk, sk) == 0);
		have_key = 1;
	}
	op_sealed s, back;
	op_diags d = {0};
	if (op_sealed_parse("f.yaml", (const char *)data, size, &s, &d) == 0) {
		char *yaml = NULL;
		size_t len = 0;
		CHECK(op_sealed_encode(&s, &yaml, &len) == 0);
		CHECK(op_sealed_parse("g.yaml", yaml, len, &back, &d) == 0);
		CHECK(back.n == s.n && !strcmp(back.name, s.name));
		for (size_t i = 0; i < s.n; i++) {
			CHECK(!strcmp(back.to[i].site, s.to[i].site));
			CHECK(back.to[i].len == s.to[i].len);
			CHECK(!memcmp(back.to[i].box, s.to[i].box, s.to[i].len));
			CHECK(!memcmp(back.to[i].key, s.to[i].key, OP_SEAL_KEY_LEN));
			unsigned char *v = NULL;
			size_t vl = 0;
			op_err e = {0};
			if (op_sealed_open(&s, s.to[i].site, pk, sk, &v, &vl, &e) == 0)
				CHECK(vl <= OP_SECRET_MAX && v);
			else
				CHECK(e.msg[0] != '\0' && v == NULL);
			op_secret_free(v, vl);
		}
		op_sealed_clear(&back);
		free(yaml);
	} else {
		CHECK(op_diags_count(&d) > 0);
	}
	op_sealed_clear(&s);
	op_diags_clear(&d);
	return 0;
}
