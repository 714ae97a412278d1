/* Git object ids computed by agent/wire/gitobj.c (sha1dc, not libgit2): equal to git's own
 * for known objects and for objects of every length around SHA-1's 64-byte blocks, as
 * `git hash-object` computes them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "outpost/agent/wire/gitobj.h"
#include "t.h"

static void test_known_ids(void)
{
	char id[OP_GIT_ID_LEN + 1];
	T_EQ_INT(op_git_hash("blob", "", 0, id), 0);
	T_EQ_STR(id, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
	T_EQ_INT(op_git_hash("blob", "hello\n", 6, id), 0);
	T_EQ_STR(id, "ce013625030ba8dba906f756967f9e9ca394464a");
	T_EQ_INT(op_git_hash("tree", "", 0, id), 0);
	T_EQ_STR(id, "4b825dc642cb6eb9a060e54bf8d69288fbee4904");
	T_EQ_INT(op_git_hash("tag", "", 0, id), OP_EINVAL);
	T_EQ_STR(id, "");
}

/* Bytes of every length from 0 to 200 and a few larger, against git. */
static void test_like_git(void)
{
	static const size_t lens[] = {1000, 4096, 65536, 100003};
	size_t nlens = 201 + sizeof lens / sizeof lens[0];
	unsigned char *buf = malloc(100003);
	T_REQUIRE(buf);
	for (size_t i = 0; i < 100003; i++)
		buf[i] = (unsigned char)((i * 2654435761u) >> 13);
	for (size_t k = 0; k < nlens; k++) {
		size_t len = k <= 200 ? k : lens[k - 201];
		const char *type = k % 3 == 0 ? "commit" : k % 3 == 1 ? "tree" : "blob";
		const char *path = h_path("obj-%zu", k);
		FILE *f = fopen(path, "wb");
		T_REQUIRE(f);
		T_REQUIRE(fwrite(buf, 1, len, f) == len);
		T_REQUIRE(fclose(f) == 0);
		char *out = NULL;
		/* --literally: git would check that a "commit" or "tree" parses. */
		T_REQUIRE(
			h_run(&out, "git hash-object --literally -t %s %s", type, h_q(path)) == 0);
		char id[OP_GIT_ID_LEN + 1];
		T_EQ_INT(op_git_hash(type, buf, len, id), 0);
		T_CHECK_MSG(out && !strncmp(out, id, OP_GIT_ID_LEN), "%s of %zu bytes: %s, git: %s",
			type, len, id, out ? out : "(none)");
		free(out);
	}
	free(buf);
}

int main(void)
{
	T_RUN(test_known_ids);
	T_RUN(test_like_git);
	return t_done();
}
