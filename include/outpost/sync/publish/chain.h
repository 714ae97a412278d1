/* Writes to the hub bucket chained on the stream's sequence, sent ahead of their
 * acknowledgments. Write i of a chain from base expects the stream's last sequence to be
 * base + i - 1, the sequence write i - 1 gets when it is stored: it is stored right after
 * it or not at all. The writes are sent up to a window ahead, so a pass costs about one
 * round trip to the stream's leader, not one per write.
 *
 * Once a write is refused, writes after it that were in flight may still be stored, each
 * right after a write of another sync (a stored prefix, then some). So op_chain_wait
 * answers whether every write sent so far was stored, in order, with nothing between
 * them; only then may the caller send the one write that makes the others count (the
 * commit marker). */
#ifndef OUTPOST_CHAIN_H
#define OUTPOST_CHAIN_H

#include <nats/nats.h>
#include <pthread.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"

#define OP_CHAIN_WINDOW 32 /* writes in flight, by default */

typedef struct op_chain {
	jsCtx *js; /* its own context: the acknowledgments come to this chain */
	uint64_t base; /* the stream's last sequence before the first write */
	uint64_t sent; /* writes sent */
	pthread_mutex_t mu; /* guards the rest (acknowledgments arrive on nats.c's thread) */
	uint64_t stored; /* writes acknowledged stored where expected */
	uint64_t bad; /* the first write that was not (1-based; 0 none) */
	op_err why; /* why it was not */
	int rc;
} op_chain;

/* A chain from base_seq on nc, at most window writes ahead (0: OP_CHAIN_WINDOW). */
int op_chain_open(op_chain *c, natsConnection *nc, uint64_t base_seq, int window, op_err *e);
/* Sends the put of key (or, json NULL, its delete) as the chain's next write. Blocks
 * while the window is full. Does not wait for its acknowledgment. */
int op_chain_put(op_chain *c, const char *key, const char *json, size_t len, op_err *e);
/* Waits for the acknowledgment of every write sent. 0 when each was stored right after
 * the one before; OP_ECONFLICT when one was refused because another writer came first;
 * another error (timed out, no JetStream) naming the key. */
int op_chain_wait(op_chain *c, op_err *e);
/* The sequence the last write sent is stored at (base when none was sent). */
uint64_t op_chain_last(const op_chain *c);
void op_chain_close(op_chain *c);

#endif
