/* The hub's side of freshness (fresh.h): sign and write the record. */
#ifndef OUTPOST_FRESH_PUB_H
#define OUTPOST_FRESH_PUB_H

#include <nats/nats.h>
#include <stdint.h>

#include "outpost/agent/trust/fresh.h"
#include "outpost/agent/trust/sshsign.h"

/* Writes `fresh` naming the revision (commit, seq) the caller vouches for (one it
 * published or found in place, never just what the bucket holds), the time now (Unix
 * seconds) and an expiry ttl seconds later, signed with key. */
int op_fresh_publish(kvStore *kv, const op_sshpriv *key, const char *commit, uint64_t seq,
	int64_t now, int64_t ttl, op_err *e);

#endif
