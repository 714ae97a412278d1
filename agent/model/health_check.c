/* properties.health and properties.min_ready of a component: one probe (exec, http or
 * tcp) and its timing, read strictly like the rest of the manifest, with every default
 * filled so that the canonical JSON writes the whole check once it is there. Both are
 * left out of the canonical JSON when absent (health) or at their default (min_ready),
 * so apps written before they existed keep their digests and instance ids. */
#include <stdlib.h>
#include <string.h>

#include "health_int.h"
#include "outpost/agent/base/util.h"

static const char *const probe_names[] = {"exec", "http", "tcp", NULL};

const char *op_probe_name(enum op_probe p)
{
	return probe_names[p];
}

/* An http path goes on a request line as it is: no spaces, no controls, ASCII. */
static char *read_http_path(op_check *c, const op_node *n)
{
	char *s = ck_str(c, n);
	if (!s)
		return NULL;
	bool ok = s[0] == '/' && strlen(s) <= OP_HEALTH_PATH_MAX;
	for (const char *p = s; ok && *p; p++)
		ok = *p > 0x20 && *p < 0x7f;
	if (!ok) {
		ck_err(c, n,
			"expected a path starting with / of at most %d printable ASCII characters "
			"without spaces, got \"%.80s\"",
			OP_HEALTH_PATH_MAX, s);
		free(s);
		return NULL;
	}
	return s;
}

static void read_probe(op_check *c, const op_node *n, op_health_check *h)
{
	static const char *const exec_keys[] = {"command", "args", NULL};
	static const char *const http_keys[] = {"port", "path", NULL};
	static const char *const tcp_keys[] = {"port", NULL};
	static const char *const *const keys[] = {exec_keys, http_keys, tcp_keys};
	if (!ck_map(c, n, keys[h->probe]))
		return;
	const op_node *v;
	if (h->probe == OP_PROBE_EXEC) {
		if (ck_need(c, n, "command"))
			AT_KEY(c, "command", h->command = ck_abs_path(c, ck_get(n, "command")));
		if ((v = ck_get(n, "args")))
			AT_KEY(c, "args", ck_strs(c, v, 0, OP_MAX_ARGS, false, &h->args));
		return;
	}
	if (ck_need(c, n, "port"))
		AT_KEY(c, "port", ck_int(c, ck_get(n, "port"), 1, 65535, &h->port));
	if (h->probe != OP_PROBE_HTTP)
		return;
	if ((v = ck_get(n, "path")))
		AT_KEY(c, "path", h->path = read_http_path(c, v));
	else if (!(h->path = strdup("/")))
		ck_nomem(c, n);
}

void ck_health(op_check *c, const op_node *n, op_health_check *h)
{
	static const char *const keys[] = {
		"exec", "http", "tcp", "interval", "timeout", "failures", "start_period", NULL};
	h->interval_ms = OP_HEALTH_INTERVAL_MS;
	h->failures = OP_HEALTH_FAILURES;
	if (!ck_map(c, n, keys))
		return;
	const op_node *v, *first = NULL;
	/* In the order written, so that the second probe is the one reported. */
	for (size_t i = 0; i < n->n; i++) {
		int p;
		for (p = OP_PROBE_TCP; p >= 0 && strcmp(n->keys[i]->text, probe_names[p]) != 0; p--)
			;
		if (p < 0 || (first && p == (int)h->probe)) /* a duplicate key: reported */
			continue;
		v = n->vals[i];
		size_t m = ck_key(c, probe_names[p]);
		if (first) {
			ck_err(c, v,
				"a health check takes exactly one probe (exec, http or tcp); %s is "
				"at "
				"line %d",
				probe_names[h->probe], first->line);
		} else {
			first = v;
			h->probe = (enum op_probe)p;
			read_probe(c, v, h);
		}
		ck_pop(c, m);
	}
	if (!first)
		ck_err(c, n, "expected exactly one probe: exec, http or tcp");
	if ((v = ck_get(n, "interval")))
		AT_KEY(c, "interval",
			ck_duration(c, v, OP_HEALTH_MIN_INTERVAL_MS, OP_HEALTH_MAX_MS,
				&h->interval_ms));
	/* A probe runs once per interval, so it may take at most that long. */
	h->timeout_ms = h->interval_ms < OP_HEALTH_TIMEOUT_MS ? h->interval_ms
							      : OP_HEALTH_TIMEOUT_MS;
	if ((v = ck_get(n, "timeout")))
		AT_KEY(c, "timeout",
			ck_duration(
				c, v, OP_HEALTH_MIN_TIMEOUT_MS, h->interval_ms, &h->timeout_ms));
	if ((v = ck_get(n, "failures")))
		AT_KEY(c, "failures", ck_int(c, v, 1, OP_HEALTH_MAX_FAILURES, &h->failures));
	if ((v = ck_get(n, "start_period")))
		AT_KEY(c, "start_period",
			ck_duration(c, v, 0, OP_HEALTH_MAX_MS, &h->start_period_ms));
}

void ck_health_clear(op_health_check *h)
{
	free(h->command);
	for (size_t i = 0; i < h->args.n; i++)
		free(h->args.v[i]);
	free(h->args.v);
	free(h->path);
}

static json_t *dur(int64_t ms)
{
	char s[32];
	op_format_duration_ms(ms, s);
	return json_string(s);
}

json_t *ck_health_json(const op_health_check *h)
{
	json_t *probe = NULL;
	if (h->probe == OP_PROBE_EXEC) {
		json_t *args = json_array();
		for (size_t i = 0; args && i < h->args.n; i++)
			if (json_array_append_new(args, json_string(h->args.v[i])) != 0) {
				json_decref(args);
				args = NULL;
			}
		probe = json_pack("{s:s, s:o}", "command", h->command, "args", args);
	} else if (h->probe == OP_PROBE_HTTP) {
		probe = json_pack("{s:i, s:s}", "port", h->port, "path", h->path);
	} else {
		probe = json_pack("{s:i}", "port", h->port);
	}
	return json_pack("{s:o, s:o, s:o, s:i, s:o}", probe_names[h->probe], probe, "interval",
		dur(h->interval_ms), "timeout", dur(h->timeout_ms), "failures", h->failures,
		"start_period", dur(h->start_period_ms));
}
