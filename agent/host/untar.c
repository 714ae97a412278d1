/* Unpacking a tar artifact with libarchive (see untar.h for the rules). libarchive's
 * disk writer resolves entry paths against the working directory, so the unpack runs
 * with the working directory at the target and goes back after; the shim is one thread.
 * Each entry passes outpost's own checks before libarchive sees it, and libarchive's
 * secure flags stay on behind them: two locks, either of which holds. */
#include "outpost/agent/host/untar.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECURE_FLAGS \
	(ARCHIVE_EXTRACT_SECURE_NODOTDOT | ARCHIVE_EXTRACT_SECURE_SYMLINKS | \
		ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS)

/* Walks the components of a relative path: calls back with each one that is not empty
 * or "." (so "./a//b/" is a, b). */
typedef struct walk {
	const char *p;
	char name[256];
} walk;

/* The next component into w->name; false at the end. A component longer than name is
 * cut (it is only compared with ".."). */
static bool walk_next(walk *w)
{
	for (;;) {
		while (*w->p == '/')
			w->p++;
		if (!*w->p)
			return false;
		size_t n = strcspn(w->p, "/");
		snprintf(w->name, sizeof w->name, "%.*s", (int)(n < 255 ? n : 255), w->p);
		w->p += n;
		if (strcmp(w->name, ".") != 0)
			return true;
	}
}

int op_untar_check_path(const char *path, op_err *e)
{
	if (!path || !*path)
		return op_err_set(e, OP_EINVAL, "tar entry with an empty name: refused");
	if (path[0] == '/')
		return op_err_set(
			e, OP_EINVAL, "tar entry \"%.200s\": absolute path: refused", path);
	walk w = {path, ""};
	while (walk_next(&w))
		if (strcmp(w.name, "..") == 0)
			return op_err_set(e, OP_EINVAL,
				"tar entry \"%.200s\": path has a .. component: refused", path);
	return 0;
}

int op_untar_check_symlink(const char *path, const char *target, op_err *e)
{
	if (!target || !*target)
		return op_err_set(e, OP_EINVAL,
			"tar entry \"%.200s\": symlink without a target: refused", path);
	if (target[0] == '/')
		return op_err_set(e, OP_EINVAL,
			"tar entry \"%.200s\": symlink to the absolute path \"%.200s\" leaves the "
			"directory: refused",
			path, target);
	int depth = -1; /* the link's own name is not a level */
	walk w = {path, ""};
	while (walk_next(&w))
		depth++;
	int up = 0;
	bool named = false;
	w.p = target;
	while (walk_next(&w)) {
		if (strcmp(w.name, "..") != 0) {
			named = true;
			continue;
		}
		if (named)
			return op_err_set(e, OP_EINVAL,
				"tar entry \"%.200s\": symlink target \"%.200s\" has a .. after a "
				"name "
				"(it could leave the directory through another link): refused",
				path, target);
		if (++up > depth)
			return op_err_set(e, OP_EINVAL,
				"tar entry \"%.200s\": symlink target \"%.200s\" leaves the "
				"directory: "
				"refused",
				path, target);
	}
	return 0;
}

int op_untar_check_hardlink(const char *target, op_err *e)
{
	if (!target || !*target || target[0] == '/')
		return op_err_set(e, OP_EINVAL,
			"hardlink to \"%.200s\" leaves the directory: refused",
			target ? target : "");
	walk w = {target, ""};
	while (walk_next(&w))
		if (strcmp(w.name, "..") == 0)
			return op_err_set(e, OP_EINVAL,
				"hardlink to \"%.200s\" leaves the directory: refused", target);
	return 0;
}

/* Whether w->name-style path is the top directory itself ("." or "./"). */
static bool is_top(const char *path)
{
	walk w = {path, ""};
	return !walk_next(&w);
}

static const char *type_name(mode_t t)
{
	switch (t) {
	case AE_IFCHR: return "a character device";
	case AE_IFBLK: return "a block device";
	case AE_IFIFO: return "a fifo";
	case AE_IFSOCK: return "a socket";
	default: return "an unknown file type";
	}
}

/* The checks of one entry: 0, or OP_EINVAL naming it. */
static int check_entry(struct archive_entry *ent, op_err *e)
{
	const char *path = archive_entry_pathname(ent);
	int rc = op_untar_check_path(path, e);
	if (rc)
		return rc;
	const char *hl = archive_entry_hardlink(ent);
	if (hl) {
		op_err why = {0};
		if (op_untar_check_hardlink(hl, &why) != 0)
			return op_err_set(e, OP_EINVAL, "tar entry \"%.200s\": %s", path, why.msg);
		return 0;
	}
	mode_t t = archive_entry_filetype(ent);
	if (t == AE_IFREG || t == AE_IFDIR)
		return 0;
	if (t == AE_IFLNK)
		return op_untar_check_symlink(path, archive_entry_symlink(ent), e);
	return op_err_set(e, OP_EINVAL, "tar entry \"%.200s\": %s: refused", path, type_name(t));
}

static int copy_data(struct archive *a, struct archive *w, const char *path, op_err *e)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return op_err_set(e, OP_EINVAL, "tar entry \"%.200s\": %s", path,
				archive_error_string(a));
		if (archive_write_data_block(w, buf, size, off) < ARCHIVE_WARN)
			return op_err_set(e, OP_EIO, "tar entry \"%.200s\": %s", path,
				archive_error_string(w));
	}
}

static int unpack(struct archive *a, struct archive *w, const char *tar, op_err *e)
{
	for (;;) {
		struct archive_entry *ent;
		int r = archive_read_next_header(a, &ent);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return op_err_set(e, OP_EINVAL, "tar %s: %s", tar, archive_error_string(a));
		int rc = check_entry(ent, e);
		if (rc)
			return rc;
		const char *path = archive_entry_pathname(ent);
		if (is_top(path))
			continue; /* the directory itself: its mode is the artifact's */
		/* No set-id bits from inside a tar: the artifact's mode is the only way to
		 * ask for them, and it applies to the top only. */
		archive_entry_set_perm(ent, archive_entry_perm(ent) & 01777);
		if (archive_write_header(w, ent) < ARCHIVE_WARN)
			return op_err_set(e, OP_EINVAL, "tar entry \"%.200s\": %s: refused", path,
				archive_error_string(w));
		if (archive_entry_size(ent) > 0 && (rc = copy_data(a, w, path, e)) != 0)
			return rc;
		if (archive_write_finish_entry(w) < ARCHIVE_WARN)
			return op_err_set(e, OP_EIO, "tar entry \"%.200s\": %s", path,
				archive_error_string(w));
	}
	if (archive_write_close(w) < ARCHIVE_WARN) /* deferred directory modes and times */
		return op_err_set(e, OP_EIO, "unpack %s: %s", tar, archive_error_string(w));
	return 0;
}

int op_untar(const char *tar, const char *dir, op_err *e)
{
	/* Everything opened before the working directory moves: tar and dir may be
	 * relative. */
	int cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int tfd = open(tar, O_RDONLY | O_CLOEXEC);
	if (cwd < 0 || dfd < 0 || tfd < 0) {
		int rc = op_err_set(e, OP_EIO, "open %s: %s",
			cwd < 0           ? "."
				: dfd < 0 ? dir
					  : tar,
			strerror(errno));
		if (cwd >= 0)
			close(cwd);
		if (dfd >= 0)
			close(dfd);
		if (tfd >= 0)
			close(tfd);
		return rc;
	}
	struct archive *a = archive_read_new(), *w = archive_write_disk_new();
	int rc = 0;
	if (!a || !w)
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
	if (!rc &&
		(archive_read_support_format_tar(a) != ARCHIVE_OK ||
			archive_read_support_filter_gzip(a) < ARCHIVE_WARN ||
			archive_read_support_filter_zstd(a) < ARCHIVE_WARN))
		rc = op_err_set(e, OP_EIO, "libarchive: %s", archive_error_string(a));
	if (!rc &&
		archive_write_disk_set_options(w,
			SECURE_FLAGS | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME) != ARCHIVE_OK)
		rc = op_err_set(e, OP_EIO, "libarchive: %s", archive_error_string(w));
	if (!rc && archive_read_open_fd(a, tfd, 65536) != ARCHIVE_OK)
		rc = op_err_set(e, OP_EINVAL, "tar %s: %s", tar, archive_error_string(a));
	if (!rc && fchdir(dfd) != 0)
		rc = op_err_set(e, OP_EIO, "chdir %s: %s", dir, strerror(errno));
	else if (!rc) {
		rc = unpack(a, w, tar, e);
		if (fchdir(cwd) != 0 && !rc)
			rc = op_err_set(e, OP_EIO, "chdir back: %s", strerror(errno));
	}
	if (!rc && syncfs(dfd) != 0)
		rc = op_err_set(e, OP_EIO, "sync %s: %s", dir, strerror(errno));
	if (a)
		archive_read_free(a);
	if (w)
		archive_write_free(w);
	close(cwd);
	close(dfd);
	close(tfd);
	return rc;
}

const char *op_untar_version(void)
{
	return archive_version_string(); /* not _details: it would link every compression library */
}
