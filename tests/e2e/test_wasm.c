/* Components of type wasm on a real host (wasm.h): WASI modules the test writes as WAT
 * and compiles with wat2wasm, run by the box's WasmEdge through the same shim as any
 * process. One prints and sleeps in a loop (running, its output in the log, stopped
 * like a process), one exits with a code (the restart policy sees the code), one reads
 * the directory it was given and then tries one it was not (WASI refuses it, the module
 * says so), one grows its memory past limits.memory (the page limit refuses it). The
 * heartbeat says which runtime the host has, and a host without one says none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "hostfx.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/wire/proto.h"
#include "t.h"

#define WAIT_MS 20000

static const char *bin;

static const char *const wat_exit3 =
	"(module\n"
	"  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n"
	"  (memory (export \"memory\") 1)\n"
	"  (func (export \"_start\") (call $exit (i32.const 3))))\n";

/* Reads hello.txt in its first preopen (fd 3) and prints it, then opens ../outside.txt
 * from there: "refused" and exit 2 when WASI says no, "allowed" and exit 0 if not. */
static const char *const wat_dirs =
	"(module\n"
	"  (import \"wasi_snapshot_preview1\" \"path_open\"\n"
	"    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))\n"
	"  (import \"wasi_snapshot_preview1\" \"fd_read\"\n"
	"    (func $read (param i32 i32 i32 i32) (result i32)))\n"
	"  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
	"    (func $write (param i32 i32 i32 i32) (result i32)))\n"
	"  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n"
	"  (memory (export \"memory\") 1)\n"
	"  (data (i32.const 256) \"hello.txt\")\n"
	"  (data (i32.const 272) \"../outside.txt\")\n"
	"  (data (i32.const 288) \"refused\\0a\")\n"
	"  (data (i32.const 304) \"allowed\\0a\")\n"
	"  (func $print (param $p i32) (param $n i32)\n"
	"    (i32.store (i32.const 0) (local.get $p))\n"
	"    (i32.store (i32.const 4) (local.get $n))\n"
	"    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))\n"
	"  (func (export \"_start\")\n"
	"    (if (i32.eqz (call $open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 9)\n"
	"          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16)))\n"
	"      (then\n"
	"        (i32.store (i32.const 20) (i32.const 1024))\n"
	"        (i32.store (i32.const 24) (i32.const 512))\n"
	"        (drop (call $read (i32.load (i32.const 16)) (i32.const 20) (i32.const 1)\n"
	"          (i32.const 28)))\n"
	"        (call $print (i32.const 1024) (i32.load (i32.const 28)))))\n"
	"    (if (call $open (i32.const 3) (i32.const 0) (i32.const 272) (i32.const 14)\n"
	"          (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 16))\n"
	"      (then (call $print (i32.const 288) (i32.const 8)) (call $exit (i32.const 2))))\n"
	"    (call $print (i32.const 304) (i32.const 8))\n"
	"    (call $exit (i32.const 0))))\n";

/* Grows its memory by 64 pages (4 MiB): "grown" and exit 0, or "no memory" and exit 4. */
static const char *const wat_grow =
	"(module\n"
	"  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
	"    (func $write (param i32 i32 i32 i32) (result i32)))\n"
	"  (import \"wasi_snapshot_preview1\" \"proc_exit\" (func $exit (param i32)))\n"
	"  (memory (export \"memory\") 1)\n"
	"  (data (i32.const 64) \"grown\\0a\")\n"
	"  (data (i32.const 80) \"no memory\\0a\")\n"
	"  (func $print (param $p i32) (param $n i32)\n"
	"    (i32.store (i32.const 0) (local.get $p))\n"
	"    (i32.store (i32.const 4) (local.get $n))\n"
	"    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))\n"
	"  (func (export \"_start\")\n"
	"    (if (i32.eq (memory.grow (i32.const 64)) (i32.const -1))\n"
	"      (then (call $print (i32.const 80) (i32.const 10)) (call $exit (i32.const 4))))\n"
	"    (call $print (i32.const 64) (i32.const 6))\n"
	"    (call $exit (i32.const 0))))\n";

/* <tmp>/name.wasm from wat: its path, and its digest in hex. */
static const char *module(const char *name, const char *wat, char hex[65])
{
	const char *h = "";
	const char *out = h_wasm_build(name, wat, &h);
	snprintf(hex, 65, "%s", h);
	return out;
}

/* Prints "tick" every 200 ms for ever. */
#define WAT_TICK h_wat_writer("tick", true, 200)

static const char *props_of(const char *path, const char *hex, const char *more)
{
	return h_str("        module: sha256:%s\n        path: %s\n%s", hex, path, more);
}

/* hx_start with type wasm: the fixture writes type process, so the YAML is patched. */
static op_hostreply start_wasm(hx_host *h, const char *app, const char *props)
{
	op_hostreply r = {0};
	const char *yaml = hx_app_yaml(app, props);
	char *y = (char *)h_str("%s", yaml), *t = strstr(y, "type: process");
	op_app *a = NULL;
	op_diags d = {0};
	if (t)
		memcpy(t, "type: wasm   ", 13);
	if (op_manifest_parse("test.yaml", y, strlen(y), &a, &d) != 0) {
		op_diags_print(&d, stderr);
		op_diags_clear(&d);
		snprintf(r.error, sizeof r.error, "test manifest invalid");
		return r;
	}
	op_hostcmd c = {.op = OP_CMD_START, .app = a, .comp = 0};
	snprintf(c.id, sizeof c.id, "%s", hx_inst_id(app, 0));
	char *json = NULL;
	op_err e = {0};
	if (op_hostcmd_encode(&c, &json, &e) == 0)
		r = hx_request(h, json);
	free(json);
	op_app_free(a);
	return r;
}

static void test_runtime_reported(void)
{
	hx_host h, none;
	T_REQUIRE(hx_host_start_extra(&h, "wr1", NULL));
	T_REQUIRE(hx_host_start_extra(&none, "wr2", "--wasm-runtime /nonexistent/wasmedge"));
	char *v = NULL;
	T_EQ_INT(h_run(&v, "wasmedge --version"), 0);
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	T_CHECK_MSG(v && hb.wasm[0] && strstr(v, h_str("version %s\n", hb.wasm)), "%s vs %s",
		hb.wasm, v ? v : "");
	printf("  runtime: wasmedge %s on %s\n", hb.wasm, op_arch_self());
	op_heartbeat_clear(&hb);
	free(v);
	T_REQUIRE(hx_hb_get(none.id, &hb));
	T_EQ_STR(hb.wasm, "none");
	op_heartbeat_clear(&hb);
	hx_host_stop(&h);
	hx_host_stop(&none);
}

/* A module that loops: running under the shim, output in the log, env through --env,
 * stopped like a process. */
static void test_tick(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "wt1", NULL));
	char hex[65];
	const char *path = module("tick", WAT_TICK, hex);
	T_REQUIRE(path);
	const char *id = hx_inst_id("tick", 0);
	op_hostreply r = start_wasm(&h, "tick", props_of(path, hex, "        user: nobody\n"));
	T_CHECK_MSG(r.ok, "%s", r.error);
	T_REQUIRE(r.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_RUNNING, &in));
	T_CHECK(hx_wait_output(&h, id, "tick\ntick\n"));
	char *cmd = h_read(h_str("/proc/%d/cmdline", in.pid));
	T_CHECK_MSG(cmd && strstr(cmd, "wasmedge"), "%s", cmd ? cmd : "");
	free(cmd);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

/* The module's exit code is the instance's: restart never leaves it exited with 3. A
 * module that is not the digest the spec names is refused before it runs. */
static void test_exit_code_and_digest(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "wt2", NULL));
	char hex[65], other[65];
	const char *path = module("exit3", wat_exit3, hex);
	T_REQUIRE(path && module("tick2", WAT_TICK, other));
	const char *id = hx_inst_id("exit3", 0), *bad = hx_inst_id("wrongmod", 0);
	T_REQUIRE(start_wasm(&h, "exit3", props_of(path, hex, "        restart: never\n")).ok);
	T_REQUIRE(start_wasm(&h, "wrongmod", props_of(path, other, "")).ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 3);
	T_REQUIRE(hx_wait_state(&h, bad, OP_INST_FAILED, &in));
	T_CHECK_MSG(strstr(in.error, "sha256"), "%s", in.error);
	hx_stop_and_check(&h, id);
	hx_stop_and_check(&h, bad);
	hx_host_stop(&h);
}

/* Preopens: what it was given it reads; one level up it is refused by WASI (and says
 * so in its log); a host dir that is missing is made, owned by the user it runs as. */
static void test_dirs(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "wt3", NULL));
	char hex[65];
	const char *path = module("dirs", wat_dirs, hex);
	T_REQUIRE(path);
	const char *data = h_path("wasm-data"), *fresh = h_path("wasm-new/a/b");
	T_REQUIRE(mkdir(data, 0755) == 0);
	T_REQUIRE(h_write(h_str("%s/hello.txt", data), "hello from the host\n") == 0);
	T_REQUIRE(h_write(h_path("outside.txt"), "secret\n") == 0);
	const char *id = hx_inst_id("dirs", 0);
	T_REQUIRE(start_wasm(&h, "dirs",
		props_of(path, hex,
			h_str("        restart: never\n        user: nobody\n"
			      "        dirs: [{guest: /data, host: %s, readonly: true},\n"
			      "               {guest: /new, host: %s}]\n",
				data, fresh)))
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, id, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 2);
	const char *out = hx_output(&h, id);
	T_CHECK_MSG(
		strstr(out, "hello from the host\nrefused\n") && !strstr(out, "secret"), "%s", out);
	struct stat st;
	T_REQUIRE(stat(fresh, &st) == 0);
	T_CHECK(S_ISDIR(st.st_mode));
	T_EQ_INT(st.st_uid, 65534);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

/* limits.memory is the runtime's page limit: 1Mi (16 pages) refuses a growth of 64
 * pages that 8Mi allows. */
static void test_memory_pages(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "wt4", NULL));
	char hex[65];
	const char *path = module("grow", wat_grow, hex);
	T_REQUIRE(path);
	const char *tight = hx_inst_id("tight", 0), *roomy = hx_inst_id("roomy", 0);
	T_REQUIRE(start_wasm(&h, "tight",
		props_of(path, hex, "        restart: never\n        limits: {memory: 1Mi}\n"))
			.ok);
	T_REQUIRE(start_wasm(&h, "roomy",
		props_of(path, hex, "        restart: never\n        limits: {memory: 8Mi}\n"))
			.ok);
	op_hb_inst in;
	T_REQUIRE(hx_wait_state(&h, tight, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 4);
	T_CHECK(strstr(hx_output(&h, tight), "no memory"));
	T_REQUIRE(hx_wait_state(&h, roomy, OP_INST_EXITED, &in));
	T_EQ_INT(in.exit_code, 0);
	T_CHECK(strstr(hx_output(&h, roomy), "grown"));
	hx_stop_and_check(&h, tight);
	hx_stop_and_check(&h, roomy);
	hx_host_stop(&h);
}

int main(void)
{
	if (!hx_init(&bin))
		return 1;
	/* Modules run as nobody must be readable by nobody: the temp dir is passed through. */
	if (chmod(h_tmpdir(), 0711) != 0)
		return 1;
	T_RUN(test_runtime_reported);
	T_RUN(test_tick);
	T_RUN(test_exit_code_and_digest);
	T_RUN(test_dirs);
	T_RUN(test_memory_pages);
	for (int i = 0; i < hx_nstates; i++)
		hx_adopt_all(&(hx_host){.state = hx_states[i]});
	return t_done();
}
