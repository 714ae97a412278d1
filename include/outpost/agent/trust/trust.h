/* The trust policy: git's allowed_signers format (man ssh-keygen, ALLOWED SIGNERS), a
 * revocation list (one public key a line, git's gpg.ssh.revocationFile), and the
 * decision whether a signed commit is accepted.
 *
 * The decision is git's own, made without running anything: `git verify-commit` with
 * gpg.ssh.allowedSignersFile runs `ssh-keygen -Y find-principals` (the principals of
 * the FIRST line that lists the key and is valid at the verify time, namespaces not
 * looked at), then for each of those principals in turn `ssh-keygen -Y verify -n git
 * -I PRINCIPAL [-r REVOKED]` (some line matching that principal, listing the key,
 * allowing namespace git and valid at that time; the key not revoked), all with
 * -Overify-time= the committer time. The first principal that verifies is the signer.
 * A line outpost cannot use (malformed, an unknown option or key type, cert-authority)
 * is skipped with a warning, as ssh-keygen skips it: it can only grant. The one
 * difference: times without Z are UTC (ssh-keygen: local time; run git with TZ=UTC to
 * compare), so that a hub and its sites decide alike in any time zone; each such line
 * gets a warning. */
#ifndef OUTPOST_TRUST_H
#define OUTPOST_TRUST_H

#include "outpost/agent/base/err.h"
#include "outpost/agent/trust/sshsig.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OP_TRUST_MAX_FILE (4u << 20) /* bytes of one allowed_signers or revocation file */
#define OP_TRUST_MAX_ENTRIES 10000
#define OP_TRUST_MAX_PRINCIPAL 255 /* bytes of one principal (or namespace) pattern */

/* One allowed_signers line. */
typedef struct op_trust_entry {
	int line; /* 1-based line in the file */
	char *principals; /* pattern list as written, quotes removed: "a@x,*@y,!z@y" */
	char *namespaces; /* pattern list, or NULL: every namespace */
	int64_t valid_after; /* Unix seconds; 0: no lower bound */
	int64_t valid_before; /* Unix seconds; 0: no upper bound */
	op_sshkey key;
} op_trust_entry;

#define OP_TRUST_MAX_WARN 32 /* warnings kept per file; the rest are only counted */

typedef struct op_trust_policy {
	char *file; /* the name given to op_trust_parse, for messages */
	op_trust_entry *v;
	size_t n;
	char **warn; /* "FILE:LINE: why": skipped lines and local times, owned */
	size_t nwarn;
	size_t skipped; /* lines skipped (each with a warning, up to the cap) */
} op_trust_policy;

typedef struct op_trust_revoked {
	char *file;
	op_sshkey *v;
	size_t n;
	size_t skipped; /* keys of types outpost never accepts (they cannot sign for it) */
	unsigned char (*sha1)[20]; /* KRL: SHA-1 of revoked key blobs */
	size_t nsha1;
	unsigned char (*sha256)[32]; /* KRL: SHA-256 of revoked key blobs */
	size_t nsha256;
} op_trust_revoked;

/* Parses an allowed_signers file's text (len bytes, need not be NUL-terminated):
 * `principals [options] keytype base64 [comment]` per line; `#` comments and blank
 * lines skipped. principals: a comma-separated pattern list (`*`, `?`, `!` negation),
 * optionally in double quotes. options: comma-separated, names case-insensitive,
 * values quoted: namespaces="git,file", valid-after="YYYYMMDD[HHMM[SS]][Z]",
 * valid-before="..." (a bound is inclusive; a time without Z or UTC is UTC, with a
 * warning). A line that cannot be used (cert-authority, an unknown option or key type,
 * a malformed line) is skipped with a warning "FILE:LINE: what, expected what; line
 * skipped" in p->warn. Errors: only the file's size and entry caps and OP_ENOMEM. On
 * success p holds owned memory (op_trust_clear); on failure p is zeroed. */
int op_trust_parse(op_trust_policy *p, const char *file, const char *text, size_t len, op_err *e);
void op_trust_clear(op_trust_policy *p);

/* Parses a revocation list: one public key a line ("keytype base64 [comment]"), blank
 * lines and `#` comments skipped; or a binary KRL (`ssh-keygen -k`, OpenSSH's
 * PROTOCOL.krl) with explicit keys and SHA-1 or SHA-256 key hashes. Keys of types
 * OpenSSH knows but outpost does not support are counted in skipped. Anything else (a
 * bad line, a KRL section revoking certificates or a signed KRL) refuses the whole
 * list, with FILE:LINE or the section: a revocation list is read in full or not. */
int op_trust_revoked_parse(
	op_trust_revoked *r, const char *file, const char *text, size_t len, op_err *e);
void op_trust_revoked_clear(op_trust_revoked *r);
/* The binary KRL part of op_trust_revoked_parse (text starts with "SSHKRL\n\0"); adds
 * to r. In krl.c. */
int op_trust_krl_parse(op_trust_revoked *r, const unsigned char *krl, size_t len, op_err *e);
/* True when k is in r (r may be NULL: nothing is revoked). */
bool op_trust_is_revoked(const op_trust_revoked *r, const op_sshkey *k);

/* ssh-keygen's patterns (match.c): `*` any run, `?` one character, case-sensitive. */
bool op_trust_match(const char *s, const char *pattern);
/* A comma-separated pattern list: -1 when a `!` pattern matches s, else 1 when some
 * other pattern matches, else 0. ssh-keygen accepts only 1. */
int op_trust_match_list(const char *s, const char *list);

/* Parses YYYYMMDD, YYYYMMDDHHMM or YYYYMMDDHHMMSS with an optional Z or UTC suffix (any
 * case) as UTC, into Unix seconds; must be after 1970-01-01T00:00:00Z. OP_EINVAL. */
int op_trust_parse_time(const char *s, size_t len, int64_t *t);

enum op_trust_reason {
	OP_TRUST_ACCEPTED = 0,
	OP_TRUST_UNSIGNED, /* the commit has no signature */
	OP_TRUST_MALFORMED, /* the signature (or the commit) cannot be read */
	OP_TRUST_UNSUPPORTED, /* key type, hash or signature algorithm refused: SHA-1
				 ssh-rsa, md5, a non-SSH (gpg, x509) signature... */
	OP_TRUST_BAD_NAMESPACE, /* the signature was made for another namespace */
	OP_TRUST_BAD_SIGNATURE, /* it does not verify over this commit */
	OP_TRUST_REVOKED, /* the key is in the revocation list */
	OP_TRUST_NOT_LISTED, /* no allowed_signers line lists the key */
	OP_TRUST_NOT_YET_VALID, /* listed, but the time is before valid-after */
	OP_TRUST_EXPIRED, /* listed, but the time is after valid-before */
	OP_TRUST_NAMESPACE_DENIED, /* listed, but namespaces= does not allow this one */
	OP_TRUST_NO_PRINCIPAL, /* listed, but no principal of its line verifies */
	OP_TRUST_COMMITTER /* match_committer: the committer email is no principal
			      of the key */
};
/* A short stable name: "accepted", "unsigned", "malformed", "unsupported",
 * "bad-namespace", "bad-signature", "revoked", "not-listed", "not-yet-valid",
 * "expired", "namespace-denied", "no-principal", "committer-mismatch". */
const char *op_trust_reason_name(enum op_trust_reason r);

/* What op_trust_decide looks at. */
typedef struct op_trust_query {
	const op_sshkey *key; /* the signer's key, as its signature names it */
	const char *ns; /* the signature's namespace: "git" for commits */
	int64_t time; /* the verify time: the committer time, Unix seconds */
	const char *email; /* the committer email (used by match_committer) */
	bool match_committer; /* also require `ssh-keygen -Y verify -I EMAIL` to pass */
} op_trust_query;

typedef struct op_trust_verdict {
	bool accepted;
	enum op_trust_reason reason;
	int line; /* the allowed_signers line that decided,
		     0 when none did */
	char principal[OP_TRUST_MAX_PRINCIPAL + 1]; /* the signer when accepted, else "" */
	char fingerprint[OP_SSHKEY_FP_LEN]; /* the signing key's, "" when unknown */
	int64_t time; /* the verify time used; 0 when unknown */
	char msg[512]; /* one line: why (for logs and status) */
} op_trust_verdict;

/* The pure decision on a signing key (see the top of this file); the signature itself
 * is checked separately (op_sshsig_verify), before or after.
 * r may be NULL. Always fills v. */
void op_trust_decide(const op_trust_policy *p, const op_trust_revoked *r, const op_trust_query *q,
	op_trust_verdict *v);

typedef struct op_trust_opts {
	bool match_committer; /* --match-committer */
	bool sha256_repo; /* the repository's object format is sha256 */
	int64_t now; /* the caller's clock (Unix seconds): the verify time of a commit
			whose committer time is 0, as git uses the current time then; 0:
			such a commit is refused as malformed */
} op_trust_opts;

/* The whole check of one commit object (as `git cat-file commit` prints it), as `git
 * verify-commit` makes it: split off the signature (gpgsig, or gpgsig-sha256 in a
 * sha256 repository), parse it as an SSH signature for namespace "git", read the
 * committer, op_trust_decide at the committer time, and verify the signature over the
 * payload. The arithmetic comes last, only for a key the policy accepts, so a hostile
 * signature costs no more than parsing (and a committer time of 0 is read as o->now,
 * as git reads it). o may be NULL (defaults). Returns 0 when
 * accepted (v->principal is the signer, v->time the committer time), OP_ETRUST when
 * refused, OP_ENOMEM; v is always filled (v->reason, v->msg say why). Pure. */
int op_trust_verify_commit(const op_trust_policy *p, const op_trust_revoked *r, const char *commit,
	size_t len, const op_trust_opts *o, op_trust_verdict *v);

#endif
