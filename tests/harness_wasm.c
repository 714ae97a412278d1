/* The harness's WebAssembly modules (see harness.h): WAT written here, compiled by
 * wat2wasm from Debian's wabt. */
#include "harness.h"

#include <string.h>

#include "outpost/agent/host/supervise.h"

const char *h_wat_writer(const char *line, bool again, long long sleep_ms)
{
	/* The line sits at 16 (the iovec at 0, poll_oneoff's subscription at 64). */
	if (strlen(line) > 46 || strpbrk(line, "\"\\"))
		return NULL;
	const char *write =
		"(drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))\n";
	return h_str("(module\n"
		     "  (import \"wasi_snapshot_preview1\" \"fd_write\"\n"
		     "    (func $write (param i32 i32 i32 i32) (result i32)))\n"
		     "  (import \"wasi_snapshot_preview1\" \"poll_oneoff\"\n"
		     "    (func $poll (param i32 i32 i32 i32) (result i32)))\n"
		     "  (memory (export \"memory\") 1)\n"
		     "  (data (i32.const 16) \"%s\\0a\")\n"
		     "  (func (export \"_start\")\n"
		     "    (i32.store (i32.const 0) (i32.const 16))\n"
		     "    (i32.store (i32.const 4) (i32.const %zu))\n"
		     "%s%s"
		     "    (loop $l\n"
		     "%s%s"
		     "      (i64.store (i32.const 64) (i64.const 0))\n"
		     "      (i32.store8 (i32.const 72) (i32.const 0))\n"
		     "      (i32.store (i32.const 80) (i32.const 1))\n"
		     "      (i64.store (i32.const 88) (i64.const %lld))\n"
		     "      (i64.store (i32.const 96) (i64.const 0))\n"
		     "      (i32.store16 (i32.const 104) (i32.const 0))\n"
		     "      (drop (call $poll (i32.const 64) (i32.const 128) (i32.const 1) "
		     "(i32.const 160)))\n"
		     "      (br $l))))\n",
		line, strlen(line) + 1, again ? "" : "    ", again ? "" : write,
		again ? "      " : "", again ? write : "", sleep_ms * 1000000LL);
}

const char *h_wasm_build(const char *name, const char *wat, const char **hex)
{
	const char *src = h_path("%s.wat", name), *out = h_path("%s.wasm", name);
	char sum[65] = "";
	if (!wat || h_write(src, "%s", wat) != 0 ||
		h_run(NULL, "wat2wasm %s -o %s", src, out) != 0 ||
		op_file_sha256(out, sum, NULL) != 0)
		return NULL;
	if (hex)
		*hex = h_str("%s", sum);
	return out;
}
