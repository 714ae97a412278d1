/* The sites' status reports (agent/wire/report.c): the keys the hub takes from a site,
 * what a report must be to be stored, and refusals, each with its code and a piece of
 * its message, none quoting the input (it is logged and sent back). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/report.h"
#include "t.h"

static bool msg_clean(const char *msg)
{
	for (const char *p = msg; *p; p++)
		if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
			return false;
	return msg[0] != '\0';
}

static void test_keys(void)
{
	static const struct {
		const char *site, *key;
		bool ok;
	} k[] = {
		{"plant", "site.plant.agent", true},
		{"plant", "site.plant.app.web", true},
		{"plant", "site.plant.host.h-0_A=1/x", true},
		{"plant", "site.plant", false},
		{"plant", "site.plant.", false},
		{"plant", "site.plant..x", false},
		{"plant", "site.plant.x.", false},
		{"plant", "site.plant.x y", false},
		{"plant", "site.plant.x*", false},
		{"plant", "site.plant.>", false},
		{"plant", "site.plant-2.agent", false}, /* another site */
		{"plant", "site.plan.t.agent", false},
		{"plant", "hub.sync", false},
		{"plant", "site.other.agent", false},
		{"plant", "", false},
		{"plant", NULL, false},
	};
	for (size_t i = 0; i < sizeof k / sizeof *k; i++)
		T_CHECK_MSG(op_report_key_ok(k[i].site, k[i].key) == k[i].ok, "%s", k[i].key);
	char big[OP_REPORT_KEY_MAX + 2];
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	memcpy(big, "site.plant.", 11);
	T_CHECK(!op_report_key_ok("plant", big));
	big[OP_REPORT_KEY_MAX] = '\0';
	T_CHECK(op_report_key_ok("plant", big));
}

static void test_accepted(void)
{
	static const char *ok[] = {
		"{\"v\":1,\"site\":\"plant\"}",
		"{\"v\":1,\"site\":\"plant\",\"put\":{\"site.plant.agent\":{\"state\":\"ok\"}},"
		"\"del\":[\"site.plant.host.h1\"]}",
		"{\"v\":1,\"site\":\"plant\",\"put\":{},\"del\":[],\"newer\":{\"x\":1}}",
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		json_t *j = NULL;
		op_err e = {0};
		T_CHECK_MSG(op_report_decode("plant", ok[i], strlen(ok[i]), &j, &e) == 0, "%s: %s",
			ok[i], e.msg);
		T_CHECK(j != NULL);
		json_decref(j);
	}
}

static void test_refused(void)
{
	static const struct {
		const char *site, *json;
		int rc;
		const char *msg;
	} bad[] = {
		{"plant", "", OP_EINVAL, "not JSON"},
		{"plant", "[1]", OP_EINVAL, "expected a JSON object"},
		{"plant", "{\"site\":\"plant\"}", OP_EINVAL, "v: expected"},
		{"plant", "{\"v\":2,\"site\":\"plant\"}", OP_EINVAL, "v: expected"},
		{"plant", "{\"v\":1}", OP_EINVAL, "site: expected"},
		{"plant", "{\"v\":1,\"site\":\"Plant\"}", OP_EINVAL, "site: expected"},
		{"hub", "{\"v\":1,\"site\":\"hub\"}", OP_EINVAL, "not hub"},
		{"other", "{\"v\":1,\"site\":\"plant\"}", OP_EINVAL, "not the site of the subject"},
		{"plant", "{\"v\":1,\"site\":\"pl\\u0000ant\"}", OP_EINVAL, "not JSON"}, /* NUL */
		{"plant", "{\"v\":1,\"site\":\"plant\",\"site\":\"plant\"}", OP_EINVAL, "not JSON"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"put\":[]}", OP_EINVAL, "put: expected"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"del\":{}}", OP_EINVAL, "del: expected"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"put\":{\"site.other.agent\":{}}}",
			OP_EINVAL, "put: a key not under site.plant."},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"put\":{\"hub.sync\":{}}}", OP_EINVAL,
			"put: a key"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"put\":{\"site.plant.agent\":\"x\"}}",
			OP_EINVAL, "expected objects"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"del\":[\"site.other.agent\"]}", OP_EINVAL,
			"del: a key"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"del\":[1]}", OP_EINVAL, "del: a key"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"del\":[\"site.plant.a\\u0000b\"]}",
			OP_EINVAL, "not JSON"},
		{"plant", "{\"v\":1,\"site\":\"plant\",\"put\":{\"site.plant.a\\u0000.b\":{}}}",
			OP_EINVAL, "not JSON"},
		{NULL, "{\"v\":1,\"site\":\"plant\"}", OP_EINVAL, "not the site of the subject"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		json_t *j = (json_t *)1;
		op_err e = {0};
		int rc = op_report_decode(bad[i].site, bad[i].json, strlen(bad[i].json), &j, &e);
		T_CHECK_MSG(rc == bad[i].rc && j == NULL, "%s: rc %d", bad[i].json, rc);
		T_CHECK_MSG(strstr(e.msg, bad[i].msg), "%s: %s", bad[i].json, e.msg);
		T_CHECK_MSG(msg_clean(e.msg), "%s", e.msg);
	}
}

static void test_limits(void)
{
	/* OP_REPORT_MAX_KEYS keys are taken, one more is not */
	size_t cap = 64 + (OP_REPORT_MAX_KEYS + 1) * 40;
	char *buf = malloc(cap);
	T_REQUIRE(buf != NULL);
	for (int n = OP_REPORT_MAX_KEYS; n <= OP_REPORT_MAX_KEYS + 1; n++) {
		size_t w = (size_t)snprintf(buf, cap, "{\"v\":1,\"site\":\"plant\",\"del\":[");
		for (int i = 0; i < n; i++)
			w += (size_t)snprintf(
				buf + w, cap - w, "%s\"site.plant.k%d\"", i ? "," : "", i);
		w += (size_t)snprintf(buf + w, cap - w, "]}");
		json_t *j = NULL;
		op_err e = {0};
		int rc = op_report_decode("plant", buf, w, &j, &e);
		T_EQ_INT(rc, n == OP_REPORT_MAX_KEYS ? 0 : OP_ETOOBIG);
		json_decref(j);
	}
	free(buf);
	/* bytes: the limit is checked before parsing */
	json_t *j = NULL;
	op_err e = {0};
	T_EQ_INT(op_report_decode("plant", "{}", OP_REPORT_MAX_BYTES + 1, &j, &e), OP_ETOOBIG);
	T_CHECK(j == NULL && msg_clean(e.msg));
	T_EQ_INT(op_report_decode("plant", NULL, 0, &j, &e), OP_EINVAL);
}

int main(void)
{
	T_RUN(test_keys);
	T_RUN(test_accepted);
	T_RUN(test_refused);
	T_RUN(test_limits);
	return t_done();
}
