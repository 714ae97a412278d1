/* Internal to the agent (agent.c, reconcile.c, agent_status.c): its state. Everything
 * the NATS threads touch is under mu; the loop takes snapshots under it. */
#ifndef OUTPOST_AGENT_PRIV_H
#define OUTPOST_AGENT_PRIV_H

#include <pthread.h>

#include "outpost/agent/site/agent.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/trust/fresh.h"
#include "outpost/agent/plan/plan.h"
#include "outpost/agent/wire/proto.h"
#include "outpost/agent/wire/revision.h"
#include "policy_int.h"

typedef struct ag_entry {
	char *key;
	char *val;
	size_t len;
} ag_entry;

/* Live keys of a desired-state bucket: the site's mirror, or the hub's as read directly
 * while the mirror is stalled. */
typedef struct ag_table {
	ag_entry *v;
	size_t n, cap;
} ag_table;

/* How the site's mirror keeps up with the hub's bucket (agent_mirror.c): measured by the
 * loop every second, outside the mutex. */
enum ag_mirror_state {
	AG_MIRROR_UNKNOWN, /* not measured yet, or the site server does not answer */
	AG_MIRROR_OFFLINE, /* the hub does not answer: the link is down (or the hub) */
	AG_MIRROR_OK, /* level with the hub */
	AG_MIRROR_BEHIND, /* behind the hub and moving */
	AG_MIRROR_STALLED, /* behind the hub, not moving, the link up */
};

typedef struct ag_mirror {
	enum ag_mirror_state state;
	jsCtx *hubjs; /* the hub's JetStream across the leaf link: read only */
	bool hub_ok; /* the hub answered the last check */
	int64_t hub_ok_ms; /* when it last did */
	uint64_t hub_last; /* its KV_outpost's last sequence then */
	uint64_t last_seq; /* the mirror's last sequence at the last check */
	int64_t progress_ms; /* the mirror last moved, was level, or the hub was away */
	int64_t stalled_ms; /* since when it is stalled; 0 not */
	int64_t next_check_ms;
	uint64_t read_last; /* hub_last when the hub's bucket was last read */
	int64_t read_ms; /* when */
	bool read_failed; /* the last read failed (logged once) */
	char since[32]; /* RFC 3339: when it stalled */
	char note[320]; /* under mu, for status: why the mirror is not trusted now */
	ag_table hub; /* under mu: the hub's bucket as last read, for the loop */
	bool hub_new; /* under mu: read since the loop last looked */
} ag_mirror;

#define AG_MAX_HOSTS 4096 /* hosts a site's agent keeps track of */

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
	ag_table mirror; /* the mirror's live keys */
	int64_t last_change_ms;
	bool watch_init; /* the watcher delivered every key the mirror held at its start */
	uint64_t watch_delta; /* messages of the mirror the watcher has not delivered yet */
	ag_host *hosts;
	size_t nhosts, caphosts;
	bool hosts_full; /* a new host was refused at AG_MAX_HOSTS (logged once) */

	/* loop-only state */
	op_revision run;
	bool have_run;
	int64_t run_since_ms; /* wall clock: when this process started running it */
	char problem[512]; /* a revision refused, a mirror in trouble: shown in status */
	struct {
		char key[OP_DIGEST_LEN + 1]; /* digest of the marker and proof checked last */
		int rc; /* and what came of it: OP_ETRUST refused, OP_ENOTFOUND waiting */
		int64_t checked_ms, since_ms; /* when checked last; first with this outcome */
		bool wait_logged;
	} edge; /* verification at the edge: the last outcome that was not a success */
	ag_policy policy; /* with --trust: the policy in force (policy.c) */
	op_trust_policy fresh_pol; /* --fresh-signers */
	bool have_fresh_pol;
	enum op_fresh_state fresh_state; /* as last reported */
	char warning[512];
	ag_pending *pend;
	size_t npend, cappend;
	ag_retry *retry;
	size_t nretry, capretry;
	ag_status_rec *srec;
	size_t nsrec, capsrec;
	int64_t start_ms; /* the last (re)connection: host timeouts count from here */
	uint64_t reconnects;
	natsStatistics *stats;
	ag_mirror mir;
	int64_t last_resync_ms;
	bool announced;
	bool announce_refused; /* logged once */
	int64_t next_announce_ms;
};

/* agent.c: tables of live keys. */
long ag_table_find(const ag_table *t, const char *key);
/* Sets (or with del, removes) a key: 0 or OP_ENOMEM. */
int ag_table_set(ag_table *t, const char *key, const char *val, size_t len, bool del);
void ag_table_clear(ag_table *t);
/* agent_mirror.c: measures the mirror against the hub (every second; call outside mu)
 * and, while it is stalled with the link up, reads the hub's bucket into mir.hub. */
void ag_mirror_check(op_agent *a, int64_t now);
/* Under mu: the hub answered lately (the link is up). */
bool ag_mirror_hub_fresh(const op_agent *a, int64_t now);
/* Under mu: true when the hub answered lately and holds more than the mirror's
 * mirror_last: a catch-up is under way (or stalled), not finished. */
bool ag_mirror_hub_ahead(const op_agent *a, uint64_t mirror_last, int64_t now);
/* Under mu: true when the hub answered lately and the mirror is level with it. */
bool ag_mirror_level(const op_agent *a, uint64_t mirror_last, int64_t now);
const char *ag_mirror_state_name(enum ag_mirror_state s);
void ag_mirror_clear(op_agent *a);
/* agent_revision.c: under mu, moves to the newest whole revision in t (the mirror's
 * keys, or the hub's read past a stalled mirror) if it is newer than the one the site
 * runs (or, with --trust, not yet verified). */
void ag_choose_revision(op_agent *a, const ag_table *t, bool from_hub);
/* reconcile.c: one round of plan and commands. */
void ag_reconcile(op_agent *a);
/* agent_status.c: writes what changed to outpost-status. */
void ag_status(op_agent *a, const op_plan_in *in, const op_cmd *cmds, size_t ncmds);
/* agent.c */
bool ag_host_alive(const op_agent *a, const ag_host *h, int64_t now);
int64_t ag_host_timeout(const op_agent *a, const ag_host *h);
/* Restarts the host-timeout window when the connection was re-established. */
void ag_conn_check(op_agent *a, int64_t now);
/* Grows an array: 0 or OP_ENOMEM. */
int ag_grow(void **v, size_t *cap, size_t need, size_t size);

#endif
