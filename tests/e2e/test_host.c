/* `outpost host` end to end: a real nats-server, the real binary, real workloads. The
 * test plays the agent: it sends start and stop requests on outpost.<site>.host.<id>.cmd
 * and reads the heartbeats on outpost.<site>.hb.<id>, decoded with the same codec the
 * agent uses. Shims and workloads run in sessions of their own, so every pid the test
 * learns is registered with h_adopt, and each case stops its instances before it ends
 * and checks that nothing of them is left. */
#include <dirent.h>
#include <errno.h>
#include <nats/nats.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hostfx.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"
#include "t.h"

#define SITE HX_SITE
#define WAIT_MS 20000

static const char *bin;

/* /proc/<pid>/<what> (NUL-separated lists) with NULs turned into '|'. */
static const char *proc_list(int pid, const char *what)
{
	char *buf = NULL;
	size_t len = 0;
	if (op_read_file(h_str("/proc/%d/%s", pid, what), 1 << 20, &buf, &len, NULL) != 0)
		return "";
	for (size_t i = 0; i < len; i++)
		if (buf[i] == '\0')
			buf[i] = '|';
	const char *s = h_str("%s", buf);
	free(buf);
	return s;
}

/* How many processes run a command line containing needle. */
static int count_procs(const char *needle)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		int pid = atoi(de->d_name);
		uint64_t st;
		if (pid > 0 && op_proc_start_time(pid, &st) == 0 &&
			strstr(proc_list(pid, "cmdline"), needle))
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* ---- the cases ---------------------------------------------------------------------- */

static void test_usage(void)
{
	T_EQ_INT(h_run(NULL, "%s host 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site S1 --id a 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site hub --id a 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 --id a_b 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 --id a --label nokey 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 --id a --label arch=arm64 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 --id a --label a=b --label a=c 2>/dev/null", bin),
		2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 --id a --heartbeat 1ms 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s host --site s1 --id a extra 2>/dev/null", bin), 2);
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s host --help", bin), 0);
	T_CHECK(out && strstr(out, "--heartbeat") && strstr(out, "--stop-grace"));
	free(out);
	T_EQ_INT(h_run(NULL, "%s shim --id x 2>/dev/null", bin), 2);
}

static bool has_hb2(void *arg)
{
	op_heartbeat hb;
	bool ok = hx_hb_get(arg, &hb);
	ok = ok && hb.seq >= 2;
	op_heartbeat_clear(&hb);
	return ok;
}

static void test_heartbeat(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "hb1"));
	T_REQUIRE(h_wait_until(has_hb2, (void *)h.id, WAIT_MS));
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	T_EQ_STR(hb.host, "hb1");
	T_EQ_STR(hb.site, SITE);
	T_EQ_INT(hb.interval_ms, 200);
	T_EQ_INT(strlen(hb.boot), 32);
	T_EQ_INT(hb.ninsts, 0);
	T_EQ_STR(op_kvs_get(&hb.labels, "site"), SITE);
	T_EQ_STR(op_kvs_get(&hb.labels, "arch"), op_arch_self());
	T_EQ_STR(op_kvs_get(&hb.labels, "role"), "gw");
	T_EQ_STR(op_kvs_get(&hb.labels, "zone.x/y"), "a_b-1");
	char name[256] = "";
	gethostname(name, sizeof name);
	T_EQ_STR(op_kvs_get(&hb.labels, "hostname"), name);
	T_EQ_INT(hb.labels.n, 5);
	op_heartbeat_clear(&hb);
	hx_host_stop(&h);
}

#define SLEEPER \
	"        command: /bin/sleep\n        args: [\"600\"]\n" \
	"        env: {GREETING: hello world, PATH: /opt/x/bin:/usr/bin:/bin}\n"
static void test_start_stop(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "ss1"));
	const char *id = hx_inst_id("sleeper", 0);
	const char *props = h_str(
		SLEEPER "        workdir: %s\n        restart: never\n", h_tmpdir());
	op_hostreply r = hx_start(&h, "sleeper", 0, props);
	T_REQUIRE(r.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
	T_CHECK(in.pid > 0 && kill(in.pid, 0) == 0);
	T_EQ_INT(in.restarts, 0);
	T_EQ_INT(in.exit_code, -1);
	T_EQ_STR(proc_list(in.pid, "cmdline"), "/bin/sleep|600|");
	const char *env = proc_list(in.pid, "environ");
	T_CHECK_MSG(strstr(env, "|GREETING=hello world|"), "environ: %s", env);
	T_CHECK_MSG(strstr(env, "PATH=/opt/x/bin:/usr/bin:/bin|"), "environ: %s", env);
	T_CHECK_MSG(strstr(env, h_str("OUTPOST_INSTANCE=%s|", id)), "environ: %s", env);
	T_CHECK_MSG(!strstr(env, "OUTPOST_TEST_LEAK"), "host env leaked: %s", env);
	char cwd[4096] = "";
	ssize_t n = readlink(h_str("/proc/%d/cwd", in.pid), cwd, sizeof cwd - 1);
	T_CHECK(n > 0);
	T_EQ_STR(cwd, h_tmpdir());
	/* Its own process group, and not in the host's session. */
	T_EQ_INT(getpgid(in.pid), in.pid);
	T_CHECK(getsid(in.pid) != getsid(h.pid));
	/* A second host on the same state dir is refused. */
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s host --site " SITE " --id other --nats %s --state %s", bin, h.url,
			 h.state),
		1);
	T_CHECK_MSG(out && strstr(out, "another outpost host uses"), "%s", out ? out : "");
	free(out);

	/* Starting it again changes nothing. */
	r = hx_start(&h, "sleeper", 0, props);
	T_CHECK_MSG(r.ok, "%s", r.error);
	op_hb_inst again;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &again));
	T_EQ_INT(again.pid, in.pid);
	T_EQ_INT(count_procs("/bin/sleep|600|"), 1);

	hx_stop_and_check(&h, id);
	T_CHECK(hx_stop(&h, id).ok); /* again: ok */
	T_CHECK(hx_stop(&h, hx_inst_id("nope", 3)).ok); /* never there: ok */

	/* Refusals come back as errors naming the field. */
	r = hx_request(&h, "{\"v\":2,\"op\":\"stop\",\"id\":\"x.y.0-a\"}");
	T_CHECK(!r.ok && strstr(r.error, "v: unknown version 2"));
	r = hx_request(&h, "{\"v\":1,\"op\":\"stop\",\"id\":\"../etc\"}");
	T_CHECK(!r.ok && strstr(r.error, "id:"));
	r = hx_request(&h,
		"{\"v\":1,\"op\":\"start\",\"id\":\"a.main.0-x\",\"comp\":0,"
		"\"app\":{\"format\":1}}");
	T_CHECK_MSG(!r.ok && strstr(r.error, "app:"), "%s", r.error);
	hx_host_stop(&h);
}

static void test_crash_loop(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "cl1"));
	const char *id = hx_inst_id("crashy", 0);
	long long t0 = h_now_ms();
	op_hostreply r = hx_start(
		&h, "crashy", 0, "        command: /bin/sh\n        args: [\"-c\", \"exit 3\"]\n");
	T_REQUIRE(r.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_FAILED, &in));
	long long took = h_now_ms() - t0;
	T_EQ_INT(in.exit_code, 3);
	T_EQ_INT(in.restarts, 4);
	T_EQ_INT(in.pid, 0);
	T_CHECK_MSG(strstr(in.error, "crash loop"), "error: %s", in.error);
	/* The first restart at once, then 200 + 400 + 800 ms of backoff, then failed. */
	T_CHECK_MSG(took >= 1400 && took < 10000, "took %lld ms", took);
	/* A start of a failed instance changes nothing either. */
	T_CHECK(hx_start(
		&h, "crashy", 0, "        command: /bin/sh\n        args: [\"-c\", \"exit 3\"]\n")
			.ok);
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_FAILED, &in));
	T_EQ_INT(in.restarts, 4);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

static void test_exit_policies(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "ex1"));
	const char *never = hx_inst_id("never", 0), *onfail = hx_inst_id("onfail", 0);
	const char *bad = hx_inst_id("noexec", 0);
	T_REQUIRE(hx_start(&h, "never", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"exit 0\"]\n"
		"        restart: never\n")
			.ok);
	T_REQUIRE(hx_start(&h, "onfail", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"exit 0\"]\n"
		"        restart: on-failure\n")
			.ok);
	T_REQUIRE(hx_start(&h, "noexec", 0, "        command: /nonexistent/prog\n").ok);
	op_hb_inst in;
	T_CHECK(hx_wait_state(&h, never, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_EQ_INT(in.restarts, 0);
	T_CHECK(hx_wait_state(&h, onfail, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_CHECK(hx_wait_state(&h, bad, OP_INST_FAILED, &in));
	T_EQ_INT(in.exit_code, 127);
	T_CHECK_MSG(strstr(in.error, "exec /nonexistent/prog: No such file or directory"),
		"error: %s", in.error);
	hx_stop_and_check(&h, never);
	hx_stop_and_check(&h, onfail);
	hx_stop_and_check(&h, bad);
	hx_host_stop(&h);
}

static void test_artifact(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "art1"));
	const char *path = h_path("artifact.bin");
	T_REQUIRE(h_write(path, "payload\n") == 0);
	char have[65];
	T_REQUIRE(op_file_sha256(path, have, NULL) == 0);
	const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
	T_REQUIRE(hx_start(&h, "badart", 0,
		h_str("        command: /bin/sleep\n        args: [\"600\"]\n"
		      "        artifact: {path: %s, sha256: %s}\n",
			path, wrong))
			.ok);
	/* The right digest, given per arch. */
	T_REQUIRE(hx_start(&h, "goodart", 0,
		h_str("        command: /bin/sleep\n        args: [\"601\"]\n"
		      "        artifact: {path: %s, sha256: {%s: %s}}\n",
			path, op_arch_self(), have))
			.ok);
	op_hb_inst in;
	T_CHECK(hx_wait_state(&h, hx_inst_id("badart", 0), OP_INST_FAILED, &in));
	/* Today's refusal, then why nothing could install the right one (this site has no
	 * store; the state file cuts the rest). */
	const char *old = h_str(
		"artifact %s: sha256 mismatch: want %s, have %s", path, wrong, have);
	T_CHECK_MSG(!strncmp(in.error, old, strlen(old)) &&
			!strncmp(in.error + strlen(old), " (not in the host cache; the site", 33),
		"error: %s", in.error);
	T_EQ_INT(in.pid, 0);
	T_EQ_INT(count_procs("/bin/sleep|600|"), 0);
	T_CHECK(hx_wait_state(&h, hx_inst_id("goodart", 0), OP_INST_RUNNING, &in));
	hx_stop_and_check(&h, hx_inst_id("badart", 0));
	hx_stop_and_check(&h, hx_inst_id("goodart", 0));
	hx_host_stop(&h);
}

static bool log_has_both(void *arg)
{
	char *s = h_read(arg);
	bool ok = s && strstr(s, "to-stdout\n") && strstr(s, "to-stderr\n");
	free(s);
	return ok;
}

static void test_output_log(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "log1"));
	const char *id = hx_inst_id("talker", 0);
	T_REQUIRE(hx_start(&h, "talker", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"echo to-stdout; echo to-stderr "
		">&2; "
		"exec sleep 600\"]\n")
			.ok);
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, NULL));
	const char *log = h_str("%s/instances/%s/output.log", h.state, id);
	T_CHECK_MSG(h_wait_until(log_has_both, (void *)log, WAIT_MS),
		"output.log lacks the workload's output");
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

static void test_stop_grace(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "gr1"));
	const char *id = hx_inst_id("stubborn", 0);
	/* TERM ignored: only the KILL after --stop-grace (1 s) ends it. */
	T_REQUIRE(hx_start(&h, "stubborn", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"trap '' TERM; exec sleep "
		"600\"]\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
	long long t0 = h_now_ms();
	hx_stop_and_check(&h, id);
	long long took = h_now_ms() - t0;
	T_CHECK_MSG(took >= 900 && took < 8000, "stop took %lld ms", took);
	hx_host_stop(&h);
}

static void test_readopt_after_kill9(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "ad1"));
	const char *a = hx_inst_id("keep", 0), *b = hx_inst_id("keep", 1);
	const char *props = "        command: /bin/sleep\n        args: [\"602\"]\n";
	T_REQUIRE(hx_start(&h, "keep", 0, props).ok);
	T_REQUIRE(hx_start(&h, "keep", 1, props).ok);
	op_hb_inst ia, ib;
	T_REQUIRE(hx_wait_state(&h, a, OP_INST_RUNNING, &ia));
	T_REQUIRE(hx_wait_state(&h, b, OP_INST_RUNNING, &ib));
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	const char *boot = h_str("%s", hb.boot);
	op_heartbeat_clear(&hb);

	h_proc_stop(h.pid, true, 2000);
	T_CHECK(kill(ia.pid, 0) == 0 && kill(ib.pid, 0) == 0);
	T_REQUIRE(hx_host_run(&h));
	hx_want w = {.h = &h, .id = a, .state = OP_INST_RUNNING, .boot = boot};
	T_REQUIRE(h_wait_until(hx_cond_inst, &w, WAIT_MS));
	T_EQ_INT(w.got.pid, ia.pid);
	op_hb_inst ib2;
	T_REQUIRE(hx_wait_state(&h, b, OP_INST_RUNNING, &ib2));
	T_EQ_INT(ib2.pid, ib.pid);
	T_REQUIRE(hx_hb_get(h.id, &hb));
	T_EQ_INT(hb.ninsts, 2);
	T_CHECK(strcmp(hb.boot, boot) != 0);
	op_heartbeat_clear(&hb);
	T_EQ_INT(count_procs("/bin/sleep|602|"), 2);
	T_EQ_INT(count_procs(h_str("shim|--state|%s|", h.state)), 2);
	char *log = h_read(h.log);
	T_CHECK_MSG(log && strstr(log, "instance adopted"), "no adoption logged");
	free(log);

	/* A shim killed hard: the host kills what it left and starts a new one. */
	op_shim_state st;
	T_REQUIRE(op_shim_state_load(h.state, b, &st, NULL) == 0);
	kill(st.shim_pid, SIGKILL);
	T_CHECK(hx_wait_gone(st.shim_pid));
	T_CHECK(hx_wait_gone(ib.pid));
	hx_want w2 = {.h = &h, .id = b, .state = OP_INST_RUNNING, .not_pid = ib.pid};
	T_CHECK(h_wait_until(hx_cond_inst, &w2, WAIT_MS));
	op_hb_inst nb = w2.got;
	T_CHECK(nb.pid > 0 && nb.pid != ib.pid);
	T_EQ_INT(nb.restarts, 1);
	T_EQ_INT(count_procs("/bin/sleep|602|"), 2);

	hx_stop_and_check(&h, a);
	hx_stop_and_check(&h, b);
	T_EQ_INT(count_procs("/bin/sleep|602|"), 0);
	hx_host_stop(&h);
}

/* A state file whose shim and workload pids now belong to other processes (as after a
 * reboot): their start times differ, so the host neither adopts nor kills them; it
 * starts a new shim for the instance instead. */
static void test_reused_pids(void)
{
	pid_t fake_shim = h_spawn(NULL, (const char *const[]){"sleep", "604", NULL});
	pid_t fake_work = h_spawn(NULL, (const char *const[]){"sleep", "605", NULL});
	T_REQUIRE(fake_shim > 0 && fake_work > 0);
	uint64_t s1, s2;
	T_REQUIRE(
		op_proc_start_time(fake_shim, &s1) == 0 && op_proc_start_time(fake_work, &s2) == 0);

	const char *id = hx_inst_id("reboot", 0), *state = h_path("state-rp1");
	const char *yaml = hx_app_yaml(
		"reboot", "        command: /bin/sleep\n        args: [\"606\"]\n");
	op_app *a = NULL;
	op_diags d = {0};
	T_REQUIRE(op_manifest_parse("t.yaml", yaml, strlen(yaml), &a, &d) == 0);
	op_diags_clear(&d);
	op_hostcmd c = {.op = OP_CMD_START, .app = a};
	snprintf(c.id, sizeof c.id, "%s", id);
	char *json = NULL;
	T_REQUIRE(op_hostcmd_encode(&c, &json, NULL) == 0);
	op_app_free(a);
	T_REQUIRE(h_write(h_str("%s/instances/%s/spec.json", state, id), "%s", json) == 0);
	free(json);
	op_shim_state st = {.state = OP_INST_RUNNING,
		.shim_pid = fake_shim,
		.shim_start = s1 + 1,
		.pid = fake_work,
		.pid_start = s2 + 7,
		.restarts = 2,
		.exit_code = 1};
	snprintf(st.id, sizeof st.id, "%s", id);
	T_REQUIRE(op_shim_state_save(state, &st, NULL) == 0);

	hx_host h;
	T_REQUIRE(hx_host_start(&h, "rp1"));
	hx_want w = {.h = &h, .id = id, .state = OP_INST_RUNNING, .not_pid = fake_work};
	T_REQUIRE(h_wait_until(hx_cond_inst, &w, WAIT_MS));
	T_CHECK(w.got.pid > 0 && w.got.pid != fake_work);
	T_EQ_INT(w.got.restarts, 3);
	T_EQ_STR(proc_list(w.got.pid, "cmdline"), "/bin/sleep|606|");
	uint64_t now;
	T_CHECK(op_proc_start_time(fake_shim, &now) == 0 && now == s1);
	T_CHECK(op_proc_start_time(fake_work, &now) == 0 && now == s2);
	char *log = h_read(h.log);
	T_CHECK_MSG(
		log && strstr(log, "instance lost its shim") && !strstr(log, "instance adopted"),
		"%s", log ? log : "");
	free(log);
	hx_stop_and_check(&h, id);
	T_CHECK(op_proc_start_time(fake_shim, &now) == 0 &&
		op_proc_start_time(fake_work, &now) == 0);
	h_proc_stop(fake_shim, false, 2000);
	h_proc_stop(fake_work, false, 2000);
	hx_host_stop(&h);
}

static bool seq_past(void *arg)
{
	hx_want *w = arg;
	op_heartbeat hb;
	bool ok = hx_hb_get(w->h->id, &hb) && hb.seq > (uint64_t)w->state;
	op_heartbeat_clear(&hb);
	return ok;
}

/* The server goes away, the host is killed and comes back while it is away: the
 * workload runs on, and once the server is back the new host reports it. */
static void test_nats_outage(void)
{
	h_nats *own = h_hub_start();
	T_REQUIRE(own);
	hx_host h;
	T_REQUIRE(hx_host_start_at(&h, "out1", h_nats_url(own)));
	const char *id = hx_inst_id("offline", 0);
	T_REQUIRE(
		hx_start(&h, "offline", 0, "        command: /bin/sleep\n        args: [\"603\"]\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	const char *boot = h_str("%s", hb.boot);
	op_heartbeat_clear(&hb);

	T_REQUIRE(h_nats_stop(own, false) == 0);
	h_proc_stop(h.pid, true, 2000);
	T_REQUIRE(hx_host_run(&h));
	T_CHECK(kill(in.pid, 0) == 0);
	T_REQUIRE(h_nats_start_again(own) == 0);
	hx_want w = {.h = &h, .id = id, .state = OP_INST_RUNNING, .boot = boot};
	T_CHECK(h_wait_until(hx_cond_inst, &w, WAIT_MS));
	T_EQ_INT(w.got.pid, in.pid);

	/* And the same host survives the server going away and coming back. */
	T_REQUIRE(hx_hb_get(h.id, &hb));
	hx_want s = {.h = &h, .state = (int)hb.seq + 2};
	op_heartbeat_clear(&hb);
	T_REQUIRE(h_nats_stop(own, false) == 0);
	T_REQUIRE(h_nats_start_again(own) == 0);
	T_CHECK(h_wait_until(seq_past, &s, WAIT_MS));
	T_CHECK(kill(in.pid, 0) == 0);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
	h_nats_stop(own, false);
}

/* A heartbeat brought forward (after a command, or when a shim moves an instance on) goes
 * out when an instance settled or went away, not at each step in passing, each of which
 * would wake the agent for a round: with an interval longer than the test, a start is
 * seen running and healthy, a stop gone, and a neighbour that stays in passing (its
 * min_ready an hour) holds neither back. */
static void test_heartbeat_steps(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "hs1", "--heartbeat 1h"));
	const char *slow = hx_inst_id("slow", 0), *quick = hx_inst_id("quick", 0);
	const char *sleeper = "        command: /bin/sleep\n        args: [\"600\"]\n";
	T_REQUIRE(hx_start(&h, "slow", 0, h_str("%s        min_ready: 1h\n", sleeper)).ok);
	T_REQUIRE(hx_start(&h, "quick", 0, h_str("%s        min_ready: 300ms\n", sleeper)).ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, quick, OP_INST_RUNNING, &in));
	T_EQ_STR(op_health_name(in.health), "healthy");
	hx_stop_and_check(&h, quick);
	hx_stop_and_check(&h, slow);
	const char *trail = hx_trail(h.id);
	printf("  heartbeats after the first showed: %s\n", trail);
	T_CHECK(strstr(trail, h_str("%s=running/healthy %s=running/starting ", quick, slow)));
	T_CHECK(strstr(trail, h_str("%s=gone ", quick)));
	T_CHECK(strstr(trail, h_str("%s=gone ", slow)));
	T_CHECK(!strstr(trail, h_str("%s=running/starting", quick)));
	T_CHECK(!strstr(trail, "=starting "));
	T_CHECK(!strstr(trail, "=stopping "));
	hx_host_stop(&h);
}

int main(void)
{
	if (!hx_init(&bin))
		return 1;
	T_RUN(test_usage);
	T_RUN(test_heartbeat);
	T_RUN(test_start_stop);
	T_RUN(test_crash_loop);
	T_RUN(test_exit_policies);
	T_RUN(test_artifact);
	T_RUN(test_output_log);
	T_RUN(test_stop_grace);
	T_RUN(test_readopt_after_kill9);
	T_RUN(test_reused_pids);
	T_RUN(test_nats_outage);
	T_RUN(test_heartbeat_steps);
	/* A case that stopped early may have left instances: their shims and workloads
	 * are registered now, so that the harness stops them at exit. */
	for (int i = 0; i < hx_nstates; i++)
		hx_adopt_all(&(hx_host){.state = hx_states[i]});
	return t_done();
}
