/* A site's status report to the hub (see include/outpost/agent/wire/report.h). */
#include "outpost/agent/wire/report.h"

#include <string.h>

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '_' || c == '=' || c == '/' || c == '-';
}

bool op_report_key_ok(const char *site, const char *key)
{
	size_t n = strlen(site), len = key ? strlen(key) : 0;
	if (len > OP_REPORT_KEY_MAX || len < 6 + n + 2 || strncmp(key, "site.", 5) != 0 ||
		strncmp(key + 5, site, n) != 0 || key[5 + n] != '.')
		return false;
	bool token = false; /* the token under way has a character */
	for (const char *p = key + 6 + n; *p; p++) {
		if (*p == '.') {
			if (!token)
				return false;
			token = false;
		} else if (key_char(*p)) {
			token = true;
		} else {
			return false;
		}
	}
	return token;
}

static int check(const char *subj_site, json_t *j, op_err *e)
{
	if (!json_is_object(j))
		return op_err_set(e, OP_EINVAL, "report: expected a JSON object");
	json_t *v = json_object_get(j, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return op_err_set(e, OP_EINVAL, "report: v: expected the integer 1");
	json_t *s = json_object_get(j, "site");
	const char *site = json_string_value(s);
	if (!site || json_string_length(s) != strlen(site) || !op_name_valid(site) ||
		!strcmp(site, "hub"))
		return op_err_set(e, OP_EINVAL,
			"report: site: expected a site name of [a-z0-9-], 1..63, not hub");
	if (!subj_site || strcmp(site, subj_site) != 0)
		return op_err_set(e, OP_EINVAL, "report: site: not the site of the subject");
	json_t *put = json_object_get(j, "put"), *del = json_object_get(j, "del");
	if (put && !json_is_object(put))
		return op_err_set(e, OP_EINVAL, "report: put: expected an object");
	if (del && !json_is_array(del))
		return op_err_set(e, OP_EINVAL, "report: del: expected an array");
	size_t n = json_object_size(put) + json_array_size(del);
	if (n > OP_REPORT_MAX_KEYS)
		return op_err_set(e, OP_ETOOBIG, "report: more than %d keys", OP_REPORT_MAX_KEYS);
	const char *k;
	json_t *x;
	json_object_foreach(put, k, x)
	{
		/* a key with a NUL inside reads shorter than jansson holds it: refused too */
		if (!op_report_key_ok(site, k))
			return op_err_set(
				e, OP_EINVAL, "report: put: a key not under site.%s.", site);
		if (!json_is_object(x))
			return op_err_set(e, OP_EINVAL, "report: put: expected objects as values");
	}
	size_t i;
	json_array_foreach(del, i, x)
	{
		const char *d = json_string_value(x);
		if (!d || json_string_length(x) != strlen(d) || !op_report_key_ok(site, d))
			return op_err_set(
				e, OP_EINVAL, "report: del: a key not under site.%s.", site);
	}
	return 0;
}

int op_report_decode(const char *site, const char *buf, size_t len, json_t **out, op_err *e)
{
	*out = NULL;
	if (len > OP_REPORT_MAX_BYTES)
		return op_err_set(e, OP_ETOOBIG, "report: %zu bytes is over the limit of %d", len,
			OP_REPORT_MAX_BYTES);
	/* jansson's error text quotes the input near the error: only its position is kept. */
	json_error_t je;
	json_t *j = json_loadb(buf ? buf : "", buf ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return op_err_set(e, OP_EINVAL, "report: not JSON (at byte %d)", je.position);
	int rc = check(site, j, e);
	if (rc)
		json_decref(j);
	else
		*out = j;
	return rc;
}
