/* `outpost logs`: the output of an app's instances at a site, asked of the site's hosts
 * themselves (outpost-logs.<site>.<host>, request/reply), not of the agent: the logs
 * live on the boxes, and a host answers from its files even while the agent is down.
 * Which hosts the site has comes from the outpost-status bucket of the server it
 * connects to, so it works the same at the site and at the hub (where the request
 * crosses the leaf link, which lets that one read-only subject through while it is
 * up). Every reply is bounded by the host; --follow polls each host for what is new
 * past the position its last reply gave, until interrupted. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/base/cli.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"

#define MAX_HOSTS 1024
#define ASK_MS 5000 /* a host that takes longer is reported as not answering */
#define POLL_MS 500 /* --follow: how often each host is asked for what is new */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost logs --site NAME --app NAME [--instance ID] [--follow]\n"
		"                    [--nats URL]\n"
		"\n"
		"Prints the output of an app's instances at a site: the running ones and the\n"
		"kept output of the last stopped ones of each component (say, a version that\n"
		"crashed and was reverted), each under a header naming the instance, its host\n"
		"and whether it still runs. Works at the site's server and at the hub while\n"
		"the site's link is up.\n"
		"\n"
		"  --site NAME      the site\n"
		"  --app NAME       the app\n"
		"  --instance ID    only this instance\n"
		"  --follow         then print new output of the running instances as it comes,\n"
		"                   until interrupted\n"
		"  --nats URL       the hub's or the site's server (default " OP_DEFAULT_NATS ")\n"
		"  -h, --help       this help\n"
		"\n"
		"Exit status: 0 done, 1 no such output or a host did not answer, 2 usage.\n");
}

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

typedef struct cursor {
	char host[OP_HOST_MAX + 1];
	op_logcur c;
} cursor;

typedef struct logs {
	const char *site;
	op_logreq q;
	op_bus bus;
	char (*hosts)[OP_HOST_MAX + 1];
	size_t nhosts;
	cursor *cur; /* --follow: where each running log was left */
	size_t ncur;
	char last[OP_HOST_MAX + OP_INST_MAX + 2]; /* the header printed last */
	bool at_bol; /* the output printed so far ends a line */
} logs;

static int on_host_key(void *arg, const char *key, const char *val, size_t len, uint64_t rev)
{
	logs *l = arg;
	(void)val, (void)len, (void)rev;
	const char *id = strrchr(key, '.');
	if (id && op_name_valid(id + 1) && l->nhosts < MAX_HOSTS)
		snprintf(l->hosts[l->nhosts++], OP_HOST_MAX + 1, "%s", id + 1);
	return 0;
}

/* The site's hosts, as its agent reports them in outpost-status. */
static int find_hosts(logs *l, op_err *e)
{
	kvStore *kv = NULL;
	natsStatus s = js_KeyValue(&kv, l->bus.js, OP_STATUS_BUCKET);
	if (s != NATS_OK)
		return op_err_set(e, OP_ENOTFOUND, "no %s bucket here (%s): no agent reports to it",
			OP_STATUS_BUCKET, natsStatus_GetText(s));
	char filter[128];
	snprintf(filter, sizeof filter, "site.%s.host.*", l->site);
	int rc = op_bus_kv_keys(l->bus.js, kv, filter, on_host_key, l, e);
	kvStore_Destroy(kv);
	if (rc == 0 && l->nhosts == 0)
		rc = op_err_set(e, OP_ENOTFOUND,
			"no host of site \"%s\" reports to this server (see outpost status)",
			l->site);
	return rc;
}

static void fmt_time(int64_t ms, char *out, size_t n)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, n, "?");
}

static void header(logs *l, const char *host, const op_logent *x)
{
	char key[sizeof l->last], when[32], exit[32] = "";
	snprintf(key, sizeof key, "%s/%s", host, x->id);
	if (!strcmp(key, l->last))
		return;
	snprintf(l->last, sizeof l->last, "%s", key);
	if (x->exit_code >= 0)
		snprintf(exit, sizeof exit, ", last exit %d", x->exit_code);
	if (!l->at_bol)
		putchar('\n');
	if (x->running) {
		printf("==> %s on %s (runs: %s%s) <==\n", x->id, host, op_inst_state_name(x->state),
			exit);
	} else {
		fmt_time(x->stopped_ms, when, sizeof when);
		printf("==> %s on %s (stopped %s: %s%s) <==\n", x->id, host, when,
			op_inst_state_name(x->state), exit);
	}
	l->at_bol = true;
}

static void print_ent(logs *l, const char *host, const op_logent *x, bool always)
{
	if (!always && x->len == 0 && !x->gap)
		return;
	header(l, host, x);
	if (x->gap)
		printf("%s[... output rotated away ...]\n", l->at_bol ? "" : "\n");
	if (x->gap)
		l->at_bol = true;
	fwrite(x->data, 1, x->len, stdout);
	if (x->len)
		l->at_bol = x->data[x->len - 1] == '\n';
	if (x->more && !l->q.running_only) {
		printf("%s[... more output than one reply holds: ask for one --instance, or "
		       "--follow ...]\n",
			l->at_bol ? "" : "\n");
		l->at_bol = true;
	}
	fflush(stdout);
}

static cursor *cursor_get(logs *l, const char *host, const char *id, bool add)
{
	for (size_t i = 0; i < l->ncur; i++)
		if (!strcmp(l->cur[i].host, host) && !strcmp(l->cur[i].c.id, id))
			return &l->cur[i];
	if (!add || l->ncur >= OP_LOGS_MAX_AFTER * 4)
		return NULL;
	cursor *v = realloc(l->cur, (l->ncur + 1) * sizeof *v);
	if (!v)
		return NULL;
	l->cur = v;
	cursor *c = &v[l->ncur++];
	memset(c, 0, sizeof *c);
	snprintf(c->host, sizeof c->host, "%s", host);
	snprintf(c->c.id, sizeof c->c.id, "%s", id);
	return c;
}

/* Asks one host; prints what it sends. *more when a running log has more right away. */
static int ask(logs *l, const char *host, bool *more, op_err *e)
{
	op_logcur after[OP_LOGS_MAX_AFTER];
	l->q.after = after;
	l->q.nafter = 0;
	for (size_t i = 0; i < l->ncur && l->q.nafter < OP_LOGS_MAX_AFTER; i++)
		if (!strcmp(l->cur[i].host, host))
			after[l->q.nafter++] = l->cur[i].c;
	char *json = NULL, subj[256];
	int rc = op_logreq_encode(&l->q, &json, e);
	l->q.after = NULL;
	if (rc)
		return rc;
	snprintf(subj, sizeof subj, OP_LOGS_PREFIX ".%s.%s", l->site, host);
	natsMsg *m = NULL;
	natsStatus s = natsConnection_Request(&m, l->bus.nc, subj, json, (int)strlen(json), ASK_MS);
	free(json);
	if (s != NATS_OK)
		return op_err_set(e, OP_ENATS, "host %s did not answer: %s", host,
			s == NATS_NO_RESPONDERS ? "no responders (is it up, and the link?)"
						: natsStatus_GetText(s));
	op_logreply r;
	op_hostreply fail;
	const char *data = natsMsg_GetData(m);
	size_t len = (size_t)natsMsg_GetDataLength(m);
	rc = op_logreply_decode(data, len, &r, e);
	if (rc && op_hostreply_decode(data, len, &fail, NULL) == 0 && !fail.ok)
		rc = op_err_set(e, OP_EINVAL, "host %s: %s", host, fail.error);
	natsMsg_Destroy(m);
	if (rc) {
		op_logreply_clear(&r);
		return rc;
	}
	for (size_t i = 0; i < r.n; i++) {
		const op_logent *x = &r.v[i];
		print_ent(l, host, x, !l->q.running_only);
		cursor *c = x->running ? cursor_get(l, host, x->id, true) : NULL;
		if (c) {
			c->c.ino = x->ino;
			c->c.off = x->off;
		}
		*more = *more || (x->running && x->more);
	}
	if (r.truncated && !l->q.running_only)
		printf("[... host %s has more logs of %s than one reply holds: ask for one "
		       "--instance ...]\n",
			host, l->q.app);
	if (!l->q.running_only && r.n == 0)
		rc = OP_ENOTFOUND;
	op_logreply_clear(&r);
	return rc;
}

static void pause_ms(int ms)
{
	struct timespec t = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

static int follow(logs *l)
{
	l->q.running_only = true;
	l->q.tail = 0; /* an instance that starts meanwhile: all of its output */
	while (!interrupted) {
		bool more = false;
		for (size_t i = 0; i < l->nhosts && !interrupted; i++) {
			op_err e = {0};
			if (ask(l, l->hosts[i], &more, &e) != 0 && e.msg[0])
				fprintf(stderr, "outpost logs: %s\n", e.msg);
		}
		if (!more)
			pause_ms(POLL_MS);
	}
	return OP_EXIT_OK;
}

int op_cmd_logs(int argc, char **argv)
{
	static const struct option opts[] = {{"site", required_argument, NULL, 's'},
		{"app", required_argument, NULL, 'a'}, {"instance", required_argument, NULL, 'i'},
		{"follow", no_argument, NULL, 'f'}, {"nats", required_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'}, {0}};
	const char *nats = OP_DEFAULT_NATS, *app = NULL, *inst = NULL;
	logs l = {.q.tail = OP_LOGS_TAIL_DEFAULT, .at_bol = true};
	bool follow_flag = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 's': l.site = optarg; break;
		case 'a': app = optarg; break;
		case 'i': inst = optarg; break;
		case 'f': follow_flag = true; break;
		case 'n': nats = optarg; break;
		case 'h': usage(stdout); return OP_EXIT_OK;
		default: usage(stderr); return OP_EXIT_USAGE;
		}
	}
	if (optind < argc || !l.site || !app) {
		fprintf(stderr, "outpost logs: %s\n",
			optind < argc ? "unexpected argument" : "--site and --app are required");
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	if (!op_name_valid(l.site) || !op_name_valid(app) || (inst && !op_inst_id_valid(inst))) {
		fprintf(stderr,
			"outpost logs: --site and --app: expected [a-z0-9-], 1..63 "
			"characters; --instance: an instance id\n");
		return OP_EXIT_USAGE;
	}
	snprintf(l.q.app, sizeof l.q.app, "%s", app);
	snprintf(l.q.inst, sizeof l.q.inst, "%s", inst ? inst : "");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	op_err e = {0};
	int rc = OP_EXIT_FAIL;
	if (!(l.hosts = calloc(MAX_HOSTS, sizeof *l.hosts)) ||
		op_bus_connect(&l.bus, nats, "outpost logs", NULL, 3000, &e) != 0 ||
		find_hosts(&l, &e) != 0) {
		fprintf(stderr, "outpost logs: %s\n", e.msg[0] ? e.msg : "out of memory");
		goto out;
	}
	bool any = false, failed = false;
	for (size_t i = 0; i < l.nhosts && !interrupted; i++) {
		bool more = false;
		op_err he = {0};
		int r = ask(&l, l.hosts[i], &more, &he);
		any = any || r == 0;
		if (r != 0 && r != OP_ENOTFOUND) {
			fprintf(stderr, "outpost logs: %s\n", he.msg);
			failed = true;
		}
	}
	if (!any && !failed)
		fprintf(stderr, "outpost logs: no output of %s%s%s at site %s\n", app,
			inst ? " instance " : "", inst ? inst : "", l.site);
	rc = any && !failed ? OP_EXIT_OK : OP_EXIT_FAIL;
	if (follow_flag)
		rc = follow(&l);
out:
	op_bus_close(&l.bus);
	free(l.hosts);
	free(l.cur);
	return rc;
}
