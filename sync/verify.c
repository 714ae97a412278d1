/* The hub's trust decision for one commit: the policy files are read per pass (so an
 * edited allowed_signers applies without a restart) and trust.c decides as git does. */
#include "outpost/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/trust.h"

struct op_policy {
	op_trust_policy trust;
	op_trust_revoked revoked;
	bool have_revoked;
	bool match_committer;
};

/* The whole file, capped; *buf is the caller's to free. */
static int slurp(const char *path, char **buf, size_t *len, op_err *e)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
	*buf = malloc(OP_TRUST_MAX_FILE + 1);
	if (!*buf) {
		fclose(f);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	*len = fread(*buf, 1, OP_TRUST_MAX_FILE + 1, f);
	int bad = ferror(f);
	fclose(f);
	if (bad || *len > OP_TRUST_MAX_FILE) {
		free(*buf);
		return op_err_set(e, bad ? OP_EIO : OP_ETOOBIG, "%s: %s", path,
			bad ? "read error" : "larger than 4 MiB");
	}
	return 0;
}

int op_policy_load(op_policy **out, const char *trust_file, const char *revoked_file,
	bool match_committer, op_err *e)
{
	op_policy *p = calloc(1, sizeof *p);
	char *buf = NULL;
	size_t len = 0;
	int rc;
	if (!p)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	p->match_committer = match_committer;
	if ((rc = slurp(trust_file, &buf, &len, e)) != 0)
		goto fail;
	rc = op_trust_parse(&p->trust, trust_file, buf, len, e);
	free(buf);
	if (rc)
		goto fail;
	if (revoked_file) {
		if ((rc = slurp(revoked_file, &buf, &len, e)) != 0)
			goto fail;
		rc = op_trust_revoked_parse(&p->revoked, revoked_file, buf, len, e);
		free(buf);
		if (rc)
			goto fail;
		p->have_revoked = true;
	}
	*out = p;
	return 0;
fail:
	op_policy_free(p);
	return rc;
}

int op_policy_verify_commit(const op_policy *p, const op_commit *c, char signer[256], op_err *e)
{
	op_trust_opts o = {.match_committer = p->match_committer};
	op_trust_verdict v;
	int rc = op_trust_verify_commit(
		&p->trust, p->have_revoked ? &p->revoked : NULL, c->raw, c->len, &o, &v);
	if (rc == 0 && v.accepted) {
		snprintf(signer, 256, "%s", v.principal);
		return 0;
	}
	if (rc == OP_ENOMEM)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	return op_err_set(e, OP_ETRUST, "%s (%s)", v.msg, op_trust_reason_name(v.reason));
}

void op_policy_free(op_policy *p)
{
	if (!p)
		return;
	op_trust_free(&p->trust);
	if (p->have_revoked)
		op_trust_revoked_free(&p->revoked);
	free(p);
}
