/* Commit marker encoding and strict decoding (see include/outpost/agent/wire/marker.h). */
#include "outpost/agent/wire/marker.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

static int is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return s[n] == '\0';
}

int op_marker_encode(const op_marker *m, char **json, op_err *e)
{
	json_t *apps = json_object();
	for (size_t i = 0; apps && i < m->napps; i++)
		json_object_set_new(apps, m->apps[i].name, json_string(m->apps[i].digest));
	json_t *j = json_pack("{s:i, s:s, s:I, s:s, s:s, s:o}", "format", OP_FORMAT, "commit",
		m->commit, "seq", (json_int_t)m->seq, "signer", m->signer, "time", m->time, "apps",
		apps);
	if (!j)
		return op_err_set(e, OP_ENOMEM, "marker: cannot encode");
	*json = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(j);
	return *json ? 0 : op_err_set(e, OP_ENOMEM, "marker: out of memory");
}

static int app_cmp(const void *a, const void *b)
{
	return strcmp(((const op_marker_app *)a)->name, ((const op_marker_app *)b)->name);
}

int op_marker_decode(const char *buf, size_t len, op_marker *m, op_err *e)
{
	memset(m, 0, sizeof *m);
	if (len > 16 * 1024 * 1024)
		return op_err_set(e, OP_ETOOBIG, "marker: %zu bytes is too large", len);
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j && !je.text[0]) /* jansson's only failure without a message */
		return op_err_set(e, OP_ENOMEM, "marker: out of memory");
	if (!j)
		return op_err_set(e, OP_EINVAL, "marker: not JSON: %s", je.text);
	int rc = OP_EINVAL;
	json_int_t format = 0, seq = 0;
	const char *commit = NULL, *signer = NULL, *time = NULL;
	json_t *apps = NULL;
	if (json_unpack_ex(j, &je, JSON_STRICT, "{s:I, s:s, s:I, s:s, s:s, s:o}", "format", &format,
		    "commit", &commit, "seq", &seq, "signer", &signer, "time", &time, "apps",
		    &apps) != 0) {
		op_err_set(e, OP_EINVAL, "marker: %s", je.text);
		goto out;
	}
	if (format != OP_FORMAT) {
		op_err_set(e, OP_EINVAL, "marker: unknown format %lld (this outpost reads %d)",
			(long long)format, OP_FORMAT);
		goto out;
	}
	if (strlen(commit) != 40 || !is_hex(commit, 40)) {
		op_err_set(e, OP_EINVAL, "marker: commit: expected 40 hex digits");
		goto out;
	}
	if (seq < 1) {
		op_err_set(e, OP_EINVAL, "marker: seq: expected a positive integer");
		goto out;
	}
	int64_t t;
	bool printable = true;
	for (const unsigned char *p = (const unsigned char *)signer; *p; p++)
		printable &= *p >= 0x20 && *p != 0x7f && *p != '"' && *p != '\\';
	if (strlen(signer) >= sizeof m->signer || !printable ||
		op_time_parse_rfc3339(time, &t) != 0) {
		op_err_set(e, OP_EINVAL,
			"marker: signer (printable, no quotes) or time (RFC 3339 UTC) is not "
			"valid");
		goto out;
	}
	if (!json_is_object(apps) || json_object_size(apps) > OP_MARKER_MAX_APPS) {
		op_err_set(e, OP_EINVAL, "marker: apps: expected an object of at most %d apps",
			OP_MARKER_MAX_APPS);
		goto out;
	}
	m->apps = calloc(json_object_size(apps) + 1, sizeof *m->apps);
	if (!m->apps) {
		op_err_set(e, OP_ENOMEM, "marker: out of memory");
		goto out;
	}
	const char *name;
	json_t *dg;
	json_object_foreach(apps, name, dg)
	{
		const char *d = json_string_value(dg);
		if (!op_name_valid(name) || !d || strlen(d) != OP_DIGEST_LEN ||
			strncmp(d, "sha256:", 7) != 0 || !is_hex(d + 7, 64)) {
			op_err_set(e, OP_EINVAL,
				"marker: apps.%.64s: expected an app name and a "
				"sha256:<64 hex> digest",
				name);
			goto out;
		}
		op_marker_app *a = &m->apps[m->napps++];
		memcpy(a->name, name, strlen(name) + 1);
		memcpy(a->digest, d, OP_DIGEST_LEN + 1);
	}
	qsort(m->apps, m->napps, sizeof *m->apps, app_cmp);
	memcpy(m->commit, commit, 41);
	m->seq = (uint64_t)seq;
	snprintf(m->signer, sizeof m->signer, "%s", signer);
	snprintf(m->time, sizeof m->time, "%s", time);
	rc = 0;
out:
	json_decref(j);
	if (rc)
		op_marker_clear(m);
	return rc;
}

void op_marker_clear(op_marker *m)
{
	free(m->apps);
	m->apps = NULL;
	m->napps = 0;
}

const char *op_marker_digest(const op_marker *m, const char *name)
{
	op_marker_app key;
	snprintf(key.name, sizeof key.name, "%s", name);
	const op_marker_app *a = bsearch(&key, m->apps, m->napps, sizeof *m->apps, app_cmp);
	return a ? a->digest : NULL;
}
