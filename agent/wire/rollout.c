/* Promotion records: encoding and strict decoding (see rollout.h). Encoding checks what
 * decoding checks, so the hub can never publish a record its sites refuse. */
#include "outpost/agent/wire/rollout.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

static bool hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if (*s < 0x20 || *s > 0x7e)
			return false;
	return true;
}

int op_promotion_key(const char *app, char key[OP_PROMOTION_KEY_MAX], op_err *e)
{
	if (!app || !op_name_valid(app))
		return op_err_set(e, OP_EINVAL, "rollout record: app: expected a name");
	snprintf(key, OP_PROMOTION_KEY_MAX, "rollout.%s", app);
	return 0;
}

/* The checks of every field but time (a number in the struct, a string in JSON). */
static int check(const char *app, const char *digest, const char *commit, long long seq,
	long long promoted, const char *reason, op_err *e)
{
	const char *field = NULL, *want = NULL;
	if (!op_name_valid(app))
		field = "app", want = "a name of [a-z0-9-], 1..63";
	else if (strlen(digest) != OP_DIGEST_LEN || strncmp(digest, "sha256:", 7) != 0 ||
		!hex(digest + 7, 64))
		field = "digest", want = "sha256:<64 lowercase hex>";
	else if (!hex(commit, 40))
		field = "commit", want = "40 lowercase hex digits";
	else if (seq < 1)
		field = "seq", want = "a positive integer";
	else if (promoted < 0 || promoted >= OP_MAX_WAVES)
		field = "promoted", want = "a wave index from 0 to 15";
	else if (strlen(reason) > OP_PROMOTION_REASON_MAX || !printable(reason))
		field = "reason", want = "at most 255 bytes of printable ASCII";
	if (!field)
		return 0;
	return op_err_set(e, OP_EINVAL, "rollout record: %s: expected %s", field, want);
}

/* The record's object without "sig" into *out. */
static int record_obj(const op_promotion *p, json_t **out, op_err *e)
{
	*out = NULL;
	int rc = check(p->app, p->digest, p->commit, (long long)p->seq, p->promoted, p->reason, e);
	if (rc)
		return rc;
	if (p->seq > (uint64_t)INT64_MAX || p->time < 0 || p->time > 253402300799LL)
		return op_err_set(e, OP_EINVAL, "rollout record: seq or time out of range");
	char t[32];
	op_time_rfc3339(p->time, t);
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:I, s:i, s:b, s:s, s:s}", "v", OP_PROMOTION_V,
		"app", p->app, "digest", p->digest, "commit", p->commit, "seq", (json_int_t)p->seq,
		"promoted", p->promoted, "halted", p->halted, "reason", p->reason, "time", t);
	*out = j;
	return j ? 0 : op_err_set(e, OP_ENOMEM, "rollout record: out of memory");
}

static int dump(json_t *j, char **json, op_err *e)
{
	*json = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return *json ? 0 : op_err_set(e, OP_ENOMEM, "rollout record: out of memory");
}

int op_promotion_encode(const op_promotion *p, char **json, op_err *e)
{
	*json = NULL;
	json_t *j;
	int rc = record_obj(p, &j, e);
	return rc ? rc : dump(j, json, e);
}

int op_promotion_encode_signed(
	const op_promotion *p, const unsigned char *sig, size_t sig_len, char **json, op_err *e)
{
	*json = NULL;
	if (!sig || sig_len == 0 || sig_len > OP_PROMOTION_SIG_MAX)
		return op_err_set(e, OP_EINVAL, "rollout record: sig: expected 1..%d bytes",
			OP_PROMOTION_SIG_MAX);
	json_t *j;
	int rc = record_obj(p, &j, e);
	if (rc)
		return rc;
	char b[sodium_base64_ENCODED_LEN(OP_PROMOTION_SIG_MAX, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b, sizeof b, sig, sig_len, sodium_base64_VARIANT_ORIGINAL);
	if (json_object_set_new(j, "sig", json_string(b)) != 0) {
		json_decref(j);
		return op_err_set(e, OP_ENOMEM, "rollout record: out of memory");
	}
	return dump(j, json, e);
}

/* The one spelling of the signature: canonical padded base64 of 1..OP_PROMOTION_SIG_MAX
 * bytes (decoded, then encoded back to the same text). */
static int read_sig(const char *b64, unsigned char **sig, size_t *sig_len, op_err *e)
{
	size_t n = strlen(b64), len = 0;
	unsigned char *buf = n ? malloc(n / 4 * 3 + 3) : NULL;
	char back[sodium_base64_ENCODED_LEN(OP_PROMOTION_SIG_MAX, sodium_base64_VARIANT_ORIGINAL)];
	const char *end = NULL;
	if (n && !buf)
		return op_err_set(e, OP_ENOMEM, "rollout record: out of memory");
	if (!n || n >= sizeof back ||
		sodium_base642bin(buf, n / 4 * 3 + 3, b64, n, NULL, &len, &end,
			sodium_base64_VARIANT_ORIGINAL) != 0 ||
		end != b64 + n || len == 0 || len > OP_PROMOTION_SIG_MAX ||
		strcmp(sodium_bin2base64(
			       back, sizeof back, buf, len, sodium_base64_VARIANT_ORIGINAL),
			b64) != 0) {
		free(buf);
		return op_err_set(e, OP_EINVAL,
			"rollout record: sig: expected the base64 of an SSHSIG of at most %d bytes",
			OP_PROMOTION_SIG_MAX);
	}
	*sig = buf;
	*sig_len = len;
	return 0;
}

int op_promotion_decode(const char *buf, size_t len, op_promotion *p, op_err *e)
{
	return op_promotion_decode_signed(buf, len, p, NULL, NULL, e);
}

int op_promotion_decode_signed(const char *buf, size_t len, op_promotion *p, unsigned char **sig,
	size_t *sig_len, op_err *e)
{
	memset(p, 0, sizeof *p);
	if (sig) {
		*sig = NULL;
		*sig_len = 0;
	}
	if (len > OP_PROMOTION_MAX)
		return op_err_set(e, OP_ETOOBIG,
			"rollout record: %zu bytes is too large (at most %d)", len,
			OP_PROMOTION_MAX);
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j && !je.text[0])
		return op_err_set(e, OP_ENOMEM, "rollout record: out of memory");
	if (!j)
		return op_err_set(e, OP_EINVAL, "rollout record: not JSON: %s", je.text);
	json_int_t v = 0, seq = 0, promoted = 0;
	int halted = 0;
	const char *app, *digest, *commit, *reason, *time, *b64 = NULL;
	int rc = OP_EINVAL;
	int64_t t;
	if (json_unpack_ex(j, &je, JSON_STRICT,
		    "{s:I, s:s, s:s, s:s, s:I, s:I, s:b, s:s, s?s, s:s}", "v", &v, "app", &app,
		    "digest", &digest, "commit", &commit, "seq", &seq, "promoted", &promoted,
		    "halted", &halted, "reason", &reason, "sig", &b64, "time", &time) != 0) {
		op_err_set(e, OP_EINVAL, "rollout record: %s", je.text);
		goto out;
	}
	if (v != OP_PROMOTION_V) {
		op_err_set(e, OP_EINVAL,
			"rollout record: v: unknown version %lld (this outpost reads %d)",
			(long long)v, OP_PROMOTION_V);
		goto out;
	}
	if ((rc = check(app, digest, commit, (long long)seq, (long long)promoted, reason, e)))
		goto out;
	char back[32] = "";
	bool parsed = op_time_parse_rfc3339(time, &t) == 0;
	if (parsed)
		op_time_rfc3339(t, back);
	/* The one spelling of the time: a 31st of February would come back as March. An
	 * empty one is no time at all (it once matched the empty spelling of a failed
	 * parse, and the record took an unset time: fuzz_rollout). */
	if (!parsed || strcmp(back, time) != 0) {
		rc = op_err_set(e, OP_EINVAL,
			"rollout record: time: expected RFC 3339 UTC "
			"(YYYY-MM-DDTHH:MM:SSZ)");
		goto out;
	}
	unsigned char *blob = NULL;
	size_t blob_len = 0;
	if (b64 && (rc = read_sig(b64, &blob, &blob_len, e)) != 0)
		goto out;
	if (sig) {
		*sig = blob;
		*sig_len = blob_len;
	} else {
		free(blob);
	}
	snprintf(p->app, sizeof p->app, "%s", app);
	memcpy(p->digest, digest, OP_DIGEST_LEN + 1);
	memcpy(p->commit, commit, 41);
	p->seq = (uint64_t)seq;
	p->promoted = (int)promoted;
	p->halted = halted != 0;
	snprintf(p->reason, sizeof p->reason, "%s", reason);
	p->time = t;
	rc = 0;
out:
	json_decref(j);
	if (rc)
		memset(p, 0, sizeof *p);
	return rc;
}
