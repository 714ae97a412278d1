/* The hub's side of freshness (fresh.h): sign and write the record. */
#ifndef OUTPOST_FRESH_PUB_H
#define OUTPOST_FRESH_PUB_H

#include <nats/nats.h>
#include <stdint.h>

#include "outpost/fresh.h"
#include "outpost/sshsign.h"

/* Reads the bucket's marker and writes `fresh` naming its commit and seq, the time now
 * (Unix seconds) and an expiry ttl seconds later, signed with key. *seq gets the seq
 * named. OP_ENOTFOUND when there is no marker yet (nothing to vouch for). */
int op_fresh_publish(
	kvStore *kv, const op_sshpriv *key, int64_t now, int64_t ttl, uint64_t *seq, op_err *e);

#endif
