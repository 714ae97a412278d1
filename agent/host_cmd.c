/* Placeholder: `outpost host` and `outpost shim` are being built. */
#include <stdio.h>

#include "outpost/cli.h"

int op_cmd_host(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "outpost host: not built yet\n");
	return OP_EXIT_USAGE;
}

int op_cmd_shim(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "outpost shim: not built yet\n");
	return OP_EXIT_USAGE;
}
