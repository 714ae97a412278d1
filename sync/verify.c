/* Placeholder until sshsig.c and trust.c land: refuses every commit. */
#include "outpost/verify.h"

#include <stdlib.h>

struct op_policy {
	int unused;
};

int op_policy_load(op_policy **p, const char *trust_file, const char *revoked_file,
	bool match_committer, op_err *e)
{
	(void)trust_file, (void)revoked_file, (void)match_committer, (void)e;
	*p = calloc(1, sizeof **p);
	return *p ? 0 : OP_ENOMEM;
}

int op_policy_verify_commit(const op_policy *p, const op_commit *c, char signer[256],
	op_err *e)
{
	(void)p, (void)c, (void)signer;
	return op_err_set(e, OP_ETRUST, "signature verification is not built yet");
}

void op_policy_free(op_policy *p)
{
	free(p);
}
