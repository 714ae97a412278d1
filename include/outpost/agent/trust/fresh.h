/* Freshness: the hub re-signs, at an interval, a small record naming the current
 * revision, the time and an expiry (key `fresh` of bucket `outpost`). A site that holds
 * no recent record is not being told about new revisions: the link is down, or someone
 * between hub and site withholds updates. It reports itself stale in status and keeps
 * running what it has (offline is normal at the edge). The record is an SSHSIG over its
 * own canonical JSON, namespace "outpost-fresh", checked against the site's own
 * allowed_signers file for the hub's key.
 *
 * JSON, sorted keys: {"commit":"<hex>","expires":"<RFC 3339>","format":1,"seq":N,
 * "sig":"<base64 SSHSIG>","time":"<RFC 3339>"}; the signed bytes are the same object
 * without "sig". Decoding is strict and bounded: it comes off the network. */
#ifndef OUTPOST_FRESH_H
#define OUTPOST_FRESH_H

#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/trust/trust.h"

#define OP_FRESH_NS "outpost-fresh"
#define OP_FRESH_MAX 8192 /* bytes of a record */

typedef struct op_fresh {
	char commit[41];
	uint64_t seq;
	int64_t time, expires; /* Unix seconds */
	unsigned char *sig; /* the SSHSIG blob, owned */
	size_t sig_len;
} op_fresh;

/* The signed bytes: the record without its signature, canonical JSON; *json allocated. */
int op_fresh_payload(const op_fresh *f, char **json, op_err *e);
int op_fresh_encode(const op_fresh *f, char **json, op_err *e);
int op_fresh_decode(const char *json, size_t len, op_fresh *f, op_err *e);
void op_fresh_clear(op_fresh *f);

enum op_fresh_state {
	OP_FRESH_OFF, /* the site checks no freshness */
	OP_FRESH_OK, /* a good record, recent, for the revision the site runs */
	OP_FRESH_STALE, /* none, or older than the limit, or past its expiry */
	OP_FRESH_BEHIND, /* recent, but for a newer revision than the site runs */
	OP_FRESH_INVALID, /* unreadable, not signed by a key the site trusts, or from the
			     future */
	OP_FRESH_UNVOUCHED /* recent, signed after the site moved to its revision, and
			      naming another: the hub does not vouch for what runs here */
};
const char *op_fresh_state_name(enum op_fresh_state s);

typedef struct op_fresh_verdict {
	enum op_fresh_state state;
	int64_t time; /* the record's, 0 without a good one */
	char signer[OP_TRUST_MAX_PRINCIPAL + 1];
	char msg[400]; /* why, for status; the same for the same record and limit */
} op_fresh_verdict;

/* The revision the site runs: seq, commit, and since when (Unix seconds). */
typedef struct op_fresh_run {
	uint64_t seq;
	const char *commit;
	int64_t since;
} op_fresh_run;

/* The site's judgement of the record bytes (json NULL: none held) at time now (Unix
 * seconds): signature checked against pol (namespace outpost-fresh, valid at the
 * record's time), then the time (not more than stale_after seconds ahead, not expired,
 * not older than stale_after), then the revision it names against the one the site
 * runs. Pure. */
void op_fresh_check(const char *json, size_t len, const op_trust_policy *pol, int64_t now,
	int64_t stale_after, const op_fresh_run *run, op_fresh_verdict *v);

#endif
