/* Internal to the site agent: `outpost restart` requests (outpost.<site>.restart), which
 * the agent carries out by telling the hosts that run the app's failed instances to try
 * them again now (restart.c). The request names the app, and may name one instance. */
#ifndef OUTPOST_SITE_RESTART_INT_H
#define OUTPOST_SITE_RESTART_INT_H

#include <pthread.h>

#include "hosts_int.h"
#include "outpost/agent/bus/bus.h"

typedef struct ag_restart {
	const char *site; /* borrowed from the configuration */
	const ag_hosts *hosts; /* the agent's table of hosts, read under mu */
	pthread_mutex_t *mu;
	natsSubscription *sub;
} ag_restart;

/* Subscribes (once): 0 or the error. */
int ag_restart_serve(ag_restart *r, op_bus *bus, op_err *e);
void ag_restart_clear(ag_restart *r);

#endif
