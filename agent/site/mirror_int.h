/* Internal to the site agent: the site's mirror of the hub's desired state. Its watcher
 * thread keeps a table of the mirror's live keys; the loop measures once a second how
 * the mirror keeps up with the hub and, while it is stalled, reads the hub's bucket
 * into a second table. The fields marked "mu" are under the shared mutex (wake_int.h);
 * the others are the loop's alone. */
#ifndef OUTPOST_SITE_MIRROR_INT_H
#define OUTPOST_SITE_MIRROR_INT_H

#include <pthread.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/plan/choose.h"
#include "table_int.h"
#include "wake_int.h"

enum ag_mirror_state {
	AG_MIRROR_UNKNOWN, /* not measured yet, or the site server does not answer */
	AG_MIRROR_OFFLINE, /* the hub does not answer: the link is down (or the hub) */
	AG_MIRROR_OK, /* level with the hub */
	AG_MIRROR_BEHIND, /* behind the hub and moving */
	AG_MIRROR_STALLED, /* behind the hub, not moving, the link up */
};

typedef struct ag_mirror {
	op_bus *bus; /* borrowed */
	kvStore *kv; /* borrowed: the site's `outpost` bucket; NULL until it is open */
	ag_wake *wake; /* borrowed */
	pthread_t watcher;
	bool started;
	volatile int stop;
	/* the watcher's, mu */
	ag_table keys; /* the mirror's live keys */
	uint64_t keys_seq; /* as of this sequence of the mirror (its last entry's) */
	bool keys_ok; /* every entry delivered is in keys (none lost for want of memory) */
	int64_t last_change_ms;
	bool watch_init; /* the watcher delivered every key the mirror held at its start */
	uint64_t watch_delta; /* messages of the mirror the watcher has not delivered yet */
	/* the measure */
	enum ag_mirror_state state;
	jsCtx *hubjs; /* the hub's JetStream across the leaf link: read only */
	jsCtx *readjs; /* the same, for reads of its bucket past a stalled mirror */
	bool hub_ok; /* mu: the hub answered the last check */
	int64_t hub_ok_ms; /* mu: when it last did */
	uint64_t hub_last; /* mu: its KV_outpost's last sequence then */
	uint64_t last_seq; /* the mirror's last sequence at the last check */
	int64_t progress_ms; /* the mirror last moved, was level, or the hub was away */
	int64_t stalled_ms; /* since when it is stalled; 0 not */
	int64_t next_check_ms;
	int64_t asked_ms; /* the hub was last asked for its last sequence; 0 never */
	bool heard; /* at the last check, the mirror had heard from the hub lately */
	bool live; /* mu: and at the one before, level then, nothing pending now (gauge.h) */
	bool changed; /* mu: the watcher delivered since the last check */
	uint64_t read_last; /* hub_last when the hub's bucket was last read */
	int64_t read_ms; /* when */
	bool read_failed; /* the last read failed (logged once) */
	char since[32]; /* RFC 3339: when it stalled */
	char note[320]; /* mu: for status, why the mirror is not trusted now */
	ag_table hub; /* mu: the hub's bucket as last read, for the loop */
	bool hub_new; /* mu: read since the loop last looked */
} ag_mirror;

void ag_mirror_init(ag_mirror *m, op_bus *bus, ag_wake *wake);
/* Starts the watcher on the open bucket kv: 0 or OP_ENOMEM. */
int ag_mirror_start(ag_mirror *m, kvStore *kv);
/* Measures the mirror against the hub (every second; call outside mu) and, while it is
 * stalled with the link up, reads the hub's bucket into hub. */
void ag_mirror_check(ag_mirror *m, int64_t now);
/* Under mu: the mirror as the revision choice sees it (not measured yet). */
void ag_mirror_view(const ag_mirror *m, int64_t now, op_choose_mirror *v);
const char *ag_mirror_state_name(enum ag_mirror_state s);
/* Stops the watcher and frees what the part holds (not the bucket). */
void ag_mirror_clear(ag_mirror *m);

#endif
