/* Internal to the site agent: the mutex the NATS threads (heartbeats, the mirror's
 * watcher) and the loop share, and the condition that wakes the loop when one of them
 * changed something. Every part says which of its fields are under it. */
#ifndef OUTPOST_SITE_WAKE_INT_H
#define OUTPOST_SITE_WAKE_INT_H

#include <pthread.h>
#include <stdbool.h>

typedef struct ag_wake {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake; /* under mu: something changed since the loop last looked */
} ag_wake;

/* Under mu. */
static inline void ag_wake_poke(ag_wake *w)
{
	w->wake = true;
	pthread_cond_signal(&w->cv);
}

#endif
