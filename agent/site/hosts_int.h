/* Internal to the site agent: the site's hosts as their heartbeats tell, when each
 * counts as alive, and the window after the agent's own (re)connection during which no
 * command goes out (a host not heard yet may still run its instances). The table is
 * under the loop's mutex (the heartbeat callback writes it); the window is the loop's. */
#ifndef OUTPOST_SITE_HOSTS_INT_H
#define OUTPOST_SITE_HOSTS_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/wire/proto.h"

#define AG_MAX_HOSTS 4096 /* hosts a site's agent keeps track of */

typedef struct ag_host {
	op_heartbeat hb; /* the last heartbeat (owns labels and instances) */
	int64_t last_ms; /* monotonic time it arrived */
	int64_t first_ms;
} ag_host;

typedef struct ag_hosts {
	ag_host *v;
	size_t n, cap;
	bool full; /* a new host was refused at AG_MAX_HOSTS (logged once) */
	bool nomem; /* a heartbeat was dropped for want of memory (logged once) */
	int64_t timeout_ms; /* --host-timeout; 0: three of the host's own intervals */
	int64_t start_ms; /* the last (re)connection: host timeouts count from here */
	uint64_t reconnects;
	natsStatistics *stats; /* NULL: reconnections go unnoticed */
} ag_hosts;

/* Starts the window at now. */
void ag_hosts_init(ag_hosts *hs, int64_t timeout_ms, int64_t now);
int64_t ag_host_timeout(const ag_hosts *hs, const ag_host *h);
bool ag_host_alive(const ag_hosts *hs, const ag_host *h, int64_t now);
ag_host *ag_hosts_find(const ag_hosts *hs, const char *id);
/* A heartbeat for site as it came on subject: checked (a host speaks for itself only),
 * then kept. 0 when the table changed; OP_EINVAL refused, OP_ETOOBIG a new host past
 * AG_MAX_HOSTS, OP_ENOMEM: each logged (the last two once). */
int ag_hosts_heard(ag_hosts *hs, const char *site, const char *subject, const char *data,
	size_t len, int64_t now);
/* Restarts the window when the connection to the site's server was re-established. */
void ag_hosts_conn_check(ag_hosts *hs, natsConnection *nc, int64_t now);
/* The window has passed: host timeouts mean what they say. */
bool ag_hosts_warm(const ag_hosts *hs, int64_t now);
void ag_hosts_clear(ag_hosts *hs);

#endif
