/* `outpost sync`: flags, then either one pass (--once) or the loop: a pass every
 * --interval (with jitter), at once on a request to outpost.hub.sync.now (replied
 * with the outcome, for post-receive hooks), and with backoff after a failure. Rollouts
 * step after every pass and every OP_ROLLOUT_TICK_MS between passes; outpost promote and
 * halt are answered between passes, in this thread (nats.c's callbacks only queue). */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/sync/loop/reports.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/base/cli.h"
#include "outpost/agent/base/log.h"
#include "outpost/sync/loop/rollouts.h"
#include "outpost/sync/loop/sync.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/wire/rollout.h"

#define SUBJECT_NOW OP_SYNC_NOW_SUBJECT
#define MAX_PENDING 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost sync --repo URL --trust FILE [options]\n"
		"       outpost sync --now [--nats URL]\n"
		"\n"
		"Publishes signed, validated revisions of a Git branch into the hub's KV bucket.\n"
		"\n"
		"  --now               ask the running sync for a pass now (a post-receive hook),\n"
		"                      print its outcome; 0 accepted or unchanged, 1 otherwise\n"
		"  --repo URL          repository: a path, file://, ssh:// or https://\n"
		"  --trust FILE        allowed_signers policy (git's format)\n"
		"  --revoked FILE      public keys refused whatever their dates (one a line)\n"
		"  --verify all|head   verify every new commit (default) or the head only\n"
		"  --match-committer   the signer's principal must match the committer email\n"
		"  --branch NAME       branch to follow (default main)\n"
		"  --path DIR          manifests directory in the repository (default apps)\n"
		"  --nats URL[,URL]    hub NATS servers, any node of a hub cluster (default\n"
		"                      " OP_DEFAULT_NATS ")\n"
		"  --replicas N        replicas of the buckets sync creates (default 1; 3 on a\n"
		"                      hub cluster of three); fewer in place are reported\n"
		"  --write-window N    a pass's writes sent before the first is acknowledged\n"
		"                      (default 32; 1: each waits for the one before)\n"
		"  --state DIR         git cache directory (default /var/lib/outpost/sync)\n"
		"  --ca-file FILE      CA bundle for https:// remotes\n"
		"  --seq-floor N       revisions count from at least N (after losing the bucket)\n"
		"  --interval DUR      time between passes (default 30s; e.g. 500ms, 10s, 5m)\n"
		"  --once              one pass, then exit: 0 accepted or unchanged, 1 otherwise\n"
		"  --fresh-key FILE    sign a freshness record for the current revision with this\n"
		"                      unencrypted ed25519 key (ssh-keygen -t ed25519 -N '')\n"
		"  --fresh-every DUR   how often the record is signed again (default 60s)\n"
		"  --fresh-ttl DUR     how long a record is valid (default 1h)\n"
		"  -h, --help          this help\n"
		"\n"
		"On a hub cluster, a sync may run on every node: the first to write a revision\n"
		"publishes it, the others stand by (\"another sync published revision N\") and\n"
		"finish a revision whose writer died half way.\n"
		"A request on " SUBJECT_NOW " runs a pass at once and is answered with its\n"
		"outcome as JSON. Apps whose rollout policy has 2 or more waves roll out wave by\n"
		"wave: sync writes rollout.<app> (signed with --fresh-key when given) after every\n"
		"pass and every few seconds, and answers outpost promote and outpost halt.\n"
		"Exit status: 0 success, 1 failure, 2 usage.\n");
}

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char *pending[MAX_PENDING];
static int npending;
/* Requests of outpost promote and halt, in arrival order. */
struct rollreq {
	char *subject, *reply, *data;
	size_t len;
};
static struct rollreq rpending[MAX_PENDING];
static int nrpending;
static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void on_now(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	const char *reply = natsMsg_GetReply(msg);
	pthread_mutex_lock(&mu);
	if (reply && npending < MAX_PENDING)
		pending[npending++] = strdup(reply);
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	natsMsg_Destroy(msg);
}

static void on_rollout(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	const char *reply = natsMsg_GetReply(msg);
	pthread_mutex_lock(&mu);
	if (reply && nrpending < MAX_PENDING) {
		struct rollreq *r = &rpending[nrpending];
		r->len = (size_t)natsMsg_GetDataLength(msg);
		r->subject = strdup(natsMsg_GetSubject(msg));
		r->reply = strdup(reply);
		r->data = malloc(r->len + 1);
		if (r->subject && r->reply && r->data) {
			memcpy(r->data, natsMsg_GetData(msg), r->len);
			r->data[r->len] = '\0';
			nrpending++;
		} else {
			free(r->subject), free(r->reply), free(r->data);
		}
	}
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	natsMsg_Destroy(msg);
}

/* Answers the promote and halt requests that arrived; true when there were any. */
static bool serve_rollouts(op_sync *s)
{
	struct rollreq take[MAX_PENDING];
	pthread_mutex_lock(&mu);
	int n = nrpending;
	memcpy(take, rpending, sizeof rpending);
	nrpending = 0;
	pthread_mutex_unlock(&mu);
	op_bus *b = op_sync_bus(s);
	for (int i = 0; i < n; i++) {
		char *json = op_sync_rollout_request(s, take[i].subject, take[i].data, take[i].len);
		if (b && json)
			natsConnection_PublishString(b->nc, take[i].reply, json);
		free(json);
		free(take[i].subject), free(take[i].reply), free(take[i].data);
	}
	if (b && n)
		natsConnection_FlushTimeout(b->nc, 1000);
	return n > 0;
}

static void subscribe(op_bus *b, natsSubscription **sub, const char *subject, natsMsgHandler fn)
{
	if (*sub)
		return;
	natsStatus st = natsConnection_Subscribe(sub, b->nc, subject, fn, NULL);
	if (st != NATS_OK)
		op_log_warn("cannot subscribe", "subject=%s error=\"%s\"", subject,
			natsStatus_GetText(st));
}

/* Waits until deadline (monotonic ms), a request or a signal; true on a request. */
static bool wait_for(int64_t deadline)
{
	pthread_mutex_lock(&mu);
	while (!npending && !nrpending && !stopping) {
		int64_t left = deadline - op_now_ms();
		if (left <= 0)
			break;
		/* Wake at least every 200 ms to notice signals. */
		if (left > 200)
			left = 200;
		struct timespec ts;
		op_deadline_in(&ts, left);
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	bool req = npending > 0 || nrpending > 0;
	pthread_mutex_unlock(&mu);
	return req;
}

/* Takes the requests that arrived so far: the next pass answers them. */
static int take_pending(char **take)
{
	pthread_mutex_lock(&mu);
	int n = npending;
	memcpy(take, pending, sizeof pending);
	npending = 0;
	pthread_mutex_unlock(&mu);
	return n;
}

static bool more_pending(void)
{
	pthread_mutex_lock(&mu);
	bool more = npending > 0;
	pthread_mutex_unlock(&mu);
	return more;
}

static void reply_all(op_sync *s, const op_sync_outcome *o, char **take, int n)
{
	char *json = op_sync_outcome_json(o);
	op_bus *b = op_sync_bus(s);
	for (int i = 0; i < n; i++) {
		if (b && json)
			natsConnection_PublishString(b->nc, take[i], json);
		free(take[i]);
	}
	if (b && n)
		natsConnection_FlushTimeout(b->nc, 1000);
	free(json);
}

/* Signs the freshness record when it is due (or at once after a pass that accepted a
 * revision); the next time it is due. */
static int64_t fresh_tick(op_sync *s, int64_t every, int64_t due, bool accepted)
{
	int64_t now = op_now_ms();
	if (every <= 0)
		return INT64_MAX;
	if (!accepted && now < due)
		return due;
	op_sync_fresh(s);
	return now + every;
}

static int run_loop(op_sync *s, int64_t interval, int64_t fresh_every)
{
	int64_t fresh_due = 0, roll_due = 0;
	natsSubscription *sub = NULL, *promote = NULL, *halt = NULL;
	op_reports *reports = NULL;
	int64_t backoff = 1000;
	bool lost = false;
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	srand((unsigned)time(NULL) ^ (unsigned)op_now_ms());
	op_log_info("sync started", "interval_ms=%lld", (long long)interval);
	while (!stopping) {
		op_sync_outcome o;
		/* A request is answered by a pass that started after it arrived, so the
		 * reply covers what was pushed before the request. */
		char *take[MAX_PENDING];
		int ntake = take_pending(take);
		op_sync_pass(s, &o);
		fresh_due = fresh_tick(s, fresh_every, fresh_due, o.kind == OP_SYNC_ACCEPTED);
		op_bus *b = op_sync_bus(s);
		char why[256];
		if (b && op_bus_lost(b, why, sizeof why)) {
			op_log_error("sync exiting: the nats server closed its connection for good",
				"error=\"%s\"", why);
			op_sync_outcome_clear(&o);
			for (int i = 0; i < ntake; i++)
				free(take[i]);
			lost = true;
			break;
		}
		if (b) {
			subscribe(b, &sub, SUBJECT_NOW, on_now);
			subscribe(b, &promote, OP_SUBJECT_PROMOTE, on_rollout);
			subscribe(b, &halt, OP_SUBJECT_HALT, on_rollout);
		}
		op_err e = {0};
		if (!reports && b && o.kind != OP_SYNC_FAILED &&
			op_reports_serve(b, &reports, &e) != 0)
			op_log_warn(
				"cannot serve the sites' status reports", "error=\"%s\"", e.msg);
		reply_all(s, &o, take, ntake);
		op_sync_rollouts(s);
		roll_due = op_now_ms() + OP_ROLLOUT_TICK_MS;
		int64_t next = interval;
		if (o.kind == OP_SYNC_FAILED) {
			next = backoff < interval ? backoff : interval;
			backoff = backoff * 2 > 60000 ? 60000 : backoff * 2;
		} else {
			backoff = 1000;
		}
		op_sync_outcome_clear(&o);
		/* +-10% jitter so a fleet of hubs or hooks does not beat in step. */
		int64_t j = next / 10;
		if (j > 0)
			next += (rand() % (2 * j + 1)) - j;
		/* Between passes: the freshness record is signed again, rollouts step, and
		 * promote and halt requests are answered (a rollout steps after each). */
		int64_t pass_at = op_now_ms() + next;
		for (;;) {
			if (serve_rollouts(s) || op_now_ms() >= roll_due) {
				op_sync_rollouts(s);
				roll_due = op_now_ms() + OP_ROLLOUT_TICK_MS;
			}
			if (more_pending() || stopping || op_now_ms() >= pass_at)
				break;
			int64_t until = pass_at < fresh_due ? pass_at : fresh_due;
			wait_for(until < roll_due ? until : roll_due);
			fresh_due = fresh_tick(s, fresh_every, fresh_due, false);
		}
	}
	if (!lost)
		op_log_info("sync stopping", "signal=%s", "TERM/INT");
	if (sub)
		natsSubscription_Destroy(sub);
	op_reports_stop(reports);
	if (promote)
		natsSubscription_Destroy(promote);
	if (halt)
		natsSubscription_Destroy(halt);
	for (int i = 0; i < nrpending; i++)
		free(rpending[i].subject), free(rpending[i].reply), free(rpending[i].data);
	nrpending = 0;
	return lost ? OP_EXIT_FAIL : OP_EXIT_OK;
}

int op_cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {{"repo", required_argument, NULL, 'r'},
		{"trust", required_argument, NULL, 't'}, {"revoked", required_argument, NULL, 'R'},
		{"verify", required_argument, NULL, 'v'},
		{"match-committer", no_argument, NULL, 'm'},
		{"branch", required_argument, NULL, 'b'}, {"path", required_argument, NULL, 'p'},
		{"nats", required_argument, NULL, 'n'}, {"state", required_argument, NULL, 's'},
		{"ca-file", required_argument, NULL, 'c'},
		{"seq-floor", required_argument, NULL, 'f'},
		{"interval", required_argument, NULL, 'i'}, {"once", no_argument, NULL, 'o'},
		{"fresh-key", required_argument, NULL, 'K'},
		{"fresh-every", required_argument, NULL, 'E'},
		{"fresh-ttl", required_argument, NULL, 'L'}, {"now", no_argument, NULL, 'N'},
		{"replicas", required_argument, NULL, 'P'},
		{"write-window", required_argument, NULL, 'W'}, {"help", no_argument, NULL, 'h'},
		{0}};
	op_sync_cfg cfg = {.branch = "main",
		.path = "apps",
		.nats = OP_DEFAULT_NATS,
		.state = "/var/lib/outpost/sync",
		.verify_all = true,
		.fresh_ttl_ms = 3600000};
	int64_t interval = 30000, fresh_every = 60000;
	bool once = false, now = false;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'r': cfg.repo = optarg; break;
		case 't': cfg.trust = optarg; break;
		case 'R': cfg.revoked = optarg; break;
		case 'm': cfg.match_committer = true; break;
		case 'b': cfg.branch = optarg; break;
		case 'p': cfg.path = optarg; break;
		case 'n': cfg.nats = optarg; break;
		case 's': cfg.state = optarg; break;
		case 'c': cfg.ca_file = optarg; break;
		case 'o': once = true; break;
		case 'N': now = true; break;
		case 'v':
			if (strcmp(optarg, "all") != 0 && strcmp(optarg, "head") != 0) {
				fprintf(stderr, "outpost sync: --verify takes all or head\n");
				return OP_EXIT_USAGE;
			}
			cfg.verify_all = !strcmp(optarg, "all");
			break;
		case 'f':
			if (op_parse_u64(optarg, &cfg.seq_floor) != 0) {
				fprintf(stderr, "outpost sync: --seq-floor takes a number\n");
				return OP_EXIT_USAGE;
			}
			break;
		case 'i':
			if (op_parse_duration_ms(optarg, &interval) != 0 || interval < 100) {
				fprintf(stderr,
					"outpost sync: --interval: expected a duration of "
					"at least 100ms, like 30s\n");
				return OP_EXIT_USAGE;
			}
			break;
		case 'K': cfg.fresh_key = optarg; break;
		case 'P': {
			uint64_t n = 0;
			if (op_parse_u64(optarg, &n) != 0 || n < 1 || n > 5) {
				fprintf(stderr, "outpost sync: --replicas takes 1 to 5\n");
				return OP_EXIT_USAGE;
			}
			cfg.replicas = (int)n;
			break;
		}
		case 'W': {
			uint64_t n = 0;
			if (op_parse_u64(optarg, &n) != 0 || n < 1 || n > 1024) {
				fprintf(stderr, "outpost sync: --write-window takes 1 to 1024\n");
				return OP_EXIT_USAGE;
			}
			cfg.write_window = (int)n;
			break;
		}
		case 'E':
		case 'L': {
			int64_t ms;
			if (op_parse_duration_ms(optarg, &ms) != 0 || ms < 1000) {
				fprintf(stderr,
					"outpost sync: --%s: expected a duration of at least 1s\n",
					c == 'E' ? "fresh-every" : "fresh-ttl");
				return OP_EXIT_USAGE;
			}
			*(c == 'E' ? &fresh_every : &cfg.fresh_ttl_ms) = ms;
			break;
		}
		case 'h': usage(stdout); return OP_EXIT_OK;
		default: usage(stderr); return OP_EXIT_USAGE;
		}
	}
	if (now) {
		if (optind < argc || cfg.repo || cfg.trust || once) {
			fprintf(stderr, "outpost sync: --now takes only --nats\n");
			return OP_EXIT_USAGE;
		}
		return op_sync_now(cfg.nats, 120000);
	}
	if (optind < argc || !cfg.repo || !cfg.trust) {
		fprintf(stderr, "outpost sync: %s\n",
			optind < argc ? "unexpected argument" : "--repo and --trust are required");
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	if (cfg.fresh_key && cfg.fresh_ttl_ms <= fresh_every) {
		fprintf(stderr, "outpost sync: --fresh-ttl must be longer than --fresh-every\n");
		return OP_EXIT_USAGE;
	}
	op_sync *s;
	op_err e = {0};
	if (op_sync_new(&s, &cfg, &e) != 0) {
		op_log_error("sync cannot start", "error=\"%s\"", e.msg);
		return OP_EXIT_FAIL;
	}
	int rc;
	if (once) {
		op_sync_outcome o;
		op_sync_pass(s, &o);
		op_sync_fresh(s);
		op_sync_rollouts(s);
		rc = (o.kind == OP_SYNC_ACCEPTED || o.kind == OP_SYNC_UNCHANGED) ? OP_EXIT_OK
										 : OP_EXIT_FAIL;
		op_sync_outcome_clear(&o);
	} else {
		rc = run_loop(s, interval, cfg.fresh_key ? fresh_every : 0);
	}
	op_sync_free(s);
	return rc;
}
