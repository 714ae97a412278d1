/* The revision choice (see include/outpost/agent/plan/choose.h): the rules the site agent
 * follows to move from one revision to the next, over plain values. Kept apart from the
 * loop so that its every branch is a unit test and no branch needs a nats-server. It
 * links against nothing but libc. */
#include "outpost/agent/plan/choose.h"

#include <stdio.h>
#include <string.h>

const char *op_choose_act_name(enum op_choose_act a)
{
	switch (a) {
	case OP_CHOOSE_KEEP: return "keep";
	case OP_CHOOSE_WAIT: return "wait";
	case OP_CHOOSE_REFUSE: return "refuse";
	case OP_CHOOSE_MEASURE: return "measure";
	case OP_CHOOSE_VERIFY: return "verify";
	case OP_CHOOSE_APPLY: return "apply";
	}
	return "?";
}

const char *op_choose_why_name(enum op_choose_why w)
{
	switch (w) {
	case OP_CHOOSE_NO_MARKER: return "no marker";
	case OP_CHOOSE_RUNNING: return "running";
	case OP_CHOOSE_BEHIND: return "behind";
	case OP_CHOOSE_CATCHING_UP: return "catching up";
	case OP_CHOOSE_INCOMPLETE: return "incomplete";
	case OP_CHOOSE_EDGE_WAIT: return "waits at the edge";
	case OP_CHOOSE_MARKER_BAD: return "marker refused";
	case OP_CHOOSE_REPLAY: return "replay";
	case OP_CHOOSE_EDGE_REFUSED: return "refused at the edge";
	case OP_CHOOSE_REFUSED: return "refused";
	case OP_CHOOSE_VERDICT: return "verdict";
	}
	return "?";
}

static enum op_choose_act done(op_choose_out *o, enum op_choose_act act, enum op_choose_why why)
{
	o->act = act;
	o->why = why;
	return act;
}

/* A refusal whose text is the problem: logged when it differs from the last one logged
 * (so once per outcome, however many rounds it lasts). */
static enum op_choose_act refuse(op_choose_out *o, enum op_choose_why why)
{
	o->problem_do = OP_CHOOSE_PROBLEM_SET;
	o->log = strcmp(o->problem, o->memo.said) != 0;
	if (o->log)
		snprintf(o->memo.said, sizeof o->memo.said, "%s", o->problem);
	return done(o, OP_CHOOSE_REFUSE, why);
}

static const char *msg(const char *s)
{
	return s ? s : "";
}

/* The hub answered lately and holds more than the mirror's last sequence. */
static bool hub_ahead(const op_choose_mirror *m)
{
	return m->hub_fresh && m->hub_last > m->last_seq;
}

static bool hub_level(const op_choose_mirror *m)
{
	return m->hub_fresh && m->hub_last <= m->last_seq;
}

/* The mirror has been replaying revisions and is not done: moving now could mean one
 * intermediate revision after another. Done is: the watcher delivered everything the
 * mirror holds, and the mirror holds what the hub has (asked across the link when it is
 * up, else the mirror's own lag as last heard, once it stopped changing). A mirror that
 * went quiet is taken as it
 * is, unless the hub answers and has more: then it is still coming, or stalled (and a
 * stalled one is read past by the loop). -1: measure first. */
static int catching_up(const op_choose_in *in)
{
	const op_choose_mirror *m = &in->mirror;
	bool quiet = in->now_ms - m->last_change_ms >= OP_CHOOSE_QUIET_MS;
	bool delivered = m->watch_init && m->watch_delta == 0;
	if (!delivered && !quiet)
		return 1; /* the watcher has more to deliver */
	if (!m->measured)
		return -1;
	if (!m->measure_ok)
		return !quiet;
	/* Without a recent answer from the hub, the mirror's own lag is all there is, and
	 * a mirror whose link just came back reports none before it has learnt what the hub
	 * holds: while it is still changing, it is taken as level only once quiet, unless
	 * it is live (it never stopped hearing from the hub since it was level). */
	bool level = hub_level(m) ||
		(!hub_ahead(m) && m->lag == 0 && (m->hub_fresh || m->live || quiet));
	if (delivered && level)
		return 0;
	if (!quiet)
		return 1;
	return hub_ahead(m);
}

/* The verdict on the marker's revision, without --trust: op_revision_assemble's. */
static enum op_choose_act verdict_hub(const op_choose_in *in, op_choose_out *o)
{
	if (in->verdict == 0) {
		o->problem_do = OP_CHOOSE_PROBLEM_CLEAR;
		o->memo.said[0] = '\0';
		return done(o, OP_CHOOSE_APPLY, OP_CHOOSE_VERDICT);
	}
	if (in->verdict == OP_ENOTFOUND)
		return done(o, OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
	snprintf(o->problem, sizeof o->problem, "revision refused: %.400s", msg(in->verdict_err));
	return refuse(o, OP_CHOOSE_REFUSED);
}

/* The verdict of verification at the edge, remembered when it was not a success. */
static enum op_choose_act verdict_edge(const op_choose_in *in, op_choose_out *o)
{
	const op_marker *m = in->marker;
	op_choose_memo *memo = &o->memo;
	int rc = in->verdict;
	if (rc == 0 || rc == OP_ENOMEM) {
		memo->key[0] = '\0'; /* a success, or a failure of this round only: not kept */
		return verdict_hub(in, o);
	}
	bool same = !strcmp(msg(in->key), memo->key);
	bool again = same && rc == memo->rc;
	if (!again)
		memo->since_ms = in->now_ms;
	snprintf(memo->key, sizeof memo->key, "%s", msg(in->key));
	memo->rc = rc;
	memo->checked_ms = in->now_ms;
	if (rc == OP_ENOTFOUND) {
		if (in->now_ms - memo->since_ms < in->resync_ms) {
			if (!again)
				memo->wait_logged = false;
			return done(o, OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
		}
		/* A blob withheld for a resync period is not a silent stall. */
		o->log = !memo->wait_logged;
		memo->wait_logged = true;
		o->problem_do = OP_CHOOSE_PROBLEM_SET;
		snprintf(o->problem, sizeof o->problem,
			"revision seq %llu (commit %.12s) waits at the edge for %llds: %.300s",
			(unsigned long long)m->seq, m->commit,
			(long long)((in->now_ms - memo->since_ms) / 1000), msg(in->verdict_err));
		return done(o, OP_CHOOSE_WAIT, OP_CHOOSE_EDGE_WAIT);
	}
	if (!again)
		memo->wait_logged = false;
	if (rc != OP_ETRUST) {
		snprintf(o->problem, sizeof o->problem, "revision refused: %.400s",
			msg(in->verdict_err));
		return refuse(o, OP_CHOOSE_REFUSED);
	}
	o->log = !again;
	if (in->verdict_err && in->verdict_err[0]) {
		o->problem_do = OP_CHOOSE_PROBLEM_SET;
		snprintf(o->problem, sizeof o->problem,
			"revision refused at the edge (running seq %llu): %.400s",
			in->run ? (unsigned long long)in->run->seq : 0ULL, in->verdict_err);
	}
	return done(o, OP_CHOOSE_REFUSE, OP_CHOOSE_EDGE_REFUSED);
}

/* With --trust, the same marker and proof as the last check that was not a success,
 * nothing changed since and within a resync period: its outcome stands (status still
 * says why; nothing is logged again). The hub's bucket is read anew each time. */
static bool memo_stands(const op_choose_in *in)
{
	const op_choose_memo *memo = &in->memo;
	return in->trust && !in->from_hub && memo->key[0] && !strcmp(msg(in->key), memo->key) &&
		in->mirror.last_change_ms <= memo->checked_ms &&
		in->now_ms - memo->checked_ms < in->resync_ms;
}

enum op_choose_act op_revision_choose(const op_choose_in *in, op_choose_out *out)
{
	memset(out, 0, sizeof *out);
	out->memo = in->memo;
	out->problem_do = OP_CHOOSE_PROBLEM_KEEP;
	if (!in->have_marker)
		return done(out, OP_CHOOSE_KEEP, OP_CHOOSE_NO_MARKER);
	if (in->marker_rc != 0 || !in->marker) {
		snprintf(out->problem, sizeof out->problem, "commit marker refused: %.400s",
			msg(in->marker_err));
		return refuse(out, OP_CHOOSE_MARKER_BAD);
	}
	const op_marker *m = in->marker, *run = in->run;
	if (run && !strcmp(m->commit, run->commit) && m->seq == run->seq &&
		(in->run_verified || !in->trust))
		return done(out, OP_CHOOSE_KEEP, OP_CHOOSE_RUNNING);
	if (run && m->seq < run->seq) {
		/* A mirror behind the revision the site runs (read from the hub past a stall,
		 * or kept from before a restart) is just behind; a hub that holds a lower seq
		 * than the site runs is replaying old state. */
		if (!in->from_hub && in->mirror.hub_fresh && !in->mirror.measured)
			return done(out, OP_CHOOSE_MEASURE, OP_CHOOSE_VERDICT);
		bool hub_says = in->from_hub ||
			(in->mirror.hub_fresh && in->mirror.measure_ok && hub_level(&in->mirror));
		if (!hub_says)
			return done(out, OP_CHOOSE_WAIT, OP_CHOOSE_BEHIND);
		snprintf(out->problem, sizeof out->problem,
			"refusing marker seq %llu (commit %.12s): older than the revision running "
			"(seq %llu); the hub may be replaying old state",
			(unsigned long long)m->seq, m->commit, (unsigned long long)run->seq);
		return refuse(out, OP_CHOOSE_REPLAY);
	}
	if (!in->from_hub) {
		int c = catching_up(in);
		if (c < 0)
			return done(out, OP_CHOOSE_MEASURE, OP_CHOOSE_VERDICT);
		if (c)
			return done(out, OP_CHOOSE_WAIT, OP_CHOOSE_CATCHING_UP);
	}
	if (memo_stands(in)) {
		if (in->memo.rc == OP_ENOTFOUND)
			return done(out, OP_CHOOSE_WAIT, OP_CHOOSE_INCOMPLETE);
		return done(out, OP_CHOOSE_REFUSE,
			in->memo.rc == OP_ETRUST ? OP_CHOOSE_EDGE_REFUSED : OP_CHOOSE_REFUSED);
	}
	if (!in->have_verdict)
		return done(out, OP_CHOOSE_VERIFY, OP_CHOOSE_VERDICT);
	return in->trust ? verdict_edge(in, out) : verdict_hub(in, out);
}
