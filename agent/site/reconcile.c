/* Reconcile rounds (see reconcile_int.h): what the hosts report, plus the commands they
 * acknowledged but do not report yet, against the revision the site runs, through
 * plan(); then the commands, rate-limited, each retried with exponential backoff when it
 * fails. Runs with the agent's mutex held; it is released while a command is on the
 * wire so that heartbeats keep flowing. */
#include "reconcile_int.h"

#include "outpost/agent/model/sealed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

void ag_reconcile_init(ag_reconcile *rc, const op_agent_cfg *cfg)
{
	memset(rc, 0, sizeof *rc);
	rc->site = cfg->site;
	rc->labels = &cfg->labels;
	rc->cmd_timeout_ms = cfg->cmd_timeout_ms;
	rc->max_cmds_per_tick = cfg->max_cmds_per_tick;
}

void ag_reconcile_clear(ag_reconcile *rc)
{
	free(rc->pend);
	free(rc->retry);
	memset(rc, 0, sizeof *rc);
}

/* A command acknowledged (or failed) that this part cannot keep track of for want of
 * memory: sent again sooner than it should be (commands are idempotent); said once. */
static void nomem(ag_reconcile *rc, const op_cmd *c)
{
	if (!rc->nomem)
		op_log_warn("cannot keep track of a command", "inst=%s host=%s error=\"%s\"",
			c->inst, c->host, "out of memory");
	rc->nomem = true;
}

/* Drops the pending commands the host's heartbeats now account for. */
static void expire_pending(ag_reconcile *rc, const ag_hosts *hs, int64_t now)
{
	for (size_t i = 0; i < rc->npend;) {
		ag_pending *p = &rc->pend[i];
		const ag_host *h = ag_hosts_find(hs, p->host);
		bool done = !h || strcmp(h->hb.boot, p->boot) != 0 || h->hb.seq > p->seq ||
			now - p->at_ms > 3 * ag_host_timeout(hs, h);
		if (done)
			rc->pend[i] = rc->pend[--rc->npend];
		else
			i++;
	}
}

static ag_retry *retry_find(ag_reconcile *rc, const op_cmd *c)
{
	for (size_t i = 0; i < rc->nretry; i++)
		if (rc->retry[i].op == c->op && !strcmp(rc->retry[i].inst, c->inst) &&
			!strcmp(rc->retry[i].host, c->host))
			return &rc->retry[i];
	return NULL;
}

static void retry_clear(ag_reconcile *rc, const op_cmd *c)
{
	ag_retry *r = retry_find(rc, c);
	if (r)
		*r = rc->retry[--rc->nretry];
}

static void retry_note(ag_reconcile *rc, const op_cmd *c, const char *err, int64_t now)
{
	ag_retry *r = retry_find(rc, c);
	if (!r) {
		if (op_grow((void **)&rc->retry, &rc->capretry, rc->nretry + 1,
			    sizeof *rc->retry)) {
			nomem(rc, c);
			return;
		}
		r = &rc->retry[rc->nretry++];
		memset(r, 0, sizeof *r);
		r->op = c->op;
		snprintf(r->inst, sizeof r->inst, "%s", c->inst);
		snprintf(r->host, sizeof r->host, "%s", c->host);
	}
	/* One log line per change of error, not one per retry. */
	if (strcmp(r->error, err) != 0)
		op_log_warn("command failed; will retry with backoff",
			"op=%s inst=%s host=%s error=\"%s\"",
			c->op == OP_CMD_START ? "start" : "stop", c->inst, c->host, err);
	snprintf(r->error, sizeof r->error, "%s", err);
	r->fails++;
	int64_t delay = 500LL << (r->fails < 7 ? r->fails - 1 : 6);
	r->next_ms = now + (delay > 30000 ? 30000 : delay);
}

/* Sends one command (mu released meanwhile). 0 when the host acknowledged it. */
static int send_cmd(const ag_reconcile *rc, op_bus *bus, pthread_mutex_t *mu, const op_cmd *c,
	const op_app *app, char *err, size_t errlen)
{
	op_hostcmd hc = {.op = c->op, .app = (op_app *)app, .comp = c->comp};
	snprintf(hc.id, sizeof hc.id, "%s", c->inst);
	char *json = NULL;
	op_err e = {0};
	/* The secret values live from here until the command is encoded (secrets_int.h). */
	if (c->op == OP_CMD_START && app && app->comps[c->comp].nsecrets && rc->open &&
		rc->open(rc->open_arg, &app->comps[c->comp], &hc, &e) != 0) {
		snprintf(err, errlen, "%s", e.msg);
		return OP_EINVAL;
	}
	int erc = op_hostcmd_encode(&hc, &json, &e);
	bool wipe = hc.nsecrets > 0;
	op_secret_vals_free(hc.secrets, hc.nsecrets);
	if (erc != 0) {
		snprintf(err, errlen, "%s", e.msg);
		return OP_EINVAL;
	}
	char subj[160];
	snprintf(subj, sizeof subj, "outpost.%s.host.%s.cmd", rc->site, c->host);
	natsMsg *reply = NULL;
	pthread_mutex_unlock(mu);
	natsStatus s = natsConnection_RequestString(
		&reply, bus->nc, subj, json, rc->cmd_timeout_ms);
	pthread_mutex_lock(mu);
	if (wipe)
		op_secret_wipe(json, strlen(json));
	free(json);
	if (s != NATS_OK) {
		snprintf(err, errlen, "%s",
			s == NATS_TIMEOUT                 ? "no reply (timeout)"
				: s == NATS_NO_RESPONDERS ? "host not listening"
							  : natsStatus_GetText(s));
		return OP_ENATS;
	}
	op_hostreply r;
	int rc_ = op_hostreply_decode(
		natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &r, &e);
	natsMsg_Destroy(reply);
	if (rc_) {
		snprintf(err, errlen, "bad reply: %.480s", e.msg);
		return rc_;
	}
	if (!r.ok) {
		snprintf(err, errlen, "%s", r.error);
		return OP_EINVAL;
	}
	return 0;
}

static void remember(ag_reconcile *rc, const ag_hosts *hs, const op_cmd *c, int64_t now)
{
	const ag_host *h = ag_hosts_find(hs, c->host);
	if (!h)
		return;
	if (op_grow((void **)&rc->pend, &rc->cappend, rc->npend + 1, sizeof *rc->pend)) {
		nomem(rc, c);
		return;
	}
	rc->nomem = false;
	ag_pending *p = &rc->pend[rc->npend++];
	memset(p, 0, sizeof *p);
	p->op = c->op;
	snprintf(p->inst, sizeof p->inst, "%s", c->inst);
	snprintf(p->host, sizeof p->host, "%s", c->host);
	snprintf(p->boot, sizeof p->boot, "%s", h->hb.boot);
	p->seq = h->hb.seq;
	p->at_ms = now;
}

static int add_inst(
	ag_round *r, const char *id, const char *host, enum op_inst_state st, enum op_health health)
{
	if (op_grow((void **)&r->insts, &r->capinsts, r->ninsts + 1, sizeof *r->insts))
		return OP_ENOMEM;
	op_inst_view *v = &r->insts[r->ninsts++];
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", id);
	snprintf(v->host, sizeof v->host, "%s", host);
	v->state = st;
	v->health = st == OP_INST_RUNNING ? health : OP_HEALTH_NONE;
	return 0;
}

static bool pending_has(const ag_reconcile *rc, enum op_cmd_op op, const char *id, const char *host)
{
	for (size_t i = 0; i < rc->npend; i++)
		if (rc->pend[i].op == op && !strcmp(rc->pend[i].inst, id) &&
			!strcmp(rc->pend[i].host, host))
			return true;
	return false;
}

static int snapshot(const ag_reconcile *rc, const ag_hosts *hs, const op_app *const *apps,
	size_t napps, int64_t now, ag_round *r)
{
	r->apps = calloc(napps + 1, sizeof *r->apps);
	r->hosts = calloc(hs->n + 1, sizeof *r->hosts);
	if (!r->apps || !r->hosts)
		return OP_ENOMEM;
	for (size_t i = 0; i < napps; i++)
		if (op_placement_matches(apps[i], rc->site, rc->labels))
			r->apps[r->napps++] = apps[i];
	for (size_t i = 0; i < hs->n; i++) {
		const ag_host *h = &hs->v[i];
		op_host_view *v = &r->hosts[r->nhosts++];
		snprintf(v->id, sizeof v->id, "%s", h->hb.host);
		v->labels = h->hb.labels; /* borrowed */
		v->alive = ag_host_alive(hs, h, now);
		v->wasm = h->hb.wasm[0] && strcmp(h->hb.wasm, "none") != 0;
		for (size_t j = 0; j < h->hb.ninsts; j++) {
			const op_hb_inst *in = &h->hb.insts[j];
			/* An acknowledged stop the heartbeats do not show yet is in flight. */
			enum op_inst_state st = pending_has(rc, OP_CMD_STOP, in->id, h->hb.host)
				? OP_INST_STOPPING
				: in->state;
			if (add_inst(r, in->id, h->hb.host, st, in->health))
				return OP_ENOMEM;
		}
	}
	for (size_t i = 0; i < rc->npend; i++) {
		const ag_pending *p = &rc->pend[i];
		bool shown = false;
		for (size_t j = 0; j < r->ninsts; j++)
			shown |= !strcmp(r->insts[j].id, p->inst) &&
				!strcmp(r->insts[j].host, p->host);
		if (p->op == OP_CMD_START && !shown &&
			add_inst(r, p->inst, p->host, OP_INST_STARTING, OP_HEALTH_NONE))
			return OP_ENOMEM;
	}
	return 0;
}

int ag_reconcile_plan(ag_reconcile *rc, const ag_hosts *hs, const op_app *const *apps, size_t napps,
	bool have_run, int64_t now, ag_round *r, op_err *e)
{
	memset(r, 0, sizeof *r);
	expire_pending(rc, hs, now);
	if (snapshot(rc, hs, apps, have_run ? napps : 0, now, r) != 0)
		return op_err_set(
			e, OP_ENOMEM, "reconcile: out of memory for the round's snapshot");
	r->in = (op_plan_in){r->apps, r->napps, r->hosts, r->nhosts, r->insts, r->ninsts};
	r->planned = true;
	if (!have_run)
		return 0;
	int rc_ = op_plan_compute(&r->in, &r->cmds, &r->ncmds);
	if (rc_) {
		r->cmds = NULL;
		r->ncmds = 0;
		return op_err_set(e, rc_, "reconcile: the plan failed (%s)", op_err_name(rc_));
	}
	return 0;
}

size_t ag_reconcile_due(ag_reconcile *rc, const ag_round *r, int64_t now)
{
	size_t n = 0;
	for (size_t i = 0; i < r->ncmds && n < (size_t)rc->max_cmds_per_tick; i++) {
		const ag_retry *rt = retry_find(rc, &r->cmds[i]);
		n += !rt || now >= rt->next_ms;
	}
	return n;
}

void ag_reconcile_send(
	ag_reconcile *rc, const ag_hosts *hs, op_bus *bus, pthread_mutex_t *mu, const ag_round *r)
{
	int64_t now = op_now_ms();
	int sent = 0;
	for (size_t i = 0; i < r->ncmds && sent < rc->max_cmds_per_tick; i++) {
		const op_cmd *c = &r->cmds[i];
		const ag_retry *rt = retry_find(rc, c);
		if (rt && now < rt->next_ms)
			continue;
		char err[512] = "";
		sent++;
		if (send_cmd(rc, bus, mu, c, c->op == OP_CMD_START ? r->apps[c->app] : NULL, err,
			    sizeof err) == 0) {
			op_log_info(c->op == OP_CMD_START ? "started instance" : "stopped instance",
				"inst=%s host=%s", c->inst, c->host);
			retry_clear(rc, c);
			remember(rc, hs, c, op_now_ms());
		} else {
			retry_note(rc, c, err, op_now_ms());
		}
	}
}

void ag_round_clear(ag_round *r)
{
	free(r->apps);
	free(r->hosts);
	free(r->insts);
	free(r->cmds);
	memset(r, 0, sizeof *r);
}
