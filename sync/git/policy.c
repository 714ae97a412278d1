/* The trust policy in force at a commit (see include/outpost/sync/git/policy.h). */
#include "outpost/sync/git/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int op_policy_ref_at(op_source *src, const char *sha, op_policy_ref *ref, op_err *e)
{
	memset(ref, 0, sizeof *ref);
	if (!sha)
		return 0;
	int rc = op_source_file(src, sha, OP_REPO_TRUST, ref->trust_blob, e);
	if (rc == OP_ENOTFOUND) {
		ref->trust_blob[0] = '\0';
		return 0; /* no policy of its own: the operator's (and no repository revoked) */
	}
	if (rc)
		return rc;
	rc = op_source_file(src, sha, OP_REPO_REVOKED, ref->revoked_blob, e);
	if (rc == OP_ENOTFOUND) {
		ref->revoked_blob[0] = '\0';
		rc = 0;
	}
	return rc;
}

int op_policy_load_ref(op_source *src, const op_policy_files *f, const op_policy_ref *ref,
	op_policy **p, op_err *e)
{
	if (!ref->trust_blob[0])
		return op_policy_load(p, f->trust, f->revoked, f->match_committer, e);
	char *trust = NULL, *revoked = NULL;
	size_t tlen = 0, rlen = 0;
	int rc = op_source_blob(src, ref->trust_blob, &trust, &tlen, e);
	if (rc == 0 && ref->revoked_blob[0])
		rc = op_source_blob(src, ref->revoked_blob, &revoked, &rlen, e);
	if (rc == 0)
		rc = op_policy_load_text(p, OP_REPO_TRUST, trust, tlen, revoked, rlen, f->revoked,
			f->match_committer, e);
	free(trust);
	free(revoked);
	return rc;
}

bool op_policy_ref_equal(const op_policy_ref *a, const op_policy_ref *b)
{
	return !strcmp(a->trust_blob, b->trust_blob) && !strcmp(a->revoked_blob, b->revoked_blob);
}
