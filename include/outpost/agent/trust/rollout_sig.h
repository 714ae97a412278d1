/* Signed promotion records (wire/rollout.h): the hub signs rollout.<app> with its
 * freshness key (sync --fresh-key), namespace outpost-rollout, and a site that checks
 * freshness (agent --fresh-signers) takes a promotion only from a key of that file, at
 * the record's time. Pure. */
#ifndef OUTPOST_ROLLOUT_SIG_H
#define OUTPOST_ROLLOUT_SIG_H

#include <stddef.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/trust/sshsign.h"
#include "outpost/agent/trust/trust.h"
#include "outpost/agent/wire/rollout.h"

/* The site's judgement of a record's bytes: decoded strictly; with pol non-NULL, its
 * SSHSIG must verify (namespace outpost-rollout) against a principal of pol valid at the
 * record's time. 0 with p filled; OP_EINVAL unreadable, OP_ETRUST not signed by a key of
 * pol (e names why), OP_ENOMEM. With pol NULL any well-formed record is taken, signed or
 * not. On failure p is zeroed. */
int op_promotion_check(
	const char *json, size_t len, const op_trust_policy *pol, op_promotion *p, op_err *e);

/* The record's bytes as the hub writes them: signed with key (namespace outpost-rollout),
 * or without "sig" when key is NULL. *json allocated. */
int op_promotion_sign(const op_promotion *p, const op_sshpriv *key, char **json, op_err *e);

#endif
