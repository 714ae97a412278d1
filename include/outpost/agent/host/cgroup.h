/* cgroup v2 limits of a workload, on a box that delegates the memory and pids
 * controllers to the host (systemd's Delegate=, or a container's own cgroup). The host
 * prepares its tree once at start (op_cgroup_host_prepare): the no-internal-processes
 * rule of cgroup v2 wants the host out of the cgroup whose subtree_control it writes, so
 * it moves itself (and with it every shim it starts) into a leaf "host" and enables
 * +memory +pids for its children. Each instance with limits.memory or limits.processes
 * then gets a cgroup of its own beside that leaf, named by its id: the shim makes it and
 * writes its limits before the fork (op_cgroup_inst_make), the child joins it before the
 * exec (op_cgroup_join, through an fd the shim opened), and the shim reads memory.events
 * and removes it when the workload is gone (op_cgroup_inst_end).
 *
 * The cgroup holds memory (memory.max, memory.swap.max 0, memory.oom.group 1: the
 * kernel's OOM killer ends the whole instance when it passes its limit) and processes
 * (pids.max, every task of the instance whatever its user, root included); for those
 * two the rlimits are left out (RLIMIT_DATA counts reservations, not memory, and would
 * fail an allocation before the cgroup could see it). open_files and cpu_time have no
 * cgroup counterpart and stay rlimits. What is decided is pure (op_cgroup_plan_make,
 * op_cgroup_oom_kills, op_cgroup_base_of) and tested over plain strings; the rest writes
 * the files and is tested over a fake tree in a temp dir. */
#ifndef OUTPOST_CGROUP_H
#define OUTPOST_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_CGROUP_ROOT "/sys/fs/cgroup"
/* The leaf the host and its shims live in, under the host's base cgroup. */
#define OP_CGROUP_HOST_LEAF "host"
#define OP_CGROUP_MAX_WRITES 4

typedef struct op_cgroup_write {
	const char *file; /* "memory.max", ... */
	const char *field; /* the manifest field it enforces, for messages */
	char value[24];
	bool optional; /* absent on some kernels (memory.swap.max without swap accounting) */
} op_cgroup_write;

/* What fences one instance in its cgroup: none when use is false. */
typedef struct op_cgroup_plan {
	bool use;
	bool memory; /* memory.max holds limits.memory (RLIMIT_DATA left out) */
	bool processes; /* pids.max holds limits.processes (RLIMIT_NPROC left out) */
	op_cgroup_write w[OP_CGROUP_MAX_WRITES];
	int nw;
} op_cgroup_plan;

/* The plan of fence f, for a component of type wasm or not, on a host whose tree is
 * prepared (delegated) or not. A wasm module's memory is the runtime's page limit
 * (wasm.h), so only its processes go to a cgroup. Pure. */
void op_cgroup_plan_make(const op_fence *f, bool wasm, bool delegated, op_cgroup_plan *p);

/* Whether a cgroup.controllers (or subtree_control) text names controller word. Pure. */
bool op_cgroup_has_controller(const char *text, const char *word);

/* The "oom_kill N" count of a memory.events text, 0 when absent. Pure. */
int64_t op_cgroup_oom_kills(const char *memory_events);

/* The path of this process's own cgroup in a /proc/self/cgroup text (the "0::" line),
 * into own ("/system.slice/outpost-host.service"): 0, or OP_ENOTFOUND. Pure. */
int op_cgroup_own(const char *self_cgroup, char *own, size_t n);

/* The host's base cgroup (whose children are the leaf and the instances), for a host
 * whose own cgroup is own: own itself, or own's parent when own is a leaf named "host"
 * whose parent offers memory and pids (parent_controllers, the text of its
 * cgroup.controllers; NULL when unread): a host restarted there, or started there by
 * systemd's DelegateSubgroup=host. Into base; true when the host is in its leaf
 * already. Pure. */
bool op_cgroup_base_of(const char *own, const char *parent_controllers, char *base, size_t n);

/* At host start, with root normally OP_CGROUP_ROOT and self_cgroup the text of
 * /proc/self/cgroup: finds the base, moves pid into <base>/host unless it is there,
 * enables +memory +pids in <base>/cgroup.subtree_control, and gives the base's path
 * (root included) in base. An error says which step and why. */
int op_cgroup_host_prepare(
	const char *root, const char *self_cgroup, int pid, char *base, size_t n, op_err *e);

/* One instance's cgroup: its directory and what the shim holds of it while it runs. */
typedef struct op_cgroup_inst {
	char dir[4096];
	int procs_fd; /* <dir>/cgroup.procs, open for the child to join; -1 none */
	int64_t oom_before; /* oom_kill when the run began */
} op_cgroup_inst;

/* Makes <base>/<id> (or takes it as it is), writes p's limits, reads the oom_kill count
 * and opens cgroup.procs (close-on-exec) for the child: 0, or an error that names the
 * limit and the file ("limits.memory: cgroup <dir>/memory.max: Permission denied"); c
 * holds nothing then. */
int op_cgroup_inst_make(
	const char *base, const char *id, const op_cgroup_plan *p, op_cgroup_inst *c, op_err *e);

/* In the child between fork and exec: writes its pid to fd. 0, or -1 with errno.
 * Async-signal-safe. */
int op_cgroup_join(int fd);

/* The workload's pid is gone: kills what is left in the cgroup (cgroup.kill, where the
 * kernel has it), closes the fd, and says whether the kernel's OOM killer acted in it
 * during the run. */
bool op_cgroup_inst_end(op_cgroup_inst *c);

/* Removes the cgroup, waiting up to wait_ms for the kernel to let its last tasks go:
 * 0, or -1 with errno. */
int op_cgroup_inst_remove(const op_cgroup_inst *c, int wait_ms);

#endif
