/* `outpost validate PATH...`: every manifest named (files, or directories walked for
 * *.yaml / *.yml) is parsed and validated; app names must be unique across all of
 * them. Diagnostics go to stderr as file:line:col: field.path: message; each valid
 * file gets one line on stdout with its app name and digest. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/base/cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost validate [--json] PATH...\n"
		"\n"
		"Validates application manifests. A PATH is a manifest file or a directory,\n"
		"whose *.yaml and *.yml files are read (recursively). App names must be unique\n"
		"across everything named.\n"
		"\n"
		"  --json      print each valid app's canonical JSON instead of its digest\n"
		"  -h, --help  this help\n"
		"\n"
		"Errors are printed as file:line:col: field.path: message.\n"
		"Exit status: 0 all valid, 1 any error, 2 usage.\n");
}

int op_cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {0}};
	int json = 0, c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j')
			json = 1;
		else if (c == 'h') {
			usage(stdout);
			return OP_EXIT_OK;
		} else {
			usage(stderr);
			return OP_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "outpost validate: no PATH given\n");
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	op_appset set = {0};
	op_diags d = {0};
	int rc = 0;
	for (int i = optind; i < argc; i++) {
		struct stat st;
		size_t before = set.nfiles;
		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			op_appset_add_dir(&set, argv[i], &d);
			if (set.nfiles == before)
				op_diags_add(&d, argv[i], 0, 0, "",
					"no *.yaml or *.yml manifests in this directory");
		} else {
			op_appset_add_file(&set, argv[i], &d);
		}
	}
	for (size_t i = 0; i < set.n; i++) {
		char *j;
		size_t len;
		if (op_manifest_to_json(set.apps[i], &j, &len) != 0) {
			fprintf(stderr, "outpost validate: out of memory\n");
			rc = 1;
			break;
		}
		if (json) {
			printf("%s\n", j);
		} else {
			char dg[OP_DIGEST_LEN + 1];
			op_digest(j, len, dg);
			printf("%s: ok app=%s %s\n", set.files[i], set.apps[i]->name, dg);
		}
		free(j);
	}
	op_diags_print(&d, stderr);
	size_t nerr = op_diags_count(&d);
	if (nerr) {
		fprintf(stderr, "%zu error%s; %d of %zu file%s invalid\n", nerr,
			nerr == 1 ? "" : "s", set.invalid, set.nfiles, set.nfiles == 1 ? "" : "s");
		rc = 1;
	}
	op_diags_clear(&d);
	op_appset_clear(&set);
	return rc ? OP_EXIT_FAIL : OP_EXIT_OK;
}
