/* Signing and writing the freshness record (see include/outpost/sync/publish/fresh_pub.h). */
#include "outpost/sync/publish/fresh_pub.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/bus/bus.h"

int op_fresh_publish(kvStore *kv, const op_sshpriv *key, const char *commit, uint64_t seq,
	int64_t now, int64_t ttl, op_err *e)
{
	op_fresh f = {.seq = seq, .time = now, .expires = now + ttl};
	snprintf(f.commit, sizeof f.commit, "%s", commit);
	char *payload = NULL, *json = NULL;
	int rc;
	if ((rc = op_fresh_payload(&f, &payload, e)) == 0 &&
		(rc = op_sshsig_sign(
			 key, OP_FRESH_NS, payload, strlen(payload), &f.sig, &f.sig_len, e)) == 0 &&
		(rc = op_fresh_encode(&f, &json, e)) == 0) {
		/* A plain put: no expectation header a mirror would have to recheck. */
		natsStatus s = kvStore_PutString(NULL, kv, "fresh", json);
		if (s != NATS_OK)
			rc = op_bus_err(e, s, "put fresh");
	}
	free(payload);
	free(json);
	op_fresh_clear(&f);
	return rc;
}
