/* The wasm runtime's side of the host (wasm.h): the version read from `--version`
 * text, and the command line that runs a module with its dirs, env and page limit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/host/wasm.h"
#include "outpost/agent/model/manifest.h"
#include "t.h"

static void test_version_parse(void)
{
	char v[OP_WASM_VERSION_MAX + 1];
	T_CHECK(op_wasm_version_parse(
		"wasmedge version 0.14.1\n (plugin \"wasi_logging\") version 0.1.0.0\n", v));
	T_EQ_STR(v, "0.14.1");
	T_CHECK(op_wasm_version_parse("wasmedge version 0.15.0-rc1\n", v));
	T_EQ_STR(v, "0.15.0");
	T_CHECK(!op_wasm_version_parse("", v));
	T_EQ_STR(v, "none");
	T_CHECK(!op_wasm_version_parse(NULL, v));
	T_CHECK(!op_wasm_version_parse("wasmedge version \n", v));
	T_CHECK(!op_wasm_version_parse("version .1", v));
	T_EQ_STR(v, "none");
	/* A runtime that is not there is none. */
	op_wasm_version("/nonexistent/wasmedge", v);
	T_EQ_STR(v, "none");
}

static op_app *parse(const char *props)
{
	char y[4096];
	snprintf(y, sizeof y,
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: t\n"
		"spec:\n  components:\n    - name: m\n      type: wasm\n      properties:\n"
		"        module: sha256:0123456789abcdef0123456789abcdef0123456789abcdef01234567"
		"89abcdef\n        path: /opt/m.wasm\n%s",
		props);
	op_app *a = NULL;
	op_diags d = {0};
	if (op_manifest_parse("t.yaml", y, strlen(y), &a, &d) != 0)
		op_diags_print(&d, stderr);
	op_diags_clear(&d);
	return a;
}

static const char *joined(char **argv)
{
	static char buf[2048];
	buf[0] = '\0';
	for (size_t i = 0; argv[i]; i++) {
		strncat(buf, argv[i], sizeof buf - strlen(buf) - 2);
		strncat(buf, "|", sizeof buf - strlen(buf) - 1);
	}
	return buf;
}

static void test_argv(void)
{
	op_app *a = parse("");
	T_REQUIRE(a);
	char **argv = NULL;
	T_EQ_INT(op_wasm_argv(&a->comps[0], "/usr/bin/wasmedge", NULL, &argv), 0);
	T_EQ_STR(joined(argv), "/usr/bin/wasmedge|/opt/m.wasm|");
	op_wasm_argv_free(argv);
	op_app_free(a);

	a = parse("        args: [--n, \"3\", \"--dir\"]\n        env: {B: two words, A: x=y}\n"
		  "        dirs: [{guest: /data, host: /var/lib/m}, {guest: /etc/m, host: /etc/m, "
		  "readonly: true}]\n        limits: {memory: 1Mi}\n");
	T_REQUIRE(a);
	char *base[] = {"OUTPOST_INSTANCE=t.m.0-x", NULL};
	T_EQ_INT(op_wasm_argv(&a->comps[0], "/rt", base, &argv), 0);
	/* Options before the module; the module's own args after it, whatever they say. */
	T_EQ_STR(joined(argv),
		"/rt|--dir|/data:/var/lib/m|--dir|/etc/m:/etc/m:readonly|--env|"
		"OUTPOST_INSTANCE=t.m.0-x|--env|A=x=y|--env|B=two words|--memory-page-limit|16|"
		"/opt/m.wasm|--n|3|--dir|");
	op_wasm_argv_free(argv);
	op_app_free(a);
}

int main(void)
{
	T_RUN(test_version_parse);
	T_RUN(test_argv);
	return t_done();
}
