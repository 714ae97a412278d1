/* Installing an artifact on the box (see install.h): the cache, the store fetch, the
 * placement beside path and the swap into place. One install at a time per host (the
 * cache lock), so every temp found under the lock is a leftover and goes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <mbedtls/sha256.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/host/install.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/host/untar.h"
#include "outpost/agent/store/store.h"

#define TMP_MARK ".outpost-tmp-"
#define MAX_RECORDS 4096

typedef struct inst {
	const op_install_req *r;
	const char *path;
	char cache[4096]; /* <state>/cache */
	char cached[4096 + 80]; /* <state>/cache/sha256-<want> */
	char dir[4096], base[256]; /* path's directory and name */
	char tmp[4096 + 300]; /* <dir>/.<base>.outpost-tmp-<pid> */
} inst;

/* --- small file helpers ------------------------------------------------------------------ */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p) != 0 && errno != ENOENT ? -1 : 0;
}

/* rm -rf p; a missing p is fine. */
static int rm_rf(const char *p)
{
	struct stat st;
	if (lstat(p, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(p);
	return nftw(p, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int fsync_dir(const char *dir, op_err *e)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int rc = op_err_set(e, OP_EIO, "fsync %s: %s", dir, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	close(fd);
	return 0;
}

static bool stop_pending(void)
{
	sigset_t p;
	sigemptyset(&p);
	return sigpending(&p) == 0 &&
		(sigismember(&p, SIGTERM) == 1 || sigismember(&p, SIGINT) == 1);
}

static void hex_of(const unsigned char sum[32], char hex[65])
{
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
}

/* A file being written with its sha256 taken on the way. */
typedef struct sink {
	int fd;
	const char *path;
	mbedtls_sha256_context h;
	op_err *e;
} sink;

static int sink_write(void *arg, const void *buf, size_t len)
{
	sink *k = arg;
	if (stop_pending())
		return op_err_set(k->e, OP_EIO, "stopped");
	mbedtls_sha256_update(&k->h, buf, len);
	for (const char *p = buf; len > 0;) {
		ssize_t w = write(k->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return op_err_set(k->e, OP_EIO, "write %s: %s", k->path, strerror(errno));
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Ends a sink: fsync, and the digest must be want. 0, or OP_ETRUST on a mismatch. */
static int sink_end(sink *k, const char *want, int rc)
{
	unsigned char sum[32];
	char hex[65];
	mbedtls_sha256_finish(&k->h, sum);
	mbedtls_sha256_free(&k->h);
	hex_of(sum, hex);
	if (!rc && fsync(k->fd) != 0)
		rc = op_err_set(k->e, OP_EIO, "fsync %s: %s", k->path, strerror(errno));
	if (!rc && strcmp(hex, want) != 0)
		rc = op_err_set(k->e, OP_ETRUST, "sha256 mismatch: want %s, got %s", want, hex);
	return rc;
}

static int sink_open(sink *k, const char *path, unsigned mode, op_err *e)
{
	k->path = path;
	k->e = e;
	unlink(path);
	k->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (k->fd < 0)
		return op_err_set(e, OP_EIO, "create %s: %s", path, strerror(errno));
	mbedtls_sha256_init(&k->h);
	mbedtls_sha256_starts(&k->h, 0);
	return 0;
}

/* Copies src into the sink, hashing. */
static int sink_copy(sink *k, const char *src)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return op_err_set(k->e, OP_EIO, "open %s: %s", src, strerror(errno));
	char buf[65536];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = op_err_set(k->e, OP_EIO, "read %s: %s", src, strerror(errno));
		if (n <= 0 || (rc = sink_write(k, buf, (size_t)n)) != 0)
			break;
	}
	close(fd);
	return rc;
}

/* --- is it there already --------------------------------------------------------------- */

/* Whether path holds the artifact; when not, what it holds instead into why (the
 * message of a refusal when nothing can install it). */
static bool stamp_ok(const inst *x, char *why, size_t n)
{
	char p[4096 + 32], *buf = NULL, want[80];
	snprintf(p, sizeof p, "%s/%s", x->path, OP_STAMP_NAME);
	snprintf(want, sizeof want, "sha256:%s\n", x->r->want);
	struct stat st;
	if (lstat(x->path, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, n, "no directory there");
		return false;
	}
	int rc = op_read_file(p, 128, &buf, NULL, NULL);
	bool ok = rc == 0 && strcmp(buf, want) == 0;
	if (!ok)
		snprintf(why, n, "sha256 mismatch: want %s, have %.80s", x->r->want,
			rc ? "no " OP_STAMP_NAME : buf);
	free(buf);
	return ok;
}

static bool installed(const inst *x, char *why, size_t n)
{
	if (x->r->a->unpack == OP_UNPACK_TAR)
		return stamp_ok(x, why, n);
	struct stat st;
	char have[65];
	op_err e = {0};
	if (lstat(x->path, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(why, n, "not a regular file");
		return false;
	}
	if (op_file_sha256(x->path, have, &e) != 0) {
		snprintf(why, n, "%.300s", e.msg);
		return false;
	}
	if (strcmp(have, x->r->want) != 0) {
		snprintf(why, n, "sha256 mismatch: want %s, have %s", x->r->want, have);
		return false;
	}
	return true;
}

/* The mode the spec wants, on what is installed (a chmod by hand is put back). */
static int apply_mode(const inst *x, op_err *e)
{
	struct stat st;
	if (stat(x->path, &st) == 0 && (st.st_mode & 07777) == x->r->a->mode)
		return 0;
	if (chmod(x->path, x->r->a->mode) != 0)
		return op_err_set(e, OP_EIO, "chmod %s: %s", x->path, strerror(errno));
	return 0;
}

/* The cache file is there and still has its digest (a bad one is removed). */
static bool cached(const inst *x)
{
	char have[65];
	if (op_file_sha256(x->cached, have, NULL) != 0)
		return false;
	if (strcmp(have, x->r->want) == 0)
		return true;
	op_log_warn("cache file has another digest: removed", "file=%s want=%s have=%s", x->cached,
		x->r->want, have);
	unlink(x->cached);
	return false;
}

/* --- the store --------------------------------------------------------------------------- */

static int store_chunk(void *arg, const void *buf, size_t len)
{
	return sink_write(arg, buf, len);
}

/* Streams the object with the wanted digest from the site's store into the cache. */
static int fetch(inst *x, op_err *e)
{
	uint8_t sha[32];
	if (op_art_digest_parse(x->r->want, sha) != 0)
		return op_err_set(e, OP_EINVAL, "bad digest %s", x->r->want);
	op_bus b = {0};
	int rc = op_bus_connect(&b, x->r->nats, "outpost-shim", NULL, 5000, e);
	if (rc)
		return rc;
	op_store s = {0};
	op_objmeta m = {0};
	bool open = false;
	rc = op_store_open_at(&s, &b, OP_STORE_BUCKET, NULL, false, e);
	if (rc == OP_ENOTFOUND)
		op_err_set(e, rc, "the site has no artifact store (%s)", OP_STORE_BUCKET);
	open = rc == 0;
	if (!rc && (rc = op_store_find(&s, sha, &m, e)) == OP_ENOTFOUND)
		op_err_set(e, rc, "sha256:%s is not in the site's artifact store", x->r->want);
	char tmp[4096 + 32];
	snprintf(tmp, sizeof tmp, "%s/.tmp-%s-%d", x->cache, x->r->want, (int)getpid());
	sink k = {.fd = -1};
	if (!rc && (rc = sink_open(&k, tmp, 0600, e)) == 0) {
		rc = op_store_read(&s, &m, store_chunk, &k, e);
		rc = sink_end(&k, x->r->want, rc);
		close(k.fd);
		if (!rc && rename(tmp, x->cached) != 0)
			rc = op_err_set(e, OP_EIO, "rename %s: %s", tmp, strerror(errno));
		if (!rc)
			rc = fsync_dir(x->cache, e);
		if (rc)
			unlink(tmp);
	}
	op_objmeta_clear(&m);
	if (open)
		op_store_close(&s);
	op_bus_close(&b);
	return rc;
}

/* --- placing it ------------------------------------------------------------------------- */

/* tmp into path's place: a plain rename over a file (or nothing), an exchange when
 * either is a directory, the old one then removed. */
static int swap_in(const inst *x, bool is_dir, op_err *e)
{
	struct stat st;
	bool exists = lstat(x->path, &st) == 0;
	if (!exists || (!is_dir && !S_ISDIR(st.st_mode))) {
		if (rename(x->tmp, x->path) != 0)
			return op_err_set(e, OP_EIO, "rename %s: %s", x->tmp, strerror(errno));
		return fsync_dir(x->dir, e);
	}
	if (renameat2(AT_FDCWD, x->tmp, AT_FDCWD, x->path, RENAME_EXCHANGE) != 0)
		return op_err_set(e, OP_EIO, "exchange %s: %s", x->path, strerror(errno));
	int rc = fsync_dir(x->dir, e);
	if (rm_rf(x->tmp) != 0) /* now the old one */
		op_log_warn("cannot remove the replaced artifact", "path=%s error=\"%s\"", x->tmp,
			strerror(errno));
	return rc;
}

static int place_file(inst *x, op_err *e)
{
	sink k = {.fd = -1};
	int rc = sink_open(&k, x->tmp, 0600, e);
	if (rc)
		return rc;
	rc = sink_copy(&k, x->cached);
	if (!rc && fchmod(k.fd, x->r->a->mode) != 0)
		rc = op_err_set(e, OP_EIO, "chmod %s: %s", x->tmp, strerror(errno));
	rc = sink_end(&k, x->r->want, rc);
	close(k.fd);
	return rc ? rc : swap_in(x, false, e);
}

static int place_tar(inst *x, op_err *e)
{
	if (mkdir(x->tmp, 0700) != 0)
		return op_err_set(e, OP_EIO, "mkdir %s: %s", x->tmp, strerror(errno));
	int rc = op_untar(x->cached, x->tmp, e);
	char stamp[sizeof x->tmp + 32], body[80];
	snprintf(stamp, sizeof stamp, "%s/%s", x->tmp, OP_STAMP_NAME);
	int n = snprintf(body, sizeof body, "sha256:%s\n", x->r->want);
	if (!rc)
		rc = op_write_atomic(stamp, body, (size_t)n, e);
	if (!rc && chmod(x->tmp, x->r->a->mode) != 0)
		rc = op_err_set(e, OP_EIO, "chmod %s: %s", x->tmp, strerror(errno));
	if (!rc)
		rc = fsync_dir(x->tmp, e);
	return rc ? rc : swap_in(x, true, e);
}

/* Leftovers of killed installs beside path: .<base>.outpost-tmp-*. */
static void clean_beside(const inst *x)
{
	DIR *d = opendir(x->dir);
	if (!d)
		return;
	char prefix[300];
	snprintf(prefix, sizeof prefix, ".%s" TMP_MARK, x->base);
	struct dirent *de;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)) != 0)
			continue;
		char p[4096 + 300];
		snprintf(p, sizeof p, "%s/%s", x->dir, de->d_name);
		if (rm_rf(p) == 0)
			op_log_info("removed a leftover of an install", "path=%s", p);
	}
	closedir(d);
}

/* --- the cache records ------------------------------------------------------------------ */

static void record_path(const inst *x, char *out, size_t n)
{
	char dg[OP_DIGEST_LEN + 1];
	op_digest(x->path, strlen(x->path), dg);
	snprintf(out, n, "%s/paths/%s", x->cache, dg + 7);
}

/* Reads a record's digests (after its path line) into v (up to OP_CACHE_PER_PATH). */
static size_t record_read(const char *file, char v[OP_CACHE_PER_PATH][65])
{
	char *buf = NULL;
	size_t n = 0;
	if (op_read_file(file, 8192, &buf, NULL, NULL) != 0)
		return 0;
	char *save = NULL, *line = strtok_r(buf, "\n", &save);
	while (line && (line = strtok_r(NULL, "\n", &save)) && n < OP_CACHE_PER_PATH)
		if (strlen(line) == 64)
			snprintf(v[n++], 65, "%s", line);
	free(buf);
	return n;
}

/* Makes want the path's current digest, and drops what no record keeps. */
static int record_update(const inst *x, op_err *e)
{
	char file[4096 + 128], old[OP_CACHE_PER_PATH][65];
	record_path(x, file, sizeof file);
	size_t nold = record_read(file, old);
	const char *oldp[OP_CACHE_PER_PATH] = {0}, *keep[OP_CACHE_PER_PATH];
	for (size_t i = 0; i < nold; i++)
		oldp[i] = old[i];
	size_t nk = op_cache_keep(oldp, nold, x->r->want, keep);
	char body[4096 + 3 * 66];
	int len = snprintf(body, sizeof body, "%s\n", x->path);
	for (size_t i = 0; i < nk && len > 0 && (size_t)len < sizeof body; i++)
		len += snprintf(body + len, sizeof body - (size_t)len, "%s\n", keep[i]);
	if (len < 0 || (size_t)len >= sizeof body)
		return op_err_set(e, OP_EINVAL, "path too long");
	/* Every start of an instance comes here: a record that says it already is not
	 * written (and synced) again. */
	char *have = NULL;
	size_t hlen = 0;
	bool same = op_read_file(file, sizeof body, &have, &hlen, NULL) == 0 &&
		hlen == (size_t)len && memcmp(have, body, hlen) == 0;
	free(have);
	return same ? 0 : op_write_atomic(file, body, (size_t)len, e);
}

/* Every record's digests, then every cache file none of them keeps goes. */
static void cache_gc(const inst *x)
{
	char pdir[4096 + 8];
	snprintf(pdir, sizeof pdir, "%s/paths", x->cache);
	static char kept[MAX_RECORDS * OP_CACHE_PER_PATH][65];
	static const char *keptp[MAX_RECORDS * OP_CACHE_PER_PATH]; /* not on the stack */
	size_t n = 0;
	DIR *d = opendir(pdir);
	struct dirent *de;
	bool full = false;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n + OP_CACHE_PER_PATH > MAX_RECORDS * OP_CACHE_PER_PATH) {
			full = true; /* not all known: remove nothing */
			break;
		}
		char f[4096 + 300];
		snprintf(f, sizeof f, "%s/%s", pdir, de->d_name);
		n += record_read(f, &kept[n]);
	}
	if (d)
		closedir(d);
	if (full || !(d = opendir(x->cache)))
		return;
	for (size_t i = 0; i < n; i++)
		keptp[i] = kept[i];
	while ((de = readdir(d))) {
		if (!op_cache_drop(de->d_name, keptp, n))
			continue;
		char f[4096 + 300];
		snprintf(f, sizeof f, "%s/%s", x->cache, de->d_name);
		if (unlink(f) == 0)
			op_log_info("cache file removed", "file=%s", f);
	}
	closedir(d);
}

/* --- the install -------------------------------------------------------------------------- */

static int setup(inst *x, const op_install_req *r, op_err *e)
{
	x->r = r;
	x->path = r->a->path;
	char copy[4096];
	if (snprintf(copy, sizeof copy, "%s", x->path) >= (int)sizeof copy ||
		snprintf(x->cache, sizeof x->cache, "%s/cache", r->state_dir) >=
			(int)sizeof x->cache - 200)
		return op_err_set(e, OP_EINVAL, "path too long");
	snprintf(x->cached, sizeof x->cached, "%s/sha256-%s", x->cache, r->want);
	snprintf(x->base, sizeof x->base, "%s", basename(copy));
	snprintf(copy, sizeof copy, "%s", x->path);
	snprintf(x->dir, sizeof x->dir, "%s", dirname(copy));
	if (snprintf(x->tmp, sizeof x->tmp, "%s/.%s" TMP_MARK "%d", x->dir, x->base,
		    (int)getpid()) >= (int)sizeof x->tmp)
		return op_err_set(e, OP_EINVAL, "path too long");
	char paths[4096 + 8];
	snprintf(paths, sizeof paths, "%s/paths", x->cache);
	return op_mkdirs(paths, 0700, e);
}

static int lock_cache(const inst *x, op_err *e)
{
	char p[4096 + 8];
	snprintf(p, sizeof p, "%s/lock", x->cache);
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return op_err_set(e, OP_EIO, "open %s: %s", p, strerror(errno));
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			close(fd);
			return op_err_set(e, OP_EIO, "lock %s: %s", p, strerror(errno));
		}
	return fd;
}

static int install_locked(inst *x, enum op_install_src *from, op_err *e)
{
	char there[400];
	bool is_in = installed(x, there, sizeof there);
	bool in_cache = !is_in && cached(x);
	*from = op_install_decide(is_in, in_cache, x->r->nats != NULL);
	int rc = 0;
	op_err why = {0};
	switch (*from) {
	case OP_INSTALL_KEEP: return apply_mode(x, e);
	case OP_INSTALL_NO_SOURCE:
		return op_err_set(e, OP_ENOTFOUND,
			"%s (not in the host cache; no --nats to fetch it from the site's store)",
			there);
	case OP_INSTALL_FROM_STORE:
		/* An artifact the store lacks keeps its old meaning: it must be there. */
		if ((rc = fetch(x, &why)) == OP_ENOTFOUND)
			return op_err_set(e, rc, "%s (not in the host cache; %s)", there, why.msg);
		if (rc)
			return op_err_set(e, rc, "%s", why.msg);
		break;
	case OP_INSTALL_FROM_CACHE: break;
	}
	if ((rc = op_mkdirs(x->dir, 0755, e)) != 0)
		return rc;
	clean_beside(x);
	rc = x->r->a->unpack == OP_UNPACK_TAR ? place_tar(x, e) : place_file(x, e);
	if (rc)
		rm_rf(x->tmp);
	return rc;
}

int op_install(const op_install_req *r, enum op_install_src *from, op_err *e)
{
	inst x;
	op_err why = {0};
	*from = OP_INSTALL_NO_SOURCE;
	int rc = setup(&x, r, &why);
	int lock = rc ? -1 : lock_cache(&x, &why);
	if (lock < 0 && !rc)
		rc = lock;
	if (!rc)
		rc = install_locked(&x, from, &why);
	if (!rc && (rc = record_update(&x, &why)) == 0)
		cache_gc(&x);
	if (lock >= 0)
		close(lock);
	if (rc)
		return op_err_set(e, rc, "artifact %s: %s", r->a->path, why.msg);
	if (*from != OP_INSTALL_KEEP)
		op_log_info("artifact installed", "path=%s sha256=%s from=%s mode=%04o", r->a->path,
			r->want, op_install_src_name(*from), r->a->mode);
	return 0;
}
