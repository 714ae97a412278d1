/* Signing and checking promotion records (see include/outpost/agent/trust/rollout_sig.h).
 * The signed bytes are the record's canonical JSON without "sig", which strict decoding
 * makes the one encoding of the fields: the site re-encodes what it read and verifies
 * over that. */
#include "outpost/agent/trust/rollout_sig.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/agent/trust/sshsig.h"

int op_promotion_sign(const op_promotion *p, const op_sshpriv *key, char **json, op_err *e)
{
	*json = NULL;
	char *payload = NULL;
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int rc = op_promotion_encode(p, &payload, e);
	if (rc || !key) {
		*json = payload;
		return rc;
	}
	if ((rc = op_sshsig_sign(
		     key, OP_PROMOTION_NS, payload, strlen(payload), &sig, &sig_len, e)) == 0)
		rc = op_promotion_encode_signed(p, sig, sig_len, json, e);
	free(payload);
	free(sig);
	return rc;
}

/* The signature blob over p's payload, by a key pol accepts for the namespace at the
 * record's time. */
static int check_sig(const op_promotion *p, const unsigned char *blob, size_t len,
	const op_trust_policy *pol, op_err *e)
{
	op_sshsig s;
	op_err pe = {0};
	if (op_sshsig_parse_blob(&s, blob, len, &pe) != 0)
		return op_err_set(
			e, OP_ETRUST, "rollout record of %s: signature: %.400s", p->app, pe.msg);
	op_trust_verdict tv;
	op_trust_query q = {.key = &s.key, .ns = s.ns, .time = p->time, .email = ""};
	op_trust_decide(pol, NULL, &q, &tv);
	char *payload = NULL;
	int rc = 0;
	if (!tv.accepted)
		rc = op_err_set(e, OP_ETRUST, "rollout record of %s: %.450s", p->app, tv.msg);
	else if ((rc = op_promotion_encode(p, &payload, e)) != 0)
		;
	else if (op_sshsig_verify(&s, OP_PROMOTION_NS, payload, strlen(payload), &pe) != 0)
		rc = op_err_set(e, OP_ETRUST, "rollout record of %s: %.450s", p->app, pe.msg);
	free(payload);
	op_sshsig_clear(&s);
	return rc;
}

int op_promotion_check(
	const char *json, size_t len, const op_trust_policy *pol, op_promotion *p, op_err *e)
{
	unsigned char *sig = NULL;
	size_t sig_len = 0;
	int rc = op_promotion_decode_signed(json, len, p, &sig, &sig_len, e);
	if (rc == 0 && pol && !sig)
		rc = op_err_set(e, OP_ETRUST,
			"rollout record of %s: not signed (the hub runs without --fresh-key?)",
			p->app);
	else if (rc == 0 && pol)
		rc = check_sig(p, sig, sig_len, pol, e);
	free(sig);
	if (rc)
		memset(p, 0, sizeof *p);
	return rc;
}
