/* libFuzzer target for the hub's decoder of site announcements (they come off the
 * network, from any site). An accepted message must give a site name other than "hub"
 * that decodes again from a minimal announce, and must be one the decoder sync used
 * before op_announce_decode accepted too (the new one only adds refusals); a refusal
 * must carry a message that quotes nothing of the input and leave the site empty.
 * Violations trap; leaks are findings. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "outpost/sync/loop/announce.h"

#include "fuzz.h"

/* What on_announce accepted before the decoder was a function of its own. */
static int old_accepts(const char *buf, size_t len)
{
	if (len > 64 * 1024)
		return 0;
	json_t *j = json_loadb(buf, len, 0, NULL);
	const char *site = NULL;
	int ok = j && json_unpack(j, "{s:s}", "site", &site) == 0 &&
		json_integer_value(json_object_get(j, "v")) == 1 && op_name_valid(site) &&
		strcmp(site, "hub") != 0;
	json_decref(j);
	return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	char site[OP_NAME_MAX + 1];
	op_err e = {0};
	memset(site, 'x', sizeof site);
	int rc = op_announce_decode(buf, size, site, &e);
	if (rc != 0) {
		CHECK(rc == OP_EINVAL || rc == OP_ETOOBIG || rc == OP_ENOMEM);
		CHECK(site[0] == '\0' && e.msg[0] != '\0');
		for (const char *p = e.msg; *p; p++)
			CHECK(*p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\');
		return 0;
	}
	CHECK(op_name_valid(site) && strcmp(site, "hub") != 0);
	CHECK(old_accepts(buf, size));
	char again[160], back[OP_NAME_MAX + 1];
	int n = snprintf(again, sizeof again, "{\"v\":1,\"site\":\"%s\"}", site);
	CHECK(n > 0 && (size_t)n < sizeof again);
	CHECK(op_announce_decode(again, (size_t)n, back, &e) == 0 && !strcmp(back, site));
	return 0;
}
