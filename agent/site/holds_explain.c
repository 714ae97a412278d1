/* A rollback's reason, completed with the last lines of output of the instance to blame,
 * read from its host (see holds_int.h). */
#include "holds_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"

/* The last lines of data, at most n, joined by " | " into out. */
static void last_lines(const char *data, size_t len, int n, char *out, size_t cap)
{
	size_t end = len;
	while (end > 0 && (data[end - 1] == '\n' || data[end - 1] == ' '))
		end--;
	size_t start = end;
	for (int k = 0; k < n && start > 0; k++) {
		start--;
		while (start > 0 && data[start - 1] != '\n')
			start--;
	}
	size_t o = 0;
	for (size_t i = start; i < end && o + 4 < cap; i++) {
		if (data[i] == '\n') {
			memcpy(out + o, " | ", 3);
			o += 3;
		} else {
			out[o++] = data[i];
		}
	}
	out[o] = '\0';
}

/* The output of inst on host, the last lines of it; "" when it cannot be read. */
static void output_of(const ag_holds *hs, op_bus *bus, pthread_mutex_t *mu, const char *app,
	const char *inst, const char *host, char *out, size_t cap)
{
	out[0] = '\0';
	op_logreq q = {.tail = 2048};
	snprintf(q.app, sizeof q.app, "%s", app);
	snprintf(q.inst, sizeof q.inst, "%s", inst);
	char *json = NULL, subj[256];
	op_err e = {0};
	if (op_logreq_encode(&q, &json, &e) != 0)
		return;
	snprintf(subj, sizeof subj, OP_LOGS_PREFIX ".%s.%s", hs->site, host);
	natsMsg *m = NULL;
	pthread_mutex_unlock(mu);
	natsStatus s = natsConnection_Request(&m, bus->nc, subj, json, (int)strlen(json), 1000);
	pthread_mutex_lock(mu);
	free(json);
	op_logreply r = {0};
	if (s == NATS_OK &&
		op_logreply_decode(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), &r, &e) ==
			0)
		for (size_t i = 0; i < r.n && !out[0]; i++)
			if (!strcmp(r.v[i].id, inst))
				last_lines(r.v[i].data, r.v[i].len, 3, out, cap);
	op_logreply_clear(&r);
	natsMsg_Destroy(m);
}

void ag_holds_explain(ag_holds *hs, op_bus *bus, pthread_mutex_t *mu)
{
	bool any = false;
	for (size_t n = 0; n < hs->n; n++) {
		if (!hs->v[n].explain)
			continue;
		/* The entry may move while mu is released: found again by name after. */
		char app[OP_NAME_MAX + 1], inst[OP_INST_MAX + 1], host[OP_HOST_MAX + 1], out[300];
		snprintf(app, sizeof app, "%s", hs->v[n].h.app);
		snprintf(inst, sizeof inst, "%s", hs->v[n].culprit);
		snprintf(host, sizeof host, "%s", hs->v[n].culprit_host);
		hs->v[n].explain = false;
		out[0] = '\0';
		if (inst[0] && host[0])
			output_of(hs, bus, mu, app, inst, host, out, sizeof out);
		ag_hold_ent *x = (ag_hold_ent *)ag_holds_find(hs, app);
		if (!x || x->h.state != OP_HOLD_ROLLED_BACK)
			continue;
		size_t l = strlen(x->h.reason);
		if (out[0] && l < sizeof x->h.reason)
			snprintf(x->h.reason + l, sizeof x->h.reason - l, "; last output: %s", out);
		op_log_warn("rolled back: the app is on its previous spec again",
			"app=%s from=%s to=%s reason=\"%s\"", x->h.app, x->h.target,
			x->h.spec[0] ? x->h.spec : "none", x->h.reason);
		any = true;
	}
	if (any)
		ag_holds_save(hs, true); /* a rollback's reason */
}
