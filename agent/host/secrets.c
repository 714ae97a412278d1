/* A start's secret values on the box (see secrets_int.h). */
#include "secrets_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/model/sealed.h"

int op_host_secrets_fd(const op_hostcmd *c, int *fd, op_err *e)
{
	*fd = -1;
	if (!c->nsecrets)
		return 0;
	char *json = NULL;
	int rc = op_secret_vals_encode(c->secrets, c->nsecrets, &json, e);
	if (rc)
		return rc;
	size_t n = strlen(json);
	int m = memfd_create("outpost-secrets", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	bool ok = m >= 0;
	for (size_t off = 0; ok && off < n;) {
		ssize_t w = write(m, json + off, n - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? (size_t)w : 0;
	}
	op_secret_free(json, n + 1);
	if (ok)
		ok = lseek(m, 0, SEEK_SET) == 0 &&
			fcntl(m, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK) == 0;
	if (!ok) {
		int err = errno;
		if (m >= 0)
			close(m);
		return op_err_set(e, OP_EIO, "memfd for the secrets: %s", strerror(err));
	}
	*fd = m;
	return 0;
}

bool op_host_spec_has_secrets(const char *state_dir, const char *id)
{
	char path[4096], *buf = NULL;
	size_t len = 0;
	if (op_inst_path(path, sizeof path, state_dir, id, "spec.json") != 0 ||
		op_read_file(path, OP_CMD_MAX_BYTES, &buf, &len, NULL) != 0)
		return false;
	op_hostcmd c;
	bool any = false;
	if (op_hostcmd_decode(buf, len, &c, NULL) == 0 && c.app)
		any = c.app->comps[c.comp].nsecrets > 0;
	op_hostcmd_clear(&c);
	free(buf);
	return any;
}

int op_shim_secrets_read(int fd, op_hostcmd *cmd, op_err *e)
{
	char *buf = malloc(OP_CMD_MAX_BYTES + 1);
	size_t n = 0;
	if (!buf) {
		close(fd);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, OP_CMD_MAX_BYTES + 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
		if (n > OP_CMD_MAX_BYTES)
			break;
	}
	close(fd);
	int rc = n > OP_CMD_MAX_BYTES
		? op_err_set(e, OP_ETOOBIG, "the secrets are too large")
		: op_secret_vals_decode(buf, n, &cmd->secrets, &cmd->nsecrets, e);
	op_secret_free(buf, OP_CMD_MAX_BYTES + 1);
	return rc;
}

/* The value a reference names: the start carries every one its component uses. */
static const op_secret_val *value_of(const op_hostcmd *cmd, const op_secref *r, op_err *e)
{
	const op_secret_val *v = op_secret_vals_find(cmd->secrets, cmd->nsecrets, r->secret);
	if (!v)
		op_err_set(e, OP_ENOTFOUND,
			"secret %s: its value was not given with the start (the agent starts the "
			"instance again with it)",
			r->secret);
	return v;
}

int op_shim_secrets_env(const op_hostcmd *cmd, const op_component *comp, char ***envp, op_err *e)
{
	size_t n = 0;
	while (*envp && (*envp)[n])
		n++;
	for (size_t i = 0; i < comp->nsecrets; i++) {
		const op_secref *r = &comp->secrets[i];
		if (!r->env)
			continue;
		const op_secret_val *v = value_of(cmd, r, e);
		if (!v)
			return OP_ENOTFOUND;
		if (memchr(v->val, '\0', v->len))
			return op_err_set(e, OP_EINVAL,
				"secret %s holds a NUL byte: it cannot be an environment variable "
				"(use a file)",
				r->secret);
		size_t kl = strlen(r->env), len = kl + 1 + v->len + 1;
		char *kv = malloc(len);
		if (!kv)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		memcpy(kv, r->env, kl);
		kv[kl] = '=';
		memcpy(kv + kl + 1, v->val, v->len);
		kv[len - 1] = '\0';
		size_t at = n;
		for (size_t k = 0; k < n; k++)
			if (!strncmp((*envp)[k], r->env, kl) && (*envp)[k][kl] == '=')
				at = k;
		if (at < n) {
			op_secret_free((*envp)[at], strlen((*envp)[at]));
			(*envp)[at] = kv;
			continue;
		}
		char **nv = realloc(*envp, (n + 2) * sizeof *nv);
		if (!nv) {
			op_secret_free(kv, len);
			return op_err_set(e, OP_ENOMEM, "out of memory");
		}
		nv[n++] = kv;
		nv[n] = NULL;
		*envp = nv;
	}
	return 0;
}

/* A file system that keeps its files in memory only. */
static bool in_memory(const char *dir)
{
	struct statfs f;
	return statfs(dir, &f) == 0 &&
		((unsigned long)f.f_type == TMPFS_MAGIC || (unsigned long)f.f_type == RAMFS_MAGIC);
}

/* The files this shim wrote (one shim is one instance), by inode: an instance that is
 * replaced (start-first) removes its files only if they are still the ones it wrote, not
 * its successor's at the same path. */
static struct {
	dev_t dev;
	ino_t ino;
} written[OP_MAX_SECRET_FILES];

static int write_one(
	const char *path, const op_secret_val *v, unsigned mode, uid_t uid, gid_t gid, op_err *e)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, "/");
	/* Missing dirs: traversable, not listable, so that a workload of another user
	 * reaches its file (which only it may read). */
	int rc = op_mkdirs(dir, 0711, e);
	if (rc)
		return rc;
	if (!in_memory(dir))
		return op_err_set(e, OP_EINVAL,
			"secret file %.300s: %.300s is not on a tmpfs (a secret is never written "
			"to "
			"disk: use /run or another tmpfs)",
			path, dir);
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp-%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return op_err_set(e, OP_EIO, "secret file %.300s: %s", path, strerror(errno));
	bool ok = fchmod(fd, mode) == 0 && (uid == (uid_t)-1 || fchown(fd, uid, gid) == 0);
	for (size_t off = 0; ok && off < v->len;) {
		ssize_t w = write(fd, v->val + off, v->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		ok = w > 0;
		off += ok ? (size_t)w : 0;
	}
	int err = ok ? 0 : errno;
	if (close(fd) != 0 && ok)
		ok = false, err = errno;
	if (ok && rename(tmp, path) != 0)
		ok = false, err = errno;
	if (!ok) {
		unlink(tmp);
		return op_err_set(e, OP_EIO, "secret file %.300s: %s", path, strerror(err));
	}
	return 0;
}

int op_shim_secrets_files(
	const op_hostcmd *cmd, const op_component *comp, uid_t uid, gid_t gid, op_err *e)
{
	size_t k = 0;
	for (size_t i = 0; i < comp->nsecrets; i++) {
		const op_secref *r = &comp->secrets[i];
		if (!r->path)
			continue;
		const op_secret_val *v = value_of(cmd, r, e);
		if (!v)
			return OP_ENOTFOUND;
		int rc = write_one(r->path, v, r->mode, uid, gid, e);
		struct stat st;
		if (rc == 0 && k < OP_MAX_SECRET_FILES && lstat(r->path, &st) == 0) {
			written[k].dev = st.st_dev;
			written[k].ino = st.st_ino;
		}
		k++;
		if (rc)
			return rc;
	}
	return 0;
}

void op_shim_secrets_unlink(const op_component *comp)
{
	size_t k = 0;
	for (size_t i = 0; comp && i < comp->nsecrets; i++) {
		if (!comp->secrets[i].path)
			continue;
		struct stat st;
		if (k < OP_MAX_SECRET_FILES && lstat(comp->secrets[i].path, &st) == 0 &&
			st.st_dev == written[k].dev && st.st_ino == written[k].ino)
			unlink(comp->secrets[i].path);
		k++;
	}
}
