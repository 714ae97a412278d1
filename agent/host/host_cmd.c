/* `outpost host`: flags and labels, then one loop that answers commands on
 * outpost.<site>.host.<id>.cmd and, every --heartbeat, looks at the instances
 * (op_host_refresh) and publishes a heartbeat on outpost.<site>.hb.<id>. Log requests
 * (outpost-logs.<site>.<id>) are answered beside the loop, on nats.c's thread, from the
 * files alone (op_host_logs), so a reader never delays a command or a heartbeat. The workloads
 * do not depend on this process or on NATS: while the server is away heartbeats are
 * skipped (not queued: stale ones would flood the agent on reconnect) and nats.c
 * reconnects by itself; on SIGTERM the host exits and leaves its shims running. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/base/cli.h"
#include "outpost/agent/host/cgroup.h"
#include "outpost/agent/host/fence.h"
#include "outpost/agent/host/host.h"
#include "outpost/agent/host/wasm.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/wire/label.h"

/* After a command, a heartbeat is brought forward this soon, so the agent sees it early. */
#define HB_AFTER_CMD_MS 50
/* While an instance is starting, stopping or waiting for its health, the host looks this
 * often whether its shim moved it on, and then brings a heartbeat forward: a rollout's
 * next step waits on it, not on the next --heartbeat. One brought forward goes out only
 * when an instance settled or went away, or nothing is in passing (beat.h); the
 * heartbeat of every --heartbeat always does. */
#define HB_WATCH_MS 25

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost host --site NAME --id ID [options]\n"
		"\n"
		"Runs and supervises this box's workloads as the site's agent asks, and sends\n"
		"heartbeats. Workloads keep running while NATS or this process is down; a\n"
		"restarted host adopts them again from --state.\n"
		"\n"
		"  --site NAME         the site this box belongs to ([a-z0-9-], 1..63)\n"
		"  --id ID             this host's id, unique in the site ([a-z0-9-], 1..63)\n"
		"  --nats URL          the site's NATS server (default " OP_DEFAULT_NATS ")\n"
		"  --label KEY=VALUE   a host label for placement (repeatable); site, arch and\n"
		"                      hostname are set by outpost\n"
		"  --state DIR         instances, their state and logs (default\n"
		"                      " OP_HOST_STATE_DEFAULT ")\n"
		"  --heartbeat DUR     time between heartbeats (default 2s; e.g. 500ms)\n"
		"  --stop-grace DUR    SIGTERM to SIGKILL when stopping a workload (default 10s)\n"
		"  --default-user USER who runs a component that names no user (a name or id\n"
		"                      of /etc/passwd; default: the user this host runs as)\n"
		"  --wasm-runtime PATH the WebAssembly runtime that runs components of type\n"
		"                      wasm (default " OP_WASM_RUNTIME_DEFAULT "); a box without\n"
		"                      it says wasm: none and is given none\n"
		"  --cgroup-root DIR   where the cgroup v2 tree is mounted (default\n"
		"                      " OP_CGROUP_ROOT "; another for tests only). Where the\n"
		"                      host's own cgroup has memory and pids delegated, an\n"
		"                      instance with limits.memory or limits.processes gets a\n"
		"                      cgroup of its own (limits=cgroup); else rlimits\n"
		"  --max-backoff DUR   a failed instance (crash loop, artifact refused, command\n"
		"                      that cannot start) is tried again after 10s, doubling up\n"
		"                      to this (default 5m); outpost restart tries it at once\n"
		"  -h, --help          this help\n"
		"\n"
		"Subjects: heartbeats on outpost.<site>.hb.<id>, commands (request/reply) on\n"
		"outpost.<site>.host.<id>.cmd, log requests (outpost logs) on\n"
		"outpost-logs.<site>.<id>. Exit status: 0 stopped by a signal, 1 failure,\n"
		"2 usage.\n");
}

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

typedef struct run {
	const char *site, *id, *nats, *state;
	op_kvs labels;
	int64_t every_ms;
	char boot[OP_BOOT_MAX + 1];
	const char *cgroup; /* op_fence_cgroup_detect, for the heartbeat */
	const char *limits; /* "cgroup" when the tree is prepared (cgroup.h), else "rlimit" */
	char wasm[OP_WASM_VERSION_MAX + 1]; /* the runtime's version, or "none" */
	uint64_t seq;
	op_host *host;
	op_bus bus;
} run;

/* A --label: KEY=VALUE under the label rules, not one outpost sets itself. */
static int label_flag(op_kvs *m, const char *arg)
{
	op_err e = {0};
	const char *eq = strchr(arg, '=');
	size_t klen = eq ? (size_t)(eq - arg) : 0;
	static const char *const own[] = {"site", "arch", "hostname"};
	for (size_t i = 0; i < sizeof own / sizeof *own; i++)
		if (klen == strlen(own[i]) && !strncmp(arg, own[i], klen)) {
			fprintf(stderr,
				"outpost host: --label %s: site, arch and hostname are set by "
				"outpost\n",
				own[i]);
			return OP_EUSAGE;
		}
	if (m->n >= OP_HB_MAX_LABELS - 3) {
		fprintf(stderr, "outpost host: at most %d --label\n", OP_HB_MAX_LABELS - 3);
		return OP_EUSAGE;
	}
	if (op_cli_label(m, arg, &e) != 0) {
		fprintf(stderr, "outpost host: %s\n", e.msg);
		return OP_EUSAGE;
	}
	return 0;
}

/* The hostname as a label value: characters outside the rules become '-'. */
static void hostname_label(char out[64])
{
	char h[256] = "";
	if (gethostname(h, sizeof h - 1) != 0 || !h[0])
		snprintf(h, sizeof h, "unknown");
	size_t i = 0;
	for (; i < 63 && h[i]; i++) {
		char c = h[i];
		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
				(c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'
			? c
			: '-';
	}
	out[i] = '\0';
}

/* --default-user must name a user this host can run workloads as, now. */
static int default_user_check(const char *user)
{
	char *passwd = NULL, *group = NULL;
	size_t len;
	op_err e = {0};
	op_fence f = {0};
	op_fence_plan p;
	if (op_read_file("/etc/passwd", 1 << 22, &passwd, &len, NULL) != 0)
		passwd = NULL;
	if (op_read_file("/etc/group", 1 << 22, &group, &len, NULL) != 0)
		group = NULL;
	int rc = op_fence_plan_make(&f, user, passwd, group, getuid(), getgid(), 0, &p, &e);
	free(passwd);
	free(group);
	if (rc != 0)
		fprintf(stderr, "outpost host: %s\n", e.msg);
	return rc;
}

static void make_boot(char out[OP_BOOT_MAX + 1])
{
	unsigned char b[16] = {0};
	if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b) {
		int64_t t = op_wall_ms() ^ ((int64_t)getpid() << 32);
		memcpy(b, &t, sizeof t);
	}
	for (size_t i = 0; i < sizeof b; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Refreshes and sends a heartbeat; early (brought forward), only when it is due
 * (beat.h). True when it went out. */
static bool heartbeat(run *r, bool early)
{
	op_heartbeat hb = {.seq = r->seq, .interval_ms = r->every_ms, .labels = r->labels};
	snprintf(hb.host, sizeof hb.host, "%s", r->id);
	snprintf(hb.site, sizeof hb.site, "%s", r->site);
	snprintf(hb.boot, sizeof hb.boot, "%s", r->boot);
	snprintf(hb.limits, sizeof hb.limits, "%s", r->limits);
	snprintf(hb.cgroup, sizeof hb.cgroup, "%s", r->cgroup);
	snprintf(hb.wasm, sizeof hb.wasm, "%s", r->wasm);
	op_err e = {0};
	if (op_host_refresh(r->host, &hb.insts, &hb.ninsts, &e) != 0) {
		op_log_error("cannot read instances", "error=\"%s\"", e.msg);
		return false;
	}
	bool sent = false;
	char *json = NULL, subj[256];
	/* One brought forward while every change is in passing waits for the end of it. */
	if ((!early || op_host_due(r->host)) && op_bus_connected(&r->bus) &&
		op_heartbeat_encode(&hb, &json, &e) == 0) {
		snprintf(subj, sizeof subj, "outpost.%s.hb.%s", r->site, r->id);
		sent = natsConnection_Publish(r->bus.nc, subj, json, (int)strlen(json)) == NATS_OK;
		if (sent)
			op_host_sent(r->host);
		r->seq++;
	} else if (e.msg[0]) {
		op_log_error("cannot encode heartbeat", "error=\"%s\"", e.msg);
	}
	free(json);
	free(hb.insts);
	return sent;
}

static void on_command(run *r, natsMsg *msg)
{
	const char *to = natsMsg_GetReply(msg);
	op_hostcmd c;
	op_hostreply rep = {0};
	op_err e = {0};
	if (op_hostcmd_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &c, &e) !=
		0) {
		op_log_warn("command refused", "error=\"%s\"", e.msg);
		rep.ok = false;
		snprintf(rep.error, sizeof rep.error, "%s", e.msg);
	} else {
		op_host_handle(r->host, &c, &rep);
		if (!rep.ok)
			op_log_warn("command failed", "op=%s id=%s error=\"%s\"",
				c.op == OP_CMD_START          ? "start"
					: c.op == OP_CMD_STOP ? "stop"
							      : "restart",
				c.id, rep.error);
	}
	op_hostcmd_clear(&c);
	char *json = NULL;
	if (to && op_hostreply_encode(&rep, &json, &e) == 0)
		natsConnection_Publish(r->bus.nc, to, json, (int)strlen(json));
	free(json);
}

static void on_logs(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	run *r = arg;
	const char *to = natsMsg_GetReply(msg);
	op_logreq q;
	op_logreply rep;
	op_err e = {0};
	char *json = NULL;
	(void)sub;
	int rc = op_logreq_decode(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &q, &e);
	if (rc == 0 && (rc = op_host_logs(r->state, r->id, &q, &rep, &e)) == 0) {
		rc = op_logreply_encode(&rep, &json, &e);
		op_logreply_clear(&rep);
	}
	op_logreq_clear(&q);
	if (rc != 0) { /* the reader learns why */
		op_log_warn("logs request refused", "error=\"%s\"", e.msg);
		op_hostreply fail = {.ok = false};
		op_proto_text(fail.error, sizeof fail.error, e.msg);
		op_hostreply_encode(&fail, &json, &e);
	}
	if (to && json)
		natsConnection_Publish(nc, to, json, (int)strlen(json));
	free(json);
	natsMsg_Destroy(msg);
}

static int serve(run *r)
{
	char subj[256];
	natsSubscription *sub = NULL, *logs = NULL;
	snprintf(subj, sizeof subj, "outpost.%s.host.%s.cmd", r->site, r->id);
	natsStatus s = natsConnection_SubscribeSync(&sub, r->bus.nc, subj);
	if (s == NATS_OK) {
		snprintf(subj, sizeof subj, OP_LOGS_PREFIX ".%s.%s", r->site, r->id);
		s = natsConnection_Subscribe(&logs, r->bus.nc, subj, on_logs, r);
	}
	if (s != NATS_OK) {
		op_err e;
		op_bus_err(&e, s, "subscribe");
		op_log_error("host cannot start", "error=\"%s\"", e.msg);
		natsSubscription_Destroy(sub);
		return OP_EXIT_FAIL;
	}
	/* regular: the next heartbeat of every --heartbeat; next: regular, or one brought
	 * forward */
	int64_t regular = op_now_ms(), next = regular;
	while (!stopping) {
		char why[256];
		if (op_bus_lost(&r->bus, why, sizeof why)) {
			/* Waiting would sit disconnected for ever: the service manager restarts
			 * the host (its shims and workloads keep running meanwhile). */
			op_log_error("host exiting: the nats server closed its connection for good",
				"error=\"%s\"", why);
			natsSubscription_Destroy(sub);
			natsSubscription_Destroy(logs);
			return OP_EXIT_FAIL;
		}
		int64_t now = op_now_ms();
		if (now >= next) {
			bool early = now < regular;
			if (heartbeat(r, early) || !early)
				regular = now + r->every_ms;
			next = regular;
			continue;
		}
		bool watch = op_host_pending(r->host);
		int64_t cap = watch ? HB_WATCH_MS : 200; /* 200: notice signals */
		int64_t wait = next - now < cap ? next - now : cap;
		natsMsg *msg = NULL;
		s = natsSubscription_NextMsg(&msg, sub, wait);
		if (s == NATS_OK && msg) {
			on_command(r, msg);
			natsMsg_Destroy(msg);
			if (next > op_now_ms() + HB_AFTER_CMD_MS)
				next = op_now_ms() + HB_AFTER_CMD_MS;
		} else if (s != NATS_TIMEOUT) {
			usleep((useconds_t)wait * 1000); /* closed or slow consumer: no busy loop */
		} else if (watch && op_host_moved(r->host)) {
			next = op_now_ms();
		}
	}
	natsSubscription_Unsubscribe(logs); /* no callback runs past this */
	natsSubscription_Destroy(sub);
	natsSubscription_Destroy(logs);
	return OP_EXIT_OK;
}

int op_cmd_host(int argc, char **argv)
{
	static const struct option opts[] = {{"site", required_argument, NULL, 's'},
		{"id", required_argument, NULL, 'i'}, {"nats", required_argument, NULL, 'n'},
		{"label", required_argument, NULL, 'l'}, {"state", required_argument, NULL, 'd'},
		{"heartbeat", required_argument, NULL, 'b'},
		{"stop-grace", required_argument, NULL, 'g'},
		{"max-backoff", required_argument, NULL, 'x'},
		{"default-user", required_argument, NULL, 'u'},
		{"wasm-runtime", required_argument, NULL, 'W'},
		{"cgroup-root", required_argument, NULL, 'C'}, {"help", no_argument, NULL, 'h'},
		{0}};
	run r = {.nats = OP_DEFAULT_NATS, .every_ms = 2000, .limits = "rlimit"};
	const char *cgroup_root = OP_CGROUP_ROOT;
	char cgroup_base[4096];
	op_host_cfg cfg = {.state = OP_HOST_STATE_DEFAULT,
		.grace_ms = OP_STOP_GRACE_DEFAULT_MS,
		.log_max = OP_LOG_MAX_DEFAULT,
		.log_keep = OP_LOG_KEEP_DEFAULT,
		.max_backoff_ms = OP_MAX_BACKOFF_MS};
	int c, rc = OP_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': r.site = optarg; break;
		case 'i': r.id = optarg; break;
		case 'n': r.nats = optarg; break;
		case 'd': cfg.state = optarg; break;
		case 'u': cfg.default_user = optarg; break;
		case 'W': cfg.wasm_runtime = optarg; break;
		case 'C': cgroup_root = optarg; break;
		case 'l':
			if (label_flag(&r.labels, optarg) != 0)
				goto out;
			break;
		case 'b':
			if (op_parse_duration_ms(optarg, &r.every_ms) != 0 ||
				r.every_ms < OP_HB_MIN_INTERVAL_MS ||
				r.every_ms > OP_HB_MAX_INTERVAL_MS) {
				fprintf(stderr,
					"outpost host: --heartbeat: expected a duration from "
					"100ms to 1h, like 2s\n");
				goto out;
			}
			break;
		case 'g':
			if (op_parse_duration_ms(optarg, &cfg.grace_ms) != 0 ||
				cfg.grace_ms > 3600000) {
				fprintf(stderr,
					"outpost host: --stop-grace: expected a duration up to "
					"1h, like 10s\n");
				goto out;
			}
			break;
		case 'x':
			if (op_parse_duration_ms(optarg, &cfg.max_backoff_ms) != 0 ||
				cfg.max_backoff_ms < 1000 ||
				cfg.max_backoff_ms > 7 * 24 * 3600000LL) {
				fprintf(stderr,
					"outpost host: --max-backoff: expected a duration from 1s "
					"to 7 days, like 5m\n");
				goto out;
			}
			break;
		case 'h':
			usage(stdout);
			rc = OP_EXIT_OK;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind < argc || !r.site || !r.id) {
		fprintf(stderr, "outpost host: %s\n",
			optind < argc ? "unexpected argument" : "--site and --id are required");
		usage(stderr);
		goto out;
	}
	if (!op_name_valid(r.site) || !strcmp(r.site, "hub") || !op_name_valid(r.id)) {
		fprintf(stderr,
			"outpost host: --site and --id: expected [a-z0-9-], 1..63 "
			"characters (the site name hub is reserved)\n");
		goto out;
	}
	char hostname[64], own[3][128];
	hostname_label(hostname);
	snprintf(own[0], sizeof own[0], "site=%s", r.site);
	snprintf(own[1], sizeof own[1], "arch=%s", op_arch_self());
	snprintf(own[2], sizeof own[2], "hostname=%s", hostname);
	for (int i = 0; i < 3; i++) {
		op_err e = {0};
		if (op_cli_label(&r.labels, own[i], &e) != 0) {
			fprintf(stderr, "outpost host: %s\n", e.msg);
			rc = OP_EXIT_FAIL;
			goto out;
		}
	}
	if (cfg.default_user && default_user_check(cfg.default_user) != 0)
		goto out;
	make_boot(r.boot);
	char *self_cg = NULL;
	size_t cglen;
	if (op_read_file("/proc/self/cgroup", 65536, &self_cg, &cglen, NULL) != 0)
		self_cg = NULL;
	r.cgroup = op_fence_cgroup_detect(cgroup_root, self_cg);
	/* On a unified tree, the host's own cgroup may be delegated (or it may sit in the
	 * leaf an earlier start made): then limits are the instances' cgroups. */
	op_err cge = {0};
	bool unified = !strncmp(r.cgroup, "v2", 2);
	if (unified &&
		op_cgroup_host_prepare(cgroup_root, self_cg, (int)getpid(), cgroup_base,
			sizeof cgroup_base, &cge) == 0) {
		r.cgroup = "v2";
		r.limits = "cgroup";
		cfg.cgroup_base = cgroup_base;
	}
	free(self_cg);
	op_wasm_version(cfg.wasm_runtime ? cfg.wasm_runtime : OP_WASM_RUNTIME_DEFAULT, r.wasm);

	rc = OP_EXIT_FAIL;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	r.state = cfg.state;
	cfg.nats = r.nats;
	op_err e = {0};
	/* The kernel's last choice but one when memory runs out (fence.h); workloads raise
	 * theirs. */
	if (op_oom_adj_self(OP_OOM_OUTPOST, &e) != 0)
		op_log_warn("cannot lower the host's oom_score_adj", "error=\"%s\"", e.msg);
	e = (op_err){0};
	if (op_host_open(&r.host, &cfg, &e) != 0) {
		op_log_error("host cannot start", "error=\"%s\"", e.msg);
		goto out;
	}
	char name[128];
	snprintf(name, sizeof name, "outpost host %s", r.id);
	if (op_bus_connect(&r.bus, r.nats, name, NULL, 0, &e) != 0) {
		op_log_error("host cannot start", "error=\"%s\"", e.msg);
		goto out;
	}
	char nats[512];
	op_bus_url_redact(r.nats, nats, sizeof nats);
	if (cfg.cgroup_base)
		op_log_info("cgroup limits in force",
			"cgroup=%s host=%s/" OP_CGROUP_HOST_LEAF " controllers=\"memory pids\"",
			cfg.cgroup_base, cfg.cgroup_base);
	else if (unified)
		op_log_warn(
			"cgroup limits not in force: limits are rlimits", "error=\"%s\"", cge.msg);
	op_log_info("host started",
		"site=%s id=%s boot=%s arch=%s state=%s nats=%s limits=%s cgroup=%s wasm=%s",
		r.site, r.id, r.boot, op_arch_self(), cfg.state, nats, r.limits, r.cgroup, r.wasm);
	rc = serve(&r);
	op_log_info("host stopping", "id=%s instances=%s", r.id, "left running");
out:
	op_bus_close(&r.bus);
	op_host_close(r.host);
	op_kvs_clear(&r.labels);
	return rc;
}
