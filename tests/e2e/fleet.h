/* A hub and one site, for the tests of offline operation, catch-up and faults
 * (test_offline.c, test_chaos.c): the hub's nats-server and `outpost
 * sync`, the site's leaf nats-server behind a link the harness can cut, its `outpost
 * agent` and a few `outpost host`s, all real processes.
 *
 * Apps are a model the test edits (fl_app: on, version, instances, spread or daemon)
 * and pushes as signed commits. Every workload is `/bin/sleep <tag><AA><VVV>`: the
 * run's tag, the app's index and its version, digits that sleep reads as centuries.
 * What runs is read straight from /proc and written as a "set" string, "AA.VVV=N;..."
 * in order, so that what a revision should run (fl_plan) and what runs (fl_seen) are
 * compared as strings. The functions are in fleet.c, linked into the programs that use
 * them. */
#ifndef OUTPOST_TEST_FLEET_H
#define OUTPOST_TEST_FLEET_H

#include <nats/nats.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"

#define FL_MAXHOSTS 8
#define FL_MAXAPPS 16
#define FL_MAXVER 1000
#define FL_HB "300ms"
#define FL_HOST_TIMEOUT "1s"

typedef struct fl_app {
	bool on;
	int ver; /* 0..999 */
	int instances;
	bool daemon; /* daemonscaler on every host, else spreadscaler */
	const char *artifact; /* YAML of the component's artifact (flow style); NULL none */
	bool crash; /* the workload exits at once (sleep refuses its argument) */
	const char *props; /* more properties, lines indented by 8; NULL none */
	const char *policies; /* spec.policies, lines indented by 4 ("    - name: ..."); NULL */
} fl_app;

typedef struct fleet {
	const char *bin, *tag, *name; /* the outpost binary, the run's tag, the site */
	const h_key *key;
	h_nats *hub, *site;
	h_repo *repo;
	const char *trust;
	pid_t sync_pid, agent_pid;
	pid_t host_pid[FL_MAXHOSTS];
	bool host_up[FL_MAXHOSTS]; /* heartbeating as far as the test knows */
	int nhosts; /* hosts ever started: h0..h<nhosts-1> */
	natsConnection *hub_nc, *site_nc;
	jsCtx *hub_js, *site_js;
	kvStore *hub_kv, *hub_status, *site_kv, *site_status;
	fl_app apps[FL_MAXAPPS];
	uint64_t seq; /* the last accepted revision */
	const char *agent_args; /* extra flags for the agent, "" none */
	const char *sync_args; /* extra flags for sync, NULL none */
	int site_hosts; /* > 0: count only workloads under the shims of hosts below this
			 * index (other sites' hosts have higher ones); 0: every workload */
	int hub_nodes; /* set before fl_start: > 1 starts a hub cluster of that many nodes
			* (hub is its first node; sync, the sites and the test's connection
			* take every node's URL); 0 or 1: one server */
	h_nats *nodes[H_MAXNODES]; /* the cluster's nodes */
} fleet;

/* ---- processes in /proc --------------------------------------------------------------- */

/* The NUL-separated cmdline of pid into buf (NUL-terminated twice); its length. */
size_t fl_cmdline(int pid, char *buf, size_t cap);

/* Field 4 (ppid) and fields 14+15 (utime+stime, ticks) of /proc/<pid>/stat. */
bool fl_stat(int pid, int *ppid, long long *ticks);

long long fl_cpu_ticks(pid_t pid);

/* The app and version a workload's cmdline encodes, for this run's tag. */
bool fl_workload(const fleet *f, const char *cmd, size_t len, int *app, int *ver);

/* A shim of one of this run's hosts: "outpost shim --state <tmp>/host<N> ..."; its
 * host index, or -1. */
int fl_shim_host(const char *cmd, size_t len);

typedef struct fl_procs {
	int count[FL_MAXAPPS][FL_MAXVER]; /* workloads (of the site, see site_hosts) */
	int total;
	int wpid[512], wppid[512], wapp[512], wver[512], nw; /* every workload, its parent */
	int spid[512], shost[512], ns; /* shims and their hosts */
} fl_procs;

void fl_scan(const fleet *f, fl_procs *p);

/* "AA.VVV=N;" for every (app, version) with N > 0, in order: harness-owned. */
const char *fl_set_str(int count[FL_MAXAPPS][FL_MAXVER]);

const char *fl_seen(const fleet *f);

int fl_hosts_up(const fleet *f);

/* What the model's apps should run on the hosts that are up. */
const char *fl_plan(const fleet *f);

/* Parses a set string back into counts. */
void fl_set_parse(const char *s, int count[FL_MAXAPPS][FL_MAXVER]);

/* Every set seen during a move from `from` to `to` must be a step between the two:
 * only (app, version)s of either, never more of one than the larger of the two. NULL,
 * or what is wrong. */
const char *fl_not_between(const char *set, const char *from, const char *to);

/* Waits until what runs is exactly want. */
bool fl_wait_set(const fleet *f, const char *want, int ms);

/* Every workload's parent is a live shim of one of our hosts, and every shim has one
 * workload (the workloads here never exit): no orphan, no shim left over. "" or what
 * is wrong (harness-owned). */
const char *fl_orphans(const fleet *f);
/* fl_orphans until it finds nothing, for at most timeout_ms: a shim that is starting
 * (or restarting) its workload has none for a moment. The last finding, "" none. */
const char *fl_orphans_settled(const fleet *f, int timeout_ms);

/* Registers every workload and shim of this run so that the harness kills them at the
 * end (they live in sessions of their own). */
void fl_adopt_all(const fleet *f);

/* SIGKILLs the shims of host i (all hosts when i < 0) and their workloads. */
int fl_kill_shims(const fleet *f, int i);

/* A box dies: host i, its shims and their workloads; returns once none is left. */
bool fl_box_down(fleet *f, int i);

/* A power cut at the site: its nats-server, the agent, the hosts, their shims and the
 * workloads, all SIGKILLed together; returns once none of them is left. */
bool fl_power_cut(fleet *f);

/* The instance ids in host i's state dir, sorted, one a line (harness-owned). */
const char *fl_host_insts(int i);

/* ---- the agent's log ---------------------------------------------------------------------- */

long fl_log_size(const char *path);

/* Lines of the log after offset (bytes) that contain what (NULL: all lines). */
int fl_log_count(const char *path, long offset, const char *what);

const char *fl_agent_log(void);

/* ---- NATS ---------------------------------------------------------------------------------- */

/* A connection that never gives up reconnecting (servers are killed and restarted). */
natsConnection *fl_connect(const char *url);

bool fl_kv_open(jsCtx *js, const char *name, kvStore **kv, int ms);

/* A key's value as JSON (caller json_decref()s), NULL if missing or unreachable. */
json_t *fl_kv_json(kvStore *kv, const char *key);

/* Waits until key holds a JSON value in kv. */
bool fl_wait_key(kvStore *kv, const char *key, int ms);

/* The seq the agent says it runs (its status key at the site); -1 unknown. */
long long fl_agent_seq(const fleet *f);

/* A stream's last sequence, through js; 0 if unknown. */
uint64_t fl_last_seq(jsCtx *js, const char *stream);

/* ---- git pushes through sync --------------------------------------------------------------- */

const char *fl_app_yaml(const fleet *f, int i);

/* Writes the model into the work tree and commits it, signed (key NULL: unsigned). */
const char *fl_commit(fleet *f, const h_key *key, const char *msg);

/* Asks sync for a pass; its outcome JSON (caller json_decref()s), NULL if no answer. */
json_t *fl_sync(fleet *f, int ms);

/* Commits the model, signed, and has sync publish it: the new seq, or 0. "unchanged"
 * (a pass got there first) counts as published. */
uint64_t fl_push(fleet *f);

/* ---- more sites ------------------------------------------------------------------------ */

/* Another site of the same hub: its leaf server, an agent and one host whose state dir
 * is <tmp>/host<host> (give it an index at or above the fleet's site_hosts). */
typedef struct fl_site {
	const char *name;
	h_nats *srv;
	pid_t agent_pid, host_pid;
	natsConnection *nc;
	jsCtx *js;
	kvStore *status;
} fl_site;

/* Starts s (its name set) with these extra agent flags ("" none); false on failure. */
bool fl_site_start(fleet *f, fl_site *s, int host, const char *agent_args);
/* The log of s's agent. */
const char *fl_site_log(const fl_site *s);
void fl_site_stop(fl_site *s);

/* ---- starting things --------------------------------------------------------------------- */

pid_t fl_start_sync(fleet *f);

pid_t fl_start_agent(fleet *f);

pid_t fl_start_host(fleet *f, int i);

/* Copies the binary, again while it does not run (a build may be linking it). */
bool fl_copy_bin(const char *from, const char *to);

/* The hub, its sync, a site with an agent and nhosts hosts; connections to both
 * servers. false on failure (printed). */
bool fl_start(fleet *f, const char *site, int nhosts);

/* Registers what is left for the harness to kill at exit (the shims and workloads
 * included) and closes the test's own connections. */
void fl_stop(fleet *f);

#endif
