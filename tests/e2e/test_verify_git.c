/* outpost's verdict on signed commits against git's own: real repositories, commits
 * signed by `git commit -S` (gpg.format=ssh) with ed25519, ecdsa p256, p384, p521 and rsa
 * keys, and for each case of a matrix (listed, unlisted, dates at and past their edges,
 * namespaces, revoked by a key list or a KRL, lines outpost cannot use, unsigned, a
 * signature copied from another commit, text after the signature, a committer time of
 * 0, ...) the verdict of op_trust_verify_commit on `git cat-file commit` must equal the
 * exit status of `git -c gpg.ssh.allowedSignersFile=F [-c gpg.ssh.revocationFile=R]
 * verify-commit` run with TZ=UTC, and when both accept, the signer must be the
 * principal git names. FIDO keys (sk-ssh-ed25519, sk-ecdsa-sha2-nistp256) need no
 * hardware: this file signs as an authenticator does (PROTOCOL.u2f, PROTOCOL.sshsig),
 * and each of those verdicts is also checked against `ssh-keygen -Y verify`. */
#include "outpost/agent/trust/trust.h"

#include <mbedtls/bignum.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/sha256.h>
#include <mbedtls/sha512.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../harness.h"
#include "../harness_wire.h"
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
	OTHERKEY, /* signed by git with the other key of the same type */
	TRAILER, /* HANDMADE with text after the signature's END line */
	EPOCH0, /* the unsigned commit with committer time 0, signed by hand */
	NWHICH
};

typedef struct vcase {
	const char *name;
	const char *policy; /* {K}: the signing key, {O}: another key of the same type */
	const char *revoked; /* NULL: no gpg.ssh.revocationFile; after "KRL:", the spec
				ssh-keygen -k makes a binary KRL from ({KFP}: the key's
				SHA256 fingerprint) */
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
	/* A line outpost cannot use is skipped (with a warning), as ssh-keygen skips it. */
	{"unknown option, then good line", "test@example.com restrict {K}\ntest@example.com {K}\n",
		NULL, SIGNED, true},
	{"unknown option only", "test@example.com restrict {K}\n", NULL, SIGNED, false},
	{"no-touch-required (unknown option)", "test@example.com no-touch-required {K}\n", NULL,
		SIGNED, false},
	{"cert-authority, then good line",
		"test@example.com cert-authority {K}\ntest@example.com {K}\n", NULL, SIGNED, true},
	{"cert-authority only", "test@example.com cert-authority {K}\n", NULL, SIGNED, false},
	{"unknown key type line", "a@x ssh-foo AAAA\ntest@example.com {K}\n", NULL, SIGNED, true},
	{"bad base64 line", "a@x ssh-ed25519 AAAA!!\ntest@example.com {K}\n", NULL, SIGNED, true},
	{"line without a key", "a@x\ntest@example.com {K}\n", NULL, SIGNED, true},
	{"unquoted time only", "test@example.com valid-after=20240101 {K}\n", NULL, SIGNED, false},
	{"unquoted time, then good line",
		"test@example.com valid-after=20240101 {K}\ntest@example.com {K}\n", NULL, SIGNED,
		true},
	{"unterminated quote, then good line",
		"test@example.com namespaces=\"git {K}\ntest@example.com {K}\n", NULL, SIGNED,
		true},
	/* Revocation in OpenSSH's KRL format (ssh-keygen -k). */
	{"KRL: the key", "test@example.com {K}\n", "KRL:{K}\n", SIGNED, false},
	{"KRL: its SHA256 hash", "test@example.com {K}\n", "KRL:hash: {KFP}\n", SIGNED, false},
	{"KRL: its SHA-1 hash", "test@example.com {K}\n", "KRL:sha1: {K}\n", SIGNED, false},
	{"KRL: another key", "test@example.com {K}\n", "KRL:{O}\n", SIGNED, true},
	{"KRL: other key's hash", "test@example.com {K}\n", "KRL:hash: {OFP}\n", SIGNED, true},
	/* A revocation list that cannot be read in full refuses (it only removes trust). */
	{"revocation list with a bad line", "test@example.com {K}\n", "ssh-ed25519 AAAA!!\n{O}\n",
		SIGNED, false},
	/* What git reads of the signature and of the commit. */
	{"text after the END line", "test@example.com {K}\n", NULL, TRAILER, true},
	{"committer time 0 (verified now)", "test@example.com {K}\n", NULL, EPOCH0, true},
	{"committer time 0, key expired before now",
		"test@example.com valid-before=\"20240101Z\" {K}\n", NULL, EPOCH0, false},
	{"committer time 0, key valid since 2024",
		"test@example.com valid-after=\"20240101Z\" {K}\n", NULL, EPOCH0, true},
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

/* The SHA256 fingerprint of a public key line, as ssh-keygen -l prints it. */
static const char *fingerprint(const char *pub)
{
	op_sshkey k;
	op_err e = {0};
	char fp[OP_SSHKEY_FP_LEN];
	if (op_sshkey_parse_line(&k, pub, strlen(pub), &e) != 0)
		return "";
	op_sshkey_fingerprint(&k, fp);
	op_sshkey_clear(&k);
	return h_str("%s", fp);
}

static const char *subst(const char *tmpl, const char *k, const char *o)
{
	char *a = replace_all(tmpl, "{KFP}", fingerprint(k));
	char *b = a ? replace_all(a, "{OFP}", fingerprint(o)) : NULL;
	free(a);
	a = b ? replace_all(b, "{K}", k) : NULL;
	free(b);
	b = a ? replace_all(a, "{O}", o) : NULL;
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

/* ssh-keygen -Y sign over the object raw in namespace ns, inserted as its gpgsig, with
 * trailer (may be "") after the signature's END line. */
static const char *sign_by_hand(
	const h_key *k, const char *raw, const char *ns, const char *trailer)
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
	const char *out = with_gpgsig(raw, h_str("%s%s", text, trailer));
	free(text);
	return out;
}

/* The object raw with its committer time set to 0. */
static const char *epoch0(const char *raw)
{
	const char *c = strstr(raw, "\ncommitter ");
	const char *eol = c ? strchr(c + 1, '\n') : NULL;
	const char *gt = eol ? eol : NULL;
	while (gt && gt > c && *gt != '>')
		gt--;
	if (!gt || gt == c)
		return NULL;
	return h_str("%.*s> 0 +0000%s", (int)(gt - raw), raw, eol);
}

/* A key made by ssh-keygen -t ecdsa -b BITS (the harness makes 256 only). */
static const h_key *keygen_ecdsa(int bits)
{
	static int n;
	const char *path = h_path("keys/ecdsa%d-%d", bits, ++n);
	if (h_run(NULL, "ssh-keygen -q -t ecdsa -b %d -N '' -C x -f %s", bits, h_q(path)) != 0)
		return NULL;
	char *pub = h_read(h_str("%s.pub", path));
	if (!pub)
		return NULL;
	char *sp = strchr(pub, ' ');
	sp = sp ? strchr(sp + 1, ' ') : NULL;
	if (sp)
		*sp = '\0';
	h_key *k = malloc(sizeof *k);
	if (!k) {
		free(pub);
		return NULL;
	}
	k->type = h_str("ecdsa%d", bits);
	k->path = path;
	k->pub = h__keep(pub);
	h__keep((char *)k);
	return k;
}

static const h_key *keygen(const char *type)
{
	if (strcmp(type, "ecdsa384") == 0)
		return keygen_ecdsa(384);
	if (strcmp(type, "ecdsa521") == 0)
		return keygen_ecdsa(521);
	return h_keygen(type);
}

/* The commits of one key type's repository. */
typedef struct fixture {
	const h_key *key, *other;
	h_repo *repo;
	const char *sha[NWHICH];
} fixture;

static bool setup(fixture *f, const char *type)
{
	memset(f, 0, sizeof *f);
	if (!(f->key = keygen(type)) || !(f->other = keygen(type)) ||
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
	const char *hand = sign_by_hand(f->key, unsigned_raw, "git", "");
	const char *nsfile = sign_by_hand(f->key, unsigned_raw, "file", "");
	const char *trailer = sign_by_hand(f->key, unsigned_raw, "git", "not base64: ignored\n");
	const char *zero = epoch0(unsigned_raw);
	const char *zero_signed = zero ? sign_by_hand(f->key, zero, "git", "") : NULL;
	f->sha[HANDMADE] = hand ? hash_object(f->repo, hand) : NULL;
	f->sha[NSFILE] = nsfile ? hash_object(f->repo, nsfile) : NULL;
	f->sha[TRAILER] = trailer ? hash_object(f->repo, trailer) : NULL;
	f->sha[EPOCH0] = zero_signed ? hash_object(f->repo, zero_signed) : NULL;
	free(signed_raw);
	free(unsigned_raw);
	return f->sha[COPIED] && f->sha[HANDMADE] && f->sha[NSFILE] && f->sha[TRAILER] &&
		f->sha[EPOCH0];
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

/* The files of one case: the policy, and the revocation file (a list, or a KRL made by
 * ssh-keygen -k from the spec). */
typedef struct files {
	const char *policy, *pfile, *rfile;
} files;

static bool write_files(const char *tag, size_t i, const char *policy, const char *revoked,
	const char *k, const char *o, files *fs)
{
	fs->policy = subst(policy, k, o);
	fs->pfile = h_path("%s-signers-%zu", tag, i);
	fs->rfile = NULL;
	if (h_write(fs->pfile, "%s", fs->policy) != 0)
		return false;
	if (!revoked)
		return true;
	bool krl = strncmp(revoked, "KRL:", 4) == 0;
	const char *text = subst(krl ? revoked + 4 : revoked, k, o);
	fs->rfile = h_path("%s-revoked-%zu", tag, i);
	if (!krl)
		return h_write(fs->rfile, "%s", text) == 0;
	const char *spec = h_str("%s.spec", fs->rfile);
	return h_write(spec, "%s", text) == 0 &&
		h_run(NULL, "ssh-keygen -q -k -f %s %s", h_q(fs->rfile), h_q(spec)) == 0;
}

/* A whole file, binary or not; *len its size. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = f ? malloc(1 << 20) : NULL;
	*len = buf ? fread(buf, 1, 1 << 20, f) : 0;
	if (f)
		fclose(f);
	return buf;
}

/* git's verdict and ours on commit sha; prints the matrix row; checks they agree, and
 * with the case's expectation. *git_accepts (may be NULL) gets git's verdict. */
static void compare(h_repo *repo, const char *type, const char *name, const files *fs,
	const char *sha, bool expect, bool *git_accepts)
{
	char *out = NULL;
	int rc = h_repo_git(repo, &out, "-c gpg.ssh.allowedSignersFile=%s %s verify-commit %s",
		h_q(fs->pfile),
		fs->rfile ? h_str("-c gpg.ssh.revocationFile=%s", h_q(fs->rfile)) : "", sha);
	bool git_ok = rc == 0;
	const char *git_who = git_principal(out);
	if (git_accepts)
		*git_accepts = git_ok;

	op_trust_policy p;
	op_trust_revoked r;
	op_trust_verdict v;
	op_err e = {0};
	op_trust_opts o = {.now = (int64_t)time(NULL)};
	char *raw = cat_file(repo, sha);
	T_REQUIRE(raw);
	T_REQUIRE(op_trust_parse(&p, fs->pfile, fs->policy, strlen(fs->policy), &e) == 0);
	int ours = 0;
	bool have_r = false;
	if (fs->rfile) {
		size_t len;
		char *text = slurp(fs->rfile, &len);
		T_REQUIRE(text);
		ours = op_trust_revoked_parse(&r, fs->rfile, text, len, &e);
		have_r = ours == 0;
		free(text);
	}
	if (ours == 0)
		ours = op_trust_verify_commit(&p, have_r ? &r : NULL, raw, strlen(raw), &o, &v);
	if (!have_r && fs->rfile) { /* the hub then refuses every commit: op_policy_load fails */
		memset(&v, 0, sizeof v);
		v.reason = OP_TRUST_MALFORMED;
		snprintf(v.msg, sizeof v.msg, "%s", e.msg);
	}
	T_CHECK(ours == 0 || ours == OP_ETRUST || !have_r);
	bool our_ok = ours == 0 && v.accepted;

	bool same = git_ok == our_ok && (!git_ok || strcmp(git_who, v.principal) == 0);
	printf("  %-9s %-42s git=%-7s ours=%-7s %-17s %s%s%s\n", type, name,
		git_ok ? "accept" : "refuse", our_ok ? "accept" : "refuse",
		op_trust_reason_name(v.reason), same ? "agree" : "DISAGREE",
		our_ok ? " signer=" : "", our_ok ? v.principal : "");
	same ? agreed++ : disagreed++;
	T_CHECK_MSG(same, "%s/%s: git %s (%s), ours %s (%s): %s\ngit said: %s", type, name,
		git_ok ? "accepts" : "refuses", git_who, our_ok ? "accepts" : "refuses",
		v.principal, v.msg, out ? out : "");
	T_CHECK_MSG(our_ok == expect, "%s/%s: expected %s: %s", type, name,
		expect ? "accept" : "refuse", v.msg);
	free(out);
	free(raw);
	op_trust_clear(&p);
	if (have_r)
		op_trust_revoked_clear(&r);
}

static void run_matrix(const char *type)
{
	fixture f;
	T_REQUIRE(setup(&f, type));
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const vcase *c = &cases[i];
		files fs;
		T_REQUIRE(
			write_files(type, i, c->policy, c->revoked, f.key->pub, f.other->pub, &fs));
		compare(f.repo, type, c->name, &fs, f.sha[c->which], c->accept, NULL);
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

static void test_matrix_ecdsa384(void)
{
	run_matrix("ecdsa384");
}

static void test_matrix_ecdsa521(void)
{
	run_matrix("ecdsa521");
}

/* ---- FIDO keys, signed here as an authenticator signs ------------------------------- */

/* A non-negative number as an SSH mpint. */
static void wput_mpint(t_buf *b, const mbedtls_mpi *x)
{
	unsigned char m[80];
	size_t n = mbedtls_mpi_size(x);
	if (n > sizeof m - 1 || mbedtls_mpi_write_binary(x, m + 1, n) != 0)
		return;
	m[0] = 0;
	bool pad = n > 0 && (m[1] & 0x80);
	t_put_str(b, pad ? m : m + 1, n + pad);
}

static int rng(void *ctx, unsigned char *out, size_t n)
{
	(void)ctx;
	randombytes_buf(out, n);
	return 0;
}

typedef struct skkey {
	bool ecdsa;
	const char *app;
	unsigned char ed_pk[32], ed_sk[64];
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point q;
	t_buf blob; /* the public key blob */
	const char *pub; /* "sk-... base64" */
} skkey;

static const char *b64(const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_encoded_len(n, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(cap);
	if (!out)
		return "";
	sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
	return h__keep(out);
}

static bool sk_keygen(skkey *k, bool ecdsa, const char *app)
{
	memset(k, 0, sizeof *k);
	k->ecdsa = ecdsa;
	k->app = app;
	if (sodium_init() < 0)
		return false;
	const char *type = ecdsa ? "sk-ecdsa-sha2-nistp256@openssh.com"
				 : "sk-ssh-ed25519@openssh.com";
	t_put_cstr(&k->blob, type);
	if (ecdsa) {
		unsigned char q[65];
		size_t qlen;
		mbedtls_ecp_group_init(&k->grp);
		mbedtls_mpi_init(&k->d);
		mbedtls_ecp_point_init(&k->q);
		if (mbedtls_ecp_group_load(&k->grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
			mbedtls_ecp_gen_keypair(&k->grp, &k->d, &k->q, rng, NULL) != 0 ||
			mbedtls_ecp_point_write_binary(&k->grp, &k->q, MBEDTLS_ECP_PF_UNCOMPRESSED,
				&qlen, q, sizeof q) != 0)
			return false;
		t_put_cstr(&k->blob, "nistp256");
		t_put_str(&k->blob, q, qlen);
	} else {
		crypto_sign_ed25519_keypair(k->ed_pk, k->ed_sk);
		t_put_str(&k->blob, k->ed_pk, sizeof k->ed_pk);
	}
	t_put_cstr(&k->blob, app);
	k->pub = h_str("%s %s", type, b64(k->blob.d, k->blob.n));
	return true;
}

static void sk_free(skkey *k)
{
	if (k->ecdsa) {
		mbedtls_ecp_group_free(&k->grp);
		mbedtls_mpi_free(&k->d);
		mbedtls_ecp_point_free(&k->q);
	}
}

/* The armored SSHSIG of msg in namespace ns (hash sha512) as the security key signs:
 * over SHA-256(application) || flags || counter || SHA-256(signed data); the blob then
 * claims claim_flags and claim_counter (equal to those, unless a case tampers). */
static const char *sk_sign(const skkey *k, const char *ns, const char *msg, unsigned char flags,
	uint32_t counter, unsigned char claim_flags, uint32_t claim_counter)
{
	unsigned char mh[64], d[69], h[32];
	t_buf sd = {.n = 0}, inner = {.n = 0}, sig = {.n = 0}, all = {.n = 0};
	mbedtls_sha512((const unsigned char *)msg, strlen(msg), mh, 0);
	t_put(&sd, "SSHSIG", 6);
	t_put_cstr(&sd, ns);
	t_put_cstr(&sd, "");
	t_put_cstr(&sd, "sha512");
	t_put_str(&sd, mh, sizeof mh);
	mbedtls_sha256((const unsigned char *)k->app, strlen(k->app), d, 0);
	d[32] = flags;
	d[33] = (unsigned char)(counter >> 24);
	d[34] = (unsigned char)(counter >> 16);
	d[35] = (unsigned char)(counter >> 8);
	d[36] = (unsigned char)counter;
	mbedtls_sha256(sd.d, sd.n, d + 37, 0);
	if (k->ecdsa) {
		mbedtls_mpi r, s;
		mbedtls_mpi_init(&r);
		mbedtls_mpi_init(&s);
		mbedtls_sha256(d, sizeof d, h, 0);
		if (mbedtls_ecdsa_sign((mbedtls_ecp_group *)&k->grp, &r, &s, &k->d, h, sizeof h,
			    rng, NULL) == 0) {
			wput_mpint(&inner, &r);
			wput_mpint(&inner, &s);
		}
		mbedtls_mpi_free(&r);
		mbedtls_mpi_free(&s);
		t_put_cstr(&sig, "sk-ecdsa-sha2-nistp256@openssh.com");
	} else {
		unsigned char es[64];
		crypto_sign_ed25519_detached(es, NULL, d, sizeof d, k->ed_sk);
		t_put(&inner, es, sizeof es);
		t_put_cstr(&sig, "sk-ssh-ed25519@openssh.com");
	}
	t_put_str(&sig, inner.d, inner.n);
	t_put(&sig, &claim_flags, 1);
	t_put_u32(&sig, claim_counter);
	t_put(&all, "SSHSIG", 6);
	t_put_u32(&all, 1);
	t_put_str(&all, k->blob.d, k->blob.n);
	t_put_cstr(&all, ns);
	t_put_cstr(&all, "");
	t_put_cstr(&all, "sha512");
	t_put_str(&all, sig.d, sig.n);
	const char *body = b64(all.d, all.n);
	char *wrapped = malloc(strlen(body) + strlen(body) / 70 + 2), *o = wrapped;
	if (!wrapped)
		return NULL;
	for (size_t i = 0, n = strlen(body); i < n; i += 70) {
		size_t m = n - i < 70 ? n - i : 70;
		memcpy(o, body + i, m);
		o += m;
		*o++ = '\n';
	}
	*o = '\0';
	const char *out = h_str(
		"-----BEGIN SSH SIGNATURE-----\n%s-----END SSH SIGNATURE-----\n", wrapped);
	free(wrapped);
	return out;
}

typedef struct skcase {
	const char *name;
	const char *policy; /* {K}: the key, {O}: another key of the same type */
	const char *revoked; /* as in vcase */
	unsigned char flags; /* what the authenticator signed */
	uint32_t counter;
	int tamper; /* 1: the blob claims other flags; 2: another counter */
	bool accept;
} skcase;

static const skcase skcases[] = {
	{"user present (flags 0x01)", "test@example.com {K}\n", NULL, 0x01, 7, 0, true},
	{"no user presence (flags 0x00)", "test@example.com {K}\n", NULL, 0x00, 7, 0, true},
	{"present and verified (0x05)", "test@example.com {K}\n", NULL, 0x05, 7, 0, true},
	{"counter 0", "test@example.com {K}\n", NULL, 0x01, 0, 0, true},
	{"no-touch-required (unknown option)", "test@example.com no-touch-required {K}\n", NULL,
		0x00, 7, 0, false},
	{"verify-required (unknown option)", "test@example.com verify-required {K}\n", NULL, 0x05,
		7, 0, false},
	{"no-touch-required, then good line",
		"test@example.com no-touch-required {K}\ntest@example.com {K}\n", NULL, 0x00, 7, 0,
		true},
	{"flags changed after signing", "test@example.com {K}\n", NULL, 0x00, 7, 1, false},
	{"counter changed after signing", "test@example.com {K}\n", NULL, 0x01, 7, 2, false},
	{"unlisted", "test@example.com {O}\n", NULL, 0x01, 7, 0, false},
	{"expired", "test@example.com valid-before=\"20240401Z\" {K}\n", NULL, 0x01, 7, 0, false},
	{"namespaces file only", "test@example.com namespaces=\"file\" {K}\n", NULL, 0x01, 7, 0,
		false},
	{"revoked (list)", "test@example.com {K}\n", "{K}\n", 0x01, 7, 0, false},
	{"revoked (KRL, key)", "test@example.com {K}\n", "KRL:{K}\n", 0x01, 7, 0, false},
	{"revoked (KRL, hash)", "test@example.com {K}\n", "KRL:hash: {KFP}\n", 0x01, 7, 0, false},
	{"KRL of another key", "test@example.com {K}\n", "KRL:{O}\n", 0x01, 7, 0, true},
};

/* `ssh-keygen -Y verify` on the signed payload itself, at the committer time. */
static bool keygen_verdict(const files *fs, const char *payload, const char *sig)
{
	static int n;
	char *out = NULL;
	const char *msg = h_path("sk-payload-%d", ++n), *sigf = h_str("%s.sig", msg);
	if (h_write(msg, "%s", payload) != 0 || h_write(sigf, "%s", sig) != 0)
		return false;
	int rc = h_run(&out,
		"ssh-keygen -Y verify -f %s -I test@example.com -n git -s %s "
		"-Overify-time=20240502080000 %s < %s",
		h_q(fs->pfile), h_q(sigf), fs->rfile ? h_str("-r %s", h_q(fs->rfile)) : "",
		h_q(msg));
	free(out);
	return rc == 0;
}

static void run_sk_matrix(bool ecdsa, const char *app)
{
	const char *type = h_str("%s%s", ecdsa ? "sk-ecdsa" : "sk-ed25519",
		strcmp(app, "ssh:") ? h_str("(%s)", app) : "");
	skkey k, o;
	T_REQUIRE(sk_keygen(&k, ecdsa, app) && sk_keygen(&o, ecdsa, app));
	h_repo *repo = h_repo_new(h_str("repo-%s", type));
	T_REQUIRE(repo);
	h_commit uc = {.date = "2024-05-02T08:00:00Z", .msg = "for a security key"};
	h_repo_write(repo, "apps/a.yaml", "a: 1\n");
	const char *base = h_repo_commit(repo, &uc);
	T_REQUIRE(base);
	char *raw = cat_file(repo, base);
	T_REQUIRE(raw);
	for (size_t i = 0; i < sizeof skcases / sizeof *skcases; i++) {
		const skcase *c = &skcases[i];
		files fs;
		T_REQUIRE(write_files(type, i, c->policy, c->revoked, k.pub, o.pub, &fs));
		const char *sig = sk_sign(&k, "git", raw, c->flags, c->counter,
			c->tamper == 1 ? c->flags ^ 0x01 : c->flags,
			c->tamper == 2 ? c->counter + 1 : c->counter);
		T_REQUIRE(sig);
		const char *sha = hash_object(repo, with_gpgsig(raw, sig));
		T_REQUIRE(sha);
		bool git_ok = false;
		compare(repo, type, c->name, &fs, sha, c->accept, &git_ok);
		bool keygen_ok = keygen_verdict(&fs, raw, sig);
		T_CHECK_MSG(keygen_ok == git_ok, "%s/%s: ssh-keygen -Y verify %s, git %s", type,
			c->name, keygen_ok ? "accepts" : "refuses", git_ok ? "accepts" : "refuses");
	}
	free(raw);
	sk_free(&k);
	sk_free(&o);
}

static void test_matrix_sk_ed25519(void)
{
	run_sk_matrix(false, "ssh:");
}

static void test_matrix_sk_ecdsa(void)
{
	run_sk_matrix(true, "ssh:");
	run_sk_matrix(true, "ssh:outpost");
}

int main(void)
{
	T_RUN(test_matrix_ed25519);
	T_RUN(test_matrix_ecdsa);
	T_RUN(test_matrix_rsa);
	T_RUN(test_matrix_ecdsa384);
	T_RUN(test_matrix_ecdsa521);
	T_RUN(test_matrix_sk_ed25519);
	T_RUN(test_matrix_sk_ecdsa);
	printf("git vs outpost: %d cases agree, %d disagree\n", agreed, disagreed);
	return t_done();
}
