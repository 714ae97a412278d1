/* `make demo`: outpost's whole job on one machine, narrated for a person to follow.
 *
 * A hub (nats-server and `outpost sync`) and two sites, each a leaf nats-server behind
 * the harness's link proxy, an `outpost agent` and two `outpost host`s with different
 * labels; a git repo with two apps and SSH-signed commits, one app running a program
 * that outpost ships itself (put into the hub's artifact store, pinned by its digest,
 * staged at each site, installed by the hosts), and a WebAssembly module beside the native
 * workloads (type wasm, one digest for every arch, run by the hosts' wasmedge as nobody,
 * shipped the same way). Then a signed scale change
 * that both sites follow, a cut link, a change that only the connected site gets, the
 * link back, and a forged write into the hub's bucket that both sites (verifying at the
 * edge) refuse. Every claim the output makes is checked first: real workload processes
 * counted in /proc (/bin/sleep with a number unique to this run, attributed to a site
 * and host by the shim that is their parent) and `outpost status` at the sites and the
 * hub. A step that does not happen in time ends the demo with a FAILED line, the tail
 * of every log, and exit 1.
 *
 * Built on the e2e harness (tests/harness.h), which stops every process it started and
 * removes the temp dir at exit, on failure and on Ctrl-C. The workloads' shims run in
 * sessions of their own and outlive their host by design: every scan of /proc adopts
 * them (and their workloads) into the harness, so they are stopped too. */
#include <dirent.h>
#include <jansson.h>
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"
#include "harness.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"

#define WAIT_MS 20000

static const char *site_names[NSITES] = {"plant-a", "plant-b"};
static const char *site_cities[NSITES] = {"lyon", "turin"};
static const char *host_ids[NHOSTS] = {"gw-01", "sensor-01"};
static const char *host_roles[NHOSTS] = {"gateway", "sensor"};

static long long cut_at;
static h_nats *hub, *sites[NSITES];
static natsConnection *hub_nc;
static const h_key *key;
static h_repo *repo;
static const char *trust;

/* ---- what runs ------------------------------------------------------------------------ */

static const char *version_name(int app, int ver)
{
	return app == THERMO ? h_str("thermo v%d", ver) : h_str("gateway 1.%d", ver);
}

static void show_procs(void)
{
	static struct procs p;
	procs_scan(&p);
	demo_say("what runs, counted in /proc (/bin/sleep %s<app><version> under each host's "
		 "shims):",
		demo_tag);
	for (int s = 0; s < NSITES; s++)
		for (int h = 0; h < NHOSTS; h++) {
			char line[512];
			int len = snprintf(
				line, sizeof line, "  %-8s %-10s", site_names[s], host_ids[h]);
			const char *sep = "";
			for (int app = GATEWAY; app >= THERMO; app--)
				for (int v = 0; v <= 9; v++) {
					int n = procs_count(&p, s, h, app, v);
					if (n && len < (int)sizeof line - 64) {
						len += snprintf(line + len,
							sizeof line - (size_t)len, "%s %s x%d", sep,
							version_name(app, v), n);
						sep = ",";
					}
				}
			demo_say("%s%s", line, *sep ? "" : " -");
		}
}

/* ---- outpost status ------------------------------------------------------------------- */

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

/* `outpost status --json` at url, parsed (caller json_decref()s), NULL on failure. */
static json_t *status_json(const char *url)
{
	char *out = NULL, *err = NULL;
	int rc = h_run2(&out, &err, "%s status --json --nats %s", demo_bin, url);
	json_t *j = rc == 0 && out ? json_loads(out, 0, NULL) : NULL;
	free(out);
	free(err);
	return j;
}

/* The status document shows both apps of site deployed at commit. */
static bool site_at(json_t *st, const char *site, const char *commit)
{
	json_t *apps = json_object_get(json_object_get(json_object_get(st, "sites"), site), "apps");
	size_t i;
	json_t *a;
	if (json_array_size(apps) != 2)
		return false;
	json_array_foreach(apps, i, a)
	{
		if (strcmp(jstr(a, "state"), "deployed") != 0 ||
			strcmp(jstr(a, "commit"), commit) != 0)
			return false;
	}
	return true;
}

/* "app state commit running/desired" of each app of site, for a failure message. */
static void site_apps(json_t *st, const char *site, char *buf, size_t size)
{
	json_t *apps = json_object_get(json_object_get(json_object_get(st, "sites"), site), "apps");
	size_t i, len = 0;
	json_t *a;
	snprintf(buf, size, "%s", st ? " no apps" : " no status");
	json_array_foreach(apps, i, a)
	{
		int n = snprintf(buf + len, size - len, " %s %s %.12s %lld/%lld;", jstr(a, "app"),
			jstr(a, "state"), jstr(a, "commit"), jint(a, "running"),
			jint(a, "desired"));
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
}

static void show_status(const h_nats *srv, const char *where)
{
	char *out = NULL;
	demo_show("%s status --nats %s        # %s", demo_bin, h_nats_url(srv), where);
	int rc = h_run(&out, "%s status --nats %s", demo_bin, h_nats_url(srv));
	if (rc != 0)
		demo_fail("outpost status at %s exited %d: %s", where, rc, out ? out : "");
	demo_block("     ", out);
	free(out);
}

/* ---- waiting for a site ------------------------------------------------------------- */

struct goal {
	int site;
	const char *commit;
	int thermo, ver; /* this many thermo readers of this version, and no other */
	char why[512]; /* what was still missing at the last look */
};

static bool converged(void *arg)
{
	static struct procs p;
	struct goal *g = arg;
	const char *name = site_names[g->site];
	procs_scan(&p);
	int t = procs_count(&p, g->site, -1, THERMO, g->ver),
	    ta = procs_count(&p, g->site, -1, THERMO, -1);
	int gw = procs_count(&p, g->site, -1, GATEWAY, GW_VER),
	    gwa = procs_count(&p, g->site, -1, GATEWAY, -1);
	if (t != g->thermo || ta != g->thermo || gw != 1 || gwa != 1) {
		snprintf(g->why, sizeof g->why,
			"%s runs %d thermo readers (%d of v%d) and %d gateways (%d of 1.%d); "
			"want %d of v%d and 1 of 1.%d",
			name, ta, t, g->ver, gwa, gw, GW_VER, g->thermo, g->ver, GW_VER);
		return false;
	}
	const char *where[2] = {h_nats_url(sites[g->site]), h_nats_url(hub)};
	for (int i = 0; i < 2; i++) {
		json_t *st = status_json(where[i]);
		bool ok = site_at(st, name, g->commit);
		if (!ok) {
			char apps[256];
			site_apps(st, name, apps, sizeof apps);
			snprintf(g->why, sizeof g->why,
				"outpost status at the %s does not show both apps of %s "
				"deployed at %.12s:%s",
				i ? "hub" : "site", name, g->commit, apps);
		}
		json_decref(st);
		if (!ok)
			return false;
	}
	return true;
}

/* Waits until site runs exactly its share of commit (real processes) and says so in
 * `outpost status` at the site and at the hub. */
static void wait_site(int site, const char *commit, int thermo, int ver)
{
	struct goal g = {site, commit, thermo, ver, ""};
	long long t = h_now_ms();
	if (!h_wait_until(converged, &g, WAIT_MS))
		demo_fail("%s did not converge on %.12s within %d s: %s", site_names[site], commit,
			WAIT_MS / 1000, g.why);
	demo_say("%s converged on %.12s (%.1f s)", site_names[site], commit,
		(double)(h_now_ms() - t) / 1000.0);
}

/* ---- git and the hub ------------------------------------------------------------------ */

/* Edits apps/thermo.yaml with sed, for real, and checks that it now says want. */
static void edit(const char *expr, const char *want)
{
	char *out = NULL;
	demo_show("sed -i %s apps/thermo.yaml", h_q(expr));
	int rc = h_run(&out, "cd %s && sed -i %s apps/thermo.yaml", h_q(repo->path), h_q(expr));
	free(out);
	char *now = h_read(h_str("%s/apps/thermo.yaml", repo->path));
	bool ok = rc == 0 && now && !strcmp(now, want);
	free(now);
	if (!ok)
		demo_fail("sed -i %s apps/thermo.yaml did not make the expected file", expr);
}

static const char *commit(const char *msg)
{
	const char *sha = h_repo_commit(repo,
		&(h_commit){.key = key, .name = "Ops", .email = "ops@example.com", .msg = msg});
	if (!sha)
		demo_fail("git commit -S failed");
	demo_show("git add -A && git commit -qS -m %s", h_q(msg));
	demo_say("  [main %.12s] signed by ops@example.com", sha);
	return sha;
}

static void say_outcome(const char *who, json_t *r)
{
	demo_say("  %s: %s %.12s seq %lld, signed by %s: %lld put(s), %lld delete(s), %lld ms", who,
		jstr(r, "outcome"), jstr(r, "commit"), jint(r, "seq"), jstr(r, "signer"),
		jint(r, "puts"), jint(r, "deletes"), jint(r, "ms"));
}

/* What the repository's post-receive hook does after a push: a sync pass now. */
static void hook(const char *sha)
{
	demo_show("nats request outpost.hub.sync.now '{}'      # the repo's post-receive hook");
	natsMsg *m = NULL;
	natsStatus s = natsConnection_RequestString(
		&m, hub_nc, "outpost.hub.sync.now", "{}", WAIT_MS);
	if (s != NATS_OK)
		demo_fail("no answer from outpost sync on outpost.hub.sync.now: %s",
			natsStatus_GetText(s));
	json_t *r = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	const char *outcome = jstr(r, "outcome");
	if (strcmp(jstr(r, "commit"), sha) != 0 ||
		(strcmp(outcome, "accepted") != 0 && strcmp(outcome, "unchanged") != 0))
		demo_fail("sync did not accept %.12s: %.*s", sha, natsMsg_GetDataLength(m),
			natsMsg_GetData(m));
	say_outcome("reply", r);
	json_decref(r);
	natsMsg_Destroy(m);
}

static bool first_pass(void *arg)
{
	json_t *st = status_json(h_nats_url(hub));
	json_t *h = json_object_get(st, "hub");
	bool ok = !strcmp(jstr(h, "outcome"), "accepted") && !strcmp(jstr(h, "commit"), arg);
	if (ok)
		say_outcome("first pass (outpost status at the hub, hub.sync)", h);
	json_decref(st);
	return ok;
}

/* The sites the hub has a leaf link with, from its /leafz. */
static void show_links(void)
{
	json_t *j = h_nats_monitor(hub, "/leafz");
	json_t *leafs = json_object_get(j, "leafs"), *l;
	char names[256] = "";
	size_t i, len = 0;
	json_array_foreach(leafs, i, l)
	{
		int n = snprintf(
			names + len, sizeof names - len, "%s%s", i ? ", " : "", jstr(l, "name"));
		if (n > 0 && (size_t)n < sizeof names - len)
			len += (size_t)n;
	}
	demo_say(
		"hub /leafz: %zu leaf link(s)%s%s", json_array_size(leafs), len ? ": " : "", names);
	json_decref(j);
}

/* ---- the steps -------------------------------------------------------------------------- */

static void intro(void)
{
	printf("outpost demo: signed GitOps to disconnected edge sites, all on this machine.\n"
	       "A hub and two sites (each a leaf nats-server, an agent and two hosts), a git\n"
	       "repo with SSH-signed commits. Each step is checked (real processes in /proc,\n"
	       "`outpost status`) before it is shown; if one does not happen, the demo stops\n"
	       "with \"demo: FAILED\". Everything lives in $DEMO, removed at the end:\n"
	       "DEMO=%s\n",
		demo_tmp);
}

/* ---- the reader program, shipped by outpost ------------------------------------------ */

/* What an operator's CI does for a new reader: builds it (here: writes a script) and
 * takes its digest, which the manifest pins. */
static void build_reader(int ver)
{
	const char *path = demo_reader_build(ver);
	char *out = NULL;
	h_mkdirs(h_path("build"));
	h_write(path, "%s", demo_reader_source(ver));
	if (chmod(path, 0755) != 0)
		demo_fail("chmod %s failed", path);
	demo_show("sha256sum build/thermo-reader-v%d          # CI built reader v%d", ver, ver);
	if (h_run(&out, "cd %s && sha256sum build/thermo-reader-v%d", h_q(demo_tmp), ver) != 0 ||
		!out || strlen(out) < 64)
		demo_fail("sha256sum %s failed", path);
	snprintf(demo_reader_sha[ver], sizeof demo_reader_sha[ver], "%.64s", out);
	demo_block("     ", out);
	free(out);
}

/* CI builds the WebAssembly filter from its text: the same module for every arch. */
static void build_filter(void)
{
	char *out = NULL;
	h_write(h_path("build/thermo-filter.wat"), "%s", demo_filter_wat());
	demo_show("wat2wasm build/thermo-filter.wat -o build/thermo-filter.wasm && sha256sum "
		  "build/thermo-filter.wasm");
	if (h_run(&out,
		    "cd %s && wat2wasm build/thermo-filter.wat -o build/thermo-filter.wasm "
		    "&& sha256sum build/thermo-filter.wasm",
		    h_q(demo_tmp)) != 0 ||
		!out || strlen(out) < 64)
		demo_fail("wat2wasm or sha256sum of the filter failed: %s", out ? out : "");
	snprintf(demo_filter_sha, sizeof demo_filter_sha, "%.64s", out);
	demo_block("     ", out);
	free(out);
	/* The module runs as nobody, who must reach it under $DEMO once installed. */
	if (chmod(demo_tmp, 0711) != 0)
		demo_fail("chmod %s failed", demo_tmp);
}

static void put_filter(void)
{
	char *out = NULL;
	demo_show("outpost artifact put --nats %s build/thermo-filter.wasm", h_nats_url(hub));
	int rc = h_run(&out, "cd %s && %s artifact put --nats %s build/thermo-filter.wasm",
		h_q(demo_tmp), demo_bin, h_nats_url(hub));
	demo_block("     ", out);
	bool ok = rc == 0 && out && !strncmp(out + 7, demo_filter_sha, 64);
	free(out);
	if (!ok)
		demo_fail("outpost artifact put exited %d, not with the filter's digest", rc);
}

/* The filter's runtimes: processes whose first argument ends in wasmedge and one of
 * whose arguments is the installed module. */
static int filters_running(void)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		char path[320], buf[4096];
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%.255s/cmdline", de->d_name);
		FILE *f = fopen(path, "re");
		size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		buf[len] = '\0';
		size_t a0 = strlen(buf);
		bool runtime = a0 >= 8 && !strcmp(buf + a0 - 8, "wasmedge"), module = false;
		for (size_t i = 0; runtime && i < len; i += strlen(buf + i) + 1)
			module |= !strcmp(buf + i, demo_filter_installed());
		n += runtime && module;
	}
	if (d)
		closedir(d);
	return n;
}

static bool filters_up(void *arg)
{
	return filters_running() == *(int *)arg;
}

/* CI uploads the reader into the hub's artifact store; put prints its digest. */
static void put_reader(int ver)
{
	char *out = NULL;
	demo_show("outpost artifact put --nats %s build/thermo-reader-v%d", h_nats_url(hub), ver);
	int rc = h_run(&out, "cd %s && %s artifact put --nats %s build/thermo-reader-v%d",
		h_q(demo_tmp), demo_bin, h_nats_url(hub), ver);
	demo_block("     ", out);
	bool ok = rc == 0 && out && !strncmp(out, "sha256:", 7) &&
		!strncmp(out + 7, demo_reader_sha[ver], 64);
	free(out);
	if (!ok)
		demo_fail("outpost artifact put exited %d, not with the reader's digest", rc);
}

/* A new reader: built, put in the store, and thermo's manifest edited to run it (its
 * version, its tag, its path and its digest; more: further sed commands, "" none). */
static void ship_reader(int from, int to, const char *more)
{
	build_reader(to);
	put_reader(to);
	edit(h_str("s/version: v%d/version: v%d/; s/\"%s%d%d\"/\"%s%d%d\"/; "
		   "s#/v%d/reader#/v%d/reader#g; s/%s/%s/%s",
		     from, to, demo_tag, THERMO, from, demo_tag, THERMO, to, from, to,
		     demo_reader_sha[from], demo_reader_sha[to], more),
		demo_thermo_yaml(4, to));
}

/* The reader v<ver> each host installed: there, with the digest the manifest pins. */
static void check_installed(int ver)
{
	char *out = NULL;
	int rc = h_run(&out, "sha256sum %s", h_q(demo_reader_installed(ver)));
	bool ok = rc == 0 && out && !strncmp(out, demo_reader_sha[ver], 64);
	free(out);
	if (!ok)
		demo_fail("%s is not reader v%d", demo_reader_installed(ver), ver);
	demo_say("the hosts installed reader v%d at %s from their site's copy (digest checked "
		 "while it streamed, then renamed into place) before they started it",
		ver, demo_reader_installed(ver));
}

static void step_repo(void)
{
	char *out = NULL;
	demo_step("Two apps in a git repo, validated before they ship");
	build_reader(3);
	build_filter();
	demo_show("%s --version | head -1", demo_bin);
	if (h_run(&out, "%s --version | head -1", demo_bin) != 0)
		demo_fail("outpost --version failed: %s", out ? out : "");
	demo_block("     ", out);
	free(out);
	repo = h_repo_new("fleet");
	if (!repo)
		demo_fail("git init failed");
	h_repo_write(repo, "apps/thermo.yaml", "%s", demo_thermo_yaml(2, 3));
	h_repo_write(repo, "apps/gateway.yaml", "%s", demo_gateway_yaml());
	demo_say("$DEMO/fleet/apps/thermo.yaml: two readers per EU plant, mostly on sensor boxes");
	demo_block("     | ", demo_thermo_yaml(2, 3));
	demo_say("$DEMO/fleet/apps/gateway.yaml: one MQTT bridge per plant, on its gateway box, "
		 "and a WebAssembly filter on every box");
	demo_block("     | ", demo_gateway_yaml());
	demo_show("cd $DEMO/fleet && outpost validate apps");
	int rc = h_run(&out, "cd %s && %s validate apps", h_q(repo->path), demo_bin);
	demo_block("     ", out);
	free(out);
	if (rc != 0)
		demo_fail("outpost validate apps exited %d", rc);
	const char *typo = demo_thermo_yaml(2, 3);
	const char *at = strstr(typo, "instances: 2");
	h_write(h_path("drafts/thermo.yaml"), "%.*sinstances: two%s", (int)(at - typo), typo,
		at + strlen("instances: 2"));
	int line = 1;
	for (const char *c = typo; c < at; c++)
		line += *c == '\n';
	const char *where = h_str("drafts/thermo.yaml:%d:", line);
	demo_show("cd $DEMO && outpost validate drafts/thermo.yaml     # a typo never ships");
	rc = h_run(&out, "cd %s && %s validate drafts/thermo.yaml", h_q(demo_tmp), demo_bin);
	demo_block("     ", out);
	if (rc != 1 || !out || !strstr(out, where))
		demo_fail("validate should refuse %s with exit 1, got %d", where, rc);
	free(out);
}

static const char *step_sign(void)
{
	char *out = NULL;
	demo_step("A signing key, the hub's trust policy, a signed commit");
	key = h_keygen("ed25519");
	if (!key)
		demo_fail("ssh-keygen failed");
	demo_show("ssh-keygen -q -t ed25519 -N '' -f %s", key->path);
	trust = h_path("allowed_signers");
	h_write(trust, "ops@example.com namespaces=\"git\" %s\n", key->pub);
	demo_show("cat $DEMO/allowed_signers            # git's format: who may sign what");
	demo_block("     ", h_keep(h_read(trust)));
	demo_say("git signs with that key: gpg.format=ssh, user.signingkey=%s", key->path);
	const char *sha = commit("thermo v3 and gateway 1.4 for the EU plants");
	demo_show("git -c gpg.ssh.allowedSignersFile=$DEMO/allowed_signers verify-commit HEAD");
	if (h_repo_git(repo, &out, "-c gpg.ssh.allowedSignersFile=%s verify-commit HEAD 2>&1",
		    h_q(trust)) != 0)
		demo_fail("git verify-commit HEAD failed: %s", out ? out : "");
	demo_block("     ", out);
	free(out);
	return sha;
}

static void start_site(int s)
{
	const char *name = site_names[s], *url = h_nats_url(sites[s]);
	h_mkdirs(h_path("%s", name));
	/* The site's own copy of the trust policy: it does not take the hub's word. */
	const char *own = h_path("%s/allowed_signers", name);
	char *policy = h_read(trust);
	h_write(own, "%s", policy ? policy : "");
	free(policy);
	const char *agent = h_str(
		"%s agent --site %s --label region=eu --label city=%s%s --nats %s "
		"--state %s --host-timeout 1s --resync 2s --trust %s",
		demo_bin, name, site_cities[s], s == 0 ? " --label ring=canary" : "", url,
		h_path("%s/agent", name), own);
	if (s == 0)
		demo_show("%s", agent);
	if (h_spawn_sh(h_path("%s/agent.log", name), "%s", agent) < 0)
		demo_fail("cannot start the agent of %s", name);
	for (int h = 0; h < NHOSTS; h++) {
		demo_host_dir[s][h] = h_path("%s/%s", name, host_ids[h]);
		const char *host = h_str("%s host --site %s --id %s --label role=%s --nats %s "
					 "--state %s --heartbeat 300ms",
			demo_bin, name, host_ids[h], host_roles[h], url, demo_host_dir[s][h]);
		if (s == 0)
			demo_show("%s", host);
		if (h_spawn_sh(h_path("%s/%s.log", name, host_ids[h]), "%s", host) < 0)
			demo_fail("cannot start host %s of %s", host_ids[h], name);
	}
}

static void step_hub(const char *sha)
{
	demo_step(
		"The hub: a nats-server and outpost sync, which verifies and publishes the commit");
	hub = h_hub_start();
	if (!hub)
		demo_fail("the hub's nats-server did not start");
	demo_say("hub nats-server %s: JetStream domain hub, leaf nodes on :%d", h_nats_url(hub),
		hub->leaf_port);
	if (natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) != NATS_OK)
		demo_fail("cannot connect to the hub's nats-server");
	put_reader(3);
	put_filter();
	const char *cmd = h_str("%s sync --repo %s --trust %s --state %s --nats %s --interval 1h",
		demo_bin, repo->path, trust, h_path("sync"), h_nats_url(hub));
	demo_show("%s", cmd);
	if (h_spawn_sh(h_path("sync.log"), "%s", cmd) < 0)
		demo_fail("cannot start outpost sync");
	if (!h_wait_until(first_pass, (void *)sha, WAIT_MS))
		demo_fail("the first sync pass did not accept %.12s (see $DEMO/sync.log)", sha);
	char *out = NULL;
	demo_show("outpost artifact ls --nats %s", h_nats_url(hub));
	int rc = h_run(&out, "%s artifact ls --nats %s", demo_bin, h_nats_url(hub));
	demo_block("     ", out);
	bool ok = rc == 0 && out && strstr(out, demo_reader_sha[3]) && strstr(out, "thermo");
	free(out);
	if (!ok)
		demo_fail("outpost artifact ls does not list reader v3 for thermo");
}

static void step_sites(const char *sha)
{
	demo_step("Two sites, each a leaf nats-server, an agent and two hosts: both run the apps");
	for (int s = 0; s < NSITES; s++) {
		sites[s] = h_site_start(hub, site_names[s]);
		if (!sites[s])
			demo_fail("the nats-server of %s did not start", site_names[s]);
		demo_say("%s nats-server %s: JetStream domain %s, leaf link to the hub via proxy "
			 ":%d",
			site_names[s], h_nats_url(sites[s]), site_names[s], sites[s]->leaf_port);
	}
	for (int s = 0; s < NSITES; s++)
		if (!h_leaf_wait(sites[s], WAIT_MS))
			demo_fail("%s's leaf link to the hub did not come up", site_names[s]);
	show_links();
	for (int s = 0; s < NSITES; s++)
		start_site(s);
	demo_say("(%s: the same, with its own server and city=%s)", site_names[1], site_cities[1]);
	demo_say("each agent mirrors the hub's desired state into its own server and places the "
		 "apps on its hosts");
	demo_say("with --trust (the site's own copy of allowed_signers) it checks every revision "
		 "itself: the commit's signature, every git object id, and the JSON it derives "
		 "from the signed YAML");
	for (int s = 0; s < NSITES; s++)
		wait_site(s, sha, 2, 3);
	demo_say("each agent first staged reader v3 from the hub's store into its own server "
		 "(only what its apps need, for its hosts' architecture), and applied the revision "
		 "once it was there, whole");
	check_installed(3);
	show_procs();
	int want = NSITES * NHOSTS;
	if (!h_wait_until(filters_up, &want, WAIT_MS))
		demo_fail("%d WebAssembly filters run, not %d", filters_running(), want);
	demo_say(
		"and gateway's WebAssembly filter runs on every box, %d in all: the hosts "
		"installed %s (one digest, whatever a box's arch) from their site's copy and "
		"run it under wasmedge, as nobody, with a page limit of 8 MiB, supervised like any "
		"process, its output kept like any process's:",
		want, demo_filter_installed());
	demo_show("%s logs --site %s --app gateway --nats %s", demo_bin, site_names[0],
		h_nats_url(sites[0]));
	if (!h_wait_output("thermo filter: smoothing the readings", WAIT_MS,
		    "%s logs --site %s --app gateway --nats %s 2>&1 | head -4", demo_bin,
		    site_names[0], h_nats_url(sites[0])))
		demo_fail("outpost logs does not show the filter's output");
	char *logs = NULL;
	h_run(&logs, "%s logs --site %s --app gateway --nats %s 2>&1 | head -4", demo_bin,
		site_names[0], h_nats_url(sites[0]));
	demo_block("     ", logs);
	free(logs);
	show_status(hub, "at the hub: every site");
}

/* The thermo readers' pids at each site. */
static int thermo_pids(pid_t *pids, int max)
{
	static struct procs p;
	int n = 0;
	procs_scan(&p);
	for (int i = 0; i < p.n && n < max; i++)
		if (p.w[i].app == THERMO && p.w[i].site >= 0)
			pids[n++] = p.w[i].pid;
	return n;
}

static const char *step_scale(void)
{
	demo_step("A signed scale change: thermo from 2 to 4 readers per site");
	pid_t before[16], after[64];
	int nb = thermo_pids(before, 16);
	edit("s/instances: 2 /instances: 4 /", demo_thermo_yaml(4, 3));
	const char *sha = commit("thermo: 4 readers per plant");
	hook(sha);
	for (int s = 0; s < NSITES; s++)
		wait_site(s, sha, 4, 3);
	int na = thermo_pids(after, 64), kept = 0;
	for (int i = 0; i < nb; i++)
		for (int j = 0; j < na; j++)
			kept += before[i] == after[j];
	if (nb != 2 * NSITES || kept != nb)
		demo_fail("scaling restarted readers: %d of the %d running before kept their pid",
			kept, nb);
	demo_say("the %d readers that ran before kept their pids: scaling never restarts an "
		 "instance",
		nb);
	show_procs();
	show_status(hub, "at the hub");
	return sha;
}

static const char *step_outage(const char *prev)
{
	static struct procs p;
	demo_step("plant-b loses its link to the hub; a signed change to thermo v4");
	h_link_cut(sites[1]);
	cut_at = h_now_ms();
	demo_say("the link proxy between plant-b and the hub drops the leaf connection and "
		 "refuses new ones");
	show_links();
	ship_reader(3, 4, "");
	const char *sha = commit("thermo v4: new sensor calibration");
	hook(sha);
	wait_site(0, sha, 4, 4);
	check_installed(4);
	procs_scan(&p);
	int old = procs_count(&p, 1, -1, THERMO, 3), nv = procs_count(&p, 1, -1, THERMO, 4);
	json_t *local = status_json(h_nats_url(sites[1])), *at_hub = status_json(h_nats_url(hub));
	bool b_local = site_at(local, "plant-b", prev), b_hub = site_at(at_hub, "plant-b", prev);
	json_decref(local);
	json_decref(at_hub);
	if (old != 4 || nv != 0 || !b_local || !b_hub)
		demo_fail("plant-b should still run %.12s (4 readers v3, 0 v4) and say so at the "
			  "site and "
			  "the hub: has %d v3, %d v4; site status %s, hub status %s",
			prev, old, nv, b_local ? "ok" : "not", b_hub ? "ok" : "not");
	demo_say("plant-b, offline, still runs %.12s: 4 thermo v3 readers, no v4", prev);
	show_procs();
	show_status(hub, "at the hub: plant-b's last report");
	show_status(sites[1], "at plant-b: its own view, offline");
	return sha;
}

static void step_restore(const char *sha)
{
	demo_step("The link is back: plant-b catches up by itself");
	h_link_restore(sites[1]);
	if (!h_leaf_wait(sites[1], WAIT_MS))
		demo_fail("plant-b's leaf link did not come back");
	demo_say("the link proxy forwards again; plant-b's leaf link is back after %.1f s "
		 "offline",
		(double)(h_now_ms() - cut_at) / 1000.0);
	show_links();
	wait_site(1, sha, 4, 4);
	demo_say("plant-b staged reader v4 over its link before it applied %.12s: until the "
		 "last byte was there and its digest checked, v3 kept running (a cut in the "
		 "middle only pauses the copy; it resumes where it stopped)",
		sha);
	show_procs();
	show_status(hub, "at the hub: both plants on v4");
}

/* ---- canary waves ------------------------------------------------------------------- */

/* thermo's status at a site, as `outpost status --json` at url shows it. */
struct thermo_at {
	const char *url, *site, *state; /* wait for this state */
	char reason[1200];
};

static bool thermo_in(void *arg)
{
	struct thermo_at *w = arg;
	json_t *st = status_json(w->url),
	       *apps = json_object_get(
		       json_object_get(json_object_get(st, "sites"), w->site), "apps");
	size_t i;
	json_t *a;
	bool ok = false;
	json_array_foreach(apps, i, a)
	{
		if (strcmp(jstr(a, "app"), "thermo") != 0)
			continue;
		ok = !strcmp(jstr(a, "state"), w->state);
		snprintf(w->reason, sizeof w->reason, "%s: %s", jstr(a, "state"),
			jstr(a, "message"));
	}
	json_decref(st);
	return ok;
}

static void wait_thermo(int site, const h_nats *where, const char *state, char *reason, size_t len)
{
	struct thermo_at w = {h_nats_url(where), site_names[site], state, ""};
	if (!h_wait_until(thermo_in, &w, WAIT_MS))
		demo_fail("thermo at %s is not %s: %s", site_names[site], state, w.reason);
	snprintf(reason, len, "%s", w.reason);
}

/* sync's view of thermo's rollout at the hub: wait until it says halted. */
static bool rollout_halted(void *arg)
{
	json_t *st = status_json(h_nats_url(hub));
	json_t *r = json_object_get(json_object_get(st, "rollouts"), "thermo");
	bool ok = json_is_true(json_object_get(r, "halted"));
	if (ok)
		snprintf(arg, 400, "%s", jstr(r, "reason"));
	json_decref(st);
	return ok;
}

static const char *step_canary(const char *prev)
{
	static struct procs p;
	char why[1200], halted[400];
	demo_step("thermo v5 with a canary policy: the canary plant catches a bad reader");
	h_write(h_path("canary-policy.yaml"), "%s", demo_canary_policy());
	ship_reader(
		4, DEMO_BAD_READER, h_str("; /^  policies:$/r %s", h_path("canary-policy.yaml")));
	demo_say("the policy: plants labelled ring=canary (plant-a) first, the rest once the "
		 "canary ran it healthy for 3 s");
	long long t = h_now_ms();
	const char *sha = commit("thermo v5: new sensor driver, canary first");
	hook(sha);
	wait_thermo(0, sites[0], "rolled-back", why, sizeof why);
	demo_say("plant-a tried v5, saw its readers crash-loop and went back to v4 on its own "
		 "(%.1f s after the push, no hub needed):",
		(double)(h_now_ms() - t) / 1000.0);
	demo_block("     ", why);
	if (!h_wait_until(rollout_halted, halted, WAIT_MS))
		demo_fail("the hub did not halt thermo's rollout");
	demo_say("the hub read plant-a's report and halted the rollout (%.1f s after the "
		 "push): %s",
		(double)(h_now_ms() - t) / 1000.0, halted);
	wait_thermo(1, sites[1], "waiting", why, sizeof why);
	procs_scan(&p);
	for (int s = 0; s < NSITES; s++)
		if (procs_count(&p, s, -1, THERMO, 4) != 4 ||
			procs_count(&p, s, -1, THERMO, -1) != 4)
			demo_fail("%s should run its 4 v4 readers and nothing else", site_names[s]);
	demo_say("plant-b never started v5: it holds thermo on v4 and says why:");
	demo_block("     ", why);
	show_procs();
	show_status(hub, "at the hub: the halted rollout and both plants");

	demo_step("thermo v6 fixes the driver: it passes the canary and reaches every plant");
	ship_reader(DEMO_BAD_READER, 6, "");
	t = h_now_ms();
	sha = commit("thermo v6: sensor driver with its calibration table built in");
	hook(sha);
	wait_site(0, sha, 4, 6);
	wait_site(1, sha, 4, 6);
	demo_say("plant-a ran v6 healthy for the soak, the hub promoted the rest, plant-b "
		 "applied it: %.1f s from push to the last plant",
		(double)(h_now_ms() - t) / 1000.0);
	(void)prev;
	show_status(hub, "at the hub: the rollout done");
	return sha;
}

struct refused {
	int site;
	char problem[600];
};

static bool site_refused(void *arg)
{
	struct refused *r = arg;
	json_t *st = status_json(h_nats_url(sites[r->site]));
	json_t *ag = json_object_get(
		json_object_get(json_object_get(st, "sites"), site_names[r->site]), "agent");
	snprintf(r->problem, sizeof r->problem, "%s", jstr(ag, "problem"));
	json_decref(st);
	return strstr(r->problem, "refused at the edge") != NULL;
}

/* Anyone who can write the hub's bucket (a compromised hub) replaces thermo's entry:
 * 40 readers, a marker one seq higher listing its digest. Valid JSON, no valid proof. */
static void step_forged(const char *sha)
{
	demo_step("A compromised hub writes thermo with 40 readers straight into its bucket");
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	kvEntry *ae = NULL, *re = NULL;
	op_marker m;
	op_err e = {0};
	if (natsConnection_JetStream(&js, hub_nc, NULL) != NATS_OK ||
		js_KeyValue(&kv, js, "outpost") != NATS_OK ||
		kvStore_Get(&ae, kv, "app.thermo") != NATS_OK ||
		kvStore_Get(&re, kv, "rev") != NATS_OK ||
		op_marker_decode(kvEntry_ValueString(re), (size_t)kvEntry_ValueLen(re), &m, &e) !=
			0)
		demo_fail("cannot read the hub's bucket: %s", e.msg);
	const char *json = kvEntry_ValueString(ae), *at = strstr(json, "\"instances\":4");
	if (!at)
		demo_fail("app.thermo does not say 4 instances: %s", json);
	const char *forged = h_str(
		"%.*s\"instances\":40%s", (int)(at - json), json, at + strlen("\"instances\":4"));
	m.seq++;
	for (size_t i = 0; i < m.napps; i++)
		if (!strcmp(m.apps[i].name, "thermo"))
			op_digest(forged, strlen(forged), m.apps[i].digest);
	char *mj = NULL;
	if (op_marker_encode(&m, &mj, &e) != 0 ||
		kvStore_PutString(NULL, kv, "app.thermo", forged) != NATS_OK ||
		kvStore_PutString(NULL, kv, "rev", mj) != NATS_OK)
		demo_fail("cannot write the hub's bucket");
	demo_say("app.thermo now says \"instances\":40, and the marker seq %llu lists its "
		 "digest: a site that took the hub's word would start 36 more readers",
		(unsigned long long)m.seq);
	for (int s = 0; s < NSITES; s++) {
		struct refused r = {s, ""};
		if (!h_wait_until(site_refused, &r, WAIT_MS))
			demo_fail("%s did not refuse the forged revision: problem \"%s\"",
				site_names[s], r.problem);
		wait_site(s, sha, 4, 6);
		demo_say("%s refused it and still runs %.12s: %s", site_names[s], sha, r.problem);
	}
	show_procs();
	free(mj);
	op_marker_clear(&m);
	kvEntry_Destroy(ae);
	kvEntry_Destroy(re);
	kvStore_Destroy(kv);
	jsCtx_Destroy(js);
}

static bool none_left(void *arg)
{
	(void)arg;
	return procs_leftovers() == 0;
}

static void step_stop(void)
{
	static struct procs p;
	demo_step("Stop everything the demo started");
	procs_scan(&p);
	demo_say("stopping 1 sync, %d agents, %d hosts, %d nats-servers, %d shims and their %d "
		 "workloads",
		NSITES, NSITES * NHOSTS, NSITES + 1, p.nshims, p.n);
	natsConnection_Destroy(hub_nc);
	hub_nc = NULL;
	demo_cleaned = true;
	long long t = h_now_ms();
	h_cleanup();
	if (!h_wait_until(none_left, NULL, 5000))
		demo_fail("%d processes of the demo are still running", procs_leftovers());
	struct stat st;
	bool kept = getenv("OUTPOST_KEEP") && *getenv("OUTPOST_KEEP");
	if (!kept && stat(demo_tmp, &st) == 0)
		demo_fail("%s is still there", demo_tmp);
	demo_say("all stopped in %.1f s, no process of the demo is left (checked in /proc); "
		 "$DEMO is %s",
		(double)(h_now_ms() - t) / 1000.0, kept ? "kept (OUTPOST_KEEP)" : "removed");
	printf("\n%sdemo: OK%s, every step happened as described. Total run time %.1f s.\n",
		demo_tty ? "\033[1;32m" : "", demo_tty ? "\033[0m" : "", demo_elapsed());
}

int main(void)
{
	char cwd[4000];
	demo_t0 = h_now_ms();
	demo_tty = isatty(1);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	snprintf(demo_bin, sizeof demo_bin, "%s/outpost", cwd);
	snprintf(demo_tmp, sizeof demo_tmp, "%s", h_tmpdir());
	snprintf(demo_tag, sizeof demo_tag, "4%05d", (int)(getpid() % 100000));
	intro();
	step_repo();
	const char *first = step_sign();
	step_hub(first);
	step_sites(first);
	const char *scaled = step_scale();
	const char *v4 = step_outage(scaled);
	step_restore(v4);
	const char *v6 = step_canary(v4);
	step_forged(v6);
	step_stop();
	return 0;
}
