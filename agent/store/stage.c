/* Staging's pure decisions (see include/outpost/agent/store/stage.h). */
#include "outpost/agent/store/stage.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void op_stage_gate(const op_stage_item *v, size_t n, op_stage_verdict *out)
{
	memset(out, 0, sizeof *out);
	for (size_t i = 0; i < n; i++) {
		switch (v[i].state) {
		case OP_STAGE_UNKNOWN: out->unknown++; break;
		case OP_STAGE_ABSENT: out->absent++; break;
		case OP_STAGE_FETCHING: out->fetching++; break;
		case OP_STAGE_STAGED: out->staged++; break;
		case OP_STAGE_REFUSED: out->refused++; break;
		}
		if (v[i].state != OP_STAGE_ABSENT && v[i].state != OP_STAGE_UNKNOWN) {
			out->done += v[i].done;
			out->total += v[i].total;
		}
	}
	out->ready = out->unknown + out->fetching + out->refused == 0;
}

bool op_stage_moved(const op_stage_item *was, const op_stage_item *now)
{
	return was->state != now->state || was->done != now->done || was->total != now->total;
}

uint64_t op_stage_done(const op_objmeta *m, uint64_t chunks)
{
	if (!m->chunks || chunks >= m->chunks)
		return chunks || !m->chunks ? m->size : 0;
	uint64_t each = m->max_chunk ? m->max_chunk : (m->size + m->chunks - 1) / m->chunks;
	uint64_t done = chunks * each;
	return done < m->size ? done : m->size;
}

int op_stage_need_app(
	op_art_refs *r, const op_app *app, const char *const *archs, size_t narchs, op_err *e)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < app->ncomps; i++) {
		const op_component *c = &app->comps[i];
		if (!c->has_artifact)
			continue;
		if (c->artifact.sha256)
			rc = op_art_refs_add_hex(r, c->artifact.sha256, app->name, e);
		for (size_t k = 0; !rc && k < c->artifact.sha256_arch.n; k++) {
			const op_kv *kv = &c->artifact.sha256_arch.v[k];
			bool here = false;
			for (size_t a = 0; !here && a < narchs; a++)
				here = archs[a] && !strcmp(archs[a], kv->key);
			if (here)
				rc = op_art_refs_add_hex(r, kv->val, app->name, e);
		}
	}
	return rc;
}

size_t op_stage_gc_choose(const op_objmeta *staged, size_t n, const op_art_refs *keep, bool *del)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++) {
		del[i] = !staged[i].has_digest || !op_art_refs_has(keep, staged[i].sha256);
		count += del[i];
	}
	return count;
}

/* One source for one subject of the hub's stream. One filter per source: a source with
 * two filters is more than twice as slow in nats-server 2.10, and resends part of what
 * it had sent after a cut. opt_start_seq 1: a source added to a copy that already holds
 * messages starts, without it, at the time of the copy's last message, which would skip
 * an object the hub has held since before then (dropped by gc and needed again). A
 * source that delivered something resumes after it whatever this says. */
static json_t *source(const char *stream, const char *api, const char *deliver, const char *subject)
{
	return json_pack("{s:s, s:i, s:s, s:{s:s, s:s}}", "name", stream, "opt_start_seq", 1,
		"filter_subject", subject, "external", "api", api, "deliver", deliver);
}

static int add_sources(json_t *sources, const char *stream, const char *bucket, const char *api,
	const char *deliver, const op_objmeta *m)
{
	char chunks[256], meta[2048];
	if (op_objmeta_chunk_subject(bucket, m->nuid, chunks, sizeof chunks) != 0 ||
		op_objmeta_meta_subject(bucket, m->name, meta, sizeof meta) != 0)
		return OP_EINVAL;
	if (json_array_append_new(sources, source(stream, api, deliver, chunks)) != 0 ||
		json_array_append_new(sources, source(stream, api, deliver, meta)) != 0)
		return OP_ENOMEM;
	return 0;
}

/* A deliver prefix is a subject prefix (the server appends .S.<id>): tokens of
 * printable characters without wildcards or spaces; "" is JetStream's own $JS.S. */
static bool deliver_valid(const char *d)
{
	size_t n = strlen(d);
	if (n == 0)
		return true;
	if (n > 200 || d[0] == '.' || d[n - 1] == '.' || strstr(d, ".."))
		return false;
	for (const char *p = d; *p; p++)
		if (*p <= ' ' || *p == '*' || *p == '>' || *p == 0x7f)
			return false;
	return true;
}

int op_stage_stream_config(const char *bucket, const char *api, const char *deliver,
	const op_objmeta *objs, size_t n, char **json, op_err *e)
{
	char stream[80];
	*json = NULL;
	if (op_objmeta_stream(bucket, stream, sizeof stream) != 0)
		return op_err_set(e, OP_EINVAL, "object store name \"%s\" is not valid", bucket);
	if (!deliver_valid(deliver))
		return op_err_set(e, OP_EINVAL,
			"deliver prefix \"%s\" is not a subject prefix (tokens without wildcards "
			"or spaces)",
			deliver);
	json_t *sources = json_array();
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:b, s:b}",
		"name", stream, "description", "outpost artifacts staged at this site (a copy)",
		"storage", "file", "retention", "limits", "num_replicas", 1, "discard", "new",
		"max_msgs", -1, "max_bytes", -1, "max_age", 0, "max_msgs_per_subject", -1,
		"max_msg_size", -1, "allow_rollup_hdrs", 1, "allow_direct", 1);
	int rc = sources && c ? 0 : OP_ENOMEM;
	for (size_t i = 0; !rc && i < n; i++)
		rc = add_sources(sources, stream, bucket, api, deliver, &objs[i]);
	if (!rc) {
		if (json_object_set_new(c, "sources", sources) != 0) /* takes it, also on failure */
			rc = OP_ENOMEM;
		sources = NULL;
	}
	if (!rc && !(*json = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS)))
		rc = OP_ENOMEM;
	json_decref(sources);
	json_decref(c);
	if (rc == OP_EINVAL)
		return op_err_set(e, rc, "an object's nuid or name cannot be a subject");
	return rc ? op_err_set(e, rc, "out of memory") : 0;
}

const char *op_stage_state_name(enum op_stage_state s)
{
	switch (s) {
	case OP_STAGE_UNKNOWN: return "unknown";
	case OP_STAGE_ABSENT: return "absent";
	case OP_STAGE_FETCHING: return "staging";
	case OP_STAGE_STAGED: return "staged";
	case OP_STAGE_REFUSED: return "refused";
	}
	return "?";
}
