/* Scheduling, pure: plan(desired apps, hosts, observed instances) -> commands. No I/O,
 * no clock, no globals: the same input always gives the same commands, so it is tested
 * exhaustively and at scale, and the agent just calls it whenever anything changes.
 *
 * Instance ids are deterministic and unique per site:
 *   spreadscaler: <app>.<component>.<n>-<h>        n = 0..instances-1
 *   daemonscaler: <app>.<component>.<n>@<host>-<h> n = 0..instances-1 on each host
 * where <h> is the first 12 hex digits of the sha256 of the component's canonical
 * properties JSON (traits are not in it: scaling never restarts an instance, a spec
 * change yields new ids).
 *
 * What op_plan_compute decides, component by component (apps in name order):
 *
 * Which instances count. Only instances on hosts that are alive count; those on dead or
 * unknown hosts are ignored (no command is ever sent to a dead host) and their ordinals
 * are placed again elsewhere. An instance is present in every state but these:
 *   STOPPING  never present; while one with the current id is being stopped, that id is
 *             not started again (it would race the stop);
 *   EXITED    present ("done") when the component restarts never or on-failure, so a
 *             job that ended is not run again and again; with restart always it is
 *             restarted in place (a start of the same id on the same host), or stopped
 *             (to clear its record) when it may not stay there.
 * FAILED is present: a crash-looping instance is not placed again in a tight loop.
 * An id that no desired app and component would produce (app or component gone, the
 * wrong scaler's form, an ordinal >= instances, not in canonical form) is stopped.
 * One id on several alive hosts: the copy to keep is on a host where it may run, then
 * RUNNING, then on the lowest host id; the others are stopped.
 *
 * spreadscaler: exactly `instances` per site. The spread entries split that count by
 * weight (largest remainder, ties to the lower entry index, so the shares add up
 * exactly); no entries is one implicit entry over every alive host. An entry's instances
 * go only on alive hosts whose labels meet its requirements; an entry with no such host
 * gets nothing placed, and its share does not move to another entry. Sticky: running
 * instances are matched to entries (a maximum matching, lower ordinals first), so an
 * instance whose host still meets an entry with room never moves; what exceeds an
 * entry's share is stopped, highest ordinals first. Missing ordinals fill the entries
 * that are short, in entry order, each on the eligible host with the fewest instances
 * of this component, then the fewest instances overall, then the lowest id.
 * daemonscaler: `instances` on every alive host that meets any entry's requirements (or
 * every alive host when there is no entry); weights do not matter.
 *
 * Spec change (instances of the component with another hash): one at a time per
 * component. Old instances with an ordinal >= instances, EXITED or FAILED (they serve
 * nothing), or on a host that meets no entry (requirements always win) are stopped at
 * once; of one old id on several hosts one stays, as above. start-first: start the new
 * ordinal n; once it is RUNNING stop the old n; the next ordinal only once that old
 * instance is gone (no longer STOPPING) and no new instance is not yet RUNNING
 * (STARTING, BACKOFF, FAILED), so at most one instance more than desired exists, and a
 * new spec that fails halts the rollout with the old instances still serving. stop-first: stop the
 * old n (only when the new one has a place to go), start the new n once no old n remains (STOPPING
 * counts as remaining), and touch the next ordinal only when it is RUNNING. Old instances that no
 * free place could ever replace are stopped. A restart in place counts as a start here. With no old
 * instance, everything starts at once. A new instance that has EXITED under restart
 * never/on-failure counts as RUNNING (done).
 *
 * Health: wherever a rollout above waits for a new instance to be RUNNING, it waits for
 * it to be RUNNING and HEALTHY (ready); a new instance that runs but is not healthy yet
 * (starting, unhealthy) is in flight like a STARTING one, so the next ordinal waits and
 * the old instance it replaces keeps serving. */
#ifndef OUTPOST_PLAN_H
#define OUTPOST_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/model/manifest.h"

#define OP_HOST_MAX 63
/* An instance id: the longest one, a daemonscaler id with 63-char app, component and
 * host names, is 63+1+63+1+2+1+63+1+12 = 207 chars. */
#define OP_INST_MAX 255
#define OP_PLAN_NOIDX ((size_t)-1) /* op_cmd.app and .comp of a stop */

enum op_inst_state {
	OP_INST_STARTING, /* asked to start, not yet running */
	OP_INST_RUNNING,
	OP_INST_BACKOFF, /* exited, restart pending (restart policy) */
	OP_INST_FAILED, /* crash loop limit reached or artifact refused: not restarted */
	OP_INST_EXITED, /* ended for good (restart never / on-failure after success) */
	OP_INST_STOPPING,
};

/* How a running instance's health check stands (agent/host/health.c decides it). */
enum op_health {
	OP_HEALTH_NONE = 0, /* not running, or unknown */
	OP_HEALTH_STARTING, /* running, not yet healthy */
	OP_HEALTH_HEALTHY,
	OP_HEALTH_UNHEALTHY, /* `failures` probes in a row failed */
};

typedef struct op_host_view {
	char id[OP_HOST_MAX + 1];
	op_kvs labels; /* site, arch, hostname and the --label ones; sorted */
	bool alive; /* heartbeating (and past the agent's start-up window) */
	bool wasm; /* has a WebAssembly runtime: only then are wasm components placed on it */
} op_host_view;

typedef struct op_inst_view {
	char id[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1]; /* where it runs */
	enum op_inst_state state;
	enum op_health health; /* RUNNING: as the heartbeat says (a host without health
				  checks: HEALTHY); else NONE */
} op_inst_view;

typedef struct op_plan_in {
	const op_app *const *apps; /* the apps this site runs (placement already applied);
				      names unique */
	size_t napps;
	const op_host_view *hosts; /* ids unique */
	size_t nhosts;
	const op_inst_view *insts; /* what the hosts report, in any order */
	size_t ninsts;
} op_plan_in;

/* start and stop are the plan's; restart (try a failed instance again now) is an
 * operator's, sent by the agent on `outpost restart`. */
enum op_cmd_op { OP_CMD_START, OP_CMD_STOP, OP_CMD_RESTART };

typedef struct op_cmd {
	enum op_cmd_op op;
	char host[OP_HOST_MAX + 1]; /* always an alive host */
	char inst[OP_INST_MAX + 1];
	size_t app, comp; /* start: indexes into in->apps and its comps; stop: OP_PLAN_NOIDX */
} op_cmd;

/* Computes the commands that move what runs towards what is desired. *cmds is
 * allocated (free(); NULL when there are none), sorted by op (starts first), then
 * instance id, then host; no (instance, host) pair appears twice. The order of hosts
 * and instances in `in` does not matter. 0, OP_ENOMEM, or OP_EINVAL (NULL arrays with
 * counts, two apps with one name, two hosts with one id). */
int op_plan_compute(const op_plan_in *in, op_cmd **cmds, size_t *ncmds);

/* The 12-hex spec hash of a component: sha256 of its properties JSON exactly as the
 * app's canonical JSON has them (streamed, not built). 0, OP_EINVAL (no command, an
 * artifact without path) or OP_ENOMEM. */
int op_component_hash(const op_component *c, char out[13]);
/* Builds an instance id; host is used for daemonscaler ids only. 0, or OP_EINVAL (n < 0,
 * no host for a daemonscaler) or OP_ETOOBIG. */
int op_inst_id(const op_app *app, const op_component *c, const char *hash, int n, const char *host,
	char out[OP_INST_MAX + 1]);

/* An instance id taken apart. */
typedef struct op_inst_ref {
	char app[OP_NAME_MAX + 1];
	char comp[OP_NAME_MAX + 1];
	int n;
	char host[OP_HOST_MAX + 1]; /* daemonscaler ids; "" for spreadscaler ones */
	char hash[13];
} op_inst_ref;
/* Parses an id of either form; only ids in the exact form op_inst_id builds are taken
 * (names [a-z0-9-], ordinal in plain decimal, 12 lowercase hex). 0 or OP_EINVAL. */
int op_inst_id_parse(const char *id, op_inst_ref *out);

/* Whether host labels satisfy requirements (every key present with the same value). */
bool op_labels_match(const op_kvs *labels, const op_kvs *requirements);
/* Whether an app's placement selects a site with these labels (includes "site"):
 * its sites list (if any) names the site, and the labels meet its requirements. */
bool op_placement_matches(const op_app *app, const char *site, const op_kvs *site_labels);

#endif
