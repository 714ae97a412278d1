/* Internal to the site agent: its status reaching the hub (wire/report.h). Every key the
 * status part writes into the site's bucket, or deletes, is also handed here; a thread
 * of its own sends the newest value of each such key to the hub, in requests of at most
 * OP_REPORT_MAX_BYTES, once the writer says its round is done (ag_report_send: the keys of
 * one round go in one request, not the first alone), and forgets a key once the hub answered that
 * it stored it (a key written again meanwhile is sent again). While the link or the hub's sync is
 * down the keys wait, each with its newest value only, and go when the hub answers again: the hub
 * then shows the site as it is, not the history of a long cut. Thread-safe. */
#ifndef OUTPOST_SITE_REPORT_INT_H
#define OUTPOST_SITE_REPORT_INT_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct ag_report_ent {
	char *key;
	char *val; /* the JSON to store; NULL: the key is deleted */
	uint64_t gen; /* when it was handed over */
} ag_report_ent;

typedef struct ag_report {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	ag_report_ent *v; /* waiting for the hub's answer */
	size_t n, cap;
	uint64_t gen;
	natsConnection *nc; /* borrowed */
	char site[64], subject[128];
	pthread_t th;
	bool started, stop;
	bool held; /* keys handed over since the last ag_report_send: not sent yet */
	bool failing; /* said once until the hub answers again */
	int64_t fail_since_ms; /* the first failure since the last success; 0 none */
	int64_t retry_ms; /* the wait after a failure */
} ag_report;

void ag_report_init(ag_report *r, const char *site);
/* Starts the sending thread on nc (borrowed until ag_report_clear). */
int ag_report_start(ag_report *r, natsConnection *nc);
/* key's newest value (copied; NULL: deleted), for the hub, sent at the next
 * ag_report_send. */
void ag_report_put(ag_report *r, const char *key, const char *val);
/* Sends what was handed over (the writer's round is done). */
void ag_report_send(ag_report *r);
/* Stops the thread (a request under way ends within its timeout) and frees. */
void ag_report_clear(ag_report *r);

#endif
