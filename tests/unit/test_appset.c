/* Sets of manifests: app names unique across files (the error names both), and the
 * directory walk (recursive, sorted, *.yaml and *.yml only, dot-names skipped, symlinked
 * directories not followed). The walk runs over a temp dir made and removed here. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outpost/agent/model/appset.h"
#include "t.h"

static void print_diags(const op_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		fprintf(stderr, "    got %s:%d:%d: %s: %s\n", d->v[i].file, d->v[i].line,
			d->v[i].col, d->v[i].path, d->v[i].msg);
}

/* A valid manifest for app name, its name on line 4 column 9. */
static const char *manifest(const char *name)
{
	static char buf[512];
	snprintf(buf, sizeof buf,
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: %s\n"
		"spec:\n  components:\n    - name: c\n      type: process\n"
		"      properties: {command: /bin/c}\n",
		name);
	return buf;
}

static int add(op_appset *s, const char *file, const char *yaml, op_diags *d)
{
	return op_appset_add(s, file, yaml, strlen(yaml), d);
}

static void test_names_unique(void)
{
	op_appset s = {0};
	op_diags d = {0};
	T_EQ_INT(add(&s, "apps/a.yaml", manifest("thermo"), &d), 0);
	T_EQ_INT(add(&s, "apps/b.yaml", manifest("gateway"), &d), 0);
	/* Same name, written at another place in the second file. */
	static const char again[] = "apiVersion: core.oam.dev/v1beta1\n"
				    "kind: Application\n"
				    "metadata: {annotations: {v: '2'}, name: thermo}\n"
				    "spec:\n  components: [{name: c, type: process, "
				    "properties: {command: /c}}]\n";
	T_EQ_INT(add(&s, "apps/z/again.yml", again, &d), OP_EINVAL);
	T_REQUIRE(d.n == 1);
	T_EQ_STR(d.v[0].file, "apps/z/again.yml");
	T_EQ_INT(d.v[0].line, 3);
	T_EQ_INT(d.v[0].col, 41);
	T_EQ_STR(d.v[0].path, "metadata.name");
	T_CHECK(strstr(d.v[0].msg,
			"app \"thermo\" is already defined in apps/a.yaml:4:9; app names must be "
			"unique") != NULL);
	T_EQ_INT(s.n, 2);
	T_EQ_INT(s.nfiles, 3);
	T_EQ_INT(s.invalid, 1);
	T_EQ_INT(op_appset_find(&s, "thermo"), 0);
	T_EQ_INT(op_appset_find(&s, "gateway"), 1);
	T_EQ_INT(op_appset_find(&s, "again"), -1);
	T_EQ_STR(s.files[0], "apps/a.yaml");
	T_EQ_STR(s.files[1], "apps/b.yaml");

	/* An invalid file counts, keeps nothing, and does not stop the set. */
	T_EQ_INT(add(&s, "apps/bad.yaml", "kind: Nope\n", &d), OP_EINVAL);
	T_EQ_INT(add(&s, "apps/c.yaml", manifest("third"), &d), 0);
	T_EQ_INT(s.n, 3);
	T_EQ_INT(s.nfiles, 5);
	T_EQ_INT(s.invalid, 2);
	T_EQ_STR(s.apps[2]->name, "third");
	op_diags_clear(&d);

	/* Many apps: the set grows. */
	for (int i = 0; i < 100; i++) {
		char name[16], file[32];
		snprintf(name, sizeof name, "app-%d", i);
		snprintf(file, sizeof file, "many/%d.yaml", i);
		T_EQ_INT(add(&s, file, manifest(name), &d), 0);
	}
	T_EQ_INT(s.n, 103);
	T_EQ_INT(op_appset_find(&s, "app-99"), 102);
	T_EQ_STR(s.files[102], "many/99.yaml");
	T_EQ_INT(d.n, 0);
	op_appset_clear(&s);
	T_EQ_INT(s.n, 0);
	T_CHECK(s.apps == NULL);
	op_appset_clear(&s); /* twice is harmless */
}

static void test_manifest_names(void)
{
	T_CHECK(op_is_manifest_name("a.yaml"));
	T_CHECK(op_is_manifest_name("a.yml"));
	T_CHECK(op_is_manifest_name("x.y.yaml"));
	T_CHECK(!op_is_manifest_name(".yaml"));
	T_CHECK(!op_is_manifest_name(".yml"));
	T_CHECK(!op_is_manifest_name("yaml"));
	T_CHECK(!op_is_manifest_name("a.YAML"));
	T_CHECK(!op_is_manifest_name("a.yaml.bak"));
	T_CHECK(!op_is_manifest_name("a.json"));
	T_CHECK(!op_is_manifest_name("ayaml"));
	T_CHECK(!op_is_manifest_name(""));
}

/* --- the directory walk -------------------------------------------------------------- */

static char base[64];

static void put(const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", base, rel);
	FILE *f = fopen(path, "w");
	T_CHECK_MSG(f != NULL, "cannot create %s", path);
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void dir(const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", base, rel);
	T_CHECK_MSG(mkdir(path, 0755) == 0, "mkdir %s", path);
}

static void link_to(const char *target, const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", base, rel);
	T_CHECK_MSG(symlink(target, path) == 0, "symlink %s", path);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void rm_tree(void)
{
	if (base[0])
		T_CHECK(nftw(base, rm_one, 16, FTW_DEPTH | FTW_PHYS) == 0);
	base[0] = '\0';
}

static bool make_tree(void)
{
	snprintf(base, sizeof base, "/tmp/outpost-test-appset-XXXXXX");
	if (!mkdtemp(base)) {
		base[0] = '\0';
		return false;
	}
	dir("apps");
	dir("apps/sub");
	dir("apps/sub/deeper");
	dir("apps/sub/.x");
	dir("apps/.git");
	dir("apps/dir.yaml");
	dir("apps/empty");
	dir("other");
	put("apps/b.yaml", manifest("b"));
	put("apps/a.yml", manifest("a"));
	put("apps/m.yaml", manifest("m"));
	put("apps/zz.yaml", manifest("zz"));
	put("apps/sub/c.yaml", manifest("c"));
	put("apps/sub/deeper/d.yml", manifest("d"));
	put("apps/dir.yaml/h.yaml", manifest("h"));
	put("other/linked.yaml", manifest("linked"));
	/* Not manifests, or hidden: none of these may be read (each would be an error). */
	put("apps/.hidden.yaml", "not: [yaml");
	put("apps/.git/e.yaml", "not: [yaml");
	put("apps/sub/.x/i.yaml", "not: [yaml");
	put("apps/notes.txt", "not: [yaml");
	put("apps/f.json", "{");
	put("apps/g.yaml.bak", "not: [yaml");
	put("apps/README", "not: [yaml");
	put("apps/YAML", "not: [yaml");
	/* A symlink to a manifest is read; one to a directory is not walked (a link to an
	 * ancestor would loop). */
	link_to("../other/linked.yaml", "apps/l.yaml");
	link_to(".", "apps/loop");
	link_to("..", "apps/up.yaml");
	link_to("../other", "apps/other-dir");
	return true;
}

static void test_walk(void)
{
	T_REQUIRE(make_tree());
	char root[128];
	snprintf(root, sizeof root, "%s/apps", base);
	op_appset s = {0};
	op_diags d = {0};
	T_EQ_INT(op_appset_add_dir(&s, root, &d), 0);
	print_diags(&d);
	T_EQ_INT(op_diags_count(&d), 0);
	static const char *const want[] = {"a.yml", "b.yaml", "dir.yaml/h.yaml", "l.yaml", "m.yaml",
		"sub/c.yaml", "sub/deeper/d.yml", "zz.yaml"};
	static const char *const names[] = {"a", "b", "h", "linked", "m", "c", "d", "zz"};
	const size_t nwant = sizeof want / sizeof want[0];
	T_EQ_INT(s.n, nwant);
	T_EQ_INT(s.nfiles, nwant);
	T_EQ_INT(s.invalid, 0);
	for (size_t i = 0; i < s.n && i < nwant; i++) {
		char path[256];
		snprintf(path, sizeof path, "%s/%s", root, want[i]);
		T_EQ_STR(s.files[i], path);
		T_EQ_STR(s.apps[i]->name, names[i]);
	}
	op_appset_clear(&s);

	/* A trailing slash does not double in the names shown. */
	char slash[160];
	snprintf(slash, sizeof slash, "%s/sub/", root);
	T_EQ_INT(op_appset_add_dir(&s, slash, &d), 0);
	T_EQ_INT(s.n, 2);
	char path[256];
	snprintf(path, sizeof path, "%s/sub/c.yaml", root);
	T_EQ_STR(s.files[0], path);
	op_appset_clear(&s);

	/* An empty directory has nothing, and that is not an error here. */
	snprintf(path, sizeof path, "%s/empty", root);
	T_EQ_INT(op_appset_add_dir(&s, path, &d), 0);
	T_EQ_INT(s.nfiles, 0);
	op_appset_clear(&s);
	T_EQ_INT(op_diags_count(&d), 0);
	op_diags_clear(&d);
	rm_tree();
}

/* Errors in some files are all reported, the others still read. */
static void test_walk_errors(void)
{
	T_REQUIRE(make_tree());
	put("apps/sub/bad.yaml", "apiVersion: core.oam.dev/v1beta1\nkind: Application\n");
	put("apps/sub/deeper/dup.yaml", manifest("m")); /* m is also apps/m.yaml */
	link_to("missing.yaml", "apps/dangling.yaml"); /* not silently skipped */
	char root[128];
	snprintf(root, sizeof root, "%s/apps", base);
	op_appset s = {0};
	op_diags d = {0};
	/* The unreadable file makes it an I/O error, after the walk went on. */
	T_EQ_INT(op_appset_add_dir(&s, root, &d), OP_EIO);
	T_EQ_INT(s.nfiles, 11);
	T_EQ_INT(s.invalid, 3);
	T_EQ_INT(s.n, 8);
	/* dangling.yaml: cannot open; bad.yaml: metadata, spec; dup.yaml: name */
	T_EQ_INT(op_diags_count(&d), 4);
	char dangling[256], bad[256], dup[256], first[256];
	snprintf(dangling, sizeof dangling, "%s/dangling.yaml", root);
	snprintf(bad, sizeof bad, "%s/sub/bad.yaml", root);
	snprintf(dup, sizeof dup, "%s/sub/deeper/dup.yaml", root);
	snprintf(first, sizeof first, "already defined in %s/m.yaml:4:9", root);
	T_REQUIRE(d.n == 4);
	T_EQ_STR(d.v[0].file, dangling);
	T_CHECK(strstr(d.v[0].msg, "cannot open") != NULL);
	T_EQ_STR(d.v[1].file, bad);
	T_EQ_STR(d.v[1].path, "metadata");
	T_EQ_STR(d.v[3].file, dup);
	T_EQ_INT(d.v[3].line, 4);
	T_EQ_INT(d.v[3].col, 9);
	T_CHECK(strstr(d.v[3].msg, first) != NULL);
	op_appset_clear(&s);
	op_diags_clear(&d);

	/* A directory that is not there. */
	char gone[160];
	snprintf(gone, sizeof gone, "%s/gone", base);
	T_EQ_INT(op_appset_add_dir(&s, gone, &d), OP_EIO);
	T_REQUIRE(d.n == 1);
	T_EQ_STR(d.v[0].file, gone);
	T_CHECK(strstr(d.v[0].msg, "cannot open directory") != NULL);
	op_diags_clear(&d);

	/* One file from disk; a missing one is counted invalid. */
	snprintf(gone, sizeof gone, "%s/apps/m.yaml", base);
	T_EQ_INT(op_appset_add_file(&s, gone, &d), 0);
	T_EQ_INT(s.n, 1);
	T_EQ_STR(s.files[0], gone);
	snprintf(gone, sizeof gone, "%s/apps/none.yaml", base);
	T_EQ_INT(op_appset_add_file(&s, gone, &d), OP_EIO);
	T_EQ_INT(s.nfiles, 2);
	T_EQ_INT(s.invalid, 1);
	T_REQUIRE(d.n == 1);
	T_CHECK(strstr(d.v[0].msg, "cannot open") != NULL);
	op_appset_clear(&s);
	op_diags_clear(&d);
	rm_tree();
}

int main(void)
{
	T_RUN(test_names_unique);
	T_RUN(test_manifest_names);
	T_RUN(test_walk);
	T_RUN(test_walk_errors);
	rm_tree(); /* when a test stopped early */
	return t_done();
}
