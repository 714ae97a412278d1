/* `outpost restart` at the site (see restart_int.h): a request on outpost.<site>.restart
 * names an app (and maybe one instance); the agent finds its failed instances in what
 * the hosts report and tells each host to try it again now. Commands to hosts stay the
 * agent's: the operator's identity may ask the agent, never a host. Not across the leaf
 * link: a hub must not command a site. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/model/manifest.h"
#include "restart_int.h"

#define RESTART_MAX 256 /* instances one request may retry */

struct target {
	char inst[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1];
};

/* The request's app and instance; 0, or a reason for the reply. */
static const char *parse(natsMsg *msg, char app[OP_NAME_MAX + 1], char inst[OP_INST_MAX + 1])
{
	int len = natsMsg_GetDataLength(msg);
	if (len <= 0 || len > 4096)
		return "expected {\"v\":1,\"app\":NAME[,\"instance\":ID]}";
	json_t *j = json_loadb(natsMsg_GetData(msg), (size_t)len, JSON_REJECT_DUPLICATES, NULL);
	const char *a = json_string_value(json_object_get(j, "app"));
	json_t *ij = json_object_get(j, "instance");
	const char *i = json_string_value(ij);
	const char *why = NULL;
	if (!json_is_object(j) || json_integer_value(json_object_get(j, "v")) != 1 || !a ||
		!op_name_valid(a) || (ij && !i))
		why = "expected {\"v\":1,\"app\":NAME[,\"instance\":ID]}";
	else if (i && !op_inst_id_valid(i))
		why = "instance: not an instance id";
	if (!why) {
		snprintf(app, OP_NAME_MAX + 1, "%s", a);
		snprintf(inst, OP_INST_MAX + 1, "%s", i ? i : "");
	}
	json_decref(j);
	return why;
}

static void reply(natsConnection *nc, natsMsg *msg, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	if (natsMsg_GetReply(msg))
		natsConnection_PublishString(nc, natsMsg_GetReply(msg),
			s ? s : "{\"v\":1,\"ok\":false,\"error\":\"out of memory\"}");
	free(s);
	json_decref(j);
}

static void on_restart(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)sub;
	ag_restart *r = arg;
	char app[OP_NAME_MAX + 1], inst[OP_INST_MAX + 1];
	const char *why = parse(msg, app, inst);
	if (why) {
		reply(nc, msg, json_pack("{s:i, s:b, s:s}", "v", 1, "ok", 0, "error", why));
		natsMsg_Destroy(msg);
		return;
	}
	/* The app's instances as the hosts report them: the failed ones, or the one named. */
	struct target *t = calloc(RESTART_MAX, sizeof *t);
	size_t n = 0, known = 0;
	size_t alen = strlen(app);
	pthread_mutex_lock(r->mu);
	int64_t now = op_now_ms();
	for (size_t h = 0; t && h < r->hosts->n; h++) {
		const op_heartbeat *hb = &r->hosts->v[h].hb;
		if (!ag_host_alive(r->hosts, &r->hosts->v[h], now))
			continue; /* a dead host would only time out: status says it is dead */
		for (size_t i = 0; i < hb->ninsts && n < RESTART_MAX; i++) {
			const op_hb_inst *in = &hb->insts[i];
			if (strncmp(in->id, app, alen) != 0 || in->id[alen] != '.')
				continue;
			known++;
			if (inst[0] ? strcmp(in->id, inst) != 0 : in->state != OP_INST_FAILED)
				continue;
			snprintf(t[n].inst, sizeof t[n].inst, "%s", in->id);
			snprintf(t[n].host, sizeof t[n].host, "%s", hb->host);
			n++;
		}
	}
	pthread_mutex_unlock(r->mu);
	json_t *done = json_array(), *errors = json_array();
	for (size_t i = 0; t && done && errors && i < n; i++) {
		op_hostcmd c = {.op = OP_CMD_RESTART};
		snprintf(c.id, sizeof c.id, "%s", t[i].inst);
		char *body = NULL, subj[256];
		op_err e = {0};
		op_hostreply hr = {0};
		natsMsg *m = NULL;
		snprintf(subj, sizeof subj, "outpost.%s.host.%s.cmd", r->site, t[i].host);
		bool sent = op_hostcmd_encode(&c, &body, &e) == 0 &&
			natsConnection_RequestString(&m, nc, subj, body, 3000) == NATS_OK &&
			op_hostreply_decode(
				natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &hr, &e) == 0;
		if (sent && hr.ok)
			json_array_append_new(done, json_string(t[i].inst));
		else
			json_array_append_new(errors,
				json_pack("{s:s, s:s, s:s}", "instance", t[i].inst, "host",
					t[i].host, "error",
					sent               ? hr.error
						: e.msg[0] ? e.msg
							   : "the host did not answer"));
		free(body);
		natsMsg_Destroy(m);
	}
	op_log_info("outpost restart", "app=%s instance=%s retried=%zu errors=%zu", app,
		inst[0] ? inst : "-", done ? json_array_size(done) : 0,
		errors ? json_array_size(errors) : 0);
	const char *err = !t    ? "out of memory"
		: !known        ? "no host of this site reports an instance of that app"
		: inst[0] && !n ? "no host of this site reports that instance"
				: "";
	reply(nc, msg,
		json_pack("{s:i, s:b, s:o, s:o, s:s}", "v", 1, "ok",
			!err[0] && errors && json_array_size(errors) == 0, "restarted",
			done ? done : json_array(), "errors", errors ? errors : json_array(),
			"error", err));
	free(t);
	natsMsg_Destroy(msg);
}

int ag_restart_serve(ag_restart *r, op_bus *bus, op_err *e)
{
	if (r->sub)
		return 0;
	char subj[128];
	snprintf(subj, sizeof subj, "outpost.%s.restart", r->site);
	natsStatus s = natsConnection_Subscribe(&r->sub, bus->nc, subj, on_restart, r);
	if (s != NATS_OK) {
		r->sub = NULL;
		return op_bus_err(e, s, "subscribe to restart requests");
	}
	return 0;
}

void ag_restart_clear(ag_restart *r)
{
	/* A request may be in its callback (sending to hosts for seconds): drained and
	 * waited for, so that nothing it reads is freed under it. */
	if (r->sub && natsSubscription_Drain(r->sub) == NATS_OK)
		natsSubscription_WaitForDrainCompletion(r->sub, 15000);
	if (r->sub)
		natsSubscription_Destroy(r->sub);
	r->sub = NULL;
}
