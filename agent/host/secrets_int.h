/* Internal to agent/host: a start's secret values (wire/proto.h) between the host and the
 * shim, and what the shim does with them. The host never keeps them: it hands them to the
 * shim it spawns in a memory file (memfd, fd 3 of the shim), and writes the start to
 * spec.json without them. The shim keeps them in memory for the instance's life, puts the
 * env ones into the workload's environment and writes the file ones on a tmpfs (refusing
 * any other filesystem), removing them when the instance goes. A shim that is lost (a
 * crash, a power cut) cannot be started again by the host alone: the host removes such an
 * instance, and the agent, which sees it gone, starts it again with its values. */
#ifndef OUTPOST_HOST_SECRETS_INT_H
#define OUTPOST_HOST_SECRETS_INT_H

#include <stdbool.h>
#include <sys/types.h>

#include "outpost/agent/wire/proto.h"

#define OP_SHIM_SECRETS_FD 3

/* A memory file holding c's values (op_secret_vals JSON), sealed against writes: 0 with
 * *fd its close-on-exec fd (-1 when c has none), or an error. */
int op_host_secrets_fd(const op_hostcmd *c, int *fd, op_err *e);
/* Whether the start in the instance's spec.json refers to any secret. */
bool op_host_spec_has_secrets(const char *state_dir, const char *id);

/* Shim: reads the values from fd (and closes it) into cmd. */
int op_shim_secrets_read(int fd, op_hostcmd *cmd, op_err *e);
/* Shim: adds comp's env references to the NULL-terminated *envp (reallocated). */
int op_shim_secrets_env(const op_hostcmd *cmd, const op_component *comp, char ***envp, op_err *e);
/* Shim: writes comp's secret files (tmpfs only, mode as asked, owned by uid:gid unless
 * uid is (uid_t)-1; missing dirs 0711); removes them. */
int op_shim_secrets_files(
	const op_hostcmd *cmd, const op_component *comp, uid_t uid, gid_t gid, op_err *e);
void op_shim_secrets_unlink(const op_component *comp);

#endif
