/* Instances' output after they go, and the log request's answer, over real files in a
 * temp dir: which logs are kept and how many (op_logs_keep), what a reply holds (tail,
 * a cursor across a rotation, the shared byte budget, the count cap) and the codecs
 * (round trips, text made of any bytes, strict decoding). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/host/host.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/wire/proto.h"
#include "t.h"

static const char *state;

/* An instance dir with output.log holding text (and a state.json in state st). */
static void inst(const char *id, const char *text, enum op_inst_state st, int code)
{
	T_REQUIRE(h_write(h_str("%s/instances/%s/output.log", state, id), "%s", text) == 0);
	op_shim_state s = {.state = st, .exit_code = code};
	snprintf(s.id, sizeof s.id, "%s", id);
	T_REQUIRE(op_shim_state_save(state, &s, NULL) == 0);
}

static int count_kept(const char *prefix)
{
	int n = 0;
	char *out = NULL;
	h_run(&out, "ls %s/logs 2>/dev/null", h_q(state));
	for (char *p = out; p && (p = strstr(p, prefix)); p++)
		n++;
	free(out);
	return n;
}

static void test_keep_and_gc(void)
{
	state = h_path("keep");
	/* Five versions of web.main replaced one after another, one of db.main. */
	for (int i = 0; i < 5; i++) {
		const char *id = h_str("web.main.0-00000000000%d", i);
		inst(id, h_str("output of version %d\n", i), OP_INST_RUNNING, -1);
		T_EQ_INT(op_logs_keep(state, id, OP_LOGS_KEEP, NULL), 0);
		T_EQ_INT(op_inst_remove(state, id, NULL), 0);
	}
	inst("db.main.0-aaaaaaaaaaaa", "db\n", OP_INST_FAILED, 3);
	T_EQ_INT(op_logs_keep(state, "db.main.0-aaaaaaaaaaaa", OP_LOGS_KEEP, NULL), 0);
	T_EQ_INT(count_kept("web.main."), OP_LOGS_KEEP);
	T_EQ_INT(count_kept("db.main."), 1);
	/* the newest three: versions 2, 3, 4 */
	T_EQ_INT(count_kept("-000000000002"), 1);
	T_EQ_INT(count_kept("-000000000001"), 0);
	/* an instance that never wrote anything leaves no kept dir */
	T_REQUIRE(h_mkdirs(h_str("%s/instances/web.main.1-bbbbbbbbbbbb", state)) == 0);
	T_EQ_INT(op_logs_keep(state, "web.main.1-bbbbbbbbbbbb", OP_LOGS_KEEP, NULL), 0);
	T_EQ_INT(count_kept("web.main.1-"), 0);

	const char *id;
	int64_t ms;
	T_CHECK(op_logs_name("1765000000000.web.main.0-abc", &id, &ms) && ms == 1765000000000 &&
		!strcmp(id, "web.main.0-abc"));
	T_CHECK(!op_logs_name("176500000000.web.main.0-abc", &id, &ms));
	T_CHECK(!op_logs_name("1765000000000.", &id, &ms));
	T_CHECK(!op_logs_name("1765000000000..x", &id, &ms));
}

/* Asks the files under state as the host would. */
static op_logreply ask(const char *app, const char *only, uint64_t tail, const op_logcur *cur)
{
	op_logreq q = {.tail = tail};
	snprintf(q.app, sizeof q.app, "%s", app);
	snprintf(q.inst, sizeof q.inst, "%s", only ? only : "");
	op_logcur c;
	if (cur) {
		c = *cur;
		q.after = &c;
		q.nafter = 1;
	}
	op_logreply r;
	op_err e = {0};
	T_CHECK_MSG(op_host_logs(state, "h1", &q, &r, &e) == 0, "%s", e.msg);
	return r;
}

static void test_reply(void)
{
	state = h_path("reply");
	inst("web.main.0-000000000001", "old crash\n", OP_INST_FAILED, 3);
	T_REQUIRE(op_logs_keep(state, "web.main.0-000000000001", OP_LOGS_KEEP, NULL) == 0);
	T_REQUIRE(op_inst_remove(state, "web.main.0-000000000001", NULL) == 0);
	inst("web.main.0-000000000002", "line 1\nline 2\n", OP_INST_RUNNING, -1);
	inst("webx.main.0-000000000003", "not web\n", OP_INST_RUNNING, -1);

	op_logreply r = ask("web", NULL, 0, NULL);
	T_REQUIRE(r.n == 2);
	T_EQ_STR(r.host, "h1");
	/* the kept one first (older), then the running one */
	T_EQ_STR(r.v[0].id, "web.main.0-000000000001");
	T_CHECK(!r.v[0].running && r.v[0].stopped_ms > 0);
	T_EQ_INT(r.v[0].state, OP_INST_FAILED);
	T_EQ_INT(r.v[0].exit_code, 3);
	T_EQ_STR(r.v[0].data, "old crash\n");
	T_EQ_STR(r.v[1].id, "web.main.0-000000000002");
	T_CHECK(r.v[1].running && !r.v[1].more && !r.v[1].gap);
	T_EQ_STR(r.v[1].data, "line 1\nline 2\n");
	op_logcur cur = {.ino = r.v[1].ino, .off = r.v[1].off};
	snprintf(cur.id, sizeof cur.id, "%s", r.v[1].id);
	op_logreply_clear(&r);

	/* tail: the last bytes only */
	r = ask("web", "web.main.0-000000000002", 7, NULL);
	T_REQUIRE(r.n == 1);
	T_EQ_STR(r.v[0].data, "line 2\n");
	op_logreply_clear(&r);

	/* A cursor: nothing new, then what was appended; then across a rotation (the shim
	 * renames output.log to output.log.1 and starts a new one). */
	r = ask("web", "web.main.0-000000000002", 0, &cur);
	T_REQUIRE(r.n == 1);
	T_EQ_INT(r.v[0].len, 0);
	op_logreply_clear(&r);
	const char *log = h_str("%s/instances/web.main.0-000000000002/output.log", state);
	FILE *f = fopen(log, "a");
	T_REQUIRE(f);
	fputs("line 3\n", f);
	fclose(f);
	T_REQUIRE(rename(log, h_str("%s.1", log)) == 0);
	T_REQUIRE(h_write(log, "line 4\n") == 0);
	r = ask("web", "web.main.0-000000000002", 0, &cur);
	T_REQUIRE(r.n == 1);
	T_EQ_STR(r.v[0].data, "line 3\nline 4\n");
	T_CHECK(!r.v[0].gap);
	op_logreply_clear(&r);
	/* the cursor's file rotated away: from the oldest, with a gap */
	cur.ino = 1;
	r = ask("web", "web.main.0-000000000002", 0, &cur);
	T_REQUIRE(r.n == 1);
	T_CHECK(r.v[0].gap);
	T_EQ_STR(r.v[0].data, "line 1\nline 2\nline 3\nline 4\n");
	op_logreply_clear(&r);
}

/* One reply holds at most OP_LOGS_DATA_MAX bytes of output, shared among the logs. */
static void test_budget(void)
{
	state = h_path("budget");
	size_t big = 3 * OP_LOGS_DATA_MAX;
	char *text = malloc(big + 1);
	T_REQUIRE(text);
	memset(text, 'x', big);
	text[big] = '\0';
	inst("big.main.0-000000000001", text, OP_INST_RUNNING, -1);
	inst("big.main.1-000000000001", "small\n", OP_INST_RUNNING, -1);
	free(text);
	op_logreply r = ask("big", NULL, 0, NULL);
	T_REQUIRE(r.n == 2);
	size_t total = r.v[0].len + r.v[1].len;
	T_CHECK_MSG(total <= OP_LOGS_DATA_MAX, "%zu bytes", total);
	T_CHECK(r.v[0].more && r.v[0].len >= OP_LOGS_DATA_MAX / 2 - 1);
	T_EQ_STR(r.v[1].data, "small\n");
	char *json = NULL;
	T_CHECK(op_logreply_encode(&r, &json, NULL) == 0 &&
		strlen(json) <= OP_LOGS_REPLY_MAX_BYTES);
	free(json);
	op_logreply_clear(&r);
	/* the default tail */
	r = ask("big", "big.main.0-000000000001", OP_LOGS_TAIL_DEFAULT, NULL);
	T_REQUIRE(r.n == 1);
	T_EQ_INT(r.v[0].len, OP_LOGS_TAIL_DEFAULT);
	op_logreply_clear(&r);
}

static void test_codec(void)
{
	op_logcur cur = {.ino = 42, .off = 7};
	snprintf(cur.id, sizeof cur.id, "web.main.0-abc");
	op_logreq q = {.tail = 100, .running_only = true, .after = &cur, .nafter = 1};
	snprintf(q.app, sizeof q.app, "web");
	char *json = NULL;
	T_REQUIRE(op_logreq_encode(&q, &json, NULL) == 0);
	T_EQ_STR(json,
		"{\"after\":[{\"id\":\"web.main.0-abc\",\"ino\":42,\"off\":7}],\"app\":"
		"\"web\",\"running_only\":true,\"tail\":100,\"v\":1}");
	op_logreq d;
	T_REQUIRE(op_logreq_decode(json, strlen(json), &d, NULL) == 0);
	T_CHECK(d.nafter == 1 && d.after[0].ino == 42 && d.tail == 100 && d.running_only);
	op_logreq_clear(&d);
	free(json);
	op_err e = {0};
	const char *bad[] = {"{\"v\":1,\"app\":\"web\",\"tail\":1,\"running_only\":false,\"x\":1}",
		"{\"v\":1,\"app\":\"../x\",\"tail\":1,\"running_only\":false}",
		"{\"v\":1,\"app\":\"web\",\"tail\":-1,\"running_only\":false}",
		"{\"v\":2,\"app\":\"web\",\"tail\":1,\"running_only\":false}",
		"{\"v\":1,\"app\":\"web\",\"tail\":1,\"running_only\":false,\"instance\":\"/x\"}"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		T_CHECK_MSG(op_logreq_decode(bad[i], strlen(bad[i]), &d, &e) != 0, "%s", bad[i]);
		op_logreq_clear(&d);
	}

	/* Any bytes arrive as text of the same length: invalid UTF-8 and NUL as '?'. */
	char raw[] = "ok \xc3\xa9 \xff\x00 \xe2\x82 end\n";
	op_logent ent = {.running = true, .exit_code = -1, .data = raw, .len = sizeof raw - 1};
	snprintf(ent.id, sizeof ent.id, "web.main.0-abc");
	op_logreply r = {.v = &ent, .n = 1};
	snprintf(r.host, sizeof r.host, "h1");
	T_REQUIRE(op_logreply_encode(&r, &json, &e) == 0);
	op_logreply back;
	T_REQUIRE(op_logreply_decode(json, strlen(json), &back, &e) == 0);
	T_REQUIRE(back.n == 1);
	T_EQ_INT(back.v[0].len, sizeof raw - 1);
	T_EQ_STR(back.v[0].data, "ok \xc3\xa9 ?? ?? end\n");
	op_logreply_clear(&back);
	free(json);
	/* a reply past its size cap is refused before it is parsed */
	T_EQ_INT(op_logreply_decode("{}", OP_LOGS_REPLY_MAX_BYTES + 1, &back, &e), OP_ETOOBIG);
	op_logreply_clear(&back);
}

int main(void)
{
	T_RUN(test_keep_and_gc);
	T_RUN(test_reply);
	T_RUN(test_budget);
	T_RUN(test_codec);
	return t_done();
}
