/* Chained writes, pipelined (see include/outpost/sync/publish/chain.h): nats.c's
 * asynchronous JetStream publish on a context of the chain's own, whose acknowledgment
 * handler records the first write not stored where its place in the chain says. */
#include "outpost/sync/publish/chain.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/bus/bus.h"

#define ACK_WAIT_MS 5000 /* as the synchronous writes' context (bus.c) */

/* Which write msg is, from the sequence it expected: base + i - 1 for write i. */
static uint64_t write_no(const op_chain *c, natsMsg *msg)
{
	const char *v = NULL;
	if (natsMsgHeader_Get(msg, "Nats-Expected-Last-Sequence", &v) != NATS_OK || !v)
		return 1; /* the first write into an empty stream expects nothing */
	uint64_t expect = strtoull(v, NULL, 10);
	return expect >= c->base ? expect - c->base + 1 : 0;
}

static const char *key_of(natsMsg *msg)
{
	const char *subj = msg ? natsMsg_GetSubject(msg) : NULL;
	const char *pfx = "$KV." OP_BUCKET ".";
	return subj && !strncmp(subj, pfx, strlen(pfx)) ? subj + strlen(pfx) : "?";
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *arg)
{
	op_chain *c = arg;
	(void)js;
	uint64_t i = write_no(c, msg);
	pthread_mutex_lock(&c->mu);
	bool in_place = pa && i > 0 && pa->Sequence == c->base + i && !pa->Duplicate;
	if (in_place) {
		c->stored++;
	} else if (!c->bad || i < c->bad) {
		c->bad = i ? i : 1;
		if (pae && pae->ErrCode == JSStreamWrongLastSequenceErr) {
			c->rc = op_err_set(&c->why, OP_ECONFLICT,
				"%s: the bucket changed meanwhile (another sync?); retrying next "
				"pass",
				key_of(msg));
		} else if (pae) {
			c->rc = op_bus_err(&c->why, pae->Err, key_of(msg));
			if (pae->ErrText && *pae->ErrText)
				c->rc = op_err_set(
					&c->why, c->rc, "%s: %s", key_of(msg), pae->ErrText);
		} else {
			c->rc = op_err_set(&c->why, OP_ECONFLICT,
				"%s: stored at %" PRIu64 ", not %" PRIu64 " (another sync?)",
				key_of(msg), pa ? pa->Sequence : 0, c->base + i);
		}
	}
	pthread_mutex_unlock(&c->mu);
	natsMsg_Destroy(msg);
}

int op_chain_open(op_chain *c, natsConnection *nc, uint64_t base_seq, int window, op_err *e)
{
	memset(c, 0, sizeof *c);
	c->base = base_seq;
	pthread_mutex_init(&c->mu, NULL);
	jsOptions o;
	jsOptions_Init(&o);
	o.Wait = ACK_WAIT_MS;
	o.PublishAsync.MaxPending = window > 0 ? window : OP_CHAIN_WINDOW;
	o.PublishAsync.AckHandler = on_ack;
	o.PublishAsync.AckHandlerClosure = c;
	o.PublishAsync.StallWait = ACK_WAIT_MS;
	natsStatus s = natsConnection_JetStream(&c->js, nc, &o);
	if (s != NATS_OK) {
		pthread_mutex_destroy(&c->mu);
		return op_bus_err(e, s, "jetstream context");
	}
	return 0;
}

int op_chain_put(op_chain *c, const char *key, const char *json, size_t len, op_err *e)
{
	char subj[512];
	if (snprintf(subj, sizeof subj, "$KV.%s.%s", OP_BUCKET, key) >= (int)sizeof subj)
		return op_err_set(e, OP_EINVAL, "%.64s...: key too long", key);
	natsMsg *msg = NULL;
	natsStatus s = natsMsg_Create(&msg, subj, NULL, json ? json : "", json ? (int)len : 0);
	if (s == NATS_OK && !json)
		s = natsMsgHeader_Set(msg, "KV-Operation", "DEL");
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.ExpectLastSeq = c->base + c->sent; /* 0: an empty stream, nothing to expect */
	po.MaxWait = ACK_WAIT_MS; /* no acknowledgment in time: an error, to on_ack */
	if (s == NATS_OK)
		s = js_PublishMsgAsync(c->js, &msg, &po);
	natsMsg_Destroy(msg); /* NULL once nats.c took it */
	if (s != NATS_OK)
		return op_bus_err(e, s, key);
	c->sent++;
	return 0;
}

int op_chain_wait(op_chain *c, op_err *e)
{
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = ACK_WAIT_MS + 1000; /* each write times out first, in on_ack */
	natsStatus s = js_PublishAsyncComplete(c->js, &po);
	pthread_mutex_lock(&c->mu);
	int rc = c->rc;
	if (rc)
		*e = c->why;
	else if (s != NATS_OK || c->stored != c->sent)
		rc = op_err_set(e, OP_ENATS,
			"%" PRIu64 " of %" PRIu64 " writes acknowledged in %d ms", c->stored,
			c->sent, ACK_WAIT_MS + 1000);
	pthread_mutex_unlock(&c->mu);
	return rc;
}

uint64_t op_chain_last(const op_chain *c)
{
	return c->base + c->sent;
}

void op_chain_close(op_chain *c)
{
	if (!c->js)
		return;
	/* Every write in flight is answered, or timed out, before the handler's argument
	 * goes: a pass that stopped early (a manifest it could not load) did not wait. */
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = ACK_WAIT_MS + 1000;
	js_PublishAsyncComplete(c->js, &po);
	jsCtx_Destroy(c->js);
	c->js = NULL;
	pthread_mutex_destroy(&c->mu);
}
