/* Building the revision proof at the hub (see include/outpost/sync/git/proofgen.h). */
#include "outpost/sync/git/proofgen.h"

#include <stdlib.h>
#include <string.h>

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
	if (rc == 0)
		op_blob_ids_sort(blobs);
	else
		op_blob_ids_clear(blobs);
	return rc;
}
