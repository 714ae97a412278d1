/* The sites' keys for sealed secrets in a credentials directory (see creds_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds_int.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/model/sealed.h"

/* Copies old/rel to dir/rel with mode: 1 copied, 0 no such file, or an error. */
static int copy_key(const char *old, const char *dir, const char *rel, unsigned mode, op_err *e)
{
	char from[4096], to[4096], *buf = NULL;
	size_t len = 0;
	snprintf(from, sizeof from, "%s/%s", old, rel);
	snprintf(to, sizeof to, "%s/%s", dir, rel);
	int rc = op_read_file(from, 4096, &buf, &len, e);
	if (rc == OP_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	bool ok = fd >= 0 && fchmod(fd, mode) == 0 && write(fd, buf, len) == (ssize_t)len &&
		fsync(fd) == 0;
	int err = errno;
	if (fd >= 0 && close(fd) != 0)
		ok = false;
	op_secret_wipe(buf, len);
	free(buf);
	return ok ? 1 : op_err_set(e, OP_EIO, "%s: %s", to, strerror(err));
}

int op_creds_seal_keys(const op_creds *c, const char *old, const char *dir, op_err *e)
{
	for (size_t s = 0; s < c->nsites; s++) {
		char key[128], pub[128], site_dir[4096];
		snprintf(key, sizeof key, "%s/seal.key", c->sites[s]);
		snprintf(pub, sizeof pub, "%s/seal.pub", c->sites[s]);
		snprintf(site_dir, sizeof site_dir, "%s/%s", dir, c->sites[s]);
		int rc = old ? copy_key(old, dir, key, 0600, e) : 0;
		if (rc == 1)
			rc = copy_key(old, dir, pub, 0644, e);
		else if (rc == 0)
			rc = op_seal_key_write(site_dir, e);
		if (rc < 0)
			return rc;
	}
	return 0;
}
