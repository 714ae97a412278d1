/* The site agent's loop (see include/outpost/agent/site/agent.h). The agent's state is in
 * parts, each owned by one file: the hosts and their liveness (hosts.c), the mirror and
 * its watcher (mirror.c), the revision running (apply.c), reconcile rounds
 * (reconcile.c), status (status.c). This file composes them: connection, buckets, the
 * heartbeat subscription, and the status reports to the hub (report.c); then, on every change or
 * every half second, the choice of revision, a reconcile round, its status, and the mirror's
 * measure. Nothing here needs the hub: the mirror is local and so are the hosts. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply_int.h"
#include "holds_int.h"
#include "hosts_int.h"
#include "mirror_int.h"
#include "reconcile_int.h"
#include "restart_int.h"
#include "secrets_int.h"
#include "stage_int.h"
#include "status_int.h"
#include "wake_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/site/buckets.h"

struct op_agent {
	op_agent_cfg cfg;
	op_bus bus;
	kvStore *desired, *status_kv;
	natsSubscription *hbsub;
	char bucket_warning[512]; /* the desired-state bucket is not a mirror of the hub's */
	ag_wake wake; /* shared with the NATS threads */
	ag_hosts hosts; /* under wake.mu */
	ag_mirror mirror;
	ag_applied applied; /* the loop's, as the rest */
	ag_holds holds; /* which spec each app runs: the revision's or a held one */
	ag_reconcile reconcile;
	ag_status status;
	ag_restart restart; /* outpost restart requests */
	ag_stage stage; /* artifacts staged at the site */
	ag_secrets secrets; /* sealed secrets: pins, the apps they keep out, the values */
	op_err problem; /* the revision choice's, for status */
	op_err fault; /* the last round's failure, for status; logged once */
	ag_report report; /* the site's status, to the hub */
};

static void on_heartbeat(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)nc, (void)sub;
	op_agent *a = arg;
	int len = natsMsg_GetDataLength(msg);
	pthread_mutex_lock(&a->wake.mu);
	if (ag_hosts_heard(&a->hosts, a->cfg.site, natsMsg_GetSubject(msg), natsMsg_GetData(msg),
		    len > 0 ? (size_t)len : 0, op_now_ms()) == 0)
		ag_wake_poke(&a->wake);
	pthread_mutex_unlock(&a->wake.mu);
	natsMsg_Destroy(msg);
}

/* ---- artifacts: the gate and the round's wants ----------------------------------------- */

#define MAX_ARCHS 16

/* What r needs at this site now, for the archs the site's live hosts report. */
static int needs(op_agent *a, const op_revision *r, op_art_refs *out, op_err *e)
{
	const char *archs[MAX_ARCHS];
	size_t n = ag_stage_archs(&a->hosts, archs, MAX_ARCHS);
	return ag_stage_needs(r, &a->cfg, archs, n, out, e);
}

/* The apply gate (apply_int.h): every artifact r needs is staged, or not in the hub's
 * store at all (then the file must be on the box already, as before artifacts). */
static bool gate(void *arg, const op_revision *r, op_err *why)
{
	op_agent *a = arg;
	op_art_refs need = {0}, run = {0};
	op_err e = {0};
	const op_revision *cur = a->applied.have_run ? &a->applied.run : NULL;
	int rc = needs(a, r, &need, &e);
	if (!rc && cur)
		rc = needs(a, cur, &run, &e);
	if (!rc)
		rc = ag_stage_want(
			&a->stage, cur ? cur->marker.seq : 0, cur ? &run : NULL, &need, &e);
	bool ok = rc == 0 && ag_stage_ready(&a->stage, &need, why->msg, sizeof why->msg);
	if (rc)
		op_err_set(why, rc, "%s", e.msg);
	op_art_refs_clear(&need);
	op_art_refs_clear(&run);
	return ok;
}

/* The round's wants: the running revision's needs and the held one's (kept and asked
 * for, so that it applies once they are here). */
static void want(op_agent *a)
{
	op_art_refs run = {0}, cand = {0};
	op_err e = {0};
	const op_revision *cur = a->applied.have_run ? &a->applied.run : NULL;
	int rc = cur ? needs(a, cur, &run, &e) : 0;
	if (!rc && a->applied.have_pending)
		rc = needs(a, &a->applied.pending, &cand, &e);
	if (!rc)
		rc = ag_stage_want(&a->stage, cur ? cur->marker.seq : 0, cur ? &run : NULL,
			a->applied.have_pending ? &cand : NULL, &e);
	if (rc)
		op_log_warn("artifacts needed: not known this round", "error=\"%s\"", e.msg);
	op_art_refs_clear(&run);
	op_art_refs_clear(&cand);
}

static int open_secrets(void *arg, const op_component *c, op_hostcmd *hc, op_err *e);

/* ---- life cycle ---------------------------------------------------------------------- */

int op_agent_new(op_agent **out, const op_agent_cfg *cfg, op_err *e)
{
	op_agent *a = calloc(1, sizeof *a);
	if (!a)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	a->cfg = *cfg;
	pthread_mutex_init(&a->wake.mu, NULL);
	pthread_cond_init(&a->wake.cv, NULL);
	ag_hosts_init(&a->hosts, cfg->host_timeout_ms, op_now_ms());
	ag_mirror_init(&a->mirror, &a->bus, &a->wake);
	ag_reconcile_init(&a->reconcile, &a->cfg);
	int rc = op_mkdirs(cfg->state, 0700, e);
	if (rc == 0)
		rc = ag_status_init(&a->status, &a->cfg, e);
	if (rc == 0)
		rc = ag_applied_init(&a->applied, &a->cfg, e);
	if (rc == 0)
		rc = ag_holds_init(&a->holds, &a->cfg, a->applied.have_run,
			a->status.have_fresh_pol ? &a->status.fresh_pol : NULL, e);
	if (rc == 0)
		rc = ag_stage_init(&a->stage, &a->bus, &a->cfg, e);
	if (rc == 0)
		rc = ag_secrets_init(&a->secrets, &a->cfg, e);
	a->reconcile.open = open_secrets;
	a->reconcile.open_arg = a;
	a->applied.gate = gate;
	a->applied.gate_arg = a;
	char name[128];
	snprintf(name, sizeof name, "outpost-agent-%s", cfg->site);
	if (rc == 0)
		rc = op_bus_connect(&a->bus, cfg->nats, name, cfg->site, 0, e);
	ag_report_init(&a->report, cfg->site);
	if (rc == 0 && ag_report_start(&a->report, a->bus.nc) != 0)
		rc = op_err_set(e, OP_ENOMEM, "cannot start the status reports");
	a->status.report = &a->report;
	if (rc) {
		op_agent_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

/* Buckets and subscriptions, retried until the site server answers; each part once. */
static int setup(op_agent *a, bool *failing)
{
	op_err e = {0};
	if (!a->desired || !a->status_kv) {
		if (a->desired)
			kvStore_Destroy(a->desired);
		if (a->status_kv)
			kvStore_Destroy(a->status_kv);
		a->desired = a->status_kv = NULL;
		int rc = op_site_buckets(&a->bus, a->cfg.site, a->cfg.repair_mirror, &a->desired,
			&a->status_kv, a->bucket_warning, sizeof a->bucket_warning, &e);
		if (rc) {
			if (!*failing) /* once, not once a second */
				op_log_warn(
					"site buckets not ready; retrying", "error=\"%s\"", e.msg);
			*failing = true;
			return rc;
		}
		if (a->bucket_warning[0])
			op_log_warn("desired-state bucket", "warning=\"%s\"", a->bucket_warning);
		a->status.kv = a->status_kv;
	}
	if (!a->hbsub) {
		char subj[128];
		snprintf(subj, sizeof subj, "outpost.%s.hb.*", a->cfg.site);
		natsStatus s = natsConnection_Subscribe(
			&a->hbsub, a->bus.nc, subj, on_heartbeat, a);
		if (s != NATS_OK) {
			a->hbsub = NULL;
			return op_bus_err(&e, s, "subscribe to heartbeats");
		}
		natsSubscription_SetPendingLimits(a->hbsub, 65536, 256 * 1024 * 1024);
	}
	if (ag_mirror_start(&a->mirror, a->desired) != 0)
		return OP_ENOMEM;
	a->restart = (ag_restart){a->cfg.site, &a->hosts, &a->wake.mu, a->restart.sub};
	if (ag_restart_serve(&a->restart, &a->bus, &e) != 0)
		return OP_ENATS;
	if (*failing)
		op_log_info("site buckets ready", NULL);
	*failing = false;
	return 0;
}

/* A round's failure (out of memory, the plan's error) is said once, shown in status
 * until a round succeeds, and the next round tries again. */
static void round_fault(op_agent *a, int rc, const op_err *e)
{
	if (rc && (a->fault.code != rc || strcmp(a->fault.msg, e->msg) != 0))
		op_log_warn("reconcile round failed; retrying", "error=\"%s\"", e->msg);
	else if (!rc && a->fault.code)
		op_log_info("reconcile rounds succeed again", NULL);
	if (rc)
		a->fault = *e;
	else
		memset(&a->fault, 0, sizeof a->fault);
}

/* The round's apps less those whose secrets the site cannot open (secrets_int.h). */
static int secrets_round(op_agent *a, const op_revision *run, op_err *e)
{
	int rc = ag_secrets_round(&a->secrets, &a->mirror.keys, run ? run->marker.commit : NULL,
		a->holds.apps, a->holds.napps);
	return rc ? op_err_set(e, rc, "out of memory") : 0;
}

/* A start's secret values, from the site's mirror (or the hub's keys, read past a
 * stalled mirror). Under the mutex. */
static int open_secrets(void *arg, const op_component *c, op_hostcmd *hc, op_err *e)
{
	op_agent *a = arg;
	int rc = ag_secrets_open(&a->secrets, &a->mirror.keys, c, hc, e);
	if (rc == OP_ENOTFOUND && a->mirror.hub.n)
		rc = ag_secrets_open(&a->secrets, &a->mirror.hub, c, hc, e);
	return rc;
}

/* One round, under the mutex: the revision, the plan, status, the commands. */
static void round_locked(op_agent *a, int64_t now)
{
	op_choose_mirror view;
	ag_mirror_view(&a->mirror, now, &view);
	ag_applied_choose(&a->applied, &a->mirror.keys, false, &view, &a->bus, now, &a->problem);
	if (a->mirror.hub_new) {
		a->mirror.hub_new = false;
		ag_applied_choose(
			&a->applied, &a->mirror.hub, true, &view, &a->bus, now, &a->problem);
	}
	const op_revision *run = a->applied.have_run ? &a->applied.run : NULL;
	want(a);
	ag_round r = {0};
	op_err e = {0};
	int rc = ag_holds_sync(&a->holds, run, &e);
	if (rc == 0)
		rc = secrets_round(a, run, &e);
	if (rc == 0)
		rc = ag_reconcile_plan(&a->reconcile, &a->hosts, a->secrets.apps, a->secrets.napps,
			run != NULL, now, &r, &e);
	/* The holds move on what this round sees; when an app's spec changed (a rollout
	 * started, rolled back, or its wave was promoted), the round is planned again. */
	if (rc == 0 && run &&
		ag_holds_step(&a->holds, run, &a->mirror.keys, &r.in, &a->hosts,
			ag_hosts_warm(&a->hosts, now), now)) {
		ag_round_clear(&r);
		ag_holds_explain(&a->holds, &a->bus, &a->wake.mu);
		rc = ag_holds_sync(&a->holds, run, &e);
		if (rc == 0)
			rc = secrets_round(a, run, &e);
		if (rc == 0)
			rc = ag_reconcile_plan(&a->reconcile, &a->hosts, a->secrets.apps,
				a->secrets.napps, true, now, &r, &e);
	}
	round_fault(a, rc, &e);
	/* Until a full host timeout has passed since the agent started (or reconnected), a
	 * host that has not been heard yet may still be running its instances: no commands
	 * yet. Not while disconnected either: nats.c would buffer a command and deliver it
	 * late. */
	ag_hosts_conn_check(&a->hosts, a->bus.nc, now);
	/* Status now, while the round's borrowed host labels are valid: sending a command
	 * releases the mutex, and a heartbeat may then replace them. A round that sends
	 * commands leaves its status to the round the host's answer wakes, unless it runs a
	 * newer revision (pace.h). */
	ag_status_in si = {.run = run,
		.run_since_ms = a->applied.since_ms,
		.problem = &a->problem,
		.fault = &a->fault,
		.bucket_warning = a->bucket_warning,
		.mirror_note = a->mirror.note,
		.mirror_state = ag_mirror_state_name(a->mirror.state),
		.mirror_keys = &a->mirror.keys,
		.artifacts = ag_stage_status(&a->stage),
		.held = a->applied.have_pending ? &a->applied.pending.marker : NULL,
		.hub_keys = &a->mirror.hub,
		.hosts = &a->hosts,
		.policy = &a->applied.policy,
		.holds = &a->holds,
		.blocked = a->secrets.blocked,
		.nblocked = a->secrets.nblocked,
		.plan = r.planned ? &r.in : NULL,
		.cmds = r.cmds,
		.ncmds = r.ncmds,
		.now = now};
	bool sends = rc == 0 && ag_hosts_warm(&a->hosts, now) && op_bus_connected(&a->bus);
	if (op_pace_write(&a->status.pace, sends && ag_reconcile_due(&a->reconcile, &r, now) > 0,
		    run ? run->marker.seq : 0, now, OP_PACE_MAX_MS))
		ag_status_write(&a->status, &si);
	json_decref(si.artifacts);
	if (sends)
		ag_reconcile_send(&a->reconcile, &a->hosts, &a->bus, &a->wake.mu, &r);
	ag_round_clear(&r);
}

int op_agent_run(op_agent *a, volatile int *stop)
{
	a->hosts.start_ms = op_now_ms();
	op_log_info("agent started", "site=%s state=%s verify=%s trust=%s", a->cfg.site,
		a->cfg.state, a->cfg.trust ? "edge" : "hub", a->cfg.trust ? a->cfg.trust : "-");
	bool failing = false;
	char why[256];
	while (!*stop && setup(a, &failing) != 0 && !op_bus_lost(&a->bus, why, sizeof why)) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
	while (!*stop) {
		/* Waiting would sit disconnected for ever: the service manager restarts the
		 * agent, which resumes its saved revision (the workloads keep running). */
		if (op_bus_lost(&a->bus, why, sizeof why)) {
			op_log_error(
				"agent exiting: the nats server closed its connection for good",
				"error=\"%s\"", why);
			return OP_ENATS;
		}
		pthread_mutex_lock(&a->wake.mu);
		if (!a->wake.wake) {
			struct timespec ts;
			op_deadline_in(&ts, 500);
			pthread_cond_timedwait(&a->wake.cv, &a->wake.mu, &ts);
		}
		a->wake.wake = false;
		round_locked(a, op_now_ms());
		pthread_mutex_unlock(&a->wake.mu);
		int64_t now = op_now_ms();
		ag_mirror_check(&a->mirror, now);
		/* An artifact staging just moved: the round shows it (and may apply what waited
		 * for it) now, not half a second later. */
		if (ag_stage_step(&a->stage, now)) {
			pthread_mutex_lock(&a->wake.mu);
			ag_wake_poke(&a->wake);
			pthread_mutex_unlock(&a->wake.mu);
		}
	}
	if (op_bus_lost(&a->bus, why, sizeof why)) {
		op_log_error("agent exiting: the nats server closed its connection for good",
			"error=\"%s\"", why);
		return OP_ENATS;
	}
	op_log_info("agent stopping", "site=%s", a->cfg.site);
	return 0;
}

void op_agent_free(op_agent *a)
{
	if (!a)
		return;
	ag_mirror_clear(&a->mirror); /* stops the watcher first: it reads the bucket */
	/* Drained first: a callback in progress must not find the agent freed. */
	if (a->hbsub && natsSubscription_Drain(a->hbsub) == NATS_OK)
		natsSubscription_WaitForDrainCompletion(a->hbsub, 5000);
	if (a->hbsub)
		natsSubscription_Destroy(a->hbsub);
	ag_restart_clear(&a->restart);
	ag_report_clear(&a->report); /* before the connection it sends on */
	a->status.report = NULL;
	if (a->desired)
		kvStore_Destroy(a->desired);
	if (a->status_kv)
		kvStore_Destroy(a->status_kv);
	op_bus_close(&a->bus);
	ag_hosts_clear(&a->hosts);
	ag_applied_clear(&a->applied);
	ag_holds_clear(&a->holds);
	ag_reconcile_clear(&a->reconcile);
	ag_stage_clear(&a->stage);
	ag_secrets_clear(&a->secrets);
	ag_status_clear(&a->status);
	pthread_mutex_destroy(&a->wake.mu);
	pthread_cond_destroy(&a->wake.cv);
	free(a);
}
