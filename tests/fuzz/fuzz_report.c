/* libFuzzer target for the hub's decoder of the sites' status reports (they come off
 * the network, from any site, on the subject of site "plant"). An accepted report holds
 * only keys under site.plant., each put value an object, and decodes again, the same,
 * from what it re-encodes to; a refusal carries a message that quotes nothing of the
 * input and hands nothing out. Violations trap; leaks are findings. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/report.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *rep = (json_t *)1;
	op_err e = {0};
	int rc = op_report_decode("plant", (const char *)data, size, &rep, &e);
	if (rc != 0) {
		CHECK(rc == OP_EINVAL || rc == OP_ETOOBIG || rc == OP_ENOMEM);
		CHECK(rep == NULL && e.msg[0] != '\0');
		for (const char *p = e.msg; *p; p++)
			CHECK(*p >= 0x20 && *p <= 0x7e && *p != '"' && *p != '\\');
		return 0;
	}
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(rep, "put"), k, v)
	{
		CHECK(op_report_key_ok("plant", k) && !strncmp(k, "site.plant.", 11));
		CHECK(json_is_object(v));
	}
	size_t i;
	json_array_foreach(json_object_get(rep, "del"), i, v)
		CHECK(op_report_key_ok("plant", json_string_value(v)));
	CHECK(op_report_decode("other", (const char *)data, size, &(json_t *){NULL}, &e) != 0);
	char *again = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
	CHECK(again != NULL);
	json_t *back = NULL;
	CHECK(op_report_decode("plant", again, strlen(again), &back, &e) == 0);
	CHECK(json_equal(back, rep));
	json_decref(back);
	free(again);
	json_decref(rep);
	return 0;
}
