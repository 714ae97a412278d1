/* How `outpost sync --once` gets its commits: through every kind of URL it accepts
 * (a path, file://, ssh:// through the system's ssh and an sshd of the test's own), and
 * with a cache under --state that is missing, damaged or merely warm. Each case looks at
 * what the hub's bucket holds afterwards and, for the cache, at the packs on disk.
 *
 * ssh:// with libgit2 1.9 built USE_SSH=exec (src/libgit2/transports/ssh_exec.c):
 * libgit2 runs `/bin/sh -c '<cmd> [-p PORT] "user@host" "git-upload-pack" "/path"'`,
 * where <cmd> is, first found:
 *   1. the GIT_SSH environment variable, taken as a whole command line (so options
 *      may follow the program: unlike git, where GIT_SSH is a program name only);
 *   2. core.sshCommand from the cache repository's config snapshot: the cache's own
 *      config, then $HOME/.gitconfig and $XDG_CONFIG_HOME/git/config, /etc/gitconfig;
 *   3. plain `ssh`.
 * GIT_SSH_COMMAND, GIT_CONFIG_GLOBAL and GIT_CONFIG_COUNT/KEY_n/VALUE_n are NOT read
 * (checked by hand against this build: each fell through to plain ssh). There is no
 * certificate callback either: host keys are ssh's business (known_hosts). ssh's
 * stderr is not captured: it lands on outpost's stderr, next to the log. The path goes
 * to the remote shell unquoted, so remote paths with spaces do not work in 1.9.
 * Here the client runs with -F /dev/null, its own key, known_hosts and BatchMode, so
 * nothing under the real ~/.ssh is read or written. */
#include <nats/nats.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hubfx.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin;

static const char *commit(fx *f, const char *msg)
{
	return h_repo_commit(f->repo, &(h_commit){.key = fx_ed, .msg = msg});
}

/* One pass from url with env (shell assignments, may be ""); returns the exit code,
 * *log gets stdout and stderr (caller frees) if log is not NULL. */
static int sync_url(fx *f, const char *env, const char *url, char **log)
{
	char *out = NULL;
	int rc = h_run(&out, "%s%s sync --once --repo %s --trust %s --state %s --nats %s", env, bin,
		h_q(url), h_q(f->trust), h_q(f->state), h_nats_url(f->hub));
	if (log)
		*log = out;
	else
		free(out);
	return rc;
}

static int sync_path(fx *f, char **log)
{
	return sync_url(f, "", f->repo->path, log);
}

/* The bucket's marker names head and app.<name> has that many instances. */
static bool published(fx *f, const char *head, const char *name, int instances)
{
	char *rev = fx_get(f, "rev"), *app = fx_get(f, h_str("app.%s", name));
	bool ok = rev && head && strstr(rev, h_str("\"commit\":\"%s\"", head)) && app &&
		strstr(app, h_str("\"instances\":%d", instances));
	if (!ok)
		fprintf(stderr, "  expected %s at %.12s with %d instances; rev=%s app=%s\n", name,
			head ? head : "(null)", instances, rev ? rev : "(none)",
			app ? app : "(none)");
	free(rev), free(app);
	return ok;
}

/* A pass that must be accepted and publish head with name at instances. */
static void expect_accepted(
	fx *f, const char *env, const char *url, const char *head, const char *name, int instances)
{
	char *log = NULL;
	int rc = sync_url(f, env, url, &log);
	T_CHECK_MSG(rc == 0 && log && strstr(log, "outcome=accepted"),
		"pass from %s: exit %d, log:\n%s", url, rc, log ? log : "");
	free(log);
	T_CHECK(published(f, head, name, instances));
}

/* ---- the cache on disk ------------------------------------------------------------- */

/* `git count-objects -v` of the cache: objects in packs, packs, loose objects. */
typedef struct objcount {
	long in_pack, packs, loose;
} objcount;

static bool count_objects(const char *cache, objcount *c)
{
	char *out = NULL;
	memset(c, 0, sizeof *c);
	c->in_pack = -1;
	int rc = h_run(&out, "%sgit --git-dir=%s count-objects -v", h_git_env(), h_q(cache));
	for (char *l = out; rc == 0 && l && *l;) {
		sscanf(l, "in-pack: %ld", &c->in_pack);
		sscanf(l, "packs: %ld", &c->packs);
		sscanf(l, "count: %ld", &c->loose);
		char *nl = strchr(l, '\n');
		l = nl ? nl + 1 : NULL;
	}
	free(out);
	return rc == 0 && c->in_pack >= 0;
}

/* The names of the cache's pack files, one a line (caller frees). */
static char *pack_names(const char *cache)
{
	char *out = NULL;
	if (h_run(&out, "cd %s/objects/pack && ls *.pack | sort", h_q(cache)) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* git fsck of the cache finds nothing wrong (the cache was rebuilt, not patched); when
 * loud, what it found is printed. */
static bool cache_sound_v(const char *cache, bool loud)
{
	char *out = NULL;
	int rc = h_run(
		&out, "%sgit --git-dir=%s fsck --full --no-dangling 2>&1", h_git_env(), h_q(cache));
	if (rc != 0 && loud)
		fprintf(stderr, "  git fsck of %s: exit %d\n%s", cache, rc, out ? out : "");
	free(out);
	return rc == 0;
}

static bool cache_sound(const char *cache)
{
	return cache_sound_v(cache, true);
}

/* ---- URLs: a path, file:// --------------------------------------------------------- */

static void test_local_path(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "path"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	const char *head = commit(&f, "alpha");
	T_REQUIRE(head);
	expect_accepted(&f, "", f.repo->path, head, "alpha", 2);
	/* A relative path works too: relative to the working directory of sync. */
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 3));
	head = commit(&f, "scale");
	T_REQUIRE(head);
	expect_accepted(&f, h_str("cd %s && ", h_q(h_tmpdir())), "path", head, "alpha", 3);
	fx_stop(&f);
}

static void test_file_url(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "fileurl"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 4));
	const char *head = commit(&f, "alpha");
	T_REQUIRE(head);
	const char *url = h_str("file://%s", f.repo->path);
	expect_accepted(&f, "", url, head, "alpha", 4);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 5));
	head = commit(&f, "scale");
	T_REQUIRE(head);
	expect_accepted(&f, "", url, head, "alpha", 5);
	fx_stop(&f);
}

/* ---- ssh:// through an sshd of our own --------------------------------------------- */

typedef struct sshd {
	pid_t pid;
	int port;
	const char *dir, *log, *user;
	const h_key *host, *client;
	const char *known_hosts; /* the right host key for [127.0.0.1]:port */
} sshd;

static sshd ssh_srv;

static bool sshd_listening(void *arg)
{
	sshd *s = arg;
	char *log = h_read(s->log);
	bool ok = log && strstr(log, "Server listening on 127.0.0.1");
	free(log);
	return ok || h_proc_exited(s->pid, NULL);
}

/* Starts (once) sshd -D -e on a free port with a host key, authorized_keys and pid
 * file of its own; it runs as whoever runs the test (root in the build root). */
static sshd *sshd_get(void)
{
	sshd *s = &ssh_srv;
	if (s->pid > 0)
		return s;
	char *path = NULL;
	if (h_run(&path, "command -v sshd || ls /usr/sbin/sshd") != 0 || !path) {
		fprintf(stderr, "test_fetch: no sshd (openssh-server) in PATH\n");
		free(path);
		return NULL;
	}
	path[strcspn(path, "\n")] = '\0';
	const struct passwd *pw = getpwuid(getuid());
	s->user = h_str("%s", pw ? pw->pw_name : "root");
	s->dir = h_path("sshd");
	s->log = h_path("sshd/sshd.log");
	s->host = h_keygen("ed25519");
	s->client = h_keygen("ed25519");
	if (!s->host || !s->client || h_mkdirs(s->dir) < 0)
		return NULL;
	/* Retry on a port taken between h_free_port() and sshd's bind. */
	for (int attempt = 0; attempt < 5; attempt++) {
		s->port = h_free_port();
		const char *conf = h_path("sshd/sshd_config");
		h_write(h_path("sshd/authorized_keys"), "%s\n", s->client->pub);
		h_write(conf,
			"Port %d\nListenAddress 127.0.0.1\nHostKey %s\nPidFile %s/sshd.pid\n"
			"AuthorizedKeysFile %s/authorized_keys\nStrictModes no\nUsePAM no\n"
			"PubkeyAuthentication yes\nPasswordAuthentication no\n"
			"KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
			"AllowTcpForwarding no\nX11Forwarding no\nLogLevel VERBOSE\n",
			s->port, s->host->path, s->dir, s->dir);
		if (h_run(NULL, "%s -t -f %s", path, h_q(conf)) != 0)
			break;
		h_write(s->log, "%s", "");
		s->pid = h_spawn_sh(s->log, "%s -D -e -f %s", path, h_q(conf));
		if (s->pid < 0)
			break;
		if (h_wait_until(sshd_listening, s, WAIT_MS) && !h_proc_exited(s->pid, NULL)) {
			s->known_hosts = h_path("sshd/known_hosts");
			h_write(s->known_hosts, "[127.0.0.1]:%d %s\n", s->port, s->host->pub);
			free(path);
			return s;
		}
		h_proc_stop(s->pid, true, 1000);
		s->pid = 0;
	}
	free(path);
	char *log = h_read(s->log);
	fprintf(stderr, "test_fetch: sshd did not start:\n%s", log ? log : "");
	free(log);
	return NULL;
}

/* The ssh command line for the client: our key and known_hosts, no ~/.ssh, no agent,
 * no prompts. */
static const char *ssh_cmd(const sshd *s, const char *known_hosts)
{
	return h_str("ssh -F /dev/null -i %s -o IdentitiesOnly=yes -o IdentityAgent=none "
		     "-o UserKnownHostsFile=%s -o GlobalKnownHostsFile=/dev/null "
		     "-o StrictHostKeyChecking=yes -o BatchMode=yes -o ConnectTimeout=10",
		s->client->path, known_hosts);
}

static const char *ssh_url(const sshd *s, const char *path)
{
	return h_str("ssh://%s@127.0.0.1:%d%s", s->user, s->port, path);
}

/* GIT_SSH carries the whole command line; HOME is a fresh dir so no global config
 * plays a part. */
static const char *ssh_env(const sshd *s, const char *known_hosts)
{
	const char *home = h_path("ssh-home-empty");
	h_mkdirs(home);
	return h_str("HOME=%s GIT_SSH=%s ", h_q(home), h_q(ssh_cmd(s, known_hosts)));
}

static int sshd_sessions(const sshd *s)
{
	char *log = h_read(s->log);
	int n = 0;
	for (const char *p = log; p && (p = strstr(p, "Accepted publickey for ")); p++)
		n++;
	free(log);
	return n;
}

static void test_ssh_url_git_ssh(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "sshrepo"));
	sshd *s = sshd_get();
	T_REQUIRE(s);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 2));
	const char *head = commit(&f, "two apps");
	T_REQUIRE(head);
	const char *url = ssh_url(s, f.repo->path), *env = ssh_env(s, s->known_hosts);
	int before = sshd_sessions(s);
	expect_accepted(&f, env, url, head, "beta", 2);
	/* It went through our sshd (one session: ls-refs and the pack share it). */
	T_EQ_INT(sshd_sessions(s), before + 1);
	/* A second revision over the same URL, into the warm cache. */
	h_repo_write(f.repo, "apps/beta.yaml", "%s", fx_app_yaml("beta", 6));
	head = commit(&f, "scale beta");
	T_REQUIRE(head);
	expect_accepted(&f, env, url, head, "beta", 6);
	char *log = NULL;
	T_EQ_INT(sync_url(&f, env, url, &log), 0);
	T_CHECK(log && strstr(log, "outcome=unchanged"));
	free(log);
	fx_stop(&f);
}

static void test_ssh_url_core_sshcommand(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "sshcfg"));
	sshd *s = sshd_get();
	T_REQUIRE(s);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 7));
	const char *head = commit(&f, "alpha");
	T_REQUIRE(head);
	/* core.sshCommand in $HOME/.gitconfig, no GIT_SSH. */
	const char *home = h_path("ssh-home-config");
	T_REQUIRE(h_write(h_str("%s/.gitconfig", home), "[core]\n\tsshCommand = %s\n",
			  ssh_cmd(s, s->known_hosts)) == 0);
	expect_accepted(
		&f, h_str("HOME=%s ", h_q(home)), ssh_url(s, f.repo->path), head, "alpha", 7);
	fx_stop(&f);
}

/* The host key is checked by ssh against known_hosts; outpost does not get around it. */
static void test_ssh_wrong_host_key(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "sshhostkey"));
	sshd *s = sshd_get();
	T_REQUIRE(s);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, "alpha"));
	const h_key *impostor = h_keygen("ed25519");
	T_REQUIRE(impostor);
	const char *kh = h_path("sshd/known_hosts-wrong");
	h_write(kh, "[127.0.0.1]:%d %s\n", s->port, impostor->pub);
	const char *url = ssh_url(s, f.repo->path);
	char *log = NULL;
	T_EQ_INT(sync_url(&f, ssh_env(s, kh), url, &log), 1);
	T_CHECK_MSG(log && strstr(log, "outcome=failed") && strstr(log, url) &&
			strstr(log, "HOST IDENTIFICATION HAS CHANGED"),
		"log: %s", log ? log : "");
	free(log);
	char *rev = fx_get(&f, "rev");
	T_CHECK(rev == NULL);
	free(rev);
	fx_stop(&f);
}

/* ---- remotes that do not exist ------------------------------------------------------ */

static void expect_fetch_failed(fx *f, const char *env, const char *url, const char *extra)
{
	char *out = NULL;
	int rc = h_run(&out, "%s%s sync --once --repo %s --trust %s --state %s --nats %s %s", env,
		bin, h_q(url), h_q(f->trust), h_q(f->state), h_nats_url(f->hub), extra);
	T_EQ_INT(rc, 1);
	/* One log line says the pass failed and names the URL. */
	const char *line = out ? strstr(out, "outcome=failed") : NULL;
	const char *eol = line ? strchr(line, '\n') : NULL;
	size_t n = line ? (eol ? (size_t)(eol - line) : strlen(line)) : 0;
	char *one = line ? strndup(line, n) : NULL;
	T_CHECK_MSG(
		one && strstr(one, url), "no failure line naming %s in:\n%s", url, out ? out : "");
	free(one);
	free(out);
	char *rev = fx_get(f, "rev");
	T_CHECK(rev == NULL);
	free(rev);
}

static void test_missing_remote(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "missing"));
	const char *gone = h_path("no-such-repo");
	expect_fetch_failed(&f, "", gone, "");
	expect_fetch_failed(&f, "", h_str("file://%s", gone), "");
	/* A directory that is not a repository. */
	h_mkdirs(h_path("not-a-repo"));
	expect_fetch_failed(&f, "", h_path("not-a-repo"), "");
	sshd *s = sshd_get();
	T_REQUIRE(s);
	expect_fetch_failed(&f, ssh_env(s, s->known_hosts), ssh_url(s, gone), "");
	/* Nothing listening on the port. */
	int dead = h_free_port();
	expect_fetch_failed(&f, ssh_env(s, s->known_hosts),
		h_str("ssh://%s@127.0.0.1:%d%s", s->user, dead, f.repo->path), "");
	/* The repository exists but not the branch. */
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	T_REQUIRE(commit(&f, "alpha"));
	expect_fetch_failed(&f, "", f.repo->path, "--branch nope");
	/* A token or password in the URL is never shown: not in the log, not in hub.sync. */
	const char *urls[] = {"https://SECRET-TOKEN-1@", "https://ops:SECRET-TOKEN-1@",
		"ssh://git:SECRET-TOKEN-1@"};
	for (size_t i = 0; i < sizeof urls / sizeof *urls; i++) {
		char *out = NULL;
		int rc = h_run(&out,
			"%s sync --once --repo %s --trust %s --state %s --nats %s 2>&1", bin,
			h_q(h_str("%s127.0.0.1:%d/fleet.git", urls[i], dead)), h_q(f.trust),
			h_q(f.state), h_nats_url(f.hub));
		char *status = NULL;
		h_run(&status, "%s status --nats %s --json", bin, h_nats_url(f.hub));
		T_EQ_INT(rc, 1);
		T_CHECK_MSG(out && strstr(out, "outcome=failed") && strstr(out, "***@127.0.0.1") &&
				!strstr(out, "SECRET-TOKEN"),
			"%s", out);
		T_CHECK_MSG(status && strstr(status, "***@127.0.0.1") && !strstr(status, "SECRET"),
			"%s", status);
		free(out);
		free(status);
	}
	fx_stop(&f);
}

/* ---- the cache: missing, damaged, warm ---------------------------------------------- */

static void test_cache_missing(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "cachegone"));
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 1));
	const char *head = commit(&f, "one");
	T_REQUIRE(head);
	expect_accepted(&f, "", f.repo->path, head, "alpha", 1);
	T_REQUIRE(access(f.cache, F_OK) == 0);

	T_EQ_INT(h_run(NULL, "rm -rf %s", h_q(f.cache)), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 2));
	T_REQUIRE((head = commit(&f, "two")));
	expect_accepted(&f, "", f.repo->path, head, "alpha", 2);
	T_CHECK(cache_sound(f.cache));

	/* The whole state dir gone. */
	T_EQ_INT(h_run(NULL, "rm -rf %s", h_q(f.state)), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 3));
	T_REQUIRE((head = commit(&f, "three")));
	expect_accepted(&f, "", f.repo->path, head, "alpha", 3);

	/* An empty dir, then a plain file where the cache should be. */
	T_EQ_INT(h_run(NULL, "rm -rf %1$s && mkdir %1$s", h_q(f.cache)), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 4));
	T_REQUIRE((head = commit(&f, "four")));
	expect_accepted(&f, "", f.repo->path, head, "alpha", 4);
	T_EQ_INT(h_run(NULL, "rm -rf %1$s && echo junk > %1$s", h_q(f.cache)), 0);
	h_repo_write(f.repo, "apps/alpha.yaml", "%s", fx_app_yaml("alpha", 5));
	T_REQUIRE((head = commit(&f, "five")));
	expect_accepted(&f, "", f.repo->path, head, "alpha", 5);
	T_CHECK(cache_sound(f.cache));
	fx_stop(&f);
}

/* What a damage does to the files it picks (a find(1) expression, shell-quoted). */
typedef struct damage {
	const char *what;
	const char *find; /* find CACHE <this> -type f */
	const char *act; /* run on each file as "$1" */
} damage;

/* Every file keeps its size: random bytes over it. */
#define GARBLE "head -c \"$(stat -c %s \"$1\")\" /dev/urandom > \"$1\""
#define TRUNCATE ": > \"$1\""
#define HALVE "truncate -s \"$(( $(stat -c %s \"$1\") / 2 ))\" \"$1\""

static const damage damages[] = {
	{"garbage over every object and ref", "\\( -path '*/objects/*' -o -path '*/refs/*' \\)",
		GARBLE},
	{"every object and ref truncated to 0", "\\( -path '*/objects/*' -o -path '*/refs/*' \\)",
		TRUNCATE},
	{"packs garbled, refs intact", "-path '*/objects/pack/*.pack'", GARBLE},
	{"pack indexes garbled, refs intact", "-path '*/objects/pack/*.idx'", GARBLE},
	{"packs cut in half, refs intact", "-path '*/objects/pack/*'", HALVE},
	{"the remote-tracking ref garbled", "-path '*/refs/remotes/*'", GARBLE},
	{"config and HEAD garbled", "-maxdepth 1 \\( -name config -o -name HEAD \\)", GARBLE},
};

static bool damage_cache(const char *cache, const damage *d)
{
	/* chmod first: git makes pack files read-only (which root ignores anyway). */
	return h_run(NULL,
		       "find %1$s %2$s -type f -exec chmod u+w {} + && "
		       "find %1$s %2$s -type f -exec sh -c %3$s _ {} \\;",
		       h_q(cache), d->find, h_q(d->act)) == 0;
}

/* Damage, then a new commit that changes one app of several (the others' blobs are
 * only in the damaged cache, so they must be fetched again), then a pass: accepted with
 * the right content, and the cache left whole. */
static void test_cache_damaged(void)
{
	for (size_t i = 0; i < sizeof damages / sizeof *damages; i++) {
		const damage *d = &damages[i];
		fx f;
		T_REQUIRE(fx_start(&f, h_str("damage%zu", i)));
		for (int a = 0; a < 5; a++)
			h_repo_write(f.repo, h_str("apps/app%d.yaml", a), "%s",
				fx_app_yaml(h_str("app%d", a), a + 1));
		const char *head = commit(&f, "five apps");
		T_REQUIRE(head);
		expect_accepted(&f, "", f.repo->path, head, "app4", 5);
		T_REQUIRE(damage_cache(f.cache, d));

		h_repo_write(f.repo, "apps/app0.yaml", "%s", fx_app_yaml("app0", 9));
		T_REQUIRE((head = commit(&f, "scale app0")));
		T_REQUIRE(kvStore_Delete(f.kv, "app.app3") == NATS_OK);
		char *log = NULL;
		int rc = sync_path(&f, &log);
		T_CHECK_MSG(rc == 0 && log && strstr(log, "outcome=accepted"),
			"after %s: exit %d, log:\n%s", d->what, rc, log ? log : "");
		free(log);
		T_CHECK_MSG(published(&f, head, "app0", 9) && published(&f, head, "app3", 4),
			"after %s", d->what);
		T_CHECK_MSG(cache_sound(f.cache), "after %s", d->what);

		/* Damage again with nothing new upstream: the head is already published. */
		T_REQUIRE(damage_cache(f.cache, d));
		rc = sync_path(&f, &log);
		T_CHECK_MSG(rc == 0 && log && strstr(log, "outcome=unchanged"),
			"unchanged after %s: exit %d, log:\n%s", d->what, rc, log ? log : "");
		free(log);
		fx_stop(&f);
	}
}

/* Eight bytes over the start of one object's compressed data in the cache's pack, found
 * by its offset in the pack index. */
static bool scribble_object(const char *cache, const char *sha)
{
	return h_run(NULL,
		       "cd %s/objects/pack && for i in *.idx; do "
		       "off=$(%sgit show-index < \"$i\" | awk -v s=%s '$2 == s { print $1 }'); "
		       "[ -n \"$off\" ] || continue; "
		       "printf scribble | dd of=\"${i%%.idx}.pack\" bs=1 seek=$((off + 2)) "
		       "conv=notrunc status=none && exit 0; done; exit 1",
		       h_q(cache), h_git_env(), sha) == 0;
}

/* One object the next pass needs is unreadable, the rest of the pack is fine: the
 * fetch succeeds (the remote sends only what is new) and the read that fails rebuilds
 * the cache. The last accepted commit is read to check ancestry; an unchanged app's
 * blob is read only when its key must be written again (the manifest index knows its
 * digest), so that key is deleted from the hub bucket first. */
static void test_cache_object_damaged(void)
{
	static const char *const targets[] = {"HEAD", "HEAD:apps/app3.yaml"};
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
		fx f;
		T_REQUIRE(fx_start(&f, h_str("object%zu", i)));
		for (int a = 0; a < 5; a++)
			h_repo_write(f.repo, h_str("apps/app%d.yaml", a), "%s",
				fx_app_yaml(h_str("app%d", a), a + 1));
		const char *head = commit(&f, "five apps");
		T_REQUIRE(head);
		expect_accepted(&f, "", f.repo->path, head, "app4", 5);
		const char *victim = h_repo_rev(f.repo, targets[i]);
		T_REQUIRE(victim);
		T_REQUIRE(scribble_object(f.cache, victim));
		T_REQUIRE(!cache_sound_v(f.cache, false));

		h_repo_write(f.repo, "apps/app0.yaml", "%s", fx_app_yaml("app0", 9));
		T_REQUIRE((head = commit(&f, "scale app0")));
		T_REQUIRE(kvStore_Delete(f.kv, "app.app3") == NATS_OK);
		char *log = NULL;
		int rc = sync_path(&f, &log);
		T_CHECK_MSG(rc == 0 && log && strstr(log, "outcome=accepted"),
			"%s unreadable: exit %d, log:\n%s", targets[i], rc, log ? log : "");
		free(log);
		T_CHECK(published(&f, head, "app0", 9) && published(&f, head, "app3", 4));
		T_CHECK(cache_sound(f.cache));
		fx_stop(&f);
	}
}

/* A second pass fetches the new objects only: the first pass's pack stays as it was
 * and one small pack joins it. */
static void test_fetch_is_incremental(void)
{
	fx f;
	T_REQUIRE(fx_start(&f, "incremental"));
	for (int a = 0; a < 100; a++)
		h_repo_write(f.repo, h_str("apps/team%d/app%d.yaml", a % 4, a), "%s",
			fx_app_yaml(h_str("app%d", a), 1));
	const char *head = commit(&f, "a hundred apps");
	T_REQUIRE(head);
	expect_accepted(&f, "", f.repo->path, head, "app42", 1);
	objcount c1, c2, c3;
	char *packs1 = pack_names(f.cache);
	T_REQUIRE(packs1 && count_objects(f.cache, &c1));
	/* 100 blobs, 4 team trees, apps/, the root tree, the commit. */
	T_CHECK_MSG(c1.in_pack + c1.loose >= 107, "first pass: %ld in packs, %ld loose", c1.in_pack,
		c1.loose);

	h_repo_write(f.repo, "apps/team2/app42.yaml", "%s", fx_app_yaml("app42", 3));
	T_REQUIRE((head = commit(&f, "scale app42")));
	expect_accepted(&f, "", f.repo->path, head, "app42", 3);
	char *packs2 = pack_names(f.cache);
	T_REQUIRE(packs2 && count_objects(f.cache, &c2));
	/* The old pack is still there (the cache was not rebuilt)... */
	T_CHECK_MSG(strstr(packs2, packs1) != NULL, "packs before:\n%safter:\n%s", packs1, packs2);
	/* ...and what came is the commit, root, apps/, team2/ and one blob. */
	long added = (c2.in_pack + c2.loose) - (c1.in_pack + c1.loose);
	T_CHECK_MSG(added >= 5 && added <= 6, "second pass added %ld objects (%ld packs -> %ld)",
		added, c1.packs, c2.packs);

	/* Nothing new: nothing fetched. */
	char *log = NULL;
	T_EQ_INT(sync_path(&f, &log), 0);
	T_CHECK(log && strstr(log, "outcome=unchanged"));
	free(log);
	char *packs3 = pack_names(f.cache);
	T_REQUIRE(packs3 && count_objects(f.cache, &c3));
	T_EQ_STR(packs3, packs2);
	T_EQ_INT(c3.in_pack + c3.loose, c2.in_pack + c2.loose);
	free(packs1), free(packs2), free(packs3);
	fx_stop(&f);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	/* A copy of the binary: a rebuild of ./outpost during the run does not touch it. */
	bin = h_path("outpost");
	if (h_run(NULL, "cp %s/outpost %s", h_q(cwd), h_q(bin)) != 0)
		return 1;
	fx_ed = h_keygen("ed25519");
	if (!fx_ed)
		return 1;
	T_RUN(test_local_path);
	T_RUN(test_file_url);
	T_RUN(test_ssh_url_git_ssh);
	T_RUN(test_ssh_url_core_sshcommand);
	T_RUN(test_ssh_wrong_host_key);
	T_RUN(test_missing_remote);
	T_RUN(test_cache_missing);
	T_RUN(test_cache_damaged);
	T_RUN(test_cache_object_damaged);
	T_RUN(test_fetch_is_incremental);
	return t_done();
}
