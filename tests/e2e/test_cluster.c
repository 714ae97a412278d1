/* A hub of three nodes (issue 17, parts 1-3): one JetStream cluster, domain hub, the
 * buckets with three replicas (sync --replicas 3), two sites whose leaf remote lists
 * every node, each with an agent and a host running real processes.
 *
 * - losing a node: kill -9 of the buckets' stream leader, then of the node a site's
 *   link goes to, each in the middle of a push: every accepted revision reaches both
 *   sites, their status keeps reaching the hub, `outpost status` takes the list of
 *   servers with a dead one in it, and the node restarted catches up by itself;
 * - losing two: the hub stops accepting and sync says why, the sites keep running what
 *   they have; the nodes back, the next push goes through;
 * - two syncs at once, one per node: each revision is published by exactly one, the
 *   other stands by ("another sync published revision N"); kill -9 of the one that is
 *   publishing, half way: the other's next pass finishes the revision. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"
#include "t.h"

#define WAIT_MS 45000 /* a mirror or source whose deliveries died with a node: ~10 s more */

static fleet F;
static fl_site B = {.name = "plant-b"};

/* ---- the cluster ---------------------------------------------------------------------- */

static h_nats *node_named(const char *name)
{
	for (int i = 0; name && i < F.hub_nodes; i++)
		if (!strcmp(F.nodes[i]->name, name))
			return F.nodes[i];
	return NULL;
}

/* The node that leads stream's replicas now, NULL if none answers. */
static h_nats *stream_leader(const char *stream)
{
	jsStreamInfo *si = NULL;
	h_nats *n = NULL;
	if (js_GetStreamInfo(&si, F.hub_js, stream, NULL, NULL) == NATS_OK && si->Cluster)
		n = node_named(si->Cluster->Leader);
	jsStreamInfo_Destroy(si);
	return n;
}

static int stream_replicas(const char *stream)
{
	jsStreamInfo *si = NULL;
	int n = -1;
	if (js_GetStreamInfo(&si, F.hub_js, stream, NULL, NULL) == NATS_OK)
		n = (int)si->Config->Replicas;
	jsStreamInfo_Destroy(si);
	return n;
}

/* The hub node a site's leaf link goes to. */
static h_nats *linked_node(h_nats *site)
{
	json_t *j = h_nats_monitor(site, "/leafz");
	h_nats *n = node_named(json_string_value(
		json_object_get(json_array_get(json_object_get(j, "leafs"), 0), "name")));
	json_decref(j);
	return n;
}

/* A stream's last sequence as node's own store holds it (/jsz), -1 if unknown. */
static double node_last_seq(const h_nats *node, const char *stream)
{
	char *text = h_nats_monitor_text(node, "/jsz?streams=true");
	json_t *j = text ? json_loads(text, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
	free(text);
	double seq = -1;
	json_t *accts = json_object_get(j, "account_details");
	for (size_t a = 0; a < json_array_size(accts); a++) {
		json_t *st = json_object_get(json_array_get(accts, a), "stream_detail");
		for (size_t i = 0; i < json_array_size(st); i++) {
			json_t *s = json_array_get(st, i);
			const char *name = json_string_value(json_object_get(s, "name"));
			if (name && !strcmp(name, stream))
				seq = json_number_value(
					json_object_get(json_object_get(s, "state"), "last_seq"));
		}
	}
	json_decref(j);
	return seq;
}

struct caught {
	const h_nats *node;
	const char *stream;
};

static bool caught_up(void *arg)
{
	struct caught *c = arg;
	uint64_t last = fl_last_seq(F.hub_js, c->stream);
	return last > 0 && node_last_seq(c->node, c->stream) == (double)last;
}

/* ---- pushes and what the sites run ------------------------------------------------------ */

struct pushed {
	const char *sha;
	uint64_t seq;
	const char *last; /* the last outcome's reason */
};

static bool push_done(void *arg)
{
	struct pushed *p = arg;
	json_t *j = fl_sync(&F, 10000);
	const char *out = json_string_value(json_object_get(j, "outcome"));
	const char *commit = json_string_value(json_object_get(j, "commit"));
	const char *reason = json_string_value(json_object_get(j, "reason"));
	p->last = h_str("%s: %s", out ? out : "no answer", reason ? reason : "");
	bool ok = out && commit && !strcmp(commit, p->sha) &&
		(!strcmp(out, "accepted") || !strcmp(out, "unchanged"));
	if (ok)
		p->seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	json_decref(j);
	return ok;
}

/* Commits app 0 at version ver and asks sync until it publishes it (a pass during an
 * election fails; the next one goes through): its seq, 0 after ms. */
static uint64_t push_version(int ver, int ms)
{
	F.apps[0].ver = ver;
	struct pushed p = {fl_commit(&F, F.key, h_str("v%d", ver)), 0, ""};
	if (!p.sha)
		return 0;
	if (!h_wait_until(push_done, &p, ms)) {
		fprintf(stderr, "  push of v%d: last outcome %s\n", ver, p.last);
		return 0;
	}
	F.seq = p.seq;
	return p.seq;
}

/* Workloads of app 0 at version ver under host i's shims. */
static int host_runs(int host, int ver)
{
	fl_procs p;
	fl_scan(&F, &p);
	int n = 0;
	for (int w = 0; w < p.nw; w++)
		for (int s = 0; s < p.ns; s++)
			if (p.spid[s] == p.wppid[w] && p.shost[s] == host && p.wapp[w] == 0 &&
				p.wver[w] == ver)
				n++;
	return n;
}

static long long seq_of(kvStore *kv, const char *site)
{
	json_t *j = fl_kv_json(kv, h_str("site.%s.agent", site));
	long long seq = j ? json_integer_value(json_object_get(j, "seq")) : -1;
	json_decref(j);
	return seq;
}

struct everywhere {
	int ver;
	uint64_t seq;
};

/* Both sites run the revision (each agent says so at its site, each host runs it) and
 * the hub sees both sites' status saying so. */
static bool everywhere(void *arg)
{
	struct everywhere *w = arg;
	return host_runs(0, w->ver) == 1 && host_runs(1, w->ver) == 1 &&
		seq_of(F.site_status, F.name) == (long long)w->seq &&
		seq_of(B.status, B.name) == (long long)w->seq &&
		seq_of(F.hub_status, F.name) == (long long)w->seq &&
		seq_of(F.hub_status, B.name) == (long long)w->seq;
}

static bool wait_everywhere(int ver, uint64_t seq)
{
	struct everywhere w = {ver, seq};
	long long t0 = h_now_ms();
	bool ok = h_wait_until(everywhere, &w, WAIT_MS);
	if (!ok)
		fprintf(stderr,
			"  v%d (seq %llu): host0 %d host1 %d, agents at %lld/%lld, hub sees "
			"%lld/%lld\n",
			ver, (unsigned long long)seq, host_runs(0, ver), host_runs(1, ver),
			seq_of(F.site_status, F.name), seq_of(B.status, B.name),
			seq_of(F.hub_status, F.name), seq_of(F.hub_status, B.name));
	else
		printf("  v%d (seq %llu) at both sites, status at the hub, in %lld ms\n", ver,
			(unsigned long long)seq, h_now_ms() - t0);
	return ok;
}

/* The fleet both tests share (started by the first that runs). */
static bool start(void)
{
	static int started;
	if (started)
		return started > 0;
	started = -1;
	F.hub_nodes = 3;
	F.sync_args = "--replicas 3";
	F.site_hosts = 1;
	F.apps[0] = (fl_app){.on = true, .ver = 1, .instances = 1};
	if (!fl_start(&F, "plant-a", 1) || !fl_site_start(&F, &B, 1, ""))
		return false;
	started = 1;
	return true;
}

/* ---- losing nodes ----------------------------------------------------------------------- */

struct status_run {
	const char *urls;
	char *out;
};

/* outpost status through the list answers and shows the other site. Right after a
 * node's death it may time out once: the consumer of its watch waits for a new meta
 * leader when the dead node was that. */
static bool status_ok(void *arg)
{
	struct status_run *r = arg;
	free(r->out);
	r->out = NULL;
	return h_run(&r->out, "%s status --nats %s", F.bin, r->urls) == 0 &&
		strstr(r->out, B.name) != NULL;
}

struct moved {
	uint64_t from;
};

static bool stream_moved(void *arg)
{
	struct moved *m = arg;
	return fl_last_seq(F.hub_js, "KV_outpost") > m->from;
}

/* Commits every app at ver (sixteen apps: many writes), asks sync for a pass without
 * waiting, and kills victim as soon as the bucket moves: in the middle of the publish. */
static void kill_mid_publish(h_nats *victim, int ver)
{
	for (int i = 1; i < FL_MAXAPPS; i++)
		F.apps[i] = (fl_app){.on = true, .ver = ver, .instances = 1};
	F.apps[0].ver = ver;
	const char *sha = fl_commit(&F, F.key, h_str("v%d, all apps", ver));
	T_REQUIRE(sha);
	struct moved m = {fl_last_seq(F.hub_js, "KV_outpost")};
	T_REQUIRE(natsConnection_PublishRequestString(F.hub_nc, "outpost.hub.sync.now",
			  "_INBOX.test-cluster-ignored", "{}") == NATS_OK);
	T_REQUIRE(h_wait_until_poll(stream_moved, &m, WAIT_MS, 200));
	T_REQUIRE(h_nats_stop(victim, true) == 0);
	json_t *j = fl_kv_json(F.hub_kv, "rev");
	const char *c = json_string_value(json_object_get(j, "commit"));
	printf("  ... killed during the publish of v%d: marker %s\n", ver,
		c && !strcmp(c, sha) ? "written already" : "not written yet");
	json_decref(j);
}

/* kill -9 of victim (mid: during a publish), a push, every site gets it, the status
 * command through a list with the dead node first works, and the node comes back and
 * catches up. */
static void lose_node(h_nats *victim, int ver, const char *why, bool mid)
{
	printf("  kill -9 %s (%s)\n", victim->name, why);
	if (mid)
		kill_mid_publish(victim, ver);
	else
		T_REQUIRE(h_nats_stop(victim, true) == 0);
	uint64_t seq = push_version(ver, WAIT_MS);
	T_REQUIRE(seq > 0);
	T_CHECK(wait_everywhere(ver, seq));
	/* --nats takes a list: the dead node first. */
	const char *urls = victim->url;
	for (int i = 0; i < F.hub_nodes; i++)
		if (F.nodes[i] != victim)
			urls = h_str("%s,%s", urls, F.nodes[i]->url);
	struct status_run st = {urls, NULL};
	long long t0 = h_now_ms();
	T_CHECK_MSG(h_wait_until(status_ok, &st, WAIT_MS), "status --nats %s: %s", urls,
		st.out ? st.out : "");
	printf("  outpost status --nats <dead node first, then the others>: ok after %lld ms\n",
		h_now_ms() - t0);
	free(st.out);

	t0 = h_now_ms();
	T_REQUIRE(h_nats_start_again(victim) == 0);
	T_CHECK(h_wait_until(caught_up, &(struct caught){victim, "KV_outpost"}, WAIT_MS));
	T_CHECK(h_wait_until(caught_up, &(struct caught){victim, "KV_outpost-status"}, WAIT_MS));
	printf("  %s back, caught up after %lld ms\n", victim->name, h_now_ms() - t0);
}

static void test_lose_a_node(void)
{
	T_REQUIRE(start());
	T_EQ_INT(stream_replicas("KV_outpost"), 3);
	T_EQ_INT(stream_replicas("KV_outpost-status"), 3);
	uint64_t seq = push_version(1, WAIT_MS);
	T_REQUIRE(seq > 0);
	T_REQUIRE(wait_everywhere(1, seq));

	h_nats *leader = stream_leader("KV_outpost");
	T_REQUIRE(leader);
	lose_node(leader, 2, "the leader of KV_outpost", true);
	/* Then the leader of the status stream, else the node plant-a links to, else
	 * another: a second node, so that every role was lost once. */
	h_nats *second = stream_leader("KV_outpost-status"), *why = second;
	if (!second || second == leader)
		second = linked_node(F.site);
	if (!second || second == leader)
		second = F.nodes[leader == F.nodes[0] ? 1 : 0];
	T_REQUIRE(second);
	lose_node(second, 3,
		why == second                           ? "the leader of KV_outpost-status"
			: second == linked_node(F.site) ? "plant-a's leaf link goes to it"
							: "another node",
		false);

	/* Two of three gone: no quorum. Sync says it cannot publish; the sites keep
	 * running what they have. */
	h_nats *keep = F.nodes[2];
	T_REQUIRE(h_nats_stop(F.nodes[0], true) == 0 && h_nats_stop(F.nodes[1], true) == 0);
	F.apps[0].ver = 4;
	const char *sha = fl_commit(&F, F.key, "v4");
	T_REQUIRE(sha);
	long long t0 = h_now_ms();
	json_t *j = fl_sync(&F, WAIT_MS);
	const char *out = json_string_value(json_object_get(j, "outcome"));
	const char *reason = json_string_value(json_object_get(j, "reason"));
	printf("  two nodes gone: sync %s after %lld ms: %s\n", out ? out : "-", h_now_ms() - t0,
		reason ? reason : "-");
	T_CHECK(out && !strcmp(out, "failed") && reason && strstr(reason, "quorum"));
	json_decref(j);
	T_CHECK(h_leaf_wait(F.site, WAIT_MS) && linked_node(F.site) == keep);
	T_EQ_INT(host_runs(0, 3) + host_runs(1, 3), 2);
	T_EQ_INT(fl_agent_seq(&F), (long long)F.seq);

	/* Both back: the revision refused meanwhile goes through on the next pass. */
	T_REQUIRE(h_nats_start_again(F.nodes[0]) == 0 && h_nats_start_again(F.nodes[1]) == 0);
	struct pushed p = {sha, 0, ""};
	t0 = h_now_ms();
	T_REQUIRE(h_wait_until(push_done, &p, WAIT_MS));
	printf("  both back: v4 accepted after %lld ms\n", h_now_ms() - t0);
	T_CHECK(wait_everywhere(4, p.seq));
	T_CHECK(fl_log_count(h_path("sync.log"), 0, "level=error") >= 1);
}

/* ---- two syncs ---------------------------------------------------------------------------- */

static const char *sync2_log(void)
{
	return h_path("sync2.log");
}

static pid_t start_sync2(const char *extra)
{
	return h_spawn_sh(sync2_log(),
		"%s sync --repo %s --trust %s --state %s --nats %s,%s --interval 1h %s", F.bin,
		F.repo->path, F.trust, h_path("sync2-state"), F.nodes[1]->url, F.nodes[2]->url,
		extra);
}

static bool is_head(void *sha)
{
	json_t *j = fl_kv_json(F.hub_kv, "rev");
	const char *commit = json_string_value(json_object_get(j, "commit"));
	bool ok = commit && !strcmp(commit, sha);
	json_decref(j);
	return ok;
}

static void test_two_syncs(void)
{
	T_REQUIRE(start());
	pid_t sync2 = start_sync2("--replicas 3");
	T_REQUIRE(sync2 > 0);
	T_REQUIRE(fl_wait_key(F.hub_kv, "rev", WAIT_MS));
	T_REQUIRE(h_wait_output("msg=\"sync pass\"", WAIT_MS, "cat %s", h_q(sync2_log())));
	/* Pushes with both running: each revision has one writer. */
	const char *log1 = h_path("sync.log"), *shas[4];
	long off1 = fl_log_size(log1), off2 = fl_log_size(sync2_log());
	json_t *rev = fl_kv_json(F.hub_kv, "rev");
	uint64_t before = (uint64_t)json_integer_value(json_object_get(rev, "seq")), first = 0;
	json_decref(rev);
	for (int v = 11; v <= 14; v++) {
		uint64_t seq = push_version(v, WAIT_MS);
		T_REQUIRE(seq > 0);
		shas[v - 11] = h_repo_rev(F.repo, "HEAD");
		if (!first)
			first = seq;
		T_EQ_INT(first, before + 1); /* nothing published in between */
		T_EQ_INT(seq, first + (uint64_t)(v - 11)); /* one revision per push, no gap */
		T_CHECK(fl_wait_set(&F, fl_plan(&F), WAIT_MS));
	}
	const char *stood_msg = "another sync published the revision";
	int won1 = fl_log_count(log1, off1, "outcome=accepted");
	int won2 = fl_log_count(sync2_log(), off2, "outcome=accepted");
	int stood1 = fl_log_count(log1, off1, stood_msg);
	int stood2 = fl_log_count(sync2_log(), off2, stood_msg);
	printf("  4 pushes, both syncs asked each time: published by sync1 %d, sync2 %d; "
	       "stood by after a lost race: sync1 %d, sync2 %d\n",
		won1, won2, stood1, stood2);
	/* Informational: the checks above and below are the property. Seen once in about
	 * ten runs: sync1 logging one "accepted" more than the four (not named by any of
	 * the four commits, with no revision between them): the lines are shown. */
	if (won1 + won2 != 4)
		h_run(NULL,
			"tail -c +%ld %s | grep -e outcome= -e another >&2; echo --- >&2; "
			"tail -c +%ld %s | grep -e outcome= -e another >&2; exit 1",
			off1 + 1, h_q(log1), off2 + 1, h_q(sync2_log()));
	for (int i = 0; i < 4; i++) { /* exactly one pass published each revision */
		const char *line = h_str("outcome=accepted commit=%.12s", shas[i]);
		int n = fl_log_count(log1, 0, line) + fl_log_count(sync2_log(), 0, line);
		T_CHECK_MSG(n == 1, "%.12s was published by %d passes", shas[i], n);
	}
	T_CHECK(stood1 + stood2 <= 4);
	T_CHECK(fl_log_count(log1, off1, "level=error") == 0 &&
		fl_log_count(sync2_log(), off2, "level=error") == 0);

	/* Kill -9 of the one publishing, half way: many apps make many writes. sync2 is
	 * stopped so that sync1 alone starts on the revision, with its first pass. sync1
	 * sends each write after the one before is stored (--write-window 1): a window of
	 * writes in flight is stored within milliseconds, before the kill could come. What
	 * is left is a half revision either way, a stored prefix of the chain. */
	long off;
	h_proc_stop(sync2, false, 5000);
	h_proc_stop(F.sync_pid, false, 5000);
	const char *sha = NULL;
	bool half = false;
	uint64_t wrote = 0;
	/* The kill may come after the marker on a fast machine: again with a new revision. */
	for (int attempt = 0; attempt < 3 && !half; attempt++) {
		for (int i = 0; i < FL_MAXAPPS; i++)
			F.apps[i] = (fl_app){.on = true, .ver = 7 + attempt, .instances = 1};
		sha = fl_commit(&F, F.key, "many");
		T_REQUIRE(sha);
		struct moved m = {fl_last_seq(F.hub_js, "KV_outpost")};
		F.sync_args = "--replicas 3 --write-window 1";
		T_REQUIRE(fl_start_sync(&F) > 0);
		F.sync_args = "--replicas 3";
		T_REQUIRE(h_wait_until_poll(stream_moved, &m, WAIT_MS, 200));
		h_proc_stop(F.sync_pid, true, 0);
		wrote = fl_last_seq(F.hub_js, "KV_outpost") - m.from;
		half = !is_head((void *)sha);
		printf("  sync1 killed after %llu of the revision's writes, marker %s\n",
			(unsigned long long)wrote, half ? "not written" : "written already");
	}
	T_REQUIRE(half);
	off = fl_log_size(sync2_log());
	sync2 = start_sync2("--replicas 3");
	T_REQUIRE(sync2 > 0);
	T_CHECK(h_wait_until(is_head, (void *)sha, WAIT_MS));
	T_CHECK(fl_wait_set(&F, fl_plan(&F), WAIT_MS));
	/* It finished the revision: only what sync1 had not written (apps come first). */
	const char *done = h_str("outcome=accepted commit=%.12s", sha);
	T_CHECK(h_wait_output(done, WAIT_MS, "tail -c +%ld %s", off + 1, h_q(sync2_log())));
	T_CHECK(fl_log_count(sync2_log(), off, "published 16 apps (16 written") == 0);

	/* A bucket with fewer replicas than asked is reported, with the fix. */
	h_proc_stop(sync2, false, 5000);
	off = fl_log_size(sync2_log());
	sync2 = start_sync2("--replicas 5");
	T_CHECK(h_wait_output("nats stream edit KV_outpost --replicas 5", WAIT_MS,
		"tail -c +%ld %s", off + 1, h_q(sync2_log())));

	/* The artifact store, made by its first put, has the desired state's replicas. */
	h_write(h_path("art.bin"), "payload\n");
	T_CHECK(h_run(NULL, "%s artifact put --nats %s %s >/dev/null", F.bin, h_nats_urls(F.hub),
			h_path("art.bin")) == 0);
	T_EQ_INT(stream_replicas("OBJ_outpost-artifacts"), 3);
}

int main(void)
{
	T_RUN(test_lose_a_node);
	T_RUN(test_two_syncs);
	fl_site_stop(&B);
	fl_stop(&F);
	return t_done();
}
