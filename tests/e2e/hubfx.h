/* What test_sync.c and test_fetch.c start each case from: one repository, one trust
 * file for the key `ed`, one state dir, and empty buckets on a hub shared by the whole
 * program. Included by one test file each (static functions). */
#ifndef OUTPOST_TEST_HUBFX_H
#define OUTPOST_TEST_HUBFX_H

#include <nats/nats.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define FX_FN static __attribute__((unused))

static const h_key *ed; /* signs the cases' commits; the trust file lists it */
static h_nats *hub;

typedef struct fx {
	h_nats *hub;
	h_repo *repo;
	const char *trust, *state, *cache;
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
} fx;

/* A valid manifest of one component and that many instances. */
FX_FN const char *app_yaml(const char *name, int instances)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n        command: /bin/sleep\n        args: [\"600\"]\n"
		     "      traits:\n        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n",
		name, instances);
}

FX_FN bool fx_start(fx *f, const char *name)
{
	memset(f, 0, sizeof *f);
	if (!hub)
		hub = h_hub_start();
	f->hub = hub;
	f->repo = h_repo_new(name);
	if (!f->hub || !f->repo)
		return false;
	f->trust = h_path("%s-allowed_signers", name);
	f->state = h_path("%s-state", name);
	f->cache = h_str("%s/cache.git", f->state);
	h_write(f->trust, "test@example.com namespaces=\"git\" %s\n", ed->pub);
	if (natsConnection_ConnectTo(&f->nc, h_nats_url(f->hub)) != NATS_OK ||
		natsConnection_JetStream(&f->js, f->nc, NULL) != NATS_OK)
		return false;
	js_DeleteStream(f->js, "KV_outpost", NULL, NULL);
	js_DeleteStream(f->js, "KV_outpost-status", NULL, NULL);
	return true;
}

FX_FN void fx_stop(fx *f)
{
	if (f->kv)
		kvStore_Destroy(f->kv);
	if (f->js)
		jsCtx_Destroy(f->js);
	if (f->nc)
		natsConnection_Destroy(f->nc);
}

/* The hub bucket (opened once), NULL if it cannot be. */
FX_FN kvStore *kv(fx *f)
{
	if (!f->kv)
		js_KeyValue(&f->kv, f->js, "outpost");
	return f->kv;
}

/* The value of key in the hub bucket (caller frees), NULL if absent. */
FX_FN char *get(fx *f, const char *key)
{
	kvEntry *e = NULL;
	if (!kv(f) || kvStore_Get(&e, f->kv, key) != NATS_OK)
		return NULL;
	char *s = strndup(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
	kvEntry_Destroy(e);
	return s;
}

#endif
