/* Per-app holds at a site, pure: which spec of an app the site runs while the revision it
 * applied names a spec for it. An app is
 * - steady: it runs the revision's spec;
 * - rolling: it runs the revision's spec, new here, and keeps the spec it ran before
 *   (prev) until every desired instance of the new one is healthy. When they are not
 *   healthy within the progress deadline, or one of them crash-loops, the site puts the
 *   app back on prev on its own: rolled back;
 * - rolled-back: it runs prev again, and does not try the revision's spec again until a
 *   revision naming another spec arrives;
 * - waiting: the site's wave may not run the revision's spec yet (canary waves); it keeps
 *   the spec it runs (none, for an app new here) until that spec is promoted.
 * An app new at the site has no prev: it is never rolled back (there is nothing to go
 * back to; its status says what fails). No clock (now is an input), no I/O. */
#ifndef OUTPOST_HOLD_H
#define OUTPOST_HOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/rollout.h"

#define OP_CRASHLOOP_RESTARTS 3 /* restarts of an instance of a new spec: a crash loop */
#define OP_HOLD_REASON_MAX 600

enum op_hold_state { OP_HOLD_STEADY, OP_HOLD_ROLLING, OP_HOLD_WAITING, OP_HOLD_ROLLED_BACK };

typedef struct op_hold {
	char app[OP_NAME_MAX + 1];
	enum op_hold_state state;
	char spec[OP_DIGEST_LEN + 1]; /* what the site runs; "" none */
	char prev[OP_DIGEST_LEN + 1]; /* rolling: what a rollback goes back to; "" none */
	char target[OP_DIGEST_LEN + 1]; /* the spec of the revision the site applied */
	int64_t since_ms; /* wall clock: when the state began */
	char reason[OP_HOLD_REASON_MAX]; /* rolled-back, waiting: why; else "" */
} op_hold;

/* The instances of the spec being rolled out, this round. */
typedef struct op_hold_progress {
	int desired, healthy;
	const char *crashing; /* an instance restarted OP_CRASHLOOP_RESTARTS times or more, with
				 what it said last; NULL none */
	const char *sick; /* the first instance not healthy and why; NULL none */
} op_hold_progress;

typedef struct op_hold_in {
	const char *target; /* the revision's spec of the app */
	bool may_run; /* the site's wave may run target now */
	const char *wait_why; /* !may_run: why, for status */
	int64_t deadline_ms; /* the target's progress deadline */
	op_hold_progress progress; /* of h->spec, while rolling */
	int64_t now_ms; /* wall clock */
} op_hold_in;

enum op_hold_event {
	OP_HOLD_EV_NONE,
	OP_HOLD_EV_START, /* began rolling out target */
	OP_HOLD_EV_WAIT, /* began waiting for target's promotion */
	OP_HOLD_EV_DONE, /* target is healthy: steady */
	OP_HOLD_EV_ROLLBACK, /* back on prev; reason says why */
	OP_HOLD_EV_STEADY /* the revision names the spec the site runs already */
};

/* A new hold, for an app the site has no memory of: runs nothing yet. */
void op_hold_init(op_hold *h, const char *app);
/* A hold for an app already running spec (an agent upgraded to holds). */
void op_hold_steady(op_hold *h, const char *app, const char *spec, int64_t now_ms);
/* One round: moves h as in says; what happened (NONE: nothing but, while waiting, the
 * reason may change). */
enum op_hold_event op_hold_step(op_hold *h, const op_hold_in *in);
/* Whether a site with these labels may run target, app's spec in the revision it
 * applied, now: always in the first wave (or without waves); in a later wave only once
 * the hub's promotion record for that spec promotes the site's wave. rec is the record
 * the site holds (NULL: none; rec_error: it was refused, and why). False fills why with
 * the wait, for status. */
bool op_hold_gate(const op_app *app, const char *target, const op_kvs *labels,
	const op_promotion *rec, const char *rec_error, char *why, size_t len);
/* Whether the move from old to now must be on disk (fsync) before the site goes on: only
 * a rollback's verdict, the one state the site judged alone. Everything else comes back
 * after a power cut from what is durable: the revision the site applied (its file), the
 * hub's promotion records (the mirror), and the instances, which the cut stopped too; so
 * a rollout under way, its end or a wait for a promotion is begun again from the last
 * durable holds, and a lost deadline starts over. A rollback lost would try the spec that
 * failed once more. */
bool op_hold_durable(const op_hold *old, const op_hold *now);
const char *op_hold_state_name(enum op_hold_state s);
const char *op_hold_event_name(enum op_hold_event ev);

#endif
