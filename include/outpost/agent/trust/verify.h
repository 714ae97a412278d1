/* The hub's trust decision for one commit: its SSH signature (gpgsig header, SSHSIG,
 * namespace git) checked against the allowed_signers policy and revocation list at
 * the committer time, as `git verify-commit` decides. Glue over sshsig.h and trust.h. */
#ifndef OUTPOST_VERIFY_H
#define OUTPOST_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"

typedef struct op_policy op_policy;

/* A commit as the verifier sees it: its raw object and committer fields. */
typedef struct op_commit {
	char sha[41];
	char *raw; /* the commit object as `git cat-file commit` prints it */
	size_t len;
	char email[256]; /* committer email */
	int64_t time; /* committer time, seconds since the epoch (UTC) */
} op_commit;

/* Reads the policy files (revoked_file may be NULL). Errors name file:line. */
int op_policy_load(op_policy **p, const char *trust_file, const char *revoked_file,
	bool match_committer, op_err *e);
/* The policy a commit carries (.outpost/allowed_signers and .outpost/revoked, their
 * bytes): name is used in messages. The operator's revocation file (may be NULL)
 * applies too, always. revoked_text may be NULL. */
int op_policy_load_text(op_policy **p, const char *name, const char *trust_text, size_t trust_len,
	const char *revoked_text, size_t revoked_len, const char *revoked_file,
	bool match_committer, op_err *e);
/* 0 and the principal in signer when the commit's signature is good; OP_ETRUST with
 * the reason otherwise. */
int op_policy_verify_commit(const op_policy *p, const op_commit *c, char signer[256], op_err *e);
void op_policy_free(op_policy *p);

#endif
