/* Internal to the site agent: sealed secrets (model/sealed.h) at the site. Each round,
 * every secret reference of the apps the site runs is pinned to the blob of its sealed
 * file in the proof of the revision's commit (the pin is in the component's properties:
 * a changed sealed file changes the instance ids), and the apps whose secrets this site
 * cannot open (not sealed to it, sealed to another key, no --seal-key, no file) are kept
 * out of the plan and shown failed with the reason. The values are opened only to build
 * a start command, and wiped once it is sent. Loop-only. */
#ifndef OUTPOST_SITE_SECRETS_INT_H
#define OUTPOST_SITE_SECRETS_INT_H

#include "outpost/agent/model/sealed.h"
#include "outpost/agent/site/agent.h"
#include "outpost/agent/wire/proof.h"
#include "outpost/agent/wire/proto.h"
#include "table_int.h"

typedef struct ag_blocked {
	const op_app *app; /* borrowed, as the round's apps */
	char why[sizeof(op_err){0}.msg];
} ag_blocked;

typedef struct ag_pin {
	char name[OP_NAME_MAX + 1];
	char blob[OP_GIT_ID_LEN + 1];
} ag_pin;

typedef struct ag_secrets {
	const char *site, *key_path; /* borrowed from the configuration */
	char dir[OP_PROOF_PATH_MAX + 1]; /* secrets/ beside --path */
	bool have_key;
	unsigned char pk[OP_SEAL_KEY_LEN], sk[OP_SEAL_KEY_LEN];
	char commit[OP_GIT_ID_LEN + 1]; /* the proof the pins were read from */
	ag_pin *pins;
	size_t npins;
	const op_app **apps; /* this round's apps that may run (borrowed) */
	size_t napps, capapps;
	ag_blocked *blocked;
	size_t nblocked, capblocked;
	char logged[OP_NAME_MAX + 2 +
		sizeof(op_err){0}.msg]; /* the last block logged, once per change */
} ag_secrets;

/* Reads --seal-key, if given: 0 or its error (a key that cannot be read stops the
 * agent). */
int ag_secrets_init(ag_secrets *s, const op_agent_cfg *cfg, op_err *e);
/* Under mu: pins apps' references from t's proof when it is commit's, then splits apps
 * into s->apps (may run) and s->blocked. OP_ENOMEM only. */
int ag_secrets_round(ag_secrets *s, const ag_table *t, const char *commit,
	const op_app *const *apps, size_t napps);
/* Under mu: the values component c refers to, opened from t into cmd->secrets. */
int ag_secrets_open(
	const ag_secrets *s, const ag_table *t, const op_component *c, op_hostcmd *cmd, op_err *e);
void ag_secrets_clear(ag_secrets *s);

#endif
