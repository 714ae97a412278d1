/* What test_sync.c and test_fetch.c start each case from: one repository, one trust
 * file for the key fx_ed, one state dir, and empty buckets on a hub shared by the whole
 * program (started by the first case). The functions are in hubfx.c. */
#ifndef OUTPOST_TEST_HUBFX_H
#define OUTPOST_TEST_HUBFX_H

#include <nats/nats.h>
#include <stdbool.h>

#include "harness.h"

/* Signs the cases' commits; the trust file lists it. The test program sets it. */
extern const h_key *fx_ed;

typedef struct fx {
	h_nats *hub;
	h_repo *repo;
	const char *trust, *state, *cache;
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv;
} fx;

/* A valid manifest of one component and that many instances. */
const char *fx_app_yaml(const char *name, int instances);
/* A new case named name: its repository, trust file and state dir, the shared hub
 * with its buckets deleted, a connection to it. false when any of it failed. */
bool fx_start(fx *f, const char *name);
void fx_stop(fx *f);
/* The hub bucket (opened once), NULL if it cannot be. */
kvStore *fx_kv(fx *f);
/* The value of key in the hub bucket (caller frees), NULL if absent. */
char *fx_get(fx *f, const char *key);

#endif
