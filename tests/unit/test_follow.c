/* Unit tests of sites following signed rotations (agent/trust/follow.c), over proofs the
 * hub builds (sync/git/proofgen.c) from real repositories with SSH-signed commits, read
 * through the sync cache as sync reads them. One repository rotates A -> A,B (signed by
 * A), then revokes A (signed by B); another has C, whom the site does not trust, rotate
 * itself in. Every refusal is tested on an otherwise valid proof. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"
#include "../t.h"
#include "outpost/agent/trust/follow.h"
#include "outpost/sync/git/proofgen.h"

static const h_key *ka, *kb, *kc;
static const char *trust_a; /* the site's --trust file: A */
static const char *site_file; /* the one follow() passes: trust_a unless a test says */
static h_repo *repo, *repo2;
static op_source *src, *src2;
/* repo: c1 apps (A); c2 allowed_signers A,B (A); c3 change (B); c4 revoked A (B); c5
 * change (A, revoked); c6 change (B). repo2: d1 apps (A); d2 C rotates in (C); d3 (A). */
static char c1[41], c2[41], c3[41], c4[41], c5[41], c6[41], d1[41], d2[41], d3[41];

static const char *app_yaml(int n)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: web}\n"
		     "spec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties: {command: /bin/sleep, args: [\"1000\"]}\n"
		     "      traits:\n        - type: spreadscaler\n"
		     "          properties: {instances: %d}\n",
		n);
}

static void commit(h_repo *r, const h_key *k, char out[41])
{
	const char *sha = h_repo_commit(r, &(h_commit){.key = k, .msg = "change"});
	snprintf(out, 41, "%s", sha ? sha : "");
}

/* ---- blobs, as a site's bucket holds them --------------------------------------------- */

struct blobs {
	op_source *src;
	char *held[64];
	int n;
	bool tamper; /* hand out altered bytes */
	bool absent; /* hold none */
};

static int get_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	struct blobs *b = arg;
	op_err e = {0};
	char *raw = NULL;
	if (b->absent || b->n >= 64 || op_source_blob(b->src, id, &raw, len, &e) != 0)
		return OP_ENOTFOUND;
	if (b->tamper && *len)
		raw[0] ^= 1;
	b->held[b->n++] = raw;
	*buf = raw;
	return 0;
}

static void blobs_free(struct blobs *b)
{
	for (int i = 0; i < b->n; i++)
		free(b->held[i]);
	b->n = 0;
}

static int build(op_source *s, const char *sha, op_proof *p)
{
	op_err e = {0};
	op_commit c;
	op_blob_ids ids;
	int rc = op_source_commit(s, sha, &c, &e);
	if (rc == 0) {
		rc = op_proof_build(s, &c, "apps", p, &ids, &e);
		op_commit_clear(&c);
	}
	if (rc == 0)
		op_blob_ids_clear(&ids);
	else
		fprintf(stderr, "  build %.12s: %s\n", sha, e.msg);
	return rc;
}

/* Follows p from held (NULL: the --trust file A); the verdict on the head under the
 * policy found, in *head_ok. */
static int follow(const op_proof *p, const op_follow_policy *held, struct blobs *b,
	op_follow_policy *next, bool *head_ok, op_err *e)
{
	static const op_follow_policy none;
	char *text = h_read(site_file);
	op_follow_in in = {held ? held : &none, site_file, text, strlen(text ? text : ""), NULL, p,
		get_blob, b};
	op_policy *pol = NULL;
	int rc = op_follow(&in, &pol, next, e);
	if (rc == 0) {
		op_commit c = {.raw = p->object, .len = p->olen};
		char signer[256];
		op_err ve = {0};
		memcpy(c.sha, p->commit, sizeof c.sha);
		*head_ok = op_policy_verify_commit(pol, &c, signer, &ve) == 0;
		if (!*head_ok)
			snprintf(e->msg, sizeof e->msg, "%s", ve.msg);
	}
	op_policy_free(pol);
	free(text);
	return rc;
}

static void test_setup(void)
{
	ka = h_keygen("ed25519");
	kb = h_keygen("ed25519");
	kc = h_keygen("ecdsa");
	repo = h_repo_new("fleet");
	repo2 = h_repo_new("fleet2");
	T_REQUIRE(ka && kb && kc && repo && repo2);
	trust_a = h_path("site_signers");
	h_write(trust_a, "test@example.com %s\n", ka->pub);
	site_file = trust_a;
	h_repo_write(repo, "apps/web.yaml", "%s", app_yaml(1));
	commit(repo, ka, c1);
	h_repo_write(repo, ".outpost/allowed_signers", "test@example.com %s\ntest@example.com %s\n",
		ka->pub, kb->pub);
	commit(repo, ka, c2);
	h_repo_write(repo, "apps/web.yaml", "%s", app_yaml(2));
	commit(repo, kb, c3);
	h_repo_write(repo, ".outpost/revoked", "%s\n", ka->pub);
	commit(repo, kb, c4);
	h_repo_write(repo, "apps/web.yaml", "%s", app_yaml(3));
	commit(repo, ka, c5);
	h_repo_write(repo, "apps/web.yaml", "%s", app_yaml(4));
	commit(repo, kb, c6);
	h_repo_write(repo2, "apps/web.yaml", "%s", app_yaml(1));
	commit(repo2, ka, d1);
	h_repo_write(repo2, ".outpost/allowed_signers",
		"test@example.com %s\ntest@example.com %s\n", ka->pub, kc->pub);
	commit(repo2, kc, d2);
	h_repo_write(repo2, "apps/web.yaml", "%s", app_yaml(2));
	commit(repo2, ka, d3);
	T_REQUIRE(c6[0] && d3[0]);
	op_err e = {0};
	char head[41];
	T_REQUIRE(op_source_open(&src, h_path("cache"), repo->path, NULL, &e) == 0);
	T_REQUIRE(op_source_fetch(src, "main", head, &e) == 0);
	T_REQUIRE(op_source_open(&src2, h_path("cache2"), repo2->path, NULL, &e) == 0);
	T_REQUIRE(op_source_fetch(src2, "main", head, &e) == 0);
}

/* c1 has no .outpost: format 1, the site's file in force, nothing to follow. */
static void test_no_change(void)
{
	op_proof p;
	T_REQUIRE(build(src, c1, &p) == 0);
	T_EQ_INT((int)p.ncommits, 0);
	char *json = NULL;
	size_t len = 0;
	op_err e = {0};
	T_REQUIRE(op_proof_encode(&p, &json, &len, &e) == 0);
	T_CHECK(strstr(json, "\"format\":1,") && !strstr(json, "commits"));
	free(json);
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok = false;
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK(ok);
	T_EQ_STR(next.ref.trust, "");
	T_EQ_STR(next.commit, "");
	op_follow_policy_clear(&next);
	blobs_free(&b);
	op_proof_clear(&p);
}

/* c3 (B) arrives with the rotation c2 (A) that trusts B: one proof carries both. */
static void test_rotation_and_first_commit_together(void)
{
	op_proof p;
	T_REQUIRE(build(src, c3, &p) == 0);
	T_EQ_INT((int)p.ncommits, 2); /* c2, and c1 below it */
	T_EQ_STR(p.commits[0].id, c2);
	T_EQ_STR(p.commits[1].id, c1);
	char *json = NULL;
	size_t len = 0;
	op_err e = {0};
	op_proof back;
	T_REQUIRE(op_proof_encode(&p, &json, &len, &e) == 0);
	T_CHECK(strstr(json, "\"format\":2,") && strstr(json, "\"commits\":["));
	T_REQUIRE(op_proof_decode(json, len, &back, &e) == 0);
	T_EQ_INT((int)back.ncommits, 2);
	T_EQ_STR(back.commits[1].id, c1);
	free(json);
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok = false;
	T_EQ_INT(follow(&back, NULL, &b, &next, &ok, &e), 0);
	T_CHECK_MSG(ok, "%s", e.msg);
	T_EQ_STR(next.commit, c2);
	T_CHECK(next.ref.trust[0] && !next.ref.revoked[0] && next.trust);
	/* c2 itself offered again to a site that adopted its policy: it stands before c2. */
	op_proof p2;
	op_follow_policy from_c2, same;
	T_REQUIRE(build(src, c2, &p2) == 0);
	T_EQ_INT(follow(&p2, NULL, &b, &from_c2, &ok, &e), 0);
	T_CHECK(ok && !strcmp(from_c2.commit, c2));
	T_EQ_INT(follow(&p2, &from_c2, &b, &same, &ok, &e), 0);
	T_CHECK_MSG(ok && !strcmp(same.commit, c2), "%s", e.msg);
	op_follow_policy_clear(&same);
	op_follow_policy_clear(&from_c2);
	op_proof_clear(&p2);
	/* A site that already follows c2's policy: the same. */
	op_follow_policy held, again;
	T_REQUIRE(op_follow_policy_copy(&held, &next, &e) == 0);
	T_EQ_INT(follow(&back, &held, &b, &again, &ok, &e), 0);
	T_CHECK(ok && !strcmp(again.commit, c2));
	op_follow_policy_clear(&again);
	op_follow_policy_clear(&held);
	op_follow_policy_clear(&next);
	blobs_free(&b);
	op_proof_clear(&back);
	op_proof_clear(&p);
}

/* Offline since c1: c6 (B) comes with two changes, c2 (A: A,B) and c4 (B: A revoked,
 * the revoked file alone changing). */
static void test_two_rotations_skipped(void)
{
	op_proof p;
	T_REQUIRE(build(src, c6, &p) == 0);
	T_EQ_INT((int)p.ncommits, 5);
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok = false;
	op_err e = {0};
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK_MSG(ok, "%s", e.msg);
	T_EQ_STR(next.commit, c4);
	T_CHECK(next.ref.revoked[0] && next.revoked && strstr(next.revoked, ka->pub));
	op_follow_policy_clear(&next);
	/* A blob not here yet: wait. */
	struct blobs none = {.src = src, .absent = true};
	T_EQ_INT(follow(&p, NULL, &none, &next, &ok, &e), OP_ENOTFOUND);
	T_CHECK(strstr(e.msg, "not here yet"));
	/* A policy blob with other bytes than its id. */
	struct blobs bad = {.src = src, .tamper = true};
	T_EQ_INT(follow(&p, NULL, &bad, &next, &ok, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "hashes to"), "%s", e.msg);
	blobs_free(&bad);
	blobs_free(&b);
	op_proof_clear(&p);
}

/* c5 is signed by A after c4 revoked A (the hub refuses it; a hub that published it
 * anyway is refused at the site). */
static void test_revoked_key(void)
{
	op_proof p;
	T_REQUIRE(build(src, c5, &p) == 0);
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok = true;
	op_err e = {0};
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK(!ok);
	T_CHECK_MSG(strstr(e.msg, "revoked"), "%s", e.msg);
	op_follow_policy_clear(&next);
	blobs_free(&b);
	op_proof_clear(&p);
}

/* repo2: C rotates itself in; the site does not trust C. */
static void test_untrusted_rotation(void)
{
	op_proof p;
	op_err e = {0};
	struct blobs b = {.src = src2};
	op_follow_policy next;
	bool ok = true;
	/* The rotation as the head: verified under the site's file, refused. */
	T_REQUIRE(build(src2, d2, &p) == 0);
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK(!ok && strstr(e.msg, "not-listed"));
	op_follow_policy_clear(&next);
	op_proof_clear(&p);
	/* Behind A's next commit: the chain's step is refused, naming the commit. */
	T_REQUIRE(build(src2, d3, &p) == 0);
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, h_str("commit %.12s changes the trust policy", d2)) &&
			strstr(e.msg, "not-listed"),
		"%s", e.msg);
	blobs_free(&b);
	op_proof_clear(&p);
}

/* A hub that leaves c2's trees out: the site sees the head (c3) change the policy itself
 * and verifies it under the site's file: B is refused. */
static void test_hidden_rotation(void)
{
	op_proof p;
	op_err e = {0};
	T_REQUIRE(build(src, c3, &p) == 0);
	char root[41];
	T_REQUIRE(op_git_commit_tree(p.commits[0].raw, p.commits[0].len, root, &e) == 0);
	const op_proof_tree *t = op_proof_find(&p, root);
	T_REQUIRE(t);
	size_t at = (size_t)(t - p.trees);
	free(p.trees[at].raw);
	memmove(&p.trees[at], &p.trees[at + 1], (p.ntrees - at - 1) * sizeof *p.trees);
	p.ntrees--;
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok = true;
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK(!ok && strstr(e.msg, "not-listed"));
	T_EQ_STR(next.commit, c3); /* had it verified, the head would have brought it */
	op_follow_policy_clear(&next);
	blobs_free(&b);
	op_proof_clear(&p);
}

/* The chain with a commit left out, or one altered: its links do not hold. */
static void test_broken_chain(void)
{
	op_proof p;
	op_err e = {0};
	T_REQUIRE(build(src, c6, &p) == 0);
	free(p.commits[1].raw);
	memmove(&p.commits[1], &p.commits[2], (p.ncommits - 2) * sizeof *p.commits);
	p.ncommits--;
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok;
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "does not link"), "%s", e.msg);
	op_proof_clear(&p);
	/* An altered commit object: its id is another, so its child's link breaks. */
	op_proof q, r = {0};
	T_REQUIRE(build(src, c6, &q) == 0);
	T_REQUIRE(op_proof_set_commit(&r, q.object, q.olen, &e) == 0);
	for (size_t i = 0; i < q.ntrees; i++)
		T_REQUIRE(op_proof_add_tree(&r, q.trees[i].raw, q.trees[i].len, &e) == 0);
	for (size_t i = 0; i < q.ncommits; i++) {
		char *raw = (char *)h_str("%s", q.commits[i].raw);
		char *msg = strstr(raw, "\nchange");
		if (i == 2 && msg)
			msg[1] = 'C';
		T_REQUIRE(op_proof_add_commit(&r, raw, q.commits[i].len, &e) == 0);
	}
	snprintf(r.path, sizeof r.path, "%s", q.path);
	T_EQ_INT(follow(&r, NULL, &b, &next, &ok, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "does not link"), "%s", e.msg);
	blobs_free(&b);
	op_proof_clear(&r);
	op_proof_clear(&q);
}

/* A site whose policy the chain does not hold: refused, saying how to reset it. */
static void test_policy_not_in_chain(void)
{
	op_proof p;
	op_err e = {0};
	T_REQUIRE(build(src, c6, &p) == 0);
	op_follow_policy held = {0};
	memset(held.ref.trust, 'a', OP_GIT_ID_LEN);
	held.trust = strdup("x");
	held.tlen = 1;
	snprintf(held.commit, sizeof held.commit, "%s", c1);
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok;
	T_EQ_INT(follow(&p, &held, &b, &next, &ok, &e), OP_ETRUST);
	T_CHECK_MSG(strstr(e.msg, "is not in the proof's chain") && strstr(e.msg, "--trust"), "%s",
		e.msg);
	op_follow_policy_clear(&held);
	blobs_free(&b);
	op_proof_clear(&p);
}

/* An operator resets a site with a copy of the repository's file (A,B): the site finds
 * it in the chain (c4's and c5's trees name it, with A revoked) and stands there. */
static void test_reset_to_repository_copy(void)
{
	op_proof p;
	op_err e = {0};
	T_REQUIRE(build(src, c6, &p) == 0);
	const char *copy = h_path("copy_signers");
	h_write(copy, "test@example.com %s\ntest@example.com %s\n", ka->pub, kb->pub);
	site_file = copy;
	struct blobs b = {.src = src};
	op_follow_policy next;
	bool ok = false;
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK_MSG(ok, "%s", e.msg);
	T_EQ_STR(next.commit, c4); /* the oldest point of that policy: A's revocation */
	T_CHECK(next.ref.revoked[0]);
	op_follow_policy_clear(&next);
	/* A copy with other bytes (a comment added) is no point of the chain but its start
	 * (c1, no .outpost): from there both changes verify under it. */
	h_write(copy, "# copy\ntest@example.com %s\ntest@example.com %s\n", ka->pub, kb->pub);
	T_EQ_INT(follow(&p, NULL, &b, &next, &ok, &e), 0);
	T_CHECK(ok && !strcmp(next.commit, c4));
	op_follow_policy_clear(&next);
	site_file = trust_a;
	blobs_free(&b);
	op_proof_clear(&p);
}

/* The decoder: format 2 needs its commits, format 1 has none. */
static void test_decoder_formats(void)
{
	op_proof p;
	op_err e = {0};
	T_EQ_INT(op_proof_decode("{\"format\":2,\"commit\":\"x\",\"path\":\"apps\",\"object\":"
				 "\"\",\"trees\":[]}",
			 strlen("{\"format\":2,\"commit\":\"x\",\"path\":\"apps\",\"object\":"
				"\"\",\"trees\":[]}"),
			 &p, &e),
		OP_EINVAL);
	T_CHECK(strstr(e.msg, "commits"));
	const char *one = "{\"commits\":[],\"format\":1,\"commit\":\"x\",\"path\":\"apps\","
			  "\"object\":\"\",\"trees\":[]}";
	T_EQ_INT(op_proof_decode(one, strlen(one), &p, &e), OP_EINVAL);
	const char *empty = "{\"commits\":[],\"format\":2,\"commit\":\"x\",\"path\":\"apps\","
			    "\"object\":\"\",\"trees\":[]}";
	T_EQ_INT(op_proof_decode(empty, strlen(empty), &p, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "commits"));
	op_proof q = {0};
	for (int i = 0; i < OP_PROOF_MAX_CHAIN; i++)
		T_REQUIRE(op_proof_add_commit(&q, "x", 1, &e) == 0);
	T_EQ_INT(op_proof_add_commit(&q, "x", 1, &e), OP_ETOOBIG);
	op_proof_clear(&q);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_no_change);
		T_RUN(test_rotation_and_first_commit_together);
		T_RUN(test_two_rotations_skipped);
		T_RUN(test_revoked_key);
		T_RUN(test_untrusted_rotation);
		T_RUN(test_hidden_rotation);
		T_RUN(test_broken_chain);
		T_RUN(test_policy_not_in_chain);
		T_RUN(test_reset_to_repository_copy);
		T_RUN(test_decoder_formats);
	}
	op_source_free(src);
	op_source_free(src2);
	return t_done();
}
