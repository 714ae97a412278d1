/* Canary waves at the hub (sync/loop/wavehub.h): the sites and their reports as the
 * status bucket holds them, the sites of a wave gathered for op_wave_decide, the next
 * record from a decision or an operator, and the view status shows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/sync/loop/wavehub.h"
#include "t.h"

#define D "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define OLD "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define HEX40 "0123456789abcdef0123456789abcdef01234567"
#define T0 1796583600000LL /* 2026-12-06T19:00:00Z */

static op_app *web(void)
{
	static const char y[] =
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: web\n"
		"spec:\n  policies:\n"
		"    - name: where\n      type: placement\n"
		"      properties: {requirements: {region: eu}}\n"
		"    - name: waves\n      type: rollout\n      properties:\n"
		"        waves:\n"
		"          - name: canary\n            requirements: {ring: canary}\n"
		"          - name: rest\n"
		"        soak: 10s\n"
		"  components:\n    - name: c\n      type: process\n      properties:\n"
		"        command: /bin/c\n";
	op_app *a = NULL;
	op_diags d = {0};
	T_CHECK(op_manifest_parse("web.yaml", y, strlen(y), &a, &d) == 0);
	op_diags_clear(&d);
	return a;
}

#define ENT(k, v, t) {k, v, sizeof v - 1, t}

static void test_sites(void)
{
	op_wavehub_entry ents[] = {
		ENT("site.b.agent", "{\"labels\":{\"site\":\"b\",\"region\":\"eu\"}}", T0 + 5),
		ENT("site.a.app.web", "{\"state\":\"deployed\"}", T0 + 9),
		ENT("site.a.agent", "{\"v\":1,\"labels\":{\"ring\":\"canary\",\"region\":\"eu\"}}",
			T0 + 1),
		ENT("site.c.agent", "{not json", T0),
		ENT("site.d.app.web", "{\"state\":\"deployed\"}", T0),
		ENT("site.e.agent", "{\"labels\":{\"n\":1}}", T0),
		ENT("site.f.agent", "{\"labels\":[]}", T0),
		ENT("hub.sync", "{}", T0 + 100),
		ENT("site.B.agent", "{\"labels\":{}}", T0),
	};
	op_wavehub_sites s = {0};
	op_err e = {0};
	T_EQ_INT(op_wavehub_sites_read(ents, sizeof ents / sizeof *ents, &s, &e), 0);
	T_REQUIRE(s.n == 2);
	T_EQ_STR(s.v[0].name, "a");
	T_EQ_INT(s.v[0].report_ms, T0 + 9); /* its newest key */
	T_REQUIRE(s.v[0].labels.n == 3);
	T_EQ_STR(s.v[0].labels.v[0].key, "region"); /* sorted, site added */
	T_EQ_STR(s.v[0].labels.v[2].key, "site");
	T_EQ_STR(s.v[0].labels.v[2].val, "a");
	T_EQ_STR(s.v[1].name, "b");
	T_EQ_INT(s.v[1].report_ms, T0 + 5);
	T_EQ_INT(s.v[1].labels.n, 2);
	op_wavehub_sites_clear(&s);
	T_EQ_INT(op_wavehub_sites_read(NULL, 0, &s, &e), 0);
	T_EQ_INT(s.n, 0);
}

static void test_report(void)
{
	op_wavehub_report r;
	const char *full = "{\"state\":\"rolled-back\",\"spec\":\"" OLD "\",\"target\":\"" D
			   "\",\"since\":\"2026-12-06T19:00:00Z\",\"new\":[1]}";
	T_EQ_INT(op_wavehub_report_read(full, strlen(full), &r), 0);
	T_EQ_STR(r.state, "rolled-back");
	T_EQ_STR(r.spec, OLD);
	T_EQ_STR(r.target, D);
	T_EQ_INT(r.since_ms, T0);
	/* an older site: no target (= spec), no since */
	const char *old = "{\"state\":\"deployed\",\"spec\":\"" D "\"}";
	T_EQ_INT(op_wavehub_report_read(old, strlen(old), &r), 0);
	T_EQ_STR(r.target, D);
	T_EQ_INT(r.since_ms, -1);
	const char *bad_since = "{\"state\":\"deployed\",\"since\":\"yesterday\"}";
	T_EQ_INT(op_wavehub_report_read(bad_since, strlen(bad_since), &r), 0);
	T_EQ_INT(r.since_ms, -1);
	T_EQ_STR(r.spec, "");
	static const char *const refused[] = {"", "[]", "{}", "{\"state\":\"\"}", "{\"state\":7}",
		"{\"state\":\"deployed\",\"state\":\"failed\"}",
		"{\"state\":\"a-state-name-longer-than-the-field\"}"};
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		T_CHECK_MSG(
			op_wavehub_report_read(refused[i], strlen(refused[i]), &r) == OP_EINVAL &&
				r.state[0] == '\0' && r.since_ms == -1,
			"row %zu", i);
	}
}

/* a: canary, deployed at D since T0; b: canary, rolled back from D; c: rest, deployed
 * at D; d: canary, no report of the app yet; e: not placed (region us); f: canary, at
 * the old spec. */
static const op_wavehub_entry fleet[] = {
	ENT("site.a.agent", "{\"labels\":{\"ring\":\"canary\",\"region\":\"eu\"}}", T0),
	ENT("site.a.app.web",
		"{\"state\":\"deployed\",\"spec\":\"" D "\",\"target\":\"" D
		"\",\"since\":\"2026-12-06T19:00:00Z\"}",
		T0 + 20000),
	ENT("site.b.agent", "{\"labels\":{\"ring\":\"canary\",\"region\":\"eu\"}}", T0),
	ENT("site.b.app.web",
		"{\"state\":\"rolled-back\",\"spec\":\"" OLD "\",\"target\":\"" D
		"\",\"since\":\"2026-12-06T19:00:00Z\"}",
		T0 + 1000),
	ENT("site.c.agent", "{\"labels\":{\"region\":\"eu\"}}", T0),
	ENT("site.c.app.web", "{\"state\":\"deployed\",\"spec\":\"" D "\"}", T0),
	ENT("site.d.agent", "{\"labels\":{\"ring\":\"canary\",\"region\":\"eu\"}}", T0 + 3000),
	ENT("site.e.agent", "{\"labels\":{\"ring\":\"canary\",\"region\":\"us\"}}", T0),
	ENT("site.e.app.web", "{\"state\":\"deployed\",\"spec\":\"" D "\"}", T0),
	ENT("site.f.agent", "{\"labels\":{\"ring\":\"canary\",\"region\":\"eu\"}}", T0),
	ENT("site.f.app.web", "{\"state\":\"reconciling\",\"spec\":\"" OLD "\"}", T0),
};

static void test_gather(void)
{
	op_app *app = web();
	T_REQUIRE(app);
	size_t n = sizeof fleet / sizeof *fleet;
	op_wavehub_entry ents[sizeof fleet / sizeof *fleet];
	memcpy(ents, fleet, sizeof fleet);
	op_wavehub_entries_sort(ents, n);
	op_wavehub_sites s = {0};
	op_wavehub_tally t = {0};
	op_err e = {0};
	T_EQ_INT(op_wavehub_sites_read(ents, n, &s, &e), 0);
	T_EQ_INT(s.n, 6);
	T_EQ_INT(op_wavehub_gather(app, D, 0, &s, ents, n, &t, &e), 0);
	T_EQ_INT(t.total, 5); /* not e */
	T_EQ_INT(t.done, 2); /* a, c */
	T_EQ_INT(t.rolled_back, 1); /* b */
	T_REQUIRE(t.n == 4); /* a, b, d, f */
	T_EQ_STR(t.sites[0].name, "a");
	T_EQ_STR(t.sites[0].digest, D);
	T_EQ_STR(t.sites[0].state, "deployed");
	T_EQ_INT(t.sites[0].since_ms, T0);
	T_EQ_INT(t.sites[0].report_ms, T0 + 20000);
	T_EQ_STR(t.sites[1].name, "b");
	T_EQ_STR(t.sites[1].digest, D); /* the spec it rolled back from */
	T_EQ_STR(t.sites[1].state, "rolled-back");
	T_EQ_STR(t.sites[2].name, "d");
	T_CHECK(t.sites[2].digest == NULL && t.sites[2].state == NULL);
	T_EQ_INT(t.sites[2].report_ms, T0 + 3000);
	T_EQ_STR(t.sites[3].digest, OLD);
	/* the decision over them: b halts it */
	op_wave_in in = {&app->rollout, 0, t.sites, t.n, D, T0 + 30000, false};
	op_wave_out out;
	op_wave_decide(&in, &out);
	T_EQ_INT(out.verdict, OP_WAVE_HALT);
	T_EQ_STR(out.site, "b");
	/* the other wave: c alone */
	T_EQ_INT(op_wavehub_gather(app, D, 1, &s, ents, n, &t, &e), 0);
	T_REQUIRE(t.n == 1);
	T_EQ_STR(t.sites[0].name, "c");
	T_EQ_INT(t.sites[0].since_ms, -1);
	/* of another spec: nothing done, nothing rolled back from it */
	T_EQ_INT(op_wavehub_gather(app, OLD, 0, &s, ents, n, &t, &e), 0);
	T_CHECK(t.done == 0 && t.rolled_back == 0 && t.n == 4);
	op_wavehub_tally_clear(&t);
	op_wavehub_sites_clear(&s);
	op_app_free(app);
}

static op_promotion record(int promoted, bool halted)
{
	op_promotion p;
	op_wavehub_start("web", D, HEX40, 4, T0 / 1000, &p);
	p.promoted = promoted;
	p.halted = halted;
	return p;
}

static void test_start_apply(void)
{
	op_promotion p = record(0, false), next;
	T_CHECK(p.seq == 4 && !strcmp(p.commit, HEX40) && p.time == T0 / 1000 && !p.reason[0]);
	T_CHECK(op_wavehub_starts(NULL, D));
	T_CHECK(!op_wavehub_starts(&p, D));
	T_CHECK(op_wavehub_starts(&p, OLD));
	op_wave_out out = {.verdict = OP_WAVE_WAIT, .wave = 0};
	snprintf(out.why, sizeof out.why, "wave canary: 0 of 1 sites healthy");
	T_EQ_INT(op_wavehub_apply(&p, &out, 5, &next), OP_WAVEHUB_KEEP);
	T_CHECK(!memcmp(&p, &next, sizeof p));
	out.verdict = OP_WAVE_DONE;
	T_EQ_INT(op_wavehub_apply(&p, &out, 5, &next), OP_WAVEHUB_KEEP);
	out.verdict = OP_WAVE_PROMOTE;
	out.wave = 1;
	snprintf(out.why, sizeof out.why, "wave canary: 1 of 1 sites healthy");
	T_EQ_INT(op_wavehub_apply(&p, &out, 5, &next), OP_WAVEHUB_PROMOTE);
	T_CHECK(next.promoted == 1 && !next.halted && next.time == 5);
	T_EQ_STR(next.reason, "wave canary: 1 of 1 sites healthy");
	out.verdict = OP_WAVE_HALT;
	out.wave = 0;
	snprintf(out.why, sizeof out.why, "halted at wave canary: b rolled back");
	T_EQ_INT(op_wavehub_apply(&p, &out, 6, &next), OP_WAVEHUB_HALT);
	T_CHECK(next.promoted == 0 && next.halted && next.time == 6);
	T_EQ_STR(next.reason, "halted at wave canary: b rolled back");
	/* halted stays so, whatever the decision */
	p = next;
	out.verdict = OP_WAVE_PROMOTE;
	T_EQ_INT(op_wavehub_apply(&p, &out, 7, &next), OP_WAVEHUB_KEEP);
	T_CHECK(next.halted && next.time == 6);
}

static void test_by_hand(void)
{
	op_app *app = web();
	T_REQUIRE(app);
	const op_rollout_policy *pol = &app->rollout;
	op_promotion p = record(0, false), next;
	op_err e = {0};
	T_EQ_INT(op_wavehub_promote(&p, pol, NULL, 9, &next, &e), 0);
	T_CHECK(next.promoted == 1 && !next.halted && next.time == 9);
	T_EQ_STR(next.reason, "promoted by hand to wave rest");
	T_EQ_INT(op_wavehub_promote(&p, pol, "rest", 9, &next, &e), 0);
	T_EQ_INT(next.promoted, 1);
	T_EQ_INT(op_wavehub_promote(&p, pol, "1", 9, &next, &e), 0);
	T_EQ_INT(next.promoted, 1);
	T_EQ_INT(op_wavehub_promote(&p, pol, "canary", 9, &next, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "wave canary of web is promoted already"));
	T_EQ_INT(op_wavehub_promote(&p, pol, "0", 9, &next, &e), OP_EINVAL);
	T_EQ_INT(op_wavehub_promote(&p, pol, "2", 9, &next, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "web has no wave 2 (waves 0..1)"));
	T_EQ_INT(op_wavehub_promote(&p, pol, "nope", 9, &next, &e), OP_EINVAL);
	T_EQ_INT(op_wavehub_promote(&p, pol, "-1", 9, &next, &e), OP_EINVAL);
	p = record(1, false);
	T_EQ_INT(op_wavehub_promote(&p, pol, NULL, 9, &next, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "every wave of web is promoted already"));
	/* halted: promote moves on and resumes; at the last wave, resumes there */
	p = record(0, true);
	T_EQ_INT(op_wavehub_promote(&p, pol, NULL, 9, &next, &e), 0);
	T_CHECK(next.promoted == 1 && !next.halted);
	T_EQ_STR(next.reason, "promoted by hand to wave rest, resumed");
	T_EQ_INT(op_wavehub_promote(&p, pol, "canary", 9, &next, &e), 0);
	T_CHECK(next.promoted == 0 && !next.halted);
	T_EQ_STR(next.reason, "resumed by hand at wave canary");
	p = record(1, true);
	T_EQ_INT(op_wavehub_promote(&p, pol, NULL, 9, &next, &e), 0);
	T_CHECK(next.promoted == 1 && !next.halted);
	/* halt */
	p = record(0, false);
	T_EQ_INT(op_wavehub_halt(&p, pol, "", 9, &next, &e), 0);
	T_CHECK(next.halted && next.promoted == 0 && next.time == 9);
	T_EQ_STR(next.reason, "halted by hand");
	T_EQ_INT(op_wavehub_halt(&p, pol, "bad batch", 9, &next, &e), 0);
	T_EQ_STR(next.reason, "bad batch");
	p = next;
	T_EQ_INT(op_wavehub_halt(&p, pol, "again", 10, &next, &e), 0);
	T_CHECK(!memcmp(&p, &next, sizeof p)); /* kept as it was */
	p = record(1, false);
	T_EQ_INT(op_wavehub_halt(&p, pol, NULL, 9, &next, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "nothing is held back"));
	op_app_free(app);
}

static void test_view(void)
{
	op_app *app = web();
	T_REQUIRE(app);
	op_promotion p = record(0, false);
	op_wavehub_tally t = {.total = 5, .done = 2, .rolled_back = 1};
	op_wave_out out = {.verdict = OP_WAVE_WAIT, .counted = 3, .healthy = 1, .need = 3};
	snprintf(out.why, sizeof out.why, "wave canary: 1 of 4 sites healthy for 10s, 3 needed");
	char *v = op_wavehub_view(&p, &app->rollout, &out, &t);
	T_REQUIRE(v);
	T_EQ_STR(v,
		"{\"app\":\"web\",\"commit\":\"" HEX40 "\",\"digest\":\"" D
		"\",\"halted\":false,\"reason\":\"\",\"seq\":4,\"sites\":{\"counted\":3,"
		"\"done\":2,\"healthy\":1,\"need\":3,\"rolled_back\":1,\"total\":5},\"v\":1,"
		"\"verdict\":\"wait\",\"wave\":0,\"wave_name\":\"canary\",\"waves\":2,"
		"\"why\":\"wave canary: 1 of 4 sites healthy for 10s, 3 needed\"}");
	free(v);
	p.halted = true;
	snprintf(p.reason, sizeof p.reason, "halted by hand");
	v = op_wavehub_view(&p, &app->rollout, NULL, NULL);
	T_REQUIRE(v);
	T_CHECK(strstr(v, "\"verdict\":\"halt\"") && strstr(v, "\"why\":\"\"") &&
		strstr(v, "\"total\":0") && strstr(v, "\"reason\":\"halted by hand\""));
	free(v);
	op_app_free(app);
}

int main(void)
{
	T_RUN(test_sites);
	T_RUN(test_report);
	T_RUN(test_gather);
	T_RUN(test_start_apply);
	T_RUN(test_by_hand);
	T_RUN(test_view);
	return t_done();
}
