/* Canary waves, pure: which wave a site is in, and whether the hub promotes the next
 * wave of an app's rollout. The hub's loop gathers the reports of the sites of the
 * highest promoted wave into plain structs and op_wave_decide says what to do; no
 * clock (now is an input), no NATS, no logging.
 *
 * The rules (README, manifest reference: policy type rollout):
 * - a site belongs to the first wave whose requirements its labels meet; one that
 *   meets none to the last wave, the latest to get a new spec (the safe side: a site
 *   whose labels nobody planned for is not a canary); no policy or no waves: one wave;
 * - a rollout halted stays halted (a newer spec starts a rollout of its own); one that
 *   promoted its last wave is done;
 * - one site of the wave reporting rolled-back from the rollout's spec halts it, however
 *   old the report: promoting nothing is the safe side;
 * - a wave without sites is promoted through;
 * - a site counts when it reported within the soak (at least OP_WAVE_WINDOW_MIN_MS, so
 *   that a short soak does not drop sites between two heartbeats): a silent site never
 *   blocks a wave, it just does not count;
 * - a site is healthy for the soak when its latest report says it runs the rollout's
 *   spec deployed and has been so for the soak by that report (not by now: what it
 *   did since is unknown);
 * - the next wave is promoted when healthy sites reach min_sites (capped at the wave's
 *   size, so a small wave is not stuck), or by default every counted site, and at least
 *   one. */
#ifndef OUTPOST_WAVE_H
#define OUTPOST_WAVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/model/manifest.h"

#define OP_WAVE_WINDOW_MIN_MS (60LL * 1000)
#define OP_WAVE_WHY_MAX 320

/* The wave (0-based) of a site with these labels; 0 when p is NULL or has no waves. */
int op_wave_of(const op_rollout_policy *p, const op_kvs *site_labels);
/* How many waves p has: 1 when p is NULL or has none. */
int op_wave_count(const op_rollout_policy *p);

/* One site of the wave under watch, as its latest report says. */
typedef struct op_wave_site {
	const char *name;
	int64_t report_ms; /* wall time of its latest report (a heartbeat counts), <0: none */
	const char *digest; /* the app spec the state is about: the one it runs, or for
			     * "rolled-back" the one it rolled back from; NULL: none */
	const char *state; /* "deployed" (healthy), "rolled-back", else on its way */
	int64_t since_ms; /* since when in that state at that spec */
} op_wave_site;

typedef struct op_wave_in {
	const op_rollout_policy *policy; /* NULL: the app has none */
	int promoted; /* k, the highest promoted wave (wave 0 applies at once) */
	const op_wave_site *sites; /* the sites of wave k that run the app */
	size_t nsites;
	const char *digest; /* the rollout's app spec, "sha256:..." */
	int64_t now_ms;
	bool halted;
} op_wave_in;

enum op_wave_verdict { OP_WAVE_PROMOTE, OP_WAVE_WAIT, OP_WAVE_HALT, OP_WAVE_DONE };

typedef struct op_wave_out {
	enum op_wave_verdict verdict;
	int wave; /* promote: k + 1; else k */
	size_t counted; /* sites of wave k that reported within the soak */
	size_t healthy; /* of those, healthy at the rollout's spec for the soak */
	size_t need; /* how many healthy sites promote */
	const char *site; /* halt: the site that rolled back (NULL: halted before);
			   * wait: the first site that is not healthy yet, or NULL */
	int64_t wait_ms; /* wait: soak left for the nearest site, by its report; -1: none */
	char why[OP_WAVE_WHY_MAX]; /* one line for status and logs */
} op_wave_out;

void op_wave_decide(const op_wave_in *in, op_wave_out *out);
const char *op_wave_verdict_name(enum op_wave_verdict v);

#endif
