/* Internal to the site agent: the artifacts staged at the site (see
 * include/outpost/agent/store/stage.h for the design). The round (under the loop's
 * mutex) says what the site needs and asks whether a revision's artifacts are all here;
 * ag_stage_step, outside the mutex, does the I/O: asks the hub's store about what is
 * needed, keeps the site's copy's sources equal to what is needed, measures how far each
 * one is, checks each one's digest once it is whole, and drops what no revision kept
 * needs. Loop-only: the loop thread is the only one that touches it. */
#ifndef OUTPOST_SITE_STAGE_INT_H
#define OUTPOST_SITE_STAGE_INT_H

#include <jansson.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/site/agent.h"
#include "outpost/agent/store/stage.h"
#include "outpost/agent/wire/revision.h"
#include "hosts_int.h"

/* How often the hub's store is asked again about an artifact it lacked, or that was
 * refused (a corrected upload is picked up), and the site's copy checked for gc. */
#define AG_STAGE_RECHECK_MS 30000

typedef struct ag_art {
	uint8_t sha256[32];
	char digest[OP_ART_DIGEST_LEN + 1]; /* "sha256:<hex>" */
	enum op_stage_state state;
	bool have_hub; /* hub: the hub's object with this content */
	op_objmeta hub;
	bool sourced; /* the site's copy has a source for it */
	uint64_t chunks_here;
	bool meta_here;
	int64_t asked_ms; /* the hub's store was asked last (monotonic; 0 never) */
	char why[300]; /* refused: why (logged once) */
	bool wanted; /* needed by a revision the site runs, may run, or ran last */
	op_stage_item was; /* as the round saw it: before the step (ag_stage_step's) */
} ag_art;

typedef struct ag_stage {
	op_bus *bus; /* borrowed */
	const char *site;
	ag_art *v;
	size_t n, cap;
	op_art_refs want; /* this round's: the run's, the candidate's, the previous run's */
	op_art_refs prev; /* what the revision before the running one needed (kept) */
	uint64_t run_seq; /* the revision whose needs were last rotated into prev */
	op_art_refs run_needs;
	char path[1024]; /* <state>/staging.json: prev and run_seq, across restarts */
	bool disk_empty; /* the file names no artifact (or is absent) */
	bool copy_bad; /* the site's stream is not a copy this agent may manage (logged) */
	char copy_note[300];
	bool failing; /* the last step failed (logged once) */
	int64_t next_ms, gc_ms;
} ag_stage;

int ag_stage_init(ag_stage *st, op_bus *bus, const op_agent_cfg *cfg, op_err *e);
void ag_stage_clear(ag_stage *st);

/* The archs the hosts the agent knows report, alive or silent (borrowed strings, at most
 * max): a box silent for a while, or replaced by one of its kind, needs the same builds,
 * and an arch left out for a moment would have its artifacts dropped from the copy. */
size_t ag_stage_archs(const ag_hosts *hs, const char **archs, size_t max);
/* What revision r needs at this site (apps placed here, archs of its hosts), into out. */
int ag_stage_needs(const op_revision *r, const op_agent_cfg *cfg, const char *const *archs,
	size_t narchs, op_art_refs *out, op_err *e);

/* The round's wants: run's and candidate's needs (either NULL) plus the previous run's.
 * A revision applied since the last call (run's seq changed) rotates the kept needs. */
int ag_stage_want(
	ag_stage *st, uint64_t run_seq, const op_art_refs *run, const op_art_refs *cand, op_err *e);
/* Whether every artifact of need is staged or absent from the hub's store; *why says
 * how far staging is when not (for status and the log). */
bool ag_stage_ready(const ag_stage *st, const op_art_refs *need, char *why, size_t cap);
/* Where a stands, as the gate and status count it (NULL: unknown). */
op_stage_item ag_stage_item(const ag_art *a);
/* The artifacts wanted, as status shows them. */
json_t *ag_stage_status(const ag_stage *st);

/* The I/O (outside the mutex): at most once a second while something is staging, every
 * AG_STAGE_RECHECK_MS otherwise. True when an artifact moved (op_stage_moved): the round
 * that ran before the step showed and gated on what is no longer so (an artifact "not
 * looked up yet" whose bytes are crossing), so the loop runs the next one at once. */
bool ag_stage_step(ag_stage *st, int64_t now);

#endif
