/* The application model: one manifest (YAML in Git, canonical JSON in KV) as plain
 * structs. Parsing is strict and total: every error names file:line:col, the field
 * path and what was expected, and all of a file's errors come out of one run. The
 * canonical JSON fills every default, so model -> JSON -> model is the identity and
 * equal specs are equal bytes with equal digests. */
#ifndef OUTPOST_MANIFEST_H
#define OUTPOST_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"

#define OP_API_VERSION "core.oam.dev/v1beta1"
#define OP_KIND "Application"
#define OP_FORMAT 1
#define OP_NAME_MAX 63

/* Caps on counts, so that a manifest's size in memory is bounded. */
#define OP_MAX_COMPONENTS 64
#define OP_MAX_ARGS 256
#define OP_MAX_ENV 256
#define OP_MAX_LABELS 32 /* requirements of one spread or placement */
#define OP_MAX_SPREAD 32
#define OP_MAX_SITES 1024
#define OP_MAX_ANNOTATIONS 64
#define OP_MAX_STRING 4096
#define OP_MAX_INSTANCES 10000 /* spreadscaler, per site */
#define OP_MAX_DAEMON 100 /* daemonscaler, per matching host */
#define OP_MAX_WEIGHT 1000000
#define OP_DIGEST_LEN 71 /* "sha256:" + 64 hex */

typedef struct op_kv {
	char *key, *val;
} op_kv;
/* String map, sorted by key (bytewise), keys unique. */
typedef struct op_kvs {
	op_kv *v;
	size_t n;
} op_kvs;
typedef struct op_strs {
	char **v;
	size_t n;
} op_strs;

enum op_restart { OP_RESTART_ALWAYS, OP_RESTART_ON_FAILURE, OP_RESTART_NEVER };
enum op_rollout { OP_ROLLOUT_START_FIRST, OP_ROLLOUT_STOP_FIRST };
enum op_scaler { OP_SCALER_SPREAD, OP_SCALER_DAEMON };

typedef struct op_spread {
	char *name; /* default "spread-<index>" */
	op_kvs requirements; /* host labels, all must match */
	int weight; /* default 100 */
} op_spread;

typedef struct op_trait {
	enum op_scaler type;
	int instances; /* spread: per site; daemon: per matching host */
	op_spread *spread;
	size_t nspread;
} op_trait;

#define OP_ARTIFACT_MODE_DEFAULT 0755
enum op_unpack { OP_UNPACK_NONE, OP_UNPACK_TAR };

typedef struct op_artifact {
	char *path;
	char *sha256; /* one digest for every arch (64 lowercase hex), or NULL */
	op_kvs sha256_arch; /* else one per Debian arch name */
	unsigned mode; /* permission bits of the installed file (or directory), 0..07777 */
	enum op_unpack unpack; /* tar: path is a directory unpacked from the tar */
} op_artifact;

/* properties.health: one probe, run on the box every interval. Every field is filled
 * (defaults below) when has_health; durations in milliseconds. */
enum op_probe { OP_PROBE_EXEC, OP_PROBE_HTTP, OP_PROBE_TCP };
#define OP_HEALTH_INTERVAL_MS 10000
#define OP_HEALTH_TIMEOUT_MS 1000 /* or the interval, when that is shorter */
#define OP_HEALTH_FAILURES 3
#define OP_HEALTH_MIN_INTERVAL_MS 100
#define OP_HEALTH_MIN_TIMEOUT_MS 10
#define OP_HEALTH_MAX_MS 3600000 /* interval, timeout, start_period, min_ready */
#define OP_HEALTH_MAX_FAILURES 100
#define OP_HEALTH_PATH_MAX 1024
#define OP_MIN_READY_MS 5000

typedef struct op_health_check {
	enum op_probe probe;
	char *command; /* exec: absolute */
	op_strs args; /* exec */
	int port; /* http, tcp: 1..65535 on 127.0.0.1 */
	char *path; /* http: starts with '/', printable ASCII without spaces; default "/" */
	int64_t interval_ms, timeout_ms, start_period_ms;
	int failures; /* consecutive failed probes before unhealthy */
} op_health_check;

/* A secret a component uses (env: {NAME: {secret: S}}, files: [{path, secret, mode}]):
 * a reference to secrets/S.yaml, never the value. sealed is the git blob id of that
 * sealed file, pinned by the site's agent when it applies a revision (secret.h): it is
 * in the component's properties, so a changed secret changes the instance ids without
 * any digest of the value. NULL in Git and in the hub's canonical JSON. */
#define OP_MAX_SECRET_FILES 32
#define OP_SECRET_FILE_MODE_DEFAULT 0400
typedef struct op_secref {
	char *env; /* the environment variable, or NULL for a file */
	char *path; /* the file (absolute), or NULL for an env */
	char *secret; /* a name: secrets/<secret>.yaml */
	unsigned mode; /* file only */
	char *sealed; /* 40 hex, or NULL */
} op_secref;

/* properties.user, group, umask and limits: how the host fences a workload in
 * (fence_check.c; applied by the shim, fence.h). What is absent keeps the host's default
 * and stays out of the canonical JSON, so apps written before these fields keep their
 * digests. */
#define OP_UMASK_DEFAULT 022
#define OP_FENCE_ID_MAX 32 /* a user or group name, or a decimal id */
#define OP_LIMIT_MEMORY_MIN (1LL << 20) /* 1Mi */
#define OP_LIMIT_MEMORY_MAX (1LL << 50) /* 1Pi */
#define OP_LIMIT_FILES_MAX (1 << 20)
#define OP_LIMIT_PROCS_MAX (1 << 22)

typedef struct op_fence {
	char *user; /* a user name or decimal id; NULL: the host's --default-user */
	char *group; /* a group name or decimal id; NULL: the user's primary group */
	bool has_umask;
	unsigned umask; /* 0..0777, OP_UMASK_DEFAULT when !has_umask */
	int64_t memory; /* limits.memory in bytes, 0: none */
	int open_files, processes; /* limits.open_files, limits.processes, 0: none */
	int64_t cpu_time_ms; /* limits.cpu_time (RLIMIT_CPU, whole seconds), 0: none */
} op_fence;

/* type: wasm (wasm_check.c): a WASI module run by the box's WebAssembly runtime. Its
 * properties.module ("sha256:<hex>", one digest for every arch) and properties.path
 * (where the box holds it) are kept as the component's artifact (path, sha256, mode
 * 0644), so the host installs and checks it, and the site stages it, like any
 * artifact; command and workdir are NULL. dirs are the only host directories it sees. */
enum op_comp_type { OP_COMP_PROCESS, OP_COMP_WASM };
#define OP_MAX_DIRS 32
#define OP_WASM_MODULE_MODE 0644

typedef struct op_dir {
	char *guest; /* absolute, as the module sees it */
	char *host; /* absolute, made when missing */
	bool readonly;
} op_dir;

typedef struct op_component {
	char *name;
	enum op_comp_type type;
	char *command; /* absolute (process); NULL for wasm */
	op_strs args;
	op_kvs env;
	char *workdir; /* absolute, or NULL */
	enum op_restart restart;
	enum op_rollout rollout;
	bool has_artifact;
	op_artifact artifact;
	bool has_health;
	op_health_check health;
	int64_t min_ready_ms; /* without a probe: healthy after running this long */
	op_fence fence;
	op_dir *dirs; /* wasm: preopened directories, in manifest order */
	size_t ndirs;
	op_trait scaler; /* default: spreadscaler, 1 instance, no spread */
	op_secref *secrets; /* env ones sorted by name, then files in manifest order */
	size_t nsecrets;
} op_component;

typedef struct op_placement {
	char *name;
	bool has_sites; /* without sites, every site whose labels match */
	op_strs sites;
	op_kvs requirements; /* site labels, all must match */
} op_placement;

/* Canary waves (policy type rollout). Durations are milliseconds, written in the
 * manifest like the command line's ("500ms", "10s", "5m", "2h"), at most a week. */
#define OP_MAX_WAVES 16
#define OP_MAX_DURATION_MS (7LL * 24 * 3600 * 1000)
#define OP_MAX_MIN_SITES 100000
#define OP_ROLLOUT_SOAK_DEFAULT_MS (10LL * 60 * 1000)
#define OP_ROLLOUT_DEADLINE_DEFAULT_MS (5LL * 60 * 1000)

typedef struct op_wave {
	char *name;
	op_kvs requirements; /* site labels, all must match; none: every site */
} op_wave;

typedef struct op_rollout_policy {
	char *name; /* the policy's name */
	op_wave *waves; /* none: every site is one wave */
	size_t nwaves;
	int64_t soak_ms; /* default 10m, 0..a week */
	int min_sites; /* -1 unset: every site of the wave that reported within the soak */
	int64_t progress_deadline_ms; /* default 5m, 1s..a week */
} op_rollout_policy;

typedef struct op_app {
	char *name;
	op_kvs annotations;
	bool has_placement;
	op_placement placement;
	bool has_rollout;
	op_rollout_policy rollout;
	op_component *comps;
	size_t ncomps;
	int name_line, name_col; /* where metadata.name stands, for cross-file errors */
} op_app;

/* Parses and validates one manifest's YAML bytes. file is the name used in
 * diagnostics. On success *out is a new app (op_app_free) and 0 is returned; else
 * diagnostics are added to d and OP_EINVAL or OP_ETOOBIG is returned (OP_ENOMEM when
 * memory ran out, whether or not a diagnostic could say so). */
int op_manifest_parse(const char *file, const char *buf, size_t len, op_app **out, op_diags *d);
/* Reads a file (at most OP_DOC_MAX_BYTES) and parses it; display names it in d. */
int op_manifest_load(const char *path, const char *display, op_app **out, op_diags *d);

/* Canonical JSON of app: sorted keys, compact, defaults filled, "format":1. *json is
 * NUL-terminated, allocated; the caller frees it. */
int op_manifest_to_json(const op_app *app, char **json, size_t *len);
/* Reads canonical (or any equivalent) JSON back, validated like YAML; refuses an
 * unknown "format" by name. */
int op_manifest_from_json(
	const char *file, const char *json, size_t len, op_app **out, op_diags *d);
/* "sha256:<64 hex>" of bytes, into out[OP_DIGEST_LEN + 1]. */
void op_digest(const void *buf, size_t len, char out[OP_DIGEST_LEN + 1]);

void op_app_free(op_app *app);

/* Helpers over the model (also used by plan and tests). */
const char *op_kvs_get(const op_kvs *m, const char *key);
/* Frees the keys and values and empties m. */
void op_kvs_clear(op_kvs *m);
const char *op_restart_name(enum op_restart r);
const char *op_rollout_name(enum op_rollout r);
const char *op_scaler_name(enum op_scaler s);
const char *op_probe_name(enum op_probe p);
const char *op_comp_type_name(enum op_comp_type t);

/* Name rules: [a-z0-9-], 1..63. */
bool op_name_valid(const char *s);

#endif
