/* The harness's git side (see harness.h): SSH keys from ssh-keygen and repositories
 * with real signed commits from git itself, which is what the verifier must agree
 * with. git always runs with a HOME of its own in the temp dir, no system config and
 * TZ=UTC, so nothing from the machine's configuration leaks into a test. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int nkeys, ncommits;

const char *h_git_env(void)
{
	const char *home = h_path("home");
	h_mkdirs(home);
	return h_str("HOME=%s XDG_CONFIG_HOME=%s GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=%s "
		     "TZ=UTC LC_ALL=C GIT_TERMINAL_PROMPT=0 ",
		h_q(home), h_q(h_str("%s/.config", home)), h_q(h_str("%s/.gitconfig", home)));
}

const h_key *h_keygen(const char *type)
{
	const char *opt = NULL;
	if (strcmp(type, "ed25519") == 0)
		opt = "-t ed25519";
	else if (strcmp(type, "ecdsa") == 0)
		opt = "-t ecdsa -b 256";
	else if (strcmp(type, "rsa") == 0)
		opt = "-t rsa -b 3072";
	if (!opt) {
		fprintf(stderr, "harness: unknown key type %s\n", type);
		return NULL;
	}
	const char *path = h_path("keys/%s-%d", type, ++nkeys);
	if (h_mkdirs(h_path("keys")) < 0 ||
		h_run(NULL, "ssh-keygen -q %s -N '' -C %s -f %s", opt, h_q(h_str("key-%d", nkeys)),
			h_q(path)) != 0)
		return NULL;
	char *pub = h_read(h_str("%s.pub", path));
	if (!pub)
		return NULL;
	/* "type base64 comment\n" -> "type base64" */
	char *sp = strchr(pub, ' ');
	if (sp)
		sp = strchr(sp + 1, ' ');
	if (!sp)
		sp = strchr(pub, '\n');
	if (sp)
		*sp = 0;
	h_key *k = malloc(sizeof *k);
	if (!k) {
		free(pub);
		return NULL;
	}
	k->type = h_str("%s", type);
	k->path = path;
	k->pub = h__keep(pub);
	h__keep((char *)k); /* freed with the harness's strings */
	return k;
}

h_repo *h_repo_new(const char *name)
{
	const char *path = h_path("%s", name);
	if (h_mkdirs(path) < 0 ||
		h_run(NULL, "%sgit init -q -b main %s", h_git_env(), h_q(path)) != 0)
		return NULL;
	h_repo *r = malloc(sizeof *r);
	if (!r)
		return NULL;
	r->path = path;
	h__keep((char *)r);
	return r;
}

int h_repo_write(h_repo *r, const char *relpath, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *content = h__vfmt(fmt, ap);
	va_end(ap);
	if (!content)
		return -1;
	int rc = h_write(h_str("%s/%s", r->path, relpath), "%s", content);
	free(content);
	return rc;
}

int h_repo_rm(h_repo *r, const char *relpath)
{
	return unlink(h_str("%s/%s", r->path, relpath));
}

int h_repo_git(h_repo *r, char **out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *args = h__vfmt(fmt, ap);
	va_end(ap);
	if (!args)
		return -1;
	int rc = h_run(out, "%sgit -C %s %s", h_git_env(), h_q(r->path), args);
	free(args);
	return rc;
}

const char *h_repo_rev(h_repo *r, const char *rev)
{
	char *out = NULL;
	if (h_repo_git(r, &out, "rev-parse --verify -q %s", h_q(rev)) != 0) {
		free(out);
		return NULL;
	}
	out[strcspn(out, "\n")] = 0;
	return h__keep(out);
}

const char *h_repo_commit(h_repo *r, const h_commit *c)
{
	static const h_commit none;
	if (!c)
		c = &none;
	const char *name = c->name ? c->name : "Test User";
	const char *email = c->email ? c->email : "test@example.com";
	const char *msgfile = h_path("commit-msg-%d", ++ncommits);
	if (h_write(msgfile, "%s\n", c->msg ? c->msg : "change") < 0)
		return NULL;
	const char *who = h_str("GIT_AUTHOR_NAME=%s GIT_AUTHOR_EMAIL=%s GIT_COMMITTER_NAME=%s "
				"GIT_COMMITTER_EMAIL=%s ",
		h_q(name), h_q(email), h_q(name), h_q(email));
	if (c->date)
		who = h_str("%sGIT_AUTHOR_DATE=%s GIT_COMMITTER_DATE=%s ", who, h_q(c->date),
			h_q(c->date));
	const char *sign = c->key
		? h_str("-c gpg.format=ssh -c user.signingkey=%s commit -S", h_q(c->key->path))
		: "-c commit.gpgsign=false commit";
	char *out = NULL;
	int rc = h_run(&out,
		"%1$sgit -C %2$s add -A && %1$s%3$sgit -C %2$s %4$s -q --allow-empty -F %5$s",
		h_git_env(), h_q(r->path), who, sign, h_q(msgfile));
	if (rc != 0) {
		fprintf(stderr, "harness: git commit in %s failed (%d):\n%s", r->path, rc, out);
		free(out);
		return NULL;
	}
	free(out);
	return h_repo_rev(r, "HEAD");
}
