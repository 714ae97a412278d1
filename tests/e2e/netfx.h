/* Listeners on 127.0.0.1 for the health probes of shims under test (test_health.c,
 * bench_probe.c): a socket bound to a random free port, and a server on it, in a thread
 * of the test, that either answers HTTP or accepts and closes (what a tcp probe needs
 * of a listener that is read from: one that nobody accepts from fills its backlog).
 * Each server counts what it answered, so that a test knows the probes got there. */
#ifndef OUTPOST_TEST_NETFX_H
#define OUTPOST_TEST_NETFX_H

#include <pthread.h>
#include <stdbool.h>

/* A listening socket on 127.0.0.1 at a free port (*port gets it); -1 on failure. */
int nx_listen(int *port);

typedef struct nx_server {
	int fd, port;
	bool http; /* answer "GET /healthz HTTP/1.0" with status; else accept and close */
	_Atomic int status; /* the HTTP status it answers (200 from nx_start) */
	_Atomic int quit;
	_Atomic int served; /* requests answered (http) or connections accepted (tcp) */
	pthread_t th;
} nx_server;

/* Listens on a free port and serves there until nx_stop; false if it cannot. */
bool nx_start(nx_server *s, bool http);
/* Stops the server and closes its socket. */
void nx_stop(nx_server *s);

#endif
