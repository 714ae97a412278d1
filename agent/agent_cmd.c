/* Placeholder: `outpost agent` and `outpost status` are being built. */
#include <stdio.h>

#include "outpost/cli.h"

int op_cmd_agent(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "outpost agent: not built yet\n");
	return OP_EXIT_USAGE;
}

int op_cmd_status(int argc, char **argv)
{
	(void)argc, (void)argv;
	fprintf(stderr, "outpost status: not built yet\n");
	return OP_EXIT_USAGE;
}
