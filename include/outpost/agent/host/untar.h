/* Unpacking a tar artifact (plain, gzip or zstd) into a directory, with libarchive. The
 * bytes were checked against the signed digest before they get here, but a signed tar
 * may still be wrong or hostile: libarchive's secure-extraction flags are on, and every
 * entry is checked first by outpost's own rules, so that nothing is written outside the
 * directory and no device is made:
 *   - a path that is absolute or has a `..` component is refused;
 *   - only files, directories, symlinks and hardlinks are unpacked (a character or
 *     block device, a fifo or a socket is refused);
 *   - a symlink's target must be relative and normal (some `..` first, then names), with
 *     no more `..` than the link's depth: it then stays inside, whatever other links it
 *     passes through;
 *   - a hardlink's target must be a relative path with no `..` (an entry of the tar).
 * Owners, ACLs, extended attributes and file flags are not restored; permission bits
 * and times are. */
#ifndef OUTPOST_UNTAR_H
#define OUTPOST_UNTAR_H

#include "outpost/agent/base/err.h"

/* Unpacks the tar at tar into dir, an existing empty directory, then syncs dir's
 * filesystem. OP_EINVAL naming the entry and the rule for a refused entry, or naming
 * what libarchive said for a tar it cannot read; OP_EIO for a write that failed. On
 * error dir holds what was unpacked before it (the caller removes dir). */
int op_untar(const char *tar, const char *dir, op_err *e);

/* The entry rules above, pure (for tests): 0 when allowed, else OP_EINVAL with why. */
int op_untar_check_path(const char *path, op_err *e);
int op_untar_check_symlink(const char *path, const char *target, op_err *e);
int op_untar_check_hardlink(const char *target, op_err *e);

/* libarchive's version string ("libarchive 3.7.4"). */
const char *op_untar_version(void);

#endif
