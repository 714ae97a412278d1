/* How long a site takes to catch up after missing 10, 100 and 1,000 revisions, against
 * the floor of its mirror's own catch-up in the same run. A hub and a site nats-server
 * come from the harness, with `outpost agent` at the site; the revisions (20 apps, two
 * changed in each, then the commit marker) are written straight into the hub's bucket
 * while the site's link is cut, as sync writes them (app puts, then the marker) but
 * without git in the way, so that 1,000 of them fit in a cut shorter than the 10 s
 * after which nats-server 2.10's mirror stalls by itself. Each write is conditional on
 * the stream's last sequence (Nats-Expected-Last-Sequence), a compare-and-set that a
 * mirror can replay after the hub trimmed its per-key history.
 *
 * After the link is restored, timed from the restore, by callbacks on the site server:
 *   floor: the site's KV_outpost holds the hub's last sequence (an ordered consumer on
 *          the mirror's stream sees it);
 *   agent: the agent's status key says it runs the newest revision (it writes it right
 *          after applying one, which includes persisting it to --state).
 * Printed: both, their ratio (goal <= 1.2) and how many revisions the agent applied
 * during the catch-up (goal: 1). A last round keeps the link cut for 25 s, long enough
 * for the mirror to stall after the restore: there the agent does not wait for the
 * mirror but reads the hub's bucket past it, and the mirror's time is what the site
 * would wait without that repair. The exit status is non-zero only when something does
 * not happen at all. OUTPOST_KEEP=1 keeps the temp dir. */
#include <nats/nats.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/agent/base/util.h"

#define NAPPS 20
#define GOAL 1.2

static h_nats *hub, *site;
static natsConnection *hub_nc, *site_nc;
static jsCtx *hub_js, *site_js;
static char *app_json[NAPPS];
static size_t app_len[NAPPS];
static char app_digest[NAPPS][OP_DIGEST_LEN + 1];
static uint64_t seq, hub_last;
static int failed;

/* ---- the hub's bucket, written as sync writes it ------------------------------------ */

static uint64_t stream_last(jsCtx *js)
{
	jsStreamInfo *si = NULL;
	if (js_GetStreamInfo(&si, js, "KV_outpost", NULL, NULL) != NATS_OK)
		return 0;
	uint64_t n = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return n;
}

static bool put(const char *key, const char *val, size_t len)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.ExpectLastSeq = hub_last;
	jsPubAck *ack = NULL;
	natsStatus s = js_Publish(
		&ack, hub_js, h_str("$KV.outpost.%s", key), val, (int)len, &po, NULL);
	if (s != NATS_OK) {
		fprintf(stderr, "bench: put %s: %s\n", key, natsStatus_GetText(s));
		return false;
	}
	hub_last = ack->Sequence;
	jsPubAck_Destroy(ack);
	return true;
}

static bool set_app(int i, int version)
{
	const char *yaml = h_str(
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		"  name: app-%02d\n  annotations: {version: v%d}\nspec:\n  components:\n"
		"    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%d\"]\n      traits:\n"
		"        - type: spreadscaler\n          properties:\n            instances: 2\n",
		i, version, 1000000 + version);
	op_app *app = NULL;
	op_diags d = {0};
	int rc = op_manifest_parse("bench.yaml", yaml, strlen(yaml), &app, &d);
	op_diags_clear(&d);
	if (rc)
		return false;
	free(app_json[i]);
	rc = op_manifest_to_json(app, &app_json[i], &app_len[i]);
	op_app_free(app);
	if (rc)
		return false;
	op_digest(app_json[i], app_len[i], app_digest[i]);
	return put(h_str("app.app-%02d", i), app_json[i], app_len[i]);
}

static bool put_marker(void)
{
	op_marker m = {0};
	op_marker_app apps[NAPPS] = {0};
	snprintf(m.commit, sizeof m.commit, "%040llx", (unsigned long long)(0xbe0000 + ++seq));
	m.seq = seq;
	snprintf(m.signer, sizeof m.signer, "bench");
	op_time_rfc3339(op_wall_ms() / 1000, m.time);
	for (int i = 0; i < NAPPS; i++) {
		snprintf(apps[i].name, sizeof apps[i].name, "app-%02d", i);
		memcpy(apps[i].digest, app_digest[i], sizeof apps[i].digest);
	}
	m.apps = apps;
	m.napps = NAPPS;
	char *json = NULL;
	op_err e = {0};
	bool ok = op_marker_encode(&m, &json, &e) == 0 && put("rev", json, strlen(json));
	free(json);
	return ok;
}

/* One revision: two apps changed, then the marker. */
static bool revision(int r)
{
	return set_app(r % NAPPS, r) && set_app((r + 7) % NAPPS, r) && put_marker();
}

static bool mirror_level(void *arg)
{
	(void)arg;
	return stream_last(site_js) >= hub_last;
}

/* ---- what the site shows, timed by callbacks ------------------------------------------ */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long long t_restore, t_floor, t_agent;
static uint64_t want_seq, want_last;

static void on_mirror(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	jsMsgMetaData *md = NULL;
	long long now = h_now_ms();
	if (natsMsg_GetMetaData(&md, msg) == NATS_OK) {
		pthread_mutex_lock(&mu);
		if (!t_floor && want_last && md->Sequence.Stream >= want_last)
			t_floor = now;
		pthread_mutex_unlock(&mu);
		jsMsgMetaData_Destroy(md);
	}
	natsMsg_Destroy(msg);
}

static void on_status(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	long long now = h_now_ms();
	json_t *j = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	uint64_t s = (uint64_t)json_integer_value(json_object_get(j, "seq"));
	json_decref(j);
	pthread_mutex_lock(&mu);
	if (!t_agent && want_seq && s == want_seq)
		t_agent = now;
	pthread_mutex_unlock(&mu);
	natsMsg_Destroy(msg);
}

static bool both_seen(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	bool done = t_floor && t_agent;
	pthread_mutex_unlock(&mu);
	return done;
}

static bool agent_at(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&mu);
	bool done = t_agent != 0;
	pthread_mutex_unlock(&mu);
	return done;
}

static int count_lines(const char *path, long from, const char *what)
{
	char *s = h_read(path);
	int n = 0;
	for (char *p = s && (long)strlen(s) > from ? s + from : NULL; p && (p = strstr(p, what));
		p += strlen(what))
		n++;
	free(s);
	return n;
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

struct hold {
	long long since, ms;
};

static bool held(void *arg)
{
	struct hold *h = arg;
	return h_now_ms() - h->since >= h->ms;
}

/* Cuts the link, writes missed revisions, keeps the link cut for at least hold_ms,
 * restores it and times the catch-up. */
static void round_of(int missed, int hold_ms, int *rev)
{
	h_link_cut(site);
	struct hold h = {h_now_ms(), hold_ms};
	for (int i = 0; i < missed; i++)
		if (!revision(++*rev)) {
			failed = 1;
			return;
		}
	h_wait_until(held, &h, hold_ms + 1000);
	long long cut_ms = h_now_ms() - h.since;
	long log0 = file_size(h_path("agent.log"));
	pthread_mutex_lock(&mu);
	t_floor = t_agent = 0;
	want_seq = seq;
	want_last = hub_last;
	t_restore = h_now_ms();
	pthread_mutex_unlock(&mu);
	h_link_restore(site);
	if (!h_wait_until(both_seen, NULL, 120000)) {
		fprintf(stderr, "bench: after %d missed revisions: mirror %s, agent %s\n", missed,
			t_floor ? "caught up" : "never caught up",
			t_agent ? "caught up" : "never caught up");
		failed = 1;
		return;
	}
	long long floor = t_floor - t_restore, agent = t_agent - t_restore;
	int applied = count_lines(h_path("agent.log"), log0, "applying revision");
	printf("  %4d revisions missed (%4d messages, cut %5lld ms): mirror %5lld ms, agent "
	       "%5lld ms, ratio %.2f (goal <= %.1f), revisions applied %d (goal 1)\n",
		missed, missed * 3, cut_ms, floor, agent,
		floor > 0 ? (double)agent / (double)floor : 0.0, GOAL, applied);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	printf("bench_catchup: a site catching up after missed revisions (%d apps, 2 changed "
	       "a revision)\n",
		NAPPS);
	hub = h_hub_start();
	site = hub ? h_site_start(hub, "plant") : NULL;
	if (!site || !h_leaf_wait(site, 30000) ||
		natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) != NATS_OK ||
		natsConnection_ConnectTo(&site_nc, h_nats_url(site)) != NATS_OK ||
		natsConnection_JetStream(&hub_js, hub_nc, NULL) != NATS_OK ||
		natsConnection_JetStream(&site_js, site_nc, NULL) != NATS_OK)
		return 1;
	kvConfig c;
	kvConfig_Init(&c);
	c.Bucket = "outpost";
	c.History = 8;
	c.StorageType = js_FileStorage;
	kvStore *kv = NULL;
	if (js_CreateKeyValue(&kv, hub_js, &c) != NATS_OK)
		return 1;
	hub_last = stream_last(hub_js);
	int rev = 0;
	for (int i = 0; i < NAPPS; i++)
		if (!set_app(i, 0))
			return 1;
	if (!put_marker())
		return 1;
	if (h_run(NULL, "cp %s/outpost %s && %s --version", h_q(cwd), h_q(h_path("outpost")),
		    h_q(h_path("outpost"))) != 0 ||
		h_spawn_sh(h_path("agent.log"), "%s agent --site plant --nats %s --state %s",
			h_path("outpost"), h_nats_url(site), h_path("agent-state")) <= 0)
		return 1;
	/* The agent makes the site's buckets; then watch them. */
	natsSubscription *ssub = NULL, *msub = NULL;
	natsConnection_Subscribe(
		&ssub, site_nc, "$KV.outpost-status.site.plant.agent", on_status, NULL);
	want_seq = seq;
	if (!h_wait_until(agent_at, NULL, 60000)) {
		fprintf(stderr, "bench: the agent never applied the first revision\n");
		return 1;
	}
	/* The mirror level with the hub before the first cut: a cut during its first
	 * consumer request would cost the server's own 40 s, not the catch-up's. */
	if (!h_wait_until(mirror_level, NULL, 120000)) {
		fprintf(stderr, "bench: the site's mirror never caught up with the hub\n");
		return 1;
	}
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = "KV_outpost";
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverNew;
	if (js_Subscribe(&msub, site_js, "$KV.outpost.>", on_mirror, NULL, NULL, &so, NULL) !=
		NATS_OK) {
		fprintf(stderr, "bench: cannot follow the site's mirror\n");
		return 1;
	}
	int rounds[] = {10, 100, 1000};
	for (int i = 0; i < 3 && !failed; i++)
		round_of(rounds[i], 0, &rev);
	/* A cut longer than the server's 10 s mirror check: the mirror stalls (its request
	 * for a new consumer was lost), the agent reads the hub past it after 5 s. The
	 * ratio is then the repair's gain, not a cost. */
	printf("  after a cut long enough for the mirror to stall (the agent reads the hub "
	       "past it):\n");
	if (!failed)
		round_of(100, 25000, &rev);
	natsSubscription_Destroy(msub);
	natsSubscription_Destroy(ssub);
	kvStore_Destroy(kv);
	jsCtx_Destroy(hub_js);
	jsCtx_Destroy(site_js);
	natsConnection_Destroy(hub_nc);
	natsConnection_Destroy(site_nc);
	for (int i = 0; i < NAPPS; i++)
		free(app_json[i]);
	return failed;
}
