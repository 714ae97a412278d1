/* The promotion record of an app's rollout (key `rollout.<app>` of bucket `outpost`):
 * which wave of which app spec the hub has promoted, or that it halted the rollout.
 * Sites of a later wave keep the app on its previous spec until a record for the spec
 * promotes their wave. Decoding is strict and bounded: it comes off the network.
 *
 * JSON, sorted keys, compact: {"app":"<name>","commit":"<hex>","digest":"sha256:<hex>",
 * "halted":false,"promoted":K,"reason":"...","seq":N,"sig":"<base64 SSHSIG>",
 * "time":"<RFC 3339 UTC>","v":1}. A hub with a signing key (sync --fresh-key) signs the
 * record like the freshness record: "sig" is an SSHSIG, namespace outpost-rollout, over
 * the same object without "sig" (op_promotion_encode's bytes); a hub without one writes
 * no "sig". Checking a signature needs the trust module: agent/trust/rollout_sig.h. */
#ifndef OUTPOST_ROLLOUT_H
#define OUTPOST_ROLLOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_PROMOTION_V 1
#define OP_PROMOTION_MAX 4096 /* bytes of a record */
#define OP_PROMOTION_REASON_MAX 255 /* bytes of printable ASCII */
#define OP_PROMOTION_KEY_MAX (sizeof "rollout." + OP_NAME_MAX)
#define OP_PROMOTION_NS "outpost-rollout" /* the SSHSIG namespace of "sig" */
#define OP_PROMOTION_SIG_MAX 1024 /* bytes of the SSHSIG blob */
/* Requests to the running sync (outpost promote, outpost halt): {"v":1,"app":A,
 * "wave":"NAME|INDEX"} (wave optional) and {"v":1,"app":A,"reason":TEXT} (reason
 * optional); the reply {"v":1,"ok":BOOL,"error":TEXT,"record":{...}|null}. */
#define OP_SUBJECT_PROMOTE "outpost.hub.rollout.promote"
#define OP_SUBJECT_HALT "outpost.hub.rollout.halt"

typedef struct op_promotion {
	char app[OP_NAME_MAX + 1];
	char digest[OP_DIGEST_LEN + 1]; /* the app spec the rollout is of */
	char commit[41]; /* the revision that brought it, hex */
	uint64_t seq; /* that revision's seq, >= 1 */
	int promoted; /* the highest wave promoted, 0..OP_MAX_WAVES-1 */
	bool halted; /* promotes nothing further */
	char reason[OP_PROMOTION_REASON_MAX + 1]; /* why, for status: "" allowed */
	int64_t time; /* Unix seconds, UTC */
} op_promotion;

/* "rollout.<app>" into key; OP_EINVAL when app is not a name. */
int op_promotion_key(const char *app, char key[OP_PROMOTION_KEY_MAX], op_err *e);
/* Canonical JSON of p without "sig" (checked as decode checks it): the record of a hub
 * that signs nothing, and the bytes a signature covers; *json allocated. */
int op_promotion_encode(const op_promotion *p, char **json, op_err *e);
/* The same with "sig" (the SSHSIG blob, 1..OP_PROMOTION_SIG_MAX bytes); *json allocated. */
int op_promotion_encode_signed(
	const op_promotion *p, const unsigned char *sig, size_t sig_len, char **json, op_err *e);
/* Fills p from a record signed or not, without looking at the signature; OP_EINVAL with
 * a message naming the field, OP_ETOOBIG past OP_PROMOTION_MAX. */
int op_promotion_decode(const char *json, size_t len, op_promotion *p, op_err *e);
/* The same, and the signature's blob: *sig allocated (free), NULL with *sig_len 0 when
 * the record has none. */
int op_promotion_decode_signed(const char *json, size_t len, op_promotion *p, unsigned char **sig,
	size_t *sig_len, op_err *e);

#endif
