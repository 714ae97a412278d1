/* The hub's side of a site announcing itself (see include/outpost/announce.h). */
#include "outpost/announce.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/log.h"
#include "outpost/manifest.h"

#define STATUS_STREAM "KV_" OP_STATUS_BUCKET

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
	json_t *j = NULL;
	const char *site = NULL;
	int rc = OP_EINVAL;
	if (natsMsg_GetDataLength(msg) <= 64 * 1024)
		j = json_loadb(natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), 0, NULL);
	if (j && json_unpack(j, "{s:s}", "site", &site) == 0 &&
		json_integer_value(json_object_get(j, "v")) == 1)
		rc = op_announce_add_site(hub, site, &e);
	else
		op_err_set(&e, OP_EINVAL, "expected {\"v\":1,\"site\":NAME,...}");
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
	json_decref(j);
	natsMsg_Destroy(msg);
}

int op_announce_serve(op_bus *hub, natsSubscription **sub, op_err *e)
{
	natsStatus s = natsConnection_Subscribe(
		sub, hub->nc, OP_SUBJECT_ANNOUNCE, on_announce, hub);
	return s == NATS_OK ? 0 : op_bus_err(e, s, "subscribe " OP_SUBJECT_ANNOUNCE);
}
