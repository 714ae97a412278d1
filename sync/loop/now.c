/* `outpost sync --now`: asks the running sync for a pass (a post-receive hook's one
 * line) and prints its outcome: the request on outpost.hub.sync.now is answered by a
 * pass that started after it arrived, so the reply covers what was just pushed. Needs
 * no `nats` CLI, and `outpost creds` makes a `hook` identity allowed only this. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/cli.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/sync/loop/sync.h"

static const char *str(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

int op_sync_now(const char *nats, int64_t wait_ms)
{
	op_bus b;
	op_err e = {0};
	if (op_bus_connect(&b, nats, "outpost-sync-now", NULL, 5000, &e) != 0) {
		fprintf(stderr, "outpost sync --now: %s\n", e.msg);
		return OP_EXIT_FAIL;
	}
	natsMsg *reply = NULL;
	natsStatus s = natsConnection_RequestString(
		&reply, b.nc, OP_SYNC_NOW_SUBJECT, "{}", wait_ms > INT32_MAX ? INT32_MAX : wait_ms);
	if (s != NATS_OK) {
		char url[512];
		op_bus_url_redact(nats, url, sizeof url);
		fprintf(stderr, "outpost sync --now: %s at %s: %s\n",
			s == NATS_NO_RESPONDERS ? "no sync answers " OP_SYNC_NOW_SUBJECT
						: "no reply on " OP_SYNC_NOW_SUBJECT,
			url,
			s == NATS_NO_RESPONDERS     ? "is outpost sync running (not --once)?"
				: s == NATS_TIMEOUT ? "the pass took longer than the wait"
						    : natsStatus_GetText(s));
		op_bus_close(&b);
		return OP_EXIT_FAIL;
	}
	json_t *j = json_loadb(
		natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), 0, NULL);
	natsMsg_Destroy(reply);
	op_bus_close(&b);
	if (!json_is_object(j)) {
		json_decref(j);
		fprintf(stderr, "outpost sync --now: the reply is not the outcome of a pass\n");
		return OP_EXIT_FAIL;
	}
	const char *outcome = str(j, "outcome");
	bool ok = !strcmp(outcome, "accepted") || !strcmp(outcome, "unchanged");
	FILE *f = ok ? stdout : stderr;
	fprintf(f, "outpost sync: %s commit %.12s seq %lld%s%s%s%s\n", outcome[0] ? outcome : "?",
		str(j, "commit"), (long long)json_integer_value(json_object_get(j, "seq")),
		str(j, "signer")[0] ? " by " : "", str(j, "signer"),
		str(j, "reason")[0] ? ": " : "", str(j, "reason"));
	size_t i;
	json_t *err;
	json_array_foreach(json_object_get(j, "errors"), i, err)
	{
		const char *line = json_string_value(err);
		if (line)
			fprintf(f, "  %s\n", line);
	}
	json_decref(j);
	return ok ? OP_EXIT_OK : OP_EXIT_FAIL;
}
