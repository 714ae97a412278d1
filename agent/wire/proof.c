/* The revision proof (see include/outpost/agent/wire/proof.h). */
#include "outpost/agent/wire/proof.h"

#include <jansson.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/base/limits.h"

void op_proof_path_clean(const char *path, char out[OP_PROOF_PATH_MAX + 1])
{
	snprintf(out, OP_PROOF_PATH_MAX + 1, "%s", path ? path : "");
	for (size_t n = strlen(out); n > 0 && out[n - 1] == '/'; n--)
		out[n - 1] = '\0';
	if (!out[0])
		snprintf(out, OP_PROOF_PATH_MAX + 1, ".");
}

int op_proof_set_commit(op_proof *p, const char *raw, size_t len, op_err *e)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(copy, raw, len);
	copy[len] = '\0';
	free(p->object);
	p->object = copy;
	p->olen = len;
	op_git_hash("commit", raw, len, p->commit);
	return 0;
}

static long tree_index(const op_proof *p, const char *id, bool *found)
{
	size_t lo = 0, hi = p->ntrees;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->trees[mid].id, id);
		if (c == 0) {
			*found = true;
			return (long)mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return (long)lo;
}

const op_proof_tree *op_proof_find(const op_proof *p, const char *id)
{
	bool found;
	long i = tree_index(p, id, &found);
	return found ? &p->trees[i] : NULL;
}

int op_proof_add_tree(op_proof *p, const void *raw, size_t len, op_err *e)
{
	char id[OP_GIT_ID_LEN + 1];
	op_git_hash("tree", raw, len, id);
	bool found;
	size_t at = (size_t)tree_index(p, id, &found);
	if (found)
		return 0;
	if (p->ntrees >= OP_PROOF_MAX_TREES)
		return op_err_set(e, OP_ETOOBIG, "more than %d trees", OP_PROOF_MAX_TREES);
	if (p->ntrees == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		op_proof_tree *v = realloc(p->trees, cap * sizeof *v);
		if (!v)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		p->trees = v;
		p->cap = cap;
	}
	unsigned char *copy = malloc(len ? len : 1);
	if (!copy)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(copy, raw, len);
	memmove(&p->trees[at + 1], &p->trees[at], (p->ntrees - at) * sizeof *p->trees);
	memcpy(p->trees[at].id, id, sizeof id);
	p->trees[at].raw = copy;
	p->trees[at].len = len;
	p->ntrees++;
	return 0;
}

int op_proof_add_commit(op_proof *p, const char *raw, size_t len, op_err *e)
{
	if (p->ncommits >= OP_PROOF_MAX_CHAIN)
		return op_err_set(
			e, OP_ETOOBIG, "more than %d commits in the chain", OP_PROOF_MAX_CHAIN);
	if (len > OP_PROOF_MAX_CHAIN_BYTES - p->chain_bytes)
		return op_err_set(e, OP_ETOOBIG, "the chain's commits pass %u bytes",
			OP_PROOF_MAX_CHAIN_BYTES);
	if (p->ncommits == 0 || (p->ncommits >= 4 && !(p->ncommits & (p->ncommits - 1)))) {
		size_t cap = p->ncommits ? p->ncommits * 2 : 4;
		op_proof_commit *v = realloc(p->commits, cap * sizeof *v);
		if (!v)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		p->commits = v;
	}
	op_proof_commit *c = &p->commits[p->ncommits];
	if (!(c->raw = malloc(len + 1)))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(c->raw, raw, len);
	c->raw[len] = '\0';
	c->len = len;
	op_git_hash("commit", raw, len, c->id);
	p->ncommits++;
	p->chain_bytes += len;
	return 0;
}

void op_proof_clear(op_proof *p)
{
	for (size_t i = 0; i < p->ntrees; i++)
		free(p->trees[i].raw);
	free(p->trees);
	for (size_t i = 0; i < p->ncommits; i++)
		free(p->commits[i].raw);
	free(p->commits);
	free(p->object);
	memset(p, 0, sizeof *p);
}

static json_t *b64(const void *raw, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);
	if (!s)
		return NULL;
	sodium_bin2base64(s, n, raw, len, sodium_base64_VARIANT_ORIGINAL);
	json_t *j = json_string(s);
	free(s);
	return j;
}

int op_proof_encode(const op_proof *p, char **json, size_t *len, op_err *e)
{
	*json = NULL;
	json_t *trees = json_array();
	for (size_t i = 0; trees && i < p->ntrees; i++)
		if (json_array_append_new(trees, b64(p->trees[i].raw, p->trees[i].len)) != 0) {
			json_decref(trees);
			trees = NULL;
		}
	json_t *j = trees ? json_pack("{s:i, s:s, s:s, s:o, s:o}", "format",
				    p->ncommits ? OP_PROOF_FORMAT_CHAIN : OP_PROOF_FORMAT, "commit",
				    p->commit, "path", p->path, "object", b64(p->object, p->olen),
				    "trees", trees)
			  : NULL;
	if (j && p->ncommits) {
		json_t *chain = json_array();
		for (size_t i = 0; chain && i < p->ncommits; i++)
			if (json_array_append_new(
				    chain, b64(p->commits[i].raw, p->commits[i].len)) != 0) {
				json_decref(chain);
				chain = NULL;
			}
		if (json_object_set_new(j, "commits", chain) != 0) {
			json_decref(j);
			j = NULL;
		}
	}
	*json = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	if (!*json)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	*len = strlen(*json);
	return 0;
}

static int tree_cmp(const void *a, const void *b)
{
	return strcmp(((const op_proof_tree *)a)->id, ((const op_proof_tree *)b)->id);
}

/* A base64 string field into allocated bytes. */
static int unb64(json_t *v, const char *what, unsigned char **out, size_t *len, op_err *e)
{
	if (!json_is_string(v))
		return op_err_set(e, OP_EINVAL, "proof: %s: expected a base64 string", what);
	size_t n = json_string_length(v);
	unsigned char *buf = malloc(n / 4 * 3 + 3);
	if (!buf)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	const char *end = NULL;
	if (sodium_base642bin(buf, n / 4 * 3 + 3, json_string_value(v), n, NULL, len, &end,
		    sodium_base64_VARIANT_ORIGINAL) != 0 ||
		end != json_string_value(v) + n) {
		free(buf);
		return op_err_set(e, OP_EINVAL, "proof: %s: not base64", what);
	}
	*out = buf;
	return 0;
}

int op_proof_decode(const char *json, size_t len, op_proof *p, op_err *e)
{
	memset(p, 0, sizeof *p);
	if (len > OP_MAX_VALUE)
		return op_err_set(e, OP_ETOOBIG, "proof: %zu bytes, at most %d", len, OP_MAX_VALUE);
	json_error_t je;
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!j && !je.text[0]) /* jansson's only failure without a message */
		return op_err_set(e, OP_ENOMEM, "proof: out of memory");
	if (!j)
		return op_err_set(e, OP_EINVAL, "proof: not JSON: %s", je.text);
	int rc = 0;
	json_t *fmt = json_object_get(j, "format"), *commit = json_object_get(j, "commit"),
	       *path = json_object_get(j, "path"), *trees = json_object_get(j, "trees"),
	       *chain = json_object_get(j, "commits");
	unsigned char *obj = NULL;
	size_t olen = 0;
	bool two = json_is_integer(fmt) && json_integer_value(fmt) == OP_PROOF_FORMAT_CHAIN;
	if (!json_is_object(j) || json_object_size(j) != (two ? 6u : 5u) || (two && !chain)) {
		rc = op_err_set(e, OP_EINVAL,
			two ? "proof: expected an object of format, commit, path, object, trees, "
			      "commits"
			    : "proof: expected an object of format, commit, path, object, trees");
	} else if (!json_is_integer(fmt) || (json_integer_value(fmt) != OP_PROOF_FORMAT && !two)) {
		rc = op_err_set(e, OP_EINVAL, "proof: format: expected %d or %d", OP_PROOF_FORMAT,
			OP_PROOF_FORMAT_CHAIN);
	} else if (two &&
		(!json_is_array(chain) || json_array_size(chain) == 0 ||
			json_array_size(chain) > OP_PROOF_MAX_CHAIN)) {
		rc = op_err_set(e, OP_EINVAL, "proof: commits: expected 1 to %d commits",
			OP_PROOF_MAX_CHAIN);
	} else if (!json_is_string(commit) || json_string_length(commit) != OP_GIT_ID_LEN) {
		rc = op_err_set(e, OP_EINVAL, "proof: commit: expected a 40-digit hex id");
	} else if (!json_is_string(path) || json_string_length(path) == 0 ||
		json_string_length(path) > OP_PROOF_PATH_MAX ||
		strlen(json_string_value(path)) != json_string_length(path)) {
		rc = op_err_set(e, OP_EINVAL, "proof: path: expected a path");
	} else if (!json_is_array(trees) || json_array_size(trees) > OP_PROOF_MAX_TREES) {
		rc = op_err_set(e, OP_EINVAL, "proof: trees: expected at most %d trees",
			OP_PROOF_MAX_TREES);
	} else if ((rc = unb64(json_object_get(j, "object"), "object", &obj, &olen, e)) == 0) {
		rc = op_proof_set_commit(p, (const char *)obj, olen, e);
		if (rc == 0 && strcmp(p->commit, json_string_value(commit)) != 0)
			rc = op_err_set(e, OP_EINVAL,
				"proof: object: its id is %s, not the commit %.40s", p->commit,
				json_string_value(commit));
		snprintf(p->path, sizeof p->path, "%s", json_string_value(path));
	}
	free(obj);
	/* Appended as they come, then sorted once (inserting each in order would cost the
	 * square of the count, before any signature was checked). */
	size_t nt = rc == 0 ? json_array_size(trees) : 0;
	if (nt && !(p->trees = calloc(nt, sizeof *p->trees)))
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
	p->cap = nt;
	for (size_t i = 0; rc == 0 && i < nt; i++) {
		op_proof_tree *t = &p->trees[p->ntrees];
		char what[32];
		snprintf(what, sizeof what, "trees[%zu]", i);
		if ((rc = unb64(json_array_get(trees, i), what, &t->raw, &t->len, e)) == 0) {
			op_git_hash("tree", t->raw, t->len, t->id);
			p->ntrees++;
		}
	}
	for (size_t i = 0; rc == 0 && two && i < json_array_size(chain); i++) {
		char what[32];
		unsigned char *raw = NULL;
		size_t rlen = 0;
		snprintf(what, sizeof what, "commits[%zu]", i);
		if ((rc = unb64(json_array_get(chain, i), what, &raw, &rlen, e)) == 0) {
			op_err ce = {0};
			if ((rc = op_proof_add_commit(p, (const char *)raw, rlen, &ce)) != 0)
				op_err_set(e, rc, "proof: %s: %s", what, ce.msg);
		}
		free(raw);
	}
	if (rc == 0 && p->ntrees > 1) {
		qsort(p->trees, p->ntrees, sizeof *p->trees, tree_cmp);
		size_t k = 1;
		for (size_t i = 1; i < p->ntrees; i++) {
			if (!strcmp(p->trees[i].id, p->trees[k - 1].id))
				free(p->trees[i].raw);
			else
				p->trees[k++] = p->trees[i];
		}
		p->ntrees = k;
	}
	json_decref(j);
	if (rc)
		op_proof_clear(p);
	return rc;
}

/* ---- the walk ---------------------------------------------------------------------- */

struct walk {
	op_proof_tree_fn get;
	void *get_arg;
	op_proof_file_fn on_file;
	void *file_arg;
	size_t trees;
	op_err *e;
};

static int get_tree(struct walk *w, const char *id, const unsigned char **raw, size_t *len)
{
	if (++w->trees > OP_PROOF_MAX_TREES)
		return op_err_set(
			w->e, OP_ETOOBIG, "more than %d trees under the path", OP_PROOF_MAX_TREES);
	return w->get(w->get_arg, id, raw, len, w->e);
}

static int walk_dir(struct walk *w, const char *id, const char *dir, int depth)
{
	if (depth > OP_PROOF_MAX_DEPTH)
		return op_err_set(w->e, OP_ETOOBIG, "%s: deeper than %d directories", dir,
			OP_PROOF_MAX_DEPTH);
	const unsigned char *raw;
	size_t len, off = 0;
	int rc = get_tree(w, id, &raw, &len);
	if (rc)
		return rc;
	op_git_entry ent;
	while ((rc = op_git_tree_next(raw, len, &off, &ent, w->e)) == 1) {
		rc = 0;
		if (ent.name[0] == '.')
			continue;
		size_t n = strlen(dir) + ent.namelen + 2;
		char *name = malloc(n);
		if (!name)
			return op_err_set(w->e, OP_ENOMEM, "out of memory");
		snprintf(name, n, "%s/%.*s", dir, (int)ent.namelen, ent.name);
		if (ent.kind == OP_GIT_TREE)
			rc = walk_dir(w, ent.id, name, depth + 1);
		else if (ent.kind == OP_GIT_LINK && op_is_manifest_name(name))
			rc = op_err_set(w->e, OP_EINVAL, "%s: a symbolic link", name);
		else if (ent.kind == OP_GIT_BLOB && op_is_manifest_name(name))
			rc = w->on_file(w->file_arg, name, ent.id, w->e);
		free(name);
		if (rc)
			return rc;
	}
	return rc;
}

int op_proof_walk(const char *commit, size_t clen, const char *path, op_proof_tree_fn get,
	void *get_arg, op_proof_file_fn on_file, void *file_arg, op_err *e)
{
	struct walk w = {get, get_arg, on_file, file_arg, 0, e};
	char clean[OP_PROOF_PATH_MAX + 1], id[OP_GIT_ID_LEN + 1];
	op_proof_path_clean(path, clean);
	int rc = op_git_commit_tree(commit, clen, id, e);
	if (rc)
		return rc;
	if (strcmp(clean, ".") != 0) {
		/* Down the path, one component at a time. */
		const char *s = clean;
		while (*s) {
			const char *slash = strchr(s, '/');
			size_t n = slash ? (size_t)(slash - s) : strlen(s);
			const unsigned char *raw;
			size_t len, off = 0;
			if ((rc = get_tree(&w, id, &raw, &len)) != 0)
				return rc;
			op_git_entry ent;
			bool found = false;
			while (!found && (rc = op_git_tree_next(raw, len, &off, &ent, e)) == 1)
				found = ent.kind == OP_GIT_TREE && ent.namelen == n &&
					!memcmp(ent.name, s, n);
			if (rc < 0)
				return rc;
			if (!found || n == 0)
				return op_err_set(
					e, OP_ENOTFOUND, "no directory %s/ in the commit", clean);
			memcpy(id, ent.id, sizeof id);
			s += n + (slash ? 1 : 0);
		}
	}
	return walk_dir(&w, id, clean, 0);
}

static int own_tree(void *arg, const char *id, const unsigned char **raw, size_t *len, op_err *e)
{
	const op_proof_tree *t = op_proof_find(arg, id);
	if (!t)
		return op_err_set(e, OP_EINVAL, "proof: tree %.12s is missing", id);
	*raw = t->raw;
	*len = t->len;
	return 0;
}

int op_proof_files(const op_proof *p, op_proof_file_fn on_file, void *arg, op_err *e)
{
	if (!p->object)
		return op_err_set(e, OP_EINVAL, "proof: no commit");
	return op_proof_walk(p->object, p->olen, p->path, own_tree, (void *)p, on_file, arg, e);
}

void op_proof_secrets_dir(const char *path, char out[OP_PROOF_PATH_MAX + 1])
{
	char clean[OP_PROOF_PATH_MAX + 1];
	op_proof_path_clean(path, clean);
	const char *slash = strrchr(clean, '/');
	if (!slash)
		snprintf(out, OP_PROOF_PATH_MAX + 1, "secrets");
	else
		snprintf(out, OP_PROOF_PATH_MAX + 1, "%.*s/secrets", (int)(slash - clean), clean);
}

int op_proof_secret_files(const op_proof *p, op_proof_file_fn on_file, void *arg, op_err *e)
{
	if (!p->object)
		return op_err_set(e, OP_EINVAL, "proof: no commit");
	char dir[OP_PROOF_PATH_MAX + 1];
	op_proof_secrets_dir(p->path, dir);
	return op_proof_walk(p->object, p->olen, dir, own_tree, (void *)p, on_file, arg, e);
}
