/* Health checks end to end: `outpost host` against a real nats-server, its shims running
 * the components' probes against listeners this process opens on 127.0.0.1 (http served
 * by a small thread, tcp a listening socket: tests/e2e/netfx.h), exec probes, and min_ready without
 * a probe. The heartbeats, decoded as the agent decodes them, show each instance starting, healthy,
 * unhealthy with its probe's failure, and restarted; with heartbeats an hour apart, each
 * move is still sent at once. The plumbing (heartbeats, a host,
 * start and stop requests) is test_host.c's. */
#include <dirent.h>
#include <errno.h>
#include <nats/nats.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "hostfx.h"
#include "netfx.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/base/util.h"
#include "t.h"

#define SITE HX_SITE
#define WAIT_MS 20000

static nx_server web = {.fd = -1};

static bool web_asked(void *arg)
{
	(void)arg;
	return web.served > 0;
}

/* ---- waiting on health ----------------------------------------------------------------- */

typedef struct want_health {
	hx_host *h;
	const char *id;
	enum op_health health;
	const char *probe; /* if set: the probe text contains it */
	int min_restarts;
	op_hb_inst got;
} want_health;

static bool cond_health(void *arg)
{
	want_health *w = arg;
	op_heartbeat hb;
	if (!hx_hb_get(w->h->id, &hb))
		return false;
	const op_hb_inst *in = hx_hb_find(&hb, w->id);
	bool ok = in && in->state == OP_INST_RUNNING && in->health == w->health &&
		(!w->probe || strstr(in->probe, w->probe)) && in->restarts >= w->min_restarts;
	if (in)
		w->got = *in;
	hx_adopt_all(w->h);
	op_heartbeat_clear(&hb);
	return ok;
}

/* Waits until id runs with health (and the probe text, and at least min_restarts). */
static bool wait_health(
	hx_host *h, const char *id, enum op_health health, const char *probe, int min_restarts)
{
	want_health w = {
		.h = h, .id = id, .health = health, .probe = probe, .min_restarts = min_restarts};
	bool ok = h_wait_until(cond_health, &w, WAIT_MS);
	if (!ok)
		fprintf(stderr,
			"  %s: wanted running %s \"%s\" restarts>=%d, last seen %s %s "
			"\"%s\" restarts %d\n",
			id, op_health_name(health), probe ? probe : "", min_restarts,
			w.got.id[0] ? op_inst_state_name(w.got.state) : "absent",
			op_health_name(w.got.health), w.got.probe, w.got.restarts);
	return ok;
}

/* A workload that outlives SIGTERM (the grace is the host's, 1s): an instance being
 * stopped for its health stays unhealthy long enough for heartbeats to show it. */
#define STUBBORN \
	"        command: /bin/sh\n" \
	"        args: [\"-c\", \"trap '' TERM; exec /bin/sleep 600\"]\n" \
	"        restart: always\n"

/* ---- the cases ------------------------------------------------------------------------- */

/* http: starting while it answers 503 within the start period, healthy on 200, unhealthy
 * after 2 failed probes with the status in the probe text, then restarted. */
static void test_http(void)
{
	T_REQUIRE(nx_start(&web, true));
	int port = web.port;
	web.status = 503;
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "ht1"));
	const char *id = hx_inst_id("web", 0);
	op_hostreply r = hx_start(&h, "web", 0,
		h_str(STUBBORN "        health:\n"
			       "          http: {port: %d, path: /healthz}\n"
			       "          interval: 100ms\n          timeout: 100ms\n"
			       "          failures: 2\n          start_period: 1h\n",
			port));
	T_CHECK_MSG(r.ok, "start: %s", r.error);
	T_REQUIRE(r.ok);
	T_CHECK(wait_health(&h, id, OP_HEALTH_STARTING, NULL, 0));
	T_CHECK(h_wait_until(web_asked, NULL, WAIT_MS)); /* and still starting: */
	T_CHECK(wait_health(&h, id, OP_HEALTH_STARTING, NULL, 0));
	web.status = 200;
	T_CHECK(wait_health(&h, id, OP_HEALTH_HEALTHY, NULL, 0));
	web.status = 503;
	T_CHECK(wait_health(
		&h, id, OP_HEALTH_UNHEALTHY, h_str("http :%d/healthz: status 503", port), 0));
	/* Stopped like a crash and started again: starting (503 in its start period). */
	T_CHECK(wait_health(&h, id, OP_HEALTH_STARTING, NULL, 1));
	web.status = 200;
	T_CHECK(wait_health(&h, id, OP_HEALTH_HEALTHY, NULL, 1));
	char *log = h_read(h.log);
	T_CHECK(log && strstr(log, "instance unhealthy") && strstr(log, "status 503"));
	free(log);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
	nx_stop(&web);
}

/* tcp: healthy while something listens; the listener gone, unhealthy and restarted. */
static void test_tcp(void)
{
	int port = 0, fd = nx_listen(&port);
	T_REQUIRE(fd >= 0);
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "tc1"));
	const char *id = hx_inst_id("db", 0);
	op_hostreply r = hx_start(&h, "db", 0,
		h_str(STUBBORN "        health:\n          tcp: {port: %d}\n"
			       "          interval: 100ms\n          timeout: 100ms\n"
			       "          failures: 1\n",
			port));
	T_CHECK_MSG(r.ok, "start: %s", r.error);
	T_REQUIRE(r.ok);
	T_CHECK(wait_health(&h, id, OP_HEALTH_HEALTHY, NULL, 0));
	close(fd);
	T_CHECK(wait_health(&h, id, OP_HEALTH_UNHEALTHY,
		h_str("tcp :%d: connect: Connection refused", port), 0));
	T_CHECK(wait_health(&h, id, OP_HEALTH_UNHEALTHY, NULL, 1));
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

/* exec: healthy on exit 0; a failing command makes it unhealthy with its exit status and
 * last line of output. */
static void test_exec(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "ex1"));
	const char *good = hx_inst_id("good", 0), *bad = hx_inst_id("bad", 0);
	op_hostreply r = hx_start(&h, "good", 0,
		STUBBORN "        health:\n          exec: {command: /bin/true}\n"
			 "          interval: 100ms\n");
	T_CHECK_MSG(r.ok, "start: %s", r.error);
	T_REQUIRE(r.ok);
	r = hx_start(&h, "bad", 0,
		STUBBORN "        health:\n"
			 "          exec: {command: /bin/sh, args: [\"-c\", \"echo first; "
			 "echo bad news; exit 3\"]}\n"
			 "          interval: 100ms\n          failures: 2\n");
	T_CHECK_MSG(r.ok, "start: %s", r.error);
	T_REQUIRE(r.ok);
	T_CHECK(wait_health(&h, good, OP_HEALTH_HEALTHY, NULL, 0));
	T_CHECK(wait_health(&h, bad, OP_HEALTH_UNHEALTHY, "exec /bin/sh: exit 3: bad news", 0));
	T_CHECK(wait_health(&h, bad, OP_HEALTH_UNHEALTHY, NULL, 1));
	op_heartbeat hb;
	T_REQUIRE(hx_hb_get(h.id, &hb));
	const op_hb_inst *in = hx_hb_find(&hb, good);
	T_CHECK(in && in->restarts == 0 && in->health == OP_HEALTH_HEALTHY);
	op_heartbeat_clear(&hb);
	hx_stop_and_check(&h, good);
	hx_stop_and_check(&h, bad);
	hx_host_stop(&h);
}

/* No probe: starting, then healthy once it has run min_ready. */
static void test_min_ready(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start(&h, "mr1"));
	const char *id = hx_inst_id("plain", 0);
	op_hostreply r = hx_start(&h, "plain", 0,
		"        command: /bin/sleep\n        args: [\"600\"]\n        min_ready: 1s\n");
	T_CHECK_MSG(r.ok, "start: %s", r.error);
	T_REQUIRE(r.ok);
	long long t0 = h_now_ms();
	T_CHECK(wait_health(&h, id, OP_HEALTH_STARTING, NULL, 0));
	T_CHECK(wait_health(&h, id, OP_HEALTH_HEALTHY, NULL, 0));
	T_CHECK(h_now_ms() - t0 >= 1000);
	hx_stop_and_check(&h, id);
	hx_host_stop(&h);
}

/* Heartbeats an hour apart: the host still sends one as soon as a shim moves an
 * instance on (running, healthy, gone), so a rollout's next step never waits for the
 * interval. The first heartbeat after the start says starting; without these, no other
 * would come. */
static void test_moves_sent_at_once(void)
{
	hx_host h;
	T_REQUIRE(hx_host_start_extra(&h, "hb1", "--heartbeat 1h"));
	const char *id = hx_inst_id("plain", 0);
	op_hostreply r = hx_start(&h, "plain", 0,
		"        command: /bin/sleep\n        args: [\"600\"]\n        min_ready: 300ms\n");
	T_CHECK_MSG(r.ok, "start: %s", r.error);
	T_REQUIRE(r.ok);
	T_CHECK(wait_health(&h, id, OP_HEALTH_HEALTHY, NULL, 0));
	hx_stop_and_check(&h, id); /* waits for a heartbeat without it */
	hx_host_stop(&h);
}

int main(void)
{
	if (!hx_init(NULL))
		return 1;
	T_RUN(test_http);
	T_RUN(test_tcp);
	T_RUN(test_exec);
	T_RUN(test_min_ready);
	T_RUN(test_moves_sent_at_once);
	for (int i = 0; i < hx_nstates; i++)
		hx_adopt_all(&(hx_host){.state = hx_states[i]});
	return t_done();
}
