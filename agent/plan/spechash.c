/* A component's spec hash (see include/outpost/agent/plan/plan.h): its canonical
 * properties JSON streamed into sha256, byte for byte what op_manifest_to_json writes for
 * them (jansson, sorted keys, compact, its escapes), without building it: going through
 * jansson costs ~20x more, and a plan hashes every component on every call. The tests
 * hold both to the same bytes, for every kind of property and for odd characters. Pure. */
#include "outpost/agent/plan/plan.h"

#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

static void put(mbedtls_sha256_context *h, const char *s, size_t n)
{
	mbedtls_sha256_update(h, (const unsigned char *)s, n);
}

static void put_lit(mbedtls_sha256_context *h, const char *s)
{
	put(h, s, strlen(s));
}

/* A JSON string with jansson's escapes: \" \\ \b \f \n \r \t, other controls \u00XX. */
static void put_str(mbedtls_sha256_context *h, const char *s)
{
	const char *run = s;
	put(h, "\"", 1);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		put(h, run, (size_t)(s - run));
		char esc[8];
		switch (ch) {
		case '"': put_lit(h, "\\\""); break;
		case '\\': put_lit(h, "\\\\"); break;
		case '\b': put_lit(h, "\\b"); break;
		case '\f': put_lit(h, "\\f"); break;
		case '\n': put_lit(h, "\\n"); break;
		case '\r': put_lit(h, "\\r"); break;
		case '\t': put_lit(h, "\\t"); break;
		default: snprintf(esc, sizeof esc, "\\u%04X", ch); put_lit(h, esc);
		}
		run = s + 1;
	}
	put(h, run, (size_t)(s - run));
	put(h, "\"", 1);
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp((*(const op_kv *const *)a)->key, (*(const op_kv *const *)b)->key);
}

/* An object in key order (the model keeps maps sorted; a map built otherwise is sorted
 * here, as jansson would). */
static int put_kvs(mbedtls_sha256_context *h, const op_kvs *m)
{
	const op_kv *inline_v[16], **v = inline_v;
	if (m->n > 16 && !(v = malloc(m->n * sizeof *v)))
		return OP_ENOMEM;
	bool sorted = true;
	for (size_t i = 0; i < m->n; i++) {
		v[i] = &m->v[i];
		sorted &= i == 0 || strcmp(v[i - 1]->key, v[i]->key) < 0;
	}
	if (!sorted)
		qsort(v, m->n, sizeof *v, kv_cmp);
	put(h, "{", 1);
	for (size_t i = 0; i < m->n; i++) {
		if (i)
			put(h, ",", 1);
		put_str(h, v[i]->key);
		put(h, ":", 1);
		put_str(h, v[i]->val);
	}
	put(h, "}", 1);
	if (v != inline_v)
		free(v);
	return 0;
}

static void put_int(mbedtls_sha256_context *h, long long v)
{
	char b[32];
	int n = snprintf(b, sizeof b, "%lld", v);
	put(h, b, (size_t)n);
}

static void put_dur(mbedtls_sha256_context *h, int64_t ms)
{
	char b[32];
	op_format_duration_ms(ms, b);
	put_str(h, b);
}

/* The health check's keys in jansson's order: the probe's name sorts among the others. */
static void put_health(mbedtls_sha256_context *h, const op_health_check *k)
{
	put_lit(h, ",\"health\":{");
	if (k->probe == OP_PROBE_EXEC) {
		put_lit(h, "\"exec\":{\"args\":[");
		for (size_t i = 0; i < k->args.n; i++) {
			if (i)
				put(h, ",", 1);
			put_str(h, k->args.v[i]);
		}
		put_lit(h, "],\"command\":");
		put_str(h, k->command);
		put_lit(h, "},");
	}
	put_lit(h, "\"failures\":");
	put_int(h, k->failures);
	if (k->probe == OP_PROBE_HTTP) {
		put_lit(h, ",\"http\":{\"path\":");
		put_str(h, k->path);
		put_lit(h, ",\"port\":");
		put_int(h, k->port);
		put(h, "}", 1);
	}
	put_lit(h, ",\"interval\":");
	put_dur(h, k->interval_ms);
	put_lit(h, ",\"start_period\":");
	put_dur(h, k->start_period_ms);
	if (k->probe == OP_PROBE_TCP) {
		put_lit(h, ",\"tcp\":{\"port\":");
		put_int(h, k->port);
		put(h, "}", 1);
	}
	put_lit(h, ",\"timeout\":");
	put_dur(h, k->timeout_ms);
	put(h, "}", 1);
}

/* A secret reference as the canonical JSON writes it: {"mode","path"} for a file, then
 * "sealed" when the site pinned it, then "secret" (model/secref.c). */
static void put_ref(mbedtls_sha256_context *h, const op_secref *r)
{
	put(h, "{", 1);
	if (r->path) {
		char mode[8];
		snprintf(mode, sizeof mode, "0%03o", r->mode);
		put_lit(h, "\"mode\":");
		put_str(h, mode);
		put_lit(h, ",\"path\":");
		put_str(h, r->path);
		put(h, ",", 1);
	}
	if (r->sealed) {
		put_lit(h, "\"sealed\":");
		put_str(h, r->sealed);
		put(h, ",", 1);
	}
	put_lit(h, "\"secret\":");
	put_str(h, r->secret);
	put(h, "}", 1);
}

/* The env object with the secret references among the plain values, in key order
 * (both lists are sorted: the model keeps them so, and the validator refuses a name in
 * both). */
static int put_env(mbedtls_sha256_context *h, const op_component *c)
{
	size_t i = 0, j = 0, ne = 0;
	while (ne < c->nsecrets && c->secrets[ne].env)
		ne++;
	for (size_t k = 1; k < c->env.n; k++)
		if (strcmp(c->env.v[k - 1].key, c->env.v[k].key) >= 0)
			return OP_EINVAL;
	put(h, "{", 1);
	while (i < c->env.n || j < ne) {
		if (i || j)
			put(h, ",", 1);
		if (j == ne || (i < c->env.n && strcmp(c->env.v[i].key, c->secrets[j].env) < 0)) {
			put_str(h, c->env.v[i].key);
			put(h, ":", 1);
			put_str(h, c->env.v[i].val);
			i++;
		} else {
			put_str(h, c->secrets[j].env);
			put(h, ":", 1);
			put_ref(h, &c->secrets[j]);
			j++;
		}
	}
	put(h, "}", 1);
	return 0;
}

static void put_files(mbedtls_sha256_context *h, const op_component *c)
{
	bool first = true;
	for (size_t i = 0; i < c->nsecrets; i++) {
		if (c->secrets[i].env)
			continue;
		put_lit(h, first ? ",\"files\":[" : ",");
		put_ref(h, &c->secrets[i]);
		first = false;
	}
	if (!first)
		put(h, "]", 1);
}

/* limits as the canonical JSON writes them: only the ones set, in key order. */
static void put_limits(mbedtls_sha256_context *h, const op_fence *f)
{
	if (!f->memory && !f->open_files && !f->processes && !f->cpu_time_ms)
		return;
	const char *sep = "";
	put_lit(h, ",\"limits\":{");
	if (f->cpu_time_ms) {
		put_lit(h, "\"cpu_time\":");
		put_dur(h, f->cpu_time_ms);
		sep = ",";
	}
	if (f->memory) {
		put(h, sep, strlen(sep));
		put_lit(h, "\"memory\":");
		put_int(h, f->memory);
		sep = ",";
	}
	if (f->open_files) {
		put(h, sep, strlen(sep));
		put_lit(h, "\"open_files\":");
		put_int(h, f->open_files);
		sep = ",";
	}
	if (f->processes) {
		put(h, sep, strlen(sep));
		put_lit(h, "\"processes\":");
		put_int(h, f->processes);
	}
	put(h, "}", 1);
}

static void put_dirs(mbedtls_sha256_context *h, const op_component *c)
{
	put_lit(h, ",\"dirs\":[");
	for (size_t i = 0; i < c->ndirs; i++) {
		if (i)
			put(h, ",", 1);
		put_lit(h, "{\"guest\":");
		put_str(h, c->dirs[i].guest);
		put_lit(h, ",\"host\":");
		put_str(h, c->dirs[i].host);
		if (c->dirs[i].readonly)
			put_lit(h, ",\"readonly\":true");
		put(h, "}", 1);
	}
	put(h, "]", 1);
}

static int put_props(mbedtls_sha256_context *h, const op_component *c)
{
	int rc;
	put_lit(h, "{\"args\":[");
	for (size_t i = 0; i < c->args.n; i++) {
		if (i)
			put(h, ",", 1);
		put_str(h, c->args.v[i]);
	}
	put(h, "]", 1);
	bool wasm = c->type == OP_COMP_WASM;
	if (wasm && (!c->artifact.path || !c->artifact.sha256))
		return OP_EINVAL;
	if (wasm && c->ndirs)
		put_dirs(h, c);
	if (c->has_artifact && !wasm) {
		if (!c->artifact.path)
			return OP_EINVAL;
		/* As the canonical JSON writes it: mode and unpack only when not default. */
		put_lit(h, ",\"artifact\":{");
		if (c->artifact.mode != OP_ARTIFACT_MODE_DEFAULT) {
			char mode[8];
			snprintf(mode, sizeof mode, "0%03o", c->artifact.mode);
			put_lit(h, "\"mode\":");
			put_str(h, mode);
			put(h, ",", 1);
		}
		put_lit(h, "\"path\":");
		put_str(h, c->artifact.path);
		put_lit(h, ",\"sha256\":");
		if (c->artifact.sha256)
			put_str(h, c->artifact.sha256);
		else if ((rc = put_kvs(h, &c->artifact.sha256_arch)) != 0)
			return rc;
		if (c->artifact.unpack == OP_UNPACK_TAR)
			put_lit(h, ",\"unpack\":\"tar\"");
		put(h, "}", 1);
	}
	if (!wasm) {
		put_lit(h, ",\"command\":");
		put_str(h, c->command);
	}
	put_lit(h, ",\"env\":");
	if ((rc = c->nsecrets ? put_env(h, c) : put_kvs(h, &c->env)) != 0)
		return rc;
	put_files(h, c);
	if (c->fence.group) {
		put_lit(h, ",\"group\":");
		put_str(h, c->fence.group);
	}
	if (c->has_health) {
		const op_health_check *k = &c->health;
		if ((k->probe == OP_PROBE_EXEC && !k->command) ||
			(k->probe == OP_PROBE_HTTP && !k->path))
			return OP_EINVAL;
		put_health(h, k);
	}
	put_limits(h, &c->fence);
	if (c->min_ready_ms != OP_MIN_READY_MS) {
		put_lit(h, ",\"min_ready\":");
		put_dur(h, c->min_ready_ms);
	}
	if (wasm) {
		put_lit(h, ",\"module\":\"sha256:");
		put(h, c->artifact.sha256, strlen(c->artifact.sha256));
		put_lit(h, "\",\"path\":");
		put_str(h, c->artifact.path);
	}
	put_lit(h, ",\"restart\":");
	put_str(h, op_restart_name(c->restart));
	put_lit(h, ",\"rollout\":");
	put_str(h, op_rollout_name(c->rollout));
	if (c->fence.has_umask) {
		char m[8];
		snprintf(m, sizeof m, "0%03o", c->fence.umask);
		put_lit(h, ",\"umask\":");
		put_str(h, m);
	}
	if (c->fence.user) {
		put_lit(h, ",\"user\":");
		put_str(h, c->fence.user);
	}
	if (c->workdir) {
		put_lit(h, ",\"workdir\":");
		put_str(h, c->workdir);
	}
	put(h, "}", 1);
	return 0;
}

int op_component_hash(const op_component *c, char out[13])
{
	if (!c->command && c->type != OP_COMP_WASM)
		return OP_EINVAL;
	unsigned char d[32];
	mbedtls_sha256_context h;
	mbedtls_sha256_init(&h);
	mbedtls_sha256_starts(&h, 0);
	int rc = put_props(&h, c);
	if (rc == 0)
		mbedtls_sha256_finish(&h, d);
	mbedtls_sha256_free(&h);
	if (rc != 0)
		return rc;
	for (int i = 0; i < 6; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	return 0;
}
