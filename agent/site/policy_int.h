/* Internal to the agent: the trust policy a site verifying at the edge holds, and how it
 * follows signed rotations (trust/follow.h). The policy in force and the commit that
 * brought it are kept in <state>/policy.json (written atomically, like revision.json),
 * with the id of the --trust file's bytes when it was adopted: the --trust file is
 * where a site starts, and a changed --trust file resets the site to it. */
#ifndef OUTPOST_SITE_POLICY_INT_H
#define OUTPOST_SITE_POLICY_INT_H

#include <jansson.h>

#include "outpost/agent/site/agent.h"
#include "outpost/agent/trust/edge.h"
#include "outpost/agent/trust/follow.h"

typedef struct ag_policy {
	op_follow_policy held; /* in force */
	char trust_file[OP_GIT_ID_LEN + 1]; /* the --trust file's bytes (blob id) then */
	op_follow_policy next; /* in force after the revision verified last */
	char next_for[OP_GIT_ID_LEN + 1]; /* that revision's commit; "" none */
	/* from the configuration (borrowed): --state, --trust, --revoked, --path */
	const char *state, *trust, *revoked, *dir;
} ag_policy;

/* Takes the configuration and, with --trust, the policy saved in the state dir, if any
 * (one that is unreadable or altered is logged and the --trust file is in force). */
void ag_policy_init(ag_policy *p, const op_agent_cfg *cfg);
/* op_edge_verify with the policy the site holds, after following the proof's chain
 * from it: the same results. */
int ag_policy_verify(ag_policy *p, const op_marker *m, const char *proof_json, size_t proof_len,
	op_edge_blob_fn blob, void *arg, op_revision *out, op_err *e);
/* The site moved to the revision of commit: the policy in force after it is the
 * site's from now on (saved). */
void ag_policy_adopt(ag_policy *p, const char *commit);
/* For status: {"commit": "...", "from": "trust-file"|"repository"} (new reference). */
json_t *ag_policy_status(const ag_policy *p);
void ag_policy_clear(ag_policy *p);

#endif
