/* The trust policy in force at a commit. The hub starts from the operator's files
 * (--trust, --revoked). A repository may carry its own policy in
 * .outpost/allowed_signers (and .outpost/revoked): it takes effect from a commit on only
 * when that commit verified under the policy in force before it, so rotation and
 * revocation go through Git, signed, and a key nobody trusts cannot add itself. The
 * operator's --revoked applies always. */
#ifndef OUTPOST_POLICY_H
#define OUTPOST_POLICY_H

#include "outpost/sync/git/source.h"
#include "outpost/agent/trust/verify.h"

#define OP_REPO_TRUST ".outpost/allowed_signers"
#define OP_REPO_REVOKED ".outpost/revoked"

typedef struct op_policy_ref {
	char trust_blob[41]; /* "" when the operator's file is in force */
	char revoked_blob[41]; /* "" when the repository has no revocation list */
} op_policy_ref;

typedef struct op_policy_files {
	const char *trust, *revoked; /* the operator's */
	bool match_committer;
} op_policy_files;

/* Which policy commit sha carries (sha NULL: none, the operator's). */
int op_policy_ref_at(op_source *src, const char *sha, op_policy_ref *ref, op_err *e);
/* Loads the policy ref names. */
int op_policy_load_ref(op_source *src, const op_policy_files *f, const op_policy_ref *ref,
	op_policy **p, op_err *e);
bool op_policy_ref_equal(const op_policy_ref *a, const op_policy_ref *b);

#endif
