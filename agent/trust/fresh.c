/* The freshness record (see include/outpost/agent/trust/fresh.h). */
#include "outpost/agent/trust/fresh.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/trust/sshsig.h"
#include "outpost/agent/base/util.h"

void op_fresh_clear(op_fresh *f)
{
	free(f->sig);
	memset(f, 0, sizeof *f);
}

static json_t *payload_obj(const op_fresh *f)
{
	char t[32], x[32];
	op_time_rfc3339(f->time, t);
	op_time_rfc3339(f->expires, x);
	return json_pack("{s:s, s:s, s:i, s:I, s:s}", "commit", f->commit, "expires", x, "format",
		1, "seq", (json_int_t)f->seq, "time", t);
}

static int dump(json_t *j, char **json, op_err *e)
{
	*json = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	return *json ? 0 : op_err_set(e, OP_ENOMEM, "out of memory");
}

int op_fresh_payload(const op_fresh *f, char **json, op_err *e)
{
	return dump(payload_obj(f), json, e);
}

int op_fresh_encode(const op_fresh *f, char **json, op_err *e)
{
	json_t *j = payload_obj(f);
	size_t n = sodium_base64_encoded_len(f->sig_len, sodium_base64_VARIANT_ORIGINAL);
	char *b = malloc(n);
	if (!j || !b) {
		json_decref(j);
		free(b);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	sodium_bin2base64(b, n, f->sig, f->sig_len, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(j, "sig", json_string(b));
	free(b);
	return dump(j, json, e);
}

static bool hex40(const char *s)
{
	if (!s || strlen(s) != 40)
		return false;
	for (int i = 0; i < 40; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int op_fresh_decode(const char *json, size_t len, op_fresh *f, op_err *e)
{
	memset(f, 0, sizeof *f);
	if (len > OP_FRESH_MAX)
		return op_err_set(e, OP_ETOOBIG, "freshness record: %zu bytes, at most %d", len,
			OP_FRESH_MAX);
	json_error_t je;
	json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
	if (!j && !je.text[0]) /* jansson's only failure without a message */
		return op_err_set(e, OP_ENOMEM, "freshness record: out of memory");
	if (!j)
		return op_err_set(e, OP_EINVAL, "freshness record: not JSON: %s", je.text);
	const char *commit = NULL, *t = NULL, *x = NULL, *sig = NULL;
	json_int_t fmt = 0, seq = 0;
	int rc = 0;
	if (!json_is_object(j) || json_object_size(j) != 6 ||
		json_unpack(j, "{s:s, s:s, s:I, s:I, s:s, s:s}", "commit", &commit, "expires", &x,
			"format", &fmt, "seq", &seq, "sig", &sig, "time", &t) != 0)
		rc = op_err_set(e, OP_EINVAL,
			"freshness record: expected commit, expires, format, seq, sig, time");
	else if (fmt != 1)
		rc = op_err_set(
			e, OP_EINVAL, "freshness record: format %lld unknown", (long long)fmt);
	else if (!hex40(commit) || seq < 1)
		rc = op_err_set(e, OP_EINVAL, "freshness record: bad commit or seq");
	else if (op_time_parse_rfc3339(t, &f->time) || op_time_parse_rfc3339(x, &f->expires))
		rc = op_err_set(
			e, OP_EINVAL, "freshness record: time, expires: expected RFC 3339 UTC");
	if (rc == 0) {
		size_t n = strlen(sig), out = 0;
		f->sig = malloc(n / 4 * 3 + 3);
		if (!f->sig)
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
		else if (op_base64_decode(sig, n, false, f->sig, n / 4 * 3 + 3, &out) != 0)
			rc = op_err_set(e, OP_EINVAL, "freshness record: sig: not base64");
		f->sig_len = out;
		memcpy(f->commit, commit ? commit : "", commit ? 41 : 1);
		f->seq = (uint64_t)seq;
	}
	json_decref(j);
	if (rc)
		op_fresh_clear(f);
	return rc;
}

const char *op_fresh_state_name(enum op_fresh_state s)
{
	switch (s) {
	case OP_FRESH_OFF: return "off";
	case OP_FRESH_OK: return "fresh";
	case OP_FRESH_STALE: return "stale";
	case OP_FRESH_BEHIND: return "behind";
	case OP_FRESH_INVALID: return "invalid";
	case OP_FRESH_UNVOUCHED: return "unvouched";
	}
	return "unknown";
}

/* The signature: made by a key pol lists for namespace outpost-fresh at the record's
 * time, over the record's payload. */
static int check_sig(const op_fresh *f, const op_trust_policy *pol, op_fresh_verdict *v)
{
	op_sshsig s;
	op_err e = {0};
	char *payload = NULL;
	if (op_sshsig_parse_blob(&s, f->sig, f->sig_len, &e) != 0) {
		snprintf(v->msg, sizeof v->msg, "freshness record: signature: %.350s", e.msg);
		return -1;
	}
	op_trust_verdict tv;
	op_trust_query q = {.key = &s.key, .ns = s.ns, .time = f->time, .email = ""};
	op_trust_decide(pol, NULL, &q, &tv);
	int rc = -1;
	if (!tv.accepted)
		snprintf(v->msg, sizeof v->msg, "freshness record: %.360s", tv.msg);
	else if (op_fresh_payload(f, &payload, &e) != 0)
		snprintf(v->msg, sizeof v->msg, "freshness record: %.360s", e.msg);
	else if (op_sshsig_verify(&s, OP_FRESH_NS, payload, strlen(payload), &e) != 0)
		snprintf(v->msg, sizeof v->msg, "freshness record: %.360s", e.msg);
	else {
		snprintf(v->signer, sizeof v->signer, "%s", tv.principal);
		rc = 0;
	}
	free(payload);
	op_sshsig_clear(&s);
	return rc;
}

void op_fresh_check(const char *json, size_t len, const op_trust_policy *pol, int64_t now,
	int64_t stale_after, const op_fresh_run *run, op_fresh_verdict *v)
{
	memset(v, 0, sizeof *v);
	if (!json) {
		v->state = OP_FRESH_STALE;
		snprintf(v->msg, sizeof v->msg, "no freshness record from the hub yet");
		return;
	}
	op_fresh f;
	op_err e = {0};
	if (op_fresh_decode(json, len, &f, &e) != 0) {
		v->state = OP_FRESH_INVALID;
		snprintf(v->msg, sizeof v->msg, "%.390s", e.msg);
		return;
	}
	char t[32], x[32];
	op_time_rfc3339(f.time, t);
	op_time_rfc3339(f.expires, x);
	v->time = f.time;
	if (check_sig(&f, pol, v) != 0) {
		v->state = OP_FRESH_INVALID;
		v->time = 0;
	} else if (f.time - now > stale_after) {
		v->state = OP_FRESH_INVALID;
		snprintf(v->msg, sizeof v->msg,
			"freshness record from the future (%s): the hub's clock or this site's is "
			"wrong",
			t);
	} else if (now > f.expires) {
		v->state = OP_FRESH_STALE;
		snprintf(v->msg, sizeof v->msg,
			"stale: the hub's last freshness record (%s) expired at %s", t, x);
	} else if (now - f.time > stale_after) {
		v->state = OP_FRESH_STALE;
		snprintf(v->msg, sizeof v->msg,
			"stale: the hub's last freshness record is from %s, more than %llds ago", t,
			(long long)stale_after);
	} else if (f.seq > run->seq) {
		v->state = OP_FRESH_BEHIND;
		snprintf(v->msg, sizeof v->msg,
			"behind: the hub's current revision is seq %llu (%.12s), this site runs "
			"seq %llu",
			(unsigned long long)f.seq, f.commit, (unsigned long long)run->seq);
	} else if ((f.seq == run->seq && strcmp(f.commit, run->commit) != 0) ||
		(f.seq < run->seq && f.time > run->since)) {
		/* The hub signed this after the site moved to its revision, and names another:
		 * the hub does not vouch for what runs here. */
		v->state = OP_FRESH_UNVOUCHED;
		snprintf(v->msg, sizeof v->msg,
			"unvouched: this site runs seq %llu (%.12s); the hub's record of %s "
			"vouches "
			"for seq %llu (%.12s)",
			(unsigned long long)run->seq, run->commit, t, (unsigned long long)f.seq,
			f.commit);
	} else {
		/* The same revision, or a record signed before the site moved to a newer one
		 * (the record for it is on its way). */
		v->state = OP_FRESH_OK;
	}
	op_fresh_clear(&f);
}
