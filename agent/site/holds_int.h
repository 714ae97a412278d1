/* Internal to the site agent: the per-app holds (plan/hold.h) over the revision the site
 * runs. Each app of the revision has a hold saying which spec the site runs for it: the
 * revision's, the one it ran before (a rollout rolled back, or a later wave that waits for
 * its promotion), or none yet. The part keeps each hold's specs (canonical JSON) and saves
 * them in <state>/holds.json whenever one moves, so that a restart keeps a rollback and
 * the deadline of a rollout under way. Each round gives the plan the apps as the holds
 * say. Loop-only. */
#ifndef OUTPOST_SITE_HOLDS_INT_H
#define OUTPOST_SITE_HOLDS_INT_H

#include <pthread.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/plan/hold.h"
#include "outpost/agent/site/agent.h"
#include "outpost/agent/trust/rollout_sig.h"
#include "outpost/agent/trust/trust.h"
#include "outpost/agent/wire/revision.h"
#include "appcount_int.h"
#include "table_int.h"

typedef struct ag_hold_ent {
	op_hold h;
	char *spec_json, *prev_json; /* canonical JSON of h.spec and h.prev; NULL none */
	op_app *spec_app; /* spec_json read back, when it is not the revision's spec */
	op_app *prev_app; /* prev_json read back, once a rollout's crash loops are judged */
	char culprit[OP_INST_MAX + 1], culprit_host[OP_HOST_MAX + 1]; /* a rollback's */
	bool explain; /* rolled back this round: its culprit's output is read, then logged */
} ag_hold_ent;

typedef struct ag_holds {
	ag_hold_ent *v;
	size_t n, cap;
	char path[1024]; /* <state>/holds.json */
	const char *site; /* borrowed from the configuration */
	op_kvs labels; /* the site's labels and site=<name> (as the hub reads them), for its
			* wave: the array owned, the strings borrowed */
	const op_trust_policy *pol; /* --fresh-signers (status's): records must be signed by
				     * a key of it; NULL: any record is taken */
	bool seed; /* no file yet: the apps of the saved revision run as they are */
	const op_app **apps; /* this round's apps, as the holds say (borrowed) */
	size_t napps, capapps;
	char refused[OP_NAME_MAX + 1]; /* the app whose record was refused last (logged) */
} ag_holds;

/* Takes the configuration and loads the saved holds (a file that cannot be read is
 * logged and set aside: the apps then run as the revision says). have_run: a saved
 * revision was loaded (its apps run as they are). pol (borrowed): --fresh-signers. */
int ag_holds_init(ag_holds *hs, const op_agent_cfg *cfg, bool have_run, const op_trust_policy *pol,
	op_err *e);
/* Brings the holds to run's apps (new ones held, gone ones dropped) and fills hs->apps. */
int ag_holds_sync(ag_holds *hs, const op_revision *run, op_err *e);
/* One step of every hold: the gate from the promotion records in keys, the progress of
 * a rollout from the round's plan input (judge false: the hosts are not all heard yet,
 * so rollouts are not judged). True when an app's spec changed: plan again. */
bool ag_holds_step(ag_holds *hs, const op_revision *run, const ag_table *keys, const op_plan_in *in,
	const ag_hosts *hosts, bool judge, int64_t now);
/* After a step that rolled an app back: reads the last lines of output of the instance
 * to blame from its host (mu released meanwhile), adds them to the reason, saves, and
 * logs the rollback once. */
void ag_holds_explain(ag_holds *hs, op_bus *bus, pthread_mutex_t *mu);
/* holds_file.c: <state>/holds.json written atomically (a failure is logged, and the
 * next move writes again), synced to disk when durable (op_hold_durable); read back into
 * hs (0, OP_ENOTFOUND without a file, or why it cannot be read). */
void ag_holds_save(const ag_holds *hs, bool durable);
int ag_holds_load(ag_holds *hs, op_err *e);
void ag_hold_ent_clear(ag_hold_ent *x);
const ag_hold_ent *ag_holds_find(const ag_holds *hs, const char *app);
void ag_holds_clear(ag_holds *hs);

#endif
