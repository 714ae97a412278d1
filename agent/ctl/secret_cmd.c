/* `outpost secret keygen DIR` and `outpost secret seal --name NAME --to SITE=PUBFILE...`:
 * a site's key pair for sealed secrets, and a value sealed to the sites named, as the
 * YAML of secrets/NAME.yaml (model/sealed.h). The value is read from standard input,
 * byte for byte, never from an argument (which every user of the box can read in
 * /proc), and is wiped from memory once sealed. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/cli.h"
#include "outpost/agent/model/sealed.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost secret keygen DIR\n"
		"       outpost secret seal --name NAME --to SITE=PUBFILE [--to SITE=PUBFILE]...\n"
		"\n"
		"keygen writes a site's key pair for sealed secrets: DIR/seal.key (private, 0600:\n"
		"give it to the site's agent as --seal-key) and DIR/seal.pub (what an operator\n"
		"seals to), DIR made when missing. An existing seal.key is never overwritten.\n"
		"\n"
		"seal reads a value on standard input, byte for byte (a trailing newline is part\n"
		"of it), seals it to each site's public key, and writes the YAML of\n"
		"secrets/NAME.yaml to standard output. Sealing again (to add or remove a site, or\n"
		"for a new value) needs the value again: a sealed file opens only at its sites.\n"
		"\n"
		"  --name NAME          the secret ([a-z0-9-], 1..63), as manifests refer to it\n"
		"  --to SITE=PUBFILE    a site and its seal.pub (repeat for every site)\n"
		"  -h, --help           this help\n"
		"\n"
		"Exit status: 0 done, 1 an error, 2 usage.\n");
}

static int keygen(int argc, char **argv)
{
	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return OP_EXIT_OK;
	}
	if (argc != 2 || argv[1][0] == '-' || !argv[1][0]) {
		fprintf(stderr, "outpost secret keygen: expected one directory\n");
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	op_err e = {0};
	if (op_seal_key_write(argv[1], &e) != 0) {
		fprintf(stderr, "outpost secret keygen: %s\n", e.msg);
		return OP_EXIT_FAIL;
	}
	fprintf(stderr, "outpost secret keygen: wrote %s/seal.key and %s/seal.pub\n", argv[1],
		argv[1]);
	return OP_EXIT_OK;
}

/* All of standard input, at most OP_SECRET_MAX bytes: 0, or 1 with a message. */
static int read_value(unsigned char **out, size_t *len)
{
	unsigned char *v = malloc(OP_SECRET_MAX + 1);
	size_t n = 0, r;
	if (!v) {
		fprintf(stderr, "outpost secret seal: out of memory\n");
		return 1;
	}
	while (n <= OP_SECRET_MAX && (r = fread(v + n, 1, OP_SECRET_MAX + 1 - n, stdin)) > 0)
		n += r;
	if (ferror(stdin) || n == 0 || n > OP_SECRET_MAX) {
		fprintf(stderr, "outpost secret seal: %s\n",
			ferror(stdin)    ? "cannot read standard input"
				: n == 0 ? "the value on standard input is empty"
					 : "the value is over 64 KiB");
		op_secret_free(v, OP_SECRET_MAX + 1);
		return 1;
	}
	*out = v;
	*len = n;
	return 0;
}

static int seal(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
		{"to", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *name = NULL;
	char **to = calloc((size_t)argc + 1, sizeof *to);
	size_t nto = 0;
	int c, rc = OP_EXIT_USAGE;
	if (!to)
		return OP_EXIT_FAIL;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 't': to[nto++] = optarg; break;
		case 'h':
			usage(stdout);
			free(to);
			return OP_EXIT_OK;
		default:
			usage(stderr);
			free(to);
			return OP_EXIT_USAGE;
		}
	}
	if (optind < argc || !name || !nto || !op_name_valid(name)) {
		fprintf(stderr, "outpost secret seal: %s\n",
			optind < argc ? "the value is read from standard input, not an argument"
				: !name || !nto ? "--name and at least one --to are required"
						: "--name: expected [a-z0-9-], 1..63");
		usage(stderr);
		free(to);
		return OP_EXIT_USAGE;
	}
	op_sealed s;
	memset(&s, 0, sizeof s);
	snprintf(s.name, sizeof s.name, "%s", name);
	for (size_t i = 0; i < nto; i++) {
		const char *eq = strchr(to[i], '=');
		char site[OP_NAME_MAX + 2];
		size_t sl = eq ? (size_t)(eq - to[i]) : 0;
		if (!eq || sl > OP_NAME_MAX || !eq[1]) {
			fprintf(stderr, "outpost secret seal: --to %.200s: expected SITE=PUBFILE\n",
				to[i]);
			goto out;
		}
		memcpy(site, to[i], sl);
		site[sl] = '\0';
		if (!op_name_valid(site)) {
			fprintf(stderr,
				"outpost secret seal: --to %.200s: a site is [a-z0-9-], 1..63\n",
				to[i]);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strncmp(to[j], to[i], sl + 1)) {
				fprintf(stderr, "outpost secret seal: site %s is named twice\n",
					site);
				goto out;
			}
	}
	unsigned char *value = NULL;
	size_t vlen = 0;
	rc = OP_EXIT_FAIL;
	if (read_value(&value, &vlen))
		goto out;
	for (size_t i = 0; i < nto; i++) {
		char site[OP_NAME_MAX + 1];
		const char *eq = strchr(to[i], '=');
		snprintf(site, sizeof site, "%.*s", (int)(eq - to[i]), to[i]);
		unsigned char key[OP_SEAL_KEY_LEN];
		op_err e = {0};
		if (op_seal_pub_read(eq + 1, key, &e) != 0 ||
			op_sealed_add(&s, site, key, value, vlen, &e) != 0) {
			fprintf(stderr, "outpost secret seal: --to %s: %s\n", site, e.msg);
			op_secret_free(value, OP_SECRET_MAX + 1);
			goto out;
		}
	}
	op_secret_free(value, OP_SECRET_MAX + 1);
	char *yaml = NULL;
	size_t ylen = 0;
	if (op_sealed_encode(&s, &yaml, &ylen) != 0) {
		fprintf(stderr, "outpost secret seal: out of memory\n");
		goto out;
	}
	rc = fwrite(yaml, 1, ylen, stdout) == ylen && fflush(stdout) == 0 ? OP_EXIT_OK
									  : OP_EXIT_FAIL;
	free(yaml);
out:
	op_sealed_clear(&s);
	free(to);
	return rc;
}

int op_cmd_secret(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? OP_EXIT_USAGE : OP_EXIT_OK;
	}
	if (!strcmp(argv[1], "keygen"))
		return keygen(argc - 1, argv + 1);
	if (!strcmp(argv[1], "seal"))
		return seal(argc - 1, argv + 1);
	fprintf(stderr, "outpost secret: unknown subcommand \"%.80s\"\n", argv[1]);
	usage(stderr);
	return OP_EXIT_USAGE;
}
