/* The hub's trust decision for one commit: the policy files are read per pass (so an
 * edited allowed_signers applies without a restart) and trust.c decides as git does.
 * The policy's warnings (skipped lines, times without Z) are logged once per file
 * content and process, not once per pass. */
#include "outpost/agent/trust/verify.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/sha256.h>
#include <pthread.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/trust/trust.h"

struct op_policy {
	op_trust_policy trust;
	op_trust_revoked revoked; /* the operator's --revoked */
	op_trust_revoked repo_revoked; /* a commit's .outpost/revoked */
	bool have_revoked, have_repo_revoked;
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

#define WARNED_RING 16
#define UNSIGNED_HINT \
	": it was never accepted, so replacing it is not a rollback: sign it and every " \
	"commit after it again (git rebase --exec 'git commit --amend --no-edit -S' " \
	"<last accepted commit>) and force-push"

/* Logs p's warnings unless this name and text were already warned about. */
static void log_warnings(const op_trust_policy *p, const char *text, size_t len)
{
	static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	static unsigned char seen[WARNED_RING][32];
	static size_t next;
	unsigned char h[32];
	mbedtls_sha256_context c;
	if (p->nwarn == 0)
		return;
	mbedtls_sha256_init(&c);
	mbedtls_sha256_starts(&c, 0);
	mbedtls_sha256_update(&c, (const unsigned char *)p->file, strlen(p->file) + 1);
	mbedtls_sha256_update(&c, (const unsigned char *)text, len);
	mbedtls_sha256_finish(&c, h);
	mbedtls_sha256_free(&c);
	pthread_mutex_lock(&mu);
	bool again = false;
	for (size_t i = 0; i < WARNED_RING && !again; i++)
		again = memcmp(seen[i], h, sizeof h) == 0;
	if (!again)
		memcpy(seen[next++ % WARNED_RING], h, sizeof h);
	pthread_mutex_unlock(&mu);
	if (again)
		return;
	for (size_t i = 0; i < p->nwarn; i++) {
		char msg[700];
		snprintf(msg, sizeof msg, "trust policy: %s", p->warn[i]);
		op_log_warn(msg, NULL);
	}
	if (p->skipped > p->nwarn)
		op_log_warn("trust policy", "file=\"%s\" skipped=%zu", p->file, p->skipped);
}

/* A policy with no allowed signers yet and the operator's revocation list. */
static int policy_new(op_policy **out, const char *revoked_file, bool match_committer, op_err *e)
{
	op_policy *p = calloc(1, sizeof *p);
	char *buf = NULL;
	size_t len = 0;
	if (!p)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	p->match_committer = match_committer;
	if (revoked_file) {
		int rc = slurp(revoked_file, &buf, &len, e);
		if (rc == 0) {
			rc = op_trust_revoked_parse(&p->revoked, revoked_file, buf, len, e);
			free(buf);
		}
		if (rc) {
			free(p);
			return rc;
		}
		p->have_revoked = true;
	}
	*out = p;
	return 0;
}

int op_policy_load(op_policy **out, const char *trust_file, const char *revoked_file,
	bool match_committer, op_err *e)
{
	op_policy *p = NULL;
	char *buf = NULL;
	size_t len = 0;
	int rc = policy_new(&p, revoked_file, match_committer, e);
	if (rc == 0 && (rc = slurp(trust_file, &buf, &len, e)) == 0) {
		rc = op_trust_parse(&p->trust, trust_file, buf, len, e);
		if (rc == 0)
			log_warnings(&p->trust, buf, len);
		free(buf);
	}
	if (rc) {
		op_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int op_policy_load_text(op_policy **out, const char *name, const char *trust_text, size_t trust_len,
	const char *revoked_text, size_t revoked_len, const char *revoked_file,
	bool match_committer, op_err *e)
{
	op_policy *p = NULL;
	char rname[300];
	snprintf(rname, sizeof rname, "%s (revoked)", name);
	int rc = policy_new(&p, revoked_file, match_committer, e);
	if (rc == 0 && (rc = op_trust_parse(&p->trust, name, trust_text, trust_len, e)) == 0)
		log_warnings(&p->trust, trust_text, trust_len);
	if (rc == 0 && revoked_text) {
		rc = op_trust_revoked_parse(&p->repo_revoked, rname, revoked_text, revoked_len, e);
		p->have_repo_revoked = rc == 0;
	}
	if (rc) {
		op_policy_free(p);
		return rc;
	}
	*out = p;
	return 0;
}

int op_policy_verify_commit(const op_policy *p, const op_commit *c, char signer[256], op_err *e)
{
	op_trust_opts o = {.match_committer = p->match_committer, .now = (int64_t)time(NULL)};
	op_trust_verdict v;
	int rc = op_trust_verify_commit(
		&p->trust, p->have_revoked ? &p->revoked : NULL, c->raw, c->len, &o, &v);
	/* The repository's own revocation list too: a leaked key it revoked is refused. */
	if (rc == 0 && v.accepted && p->have_repo_revoked)
		rc = op_trust_verify_commit(&p->trust, &p->repo_revoked, c->raw, c->len, &o, &v);
	if (rc == 0 && v.accepted) {
		snprintf(signer, 256, "%s", v.principal);
		return 0;
	}
	if (rc == OP_ENOMEM)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	/* --verify all stops at an unsigned commit pushed by mistake: say the way out. */
	return op_err_set(e, OP_ETRUST, "%s (%s)%s", v.msg, op_trust_reason_name(v.reason),
		v.reason == OP_TRUST_UNSIGNED ? UNSIGNED_HINT : "");
}

void op_policy_free(op_policy *p)
{
	if (!p)
		return;
	op_trust_clear(&p->trust);
	if (p->have_revoked)
		op_trust_revoked_clear(&p->revoked);
	if (p->have_repo_revoked)
		op_trust_revoked_clear(&p->repo_revoked);
	free(p);
}
