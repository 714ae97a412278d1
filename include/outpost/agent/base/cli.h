/* Subcommands: each takes its own argv (argv[0] is the command name) and returns the
 * process exit code: 0 success, 1 rejected input or failed operation, 2 usage. */
#ifndef OUTPOST_CLI_H
#define OUTPOST_CLI_H

#include <stdio.h>

enum { OP_EXIT_OK = 0, OP_EXIT_FAIL = 1, OP_EXIT_USAGE = 2 };

int op_cmd_validate(int argc, char **argv);
int op_cmd_sync(int argc, char **argv);
int op_cmd_agent(int argc, char **argv);
int op_cmd_host(int argc, char **argv);
int op_cmd_shim(int argc, char **argv);
int op_cmd_status(int argc, char **argv);
int op_cmd_restart(int argc, char **argv);
int op_cmd_logs(int argc, char **argv);
int op_cmd_creds(int argc, char **argv);
int op_cmd_artifact(int argc, char **argv);
int op_cmd_promote(int argc, char **argv);
int op_cmd_halt(int argc, char **argv);
int op_cmd_secret(int argc, char **argv);
void op_print_version(FILE *f);

#endif
