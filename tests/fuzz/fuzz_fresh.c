/* libFuzzer target for the freshness record a site reads off the network
 * (agent/trust/fresh.c): the decoder, and the site's whole check (signature parse, trust
 * decision, times) against a fixed policy. An accepted record must encode back to one
 * that decodes the same; every verdict but "fresh" must say why. Violations trap; leaks
 * are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/fresh.h"

#include "fuzz.h"

static op_trust_policy pol;
static int have_pol;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!have_pol) {
		static const char text[] =
			"hub@outpost namespaces=\"outpost-fresh\" ssh-ed25519 "
			"AAAAC3NzaC1lZDI1NTE5AAAAIJTSAkjIKPBuphj1J2acpp3wZFlB+tezwqft/FAujzJ8\n";
		op_err e = {0};
		CHECK(op_trust_parse(&pol, "signers", text, sizeof text - 1, &e) == 0);
		have_pol = 1;
	}
	op_fresh f, back;
	op_err e = {0};
	if (op_fresh_decode((const char *)data, size, &f, &e) == 0) {
		char *json = NULL;
		CHECK(op_fresh_encode(&f, &json, &e) == 0);
		CHECK(op_fresh_decode(json, strlen(json), &back, &e) == 0);
		CHECK(back.seq == f.seq && back.time == f.time && back.expires == f.expires &&
			back.sig_len == f.sig_len && !strcmp(back.commit, f.commit));
		op_fresh_clear(&back);
		op_fresh_clear(&f);
		free(json);
	} else {
		CHECK(e.msg[0] != '\0');
	}
	op_fresh_verdict v;
	op_fresh_run run = {5, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 1799990000};
	op_fresh_check((const char *)data, size, &pol, 1800000000, 3600, &run, &v);
	CHECK(v.state == OP_FRESH_OK || v.msg[0] != '\0');
	return 0;
}
