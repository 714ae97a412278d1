/* `outpost creds`: writes a deployment's NATS identities into a new directory, one
 * credential file per identity and the config fragments that declare them (see
 * include/outpost/agent/creds/creds.h for what each identity may do). Passwords are 32 random
 * bytes from libsodium, base64url; every file is written 0600 in a 0700 directory,
 * and an existing non-empty directory is refused so that credentials are never
 * overwritten half-way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds_int.h"
#include "outpost/agent/base/cli.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/creds/creds.h"
#include "outpost/agent/trust/fresh.h"
#include "outpost/agent/wire/rollout.h"
#include "outpost/agent/trust/sshsign.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost creds --out DIR --hub-leaf URL --site NAME... [--host SITE:ID]...\n"
		"       outpost creds --update DIR [--site NAME]... [--host SITE:ID]...\n"
		"                     [--remove-site NAME]... [--remove-host SITE:ID]...\n"
		"\n"
		"Writes least-privilege NATS credentials for a hub and its sites into DIR (made,\n"
		"mode 0700; it must not exist or be empty):\n"
		"  hub/hub.conf         accounts for the hub's nats-server: include it there\n"
		"  hub/sync.creds       outpost sync        hub/status.creds   outpost status\n"
		"  hub/hook.creds       outpost sync --now  (a post-receive hook: that only)\n"
		"  hub/ci.creds         outpost artifact put and ls (an operator's CI: the\n"
		"                       artifact store, and reading the accepted revision)\n"
		"                       outpost artifact gc runs with hub/sync.creds\n"
		"  SITE/site.conf       accounts and the leaf remote for SITE's nats-server\n"
		"  SITE/leaf.creds      SITE's leaf link (also in site.conf)\n"
		"  SITE/agent.creds     outpost agent       SITE/status.creds  outpost status\n"
		"  hub/logs.creds       outpost logs (every site; and outpost status),\n"
		"                       outpost promote and outpost halt\n"
		"  SITE/logs.creds      outpost logs (SITE's; and outpost status)\n"
		"  SITE/host-ID.creds   outpost host --id ID\n"
		"  hub/fresh.key        outpost sync --fresh-key (the hub's ed25519 signing key)\n"
		"  SITE/fresh_signers   outpost agent --fresh-signers (that key's public half)\n"
		"  SITE/seal.key        outpost agent --seal-key (the site's key for sealed\n"
		"                       secrets; kept by --update)\n"
		"  SITE/seal.pub        outpost secret seal --to SITE=SITE/seal.pub\n"
		"A role reads its file from OUTPOST_NATS_CREDS. Files are 0600: keep them secret.\n"
		"\n"
		"  --out DIR          where to write\n"
		"  --hub-leaf URL     the hub's leafnode URL the sites link to; of a hub cluster,\n"
		"                     every node's, comma-separated (hub.conf is the same on\n"
		"                     each node)\n"
		"                     (nats-leaf://hub.example:7422)\n"
		"  --site NAME        a site (repeat for each)\n"
		"  --host SITE:ID     an edge box of SITE (repeat for each)\n"
		"  --update DIR       change an existing DIR: --site and --host add, "
		"--remove-site\n"
		"                     and --remove-host remove; every other identity keeps its\n"
		"                     password and the hub keeps its freshness key. The new tree\n"
		"                     replaces the old one in one rename. Then reload the hub's\n"
		"                     nats-server and the changed sites' (nats-server --signal\n"
		"                     reload) and install the new files where they are used.\n"
		"  -h, --help         this help\n");
}

/* Makes dir (0700); fails unless it is new or empty. */
static int out_dir(const char *dir, op_err *e)
{
	if (mkdir(dir, 0700) == 0)
		return 0;
	if (errno != EEXIST)
		return op_err_set(e, OP_EIO, "%s: %s", dir, strerror(errno));
	DIR *d = opendir(dir);
	if (!d)
		return op_err_set(e, OP_EIO, "%s: %s", dir, strerror(errno));
	struct dirent *ent;
	bool empty = true;
	while (empty && (ent = readdir(d)))
		empty = !strcmp(ent->d_name, ".") || !strcmp(ent->d_name, "..");
	closedir(d);
	if (!empty)
		return op_err_set(e, OP_EINVAL,
			"%s is not empty: credentials are written into a new directory", dir);
	return chmod(dir, 0700) == 0 ? 0 : op_err_set(e, OP_EIO, "%s: %s", dir, strerror(errno));
}

/* Writes dir/rel with mode 0600 (its parent made 0700); text is wiped after. */
static int put_file(const char *dir, const char *rel, char *text, op_err *e)
{
	char path[4096];
	int n = snprintf(path, sizeof path, "%s/%s", dir, rel);
	int rc = 0;
	if (!text) {
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
		goto out;
	}
	if (n < 0 || (size_t)n >= sizeof path) {
		rc = op_err_set(e, OP_EINVAL, "path too long: %s/%s", dir, rel);
		goto out;
	}
	char *slash = strrchr(path, '/');
	*slash = '\0';
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		rc = op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
		goto out;
	}
	*slash = '/';
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	size_t len = strlen(text);
	if (fd < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		rc = op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = op_err_set(e, OP_EIO, "%s: %s", path, strerror(errno));
out:
	if (text) {
		explicit_bzero(text, strlen(text));
		free(text);
	}
	return rc;
}

static void new_password(char *out, size_t len)
{
	unsigned char raw[32];
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, len, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

/* The allowed_signers line a site checks the hub's freshness and promotion records
 * with. */
static char *fresh_signers(const op_sshpriv *k)
{
	char *pub = op_sshpriv_public_line(k, "outpost-hub"), *line = NULL;
	if (pub &&
		asprintf(&line, "hub@outpost namespaces=\"" OP_FRESH_NS "," OP_PROMOTION_NS "\" %s",
			pub) < 0)
		line = NULL;
	free(pub);
	return line;
}

/* fresh_text: the key file's bytes to write again as they are (an update: OpenSSH's
 * format has random check bytes, so formatting the same key anew changes the file), or
 * NULL to format fresh. */
static int write_all(op_creds *c, const char *dir, const char *hub_leaf, const op_sshpriv *fresh,
	const char *fresh_text, op_err *e)
{
	int rc = out_dir(dir, e);
	for (size_t i = 0; i < c->n && !rc; i++)
		rc = put_file(dir, c->v[i].file, op_creds_file_text(&c->v[i]), e);
	if (!rc)
		rc = put_file(dir, "hub/hub.conf", op_creds_hub_conf(c), e);
	if (!rc)
		rc = put_file(dir, "hub/fresh.key",
			fresh_text ? strdup(fresh_text) : op_sshpriv_format(fresh, "outpost-hub"),
			e);
	for (size_t s = 0; s < c->nsites && !rc; s++) {
		char rel[128];
		snprintf(rel, sizeof rel, "%s/site.conf", c->sites[s]);
		rc = put_file(dir, rel, op_creds_site_conf(c, c->sites[s], hub_leaf), e);
		snprintf(rel, sizeof rel, "%s/fresh_signers", c->sites[s]);
		if (!rc)
			rc = put_file(dir, rel, fresh_signers(fresh), e);
	}
	return rc;
}

/* Removes dir and the files in it and in its subdirectories (the layout creds
 * writes: two levels). */
static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *ent;
	char path[4096];
	while (d && (ent = readdir(d))) {
		if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
		if (unlink(path) != 0)
			rm_tree(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* The update of an existing directory: what it holds, the changes in the order given,
 * the old passwords kept, the new tree written beside it and exchanged with it. */
struct change {
	int op; /* 's' add site, 'H' add host, 'S' remove site, 'X' remove host */
	const char *arg;
};

static int update(
	const char *dir, const char *hub_leaf, const struct change *ch, size_t nch, op_err *e)
{
	op_creds c = {0};
	op_sshpriv fresh = {0};
	char leaf[512], path[4096], tmp[4096];
	size_t kept = 0, made = 0;
	int rc = op_creds_dir_read(&c, dir, e);
	if (rc == 0 && !hub_leaf &&
		(rc = op_creds_dir_hub_leaf(&c, dir, leaf, sizeof leaf, e)) == 0)
		hub_leaf = leaf;
	for (size_t i = 0; rc == 0 && i < nch; i++)
		rc = ch[i].op == 's'      ? op_creds_add_site(&c, ch[i].arg, e)
			: ch[i].op == 'H' ? op_creds_add_host(&c, ch[i].arg, e)
			: ch[i].op == 'S' ? op_creds_remove_site(&c, ch[i].arg, e)
					  : op_creds_remove_host(&c, ch[i].arg, e);
	if (rc == 0 && !c.nsites)
		rc = op_err_set(e, OP_EUSAGE, "%s", "the last site cannot be removed");
	if (rc == 0)
		rc = op_creds_plan(&c, e);
	for (size_t i = 0; rc == 0 && i < c.n; i++) {
		int found = op_creds_dir_password(dir, &c.v[i], e);
		if (found < 0)
			rc = found;
		else if (found)
			kept++;
		else
			new_password(c.v[i].pass, sizeof c.v[i].pass), made++;
	}
	snprintf(path, sizeof path, "%s/hub/fresh.key", dir);
	char *fresh_text = NULL;
	size_t flen = 0;
	if (rc == 0)
		rc = op_sshpriv_load(&fresh, path, e);
	if (rc == 0)
		rc = op_read_file(path, 65536, &fresh_text, &flen, e);
	/* Beside dir, never inside it: "creds/" is "creds". */
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	int n = snprintf(tmp, sizeof tmp, "%.*s.new-%ld", (int)dl, dir, (long)getpid());
	if (rc == 0 && (n < 0 || (size_t)n >= sizeof tmp))
		rc = op_err_set(e, OP_EINVAL, "path too long: %s", dir);
	if (rc == 0 && (rc = write_all(&c, tmp, hub_leaf, &fresh, fresh_text, e)) == 0)
		rc = op_creds_seal_keys(&c, dir, tmp, e);
	if (rc)
		rm_tree(tmp);
	/* One step from the old tree to the new one: never a directory half-written. */
	if (rc == 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) != 0) {
		rc = op_err_set(e, OP_EIO, "%s: cannot replace it: %s", dir, strerror(errno));
		rm_tree(tmp);
	} else if (rc == 0) {
		rm_tree(tmp); /* the old tree, now */
		printf("updated %s: %zu sites, %zu credentials (%zu kept, %zu new); reload the "
		       "hub's nats-server and the changed sites'\n",
			dir, c.nsites, c.n, kept, made);
	}
	if (fresh_text)
		explicit_bzero(fresh_text, flen);
	free(fresh_text);
	op_sshpriv_clear(&fresh);
	op_creds_clear(&c);
	return rc;
}

int op_cmd_creds(int argc, char **argv)
{
	static const struct option opts[] = {{"out", required_argument, NULL, 'o'},
		{"hub-leaf", required_argument, NULL, 'l'}, {"site", required_argument, NULL, 's'},
		{"host", required_argument, NULL, 'H'}, {"update", required_argument, NULL, 'u'},
		{"remove-site", required_argument, NULL, 'S'},
		{"remove-host", required_argument, NULL, 'X'}, {"help", no_argument, NULL, 'h'},
		{0}};
	const char *dir = NULL, *hub_leaf = NULL, *upd = NULL;
	op_creds c = {0};
	op_err e = {0};
	int ch, rc = 0;
	struct change chg[256];
	size_t nchg = 0;
	optind = 1;
	while (rc == 0 && (ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if ((ch == 's' || ch == 'H' || ch == 'S' || ch == 'X') && nchg < 256)
			chg[nchg++] = (struct change){ch, optarg};
		else if (ch == 's' || ch == 'H' || ch == 'S' || ch == 'X')
			rc = op_err_set(&e, OP_EUSAGE, "%s", "at most 256 changes at once");
		switch (ch) {
		case 'o': dir = optarg; break;
		case 'u': upd = optarg; break;
		case 'l': rc = op_creds_check_url(hub_leaf = optarg, &e); break;
		case 's':
			if (rc == 0)
				rc = op_creds_add_site(&c, optarg, &e);
			break;
		case 'H':
			if (rc == 0 && !upd)
				rc = op_creds_add_host(&c, optarg, &e);
			break;
		case 'S':
		case 'X': break;
		case 'h':
			usage(stdout);
			op_creds_clear(&c);
			return OP_EXIT_OK;
		default: rc = op_err_set(&e, OP_EUSAGE, "%s", "");
		}
	}
	if (rc == 0 && upd) {
		op_creds_clear(&c);
		if (optind < argc || dir || !nchg) {
			fprintf(stderr, "outpost creds: --update %s\n",
				dir ? "and --out go apart"
				    : "needs a change: --site, --host, --remove-site or "
				      "--remove-host");
			return OP_EXIT_USAGE;
		}
		if (sodium_init() < 0)
			return OP_EXIT_FAIL;
		rc = update(upd, hub_leaf, chg, nchg, &e);
		if (rc)
			fprintf(stderr, "outpost creds: %s\n", e.msg);
		return rc == 0 ? OP_EXIT_OK : rc == OP_EUSAGE ? OP_EXIT_USAGE : OP_EXIT_FAIL;
	}
	for (size_t i = 0; rc == 0 && i < nchg; i++)
		if (chg[i].op == 'S' || chg[i].op == 'X')
			rc = op_err_set(&e, OP_EUSAGE, "%s",
				"--remove-site and --remove-host go with --update");
	if (rc == 0 && (optind < argc || !dir || !*dir))
		rc = op_err_set(&e, OP_EUSAGE, "%s",
			optind < argc ? "unexpected argument" : "--out DIR is required");
	if (rc == 0 && (!c.nsites || !hub_leaf))
		rc = op_err_set(&e, OP_EUSAGE, "%s",
			!c.nsites ? "at least one --site is required"
				  : "--hub-leaf URL is required");
	if (rc) {
		if (e.msg[0])
			fprintf(stderr, "outpost creds: %s\n", e.msg);
		usage(stderr);
		op_creds_clear(&c);
		return rc == OP_EUSAGE ? OP_EXIT_USAGE : OP_EXIT_FAIL;
	}
	if (sodium_init() < 0 || op_creds_plan(&c, &e) != 0) {
		fprintf(stderr, "outpost creds: %s\n", e.msg[0] ? e.msg : "libsodium cannot start");
		op_creds_clear(&c);
		return OP_EXIT_FAIL;
	}
	for (size_t i = 0; i < c.n; i++)
		new_password(c.v[i].pass, sizeof c.v[i].pass);
	op_sshpriv fresh = {0};
	rc = op_sshpriv_generate(&fresh, &e);
	if (rc == 0)
		rc = write_all(&c, dir, hub_leaf, &fresh, NULL, &e);
	if (rc == 0)
		rc = op_creds_seal_keys(&c, NULL, dir, &e);
	op_sshpriv_clear(&fresh);
	if (rc)
		fprintf(stderr, "outpost creds: %s\n", e.msg);
	else
		printf("wrote %zu credentials for the hub and %zu sites into %s\n", c.n, c.nsites,
			dir);
	op_creds_clear(&c);
	return rc ? OP_EXIT_FAIL : OP_EXIT_OK;
}
