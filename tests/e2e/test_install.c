/* Artifacts installed on the box by the shim (agent/host/install.c), end to end: a hub
 * with its sync and object store, a site behind a link the harness cuts, its agent and
 * a host, all real processes. Each workload is the artifact itself (a shell script, or
 * a script inside a tar), which writes a marker file when it runs, so "it runs" is
 * read from the disk. What is checked: a box with no file installs it from the site's
 * store and runs it; a wrong file is replaced and the mode applied; a tar is unpacked
 * (with its stamp) and run; a hostile tar is refused with the reason in `outpost
 * status`; a box wiped while the site is cut off gets the software from the site's
 * copy; a rollback installs from the host's cache, with the object gone from every
 * store. */
#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fleet.h"
#include "outpost/agent/store/store.h"
#include "t.h"

#define WAIT_MS 60000

static fleet F;
static op_bus site_bus, hub_bus;

typedef struct art {
	const char *path; /* the file put into the store */
	char hex[65];
} art;

/* Puts the file at path into the hub's store; its digest. */
static art put_file(const char *path)
{
	art a = {.path = path};
	char *out = NULL;
	int rc = h_run(&out, "%s artifact put --nats %s %s", F.bin, h_nats_url(F.hub), path);
	if (rc != 0 || !out || sscanf(out, "sha256:%64s", a.hex) != 1)
		printf("    artifact put failed (%d): %s\n", rc, out ? out : "");
	free(out);
	return a;
}

/* A script that writes "<word>" into marker, then sleeps (with the run's tag, so the
 * harness finds it). */
static const char *script(const char *word, const char *marker)
{
	return h_str("#!/bin/sh\necho %s > %s\nexec sleep %s999\n", word, marker, F.tag);
}

static art put_script(const char *name, const char *word, const char *marker)
{
	h_mkdirs(h_path("files"));
	const char *p = h_path("files/%s", name);
	h_write(p, "%s", script(word, marker));
	return put_file(p);
}

/* A tar (gzip when gz) of entries: name and body; a body starting with "->" is a
 * symlink to the rest. */
static art put_tar(const char *name, bool gz, const char *const *ents, size_t n)
{
	h_mkdirs(h_path("files"));
	const char *p = h_path("files/%s", name);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	archive_write_open_filename(a, p);
	for (size_t i = 0; i < n; i += 2) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, ents[i]);
		archive_entry_set_perm(e, 0755);
		if (!strncmp(ents[i + 1], "->", 2)) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, ents[i + 1] + 2);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)strlen(ents[i + 1]));
		}
		archive_write_header(a, e);
		if (archive_entry_filetype(e) == AE_IFREG)
			archive_write_data(a, ents[i + 1], strlen(ents[i + 1]));
		archive_entry_free(e);
	}
	archive_write_close(a);
	archive_write_free(a);
	return put_file(p);
}

/* An app of one instance on h0 whose command is cmd, pinning the artifact (YAML flow). */
static void app(const char *name, const char *cmd, const char *artifact)
{
	h_repo_write(F.repo, h_str("apps/%s.yaml", name),
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: %s\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: %s\n        artifact: %s\n",
		name, cmd, artifact);
}

struct marker {
	const char *path, *word;
};

static bool marker_is(void *arg)
{
	struct marker *m = arg;
	char *s = h_read(m->path);
	bool ok = s && !strncmp(s, m->word, strlen(m->word)) && s[strlen(m->word)] == '\n';
	free(s);
	return ok;
}

/* Waits until the workload wrote word into marker. */
static bool runs(const char *marker, const char *word)
{
	struct marker m = {marker, word};
	return h_wait_until(marker_is, &m, WAIT_MS);
}

static int mode_of(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

static const char *host_log(void)
{
	return h_path("host0.log");
}

/* ---- the tests ------------------------------------------------------------------------ */

static art S1, S2;

static void test_from_store(void)
{
	const char *bin = h_path("box/tool/bin"), *mark = h_path("mark-tool");
	S1 = put_script("s1", "one", mark);
	app("tool", bin, h_str("{path: %s, sha256: %s}", bin, S1.hex));
	T_REQUIRE(fl_push(&F));
	T_CHECK(runs(mark, "one"));
	T_EQ_STR(h_keep(h_read(bin)), script("one", mark));
	T_EQ_INT(mode_of(bin), 0755); /* the default */
	/* Kept in the host's cache, and the install said where it came from, once. */
	T_CHECK(access(h_path("host0/cache/sha256-%s", S1.hex), F_OK) == 0);
	T_EQ_INT(
		fl_log_count(host_log(), 0, h_str("path=%s sha256=%s from=store", bin, S1.hex)), 1);
	/* No temp left beside it. */
	char *out = NULL;
	h_run(&out, "ls -A %s", h_q(h_path("box/tool")));
	T_EQ_STR(out, "bin\n");
	free(out);
}

static void test_wrong_file_replaced_mode_applied(void)
{
	const char *bin = h_path("box/other/bin"), *mark = h_path("mark-other");
	art a = put_script("o1", "other", mark);
	h_mkdirs(h_path("box/other"));
	h_write(bin, "#!/bin/sh\necho wrong > %s\nexec sleep %s998\n", mark, F.tag);
	chmod(bin, 0777);
	app("other", bin, h_str("{path: %s, sha256: %s, mode: \"0750\"}", bin, a.hex));
	T_REQUIRE(fl_push(&F));
	T_CHECK(runs(mark, "other"));
	T_EQ_STR(h_keep(h_read(bin)), script("other", mark));
	T_EQ_INT(mode_of(bin), 0750);
}

static void test_tar_unpacked(void)
{
	const char *dir = h_path("box/bundle"), *mark = h_path("mark-bundle");
	const char *const ents[] = {"bin/run", script("bundle", mark), "run", "->bin/run"};
	art t = put_tar("bundle.tgz", true, ents, 4);
	app("bundle", h_str("%s/run", dir),
		h_str("{path: %s, sha256: %s, unpack: tar, mode: \"0711\"}", dir, t.hex));
	T_REQUIRE(fl_push(&F));
	T_CHECK(runs(mark, "bundle"));
	T_EQ_STR(h_keep(h_read(h_str("%s/.outpost-artifact", dir))), h_str("sha256:%s\n", t.hex));
	T_EQ_INT(mode_of(dir), 0711);
	T_EQ_INT(mode_of(h_str("%s/bin/run", dir)), 0755);
}

static bool status_says(void *arg)
{
	char *out = NULL;
	h_run(&out, "%s status --nats %s", F.bin, h_nats_url(F.site));
	bool ok = out && strstr(out, arg);
	free(out);
	return ok;
}

static void test_hostile_tar_refused(void)
{
	const char *dir = h_path("box/evil"), *mark = h_path("mark-evil");
	const char *const ents[] = {"run", script("evil", mark), "../../escaped", "gotcha"};
	art t = put_tar("evil.tar", false, ents, 4);
	app("evil", h_str("%s/run", dir), h_str("{path: %s, sha256: %s, unpack: tar}", dir, t.hex));
	T_REQUIRE(fl_push(&F));
	const char *why = "tar entry \"../../escaped\": path has a .. component: refused";
	T_CHECK_MSG(h_wait_until(status_says, (void *)why, WAIT_MS), "status never said: %s", why);
	T_CHECK(access(dir, F_OK) != 0); /* nothing half-installed */
	T_CHECK(access(h_path("escaped"), F_OK) != 0 && access(h_path("box/escaped"), F_OK) != 0);
	T_CHECK(access(mark, F_OK) != 0);
	/* No temp left beside it. */
	char *out = NULL;
	h_run(&out, "ls -A %s", h_q(h_path("box")));
	T_CHECK_MSG(out && !strstr(out, "outpost-tmp"), "box: %s", out ? out : "");
	free(out);
	h_repo_rm(F.repo, "apps/evil.yaml");
	T_REQUIRE(fl_push(&F));
}

/* The site is cut off; its box dies and comes back empty (state dir and installed
 * files gone): the software comes from the site's copy of the store. */
static void test_box_replaced_offline(void)
{
	const char *bin = h_path("box/tool/bin"), *mark = h_path("mark-tool");
	h_link_cut(F.site);
	fl_kill_shims(&F, 0);
	T_REQUIRE(fl_box_down(&F, 0));
	char *out = NULL;
	h_run(&out, "rm -rf %s %s %s", h_q(h_path("host0")), h_q(h_path("box")), h_q(mark));
	free(out);
	long off = fl_log_size(host_log());
	T_REQUIRE(fl_start_host(&F, 0) > 0);
	T_CHECK(runs(mark, "one"));
	T_EQ_STR(h_keep(h_read(bin)), script("one", mark));
	T_CHECK(fl_log_count(host_log(), off, h_str("sha256=%s from=store", S1.hex)) >= 1);
	h_link_restore(F.site);
	T_REQUIRE(h_leaf_wait(F.site, 30000));
}

/* Removes the object with a's content from the hub's store and the site's copy. */
static bool unstore(const art *a)
{
	uint8_t sha[32];
	op_store s;
	op_objmeta m;
	op_err e = {0};
	if (op_art_digest_parse(a->hex, sha) != 0)
		return false;
	bool ok = op_store_open(&s, &hub_bus, OP_STORE_BUCKET, false, &e) == 0;
	if (ok) {
		ok = op_store_find(&s, sha, &m, &e) == 0 && op_store_delete(&s, &m, &e) == 0;
		op_objmeta_clear(&m);
		op_store_close(&s);
	}
	if (ok && op_store_open(&s, &site_bus, OP_STORE_BUCKET, false, &e) == 0) {
		if (op_store_find(&s, sha, &m, &e) == 0) {
			ok = op_store_purge_object(&s, &m, &e) == 0;
			op_objmeta_clear(&m);
		}
		op_store_close(&s);
	}
	if (!ok)
		printf("    unstore: %s\n", e.msg);
	return ok;
}

struct deployed {
	const char *app;
	uint64_t seq;
};

static bool is_deployed(void *arg)
{
	const struct deployed *d = arg;
	json_t *j = fl_kv_json(F.site_status, h_str("site.%s.app.%s", F.name, d->app));
	const char *st = json_string_value(json_object_get(j, "state"));
	bool ok = st && !strcmp(st, "deployed") &&
		(uint64_t)json_integer_value(json_object_get(j, "seq")) == d->seq;
	json_decref(j);
	return ok;
}

/* The site says app runs revision seq, its rollout done (the old instances stopped). */
static bool deployed(const char *app, uint64_t seq)
{
	struct deployed d = {app, seq};
	return h_wait_until(is_deployed, &d, WAIT_MS);
}

/* Upgrade to S2 (from the store), then back to S1 with S1 gone from every store: the
 * host's cache has it. */
static void test_rollback_from_cache(void)
{
	const char *bin = h_path("box/tool/bin"), *mark = h_path("mark-tool");
	S2 = put_script("s2", "two", mark);
	app("tool", bin, h_str("{path: %s, sha256: %s}", bin, S2.hex));
	uint64_t seq = fl_push(&F);
	T_REQUIRE(seq);
	T_CHECK(runs(mark, "two"));
	/* The S1 instance stopped: going back then starts S1 anew, from the cache. */
	T_REQUIRE(deployed("tool", seq));
	T_CHECK(access(h_path("host0/cache/sha256-%s", S1.hex), F_OK) == 0); /* the previous */
	T_REQUIRE(unstore(&S1));
	long off = fl_log_size(host_log());
	app("tool", bin, h_str("{path: %s, sha256: %s}", bin, S1.hex));
	T_REQUIRE(fl_push(&F));
	T_CHECK(runs(mark, "one"));
	T_EQ_STR(h_keep(h_read(bin)), script("one", mark));
	T_EQ_INT(fl_log_count(host_log(), off, h_str("sha256=%s from=cache", S1.hex)), 1);
	/* Both kept: the current and the previous. */
	T_CHECK(access(h_path("host0/cache/sha256-%s", S2.hex), F_OK) == 0);
}

int main(void)
{
	if (sodium_init() < 0 || !fl_start(&F, "plant-a", 1))
		return 1;
	op_err e = {0};
	if (op_bus_connect(&site_bus, h_nats_url(F.site), "test", NULL, 3000, &e) != 0 ||
		op_bus_connect(&hub_bus, h_nats_url(F.hub), "test", NULL, 3000, &e) != 0)
		return 1;
	T_RUN(test_from_store);
	T_RUN(test_wrong_file_replaced_mode_applied);
	T_RUN(test_tar_unpacked);
	T_RUN(test_hostile_tar_refused);
	T_RUN(test_box_replaced_offline);
	T_RUN(test_rollback_from_cache);
	op_bus_close(&site_bus);
	op_bus_close(&hub_bus);
	/* The artifacts are scripts that exec `sleep <tag>999`: not the fleet's /bin/sleep
	 * workloads fl_stop knows, so adopted here to be stopped with the test. */
	h_adopt_workloads(F.tag);
	fl_stop(&F);
	return t_done();
}
