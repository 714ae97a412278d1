/* What a sync pass says (see include/outpost/sync/loop/outcome.h). */
#include "outpost/sync/loop/outcome.h"

#include <jansson.h>
#include <stdarg.h>
#include <mbedtls/sha256.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/store/objmeta.h"

void op_sync_reason(op_sync_outcome *o, enum op_sync_kind k, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(o->reason, sizeof o->reason, fmt, ap);
	va_end(ap);
	o->kind = k;
}

const char *op_sync_kind_name(enum op_sync_kind k)
{
	switch (k) {
	case OP_SYNC_ACCEPTED: return "accepted";
	case OP_SYNC_UNCHANGED: return "unchanged";
	case OP_SYNC_REJECTED: return "rejected";
	case OP_SYNC_FAILED: return "failed";
	}
	return "failed";
}

void op_sync_outcome_clear(op_sync_outcome *o)
{
	op_diags_clear(&o->errors);
	op_art_missing_clear(&o->missing);
}

/* [{"digest": "sha256:<hex>", "apps": [names]}] */
static json_t *missing_json(const op_art_missing *m)
{
	json_t *a = json_array();
	for (size_t i = 0; a && i < m->n; i++) {
		char d[OP_ART_DIGEST_LEN + 1];
		op_art_digest_format(m->v[i].sha256, d);
		json_t *apps = json_array();
		for (const char *p = m->v[i].apps; apps && *p;) {
			size_t len = strcspn(p, ",");
			json_array_append_new(apps, json_stringn(p, len));
			p += len + (p[len] == ',');
		}
		json_array_append_new(a, json_pack("{s:s, s:o}", "digest", d, "apps", apps));
	}
	return a;
}

char *op_sync_outcome_json(const op_sync_outcome *o)
{
	char now[32];
	op_time_rfc3339(op_wall_ms() / 1000, now);
	json_t *errs = json_array();
	for (size_t i = 0; i < o->errors.n; i++) {
		const op_diag *d = &o->errors.v[i];
		char line[2048];
		snprintf(line, sizeof line, "%s:%d:%d: %s: %s", d->file, d->line, d->col, d->path,
			d->msg);
		json_array_append_new(errs, json_string(line));
	}
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:o, s:I, s:I, s:I, s:o}",
		"v", 1, "outcome", op_sync_kind_name(o->kind), "time", now, "commit", o->commit,
		"signer", o->signer, "seq", (json_int_t)o->seq, "rev_seq", (json_int_t)o->rev_seq,
		"reason", o->reason, "errors", errs, "puts", (json_int_t)o->puts, "deletes",
		(json_int_t)o->dels, "ms", (json_int_t)o->ms, "artifacts_missing",
		missing_json(&o->missing));
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

static void add(mbedtls_sha256_context *h, const char *s, bool nul)
{
	mbedtls_sha256_update(h, (const unsigned char *)s, strlen(s) + (nul ? 1 : 0));
}

void op_sync_refusal_key(const op_sync_outcome *o, char key[65])
{
	key[0] = '\0';
	if (o->kind != OP_SYNC_REJECTED && o->kind != OP_SYNC_FAILED)
		return;
	mbedtls_sha256_context h;
	unsigned char sum[32];
	mbedtls_sha256_init(&h);
	mbedtls_sha256_starts(&h, 0);
	add(&h, op_sync_kind_name(o->kind), true);
	add(&h, o->commit, true);
	add(&h, o->reason, true);
	for (size_t i = 0; i < o->errors.n; i++) {
		const op_diag *d = &o->errors.v[i];
		char line[64];
		snprintf(line, sizeof line, ":%d:%d:", d->line, d->col);
		add(&h, d->file, false);
		add(&h, line, false);
		add(&h, d->msg, true);
	}
	mbedtls_sha256_finish(&h, sum);
	mbedtls_sha256_free(&h);
	for (int i = 0; i < 32; i++)
		snprintf(key + 2 * i, 3, "%02x", sum[i]);
}
