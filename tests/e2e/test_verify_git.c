/* outpost's verdict on signed commits against git's own: real repositories, commits
 * signed by `git commit -S` (gpg.format=ssh) with ed25519, ecdsa p256 and rsa keys, and
 * for each case of a matrix (listed, unlisted, dates at and past their edges,
 * namespaces, revoked, unsigned, a signature copied from another commit, ...) the
 * verdict of op_trust_verify_commit on `git cat-file commit` must equal the exit status
 * of `git -c gpg.ssh.allowedSignersFile=F [-c gpg.ssh.revocationFile=R] verify-commit`
 * run with TZ=UTC, and when both accept, the signer must be the principal git names. */
#include "outpost/agent/trust/trust.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "../t.h"

#define DATE "2024-05-01T12:00:00Z"
#define T0 1714564800LL

/* Which commit a case verifies. */
enum which {
	SIGNED, /* signed by the key with git commit -S at DATE */
	UNSIGNED, /* no signature */
	COPIED, /* an unsigned commit given the SIGNED commit's gpgsig header */
	HANDMADE, /* signed by ssh-keygen -Y sign -n git over the object, header added by hand */
	NSFILE, /* the same, signed for namespace "file" */
	OTHERKEY /* signed by git with the other key of the same type */
};

typedef struct vcase {
	const char *name;
	const char *policy; /* {K}: the signing key, {O}: another key of the same type */
	const char *revoked; /* NULL: no gpg.ssh.revocationFile */
	enum which which;
	bool accept; /* what both must say (a check of the matrix itself) */
} vcase;

static const vcase cases[] = {
	{"listed", "test@example.com {K}\n", NULL, SIGNED, true},
	{"listed with others", "a@x {O}\n# c\n\ntest@example.com {K} laptop\n", NULL, SIGNED, true},
	{"unlisted", "test@example.com {O}\n", NULL, SIGNED, false},
	{"empty policy", "# nobody\n", NULL, SIGNED, false},
	{"signed by the other key", "test@example.com {K}\n", NULL, OTHERKEY, false},
	{"expired", "test@example.com valid-before=\"20240401\" {K}\n", NULL, SIGNED, false},
	{"expired 1s before", "test@example.com valid-before=\"20240501115959Z\" {K}\n", NULL,
		SIGNED, false},
	{"valid-before exactly", "test@example.com valid-before=\"20240501120000Z\" {K}\n", NULL,
		SIGNED, true},
	{"valid-before no Z (TZ=UTC)", "test@example.com valid-before=\"20240501120000\" {K}\n",
		NULL, SIGNED, true},
	{"not yet valid", "test@example.com valid-after=\"20240601\" {K}\n", NULL, SIGNED, false},
	{"not yet valid by 1s", "test@example.com valid-after=\"20240501120001Z\" {K}\n", NULL,
		SIGNED, false},
	{"valid-after exactly", "test@example.com valid-after=\"202405011200Z\" {K}\n", NULL,
		SIGNED, true},
	{"valid window",
		"test@example.com valid-after=\"20240101\",valid-before=\"20250101\" {K}\n", NULL,
		SIGNED, true},
	{"namespaces file only", "test@example.com namespaces=\"file\" {K}\n", NULL, SIGNED, false},
	{"namespaces git,file", "test@example.com namespaces=\"git,file\" {K}\n", NULL, SIGNED,
		true},
	{"namespaces pattern", "test@example.com namespaces=\"g*\" {K}\n", NULL, SIGNED, true},
	{"namespaces negated", "test@example.com namespaces=\"!git,*\" {K}\n", NULL, SIGNED, false},
	{"first line file-only, second git", "a@x namespaces=\"file\" {K}\nb@x {K}\n", NULL, SIGNED,
		false},
	{"same principal twice", "a@x namespaces=\"file\" {K}\na@x namespaces=\"git\" {K}\n", NULL,
		SIGNED, true},
	{"second principal verifies", "a@x,b@x namespaces=\"file\" {K}\nb@x {K}\n", NULL, SIGNED,
		true},
	{"rotation: expired line skipped",
		"old@x valid-before=\"20240101\" {K}\nnew@x valid-after=\"20240102\" {K}\n", NULL,
		SIGNED, true},
	{"wildcard principal", "*@example.com {K}\n", NULL, SIGNED, true},
	{"negation first", "!bad@example.com,*@example.com {K}\n", NULL, SIGNED, true},
	{"negations only", "!bad@example.com {K}\n", NULL, SIGNED, false},
	{"quoted principal", "\"Test User\" {K}\n", NULL, SIGNED, true},
	{"revoked", "test@example.com {K}\n", "{K}\n", SIGNED, false},
	{"revoked among others", "test@example.com {K}\n", "# old\n{O} gone\n\n{K}\n", SIGNED,
		false},
	{"revocation list without it", "test@example.com {K}\n", "{O}\n", SIGNED, true},
	{"revoked, still valid by date", "test@example.com valid-before=\"20990101\" {K}\n",
		"{K}\n", SIGNED, false},
	{"unsigned", "test@example.com {K}\n", NULL, UNSIGNED, false},
	{"signature copied from another commit", "test@example.com {K}\n", NULL, COPIED, false},
	{"hand-made gpgsig", "test@example.com {K}\n", NULL, HANDMADE, true},
	{"signed for namespace file", "test@example.com {K}\n", NULL, NSFILE, false},
};

static char *replace_all(const char *s, const char *from, const char *to)
{
	size_t n = 0, fl = strlen(from), tl = strlen(to);
	for (const char *p = s; (p = strstr(p, from)); p += fl)
		n++;
	char *out = malloc(strlen(s) + n * tl + 1), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s;;) {
		const char *q = strstr(p, from);
		if (!q) {
			memcpy(o, p, strlen(p) + 1);
			return out;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
}

static const char *subst(const char *tmpl, const h_key *k, const h_key *o)
{
	char *a = replace_all(tmpl, "{K}", k->pub);
	char *b = a ? replace_all(a, "{O}", o->pub) : NULL;
	free(a);
	return h__keep(b);
}

static char *cat_file(h_repo *r, const char *sha)
{
	char *raw = NULL;
	if (h_repo_git(r, &raw, "cat-file commit %s", sha) != 0) {
		free(raw);
		return NULL;
	}
	return raw;
}

/* Writes a commit object; its sha (harness-owned) or NULL. */
static const char *hash_object(h_repo *r, const char *raw)
{
	static int n;
	const char *file = h_path("object-%d", ++n);
	char *out = NULL;
	if (h_write(file, "%s", raw) != 0 ||
		h_repo_git(r, &out, "hash-object -t commit -w %s", h_q(file)) != 0) {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = '\0';
	return h__keep(out);
}

/* The object raw (unsigned) with a gpgsig header holding sig (armored, each line of it
 * a continuation line) inserted at the end of its headers. */
static const char *with_gpgsig(const char *raw, const char *sig)
{
	const char *end = strstr(raw, "\n\n");
	if (!end)
		return NULL;
	char *folded = replace_all(sig, "\n", "\n ");
	if (!folded)
		return NULL;
	size_t fl = strlen(folded);
	if (fl >= 2 && folded[fl - 1] == ' ')
		folded[--fl] = '\0'; /* no continuation after the last line */
	const char *out = h_str("%.*s\ngpgsig %s%s", (int)(end - raw), raw, folded, end + 1);
	free(folded);
	return out;
}

/* The gpgsig header block (with its continuation lines) of a signed object. */
static const char *gpgsig_block(const char *raw)
{
	const char *s = strstr(raw, "\ngpgsig ");
	if (!s)
		return NULL;
	s++;
	const char *e = s;
	do
		e = strchr(e, '\n') + 1;
	while (*e == ' ');
	return h_str("%.*s", (int)(e - s), s);
}

/* ssh-keygen -Y sign over the object raw in namespace ns, inserted as its gpgsig. */
static const char *sign_by_hand(const h_key *k, const char *raw, const char *ns)
{
	const char *file = h_path("payload-%s", ns);
	const char *sig = h_str("%s.sig", file);
	remove(sig);
	if (h_write(file, "%s", raw) != 0 ||
		h_run(NULL, "ssh-keygen -q -Y sign -f %s -n %s %s", h_q(k->path), ns, h_q(file)) !=
			0)
		return NULL;
	char *text = h_read(sig);
	if (!text)
		return NULL;
	const char *out = with_gpgsig(raw, text);
	free(text);
	return out;
}

/* The commits of one key type's repository. */
typedef struct fixture {
	const h_key *key, *other;
	h_repo *repo;
	const char *sha[OTHERKEY + 1];
} fixture;

static bool setup(fixture *f, const char *type)
{
	memset(f, 0, sizeof *f);
	if (!(f->key = h_keygen(type)) || !(f->other = h_keygen(type)) ||
		!(f->repo = h_repo_new(h_str("repo-%s", type))))
		return false;
	h_commit signed_c = {.key = f->key, .date = DATE, .msg = "signed"};
	h_commit unsigned_c = {.date = "2024-05-02T08:00:00Z", .msg = "unsigned"};
	h_commit other_c = {.key = f->other, .date = DATE, .msg = "by the other key"};
	h_repo_write(f->repo, "apps/a.yaml", "a: 1\n");
	f->sha[SIGNED] = h_repo_commit(f->repo, &signed_c);
	h_repo_write(f->repo, "apps/a.yaml", "a: 2\n");
	f->sha[UNSIGNED] = h_repo_commit(f->repo, &unsigned_c);
	f->sha[OTHERKEY] = h_repo_commit(f->repo, &other_c);
	if (!f->sha[SIGNED] || !f->sha[UNSIGNED] || !f->sha[OTHERKEY])
		return false;
	char *signed_raw = cat_file(f->repo, f->sha[SIGNED]);
	char *unsigned_raw = cat_file(f->repo, f->sha[UNSIGNED]);
	if (!signed_raw || !unsigned_raw)
		return false;
	/* COPIED: the unsigned commit with the signed one's header, byte for byte. */
	const char *block = gpgsig_block(signed_raw);
	const char *end = strstr(unsigned_raw, "\n\n");
	if (!block || !end)
		return false;
	f->sha[COPIED] = hash_object(f->repo,
		h_str("%.*s\n%s%s", (int)(end - unsigned_raw), unsigned_raw, block, end + 1));
	const char *hand = sign_by_hand(f->key, unsigned_raw, "git");
	const char *nsfile = sign_by_hand(f->key, unsigned_raw, "file");
	f->sha[HANDMADE] = hand ? hash_object(f->repo, hand) : NULL;
	f->sha[NSFILE] = nsfile ? hash_object(f->repo, nsfile) : NULL;
	free(signed_raw);
	free(unsigned_raw);
	return f->sha[COPIED] && f->sha[HANDMADE] && f->sha[NSFILE];
}

/* "Good "git" signature for PRINCIPAL with TYPE key FP": the principal, or "". */
static const char *git_principal(const char *out)
{
	const char *p = out ? strstr(out, "Good \"git\" signature for ") : NULL;
	if (!p)
		return "";
	p += strlen("Good \"git\" signature for ");
	const char *eol = p + strcspn(p, "\n"), *with = NULL;
	for (const char *q = p; (q = strstr(q, " with ")) && q < eol; q++)
		with = q;
	return with ? h_str("%.*s", (int)(with - p), p) : "";
}

static int agreed, disagreed;

static void run_matrix(const char *type)
{
	fixture f;
	T_REQUIRE(setup(&f, type));
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const vcase *c = &cases[i];
		const char *policy = subst(c->policy, f.key, f.other);
		const char *pfile = h_path("%s-signers-%zu", type, i);
		const char *rfile = h_path("%s-revoked-%zu", type, i);
		const char *revoked = c->revoked ? subst(c->revoked, f.key, f.other) : NULL;
		T_REQUIRE(h_write(pfile, "%s", policy) == 0);
		if (revoked)
			T_REQUIRE(h_write(rfile, "%s", revoked) == 0);
		const char *sha = f.sha[c->which];

		/* git's verdict. */
		char *out = NULL;
		int rc = h_repo_git(f.repo, &out,
			"-c gpg.ssh.allowedSignersFile=%s %s verify-commit %s", h_q(pfile),
			revoked ? h_str("-c gpg.ssh.revocationFile=%s", h_q(rfile)) : "", sha);
		bool git_ok = rc == 0;
		const char *git_who = git_principal(out);

		/* Ours, from the raw object and the parsed files. */
		op_trust_policy p;
		op_trust_revoked r;
		op_trust_verdict v;
		op_err e = {0};
		char *raw = cat_file(f.repo, sha);
		T_REQUIRE(raw);
		T_REQUIRE(op_trust_parse(&p, pfile, policy, strlen(policy), &e) == 0);
		if (revoked)
			T_REQUIRE(op_trust_revoked_parse(&r, rfile, revoked, strlen(revoked), &e) ==
				0);
		int ours = op_trust_verify_commit(
			&p, revoked ? &r : NULL, raw, strlen(raw), NULL, &v);
		T_CHECK(ours == 0 || ours == OP_ETRUST);
		bool our_ok = ours == 0 && v.accepted;

		bool same = git_ok == our_ok && (!git_ok || strcmp(git_who, v.principal) == 0);
		printf("  %-8s %-40s git=%-7s ours=%-7s %-17s %s%s%s\n", type, c->name,
			git_ok ? "accept" : "refuse", our_ok ? "accept" : "refuse",
			op_trust_reason_name(v.reason), same ? "agree" : "DISAGREE",
			our_ok ? " signer=" : "", our_ok ? v.principal : "");
		same ? agreed++ : disagreed++;
		T_CHECK_MSG(same, "%s/%s: git %s (%s), ours %s (%s): %s\ngit said: %s", type,
			c->name, git_ok ? "accepts" : "refuses", git_who,
			our_ok ? "accepts" : "refuses", v.principal, v.msg, out ? out : "");
		T_CHECK_MSG(our_ok == c->accept, "%s/%s: expected %s: %s", type, c->name,
			c->accept ? "accept" : "refuse", v.msg);
		if (our_ok)
			T_EQ_INT(v.time, c->which == SIGNED ? T0 : v.time);
		free(out);
		free(raw);
		op_trust_clear(&p);
		if (revoked)
			op_trust_revoked_clear(&r);
	}
}

static void test_matrix_ed25519(void)
{
	run_matrix("ed25519");
}

static void test_matrix_ecdsa(void)
{
	run_matrix("ecdsa");
}

static void test_matrix_rsa(void)
{
	run_matrix("rsa");
}

/* Without an allowed signers file git refuses every signature; a policy file that
 * ssh-keygen would half-read is refused by us as a whole (never a silent skip). */
static void test_policy_errors(void)
{
	op_trust_policy p;
	op_err e = {0};
	const h_key *k = h_keygen("ed25519");
	T_REQUIRE(k);
	const char *text = h_str("a@x %s\nb@x cert-authority %s\n", k->pub, k->pub);
	T_EQ_INT(op_trust_parse(&p, "policy", text, strlen(text), &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "policy:2: cert-authority"), "%s", e.msg);
}

int main(void)
{
	T_RUN(test_matrix_ed25519);
	T_RUN(test_matrix_ecdsa);
	T_RUN(test_matrix_rsa);
	T_RUN(test_policy_errors);
	printf("git vs outpost: %d cases agree, %d disagree\n", agreed, disagreed);
	return t_done();
}
