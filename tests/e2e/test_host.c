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
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"
#include "t.h"

#define SITE "s1"
#define WAIT_MS 20000
#define MAXHOSTS 16

static const char *bin;
static h_nats *srv;

/* ---- heartbeats: the latest of each host, kept by a subscription ------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char host[64];
	char *json;
	size_t len;
	long count;
} last[MAXHOSTS];

static void on_hb(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	const char *host = natsMsg_GetSubject(m) + strlen("outpost." SITE ".hb.");
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXHOSTS; i++) {
		if (last[i].host[0] && strcmp(last[i].host, host) != 0)
			continue;
		snprintf(last[i].host, sizeof last[i].host, "%s", host);
		free(last[i].json);
		last[i].len = (size_t)natsMsg_GetDataLength(m);
		last[i].json = malloc(last[i].len + 1);
		if (last[i].json) {
			memcpy(last[i].json, natsMsg_GetData(m), last[i].len);
			last[i].json[last[i].len] = '\0';
		}
		last[i].count++;
		break;
	}
	pthread_mutex_unlock(&mu);
	natsMsg_Destroy(m);
}

/* The latest heartbeat of host, decoded (op_heartbeat_clear after); false if none. */
static bool hb_get(const char *host, op_heartbeat *hb)
{
	bool ok = false;
	memset(hb, 0, sizeof *hb);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXHOSTS; i++)
		if (!strcmp(last[i].host, host) && last[i].json) {
			op_err e = {0};
			ok = op_heartbeat_decode(last[i].json, last[i].len, hb, &e) == 0;
			if (!ok)
				fprintf(stderr, "bad heartbeat from %s: %s\n", host, e.msg);
			break;
		}
	pthread_mutex_unlock(&mu);
	return ok;
}

static const op_hb_inst *hb_find(const op_heartbeat *hb, const char *id)
{
	for (size_t i = 0; i < hb->ninsts; i++)
		if (!strcmp(hb->insts[i].id, id))
			return &hb->insts[i];
	return NULL;
}

/* ---- one host under test ------------------------------------------------------------ */

typedef struct host {
	const char *id, *state, *log, *url;
	pid_t pid;
	natsConnection *nc;
	natsSubscription *sub;
} host;

/* Every state dir a host of this program used, swept at the end. */
static const char *states[64];
static int nstates;

static bool host_run(host *h)
{
	h->pid = h_spawn_sh(h->log,
		"env OUTPOST_TEST_LEAK=1 %s host --site " SITE " --id %s --nats %s --state %s "
		"--heartbeat 200ms --stop-grace 1s --label role=gw --label zone.x/y=a_b-1",
		bin, h->id, h->url, h->state);
	return h->pid > 0;
}

static bool has_hb(void *arg)
{
	op_heartbeat hb;
	bool ok = hb_get(arg, &hb);
	op_heartbeat_clear(&hb);
	return ok;
}

/* Starts a host and waits for its first heartbeat: it answers commands from then on. */
static bool host_start_at(host *h, const char *id, const char *url)
{
	memset(h, 0, sizeof *h);
	h->id = id;
	h->url = url;
	h->state = h_path("state-%s", id);
	if (nstates < 64)
		states[nstates++] = h->state;
	h->log = h_path("host-%s.log", id);
	if (natsConnection_ConnectTo(&h->nc, url) != NATS_OK ||
		natsConnection_Subscribe(&h->sub, h->nc, h_str("outpost." SITE ".hb.%s", id), on_hb,
			NULL) != NATS_OK ||
		natsConnection_Flush(h->nc) != NATS_OK)
		return false;
	return host_run(h) && h_wait_until(has_hb, (void *)id, WAIT_MS);
}

static bool host_start(host *h, const char *id)
{
	return host_start_at(h, id, h_nats_url(srv));
}

/* Registers every shim and workload of the host's state dir with the harness. */
static void adopt_all(host *h)
{
	DIR *d = opendir(h_str("%s/instances", h->state));
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		op_shim_state st;
		if (op_inst_id_valid(de->d_name) &&
			op_shim_state_load(h->state, de->d_name, &st, NULL) == 0) {
			if (st.shim_pid > 0)
				h_adopt(st.shim_pid);
			if (st.pid > 0)
				h_adopt(st.pid);
		}
	}
	if (d)
		closedir(d);
}

static void host_stop(host *h)
{
	if (h->pid > 0)
		h_proc_stop(h->pid, false, 5000);
	if (h->sub)
		natsSubscription_Destroy(h->sub);
	if (h->nc)
		natsConnection_Destroy(h->nc);
	h->pid = 0;
	h->sub = NULL;
	h->nc = NULL;
}

/* ---- commands ----------------------------------------------------------------------- */

static const char *app_yaml(const char *name, const char *props)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n%s",
		name, props);
}

/* Sends json to the host; returns its decoded reply (ok false with the error on any
 * failure). */
static op_hostreply request(host *h, const char *json)
{
	op_hostreply r = {0};
	natsMsg *reply = NULL;
	natsStatus s = natsConnection_Request(&reply, h->nc,
		h_str("outpost." SITE ".host.%s.cmd", h->id), json, (int)strlen(json), 5000);
	if (s != NATS_OK) {
		snprintf(r.error, sizeof r.error, "request: %s", natsStatus_GetText(s));
		return r;
	}
	op_err e = {0};
	if (op_hostreply_decode(
		    natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &r, &e) != 0)
		snprintf(r.error, sizeof r.error, "bad reply: %.480s", e.msg);
	natsMsg_Destroy(reply);
	return r;
}

/* The id of instance n of app's component "main". */
static const char *inst_id(const char *app, int n)
{
	return h_str("%s.main.%d-0123456789ab", app, n);
}

static op_hostreply start(host *h, const char *app, int n, const char *props)
{
	op_hostreply r = {0};
	op_app *a = NULL;
	op_diags d = {0};
	const char *yaml = app_yaml(app, props);
	if (op_manifest_parse("test.yaml", yaml, strlen(yaml), &a, &d) != 0) {
		op_diags_print(&d, stderr);
		op_diags_clear(&d);
		snprintf(r.error, sizeof r.error, "test manifest invalid");
		return r;
	}
	op_hostcmd c = {.op = OP_CMD_START, .app = a, .comp = 0};
	snprintf(c.id, sizeof c.id, "%s", inst_id(app, n));
	char *json = NULL;
	op_err e = {0};
	if (op_hostcmd_encode(&c, &json, &e) == 0)
		r = request(h, json);
	else
		snprintf(r.error, sizeof r.error, "encode: %.480s", e.msg);
	free(json);
	op_app_free(a);
	return r;
}

static op_hostreply stop(host *h, const char *id)
{
	return request(h, h_str("{\"v\":1,\"op\":\"stop\",\"id\":\"%s\"}", id));
}

/* ---- waiting on heartbeats ---------------------------------------------------------- */

typedef struct want {
	host *h;
	const char *id;
	int state; /* -1: the instance is absent */
	const char *boot; /* if set: a heartbeat of another boot */
	int not_pid; /* if set: with another pid */
	op_hb_inst got;
} want;

static bool cond_inst(void *arg)
{
	want *w = arg;
	op_heartbeat hb;
	if (!hb_get(w->h->id, &hb))
		return false;
	const op_hb_inst *in = hb_find(&hb, w->id);
	bool ok = (!w->boot || strcmp(hb.boot, w->boot) != 0) &&
		(w->state < 0 ? !in : in && (int)in->state == w->state) &&
		(!w->not_pid || (in && in->pid != w->not_pid));
	if (in)
		w->got = *in;
	adopt_all(w->h);
	op_heartbeat_clear(&hb);
	return ok;
}

/* Waits until the host reports id in state (-1: not at all); *got gets it. */
static bool wait_state(host *h, const char *id, int state, op_hb_inst *got)
{
	want w = {.h = h, .id = id, .state = state};
	bool ok = h_wait_until(cond_inst, &w, WAIT_MS);
	if (!ok)
		fprintf(stderr, "  %s: wanted %s, last seen %s (exit %d, error \"%s\")\n", id,
			state < 0 ? "absent" : op_inst_state_name((enum op_inst_state)state),
			w.got.id[0] ? op_inst_state_name(w.got.state) : "absent", w.got.exit_code,
			w.got.error);
	if (got)
		*got = w.got;
	return ok;
}

static bool pid_gone(void *arg)
{
	uint64_t st;
	return op_proc_start_time(*(int *)arg, &st) != 0;
}

static bool wait_gone(int pid)
{
	return h_wait_until(pid_gone, &pid, WAIT_MS);
}

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

/* Stops id and waits until its workload and the instance are gone. */
static void stop_and_check(host *h, const char *id)
{
	op_heartbeat hb;
	int pid = 0, shim = 0;
	if (hb_get(h->id, &hb)) {
		const op_hb_inst *in = hb_find(&hb, id);
		pid = in ? in->pid : 0;
		op_heartbeat_clear(&hb);
	}
	op_shim_state st;
	if (op_shim_state_load(h->state, id, &st, NULL) == 0)
		shim = st.shim_pid;
	op_hostreply r = stop(h, id);
	T_CHECK_MSG(r.ok, "stop %s: %s", id, r.error);
	T_CHECK(wait_state(h, id, -1, NULL));
	if (pid)
		T_CHECK(wait_gone(pid));
	if (shim)
		T_CHECK(wait_gone(shim));
	T_CHECK(access(h_str("%s/instances/%s", h->state, id), F_OK) != 0);
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
	bool ok = hb_get(arg, &hb);
	ok = ok && hb.seq >= 2;
	op_heartbeat_clear(&hb);
	return ok;
}

static void test_heartbeat(void)
{
	host h;
	T_REQUIRE(host_start(&h, "hb1"));
	T_REQUIRE(h_wait_until(has_hb2, (void *)h.id, WAIT_MS));
	op_heartbeat hb;
	T_REQUIRE(hb_get(h.id, &hb));
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
	host_stop(&h);
}

#define SLEEPER \
	"        command: /bin/sleep\n        args: [\"600\"]\n" \
	"        env: {GREETING: hello world, PATH: /opt/x/bin:/usr/bin:/bin}\n"
static void test_start_stop(void)
{
	host h;
	T_REQUIRE(host_start(&h, "ss1"));
	const char *id = inst_id("sleeper", 0);
	const char *props = h_str(
		SLEEPER "        workdir: %s\n        restart: never\n", h_tmpdir());
	op_hostreply r = start(&h, "sleeper", 0, props);
	T_REQUIRE(r.ok);
	op_hb_inst in;
	T_REQUIRE(wait_state(&h, id, OP_INST_RUNNING, &in));
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
	r = start(&h, "sleeper", 0, props);
	T_CHECK_MSG(r.ok, "%s", r.error);
	op_hb_inst again;
	T_REQUIRE(wait_state(&h, id, OP_INST_RUNNING, &again));
	T_EQ_INT(again.pid, in.pid);
	T_EQ_INT(count_procs("/bin/sleep|600|"), 1);

	stop_and_check(&h, id);
	T_CHECK(stop(&h, id).ok); /* again: ok */
	T_CHECK(stop(&h, inst_id("nope", 3)).ok); /* never there: ok */

	/* Refusals come back as errors naming the field. */
	r = request(&h, "{\"v\":2,\"op\":\"stop\",\"id\":\"x.y.0-a\"}");
	T_CHECK(!r.ok && strstr(r.error, "v: unknown version 2"));
	r = request(&h, "{\"v\":1,\"op\":\"stop\",\"id\":\"../etc\"}");
	T_CHECK(!r.ok && strstr(r.error, "id:"));
	r = request(&h,
		"{\"v\":1,\"op\":\"start\",\"id\":\"a.main.0-x\",\"comp\":0,"
		"\"app\":{\"format\":1}}");
	T_CHECK_MSG(!r.ok && strstr(r.error, "app:"), "%s", r.error);
	host_stop(&h);
}

static void test_crash_loop(void)
{
	host h;
	T_REQUIRE(host_start(&h, "cl1"));
	const char *id = inst_id("crashy", 0);
	long long t0 = h_now_ms();
	op_hostreply r = start(
		&h, "crashy", 0, "        command: /bin/sh\n        args: [\"-c\", \"exit 3\"]\n");
	T_REQUIRE(r.ok);
	op_hb_inst in;
	T_REQUIRE(wait_state(&h, id, OP_INST_FAILED, &in));
	long long took = h_now_ms() - t0;
	T_EQ_INT(in.exit_code, 3);
	T_EQ_INT(in.restarts, 4);
	T_EQ_INT(in.pid, 0);
	T_CHECK_MSG(strstr(in.error, "crash loop"), "error: %s", in.error);
	/* The first restart at once, then 200 + 400 + 800 ms of backoff, then failed. */
	T_CHECK_MSG(took >= 1400 && took < 10000, "took %lld ms", took);
	/* A start of a failed instance changes nothing either. */
	T_CHECK(start(
		&h, "crashy", 0, "        command: /bin/sh\n        args: [\"-c\", \"exit 3\"]\n")
			.ok);
	T_REQUIRE(wait_state(&h, id, OP_INST_FAILED, &in));
	T_EQ_INT(in.restarts, 4);
	stop_and_check(&h, id);
	host_stop(&h);
}

static void test_exit_policies(void)
{
	host h;
	T_REQUIRE(host_start(&h, "ex1"));
	const char *never = inst_id("never", 0), *onfail = inst_id("onfail", 0);
	const char *bad = inst_id("noexec", 0);
	T_REQUIRE(start(&h, "never", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"exit 0\"]\n"
		"        restart: never\n")
			.ok);
	T_REQUIRE(start(&h, "onfail", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"exit 0\"]\n"
		"        restart: on-failure\n")
			.ok);
	T_REQUIRE(start(&h, "noexec", 0, "        command: /nonexistent/prog\n").ok);
	op_hb_inst in;
	T_CHECK(wait_state(&h, never, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_EQ_INT(in.restarts, 0);
	T_CHECK(wait_state(&h, onfail, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_CHECK(wait_state(&h, bad, OP_INST_FAILED, &in));
	T_EQ_INT(in.exit_code, 127);
	T_CHECK_MSG(strstr(in.error, "exec /nonexistent/prog: No such file or directory"),
		"error: %s", in.error);
	stop_and_check(&h, never);
	stop_and_check(&h, onfail);
	stop_and_check(&h, bad);
	host_stop(&h);
}

static void test_artifact(void)
{
	host h;
	T_REQUIRE(host_start(&h, "art1"));
	const char *path = h_path("artifact.bin");
	T_REQUIRE(h_write(path, "payload\n") == 0);
	char have[65];
	T_REQUIRE(op_file_sha256(path, have, NULL) == 0);
	const char *wrong = "0000000000000000000000000000000000000000000000000000000000000000";
	T_REQUIRE(start(&h, "badart", 0,
		h_str("        command: /bin/sleep\n        args: [\"600\"]\n"
		      "        artifact: {path: %s, sha256: %s}\n",
			path, wrong))
			.ok);
	/* The right digest, given per arch. */
	T_REQUIRE(start(&h, "goodart", 0,
		h_str("        command: /bin/sleep\n        args: [\"601\"]\n"
		      "        artifact: {path: %s, sha256: {%s: %s}}\n",
			path, op_arch_self(), have))
			.ok);
	op_hb_inst in;
	T_CHECK(wait_state(&h, inst_id("badart", 0), OP_INST_FAILED, &in));
	/* Today's refusal, then why nothing could install the right one (this site has no
	 * store; the state file cuts the rest). */
	const char *old = h_str(
		"artifact %s: sha256 mismatch: want %s, have %s", path, wrong, have);
	T_CHECK_MSG(!strncmp(in.error, old, strlen(old)) &&
			!strncmp(in.error + strlen(old), " (not in the host cache; the site", 33),
		"error: %s", in.error);
	T_EQ_INT(in.pid, 0);
	T_EQ_INT(count_procs("/bin/sleep|600|"), 0);
	T_CHECK(wait_state(&h, inst_id("goodart", 0), OP_INST_RUNNING, &in));
	stop_and_check(&h, inst_id("badart", 0));
	stop_and_check(&h, inst_id("goodart", 0));
	host_stop(&h);
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
	host h;
	T_REQUIRE(host_start(&h, "log1"));
	const char *id = inst_id("talker", 0);
	T_REQUIRE(start(&h, "talker", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"echo to-stdout; echo to-stderr "
		">&2; "
		"exec sleep 600\"]\n")
			.ok);
	T_REQUIRE(wait_state(&h, id, OP_INST_RUNNING, NULL));
	const char *log = h_str("%s/instances/%s/output.log", h.state, id);
	T_CHECK_MSG(h_wait_until(log_has_both, (void *)log, WAIT_MS),
		"output.log lacks the workload's output");
	stop_and_check(&h, id);
	host_stop(&h);
}

static void test_stop_grace(void)
{
	host h;
	T_REQUIRE(host_start(&h, "gr1"));
	const char *id = inst_id("stubborn", 0);
	/* TERM ignored: only the KILL after --stop-grace (1 s) ends it. */
	T_REQUIRE(start(&h, "stubborn", 0,
		"        command: /bin/sh\n        args: [\"-c\", \"trap '' TERM; exec sleep "
		"600\"]\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(wait_state(&h, id, OP_INST_RUNNING, &in));
	long long t0 = h_now_ms();
	stop_and_check(&h, id);
	long long took = h_now_ms() - t0;
	T_CHECK_MSG(took >= 900 && took < 8000, "stop took %lld ms", took);
	host_stop(&h);
}

static void test_readopt_after_kill9(void)
{
	host h;
	T_REQUIRE(host_start(&h, "ad1"));
	const char *a = inst_id("keep", 0), *b = inst_id("keep", 1);
	const char *props = "        command: /bin/sleep\n        args: [\"602\"]\n";
	T_REQUIRE(start(&h, "keep", 0, props).ok);
	T_REQUIRE(start(&h, "keep", 1, props).ok);
	op_hb_inst ia, ib;
	T_REQUIRE(wait_state(&h, a, OP_INST_RUNNING, &ia));
	T_REQUIRE(wait_state(&h, b, OP_INST_RUNNING, &ib));
	op_heartbeat hb;
	T_REQUIRE(hb_get(h.id, &hb));
	const char *boot = h_str("%s", hb.boot);
	op_heartbeat_clear(&hb);

	h_proc_stop(h.pid, true, 2000);
	T_CHECK(kill(ia.pid, 0) == 0 && kill(ib.pid, 0) == 0);
	T_REQUIRE(host_run(&h));
	want w = {.h = &h, .id = a, .state = OP_INST_RUNNING, .boot = boot};
	T_REQUIRE(h_wait_until(cond_inst, &w, WAIT_MS));
	T_EQ_INT(w.got.pid, ia.pid);
	op_hb_inst ib2;
	T_REQUIRE(wait_state(&h, b, OP_INST_RUNNING, &ib2));
	T_EQ_INT(ib2.pid, ib.pid);
	T_REQUIRE(hb_get(h.id, &hb));
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
	T_CHECK(wait_gone(st.shim_pid));
	T_CHECK(wait_gone(ib.pid));
	want w2 = {.h = &h, .id = b, .state = OP_INST_RUNNING, .not_pid = ib.pid};
	T_CHECK(h_wait_until(cond_inst, &w2, WAIT_MS));
	op_hb_inst nb = w2.got;
	T_CHECK(nb.pid > 0 && nb.pid != ib.pid);
	T_EQ_INT(nb.restarts, 1);
	T_EQ_INT(count_procs("/bin/sleep|602|"), 2);

	stop_and_check(&h, a);
	stop_and_check(&h, b);
	T_EQ_INT(count_procs("/bin/sleep|602|"), 0);
	host_stop(&h);
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

	const char *id = inst_id("reboot", 0), *state = h_path("state-rp1");
	const char *yaml = app_yaml(
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

	host h;
	T_REQUIRE(host_start(&h, "rp1"));
	want w = {.h = &h, .id = id, .state = OP_INST_RUNNING, .not_pid = fake_work};
	T_REQUIRE(h_wait_until(cond_inst, &w, WAIT_MS));
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
	stop_and_check(&h, id);
	T_CHECK(op_proc_start_time(fake_shim, &now) == 0 &&
		op_proc_start_time(fake_work, &now) == 0);
	h_proc_stop(fake_shim, false, 2000);
	h_proc_stop(fake_work, false, 2000);
	host_stop(&h);
}

static bool seq_past(void *arg)
{
	want *w = arg;
	op_heartbeat hb;
	bool ok = hb_get(w->h->id, &hb) && hb.seq > (uint64_t)w->state;
	op_heartbeat_clear(&hb);
	return ok;
}

/* The server goes away, the host is killed and comes back while it is away: the
 * workload runs on, and once the server is back the new host reports it. */
static void test_nats_outage(void)
{
	h_nats *own = h_hub_start();
	T_REQUIRE(own);
	host h;
	T_REQUIRE(host_start_at(&h, "out1", h_nats_url(own)));
	const char *id = inst_id("offline", 0);
	T_REQUIRE(start(&h, "offline", 0, "        command: /bin/sleep\n        args: [\"603\"]\n")
			.ok);
	op_hb_inst in;
	T_REQUIRE(wait_state(&h, id, OP_INST_RUNNING, &in));
	op_heartbeat hb;
	T_REQUIRE(hb_get(h.id, &hb));
	const char *boot = h_str("%s", hb.boot);
	op_heartbeat_clear(&hb);

	T_REQUIRE(h_nats_stop(own, false) == 0);
	h_proc_stop(h.pid, true, 2000);
	T_REQUIRE(host_run(&h));
	T_CHECK(kill(in.pid, 0) == 0);
	T_REQUIRE(h_nats_start_again(own) == 0);
	want w = {.h = &h, .id = id, .state = OP_INST_RUNNING, .boot = boot};
	T_CHECK(h_wait_until(cond_inst, &w, WAIT_MS));
	T_EQ_INT(w.got.pid, in.pid);

	/* And the same host survives the server going away and coming back. */
	T_REQUIRE(hb_get(h.id, &hb));
	want s = {.h = &h, .state = (int)hb.seq + 2};
	op_heartbeat_clear(&hb);
	T_REQUIRE(h_nats_stop(own, false) == 0);
	T_REQUIRE(h_nats_start_again(own) == 0);
	T_CHECK(h_wait_until(seq_past, &s, WAIT_MS));
	T_CHECK(kill(in.pid, 0) == 0);
	stop_and_check(&h, id);
	host_stop(&h);
	h_nats_stop(own, false);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	srv = h_hub_start();
	if (!srv) {
		fprintf(stderr, "cannot start nats-server\n");
		return 1;
	}
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
	/* A case that stopped early may have left instances: their shims and workloads
	 * are registered now, so that the harness stops them at exit. */
	for (int i = 0; i < nstates; i++)
		adopt_all(&(host){.state = states[i]});
	return t_done();
}
