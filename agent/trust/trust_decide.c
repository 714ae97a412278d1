/* The trust decision (see include/outpost/agent/trust/trust.h): git's verdict on a signed commit,
 * computed from the parsed policy instead of by running ssh-keygen. Git asks
 * `ssh-keygen -Y find-principals` for the principals of the first line that lists the
 * key and is valid at the committer time, then `ssh-keygen -Y verify -I P` for each of
 * them in turn; these functions walk the same lines in the same order. Pure: no I/O,
 * no clock. */
#include "outpost/agent/trust/trust.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *op_trust_reason_name(enum op_trust_reason r)
{
	switch (r) {
	case OP_TRUST_ACCEPTED: return "accepted";
	case OP_TRUST_UNSIGNED: return "unsigned";
	case OP_TRUST_MALFORMED: return "malformed";
	case OP_TRUST_UNSUPPORTED: return "unsupported";
	case OP_TRUST_BAD_NAMESPACE: return "bad-namespace";
	case OP_TRUST_BAD_SIGNATURE: return "bad-signature";
	case OP_TRUST_REVOKED: return "revoked";
	case OP_TRUST_NOT_LISTED: return "not-listed";
	case OP_TRUST_NOT_YET_VALID: return "not-yet-valid";
	case OP_TRUST_EXPIRED: return "expired";
	case OP_TRUST_NAMESPACE_DENIED: return "namespace-denied";
	case OP_TRUST_NO_PRINCIPAL: return "no-principal";
	case OP_TRUST_COMMITTER: return "committer-mismatch";
	}
	return "unknown";
}

/* 2024-05-01T12:00:00Z (Hinnant's civil_from_days). */
static void fmt_time(int64_t t, char out[80])
{
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, secs = t - days * 86400;
	int64_t z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153, d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
	snprintf(out, 80, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lldZ", (long long)y, (long long)m,
		(long long)d, (long long)(secs / 3600), (long long)(secs / 60 % 60),
		(long long)(secs % 60));
}

static void say(op_trust_verdict *v, enum op_trust_reason reason, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(op_trust_verdict *v, enum op_trust_reason reason, int line, const char *fmt, ...)
{
	va_list ap;
	v->accepted = reason == OP_TRUST_ACCEPTED;
	v->reason = reason;
	v->line = line;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof v->msg, fmt, ap);
	va_end(ap);
}

static bool time_ok(const op_trust_entry *t, int64_t time)
{
	return !(t->valid_after && time < t->valid_after) &&
		!(t->valid_before && time > t->valid_before);
}

/* `ssh-keygen -Y verify -I principal`: the first line whose principals match, that
 * lists the key, allows the namespace and is valid at the time; NULL when none. */
static const op_trust_entry *verify_as(
	const op_trust_policy *p, const char *principal, const op_trust_query *q)
{
	for (size_t i = 0; i < p->n; i++) {
		const op_trust_entry *t = &p->v[i];
		if (op_trust_match_list(principal, t->principals) == 1 &&
			op_sshkey_equal(&t->key, q->key) &&
			(!t->namespaces || op_trust_match_list(q->ns, t->namespaces) == 1) &&
			time_ok(t, q->time))
			return t;
	}
	return NULL;
}

void op_trust_decide(const op_trust_policy *p, const op_trust_revoked *r, const op_trust_query *q,
	op_trust_verdict *v)
{
	char when[80], bound[80], shown[64];
	memset(v, 0, sizeof *v);
	v->time = q->time;
	op_sshkey_fingerprint(q->key, v->fingerprint);
	const char *file = p && p->file ? p->file : "allowed_signers";
	fmt_time(q->time, when);
	if (!q->key || !q->key->blob || !q->ns) {
		say(v, OP_TRUST_MALFORMED, 0, "no key or namespace to decide on");
		return;
	}
	if (op_trust_is_revoked(r, q->key)) {
		say(v, OP_TRUST_REVOKED, 0, "key %s is revoked by %s", v->fingerprint,
			r->file ? r->file : "the revocation list");
		return;
	}
	/* find-principals: the first line listing the key and valid at the time. */
	const op_trust_entry *first = NULL, *dated = NULL; /* neither: not listed */
	for (size_t i = 0; p && i < p->n && !first; i++) {
		const op_trust_entry *t = &p->v[i];
		if (!op_sshkey_equal(&t->key, q->key))
			continue;
		if (time_ok(t, q->time))
			first = t;
		else if (!dated)
			dated = t;
	}
	if (!first && !dated) {
		say(v, OP_TRUST_NOT_LISTED, 0, "%s key %s is not in %s",
			op_sshkey_type_name(q->key->type), v->fingerprint, file);
		return;
	}
	if (!first) {
		bool early = dated->valid_after && q->time < dated->valid_after;
		fmt_time(early ? dated->valid_after : dated->valid_before, bound);
		say(v, early ? OP_TRUST_NOT_YET_VALID : OP_TRUST_EXPIRED, dated->line,
			early ? "%s:%d: key %s is not valid before %s (commit time %s)"
			      : "%s:%d: key %s expired at %s (commit time %s)",
			file, dated->line, v->fingerprint, bound, when);
		return;
	}
	/* verify: each principal of that line in turn; the first that verifies signs. */
	const op_trust_entry *ok = NULL;
	const char *pr = first->principals;
	size_t n = 0;
	while (*pr && !ok) {
		n = strcspn(pr, ",");
		if (n == 0 || n > OP_TRUST_MAX_PRINCIPAL)
			break; /* ssh-keygen stops listing at an empty one */
		memcpy(v->principal, pr, n);
		v->principal[n] = '\0';
		ok = verify_as(p, v->principal, q);
		pr += n + (pr[n] == ',');
	}
	if (!ok) {
		v->principal[0] = '\0';
		if (first->namespaces && op_trust_match_list(q->ns, first->namespaces) != 1) {
			op_ssh__printable(
				shown, sizeof shown, first->namespaces, strlen(first->namespaces));
			say(v, OP_TRUST_NAMESPACE_DENIED, first->line,
				"%s:%d: key %s is not allowed for namespace \"%s\" "
				"(namespaces=\"%s\")",
				file, first->line, v->fingerprint, q->ns, shown);
		} else {
			say(v, OP_TRUST_NO_PRINCIPAL, first->line,
				"%s:%d: no principal of this line verifies for key %s", file,
				first->line, v->fingerprint);
		}
		return;
	}
	if (q->match_committer && (!q->email || !verify_as(p, q->email, q))) {
		op_ssh__printable(shown, sizeof shown, q->email ? q->email : "",
			q->email ? strlen(q->email) : 0);
		v->principal[0] = '\0';
		say(v, OP_TRUST_COMMITTER, first->line,
			"committer email <%s> is not a principal of key %s in %s "
			"(--match-committer)",
			shown, v->fingerprint, file);
		return;
	}
	op_ssh__printable(shown, sizeof shown, v->principal, strlen(v->principal));
	say(v, OP_TRUST_ACCEPTED, ok->line, "good %s signature for %s with %s key %s (%s:%d)",
		q->ns, shown, op_sshkey_type_name(q->key->type), v->fingerprint, file, ok->line);
}

static int refuse(op_trust_verdict *v, enum op_trust_reason reason, const char *msg)
{
	say(v, reason, 0, "%s", msg);
	return OP_ETRUST;
}

int op_trust_verify_commit(const op_trust_policy *p, const op_trust_revoked *r, const char *commit,
	size_t len, const op_trust_opts *o, op_trust_verdict *v)
{
	static const op_trust_opts defaults;
	op_commit_sig cs;
	op_sshsig sig;
	op_err e = {0};
	char *email = NULL;
	int64_t time = 0;
	int rc;
	if (!o)
		o = &defaults;
	memset(v, 0, sizeof *v);
	if ((rc = op_commit_split_signature(&cs, commit, len, o->sha256_repo, &e)) != 0) {
		say(v, OP_TRUST_MALFORMED, 0, "%s", e.msg);
		return rc == OP_ENOMEM ? rc : OP_ETRUST;
	}
	if (!cs.sig) {
		op_commit_sig_clear(&cs);
		return refuse(v, OP_TRUST_UNSIGNED, "commit is not signed");
	}
	if (strncmp(cs.sig, "-----BEGIN SSH SIGNATURE-----", 29) != 0) {
		op_commit_sig_clear(&cs);
		return refuse(v, OP_TRUST_UNSUPPORTED,
			"commit signature is not an SSH signature (gpg and x509 signatures are "
			"not supported)");
	}
	rc = op_commit_committer(cs.payload, cs.payload_len, &email, &time, &e);
	if (rc) {
		op_commit_sig_clear(&cs);
		say(v, OP_TRUST_MALFORMED, 0, "%s", e.msg);
		return rc == OP_ENOMEM ? rc : OP_ETRUST;
	}
	/* git passes no -Overify-time for a time of 0: ssh-keygen uses its clock. */
	if (time == 0 && o->now <= 0) {
		op_commit_sig_clear(&cs);
		free(email);
		return refuse(v, OP_TRUST_MALFORMED,
			"commit's committer time is 0 and no current time was given");
	}
	if (time == 0)
		time = o->now;
	v->time = time;
	rc = op_sshsig_parse(&sig, cs.sig, cs.sig_len, &e);
	if (rc) {
		op_commit_sig_clear(&cs);
		free(email);
		say(v, rc == OP_ETRUST ? OP_TRUST_UNSUPPORTED : OP_TRUST_MALFORMED, 0, "%s", e.msg);
		return rc == OP_ENOMEM ? rc : OP_ETRUST;
	}
	/* The cheap checks first: a signature for another namespace, then the policy, and
	 * only for a key the policy accepts the arithmetic (a hostile pusher's signature
	 * never costs more than parsing). */
	if (strcmp(sig.ns, "git") != 0) {
		rc = op_sshsig_verify(&sig, "git", cs.payload, cs.payload_len, &e);
		op_sshkey_fingerprint(&sig.key, v->fingerprint);
		say(v, OP_TRUST_BAD_NAMESPACE, 0, "%s", e.msg);
	} else {
		op_trust_query q = {.key = &sig.key,
			.ns = "git",
			.time = time,
			.email = email,
			.match_committer = o->match_committer};
		op_trust_decide(p, r, &q, v);
		if (v->accepted &&
			(rc = op_sshsig_verify(&sig, "git", cs.payload, cs.payload_len, &e)) != 0) {
			v->principal[0] = '\0';
			say(v, rc == OP_ENOMEM ? OP_TRUST_MALFORMED : OP_TRUST_BAD_SIGNATURE, 0,
				"%s", e.msg);
		}
	}
	op_sshsig_clear(&sig);
	op_commit_sig_clear(&cs);
	free(email);
	if (rc == OP_ENOMEM)
		return rc;
	return v->accepted ? 0 : OP_ETRUST;
}
