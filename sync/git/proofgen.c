/* Building the revision proof at the hub (see include/outpost/sync/git/proofgen.h). The
 * chain a site follows rotations on (trust/follow.h) is found by reading the policy of
 * each commit of the head's first-parent history, within a window, once per accepted
 * revision. */
#include "outpost/sync/git/proofgen.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/follow.h"
#include "outpost/sync/git/policy.h"

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

void op_blob_ids_sort(op_blob_ids *b)
{
	if (!b->n)
		return;
	qsort(b->v, b->n, sizeof *b->v, cmp_id);
	size_t k = 1;
	for (size_t i = 1; i < b->n; i++)
		if (strcmp(b->v[i], b->v[k - 1]) != 0)
			memcpy(b->v[k++], b->v[i], sizeof *b->v);
	b->n = k;
}

bool op_blob_ids_has(const op_blob_ids *b, const char *id)
{
	return b->n && bsearch(id, b->v, b->n, sizeof *b->v, cmp_id) != NULL;
}

void op_blob_ids_clear(op_blob_ids *b)
{
	free(b->v);
	memset(b, 0, sizeof *b);
}

static int add_blob(void *arg, const char *file, const char *id, op_err *e)
{
	op_blob_ids *b = arg;
	(void)file;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		void *v = realloc(b->v, cap * sizeof *b->v);
		if (!v)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		b->v = v;
		b->cap = cap;
	}
	memcpy(b->v[b->n++], id, OP_GIT_ID_LEN + 1);
	return 0;
}

struct gen {
	op_source *src;
	op_proof *p;
};

/* Reads a tree from the cache into the proof and hands the proof's copy out. */
static int get_tree(void *arg, const char *id, const unsigned char **raw, size_t *len, op_err *e)
{
	struct gen *g = arg;
	const op_proof_tree *t = op_proof_find(g->p, id);
	if (!t) {
		char *buf = NULL;
		size_t n = 0;
		int rc = op_source_tree(g->src, id, &buf, &n, e);
		if (rc == 0)
			rc = op_proof_add_tree(g->p, buf, n, e);
		free(buf);
		if (rc)
			return rc;
		t = op_proof_find(g->p, id);
		if (!t)
			return op_err_set(
				e, OP_EGIT, "tree %.12s: its bytes do not hash to its id", id);
	}
	*raw = t->raw;
	*len = t->len;
	return 0;
}

/* The root tree of a raw commit and its .outpost tree, when it has one, into the proof. */
static int add_policy_trees(struct gen *g, const char *raw, size_t len, op_err *e)
{
	char root[OP_GIT_ID_LEN + 1];
	const unsigned char *t;
	size_t tlen, off = 0;
	int rc = op_git_commit_tree(raw, len, root, e);
	if (rc == 0)
		rc = get_tree(g, root, &t, &tlen, e);
	op_git_entry ent;
	while (rc == 0 && (rc = op_git_tree_next(t, tlen, &off, &ent, e)) == 1) {
		rc = 0;
		if (ent.kind == OP_GIT_TREE && ent.namelen == 8 && !memcmp(ent.name, ".outpost", 8))
			return get_tree(g, ent.id, &t, &tlen, e);
	}
	return rc;
}

struct link {
	op_commit c;
	op_policy_ref ref;
	bool changes; /* its policy is not its first parent's */
};

/* The first-parent history of the head within the window, with each commit's policy:
 * *n entries, the head first. The last entry's `changes` is known only when it is a
 * root commit. */
static int history(op_source *src, const op_commit *head, struct link **out, size_t *n, op_err *e)
{
	struct link *v = calloc(OP_PROOF_WINDOW + 1, sizeof *v);
	size_t k = 0, bytes = 0;
	*out = v;
	*n = 0;
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	v[0].c = *head;
	v[0].c.raw = NULL; /* borrowed: see chain_free */
	int rc = op_policy_ref_at(src, head->sha, &v[0].ref, e);
	for (k = 1; rc == 0; k++) {
		const op_commit *c = k == 1 ? head : &v[k - 1].c;
		char parent[OP_GIT_ID_LEN + 1];
		op_err pe = {0};
		int prc = op_git_commit_parent(c->raw, c->len, parent, &pe);
		if (prc == OP_ENOTFOUND) {
			v[k - 1].changes = v[k - 1].ref.trust_blob[0] != '\0';
			break;
		}
		if (prc)
			rc = op_err_set(e, OP_EGIT, "commit %.12s: %s", c->sha, pe.msg);
		else if (k > OP_PROOF_WINDOW)
			break;
		else if ((rc = op_source_commit(src, parent, &v[k].c, e)) != 0)
			break;
		if (rc == 0 && bytes + v[k].c.len > OP_PROOF_WINDOW_BYTES) {
			op_commit_clear(&v[k].c);
			break;
		}
		bytes += v[k].c.len;
		if (rc == 0 && (rc = op_policy_ref_at(src, parent, &v[k].ref, e)) == 0)
			v[k - 1].changes = !op_policy_ref_equal(&v[k - 1].ref, &v[k].ref);
	} /* (an error past op_source_commit leaves k counting that commit, to be freed) */
	*n = k;
	return rc;
}

static void history_free(struct link *v, size_t n)
{
	for (size_t i = 1; i < n && v; i++)
		op_commit_clear(&v[i].c);
	free(v);
}

/* The chain (proof.h) when the policy changed within the window: the commits from the
 * head's parent down to the parent of the oldest change (or to the root), with the
 * trees of every change and of that parent. */
static int add_chain(struct gen *g, const op_commit *head, op_err *e)
{
	struct link *v = NULL;
	size_t n = 0;
	int rc = history(g->src, head, &v, &n, e);
	long oldest = -1;
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (v[i].changes)
			oldest = (long)i;
	/* Down to the oldest change's parent (a root commit is its own end). */
	size_t end = oldest < 0 ? 0 : (size_t)oldest + 1;
	if (end >= n)
		end = n - 1;
	for (size_t i = 1; rc == 0 && i <= end; i++) {
		rc = op_proof_add_commit(g->p, v[i].c.raw, v[i].c.len, e);
		if (rc == 0 && (v[i].changes || i == end))
			rc = add_policy_trees(g, v[i].c.raw, v[i].c.len, e);
	}
	history_free(v, n);
	return rc;
}

static int add_policy_blob(void *arg, const char *id, op_err *e)
{
	return add_blob(arg, NULL, id, e);
}

/* The sealed secrets' trees and blobs (secrets/ beside the path), for the sites to open
 * and, with --trust, to check against the signed commit. */
static int add_secrets(struct gen *g, op_blob_ids *blobs, op_err *e)
{
	char dir[OP_PROOF_PATH_MAX + 1];
	op_proof_secrets_dir(g->p->path, dir);
	int rc = op_proof_walk(g->p->object, g->p->olen, dir, get_tree, g, add_blob, blobs, e);
	return rc == OP_ENOTFOUND ? 0 : rc;
}

int op_proof_build(op_source *src, const op_commit *c, const char *path, op_proof *p,
	op_blob_ids *blobs, op_err *e)
{
	memset(p, 0, sizeof *p);
	memset(blobs, 0, sizeof *blobs);
	op_proof_path_clean(path, p->path);
	int rc = op_proof_set_commit(p, c->raw, c->len, e);
	struct gen g = {src, p};
	if (rc == 0 && strcmp(p->commit, c->sha) != 0)
		rc = op_err_set(
			e, OP_EGIT, "commit %.12s: its bytes hash to %.12s", c->sha, p->commit);
	if (rc == 0)
		rc = op_proof_walk(p->object, p->olen, p->path, get_tree, &g, add_blob, blobs, e);
	if (rc == OP_ENOTFOUND)
		rc = 0; /* no such directory: the trees walked prove it, and there are no apps */
	if (rc == 0)
		rc = add_secrets(&g, blobs, e);
	if (rc == 0)
		rc = add_policy_trees(&g, p->object, p->olen, e);
	if (rc == 0)
		rc = add_chain(&g, c, e);
	if (rc == 0)
		rc = op_follow_blobs(p, add_policy_blob, blobs, e);
	if (rc == 0)
		op_blob_ids_sort(blobs);
	if (rc) {
		op_proof_clear(p);
		op_blob_ids_clear(blobs);
	}
	return rc;
}

int op_proof_blobs(const op_proof *p, op_blob_ids *blobs, op_err *e)
{
	memset(blobs, 0, sizeof *blobs);
	int rc = op_proof_files(p, add_blob, blobs, e);
	if (rc == OP_ENOTFOUND)
		rc = 0; /* the path is not in the commit: no manifest blobs */
	if (rc == 0 && (rc = op_proof_secret_files(p, add_blob, blobs, e)) == OP_ENOTFOUND)
		rc = 0;
	if (rc == 0)
		rc = op_follow_blobs(p, add_policy_blob, blobs, e);
	if (rc == 0)
		op_blob_ids_sort(blobs);
	else
		op_blob_ids_clear(blobs);
	return rc;
}
