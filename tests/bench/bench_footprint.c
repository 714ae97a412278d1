/* What outpost costs an edge box: the size of the binary (stripped, as packaged: amd64,
 * and arm64 when ./outpost-arm64 was built), and the memory and CPU of a site at rest.
 * A hub and a site nats-server, sync, one agent and one host come from the harness;
 * one app with one instance (/bin/sleep) is deployed, then, once it runs and nothing
 * changes, the RSS of the agent, the host and the instance's shim is read from
 * /proc/<pid>/status (VmRSS) and their CPU (utime + stime of /proc/<pid>/stat) is
 * measured over BENCH_IDLE_SECONDS (default 60), with the default heartbeat (2 s) and
 * resync (30 s). Numbers are printed, never judged: the exit status is non-zero only
 * when the set-up fails. OUTPOST_KEEP=1 keeps the temp dir. */
#include <dirent.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define WAIT_MS 30000

static const char *bin, *tag;

/* Stripped size of a binary (a stripped copy in the temp dir), -1 when it fails. */
static long long stripped_size(const char *strip, const char *path)
{
	const char *out = h_path("stripped-%s", strrchr(path, '/') + 1);
	if (h_run(NULL, "%s --remove-section=.comment --remove-section=.note -o %s %s", strip,
		    h_q(out), h_q(path)) != 0)
		return -1;
	struct stat st;
	return stat(out, &st) == 0 ? (long long)st.st_size : -1;
}

static void sizes(void)
{
	const char *arm = h_str("%s-arm64", bin);
	struct stat st;
	long long s = stripped_size("strip", bin);
	if (stat(bin, &st) == 0)
		printf("binary outpost (amd64): %.2f MB stripped (%lld bytes; %.2f MB with debug "
		       "info)\n",
			s / 1e6, s, st.st_size / 1e6);
	if (stat(arm, &st) != 0) {
		printf("binary outpost-arm64: not built (make arm64)\n");
		return;
	}
	s = stripped_size("aarch64-linux-gnu-strip", arm);
	printf("binary outpost-arm64: %.2f MB stripped (%lld bytes; %.2f MB with debug info)\n",
		s / 1e6, s, st.st_size / 1e6);
}

/* utime + stime in clock ticks, and the parent pid; -1 if unreadable. */
static long long cpu_ticks(pid_t pid, pid_t *ppid)
{
	char *s = h_read(h_str("/proc/%d/stat", (int)pid));
	char *p = s ? strrchr(s, ')') : NULL;
	long long t = -1;
	if (p) {
		/* After ") ": state(3) ppid(4) ... utime(14) stime(15). */
		char *f = p + 2;
		long long v[16] = {0};
		for (int i = 3; i <= 15 && f; i++) {
			if (i > 3)
				v[i] = strtoll(f, NULL, 10);
			f = strchr(f, ' ');
			if (f)
				f++;
		}
		if (ppid)
			*ppid = (pid_t)v[4];
		t = v[14] + v[15];
	}
	free(s);
	return t;
}

/* The pid of the workload /bin/sleep <tag>, 0 if none runs. */
static pid_t workload(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	pid_t found = 0;
	while (d && !found && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		char buf[256];
		FILE *f = fopen(h_str("/proc/%s/cmdline", e->d_name), "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		if (strcmp(buf, "/bin/sleep") == 0 && len > 11 &&
			strcmp(buf + strlen(buf) + 1, tag) == 0)
			found = (pid_t)strtol(e->d_name, NULL, 10);
	}
	if (d)
		closedir(d);
	return found;
}

static bool workload_runs(void *arg)
{
	(void)arg;
	return workload() > 0;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static bool sync_now(void *arg)
{
	natsConnection *nc = arg;
	natsMsg *m = NULL;
	if (natsConnection_RequestString(&m, nc, "outpost.hub.sync.now", "{}", 10000) != NATS_OK)
		return false;
	/* unchanged: sync's first pass got there before this request. */
	bool ok = strstr(natsMsg_GetData(m), "\"outcome\":\"accepted\"") ||
		strstr(natsMsg_GetData(m), "\"outcome\":\"unchanged\"");
	natsMsg_Destroy(m);
	return ok;
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("7%05d", (int)(getpid() % 100000));
	const char *e = getenv("BENCH_IDLE_SECONDS");
	int idle_s = e && atoi(e) > 0 ? atoi(e) : 60;
	printf("bench_footprint\n");
	sizes();

	h_nats *hub = h_hub_start();
	h_nats *site = hub ? h_site_start(hub, "plant") : NULL;
	const h_key *key = h_keygen("ed25519");
	h_repo *repo = h_repo_new("fleet");
	natsConnection *nc = NULL;
	if (!site || !h_leaf_wait(site, WAIT_MS) || !key || !repo ||
		natsConnection_ConnectTo(&nc, h_nats_url(hub)) != NATS_OK) {
		fprintf(stderr, "bench_footprint: set-up failed\n");
		return 1;
	}
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	h_repo_write(repo, "apps/idle.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: idle}\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s\"]\n",
		tag);
	h_repo_commit(repo, &(h_commit){.key = key});
	h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		trust, h_path("sync-state"), h_nats_url(hub));
	pid_t agent = h_spawn_sh(h_path("agent.log"), "%s agent --site plant --nats %s --state %s",
		bin, h_nats_url(site), h_path("agent-state"));
	pid_t host = h_spawn_sh(h_path("host.log"),
		"%s host --site plant --id h0 --nats %s --state %s", bin, h_nats_url(site),
		h_path("host-state"));
	if (agent <= 0 || host <= 0 || !h_wait_until(sync_now, nc, WAIT_MS) ||
		!h_wait_until(workload_runs, NULL, WAIT_MS)) {
		fprintf(stderr, "bench_footprint: the app did not start\n");
		return 1;
	}
	pid_t shim = 0;
	cpu_ticks(workload(), &shim);
	/* Shims leave the harness's process groups: have it stop this one and its workload. */
	h_adopt(shim);
	h_adopt(workload());

	/* Let the start settle (a few heartbeats), then measure at rest. These two waits
	 * are the measurement itself, not a wait for a condition. */
	h_wait_until(never, NULL, 3000);
	printf("RSS (VmRSS) at rest, one app of one instance deployed: agent %.1f MB, host %.1f "
	       "MB, shim %.1f MB (one per instance)\n",
		h_proc_status_kb(agent, "VmRSS") / 1024.0, h_proc_status_kb(host, "VmRSS") / 1024.0,
		h_proc_status_kb(shim, "VmRSS") / 1024.0);
	long long a0 = cpu_ticks(agent, NULL), h0 = cpu_ticks(host, NULL),
		  s0 = cpu_ticks(shim, NULL);
	long long t0 = h_now_ms();
	h_wait_until(never, NULL, idle_s * 1000);
	long long ms = h_now_ms() - t0;
	double tick_ms = 1000.0 / (double)sysconf(_SC_CLK_TCK);
	double a = (double)(cpu_ticks(agent, NULL) - a0) * tick_ms;
	double h = (double)(cpu_ticks(host, NULL) - h0) * tick_ms;
	double s = (double)(cpu_ticks(shim, NULL) - s0) * tick_ms;
	printf("CPU at rest over %.0f s (heartbeat 2 s, resync 30 s): agent %.0f ms (%.3f%%), host "
	       "%.0f ms (%.3f%%), shim %.0f ms (%.3f%%)\n",
		ms / 1000.0, a, 100.0 * a / (double)ms, h, 100.0 * h / (double)ms, s,
		100.0 * s / (double)ms);
	printf("  RSS after: agent %.1f MB, host %.1f MB, shim %.1f MB\n",
		h_proc_status_kb(agent, "VmRSS") / 1024.0, h_proc_status_kb(host, "VmRSS") / 1024.0,
		h_proc_status_kb(shim, "VmRSS") / 1024.0);
	natsConnection_Destroy(nc);
	return 0;
}
