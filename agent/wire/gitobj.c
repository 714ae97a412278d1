/* Git objects from raw bytes (see include/outpost/agent/wire/gitobj.h).
 *
 * Object ids are SHA-1 with collision detection, as git's own (sha1dc): a commit or a
 * tree forged by a SHAttered-style collision must not verify. The sha1dc code is the
 * one in libgit2 (built with USE_SHA1=CollisionDetection); the build takes just those
 * objects from libgit2.a into a small archive, so that this pure module, and the edge
 * that uses it, never link libgit2 itself. sha1dc installs no header: its three entry
 * points are declared here, and its context, whose layout is sha1dc's business, lives
 * in a buffer larger than it (about 2.4 KB today) and as aligned as anything. */
#include "outpost/agent/wire/gitobj.h"

#include <stdalign.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

typedef struct {
	alignas(max_align_t) unsigned char opaque[8192];
} op_sha1dc_ctx;

void SHA1DCInit(op_sha1dc_ctx *ctx);
void SHA1DCUpdate(op_sha1dc_ctx *ctx, const char *buf, size_t len);
int SHA1DCFinal(unsigned char out[20], op_sha1dc_ctx *ctx);

static void hex20(const unsigned char *b, char out[OP_GIT_ID_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";
	for (int i = 0; i < 20; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[OP_GIT_ID_LEN] = '\0';
}

int op_git_hash(const char *type, const void *raw, size_t len, char id[OP_GIT_ID_LEN + 1])
{
	id[0] = '\0';
	if (strcmp(type, "commit") != 0 && strcmp(type, "tree") != 0 && strcmp(type, "blob") != 0)
		return OP_EINVAL;
	/* Git hashes "<type> <decimal length>\0" and then the bytes. */
	char head[32];
	int n = snprintf(head, sizeof head, "%s %zu", type, len);
	if (n < 0 || (size_t)n >= sizeof head)
		return OP_EINVAL;
	op_sha1dc_ctx ctx;
	unsigned char sum[20];
	SHA1DCInit(&ctx);
	SHA1DCUpdate(&ctx, head, (size_t)n + 1);
	SHA1DCUpdate(&ctx, raw, len);
	if (SHA1DCFinal(sum, &ctx) != 0)
		return OP_EINVAL; /* a collision attack: no id for these bytes */
	hex20(sum, id);
	return 0;
}

int op_git_tree_next(const void *raw, size_t len, size_t *off, op_git_entry *ent, op_err *e)
{
	const unsigned char *p = raw;
	size_t i = *off;
	if (i >= len)
		return 0;
	unsigned mode = 0;
	size_t digits = 0;
	for (; i < len && p[i] != ' '; i++, digits++) {
		if (p[i] < '0' || p[i] > '7' || digits >= 6)
			return op_err_set(e, OP_EINVAL, "tree entry at byte %zu: bad mode", *off);
		mode = mode * 8 + (unsigned)(p[i] - '0');
	}
	if (i >= len || digits == 0)
		return op_err_set(e, OP_EINVAL, "tree entry at byte %zu: bad mode", *off);
	const char *name = (const char *)p + ++i;
	const unsigned char *nul = memchr(p + i, '\0', len - i);
	if (!nul || nul == p + i || len - (size_t)(nul + 1 - p) < 20)
		return op_err_set(e, OP_EINVAL, "tree entry at byte %zu: cut short", *off);
	size_t namelen = (size_t)(nul - (p + i));
	if (memchr(name, '/', namelen) || (namelen == 1 && name[0] == '.') ||
		(namelen == 2 && !memcmp(name, "..", 2)))
		return op_err_set(e, OP_EINVAL, "tree entry at byte %zu: bad name", *off);
	switch (mode & 0170000) {
	case 0040000: ent->kind = OP_GIT_TREE; break;
	case 0100000: ent->kind = OP_GIT_BLOB; break;
	case 0120000: ent->kind = OP_GIT_LINK; break;
	case 0160000: ent->kind = OP_GIT_SUBMODULE; break;
	default: return op_err_set(e, OP_EINVAL, "tree entry at byte %zu: mode %o", *off, mode);
	}
	ent->mode = mode;
	ent->name = name;
	ent->namelen = namelen;
	hex20(nul + 1, ent->id);
	*off = (size_t)(nul + 1 - p) + 20;
	return 1;
}

/* An id line `<word> <40 hex>\n` at raw[0..len). */
static bool id_line(const char *raw, size_t len, const char *word, char id[OP_GIT_ID_LEN + 1])
{
	size_t w = strlen(word);
	id[0] = '\0';
	if (len < w + 1 + OP_GIT_ID_LEN + 1 || memcmp(raw, word, w) != 0 || raw[w] != ' ' ||
		raw[w + 1 + OP_GIT_ID_LEN] != '\n')
		return false;
	for (size_t i = 0; i < OP_GIT_ID_LEN; i++) {
		char c = raw[w + 1 + i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			id[0] = '\0';
			return false;
		}
		id[i] = c;
	}
	id[OP_GIT_ID_LEN] = '\0';
	return true;
}

int op_git_commit_tree(const char *raw, size_t len, char tree[OP_GIT_ID_LEN + 1], op_err *e)
{
	if (!id_line(raw, len, "tree", tree))
		return op_err_set(e, OP_EINVAL, "the commit object has no tree line");
	return 0;
}

int op_git_commit_parent(const char *raw, size_t len, char parent[OP_GIT_ID_LEN + 1], op_err *e)
{
	char tree[OP_GIT_ID_LEN + 1];
	size_t at = 5 + OP_GIT_ID_LEN + 1;
	parent[0] = '\0';
	if (!id_line(raw, len, "tree", tree))
		return op_err_set(e, OP_EINVAL, "the commit object has no tree line");
	if (id_line(raw + at, len - at, "parent", parent))
		return 0;
	if (len - at >= 7 && !memcmp(raw + at, "parent ", 7))
		return op_err_set(e, OP_EINVAL, "the commit's parent id is not hex");
	return op_err_set(e, OP_ENOTFOUND, "a root commit: no parent");
}
