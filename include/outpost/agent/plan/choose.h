/* Which revision a site runs, pure: the agent's loop gathers what it knows (the marker a
 * table of desired state holds, the revision running, how its mirror keeps up, what edge
 * verification said last) into an op_choose_in, and op_revision_choose says what to do.
 * No clock (times are inputs), no NATS, no files, no logging: the loop does the I/O the
 * answer asks for and calls again, so every rule is tested in microseconds.
 *
 * The rules (DESIGN.md, "The commit marker"):
 * - no marker: nothing to do; a marker that does not decode (an unknown format, a
 *   field out of range) is refused;
 * - the marker of the revision running is kept, except that with --trust a running
 *   revision that was never verified (saved by an agent that took the hub's word) is
 *   verified once and replaced by the same revision verified;
 * - seq never goes backwards: a marker older than the running one is refused when the
 *   hub says so (read past a stalled mirror, or the mirror is level with a hub that
 *   answers: the hub may be replaying old state), else it is a mirror that is behind
 *   and the site waits;
 * - during a catch-up (the watcher has more to deliver, or the mirror is behind the hub)
 *   the site waits, so that it moves to the newest revision in one step; the mirror's
 *   own lag is trusted when the hub answered lately or the mirror is live (it kept
 *   hearing from the hub since it was level); a mirror quiet for OP_CHOOSE_QUIET_MS is
 *   taken as it is unless the hub answers and has more;
 * - whole revisions only: the loop assembles the marker's revision (with --trust,
 *   verifies it at the edge) and calls again with the verdict: incomplete waits, a
 *   refusal is reported, a whole one is applied;
 * - with --trust an outcome that was not a success is remembered by the bytes of marker
 *   and proof, not checked again until the bucket changed or a resync period passed,
 *   nor logged twice; a wait at the edge that lasts a resync period is shown in status
 *   and logged once. Every other refusal is logged once per outcome too. */
#ifndef OUTPOST_CHOOSE_H
#define OUTPOST_CHOOSE_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"

#define OP_CHOOSE_QUIET_MS 2000 /* a mirror this long without change is done replaying */
#define OP_CHOOSE_PROBLEM_MAX 512

/* What to do. MEASURE and VERIFY ask the loop for more input and another call. */
enum op_choose_act {
	OP_CHOOSE_KEEP, /* keep running what runs */
	OP_CHOOSE_WAIT, /* not now; why says what for */
	OP_CHOOSE_REFUSE, /* the marker or its revision is refused; problem says why */
	OP_CHOOSE_MEASURE, /* fill in.mirror's measure (sequence, lag), then call again */
	OP_CHOOSE_VERIFY, /* assemble (--trust: verify at the edge) the marker's revision,
			     then call again with the verdict */
	OP_CHOOSE_APPLY, /* run the revision the verdict built */
};

enum op_choose_why {
	OP_CHOOSE_NO_MARKER, /* the table holds no marker (yet) */
	OP_CHOOSE_RUNNING, /* the marker is the revision running */
	OP_CHOOSE_BEHIND, /* older than the running one; the mirror is behind: wait */
	OP_CHOOSE_CATCHING_UP, /* the mirror is replaying revisions: wait */
	OP_CHOOSE_INCOMPLETE, /* an app entry or a blob is not here yet: wait */
	OP_CHOOSE_EDGE_WAIT, /* incomplete at the edge for a resync period: wait, said */
	OP_CHOOSE_MARKER_BAD, /* refused: the marker does not decode */
	OP_CHOOSE_REPLAY, /* refused: older than the running one, and the hub says so */
	OP_CHOOSE_EDGE_REFUSED, /* refused: verification at the edge said no */
	OP_CHOOSE_REFUSED, /* refused: the revision does not assemble (e.g. a format) */
	OP_CHOOSE_VERDICT, /* MEASURE/VERIFY/APPLY: the rules need (or have) a verdict */
};

/* What the status' problem becomes. */
enum op_choose_problem {
	OP_CHOOSE_PROBLEM_KEEP, /* as it is */
	OP_CHOOSE_PROBLEM_SET, /* out.problem */
	OP_CHOOSE_PROBLEM_CLEAR,
};

/* Remembered between calls (the loop keeps out.memo and hands it back as in.memo;
 * zeroed at start). */
typedef struct op_choose_memo {
	/* verification at the edge: the last outcome that was not a success */
	char key[OP_DIGEST_LEN + 1]; /* digest of the marker and proof checked last; "" none */
	int rc; /* and what came of it: OP_ETRUST refused, OP_ENOTFOUND waiting */
	int64_t checked_ms, since_ms; /* when checked last; first with this outcome */
	bool wait_logged;
	char said[OP_CHOOSE_PROBLEM_MAX]; /* the last other refusal logged */
} op_choose_memo;

/* The site's mirror as the loop sees it (monotonic milliseconds). */
typedef struct op_choose_mirror {
	int64_t last_change_ms; /* the watcher last changed the mirror's table */
	bool watch_init; /* it delivered every key the mirror held at its start */
	uint64_t watch_delta; /* messages it has not delivered yet */
	bool hub_fresh; /* the hub answered lately (the link is up) */
	uint64_t hub_last; /* and its bucket's last sequence then */
	bool live; /* the mirror kept hearing from the hub since it was level with it, and
		    * had nothing pending at the last measure: its lag is the hub's word
		    * (gauge.h) */
	/* Filled on OP_CHOOSE_MEASURE: */
	bool measured; /* asked */
	bool measure_ok; /* the site's server answered */
	uint64_t last_seq, lag; /* the mirror's last sequence, and its lag as last heard */
} op_choose_mirror;

typedef struct op_choose_in {
	int64_t now_ms; /* monotonic */
	int64_t resync_ms;
	bool trust; /* --trust: revisions are verified at the edge */
	bool from_hub; /* the table is the hub's bucket, read past a stalled mirror */
	/* The table's marker: have_marker false when it holds none; else marker_rc is what
	 * op_marker_decode said (marker_err its message) and marker the result when 0. */
	bool have_marker;
	int marker_rc;
	const char *marker_err;
	const op_marker *marker;
	const char *key; /* with trust: digest of the marker's and the proof's bytes */
	const op_marker *run; /* the revision running; NULL none */
	bool run_verified; /* it was verified at the edge */
	op_choose_mirror mirror;
	op_choose_memo memo;
	/* After OP_CHOOSE_VERIFY: the verdict (0, OP_ENOTFOUND incomplete, OP_ETRUST,
	 * OP_EINVAL, OP_ENOMEM) and its message. */
	bool have_verdict;
	int verdict;
	const char *verdict_err;
} op_choose_in;

typedef struct op_choose_out {
	enum op_choose_act act;
	enum op_choose_why why;
	enum op_choose_problem problem_do;
	char problem[OP_CHOOSE_PROBLEM_MAX]; /* with OP_CHOOSE_PROBLEM_SET */
	bool log; /* a refusal, or a wait at the edge, not reported before: log it */
	op_choose_memo memo; /* to hand back next time */
} op_choose_out;

/* Fills out from in; returns out->act. */
enum op_choose_act op_revision_choose(const op_choose_in *in, op_choose_out *out);
const char *op_choose_act_name(enum op_choose_act a);
const char *op_choose_why_name(enum op_choose_why w);

#endif
