/* `outpost restart --site S --app A [--instance ID]`: asks site S's agent to try the
 * app's failed instances again now (or the one instance named), rather than when their
 * backoff ends (outpost host --max-backoff). At the site's server: the agent carries it
 * out, and no request crosses the link from the hub (a hub does not command sites). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/cli.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost restart --site NAME --app NAME [--instance ID] [--nats URL]\n"
		"\n"
		"Tries the app's failed instances at the site again now (a failed instance is\n"
		"otherwise tried again when its backoff ends: outpost host --max-backoff), or the\n"
		"one instance named. Run it against the site's server: the site's agent asks its\n"
		"hosts; a hub does not command sites.\n"
		"\n"
		"  --site NAME     the site\n"
		"  --app NAME      the app\n"
		"  --instance ID   only this instance (outpost status --json lists them)\n"
		"  --nats URL      the site's server (default " OP_DEFAULT_NATS ")\n"
		"  -h, --help      this help\n"
		"\n"
		"Exit status: 0 every instance tried again (or none was failed), 1 an error, 2\n"
		"usage.\n");
}

int op_cmd_restart(int argc, char **argv)
{
	static const struct option opts[] = {{"site", required_argument, NULL, 's'},
		{"app", required_argument, NULL, 'a'}, {"instance", required_argument, NULL, 'i'},
		{"nats", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {0}};
	const char *site = NULL, *app = NULL, *inst = NULL, *nats = OP_DEFAULT_NATS;
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': site = optarg; break;
		case 'a': app = optarg; break;
		case 'i': inst = optarg; break;
		case 'n': nats = optarg; break;
		case 'h': usage(stdout); return OP_EXIT_OK;
		default: usage(stderr); return OP_EXIT_USAGE;
		}
	}
	if (optind < argc || !site || !app || !op_name_valid(site) || !op_name_valid(app) ||
		(inst && !op_inst_id_valid(inst))) {
		fprintf(stderr, "outpost restart: %s\n",
			!site || !app
				? "--site and --app are required"
				: "a name is [a-z0-9-], 1..63; an instance id as status shows it");
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	op_bus b;
	op_err e = {0};
	if (op_bus_connect(&b, nats, "outpost-restart", NULL, 5000, &e) != 0) {
		fprintf(stderr, "outpost restart: %s\n", e.msg);
		return OP_EXIT_FAIL;
	}
	json_t *req = json_pack("{s:i, s:s}", "v", 1, "app", app);
	if (req && inst)
		json_object_set_new(req, "instance", json_string(inst));
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL, subj[128];
	json_decref(req);
	snprintf(subj, sizeof subj, "outpost.%s.restart", site);
	natsMsg *m = NULL;
	natsStatus s = body ? natsConnection_RequestString(&m, b.nc, subj, body, 15000)
			    : NATS_NO_MEMORY;
	free(body);
	if (s != NATS_OK) {
		fprintf(stderr, "outpost restart: %s: %s\n",
			s == NATS_NO_RESPONDERS ? "no agent of that site answers here (run it at "
						  "the site's server)"
						: "no answer",
			natsStatus_GetText(s));
		op_bus_close(&b);
		return OP_EXIT_FAIL;
	}
	json_t *r = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	natsMsg_Destroy(m);
	op_bus_close(&b);
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(r, "restarted"), i, v)
	{
		printf("tried again now: %s\n", json_string_value(v) ? json_string_value(v) : "?");
	}
	json_array_foreach(json_object_get(r, "errors"), i, v)
	{
		const char *in = json_string_value(json_object_get(v, "instance"));
		const char *h = json_string_value(json_object_get(v, "host"));
		const char *why = json_string_value(json_object_get(v, "error"));
		fprintf(stderr, "outpost restart: %s on %s: %s\n", in ? in : "?", h ? h : "?",
			why ? why : "?");
	}
	const char *err = json_string_value(json_object_get(r, "error"));
	if (err && *err)
		fprintf(stderr, "outpost restart: %s\n", err);
	bool ok = json_is_true(json_object_get(r, "ok"));
	if (ok && json_array_size(json_object_get(r, "restarted")) == 0)
		printf("no failed instance of %s at %s\n", app, site);
	json_decref(r);
	return ok ? OP_EXIT_OK : OP_EXIT_FAIL;
}
