/* libgit2 behind sync: a bare cache repository under --state that only ever receives
 * objects from the remote. Nothing in it is trusted: every commit sync accepts is
 * re-verified from its raw bytes, and a cache that cannot be opened or fetched into is
 * thrown away and fetched again from scratch. A fetch brings only what the remote thinks
 * the cache lacks, so damage to older objects shows only when they are read: a read that
 * fails after a fetch into an old cache rebuilds it once (heal) and reads again. */
#include "outpost/sync/git/source.h"

#include <errno.h>
#include <ftw.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct op_source {
	git_repository *repo;
	char *dir; /* the cache */
	char *url;
	char *shown; /* url without its secret, for messages */
	char *secret; /* the part of url that is one (a token, a password), or NULL */
	char branch[256]; /* of the last fetch: what heal() fetches again */
	bool rebuilt; /* the cache was made from nothing since the last fetch began */
	bool may_heal; /* the last fetch went into an old cache, not healed yet */
	char absent[41]; /* an ancestor that a cache made from nothing did not have */
};

static int gerr(op_err *e, const char *what)
{
	const git_error *g = git_error_last();
	return op_err_set(e, OP_EGIT, "%s: %s", what, g && g->message ? g->message : "failed");
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int rm_rf(const char *dir)
{
	if (access(dir, F_OK) != 0)
		return 0;
	return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void set_ca(const char *ca_file)
{
	static const char *const bundles[] = {"/etc/ssl/certs/ca-certificates.crt",
		"/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem",
		"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem", NULL};
	const char *f = ca_file;
	for (int i = 0; !f && bundles[i]; i++)
		if (access(bundles[i], R_OK) == 0)
			f = bundles[i];
	if (f)
		git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, f, (const char *)NULL);
}

/* Opens the cache, or makes a new one where it is missing or unreadable. */
static int cache_open(op_source *s, op_err *e)
{
	if (git_repository_open_bare(&s->repo, s->dir) == 0)
		return 0;
	rm_rf(s->dir);
	if (git_repository_init(&s->repo, s->dir, 1) != 0)
		return gerr(e, "create git cache");
	s->rebuilt = true;
	return 0;
}

/* The secret of a repository URL: over http(s) the whole user info (`TOKEN@` or
 * `user:token@`), otherwise a password after the user (`ssh://git:pw@`); NULL if none. */
static char *url_secret(const char *url)
{
	const char *auth = strstr(url, "://");
	if (!auth)
		return NULL;
	auth += 3;
	size_t alen = strcspn(auth, "/");
	const char *at = NULL;
	for (const char *p = auth; p < auth + alen; p++)
		if (*p == '@')
			at = p;
	if (!at || at == auth)
		return NULL;
	const char *from = auth;
	if (strncmp(url, "http", 4) != 0) {
		const char *colon = memchr(auth, ':', (size_t)(at - auth));
		if (!colon || colon + 1 == at)
			return NULL;
		from = colon + 1;
	}
	return strndup(from, (size_t)(at - from));
}

/* Every copy of the secret in e's message replaced by ***. */
static int scrub(const op_source *s, op_err *e, int rc)
{
	if (!s->secret || !e)
		return rc;
	char *hit;
	while ((hit = strstr(e->msg, s->secret)) != NULL) {
		size_t n = strlen(s->secret);
		memmove(hit + 3, hit + n, strlen(hit + n) + 1);
		memset(hit, '*', 3);
	}
	return rc;
}

int op_source_open(
	op_source **out, const char *state_dir, const char *url, const char *ca_file, op_err *e)
{
	static int inited;
	if (!inited) {
		git_libgit2_init();
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
		git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
		inited = 1;
	}
	if (mkdir(state_dir, 0700) != 0 && errno != EEXIST)
		return op_err_set(e, OP_EIO, "state dir %s: %s", state_dir, strerror(errno));
	op_source *s = calloc(1, sizeof *s);
	if (!s || asprintf(&s->dir, "%s/cache.git", state_dir) < 0 || !(s->url = strdup(url)) ||
		!(s->shown = strdup(url))) {
		op_source_free(s);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	if ((s->secret = url_secret(url)) != NULL) {
		char *at = strstr(s->shown, s->secret);
		memmove(at + 3, at + strlen(s->secret), strlen(at + strlen(s->secret)) + 1);
		memcpy(at, "***", 3);
	}
	/* Loading a CA bundle costs milliseconds on every start: only https needs it. */
	if (!strncmp(url, "https://", 8))
		set_ca(ca_file);
	int rc = scrub(s, e, cache_open(s, e));
	if (rc) {
		op_source_free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static int fetch_into(
	op_source *s, git_repository *repo, const char *branch, char head[41], op_err *e)
{
	git_remote *remote = NULL;
	char spec[512], ref[512];
	snprintf(spec, sizeof spec, "+refs/heads/%s:refs/remotes/origin/%s", branch, branch);
	snprintf(ref, sizeof ref, "refs/remotes/origin/%s", branch);
	char *specs[] = {spec};
	git_strarray refspecs = {specs, 1};
	git_fetch_options fo;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.prune = GIT_FETCH_NO_PRUNE;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	if (git_remote_create_anonymous(&remote, repo, s->url) != 0)
		return gerr(e, "git remote");
	int rc = git_remote_fetch(remote, &refspecs, &fo, NULL);
	git_remote_free(remote);
	if (rc != 0) {
		char what[600];
		snprintf(what, sizeof what, "fetch %s from %s", branch, s->shown);
		return gerr(e, what);
	}
	git_oid oid;
	if (git_reference_name_to_id(&oid, repo, ref) != 0)
		return op_err_set(e, OP_ENOTFOUND, "branch %s not found in %s", branch, s->shown);
	git_oid_tostr(head, 41, &oid);
	return 0;
}

static int fetch_once(op_source *s, const char *branch, char head[41], op_err *e)
{
	return fetch_into(s, s->repo, branch, head, e);
}

/* Fetches into a new cache beside the old one and swaps it in only when that worked:
 * a remote that is down never costs the cache, a damaged cache is replaced. */
static int rebuild(op_source *s, const char *branch, char head[41], op_err *e)
{
	char tmp[4200];
	git_repository *fresh = NULL;
	snprintf(tmp, sizeof tmp, "%s.new", s->dir);
	rm_rf(tmp);
	if (git_repository_init(&fresh, tmp, 1) != 0)
		return gerr(e, "create git cache");
	int rc = fetch_into(s, fresh, branch, head, e);
	git_repository_free(fresh);
	if (rc) {
		rm_rf(tmp);
		return rc;
	}
	if (s->repo) {
		git_repository_free(s->repo);
		s->repo = NULL;
	}
	rm_rf(s->dir);
	if (rename(tmp, s->dir) != 0 || git_repository_open_bare(&s->repo, s->dir) != 0)
		return op_err_set(e, OP_EIO, "replace git cache %s: %s", s->dir, strerror(errno));
	s->rebuilt = true;
	return 0;
}

static int fetch_or_rebuild(op_source *s, const char *branch, char head[41], op_err *e)
{
	int rc = fetch_once(s, branch, head, e);
	if (rc == 0 || rc == OP_ENOTFOUND)
		return rc;
	/* Maybe the remote is down, maybe the cache is damaged: only a fresh cache tells. */
	op_err first = {0};
	if (e)
		first = *e;
	if ((rc = rebuild(s, branch, head, e)) != 0) {
		if (e)
			*e = first;
		return rc;
	}
	return 0;
}

int op_source_fetch(op_source *s, const char *branch, char head[41], op_err *e)
{
	snprintf(s->branch, sizeof s->branch, "%s", branch);
	int rc = scrub(s, e, fetch_or_rebuild(s, branch, head, e));
	s->may_heal = rc == 0 && !s->rebuilt;
	s->rebuilt = false;
	return rc;
}

/* A read from the cache failed after a fetch into an old cache: the cache is made again
 * from nothing and fetched, once per fetch. 1: read again; 0: no use, the cache is new
 * (e untouched); or the error of the rebuild (in e). */
static int heal(op_source *s, op_err *e)
{
	char head[41];
	if (!s->may_heal)
		return 0;
	s->may_heal = false;
	int rc = rebuild(s, s->branch, head, e);
	s->rebuilt = false; /* the next fetch goes into a cache it did not make */
	return rc == 0 ? 1 : rc == OP_ENOTFOUND ? OP_EGIT : rc;
}

static int read_commit(op_source *s, const char *sha, op_commit *c, op_err *e)
{
	memset(c, 0, sizeof *c);
	git_oid oid;
	git_odb *odb = NULL;
	git_odb_object *obj = NULL;
	git_commit *cm = NULL;
	if (git_oid_fromstr(&oid, sha) != 0)
		return op_err_set(e, OP_EINVAL, "not a commit id: %.64s", sha);
	if (git_repository_odb(&odb, s->repo) != 0 || git_odb_read(&obj, odb, &oid) != 0) {
		git_odb_free(odb);
		return op_err_set(e, OP_ENOTFOUND, "commit %s not found", sha);
	}
	int rc = 0;
	if (git_odb_object_type(obj) != GIT_OBJECT_COMMIT) {
		rc = op_err_set(e, OP_EINVAL, "%s is not a commit", sha);
	} else if (git_commit_lookup(&cm, s->repo, &oid) != 0) {
		rc = gerr(e, "read commit");
	} else {
		c->len = git_odb_object_size(obj);
		c->raw = malloc(c->len + 1);
		if (!c->raw) {
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
		} else {
			memcpy(c->raw, git_odb_object_data(obj), c->len);
			c->raw[c->len] = '\0';
			const git_signature *who = git_commit_committer(cm);
			snprintf(c->email, sizeof c->email, "%s", who->email ? who->email : "");
			c->time = (int64_t)who->when.time;
			memcpy(c->sha, sha, 40);
		}
	}
	git_commit_free(cm);
	git_odb_object_free(obj);
	git_odb_free(odb);
	return rc;
}

int op_source_commit(op_source *s, const char *sha, op_commit *c, op_err *e)
{
	int rc = read_commit(s, sha, c, e), h;
	if (rc != 0 && rc != OP_ENOMEM && rc != OP_EINVAL && (h = heal(s, e)) != 0)
		rc = h > 0 ? read_commit(s, sha, c, e) : h;
	return rc;
}

void op_commit_clear(op_commit *c)
{
	free(c->raw);
	c->raw = NULL;
}

int op_source_descends(op_source *s, const char *sha, const char *ancestor, bool *yes, op_err *e)
{
	git_oid a, b;
	if (git_oid_fromstr(&a, sha) != 0 || git_oid_fromstr(&b, ancestor) != 0)
		return op_err_set(e, OP_EINVAL, "bad commit id");
	git_commit *c = NULL;
	/* Missing from an old cache may be damage; missing from a new one is a rewritten
	 * remote, and is remembered so as not to fetch everything again for it. */
	while (git_commit_lookup(&c, s->repo, &b) != 0) {
		int h = strcmp(ancestor, s->absent) ? heal(s, e) : 0;
		if (h < 0)
			return h;
		if (h == 0) {
			snprintf(s->absent, sizeof s->absent, "%s", ancestor);
			return op_err_set(e, OP_ENOTFOUND,
				"the last accepted commit %s is not in the repository", ancestor);
		}
	}
	git_commit_free(c);
	if (git_oid_equal(&a, &b)) {
		*yes = true;
		return 0;
	}
	int r = git_graph_descendant_of(s->repo, &a, &b), h;
	if (r < 0 && (h = heal(s, e)) != 0) {
		if (h < 0)
			return h;
		r = git_graph_descendant_of(s->repo, &a, &b);
	}
	if (r < 0)
		return gerr(e, "ancestry");
	*yes = r == 1;
	return 0;
}

static int walk_range(op_source *s, const char *head, const char *base, size_t max,
	char (**shas)[41], size_t *n, op_err *e)
{
	git_revwalk *w = NULL;
	git_oid h, b, oid;
	*shas = NULL;
	*n = 0;
	if (git_oid_fromstr(&h, head) != 0 || (base && git_oid_fromstr(&b, base) != 0))
		return op_err_set(e, OP_EINVAL, "bad commit id");
	if (!base) {
		if (!(*shas = malloc(sizeof **shas)))
			return op_err_set(e, OP_ENOMEM, "out of memory");
		memcpy((*shas)[0], head, 41);
		*n = 1;
		return 0;
	}
	if (git_revwalk_new(&w, s->repo) != 0 || git_revwalk_push(w, &h) != 0 ||
		git_revwalk_hide(w, &b) != 0) {
		git_revwalk_free(w);
		return gerr(e, "walk commits");
	}
	git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL);
	int rc = 0, r;
	size_t cap = 0;
	while ((r = git_revwalk_next(&oid, w)) == 0) {
		if (*n >= max) {
			rc = op_err_set(e, OP_ETOOBIG, "more than %zu commits to verify", max);
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			char(*v)[41] = realloc(*shas, cap * sizeof *v);
			if (!v) {
				rc = op_err_set(e, OP_ENOMEM, "out of memory");
				break;
			}
			*shas = v;
		}
		git_oid_tostr((*shas)[(*n)++], 41, &oid);
	}
	if (rc == 0 && r != GIT_ITEROVER)
		rc = gerr(e, "walk commits");
	git_revwalk_free(w);
	if (rc) {
		free(*shas);
		*shas = NULL;
		*n = 0;
	}
	return rc;
}

int op_source_range(op_source *s, const char *head, const char *base, size_t max, char (**shas)[41],
	size_t *n, op_err *e)
{
	int rc = walk_range(s, head, base, max, shas, n, e), h;
	if (rc == OP_EGIT && (h = heal(s, e)) != 0)
		rc = h > 0 ? walk_range(s, head, base, max, shas, n, e) : h;
	return rc;
}

struct walk {
	op_source *s;
	const char *path;
	op_appset *set;
	op_diags *d;
	int rc;
	op_err *e;
	op_source_blob_fn known;
	void *known_arg;
};

static int on_entry(const char *root, const git_tree_entry *ent, void *arg)
{
	struct walk *w = arg;
	const char *name = git_tree_entry_name(ent);
	if (name[0] == '.')
		return git_tree_entry_type(ent) == GIT_OBJECT_TREE ? 1 : 0; /* skip dot-names */
	if (git_tree_entry_type(ent) != GIT_OBJECT_BLOB || !op_is_manifest_name(name))
		return 0;
	char file[4096];
	snprintf(file, sizeof file, "%s/%s%s", w->path, root, name);
	if (git_tree_entry_filemode(ent) == GIT_FILEMODE_LINK) {
		op_diags_add(w->d, file, 0, 0, "", "a symbolic link: manifests must be files");
		w->set->nfiles++;
		w->set->invalid++;
		return 0;
	}
	char oid[41];
	git_oid_tostr(oid, sizeof oid, git_tree_entry_id(ent));
	if (w->known && w->known(w->known_arg, file, oid))
		return 0;
	git_blob *blob = NULL;
	if (git_blob_lookup(&blob, w->s->repo, git_tree_entry_id(ent)) != 0) {
		w->rc = gerr(w->e, "read manifest blob");
		return -1;
	}
	int r = op_appset_add(
		w->set, file, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), w->d);
	git_blob_free(blob);
	if (r == OP_ENOMEM) {
		w->rc = op_err_set(w->e, OP_ENOMEM, "out of memory");
		return -1;
	}
	return 0;
}

/* *no_dir: the commit was read and has no directory path (not a damaged cache). */
static int read_apps(op_source *s, const char *sha, const char *path, op_appset *set, op_diags *d,
	op_source_blob_fn known, void *known_arg, bool *no_dir, op_err *e)
{
	git_oid oid;
	git_commit *c = NULL;
	git_tree *root = NULL, *sub = NULL;
	git_tree_entry *te = NULL;
	char clean[1024];
	snprintf(clean, sizeof clean, "%s", path);
	for (size_t n = strlen(clean); n > 0 && clean[n - 1] == '/'; n--)
		clean[n - 1] = '\0';
	if (git_oid_fromstr(&oid, sha) != 0 || git_commit_lookup(&c, s->repo, &oid) != 0)
		return op_err_set(e, OP_ENOTFOUND, "commit %s not found", sha);
	int rc = 0;
	if (git_commit_tree(&root, c) != 0) {
		rc = gerr(e, "read tree");
	} else if (!*clean || !strcmp(clean, ".")) {
		sub = root;
		root = NULL;
	} else if (git_tree_entry_bypath(&te, root, clean) != 0 ||
		git_tree_entry_type(te) != GIT_OBJECT_TREE) {
		const git_error *g = te ? NULL : git_error_last();
		if (g && g->klass != GIT_ERROR_TREE) { /* a tree on the way was unreadable */
			rc = gerr(e, "read tree");
		} else {
			*no_dir = true;
			rc = op_err_set(
				e, OP_ENOTFOUND, "no directory %s/ in commit %.12s", clean, sha);
		}
	} else if (git_tree_lookup(&sub, s->repo, git_tree_entry_id(te)) != 0) {
		rc = gerr(e, "read tree");
	}
	if (rc == 0) {
		struct walk w = {s, *clean ? clean : ".", set, d, 0, e, known, known_arg};
		if (git_tree_walk(sub, GIT_TREEWALK_PRE, on_entry, &w) != 0)
			rc = w.rc ? w.rc : gerr(e, "walk tree");
	}
	git_tree_entry_free(te);
	git_tree_free(sub);
	git_tree_free(root);
	git_commit_free(c);
	return rc;
}

int op_source_read_apps(op_source *s, const char *sha, const char *path, op_appset *set,
	op_diags *d, op_source_blob_fn known, void *known_arg, op_err *e)
{
	/* Read again only into a set and diagnostics that started empty: they are emptied. */
	bool no_dir = false, empty = set->nfiles == 0 && d->n == 0;
	size_t limit = d->limit;
	int rc = read_apps(s, sha, path, set, d, known, known_arg, &no_dir, e), h;
	if (rc != 0 && rc != OP_ENOMEM && !no_dir && empty && (h = heal(s, e)) != 0) {
		op_appset_clear(set);
		op_diags_clear(d);
		d->limit = limit;
		rc = h > 0 ? read_apps(s, sha, path, set, d, known, known_arg, &no_dir, e) : h;
	}
	return rc;
}

static int read_blob(op_source *s, const char *blob, char **buf, size_t *len, op_err *e)
{
	git_oid oid;
	git_blob *b = NULL;
	if (git_oid_fromstr(&oid, blob) != 0)
		return op_err_set(e, OP_EINVAL, "not a blob id: %.64s", blob);
	if (git_blob_lookup(&b, s->repo, &oid) != 0)
		return gerr(e, "read manifest blob");
	*len = (size_t)git_blob_rawsize(b);
	*buf = malloc(*len + 1);
	if (*buf) {
		memcpy(*buf, git_blob_rawcontent(b), *len);
		(*buf)[*len] = '\0';
	}
	git_blob_free(b);
	return *buf ? 0 : op_err_set(e, OP_ENOMEM, "out of memory");
}

int op_source_file(op_source *s, const char *sha, const char *path, char blob[41], op_err *e)
{
	git_oid oid;
	git_commit *c = NULL;
	git_tree *root = NULL;
	git_tree_entry *te = NULL;
	if (git_oid_fromstr(&oid, sha) != 0 || git_commit_lookup(&c, s->repo, &oid) != 0)
		return op_err_set(e, OP_ENOTFOUND, "commit %.12s not found", sha);
	int rc = 0;
	if (git_commit_tree(&root, c) != 0)
		rc = gerr(e, "read tree");
	else if (git_tree_entry_bypath(&te, root, path) != 0 ||
		git_tree_entry_type(te) != GIT_OBJECT_BLOB)
		rc = op_err_set(e, OP_ENOTFOUND, "no file %s in commit %.12s", path, sha);
	else
		git_oid_tostr(blob, 41, git_tree_entry_id(te));
	git_tree_entry_free(te);
	git_tree_free(root);
	git_commit_free(c);
	return rc;
}

static int read_tree(op_source *s, const char *id, char **buf, size_t *len, op_err *e)
{
	git_oid oid;
	git_odb *odb = NULL;
	git_odb_object *o = NULL;
	if (git_oid_fromstr(&oid, id) != 0)
		return op_err_set(e, OP_EINVAL, "not a tree id: %.64s", id);
	int rc = 0;
	if (git_repository_odb(&odb, s->repo) != 0 || git_odb_read(&o, odb, &oid) != 0)
		rc = gerr(e, "read tree");
	else if (git_odb_object_type(o) != GIT_OBJECT_TREE)
		rc = op_err_set(e, OP_EINVAL, "object %.12s is not a tree", id);
	else if (!(*buf = malloc(git_odb_object_size(o) + 1)))
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
	if (rc == 0) {
		*len = git_odb_object_size(o);
		memcpy(*buf, git_odb_object_data(o), *len);
	}
	git_odb_object_free(o);
	git_odb_free(odb);
	return rc;
}

int op_source_tree(op_source *s, const char *id, char **buf, size_t *len, op_err *e)
{
	int rc = read_tree(s, id, buf, len, e), h;
	if (rc == OP_EGIT && (h = heal(s, e)) != 0)
		rc = h > 0 ? read_tree(s, id, buf, len, e) : h;
	return rc;
}

int op_source_blob(op_source *s, const char *blob, char **buf, size_t *len, op_err *e)
{
	int rc = read_blob(s, blob, buf, len, e), h;
	if (rc == OP_EGIT && (h = heal(s, e)) != 0)
		rc = h > 0 ? read_blob(s, blob, buf, len, e) : h;
	return rc;
}

void op_source_free(op_source *s)
{
	if (!s)
		return;
	git_repository_free(s->repo);
	free(s->dir);
	free(s->url);
	free(s->shown);
	if (s->secret) {
		explicit_bzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s);
}
