/* Trust files (see include/outpost/agent/trust/trust.h): git's allowed_signers format and the
 * revocation list. An allowed_signers line outpost cannot use is skipped with a warning
 * naming FILE:LINE and what was expected, as ssh-keygen skips it: a line can only
 * grant, so skipping it never widens trust, and one bad line must not stop a fleet. A
 * revocation list is read in full or refused: it can only remove trust. The decision
 * itself is in trust_decide.c, binary KRLs in krl.c. */
#include "outpost/agent/trust/trust.h"

#include <mbedtls/sha1.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SKIPPED "; line skipped (it could only grant trust)"

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

/* ---- times ------------------------------------------------------------------------ */

/* Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	return m == 2 && leap ? 29 : dm[m - 1];
}

static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

int op_trust_parse_time(const char *s, size_t len, int64_t *t)
{
	*t = 0;
	if (len > 1 && (s[len - 1] == 'Z' || s[len - 1] == 'z'))
		len--;
	else if (len > 3 && strncasecmp(s + len - 3, "UTC", 3) == 0)
		len -= 3;
	if (len != 8 && len != 12 && len != 14)
		return OP_EINVAL;
	for (size_t i = 0; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return OP_EINVAL;
	int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
	int h = len >= 12 ? digits(s + 8, 2) : 0, mi = len >= 12 ? digits(s + 10, 2) : 0;
	int sec = len == 14 ? digits(s + 12, 2) : 0;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return OP_EINVAL;
	int64_t v = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
	if (v <= 0)
		return OP_EINVAL; /* OpenSSH reads 0 as "no bound": refuse it */
	*t = v;
	return 0;
}

/* ---- pattern lists ---------------------------------------------------------------------- */

bool op_trust_match(const char *s, const char *p)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

int op_trust_match_list(const char *s, const char *list)
{
	char sub[1024];
	int positive = 0;
	const char *p = list;
	while (*p) {
		bool neg = *p == '!';
		if (neg)
			p++;
		size_t n = strcspn(p, ",");
		if (n >= sizeof sub - 1)
			return 0; /* as OpenSSH: an overlong pattern fails the list */
		memcpy(sub, p, n);
		sub[n] = '\0';
		p += n;
		if (*p == ',')
			p++;
		if (op_trust_match(s, sub)) {
			if (neg)
				return -1;
			positive = 1;
		}
	}
	return positive;
}

/* Checks a pattern list as written in a trust file; what names its role in messages. */
static int check_list(const char *list, const char *what, op_err *e)
{
	char shown[64];
	if (!*list)
		return op_err_set(e, OP_EINVAL, "empty %s", what);
	for (const char *p = list; *p;) {
		size_t n = strcspn(p, ",");
		const char *q = *p == '!' ? p + 1 : p;
		if (n == 0 || (size_t)(q - p) == n) {
			op_ssh__printable(shown, sizeof shown, list, strlen(list));
			return op_err_set(e, OP_EINVAL, "empty pattern in %s \"%s\"", what, shown);
		}
		if (n > OP_TRUST_MAX_PRINCIPAL)
			return op_err_set(e, OP_EINVAL, "pattern in %s longer than %d bytes", what,
				OP_TRUST_MAX_PRINCIPAL);
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)p[i] < 0x20 || p[i] == 0x7f)
				return op_err_set(e, OP_EINVAL, "control character in %s", what);
		p += n;
		if (*p == ',' && !*(p + 1))
			return op_err_set(e, OP_EINVAL, "%s ends with ','", what);
		if (*p == ',')
			p++;
	}
	return 0;
}

/* ---- allowed_signers --------------------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Reads a double-quoted option value at *o (before end) as OpenSSH does: \" is a quote.
 * Leaves *o after the closing quote. */
static int dequote(const char **o, const char *end, const char *name, char **val, op_err *e)
{
	const char *p = *o;
	if (p >= end || *p != '"')
		return op_err_set(e, OP_EINVAL, "value of %s must be in double quotes: %s=\"...\"",
			name, name);
	char *v = malloc((size_t)(end - p)), *w = v;
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	for (p++; p < end && *p != '"'; p++) {
		if (*p == '\\' && p + 1 < end && p[1] == '"')
			p++;
		*w++ = *p;
	}
	if (p >= end) {
		free(v);
		return op_err_set(e, OP_EINVAL, "value of %s has no closing quote", name);
	}
	*w = '\0';
	*o = p + 1;
	*val = v;
	return 0;
}

static bool opt_is(const char *o, const char *end, const char *name)
{
	size_t n = strlen(name);
	return (size_t)(end - o) >= n && strncasecmp(o, name, n) == 0;
}

/* True when a time names its zone (Z or UTC): OpenSSH reads one without as local time. */
static bool has_zone(const char *v)
{
	size_t n = strlen(v);
	return (n > 0 && (v[n - 1] == 'Z' || v[n - 1] == 'z')) ||
		(n > 3 && strncasecmp(v + n - 3, "UTC", 3) == 0);
}

static int parse_time_opt(
	const char **o, const char *end, const char *name, int64_t *t, bool *local, op_err *e)
{
	char *v, shown[64];
	if (*t)
		return op_err_set(e, OP_EINVAL, "%s given twice", name);
	int rc = dequote(o, end, name, &v, e);
	if (rc)
		return rc;
	rc = op_trust_parse_time(v, strlen(v), t);
	if (rc == 0 && !has_zone(v))
		*local = true;
	if (rc) {
		op_ssh__printable(shown, sizeof shown, v, strlen(v));
		op_err_set(e, OP_EINVAL,
			"%s=\"%s\" is not a time after 1970 (expected YYYYMMDD, YYYYMMDDHHMM or "
			"YYYYMMDDHHMMSS, then Z or nothing: UTC)",
			name, shown);
	}
	free(v);
	return rc;
}

static int parse_options(op_trust_entry *t, const char *o, const char *end, bool *local, op_err *e)
{
	char shown[64];
	int rc;
	while (o < end) {
		if (opt_is(o, end, "cert-authority") &&
			(o + 14 == end || o[14] == ',' || blank(o[14])))
			return op_err_set(e, OP_EINVAL,
				"cert-authority is not supported: outpost does not verify SSH "
				"certificates, list each signer's own key");
		if (opt_is(o, end, "namespaces=")) {
			if (t->namespaces)
				return op_err_set(e, OP_EINVAL, "namespaces given twice");
			o += strlen("namespaces=");
			if ((rc = dequote(&o, end, "namespaces", &t->namespaces, e)) != 0 ||
				(rc = check_list(t->namespaces, "namespaces", e)) != 0)
				return rc;
		} else if (opt_is(o, end, "valid-after=")) {
			o += strlen("valid-after=");
			if ((rc = parse_time_opt(
				     &o, end, "valid-after", &t->valid_after, local, e)) != 0)
				return rc;
		} else if (opt_is(o, end, "valid-before=")) {
			o += strlen("valid-before=");
			if ((rc = parse_time_opt(
				     &o, end, "valid-before", &t->valid_before, local, e)) != 0)
				return rc;
		} else {
			const char *w = o;
			while (w < end && *w != ',' && *w != '=' && !blank(*w))
				w++;
			op_ssh__printable(shown, sizeof shown, o, (size_t)(w - o));
			return op_err_set(e, OP_EINVAL,
				"unknown option \"%s\" (expected namespaces=, valid-after=, "
				"valid-before=) or unknown key type",
				shown);
		}
		if (o == end)
			break;
		if (*o != ',')
			return op_err_set(e, OP_EINVAL, "expected ',' or a blank after an option");
		if (++o == end)
			return op_err_set(e, OP_EINVAL, "option list ends with ','");
	}
	if (t->valid_after && t->valid_before && t->valid_before <= t->valid_after)
		return op_err_set(e, OP_EINVAL, "valid-before is not after valid-after");
	return 0;
}

/* The end of an options token: the first blank outside double quotes. */
static const char *options_end(const char *o, const char *end, op_err *e, int *rc)
{
	bool quoted = false;
	for (; o < end && (quoted || !blank(*o)); o++) {
		if (*o == '\\' && o + 1 < end && o[1] == '"')
			o++;
		else if (*o == '"')
			quoted = !quoted;
	}
	*rc = quoted ? op_err_set(e, OP_EINVAL, "options have an unterminated quote") : 0;
	return o;
}

/* One non-blank, non-comment line: principals [options] keytype base64 [comment]. */
static int parse_entry(op_trust_entry *t, const char *s, const char *end, bool *local, op_err *e)
{
	const char *p0, *p1;
	int rc;
	if (*s == '"') {
		p0 = s + 1;
		p1 = memchr(p0, '"', (size_t)(end - p0));
		if (!p1)
			return op_err_set(e, OP_EINVAL, "principals have no closing quote");
		s = p1 + 1;
		if (s < end && !blank(*s))
			return op_err_set(
				e, OP_EINVAL, "expected a blank after the quoted principals");
	} else {
		for (p0 = s; s < end && !blank(*s); s++)
			if (*s == '"')
				return op_err_set(e, OP_EINVAL,
					"a quote inside principals (quote the whole list: \"a "
					"b@x\")");
		p1 = s;
	}
	if (!(t->principals = dup_n(p0, (size_t)(p1 - p0))))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if ((rc = check_list(t->principals, "principals", e)) != 0)
		return rc;
	while (s < end && blank(*s))
		s++;
	if (s == end)
		return op_err_set(e, OP_EINVAL,
			"missing key (expected: principals [options] keytype base64-key)");
	size_t tok = 0;
	while (s + tok < end && !blank(s[tok]))
		tok++;
	if (!op_sshkey_type_known(s, tok)) {
		const char *oe = options_end(s, end, e, &rc);
		if (rc || (rc = parse_options(t, s, oe, local, e)) != 0)
			return rc;
		for (s = oe; s < end && blank(*s); s++)
			;
		if (s == end)
			return op_err_set(e, OP_EINVAL,
				"missing key after the options (expected: keytype base64-key)");
	}
	size_t used;
	if ((rc = op_sshkey_parse_text(&t->key, s, (size_t)(end - s), &used, e)) != 0)
		return rc;
	if (s + used < end && !blank(s[used]))
		return op_err_set(e, OP_EINVAL, "no blank between the key and its comment");
	return 0;
}

static void entry_clear(op_trust_entry *t)
{
	free(t->principals);
	free(t->namespaces);
	op_sshkey_clear(&t->key);
	memset(t, 0, sizeof *t);
}

void op_trust_clear(op_trust_policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		entry_clear(&p->v[i]);
	for (size_t i = 0; i < p->nwarn; i++)
		free(p->warn[i]);
	free(p->warn);
	free(p->v);
	free(p->file);
	memset(p, 0, sizeof *p);
}

/* Keeps one warning (the first OP_TRUST_MAX_WARN; the rest are counted in skipped or
 * not at all). */
static int warn(op_trust_policy *p, int no, const char *what, const char *tail)
{
	char line[600];
	if (p->nwarn >= OP_TRUST_MAX_WARN)
		return 0;
	if (!p->warn && !(p->warn = calloc(OP_TRUST_MAX_WARN, sizeof *p->warn)))
		return OP_ENOMEM;
	snprintf(line, sizeof line, "%s:%d: %s%s", p->file, no, what, tail);
	if (!(p->warn[p->nwarn] = strdup(line)))
		return OP_ENOMEM;
	p->nwarn++;
	return 0;
}

/* Walks the lines of a trust file: calls fn for each line that is not blank or a
 * comment, with [s, end) the line without its line end and leading blanks. Errors get
 * the FILE:LINE: prefix here. With skip, a line that cannot be read (a NUL, a carriage
 * return inside it) is skipped with a warning in skip instead. */
typedef int (*line_fn)(void *ctx, int no, const char *s, const char *end, op_err *e);

static int each_line(const char *file, const char *text, size_t len, line_fn fn, void *ctx,
	op_trust_policy *skip, op_err *e)
{
	const char *line = text, *end = text + len;
	op_err le;
	if (len > OP_TRUST_MAX_FILE)
		return op_err_set(
			e, OP_ETOOBIG, "%s: %zu bytes (at most %u)", file, len, OP_TRUST_MAX_FILE);
	for (int no = 1; line < end; no++) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *eol = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;
		if (eol > line && eol[-1] == '\r')
			eol--;
		const char *s = line;
		while (s < eol && blank(*s))
			s++;
		int rc = 0;
		memset(&le, 0, sizeof le);
		if (memchr(line, '\0', (size_t)(eol - line)))
			rc = op_err_set(&le, OP_EINVAL, "NUL byte in the line");
		else if (memchr(s, '\r', (size_t)(eol - s)))
			rc = op_err_set(&le, OP_EINVAL, "carriage return inside the line");
		else if (s < eol && *s != '#')
			rc = fn(ctx, no, s, eol, &le);
		if (rc && skip && rc != OP_ENOMEM && rc != OP_ETOOBIG) {
			skip->skipped++;
			if (warn(skip, no, le.msg, SKIPPED) != 0)
				return op_err_set(e, OP_ENOMEM, "out of memory");
			rc = 0;
		}
		if (rc)
			return op_err_set(e, rc, "%s:%d: %s", file, no, le.msg);
		line = next;
	}
	return 0;
}

static int add_entry(void *ctx, int no, const char *s, const char *end, op_err *e)
{
	op_trust_policy *p = ctx;
	bool local = false;
	if (p->n >= OP_TRUST_MAX_ENTRIES)
		return op_err_set(e, OP_ETOOBIG, "more than %d signers", OP_TRUST_MAX_ENTRIES);
	if ((p->n & (p->n - 1)) == 0) {
		size_t cap = p->n ? p->n * 2 : 8;
		op_trust_entry *v = realloc(p->v, cap * sizeof *v);
		if (!v)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		p->v = v;
	}
	op_trust_entry *t = &p->v[p->n];
	memset(t, 0, sizeof *t);
	t->line = no;
	int rc = parse_entry(t, s, end, &local, e);
	if (rc == OP_ETOOBIG)
		rc = OP_EINVAL; /* a long key text: one bad line, not a file over its cap */
	if (rc) {
		entry_clear(t);
		return rc;
	}
	p->n++;
	/* OpenSSH reads such a time in the local zone; outpost in UTC, so that a hub and
	 * its sites decide alike whatever their zones. */
	if (local &&
		(rc = warn(p, no,
			 "a time without Z is read as UTC here (ssh-keygen and git "
			 "read local time): add Z",
			 "")) != 0)
		return op_err_set(e, rc, "out of memory");
	return 0;
}

int op_trust_parse(op_trust_policy *p, const char *file, const char *text, size_t len, op_err *e)
{
	memset(p, 0, sizeof *p);
	if (!(p->file = strdup(file ? file : "allowed_signers")))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	int rc = each_line(p->file, text, len, add_entry, p, p, e);
	if (rc) {
		op_trust_clear(p);
		return rc;
	}
	return 0;
}

/* ---- revocation list ---------------------------------------------------------------------- */

static int add_revoked(void *ctx, int no, const char *s, const char *end, op_err *e)
{
	(void)no;
	op_trust_revoked *r = ctx;
	op_sshkey k;
	size_t tok = 0;
	while (s + tok < end && !blank(s[tok]))
		tok++;
	if (r->n + r->skipped >= OP_TRUST_MAX_ENTRIES)
		return op_err_set(e, OP_ETOOBIG, "more than %d keys", OP_TRUST_MAX_ENTRIES);
	int rc = op_sshkey_parse_line(&k, s, (size_t)(end - s), e);
	if (rc == OP_ETRUST && op_sshkey_type_known(s, tok)) {
		r->skipped++; /* a key type outpost never accepts a signature from */
		return 0;
	}
	if (rc)
		return rc;
	if ((r->n & (r->n - 1)) == 0) {
		size_t cap = r->n ? r->n * 2 : 8;
		op_sshkey *v = realloc(r->v, cap * sizeof *v);
		if (!v) {
			op_sshkey_clear(&k);
			return op_err_set(e, OP_ENOMEM, "out of memory");
		}
		r->v = v;
	}
	r->v[r->n++] = k;
	return 0;
}

void op_trust_revoked_clear(op_trust_revoked *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		op_sshkey_clear(&r->v[i]);
	free(r->v);
	free(r->sha1);
	free(r->sha256);
	free(r->file);
	memset(r, 0, sizeof *r);
}

int op_trust_revoked_parse(
	op_trust_revoked *r, const char *file, const char *text, size_t len, op_err *e)
{
	memset(r, 0, sizeof *r);
	if (!(r->file = strdup(file ? file : "revoked")))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	int rc;
	if (len > OP_TRUST_MAX_FILE)
		rc = op_err_set(e, OP_ETOOBIG, "%s: %zu bytes (at most %u)", r->file, len,
			OP_TRUST_MAX_FILE);
	else if (len >= 8 && memcmp(text, "SSHKRL\n", 8) == 0)
		rc = op_trust_krl_parse(r, (const unsigned char *)text, len, e);
	else
		rc = each_line(r->file, text, len, add_revoked, r, NULL, e);
	if (rc) {
		op_trust_revoked_clear(r);
		return rc;
	}
	return 0;
}

bool op_trust_is_revoked(const op_trust_revoked *r, const op_sshkey *k)
{
	unsigned char h1[20], h256[32];
	for (size_t i = 0; r && i < r->n; i++)
		if (op_sshkey_equal(&r->v[i], k))
			return true;
	if (!r || !k || !k->blob || (!r->nsha1 && !r->nsha256))
		return false;
	mbedtls_sha1(k->blob, k->blob_len, h1);
	mbedtls_sha256(k->blob, k->blob_len, h256, 0);
	for (size_t i = 0; i < r->nsha1; i++)
		if (memcmp(r->sha1[i], h1, sizeof h1) == 0)
			return true;
	for (size_t i = 0; i < r->nsha256; i++)
		if (memcmp(r->sha256[i], h256, sizeof h256) == 0)
			return true;
	return false;
}
