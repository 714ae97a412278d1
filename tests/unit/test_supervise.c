/* Supervision's pure parts and small helpers: the restart decision as a table (policy x
 * exit code x run length x crash-loop count), the backoff sequence, a whole crash loop
 * played through the decision, arch names, the artifact digest choice, the state file
 * codec, the output log's rotation, and the /proc and sha256 helpers. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"
#include "t.h"

static const op_restart_policy P = OP_RESTART_POLICY_DEFAULT;

static void test_backoff(void)
{
	const int64_t want[] = {200, 400, 800, 1600, 3200, 6400, 12800, 25600, 30000, 30000};
	for (int n = 1; n <= 10; n++)
		T_EQ_INT(op_backoff_ms(&P, n), want[n - 1]);
	T_EQ_INT(op_backoff_ms(&P, 0), 200);
	T_EQ_INT(op_backoff_ms(&P, 1000000), 30000);
	op_restart_policy q = {.base_ms = 50, .max_ms = 120, .min_run_ms = 1, .loop_limit = 9};
	T_EQ_INT(op_backoff_ms(&q, 2), 100);
	T_EQ_INT(op_backoff_ms(&q, 3), 120);
}

struct row {
	enum op_restart mode;
	int code;
	int64_t run_ms;
	int short_before;
	enum op_next next;
	int64_t delay;
	int short_after;
};

static const struct row rows[] = {
	/* always: whatever the code */
	{OP_RESTART_ALWAYS, 0, 100, 0, OP_NEXT_RESTART, 0, 1},
	{OP_RESTART_ALWAYS, 3, 100, 1, OP_NEXT_RESTART, 200, 2},
	{OP_RESTART_ALWAYS, 3, 100, 3, OP_NEXT_RESTART, 800, 4},
	{OP_RESTART_ALWAYS, 143, 9999, 3, OP_NEXT_RESTART, 800, 4},
	{OP_RESTART_ALWAYS, 3, 100, 4, OP_NEXT_FAILED, 0, 5},
	{OP_RESTART_ALWAYS, 0, 100, 4, OP_NEXT_FAILED, 0, 5},
	/* a run of at least 10 s resets the count: the restart after it is immediate */
	{OP_RESTART_ALWAYS, 3, 10000, 4, OP_NEXT_RESTART, 0, 0},
	{OP_RESTART_ALWAYS, 0, 86400000, 2, OP_NEXT_RESTART, 0, 0},
	/* on-failure: 0 ends it, anything else (codes, signals) restarts */
	{OP_RESTART_ON_FAILURE, 0, 100, 0, OP_NEXT_EXITED, 0, 0},
	{OP_RESTART_ON_FAILURE, 0, 100, 3, OP_NEXT_EXITED, 0, 3},
	{OP_RESTART_ON_FAILURE, 0, 20000, 3, OP_NEXT_EXITED, 0, 0},
	{OP_RESTART_ON_FAILURE, 1, 100, 0, OP_NEXT_RESTART, 0, 1},
	{OP_RESTART_ON_FAILURE, 137, 100, 2, OP_NEXT_RESTART, 400, 3},
	{OP_RESTART_ON_FAILURE, 255, 100, 4, OP_NEXT_FAILED, 0, 5},
	/* never: ends on any exit, never failed */
	{OP_RESTART_NEVER, 0, 100, 0, OP_NEXT_EXITED, 0, 0},
	{OP_RESTART_NEVER, 1, 100, 4, OP_NEXT_EXITED, 0, 4},
	{OP_RESTART_NEVER, 139, 50000, 0, OP_NEXT_EXITED, 0, 0},
};

static void test_decide_table(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		const struct row *r = &rows[i];
		int n = r->short_before;
		op_decision d = op_restart_decide(&P, r->mode, r->code, r->run_ms, &n);
		T_CHECK_MSG(d.next == r->next && d.delay_ms == r->delay && n == r->short_after,
			"row %zu: got next %d delay %lld short %d, want %d %lld %d", i, d.next,
			(long long)d.delay_ms, n, r->next, (long long)r->delay, r->short_after);
	}
}

/* A command that exits at once with 3 under `always`: four restarts, the first at once
 * and then doubling delays, then failed; one long run in between starts the count again. */
static void test_crash_loop(void)
{
	int n = 0, restarts = 0;
	int64_t delays[8] = {0};
	op_decision d;
	while ((d = op_restart_decide(&P, OP_RESTART_ALWAYS, 3, 5, &n)).next == OP_NEXT_RESTART &&
		restarts < 8)
		delays[restarts++] = d.delay_ms;
	T_EQ_INT(d.next, OP_NEXT_FAILED);
	T_EQ_INT(restarts, 4);
	T_EQ_INT(delays[0], 0);
	T_EQ_INT(delays[1], 200);
	T_EQ_INT(delays[3], 800);

	n = 0;
	for (int i = 0; i < 4; i++)
		T_EQ_INT(op_restart_decide(&P, OP_RESTART_ALWAYS, 3, 5, &n).next, OP_NEXT_RESTART);
	T_EQ_INT(op_restart_decide(&P, OP_RESTART_ALWAYS, 3, 60000, &n).next, OP_NEXT_RESTART);
	for (int i = 0; i < 4; i++)
		T_EQ_INT(op_restart_decide(&P, OP_RESTART_ALWAYS, 3, 5, &n).next, OP_NEXT_RESTART);
	T_EQ_INT(op_restart_decide(&P, OP_RESTART_ALWAYS, 3, 5, &n).next, OP_NEXT_FAILED);

	op_restart_policy one = {.base_ms = 1, .max_ms = 1, .min_run_ms = 1000, .loop_limit = 1};
	n = 0;
	T_EQ_INT(op_restart_decide(&one, OP_RESTART_ON_FAILURE, 1, 10, &n).next, OP_NEXT_FAILED);
}

static void test_arch(void)
{
	T_EQ_STR(op_arch_name("x86_64"), "amd64");
	T_EQ_STR(op_arch_name("aarch64"), "arm64");
	T_EQ_STR(op_arch_name("armv7l"), "armhf");
	T_EQ_STR(op_arch_name("riscv64"), "riscv64");
	T_EQ_STR(op_arch_name("i686"), "i386");
	T_EQ_STR(op_arch_name("ppc64le"), "ppc64el");
	T_EQ_STR(op_arch_name("vax"), "vax");
	struct utsname u;
	T_REQUIRE(uname(&u) == 0);
	T_EQ_STR(op_arch_self(), op_arch_name(u.machine));
	T_CHECK(op_label_value_valid(op_arch_self()));
}

static void test_artifact_digest(void)
{
	op_kv per[] = {{"amd64", "aa"}, {"arm64", "bb"}};
	op_artifact one = {.path = "/x", .sha256 = "cc"};
	op_artifact many = {.path = "/x", .sha256_arch = {per, 2}};
	T_EQ_STR(op_artifact_digest(&one, "amd64"), "cc");
	T_EQ_STR(op_artifact_digest(&one, "riscv64"), "cc");
	T_EQ_STR(op_artifact_digest(&many, "amd64"), "aa");
	T_EQ_STR(op_artifact_digest(&many, "arm64"), "bb");
	T_CHECK(op_artifact_digest(&many, "armhf") == NULL);
}

/* A failed instance's retries: from 10 s, doubling, capped at --max-backoff. */
static void test_fail_retry(void)
{
	const int64_t max = OP_MAX_BACKOFF_MS;
	T_EQ_INT(op_fail_retry_ms(max, 1), 10000);
	T_EQ_INT(op_fail_retry_ms(max, 2), 20000);
	T_EQ_INT(op_fail_retry_ms(max, 5), 160000);
	T_EQ_INT(op_fail_retry_ms(max, 6), max);
	T_EQ_INT(op_fail_retry_ms(max, 1000), max);
	T_EQ_INT(op_fail_retry_ms(max, 0), 10000);
	T_EQ_INT(op_fail_retry_ms(3000, 1), 3000); /* a cap below the first delay wins */
	T_EQ_INT(op_fail_retry_ms(30000, 3), 30000);
}

static void test_state_codec(void)
{
	op_shim_state s = {.id = "app.c.0-0123456789ab",
		.state = OP_INST_BACKOFF,
		.shim_pid = 100,
		.shim_start = 123456789012ULL,
		.pid = 0,
		.pid_start = 0,
		.restarts = 3,
		.exit_code = 137,
		.error = "x \"y\""};
	char *json = NULL, *again = NULL;
	op_err e = {0};
	T_REQUIRE(op_shim_state_encode(&s, &json, &e) == 0);
	T_EQ_STR(json,
		"{\"error\":\"x \\\"y\\\"\",\"exit\":137,\"id\":\"app.c.0-0123456789ab\","
		"\"pid\":0,\"pid_start\":0,\"restarts\":3,\"shim_pid\":100,"
		"\"shim_start\":123456789012,\"state\":\"backoff\",\"v\":1}");
	op_shim_state b;
	T_REQUIRE(op_shim_state_decode(json, strlen(json), &b, &e) == 0);
	T_EQ_STR(b.id, s.id);
	T_EQ_INT(b.state, s.state);
	T_EQ_INT(b.shim_pid, s.shim_pid);
	T_EQ_INT(b.shim_start, s.shim_start);
	T_EQ_INT(b.pid, s.pid);
	T_EQ_INT(b.pid_start, s.pid_start);
	T_EQ_INT(b.restarts, s.restarts);
	T_EQ_INT(b.exit_code, s.exit_code);
	T_EQ_STR(b.error, s.error);
	T_REQUIRE(op_shim_state_encode(&b, &again, &e) == 0);
	T_EQ_STR(again, json);
	free(json);
	free(again);
	/* A failed instance waiting for its retry carries when; older files have none. */
	s.state = OP_INST_FAILED;
	s.retry_at = 1765000000123LL;
	T_REQUIRE(op_shim_state_encode(&s, &json, &e) == 0);
	T_CHECK(strstr(json, "\"retry_at\":1765000000123"));
	T_REQUIRE(op_shim_state_decode(json, strlen(json), &b, &e) == 0);
	T_EQ_INT(b.retry_at, s.retry_at);
	T_EQ_INT(b.state, OP_INST_FAILED);
	free(json);
	static const char neg[] = "{\"error\":\"\",\"exit\":1,\"id\":\"app.c.0-0123456789ab\","
				  "\"pid\":0,\"pid_start\":0,\"restarts\":3,\"shim_pid\":100,"
				  "\"shim_start\":1,\"state\":\"failed\",\"v\":1,\"retry_at\":-5}";
	T_EQ_INT(op_shim_state_decode(neg, sizeof neg - 1, &b, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "retry_at"));

	const struct {
		const char *json, *msg;
	} bad[] = {
		{"{}", "state:"},
		{"nope", "state: not JSON"},
		{"{\"v\":2,\"id\":\"a\",\"state\":\"running\",\"shim_pid\":1,\"shim_start\":1,"
		 "\"pid\":1,"
		 "\"pid_start\":1,\"restarts\":0,\"exit\":-1,\"error\":\"\"}",
			"state: v: out of range"},
		{"{\"v\":1,\"id\":\"../a\",\"state\":\"running\",\"shim_pid\":1,\"shim_start\":1,"
		 "\"pid\":1,\"pid_start\":1,\"restarts\":0,\"exit\":-1,\"error\":\"\"}",
			"state: id: out of range"},
		{"{\"v\":1,\"id\":\"a\",\"state\":\"dead\",\"shim_pid\":1,\"shim_start\":1,\"pid\":"
		 "1,"
		 "\"pid_start\":1,\"restarts\":0,\"exit\":-1,\"error\":\"\"}",
			"state: state: out of range"},
		{"{\"v\":1,\"id\":\"a\",\"state\":\"running\",\"shim_pid\":-1,\"shim_start\":1,"
		 "\"pid\":1,\"pid_start\":1,\"restarts\":0,\"exit\":-1,\"error\":\"\"}",
			"state: shim_pid: out of range"},
		{"{\"v\":1,\"id\":\"a\",\"state\":\"running\",\"shim_pid\":1,\"shim_start\":1,"
		 "\"pid\":1,"
		 "\"pid_start\":1,\"restarts\":0,\"exit\":300,\"error\":\"\"}",
			"state: exit: out of range"},
		{"{\"v\":1,\"id\":\"a\",\"state\":\"running\",\"shim_pid\":1,\"shim_start\":1,"
		 "\"pid\":1,"
		 "\"pid_start\":1,\"restarts\":0,\"exit\":-1,\"error\":\"\",\"more\":1}",
			"state:"},
		{"{\"v\":1,\"id\":\"a\",\"state\":\"running\",\"shim_pid\":1,\"shim_start\":1,"
		 "\"pid\":1,"
		 "\"pid_start\":1,\"restarts\":0,\"exit\":-1}",
			"state:"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = op_shim_state_decode(bad[i].json, strlen(bad[i].json), &b, &e);
		T_CHECK_MSG(rc == OP_EINVAL && strstr(e.msg, bad[i].msg), "row %zu: %d \"%s\"", i,
			rc, e.msg);
	}
}

static void test_state_files(void)
{
	const char *dir = h_path("state");
	op_shim_state s = {.id = "app.c.1-0123456789ab",
		.state = OP_INST_RUNNING,
		.shim_pid = 7,
		.pid = 8,
		.exit_code = -1};
	op_err e = {0};
	char p[4096];
	T_EQ_INT(op_inst_path(p, sizeof p, dir, s.id, "state.json"), 0);
	T_EQ_STR(p, h_str("%s/instances/%s/state.json", dir, s.id));
	char small[16];
	T_EQ_INT(op_inst_path(small, sizeof small, dir, s.id, NULL), OP_EINVAL);
	T_REQUIRE(h_mkdirs(h_str("%s/instances/%s", dir, s.id)) == 0);
	T_REQUIRE(op_shim_state_save(dir, &s, &e) == 0);
	op_shim_state b;
	T_REQUIRE(op_shim_state_load(dir, s.id, &b, &e) == 0);
	T_EQ_INT(b.pid, 8);
	T_EQ_INT(b.state, OP_INST_RUNNING);
	T_EQ_INT(op_shim_state_load(dir, "other.c.0-x", &b, &e), OP_ENOTFOUND);
	/* A file that names another instance is refused. */
	T_REQUIRE(h_mkdirs(h_str("%s/instances/twin.c.0-x", dir)) == 0);
	T_REQUIRE(rename(h_str("%s/instances/%s/state.json", dir, s.id),
			  h_str("%s/instances/twin.c.0-x/state.json", dir)) == 0);
	T_EQ_INT(op_shim_state_load(dir, "twin.c.0-x", &b, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "names instance app.c.1-0123456789ab"));

	h_write(h_str("%s/instances/%s/spec.json", dir, s.id), "{}");
	h_write(h_str("%s/instances/%s/stop", dir, s.id), "%s", "");
	T_EQ_INT(op_inst_remove(dir, s.id, &e), 0);
	T_CHECK(access(h_str("%s/instances/%s", dir, s.id), F_OK) != 0);
	T_EQ_INT(op_inst_remove(dir, s.id, &e), 0); /* gone already: fine */
}

static size_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : (size_t)-1;
}

static void test_outlog(void)
{
	const char *path = h_path("out/output.log");
	T_REQUIRE(h_mkdirs(h_path("out")) == 0);
	op_outlog l;
	op_err e = {0};
	T_REQUIRE(op_outlog_open(&l, path, 1000, 2, &e) == 0);
	char buf[2500];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (char)('a' + i / 1000); /* 1000 a, 1000 b, 500 c */
	T_EQ_INT(op_outlog_write(&l, buf, sizeof buf), 0);
	T_EQ_INT(file_size(path), 500);
	T_EQ_INT(file_size(h_str("%s.1", path)), 1000);
	T_EQ_INT(file_size(h_str("%s.2", path)), 1000);
	char *cur = h_read(path), *one = h_read(h_str("%s.1", path)),
	     *two = h_read(h_str("%s.2", path));
	T_CHECK(cur && cur[0] == 'c' && one && one[0] == 'b' && one[999] == 'b' && two &&
		two[0] == 'a');
	free(cur), free(one), free(two);
	/* 1500 more (b's, then c's): the a's are dropped, never more than 3 files. */
	T_EQ_INT(op_outlog_write(&l, buf + 1000, 1500), 0);
	T_EQ_INT(file_size(h_str("%s.3", path)), (size_t)-1);
	cur = h_read(path), one = h_read(h_str("%s.1", path)), two = h_read(h_str("%s.2", path));
	T_CHECK(two && two[0] == 'b' && two[999] == 'b');
	T_CHECK(one && one[0] == 'c' && one[500] == 'b');
	T_CHECK(cur && cur[0] == 'b' && cur[500] == 'c' && strlen(cur) == 1000);
	free(cur), free(one), free(two);
	op_outlog_close(&l);
	/* Reopening continues the current file. */
	T_REQUIRE(op_outlog_open(&l, path, 1000, 2, &e) == 0);
	T_EQ_INT(l.size, file_size(path));
	T_EQ_INT(op_outlog_write(&l, "x", 1), 0);
	op_outlog_close(&l);

	/* keep 0: the file starts over. */
	const char *p0 = h_path("out/zero.log");
	T_REQUIRE(op_outlog_open(&l, p0, 1024, 0, &e) == 0);
	T_EQ_INT(op_outlog_write(&l, buf, 2500), 0);
	T_EQ_INT(file_size(p0), 2500 - 2048);
	T_EQ_INT(file_size(h_str("%s.1", p0)), (size_t)-1);
	op_outlog_close(&l);
}

static bool execd(void *arg)
{
	char *stat = h_read(h_str("/proc/%d/stat", *(pid_t *)arg));
	bool ok = stat && strstr(stat, "(odd) (name x)");
	free(stat);
	return ok;
}

static void test_proc(void)
{
	uint64_t me, again;
	T_REQUIRE(op_proc_start_time(getpid(), &me) == 0);
	T_REQUIRE(op_proc_start_time(getpid(), &again) == 0);
	T_EQ_INT(me, again);
	T_CHECK(op_proc_alive(getpid(), me));
	T_CHECK(!op_proc_alive(getpid(), me + 1)); /* a reused pid is not the same process */
	T_CHECK(!op_proc_alive(0, 0));
	T_CHECK(!op_proc_alive(-1, 0));
	T_EQ_INT(op_proc_start_time(0x7ffffff0, &again), OP_ENOTFOUND);

	/* A zombie is dead; so is a reaped child. */
	pid_t c = fork();
	if (c == 0)
		_exit(0);
	T_REQUIRE(c > 0);
	siginfo_t si;
	T_REQUIRE(waitid(P_PID, (id_t)c, &si, WEXITED | WNOWAIT) == 0);
	T_EQ_INT(op_proc_start_time(c, &again), OP_ENOTFOUND);
	waitpid(c, NULL, 0);
	T_EQ_INT(op_proc_start_time(c, &again), OP_ENOTFOUND);

	/* A command name with spaces and parentheses does not confuse the parser. */
	const char *odd = h_path("odd) (name x");
	T_REQUIRE(h_run(NULL, "cp /bin/sleep '%s'", odd) == 0);
	pid_t p = h_spawn(NULL, (const char *const[]){odd, "30", NULL});
	T_REQUIRE(p > 0);
	T_REQUIRE(h_wait_until(execd, &p, 10000));
	uint64_t st;
	T_CHECK(op_proc_start_time(p, &st) == 0 && op_proc_alive(p, st) && st >= me);
	h_proc_stop(p, true, 1000);
}

static void test_sha256(void)
{
	const char *p = h_path("abc.txt");
	T_REQUIRE(h_write(p, "abc") == 0);
	char hex[65];
	op_err e = {0};
	T_REQUIRE(op_file_sha256(p, hex, &e) == 0);
	T_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	T_REQUIRE(h_write(p, "%s", "") == 0);
	T_REQUIRE(op_file_sha256(p, hex, &e) == 0);
	T_EQ_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	T_EQ_INT(op_file_sha256(h_path("missing"), hex, &e), OP_ENOTFOUND);
	T_CHECK(strstr(e.msg, "missing: No such file or directory"));

	char *buf = NULL;
	size_t len = 0;
	T_REQUIRE(h_write(p, "0123456789") == 0);
	T_EQ_INT(op_read_file(p, 10, &buf, &len, &e), 0);
	T_EQ_INT(len, 10);
	free(buf);
	T_EQ_INT(op_read_file(p, 9, &buf, &len, &e), OP_ETOOBIG);
	T_CHECK(buf == NULL);
}

int main(void)
{
	T_RUN(test_backoff);
	T_RUN(test_fail_retry);
	T_RUN(test_decide_table);
	T_RUN(test_crash_loop);
	T_RUN(test_arch);
	T_RUN(test_artifact_digest);
	T_RUN(test_state_codec);
	T_RUN(test_state_files);
	T_RUN(test_outlog);
	T_RUN(test_proc);
	T_RUN(test_sha256);
	return t_done();
}
