/* The revision choice (choose.h), rule by rule, then against its properties over random
 * sequences of rounds. Each test starts from one site: it runs seq 1 (commit aaaa...),
 * the mirror holds the marker of seq 2 (bbbb...), the watcher is done and quiet, the
 * hub answers and the mirror is level with it. A test changes what it is about and
 * calls step(), which follows MEASURE and VERIFY as the loop does only when the test
 * asks for it (the measure and verdict are the test's to give). This program links
 * against choose.o alone: the choice needs no library. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/plan/choose.h"
#include "t.h"

static op_marker RUN, NEW, OLD;
static op_choose_in in;
static op_choose_out out;

static op_marker mk(char c, uint64_t seq)
{
	op_marker m;
	memset(&m, 0, sizeof m);
	memset(m.commit, c, 40);
	m.seq = seq;
	snprintf(m.signer, sizeof m.signer, "dev@example.org");
	return m;
}

static void base(void)
{
	RUN = mk('a', 1);
	NEW = mk('b', 2);
	OLD = mk('c', 0);
	memset(&in, 0, sizeof in);
	memset(&out, 0, sizeof out);
	in.now_ms = 1000000;
	in.resync_ms = 30000;
	in.have_marker = true;
	in.marker = &NEW;
	in.key = "sha256:1111";
	in.run = &RUN;
	in.mirror = (op_choose_mirror){.last_change_ms = in.now_ms - 10000,
		.watch_init = true,
		.hub_fresh = true,
		.hub_last = 50,
		.measured = true,
		.measure_ok = true,
		.last_seq = 50};
}

static enum op_choose_act step(void)
{
	return op_revision_choose(&in, &out);
}

/* The loop's second call: the verdict on the marker's revision; memo carried over. */
static enum op_choose_act verdict(int rc, const char *err)
{
	in.memo = out.memo;
	in.have_verdict = true;
	in.verdict = rc;
	in.verdict_err = err;
	return step();
}

/* The next round: the memo is kept, the verdict forgotten, time moves on by ms. */
static void next_round(int64_t ms)
{
	in.memo = out.memo;
	in.have_verdict = false;
	in.verdict = 0;
	in.verdict_err = NULL;
	in.now_ms += ms;
}

#define T_ACT(act_, why_) \
	do { \
		T_EQ_STR(op_choose_act_name(out.act), op_choose_act_name(act_)); \
		T_EQ_STR(op_choose_why_name(out.why), op_choose_why_name(why_)); \
	} while (0)

/* --- markers -------------------------------------------------------------------------- */

static void test_no_marker(void)
{
	base();
	in.have_marker = false;
	T_EQ_INT(step(), OP_CHOOSE_KEEP);
	T_ACT(OP_CHOOSE_KEEP, OP_CHOOSE_NO_MARKER);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
	T_CHECK(!out.log);
}

static void test_marker_undecodable(void)
{
	base();
	in.marker_rc = OP_EINVAL;
	in.marker_err = "seq: expected an integer >= 1";
	in.marker = NULL;
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_MARKER_BAD);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_SET);
	T_EQ_STR(out.problem, "commit marker refused: seq: expected an integer >= 1");
	T_CHECK(out.log);
}

static void test_marker_unknown_format(void)
{
	base();
	in.marker_rc = OP_EINVAL;
	in.marker_err = "format: 2 is not a format this release reads (1)";
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_MARKER_BAD);
	T_CHECK(strstr(out.problem, "commit marker refused: format: 2") != NULL);
}

static void test_marker_refusal_logged_once(void)
{
	base();
	in.marker_rc = OP_EINVAL;
	in.marker_err = "bad";
	step();
	T_CHECK(out.log);
	for (int i = 0; i < 5; i++) {
		next_round(500);
		step();
		T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_MARKER_BAD);
		T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_SET); /* status keeps saying it */
		T_CHECK(!out.log);
	}
	/* Another error is another outcome. */
	next_round(500);
	in.marker_err = "worse";
	step();
	T_CHECK(out.log);
}

static void test_marker_err_missing(void)
{
	base();
	in.marker_rc = OP_EINVAL;
	in.marker_err = NULL;
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_MARKER_BAD);
	T_EQ_STR(out.problem, "commit marker refused: ");
}

static void test_marker_long_error_bounded(void)
{
	base();
	char big[2000];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	in.marker_rc = OP_EINVAL;
	in.marker_err = big;
	step();
	T_CHECK(strlen(out.problem) < sizeof out.problem);
	T_CHECK(strlen(out.problem) >= 400);
}

/* --- the revision running ------------------------------------------------------------- */

static void test_running_kept(void)
{
	base();
	in.marker = &RUN;
	step();
	T_ACT(OP_CHOOSE_KEEP, OP_CHOOSE_RUNNING);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
}

static void test_running_kept_while_catching_up(void)
{
	base();
	in.marker = &RUN;
	in.mirror.watch_delta = 40;
	in.mirror.last_change_ms = in.now_ms;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_KEEP, OP_CHOOSE_RUNNING); /* no measure asked for */
}

static void test_same_seq_other_commit_is_not_running(void)
{
	base();
	op_marker other = mk('d', 1);
	in.marker = &other;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

static void test_trust_unverified_running_verified_once(void)
{
	base();
	in.trust = true;
	in.marker = &RUN;
	in.run_verified = false;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	verdict(0, NULL);
	T_ACT(OP_CHOOSE_APPLY, OP_CHOOSE_VERDICT);
	/* Then it runs verified: kept. */
	next_round(500);
	in.run_verified = true;
	step();
	T_ACT(OP_CHOOSE_KEEP, OP_CHOOSE_RUNNING);
}

static void test_trust_unverified_running_refused_keeps_running(void)
{
	base();
	in.trust = true;
	in.marker = &RUN;
	step();
	verdict(OP_ETRUST, "commit aaaa: no principal of the policy signed it");
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
	T_EQ_STR(out.problem,
		"revision refused at the edge (running seq 1): commit aaaa: no "
		"principal of the policy signed it");
	T_CHECK(out.log);
}

static void test_no_run_yet(void)
{
	base();
	in.run = NULL;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	verdict(0, NULL);
	T_ACT(OP_CHOOSE_APPLY, OP_CHOOSE_VERDICT);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_CLEAR);
}

static void test_no_run_edge_refusal_says_seq_0(void)
{
	base();
	in.run = NULL;
	in.trust = true;
	step();
	verdict(OP_ETRUST, "bad signature");
	T_EQ_STR(out.problem, "revision refused at the edge (running seq 0): bad signature");
}

/* --- seq never goes backwards ---------------------------------------------------------- */

static void test_older_while_hub_away_waits(void)
{
	base();
	in.marker = &OLD;
	RUN.seq = 5;
	OLD.seq = 3;
	in.mirror.hub_fresh = false;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_BEHIND); /* no measure: the hub cannot say */
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
}

static void test_older_measures_when_hub_answers(void)
{
	base();
	RUN.seq = 5;
	OLD.seq = 3;
	in.marker = &OLD;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_MEASURE, OP_CHOOSE_VERDICT);
}

static void test_older_and_level_is_a_replay(void)
{
	base();
	RUN.seq = 5;
	OLD.seq = 3;
	in.marker = &OLD;
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REPLAY);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_SET);
	T_EQ_STR(out.problem,
		"refusing marker seq 3 (commit cccccccccccc): older than the "
		"revision running (seq 5); the hub may be replaying old state");
	T_CHECK(out.log);
}

static void test_older_and_mirror_behind_waits(void)
{
	base();
	RUN.seq = 5;
	OLD.seq = 3;
	in.marker = &OLD;
	in.mirror.hub_last = 60; /* the mirror (50) is behind the hub */
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_BEHIND);
}

static void test_older_and_measure_failed_waits(void)
{
	base();
	RUN.seq = 5;
	OLD.seq = 3;
	in.marker = &OLD;
	in.mirror.measure_ok = false;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_BEHIND);
}

static void test_older_from_hub_is_a_replay(void)
{
	base();
	RUN.seq = 5;
	OLD.seq = 3;
	in.marker = &OLD;
	in.from_hub = true;
	in.mirror.hub_fresh = false;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REPLAY);
}

static void test_replay_logged_once(void)
{
	base();
	RUN.seq = 5;
	OLD.seq = 3;
	in.marker = &OLD;
	step();
	T_CHECK(out.log);
	next_round(500);
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REPLAY);
	T_CHECK(!out.log);
	/* An even older marker is another outcome. */
	next_round(500);
	OLD.seq = 2;
	step();
	T_CHECK(out.log);
}

static void test_older_even_with_trust_never_verified(void)
{
	base();
	in.trust = true;
	RUN.seq = 5;
	OLD.seq = 4;
	in.marker = &OLD;
	in.have_verdict = true; /* a verdict given anyway changes nothing */
	in.verdict = 0;
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REPLAY);
}

/* --- catch-up ------------------------------------------------------------------------- */

static void test_catchup_watcher_busy_waits(void)
{
	base();
	in.mirror.watch_delta = 12;
	in.mirror.last_change_ms = in.now_ms - 100;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP); /* without asking the server */
}

static void test_catchup_watcher_not_started_waits(void)
{
	base();
	in.mirror.watch_init = false;
	in.mirror.last_change_ms = in.now_ms - 1999;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
}

static void test_catchup_done_asks_the_mirror(void)
{
	base();
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_MEASURE, OP_CHOOSE_VERDICT);
	in.mirror.measured = true;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

static void test_catchup_level_moves_at_once(void)
{
	base();
	in.mirror.last_change_ms = in.now_ms; /* not quiet, but delivered and level */
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

static void test_catchup_hub_ahead_waits_even_quiet(void)
{
	base();
	in.mirror.hub_last = 51;
	in.mirror.last_change_ms = in.now_ms;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	in.mirror.last_change_ms = in.now_ms - 60000; /* quiet: stalled, still behind */
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
}

static void test_catchup_lag_when_hub_away(void)
{
	base();
	in.mirror.hub_fresh = false;
	in.mirror.lag = 7;
	in.mirror.last_change_ms = in.now_ms - 500;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	/* the mirror's own word, with the hub away, while it still changes: a mirror whose
	 * link just came back says no lag before it learnt what the hub holds */
	in.mirror.lag = 0;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	in.mirror.last_change_ms = in.now_ms - OP_CHOOSE_QUIET_MS; /* then quiet: taken */
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	/* with the hub answering, its word stands at once */
	in.mirror.hub_fresh = true;
	in.mirror.hub_last = in.mirror.last_seq;
	in.mirror.last_change_ms = in.now_ms - 500;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

/* A live mirror (it kept hearing from the hub since it was level) with nothing pending
 * has the hub's word: the site moves without asking the hub and without waiting to be
 * quiet; with a lag it waits. Not live and the hub not asked lately: quiet first. */
static void test_catchup_live_mirror_moves_at_once(void)
{
	base();
	in.mirror.hub_fresh = false;
	in.mirror.hub_last = 30; /* the hub's answer of a revision ago */
	in.mirror.last_change_ms = in.now_ms - 100;
	in.mirror.live = true;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	in.mirror.lag = 2;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	in.mirror.lag = 0;
	in.mirror.live = false;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	/* live, but the watcher has more to deliver */
	in.mirror.live = true;
	in.mirror.watch_delta = 1;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	/* live, but a fresh hub answer says the hub holds more */
	in.mirror.watch_delta = 0;
	in.mirror.hub_fresh = true;
	in.mirror.hub_last = in.mirror.last_seq + 1;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
}

static void test_catchup_quiet_taken_as_it_is(void)
{
	base();
	in.mirror.hub_fresh = false;
	in.mirror.lag = 7; /* the lag as last heard, the link down since */
	in.mirror.last_change_ms = in.now_ms - OP_CHOOSE_QUIET_MS;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	/* Just under the quiet period: wait. */
	in.mirror.last_change_ms = in.now_ms - OP_CHOOSE_QUIET_MS + 1;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
}

static void test_catchup_quiet_watcher_unfinished(void)
{
	base();
	in.mirror.watch_delta = 3; /* the watcher says more, but nothing came for 2 s */
	in.mirror.last_change_ms = in.now_ms - 5000;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_MEASURE, OP_CHOOSE_VERDICT);
	in.mirror.measured = true;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

static void test_catchup_measure_failed(void)
{
	base();
	in.mirror.measure_ok = false;
	in.mirror.last_change_ms = in.now_ms - 100;
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	in.mirror.last_change_ms = in.now_ms - 3000;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

static void test_from_hub_skips_catchup(void)
{
	base();
	in.from_hub = true;
	in.mirror.watch_delta = 100;
	in.mirror.last_change_ms = in.now_ms;
	in.mirror.hub_last = 900;
	in.mirror.measured = false;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

/* --- whole revisions: the verdict ------------------------------------------------------ */

static void test_whole_revision_applied(void)
{
	base();
	step();
	verdict(0, NULL);
	T_ACT(OP_CHOOSE_APPLY, OP_CHOOSE_VERDICT);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_CLEAR);
	T_CHECK(!out.log);
}

static void test_incomplete_waits_silently(void)
{
	base();
	step();
	verdict(OP_ENOTFOUND, "app web: not at the listed digest yet");
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
	T_CHECK(!out.log);
	/* Still incomplete long after: without --trust the entries are on their way. */
	next_round(120000);
	step();
	verdict(OP_ENOTFOUND, "app web: not at the listed digest yet");
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
}

static void test_unknown_app_format_refused(void)
{
	base();
	step();
	verdict(OP_EINVAL, "app web: format 3 is unknown");
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REFUSED);
	T_EQ_STR(out.problem, "revision refused: app web: format 3 is unknown");
	T_CHECK(out.log);
	next_round(500);
	step();
	verdict(OP_EINVAL, "app web: format 3 is unknown");
	T_CHECK(!out.log);
}

static void test_out_of_memory_reported_and_retried(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ENOMEM, "out of memory");
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REFUSED);
	T_EQ_STR(out.problem, "revision refused: out of memory");
	T_CHECK(out.log);
	T_EQ_STR(out.memo.key, ""); /* not remembered: the next round verifies again */
	next_round(500);
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	verdict(0, NULL);
	T_ACT(OP_CHOOSE_APPLY, OP_CHOOSE_VERDICT);
}

static void test_apply_forgets_what_was_said(void)
{
	base();
	step();
	verdict(OP_EINVAL, "bad");
	T_CHECK(out.log);
	next_round(500);
	step();
	verdict(0, NULL);
	T_EQ_STR(out.memo.said, "");
	/* The same refusal later (of another revision) is said again. */
	RUN = NEW;
	NEW = mk('e', 3);
	next_round(500);
	step();
	verdict(OP_EINVAL, "bad");
	T_CHECK(out.log);
}

/* --- verification at the edge ---------------------------------------------------------- */

static void test_edge_refusal_remembered(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "forged");
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
	T_CHECK(out.log);
	T_EQ_STR(out.memo.key, "sha256:1111");
	T_EQ_INT(out.memo.rc, OP_ETRUST);
	T_EQ_INT(out.memo.checked_ms, in.now_ms);
	/* The next rounds: not checked again, status left saying why, nothing logged. */
	next_round(500);
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
	T_CHECK(!out.log);
}

static void test_edge_rechecked_after_resync(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "forged");
	next_round(29999);
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
	next_round(1);
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT); /* the site's policy may be fixed */
	verdict(OP_ETRUST, "forged");
	T_CHECK(!out.log); /* the same outcome: said once */
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_SET);
	next_round(500);
	step();
	verdict(0, NULL); /* never asked: memo stands */
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
}

static void test_edge_rechecked_when_bucket_changes(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "forged");
	next_round(500);
	in.mirror.last_change_ms = in.now_ms - 100; /* after the check */
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
}

static void test_edge_rechecked_for_other_bytes(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "forged");
	next_round(500);
	in.key = "sha256:2222";
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	verdict(OP_ETRUST, "forged");
	T_CHECK(out.log); /* another proof: another outcome */
}

static void test_edge_hub_read_always_checked(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "forged");
	next_round(500);
	in.from_hub = true;
	step();
	T_ACT(OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	verdict(OP_ETRUST, "forged");
	T_CHECK(!out.log);
}

static void test_edge_wait_short_is_silent(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ENOTFOUND, "blob 1234 is not here");
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
	T_CHECK(!out.log);
	T_EQ_INT(out.memo.since_ms, in.now_ms);
	next_round(500);
	step();
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE); /* remembered */
}

static void test_edge_wait_long_shown_and_logged_once(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ENOTFOUND, "blob 1234 is not here");
	next_round(30000);
	step();
	verdict(OP_ENOTFOUND, "blob 1234 is not here");
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_EDGE_WAIT);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_SET);
	T_EQ_STR(out.problem,
		"revision seq 2 (commit bbbbbbbbbbbb) waits at the edge for 30s: "
		"blob 1234 is not here");
	T_CHECK(out.log);
	next_round(30000);
	step();
	verdict(OP_ENOTFOUND, "blob 1234 is not here");
	T_CHECK(strstr(out.problem, "for 60s") != NULL);
	T_CHECK(!out.log);
}

static void test_edge_wait_new_outcome_logged_again(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ENOTFOUND, "blob");
	next_round(30000);
	step();
	verdict(OP_ENOTFOUND, "blob");
	T_CHECK(out.log);
	/* A refusal in between: the wait that follows is a new one, from its start. */
	next_round(30000);
	step();
	verdict(OP_ETRUST, "forged");
	T_CHECK(out.log);
	next_round(30000);
	step();
	verdict(OP_ENOTFOUND, "blob");
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
	T_EQ_INT(out.memo.since_ms, in.now_ms);
	next_round(30000);
	step();
	verdict(OP_ENOTFOUND, "blob");
	T_ACT(OP_CHOOSE_WAIT, OP_CHOOSE_EDGE_WAIT);
	T_CHECK(out.log);
}

static void test_edge_success_forgets(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "forged");
	next_round(30000);
	step();
	verdict(0, NULL);
	T_ACT(OP_CHOOSE_APPLY, OP_CHOOSE_VERDICT);
	T_EQ_STR(out.memo.key, "");
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_CLEAR);
}

static void test_edge_policy_error_is_a_refusal(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ETRUST, "trust policy: /etc/outpost/allowed_signers: no such file");
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
	T_CHECK(strstr(out.problem, "trust policy:") != NULL);
}

static void test_edge_other_error_remembered(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_EINVAL, "proof: not JSON");
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REFUSED);
	T_EQ_STR(out.problem, "revision refused: proof: not JSON");
	T_CHECK(out.log);
	next_round(500);
	step();
	T_ACT(OP_CHOOSE_REFUSE, OP_CHOOSE_REFUSED);
	T_EQ_INT(out.problem_do, OP_CHOOSE_PROBLEM_KEEP);
	T_CHECK(!out.log);
}

static void test_deterministic_and_input_untouched(void)
{
	base();
	in.trust = true;
	step();
	verdict(OP_ENOTFOUND, "blob");
	op_choose_in copy = in;
	op_choose_out a, b;
	op_revision_choose(&in, &a);
	op_revision_choose(&in, &b);
	T_CHECK(!memcmp(&in, &copy, sizeof in));
	T_CHECK(!memcmp(&a, &b, sizeof a));
}

static void test_names(void)
{
	for (int i = OP_CHOOSE_KEEP; i <= OP_CHOOSE_APPLY; i++)
		T_CHECK(strcmp(op_choose_act_name((enum op_choose_act)i), "?") != 0);
	for (int i = OP_CHOOSE_NO_MARKER; i <= OP_CHOOSE_VERDICT; i++)
		T_CHECK(strcmp(op_choose_why_name((enum op_choose_why)i), "?") != 0);
	T_EQ_STR(op_choose_act_name((enum op_choose_act)99), "?");
	T_EQ_STR(op_choose_why_name((enum op_choose_why)99), "?");
}

/* --- properties ------------------------------------------------------------------------
 * Random sequences of rounds at one site, played as the loop plays them: a marker from a
 * small pool (some undecodable, some older than what runs), a mirror in any state, the
 * hub's table now and then, measures and verdicts at random when asked. What must hold,
 * whatever the sequence:
 * - seq never goes backwards, and what runs changes only on APPLY;
 * - nothing is applied that is not whole (a verdict of 0 for that very marker);
 * - nothing is applied from the mirror while it catches up, unless it is quiet;
 * - a round ends in at most three calls (one measure, one verdict);
 * - every refusal sets the status' problem when first met, only APPLY clears it;
 * - a refusal is logged once per outcome: never twice in a row for the same one;
 * - every kind of refusal the agent reports is met (the generator reaches them all). */

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

struct prop {
	op_marker pool[6];
	op_marker run;
	bool have_run, run_verified;
	char problem[OP_CHOOSE_PROBLEM_MAX];
	char last_logged[OP_CHOOSE_PROBLEM_MAX + 128];
	op_choose_memo memo;
	int64_t now, last_change;
};

static unsigned SEEN[OP_CHOOSE_VERDICT + 1], APPLIED;

static const int verdicts[] = {
	0, 0, 0, OP_ENOTFOUND, OP_ENOTFOUND, OP_ETRUST, OP_EINVAL, OP_ENOMEM};
static const char *const verdict_msgs[] = {"", "", "", "blob x missing", "app y not yet",
	"forged signature", "app z: format 9", "out of memory"};

static bool prop_fail(uint64_t seed, int round, const char *what)
{
	t_fail(__FILE__, __LINE__, "seed %llu (replay first: CHOOSE_SEED=%llu) round %d: %s",
		(unsigned long long)seed, (unsigned long long)seed, round, what);
	return false;
}

/* The outcome a logged refusal is about: its kind and, at the edge, the bytes checked
 * and the verdict; otherwise the problem's text. */
static void outcome(const op_choose_out *o, const op_choose_in *i, char *buf, size_t len)
{
	if (o->why == OP_CHOOSE_EDGE_REFUSED || o->why == OP_CHOOSE_EDGE_WAIT)
		snprintf(buf, len, "%d|%s|%d|%lld", o->why, i->key, o->memo.rc,
			(long long)o->memo.since_ms);
	else
		snprintf(buf, len, "%d|%s", o->why, o->problem);
}

static bool prop_run(uint64_t seed)
{
	struct prop P;
	memset(&P, 0, sizeof P);
	rng = seed | 1;
	bool trust = pick(2);
	for (int i = 0; i < 6; i++)
		P.pool[i] = mk((char)('a' + i), 1 + pick(6));
	P.now = 100000;
	for (int round = 0; round < 300; round++) {
		P.now += 1 + pick(8000);
		if (pick(3) == 0)
			P.last_change = P.now - pick(3000);
		unsigned which = pick(6);
		char key[32];
		snprintf(key, sizeof key, "sha256:%u", pick(3) ? which : 6 + pick(2));
		op_choose_in ci = {.now_ms = P.now,
			.resync_ms = 30000,
			.trust = trust,
			.from_hub = pick(5) == 0,
			.have_marker = pick(10) != 0,
			.marker_rc = pick(12) == 0 ? OP_EINVAL : 0,
			.marker_err = pick(2) ? "bad marker" : "format 7 unknown",
			.marker = &P.pool[which],
			.key = key,
			.run = P.have_run ? &P.run : NULL,
			.run_verified = P.run_verified,
			.memo = P.memo};
		op_choose_mirror *m = &ci.mirror;
		m->last_change_ms = P.last_change;
		m->watch_init = pick(4) != 0;
		m->watch_delta = pick(3) ? 0 : pick(40);
		m->hub_fresh = pick(3) != 0;
		m->hub_last = 100 + pick(4);
		op_choose_out co;
		int calls = 0;
		bool verdict_given = false;
		for (;;) {
			op_revision_choose(&ci, &co);
			if (++calls > 3)
				return prop_fail(seed, round, "more than three calls in a round");
			if (co.act == OP_CHOOSE_MEASURE) {
				if (m->measured)
					return prop_fail(seed, round, "measure asked twice");
				m->measured = true;
				m->measure_ok = pick(6) != 0;
				m->last_seq = 100 + pick(4);
				m->lag = pick(3) ? 0 : pick(5);
				continue;
			}
			if (co.act == OP_CHOOSE_VERIFY) {
				if (verdict_given)
					return prop_fail(seed, round, "verify asked twice");
				unsigned v = pick(sizeof verdicts / sizeof *verdicts);
				verdict_given = true;
				ci.have_verdict = true;
				ci.verdict = verdicts[v];
				ci.verdict_err = verdict_msgs[v];
				ci.memo = co.memo;
				continue;
			}
			break;
		}
		const op_marker *mk_ = ci.marker;
		SEEN[co.why]++;
		if (co.act == OP_CHOOSE_APPLY) {
			if (!ci.have_marker || ci.marker_rc || !ci.have_verdict || ci.verdict != 0)
				return prop_fail(seed, round, "applied what is not whole");
			if (P.have_run && mk_->seq < P.run.seq)
				return prop_fail(seed, round, "seq went backwards");
			if (!ci.from_hub) {
				bool quiet = P.now - m->last_change_ms >= OP_CHOOSE_QUIET_MS;
				bool delivered = m->watch_init && m->watch_delta == 0;
				bool ahead = m->measure_ok && m->hub_fresh &&
					m->hub_last > m->last_seq;
				bool level = m->measure_ok &&
					((m->hub_fresh && m->hub_last <= m->last_seq) ||
						(!(m->hub_fresh && m->hub_last > m->last_seq) &&
							m->lag == 0));
				if (!quiet && !(delivered && level))
					return prop_fail(seed, round, "applied while catching up");
				if (quiet && ahead)
					return prop_fail(seed, round, "applied behind the hub");
			}
			if (co.problem_do != OP_CHOOSE_PROBLEM_CLEAR)
				return prop_fail(
					seed, round, "applied without clearing the problem");
			P.run = *mk_;
			P.have_run = true;
			P.run_verified = trust;
			APPLIED++;
			P.last_logged[0] = '\0';
		} else if (co.problem_do == OP_CHOOSE_PROBLEM_CLEAR) {
			return prop_fail(seed, round, "problem cleared without an apply");
		}
		if (co.act == OP_CHOOSE_KEEP && co.why == OP_CHOOSE_RUNNING && trust &&
			!P.run_verified)
			return prop_fail(seed, round, "kept an unverified revision with --trust");
		if (co.act == OP_CHOOSE_REFUSE || co.why == OP_CHOOSE_EDGE_WAIT) {
			if (co.problem_do == OP_CHOOSE_PROBLEM_SET && !co.problem[0])
				return prop_fail(seed, round, "a refusal with no reason");
			if (co.problem_do == OP_CHOOSE_PROBLEM_KEEP && co.log)
				return prop_fail(
					seed, round, "logged a refusal status does not show");
			char oc[sizeof P.last_logged];
			outcome(&co, &ci, oc, sizeof oc);
			if (co.log && !strcmp(oc, P.last_logged))
				return prop_fail(seed, round, "the same refusal logged twice");
			if (co.log)
				snprintf(P.last_logged, sizeof P.last_logged, "%s", oc);
		} else if (co.log) {
			return prop_fail(seed, round, "logged something that is no refusal");
		}
		if (co.problem_do == OP_CHOOSE_PROBLEM_SET)
			snprintf(P.problem, sizeof P.problem, "%s", co.problem);
		else if (co.problem_do == OP_CHOOSE_PROBLEM_CLEAR)
			P.problem[0] = '\0';
		P.memo = co.memo;
		/* Now and then the hub moves on: a newer seq for one marker of the pool. */
		if (pick(8) == 0)
			P.pool[pick(6)].seq = (P.have_run ? P.run.seq : 1) + pick(3);
	}
	return true;
}

static void test_properties(void)
{
	uint64_t base_seed = 0x5eed0c40053ULL;
	const char *env = getenv("CHOOSE_SEED");
	if (env)
		base_seed = strtoull(env, NULL, 10);
	memset(SEEN, 0, sizeof SEEN);
	APPLIED = 0;
	for (uint64_t s = 0; s < 400; s++) {
		uint64_t seed = base_seed + s * 0x9e3779b97f4a7c15ULL;
		if (!prop_run(seed))
			return;
	}
	/* Every refusal the agent can report, every wait, and applies were met. */
	for (int w = OP_CHOOSE_NO_MARKER; w <= OP_CHOOSE_VERDICT; w++)
		T_CHECK_MSG(
			SEEN[w] > 0, "never met: %s", op_choose_why_name((enum op_choose_why)w));
	T_CHECK(APPLIED > 400);
	printf("  400 sequences of 300 rounds from seed %llu (CHOOSE_SEED): %u applies, %u "
	       "refusals\n",
		(unsigned long long)base_seed, APPLIED,
		SEEN[OP_CHOOSE_MARKER_BAD] + SEEN[OP_CHOOSE_REPLAY] + SEEN[OP_CHOOSE_EDGE_REFUSED] +
			SEEN[OP_CHOOSE_REFUSED]);
}

int main(void)
{
	T_RUN(test_no_marker);
	T_RUN(test_marker_undecodable);
	T_RUN(test_marker_unknown_format);
	T_RUN(test_marker_refusal_logged_once);
	T_RUN(test_marker_err_missing);
	T_RUN(test_marker_long_error_bounded);
	T_RUN(test_running_kept);
	T_RUN(test_running_kept_while_catching_up);
	T_RUN(test_same_seq_other_commit_is_not_running);
	T_RUN(test_trust_unverified_running_verified_once);
	T_RUN(test_trust_unverified_running_refused_keeps_running);
	T_RUN(test_no_run_yet);
	T_RUN(test_no_run_edge_refusal_says_seq_0);
	T_RUN(test_older_while_hub_away_waits);
	T_RUN(test_older_measures_when_hub_answers);
	T_RUN(test_older_and_level_is_a_replay);
	T_RUN(test_older_and_mirror_behind_waits);
	T_RUN(test_older_and_measure_failed_waits);
	T_RUN(test_older_from_hub_is_a_replay);
	T_RUN(test_replay_logged_once);
	T_RUN(test_older_even_with_trust_never_verified);
	T_RUN(test_catchup_watcher_busy_waits);
	T_RUN(test_catchup_watcher_not_started_waits);
	T_RUN(test_catchup_done_asks_the_mirror);
	T_RUN(test_catchup_level_moves_at_once);
	T_RUN(test_catchup_hub_ahead_waits_even_quiet);
	T_RUN(test_catchup_lag_when_hub_away);
	T_RUN(test_catchup_live_mirror_moves_at_once);
	T_RUN(test_catchup_quiet_taken_as_it_is);
	T_RUN(test_catchup_quiet_watcher_unfinished);
	T_RUN(test_catchup_measure_failed);
	T_RUN(test_from_hub_skips_catchup);
	T_RUN(test_whole_revision_applied);
	T_RUN(test_incomplete_waits_silently);
	T_RUN(test_unknown_app_format_refused);
	T_RUN(test_out_of_memory_reported_and_retried);
	T_RUN(test_apply_forgets_what_was_said);
	T_RUN(test_edge_refusal_remembered);
	T_RUN(test_edge_rechecked_after_resync);
	T_RUN(test_edge_rechecked_when_bucket_changes);
	T_RUN(test_edge_rechecked_for_other_bytes);
	T_RUN(test_edge_hub_read_always_checked);
	T_RUN(test_edge_wait_short_is_silent);
	T_RUN(test_edge_wait_long_shown_and_logged_once);
	T_RUN(test_edge_wait_new_outcome_logged_again);
	T_RUN(test_edge_success_forgets);
	T_RUN(test_edge_policy_error_is_a_refusal);
	T_RUN(test_edge_other_error_remembered);
	T_RUN(test_deterministic_and_input_untouched);
	T_RUN(test_names);
	T_RUN(test_properties);
	return t_done();
}
