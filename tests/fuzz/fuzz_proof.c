/* libFuzzer target for the revision proof a site reads off the network (agent/wire/proof.c,
 * agent/wire/gitobj.c, agent/trust/follow.c): the JSON decoder (both formats), then the
 * walk of the manifest files over the proof's own trees and the walk of its chain of
 * policy changes as a site follows it; and the raw input as a git tree and as a commit's
 * parent line. An accepted proof must encode back to the same bytes' meaning
 * (decode(encode(p)) has the same commit, path, trees and chain); anything refused must
 * say why. Violations trap; leaks are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/follow.h"
#include "outpost/agent/wire/proof.h"

#include "fuzz.h"

static int count(void *arg, const char *file, const char *blob, op_err *e)
{
	size_t *n = arg;
	(void)e;
	CHECK(strlen(blob) == OP_GIT_ID_LEN && file[0] != '\0');
	(*n)++;
	return 0;
}

static int no_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	(void)arg, (void)id, (void)buf, (void)len;
	return OP_ENOTFOUND;
}

static int blob_id(void *arg, const char *id, op_err *e)
{
	(void)arg, (void)e;
	CHECK(strlen(id) == OP_GIT_ID_LEN);
	return 0;
}

/* The chain as a site walks it, from its --trust file (empty: nothing verifies). */
static void follow(const op_proof *p)
{
	static const op_follow_policy none;
	op_follow_in in = {&none, "fuzz", "", 0, NULL, p, no_blob, NULL};
	op_policy *pol = NULL;
	op_follow_policy next;
	op_err e = {0};
	int rc = op_follow(&in, &pol, &next, &e);
	CHECK(rc == 0 || e.msg[0]);
	CHECK(rc == 0 || (rc == OP_ETRUST || rc == OP_ENOTFOUND || rc == OP_ENOMEM));
	CHECK((rc == 0) == (pol != NULL));
	op_policy_free(pol);
	op_follow_policy_clear(&next);
	e.msg[0] = '\0';
	rc = op_follow_blobs(p, blob_id, NULL, &e);
	CHECK(rc == 0 || e.msg[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The bytes as a tree: entries until the end or a refusal. */
	size_t off = 0, prev = 0;
	op_git_entry ent;
	op_err e = {0};
	int rc;
	while ((rc = op_git_tree_next(data, size, &off, &ent, &e)) == 1) {
		CHECK(off > prev && off <= size && ent.namelen > 0);
		CHECK(!memchr(ent.name, '/', ent.namelen) && !memchr(ent.name, '\0', ent.namelen));
		prev = off;
	}
	CHECK(rc == 0 || (rc == OP_EINVAL && e.msg[0]));
	char parent[OP_GIT_ID_LEN + 1];
	rc = op_git_commit_parent((const char *)data, size, parent, &e);
	CHECK((rc == 0 && strlen(parent) == OP_GIT_ID_LEN) || (rc && !parent[0]));

	op_proof p, back;
	e.msg[0] = '\0';
	rc = op_proof_decode((const char *)data, size, &p, &e);
	if (rc != 0) {
		CHECK(e.msg[0] != '\0');
		return 0;
	}
	CHECK(strlen(p.commit) == OP_GIT_ID_LEN);
	for (size_t i = 1; i < p.ntrees; i++)
		CHECK(strcmp(p.trees[i - 1].id, p.trees[i].id) < 0);
	char *json = NULL;
	size_t len = 0;
	CHECK(op_proof_encode(&p, &json, &len, &e) == 0);
	CHECK(op_proof_decode(json, len, &back, &e) == 0);
	CHECK(!strcmp(back.commit, p.commit) && !strcmp(back.path, p.path) &&
		back.ntrees == p.ntrees && back.olen == p.olen && back.ncommits == p.ncommits);
	CHECK(p.ncommits <= OP_PROOF_MAX_CHAIN && p.chain_bytes <= OP_PROOF_MAX_CHAIN_BYTES);
	for (size_t i = 0; i < p.ncommits; i++)
		CHECK(!strcmp(back.commits[i].id, p.commits[i].id));
	follow(&p);
	size_t files = 0;
	e.msg[0] = '\0';
	rc = op_proof_files(&p, count, &files, &e);
	CHECK(rc == 0 || e.msg[0]);
	op_proof_clear(&back);
	op_proof_clear(&p);
	free(json);
	return 0;
}
