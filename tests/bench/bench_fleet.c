/* A fleet on one machine: SITES (default 5; `make bench-fleet SITES=N`) real sites, each
 * a leaf nats-server with its own JetStream domain behind a link proxy, an `outpost
 * agent` and one `outpost host`, against a hub of three nodes in one JetStream cluster
 * running `outpost sync`. One app of one
 * instance (spreadscaler) runs at every site; each push is a signed commit that changes
 * its version.
 *
 * Measured, in this order:
 * - the hub's RSS (VmRSS of /proc/<pid>/status, summed over the hub's nodes) alone, then
 *   with the N leaf servers linked and nothing of outpost running: the floor per site
 *   is the difference over N;
 * - push to all converged, PUSHES times: from the request on outpost.hub.sync.now to
 *   the moment the hub's outpost-status says, for every site, that the app runs the new
 *   version (site.<s>.app.a00: the new revision's seq, that version, "deployed"). The
 *   sites' keys reach the hub in their agents' reports, so this is what an operator at
 *   the hub can see, a little after the sites knew; one KV watch at the hub follows
 *   them all. p50 and p99 (of 10 pushes, p99 is the slowest);
 * - the hub's RSS again, with everything running; per site the same way as the floor;
 * - the reconnect storm: every site's link cut at once, STORM_PUSHES pushes while they
 *   are cut, CUT_MS later every link restored at once: the time from the restore until
 *   the hub sees every site run the newest version. The cut stays under the ~10 s after
 *   which a site's mirror stalls (see harness.h).
 * After the storm, /proc must show exactly one workload per site, all of the newest
 * version. Numbers are printed, never judged; non-zero exit only on a failure. The
 * last line is the summary. OUTPOST_KEEP=1 keeps the temp dir; BENCH_AGENT_ARGS adds
 * flags to every agent (e.g. "--report 30s"). */
#include <dirent.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "e2e/fleet.h"
#include "harness.h"

#define PUSHES 10
#define STORM_PUSHES 2
#define CUT_MS 5000
#define MAXSITES 500 /* the harness registers 4096 processes */
#define HUB_NODES 3
#define RSS_SAMPLES 20 /* every 100 ms: the median of 2 s */
/* nats-server 2.10 checks each node for orphaned assets once, 30 s after it recovered the
 * cluster's metadata, and takes the consumers of mirrors (made on the stream's leader,
 * not through the meta leader) for orphans: deleted, each mirror hears nothing until its
 * own check makes its consumer again, up to 10 s later (fixed after 2.10:
 * nats-server#7957). The mirrors are made after that moment, so that a small fleet's
 * pushes measure the fleet, not a hub's first half-minute. */
#define ORPHAN_CHECK_MS 32000
static long long hub_up; /* when the hub's nodes were up */

/* The hub: the nodes of one JetStream cluster. Sync (with --replicas HUB_NODES: its
 * buckets on every node) and the bench connect to the list of them; a site's leaf link
 * goes to any of them. */
typedef struct hub {
	h_nats *node[HUB_NODES];
	int n;
} hub;

/* What the hub's status bucket says of one site's app. */
typedef struct site_app {
	long long seq;
	int ver;
	bool deployed;
} site_app;

static int nsites;
static int fail(const char *what);
static h_nats **sites;
static const char *agent_args; /* BENCH_AGENT_ARGS */
static site_app *seen;
static kvWatcher *watch;

/* BENCH_PROF=1: each hub node serves Go's profiles (prof_port), read once everything
 * runs: where the hub's memory goes (the heap profile's MemStats, and its file). */
static int prof_port[HUB_NODES];

/* The credentials of `outpost creds` for the hub and every site (the default, as a
 * fleet runs), in this directory; NULL with BENCH_NOCREDS=1: no accounts, every link
 * in the hub's global account. The bench itself watches the hub as a user of OUTPOST
 * with no permissions ("bench"), added to hub.conf. */
static const char *creds_dir;

/* env OUTPOST_NATS_CREDS=<the role's file> for a command line, or "". */
static const char *as(const char *rel)
{
	return creds_dir ? h_str("env OUTPOST_NATS_CREDS=%s/%s ", creds_dir, rel) : "";
}

static const char *hub_text(const h_nats *s, void *arg)
{
	(void)s, (void)arg;
	const char *prof = "";
	for (int i = 0; getenv("BENCH_PROF") && i < HUB_NODES && !*prof; i++)
		if (!prof_port[i]) {
			prof_port[i] = h_free_port();
			prof = h_str("prof_port: %d\n", prof_port[i]);
		}
	if (!creds_dir)
		return prof;
	char *t = h_read(h_str("%s/hub/hub.conf", creds_dir));
	const char *users = "    jetstream: enabled\n    users: [\n";
	char *at = t ? strstr(t, users) : NULL;
	if (!at) {
		free(t);
		return NULL;
	}
	at += strlen(users);
	const char *out = h_str("%s%.*s      { user: \"bench\", password: \"bench\" }\n%s", prof,
		(int)(at - t), t, at);
	free(t);
	return out;
}

/* urls (nats://host:port, comma-separated) with the bench's user in each. */
static const char *as_bench(const char *urls)
{
	const char *out = "";
	for (const char *p = urls; *p;) {
		size_t n = strcspn(p, ",");
		const char *host = strstr(p, "://");
		host = host && host < p + n ? host + 3 : p;
		out = h_str("%s%snats://bench:bench@%.*s", out, *out ? "," : "",
			(int)(n - (size_t)(host - p)), host);
		p += n + (p[n] == ',');
	}
	return out;
}

static const char *site_text(const h_nats *s, void *arg)
{
	(void)arg;
	return h_creds_site_conf(s, creds_dir, NULL);
}

/* outpost creds for nsites sites s000.. (one host each, h0), CREDS_CHUNK sites a run
 * (the command takes 256 changes at once: --out, then --update); creds_dir. */
#define CREDS_CHUNK 100

static int make_creds(void)
{
	creds_dir = h_path("creds");
	for (int from = 0; from < nsites; from += CREDS_CHUNK) {
		char *cmd = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&cmd, &len);
		if (!f)
			return -1;
		if (from == 0) {
			fprintf(f, "%s creds --out %s --hub-leaf ", h_path("outpost"), creds_dir);
			for (int i = 0; i < HUB_NODES; i++)
				fprintf(f, "%snats-leaf://127.0.0.1:%d", i ? "," : "",
					H_CREDS_LEAF_PORT + i);
		} else {
			fprintf(f, "%s creds --update %s", h_path("outpost"), creds_dir);
		}
		for (int i = from; i < nsites && i < from + CREDS_CHUNK; i++)
			fprintf(f, " --site s%03d --host s%03d:h0", i, i);
		fputs(" >/dev/null", f);
		fclose(f);
		int rc = h_run(NULL, "%s", cmd);
		free(cmd);
		if (rc != 0)
			return fail("outpost creds failed");
	}
	return 0;
}

static int hub_start(hub *h)
{
	h->n = HUB_NODES;
	if (!getenv("BENCH_NOCREDS") && make_creds() < 0)
		return -1;
	h_nats_cfg c = {.text = hub_text};
	if (!h_hub_cluster_start_cfg(HUB_NODES, h->node, &c))
		return -1;
	hub_up = h_now_ms();
	return 0;
}

/* The heap profile's MemStats of each node, one line each; the profiles kept as files. */
static void hub_prof(const char *when)
{
	for (int i = 0; i < HUB_NODES && prof_port[i]; i++) {
		char *t = h_http_get(prof_port[i], "/debug/pprof/heap?debug=1");
		if (!t)
			continue;
		h_write(h_path("heap-%d-%s.txt", i + 1, when), "%s", t);
		const char *keys[] = {"# HeapInuse = ", "# HeapIdle = ", "# HeapReleased = ",
			"# StackInuse = ", "# Sys = "};
		printf("  hub-%d heap, %s:", i + 1, when);
		for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
			const char *p = strstr(t, keys[k]);
			if (p)
				printf(" %s %.1f MB", keys[k] + 2,
					atoll(p + strlen(keys[k])) / 1048576.0);
		}
		printf("\n");
		free(t);
	}
}

/* Says which step failed; -1. */
static int fail(const char *what)
{
	fprintf(stderr, "bench_fleet: %s\n", what);
	return -1;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

/* The hub's RSS in kB, summed over its nodes: the median of RSS_SAMPLES over 2 s (a Go
 * server's RSS moves with its collector). The wait is the measurement. */
static long long hub_rss_kb(const hub *h)
{
	long long v[RSS_SAMPLES];
	for (int i = 0; i < RSS_SAMPLES; i++) {
		v[i] = 0;
		for (int k = 0; k < h->n; k++)
			v[i] += h_proc_status_kb(h->node[k]->pid, "VmRSS");
		h_wait_until(never, NULL, 100);
	}
	return h_pct(v, RSS_SAMPLES, 50);
}

/* What the hub's monitoring says about where its memory is: one line per node. */
static void hub_report(const hub *h, const char *when)
{
	for (int k = 0; k < h->n; k++) {
		json_t *v = h_nats_monitor(h->node[k], "/varz");
		json_t *j = h_nats_monitor(h->node[k], "/jsz");
		printf("  hub %s, %s: mem %.1f MB, %lld connections, %lld leafnodes, %lld "
		       "subscriptions; JetStream: %lld streams, %lld consumers, %lld messages, "
		       "%.1f MB stored, %.1f MB in memory\n",
			h->node[k]->name, when,
			(double)json_integer_value(json_object_get(v, "mem")) / 1048576.0,
			json_integer_value(json_object_get(v, "connections")),
			json_integer_value(json_object_get(v, "leafnodes")),
			json_integer_value(json_object_get(v, "subscriptions")),
			json_integer_value(json_object_get(j, "streams")),
			json_integer_value(json_object_get(j, "consumers")),
			json_integer_value(json_object_get(j, "messages")),
			(double)json_integer_value(json_object_get(j, "bytes")) / 1048576.0,
			(double)json_integer_value(json_object_get(j, "memory")) / 1048576.0);
		json_decref(v);
		json_decref(j);
	}
}

/* The JetStream API requests a server answered so far (/jsz's api.total). */
static long long api_total(h_nats *s)
{
	json_t *j = h_nats_monitor(s, "/jsz");
	long long n = json_integer_value(json_object_get(json_object_get(j, "api"), "total"));
	json_decref(j);
	return n;
}

/* The same, summed over the hub's nodes (at_hub), or over the sites' servers. */
static long long api_sum(const hub *h, bool at_hub)
{
	long long n = 0;
	for (int k = 0; k < (at_hub ? h->n : nsites); k++)
		n += api_total(at_hub ? h->node[k] : sites[k]);
	return n;
}

/* The messages the sites' servers took in and sent out so far, summed (/varz). */
static void site_msgs(long long *in, long long *out)
{
	*in = *out = 0;
	for (int k = 0; k < nsites; k++) {
		json_t *v = h_nats_monitor(sites[k], "/varz");
		*in += json_integer_value(json_object_get(v, "in_msgs"));
		*out += json_integer_value(json_object_get(v, "out_msgs"));
		json_decref(v);
	}
}

/* The hub's streams, node by node: messages, bytes, consumers, sources (/jsz, whose
 * integers may pass int64: read as reals). */
static void hub_streams(const hub *h)
{
	for (int k = 0; k < h->n; k++) {
		char *t = h_nats_monitor_text(h->node[k], "/jsz?streams=1&consumers=1&config=1");
		json_t *j = t ? json_loads(t, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
		free(t);
		json_t *accs = json_object_get(j, "account_details");
		for (size_t a = 0; a < json_array_size(accs); a++) {
			json_t *streams = json_object_get(json_array_get(accs, a), "stream_detail");
			for (size_t i = 0; i < json_array_size(streams); i++) {
				json_t *st = json_array_get(streams, i);
				json_t *state = json_object_get(st, "state");
				json_t *cfg = json_object_get(st, "config");
				printf("  hub %s, stream %s: %.0f messages, %.1f kB, %.0f "
				       "consumers, "
				       "%zu sources\n",
					h->node[k]->name,
					json_string_value(json_object_get(st, "name")),
					json_number_value(json_object_get(state, "messages")),
					json_number_value(json_object_get(state, "bytes")) / 1024.0,
					json_number_value(json_object_get(state, "consumer_count")),
					json_array_size(json_object_get(cfg, "sources")));
			}
		}
		json_decref(j);
	}
}

static void raise_fd_limit(void)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		setrlimit(RLIMIT_NOFILE, &r);
	}
}

/* Takes one entry of the watch into seen[]. */
static void take(kvEntry *e)
{
	const char *key = kvEntry_Key(e);
	int i = -1;
	if (sscanf(key, "site.s%d.app.a00", &i) != 1 || i < 0 || i >= nsites)
		return;
	json_t *j = kvEntry_Operation(e) == kvOp_Put
		? json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL)
		: NULL;
	const char *ver = json_string_value(json_object_get(j, "version"));
	const char *state = json_string_value(json_object_get(j, "state"));
	seen[i].seq = json_integer_value(json_object_get(j, "seq"));
	seen[i].ver = ver && ver[0] == 'v' ? (int)strtol(ver + 1, NULL, 10) : -1;
	seen[i].deployed = state && !strcmp(state, "deployed");
	json_decref(j);
}

static int converged(long long seq, int ver)
{
	int n = 0;
	for (int i = 0; i < nsites; i++)
		n += seen[i].seq >= seq && seen[i].ver == ver && seen[i].deployed;
	return n;
}

/* Reads the watch until every site runs ver of revision seq: the ms since t0, or -1
 * after timeout_ms (how many did, printed). */
/* When the last wait_converged saw half of the sites, and nine in ten, converged (ms
 * since its t0): a tail of slow sites tells apart from a fleet that is slow as a whole. */
static long long at_half, at_most;

static long long wait_converged(long long t0, long long seq, int ver, int timeout_ms)
{
	long long deadline = h_now_ms() + timeout_ms;
	at_half = at_most = -1;
	for (int n; (n = converged(seq, ver)) < nsites;) {
		if (at_half < 0 && 2 * n >= nsites)
			at_half = h_now_ms() - t0;
		if (at_most < 0 && 10 * n >= 9 * nsites)
			at_most = h_now_ms() - t0;
		long long left = deadline - h_now_ms();
		if (left <= 0) {
			fprintf(stderr,
				"bench_fleet: %d of %d sites run v%d (seq %lld) after %d ms\n",
				converged(seq, ver), nsites, ver, seq, timeout_ms);
			return -1;
		}
		kvEntry *e = NULL;
		natsStatus s = kvWatcher_Next(&e, watch, left < 200 ? left : 200);
		if (s == NATS_OK && e) {
			take(e);
			kvEntry_Destroy(e);
		} else if (s != NATS_OK && s != NATS_TIMEOUT) {
			fprintf(stderr, "bench_fleet: watch: %s\n", natsStatus_GetText(s));
			return -1;
		}
	}
	long long ms = h_now_ms() - t0;
	at_half = at_half < 0 ? ms : at_half;
	at_most = at_most < 0 ? ms : at_most;
	return ms;
}

/* The next version committed and published: its seq (f->seq), 0 on failure. The time
 * of the request in *t0. */
static uint64_t push(fleet *f, long long *t0)
{
	f->apps[0].ver++;
	const char *sha = fl_commit(f, f->key, "change");
	if (!sha)
		return 0;
	*t0 = h_now_ms();
	json_t *j = fl_sync(f, 30000);
	const char *out = json_string_value(json_object_get(j, "outcome"));
	const char *commit = json_string_value(json_object_get(j, "commit"));
	uint64_t seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	if (!out || strcmp(out, "accepted") != 0 || !commit || strcmp(commit, sha) != 0) {
		char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
		fprintf(stderr, "bench_fleet: sync: %s\n", s ? s : "no answer");
		free(s);
		seq = 0;
	}
	json_decref(j);
	return f->seq = seq;
}

static int start_sites(fleet *f, hub *h)
{
	const char **names = calloc((size_t)nsites, sizeof *names);
	if (!names)
		return -1;
	for (int i = 0; i < nsites; i++)
		names[i] = h_str("s%03d", i);
	long long t0 = h_now_ms();
	h_nats_cfg c = {.text = site_text, .own_leafnodes = true};
	bool ok = h_sites_start_cfg(h->node[0], names, nsites, sites, creds_dir ? &c : NULL);
	free(names);
	if (!ok)
		return fail("the sites' servers did not start");
	long long t1 = h_now_ms();
	for (int i = 0; i < nsites; i++)
		if (!h_leaf_wait(sites[i], 60000)) {
			fprintf(stderr, "bench_fleet: %s did not link\n", sites[i]->name);
			return -1;
		}
	printf("  %d leaf servers started in %lld ms, all linked %lld ms later\n", nsites, t1 - t0,
		h_now_ms() - t1);
	(void)f;
	return 0;
}

/* Every site's agent and host, spawned all at once. */
static int start_outpost(fleet *f)
{
	for (int i = 0; i < nsites; i++) {
		const char *s = sites[i]->name;
		if (h_spawn_sh(h_path("agent-%s.log", s),
			    "%s%s agent --site %s --nats %s --state %s %s",
			    as(h_str("%s/agent.creds", s)), f->bin, s, h_nats_url(sites[i]),
			    h_path("agent-%s", s), agent_args ? agent_args : "") <= 0 ||
			h_spawn_sh(h_path("host%d.log", i),
				"%s%s host --site %s --id h0 --nats %s --state %s",
				as(h_str("%s/host-h0.creds", s)), f->bin, s, h_nats_url(sites[i]),
				h_path("host%d", i)) <= 0)
			return -1;
	}
	return 0;
}

/* Every site's agent log says it applied a revision. */
static bool all_applied(void *arg)
{
	(void)arg;
	for (int i = 0; i < nsites; i++) {
		char *log = h_read(h_path("agent-%s.log", sites[i]->name));
		bool ok = log && strstr(log, "applying revision");
		free(log);
		if (!ok)
			return false;
	}
	return true;
}

/* Each site's agent alone makes its buckets (the mirror of the hub's) and applies v1,
 * then stops: the mirrors stay, each with its consumer at the hub. What they cost the
 * hub is measured between the leaf links alone and everything running. */
static int mirrors_only(fleet *f)
{
	pid_t *pids = calloc((size_t)nsites, sizeof *pids);
	int rc = pids ? 0 : -1;
	for (int i = 0; rc == 0 && i < nsites; i++) {
		const char *s = sites[i]->name;
		pids[i] = h_spawn_sh(h_path("agent-%s.log", s),
			"%s%s agent --site %s --nats %s --state %s", as(h_str("%s/agent.creds", s)),
			f->bin, s, h_nats_url(sites[i]), h_path("agent-%s", s));
		rc = pids[i] > 0 ? 0 : -1;
	}
	if (rc == 0 && !h_wait_until(all_applied, NULL, 120000 + nsites * 500))
		rc = fail("the agents alone did not apply v1");
	for (int i = 0; pids && i < nsites; i++)
		if (pids[i] > 0)
			h_proc_stop(pids[i], false, 10000);
	free(pids);
	return rc;
}

struct workloads {
	const char *tag, *suffix;
};

static bool one_each(void *arg)
{
	const struct workloads *w = arg;
	return h_workloads(w->tag, NULL, NULL, 0) == nsites &&
		h_workloads(w->tag, w->suffix, NULL, 0) == nsites;
}

/* CPU time of this run's processes by role, read off /proc: the hub's nodes, the
 * sites' servers, agents, hosts, shims and sync. Taken process by process between two
 * snapshots: one that started in between counts whole, one that ended in between
 * takes its time in between with it. Every push starts a shim per site and stops the
 * one before: of the shims, only those still running at the end are counted (a
 * shim's start, the workload's exec, its stop: 2-3 ms each, read off a live one's
 * schedstat), so the "shims" figure is far short of what they take. */
enum role { R_HUB, R_LEAF, R_AGENT, R_HOST, R_SHIM, R_SYNC, R_N };
static const char *const role_name[R_N] = {
	"hub nodes", "site servers", "agents", "hosts", "shims", "sync"};

#define SNAP_MAX 8192
typedef struct cpu_snap {
	int n;
	struct {
		int pid, role;
		unsigned long long start; /* since boot, in ticks: tells a reused pid apart */
		double s; /* its threads' run time */
	} p[SNAP_MAX];
} cpu_snap;

static int role_of(const char *cmd, size_t len)
{
	const char *tmp = h_tmpdir(), *hubdir = h_str("%s/nats-hub-", h_tmpdir());
	bool ours = false, is_hub = false;
	for (size_t i = 0; i < len; i += strlen(cmd + i) + 1) {
		ours = ours || strstr(cmd + i, tmp);
		is_hub = is_hub || strstr(cmd + i, hubdir);
	}
	const char *arg0 = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	const char *arg1 = strlen(cmd) + 1 < len ? cmd + strlen(cmd) + 1 : "";
	if (!ours)
		return -1;
	if (!strcmp(arg0, "nats-server"))
		return is_hub ? R_HUB : R_LEAF;
	if (strcmp(arg0, "outpost") != 0)
		return -1;
	return !strcmp(arg1, "agent")   ? R_AGENT
		: !strcmp(arg1, "host") ? R_HOST
		: !strcmp(arg1, "shim") ? R_SHIM
		: !strcmp(arg1, "sync") ? R_SYNC
					: -1;
}

/* The CPU time (s) of process pid: the run time of each of its threads, in ns
 * (/proc/<pid>/task/<tid>/schedstat), which counts a process that lived for less than
 * a clock tick too (/proc/<pid>/stat does not: a shim's start takes a few ms). A
 * thread that ended is not counted; the processes measured here keep theirs. */
static double run_time(int pid)
{
	DIR *d = opendir(h_str("/proc/%d/task", pid));
	double s = 0;
	for (struct dirent *t; d && (t = readdir(d));) {
		if (t->d_name[0] == '.')
			continue;
		FILE *f = fopen(h_str("/proc/%d/task/%s/schedstat", pid, t->d_name), "r");
		unsigned long long ns = 0;
		if (f && fscanf(f, "%llu", &ns) == 1)
			s += (double)ns / 1e9;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return s;
}

static void cpu_snap_take(cpu_snap *sn)
{
	sn->n = 0;
	char *list = NULL;
	h_run(&list, "ls /proc | grep -E '^[0-9]+$' | sort -n");
	for (char *p = list; p && *p && sn->n < SNAP_MAX;) {
		int pid = atoi(p);
		p += strcspn(p, "\n");
		p += *p == '\n';
		char cmd[4096], stat[1024];
		FILE *f = fopen(h_str("/proc/%d/cmdline", pid), "r");
		size_t n = f ? fread(cmd, 1, sizeof cmd - 1, f) : 0;
		if (f)
			fclose(f);
		cmd[n] = '\0';
		int r = n ? role_of(cmd, n) : -1;
		f = r < 0 ? NULL : fopen(h_str("/proc/%d/stat", pid), "r");
		size_t m = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
		if (f)
			fclose(f);
		stat[m] = '\0';
		char *end = m ? strrchr(stat, ')') : NULL;
		unsigned long long start = 0;
		if (end &&
			sscanf(end + 2,
				"%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
				"%*s %*s %*s %llu", /* field 22, starttime */
				&start) == 1) {
			sn->p[sn->n].pid = pid;
			sn->p[sn->n].role = r;
			sn->p[sn->n].start = start;
			sn->p[sn->n++].s = run_time(pid);
		}
	}
	free(list);
}

/* What each role spent from a to b (both in ascending pid order). */
static void cpu_between(const cpu_snap *a, const cpu_snap *b, double out[R_N])
{
	memset(out, 0, R_N * sizeof *out);
	for (int i = 0, j = 0; i < b->n; i++) {
		while (j < a->n && a->p[j].pid < b->p[i].pid)
			j++;
		bool same = j < a->n && a->p[j].pid == b->p[i].pid &&
			a->p[j].start == b->p[i].start;
		out[b->p[i].role] += b->p[i].s - (same ? a->p[j].s : 0);
	}
}

/* "hub nodes 1.2, site servers ..." of what each role spent, per n. */
static const char *cpu_text(const double d[R_N], double n)
{
	const char *t = "";
	double all = 0;
	for (int i = 0; i < R_N; i++) {
		t = h_str("%s%s%s %.2f", t, *t ? ", " : "", role_name[i], d[i] / n);
		all += d[i] / n;
	}
	return h_str("%s; all %.2f", t, all);
}

static cpu_snap snap_a, snap_b;

/* The fleet's CPU over five seconds of nothing asked of it, per second by role. */
static const char *idle_cpu(void)
{
	double d[R_N];
	cpu_snap_take(&snap_a);
	long long t = h_now_ms();
	h_wait_until(never, NULL, 5000);
	cpu_snap_take(&snap_b);
	cpu_between(&snap_a, &snap_b, d);
	return cpu_text(d, (double)(h_now_ms() - t) / 1000.0);
}

/* The RSS of a hub of HUB_NODES nodes with no accounts, no link (summed): what the
 * sites' accounts cost is measured from it. */
static long long rss_bare;

static int run(fleet *f, hub *h)
{
	long long rss0 = hub_rss_kb(h), base = creds_dir ? rss_bare : rss0;
	hub_report(h, "alone");
	if (start_sites(f, h) < 0)
		return -1;
	long long rss_links = hub_rss_kb(h);
	hub_report(h, "leaf links only");
	hub_prof("links");
	printf("  CPU s a second, leaf links only: %s\n", idle_cpu());

	f->key = h_keygen("ed25519");
	f->repo = h_repo_new("fleet");
	if (!f->key || !f->repo)
		return fail("no key or repository");
	f->trust = h_path("allowed_signers");
	h_write(f->trust, "test@example.com namespaces=\"git\" %s\n", f->key->pub);
	f->apps[0] = (fl_app){.on = true, .ver = 1, .instances = 1};
	f->hub = h->node[0];
	if (!fl_commit(f, f->key, "start"))
		return fail("cannot commit");
	f->sync_pid = h_spawn_sh(h_path("sync.log"),
		"%s%s sync --repo %s --trust %s --state %s --nats %s --replicas %d --interval 1h",
		as("hub/sync.creds"), f->bin, f->repo->path, f->trust, h_path("sync-state"),
		h_nats_urls(h->node[0]), HUB_NODES);
	const char *bench_url = h_nats_urls(h->node[0]);
	if (creds_dir) /* the bench's own user at every node */
		bench_url = as_bench(bench_url);
	if (f->sync_pid <= 0 || !(f->hub_nc = fl_connect(bench_url)) ||
		natsConnection_JetStream(&f->hub_js, f->hub_nc, NULL) != NATS_OK)
		return fail("cannot start sync or connect to the hub");
	json_t *first = fl_sync(f, 60000); /* sync's first pass published v1 */
	json_decref(first);
	if (!first)
		return fail("sync does not answer");
	if (!fl_kv_open(f->hub_js, "outpost-status", &f->hub_status, 30000) ||
		kvStore_Watch(&watch, f->hub_status, "site.*.app.a00", NULL) != NATS_OK)
		return fail("cannot watch the hub's outpost-status");
	long long left = hub_up + ORPHAN_CHECK_MS - h_now_ms();
	if (left > 0) {
		printf("  waiting %lld ms until the hub's nodes have checked for orphans (they "
		       "would take the mirrors' consumers made before for orphans)\n",
			left);
		h_wait_until(never, NULL, (int)left);
	}
	if (mirrors_only(f) < 0)
		return -1;
	long long rss_mirrors = hub_rss_kb(h);
	printf("  hub RSS with every site's mirror (agents stopped): %.1f MB\n",
		rss_mirrors / 1024.0);
	hub_prof("mirrors");
	printf("  CPU s a second, every site's mirror (agents stopped): %s\n", idle_cpu());
	long long t0 = h_now_ms();
	if (start_outpost(f) < 0)
		return fail("cannot start the agents and hosts");
	long long boot = wait_converged(t0, 1, 1, 120000 + nsites * 500);
	if (boot < 0)
		return -1;
	printf("  agents and hosts started, every site running v1: %lld ms\n", boot);
	long long rss_idle = hub_rss_kb(h);
	printf("  hub RSS with outpost running, before any push: %.1f MB\n", rss_idle / 1024.0);
	hub_prof("before-pushes");

	/* CPU: five seconds of the fleet idle, then the pushes. */
	uint64_t w0 = fl_last_seq(f->hub_js, "KV_outpost-status");
	long long tw = h_now_ms();
	printf("  CPU s a second, the fleet idle: %s\n", idle_cpu());
	printf("  writes of the hub's outpost-status a second, the fleet idle: %.1f (the agents' "
	       "liveness)\n",
		(double)(fl_last_seq(f->hub_js, "KV_outpost-status") - w0) * 1000.0 /
			(double)(h_now_ms() - tw));
	cpu_snap_take(&snap_a);
	long long api0 = api_sum(h, true), sapi0 = api_sum(h, false), in0, out0, in1, out1;
	site_msgs(&in0, &out0);
	uint64_t st0 = fl_last_seq(f->hub_js, "KV_outpost-status");
	long long ms[PUSHES];
	for (int i = 0; i < PUSHES; i++) {
		uint64_t seq = push(f, &t0);
		if (!seq ||
			(ms[i] = wait_converged(t0, (long long)seq, f->apps[0].ver, 120000)) < 0)
			return -1;
	}
	char each[PUSHES * 24] = "";
	for (int i = 0, len = 0; i < PUSHES && len >= 0 && (size_t)len < sizeof each; i++)
		len += snprintf(each + len, sizeof each - (size_t)len, " %lld", ms[i]);
	long long p50 = h_pct(ms, PUSHES, 50), p99 = h_pct(ms, PUSHES, 99);
	printf("  push to all converged, %d pushes: p50 %lld ms, p99 %lld ms; in order (ms):%s\n",
		PUSHES, p50, p99, each);
	double d[R_N];
	cpu_snap_take(&snap_b);
	cpu_between(&snap_a, &snap_b, d);
	printf("  CPU s a push (its idle time too): %s\n", cpu_text(d, PUSHES));
	printf("  JetStream API requests a push: the hub's nodes %.1f a site (sync's and the "
	       "agents'), each site's server %.1f\n",
		(double)(api_sum(h, true) - api0) / PUSHES / nsites,
		(double)(api_sum(h, false) - sapi0) / PUSHES / nsites);
	site_msgs(&in1, &out1);
	printf("  messages a push at each site's server: %.1f in, %.1f out\n",
		(double)(in1 - in0) / PUSHES / nsites, (double)(out1 - out0) / PUSHES / nsites);
	printf("  writes of the hub's outpost-status a push: %.1f a site (the reports, and "
	       "liveness meanwhile)\n",
		(double)(fl_last_seq(f->hub_js, "KV_outpost-status") - st0) / PUSHES / nsites);
	long long rss_full = hub_rss_kb(h);
	hub_report(h, "everything running");
	hub_prof("after-pushes");
	hub_streams(h);

	h_links_cut(sites, nsites);
	long long cut = h_now_ms();
	uint64_t seq = 0;
	for (int i = 0; i < STORM_PUSHES; i++)
		if (!(seq = push(f, &t0)))
			return -1;
	h_wait_until(never, NULL, (int)(CUT_MS - (h_now_ms() - cut))); /* the cut itself */
	long long cut_ms = h_now_ms() - cut;
	t0 = h_now_ms();
	for (int i = 0; i < nsites; i++)
		h_link_restore(sites[i]);
	long long storm = wait_converged(t0, (long long)seq, f->apps[0].ver, 300000);
	if (storm < 0)
		return -1;
	printf("  reconnect storm: %d links cut for %lld ms, %d pushes meanwhile, all restored "
	       "at once: every site running v%d after %lld ms (half of them after %lld ms, nine "
	       "in ten after %lld ms)\n",
		nsites, cut_ms, STORM_PUSHES, f->apps[0].ver, storm, at_half, at_most);
	char *out = NULL;
	h_run(&out, "grep -l 'desired-state mirror stalled' %s/agent-s*.log | wc -l", h_tmpdir());
	printf("  agents that logged their mirror stalled (read the hub's bucket directly): %ld\n",
		out ? strtol(out, NULL, 10) : -1L);
	free(out);
	struct workloads w = {f->tag, h_str("00%03d", f->apps[0].ver)};
	if (!h_wait_until(one_each, &w, 30000)) {
		fprintf(stderr,
			"bench_fleet: want one workload of v%d at each of %d sites: %d run, "
			"%d of them v%d\n",
			f->apps[0].ver, nsites, h_workloads(f->tag, NULL, NULL, 0),
			h_workloads(f->tag, w.suffix, NULL, 0), f->apps[0].ver);
		return -1;
	}

	long long rss_storm = hub_rss_kb(h);
	/* Per site: everything the hub spends on it, from a hub with nothing configured for
	 * any site (with credentials, its account is part of it); the floor is the same
	 * with the sites' servers linked and nothing of outpost running. */
	double per = (double)(rss_full - base) / 1024.0 / nsites;
	double floor_ = (double)(rss_links - base) / 1024.0 / nsites;
	printf("  hub memory per site: its account %.2f MB, its leaf link %+.2f MB, its mirror "
	       "%+.2f MB, its agent running (reports) %+.2f MB, after %d pushes %+.2f MB\n",
		(double)(rss0 - base) / 1024.0 / nsites,
		(double)(rss_links - rss0) / 1024.0 / nsites,
		(double)(rss_mirrors - rss_links) / 1024.0 / nsites,
		(double)(rss_idle - rss_mirrors) / 1024.0 / nsites, PUSHES,
		(double)(rss_full - rss_idle) / 1024.0 / nsites);
	printf("  hub RSS: %s%.1f MB, alone %.1f MB, with %d leaf links %.1f MB, with outpost "
	       "%.1f MB, after the storm %.1f MB\n",
		creds_dir ? "configured for no site " : "", base / 1024.0, rss0 / 1024.0, nsites,
		rss_links / 1024.0, rss_full / 1024.0, rss_storm / 1024.0);
	printf("  credentials: %s\n",
		creds_dir ? "outpost creds (an account per site at the hub)"
			  : "none (BENCH_NOCREDS: every link in the hub's global account)");
	if (agent_args && *agent_args)
		printf("  agents run with: %s\n", agent_args);
	printf("  the hub: %d nodes in one JetStream cluster (sync --replicas %d); RSS summed "
	       "over them; leaf links uncompressed (the harness's link "
	       "proxies need it: nats-server's default s2 costs the hub megabytes a link)\n",
		h->n, HUB_NODES);
	printf("  the sites' servers: GOMAXPROCS=1, as "
	       "packaging/deb/systemd/nats-site.service.conf "
	       "runs them; the hub's nodes: Go's default\n");
	printf("fleet: %d sites, push to all converged p50 %lld ms p99 %lld ms, reconnect storm "
	       "%lld ms, hub RSS %.0f MB (%.2f MB/site, floor %.2f MB/site)\n",
		nsites, p50, p99, storm, rss_full / 1024.0, per, floor_);
	return 0;
}

int main(void)
{
	const char *e = getenv("SITES");
	nsites = e && *e ? (int)strtol(e, NULL, 10) : 5;
	agent_args = getenv("BENCH_AGENT_ARGS");
	if (nsites < 1 || nsites > MAXSITES) {
		fprintf(stderr, "bench_fleet: SITES must be 1..%d\n", MAXSITES);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0); /* a long run: each line as it comes */
	raise_fd_limit();
	sites = calloc((size_t)nsites, sizeof *sites);
	seen = calloc((size_t)nsites, sizeof *seen);
	char cwd[4096];
	if (!sites || !seen || !getcwd(cwd, sizeof cwd))
		return 1;
	static fleet f;
	f.bin = h_path("outpost");
	f.tag = h_str("8%05d", (int)(getpid() % 100000));
	if (!fl_copy_bin(h_str("%s/outpost", cwd), f.bin))
		return 1;
	printf("bench_fleet: %d sites (a leaf nats-server, an agent, a host with the default "
	       "heartbeat, one instance), %d pushes\n",
		nsites, PUSHES);
	hub h = {0};
	if (!getenv("BENCH_NOCREDS")) { /* a hub with nothing configured, measured, stopped */
		hub bare = {.n = HUB_NODES};
		if (!h_hub_cluster_start(HUB_NODES, bare.node))
			return 1;
		rss_bare = hub_rss_kb(&bare);
		for (int i = 0; i < HUB_NODES; i++)
			h_nats_stop(bare.node[i], false);
	}
	int rc = hub_start(&h) == 0 ? run(&f, &h) : -1;
	if (rc < 0)
		fprintf(stderr, "bench_fleet: failed\n");
	if (watch)
		kvWatcher_Destroy(watch);
	f.hub_kv = NULL;
	f.site_kv = f.site_status = NULL;
	h_adopt_workloads(f.tag);
	fl_stop(&f);
	free(sites);
	free(seen);
	return rc < 0 ? 1 : 0;
}
