/* One reconcile round: what the hosts report, plus the commands they acknowledged but
 * do not report yet, against the revision the site runs, through plan(); then the
 * commands, rate-limited, each retried with exponential backoff when it fails. Called
 * with the agent's mutex held; it is released while a command is on the wire so that
 * heartbeats keep flowing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

static ag_host *host_by_id(op_agent *a, const char *id)
{
	for (size_t i = 0; i < a->nhosts; i++)
		if (!strcmp(a->hosts[i].hb.host, id))
			return &a->hosts[i];
	return NULL;
}

/* Drops the pending commands the host's heartbeats now account for. */
static void expire_pending(op_agent *a, int64_t now)
{
	for (size_t i = 0; i < a->npend;) {
		ag_pending *p = &a->pend[i];
		ag_host *h = host_by_id(a, p->host);
		bool done = !h || strcmp(h->hb.boot, p->boot) != 0 || h->hb.seq > p->seq ||
			now - p->at_ms > 3 * ag_host_timeout(a, h);
		if (done)
			a->pend[i] = a->pend[--a->npend];
		else
			i++;
	}
}

static ag_retry *retry_find(op_agent *a, const op_cmd *c)
{
	for (size_t i = 0; i < a->nretry; i++)
		if (a->retry[i].op == c->op && !strcmp(a->retry[i].inst, c->inst) &&
			!strcmp(a->retry[i].host, c->host))
			return &a->retry[i];
	return NULL;
}

static void retry_clear(op_agent *a, const op_cmd *c)
{
	ag_retry *r = retry_find(a, c);
	if (r)
		*r = a->retry[--a->nretry];
}

static void retry_note(op_agent *a, const op_cmd *c, const char *err, int64_t now)
{
	ag_retry *r = retry_find(a, c);
	if (!r) {
		if (ag_grow((void **)&a->retry, &a->capretry, a->nretry + 1, sizeof *a->retry))
			return;
		r = &a->retry[a->nretry++];
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
static int send_cmd(op_agent *a, const op_cmd *c, const op_app *app, char *err, size_t errlen)
{
	op_hostcmd hc = {.op = c->op, .app = (op_app *)app, .comp = c->comp};
	snprintf(hc.id, sizeof hc.id, "%s", c->inst);
	char *json = NULL;
	op_err e = {0};
	if (op_hostcmd_encode(&hc, &json, &e) != 0) {
		snprintf(err, errlen, "%s", e.msg);
		return OP_EINVAL;
	}
	char subj[160];
	snprintf(subj, sizeof subj, "outpost.%s.host.%s.cmd", a->cfg.site, c->host);
	natsMsg *reply = NULL;
	pthread_mutex_unlock(&a->mu);
	natsStatus s = natsConnection_RequestString(
		&reply, a->bus.nc, subj, json, a->cfg.cmd_timeout_ms);
	pthread_mutex_lock(&a->mu);
	free(json);
	if (s != NATS_OK) {
		snprintf(err, errlen, "%s",
			s == NATS_TIMEOUT                 ? "no reply (timeout)"
				: s == NATS_NO_RESPONDERS ? "host not listening"
							  : natsStatus_GetText(s));
		return OP_ENATS;
	}
	op_hostreply r;
	int rc = op_hostreply_decode(
		natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &r, &e);
	natsMsg_Destroy(reply);
	if (rc) {
		snprintf(err, errlen, "bad reply: %.480s", e.msg);
		return rc;
	}
	if (!r.ok) {
		snprintf(err, errlen, "%s", r.error);
		return OP_EINVAL;
	}
	return 0;
}

static void remember(op_agent *a, const op_cmd *c, int64_t now)
{
	ag_host *h = host_by_id(a, c->host);
	if (!h || ag_grow((void **)&a->pend, &a->cappend, a->npend + 1, sizeof *a->pend))
		return;
	ag_pending *p = &a->pend[a->npend++];
	memset(p, 0, sizeof *p);
	p->op = c->op;
	snprintf(p->inst, sizeof p->inst, "%s", c->inst);
	snprintf(p->host, sizeof p->host, "%s", c->host);
	snprintf(p->boot, sizeof p->boot, "%s", h->hb.boot);
	p->seq = h->hb.seq;
	p->at_ms = now;
}

struct snapshot {
	const op_app **apps;
	size_t napps;
	op_host_view *hosts;
	size_t nhosts;
	op_inst_view *insts;
	size_t ninsts, capinsts;
};

static int add_inst(struct snapshot *s, const char *id, const char *host, enum op_inst_state st)
{
	if (ag_grow((void **)&s->insts, &s->capinsts, s->ninsts + 1, sizeof *s->insts))
		return OP_ENOMEM;
	op_inst_view *v = &s->insts[s->ninsts++];
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", id);
	snprintf(v->host, sizeof v->host, "%s", host);
	v->state = st;
	return 0;
}

static bool pending_has(const op_agent *a, enum op_cmd_op op, const char *id, const char *host)
{
	for (size_t i = 0; i < a->npend; i++)
		if (a->pend[i].op == op && !strcmp(a->pend[i].inst, id) &&
			!strcmp(a->pend[i].host, host))
			return true;
	return false;
}

static int take_snapshot(op_agent *a, struct snapshot *s, int64_t now)
{
	memset(s, 0, sizeof *s);
	s->apps = calloc(a->have_run ? a->run.napps + 1 : 1, sizeof *s->apps);
	s->hosts = calloc(a->nhosts + 1, sizeof *s->hosts);
	if (!s->apps || !s->hosts)
		return OP_ENOMEM;
	for (size_t i = 0; a->have_run && i < a->run.napps; i++)
		if (op_placement_matches(a->run.apps[i], a->cfg.site, &a->cfg.labels))
			s->apps[s->napps++] = a->run.apps[i];
	for (size_t i = 0; i < a->nhosts; i++) {
		const ag_host *h = &a->hosts[i];
		op_host_view *v = &s->hosts[s->nhosts++];
		snprintf(v->id, sizeof v->id, "%s", h->hb.host);
		v->labels = h->hb.labels; /* borrowed */
		v->alive = ag_host_alive(a, h, now);
		for (size_t j = 0; j < h->hb.ninsts; j++) {
			const op_hb_inst *in = &h->hb.insts[j];
			/* An acknowledged stop the heartbeats do not show yet is in flight. */
			enum op_inst_state st = pending_has(a, OP_CMD_STOP, in->id, h->hb.host)
				? OP_INST_STOPPING
				: in->state;
			if (add_inst(s, in->id, h->hb.host, st))
				return OP_ENOMEM;
		}
	}
	for (size_t i = 0; i < a->npend; i++) {
		const ag_pending *p = &a->pend[i];
		bool shown = false;
		for (size_t j = 0; j < s->ninsts; j++)
			shown |= !strcmp(s->insts[j].id, p->inst) &&
				!strcmp(s->insts[j].host, p->host);
		if (p->op == OP_CMD_START && !shown &&
			add_inst(s, p->inst, p->host, OP_INST_STARTING))
			return OP_ENOMEM;
	}
	return 0;
}

static void snapshot_clear(struct snapshot *s)
{
	free(s->apps);
	free(s->hosts);
	free(s->insts);
}

void ag_reconcile(op_agent *a)
{
	int64_t now = op_now_ms();
	expire_pending(a, now);
	struct snapshot s;
	op_cmd *cmds = NULL;
	size_t ncmds = 0;
	if (take_snapshot(a, &s, now) != 0) {
		snapshot_clear(&s);
		return;
	}
	op_plan_in in = {s.apps, s.napps, s.hosts, s.nhosts, s.insts, s.ninsts};
	if (a->have_run && op_plan_compute(&in, &cmds, &ncmds) != 0) {
		snapshot_clear(&s);
		return;
	}
	/* Until a full host timeout has passed since the agent started (or reconnected), a
	 * host that has not been heard yet may still be running its instances: no commands
	 * yet. */
	ag_conn_check(a, now);
	int64_t window = a->cfg.host_timeout_ms > 0 ? a->cfg.host_timeout_ms : 6000;
	for (size_t i = 0; i < a->nhosts; i++)
		if (ag_host_timeout(a, &a->hosts[i]) > window)
			window = ag_host_timeout(a, &a->hosts[i]);
	/* Not while disconnected either: nats.c would buffer a command and deliver it late. */
	/* Status now, while the snapshot's borrowed host labels are valid: sending a command
	 * releases the mutex, and a heartbeat may then replace them. */
	ag_status(a, &in, cmds, ncmds);
	bool warm = now - a->start_ms >= window && op_bus_connected(&a->bus);
	int sent = 0;
	for (size_t i = 0; warm && i < ncmds && sent < a->cfg.max_cmds_per_tick; i++) {
		const op_cmd *c = &cmds[i];
		const ag_retry *r = retry_find(a, c);
		if (r && now < r->next_ms)
			continue;
		char err[512] = "";
		sent++;
		if (send_cmd(a, c, c->op == OP_CMD_START ? s.apps[c->app] : NULL, err,
			    sizeof err) == 0) {
			op_log_info(c->op == OP_CMD_START ? "started instance" : "stopped instance",
				"inst=%s host=%s", c->inst, c->host);
			retry_clear(a, c);
			remember(a, c, op_now_ms());
		} else {
			retry_note(a, c, err, op_now_ms());
		}
	}
	free(cmds);
	snapshot_clear(&s);
}
