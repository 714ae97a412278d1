/* Shared by store.c and store_put.c: the errors of asynchronous chunk publishes, which
 * nats.c reports on its own thread, and small helpers. */
#ifndef OUTPOST_STORE_INT_H
#define OUTPOST_STORE_INT_H

#include <pthread.h>

#include "outpost/agent/store/store.h"

struct op_store_pub {
	pthread_mutex_t mu;
	int failed; /* chunks the server refused or never acknowledged */
	char first[256]; /* why the first one failed */
};

/* nats.c status (and JetStream error code) as an op_err naming what was done. */
int op_store__err(op_err *e, natsStatus s, jsErrCode jerr, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Purges a subject of the store's stream (the chunks of one object). */
int op_store__purge(op_store *s, const char *subject, op_err *e);
/* Publishes meta m on its meta subject with a per-subject rollup, waiting for the ack. */
int op_store__put_meta(op_store *s, const op_objmeta *m, op_err *e);

#endif
