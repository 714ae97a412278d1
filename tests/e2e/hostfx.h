/* `outpost host` under test, for the e2e tests that play the agent (test_host.c,
 * test_health.c): hosts started against a nats-server, their heartbeats kept by a
 * subscription and decoded as the agent decodes them, start and stop requests, and
 * waits on what the heartbeats say. Shims and workloads run in sessions of their own,
 * so every pid learnt from a host's state dir is registered with h_adopt. */
#ifndef OUTPOST_TEST_HOSTFX_H
#define OUTPOST_TEST_HOSTFX_H

#include <nats/nats.h>
#include <stdbool.h>
#include <sys/types.h>

#include "harness.h"
#include "outpost/agent/wire/proto.h"

#define HX_SITE "s1"
#define HX_MAXSTATES 64

typedef struct hx_host {
	const char *id, *state, *log, *url;
	const char *extra; /* more flags of `outpost host`, or NULL */
	pid_t pid;
	natsConnection *nc;
	natsSubscription *sub;
} hx_host;

/* Every state dir a host of this program used, swept at the end. */
extern const char *hx_states[HX_MAXSTATES];
extern int hx_nstates;

/* Starts the nats-server the hosts use (hx_host_start) and takes ./outpost as the binary
 * (into *bin when not NULL): the server, or NULL (said on stderr). */
h_nats *hx_init(const char **bin);

/* The latest heartbeat of host, decoded (op_heartbeat_clear after); false if none. */
bool hx_hb_get(const char *host, op_heartbeat *hb);
const op_hb_inst *hx_hb_find(const op_heartbeat *hb, const char *id);
/* Every step host's heartbeats showed, in order: "<id>=<state>[/<health>] " for an
 * instance that appeared or changed in a heartbeat, "<id>=gone " for one that left it
 * (harness-owned; "" none). */
const char *hx_trail(const char *host);

/* (Re)starts h's process with its id, url and state dir. */
bool hx_host_run(hx_host *h);
/* Starts a host and waits for its first heartbeat: it answers commands from then on. */
bool hx_host_start_at(hx_host *h, const char *id, const char *url);
bool hx_host_start(hx_host *h, const char *id);
/* The same with more flags (extra, kept as h->extra for hx_host_run). */
bool hx_host_start_extra(hx_host *h, const char *id, const char *extra);
/* Registers every shim and workload of the host's state dir with the harness. */
void hx_adopt_all(hx_host *h);
void hx_host_stop(hx_host *h);

/* An app of one component "main" with these properties (YAML, indented 8). */
const char *hx_app_yaml(const char *name, const char *props);
/* Sends json to the host; returns its decoded reply (ok false with the error on any
 * failure). */
op_hostreply hx_request(hx_host *h, const char *json);
/* The id of instance n of app's component "main". */
const char *hx_inst_id(const char *app, int n);
op_hostreply hx_start(hx_host *h, const char *app, int n, const char *props);
op_hostreply hx_stop(hx_host *h, const char *id);

typedef struct hx_want {
	hx_host *h;
	const char *id;
	int state; /* -1: the instance is absent */
	const char *boot; /* if set: a heartbeat of another boot */
	int not_pid; /* if set: with another pid */
	op_hb_inst got;
} hx_want;

/* h_wait_until's condition over an hx_want (w->got gets the instance when seen). */
bool hx_cond_inst(void *arg);
/* Waits until the host reports id in state (-1: not at all); *got gets it. */
bool hx_wait_state(hx_host *h, const char *id, int state, op_hb_inst *got);
/* Waits until no process has pid. */
bool hx_wait_gone(int pid);
/* What instance id of h wrote to its output log so far ("" none; harness-owned). */
const char *hx_output(hx_host *h, const char *id);
/* Waits until that output holds text. */
bool hx_wait_output(hx_host *h, const char *id, const char *text);
/* Stops id and checks (T_CHECK) that its workload, its shim and the instance are gone. */
void hx_stop_and_check(hx_host *h, const char *id);

#endif
