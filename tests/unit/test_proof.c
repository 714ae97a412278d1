/* Unit tests of the revision proof and verification at the edge (agent/wire/gitobj.c,
 * agent/wire/proof.c, agent/trust/edge.c, sync/git/proofgen.c). The objects are real: a git
 * repository made at test time with an SSH-signed commit, read through the sync cache (source.c) as
 * sync reads it; ids are compared with git's own. Every refusal is tested on an
 * otherwise valid proof. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "../t.h"
#include "outpost/agent/model/appset.h"
#include "outpost/agent/trust/edge.h"
#include "outpost/sync/git/proofgen.h"

static const h_key *key;
static h_repo *repo;
static op_source *src;
static const char *trust, *other_trust;
static char head[41];

static const char *app_yaml(const char *name, int n)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: %s}\n"
		     "spec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties: {command: /bin/sleep, args: [\"1000\"]}\n"
		     "      traits:\n        - type: spreadscaler\n"
		     "          properties: {instances: %d}\n",
		name, n);
}

static char *git(const char *fmt, const char *arg)
{
	char *out = NULL;
	h_run(&out,
		"%s"
		"git -C %s %s %s",
		h_git_env(), repo->path, fmt, arg ? arg : "");
	if (out && strchr(out, '\n') && strlen(out) == 41)
		out[40] = '\0';
	return out;
}

static void test_setup(void)
{
	key = h_keygen("ed25519");
	const h_key *other = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && other && repo);
	trust = h_path("allowed_signers");
	other_trust = h_path("other_signers");
	h_write(trust, "test@example.com %s\n", key->pub);
	h_write(other_trust, "test@example.com %s\n", other->pub);
	/* What sync reads under apps/: nested directories, .yml, not dot-names, not other
	 * files, not submodule or tree entries named like manifests. */
	h_repo_write(repo, "apps/web.yaml", "%s", app_yaml("web", 2));
	h_repo_write(repo, "apps/sub/deep/db.yml", "%s", app_yaml("db", 1));
	h_repo_write(repo, "apps/.hidden/x.yaml", "%s", app_yaml("hidden", 1));
	h_repo_write(repo, "apps/.dot.yaml", "%s", app_yaml("dot", 1));
	h_repo_write(repo, "apps/README.md", "not a manifest\n");
	h_repo_write(repo, "apps/dir.yaml/cache.yaml", "%s", app_yaml("cache", 1));
	h_repo_write(repo, "other/x.yaml", "%s", app_yaml("other", 1));
	const char *sha = h_repo_commit(repo, &(h_commit){.key = key, .msg = "apps"});
	T_REQUIRE(sha);
	snprintf(head, sizeof head, "%s", sha);
	op_err e = {0};
	T_REQUIRE(op_source_open(&src, h_path("cache"), repo->path, NULL, &e) == 0);
	char fetched[41];
	T_REQUIRE(op_source_fetch(src, "main", fetched, &e) == 0);
	T_EQ_STR(fetched, head);
}

static void test_hash_matches_git(void)
{
	op_commit c;
	op_err e = {0};
	T_REQUIRE(op_source_commit(src, head, &c, &e) == 0);
	char id[41];
	T_EQ_INT(op_git_hash("commit", c.raw, c.len, id), 0);
	T_EQ_STR(id, head);
	char tree[41];
	T_EQ_INT(op_git_commit_tree(c.raw, c.len, tree, &e), 0);
	char *want = git("rev-parse", h_str("%s^{tree}", head));
	T_EQ_STR(tree, want ? want : "");
	free(want);
	char *raw = NULL;
	size_t len = 0;
	T_REQUIRE(op_source_tree(src, tree, &raw, &len, &e) == 0);
	T_EQ_INT(op_git_hash("tree", raw, len, id), 0);
	T_EQ_STR(id, tree);
	want = git("rev-parse", h_str("%s:apps/web.yaml", head));
	const char *yaml = app_yaml("web", 2);
	T_EQ_INT(op_git_hash("blob", yaml, strlen(yaml), id), 0);
	T_EQ_STR(id, want ? want : "");
	T_EQ_INT(op_git_hash("tag", "", 0, id), OP_EINVAL);
	free(want);
	free(raw);
	op_commit_clear(&c);
}

static void test_tree_entries(void)
{
	op_err e = {0};
	char *tree = git("rev-parse", h_str("%s:apps", head));
	char *raw = NULL;
	size_t len = 0, off = 0;
	T_REQUIRE(tree && op_source_tree(src, tree, &raw, &len, &e) == 0);
	char *ls = git("ls-tree", tree);
	op_git_entry ent;
	int n = 0, rc;
	while ((rc = op_git_tree_next(raw, len, &off, &ent, &e)) == 1) {
		char *line = (char *)h_str("%06o %s %s\t%.*s", ent.mode,
			ent.kind == OP_GIT_TREE ? "tree" : "blob", ent.id, (int)ent.namelen,
			ent.name);
		T_CHECK_MSG(ls && strstr(ls, line), "%s not in git ls-tree:\n%s", line, ls);
		n++;
	}
	T_EQ_INT(rc, 0);
	T_EQ_INT(n, 6); /* .dot.yaml .hidden README.md dir.yaml sub web.yaml */
	free(ls);
	free(tree);
	free(raw);

	/* Malformed trees. */
	static const char id20[] = "0123456789abcdefghij";
	struct {
		const char *raw;
		size_t len;
	} bad[] = {
		{"100644x a\0", 10},
		{"100644 a\0short", 15},
		{"100644 \0"
		 "0123456789abcdefghij",
			28},
		{"100644 a/b\0"
		 "0123456789abcdefghij",
			31},
		{"999 a\0"
		 "0123456789abcdefghij",
			26},
		{"1006440 a\0"
		 "0123456789abcdefghij",
			30},
		{"100644 a", 8},
		{" a\0"
		 "0123456789abcdefghij",
			23},
		{"070000 a\0"
		 "0123456789abcdefghij",
			29},
	};
	(void)id20;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		off = 0;
		T_CHECK_MSG(op_git_tree_next(bad[i].raw, bad[i].len, &off, &ent, &e) == OP_EINVAL,
			"bad tree %zu accepted", i);
	}
	T_EQ_INT(op_git_commit_tree("parent 1\n", 9, (char[41]){0}, &e), OP_EINVAL);
}

struct names {
	char *all;
};

static int collect(void *arg, const char *file, const char *blob, op_err *e)
{
	struct names *n = arg;
	(void)e;
	char *s = NULL;
	if (asprintf(&s, "%s%s=%.7s;", n->all ? n->all : "", file, blob) < 0)
		return OP_ENOMEM;
	free(n->all);
	n->all = s;
	return 0;
}

static bool known_none(void *arg, const char *file, const char blob[41])
{
	struct names *n = arg;
	collect(n, file, blob, NULL);
	return true; /* do not parse: only the names are wanted */
}

/* The proof's walk lists exactly the files sync's own walk (libgit2) reads. */
static void test_walk_equals_sync(void)
{
	const char *paths[] = {"apps", "apps/", "apps/sub", ".", "", "other"};
	for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
		op_commit c;
		op_err e = {0};
		T_REQUIRE(op_source_commit(src, head, &c, &e) == 0);
		op_proof p;
		op_blob_ids blobs;
		int brc = op_proof_build(src, &c, paths[i], &p, &blobs, &e);
		T_CHECK_MSG(brc == 0, "path %s: %s", paths[i], e.msg);
		T_REQUIRE(brc == 0);
		struct names mine = {0}, sync = {0};
		T_EQ_INT(op_proof_files(&p, collect, &mine, &e), 0);
		op_appset set = {0};
		op_diags d = {0};
		T_EQ_INT(op_source_read_apps(src, head, paths[i], &set, &d, known_none, &sync, &e),
			0);
		T_CHECK_MSG(mine.all && sync.all && !strcmp(mine.all, sync.all),
			"path %s: proof lists %s, sync reads %s", paths[i], mine.all, sync.all);
		op_appset_clear(&set);
		op_diags_clear(&d);
		free(mine.all);
		free(sync.all);
		op_blob_ids_clear(&blobs);
		op_proof_clear(&p);
		op_commit_clear(&c);
	}
	/* A path that is not a directory of the commit: a proof of no apps (the trees
	 * walked show it is not there), which the walk itself reports as OP_ENOTFOUND. */
	op_commit c;
	op_err e = {0};
	op_proof p;
	op_blob_ids blobs;
	T_REQUIRE(op_source_commit(src, head, &c, &e) == 0);
	const char *gone[] = {"nope", "apps/web.yaml"};
	for (int i = 0; i < 2; i++) {
		T_EQ_INT(op_proof_build(src, &c, gone[i], &p, &blobs, &e), 0);
		T_EQ_INT((int)blobs.n, 0);
		T_EQ_INT(op_proof_files(&p, NULL, NULL, &e), OP_ENOTFOUND);
		op_proof_clear(&p);
		op_blob_ids_clear(&blobs);
	}
	op_commit_clear(&c);
}

/* ---- a whole proof: encode, decode, and the edge's verdict ---------------------------- */

typedef struct fixture {
	op_proof p;
	op_blob_ids blobs;
	char *json;
	size_t len;
	op_marker m;
	char *blob_bytes[16];
	size_t blob_len[16];
} fixture;

static int fx_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	fixture *f = arg;
	for (size_t i = 0; i < f->blobs.n; i++)
		if (!strcmp(f->blobs.v[i], id) && f->blob_bytes[i]) {
			*buf = f->blob_bytes[i];
			*len = f->blob_len[i];
			return 0;
		}
	return OP_ENOTFOUND;
}

static bool fx_make(fixture *f)
{
	memset(f, 0, sizeof *f);
	op_commit c;
	op_err e = {0};
	if (op_source_commit(src, head, &c, &e) != 0 ||
		op_proof_build(src, &c, "apps", &f->p, &f->blobs, &e) != 0 ||
		op_proof_encode(&f->p, &f->json, &f->len, &e) != 0)
		return false;
	op_commit_clear(&c);
	/* The marker sync would write: the apps under apps/ and their digests. */
	op_appset set = {0};
	op_diags d = {0};
	if (op_source_read_apps(src, head, "apps", &set, &d, NULL, NULL, &e) != 0 || d.n)
		return false;
	memcpy(f->m.commit, head, 41);
	f->m.seq = 7;
	snprintf(f->m.signer, sizeof f->m.signer, "hub says");
	f->m.apps = calloc(set.n, sizeof *f->m.apps);
	for (size_t i = 0; i < set.n; i++) {
		char *json;
		size_t len;
		op_manifest_to_json(set.apps[i], &json, &len);
		snprintf(f->m.apps[i].name, sizeof f->m.apps[i].name, "%s", set.apps[i]->name);
		op_digest(json, len, f->m.apps[i].digest);
		free(json);
	}
	f->m.napps = set.n;
	/* sorted by name, as the marker lists them */
	for (size_t i = 1; i < f->m.napps; i++)
		for (size_t j = i; j > 0 && strcmp(f->m.apps[j - 1].name, f->m.apps[j].name) > 0;
			j--) {
			op_marker_app t = f->m.apps[j];
			f->m.apps[j] = f->m.apps[j - 1];
			f->m.apps[j - 1] = t;
		}
	op_appset_clear(&set);
	for (size_t i = 0; i < f->blobs.n && i < 16; i++)
		if (op_source_blob(src, f->blobs.v[i], &f->blob_bytes[i], &f->blob_len[i], &e) != 0)
			return false;
	return true;
}

static void fx_free(fixture *f)
{
	for (size_t i = 0; i < 16; i++)
		free(f->blob_bytes[i]);
	op_blob_ids_clear(&f->blobs);
	op_proof_clear(&f->p);
	free(f->json);
	op_marker_clear(&f->m);
}

static int verify(fixture *f, const char *trust_file, const char *path, op_revision *r, op_err *e)
{
	op_policy *pol = NULL;
	if (op_policy_load(&pol, trust_file, NULL, false, e) != 0)
		return -100;
	int rc = op_edge_verify(pol, path, &f->m, f->json, f->json ? f->len : 0, fx_blob, f, r, e);
	op_policy_free(pol);
	return rc;
}

static void test_proof_round_trip(void)
{
	fixture f;
	T_REQUIRE(fx_make(&f));
	op_proof q;
	op_err e = {0};
	T_EQ_INT(op_proof_decode(f.json, f.len, &q, &e), 0);
	T_EQ_STR(q.commit, head);
	T_EQ_STR(q.path, "apps");
	T_EQ_INT((int)q.ntrees, (int)f.p.ntrees);
	T_EQ_INT((int)q.ntrees, 5); /* root, apps, apps/sub, apps/sub/deep, apps/dir.yaml */
	char *again = NULL;
	size_t len = 0;
	T_EQ_INT(op_proof_encode(&q, &again, &len, &e), 0);
	T_CHECK(again && len == f.len && !memcmp(again, f.json, len));
	free(again);
	op_proof_clear(&q);
	T_EQ_INT((int)f.blobs.n, 3); /* web, db, cache */
	fx_free(&f);
}

static void test_proof_decode_refusals(void)
{
	fixture f;
	T_REQUIRE(fx_make(&f));
	const char *good = f.json;
	const char *obj = strstr(good, "\"object\":\"") + 10;
	const char *bad[] = {
		"",
		"[]",
		"{}",
		h_str("%.*s\"format\":2%s", (int)(strstr(good, "\"format\":1") - good), good,
			strstr(good, "\"format\":1") + 10),
		h_str("%.*s\"path\":\"\"%s", (int)(strstr(good, "\"path\":") - good), good,
			strstr(good, "\"path\":\"apps\"") + 13),
		h_str("%.*s!%s", (int)(obj - good), good, obj + 1), /* not base64 */
		h_str("%.*sA%s", (int)(obj - good), good, obj + 1), /* another commit object */
		h_str("%.*s,\"extra\":1}", (int)(f.len - 1), good),
		h_str("%.*s\"trees\":[\"!!\"]}", (int)(strstr(good, "\"trees\":") - good), good),
		h_str("%.*s\"commit\":\"%040d\"%s", (int)(strstr(good, "\"commit\":") - good), good,
			0, strstr(good, "\"commit\":") + 9 + 42),
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		op_proof q;
		op_err e = {0};
		int rc = op_proof_decode(bad[i], strlen(bad[i]), &q, &e);
		T_CHECK_MSG(rc == OP_EINVAL, "case %zu: %d (%s)", i, rc, e.msg);
	}
	fx_free(&f);
}

static void test_edge_accepts(void)
{
	fixture f;
	T_REQUIRE(fx_make(&f));
	op_revision r;
	op_err e = {0};
	T_EQ_INT(verify(&f, trust, "apps/", &r, &e), 0);
	T_EQ_INT((int)r.napps, 3);
	T_EQ_STR(r.marker.signer, "test@example.com"); /* the site's reading, not the hub's */
	T_EQ_INT((int)r.marker.seq, 7);
	op_revision_clear(&r);
	fx_free(&f);
}

static void test_edge_refusals(void)
{
	op_revision r;
	op_err e = {0};
	fixture f;
	T_REQUIRE(fx_make(&f));

	/* Signed by a key the site's policy does not list. */
	T_EQ_INT(verify(&f, other_trust, "apps", &r, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "not-listed"));
	/* A proof for another path than the site reads. */
	T_EQ_INT(verify(&f, trust, "other", &r, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "path"));
	/* No proof at all. */
	char *json = f.json;
	f.json = NULL;
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ETRUST);
	f.json = json;
	/* The marker names another commit: the proof of the next revision, its marker on
	 * its way (a wait, not a refusal). */
	f.m.commit[0] = f.m.commit[0] == 'a' ? 'b' : 'a';
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ENOTFOUND);
	T_CHECK(strstr(e.msg, "the proof is for commit"));
	f.m.commit[0] = head[0];
	/* A digest the YAML does not yield. */
	char save = f.m.apps[0].digest[10];
	f.m.apps[0].digest[10] = save == '0' ? '1' : '0';
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "the signed manifest yields"));
	f.m.apps[0].digest[10] = save;
	/* An app the commit does not hold; an app the marker leaves out. */
	f.m.napps--;
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "the commit holds 3 apps"));
	f.m.napps++;
	snprintf(f.m.apps[0].name, sizeof f.m.apps[0].name, "aaa");
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "which the signed commit does not hold"));
	fx_free(&f);

	/* A blob whose bytes are not its id's; a blob not here yet (wait, not refuse). */
	T_REQUIRE(fx_make(&f));
	f.blob_bytes[0][f.blob_len[0] - 2] ^= 1;
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ETRUST);
	T_CHECK(strstr(e.msg, "hashes to"));
	free(f.blob_bytes[0]);
	f.blob_bytes[0] = NULL;
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ENOTFOUND);
	fx_free(&f);

	/* A proof missing a tree on the way. */
	T_REQUIRE(fx_make(&f));
	op_proof q;
	T_REQUIRE(op_proof_decode(f.json, f.len, &q, &e) == 0);
	free(q.trees[0].raw);
	q.ntrees--;
	memmove(&q.trees[0], &q.trees[1], q.ntrees * sizeof q.trees[0]);
	free(f.json);
	T_REQUIRE(op_proof_encode(&q, &f.json, &f.len, &e) == 0);
	op_proof_clear(&q);
	T_EQ_INT(verify(&f, trust, "apps", &r, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "missing"), "%s", e.msg);
	fx_free(&f);
}

/* A synced path the signed commit does not hold: the proof carries the trees walked to
 * prove it (no blobs), and the edge takes it as a revision of no apps, as the marker
 * must then say; a marker that lists apps there is refused. */
static void test_path_gone(void)
{
	op_commit c;
	op_err e = {0};
	fixture f;
	memset(&f, 0, sizeof f);
	T_REQUIRE(op_source_commit(src, head, &c, &e) == 0);
	T_EQ_INT(op_proof_build(src, &c, "gone/away", &f.p, &f.blobs, &e), 0);
	op_commit_clear(&c);
	T_EQ_INT((int)f.blobs.n, 0);
	T_EQ_INT((int)f.p.ntrees, 1); /* the root, which has no "gone" */
	T_REQUIRE(op_proof_encode(&f.p, &f.json, &f.len, &e) == 0);
	memcpy(f.m.commit, head, 41);
	f.m.seq = 8;
	op_revision r;
	T_EQ_INT(verify(&f, trust, "gone/away", &r, &e), 0);
	T_EQ_INT((int)r.napps, 0);
	op_revision_clear(&r);
	f.m.apps = calloc(1, sizeof *f.m.apps);
	T_REQUIRE(f.m.apps);
	snprintf(f.m.apps[0].name, sizeof f.m.apps[0].name, "web");
	f.m.napps = 1;
	T_EQ_INT(verify(&f, trust, "gone/away", &r, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "no directory") || strstr(e.msg, "not"), "%s", e.msg);
	fx_free(&f);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_hash_matches_git);
		T_RUN(test_tree_entries);
		T_RUN(test_walk_equals_sync);
		T_RUN(test_proof_round_trip);
		T_RUN(test_proof_decode_refusals);
		T_RUN(test_edge_accepts);
		T_RUN(test_edge_refusals);
		T_RUN(test_path_gone);
	}
	op_source_free(src);
	return t_done();
}
