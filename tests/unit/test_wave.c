/* Canary waves: which wave a site is in, and each rule of the promotion (wave.h), with
 * its boundaries: exactly the soak, exactly the report window, min_sites above the
 * wave's size, a silent site, a rollback of another spec. */
#include <stdio.h>
#include <string.h>

#include "outpost/agent/plan/wave.h"
#include "t.h"

#define D1 "sha256:1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "sha256:2222222222222222222222222222222222222222222222222222222222222222"
#define MIN (60LL * 1000)
#define NOW (1800000000LL * 1000)

static op_kv canary_kv[] = {{"ring", "canary"}};
static op_kv eu_kv[] = {{"region", "eu"}, {"ring", "canary"}};
static op_wave waves3[] = {{"canary", {canary_kv, 1}}, {"eu", {eu_kv, 2}}, {"rest", {NULL, 0}}};
static op_wave waves2[] = {{"canary", {canary_kv, 1}}, {"eu", {eu_kv + 0, 1}}};

static op_rollout_policy policy(int64_t soak, int min_sites)
{
	op_rollout_policy p = {"r", waves3, 3, soak, min_sites, 5 * MIN};
	return p;
}

static void test_wave_of(void)
{
	op_kv l_canary[] = {{"region", "us"}, {"ring", "canary"}};
	op_kv l_eu[] = {{"region", "eu"}};
	op_kv l_both[] = {{"region", "eu"}, {"ring", "canary"}};
	op_kvs none = {NULL, 0}, canary = {l_canary, 2}, eu = {l_eu, 1}, both = {l_both, 2};
	op_rollout_policy p = policy(MIN, -1), empty = {"r", NULL, 0, MIN, -1, MIN};
	op_rollout_policy two = {"r", waves2, 2, MIN, -1, MIN};

	T_EQ_INT(op_wave_of(NULL, &canary), 0);
	T_EQ_INT(op_wave_of(&empty, &canary), 0);
	T_EQ_INT(op_wave_count(NULL), 1);
	T_EQ_INT(op_wave_count(&empty), 1);
	T_EQ_INT(op_wave_count(&p), 3);
	/* the first wave matched, though a later one matches too */
	T_EQ_INT(op_wave_of(&p, &canary), 0);
	T_EQ_INT(op_wave_of(&p, &both), 0);
	/* a wave without requirements takes every site */
	T_EQ_INT(op_wave_of(&p, &eu), 2);
	T_EQ_INT(op_wave_of(&p, &none), 2);
	/* matching no wave: the last */
	T_EQ_INT(op_wave_of(&two, &none), 1);
	T_EQ_INT(op_wave_of(&two, &canary), 0);
	T_EQ_INT(op_wave_of(&two, &eu), 1);
}

static op_wave_site site(
	const char *name, int64_t report_ago, const char *digest, const char *state, int64_t for_ms)
{
	op_wave_site s = {name, report_ago < 0 ? -1 : NOW - report_ago, digest, state,
		NOW - report_ago - for_ms};
	return s;
}

static op_wave_out decide(const op_rollout_policy *p, int k, const op_wave_site *s, size_t n)
{
	op_wave_in in = {p, k, s, n, D1, NOW, false};
	op_wave_out out;
	op_wave_decide(&in, &out);
	return out;
}

static void test_halted_and_done(void)
{
	op_rollout_policy p = policy(MIN, -1);
	op_wave_site ok[] = {site("a", 0, D1, "deployed", MIN)};
	op_wave_in in = {&p, 1, ok, 1, D1, NOW, true};
	op_wave_out o;
	op_wave_decide(&in, &o);
	T_EQ_INT(o.verdict, OP_WAVE_HALT);
	T_EQ_INT(o.wave, 1);
	T_CHECK(o.site == NULL);
	T_EQ_STR(o.why, "halted at wave eu");

	o = decide(&p, 2, ok, 1);
	T_EQ_INT(o.verdict, OP_WAVE_DONE);
	T_EQ_INT(o.wave, 2);
	o = decide(&p, 7, ok, 1);
	T_EQ_INT(o.verdict, OP_WAVE_DONE);
	T_EQ_INT(o.wave, 2);
	/* no policy, or none of waves: one wave, nothing to promote */
	o = decide(NULL, 0, ok, 1);
	T_EQ_INT(o.verdict, OP_WAVE_DONE);
	op_rollout_policy empty = {"r", NULL, 0, MIN, -1, MIN};
	o = decide(&empty, 0, NULL, 0);
	T_EQ_INT(o.verdict, OP_WAVE_DONE);
	T_EQ_STR(o.why, "every wave promoted");
	/* a wave below 0 is the first */
	o = decide(&p, -3, ok, 1);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	T_EQ_INT(o.wave, 1);
}

static void test_rollback_halts(void)
{
	op_rollout_policy p = policy(MIN, 1);
	/* enough healthy sites, but one rolled back: halt, whatever the report's age */
	op_wave_site s[] = {site("a", 0, D1, "deployed", 2 * MIN),
		site("b", 0, D1, "deployed", 2 * MIN), site("c", 500 * MIN, D1, "rolled-back", 0)};
	op_wave_out o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_HALT);
	T_EQ_STR(o.site, "c");
	T_EQ_INT(o.wave, 0);
	T_EQ_STR(o.why, "halted at wave canary: c rolled back");
	/* a rollback from another spec is an older rollout's */
	s[2].digest = D2;
	o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	/* without a digest it says nothing */
	s[2].digest = NULL;
	o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	/* the first of two is named */
	s[0].state = "rolled-back";
	s[2].digest = D1;
	o = decide(&p, 0, s, 3);
	T_EQ_STR(o.site, "a");
}

static void test_empty_wave_promoted(void)
{
	op_rollout_policy p = policy(MIN, 3);
	op_wave_out o = decide(&p, 1, NULL, 0);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	T_EQ_INT(o.wave, 2);
	T_EQ_INT(o.need, 0);
	T_EQ_STR(o.why, "wave eu has no sites");
	/* a count without sites is no sites */
	T_EQ_INT(decide(&p, 1, NULL, 4).verdict, OP_WAVE_PROMOTE);
}

static void test_default_every_counted_site(void)
{
	op_rollout_policy p = policy(10 * MIN, -1);
	op_wave_site s[] = {site("a", MIN, D1, "deployed", 10 * MIN),
		site("b", 0, D1, "deployed", 11 * MIN), site("c", 0, D1, "deployed", 4 * MIN)};
	op_wave_out o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_INT(o.counted, 3);
	T_EQ_INT(o.healthy, 2);
	T_EQ_INT(o.need, 3);
	T_EQ_STR(o.site, "c");
	T_EQ_INT(o.wait_ms, 6 * MIN);
	T_EQ_STR(o.why, "wave canary: 2 of 3 sites healthy for 10m, 3 needed; c deployed for 4m");
	/* c soaks: promoted */
	s[2].since_ms -= 6 * MIN;
	o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	T_EQ_INT(o.wave, 1);
	T_EQ_INT(o.wait_ms, -1);
	T_EQ_STR(o.why, "wave canary: 3 of 3 sites healthy");
}

static void test_silent_sites_do_not_count(void)
{
	op_rollout_policy p = policy(10 * MIN, -1);
	op_wave_site s[] = {site("a", 0, D1, "deployed", 10 * MIN),
		site("off", 10 * MIN + 1, D1, "starting", 0), site("new", -1, NULL, NULL, 0)};
	op_wave_out o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	T_EQ_INT(o.counted, 1);
	T_EQ_INT(o.need, 1);
	/* exactly at the window's edge, it counts */
	s[1].report_ms += 1;
	o = decide(&p, 0, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_STR(o.site, "off");
	T_EQ_STR(o.why, "wave canary: 1 of 3 sites healthy for 10m, 2 needed; off is starting");
	/* nobody reported: wait, and say so */
	op_wave_site quiet[] = {
		site("x", 11 * MIN, D1, "deployed", 20 * MIN), site("y", -1, NULL, NULL, 0)};
	o = decide(&p, 0, quiet, 2);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_INT(o.need, 0);
	T_CHECK(o.site == NULL);
	T_EQ_STR(o.why, "wave canary: none of its 2 sites reported within 10m");
}

static void test_window_floor(void)
{
	/* soak 0: healthy at once, but the window is still a minute */
	op_rollout_policy p = policy(0, -1);
	op_wave_site s[] = {
		site("a", MIN, D1, "deployed", 0), site("b", MIN + 1, D1, "starting", 0)};
	op_wave_out o = decide(&p, 0, s, 2);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	T_EQ_INT(o.counted, 1);
	s[1].report_ms += 1;
	o = decide(&p, 0, s, 2);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_STR(o.why, "wave canary: 1 of 2 sites healthy for 0s, 2 needed; b is starting");
}

static void test_soak_by_report(void)
{
	op_rollout_policy p = policy(10 * MIN, -1);
	/* deployed 20 minutes ago by now, but its latest report was 1 minute after */
	op_wave_site s[] = {site("a", 9 * MIN, D1, "deployed", MIN)};
	op_wave_out o = decide(&p, 0, s, 1);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_INT(o.wait_ms, 9 * MIN);
	/* exactly the soak */
	s[0] = site("a", 0, D1, "deployed", 10 * MIN);
	T_EQ_INT(decide(&p, 0, s, 1).verdict, OP_WAVE_PROMOTE);
	s[0] = site("a", 0, D1, "deployed", 10 * MIN - 1);
	o = decide(&p, 0, s, 1);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_INT(o.wait_ms, 1);
	/* a state that starts after its report is not believed */
	s[0] = site("a", 0, D1, "deployed", 0);
	s[0].since_ms = NOW + 1;
	o = decide(&p, 0, s, 1);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_INT(o.wait_ms, -1);
	T_EQ_STR(o.why, "wave canary: 0 of 1 sites healthy for 10m, 1 needed; a deployed for 0s");
}

static void test_other_spec_and_states(void)
{
	op_rollout_policy p = policy(MIN, -1);
	op_wave_site s[] = {site("a", 0, D2, "deployed", 9 * MIN)};
	op_wave_out o = decide(&p, 0, s, 1);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_STR(o.why, "wave canary: 0 of 1 sites healthy for 1m, 1 needed; a runs another spec");
	s[0].digest = NULL;
	T_EQ_INT(decide(&p, 0, s, 1).verdict, OP_WAVE_WAIT);
	s[0] = site("a", 0, D1, "unhealthy", 9 * MIN);
	o = decide(&p, 0, s, 1);
	T_EQ_STR(o.why, "wave canary: 0 of 1 sites healthy for 1m, 1 needed; a is unhealthy");
	s[0].state = NULL;
	o = decide(&p, 0, s, 1);
	T_EQ_STR(o.why, "wave canary: 0 of 1 sites healthy for 1m, 1 needed; a is (no state)");
}

static void test_min_sites(void)
{
	op_rollout_policy p = policy(MIN, 2);
	op_wave_site s[] = {site("a", 0, D1, "deployed", MIN), site("b", 0, D1, "starting", 0),
		site("c", 0, D1, "deployed", MIN)};
	op_wave_out o = decide(&p, 1, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	T_EQ_INT(o.wave, 2);
	T_EQ_INT(o.need, 2);
	s[2].state = "starting";
	o = decide(&p, 1, s, 3);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_STR(o.site, "b");
	/* more than the wave holds: every site of it */
	p.min_sites = 5;
	s[1].state = s[2].state = "deployed";
	s[1].since_ms = s[2].since_ms = NOW - MIN;
	o = decide(&p, 1, s, 3);
	T_EQ_INT(o.need, 3);
	T_EQ_INT(o.verdict, OP_WAVE_PROMOTE);
	/* silent sites do not count toward it: the wait names a silent one last */
	p.min_sites = 2;
	op_wave_site t[] = {site("off", 3 * MIN, D1, "deployed", MIN),
		site("a", 0, D1, "deployed", MIN), site("b", 0, D1, "starting", 0)};
	o = decide(&p, 1, t, 3);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_EQ_INT(o.counted, 2);
	T_EQ_INT(o.healthy, 1);
	T_EQ_STR(o.site, "b");
	t[2] = site("b", 5 * MIN, D1, "starting", 0);
	o = decide(&p, 1, t, 3);
	T_EQ_STR(o.site, "off");
	T_EQ_STR(o.why, "wave eu: 1 of 3 sites healthy for 1m, 2 needed; off silent for 3m");
	t[0].report_ms = -1;
	o = decide(&p, 1, t, 3);
	T_EQ_STR(o.why, "wave eu: 1 of 3 sites healthy for 1m, 2 needed; off has not reported");
}

static void test_long_names(void)
{
	static const char n63[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	op_wave w[] = {{(char *)n63, {NULL, 0}}, {(char *)n63, {NULL, 0}}};
	op_rollout_policy p = {"r", w, 2, 1000 * MIN, -1, MIN};
	op_wave_site s[] = {site(n63, 0, D1, "a-state-name-that-is-long-and-goes-on-and-on", 0)};
	op_wave_out o = decide(&p, 0, s, 1);
	T_EQ_INT(o.verdict, OP_WAVE_WAIT);
	T_CHECK(strlen(o.why) < sizeof o.why && strstr(o.why, n63));
}

static void test_names(void)
{
	T_EQ_STR(op_wave_verdict_name(OP_WAVE_PROMOTE), "promote");
	T_EQ_STR(op_wave_verdict_name(OP_WAVE_WAIT), "wait");
	T_EQ_STR(op_wave_verdict_name(OP_WAVE_HALT), "halt");
	T_EQ_STR(op_wave_verdict_name(OP_WAVE_DONE), "done");
}

int main(void)
{
	T_RUN(test_wave_of);
	T_RUN(test_halted_and_done);
	T_RUN(test_rollback_halts);
	T_RUN(test_empty_wave_promoted);
	T_RUN(test_default_every_counted_site);
	T_RUN(test_silent_sites_do_not_count);
	T_RUN(test_window_floor);
	T_RUN(test_soak_by_report);
	T_RUN(test_other_spec_and_states);
	T_RUN(test_min_sites);
	T_RUN(test_long_names);
	T_RUN(test_names);
	return t_done();
}
