/* libFuzzer target for the trust files: the same bytes are read as an allowed_signers
 * file and as a revocation list. An accepted policy must keep the parser's promises
 * (line numbers rising, patterns non-empty, bounds ordered, keys canonical), and the
 * decision over it must be consistent: every key is judged at its lines' date edges,
 * an accepted verdict names a line that lists that key, is valid then and allows the
 * namespace, whose principals match the signer; a revoked key is always refused; a key
 * no line lists is never accepted. The pattern matcher is checked against a plain
 * dynamic-programming matcher, and the time parser against the C library. Any
 * violation traps.
 *
 * Seeds (tests/fuzz/corpus/trust/): allowed_signers files with every option and edge,
 * revocation lists, and pattern and time strings. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "outpost/agent/trust/trust.h"

#include "fuzz.h"

/* A key no fuzzed policy can list by chance. */
#define STRANGER "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB9Txr/Gq0arofmX1WAiif1c2K0Bnt710NHfYmrW3Bi1"

/* Glob by dynamic programming: the reference for op_trust_match. */
static bool ref_match(const char *s, const char *p)
{
	size_t n = strlen(s), m = strlen(p);
	bool *row = calloc(n + 1, sizeof *row), *next = calloc(n + 1, sizeof *next);
	CHECK(row && next);
	row[0] = true; /* the empty pattern matches the empty string */
	for (size_t j = 0; j < m; j++) {
		next[0] = row[0] && p[j] == '*';
		for (size_t i = 1; i <= n; i++)
			next[i] = p[j] == '*' ? (row[i] || next[i - 1])
					      : (row[i - 1] && (p[j] == '?' || p[j] == s[i - 1]));
		bool *tmp = row;
		row = next;
		next = tmp;
	}
	bool ok = row[n];
	free(row);
	free(next);
	return ok;
}

static bool time_ok(const op_trust_entry *t, int64_t when)
{
	return !(t->valid_after && when < t->valid_after) &&
		!(t->valid_before && when > t->valid_before);
}

static void check_verdict(
	const op_trust_policy *p, const op_trust_query *q, const op_trust_verdict *v)
{
	CHECK(v->msg[0] != '\0');
	CHECK(v->accepted == (v->reason == OP_TRUST_ACCEPTED));
	if (!v->accepted) {
		CHECK(v->principal[0] == '\0');
		return;
	}
	CHECK(v->principal[0] != '\0');
	CHECK(v->line > 0);
	const op_trust_entry *t = NULL;
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i].line == v->line)
			t = &p->v[i];
	CHECK(t);
	CHECK(op_sshkey_equal(&t->key, q->key));
	CHECK(time_ok(t, q->time));
	CHECK(!t->namespaces || op_trust_match_list(q->ns, t->namespaces) == 1);
	CHECK(op_trust_match_list(v->principal, t->principals) == 1);
	if (q->match_committer) {
		bool found = false;
		for (size_t i = 0; i < p->n && !found; i++)
			found = op_trust_match_list(q->email, p->v[i].principals) == 1 &&
				op_sshkey_equal(&p->v[i].key, q->key) && time_ok(&p->v[i], q->time);
		CHECK(found);
	}
}

static void check_policy(const op_trust_policy *p)
{
	op_sshkey stranger;
	op_err e;
	CHECK(op_sshkey_parse_line(&stranger, STRANGER, strlen(STRANGER), &e) == 0);
	for (size_t i = 0; i < p->n; i++) {
		const op_trust_entry *t = &p->v[i];
		CHECK(t->line > 0 && (i == 0 || t->line > p->v[i - 1].line));
		CHECK(t->principals && t->principals[0]);
		CHECK(!t->namespaces || t->namespaces[0]);
		CHECK(t->valid_after >= 0 && t->valid_before >= 0);
		CHECK(!t->valid_after || !t->valid_before || t->valid_after < t->valid_before);
		CHECK(t->key.blob);
	}
	/* Judge each of the first keys at its edges, in two namespaces, with and without
	 * match_committer; and the stranger. */
	for (size_t i = 0; i < p->n && i < 8; i++) {
		const op_trust_entry *t = &p->v[i];
		int64_t times[] = {1, 1714564800, t->valid_after - 1, t->valid_after,
			t->valid_before, t->valid_before + 1};
		const char *nss[] = {"git", "file"};
		char first[OP_TRUST_MAX_PRINCIPAL + 1];
		size_t fl = strcspn(t->principals, ",");
		memcpy(first, t->principals, fl);
		first[fl] = '\0';
		for (size_t ti = 0; ti < sizeof times / sizeof *times; ti++) {
			if (times[ti] < 1)
				continue;
			for (int ns = 0; ns < 2; ns++) {
				for (int mc = 0; mc < 2; mc++) {
					op_trust_verdict v;
					op_trust_query q = {.key = &t->key,
						.ns = nss[ns],
						.time = times[ti],
						.email = first,
						.match_committer = mc};
					op_trust_decide(p, NULL, &q, &v);
					check_verdict(p, &q, &v);
					/* A plain line valid now with no namespaces accepts. */
					if (i == 0 && !t->namespaces && time_ok(t, times[ti]) &&
						!mc && first[0] != '!')
						CHECK(v.accepted ||
							v.reason == OP_TRUST_NO_PRINCIPAL);
				}
			}
		}
		/* Revoked: refused whatever the rest says. */
		op_trust_revoked r = {.v = (op_sshkey *)&t->key, .n = 1};
		op_trust_verdict v;
		op_trust_query q = {.key = &t->key, .ns = "git", .time = 1714564800};
		op_trust_decide(p, &r, &q, &v);
		CHECK(!v.accepted && v.reason == OP_TRUST_REVOKED);
	}
	op_trust_verdict v;
	op_trust_query q = {.key = &stranger, .ns = "git", .time = 1714564800};
	op_trust_decide(p, NULL, &q, &v);
	bool listed = false;
	for (size_t i = 0; i < p->n; i++)
		listed |= op_sshkey_equal(&p->v[i].key, &stranger);
	CHECK(listed || v.reason == OP_TRUST_NOT_LISTED);
	op_sshkey_clear(&stranger);
}

/* The input split at its first newline into a string and a pattern (list). */
static void check_patterns(const uint8_t *data, size_t size)
{
	if (size > 512 || memchr(data, '\0', size))
		return;
	char *buf = malloc(size + 1);
	CHECK(buf);
	memcpy(buf, data, size);
	buf[size] = '\0';
	char *nl = strchr(buf, '\n');
	const char *s = buf, *pat = "";
	if (nl) {
		*nl = '\0';
		pat = nl + 1;
	}
	CHECK(op_trust_match(s, pat) == ref_match(s, pat));
	int r = op_trust_match_list(s, pat);
	CHECK(r >= -1 && r <= 1);
	if (pat[0] && !strchr(pat, ',') && pat[0] != '!' && strlen(pat) < 1023)
		CHECK(r == (ref_match(s, pat) ? 1 : 0));
	free(buf);
}

/* The time parser against gmtime_r: whatever parses prints back as its digits. */
static void check_time(const uint8_t *data, size_t size)
{
	int64_t t;
	if (size > 32 || op_trust_parse_time((const char *)data, size, &t) != 0)
		return;
	CHECK(t >= 1 && t <= 253402300799LL);
	time_t tt = (time_t)t;
	struct tm tm;
	CHECK(gmtime_r(&tt, &tm));
	char back[32];
	snprintf(back, sizeof back, "%04d%02d%02d%02d%02d%02d", tm.tm_year + 1900, tm.tm_mon + 1,
		tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	size_t digits = 0;
	while (digits < size && data[digits] >= '0' && data[digits] <= '9')
		digits++;
	CHECK(digits == 8 || digits == 12 || digits == 14);
	CHECK(memcmp(back, data, digits) == 0);
	for (size_t i = digits; i < 14; i++)
		CHECK(back[i] == '0');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	op_trust_policy p;
	op_trust_revoked r;
	op_err e;
	const char *text = (const char *)data;
	if (op_trust_parse(&p, "fuzz", text, size, &e) == 0) {
		check_policy(&p);
		op_trust_clear(&p);
	} else {
		CHECK(strncmp(e.msg, "fuzz:", 5) == 0);
		CHECK(p.v == NULL && p.n == 0 && p.file == NULL);
	}
	if (op_trust_revoked_parse(&r, "fuzz", text, size, &e) == 0) {
		for (size_t i = 0; i < r.n; i++) {
			CHECK(r.v[i].blob);
			CHECK(op_trust_is_revoked(&r, &r.v[i]));
		}
		op_trust_revoked_clear(&r);
	} else {
		CHECK(strncmp(e.msg, "fuzz", 4) == 0);
	}
	check_patterns(data, size);
	check_time(data, size);
	return 0;
}
