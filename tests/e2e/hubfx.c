/* The fixture of test_sync.c and test_fetch.c: see hubfx.h. */
#include "hubfx.h"

#include <stdlib.h>
#include <string.h>

const h_key *fx_ed;
static h_nats *hub; /* one for the whole program */

const char *fx_app_yaml(const char *name, int instances)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n        command: /bin/sleep\n        args: [\"600\"]\n"
		     "      traits:\n        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n",
		name, instances);
}

bool fx_start(fx *f, const char *name)
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
	h_write(f->trust, "test@example.com namespaces=\"git\" %s\n", fx_ed->pub);
	if (natsConnection_ConnectTo(&f->nc, h_nats_url(f->hub)) != NATS_OK ||
		natsConnection_JetStream(&f->js, f->nc, NULL) != NATS_OK)
		return false;
	js_DeleteStream(f->js, "KV_outpost", NULL, NULL);
	js_DeleteStream(f->js, "KV_outpost-status", NULL, NULL);
	return true;
}

void fx_stop(fx *f)
{
	if (f->kv)
		kvStore_Destroy(f->kv);
	if (f->js)
		jsCtx_Destroy(f->js);
	if (f->nc)
		natsConnection_Destroy(f->nc);
}

kvStore *fx_kv(fx *f)
{
	if (!f->kv)
		js_KeyValue(&f->kv, f->js, "outpost");
	return f->kv;
}

char *fx_get(fx *f, const char *key)
{
	kvEntry *e = NULL;
	if (!fx_kv(f) || kvStore_Get(&e, f->kv, key) != NATS_OK)
		return NULL;
	char *s = strndup(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
	kvEntry_Destroy(e);
	return s;
}
