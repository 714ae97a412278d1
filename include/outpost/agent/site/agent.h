/* The site agent: keeps the desired state's mirror, listens to its hosts' heartbeats
 * and reconciles until what runs at the site equals the newest whole revision, with
 * or without the link to the hub. The decisions are plan.c's; this is the loop. */
#ifndef OUTPOST_AGENT_H
#define OUTPOST_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

typedef struct op_agent_cfg {
	const char *site;
	const char *nats;
	const char *state; /* dir: the revision it runs */
	op_kvs labels; /* site labels (with site=<name>) */
	int64_t resync_ms; /* periodic full reconcile and status refresh */
	int64_t report_ms; /* the agent key is rewritten at least this often (at most
			    * resync_ms); 0: AG_REPORT_MS */
	int64_t host_timeout_ms; /* a host is dead after this long without heartbeat */
	int64_t cmd_timeout_ms; /* per command request */
	int max_cmds_per_tick; /* rate limit */
	bool repair_mirror;
	/* Verification at the edge (edge.h): the site's own allowed_signers and revocation
	 * list (NULL: none; trust NULL: the hub's canonical JSON is taken as it is) and the
	 * synced path the proofs must be for. */
	const char *trust, *revoked, *path;
	/* Freshness (fresh.h): allowed_signers for the hub's record key (NULL: off), and
	 * how old the newest record may be before the site reports itself stale. */
	const char *fresh_signers;
	int64_t stale_after_ms;
	/* Sealed secrets (model/sealed.h): the site's private key file (NULL: the site can
	 * open none, and apps that need one do not run here). */
	const char *seal_key;
} op_agent_cfg;

typedef struct op_agent op_agent;

int op_agent_new(op_agent **a, const op_agent_cfg *cfg, op_err *e);
/* Runs until *stop becomes true (a signal handler sets it): 0. OP_ENATS when the
 * server closed the connection for good (refused credentials), logged. */
int op_agent_run(op_agent *a, volatile int *stop);
void op_agent_free(op_agent *a);

#endif
