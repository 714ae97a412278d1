/* Internal to the agent (agent.c, reconcile.c, agent_status.c): its state. Everything
 * the NATS threads touch is under mu; the loop takes snapshots under it. */
#ifndef OUTPOST_AGENT_PRIV_H
#define OUTPOST_AGENT_PRIV_H

#include <pthread.h>

#include "outpost/agent.h"
#include "outpost/bus.h"
#include "outpost/plan.h"
#include "outpost/proto.h"
#include "outpost/revision.h"

typedef struct ag_entry {
	char *key;
	char *val;
	size_t len;
} ag_entry;

typedef struct ag_host {
	op_heartbeat hb; /* the last heartbeat (owns labels and instances) */
	int64_t last_ms; /* monotonic time it arrived */
	int64_t first_ms;
} ag_host;

/* A command the host acknowledged that its heartbeats do not show yet. */
typedef struct ag_pending {
	enum op_cmd_op op;
	char inst[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1];
	char boot[64];
	uint64_t seq; /* the host's heartbeat seq when acknowledged */
	int64_t at_ms;
} ag_pending;

/* A command that failed: not retried before next_ms. */
typedef struct ag_retry {
	enum op_cmd_op op;
	char inst[OP_INST_MAX + 1];
	char host[OP_HOST_MAX + 1];
	int fails;
	int64_t next_ms;
	char error[512];
} ag_retry;

typedef struct ag_status_rec {
	char *key;
	char *body; /* the JSON without its time, to write only on change */
	bool seen; /* still produced this round */
} ag_status_rec;

struct op_agent {
	op_agent_cfg cfg;
	char rev_path[1024];
	op_bus bus;
	kvStore *desired, *status;
	natsSubscription *hbsub;
	pthread_t watcher;
	bool watcher_started;
	volatile int stop;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool wake;
	ag_entry *entries; /* the mirror's live keys */
	size_t nentries, capentries;
	int64_t last_change_ms;
	ag_host *hosts;
	size_t nhosts, caphosts;

	/* loop-only state */
	op_revision run;
	bool have_run;
	char problem[512]; /* a revision refused, a mirror in trouble: shown in status */
	char warning[512];
	ag_pending *pend;
	size_t npend, cappend;
	ag_retry *retry;
	size_t nretry, capretry;
	ag_status_rec *srec;
	size_t nsrec, capsrec;
	int64_t start_ms;
	int64_t last_resync_ms;
	bool announced;
	int64_t next_announce_ms;
};

/* reconcile.c: one round of plan and commands. */
void ag_reconcile(op_agent *a);
/* agent_status.c: writes what changed to outpost-status. */
void ag_status(op_agent *a, const op_plan_in *in, const op_cmd *cmds, size_t ncmds);
/* agent.c */
bool ag_host_alive(const op_agent *a, const ag_host *h, int64_t now);
int64_t ag_host_timeout(const op_agent *a, const ag_host *h);
/* Grows an array: 0 or OP_ENOMEM. */
int ag_grow(void **v, size_t *cap, size_t need, size_t size);

#endif
