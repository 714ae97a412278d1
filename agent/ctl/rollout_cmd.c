/* `outpost promote --app A [--wave W]` and `outpost halt --app A [--reason TEXT]`: an
 * operator's hand on a canary rollout. The running sync holds the signing key and the
 * records, so these are requests to it (like `outpost sync --now`), answered with the
 * record as it stands after; both refuse an app without a rollout of 2 or more waves. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/cli.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/rollout.h"

static void usage(FILE *f, bool promote)
{
	if (promote)
		fprintf(f,
			"usage: outpost promote --app NAME [--wave NAME|INDEX] [--nats URL]\n"
			"\n"
			"Promotes the next wave of the app's current rollout now, whatever its\n"
			"gates say (soak, min_sites), or every wave up to the one named; resumes\n"
			"a halted rollout. Asks the running outpost sync at the hub.\n"
			"\n"
			"  --app NAME         the app (its rollout policy has 2 or more waves)\n"
			"  --wave NAME|INDEX  promote up to this wave (0 is the first)\n");
	else
		fprintf(f,
			"usage: outpost halt --app NAME [--reason TEXT] [--nats URL]\n"
			"\n"
			"Halts the app's current rollout: no further wave is promoted until\n"
			"outpost promote resumes it (or a new spec starts a rollout of its own).\n"
			"Asks the running outpost sync at the hub.\n"
			"\n"
			"  --app NAME         the app (its rollout policy has 2 or more waves)\n"
			"  --reason TEXT      why, shown in status (printable ASCII, 255 bytes)\n");
	fprintf(f,
		"  --nats URL         the hub's server (default " OP_DEFAULT_NATS ")\n"
		"  -h, --help         this help\n"
		"\n"
		"Exit status: 0 done, 1 refused or no answer, 2 usage.\n");
}

static int run(int argc, char **argv, bool promote)
{
	static const struct option opts[] = {{"app", required_argument, NULL, 'a'},
		{"wave", required_argument, NULL, 'w'}, {"reason", required_argument, NULL, 'r'},
		{"nats", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *cmd = promote ? "outpost promote" : "outpost halt";
	const char *app = NULL, *wave = NULL, *reason = NULL, *nats = OP_DEFAULT_NATS;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a': app = optarg; break;
		case 'w':
			if (!promote)
				goto bad;
			wave = optarg;
			break;
		case 'r':
			if (promote)
				goto bad;
			reason = optarg;
			break;
		case 'n': nats = optarg; break;
		case 'h': usage(stdout, promote); return OP_EXIT_OK;
		default: goto bad;
		}
	}
	if (optind < argc || !app || !op_name_valid(app) ||
		(reason && strlen(reason) > OP_PROMOTION_REASON_MAX)) {
		fprintf(stderr, "%s: %s\n", cmd,
			!app ? "--app is required"
				: reason && strlen(reason) > OP_PROMOTION_REASON_MAX
				? "--reason: at most 255 bytes"
				: "an app name is [a-z0-9-], 1..63");
		goto bad;
	}
	op_bus b;
	op_err e = {0};
	if (op_bus_connect(
		    &b, nats, promote ? "outpost-promote" : "outpost-halt", NULL, 5000, &e) != 0) {
		fprintf(stderr, "%s: %s\n", cmd, e.msg);
		return OP_EXIT_FAIL;
	}
	json_t *req = json_pack("{s:i, s:s}", "v", 1, "app", app);
	if (req && wave)
		json_object_set_new(req, "wave", json_string(wave));
	if (req && reason)
		json_object_set_new(req, "reason", json_string(reason));
	char *body = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(req);
	natsMsg *m = NULL;
	const char *subj = promote ? OP_SUBJECT_PROMOTE : OP_SUBJECT_HALT;
	natsStatus s = body ? natsConnection_RequestString(&m, b.nc, subj, body, 15000)
			    : NATS_NO_MEMORY;
	free(body);
	if (s != NATS_OK) {
		fprintf(stderr, "%s: %s: %s\n", cmd,
			s == NATS_NO_RESPONDERS ? "no sync answers " : "no answer on ", subj);
		op_bus_close(&b);
		return OP_EXIT_FAIL;
	}
	json_t *r = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	natsMsg_Destroy(m);
	op_bus_close(&b);
	bool ok = json_is_true(json_object_get(r, "ok"));
	const char *err = json_string_value(json_object_get(r, "error"));
	json_t *rec = json_object_get(r, "record");
	if (!ok) {
		fprintf(stderr, "%s: %s\n", cmd, err && *err ? err : "refused (no reason given)");
	} else {
		const char *commit = json_string_value(json_object_get(rec, "commit"));
		const char *why = json_string_value(json_object_get(rec, "reason"));
		printf("%s: seq %lld (%.12s) wave %lld%s%s%s\n", app,
			(long long)json_integer_value(json_object_get(rec, "seq")),
			commit ? commit : "?",
			(long long)json_integer_value(json_object_get(rec, "promoted")),
			json_is_true(json_object_get(rec, "halted")) ? " halted" : " promoted",
			why && *why ? ": " : "", why ? why : "");
	}
	json_decref(r);
	return ok ? OP_EXIT_OK : OP_EXIT_FAIL;
bad:
	usage(stderr, promote);
	return OP_EXIT_USAGE;
}

int op_cmd_promote(int argc, char **argv)
{
	return run(argc, argv, true);
}

int op_cmd_halt(int argc, char **argv)
{
	return run(argc, argv, false);
}
