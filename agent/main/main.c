/* outpost: one binary, several roles. This file only dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
	{"validate", op_cmd_validate, "check application manifests (file:line:col errors)"},
	{"sync", op_cmd_sync, "hub: publish signed, validated Git revisions into JetStream KV"},
	{"agent", op_cmd_agent, "site: reconcile the desired state onto the site's hosts"},
	{"host", op_cmd_host, "edge box: run and supervise workloads, send heartbeats"},
	{"status", op_cmd_status, "show what runs where, at the hub or a site"},
	{"restart", op_cmd_restart, "try an app's failed instances at a site again now"},
	{"logs", op_cmd_logs, "print an app's output at a site (running and recent instances)"},
	{"creds", op_cmd_creds, "write least-privilege NATS credentials for a hub and its sites"},
	{"artifact", op_cmd_artifact, "hub: put, list and collect the artifacts sites will run"},
	{"promote", op_cmd_promote, "hub: promote the next wave of an app's rollout now"},
	{"halt", op_cmd_halt, "hub: halt an app's rollout (promote resumes it)"},
	{"secret", op_cmd_secret, "a site's key for sealed secrets; a value sealed to sites"},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost <command> [options]\n"
		"       outpost --version | --help | <command> --help\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return OP_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		op_print_version(stdout);
		return OP_EXIT_OK;
	}
	/* Started by `outpost host` only, so not in the list. */
	if (!strcmp(argv[1], "shim"))
		return op_cmd_shim(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "outpost: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return OP_EXIT_USAGE;
}
