/* The hub's side of a site announcing itself (see include/outpost/sync/loop/announce.h): a pure
 * decoder of the request, then the stream update it asks for. */
#include "outpost/sync/loop/announce.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/proto.h"

#define STATUS_STREAM "KV_" OP_STATUS_BUCKET

/* Every label as a host's (proto.h), so that the hub never holds what a site could
 * not have been given on its command line. */
static int labels_check(json_t *o, op_err *e)
{
	if (!json_is_object(o))
		return op_err_set(e, OP_EINVAL, "announce: labels: expected an object");
	if (json_object_size(o) > OP_ANNOUNCE_MAX_LABELS)
		return op_err_set(
			e, OP_ETOOBIG, "announce: labels: more than %d", OP_ANNOUNCE_MAX_LABELS);
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		const char *s = json_string_value(v);
		if (!op_label_key_valid(k) || !s || json_string_length(v) != strlen(s) ||
			!op_label_value_valid(s))
			return op_err_set(e, OP_EINVAL,
				"announce: labels: expected keys of [A-Za-z0-9._/-] and string "
				"values of [A-Za-z0-9._-], 1..63 each");
	}
	return 0;
}

static int announce_check(json_t *j, const char **site, op_err *e)
{
	if (!json_is_object(j))
		return op_err_set(e, OP_EINVAL, "announce: expected a JSON object");
	json_t *v = json_object_get(j, "v");
	if (!json_is_integer(v) || json_integer_value(v) != 1)
		return op_err_set(e, OP_EINVAL, "announce: v: expected the integer 1");
	json_t *s = json_object_get(j, "site");
	const char *name = json_string_value(s);
	if (!name || json_string_length(s) != strlen(name) || !op_name_valid(name) ||
		!strcmp(name, "hub"))
		return op_err_set(e, OP_EINVAL,
			"announce: site: expected a site name of [a-z0-9-], 1..63, not hub");
	json_t *labels = json_object_get(j, "labels");
	int rc = labels ? labels_check(labels, e) : 0;
	if (rc == 0)
		*site = name;
	return rc;
}

int op_announce_decode(const char *buf, size_t len, char site[OP_NAME_MAX + 1], op_err *e)
{
	site[0] = '\0';
	if (len > OP_ANNOUNCE_MAX_BYTES)
		return op_err_set(e, OP_ETOOBIG, "announce: %zu bytes is over the limit of %d", len,
			OP_ANNOUNCE_MAX_BYTES);
	/* jansson's error text quotes the input near the error: only its position is kept. */
	json_error_t je;
	json_t *j = json_loadb(buf ? buf : "", buf ? len : 0, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return op_err_set(e, OP_EINVAL, "announce: not JSON (at byte %d)", je.position);
	const char *name = NULL;
	int rc = announce_check(j, &name, e);
	if (rc == 0)
		memcpy(site, name, strlen(name) + 1); /* op_name_valid: at most OP_NAME_MAX */
	json_decref(j);
	return rc;
}

int op_announce_add_site(op_bus *hub, const char *site, op_err *e)
{
	if (!op_name_valid(site) || !strcmp(site, "hub"))
		return op_err_set(e, OP_EINVAL, "bad site name");
	jsStreamInfo *si = NULL;
	natsStatus s = js_GetStreamInfo(&si, hub->js, STATUS_STREAM, NULL, NULL);
	if (s != NATS_OK)
		return op_bus_err(e, s, "stream info " STATUS_STREAM);
	jsStreamConfig *cfg = si->Config;
	char name[128], filter[160], prefix[160];
	snprintf(name, sizeof name, "KV_%s", OP_STATUS_BUCKET);
	snprintf(filter, sizeof filter, "$KV.%s.site.%s.>", OP_STATUS_BUCKET, site);
	snprintf(prefix, sizeof prefix, "$JS.%s.API", site);
	for (int i = 0; i < cfg->SourcesLen; i++) {
		const jsStreamSource *src = cfg->Sources[i];
		if (src->External && src->External->APIPrefix &&
			!strcmp(src->External->APIPrefix, prefix)) {
			jsStreamInfo_Destroy(si);
			return 0; /* known already */
		}
	}
	if (cfg->SourcesLen >= OP_ANNOUNCE_MAX_SITES) {
		jsStreamInfo_Destroy(si);
		return op_err_set(e, OP_ETOOBIG, "site %s: the hub already sources %d sites", site,
			OP_ANNOUNCE_MAX_SITES);
	}
	jsExternalStream ext = {.APIPrefix = prefix, .DeliverPrefix = ""};
	jsStreamSource add = {.Name = name, .FilterSubject = filter, .External = &ext};
	jsStreamSource **srcs = calloc((size_t)cfg->SourcesLen + 1, sizeof *srcs);
	if (!srcs) {
		jsStreamInfo_Destroy(si);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	for (int i = 0; i < cfg->SourcesLen; i++)
		srcs[i] = cfg->Sources[i];
	srcs[cfg->SourcesLen] = &add;
	jsStreamSource **old = cfg->Sources;
	int oldn = cfg->SourcesLen;
	cfg->Sources = srcs;
	cfg->SourcesLen = oldn + 1;
	jsStreamInfo *out = NULL;
	jsErrCode jerr = 0;
	s = js_UpdateStream(&out, hub->js, cfg, NULL, &jerr);
	cfg->Sources = old;
	cfg->SourcesLen = oldn;
	free(srcs);
	jsStreamInfo_Destroy(si);
	jsStreamInfo_Destroy(out);
	if (s != NATS_OK)
		return op_bus_err(e, s, "add the site as a source of " STATUS_STREAM);
	op_log_info("site added: its status is sourced by the hub", "site=%s", site);
	return 0;
}

static void on_announce(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
	(void)sub;
	op_bus *hub = arg;
	op_err e = {0};
	const char *reply = natsMsg_GetReply(msg);
	char site[OP_NAME_MAX + 1];
	int rc = op_announce_decode(
		natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), site, &e);
	if (rc == 0)
		rc = op_announce_add_site(hub, site, &e);
	if (rc)
		op_log_warn("site announce refused", "error=\"%s\"", e.msg);
	if (reply) {
		json_t *r = rc ? json_pack("{s:i, s:b, s:s}", "v", 1, "ok", 0, "error", e.msg)
			       : json_pack("{s:i, s:b}", "v", 1, "ok", 1);
		char *out = r ? json_dumps(r, JSON_COMPACT) : NULL;
		if (out)
			natsConnection_PublishString(nc, reply, out);
		free(out);
		json_decref(r);
	}
	natsMsg_Destroy(msg);
}

int op_announce_serve(op_bus *hub, natsSubscription **sub, op_err *e)
{
	natsStatus s = natsConnection_Subscribe(
		sub, hub->nc, OP_SUBJECT_ANNOUNCE, on_announce, hub);
	return s == NATS_OK ? 0 : op_bus_err(e, s, "subscribe " OP_SUBJECT_ANNOUNCE);
}
