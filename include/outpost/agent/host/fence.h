/* The fence of one workload: who it runs as and what the kernel lets it use. The shim
 * makes a plan before it forks (op_fence_plan_make: pure, over the texts of /etc/passwd
 * and /etc/group, so that every refusal is a start failure with a message, before
 * anything ran) and the child applies it just before exec (op_fence_apply): its
 * oom_score_adj, rlimits, groups (the supplementary ones reset), gid, uid,
 * no_new_privileges and umask, after joining the instance's cgroup where it has one
 * (cgroup.h: then memory and processes are the cgroup's, not rlimits).
 * op_fence_cgroup_detect says whether the box delegates cgroup v2 controllers to
 * outpost, which the heartbeat reports. */
#ifndef OUTPOST_FENCE_H
#define OUTPOST_FENCE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/base/util.h" /* OP_OOM_OUTPOST */
#include "outpost/agent/model/manifest.h"

/* oom_score_adj: every workload is the kernel's first choice, outpost's own processes
 * (host, shims, agent: OP_OOM_OUTPOST, util.h) its last but one (the site's nats-server
 * keeps its 0 or what its unit gives it, above every workload). */
#define OP_OOM_WORKLOAD 500

typedef struct op_fence_plan {
	bool setids; /* change groups, gid and uid (else the workload runs as the shim) */
	uid_t uid;
	gid_t gid;
	mode_t umask;
	int64_t memory; /* RLIMIT_DATA, 0: none (or held by the cgroup) */
	int open_files; /* RLIMIT_NOFILE, 0: none */
	int processes; /* RLIMIT_NPROC, 0: none (or held by the cgroup) */
	int cgroup_fd; /* the instance cgroup's cgroup.procs to join first, -1: none */
	int64_t cpu_s; /* RLIMIT_CPU in seconds, 0: none */
	int oom_adj;
	char who[96]; /* "user nobody (65534), group nogroup (65534)" for messages */
} op_fence_plan;

/* Looks name (a name, or a decimal id matched by id) up in the text of /etc/passwd:
 * 0 with *uid and *gid (the primary group), OP_ENOTFOUND when absent. */
int op_fence_find_user(const char *passwd, const char *name, uid_t *uid, gid_t *gid);
/* The same in the text of /etc/group. */
int op_fence_find_group(const char *group, const char *name, gid_t *gid);

/* Which of f's limits an instance cgroup holds (cgroup.h), for op_fence_plan_make. */
#define OP_FENCE_CG_MEMORY 1u
#define OP_FENCE_CG_PROCESSES 2u

/* Makes the plan of fence f: its user, else default_user, else the user the shim runs
 * as (self_uid, self_gid); its group, else that user's primary group. A user given by
 * an id that passwd does not list needs a group. A shim that is not root may only run
 * a workload as itself; RLIMIT_NPROC is not enforced for root, so a process limit for a
 * workload running as root is refused unless the cgroup holds it. The limits named in
 * cgroup (OP_FENCE_CG_*) are left out of the rlimits. Errors name the field and say
 * why. cgroup_fd is -1 in the plan: the shim sets it. */
int op_fence_plan_make(const op_fence *f, const char *default_user, const char *passwd,
	const char *group, uid_t self_uid, gid_t self_gid, unsigned cgroup, op_fence_plan *p,
	op_err *e);

/* Applies p in the child, between fork and exec: 0, or the step that failed (see
 * op_fence_step_name) with errno set. Async-signal-safe. */
int op_fence_apply(const op_fence_plan *p);
/* "oom_score_adj", "setrlimit RLIMIT_DATA", "setgroups", ... for a step. */
const char *op_fence_step_name(int step);

/* What a workload's exit code (as the shim records it: 128 + signal when killed) may
 * owe to f's limits, for a failed instance's message, into out ("" when f has none):
 * "exceeded memory limit 32Mi" when its cgroup saw the OOM killer act (oom_killed),
 * "limits.cpu_time 30s reached (SIGXCPU)", or the limits it ran under ("under limits:
 * memory 32Mi, processes 4"), so that an allocation or fork the kernel refused is looked
 * for there. Pure. */
void op_fence_exit_hint(const op_fence *f, int code, bool oom_killed, char *out, size_t n);

/* What cgroups this box offers outpost, for the heartbeat (limits are cgroup limits
 * only where the host prepared a delegated v2 tree, cgroup.h): "v2" (a
 * cgroup v2 tree where this process's own cgroup has the memory and pids controllers
 * available and is writable: delegated, as systemd's Delegate=yes does),
 * "v2-undelegated", "v1" (a v1 memory hierarchy), or "none" (no cgroup filesystem).
 * cgroup_root is normally /sys/fs/cgroup, self_cgroup the text of /proc/self/cgroup. */
const char *op_fence_cgroup_detect(const char *cgroup_root, const char *self_cgroup);

#endif
