/* The agent <-> host messages: every message goes through encode -> decode -> encode
 * and must come back equal, field by field and byte for byte; refusals are a table of
 * payloads, each with the code and a piece of the message (which names the field) it
 * must give. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/cli.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/wire/label.h"
#include "t.h"

#define HEX12 "0123456789ab"
#define YAML \
	"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: thermo\n" \
	"spec:\n  components:\n    - name: reader\n      type: process\n      properties:\n" \
	"        command: /opt/thermo/reader\n        args: [\"--bus\", \"i2c-1\"]\n" \
	"        env: {LOG_LEVEL: info}\n        restart: on-failure\n" \
	"    - name: writer\n      type: process\n      properties:\n" \
	"        command: /opt/thermo/writer\n"

static op_app *thermo(void)
{
	op_app *a = NULL;
	op_diags d = {0};
	if (op_manifest_parse("t.yaml", YAML, strlen(YAML), &a, &d) != 0)
		op_diags_print(&d, stderr);
	op_diags_clear(&d);
	return a;
}

/* --- round trips ----------------------------------------------------------------------- */

static op_kv labels_v[] = {{"arch", "amd64"}, {"hostname", "box-1"}, {"role", "gw"},
	{"site", "plant-7"}, {"zone.io/rack", "r_12"}};

static void test_heartbeat_roundtrip(void)
{
	op_hb_inst insts[] = {
		{"thermo.reader.0-" HEX12, OP_INST_RUNNING, 4242, 0, -1, "", 0, OP_HEALTH_HEALTHY,
			""},
		{"thermo.writer.1@box-1-" HEX12, OP_INST_FAILED, 0, 4, 3,
			"crash loop: \"quoted\" \\ and \xc3\xa9", 40000, OP_HEALTH_NONE, ""},
		{"a.b.0-" HEX12, OP_INST_BACKOFF, 0, 1, 137, "", 0, OP_HEALTH_NONE, ""},
	};
	op_heartbeat hb = {.host = "box-1",
		.site = "plant-7",
		.boot = "0123abcd",
		.seq = 77,
		.interval_ms = 2000,
		.labels = {labels_v, 5},
		.insts = insts,
		.ninsts = 3};
	char *json = NULL, *again = NULL;
	op_err e = {0};
	T_REQUIRE(op_heartbeat_encode(&hb, &json, &e) == 0);
	T_CHECK(strstr(json, "\"v\":1"));
	T_CHECK(!strstr(json, "\"error\":\"\"")); /* empty errors are left out */
	T_CHECK(strstr(json, "\"retry_ms\":40000")); /* and a retry only when there is one */
	T_CHECK(!strstr(json, "\"retry_ms\":0"));
	op_heartbeat back;
	T_REQUIRE(op_heartbeat_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_STR(back.host, "box-1");
	T_EQ_STR(back.site, "plant-7");
	T_EQ_STR(back.boot, "0123abcd");
	T_EQ_INT(back.seq, 77);
	T_EQ_INT(back.interval_ms, 2000);
	T_EQ_INT(back.labels.n, 5);
	for (size_t i = 0; i < back.labels.n && i < 5; i++) {
		T_EQ_STR(back.labels.v[i].key, labels_v[i].key);
		T_EQ_STR(back.labels.v[i].val, labels_v[i].val);
	}
	T_REQUIRE(back.ninsts == 3);
	for (size_t i = 0; i < 3; i++) {
		T_EQ_STR(back.insts[i].id, insts[i].id);
		T_EQ_INT(back.insts[i].state, insts[i].state);
		T_EQ_INT(back.insts[i].pid, insts[i].pid);
		T_EQ_INT(back.insts[i].restarts, insts[i].restarts);
		T_EQ_INT(back.insts[i].exit_code, insts[i].exit_code);
		T_EQ_STR(back.insts[i].error, insts[i].error);
		T_EQ_INT(back.insts[i].retry_ms, insts[i].retry_ms);
		T_EQ_INT(back.insts[i].health, insts[i].health);
	}
	T_REQUIRE(op_heartbeat_encode(&back, &again, &e) == 0);
	T_EQ_STR(again, json);
	op_heartbeat_clear(&back);
	op_heartbeat_clear(&back); /* twice is harmless */
	free(json);
	free(again);

	/* No instances, no labels. */
	op_heartbeat empty = {.host = "h", .site = "s", .boot = "b", .interval_ms = 100};
	T_REQUIRE(op_heartbeat_encode(&empty, &json, &e) == 0);
	T_EQ_STR(json,
		"{\"boot\":\"b\",\"host\":\"h\",\"instances\":[],\"interval_ms\":100,"
		"\"labels\":{},\"seq\":0,\"site\":\"s\",\"v\":1}");
	T_REQUIRE(op_heartbeat_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_INT(back.ninsts, 0);
	T_EQ_STR(back.limits, "");
	T_EQ_STR(back.wasm, "");
	op_heartbeat_clear(&back);
	free(json);

	/* The host's facts: what enforces limits, the cgroups, the wasm runtime. */
	op_heartbeat facts = {.host = "h",
		.site = "s",
		.boot = "b",
		.interval_ms = 100,
		.limits = "rlimit",
		.cgroup = "v2-undelegated",
		.wasm = "0.14.1"};
	T_REQUIRE(op_heartbeat_encode(&facts, &json, &e) == 0);
	T_CHECK_MSG(strstr(json, "\"cgroup\":\"v2-undelegated\"") &&
			strstr(json, "\"limits\":\"rlimit\"") &&
			strstr(json, "\"wasm\":\"0.14.1\""),
		"%s", json);
	T_REQUIRE(op_heartbeat_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_STR(back.limits, "rlimit");
	T_EQ_STR(back.cgroup, "v2-undelegated");
	T_EQ_STR(back.wasm, "0.14.1");
	op_heartbeat_clear(&back);
	free(json);
}

static void test_hostcmd_roundtrip(void)
{
	op_app *app = thermo();
	T_REQUIRE(app);
	op_hostcmd c = {.op = OP_CMD_START, .id = "thermo.writer.3-" HEX12, .app = app, .comp = 1};
	char *json = NULL, *again = NULL;
	op_err e = {0};
	T_REQUIRE(op_hostcmd_encode(&c, &json, &e) == 0);
	T_CHECK(strstr(json, "\"op\":\"start\""));
	T_CHECK(strstr(json, "\"comp\":1"));
	op_hostcmd back;
	T_REQUIRE(op_hostcmd_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_INT(back.op, OP_CMD_START);
	T_EQ_STR(back.id, c.id);
	T_EQ_INT(back.comp, 1);
	T_REQUIRE(back.app);
	char *a1 = NULL, *a2 = NULL;
	size_t l1, l2;
	T_REQUIRE(op_manifest_to_json(app, &a1, &l1) == 0 &&
		op_manifest_to_json(back.app, &a2, &l2) == 0);
	T_EQ_STR(a1, a2);
	T_EQ_STR(back.app->comps[1].command, "/opt/thermo/writer");
	T_REQUIRE(op_hostcmd_encode(&back, &again, &e) == 0);
	T_EQ_STR(again, json);
	free(a1), free(a2), free(json), free(again);
	op_hostcmd_clear(&back);

	/* Daemonscaler ids carry @host. */
	snprintf(c.id, sizeof c.id, "thermo.reader.0@box-9-" HEX12);
	c.comp = 0;
	T_REQUIRE(op_hostcmd_encode(&c, &json, &e) == 0);
	T_REQUIRE(op_hostcmd_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_INT(back.comp, 0);
	op_hostcmd_clear(&back);
	free(json);

	op_hostcmd s = {.op = OP_CMD_STOP, .id = "thermo.reader.0-" HEX12};
	T_REQUIRE(op_hostcmd_encode(&s, &json, &e) == 0);
	T_EQ_STR(json, "{\"id\":\"thermo.reader.0-" HEX12 "\",\"op\":\"stop\",\"v\":1}");
	T_REQUIRE(op_hostcmd_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_INT(back.op, OP_CMD_STOP);
	T_CHECK(back.app == NULL);
	op_hostcmd_clear(&back);
	free(json);

	/* restart (outpost restart): only the id, as a stop */
	op_hostcmd rs = {.op = OP_CMD_RESTART, .id = "thermo.reader.0-" HEX12};
	T_REQUIRE(op_hostcmd_encode(&rs, &json, &e) == 0);
	T_EQ_STR(json, "{\"id\":\"thermo.reader.0-" HEX12 "\",\"op\":\"restart\",\"v\":1}");
	T_REQUIRE(op_hostcmd_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_INT(back.op, OP_CMD_RESTART);
	T_CHECK(back.app == NULL);
	op_hostcmd_clear(&back);
	free(json);
	static const char with_app[] = "{\"id\":\"a.b.0-" HEX12 "\",\"op\":\"restart\",\"v\":1,"
				       "\"comp\":0}";
	T_EQ_INT(op_hostcmd_decode(with_app, sizeof with_app - 1, &back, &e), OP_EINVAL);
	op_hostcmd_clear(&back);
	op_app_free(app);
}

static void test_reply_roundtrip(void)
{
	op_hostreply ok = {.ok = true}, bad = {.ok = false, .error = "start x: \"no\""};
	char *json = NULL;
	op_err e = {0};
	op_hostreply back;
	T_REQUIRE(op_hostreply_encode(&ok, &json, &e) == 0);
	T_EQ_STR(json, "{\"ok\":true,\"v\":1}");
	T_REQUIRE(op_hostreply_decode(json, strlen(json), &back, &e) == 0);
	T_CHECK(back.ok && !back.error[0]);
	free(json);
	T_REQUIRE(op_hostreply_encode(&bad, &json, &e) == 0);
	T_REQUIRE(op_hostreply_decode(json, strlen(json), &back, &e) == 0);
	T_CHECK(!back.ok);
	T_EQ_STR(back.error, bad.error);
	free(json);
	/* A failure always says something. */
	op_hostreply mute = {.ok = false};
	T_REQUIRE(op_hostreply_encode(&mute, &json, &e) == 0);
	T_REQUIRE(op_hostreply_decode(json, strlen(json), &back, &e) == 0);
	T_EQ_STR(back.error, "failed");
	free(json);
}

static void test_names(void)
{
	for (int s = OP_INST_STARTING; s <= OP_INST_STOPPING; s++) {
		enum op_inst_state out;
		T_EQ_INT(op_inst_state_parse(op_inst_state_name((enum op_inst_state)s), &out), 0);
		T_EQ_INT(out, s);
	}
	enum op_inst_state out;
	T_EQ_INT(op_inst_state_parse("Running", &out), OP_EINVAL);
	T_EQ_INT(op_inst_state_parse(NULL, &out), OP_EINVAL);
	T_EQ_STR(op_inst_state_name((enum op_inst_state)42), "unknown");

	T_CHECK(op_inst_id_valid("a.b.0-" HEX12));
	T_CHECK(op_inst_id_valid("a.b.0@h-1-" HEX12));
	T_CHECK(op_inst_id_valid("x"));
	const char *bad_ids[] = {
		"", ".", "..", ".hidden", "-x", "@x", "a/b", "A.b", "a b", "a.b.0_1", "a\n"};
	for (size_t i = 0; i < sizeof bad_ids / sizeof *bad_ids; i++)
		T_CHECK_MSG(!op_inst_id_valid(bad_ids[i]), "accepted \"%s\"", bad_ids[i]);
	char longid[OP_INST_MAX + 2];
	memset(longid, 'a', sizeof longid - 1);
	longid[OP_INST_MAX] = '\0';
	T_CHECK(op_inst_id_valid(longid));
	longid[OP_INST_MAX] = 'a';
	longid[OP_INST_MAX + 1] = '\0';
	T_CHECK(!op_inst_id_valid(longid));

	T_CHECK(op_label_key_valid("zone.io/rack-1_A"));
	T_CHECK(!op_label_key_valid("a=b") && !op_label_key_valid("") &&
		!op_label_key_valid("a b"));
	T_CHECK(op_label_value_valid("Box_1.a-b"));
	T_CHECK(!op_label_value_valid("a/b") && !op_label_value_valid(""));
}

static void test_text(void)
{
	char out[16];
	op_proto_text(out, sizeof out, "plain");
	T_EQ_STR(out, "plain");
	op_proto_text(out, sizeof out, "a\tb\nc\x7f");
	T_EQ_STR(out, "a b c ");
	op_proto_text(out, sizeof out, "bad \xff\xc3z");
	T_EQ_STR(out, "bad ??z");
	op_proto_text(out, sizeof out, "\xed\xa0\x80\xc0\xaf"); /* surrogate, overlong */
	T_EQ_STR(out, "?????");
	op_proto_text(out, sizeof out, "0123456789abcdef");
	T_EQ_STR(out, "0123456789ab...");
	/* Cut at a character boundary, never inside one. */
	op_proto_text(out, sizeof out, "0123456789a\xc3\xa9xyz");
	T_EQ_STR(out, "0123456789a...");
	op_proto_text(out, sizeof out,
		"\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
	T_EQ_STR(out, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac...");
	op_proto_text(
		out, sizeof out, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
	T_EQ_STR(out, "\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac");
	op_proto_text(out, sizeof out, NULL);
	T_EQ_STR(out, "");

	/* An error cut inside a character still encodes, as valid text. */
	op_hb_inst in = {.id = "a.b.0-x", .state = OP_INST_FAILED, .exit_code = 1};
	memset(in.error, 'x', sizeof in.error - 2);
	in.error[sizeof in.error - 2] = '\xc3';
	op_heartbeat hb = {.host = "h",
		.site = "s",
		.boot = "b",
		.interval_ms = 2000,
		.insts = &in,
		.ninsts = 1};
	char *json = NULL;
	op_err e = {0};
	T_REQUIRE(op_heartbeat_encode(&hb, &json, &e) == 0);
	T_CHECK(strstr(json, "xxx?\""));
	free(json);
	/* Control characters off the network are spaces once decoded. */
	const char *ctl = "{\"v\":1,\"ok\":false,\"error\":\"a\\u0007b\x7f\"}";
	op_hostreply r = {.ok = false};
	T_REQUIRE(op_hostreply_decode(ctl, strlen(ctl), &r, &e) == 0);
	T_EQ_STR(r.error, "a b ");
	memset(r.error, '\xff', sizeof r.error - 1);
	T_REQUIRE(op_hostreply_encode(&r, &json, &e) == 0);
	op_hostreply back;
	T_REQUIRE(op_hostreply_decode(json, strlen(json), &back, &e) == 0);
	T_CHECK(back.error[0] == '?' && strlen(back.error) == sizeof r.error - 1);
	free(json);
}

/* --- refusals -------------------------------------------------------------------------- */

enum kind { HB, CMD, REPLY };

struct bad {
	enum kind kind;
	const char *json;
	int code;
	const char *msg; /* a substring of the error */
};

#define HB0 "\"v\":1,\"host\":\"h\",\"site\":\"s\",\"boot\":\"b\",\"seq\":1,\"interval_ms\":2000"
#define HB1(extra) "{" HB0 ",\"labels\":{},\"instances\":[" extra "]}"
#define I0 "\"id\":\"a.b.0-x\",\"state\":\"running\",\"pid\":1,\"restarts\":0,\"exit\":-1"
#define INST(extra) HB1("{" I0 extra "}")
#define APP \
	"{\"format\":1,\"apiVersion\":\"core.oam.dev/v1beta1\",\"kind\":\"Application\"," \
	"\"metadata\":{\"name\":\"a\"},\"spec\":{\"components\":[{\"name\":\"b\"," \
	"\"type\":\"process\",\"properties\":{\"command\":\"/bin/true\"}}]}}"

static const struct bad bads[] = {
	/* the host's facts are words */
	{HB, "{" HB0 ",\"labels\":{},\"instances\":[],\"wasm\":\"0.14 beta\"}", OP_EINVAL,
		"heartbeat: wasm: expected none or a version"},
	{HB, "{" HB0 ",\"labels\":{},\"instances\":[],\"limits\":\"\"}", OP_EINVAL,
		"heartbeat: limits: expected a word"},
	{HB, "{" HB0 ",\"labels\":{},\"instances\":[],\"cgroup\":3}", OP_EINVAL,
		"heartbeat: cgroup: expected a string"},
	/* framing */
	{HB, "", OP_EINVAL, "heartbeat: not JSON"},
	{HB, "[1]", OP_EINVAL, "heartbeat: expected a JSON object"},
	{HB, "{\"v\":1,\"v\":1}", OP_EINVAL, "duplicate object key"},
	{HB, "{}", OP_EINVAL, "heartbeat: v: missing"},
	{HB, "{\"v\":\"1\"}", OP_EINVAL, "heartbeat: v: expected an integer"},
	{HB, "{\"v\":2}", OP_EINVAL, "heartbeat: v: unknown version 2 (this outpost reads 1)"},
	{HB, "{\"v\":1.0}", OP_EINVAL, "v: expected an integer"},
	/* heartbeat fields */
	{HB, "{" HB0 ",\"labels\":{}}", OP_EINVAL, "heartbeat: instances: missing"},
	{HB, "{" HB0 ",\"instances\":[]}", OP_EINVAL, "heartbeat: labels: missing"},
	{HB, HB1("") "x", OP_EINVAL, "not JSON"},
	{HB, "{\"v\":1,\"host\":\"Box\"}", OP_EINVAL, "heartbeat: host: expected a host id"},
	{HB, "{\"v\":1,\"host\":7}", OP_EINVAL, "heartbeat: host: expected a string"},
	{HB, "{\"v\":1,\"host\":\"h\",\"site\":\"\"}", OP_EINVAL, "heartbeat: site: expected"},
	{HB, "{\"v\":1,\"host\":\"h\",\"site\":\"s\",\"boot\":\"a b\"}", OP_EINVAL,
		"heartbeat: boot: expected a boot id"},
	{HB, "{\"v\":1,\"host\":\"h\",\"site\":\"s\",\"boot\":\"b\",\"seq\":-1}", OP_EINVAL,
		"heartbeat: seq: expected an integer in 0.."},
	{HB, "{\"v\":1,\"host\":\"h\",\"site\":\"s\",\"boot\":\"b\",\"seq\":1,\"interval_ms\":99}",
		OP_EINVAL, "heartbeat: interval_ms: expected an integer in 100..3600000"},
	{HB, "{" HB0 ",\"labels\":[],\"instances\":[]}", OP_EINVAL,
		"heartbeat: labels: expected an object"},
	{HB, "{" HB0 ",\"labels\":{\"a b\":\"c\"},\"instances\":[]}", OP_EINVAL,
		"heartbeat: labels.a b: expected a key"},
	{HB, "{" HB0 ",\"labels\":{\"a\":\"c/d\"},\"instances\":[]}", OP_EINVAL,
		"heartbeat: labels.a: expected"},
	{HB, "{" HB0 ",\"labels\":{\"a\":1},\"instances\":[]}", OP_EINVAL, "heartbeat: labels.a:"},
	{HB, "{" HB0 ",\"labels\":{},\"instances\":{}}", OP_EINVAL,
		"heartbeat: instances: expected an array"},
	{HB, "{" HB0 ",\"labels\":{},\"instances\":[],\"extra\":1}", OP_EINVAL,
		"heartbeat: extra: unknown field"},
	/* instances */
	{HB, HB1("1"), OP_EINVAL, "heartbeat: instances[0]: expected an object"},
	{HB, INST(",\"cpu\":1"), OP_EINVAL, "heartbeat: instances[0].cpu: unknown field"},
	{HB, HB1("{\"state\":\"running\"}"), OP_EINVAL, "heartbeat: instances[0].id: missing"},
	{HB, HB1("{\"id\":\"../etc\"}"), OP_EINVAL,
		"heartbeat: instances[0].id: expected an instance id"},
	{HB, HB1("{\"id\":\"x\",\"state\":\"zombie\",\"pid\":1,\"restarts\":0,\"exit\":-1}"),
		OP_EINVAL, "heartbeat: instances[0].state: expected one of starting, running"},
	{HB, HB1("{\"id\":\"x\",\"state\":\"running\",\"pid\":-1}"), OP_EINVAL,
		"heartbeat: instances[0].pid: expected an integer in 0..2147483647"},
	{HB, HB1("{\"id\":\"x\",\"state\":\"running\",\"pid\":1,\"restarts\":-2}"), OP_EINVAL,
		"instances[0].restarts: expected an integer in 0.."},
	{HB, HB1("{\"id\":\"x\",\"state\":\"running\",\"pid\":1,\"restarts\":0,\"exit\":256}"),
		OP_EINVAL, "heartbeat: instances[0].exit: expected an integer in -1..255"},
	{HB, INST(",\"error\":7"), OP_EINVAL, "heartbeat: instances[0].error: expected a string"},
	{HB, HB1("{" I0 "},{" I0 "}"), OP_EINVAL,
		"heartbeat: instances[1].id: duplicate instance a.b.0-x"},
	{HB, INST(",\"health\":\"none\""), OP_EINVAL,
		"heartbeat: instances[0].health: expected one of starting, healthy, unhealthy"},
	{HB, INST(",\"health\":\"ok\""), OP_EINVAL, "instances[0].health: expected one of"},
	{HB, INST(",\"health\":1"), OP_EINVAL, "instances[0].health: expected a string"},
	{HB, INST(",\"health\":\"\""), OP_EINVAL, "instances[0].health: expected a health"},
	{HB,
		HB1("{\"id\":\"x\",\"state\":\"backoff\",\"pid\":0,\"restarts\":1,\"exit\":1,"
		    "\"health\":\"healthy\"}"),
		OP_EINVAL, "instances[0].health: expected only while the state is running"},
	{HB, INST(",\"probe\":[]"), OP_EINVAL, "heartbeat: instances[0].probe: expected a string"},
	/* commands */
	{CMD, "{\"v\":1}", OP_EINVAL, "command: op: missing"},
	{CMD, "{\"v\":1,\"op\":\"reboot\",\"id\":\"a\"}", OP_EINVAL,
		"command: op: expected start, stop or restart"},
	{CMD, "{\"v\":1,\"op\":\"stop\"}", OP_EINVAL, "command: id: missing"},
	{CMD, "{\"v\":1,\"op\":\"stop\",\"id\":\"a/b\"}", OP_EINVAL,
		"command: id: expected an instance id"},
	{CMD, "{\"v\":1,\"op\":\"stop\",\"id\":\"a\",\"app\":{}}", OP_EINVAL,
		"command: app: unknown field"},
	{CMD, "{\"v\":0,\"op\":\"stop\",\"id\":\"a\"}", OP_EINVAL, "command: v: unknown version 0"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"app\":" APP "}", OP_EINVAL,
		"command: comp: missing"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"comp\":0}", OP_EINVAL,
		"command: app: missing"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"comp\":64,\"app\":" APP "}",
		OP_EINVAL, "command: comp: expected an integer in 0..63"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"comp\":1,\"app\":" APP "}", OP_EINVAL,
		"command: comp: expected the index of one of the app's components"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.c.0-x\",\"comp\":0,\"app\":" APP "}", OP_EINVAL,
		"command: id: a.c.0-x is not an instance of a.b"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.\",\"comp\":0,\"app\":" APP "}", OP_EINVAL,
		"is not an instance of a.b"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"comp\":0,\"app\":[]}", OP_EINVAL,
		"command: app: expected an object"},
	{CMD, "{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"comp\":0,\"app\":{\"format\":2}}",
		OP_EINVAL, "command: app: format"},
	{CMD,
		"{\"v\":1,\"op\":\"start\",\"id\":\"a.b.0-x\",\"comp\":0,\"app\":{\"format\":1,"
		"\"apiVersion\":\"core.oam.dev/v1beta1\",\"kind\":\"Application\",\"metadata\":"
		"{\"name\":\"a\"},\"spec\":{\"components\":[{\"name\":\"b\",\"type\":\"process\","
		"\"properties\":{\"command\":\"bin/true\"}}]}}}",
		OP_EINVAL, "command: app: spec.components[0].properties.command:"},
	/* replies */
	{REPLY, "{\"v\":1}", OP_EINVAL, "reply: ok: missing"},
	{REPLY, "{\"v\":1,\"ok\":1}", OP_EINVAL, "reply: ok: expected true or false"},
	{REPLY, "{\"v\":1,\"ok\":false}", OP_EINVAL, "reply: error: missing"},
	{REPLY, "{\"v\":1,\"ok\":false,\"error\":\"\"}", OP_EINVAL,
		"reply: error: expected a message"},
	{REPLY, "{\"v\":1,\"ok\":true,\"error\":\"x\"}", OP_EINVAL,
		"reply: error: unexpected with \"ok\":true"},
	{REPLY, "{\"v\":1,\"ok\":true,\"why\":\"x\"}", OP_EINVAL, "reply: why: unknown field"},
	{REPLY, "{\"v\":3,\"ok\":true}", OP_EINVAL, "reply: v: unknown version 3"},
};

static int decode(enum kind k, const char *json, size_t len, op_err *e)
{
	int rc;
	if (k == HB) {
		op_heartbeat hb;
		rc = op_heartbeat_decode(json, len, &hb, e);
		op_heartbeat_clear(&hb);
	} else if (k == CMD) {
		op_hostcmd c;
		rc = op_hostcmd_decode(json, len, &c, e);
		op_hostcmd_clear(&c);
	} else {
		op_hostreply r;
		rc = op_hostreply_decode(json, len, &r, e);
	}
	return rc;
}

/* Health goes out only while running (none is not sent), a failed probe's text when
 * there is one; a running instance without health (an older host, or one that does not
 * run checks) reads as healthy, any other state as none. */
static void test_heartbeat_health(void)
{
	op_hb_inst insts[] = {
		{"a.b.0-" HEX12, OP_INST_RUNNING, 10, 0, -1, "", 0, OP_HEALTH_HEALTHY, ""},
		{"a.b.1-" HEX12, OP_INST_RUNNING, 11, 0, -1, "", 0, OP_HEALTH_UNHEALTHY,
			"http :8080/healthz: status 503"},
		{"a.b.2-" HEX12, OP_INST_RUNNING, 12, 0, -1, "", 0, OP_HEALTH_STARTING,
			"exec /bin/check: line\x01two"},
		{"a.b.3-" HEX12, OP_INST_RUNNING, 13, 0, -1, "", 0, OP_HEALTH_NONE, ""},
		{"a.b.4-" HEX12, OP_INST_BACKOFF, 0, 1, 1, "", 0, OP_HEALTH_UNHEALTHY, "tcp :1: x"},
	};
	op_heartbeat hb = {.host = "h",
		.site = "s",
		.boot = "b",
		.seq = 1,
		.interval_ms = 2000,
		.insts = insts,
		.ninsts = 5};
	op_err e = {0};
	char *json = NULL, *again = NULL;
	T_REQUIRE(op_heartbeat_encode(&hb, &json, &e) == 0);
	T_CHECK(strstr(json, "\"health\":\"healthy\",\"id\":\"a.b.0-"));
	T_CHECK(strstr(json, "\"health\":\"unhealthy\",\"id\":\"a.b.1-"));
	T_CHECK(strstr(json, "\"probe\":\"http :8080/healthz: status 503\""));
	T_CHECK(strstr(json, "\"probe\":\"exec /bin/check: line two\"")); /* made text */
	T_CHECK(strstr(json, "{\"exit\":-1,\"id\":\"a.b.3-" HEX12 "\",\"pid\":13,")); /* not sent */
	T_CHECK(!strstr(json, "\"health\":\"none\""));
	char *b4 = strstr(json, "a.b.4-");
	T_CHECK(b4 && !strstr(b4, "health")); /* not running: not sent */
	op_heartbeat back = {0};
	T_REQUIRE(op_heartbeat_decode(json, strlen(json), &back, &e) == 0);
	T_REQUIRE(back.ninsts == 5);
	const enum op_health want[] = {OP_HEALTH_HEALTHY, OP_HEALTH_UNHEALTHY, OP_HEALTH_STARTING,
		OP_HEALTH_HEALTHY, OP_HEALTH_NONE};
	for (size_t i = 0; i < 5; i++)
		T_EQ_INT(back.insts[i].health, want[i]);
	T_EQ_STR(back.insts[1].probe, "http :8080/healthz: status 503");
	T_EQ_STR(back.insts[2].probe, "exec /bin/check: line two");
	T_EQ_STR(back.insts[0].probe, "");
	T_EQ_STR(back.insts[4].probe, "tcp :1: x");
	/* Encoded again, the same bytes but for the one read as healthy. */
	T_REQUIRE(op_heartbeat_encode(&back, &again, &e) == 0);
	T_CHECK(strstr(again, "\"health\":\"healthy\",\"id\":\"a.b.3-"));
	back.insts[3].health = OP_HEALTH_NONE;
	free(again);
	T_REQUIRE(op_heartbeat_encode(&back, &again, &e) == 0);
	T_EQ_STR(again, json);
	free(json);
	free(again);
	op_heartbeat_clear(&back);

	/* An older host: no health field. */
	const char *old = HB1("{" I0 "},{\"id\":\"a.b.1-x\",\"state\":\"starting\",\"pid\":0,"
			      "\"restarts\":0,\"exit\":-1}");
	T_REQUIRE(op_heartbeat_decode(old, strlen(old), &back, &e) == 0);
	T_EQ_INT(back.insts[0].health, OP_HEALTH_HEALTHY);
	T_EQ_INT(back.insts[1].health, OP_HEALTH_NONE);
	op_heartbeat_clear(&back);

	/* A health out of range is refused by the encoder. */
	insts[0].health = (enum op_health)9;
	T_CHECK(op_heartbeat_encode(&hb, &json, &e) != 0);
	T_CHECK(json == NULL);

	T_EQ_STR(op_health_name(OP_HEALTH_NONE), "none");
	T_EQ_STR(op_health_name(OP_HEALTH_UNHEALTHY), "unhealthy");
	enum op_health h = OP_HEALTH_NONE;
	T_EQ_INT(op_health_parse("healthy", &h), 0);
	T_EQ_INT(h, OP_HEALTH_HEALTHY);
	T_EQ_INT(op_health_parse("none", &h), OP_EINVAL);
	T_EQ_INT(op_health_parse(NULL, &h), OP_EINVAL);
}

static void test_refusals(void)
{
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
		const struct bad *b = &bads[i];
		op_err e = {0};
		int rc = decode(b->kind, b->json, strlen(b->json), &e);
		T_CHECK_MSG(rc == b->code && strstr(e.msg, b->msg),
			"row %zu: %s\n    got %d \"%s\"\n    want %d \"%s\"", i, b->json, rc, e.msg,
			b->code, b->msg);
	}
}

/* Sizes and counts: the byte limit is checked before parsing, the count caps after. */
static void test_oversize(void)
{
	size_t n = OP_HB_MAX_BYTES + 1;
	char *big = malloc(n + 1);
	T_REQUIRE(big);
	memset(big, ' ', n);
	big[n] = '\0';
	op_err e = {0};
	T_EQ_INT(decode(HB, big, n, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "heartbeat: 786433 bytes is over the limit of 786432"));
	T_EQ_INT(decode(CMD, big, OP_CMD_MAX_BYTES + 1, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "command:"));
	T_EQ_INT(decode(REPLY, big, OP_REPLY_MAX_BYTES + 1, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "reply:"));
	free(big);

	/* Too many instances or labels, both ways. */
	op_hb_inst *insts = calloc(OP_HB_MAX_INSTANCES + 1, sizeof *insts);
	T_REQUIRE(insts);
	for (int i = 0; i <= OP_HB_MAX_INSTANCES; i++) {
		snprintf(insts[i].id, sizeof insts[i].id, "app.c.%d-" HEX12, i);
		insts[i].exit_code = -1;
	}
	op_heartbeat hb = {.host = "h",
		.site = "s",
		.boot = "b",
		.interval_ms = 2000,
		.insts = insts,
		.ninsts = OP_HB_MAX_INSTANCES};
	char *json = NULL;
	T_REQUIRE(op_heartbeat_encode(&hb, &json, &e) == 0);
	op_heartbeat back;
	T_EQ_INT(op_heartbeat_decode(json, strlen(json), &back, &e), 0);
	T_EQ_INT(back.ninsts, OP_HB_MAX_INSTANCES);
	op_heartbeat_clear(&back);
	/* One more, spliced into the JSON by hand. */
	char *tail = strstr(json, "],\"interval_ms\"");
	T_REQUIRE(tail);
	char *more = NULL;
	T_REQUIRE(asprintf(&more,
			  "%.*s,{\"id\":\"z\",\"state\":\"running\",\"pid\":0,"
			  "\"restarts\":0,\"exit\":-1}%s",
			  (int)(tail - json), json, tail) > 0);
	T_EQ_INT(op_heartbeat_decode(more, strlen(more), &back, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "heartbeat: instances: 1025 is over the limit of 1024"));
	free(more);
	free(json);
	hb.ninsts = OP_HB_MAX_INSTANCES + 1;
	T_EQ_INT(op_heartbeat_encode(&hb, &json, &e), OP_ETOOBIG);
	T_CHECK(json == NULL);
	free(insts);

	char *lab = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&lab, &len);
	fprintf(f, "{" HB0 ",\"instances\":[],\"labels\":{");
	for (int i = 0; i <= OP_HB_MAX_LABELS; i++)
		fprintf(f, "%s\"k%d\":\"v\"", i ? "," : "", i);
	fprintf(f, "}}");
	fclose(f);
	T_EQ_INT(op_heartbeat_decode(lab, len, &back, &e), OP_ETOOBIG);
	T_CHECK(strstr(e.msg, "heartbeat: labels: more than 64"));
	free(lab);
}

static void test_encode_refusals(void)
{
	op_err e = {0};
	char *json = NULL;
	op_heartbeat hb = {.host = "Bad", .site = "s", .boot = "b", .interval_ms = 2000};
	T_EQ_INT(op_heartbeat_encode(&hb, &json, &e), OP_EINVAL);
	op_hb_inst in = {.id = "../x", .exit_code = -1};
	op_heartbeat hb2 = {.host = "h", .site = "s", .boot = "b", .insts = &in, .ninsts = 1};
	T_CHECK(op_heartbeat_encode(&hb2, &json, &e) != 0);
	T_CHECK(json == NULL);

	op_app *app = thermo();
	T_REQUIRE(app);
	op_hostcmd c = {.op = OP_CMD_START, .id = "thermo.writer.0-" HEX12, .app = app, .comp = 0};
	T_EQ_INT(op_hostcmd_encode(&c, &json, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "is not an instance of thermo.reader"));
	c.comp = 2;
	T_EQ_INT(op_hostcmd_encode(&c, &json, &e), OP_EINVAL);
	c.app = NULL;
	c.comp = 0;
	T_EQ_INT(op_hostcmd_encode(&c, &json, &e), OP_EINVAL);
	op_hostcmd s = {.op = OP_CMD_STOP, .id = ".x"};
	T_EQ_INT(op_hostcmd_encode(&s, &json, &e), OP_EINVAL);
	T_CHECK(json == NULL);
	op_app_free(app);
}

static const char *label_n(int i)
{
	static char buf[32];
	snprintf(buf, sizeof buf, "k%d=v", i);
	return buf;
}

/* --label: the label rules, sorted, unique, and no more than a heartbeat may carry
 * with the implicit site= label. */
static void test_cli_labels(void)
{
	op_kvs l = {0};
	op_err e = {0};
	T_EQ_INT(op_cli_label(&l, "b=2", &e), 0);
	T_EQ_INT(op_cli_label(&l, "a=1", &e), 0);
	T_EQ_STR(l.v[0].key, "a");
	T_EQ_INT(op_cli_label(&l, "a=3", &e), OP_EUSAGE);
	T_EQ_INT(op_cli_label(&l, "noequals", &e), OP_EUSAGE);
	T_EQ_INT(op_cli_label(&l, "k=bad value", &e), OP_EUSAGE);
	int added = 2;
	while (op_cli_label(&l, label_n(added), &e) == 0)
		added++;
	T_EQ_INT(added, OP_HB_MAX_LABELS - 1);
	T_CHECK(strstr(e.msg, "at most"));
	op_kvs_clear(&l);
}

int main(void)
{
	T_RUN(test_heartbeat_roundtrip);
	T_RUN(test_heartbeat_health);
	T_RUN(test_hostcmd_roundtrip);
	T_RUN(test_reply_roundtrip);
	T_RUN(test_names);
	T_RUN(test_text);
	T_RUN(test_refusals);
	T_RUN(test_oversize);
	T_RUN(test_encode_refusals);
	T_RUN(test_cli_labels);
	return t_done();
}
