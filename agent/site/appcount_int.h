/* Internal to the site agent: how an app's instances stand this round, as the hosts
 * report them against the round's plan input: desired, running and healthy counts, and
 * the first instance that failed, is unhealthy, or crash-loops, each said in one line.
 * Status shows it; the holds judge a rollout by it. Loop-only. */
#ifndef OUTPOST_SITE_APPCOUNT_INT_H
#define OUTPOST_SITE_APPCOUNT_INT_H

#include "outpost/agent/plan/plan.h"
#include "hosts_int.h"

typedef struct ag_app_count {
	int desired, running, healthy;
	char failed[1024]; /* "<id> on <host> failed: exit N: ...; next try at ..."; "" none */
	char sick[600]; /* "; <id> on <host> unhealthy: <probe>"; "" none */
	char crashing[1024]; /* "<id> on <host> restarted N times: ..."; "" none */
	/* The instance the lines above name first (crashing, else unhealthy, else failed), to
	 * read its output; "" none. */
	char culprit[OP_INST_MAX + 1], culprit_host[OP_HOST_MAX + 1];
} ag_app_count;

/* Counts app's instances (those whose ids carry its components' hashes) in in, on
 * alive hosts; hs gives what each instance's host said last; now is monotonic. before
 * (may be NULL): the spec a rollout replaces; the instances of a component it has as it
 * is (same name, same hash) ran before the rollout and would run the same after a
 * rollback, so their restarts never make a crash loop of it (a box that rebooted three
 * times, then a push that only scales the app). */
void ag_app_count_of(const op_plan_in *in, const ag_hosts *hs, const op_app *app,
	const op_app *before, int64_t now, ag_app_count *c);

#endif
