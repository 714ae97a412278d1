/* How long one plan takes on a large site: 1,000 hosts (arch, zone, role labels), 300
 * apps of 3 components (spreads with requirements and weights, some daemonscalers),
 * about 40,000 instances. Timed, best of N: the fresh placement (nothing runs), the steady
 * state (everything runs where it should: the plan the agent computes most often, and it
 * must be empty), a tenth of the hosts dead, and a spec change in every app. Times are
 * printed, never judged: the exit status is non-zero only when something is wrong (a
 * manifest refused, a steady plan that is not empty). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"

#define NHOSTS 1000
#define NAPPS 300
#define REPS 5

static op_host_view hosts[NHOSTS];
static op_app *apps[NAPPS];
static op_inst_view *insts;
static size_t ninsts, cap;

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

static void make_hosts(void)
{
	static const char *const arch[] = {"amd64", "arm64", "arm64", "riscv64"};
	static const char *const role[] = {"gw", "db", "edge", "edge", "edge"};
	for (int i = 0; i < NHOSTS; i++) {
		op_host_view *h = &hosts[i];
		snprintf(h->id, sizeof h->id, "host-%04d", (i * 7919) % NHOSTS);
		h->alive = true;
		h->labels.v = calloc(3, sizeof *h->labels.v);
		const char *k[] = {"arch", "role", "zone"};
		char zone[8];
		snprintf(zone, sizeof zone, "z%d", i % 8);
		const char *v[] = {arch[i % 4], role[i % 5], zone};
		for (int j = 0; j < 3; j++) {
			h->labels.v[j].key = strdup(k[j]);
			h->labels.v[j].val = strdup(v[j]);
		}
		h->labels.n = 3;
		qsort(h->labels.v, 3, sizeof *h->labels.v, kv_cmp);
	}
}

static int make_apps(int version)
{
	for (int a = 0; a < NAPPS; a++) {
		char y[4096];
		size_t n = (size_t)snprintf(y, sizeof y,
			"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
			"  name: app-%03d\nspec:\n  components:\n",
			a);
		for (int c = 0; c < 3; c++) {
			int kind = (a + c) % 6;
			n += (size_t)snprintf(y + n, sizeof y - n,
				"    - name: c%d\n      type: process\n      properties:\n"
				"        command: /opt/app/c%d\n        args: [--v, \"%d\"]\n"
				"        rollout: %s\n      traits:\n        - type: %s\n"
				"          properties:\n            instances: %d\n",
				c, c, version, a % 3 ? "start-first" : "stop-first",
				kind == 5 ? "daemonscaler" : "spreadscaler",
				kind == 5 ? 1 : 10 + (a * 7 + c * 13) % 90);
			if (kind == 1 || kind == 2)
				n += (size_t)snprintf(y + n, sizeof y - n,
					"            spread:\n"
					"              - {requirements: {arch: arm64}, weight: "
					"80}\n"
					"              - {requirements: {arch: amd64}, weight: "
					"20}\n");
			else if (kind == 3)
				n += (size_t)snprintf(y + n, sizeof y - n,
					"            spread:\n"
					"              - {requirements: {zone: z1}}\n"
					"              - {requirements: {zone: z2}}\n"
					"              - {requirements: {zone: z3, role: edge}}\n");
			else if (kind == 5)
				n += (size_t)snprintf(y + n, sizeof y - n,
					"            spread: [{requirements: {role: gw}}]\n");
		}
		op_app_free(apps[a]);
		apps[a] = NULL;
		op_diags d = {0};
		if (op_manifest_parse("bench.yaml", y, n, &apps[a], &d) != 0) {
			op_diags_print(&d, stderr);
			op_diags_clear(&d);
			return -1;
		}
		op_diags_clear(&d);
	}
	return 0;
}

/* Plans REPS times; the best time in ms, the commands of the last run in *cmds. */
static double time_plan(op_cmd **cmds, size_t *ncmds)
{
	op_plan_in in = {(const op_app *const *)apps, NAPPS, hosts, NHOSTS, insts, ninsts};
	double best = 1e18;
	for (int r = 0; r < REPS; r++) {
		free(*cmds);
		double t0 = now_ms();
		if (op_plan_compute(&in, cmds, ncmds) != 0) {
			fprintf(stderr, "bench_plan: FAIL: op_plan_compute\n");
			exit(1);
		}
		double t = now_ms() - t0;
		best = t < best ? t : best;
	}
	return best;
}

/* The hosts do as told: starts run, stops go. */
static void apply(const op_cmd *cmds, size_t n)
{
	size_t keep = 0;
	for (size_t i = 0; i < ninsts; i++) {
		bool stopped = false;
		for (size_t j = 0; j < n && !stopped; j++)
			stopped = cmds[j].op == OP_CMD_STOP && !strcmp(cmds[j].inst, insts[i].id) &&
				!strcmp(cmds[j].host, insts[i].host);
		if (!stopped)
			insts[keep++] = insts[i];
	}
	ninsts = keep;
	for (size_t j = 0; j < n; j++) {
		if (cmds[j].op != OP_CMD_START)
			continue;
		if (ninsts == cap) {
			cap = cap ? 2 * cap : 4096;
			insts = realloc(insts, cap * sizeof *insts);
			if (!insts)
				exit(1);
		}
		op_inst_view *v = &insts[ninsts++];
		memset(v, 0, sizeof *v);
		memcpy(v->id, cmds[j].inst, sizeof v->id);
		memcpy(v->host, cmds[j].host, sizeof v->host);
		v->state = OP_INST_RUNNING;
		v->health = OP_HEALTH_HEALTHY;
	}
}

/* A tenth of the hosts, picked across every label value. */
static bool dead(int i)
{
	return ((unsigned)i * 2654435761u >> 7) % 10 == 0;
}

static int count(const op_cmd *c, size_t n, enum op_cmd_op op)
{
	int k = 0;
	for (size_t i = 0; i < n; i++)
		k += c[i].op == op;
	return k;
}

int main(void)
{
	make_hosts();
	if (make_apps(1) != 0)
		return 1;
	op_cmd *cmds = NULL;
	size_t n = 0;
	double t = time_plan(&cmds, &n);
	printf("bench_plan: %d hosts, %d apps x 3 components\n", NHOSTS, NAPPS);
	printf("  fresh placement   %8.2f ms  %6d starts\n", t, count(cmds, n, OP_CMD_START));
	apply(cmds, n);
	t = time_plan(&cmds, &n);
	printf("  steady state      %8.2f ms  %6zu commands, %zu instances\n", t, n, ninsts);
	int rc = 0;
	if (n != 0) {
		fprintf(stderr, "bench_plan: FAIL: the steady state plan has %zu commands\n", n);
		rc = 1;
	}
	for (int i = 0; i < NHOSTS; i++)
		hosts[i].alive = !dead(i);
	t = time_plan(&cmds, &n);
	printf("  a tenth dead      %8.2f ms  %6d starts\n", t, count(cmds, n, OP_CMD_START));
	apply(cmds, n);
	for (int i = 0; i < NHOSTS; i++)
		hosts[i].alive = true;
	t = time_plan(&cmds, &n);
	printf("  they return       %8.2f ms  %6d stops\n", t, count(cmds, n, OP_CMD_STOP));
	apply(cmds, n);
	if (make_apps(2) != 0)
		return 1;
	t = time_plan(&cmds, &n);
	printf("  new spec, all     %8.2f ms  %6d starts, %d stops\n", t,
		count(cmds, n, OP_CMD_START), count(cmds, n, OP_CMD_STOP));
	free(cmds);
	free(insts);
	for (int a = 0; a < NAPPS; a++)
		op_app_free(apps[a]);
	for (int i = 0; i < NHOSTS; i++) {
		for (size_t j = 0; j < hosts[i].labels.n; j++)
			free(hosts[i].labels.v[j].key), free(hosts[i].labels.v[j].val);
		free(hosts[i].labels.v);
	}
	return rc;
}
