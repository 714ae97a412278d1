/* `outpost status`: what runs where, read from the outpost-status bucket of the server
 * it connects to: at the hub every site's keys (sourced) and hub.sync; at a site that
 * site's own. A table a person reads at a glance, or --json for scripts. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/base/cli.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost status [--site NAME] [--app NAME] [--nats URL] [--json]\n"
		"\n"
		"Shows the sync outcome, each canary rollout (at the hub) and, per site, each app\n"
		"(version, commit, desired and running instances, state, message, last update)\n"
		"and each host.\n"
		"\n"
		"  --site NAME   only this site\n"
		"  --app NAME    only this app\n"
		"  --nats URL    the hub's or a site's server (default " OP_DEFAULT_NATS ")\n"
		"  --json        one JSON document: "
		"{\"hub\":{...},\"rollouts\":{...},\"sites\":{...}}\n"
		"  -h, --help    this help\n");
}

struct collect {
	const char *site, *app;
	json_t *hub, *sites;
	json_t *rollouts; /* app -> sync's view of its rollout (hub.rollout.<app>) */
	char known[256]; /* the sites seen, for an error about an unknown one */
};

static json_t *site_obj(struct collect *c, const char *site)
{
	json_t *s = json_object_get(c->sites, site);
	if (!s) {
		s = json_pack("{s:n, s:[], s:[]}", "agent", "apps", "hosts");
		json_object_set_new(c->sites, site, s);
	}
	return s;
}

static int on_key(void *arg, const char *key, const char *val, size_t len, uint64_t rev)
{
	struct collect *c = arg;
	(void)rev;
	json_t *v = json_loadb(val, len, 0, NULL);
	if (!v)
		return 0;
	if (!strcmp(key, "hub.sync")) {
		json_decref(c->hub);
		c->hub = v;
		return 0;
	}
	if (!strncmp(key, "hub.rollout.", 12)) {
		if (!c->site && (!c->app || !strcmp(key + 12, c->app)))
			json_object_set_new(c->rollouts, key + 12, v);
		else
			json_decref(v);
		return 0;
	}
	/* site.<site>.agent | site.<site>.app.<name> | site.<site>.host.<id> */
	char site[64], kind[8], name[128] = "";
	int got = sscanf(key, "site.%63[^.].%7[^.].%127s", site, kind, name);
	if (got >= 2 && !strcmp(kind, "agent")) {
		size_t n = strlen(c->known);
		snprintf(c->known + n, sizeof c->known - n, "%s%s", n ? ", " : "", site);
	}
	if (got < 2 || (c->site && strcmp(site, c->site) != 0)) {
		json_decref(v);
		return 0;
	}
	json_t *s = site_obj(c, site);
	if (!strcmp(kind, "agent"))
		json_object_set_new(s, "agent", v);
	else if (!strcmp(kind, "app") && (!c->app || !strcmp(name, c->app)))
		json_array_append_new(json_object_get(s, "apps"), v);
	else if (!strcmp(kind, "host") && !c->app)
		json_array_append_new(json_object_get(s, "hosts"), v);
	else
		json_decref(v);
	return 0;
}

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* What the reports say about each site's link, now: the age of its agent's last report
 * (the agent rewrites its key at least every report_ms, and every resync_ms the whole
 * status; both are in the key), whether the link is up, and how many accepted revisions
 * it is behind the hub. At the hub, a site whose last report is older than three resync
 * intervals is down; at a site, the link is what the agent's mirror watch says. An
 * agent silent for three report intervals is shown as not reporting, and the hosts it
 * last reported are then unknown, not alive. Added to each site's object. */
static void judge_sites(struct collect *c)
{
	int64_t now = op_wall_ms() / 1000;
	long long hub_seq = c->hub ? json_integer_value(json_object_get(c->hub, "rev_seq")) : 0;
	const char *site;
	json_t *s;
	json_object_foreach(c->sites, site, s)
	{
		json_t *ag = json_object_get(s, "agent");
		int64_t t = 0;
		bool have = json_is_object(ag) &&
			op_time_parse_rfc3339(str(ag, "updated"), &t) == 0;
		long long resync = json_integer_value(json_object_get(ag, "resync_ms"));
		long long report = json_integer_value(json_object_get(ag, "report_ms"));
		resync = resync > 0 ? resync : 30000;
		report = report > 0 ? report : resync;
		long long age = have ? (long long)(now - t) : -1;
		bool reporting = have && age * 1000 <= 3 * report + 2000;
		const char *link;
		if (c->hub)
			link = have && age * 1000 <= 3 * resync + 2000 ? "up" : "down";
		else
			link = !have                                    ? "unknown"
				: !strcmp(str(ag, "mirror"), "offline") ? "down"
				: !strcmp(str(ag, "mirror"), "unknown") ? "unknown"
									: "up";
		json_object_set_new(s, "link", json_string(link));
		json_object_set_new(
			s, "reported", have ? json_string(str(ag, "updated")) : json_null());
		json_object_set_new(s, "report_age_s", have ? json_integer(age) : json_null());
		json_object_set_new(s, "reporting", json_boolean(reporting));
		long long seq = json_integer_value(json_object_get(ag, "seq"));
		json_object_set_new(s, "behind",
			c->hub && hub_seq > 0 && have
				? json_integer(hub_seq > seq ? hub_seq - seq : 0)
				: json_null());
		if (!reporting) {
			size_t i;
			json_t *h;
			json_array_foreach(json_object_get(s, "hosts"), i, h)
			{
				json_object_set_new(h, "alive", json_null());
			}
		}
	}
}

static void print_sites(struct collect *c)
{
	printf("%-16s %-7s %-7s %-20s %s\n", "SITE", "LINK", "BEHIND", "REPORTED", "");
	const char *site;
	json_t *s;
	json_object_foreach(c->sites, site, s)
	{
		json_t *b = json_object_get(s, "behind"), *age = json_object_get(s, "report_age_s");
		char behind[24] = "-", ago[64] = "never";
		if (json_is_integer(b))
			snprintf(behind, sizeof behind, "%lld", (long long)json_integer_value(b));
		if (json_is_integer(age))
			snprintf(ago, sizeof ago, "%llds ago", (long long)json_integer_value(age));
		const char *link = str(s, "link");
		printf("%-16s %-7s %-7s %-20s %s\n", site, !strcmp(link, "up") ? "up" : link,
			behind, ago,
			json_is_true(json_object_get(s, "reporting"))
				? ""
				: "its agent does not report: what follows is its last report");
	}
	printf("\n");
}

/* The artifacts a site needs that are not simply staged: bytes done of total while
 * staging, why one was refused, and which ones the hub's store lacks. */
static void artifacts(const char *site, json_t *ag)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(ag, "artifacts"), i, a)
	{
		const char *state = str(a, "state");
		if (!strcmp(state, "staged"))
			continue;
		double done = (double)json_integer_value(json_object_get(a, "done")) / 1e6;
		double total = (double)json_integer_value(json_object_get(a, "total")) / 1e6;
		printf("%-16s artifact %.19s… (%s): %s", site, str(a, "digest"), str(a, "apps"),
			state);
		if (!strcmp(state, "staging"))
			printf(", %.1f of %.1f MB", done, total);
		else if (!strcmp(state, "absent"))
			printf(" from the hub's store: the file must be on the boxes already");
		else if (str(a, "error")[0])
			printf(": %s", str(a, "error"));
		printf("\n");
	}
}

/* What sync found the accepted revision pins and the hub's store lacks (hub.sync's
 * artifacts_missing): one warning line each. */
static void missing_artifacts(json_t *hub)
{
	json_t *list = json_object_get(hub, "artifacts_missing");
	size_t n = json_array_size(list);
	for (size_t i = 0; i < n; i++) {
		json_t *a = json_array_get(list, i), *apps = json_object_get(a, "apps");
		printf("warning: artifact %s (app", str(a, "digest"));
		for (size_t k = 0; k < json_array_size(apps); k++) {
			const char *name = json_string_value(json_array_get(apps, k));
			printf("%s %s", k ? "," : "", name ? name : "?");
		}
		printf(") is not in the hub's store: sites cannot stage it; the file must be on "
		       "the boxes already (outpost artifact put FILE)\n");
	}
	if (n)
		printf("\n");
}

/* Each canary rollout as sync sees it: the revision, the wave, the sites, and why it
 * waits or that it halted. */
static void print_rollouts(json_t *rollouts)
{
	const char *app;
	json_t *r;
	json_object_foreach(rollouts, app, r)
	{
		json_t *st = json_object_get(r, "sites");
		long long wave = json_integer_value(json_object_get(r, "wave"));
		bool halted = json_is_true(json_object_get(r, "halted"));
		const char *verdict = str(r, "verdict");
		printf("rollout %s: seq %lld (%.12s) wave %lld of %lld (%s); sites %lld of %lld "
		       "done, %lld healthy, %lld rolled back",
			app, (long long)json_integer_value(json_object_get(r, "seq")),
			str(r, "commit"), wave + 1,
			(long long)json_integer_value(json_object_get(r, "waves")),
			str(r, "wave_name"),
			(long long)json_integer_value(json_object_get(st, "done")),
			(long long)json_integer_value(json_object_get(st, "total")),
			(long long)json_integer_value(json_object_get(st, "healthy")),
			(long long)json_integer_value(json_object_get(st, "rolled_back")));
		if (halted)
			printf("; HALTED: %s\n", str(r, "reason")[0] ? str(r, "reason") : "-");
		else if (!strcmp(verdict, "done"))
			printf("; every wave promoted\n");
		else
			printf("; waiting: %s\n", str(r, "why")[0] ? str(r, "why") : "-");
	}
	if (json_object_size(rollouts))
		printf("\n");
}

static void print_table(struct collect *c)
{
	if (c->hub && !c->site && !c->app)
		printf("hub sync: %s commit %.12s seq %lld by %s at %s%s%s\n\n",
			str(c->hub, "outcome"), str(c->hub, "commit"),
			(long long)json_integer_value(json_object_get(c->hub, "seq")),
			str(c->hub, "signer")[0] ? str(c->hub, "signer") : "-", str(c->hub, "time"),
			str(c->hub, "reason")[0] ? ": " : "", str(c->hub, "reason"));
	if (c->hub && !c->site && !c->app)
		missing_artifacts(c->hub);
	print_rollouts(c->rollouts);
	if (!c->app)
		print_sites(c);
	printf("%-16s %-20s %-10s %-12s %-9s %-12s %-20s %s\n", "SITE", "APP", "VERSION", "COMMIT",
		"RUNNING", "STATE", "LAST SEEN", "MESSAGE");
	const char *site;
	json_t *s;
	json_object_foreach(c->sites, site, s)
	{
		size_t i;
		json_t *a;
		json_array_foreach(json_object_get(s, "apps"), i, a)
		{
			char counts[32];
			snprintf(counts, sizeof counts, "%lld/%lld",
				(long long)json_integer_value(json_object_get(a, "running")),
				(long long)json_integer_value(json_object_get(a, "desired")));
			printf("%-16s %-20s %-10s %-12.12s %-9s %-12s %-20s %s\n", site,
				str(a, "app"), str(a, "version")[0] ? str(a, "version") : "-",
				str(a, "commit"), counts, str(a, "state"), str(a, "updated"),
				str(a, "message"));
		}
	}
	if (c->app)
		return;
	printf("\n%-16s %-20s %-6s %-20s %-9s %-10s %-8s %s\n", "SITE", "HOST", "ALIVE",
		"LAST SEEN", "INSTANCES", "LIMITS", "CGROUP", "WASM");
	json_object_foreach(c->sites, site, s)
	{
		size_t i;
		json_t *h;
		json_array_foreach(json_object_get(s, "hosts"), i, h)
		{
			json_t *insts = json_object_get(h, "instances");
			printf("%-16s %-20s %-6s %-20s %-9zu %-10s %-8s %s\n", site, str(h, "host"),
				json_is_true(json_object_get(h, "alive"))           ? "yes"
					: json_is_null(json_object_get(h, "alive")) ? "?"
										    : "NO",
				str(h, "last_seen"), json_array_size(insts),
				str(h, "limits")[0] ? str(h, "limits") : "-",
				str(h, "cgroup")[0] ? str(h, "cgroup") : "-",
				str(h, "wasm")[0] ? str(h, "wasm") : "-");
		}
		json_t *ag = json_object_get(s, "agent");
		if (ag && (str(ag, "problem")[0] || str(ag, "warning")[0]))
			printf("%-16s agent: %s%s%s\n", site, str(ag, "problem"),
				str(ag, "problem")[0] && str(ag, "warning")[0] ? "; " : "",
				str(ag, "warning"));
		artifacts(site, ag);
	}
}

/* A --site or --app that nothing here reports is an error, not an empty table: a typo
 * must not look like a site with nothing to run. Names what is known instead. */
static bool unknown(struct collect *c)
{
	bool any_app = false;
	const char *site;
	json_t *s;
	json_object_foreach(c->sites, site, s)
	{
		if (json_array_size(json_object_get(s, "apps")))
			any_app = true;
	}
	if (c->site && !json_object_get(c->sites, c->site)) {
		fprintf(stderr,
			"outpost status: no site named \"%s\" reports to this server (sites: %s)\n",
			c->site, c->known[0] ? c->known : "none");
		return true;
	}
	if (c->app && !any_app) {
		fprintf(stderr, "outpost status: no app named \"%s\"%s%s%s\n", c->app,
			c->site ? " at site \"" : "", c->site ? c->site : "", c->site ? "\"" : "");
		return true;
	}
	return false;
}

int op_cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"site", required_argument, NULL, 's'},
		{"app", required_argument, NULL, 'a'}, {"nats", required_argument, NULL, 'n'},
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *nats = OP_DEFAULT_NATS;
	struct collect c = {0};
	bool as_json = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': c.site = optarg; break;
		case 'a': c.app = optarg; break;
		case 'n': nats = optarg; break;
		case 'j': as_json = true; break;
		case 'h': usage(stdout); return OP_EXIT_OK;
		default: usage(stderr); return OP_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	op_bus b;
	op_err e = {0};
	kvStore *kv = NULL;
	if (op_bus_connect(&b, nats, "outpost-status", NULL, 3000, &e) != 0) {
		fprintf(stderr, "outpost status: %s\n", e.msg);
		return OP_EXIT_FAIL;
	}
	natsStatus s = js_KeyValue(&kv, b.js, OP_STATUS_BUCKET);
	if (s != NATS_OK) {
		char url[512];
		op_bus_url_redact(nats, url, sizeof url);
		fprintf(stderr,
			"outpost status: no %s bucket at %s (%s): no sync or agent ran "
			"there yet\n",
			OP_STATUS_BUCKET, url, natsStatus_GetText(s));
		op_bus_close(&b);
		return OP_EXIT_FAIL;
	}
	c.sites = json_object();
	c.rollouts = json_object();
	int rc = op_bus_kv_scan(b.js, kv, ">", on_key, &c, &e);
	kvStore_Destroy(kv);
	op_bus_close(&b);
	if (rc) {
		fprintf(stderr, "outpost status: %s\n", e.msg);
		json_decref(c.sites);
		json_decref(c.hub);
		json_decref(c.rollouts);
		return OP_EXIT_FAIL;
	}
	judge_sites(&c);
	if (unknown(&c)) {
		json_decref(c.sites);
		json_decref(c.hub);
		json_decref(c.rollouts);
		return OP_EXIT_FAIL;
	}
	if (as_json) {
		json_t *all = json_pack("{s:o, s:O, s:O}", "hub", c.hub ? c.hub : json_null(),
			"sites", c.sites, "rollouts", c.rollouts);
		char *out = json_dumps(all, JSON_SORT_KEYS | JSON_INDENT(2));
		printf("%s\n", out ? out : "{}");
		free(out);
		json_decref(all);
		c.hub = NULL;
	} else {
		print_table(&c);
	}
	json_decref(c.sites);
	json_decref(c.hub);
	json_decref(c.rollouts);
	return OP_EXIT_OK;
}
