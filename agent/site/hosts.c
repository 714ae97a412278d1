/* The site's hosts (see hosts_int.h). A host is alive while its heartbeats arrive:
 * three missed ones (or --host-timeout) and it is not; a host never heard is not in the
 * table at all. Host timeouts count from the agent's own (re)connection to the site's
 * server: while it was away no heartbeat came through, and the first host heard again
 * must not look like the only one alive. */
#include "hosts_int.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"

#define AG_HB_INTERVAL_MS 2000 /* a host's interval when its heartbeat does not say */

void ag_hosts_init(ag_hosts *hs, int64_t timeout_ms, int64_t now)
{
	memset(hs, 0, sizeof *hs);
	hs->timeout_ms = timeout_ms;
	hs->start_ms = now;
	if (natsStatistics_Create(&hs->stats) != NATS_OK)
		hs->stats = NULL;
}

int64_t ag_host_timeout(const ag_hosts *hs, const ag_host *h)
{
	if (hs->timeout_ms > 0)
		return hs->timeout_ms;
	return 3 * (h->hb.interval_ms > 0 ? h->hb.interval_ms : AG_HB_INTERVAL_MS);
}

bool ag_host_alive(const ag_hosts *hs, const ag_host *h, int64_t now)
{
	return now - h->last_ms <= ag_host_timeout(hs, h);
}

ag_host *ag_hosts_find(const ag_hosts *hs, const char *id)
{
	for (size_t i = 0; i < hs->n; i++)
		if (!strcmp(hs->v[i].hb.host, id))
			return &hs->v[i];
	return NULL;
}

/* Keeps hb (stolen) as its host's last heartbeat. */
static int keep(ag_hosts *hs, op_heartbeat *hb, int64_t now)
{
	ag_host *h = ag_hosts_find(hs, hb->host);
	if (!h && hs->n >= AG_MAX_HOSTS) {
		if (!hs->full)
			op_log_warn("heartbeat refused", "host=%s error=\"more than %d hosts\"",
				hb->host, AG_MAX_HOSTS);
		hs->full = true;
		return OP_ETOOBIG;
	}
	if (!h) {
		if (op_grow((void **)&hs->v, &hs->cap, hs->n + 1, sizeof *hs->v)) {
			if (!hs->nomem)
				op_log_warn("heartbeat dropped", "host=%s error=\"out of memory\"",
					hb->host);
			hs->nomem = true;
			return OP_ENOMEM;
		}
		h = &hs->v[hs->n++];
		memset(h, 0, sizeof *h);
		h->first_ms = now;
		op_log_info("host joined", "host=%s", hb->host);
	} else {
		if (!ag_host_alive(hs, h, now))
			op_log_info("host is back", "host=%s", hb->host);
		op_heartbeat_clear(&h->hb);
	}
	hs->nomem = false;
	h->hb = *hb;
	memset(hb, 0, sizeof *hb);
	h->last_ms = now;
	return 0;
}

int ag_hosts_heard(ag_hosts *hs, const char *site, const char *subject, const char *data,
	size_t len, int64_t now)
{
	op_heartbeat hb;
	op_err e = {0};
	if (len > OP_HB_MAX_BYTES || op_heartbeat_decode(data, len, &hb, &e) != 0) {
		op_log_warn("heartbeat refused", "subject=%s error=\"%s\"", subject,
			len > OP_HB_MAX_BYTES ? "too big" : e.msg);
		if (len <= OP_HB_MAX_BYTES)
			op_heartbeat_clear(&hb);
		return OP_EINVAL;
	}
	/* A host speaks for itself only: the id in the body is the one its subject names
	 * (outpost.<site>.hb.<id>, which credentials give each host alone). */
	const char *id = strrchr(subject, '.');
	bool own = id && !strcmp(id + 1, hb.host);
	int rc = OP_EINVAL;
	if (!own)
		op_log_warn("heartbeat refused", "subject=%s error=\"it says it is host %s\"",
			subject, hb.host);
	else if (!strcmp(hb.site, site))
		rc = keep(hs, &hb, now);
	op_heartbeat_clear(&hb);
	return rc;
}

void ag_hosts_conn_check(ag_hosts *hs, natsConnection *nc, int64_t now)
{
	uint64_t n = 0;
	if (!hs->stats || natsConnection_GetStats(nc, hs->stats) != NATS_OK ||
		natsStatistics_GetCounts(hs->stats, NULL, NULL, NULL, NULL, &n) != NATS_OK)
		return;
	if (n == hs->reconnects)
		return;
	hs->reconnects = n;
	hs->start_ms = now;
	op_log_info("reconnected to the site's nats-server; commands wait one host timeout",
		"reconnects=%llu", (unsigned long long)n);
}

bool ag_hosts_warm(const ag_hosts *hs, int64_t now)
{
	int64_t window = hs->timeout_ms > 0 ? hs->timeout_ms : 3 * AG_HB_INTERVAL_MS;
	for (size_t i = 0; i < hs->n; i++)
		if (ag_host_timeout(hs, &hs->v[i]) > window)
			window = ag_host_timeout(hs, &hs->v[i]);
	return now - hs->start_ms >= window;
}

void ag_hosts_clear(ag_hosts *hs)
{
	for (size_t i = 0; i < hs->n; i++)
		op_heartbeat_clear(&hs->v[i].hb);
	free(hs->v);
	if (hs->stats)
		natsStatistics_Destroy(hs->stats);
	memset(hs, 0, sizeof *hs);
}
