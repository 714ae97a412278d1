/* `outpost validate`, `--version` and `--help`, driven through the real static binary:
 * exit codes, the file:line:col diagnostics on stderr, the per-file lines on stdout,
 * directories, duplicate app names across files, and hostile files refused fast. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

static const char *bin;

static const char *valid_app(const char *name)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n        command: /bin/sleep\n        args: [\"600\"]\n",
		name);
}

static void test_version_and_help(void)
{
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s --version", bin), 0);
	const char *libs[] = {"outpost ", "nats.c", "libgit2", "libyaml", "mbedtls", "libsodium",
		"jansson", "openssl"};
	for (size_t i = 0; i < sizeof libs / sizeof *libs; i++)
		T_CHECK_MSG(out && strstr(out, libs[i]), "--version lacks %s", libs[i]);
	free(out);
	T_EQ_INT(h_run(&out, "%s --help", bin), 0);
	T_CHECK(out && strstr(out, "validate") && strstr(out, "sync"));
	free(out);
	const char *cmds[] = {"validate", "sync"};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		T_EQ_INT(h_run(&out, "%s %s --help", bin, cmds[i]), 0);
		T_CHECK_MSG(out && strstr(out, "usage: outpost"), "%s --help", cmds[i]);
		free(out);
	}
	T_EQ_INT(h_run(NULL, "%s 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s frobnicate 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s validate 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL, "%s validate --bogus x 2>/dev/null", bin), 2);
}

static void test_static_binary(void)
{
	char *out = NULL;
	T_EQ_INT(h_run(&out, "file -L %s", bin), 0);
	T_CHECK_MSG(out && strstr(out, "statically linked"), "file says: %s", out ? out : "");
	free(out);
}

static void test_valid_dir(void)
{
	const char *dir = h_path("valid");
	T_REQUIRE(h_write(h_str("%s/a.yaml", dir), "%s", valid_app("alpha")) == 0);
	T_REQUIRE(h_write(h_str("%s/sub/b.yml", dir), "%s", valid_app("beta")) == 0);
	T_REQUIRE(h_write(h_str("%s/notes.txt", dir), "not a manifest") == 0);
	T_REQUIRE(h_write(h_str("%s/.hidden.yaml", dir), "garbage: [") == 0);
	char *out = NULL, *err = NULL;
	T_EQ_INT(h_run2(&out, &err, "%s validate %s", bin, dir), 0);
	T_CHECK(out && strstr(out, "a.yaml: ok app=alpha sha256:"));
	T_CHECK(out && strstr(out, "sub/b.yml: ok app=beta sha256:"));
	T_CHECK(out && !strstr(out, "notes") && !strstr(out, "hidden"));
	T_EQ_STR(err, "");
	free(out), free(err);

	/* --json prints the canonical JSON: sorted keys, defaults filled. */
	T_EQ_INT(h_run(&out, "%s validate --json %s/a.yaml", bin, dir), 0);
	T_CHECK(out && !strncmp(out, "{\"apiVersion\":\"core.oam.dev/v1beta1\",\"format\":1,", 48));
	T_CHECK(out && strstr(out, "\"restart\":\"always\"") && strstr(out, "\"instances\":1"));
	free(out);
}

static void test_invalid_file(void)
{
	const char *f = h_path("bad/thermo.yaml");
	T_REQUIRE(h_write(f,
			  "apiVersion: core.oam.dev/v1beta1\n"
			  "kind: Application\n"
			  "metadata:\n"
			  "  name: Thermo\n"
			  "spec:\n"
			  "  components:\n"
			  "    - name: reader\n"
			  "      type: process\n"
			  "      properties:\n"
			  "        command: bin/reader\n"
			  "      traits:\n"
			  "        - type: spreadscaler\n"
			  "          properties: {instances: 20000}\n") == 0);
	char *out = NULL, *err = NULL;
	T_EQ_INT(h_run2(&out, &err, "%s validate %s", bin, f), 1);
	T_CHECK(err && strstr(err, h_str("%s:4:9: metadata.name: expected an app name", f)));
	T_CHECK(err &&
		strstr(err,
			h_str("%s:10:18: spec.components[0].properties.command: "
			      "expected an absolute path",
				f)));
	T_CHECK(err &&
		strstr(err,
			h_str("%s:13:35: spec.components[0].traits[0].properties."
			      "instances: expected an integer from 0 to 10000",
				f)));
	T_CHECK(err && strstr(err, "3 errors; 1 of 1 file invalid"));
	T_EQ_STR(out, "");
	free(out), free(err);
}

static void test_duplicates_and_missing(void)
{
	const char *dir = h_path("dups");
	T_REQUIRE(h_write(h_str("%s/one.yaml", dir), "%s", valid_app("same")) == 0);
	T_REQUIRE(h_write(h_str("%s/two.yaml", dir), "%s", valid_app("same")) == 0);
	char *err = NULL;
	T_EQ_INT(h_run2(NULL, &err, "%s validate %s", bin, dir), 1);
	T_CHECK(err &&
		strstr(err,
			h_str("%s/two.yaml:4:9: metadata.name: app \"same\" is "
			      "already defined in %s/one.yaml:4:9",
				dir, dir)));
	free(err);
	T_EQ_INT(h_run2(NULL, &err, "%s validate %s", bin, h_path("nope.yaml")), 1);
	T_CHECK(err && strstr(err, "cannot open"));
	free(err);
	T_REQUIRE(h_mkdirs(h_path("empty")) == 0);
	T_EQ_INT(h_run2(NULL, &err, "%s validate %s", bin, h_path("empty")), 1);
	T_CHECK(err && strstr(err, "no *.yaml or *.yml manifests"));
	free(err);
}

static void test_hostile_files(void)
{
	/* Billion laughs: 9 levels of 10 aliases would expand to 10^9 nodes. */
	const char *f = h_path("lol.yaml");
	FILE *fp = fopen(f, "w");
	T_REQUIRE(fp != NULL);
	fprintf(fp, "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
	for (int i = 1; i < 10; i++) {
		fprintf(fp, "a%d: &a%d [", i, i);
		for (int j = 0; j < 10; j++)
			fprintf(fp, "%s*a%d", j ? ", " : "", i - 1);
		fprintf(fp, "]\n");
	}
	fclose(fp);
	char *err = NULL;
	long long t0 = h_now_ms();
	T_EQ_INT(h_run2(NULL, &err, "%s validate %s", bin, f), 1);
	T_CHECK(err && strstr(err, "too large"));
	free(err);
	printf("  billion laughs refused in %lld ms\n", h_now_ms() - t0);

	/* A file over 1 MiB is refused before parsing. */
	const char *big = h_path("big.yaml");
	fp = fopen(big, "w");
	T_REQUIRE(fp != NULL);
	for (int i = 0; i < 70000; i++)
		fprintf(fp, "# padding padding\n");
	fclose(fp);
	T_EQ_INT(h_run2(NULL, &err, "%s validate %s", bin, big), 1);
	T_CHECK(err && strstr(err, h_str("%s:1:1: (document): file too large", big)));
	free(err);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	T_RUN(test_version_and_help);
	T_RUN(test_static_binary);
	T_RUN(test_valid_dir);
	T_RUN(test_invalid_file);
	T_RUN(test_duplicates_and_missing);
	T_RUN(test_hostile_files);
	return t_done();
}
