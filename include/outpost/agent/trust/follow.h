/* Sites follow signed rotations. A repository may carry its own trust policy in
 * .outpost/allowed_signers (and .outpost/revoked); the hub puts it in force from a commit
 * on only when that commit verified under the policy in force before it
 * (sync/git/policy.h). A site verifying at the edge applies the same rule from what the
 * revision's proof carries (wire/proof.h): the first-parent chain between the policy the
 * site holds and the new head, with the .outpost trees of every commit that changed the
 * policy. The site's --trust file is only where it starts.
 *
 * The walk: every commit object of the chain is hashed and every parent link checked;
 * the chain's points are its oldest commit (or, below a root commit, the site's --trust
 * file) and each commit after it, each with the policy its tree names (a commit whose
 * trees the proof does not carry changed nothing). The newest point whose policy is the
 * site's is where the site stands; from there each commit that changes the policy must
 * verify under the policy in force before it, and the head is verified (by the caller,
 * edge.h) under the policy in force before it. A point whose tree has no
 * .outpost/allowed_signers is "the site's --trust file"; so is one whose
 * allowed_signers holds exactly the bytes of that file (an operator who resets a site
 * with a copy of the repository's file). A site that holds the policy the proof's own
 * commit brought (that revision offered again) stands just before that commit. The
 * operator's --revoked applies always. */
#ifndef OUTPOST_FOLLOW_H
#define OUTPOST_FOLLOW_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/trust/edge.h"
#include "outpost/agent/trust/verify.h"
#include "outpost/agent/wire/proof.h"

#define OP_FOLLOW_TRUST ".outpost/allowed_signers"
#define OP_FOLLOW_REVOKED ".outpost/revoked"

/* The policy a tree names: blob ids, "" for none. revoked is "" whenever trust is (a
 * revocation list without allowed_signers changes nothing, as at the hub). */
typedef struct op_follow_ref {
	char trust[OP_GIT_ID_LEN + 1]; /* "": the site's --trust file */
	char revoked[OP_GIT_ID_LEN + 1];
} op_follow_ref;

/* The policy a site holds, and the commit that brought it. */
typedef struct op_follow_policy {
	op_follow_ref ref;
	char *trust, *revoked; /* the repository's texts when ref.trust[0] (revoked: NULL
				  when ref.revoked is ""); owned */
	size_t tlen, rlen;
	char commit[OP_GIT_ID_LEN + 1]; /* "": none (the site's start) */
} op_follow_policy;

typedef struct op_follow_in {
	const op_follow_policy *held;
	const char *trust_name; /* the site's --trust file: its name (messages) and bytes */
	const char *trust_text;
	size_t trust_len;
	const char *revoked_file; /* the operator's --revoked, or NULL */
	const op_proof *proof; /* decoded (so every id in it is its bytes' own) */
	op_edge_blob_fn blob; /* proof.blob.<id> */
	void *arg;
} op_follow_in;

/* Follows the chain (above) from the held policy to the proof's commit. 0 with *pol the
 * policy to verify the commit with (op_policy_free) and next the policy in force after
 * it, should it verify (op_follow_policy_clear); OP_ETRUST with the reason (a commit
 * that changes the policy and does not verify, names the commit and the signer's
 * verdict; a held policy not in the chain says how to reset the site); OP_ENOTFOUND
 * when a policy blob is not here yet (wait); OP_ENOMEM. Pure but for reading the
 * --revoked file. */
int op_follow(const op_follow_in *in, op_policy **pol, op_follow_policy *next, op_err *e);

/* The policy the tree `root` of the proof names; OP_EINVAL when the proof lacks the
 * root tree or the .outpost tree below it. */
int op_follow_ref_at(const op_proof *p, const char *root, op_follow_ref *ref, op_err *e);

/* Calls fn for each policy blob the proof names (its commit's and its chain's), with
 * repeats; a non-zero return stops with it. */
int op_follow_blobs(
	const op_proof *p, int (*fn)(void *arg, const char *id, op_err *e), void *arg, op_err *e);

bool op_follow_ref_equal(const op_follow_ref *a, const op_follow_ref *b);
/* Deep copy: 0 or OP_ENOMEM. */
int op_follow_policy_copy(op_follow_policy *dst, const op_follow_policy *src, op_err *e);
void op_follow_policy_clear(op_follow_policy *p);

#endif
