/* Push to running: from a request on outpost.hub.sync.now (what a post-receive hook
 * sends right after a push) to the new version's instance running at a site, with a
 * hub, a site linked to it, `outpost sync`, `outpost agent` and one `outpost host`, all
 * real. Each push changes the one app's spec, so the site replaces its instance
 * (start-first). Timed by this program: the reply to the request, and the moment the new
 * version's process shows up in /proc (polled every millisecond). The floor is the
 * pass's own time as sync measures it (the "ms" of its reply), in the same run: what a
 * push costs before anything is sent to a site. Printed: p50 and p99 of push to
 * running, of the reply, and of the floor, and the ratio of the p50s (goal: push to
 * running p50 <= 100 ms on a 2-core machine). */
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define PUSHES 15
#define WAIT_MS 30000
#define GOAL_MS 100

static const char *bin, *tag;
static h_repo *repo;
static const h_key *key;

static const char *app(int version)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: web\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n        command: /bin/sleep\n        args: [\"%s%03d\"]\n",
		tag, version);
}

/* The run's workloads of a version (its 3-digit suffix) number n. */
struct count {
	const char *suffix;
	int n;
};

static bool workloads_are(void *arg)
{
	const struct count *c = arg;
	return h_workloads(tag, c->suffix, NULL, 0) == c->n;
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("7%05d", (int)(getpid() % 100000));
	h_nats *hub = h_hub_start(), *site = hub ? h_site_start(hub, "plant") : NULL;
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	if (!site || !h_leaf_wait(site, WAIT_MS) || !key || !repo)
		return 1;
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	h_repo_write(repo, "apps/web.yaml", "%s", app(0));
	if (!h_repo_commit(repo, &(h_commit){.key = key}))
		return 1;
	pid_t p[3];
	p[0] = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		trust, h_path("sync-state"), h_nats_url(hub));
	p[1] = h_spawn_sh(h_path("agent.log"), "%s agent --site plant --nats %s --state %s", bin,
		h_nats_url(site), h_path("agent-state"));
	p[2] = h_spawn_sh(h_path("host.log"),
		"%s host --site plant --id h1 --nats %s --state %s --heartbeat 1s", bin,
		h_nats_url(site), h_path("host-state"));
	if (p[0] <= 0 || p[1] <= 0 || p[2] <= 0 || !h_sync_accepted(hub, WAIT_MS) ||
		!h_wait_workloads(tag, "000", 1, WAIT_MS))
		return 1;
	natsConnection *nc = NULL;
	if (natsConnection_ConnectTo(&nc, h_nats_url(hub)) != NATS_OK)
		return 1;
	long long run[PUSHES], reply[PUSHES], floor_ms[PUSHES];
	int n = 0;
	for (int v = 1; v <= PUSHES; v++) {
		h_repo_write(repo, "apps/web.yaml", "%s", app(v));
		if (!h_repo_commit(repo, &(h_commit){.key = key}))
			return 1;
		char suffix[8];
		snprintf(suffix, sizeof suffix, "%03d", v);
		long long t0 = h_now_ms();
		natsMsg *m = NULL;
		if (natsConnection_RequestString(&m, nc, "outpost.hub.sync.now", "{}", WAIT_MS) !=
			NATS_OK)
			return 1;
		long long t1 = h_now_ms();
		json_t *j = json_loadb(
			natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
		long long ms = json_integer_value(json_object_get(j, "ms"));
		bool ok = !strcmp(
			json_string_value(json_object_get(j, "outcome")) ?: "", "accepted");
		json_decref(j);
		natsMsg_Destroy(m);
		if (!ok)
			return 1;
		struct count want = {suffix, 1};
		if (!h_wait_until_poll(workloads_are, &want, WAIT_MS, 1000))
			return 1;
		long long t2 = h_now_ms();
		run[n] = t2 - t0, reply[n] = t1 - t0, floor_ms[n] = ms;
		n++;
		/* the old instance gone before the next push, so pushes do not overlap */
		char old[8];
		snprintf(old, sizeof old, "%03d", v - 1);
		struct count none = {old, 0};
		if (!h_wait_until_poll(workloads_are, &none, WAIT_MS, 1000))
			return 1;
	}
	natsConnection_Destroy(nc);
	long long r50 = h_pct(run, n, 50), r99 = h_pct(run, n, 99);
	long long q50 = h_pct(reply, n, 50), q99 = h_pct(reply, n, 99);
	long long f50 = h_pct(floor_ms, n, 50), f99 = h_pct(floor_ms, n, 99);
	printf("push to running (%d pushes, one site, one host): p50 %lld ms p99 %lld ms\n", n, r50,
		r99);
	printf("  the reply to sync.now:                 p50 %lld ms p99 %lld ms\n", q50, q99);
	printf("  floor, the pass's own time:            p50 %lld ms p99 %lld ms\n", f50, f99);
	printf("  ratio push-to-running p50 / floor p50: %.1fx; goal p50 <= %d ms: %s\n",
		(double)r50 / (double)(f50 > 0 ? f50 : 1), GOAL_MS,
		r50 <= GOAL_MS ? "met" : "NOT met");
	h_adopt_workloads(tag);
	return 0;
}
