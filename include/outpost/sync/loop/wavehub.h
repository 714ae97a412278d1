/* Canary waves at the hub, pure: from what the hub's outpost-status bucket holds (each
 * site's agent key with its labels, its app keys, and when each entry was written) to
 * the sites of the wave under watch as op_wave_decide takes them; the next promotion
 * record from the one held and the decision, or from an operator's promote or halt; and
 * the hub's view of the rollout for status (key hub.rollout.<app>). No NATS, no clock
 * (now is an input), no logging: sync/loop/rollouts.c does the reads and writes. */
#ifndef OUTPOST_SYNC_WAVEHUB_H
#define OUTPOST_SYNC_WAVEHUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/wave.h"
#include "outpost/agent/wire/rollout.h"

#define OP_WAVEHUB_VIEW_PREFIX "hub.rollout."

/* One entry of the status bucket: its key, value and when it was written. */
typedef struct op_wavehub_entry {
	const char *key;
	const char *val;
	size_t len;
	int64_t created_ms;
} op_wavehub_entry;

/* Sorts entries by key (bytewise), as op_wavehub_gather looks them up. */
void op_wavehub_entries_sort(op_wavehub_entry *v, size_t n);

/* A site as the hub sees it: the labels of its agent key (with site=<name> when the key
 * lacks it) and its latest report, the newest write of any of its keys. */
typedef struct op_wavehub_site {
	char name[OP_NAME_MAX + 1];
	op_kvs labels;
	int64_t report_ms;
} op_wavehub_site;

typedef struct op_wavehub_sites {
	op_wavehub_site *v; /* sorted by name */
	size_t n;
} op_wavehub_sites;

/* The sites that have an agent key (site.<s>.agent whose value is an object with a
 * "labels" object of strings; one that is unreadable is skipped, as a site that never
 * reported). 0 or OP_ENOMEM; *out is replaced. */
int op_wavehub_sites_read(const op_wavehub_entry *ents, size_t n, op_wavehub_sites *out, op_err *e);
void op_wavehub_sites_clear(op_wavehub_sites *s);

/* What a site's key site.<s>.app.<app> says of the app. */
typedef struct op_wavehub_report {
	char state[24]; /* "" when unreadable */
	char spec[OP_DIGEST_LEN + 1]; /* the spec it runs; "" none */
	char target[OP_DIGEST_LEN + 1]; /* the spec its revision names; rolled-back: the
					 * one it rolled back from */
	int64_t since_ms; /* -1 unknown */
} op_wavehub_report;

/* Reads the fields above of a status value; unknown fields are ignored (sites write
 * more). 0, or OP_EINVAL with r cleared. */
int op_wavehub_report_read(const char *json, size_t len, op_wavehub_report *r);

/* The sites that run an app (op_placement_matches) gathered for its rollout of digest:
 * those of wave `wave` as op_wave_site (report_ms the site's, digest its target when
 * rolled back else its spec, state and since from its app key; none when it has no app
 * key yet), and counts over every site that runs it. */
typedef struct op_wavehub_tally {
	op_wave_site *sites; /* of the wave; names point into the op_wavehub_sites */
	op_wavehub_report *reports; /* what sites[i]'s strings point into */
	size_t n;
	size_t total; /* sites that run the app, all waves */
	size_t done; /* of those, deployed at digest */
	size_t rolled_back; /* of those, rolled back from digest */
} op_wavehub_tally;

/* ents sorted (op_wavehub_entries_sort). 0 or OP_ENOMEM; *t is replaced. */
int op_wavehub_gather(const op_app *app, const char *digest, int wave,
	const op_wavehub_sites *sites, const op_wavehub_entry *ents, size_t nents,
	op_wavehub_tally *t, op_err *e);
void op_wavehub_tally_clear(op_wavehub_tally *t);

/* Whether the accepted revision starts a new rollout of the app: no record held, or one
 * of another spec. */
bool op_wavehub_starts(const op_promotion *held, const char *digest);
/* The record of a new rollout: wave 0, not halted. */
void op_wavehub_start(const char *app, const char *digest, const char *commit, uint64_t seq,
	int64_t now_s, op_promotion *next);

enum op_wavehub_act { OP_WAVEHUB_KEEP, OP_WAVEHUB_PROMOTE, OP_WAVEHUB_HALT };
/* The record after op_wave_decide said out about held (not halted): promoted to
 * out->wave, or halted with out->why as reason; KEEP: held stays (next = *held). */
enum op_wavehub_act op_wavehub_apply(
	const op_promotion *held, const op_wave_out *out, int64_t now_s, op_promotion *next);

/* An operator's promote: to the wave named (its name or its index), or without one to the
 * next wave; also resumes a halted rollout (a halted one at the named wave is resumed
 * there). OP_EINVAL when every wave is promoted already, the wave is unknown or promoted
 * already; e says why. */
int op_wavehub_promote(const op_promotion *held, const op_rollout_policy *pol, const char *wave,
	int64_t now_s, op_promotion *next, op_err *e);
/* An operator's halt, with reason ("" : "halted by hand"); OP_EINVAL when every wave is
 * promoted already (nothing is held back to halt). Halting a halted rollout keeps it. */
int op_wavehub_halt(const op_promotion *held, const op_rollout_policy *pol, const char *reason,
	int64_t now_s, op_promotion *next, op_err *e);

/* The hub's view for status (key hub.rollout.<app> of outpost-status), compact JSON with
 * sorted keys: {"app","commit","digest","halted","reason","seq","sites":{"counted",
 * "done","healthy","need","rolled_back","total"},"v":1,"verdict","wave","wave_name",
 * "waves","why"}. out NULL: not decided (no counts); t NULL: no sites gathered. It holds
 * no clock, so the same state gives the same bytes. *json allocated; NULL on no memory. */
char *op_wavehub_view(const op_promotion *rec, const op_rollout_policy *pol, const op_wave_out *out,
	const op_wavehub_tally *t);

#endif
