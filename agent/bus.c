/* NATS connection policy and KV helpers shared by sync, agent and host. The policy:
 * never give up reconnecting (edge links come back after days), and never block a
 * role's start on the server being up unless the caller asks to wait. */
#include "outpost/bus.h"

#include <stdlib.h>
#include <string.h>

int op_bus_err(op_err *e, natsStatus s, const char *what)
{
	const char *last = nats_GetLastError(NULL);
	return op_err_set(e, OP_ENATS, "%s: %s%s%s", what, natsStatus_GetText(s),
		last && *last ? ": " : "", last && *last ? last : "");
}

/* With a callback, a failed first connect returns at once and goes on in the
 * background (without one, nats.c would block until it connects). */
static void on_connected(natsConnection *nc, void *arg)
{
	(void)nc, (void)arg;
}

int op_bus_connect(
	op_bus *b, const char *url, const char *name, const char *domain, int wait_ms, op_err *e)
{
	natsOptions *o = NULL;
	natsStatus s;
	memset(b, 0, sizeof *b);
	if ((s = natsOptions_Create(&o)) != NATS_OK)
		return op_bus_err(e, s, "nats options");
	natsOptions_SetURL(o, url ? url : OP_DEFAULT_NATS);
	natsOptions_SetName(o, name);
	natsOptions_SetMaxReconnect(o, -1);
	natsOptions_SetReconnectWait(o, 500);
	natsOptions_SetReconnectJitter(o, 250, 1000);
	natsOptions_SetTimeout(o, wait_ms > 0 ? wait_ms : 2000);
	natsOptions_SetReconnectBufSize(o, 8 * 1024 * 1024);
	if (wait_ms == 0)
		natsOptions_SetRetryOnFailedConnect(o, true, on_connected, NULL);
	s = natsConnection_Connect(&b->nc, o);
	natsOptions_Destroy(o);
	if (s == NATS_NOT_YET_CONNECTED)
		s = NATS_OK; /* connecting in the background */
	if (s != NATS_OK) {
		char what[300];
		snprintf(what, sizeof what, "connect to %s", url ? url : OP_DEFAULT_NATS);
		b->nc = NULL;
		return op_bus_err(e, s, what);
	}
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Domain = domain;
	jo.Wait = 5000;
	if ((s = natsConnection_JetStream(&b->js, b->nc, &jo)) != NATS_OK) {
		op_bus_close(b);
		return op_bus_err(e, s, "jetstream context");
	}
	return 0;
}

void op_bus_close(op_bus *b)
{
	if (b->js)
		jsCtx_Destroy(b->js);
	if (b->nc) {
		natsConnection_Close(b->nc);
		natsConnection_Destroy(b->nc);
	}
	memset(b, 0, sizeof *b);
}

bool op_bus_connected(const op_bus *b)
{
	return b->nc && natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

int op_bus_kv(op_bus *b, kvConfig *cfg, kvStore **kv, op_err *e)
{
	natsStatus s = js_KeyValue(kv, b->js, cfg->Bucket);
	if (s == NATS_NOT_FOUND)
		s = js_CreateKeyValue(kv, b->js, cfg);
	if (s != NATS_OK) {
		char what[128];
		snprintf(what, sizeof what, "open bucket %s", cfg->Bucket);
		return op_bus_err(e, s, what);
	}
	return 0;
}

int op_bus_kv_get(kvStore *kv, const char *key, char **val, size_t *len, uint64_t *rev, op_err *e)
{
	kvEntry *ent = NULL;
	natsStatus s = kvStore_Get(&ent, kv, key);
	if (s == NATS_NOT_FOUND)
		return op_err_set(e, OP_ENOTFOUND, "key %s not found", key);
	if (s != NATS_OK) {
		char what[160];
		snprintf(what, sizeof what, "get %s", key);
		return op_bus_err(e, s, what);
	}
	int n = kvEntry_ValueLen(ent);
	*val = malloc((size_t)n + 1);
	if (!*val) {
		kvEntry_Destroy(ent);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	memcpy(*val, kvEntry_Value(ent), (size_t)n);
	(*val)[n] = '\0';
	if (len)
		*len = (size_t)n;
	if (rev)
		*rev = kvEntry_Revision(ent);
	kvEntry_Destroy(ent);
	return 0;
}

int op_bus_kv_scan(kvStore *kv, const char *filter, op_bus_kv_fn fn, void *arg, op_err *e)
{
	kvWatcher *w = NULL;
	kvWatchOptions o;
	kvWatchOptions_Init(&o);
	o.IgnoreDeletes = true;
	natsStatus s = kvStore_Watch(&w, kv, filter, &o);
	if (s != NATS_OK)
		return op_bus_err(e, s, "watch bucket");
	int rc = 0;
	for (;;) {
		kvEntry *ent = NULL;
		s = kvWatcher_Next(&ent, w, 10000);
		if (s != NATS_OK) {
			rc = op_bus_err(e, s, "read bucket");
			break;
		}
		if (!ent)
			break; /* the initial values are all in */
		rc = fn(arg, kvEntry_Key(ent), kvEntry_Value(ent), (size_t)kvEntry_ValueLen(ent),
			kvEntry_Revision(ent));
		kvEntry_Destroy(ent);
		if (rc)
			break;
	}
	kvWatcher_Destroy(w);
	return rc;
}
