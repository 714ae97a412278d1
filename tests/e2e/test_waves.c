/* Canary waves across real sites, end to end: a hub with its sync (signing promotion
 * records with --fresh-key), a canary site and two sites of the rest, each a leaf
 * nats-server, an agent (--fresh-signers) and a host; an app with a rollout policy of two
 * waves pushed as signed commits.
 *
 * What is checked: a new app reaches the rest only after the canary ran it healthy for
 * the soak; a version that crash-loops rolls back at the canary, the hub halts its
 * rollout, and it never runs at a site of the rest (their agents' logs never start
 * it), which say that they wait and why; a good version passes the canary and
 * reaches every site, one of them offline during the promotion once its link is back;
 * `outpost halt` holds a rollout the gates would promote, and `outpost promote` lets it
 * through; the records are signed; hub status shows the rollout. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"
#include "harness.h"
#include "t.h"

#define WAIT_MS 45000
#define NREST 2

static fleet F;
static const h_key *hub_key;
static const char *signers;

static fl_site R[NREST] = {{.name = "r1"}, {.name = "r2"}};

#define POLICY(soak) \
	"    - name: waves\n      type: rollout\n      properties:\n        waves:\n" \
	"          - name: canary\n            requirements: {ring: canary}\n" \
	"          - name: rest\n        soak: " soak "\n        progress_deadline: 20s\n"

static json_t *app_of(kvStore *kv, const char *site)
{
	return fl_kv_json(kv, h_str("site.%s.app.a00", site));
}

static const char *str(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));
	return h_str("%s", s ? s : "");
}

/* ---- what runs where ------------------------------------------------------------------ */

struct watch {
	const char *want; /* the set to reach */
	kvStore *kv; /* and, when not NULL, the canary's app key in this state there */
	const char *state;
};

static bool reached(void *arg)
{
	struct watch *w = arg;
	const char *seen = fl_seen(&F);
	if (w->want && strcmp(seen, w->want) != 0)
		return false;
	if (!w->state)
		return true;
	json_t *j = app_of(w->kv, F.name);
	bool ok = j && !strcmp(str(j, "state"), w->state);
	json_decref(j);
	return ok;
}

static bool rest_waiting(void *arg)
{
	const char *why = arg;
	for (int i = 0; i < NREST; i++) {
		json_t *j = app_of(R[i].status, R[i].name);
		bool ok = j && !strcmp(str(j, "state"), "waiting") && strstr(str(j, "reason"), why);
		json_decref(j);
		if (!ok)
			return false;
	}
	return true;
}

static json_t *record(void)
{
	return fl_kv_json(F.hub_kv, "rollout.a00");
}

struct want_record {
	const char *digest; /* NULL any */
	int promoted;
	bool halted;
};

static bool record_is(void *arg)
{
	struct want_record *w = arg;
	json_t *j = record();
	bool ok = j && (!w->digest || !strcmp(str(j, "digest"), w->digest)) &&
		json_integer_value(json_object_get(j, "promoted")) == w->promoted &&
		json_is_true(json_object_get(j, "halted")) == w->halted;
	json_decref(j);
	return ok;
}

static const char *target_at_canary(void)
{
	json_t *j = app_of(F.site_status, F.name);
	const char *t = str(j, "target");
	json_decref(j);
	return t;
}

static bool sync_said(void *what)
{
	return fl_log_count(h_path("sync.log"), 0, what) > 0;
}

static bool deployed_at(kvStore *kv, const char *site)
{
	json_t *j = app_of(kv, site);
	bool ok = j && !strcmp(str(j, "state"), "deployed");
	json_decref(j);
	return ok;
}

static bool deployed_everywhere(void *arg)
{
	(void)arg;
	bool ok = deployed_at(F.site_status, F.name);
	for (int i = 0; i < NREST; i++)
		ok = ok && deployed_at(R[i].status, R[i].name);
	return ok;
}

/* Every site healthy at what it runs: a new spec pushed next has one to go back to. */
static bool all_deployed(void)
{
	return h_wait_until(deployed_everywhere, NULL, WAIT_MS);
}

/* ---- the cases ------------------------------------------------------------------------ */

static void test_setup(void)
{
	hub_key = h_keygen("ed25519");
	T_REQUIRE(hub_key);
	signers = h_path("fresh_signers");
	h_write(signers, "hub@outpost namespaces=\"outpost-fresh,outpost-rollout\" %s\n",
		hub_key->pub);
	F.sync_args = h_str("--fresh-key %s", hub_key->path);
	F.agent_args = h_str("--label ring=canary --fresh-signers %s", signers);
	T_REQUIRE(fl_start(&F, "c1", 1));
	for (int i = 0; i < NREST; i++)
		T_REQUIRE(fl_site_start(&F, &R[i], i + 1, h_str("--fresh-signers %s", signers)));
	/* The hub knows a site once its agent announced itself and its status arrived: a
	 * wave none of whose sites the hub knows is promoted through. */
	T_REQUIRE(fl_wait_key(F.hub_status, h_str("site.%s.agent", F.name), WAIT_MS));
	for (int i = 0; i < NREST; i++)
		T_REQUIRE(fl_wait_key(F.hub_status, h_str("site.%s.agent", R[i].name), WAIT_MS));
	/* A new app with waves: the canary first, the rest once it ran healthy for the
	 * soak. */
	F.apps[0] = (fl_app){.on = true, .ver = 1, .instances = 1, .policies = POLICY("1s")};
	T_REQUIRE(fl_push(&F) > 0);
	struct watch w = {"00.001=3;", NULL, NULL};
	T_CHECK(h_wait_until(reached, &w, WAIT_MS));
	struct want_record done = {NULL, 1, false};
	T_CHECK(h_wait_until(record_is, &done, WAIT_MS));
	/* promoted because the canary ran it healthy, not because the hub knew no canary
	 * (sync logs it just after it wrote the record) */
	T_CHECK(h_wait_until(sync_said, "why=\"wave canary: 1 of 1 sites healthy", WAIT_MS));
	T_EQ_INT(fl_log_count(h_path("sync.log"), 0, "has no sites"), 0);
	T_CHECK(all_deployed());
}

static void test_bad_version_stops_at_the_canary(void)
{
	F.apps[0].ver = 2;
	F.apps[0].crash = true;
	long long t0 = h_now_ms();
	T_REQUIRE(fl_push(&F) > 0);
	/* the canary rolls back on its own, back to v1 */
	struct watch w = {"00.001=3;", F.site_status, "rolled-back"};
	T_CHECK(h_wait_until(reached, &w, WAIT_MS));
	/* the hub halts the rollout of that spec, naming the site */
	struct want_record halted = {target_at_canary(), 0, true};
	T_CHECK(h_wait_until(record_is, &halted, WAIT_MS));
	long long t_halt = h_now_ms() - t0;
	json_t *j = record();
	T_CHECK_MSG(strstr(str(j, "reason"), "c1"), "reason: %s", str(j, "reason"));
	T_CHECK(str(j, "sig")[0] != '\0'); /* signed with sync's --fresh-key */
	json_decref(j);
	/* the rest never ran it, and say why they wait */
	T_CHECK(h_wait_until(rest_waiting, "halted", WAIT_MS));
	T_CHECK(reached(&w));
	/* what each agent of the rest ran, as its log says: never v2 */
	for (int i = 0; i < NREST; i++)
		T_EQ_INT(fl_log_count(fl_site_log(&R[i]), 0,
				 h_str("runs its new spec\" app=a00 spec=%s", halted.digest)),
			0);
	fprintf(stderr, "  push to halted rollout: %lld ms\n", t_halt);
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s status --nats %s", F.bin, h_nats_url(F.hub)), 0);
	T_CHECK_MSG(out && strstr(out, "a00") && strstr(out, "halted"), "status:\n%s", out);
	free(out);
}

static void test_good_version_reaches_an_offline_site(void)
{
	/* r2 is offline for the whole promotion */
	h_link_cut(R[1].srv);
	F.apps[0].ver = 3;
	F.apps[0].crash = false;
	T_REQUIRE(fl_push(&F) > 0);
	struct watch w = {"00.001=1;00.003=2;", NULL, NULL};
	T_CHECK(h_wait_until(reached, &w, WAIT_MS));
	struct want_record promoted = {target_at_canary(), 1, false};
	T_CHECK(h_wait_until(record_is, &promoted, WAIT_MS));
	/* the link back: r2 gets the revision and the promotion, and applies it */
	h_link_restore(R[1].srv);
	T_REQUIRE(h_leaf_wait(R[1].srv, 30000));
	struct watch all = {"00.003=3;", NULL, NULL};
	T_CHECK(h_wait_until(reached, &all, WAIT_MS));
	T_CHECK(all_deployed());
}

static void test_halt_and_promote_by_hand(void)
{
	/* a soak too long to pass in the test: the operator decides */
	F.apps[0].ver = 4;
	F.apps[0].policies = POLICY("1h");
	T_REQUIRE(fl_push(&F) > 0);
	struct watch w = {"00.003=2;00.004=1;", F.site_status, "deployed"};
	T_CHECK(h_wait_until(reached, &w, WAIT_MS));
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s halt --app a00 --reason 'line 3 is down' --nats %s", F.bin,
			 h_nats_url(F.hub)),
		0);
	free(out);
	struct want_record halted = {target_at_canary(), 0, true};
	T_CHECK(h_wait_until(record_is, &halted, WAIT_MS));
	T_CHECK(h_wait_until(rest_waiting, "line 3 is down", WAIT_MS));
	T_EQ_INT(h_run(&out, "%s promote --app a00 --nats %s", F.bin, h_nats_url(F.hub)), 0);
	free(out);
	struct watch all = {"00.004=3;", NULL, NULL};
	T_CHECK(h_wait_until(reached, &all, WAIT_MS));
	/* refusals exit 1 and name the app */
	char *err = NULL;
	T_EQ_INT(h_run2(&out, &err, "%s halt --app nosuch --nats %s", F.bin, h_nats_url(F.hub)), 1);
	T_CHECK_MSG(err && strstr(err, "nosuch"), "stderr: %s", err ? err : "");
	free(out);
	free(err);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_bad_version_stops_at_the_canary);
		T_RUN(test_good_version_reaches_an_offline_site);
		T_RUN(test_halt_and_promote_by_hand);
	}
	for (int i = 0; i < NREST; i++)
		fl_site_stop(&R[i]);
	fl_stop(&F);
	return t_done();
}
