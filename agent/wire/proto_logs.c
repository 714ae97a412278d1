/* The log request and its reply (see include/outpost/agent/wire/proto.h): the same
 * strict, bounded codecs as the other host messages. A request may come from the hub
 * across the leaf link, so the host reads it as untrusted input: sizes first, every
 * field checked, unknown keys refused. Output bytes are made text on the way out, so
 * a reply always encodes and decodes to what was sent. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"
#include "proto_int.h"

#define U64_MAX_JSON ((json_int_t)INT64_MAX)

static bool app_name_ok(const char *s)
{
	return op_name_valid(s);
}

/* --- request ------------------------------------------------------------------------------ */

int op_logreq_encode(const op_logreq *q, char **json, op_err *e)
{
	*json = NULL;
	if (!op_name_valid(q->app) || (q->inst[0] && !op_inst_id_valid(q->inst)) ||
		q->nafter > OP_LOGS_MAX_AFTER || q->tail > (uint64_t)INT64_MAX)
		return op_err_set(e, OP_EINVAL, "logs request: a field is out of range");
	json_t *after = json_array();
	for (size_t i = 0; after && i < q->nafter; i++) {
		const op_logcur *c = &q->after[i];
		if (!op_inst_id_valid(c->id) || c->ino > (uint64_t)INT64_MAX ||
			c->off > (uint64_t)INT64_MAX) {
			json_decref(after);
			return op_err_set(
				e, OP_EINVAL, "logs request: after[%zu]: out of range", i);
		}
		if (json_array_append_new(after,
			    json_pack("{s:s, s:I, s:I}", "id", c->id, "ino", (json_int_t)c->ino,
				    "off", (json_int_t)c->off)) != 0) {
			json_decref(after);
			after = NULL;
		}
	}
	json_t *j = json_pack("{s:i, s:s, s:I, s:b}", "v", OP_PROTO_VERSION, "app", q->app, "tail",
		(json_int_t)q->tail, "running_only", q->running_only);
	if (q->inst[0])
		j = pr_set(j, "instance", json_string(q->inst));
	if (q->nafter)
		j = pr_set(j, "after", after);
	else
		json_decref(after);
	return pr_dump(j, "logs request", OP_LOGS_REQ_MAX_BYTES, json, e);
}

static int cursor_decode(const pr_rd *top, json_t *o, size_t i, op_logcur *c)
{
	static const char *const keys[] = {"id", "ino", "off", NULL};
	char path[64];
	snprintf(path, sizeof path, "after[%zu].", i);
	pr_rd r = {top->msg, path, top->e};
	if (!json_is_object(o))
		return pr_bad(&r, "", "expected an object", "");
	const char *id;
	json_int_t ino, off;
	int rc;
	if ((rc = pr_only_keys(&r, o, keys)) ||
		(rc = pr_str(&r, o, "id", true, OP_INST_MAX, false, op_inst_id_valid,
			 "an instance id", &id)) ||
		(rc = pr_int(&r, o, "ino", 0, U64_MAX_JSON, &ino)) ||
		(rc = pr_int(&r, o, "off", 0, U64_MAX_JSON, &off)))
		return rc;
	snprintf(c->id, sizeof c->id, "%s", id);
	c->ino = (uint64_t)ino;
	c->off = (uint64_t)off;
	return 0;
}

int op_logreq_decode(const char *buf, size_t len, op_logreq *q, op_err *e)
{
	static const char *const keys[] = {
		"v", "app", "instance", "tail", "running_only", "after", NULL};
	memset(q, 0, sizeof *q);
	pr_rd r = {"logs request", "", e};
	int rc = 0;
	json_t *j = pr_load(&r, buf, len, OP_LOGS_REQ_MAX_BYTES, &rc);
	if (!j)
		return rc;
	const char *app, *inst;
	json_int_t tail;
	json_t *ro, *after;
	if ((rc = pr_only_keys(&r, j, keys)) ||
		(rc = pr_str(&r, j, "app", true, OP_NAME_MAX, false, app_name_ok,
			 "an app name: [a-z0-9-], 1..63", &app)) ||
		(rc = pr_str(&r, j, "instance", false, OP_INST_MAX, false, op_inst_id_valid,
			 "an instance id", &inst)) ||
		(rc = pr_int(&r, j, "tail", 0, U64_MAX_JSON, &tail)) ||
		!(ro = pr_field(&r, j, "running_only", true, &rc)))
		goto out;
	if (!json_is_boolean(ro)) {
		rc = pr_bad(&r, "running_only", "expected true or false", "");
		goto out;
	}
	snprintf(q->app, sizeof q->app, "%s", app);
	snprintf(q->inst, sizeof q->inst, "%s", inst ? inst : "");
	q->tail = (uint64_t)tail;
	q->running_only = json_is_true(ro);
	after = pr_field(&r, j, "after", false, &rc);
	if (!after)
		goto out;
	if (!json_is_array(after) || json_array_size(after) > OP_LOGS_MAX_AFTER) {
		rc = pr_bad(&r, "after", "expected an array of at most 256 cursors", "");
		goto out;
	}
	q->after = calloc(json_array_size(after) + 1, sizeof *q->after);
	if (!q->after) {
		rc = op_err_set(e, OP_ENOMEM, "logs request: out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(after) && !rc; i++)
		if (!(rc = cursor_decode(&r, json_array_get(after, i), i, &q->after[i])))
			q->nafter++;
out:
	json_decref(j);
	return rc;
}

void op_logreq_clear(op_logreq *q)
{
	free(q->after);
	memset(q, 0, sizeof *q);
}

/* --- reply -------------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4) within n bytes, 0 when invalid. */
static size_t utf8_at(const unsigned char *s, size_t n)
{
	if (s[0] && s[0] < 0x80)
		return 1;
	size_t len = s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		: s[0] >= 0xe0 && s[0] <= 0xef    ? 3
		: s[0] >= 0xf0 && s[0] <= 0xf4    ? 4
						  : 0;
	if (!len || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
		(s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
		return 0;
	return len;
}

/* The bytes as text: a copy in which each byte that is not part of valid UTF-8 (and
 * each NUL) is '?'. */
static json_t *text_of(const char *data, size_t len)
{
	char *t = malloc(len + 1);
	if (!t)
		return NULL;
	const unsigned char *s = (const unsigned char *)data;
	for (size_t i = 0; i < len;) {
		size_t k = utf8_at(s + i, len - i);
		if (!k) {
			t[i++] = '?';
			continue;
		}
		memcpy(t + i, s + i, k);
		i += k;
	}
	t[len] = '\0';
	json_t *j = json_stringn(t, len);
	free(t);
	return j;
}

int op_logreply_encode(const op_logreply *r, char **json, op_err *e)
{
	*json = NULL;
	size_t total = 0;
	for (size_t i = 0; i < r->n; i++)
		total += r->v[i].len;
	if (r->n > OP_LOGS_MAX_LOGS || total > OP_LOGS_DATA_MAX || !op_name_valid(r->host))
		return op_err_set(e, OP_ETOOBIG, "logs reply: over its limits");
	json_t *logs = json_array();
	for (size_t i = 0; logs && i < r->n; i++) {
		const op_logent *l = &r->v[i];
		json_t *o = json_pack("{s:s, s:b, s:I, s:s, s:i, s:I, s:I, s:o, s:b, s:b}", "id",
			l->id, "running", l->running, "stopped_ms", (json_int_t)l->stopped_ms,
			"state", op_inst_state_name(l->state), "exit", l->exit_code, "ino",
			(json_int_t)(l->ino & (uint64_t)INT64_MAX), "off", (json_int_t)l->off,
			"data", text_of(l->data ? l->data : "", l->len), "more", l->more, "gap",
			l->gap);
		if (!o || json_array_append_new(logs, o) != 0) {
			json_decref(logs);
			logs = NULL;
		}
	}
	json_t *j = json_pack("{s:i, s:s, s:b, s:o}", "v", OP_PROTO_VERSION, "host", r->host,
		"truncated", r->truncated, "logs", logs);
	return pr_dump(j, "logs reply", OP_LOGS_REPLY_MAX_BYTES, json, e);
}

static int ent_decode(const pr_rd *top, json_t *o, size_t i, op_logent *l)
{
	static const char *const keys[] = {"id", "running", "stopped_ms", "state", "exit", "ino",
		"off", "data", "more", "gap", NULL};
	char path[64];
	snprintf(path, sizeof path, "logs[%zu].", i);
	pr_rd r = {top->msg, path, top->e};
	if (!json_is_object(o))
		return pr_bad(&r, "", "expected an object", "");
	const char *id, *state, *data;
	json_int_t stopped, code, ino, off;
	json_t *run, *more, *gap;
	int rc;
	if ((rc = pr_only_keys(&r, o, keys)) ||
		(rc = pr_str(&r, o, "id", true, OP_INST_MAX, false, op_inst_id_valid,
			 "an instance id", &id)) ||
		(rc = pr_str(&r, o, "state", true, 16, false, NULL, "a state", &state)) ||
		(rc = pr_str(&r, o, "data", true, OP_LOGS_DATA_MAX, true, NULL,
			 "at most 131072 bytes of text", &data)) ||
		(rc = pr_int(&r, o, "stopped_ms", 0, INT64_MAX, &stopped)) ||
		(rc = pr_int(&r, o, "exit", -1, 255, &code)) ||
		(rc = pr_int(&r, o, "ino", 0, U64_MAX_JSON, &ino)) ||
		(rc = pr_int(&r, o, "off", 0, U64_MAX_JSON, &off)) ||
		!(run = pr_field(&r, o, "running", true, &rc)) ||
		!(more = pr_field(&r, o, "more", true, &rc)) ||
		!(gap = pr_field(&r, o, "gap", true, &rc)))
		return rc;
	if (!json_is_boolean(run) || !json_is_boolean(more) || !json_is_boolean(gap))
		return pr_bad(&r,
			!json_is_boolean(run)            ? "running"
				: !json_is_boolean(more) ? "more"
							 : "gap",
			"expected true or false", "");
	if (op_inst_state_parse(state, &l->state) != 0)
		return pr_bad(&r, "state", "expected an instance state", "");
	snprintf(l->id, sizeof l->id, "%s", id);
	l->running = json_is_true(run);
	l->more = json_is_true(more);
	l->stopped_ms = stopped;
	l->exit_code = (int)code;
	l->ino = (uint64_t)ino;
	l->off = (uint64_t)off;
	l->gap = json_is_true(gap);
	l->len = strlen(data);
	if (!(l->data = strdup(data)))
		return op_err_set(top->e, OP_ENOMEM, "logs reply: out of memory");
	return 0;
}

int op_logreply_decode(const char *buf, size_t len, op_logreply *r, op_err *e)
{
	static const char *const keys[] = {"v", "host", "truncated", "logs", NULL};
	memset(r, 0, sizeof *r);
	pr_rd rd = {"logs reply", "", e};
	int rc = 0;
	json_t *j = pr_load(&rd, buf, len, OP_LOGS_REPLY_MAX_BYTES, &rc);
	if (!j)
		return rc;
	const char *host;
	json_t *tr, *logs;
	if ((rc = pr_only_keys(&rd, j, keys)) ||
		(rc = pr_str(&rd, j, "host", true, OP_HOST_MAX, false, op_name_valid, "a host id",
			 &host)) ||
		!(tr = pr_field(&rd, j, "truncated", true, &rc)) ||
		!(logs = pr_field(&rd, j, "logs", true, &rc)))
		goto out;
	if (!json_is_boolean(tr) || !json_is_array(logs) ||
		json_array_size(logs) > OP_LOGS_MAX_LOGS) {
		rc = pr_bad(&rd, json_is_boolean(tr) ? "logs" : "truncated", "expected ",
			json_is_boolean(tr) ? "an array of at most 256 logs" : "a boolean");
		goto out;
	}
	snprintf(r->host, sizeof r->host, "%s", host);
	r->truncated = json_is_true(tr);
	r->v = calloc(json_array_size(logs) + 1, sizeof *r->v);
	if (!r->v) {
		rc = op_err_set(e, OP_ENOMEM, "logs reply: out of memory");
		goto out;
	}
	for (size_t i = 0; i < json_array_size(logs) && !rc; i++) {
		rc = ent_decode(&rd, json_array_get(logs, i), i, &r->v[i]);
		r->n = i + 1; /* the one that failed is cleared too */
	}
out:
	json_decref(j);
	return rc;
}

void op_logreply_clear(op_logreply *r)
{
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].data);
	free(r->v);
	memset(r, 0, sizeof *r);
}
