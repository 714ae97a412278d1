/* An existing credentials directory, read back so that `outpost creds --update` can add
 * or remove one site or host without touching anyone else's secret: which sites and
 * hosts it holds, each identity's password, the hub's leaf URL (from a site.conf) and
 * the freshness key. Written as a whole new tree beside it, then swapped in with one
 * rename (see creds_cmd.c), so a crash leaves either the old tree or the new one. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "creds_int.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/model/manifest.h"

static bool is_dir(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds every site (a directory with leaf.creds) and its hosts (host-ID.creds). */
int op_creds_dir_read(op_creds *c, const char *dir, op_err *e)
{
	DIR *d = opendir(dir);
	if (!d)
		return op_err_set(e, OP_EIO, "%s: cannot read the directory", dir);
	char path[4096];
	struct dirent *ent;
	int rc = 0;
	/* Sites first (hosts name a site added before), in the directory's order. */
	while (rc == 0 && (ent = readdir(d))) {
		if (ent->d_name[0] == '.' || !strcmp(ent->d_name, "hub"))
			continue;
		snprintf(path, sizeof path, "%s/%s/leaf.creds", dir, ent->d_name);
		struct stat st;
		if (stat(path, &st) == 0 && op_name_valid(ent->d_name))
			rc = op_creds_add_site(c, ent->d_name, e);
	}
	closedir(d);
	for (size_t s = 0; rc == 0 && s < c->nsites; s++) {
		snprintf(path, sizeof path, "%s/%s", dir, c->sites[s]);
		DIR *sd = opendir(path);
		if (!sd)
			return op_err_set(e, OP_EIO, "%s: cannot read the directory", path);
		while (rc == 0 && (ent = readdir(sd))) {
			size_t n = strlen(ent->d_name);
			if (n <= 11 || strncmp(ent->d_name, "host-", 5) != 0 ||
				strcmp(ent->d_name + n - 6, ".creds") != 0)
				continue;
			char id[128];
			snprintf(id, sizeof id, "%s:%.*s", c->sites[s], (int)(n - 11),
				ent->d_name + 5);
			rc = op_creds_add_host(c, id, e);
		}
		closedir(sd);
	}
	if (rc == 0 && !is_dir(dir))
		rc = op_err_set(e, OP_EIO, "%s: not a directory", dir);
	return rc;
}

/* Each identity's password from its file, when the file is there and names that user:
 * 1 when found, 0 when the identity is new, or an error. */
int op_creds_dir_password(const char *dir, op_ident *id, op_err *e)
{
	char path[4096], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof path, "%s/%s", dir, id->file);
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	int rc = op_read_file(path, 4096, &text, &len, e);
	if (rc)
		return rc;
	size_t ulen = strlen(id->user);
	char *nl = strchr(text, '\n');
	if (nl)
		*nl = '\0';
	if (strncmp(text, id->user, ulen) != 0 || text[ulen] != ':' || !text[ulen + 1] ||
		strlen(text + ulen + 1) >= sizeof id->pass) {
		explicit_bzero(text, len);
		free(text);
		return op_err_set(e, OP_EINVAL, "%s: expected \"%s:PASSWORD\" on its first line",
			path, id->user);
	}
	snprintf(id->pass, sizeof id->pass, "%s", text + ulen + 1);
	explicit_bzero(text, len);
	free(text);
	return 1;
}

/* The hub's leaf URL as a site.conf names it, without the site's user info. */
/* The remote's `urls: [ ... ]` of a cluster hub, back to "scheme://host:port,..."
 * without the user info. 0, or -1 when text has none. */
static int hub_leaf_list(const char *text, char *url, size_t len)
{
	const char *p = strstr(text, "urls: [");
	const char *end = p ? strchr(p, ']') : NULL;
	size_t w = 0;
	if (!end || !len)
		return -1;
	url[0] = '\0';
	for (const char *q = strchr(p, '"'); q && q < end; q = strchr(q, '"')) {
		const char *close = strchr(q + 1, '"'), *scheme = strstr(q + 1, "://");
		const char *at = scheme ? strchr(scheme, '@') : NULL;
		if (!close || !scheme || !at || at > close || scheme > close)
			return -1;
		int k = snprintf(url + w, len - w, "%s%.*s://%.*s", w ? "," : "",
			(int)(scheme - q - 1), q + 1, (int)(close - at - 1), at + 1);
		if (k < 0 || (size_t)k >= len - w)
			return -1;
		w += (size_t)k;
		q = close + 1;
	}
	return w ? 0 : -1;
}

int op_creds_dir_hub_leaf(const op_creds *c, const char *dir, char *url, size_t len, op_err *e)
{
	for (size_t s = 0; s < c->nsites; s++) {
		char path[4096], *text = NULL;
		size_t n = 0;
		snprintf(path, sizeof path, "%s/%s/site.conf", dir, c->sites[s]);
		if (op_read_file(path, 1 << 20, &text, &n, e) != 0)
			continue;
		if (hub_leaf_list(text, url, len) == 0) {
			explicit_bzero(text, n);
			free(text);
			return 0;
		}
		const char *u = strstr(text, "url: \""), *scheme = u ? strstr(u, "://") : NULL;
		const char *at = scheme ? strchr(scheme, '@') : NULL;
		const char *end = at ? strchr(at, '"') : NULL;
		if (end && !memchr(u, '\n', (size_t)(end - u))) {
			snprintf(url, len, "%.*s://%.*s", (int)(scheme - u - 6), u + 6,
				(int)(end - at - 1), at + 1);
			explicit_bzero(text, n);
			free(text);
			return 0;
		}
		explicit_bzero(text, n);
		free(text);
	}
	return op_err_set(e, OP_EUSAGE,
		"%s: no site.conf names the hub's leaf URL: give --hub-leaf URL", dir);
}
