/* Which new commits verify, each under the trust policy in force before it (see
 * sync_int.h). */
#include "sync_int.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/sync/git/policy.h"

#define MAX_RANGE 100000 /* commits verified in one pass */

int op_sync_verify_range(op_sync *s, const char *head, const char *base, op_sync_outcome *o)
{
	char(*shas)[41] = NULL;
	size_t n = 0;
	op_err e = {0};
	op_policy *pol = NULL;
	op_policy_ref ref, next;
	op_policy_files files = {s->cfg.trust, s->cfg.revoked, s->cfg.match_committer};
	if (op_source_range(
		    s->src, head, s->cfg.verify_all ? base : NULL, MAX_RANGE, &shas, &n, &e) != 0 ||
		op_policy_ref_at(s->src, base, &ref, &e) != 0) {
		op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
		free(shas);
		return -1;
	}
	if (op_policy_load_ref(s->src, &files, &ref, &pol, &e) != 0) {
		op_sync_reason(o, OP_SYNC_FAILED, "trust policy: %s", e.msg);
		free(shas);
		return -1;
	}
	int rc = 0;
	for (size_t i = n; i-- > 0 && rc == 0;) {
		op_commit c;
		char signer[256] = "";
		if (op_source_commit(s->src, shas[i], &c, &e) != 0) {
			op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
			rc = -1;
			break;
		}
		if (op_policy_verify_commit(pol, &c, signer, &e) != 0) {
			op_sync_reason(o, OP_SYNC_REJECTED, "commit %.12s: %s%s%.12s", shas[i],
				e.msg,
				base && strstr(e.msg, "(unsigned)")
					? "; the last accepted commit is "
					: "",
				base && strstr(e.msg, "(unsigned)") ? base : "");
			rc = -1;
		} else if (i == 0) {
			snprintf(o->signer, sizeof o->signer, "%s", signer);
		}
		op_commit_clear(&c);
		if (rc || i == 0)
			break;
		if (op_policy_ref_at(s->src, shas[i], &next, &e) != 0) {
			op_sync_reason(o, OP_SYNC_FAILED, "%s", e.msg);
			rc = -1;
		} else if (!op_policy_ref_equal(&ref, &next)) {
			op_policy_free(pol);
			pol = NULL;
			if (op_policy_load_ref(s->src, &files, &next, &pol, &e) != 0) {
				op_sync_reason(
					o, OP_SYNC_REJECTED, "commit %.12s: %s", shas[i], e.msg);
				rc = -1;
			}
			ref = next;
			op_log_info("trust policy changed", "commit=%.12s file=%s", shas[i],
				ref.trust_blob[0] ? OP_REPO_TRUST : s->cfg.trust);
		}
	}
	op_policy_free(pol);
	free(shas);
	return rc;
}
