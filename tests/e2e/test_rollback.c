/* Safe rollouts at a site and across sites, end to end (agent/site/holds.c,
 * agent/plan/hold.c; the hub's waves: sync/loop/rollout*.c): a hub with its sync, a site
 * with its agent and a host, all real processes, apps pushed as signed commits.
 *
 * What is checked at the site: a new spec that crash-loops is rolled back to the spec the
 * app ran before, on the site's own, with the instance, the reason and its last output
 * in status at the site and at the hub; it is not tried again when a revision arrives
 * that does not change it, nor after the agent restarts; a newer spec rolls out. A spec
 * whose probe fails is rolled back at its progress deadline, naming the probe. An
 * instance that restarted three times before a push that only scales its app (the box
 * lost power three times) is no crash loop of the new spec: the app is not rolled back. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "harness.h"
#include "t.h"

#define WAIT_MS 30000
#define HUB_WAIT_MS 60000

static fleet F;

static json_t *app_key(kvStore *kv, int app)
{
	return fl_kv_json(kv, h_str("site.%s.app.a%02d", F.name, app));
}

static const char *field(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return h_str("%s", s ? s : "");
}

struct want_state {
	kvStore *kv;
	int app;
	const char *state;
};

static bool has_state(void *arg)
{
	struct want_state *w = arg;
	json_t *j = app_key(w->kv, w->app);
	bool ok = j && !strcmp(field(j, "state"), w->state);
	json_decref(j);
	return ok;
}

static bool wait_state(kvStore *kv, int app, const char *state, int ms)
{
	struct want_state w = {kv, app, state};
	return h_wait_until(has_state, &w, ms);
}

static void test_setup(void)
{
	T_REQUIRE(fl_start(&F, "plant", 1));
	F.apps[0] = (fl_app){.on = true, .ver = 1, .instances = 2};
	T_REQUIRE(fl_push(&F) > 0);
	T_CHECK(fl_wait_set(&F, "00.001=2;", WAIT_MS));
	T_CHECK(wait_state(F.site_status, 0, "deployed", WAIT_MS));
}

static void test_crash_loop_rolls_back(void)
{
	json_t *j = app_key(F.site_status, 0);
	const char *v1 = field(j, "spec");
	json_decref(j);
	T_CHECK(!strncmp(v1, "sha256:", 7));
	long off = fl_log_size(fl_agent_log());
	F.apps[0].ver = 2;
	F.apps[0].crash = true;
	T_REQUIRE(fl_push(&F) > 0);
	T_REQUIRE(wait_state(F.site_status, 0, "rolled-back", WAIT_MS));
	T_CHECK(fl_wait_set(&F, "00.001=2;", WAIT_MS));
	j = app_key(F.site_status, 0);
	T_EQ_STR(field(j, "spec"), v1);
	T_CHECK(strcmp(field(j, "target"), v1) != 0);
	const char *reason = field(j, "reason"), *msg = field(j, "message");
	T_CHECK_MSG(strstr(reason, "crash loop: a00.main.") && strstr(reason, "restarted"),
		"reason: %s", reason);
	/* the last output of the instance to blame: what sleep said of its argument */
	T_CHECK_MSG(strstr(reason, "last output: ") && strstr(reason, "invalid time interval"),
		"reason: %s", reason);
	T_CHECK_MSG(!strncmp(msg, "rolled back from sha256:", 24), "message: %s", msg);
	json_decref(j);
	T_EQ_INT(fl_log_count(fl_agent_log(), off, "rolled back: the app is on its previous spec"),
		1);
	/* the hub hears it as the site says it */
	T_CHECK(wait_state(F.hub_status, 0, "rolled-back", HUB_WAIT_MS));

	/* a revision that does not change the app: it stays where it went back to */
	F.apps[1] = (fl_app){.on = true, .ver = 1, .instances = 1};
	T_REQUIRE(fl_push(&F) > 0);
	T_CHECK(fl_wait_set(&F, "00.001=2;01.001=1;", WAIT_MS));
	T_CHECK(wait_state(F.site_status, 1, "deployed", WAIT_MS));
	T_CHECK(has_state(&(struct want_state){F.site_status, 0, "rolled-back"}));
	T_EQ_INT(fl_log_count(fl_agent_log(), off, "app=a00 spec="), 1); /* started once */

	/* nor after the agent restarts: the hold is kept on disk */
	T_REQUIRE(h_proc_stop(F.agent_pid, false, 5000) == 0);
	long off2 = fl_log_size(fl_agent_log());
	T_REQUIRE(fl_start_agent(&F) > 0);
	T_CHECK(fl_wait_set(&F, "00.001=2;01.001=1;", WAIT_MS));
	T_CHECK(wait_state(F.site_status, 1, "deployed", WAIT_MS));
	T_CHECK(has_state(&(struct want_state){F.site_status, 0, "rolled-back"}));
	T_EQ_INT(fl_log_count(fl_agent_log(), off2, "runs its new spec"), 0);

	/* a newer spec rolls out */
	F.apps[0].ver = 3;
	F.apps[0].crash = false;
	T_REQUIRE(fl_push(&F) > 0);
	T_CHECK(fl_wait_set(&F, "00.003=2;01.001=1;", WAIT_MS));
	T_CHECK(wait_state(F.site_status, 0, "deployed", WAIT_MS));
	T_CHECK(fl_log_count(fl_agent_log(), off2, "healthy at its new spec") >= 1);
}

static void test_probe_deadline_rolls_back(void)
{
	long off = fl_log_size(fl_agent_log());
	F.apps[0].ver = 4;
	F.apps[0].props = "        health: {exec: {command: /bin/false}, interval: 200ms, "
			  "failures: 100}\n";
	F.apps[0].policies = "    - name: safe\n      type: rollout\n"
			     "      properties: {progress_deadline: 2s}\n";
	T_REQUIRE(fl_push(&F) > 0);
	T_REQUIRE(wait_state(F.site_status, 0, "rolled-back", WAIT_MS));
	T_CHECK(fl_wait_set(&F, "00.003=2;01.001=1;", WAIT_MS));
	json_t *j = app_key(F.site_status, 0);
	const char *reason = field(j, "reason");
	T_CHECK_MSG(strstr(reason, "0 of 2 instances healthy after the progress deadline (2s)"),
		"reason: %s", reason);
	json_decref(j);
	T_EQ_INT(fl_log_count(fl_agent_log(), off, "rolled back: the app is on its previous spec"),
		1);
	F.apps[0].props = NULL;
	F.apps[0].policies = NULL;
}

/* The fewest restarts among host 0's instances of app 0, from the site's host key. */
static int min_restarts(void)
{
	json_t *j = fl_kv_json(F.site_status, h_str("site.%s.host.h0", F.name));
	json_t *insts = json_object_get(j, "instances"), *o;
	size_t i;
	int min = -1;
	json_array_foreach(insts, i, o)
	{
		const char *id = json_string_value(json_object_get(o, "id"));
		int r = (int)json_integer_value(json_object_get(o, "restarts"));
		if (id && !strncmp(id, "a00.", 4) && (min < 0 || r < min))
			min = r;
	}
	json_decref(j);
	return min;
}

static bool restarted(void *arg)
{
	return min_restarts() >= *(int *)arg;
}

static void test_old_restarts_no_crash_loop(void)
{
	for (int i = 1; i <= 3; i++) {
		T_REQUIRE(fl_box_down(&F, 0));
		T_REQUIRE(fl_start_host(&F, 0) > 0);
		T_REQUIRE(fl_wait_set(&F, "00.003=2;01.001=1;", WAIT_MS));
		/* Counted in the shim's state once the workload runs: the next box down waits
		 * for it (a kill between the exec and that write loses the count). */
		bool counted = h_wait_until(restarted, &i, WAIT_MS);
		T_CHECK_MSG(counted, "restarts: %d, want %d", min_restarts(), i);
		T_REQUIRE(counted);
	}
	long off = fl_log_size(fl_agent_log());
	F.apps[0].ver = 3; /* what runs (the probe's version rolled back), scaled: a new */
	F.apps[0].instances = 3; /* spec with the same component */
	T_REQUIRE(fl_push(&F) > 0);
	T_CHECK(fl_wait_set(&F, "00.003=3;01.001=1;", WAIT_MS));
	T_CHECK(wait_state(F.site_status, 0, "deployed", WAIT_MS));
	T_CHECK(fl_log_count(fl_agent_log(), off, "healthy at its new spec") == 1);
	T_EQ_INT(fl_log_count(fl_agent_log(), off, "rolled back"), 0);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_crash_loop_rolls_back);
		T_RUN(test_probe_deadline_rolls_back);
		T_RUN(test_old_restarts_no_crash_loop);
	}
	fl_stop(&F);
	return t_done();
}
