/* Sites follow signed rotations (see include/outpost/agent/trust/follow.h). The chain's
 * points are kept as an array of policy refs, oldest first; everything after the point
 * the site stands on is checked as the hub checked it. */
#include "outpost/agent/trust/follow.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool op_follow_ref_equal(const op_follow_ref *a, const op_follow_ref *b)
{
	return !strcmp(a->trust, b->trust) && !strcmp(a->revoked, b->revoked);
}

void op_follow_policy_clear(op_follow_policy *p)
{
	free(p->trust);
	free(p->revoked);
	memset(p, 0, sizeof *p);
}

static char *dup_bytes(const char *s, size_t len)
{
	char *d = malloc(len + 1);
	if (d) {
		memcpy(d, s, len);
		d[len] = '\0';
	}
	return d;
}

int op_follow_policy_copy(op_follow_policy *dst, const op_follow_policy *src, op_err *e)
{
	*dst = *src;
	dst->trust = src->trust ? dup_bytes(src->trust, src->tlen) : NULL;
	dst->revoked = src->revoked ? dup_bytes(src->revoked, src->rlen) : NULL;
	if ((src->trust && !dst->trust) || (src->revoked && !dst->revoked)) {
		op_follow_policy_clear(dst);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	return 0;
}

/* The entry name of a tree (kinds as the hub's lookup takes them: a blob, or a symbolic
 * link, whose bytes git stores as a blob). */
static int tree_lookup(const op_proof_tree *t, const char *name, bool want_tree,
	char id[OP_GIT_ID_LEN + 1], op_err *e)
{
	size_t off = 0, n = strlen(name);
	op_git_entry ent;
	int rc;
	id[0] = '\0';
	while ((rc = op_git_tree_next(t->raw, t->len, &off, &ent, e)) == 1) {
		if (ent.namelen != n || memcmp(ent.name, name, n) != 0)
			continue;
		bool ok = want_tree ? ent.kind == OP_GIT_TREE
				    : ent.kind == OP_GIT_BLOB || ent.kind == OP_GIT_LINK;
		if (ok)
			memcpy(id, ent.id, OP_GIT_ID_LEN + 1);
		return 0;
	}
	return rc;
}

int op_follow_ref_at(const op_proof *p, const char *root, op_follow_ref *ref, op_err *e)
{
	memset(ref, 0, sizeof *ref);
	const op_proof_tree *t = op_proof_find(p, root);
	if (!t)
		return op_err_set(e, OP_EINVAL, "proof: tree %.12s is missing", root);
	char dir[OP_GIT_ID_LEN + 1];
	int rc = tree_lookup(t, ".outpost", true, dir, e);
	if (rc || !dir[0])
		return rc;
	if (!(t = op_proof_find(p, dir)))
		return op_err_set(e, OP_EINVAL, "proof: the .outpost tree %.12s is missing", dir);
	if ((rc = tree_lookup(t, "allowed_signers", false, ref->trust, e)) == 0 && ref->trust[0])
		rc = tree_lookup(t, "revoked", false, ref->revoked, e);
	return rc;
}

/* The commit's root tree when the proof carries it: 1; 0 when it does not. */
static int carried_root(const op_proof *p, const char *raw, size_t len, char root[41], op_err *e)
{
	int rc = op_git_commit_tree(raw, len, root, e);
	if (rc)
		return rc;
	return op_proof_find(p, root) ? 1 : 0;
}

int op_follow_blobs(
	const op_proof *p, int (*fn)(void *arg, const char *id, op_err *e), void *arg, op_err *e)
{
	for (size_t i = 0; i <= p->ncommits; i++) {
		const char *raw = i ? p->commits[i - 1].raw : p->object;
		size_t len = i ? p->commits[i - 1].len : p->olen;
		char root[41];
		op_follow_ref ref;
		int rc = raw ? carried_root(p, raw, len, root, e) : 0;
		if (rc < 0)
			return rc;
		if (rc == 0)
			continue;
		if ((rc = op_follow_ref_at(p, root, &ref, e)) != 0)
			return rc;
		if (ref.trust[0] && (rc = fn(arg, ref.trust, e)) != 0)
			return rc;
		if (ref.revoked[0] && (rc = fn(arg, ref.revoked, e)) != 0)
			return rc;
	}
	return 0;
}

/* ---- the walk ------------------------------------------------------------------------ */

/* One point of the chain: the policy in force after commit (or, for the first point,
 * at it). */
struct point {
	op_follow_ref ref;
	const char *commit; /* "" for the point below a root commit */
	const char *raw; /* the commit that leads to this point, NULL for the first */
	size_t len;
};

/* A policy blob's bytes, its id checked (borrowed). */
static int get_blob(const op_follow_in *in, const char *id, const char *what, const char *commit,
	const char **buf, size_t *len, op_err *e)
{
	if (in->blob(in->arg, id, buf, len) != 0)
		return op_err_set(e, OP_ENOTFOUND, "blob %.12s (%s at commit %.12s) not here yet",
			id, what, commit);
	char got[OP_GIT_ID_LEN + 1];
	op_git_hash("blob", *buf, *len, got);
	if (strcmp(got, id) != 0)
		return op_err_set(e, OP_ETRUST,
			"%s at commit %.12s: the blob held as %.12s hashes "
			"to %.12s",
			what, commit, id, got);
	return 0;
}

/* The policy of a point, with its texts (from the blobs). */
static int point_policy(
	const op_follow_in *in, const struct point *pt, op_follow_policy *out, op_err *e)
{
	memset(out, 0, sizeof *out);
	out->ref = pt->ref;
	snprintf(out->commit, sizeof out->commit, "%s", pt->commit);
	if (!pt->ref.trust[0])
		return 0;
	const char *buf;
	size_t len;
	int rc = get_blob(in, pt->ref.trust, OP_FOLLOW_TRUST, pt->commit, &buf, &len, e);
	if (rc == 0 && !(out->trust = dup_bytes(buf, len)))
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
	out->tlen = len;
	if (rc == 0 && pt->ref.revoked[0] &&
		(rc = get_blob(
			 in, pt->ref.revoked, OP_FOLLOW_REVOKED, pt->commit, &buf, &len, e)) == 0) {
		if (!(out->revoked = dup_bytes(buf, len)))
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
		out->rlen = len;
	}
	if (rc)
		op_follow_policy_clear(out);
	return rc;
}

/* The verifier of a held policy: the --trust file, or the repository's texts. */
static int load(const op_follow_in *in, const op_follow_policy *h, op_policy **pol, op_err *e)
{
	op_err le = {0};
	int rc = h->ref.trust[0] ? op_policy_load_text(pol, OP_FOLLOW_TRUST, h->trust, h->tlen,
					   h->revoked, h->rlen, in->revoked_file, false, &le)
				 : op_policy_load_text(pol, in->trust_name, in->trust_text,
					   in->trust_len, NULL, 0, in->revoked_file, false, &le);
	if (rc == OP_ENOMEM)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (rc)
		return op_err_set(e, OP_ETRUST, "trust policy%s%.12s: %.400s",
			h->commit[0] ? " of commit " : "", h->commit, le.msg);
	return 0;
}

/* Does the held policy stand at a point whose tree names ref? */
static bool stands_at(const op_follow_in *in, const op_follow_ref *ref)
{
	if (in->held->ref.trust[0])
		return op_follow_ref_equal(&in->held->ref, ref);
	if (!ref->trust[0])
		return true;
	char id[OP_GIT_ID_LEN + 1];
	op_git_hash("blob", in->trust_text, in->trust_len, id);
	return !strcmp(id, ref->trust);
}

/* The chain's points, oldest first (*pts allocated): the links checked. */
static int points(const op_proof *p, struct point **pts, size_t *n, op_err *e)
{
	size_t nc = p->ncommits;
	char parent[41], root[41];
	*pts = calloc(nc + 2, sizeof **pts);
	*n = 0;
	if (!*pts)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	/* Every link, from the head down: each object's first parent is the next one. */
	for (size_t i = 0; i < nc; i++) {
		const char *raw = i ? p->commits[i - 1].raw : p->object;
		size_t len = i ? p->commits[i - 1].len : p->olen;
		op_err pe = {0};
		int rc = op_git_commit_parent(raw, len, parent, &pe);
		if (rc || strcmp(parent, p->commits[i].id) != 0)
			return op_err_set(e, OP_ETRUST,
				"proof: the chain does not link: the first parent of %.12s is "
				"%.12s, "
				"the chain has %.12s",
				i ? p->commits[i - 1].id : p->commit, rc ? "none" : parent,
				p->commits[i].id);
	}
	const char *oldraw = nc ? p->commits[nc - 1].raw : p->object;
	size_t oldlen = nc ? p->commits[nc - 1].len : p->olen;
	op_err pe = {0};
	int rc = op_git_commit_parent(oldraw, oldlen, parent, &pe);
	if (rc != 0 && rc != OP_ENOTFOUND)
		return op_err_set(e, OP_ETRUST, "proof: %s", pe.msg);
	bool below_root = rc == OP_ENOTFOUND;
	struct point *v = *pts;
	size_t k = 0, first_step;
	if (below_root) {
		/* Below a root commit: the site's --trust file (the hub's too). */
		v[k++].commit = "";
		first_step = nc; /* every commit of the chain is a step */
	} else if (nc) {
		v[k].commit = p->commits[nc - 1].id;
		if (op_git_commit_tree(oldraw, oldlen, root, &pe) != 0 ||
			op_follow_ref_at(p, root, &v[k].ref, &pe) != 0)
			return op_err_set(
				e, OP_ETRUST, "proof: commit %.12s: %s", v[k].commit, pe.msg);
		k++;
		first_step = nc - 1;
	} else {
		/* No chain: the hub says nothing changed the policy for a window of commits,
		 * the head included, so the head's tree names the policy before it. */
		v[k].commit = p->commit;
		if (op_git_commit_tree(p->object, p->olen, root, &pe) != 0 ||
			op_follow_ref_at(p, root, &v[k].ref, &pe) != 0)
			return op_err_set(e, OP_ETRUST, "proof: %s", pe.msg);
		*n = 1;
		return 0;
	}
	for (size_t s = first_step; s-- > 0;) {
		const op_proof_commit *c = &p->commits[s];
		v[k].ref = v[k - 1].ref;
		v[k].commit = c->id;
		v[k].raw = c->raw;
		v[k].len = c->len;
		rc = carried_root(p, c->raw, c->len, root, &pe);
		if (rc == 1)
			rc = op_follow_ref_at(p, root, &v[k].ref, &pe);
		if (rc < 0)
			return op_err_set(e, OP_ETRUST, "proof: commit %.12s: %s", c->id, pe.msg);
		k++;
	}
	*n = k;
	return 0;
}

/* A commit that changes the policy, verified under the policy in force before it. */
static int verify_change(const op_policy *pol, const struct point *pt, op_err *e)
{
	op_commit c = {.raw = (char *)pt->raw, .len = pt->len};
	char signer[256];
	op_err ve = {0};
	snprintf(c.sha, sizeof c.sha, "%s", pt->commit);
	int rc = op_policy_verify_commit(pol, &c, signer, &ve);
	if (rc == OP_ENOMEM)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (rc)
		return op_err_set(e, OP_ETRUST,
			"commit %.12s changes the trust policy (%s) and does not verify under the "
			"policy in force before it: %.400s",
			pt->commit, OP_FOLLOW_TRUST, ve.msg);
	return 0;
}

static int refuse_lost(const op_follow_in *in, const struct point *v, size_t n, op_err *e)
{
	const op_follow_policy *h = in->held;
	char held[128];
	if (h->ref.trust[0])
		snprintf(held, sizeof held, "%s of commit %.12s", OP_FOLLOW_TRUST, h->commit);
	else
		snprintf(held, sizeof held, "the --trust file");
	return op_err_set(e, OP_ETRUST,
		"the site's trust policy (%s) is not in the proof's chain (%zu commits from "
		"%.12s): the policy changed in Git further back than the hub's window; reset "
		"the site with --trust holding the repository's %s as of a revision it "
		"trusts",
		held, n, v[0].commit[0] ? v[0].commit : "the root", OP_FOLLOW_TRUST);
}

int op_follow(const op_follow_in *in, op_policy **pol, op_follow_policy *next, op_err *e)
{
	const op_proof *p = in->proof;
	struct point *v = NULL;
	size_t n = 0;
	op_follow_policy cur = {0};
	*pol = NULL;
	memset(next, 0, sizeof *next);
	int rc = points(p, &v, &n, e);
	long at = -1;
	for (size_t i = n; rc == 0 && i-- > 0;)
		if (stands_at(in, &v[i].ref)) {
			at = (long)i;
			break;
		}
	/* The site holds the policy this very commit brought (the same revision offered
	 * again, say one seq higher): it stands before the commit, as it did then. */
	bool again = rc == 0 && at < 0 && !strcmp(in->held->commit, p->commit);
	if (again)
		at = (long)n - 1;
	if (rc == 0 && at < 0)
		rc = refuse_lost(in, v, n, e);
	/* Where the site stands: its own policy, or (the --trust file's bytes found in the
	 * repository) the repository's policy there. */
	if (rc == 0 && again) {
		rc = point_policy(in, &v[at], &cur, e);
	} else if (rc == 0 && !in->held->ref.trust[0] && v[at].ref.trust[0]) {
		size_t b = (size_t)at; /* the commit that brought it, as far as the chain says */
		while (b > 0 && op_follow_ref_equal(&v[b - 1].ref, &v[at].ref))
			b--;
		rc = point_policy(in, &v[b], &cur, e);
	} else if (rc == 0)
		rc = op_follow_policy_copy(&cur, in->held, e);
	if (rc == 0)
		rc = load(in, &cur, pol, e);
	for (size_t i = (size_t)at + 1; rc == 0 && i < n; i++) {
		if (op_follow_ref_equal(&v[i].ref, &v[i - 1].ref))
			continue;
		if ((rc = verify_change(*pol, &v[i], e)) != 0)
			break;
		op_policy_free(*pol);
		*pol = NULL;
		op_follow_policy_clear(&cur);
		if ((rc = point_policy(in, &v[i], &cur, e)) == 0)
			rc = load(in, &cur, pol, e);
	}
	/* After the head: the policy its own tree names (the head itself is verified under
	 * *pol by the caller). A change the chain hid shows here, as a change by the head. */
	struct point head = {.commit = p->commit, .raw = p->object, .len = p->olen};
	char root[41];
	op_err he = {0};
	if (rc == 0 &&
		(op_git_commit_tree(p->object, p->olen, root, &he) != 0 ||
			op_follow_ref_at(p, root, &head.ref, &he) != 0))
		rc = op_err_set(e, OP_ETRUST, "proof: %s", he.msg);
	if (rc == 0 && op_follow_ref_equal(&head.ref, &cur.ref)) {
		*next = cur;
		memset(&cur, 0, sizeof cur);
	} else if (rc == 0) {
		rc = point_policy(in, &head, next, e);
	}
	op_follow_policy_clear(&cur);
	free(v);
	if (rc) {
		op_policy_free(*pol);
		*pol = NULL;
		op_follow_policy_clear(next);
	}
	return rc;
}
