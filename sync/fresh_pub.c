/* Signing and writing the freshness record (see include/outpost/fresh_pub.h). */
#include "outpost/fresh_pub.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/bus.h"
#include "outpost/marker.h"

int op_fresh_publish(
	kvStore *kv, const op_sshpriv *key, int64_t now, int64_t ttl, uint64_t *seq, op_err *e)
{
	char *mval = NULL;
	size_t mlen = 0;
	uint64_t mrev = 0;
	int rc = op_bus_kv_get(kv, "rev", &mval, &mlen, &mrev, e);
	if (rc)
		return rc;
	op_marker m;
	rc = op_marker_decode(mval, mlen, &m, e);
	free(mval);
	if (rc)
		return rc;
	op_fresh f = {.seq = m.seq, .time = now, .expires = now + ttl};
	memcpy(f.commit, m.commit, sizeof f.commit);
	op_marker_free(&m);
	char *payload = NULL, *json = NULL;
	if ((rc = op_fresh_payload(&f, &payload, e)) == 0 &&
		(rc = op_sshsig_sign(
			 key, OP_FRESH_NS, payload, strlen(payload), &f.sig, &f.sig_len, e)) == 0 &&
		(rc = op_fresh_encode(&f, &json, e)) == 0) {
		/* A plain put: no expectation header a mirror would have to recheck. */
		natsStatus s = kvStore_PutString(NULL, kv, "fresh", json);
		if (s != NATS_OK)
			rc = op_bus_err(e, s, "put fresh");
	}
	*seq = f.seq;
	free(payload);
	free(json);
	op_fresh_free(&f);
	return rc;
}
