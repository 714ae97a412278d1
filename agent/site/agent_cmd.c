/* `outpost agent`: flags into an op_agent_cfg, then the loop until SIGTERM/SIGINT. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/site/agent.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/base/cli.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/trust/verify.h"
#include "outpost/agent/wire/label.h"

static volatile int stopping;

static void on_signal(int sig)
{
	(void)sig;
	stopping = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost agent --site NAME [options]\n"
		"\n"
		"Runs beside a site's leaf nats-server: keeps the mirror of the hub's desired\n"
		"state, watches the site's hosts and reconciles until what runs is what Git\n"
		"says, with or without the link to the hub.\n"
		"\n"
		"  --site NAME          this site ([a-z0-9-], 1..63; not \"hub\")\n"
		"  --nats URL           the site's nats-server (default " OP_DEFAULT_NATS ")\n"
		"  --label k=v          a site label (placement requirements); repeatable\n"
		"  --state DIR          where the running revision is kept\n"
		"                       (default /var/lib/outpost/agent)\n"
		"  --resync DUR         periodic full reconcile and status refresh (default 30s)\n"
		"  --report DUR         the agent's own status key is rewritten at least this\n"
		"                       often, its liveness at the hub (default 5s, at most\n"
		"                       --resync); longer costs a large fleet's hub fewer writes\n"
		"                       and says later that an agent stopped reporting\n"
		"  --host-timeout DUR   a host is dead after this long without a heartbeat\n"
		"                       (default: three of the host's heartbeat intervals)\n"
		"  --repair-mirror      replace a desired-state bucket that is not a mirror of\n"
		"                       the hub's (it may be the site's only copy: see README)\n"
		"  --trust FILE         verify every revision at the site: its commit signature\n"
		"                       against this allowed_signers file (the site's own copy),\n"
		"                       every git object id, and the apps derived from the\n"
		"                       signed YAML; the hub is not trusted\n"
		"  --revoked FILE       with --trust: public keys refused whatever FILE says\n"
		"  --path DIR           the repository directory sync reads (default apps):\n"
		"                       with --trust, a proof for another path is refused;\n"
		"                       sealed secrets are read from secrets/ beside it\n"
		"  --seal-key FILE      the site's private key for sealed secrets (outpost\n"
		"                       secret keygen); without it, apps that need a secret do\n"
		"                       not run here, and status says why\n"
		"  --fresh-signers FILE allowed_signers listing the hub's freshness key\n"
		"                       (namespaces=\"outpost-fresh\"): check the hub's signed\n"
		"                       freshness record and report staleness in status\n"
		"  --stale-after DUR    with --fresh-signers: the site is stale when the newest\n"
		"                       record is older than this (default 1h)\n"
		"  -h, --help           this help\n");
}

int op_cmd_agent(int argc, char **argv)
{
	static const struct option opts[] = {{"site", required_argument, NULL, 's'},
		{"nats", required_argument, NULL, 'n'}, {"label", required_argument, NULL, 'l'},
		{"state", required_argument, NULL, 'd'}, {"resync", required_argument, NULL, 'r'},
		{"report", required_argument, NULL, 'L'},
		{"host-timeout", required_argument, NULL, 't'},
		{"repair-mirror", no_argument, NULL, 'R'}, {"trust", required_argument, NULL, 'T'},
		{"revoked", required_argument, NULL, 'V'}, {"path", required_argument, NULL, 'P'},
		{"fresh-signers", required_argument, NULL, 'F'},
		{"stale-after", required_argument, NULL, 'S'},
		{"seal-key", required_argument, NULL, 'K'}, {"help", no_argument, NULL, 'h'}, {0}};
	op_agent_cfg cfg = {.nats = OP_DEFAULT_NATS,
		.state = "/var/lib/outpost/agent",
		.resync_ms = 30000,
		.host_timeout_ms = 0,
		.cmd_timeout_ms = 2000,
		.max_cmds_per_tick = 32,
		.path = "apps",
		.stale_after_ms = 3600000};
	op_err e = {0};
	int c, rc = OP_EXIT_USAGE;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg.site = optarg; break;
		case 'n': cfg.nats = optarg; break;
		case 'd': cfg.state = optarg; break;
		case 'R': cfg.repair_mirror = true; break;
		case 'T': cfg.trust = optarg; break;
		case 'V': cfg.revoked = optarg; break;
		case 'P': cfg.path = optarg; break;
		case 'F': cfg.fresh_signers = optarg; break;
		case 'K': cfg.seal_key = optarg; break;
		case 'l':
			if (op_cli_label(&cfg.labels, optarg, &e) != 0) {
				fprintf(stderr, "outpost agent: %s\n", e.msg);
				goto out;
			}
			break;
		case 'r':
		case 'L':
		case 't':
		case 'S': {
			int64_t ms;
			if (op_parse_duration_ms(optarg, &ms) != 0 ||
				ms < (c == 'S' || c == 'L' ? 1000 : 100)) {
				fprintf(stderr,
					"outpost agent: --%s: expected a duration like 30s%s\n",
					c == 'r'           ? "resync"
						: c == 'L' ? "report"
						: c == 't' ? "host-timeout"
							   : "stale-after",
					c == 'S' || c == 'L' ? " (at least 1s)" : "");
				goto out;
			}
			*(c == 'r'                 ? &cfg.resync_ms
					: c == 'L' ? &cfg.report_ms
					: c == 't' ? &cfg.host_timeout_ms
						   : &cfg.stale_after_ms) = ms;
			break;
		}
		case 'h':
			usage(stdout);
			rc = OP_EXIT_OK;
			goto out;
		default: usage(stderr); goto out;
		}
	}
	if (optind < argc || !cfg.site || !op_name_valid(cfg.site) || !strcmp(cfg.site, "hub")) {
		fprintf(stderr, "outpost agent: %s\n",
			!cfg.site ? "--site is required"
				  : "--site: expected a name of [a-z0-9-], 1..63, not \"hub\"");
		usage(stderr);
		goto out;
	}
	if (cfg.revoked && !cfg.trust) {
		fprintf(stderr, "outpost agent: --revoked needs --trust\n");
		goto out;
	}
	if (cfg.trust) {
		/* Read once now, so that a bad file stops the start with its file:line. */
		op_policy *pol = NULL;
		if (op_policy_load(&pol, cfg.trust, cfg.revoked, false, &e) != 0) {
			fprintf(stderr, "outpost agent: %s\n", e.msg);
			rc = OP_EXIT_FAIL;
			goto out;
		}
		op_policy_free(pol);
	}
	char site_label[80];
	snprintf(site_label, sizeof site_label, "site=%s", cfg.site);
	if (op_cli_label(&cfg.labels, site_label, &e) != 0) {
		fprintf(stderr, "outpost agent: the site label is implicit: %s\n", e.msg);
		goto out;
	}
	/* Like the host, the kernel's last choice but one when memory runs out (util.h). */
	if (op_oom_adj_self(OP_OOM_OUTPOST, &e) != 0)
		op_log_warn("cannot lower the agent's oom_score_adj", "error=\"%s\"", e.msg);
	e = (op_err){0};
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	op_agent *a;
	if (op_agent_new(&a, &cfg, &e) != 0) {
		op_log_error("agent cannot start", "error=\"%s\"", e.msg);
		rc = OP_EXIT_FAIL;
		goto out;
	}
	rc = op_agent_run(a, &stopping) == 0 ? OP_EXIT_OK : OP_EXIT_FAIL;
	op_agent_free(a);
out:
	op_kvs_clear(&cfg.labels);
	return rc;
}
