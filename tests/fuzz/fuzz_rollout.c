/* libFuzzer target for the promotion record sites read off the network (rollout.<app>):
 * an accepted record, signed or not, must encode back (with its signature, if any) to
 * the same bytes it would encode again, and decode to the same record; the site's check
 * without a policy takes exactly what decoding takes; anything else must be refused
 * with a message. Violations trap; leaks are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/rollout_sig.h"
#include "outpost/agent/wire/rollout.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	op_promotion p, back, checked;
	op_err e = {0};
	unsigned char *sig = NULL, *sig2 = NULL;
	size_t sig_len = 0, sig2_len = 0;
	int rc = op_promotion_decode_signed((const char *)data, size, &p, &sig, &sig_len, &e);
	CHECK(op_promotion_check((const char *)data, size, NULL, &checked, &e) == rc);
	if (rc != 0) {
		CHECK(e.msg[0] != '\0' && p.app[0] == '\0' && !sig && checked.app[0] == '\0');
		return 0;
	}
	CHECK(!memcmp(&p, &checked, sizeof p));
	CHECK((sig != NULL) == (sig_len > 0) && sig_len <= OP_PROMOTION_SIG_MAX);
	CHECK(p.seq >= 1 && p.promoted >= 0 && p.promoted < OP_MAX_WAVES);
	CHECK(strlen(p.commit) == 40 && strlen(p.digest) == OP_DIGEST_LEN);
	char *j1 = NULL, *j2 = NULL;
	if (sig)
		CHECK(op_promotion_encode_signed(&p, sig, sig_len, &j1, &e) == 0);
	else
		CHECK(op_promotion_encode(&p, &j1, &e) == 0);
	CHECK(op_promotion_decode_signed(j1, strlen(j1), &back, &sig2, &sig2_len, &e) == 0);
	CHECK(sig2_len == sig_len && (!sig || !memcmp(sig, sig2, sig_len)));
	CHECK(!strcmp(p.app, back.app) && !strcmp(p.digest, back.digest) &&
		!strcmp(p.commit, back.commit) && p.seq == back.seq &&
		p.promoted == back.promoted && p.halted == back.halted &&
		!strcmp(p.reason, back.reason) && p.time == back.time);
	if (sig)
		CHECK(op_promotion_encode_signed(&back, sig2, sig2_len, &j2, &e) == 0);
	else
		CHECK(op_promotion_encode(&back, &j2, &e) == 0);
	CHECK(!strcmp(j1, j2));
	char key[OP_PROMOTION_KEY_MAX];
	CHECK(op_promotion_key(p.app, key, &e) == 0);
	free(j1);
	free(j2);
	free(sig);
	free(sig2);
	return 0;
}
