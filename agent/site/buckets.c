/* Site buckets (see include/outpost/agent/site/buckets.h). nats.c's KV mirror support does the
 * mirror config; reads of a mirror bucket go to the local stream (direct get), and
 * the agent never writes through it: writes would be forwarded to the hub's bucket.
 * The hub's bucket itself is only ever read from here, and only to tell whether the
 * mirror keeps up (its last sequence) or to read past a stalled mirror. */
#include "outpost/agent/site/buckets.h"

#include <stdio.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/wire/deliver.h"

/* Whether the site's KV_outpost exists, mirrors the hub's (ok), and is delivered on
 * deliver, the site's own prefix (current; an older outpost's mirror is delivered on
 * $JS.M). */
static int mirror_of_hub(
	op_bus *b, const char *deliver, bool *exists, bool *ok, bool *current, op_err *e)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus s = js_GetStreamInfo(&si, b->js, "KV_" OP_BUCKET, NULL, &jerr);
	*exists = *ok = *current = false;
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
		return 0;
	if (s != NATS_OK)
		return op_bus_err(e, s, "stream info KV_outpost");
	*exists = true;
	const jsStreamSource *m = si->Config ? si->Config->Mirror : NULL;
	*ok = m && m->Name && !strcmp(m->Name, "KV_" OP_BUCKET) && m->External &&
		m->External->APIPrefix && !strcmp(m->External->APIPrefix, OP_HUB_API);
	*current = *ok && m->External->DeliverPrefix &&
		!strcmp(m->External->DeliverPrefix, deliver);
	jsStreamInfo_Destroy(si);
	return 0;
}

int op_site_buckets(op_bus *b, const char *site, bool repair, kvStore **desired, kvStore **status,
	char *warning, size_t wlen, op_err *e)
{
	bool exists, ok, current;
	char deliver[128];
	snprintf(deliver, sizeof deliver, OP_MIRROR_DELIVER ".%s", site);
	int rc = mirror_of_hub(b, deliver, &exists, &ok, &current, e);
	if (rc)
		return rc;
	warning[0] = '\0';
	if (exists && !current) {
		if (repair) {
			op_log_warn(
				ok ? "replacing the desired-state mirror: the hub delivers it "
				     "on another prefix now"
				   : "replacing the desired-state bucket: it is not a mirror of "
				     "the hub's",
				"bucket=%s deliver=%s", OP_BUCKET, deliver);
			natsStatus s = js_DeleteStream(b->js, "KV_" OP_BUCKET, NULL, NULL);
			if (s != NATS_OK)
				return op_bus_err(e, s, "delete KV_outpost");
			exists = false;
		} else if (ok) {
			snprintf(warning, wlen,
				"the mirror of the hub's bucket was made by an older outpost "
				"(delivered "
				"on $JS.M): a hub whose credentials come from this outpost "
				"delivers "
				"it on %s only; the agent reads the hub's bucket past it until "
				"outpost agent --repair-mirror re-creates it, with the link up",
				deliver);
		} else {
			snprintf(warning, wlen,
				"bucket %s is not a mirror of the hub's (KV_outpost via %s); "
				"using it as it is (outpost agent --repair-mirror replaces it)",
				OP_BUCKET, OP_HUB_API);
		}
	}
	natsStatus s;
	if (exists) {
		s = js_KeyValue(desired, b->js, OP_BUCKET);
	} else {
		jsExternalStream ext = {.APIPrefix = OP_HUB_API, .DeliverPrefix = deliver};
		jsStreamSource src = {.Name = "KV_" OP_BUCKET, .External = &ext};
		kvConfig c;
		kvConfig_Init(&c);
		c.Bucket = OP_BUCKET;
		c.Description = "outpost desired state: a mirror of the hub's";
		c.History = 8;
		c.TTL = 0;
		c.MaxValueSize = OP_MAX_VALUE;
		c.StorageType = js_FileStorage;
		c.Mirror = &src;
		s = js_CreateKeyValue(desired, b->js, &c);
	}
	if (s != NATS_OK)
		return op_bus_err(e, s, "open the desired-state mirror");
	kvConfig c;
	kvConfig_Init(&c);
	c.Bucket = OP_STATUS_BUCKET;
	c.Description = "outpost status of this site (the hub sources it)";
	c.History = 1;
	c.TTL = 0;
	c.MaxValueSize = OP_MAX_VALUE;
	c.StorageType = js_FileStorage;
	return op_bus_kv(b, &c, status, e);
}

int op_site_mirror_info(op_bus *b, op_mirror_info *mi, op_err *e)
{
	jsStreamInfo *si = NULL;
	memset(mi, 0, sizeof *mi);
	mi->active_ms = -1;
	natsStatus s = js_GetStreamInfo(&si, b->js, "KV_" OP_BUCKET, NULL, NULL);
	if (s != NATS_OK)
		return op_bus_err(e, s, "stream info KV_outpost");
	mi->last_seq = si->State.LastSeq;
	if (si->Mirror) {
		mi->is_mirror = true;
		mi->lag = si->Mirror->Lag;
		mi->active_ms = si->Mirror->Active >= 0 ? si->Mirror->Active / 1000000 : -1;
	}
	jsStreamInfo_Destroy(si);
	return 0;
}

int op_site_hub_js(op_bus *b, int wait_ms, jsCtx **js, op_err *e)
{
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Domain = "hub";
	jo.Wait = wait_ms;
	natsStatus s = natsConnection_JetStream(js, b->nc, &jo);
	return s == NATS_OK ? 0 : op_bus_err(e, s, "jetstream context of the hub");
}

int op_site_hub_last(jsCtx *hub, uint64_t *last_seq, op_err *e)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	*last_seq = 0;
	natsStatus s = js_GetStreamInfo(&si, hub, "KV_" OP_BUCKET, NULL, &jerr);
	if (s == NATS_NOT_FOUND || jerr == JSStreamNotFoundErr)
		return op_err_set(e, OP_ENOTFOUND, "the hub has no bucket %s yet", OP_BUCKET);
	if (s != NATS_OK)
		return op_bus_err(e, s, "stream info KV_outpost at the hub");
	*last_seq = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return 0;
}

#define HUB_READ_TRIES 3 /* a replica that answers short is asked again this often */

/* One message of the hub's bucket at or after seq: 0 with *m, 1 none there, or an error. */
static int next_msg(jsCtx *hub, int wait_ms, uint64_t seq, natsMsg **m, op_err *e)
{
	jsOptions o;
	jsOptions_Init(&o);
	o.Wait = wait_ms;
	jsDirectGetMsgOptions dg;
	jsDirectGetMsgOptions_Init(&dg);
	dg.Sequence = seq;
	dg.NextBySubject = "$KV." OP_BUCKET ".>";
	natsStatus s = js_DirectGetMsg(m, hub, "KV_" OP_BUCKET, &o, &dg);
	if (s == NATS_NOT_FOUND)
		return 1;
	return s == NATS_OK ? 0 : op_bus_err(e, s, "read the hub's bucket");
}

int op_site_hub_read(jsCtx *hub, int wait_ms, uint64_t after, uint64_t last, op_site_kv_fn fn,
	void *arg, op_err *e)
{
	static const char prefix[] = "$KV." OP_BUCKET ".";
	uint64_t seq = after + 1;
	int tries = 0;
	/* Each answer is past the one before: at most last - after requests, and a few
	 * more for the replicas that answer short. */
	while (seq <= last) {
		natsMsg *m = NULL;
		int rc = next_msg(hub, wait_ms, seq, &m, e);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			if (++tries < HUB_READ_TRIES)
				continue;
			return op_err_set(e, OP_ENATS,
				"the hub's bucket answered up to sequence %llu of %llu",
				(unsigned long long)seq - 1, (unsigned long long)last);
		}
		const char *subj = natsMsg_GetSubject(m), *op = NULL;
		uint64_t got = natsMsg_GetSequence(m);
		natsMsgHeader_Get(m, "KV-Operation", &op);
		if (got < seq || strncmp(subj, prefix, sizeof prefix - 1) != 0) {
			natsMsg_Destroy(m);
			return op_err_set(e, OP_ENATS,
				"the hub's bucket answered sequence %llu (%s) when asked from %llu",
				(unsigned long long)got, subj, (unsigned long long)seq);
		}
		bool del = op && (!strcmp(op, "DEL") || !strcmp(op, "PURGE"));
		rc = fn(arg, subj + sizeof prefix - 1, natsMsg_GetData(m),
			(size_t)natsMsg_GetDataLength(m), del);
		natsMsg_Destroy(m);
		if (rc)
			return rc;
		seq = got + 1;
		tries = 0;
	}
	return 0;
}
