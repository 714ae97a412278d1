/* Components of type wasm on the box (see manifest.h): the WebAssembly runtime is a
 * command like any workload's (WasmEdge's `wasmedge` by default, --wasm-runtime on the
 * host), started by the shim, so supervision, restarts, logs, re-adoption and status are
 * the process code. This module only knows the runtime: which version the box has, the
 * argv that runs a module with its preopened dirs, env and memory page limit, and the
 * host dirs made before a run. */
#ifndef OUTPOST_WASM_H
#define OUTPOST_WASM_H

#include <stddef.h>
#include <sys/types.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_WASM_RUNTIME_DEFAULT "/usr/bin/wasmedge"
#define OP_WASM_PAGE (64 * 1024)
#define OP_WASM_VERSION_MAX 32

/* The version the runtime reports ("0.14.1") from the text of its `--version`
 * ("wasmedge version 0.14.1\n..."), into out[OP_WASM_VERSION_MAX + 1]; false (and
 * "none") when the text says none. Pure. */
bool op_wasm_version_parse(const char *text, char out[OP_WASM_VERSION_MAX + 1]);
/* Runs `runtime --version` (at most a few seconds) and parses it; "none" when the
 * runtime is missing or says nothing readable. */
void op_wasm_version(const char *runtime, char out[OP_WASM_VERSION_MAX + 1]);

/* The argv that runs c's module under runtime: runtime, --dir guest:host[:readonly]
 * for each dir, --env for base (NAME=VALUE strings, NULL-terminated) then c's env,
 * --memory-page-limit from limits.memory, the module's path, c's args. *argv is
 * allocated with its strings (op_wasm_argv_free). Pure. */
int op_wasm_argv(const op_component *c, const char *runtime, char *const *base, char ***argv);
void op_wasm_argv_free(char **argv);

/* Makes each missing host dir of c (and its missing parents) with mode 0750, owned by
 * uid:gid; a dir that exists is left as it is. */
int op_wasm_dirs_make(const op_component *c, uid_t uid, gid_t gid, op_err *e);

#endif
