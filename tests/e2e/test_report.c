/* The sites' status reaching the hub as reports (agent/site/report.c, sync/loop/reports.c),
 * end to end: a hub with its sync, a site with its agent and a host.
 *
 * What is checked: the site's keys reach the hub's outpost-status; a report that names
 * another site's keys, or arrives on another site's subject, is refused and stores
 * nothing; what changes at the site while the hub's sync is down reaches the hub once
 * sync is back (the agent keeps it and retries); sources that an older outpost added to
 * the hub's status stream are removed when sync starts; `agent --report` sets how often
 * the agent's own key is rewritten (its liveness at the hub), at most --resync; the keys
 * one round of the agent writes reach the hub in one report. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "harness.h"
#include "t.h"

#define WAIT_MS 30000

static fleet F;

/* The hub's key of host h0 says alive as wanted. */
static bool host_alive_is(void *arg)
{
	json_t *j = fl_kv_json(F.hub_status, "site.plant.host.h0");
	bool ok = j && json_is_true(json_object_get(j, "alive")) == (arg != NULL);
	json_decref(j);
	return ok;
}

static bool site_host_dead(void *arg)
{
	(void)arg;
	json_t *j = fl_kv_json(F.site_status, "site.plant.host.h0");
	bool ok = j && json_is_false(json_object_get(j, "alive"));
	json_decref(j);
	return ok;
}

static void test_setup(void)
{
	T_REQUIRE(fl_start(&F, "plant", 1));
	F.apps[0] = (fl_app){.on = true, .ver = 1, .instances = 1};
	T_REQUIRE(fl_push(&F) > 0);
	T_CHECK(fl_wait_set(&F, "00.001=1;", WAIT_MS));
	T_CHECK(fl_wait_key(F.hub_status, "site.plant.app.a00", WAIT_MS));
	T_CHECK(h_wait_until(host_alive_is, (void *)1, WAIT_MS));
}

/* The hub's answer to a report sent by hand. */
static const char *ask(const char *subject, const char *body)
{
	natsMsg *m = NULL;
	natsStatus s = natsConnection_RequestString(&m, F.site_nc, subject, body, 5000);
	const char *out = h_str("%s", s == NATS_OK ? natsMsg_GetData(m) : natsStatus_GetText(s));
	natsMsg_Destroy(m);
	return out;
}

static void test_forged_refused(void)
{
	/* across the leaf link, as a site's agent would send them */
	const char *r = ask("outpost.hub.status.plant",
		"{\"v\":1,\"site\":\"plant\",\"put\":{\"site.other.agent\":{\"v\":1}}}");
	T_CHECK_MSG(strstr(r, "\"ok\":false") && strstr(r, "not under site.plant."), "%s", r);
	r = ask("outpost.hub.status.other",
		"{\"v\":1,\"site\":\"plant\",\"put\":{\"site.plant.agent\":{\"forged\":1}}}");
	T_CHECK_MSG(strstr(r, "\"ok\":false") && strstr(r, "not the site of the subject"), "%s", r);
	r = ask("outpost.hub.status.plant",
		"{\"v\":1,\"site\":\"plant\",\"put\":{\"hub.sync\":{}}}");
	T_CHECK_MSG(strstr(r, "\"ok\":false"), "%s", r);
	json_t *j = fl_kv_json(F.hub_status, "site.other.agent");
	T_CHECK(j == NULL);
	json_decref(j);
	j = fl_kv_json(F.hub_status, "site.plant.agent");
	T_CHECK(j && !json_object_get(j, "forged"));
	json_decref(j);
	j = fl_kv_json(F.hub_status, "hub.sync");
	T_CHECK(j && json_object_get(j, "outcome"));
	json_decref(j);
	/* refused once in sync's log per site, not once a report */
	T_CHECK(fl_log_count(h_path("sync.log"), 0, "site report refused") <= 2);
	/* an honest one is stored */
	r = ask("outpost.hub.status.plant",
		"{\"v\":1,\"site\":\"plant\",\"put\":{\"site.plant.extra\":{\"v\":1}}}");
	T_CHECK_MSG(strstr(r, "\"ok\":true"), "%s", r);
	T_CHECK(fl_wait_key(F.hub_status, "site.plant.extra", WAIT_MS));
	r = ask("outpost.hub.status.plant",
		"{\"v\":1,\"site\":\"plant\",\"del\":[\"site.plant.extra\"]}");
	T_CHECK_MSG(strstr(r, "\"ok\":true"), "%s", r);
	j = fl_kv_json(F.hub_status, "site.plant.extra");
	T_CHECK(j == NULL);
	json_decref(j);
}

static void test_kept_while_sync_down(void)
{
	T_REQUIRE(h_proc_stop(F.sync_pid, false, 10000) == 0);
	F.sync_pid = 0;
	long off = fl_log_size(fl_agent_log());
	T_REQUIRE(fl_box_down(&F, 0));
	/* the site knows; the hub cannot hear it */
	T_REQUIRE(h_wait_until(site_host_dead, NULL, WAIT_MS));
	T_CHECK(host_alive_is((void *)1));

	/* An older outpost's source on the hub's status stream, removed when sync starts. */
	jsStreamInfo *si = NULL;
	T_REQUIRE(js_GetStreamInfo(&si, F.hub_js, "KV_outpost-status", NULL, NULL) == NATS_OK);
	jsExternalStream ext = {.APIPrefix = "$JS.plant.API", .DeliverPrefix = ""};
	jsStreamSource src = {.Name = "KV_outpost-status",
		.FilterSubject = "$KV.outpost-status.site.plant.>",
		.External = &ext};
	jsStreamSource *srcs[] = {&src};
	si->Config->Sources = srcs;
	si->Config->SourcesLen = 1;
	jsStreamInfo *up = NULL;
	natsStatus s = js_UpdateStream(&up, F.hub_js, si->Config, NULL, NULL);
	si->Config->Sources = NULL;
	si->Config->SourcesLen = 0;
	jsStreamInfo_Destroy(si);
	T_REQUIRE(s == NATS_OK && up && up->Config->SourcesLen == 1);
	jsStreamInfo_Destroy(up);

	T_REQUIRE(fl_start_sync(&F) > 0);
	T_CHECK(h_wait_until(host_alive_is, NULL, WAIT_MS));
	/* nobody answering for less than a minute is no news: the agent said nothing */
	T_EQ_INT(fl_log_count(fl_agent_log(), off, "status does not reach the hub"), 0);
	si = NULL;
	T_REQUIRE(js_GetStreamInfo(&si, F.hub_js, "KV_outpost-status", NULL, NULL) == NATS_OK);
	T_EQ_INT(si->Config->SourcesLen, 0);
	jsStreamInfo_Destroy(si);
	T_EQ_INT(fl_log_count(h_path("sync.log"), 0, "status sources of an older outpost removed"),
		1);

	/* the box back: alive at the hub again */
	T_REQUIRE(fl_start_host(&F, 0) > 0);
	T_CHECK(h_wait_until(host_alive_is, (void *)1, WAIT_MS));
}

/* The hub's agent key: its report_ms, and each new "updated" counted in *seen. */
struct agent_key {
	long long report_ms;
	char last[40];
	int seen;
};

static bool agent_key_read(void *arg)
{
	struct agent_key *k = arg;
	json_t *j = fl_kv_json(F.hub_status, "site.plant.agent");
	const char *u = json_string_value(json_object_get(j, "updated"));
	k->report_ms = json_integer_value(json_object_get(j, "report_ms"));
	if (u && strcmp(u, k->last)) {
		snprintf(k->last, sizeof k->last, "%s", u);
		k->seen++;
	}
	json_decref(j);
	return false;
}

static bool report_ms_is(void *arg)
{
	struct agent_key *k = arg;
	long long want = k->report_ms;
	agent_key_read(k);
	bool ok = k->report_ms == want;
	k->report_ms = want;
	return ok;
}

static bool rewritten(void *arg)
{
	struct agent_key *k = arg;
	agent_key_read(k);
	return k->seen >= 4;
}

/* Restarts the agent with these flags. */
static void agent_restart(const char *args)
{
	T_REQUIRE(h_proc_stop(F.agent_pid, false, 10000) == 0);
	F.agent_args = args;
	T_REQUIRE(fl_start_agent(&F) > 0);
}

static void test_report_interval(void)
{
	/* refused before anything starts: too short, or not a duration */
	char *err = NULL;
	int rc = h_run2(NULL, &err, "%s agent --site plant --report 500ms", F.bin);
	T_CHECK_MSG(rc == 2 && strstr(err, "--report: expected a duration like 30s (at least 1s)"),
		"rc=%d %s", rc, err);
	free(err);
	err = NULL;
	rc = h_run2(NULL, &err, "%s agent --site plant --report soon", F.bin);
	T_CHECK(rc == 2 && strstr(err, "--report"));
	free(err);
	char *out = NULL;
	T_CHECK(h_run(&out, "%s agent --help", F.bin) == 0 && strstr(out, "--report DUR"));
	free(out);

	/* the fleet's agents run with --resync 2s: the default 5 s is capped by it */
	struct agent_key k = {.report_ms = 2000};
	T_CHECK(h_wait_until(report_ms_is, &k, WAIT_MS));
	/* every second: the key is rewritten with nothing else changing */
	agent_restart("--report 1s");
	k = (struct agent_key){.report_ms = 1000};
	T_REQUIRE(h_wait_until(report_ms_is, &k, WAIT_MS));
	k.seen = 0;
	T_CHECK_MSG(h_wait_until(rewritten, &k, WAIT_MS), "rewritten %d times", k.seen);
	/* below the resync it stands; the later --resync wins over the fleet's */
	agent_restart("--report 3s --resync 10s");
	k = (struct agent_key){.report_ms = 3000};
	T_CHECK(h_wait_until(report_ms_is, &k, WAIT_MS));
	agent_restart("--report 1m");
	k = (struct agent_key){.report_ms = 2000};
	T_CHECK(h_wait_until(report_ms_is, &k, WAIT_MS));
	agent_restart("");
}

/* The seq a report puts under key; -1 when it holds none. */
static long long put_seq(json_t *report, const char *key)
{
	json_t *v = json_object_get(json_object_get(report, "put"), key);
	return v ? json_integer_value(json_object_get(v, "seq")) : -1;
}

/* A new revision: the round that takes it writes the agent key (its new seq) and the
 * app's (now reconciling the new spec) even though it sends commands (pace.h): both go
 * to the hub in one request, not the first key alone while the round writes the next. */
static void test_round_in_one_report(void)
{
	natsSubscription *sub = NULL;
	T_REQUIRE(natsConnection_SubscribeSync(&sub, F.hub_nc, "outpost.hub.status.plant") ==
		NATS_OK);
	T_REQUIRE(natsConnection_Flush(F.hub_nc) == NATS_OK);
	F.apps[0].ver = 2;
	long long seq = (long long)fl_push(&F);
	T_REQUIRE(seq > 0);
	T_CHECK(fl_wait_set(&F, "00.002=1;", WAIT_MS));
	int reports = 0, with_agent = 0, with_both = 0;
	long long deadline = h_now_ms() + WAIT_MS;
	while (!with_agent && h_now_ms() < deadline) {
		natsMsg *m = NULL;
		if (natsSubscription_NextMsg(&m, sub, 1000) != NATS_OK)
			continue;
		json_t *j = json_loadb(
			natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
		reports++;
		if (put_seq(j, "site.plant.agent") == seq) {
			with_agent++;
			with_both += put_seq(j, "site.plant.app.a00") == seq;
		}
		json_decref(j);
		natsMsg_Destroy(m);
	}
	natsSubscription_Destroy(sub);
	T_CHECK_MSG(with_agent == 1 && with_both == 1,
		"%d reports, %d with the agent key at seq %lld, %d with the app's too", reports,
		with_agent, seq, with_both);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_forged_refused);
		T_RUN(test_kept_while_sync_down);
		T_RUN(test_report_interval);
		T_RUN(test_round_in_one_report);
	}
	fl_stop(&F);
	return t_done();
}
