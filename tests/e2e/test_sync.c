/* `outpost sync` end to end: real git repositories with SSH-signed commits, a real hub
 * nats-server, the real binary. Each case starts its own hub and repository and looks
 * at what the hub's bucket holds afterwards. */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hubfx.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin;
static const h_key *other;

static const char *commit(fx *f, const h_key *key, const char *msg)
{
	return h_repo_commit(f->repo, &(h_commit){.key = key, .msg = msg});
}

/* Runs one pass; returns the exit code, *log gets stderr (caller frees) if not NULL. */
static int sync_once(fx *f, const char *extra, char **log)
{
	char *err = NULL;
	int rc = h_run2(NULL, &err, "%s sync --once --repo %s --trust %s --state %s --nats %s %s",
		bin, f->repo->path, f->trust, f->state, h_nats_url(f->hub), extra ? extra : "");
	if (log)
		*log = err;
	else
		free(err);
	return rc;
}

/* The hub stream's last sequence: unchanged means nothing was written at all. */
static uint64_t last_seq(fx *f)
{
	jsStreamInfo *si = NULL;
	if (js_GetStreamInfo(&si, f->js, "KV_outpost", NULL, NULL) != NATS_OK)
		return 0;
	uint64_t s = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return s;
}

static void test_accepted_signed_commit(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "accept"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 3));
	h_repo_write(f.repo, "README", "not under apps/");
	const char *sha = commit(&f, fx_ed, "two apps");
	T_REQUIRE(sha);
	char *log = NULL;
	T_EQ_INT(sync_once(&f, NULL, &log), 0);
	T_CHECK(log && strstr(log, "outcome=accepted"));
	free(log);
	char *a = fx_get(&f, "app.alpha"), *rev = fx_get(&f, "rev");
	T_CHECK(a && strstr(a, "\"format\":1") && strstr(a, "\"instances\":2"));
	T_CHECK(rev && strstr(rev, h_str("\"commit\":\"%s\"", sha)));
	T_CHECK(rev && strstr(rev, "\"seq\":1") && strstr(rev, "\"signer\":\"test@example.com\""));
	T_CHECK(rev && strstr(rev, "\"alpha\":\"sha256:") && strstr(rev, "\"beta\":\"sha256:"));
	/* The value is what `outpost validate --json` prints for the same file. */
	char *json = NULL;
	h_run(&json, "%s validate --json %s/apps/alpha.yaml", bin, f.repo->path);
	T_CHECK(a && json && strncmp(json, a, strlen(a)) == 0);
	free(json), free(a), free(rev);

	/* The same head again writes nothing. */
	uint64_t seq = last_seq(&f);
	T_CHECK(seq > 0);
	T_EQ_INT(sync_once(&f, NULL, &log), 0);
	T_CHECK(log && strstr(log, "outcome=unchanged"));
	free(log);
	T_EQ_INT(last_seq(&f), seq);

	/* A proof that is lost (or a bucket from before proofs) is published again by a pass
	 * that finds the revision in place: blobs first, then the proof; nothing else. */
	T_REQUIRE(kvStore_Delete(fx_kv(&f), "proof") == NATS_OK);
	seq = last_seq(&f);
	char *plog = NULL;
	T_EQ_INT(sync_once(&f, NULL, &plog), 0);
	T_CHECK_MSG(plog && strstr(plog, "proof of the current revision published") &&
			strstr(plog, "outcome=unchanged"),
		"%s", plog);
	free(plog);
	char *proof = fx_get(&f, "proof");
	T_CHECK(proof && strstr(proof, h_repo_rev(f.repo, "HEAD")));
	free(proof);
	T_EQ_INT(last_seq(&f), seq + 1); /* the blobs were all there: the proof alone */
	seq = last_seq(&f);

	/* The manifest index under --state is only a cache: garbage in it changes nothing. */
	h_write(h_str("%s/manifests.idx", f.state), "outpost-mindex 1 format 1\ngarbage\n");
	/* One app changed: its put, its new blob, its old blob deleted, the proof, the
	 * marker. */
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 5));
	const char *sha2 = commit(&f, fx_ed, "scale beta");
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	T_EQ_INT(last_seq(&f), seq + 5);
	rev = fx_get(&f, "rev");
	T_CHECK(rev && strstr(rev, sha2) && strstr(rev, "\"seq\":2"));
	free(rev);
	fx_stop(&f);
}

/* A head the policy refuses leaves the bucket as it was. */
static void expect_refused(fx *f, const char *extra, const char *why)
{
	uint64_t seq = last_seq(f);
	char *log = NULL;
	T_EQ_INT(sync_once(f, extra, &log), 1);
	T_CHECK_MSG(log && strstr(log, "outcome=rejected") && strstr(log, why),
		"expected a rejection for \"%s\", log: %s", why, log ? log : "");
	free(log);
	T_EQ_INT(last_seq(f), seq);
}

static void test_refused_signatures(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "refuse"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, NULL, "unsigned"));
	expect_refused(&f, NULL, "(unsigned)");
	T_REQUIRE(commit(&f, other, "signed by a key not in the policy"));
	expect_refused(&f, NULL, "(not-listed)");

	/* Outside valid-before, wrong namespace, revoked. */
	T_REQUIRE(commit(&f, fx_ed, "good key"));
	h_write(f.trust, "test@example.com namespaces=\"git\",valid-before=\"20200101\" %s\n",
		fx_ed->pub);
	expect_refused(&f, NULL, "(expired)");
	h_write(f.trust, "test@example.com namespaces=\"file\" %s\n", fx_ed->pub);
	expect_refused(&f, NULL, "(namespace-denied)");
	h_write(f.trust, "test@example.com namespaces=\"git\" %s\n", fx_ed->pub);
	const char *revoked = h_path("revoked");
	h_write(revoked, "%s\n", fx_ed->pub);
	expect_refused(&f, h_str("--revoked %s", revoked), "(revoked)");
	/* With the policy restored the same head is accepted. */
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	fx_stop(&f);
}

static void test_copied_signature(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "copied"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	const char *a = commit(&f, fx_ed, "signed");
	T_REQUIRE(a);
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 9));
	const char *b = commit(&f, NULL, "unsigned");
	T_REQUIRE(b);
	/* Graft a's gpgsig header onto b and point main at the forgery. */
	char *ra = NULL, *rb = NULL, *forged = NULL;
	h_repo_git(f.repo, &ra, "cat-file commit %s", a);
	h_repo_git(f.repo, &rb, "cat-file commit %s", b);
	T_REQUIRE(ra && rb);
	char *sig = strstr(ra, "gpgsig "),
	     *end = sig ? strstr(sig, "-----END SSH SIGNATURE-----\n") : NULL;
	char *blank = strstr(rb, "\n\n");
	T_REQUIRE(sig && end && blank);
	end += strlen("-----END SSH SIGNATURE-----\n");
	const char *obj = h_str(
		"%.*s\n%.*s%s", (int)(blank - rb), rb, (int)(end - sig), sig, blank + 1);
	h_write(h_path("forged.txt"), "%s", obj);
	T_EQ_INT(h_repo_git(f.repo, &forged, "hash-object -t commit -w %s", h_path("forged.txt")),
		0);
	T_REQUIRE(forged);
	forged[strcspn(forged, "\n")] = '\0';
	T_EQ_INT(h_repo_git(f.repo, NULL, "update-ref refs/heads/main %s", forged), 0);
	expect_refused(&f, NULL, "");
	free(ra), free(rb), free(forged);
	fx_stop(&f);
}

static void test_verify_all_and_head(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "range"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, fx_ed, "first"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	const char *mid = commit(&f, NULL, "unsigned in the middle");
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 3));
	T_REQUIRE(mid && commit(&f, fx_ed, "signed head"));
	expect_refused(&f, "--verify all", h_str("%.12s", mid));
	T_EQ_INT(sync_once(&f, "--verify head", NULL), 0);
	char *a = fx_get(&f, "app.alpha");
	T_CHECK(a && strstr(a, "\"instances\":3"));
	free(a);
	fx_stop(&f);
}

/* Under --verify all, an unsigned commit pushed by mistake blocks every later commit;
 * the refusal says the way out, and taking it works: the unsigned commit was never
 * accepted, so history rewritten from the last accepted commit (signed again and
 * force-pushed) descends from it and is no rollback. */
static void test_unsigned_commit_recovery(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "recover"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	const char *base = commit(&f, fx_ed, "accepted");
	T_REQUIRE(base);
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	const char *oops = commit(&f, NULL, "pushed unsigned by mistake");
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 3));
	T_REQUIRE(oops && commit(&f, fx_ed, "signed, after it"));
	expect_refused(&f, NULL, h_str("commit %.12s: commit is not signed", oops));
	expect_refused(&f, NULL, "never accepted, so replacing it is not a rollback");
	expect_refused(&f, NULL, h_str("the last accepted commit is %.12s", base));
	/* What the refusal says: sign again from the last accepted commit. */
	T_EQ_INT(h_repo_git(f.repo, NULL, "config user.name 'Test User'"), 0);
	T_EQ_INT(h_repo_git(f.repo, NULL, "config user.email test@example.com"), 0);
	T_EQ_INT(h_repo_git(f.repo, NULL, "config gpg.format ssh"), 0);
	T_EQ_INT(h_repo_git(f.repo, NULL, "config user.signingkey %s", h_q(fx_ed->path)), 0);
	T_EQ_INT(h_repo_git(f.repo, NULL, "rebase -q --exec %s %s",
			 h_q("git commit -q --amend --no-edit -S"), base),
		0);
	char *log = NULL;
	T_EQ_INT(sync_once(&f, NULL, &log), 0);
	T_CHECK_MSG(log && strstr(log, "outcome=accepted"), "%s", log ? log : "");
	free(log);
	char *a = fx_get(&f, "app.alpha");
	T_CHECK(a && strstr(a, "\"instances\":3"));
	free(a);
	/* Going back past the accepted commit stays refused. */
	T_EQ_INT(h_repo_git(f.repo, NULL, "reset -q --hard %s", base), 0);
	expect_refused(&f, NULL, "does not descend");
	fx_stop(&f);
}

static void test_rollback_refused(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "rollback"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	const char *old = commit(&f, fx_ed, "old");
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	T_REQUIRE(old && commit(&f, fx_ed, "new"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	T_EQ_INT(h_repo_git(f.repo, NULL, "reset -q --hard %s", old), 0);
	expect_refused(&f, NULL, "does not descend");
	/* A brand-new sync with no state refuses too: the marker is in the bucket. */
	T_EQ_INT(h_run(NULL, "rm -rf %s", f.state), 0);
	expect_refused(&f, NULL, "does not descend");
	fx_stop(&f);
}

static void test_invalid_manifest_rejects_revision(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "invalid"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, fx_ed, "good"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	char *before = fx_get(&f, "rev");
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 4));
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 20000));
	T_REQUIRE(commit(&f, fx_ed, "one bad manifest"));
	char *log = NULL;
	uint64_t seq = last_seq(&f);
	T_EQ_INT(sync_once(&f, NULL, &log), 1);
	T_CHECK(log && strstr(log, "apps/beta.yaml:15:24") &&
		strstr(log, "spec.components[0].traits[0].properties.instances"));
	free(log);
	T_EQ_INT(last_seq(&f), seq);
	char *after = fx_get(&f, "rev"), *a = fx_get(&f, "app.alpha");
	T_CHECK(before && after && !strcmp(before, after));
	T_CHECK(a && strstr(a, "\"instances\":1"));
	free(before), free(after), free(a);
	fx_stop(&f);
}

static void test_delete_and_batch(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "delete"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 1));
	T_REQUIRE(commit(&f, fx_ed, "two"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	/* Three commits between passes: one publish, of the head. */
	h_repo_rm(f.repo, "apps/beta.yaml");
	T_REQUIRE(commit(&f, fx_ed, "drop beta"));
	h_repo_write(f.repo, "apps/gamma.yaml", "%s", fx_app_yaml("gamma", 2));
	T_REQUIRE(commit(&f, fx_ed, "add gamma"));
	h_repo_write(f.repo, "apps/gamma.yaml", "%s", fx_app_yaml("gamma", 3));
	const char *head = commit(&f, fx_ed, "scale gamma");
	uint64_t seq = last_seq(&f);
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	/* put gamma and its blob, delete beta and its blob, proof, marker */
	T_EQ_INT(last_seq(&f), seq + 6);
	char *rev = fx_get(&f, "rev"), *beta = fx_get(&f, "app.beta"), *g = fx_get(&f, "app.gamma");
	T_CHECK(rev && strstr(rev, head) && strstr(rev, "\"seq\":2"));
	T_CHECK(rev && !strstr(rev, "\"beta\"") && strstr(rev, "\"gamma\""));
	T_CHECK(beta == NULL);
	T_CHECK(g && strstr(g, "\"instances\":3"));
	free(rev), free(beta), free(g);
	fx_stop(&f);
}

/* Removing the last app: git drops the empty apps/, and a path that held the apps of
 * the last accepted revision and is gone now means no apps. A path that never held
 * them is still refused (a typo must not delete a fleet), also on a first sync. */
static void test_remove_last_app(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "empty"));
	h_repo_write(f.repo, "README", "no apps yet\n");
	T_REQUIRE(commit(&f, fx_ed, "readme"));
	char *log = NULL;
	T_EQ_INT(sync_once(&f, NULL, &log), 1);
	T_CHECK_MSG(log && strstr(log, "no directory apps/"), "%s", log ? log : "");
	free(log);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, fx_ed, "alpha"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "README", "one app\n");
	T_REQUIRE(commit(&f, fx_ed, "readme"));
	T_EQ_INT(sync_once(&f, "--path aps", &log), 1); /* the typo: refused */
	T_CHECK_MSG(log && strstr(log, "no directory aps/"), "%s", log ? log : "");
	free(log);
	h_repo_rm(f.repo, "apps/alpha.yaml");
	const char *head = commit(&f, fx_ed, "remove the last app");
	T_EQ_INT(sync_once(&f, NULL, &log), 0);
	T_CHECK_MSG(log && strstr(log, "outcome=accepted") && strstr(log, "published 0 apps"), "%s",
		log ? log : "");
	free(log);
	char *rev = fx_get(&f, "rev"), *a = fx_get(&f, "app.alpha"), *proof = fx_get(&f, "proof");
	T_CHECK(rev && strstr(rev, head) && strstr(rev, "\"apps\":{}"));
	T_CHECK(a == NULL);
	T_CHECK(proof && strstr(proof, head));
	free(rev), free(a), free(proof);
	/* And on from there: another commit without apps, then apps again. */
	h_repo_write(f.repo, "README", "still none\n");
	T_REQUIRE(commit(&f, fx_ed, "readme again"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 2));
	T_REQUIRE(commit(&f, fx_ed, "beta"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	char *b = fx_get(&f, "app.beta");
	T_CHECK(b && strstr(b, "\"instances\":2"));
	free(b);
	fx_stop(&f);
}

/* Rotation through Git: .outpost/allowed_signers changes the policy from the commit
 * that changes it on, but only when that commit verified under the policy before it. */
static void test_policy_rotation(void)
{
	const h_key *k2 = h_keygen("ed25519"), *k3 = h_keygen("ecdsa");
	T_REQUIRE(k2 && k3);
	fx f;
	T_REQUIRE(fx_start(&f, "rotation"));
	/* Signed by the operator's key: hands trust over to k2. */
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	h_repo_write(f.repo, ".outpost/allowed_signers", "test@example.com namespaces=\"git\" %s\n",
		k2->pub);
	T_REQUIRE(commit(&f, fx_ed, "rotate to k2"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	T_REQUIRE(commit(&f, k2, "k2 deploys"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	/* The old key is out, even though the operator's file still lists it. */
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 3));
	T_REQUIRE(commit(&f, fx_ed, "old key"));
	expect_refused(&f, NULL, "(not-listed)");
	T_EQ_INT(h_repo_git(f.repo, NULL, "reset -q --hard HEAD~1"), 0);
	/* A key nobody trusts cannot add itself. */
	h_repo_write(f.repo, ".outpost/allowed_signers",
		"test@example.com namespaces=\"git\" %s\ntest@example.com namespaces=\"git\" %s\n",
		k2->pub, k3->pub);
	T_REQUIRE(commit(&f, k3, "k3 adds itself"));
	expect_refused(&f, NULL, "(not-listed)");
	/* The same change signed by k2 is accepted; then k3 leaks and k2 revokes it. */
	T_EQ_INT(h_repo_git(f.repo, NULL, "reset -q --soft HEAD~1"), 0);
	T_REQUIRE(commit(&f, k2, "k2 adds k3"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 4));
	T_REQUIRE(commit(&f, k3, "k3 deploys"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, ".outpost/revoked", "%s\n", k3->pub);
	T_REQUIRE(commit(&f, k2, "revoke the leaked k3"));
	T_EQ_INT(sync_once(&f, NULL, NULL), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 5));
	T_REQUIRE(commit(&f, k3, "leaked key"));
	expect_refused(&f, NULL, "(revoked)");
	char *a = fx_get(&f, "app.alpha");
	T_CHECK(a && strstr(a, "\"instances\":4"));
	free(a);
	fx_stop(&f);
}

struct req {
	fx *f;
	char *reply;
};

static bool request_answered(void *arg)
{
	struct req *r = arg;
	natsMsg *m = NULL;
	if (natsConnection_RequestString(&m, r->f->nc, "outpost.hub.sync.now", "{}", 2000) !=
		NATS_OK)
		return false;
	r->reply = strndup(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
	return true;
}

static bool hub_has_rev(void *arg)
{
	char *rev = fx_get(arg, "rev");
	bool ok = rev != NULL;
	free(rev);
	return ok;
}

static void test_loop_and_sync_now(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "loop"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, fx_ed, "first"));
	pid_t p = h_spawn_sh(h_path("sync-loop.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin,
		f.repo->path, f.trust, f.state, h_nats_url(f.hub));
	T_REQUIRE(p > 0);
	T_CHECK(h_wait_until(hub_has_rev, &f, WAIT_MS));
	/* A push, then a request: published at once, not in an hour. */
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 7));
	const char *head = commit(&f, fx_ed, "scale");
	struct req r = {&f, NULL};
	T_CHECK(h_wait_until(request_answered, &r, WAIT_MS));
	T_CHECK(r.reply && strstr(r.reply, "\"outcome\":\"accepted\"") && strstr(r.reply, head));
	free(r.reply);
	char *st = NULL;
	kvStore *status = NULL;
	kvEntry *e = NULL;
	if (js_KeyValue(&status, f.js, "outpost-status") == NATS_OK &&
		kvStore_Get(&e, status, "hub.sync") == NATS_OK) {
		st = strndup(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e));
		kvEntry_Destroy(e);
	}
	if (status)
		kvStore_Destroy(status);
	T_CHECK(st && strstr(st, head) && strstr(st, "\"outcome\":\"accepted\""));
	free(st);
	T_EQ_INT(h_proc_stop(p, false, 5000), 0);
	fx_stop(&f);
}

/* Lines of the file at path that contain needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	char line[8192];
	int n = 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* A rejected head is logged once per commit and reason, not once per pass; a new reason
 * (here: another invalid manifest) is logged again, and so is the next rejection after
 * an accepted revision. */
static void test_rejection_logged_once(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "once"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, fx_ed, "first"));
	const char *log = h_path("sync-once.log");
	pid_t p = h_spawn_sh(log, "%s sync --repo %s --trust %s --state %s --nats %s --interval 1h",
		bin, f.repo->path, f.trust, f.state, h_nats_url(f.hub));
	T_REQUIRE(p > 0);
	T_CHECK(h_wait_until(hub_has_rev, &f, WAIT_MS));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", -1));
	T_REQUIRE(commit(&f, fx_ed, "negative instances"));
	for (int i = 0; i < 3; i++) {
		struct req r = {&f, NULL};
		T_CHECK(h_wait_until(request_answered, &r, WAIT_MS));
		T_CHECK_MSG(r.reply && strstr(r.reply, "\"outcome\":\"rejected\""), "%s",
			r.reply ? r.reply : "(none)");
		free(r.reply);
	}
	T_EQ_INT(count_lines(log, "outcome=rejected"), 1);
	T_EQ_INT(count_lines(log, "msg=\"invalid manifest\""), 1);
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", -2));
	T_REQUIRE(commit(&f, fx_ed, "another negative"));
	struct req r = {&f, NULL};
	T_CHECK(h_wait_until(request_answered, &r, WAIT_MS));
	free(r.reply);
	T_EQ_INT(count_lines(log, "outcome=rejected"), 2);
	T_EQ_INT(count_lines(log, "msg=\"invalid manifest\""), 3);
	T_EQ_INT(h_proc_stop(p, false, 5000), 0);
	fx_stop(&f);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	fx_ed = h_keygen("ed25519");
	other = h_keygen("ed25519");
	if (!fx_ed || !other)
		return 1;
	T_RUN(test_accepted_signed_commit);
	T_RUN(test_refused_signatures);
	T_RUN(test_copied_signature);
	T_RUN(test_verify_all_and_head);
	T_RUN(test_unsigned_commit_recovery);
	T_RUN(test_rollback_refused);
	T_RUN(test_invalid_manifest_rejects_revision);
	T_RUN(test_delete_and_batch);
	T_RUN(test_remove_last_app);
	T_RUN(test_policy_rotation);
	T_RUN(test_loop_and_sync_now);
	T_RUN(test_rejection_logged_once);
	return t_done();
}
