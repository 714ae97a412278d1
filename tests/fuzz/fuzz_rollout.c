/* libFuzzer target for the promotion record sites read off the network (rollout.<app>):
 * an accepted record must encode back to JSON that decodes to the same record, and
 * encode again to the same bytes; anything else must be refused with a message.
 * Violations trap; leaks are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/rollout.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	op_promotion p, back;
	op_err e = {0};
	if (op_promotion_decode((const char *)data, size, &p, &e) != 0) {
		CHECK(e.msg[0] != '\0' && p.app[0] == '\0');
		return 0;
	}
	CHECK(p.seq >= 1 && p.promoted >= 0 && p.promoted < OP_MAX_WAVES);
	CHECK(strlen(p.commit) == 40 && strlen(p.digest) == OP_DIGEST_LEN);
	char *j1 = NULL, *j2 = NULL;
	CHECK(op_promotion_encode(&p, &j1, &e) == 0);
	CHECK(op_promotion_decode(j1, strlen(j1), &back, &e) == 0);
	CHECK(!strcmp(p.app, back.app) && !strcmp(p.digest, back.digest) &&
		!strcmp(p.commit, back.commit) && p.seq == back.seq &&
		p.promoted == back.promoted && p.halted == back.halted &&
		!strcmp(p.reason, back.reason) && p.time == back.time);
	CHECK(op_promotion_encode(&back, &j2, &e) == 0 && !strcmp(j1, j2));
	char key[OP_PROMOTION_KEY_MAX];
	CHECK(op_promotion_key(p.app, key, &e) == 0);
	free(j1);
	free(j2);
	return 0;
}
