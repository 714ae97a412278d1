/* Unpacking tar artifacts: every archive here is made by libarchive's writer in the
 * test, good ones (plain, gzip, zstd; files, directories, links inside) and hostile ones
 * (each rule of untar.h broken once), and unpacked for real into a temp dir. A refused
 * archive must name the entry and leave nothing outside the directory. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/host/untar.h"
#include "t.h"

typedef struct ent {
	const char *path;
	mode_t type; /* AE_IF*; 0: a hardlink to link */
	const char *data; /* files */
	const char *link; /* symlink or hardlink target */
	int perm;
} ent;

enum { PLAIN, GZIP, ZSTD };

/* Writes a pax tar of v[0..n) at file through filter; 0 or -1. */
static int mk_tar(const char *file, int filter, const ent *v, size_t n)
{
	struct archive *a = archive_write_new();
	int r = archive_write_set_format_pax_restricted(a);
	if (r == ARCHIVE_OK && filter == GZIP)
		r = archive_write_add_filter_gzip(a);
	if (r == ARCHIVE_OK && filter == ZSTD)
		r = archive_write_add_filter_zstd(a);
	if (r == ARCHIVE_OK)
		r = archive_write_open_filename(a, file);
	for (size_t i = 0; r == ARCHIVE_OK && i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, v[i].path);
		archive_entry_set_perm(e, v[i].perm ? v[i].perm : 0644);
		size_t len = v[i].data ? strlen(v[i].data) : 0;
		if (!v[i].type) {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_hardlink(e, v[i].link);
		} else {
			archive_entry_set_filetype(e, v[i].type);
			if (v[i].type == AE_IFLNK)
				archive_entry_set_symlink(e, v[i].link);
			if (v[i].type == AE_IFREG)
				archive_entry_set_size(e, (la_int64_t)len);
			if (v[i].type == AE_IFCHR)
				archive_entry_set_rdev(e, makedev(1, 3));
		}
		r = archive_write_header(a, e);
		if (r == ARCHIVE_OK && len &&
			archive_write_data(a, v[i].data, len) != (la_ssize_t)len)
			r = ARCHIVE_FATAL;
		if (r != ARCHIVE_OK)
			fprintf(stderr, "mk_tar %s: %s\n", v[i].path, archive_error_string(a));
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		r = ARCHIVE_FATAL;
	archive_write_free(a);
	return r == ARCHIVE_OK ? 0 : -1;
}

static int seq;

/* A fresh empty directory and a tar path beside it. */
static const char *fresh_dir(const char **tar)
{
	seq++;
	const char *d = h_path("u%d", seq);
	if (mkdir(d, 0755) != 0)
		return NULL;
	*tar = h_path("u%d.tar", seq);
	return d;
}

static char *slurp(const char *path)
{
	static char buf[256];
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	return buf;
}

static const ent good[] = {
	{"./", AE_IFDIR, NULL, NULL, 0700},
	{"bin/", AE_IFDIR, NULL, NULL, 0755},
	{"bin/run", AE_IFREG, "#!/bin/sh\necho hi\n", NULL, 0755},
	{"lib/data.txt", AE_IFREG, "data", NULL, 0600}, /* its dir is not in the tar */
	{"lib/same.txt", 0, NULL, "lib/data.txt", 0},
	{"current", AE_IFLNK, NULL, "bin/run", 0},
	{"lib/up", AE_IFLNK, NULL, "../bin", 0},
	{"lib/dot", AE_IFLNK, NULL, "./data.txt", 0},
	{"empty", AE_IFREG, "", NULL, 0644},
};

static void check_good(const char *d)
{
	struct stat st;
	T_EQ_STR(slurp(h_str("%s/bin/run", d)), "#!/bin/sh\necho hi\n");
	T_CHECK(stat(h_str("%s/bin/run", d), &st) == 0 && (st.st_mode & 07777) == 0755);
	T_EQ_STR(slurp(h_str("%s/lib/data.txt", d)), "data");
	T_CHECK(stat(h_str("%s/lib/data.txt", d), &st) == 0 && (st.st_mode & 07777) == 0600);
	struct stat a, b;
	T_CHECK(stat(h_str("%s/lib/same.txt", d), &a) == 0 &&
		stat(h_str("%s/lib/data.txt", d), &b) == 0 && a.st_ino == b.st_ino);
	char t[64] = "";
	ssize_t n = readlink(h_str("%s/current", d), t, sizeof t - 1);
	T_CHECK(n == 7 && memcmp(t, "bin/run", 7) == 0);
	T_EQ_STR(slurp(h_str("%s/lib/up/run", d)), "#!/bin/sh\necho hi\n");
	T_EQ_STR(slurp(h_str("%s/lib/dot", d)), "data");
	T_CHECK(stat(h_str("%s/empty", d), &st) == 0 && st.st_size == 0);
	/* The top directory's mode is the artifact's, not the tar's "./" entry. */
	T_CHECK(stat(d, &st) == 0 && (st.st_mode & 07777) == 0755);
}

static void test_good_plain_gzip_zstd(void)
{
	static const char *const names[] = {"plain", "gzip", "zstd"};
	for (int f = PLAIN; f <= ZSTD; f++) {
		const char *tar, *d = fresh_dir(&tar);
		T_REQUIRE(d);
		T_REQUIRE(mk_tar(tar, f, good, sizeof good / sizeof *good) == 0);
		op_err e = {0};
		int rc = op_untar(tar, d, &e);
		T_CHECK_MSG(rc == 0, "%s: %s", names[f], e.msg);
		check_good(d);
	}
	/* The working directory is where it was. */
	char cwd[4096];
	T_CHECK(getcwd(cwd, sizeof cwd) && !strstr(cwd, h_tmpdir()));
}

/* Set-id bits inside a tar are dropped. */
static void test_setid_dropped(void)
{
	static const ent v[] = {{"suid", AE_IFREG, "x", NULL, 06755}};
	const char *tar, *d = fresh_dir(&tar);
	T_REQUIRE(d && mk_tar(tar, PLAIN, v, 1) == 0);
	op_err e = {0};
	T_EQ_INT(op_untar(tar, d, &e), 0);
	struct stat st;
	T_CHECK(stat(h_str("%s/suid", d), &st) == 0 && (st.st_mode & 07777) == 0755);
}

struct bad {
	ent e[3];
	size_t n;
	const char *msg; /* a piece of the error */
	const char *outside; /* a file that must not exist afterwards, relative to the tmpdir */
};

static void test_refused(void)
{
	static const struct bad bads[] = {
		{{{"../evil", AE_IFREG, "x", NULL, 0}}, 1,
			"tar entry \"../evil\": path has a .. component: refused", "evil"},
		{{{"a/../../evil2", AE_IFREG, "x", NULL, 0}}, 1,
			"tar entry \"a/../../evil2\": path has a .. component", "evil2"},
		{{{"a/..", AE_IFDIR, NULL, NULL, 0755}}, 1, "path has a .. component", NULL},
		{{{"/tmp/outpost-untar-abs", AE_IFREG, "x", NULL, 0}}, 1,
			"tar entry \"/tmp/outpost-untar-abs\": absolute path: refused", NULL},
		{{{"etc", AE_IFLNK, NULL, "/etc", 0}}, 1,
			"tar entry \"etc\": symlink to the absolute path \"/etc\" leaves the "
			"directory",
			NULL},
		{{{"a/b/l", AE_IFLNK, NULL, "../../../x", 0}}, 1,
			"tar entry \"a/b/l\": symlink target \"../../../x\" leaves the directory",
			NULL},
		{{{"l", AE_IFLNK, NULL, "..", 0}}, 1, "symlink target \"..\" leaves the directory",
			NULL},
		{{{"a/up", AE_IFLNK, NULL, "..", 0}, {"a/b/esc", AE_IFLNK, NULL, "../up/..", 0}}, 2,
			"tar entry \"a/b/esc\": symlink target \"../up/..\" has a .. after a name",
			NULL},
		{{{"f", AE_IFREG, "x", NULL, 0}, {"h", 0, NULL, "../f", 0}}, 2,
			"tar entry \"h\": hardlink to \"../f\" leaves the directory", NULL},
		{{{"h", 0, NULL, "/etc/passwd", 0}}, 1, "hardlink to \"/etc/passwd\" leaves", NULL},
		{{{"null", AE_IFCHR, NULL, NULL, 0666}}, 1,
			"tar entry \"null\": a character device: refused", NULL},
		{{{"blk", AE_IFBLK, NULL, NULL, 0666}}, 1, "tar entry \"blk\": a block device",
			NULL},
		{{{"fifo", AE_IFIFO, NULL, NULL, 0666}}, 1, "tar entry \"fifo\": a fifo: refused",
			NULL},
		/* Inside, but written through a link: libarchive's secure flag refuses it. */
		{{{"sub/", AE_IFDIR, NULL, NULL, 0755}, {"l", AE_IFLNK, NULL, "sub", 0},
			 {"l/f", AE_IFREG, "x", NULL, 0}},
			3, "tar entry \"l/f\": ", NULL},
	};
	for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
		const struct bad *b = &bads[i];
		const char *tar, *d = fresh_dir(&tar);
		T_REQUIRE(d);
		/* Another level down, so that a ../ escape would land in the tmpdir. */
		const char *in = h_str("%s/in", d);
		T_REQUIRE(mkdir(in, 0755) == 0);
		T_REQUIRE(mk_tar(tar, i % 2 ? GZIP : PLAIN, b->e, b->n) == 0);
		op_err e = {0};
		int rc = op_untar(tar, in, &e);
		T_CHECK_MSG(rc == OP_EINVAL && strstr(e.msg, b->msg), "bads[%zu]: rc %d: %s", i, rc,
			e.msg);
		if (b->outside) {
			T_CHECK_MSG(
				access(h_str("%s/%s", d, b->outside), F_OK) != 0, "bads[%zu]", i);
			T_CHECK_MSG(access(h_str("%s/%s", h_tmpdir(), b->outside), F_OK) != 0,
				"bads[%zu]", i);
		}
	}
	T_CHECK(access("/tmp/outpost-untar-abs", F_OK) != 0);
}

/* A file that is not a tar, and a truncated one, are refused by name. */
static void test_not_a_tar(void)
{
	const char *tar, *d = fresh_dir(&tar);
	T_REQUIRE(d);
	FILE *f = fopen(tar, "w");
	T_REQUIRE(f);
	fputs("#!/bin/sh\necho I am a script, not a tar\n", f);
	fclose(f);
	op_err e = {0};
	T_EQ_INT(op_untar(tar, d, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, tar) != NULL, "%s", e.msg);

	const char *tar2, *d2 = fresh_dir(&tar2);
	static const ent big[] = {{"a", AE_IFREG,
		"0123456789012345678901234567890123456789012345678901234567890123456789", NULL, 0}};
	T_REQUIRE(d2 && mk_tar(tar2, GZIP, big, 1) == 0);
	struct stat st;
	T_REQUIRE(stat(tar2, &st) == 0);
	T_REQUIRE(truncate(tar2, st.st_size / 2) == 0);
	T_EQ_INT(op_untar(tar2, d2, &e), OP_EINVAL);
	T_CHECK_MSG(strstr(e.msg, "tar") != NULL, "%s", e.msg);
	T_EQ_INT(op_untar(h_path("missing.tar"), d2, &e), OP_EIO);
}

/* The pure rules on their own. */
static void test_rules(void)
{
	op_err e = {0};
	T_EQ_INT(op_untar_check_path("a/b/c", &e), 0);
	T_EQ_INT(op_untar_check_path("./a//b/./c/", &e), 0);
	T_EQ_INT(op_untar_check_path("a..b/..c", &e), 0);
	T_EQ_INT(op_untar_check_path("", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_path("/a", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_path("a/./../b", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_symlink("a/b/l", "../../x", &e), 0);
	T_EQ_INT(op_untar_check_symlink("./a//b/l", "./../.././x/y", &e), 0);
	T_EQ_INT(op_untar_check_symlink("l", "x/y", &e), 0);
	T_EQ_INT(op_untar_check_symlink("l", ".", &e), 0);
	T_EQ_INT(op_untar_check_symlink("l", "", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_symlink("l", "../x", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_symlink("a/l", "x/../../y", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_symlink("a/b/l", "/a", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_hardlink("a/b", &e), 0);
	T_EQ_INT(op_untar_check_hardlink("", &e), OP_EINVAL);
	T_EQ_INT(op_untar_check_hardlink("a/../b", &e), OP_EINVAL);
	T_CHECK(strstr(op_untar_version(), "libarchive") != NULL);
}

int main(void)
{
	T_RUN(test_rules);
	T_RUN(test_good_plain_gzip_zstd);
	T_RUN(test_setid_dropped);
	T_RUN(test_refused);
	T_RUN(test_not_a_tar);
	return t_done();
}
