/* Git objects read from their raw bytes, as the edge sees them: object ids (SHA-1, with
 * git's collision detection, sha1dc), the entries of a tree, the tree a commit names. Pure:
 * nothing here opens a repository. Only SHA-1 repositories are supported. */
#ifndef OUTPOST_GITOBJ_H
#define OUTPOST_GITOBJ_H

#include <stddef.h>

#include "outpost/agent/base/err.h"

#define OP_GIT_ID_LEN 40

/* The id of an object of type ("commit", "tree", "blob") with these bytes, as lowercase
 * hex. 0, or OP_EINVAL for an unknown type or for bytes sha1dc finds to be a collision
 * attack (which have no id). */
int op_git_hash(const char *type, const void *raw, size_t len, char id[OP_GIT_ID_LEN + 1]);

enum op_git_kind { OP_GIT_TREE, OP_GIT_BLOB, OP_GIT_LINK, OP_GIT_SUBMODULE };

/* One tree entry; name points into the tree's bytes (namelen bytes, no NUL). */
typedef struct op_git_entry {
	enum op_git_kind kind;
	unsigned mode;
	const char *name;
	size_t namelen;
	char id[OP_GIT_ID_LEN + 1];
} op_git_entry;

/* Reads the entry at *off of a raw tree (`<octal mode> <name>\0<20-byte id>`...) and moves
 * *off past it: 1 with ent filled, 0 at the end, OP_EINVAL when the bytes are not a tree
 * (a bad mode, an empty name or one with '/', a cut entry). */
int op_git_tree_next(const void *raw, size_t len, size_t *off, op_git_entry *ent, op_err *e);

/* The tree id on a raw commit's first line (`tree <hex>`). OP_EINVAL when it has none. */
int op_git_commit_tree(const char *raw, size_t len, char tree[OP_GIT_ID_LEN + 1], op_err *e);

/* The first parent of a raw commit (the `parent <hex>` line right after the tree line).
 * 0 with parent filled; OP_ENOTFOUND for a root commit (parent ""); OP_EINVAL when the
 * header is not a commit's. */
int op_git_commit_parent(const char *raw, size_t len, char parent[OP_GIT_ID_LEN + 1], op_err *e);

#endif
