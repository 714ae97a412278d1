/* The object store client's reads and deletes (puts: store_put.c). Every read is one a
 * NATS object-store client makes too: the last message on a meta subject for an info,
 * an ordered consumer for chunks, an ordered consumer delivering the last message per
 * meta subject for a listing. Counts, sizes and digests from the network are checked
 * against the meta before anything is trusted. */
#include "outpost/agent/store/store.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "store_int.h"

int op_store__err(op_err *e, natsStatus s, jsErrCode jerr, const char *fmt, ...)
{
	char what[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	int rc = op_bus_err(e, s, what);
	if (e && jerr) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof e->msg - n, " (JetStream error %d)", (int)jerr);
	}
	return rc;
}

static void on_pub_err(jsCtx *js, jsPubAckErr *pae, void *closure)
{
	struct op_store_pub *p = closure;
	(void)js;
	pthread_mutex_lock(&p->mu);
	if (!p->failed++)
		snprintf(p->first, sizeof p->first, "%s%s%s", natsStatus_GetText(pae->Err),
			pae->ErrText ? ": " : "", pae->ErrText ? pae->ErrText : "");
	pthread_mutex_unlock(&p->mu);
}

/* ---- opening: the stream and its layout ----------------------------------------------- */

static bool has_subject(const jsStreamConfig *c, const char *subj)
{
	for (int i = 0; i < c->SubjectsLen; i++)
		if (!strcmp(c->Subjects[i], subj))
			return true;
	return false;
}

/* An object store's stream has exactly the chunk and meta subjects and takes rollups;
 * anything else was made for something else, and writing into it would mix the two.
 * A site's copy (its agent's staging) has no subjects of its own, only sources from the
 * hub's store: readable the same way, never written through this client. */
static int check_layout(op_store *s, const jsStreamConfig *c, op_err *e)
{
	char chunks[128], meta[128];
	op_objmeta_chunk_all(s->bucket, chunks, sizeof chunks);
	op_objmeta_meta_all(s->bucket, meta, sizeof meta);
	s->copy = c->SubjectsLen == 0 && (c->SourcesLen > 0 || c->Mirror != NULL);
	if (!s->copy && (c->SubjectsLen != 2 || !has_subject(c, chunks) || !has_subject(c, meta)))
		return op_err_set(e, OP_ECONFLICT,
			"stream %s is not an object store: its subjects are not exactly %s and "
			"%s (%d subject%s%s%s)",
			s->stream, chunks, meta, c->SubjectsLen, c->SubjectsLen == 1 ? "" : "s",
			c->SubjectsLen ? ", first " : "", c->SubjectsLen ? c->Subjects[0] : "");
	if (!c->AllowRollup)
		return op_err_set(e, OP_ECONFLICT,
			"stream %s is not an object store: it does not allow rollups "
			"(allow_rollup_hdrs), which object metas need",
			s->stream);
	if (c->Sealed)
		return op_err_set(e, OP_ECONFLICT, "object store %s is sealed", s->bucket);
	return 0;
}

/* As many replicas as the desired state's stream beside it: 3 on a hub cluster made
 * with sync --replicas 3, 1 on a single server (or when it is not there yet). */
static int64_t replicas_like_desired(op_store *s)
{
	jsStreamInfo *si = NULL;
	int64_t n = 1;
	if (js_GetStreamInfo(&si, s->js, "KV_" OP_BUCKET, NULL, NULL) == NATS_OK &&
		si->Config->Replicas > 1)
		n = si->Config->Replicas;
	jsStreamInfo_Destroy(si);
	return n;
}

static natsStatus create(op_store *s, jsStreamInfo **si, jsErrCode *jerr)
{
	char chunks[128], meta[128];
	op_objmeta_chunk_all(s->bucket, chunks, sizeof chunks);
	op_objmeta_meta_all(s->bucket, meta, sizeof meta);
	const char *subjects[] = {chunks, meta};
	jsStreamConfig c;
	jsStreamConfig_Init(&c);
	c.Name = s->stream;
	c.Description = "outpost artifacts (a NATS object store)";
	c.Subjects = subjects;
	c.SubjectsLen = 2;
	c.MaxBytes = -1;
	c.MaxAge = 0;
	c.Storage = js_FileStorage;
	c.Replicas = replicas_like_desired(s);
	c.Discard = js_DiscardNew;
	c.AllowRollup = true;
	c.AllowDirect = true;
	natsStatus st = js_AddStream(si, s->js, &c, NULL, jerr);
	if (st != NATS_OK && *jerr == JSStreamNameExistErr) /* made meanwhile */
		st = js_GetStreamInfo(si, s->js, s->stream, NULL, jerr);
	return st;
}

int op_store_open(op_store *s, op_bus *b, const char *bucket, bool create_missing, op_err *e)
{
	return op_store_open_at(s, b, bucket, NULL, create_missing, e);
}

int op_store_open_at(op_store *s, op_bus *b, const char *bucket, const char *domain,
	bool create_missing, op_err *e)
{
	memset(s, 0, sizeof *s);
	s->bus = b;
	s->wait_ms = 10000;
	if (!op_objmeta_bucket_valid(bucket) ||
		op_objmeta_stream(bucket, s->stream, sizeof s->stream) != 0)
		return op_err_set(e, OP_EINVAL, "object store name \"%s\" is not valid", bucket);
	snprintf(s->bucket, sizeof s->bucket, "%s", bucket);
	s->chunk = op_objmeta_chunk_size(natsConnection_GetMaxPayload(b->nc));
	struct op_store_pub *p = calloc(1, sizeof *p);
	if (!p)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	pthread_mutex_init(&p->mu, NULL);
	s->pub = p;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = s->wait_ms;
	jo.Domain = domain;
	/* 64 chunks (8 MiB) in flight hide the round trips of a far hub; a full window
	 * waits for acks as long as any request would. */
	jo.PublishAsync.MaxPending = 64;
	jo.PublishAsync.StallWait = s->wait_ms;
	jo.PublishAsync.ErrHandler = on_pub_err;
	jo.PublishAsync.ErrHandlerClosure = p;
	natsStatus st = natsConnection_JetStream(&s->js, b->nc, &jo);
	if (st != NATS_OK) {
		op_store_close(s);
		return op_bus_err(e, st, "jetstream context");
	}
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	st = js_GetStreamInfo(&si, s->js, s->stream, NULL, &jerr);
	int rc = 0;
	if (st == NATS_NOT_FOUND && !create_missing)
		rc = op_err_set(e, OP_ENOTFOUND, "no object store %s on this server (stream %s)",
			bucket, s->stream);
	else if (st == NATS_NOT_FOUND && (st = create(s, &si, &jerr)) != NATS_OK)
		rc = op_store__err(e, st, jerr, "create object store %s", bucket);
	else if (st != NATS_OK)
		rc = op_store__err(e, st, jerr, "read object store %s", bucket);
	else
		rc = check_layout(s, si->Config, e);
	if (si)
		jsStreamInfo_Destroy(si);
	if (rc)
		op_store_close(s);
	return rc;
}

void op_store_close(op_store *s)
{
	if (s->js)
		jsCtx_Destroy(s->js);
	struct op_store_pub *p = s->pub;
	if (p) {
		pthread_mutex_destroy(&p->mu);
		free(p);
	}
	memset(s, 0, sizeof *s);
}

int op_store_usage(op_store *s, uint64_t *bytes, uint64_t *msgs, op_err *e)
{
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetStreamInfo(&si, s->js, s->stream, NULL, &jerr);
	if (st != NATS_OK)
		return op_store__err(e, st, jerr, "read object store %s", s->bucket);
	if (bytes)
		*bytes = si->State.Bytes;
	if (msgs)
		*msgs = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return 0;
}

/* ---- one object's info -------------------------------------------------------------------- */

static int meta_of(
	const char *subject, const char *data, int len, int64_t ns, op_objmeta *m, op_err *e)
{
	int rc = op_objmeta_decode(data ? data : "", len > 0 ? (size_t)len : 0, m, e);
	if (rc && e) {
		size_t n = strlen(e->msg);
		snprintf(e->msg + n, sizeof e->msg - n, " (on %s)", subject);
	}
	m->mtime = ns > 0 ? ns / 1000000000 : 0;
	return rc;
}

int op_store_info(op_store *s, const char *name, op_objmeta *m, op_err *e)
{
	char subj[2048];
	memset(m, 0, sizeof *m);
	if (op_objmeta_meta_subject(s->bucket, name, subj, sizeof subj) != 0)
		return op_err_set(e, OP_EINVAL, "object name \"%s\" is not valid", name);
	natsMsg *msg = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetLastMsg(&msg, s->js, s->stream, subj, NULL, &jerr);
	if (st == NATS_NOT_FOUND)
		return op_err_set(e, OP_ENOTFOUND, "no object named %s", name);
	if (st != NATS_OK)
		return op_store__err(e, st, jerr, "read the info of object %s", name);
	int rc = meta_of(
		subj, natsMsg_GetData(msg), natsMsg_GetDataLength(msg), natsMsg_GetTime(msg), m, e);
	natsMsg_Destroy(msg);
	return rc;
}

/* ---- listing ------------------------------------------------------------------------------- */

static int by_name(const void *a, const void *b)
{
	return strcmp(((const op_objmeta *)a)->name, ((const op_objmeta *)b)->name);
}

int op_store_list_add(op_store_list *l, const op_objmeta *m, op_err *e)
{
	if (op_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) != 0)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	int rc = op_objmeta_copy(&l->v[l->n], m, e);
	if (rc)
		return rc;
	l->n++;
	qsort(l->v, l->n, sizeof *l->v, by_name);
	return 0;
}

void op_store_list_clear(op_store_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		op_objmeta_clear(&l->v[i]);
	free(l->v);
	memset(l, 0, sizeof *l);
}

const op_objmeta *op_store_list_find(const op_store_list *l, const uint8_t sha[32])
{
	for (size_t i = 0; l && i < l->n; i++)
		if (op_objmeta_live(&l->v[i]) && !memcmp(l->v[i].sha256, sha, 32))
			return &l->v[i];
	return NULL;
}

/* Takes one delivered meta into l: live objects kept, the rest counted. */
static int take(op_store_list *l, natsMsg *msg, int64_t ns, op_err *e)
{
	op_objmeta m;
	op_err me = {0};
	const char *subj = natsMsg_GetSubject(msg);
	if (meta_of(subj, natsMsg_GetData(msg), natsMsg_GetDataLength(msg), ns, &m, &me) != 0) {
		op_log_warn("object meta skipped", "subject=%s error=\"%s\"", subj, me.msg);
		l->bad++;
		op_objmeta_clear(&m);
		return 0;
	}
	int rc = 0;
	if (op_objmeta_live(&m)) {
		if (op_grow((void **)&l->v, &l->cap, l->n + 1, sizeof *l->v) != 0)
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
		else
			l->v[l->n++] = m; /* moved */
	} else if (!m.deleted) {
		l->other++;
	}
	if (rc || !op_objmeta_live(&m))
		op_objmeta_clear(&m);
	return rc;
}

int op_store_list_read(op_store *s, op_store_list *l, op_err *e)
{
	char all[128];
	memset(l, 0, sizeof *l);
	op_objmeta_meta_all(s->bucket, all, sizeof all);
	/* An ordered consumer on an empty filter would only time out: ask first. */
	natsMsg *last = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetLastMsg(&last, s->js, s->stream, all, NULL, &jerr);
	if (st == NATS_NOT_FOUND)
		return 0;
	if (st != NATS_OK)
		return op_store__err(e, st, jerr, "list object store %s", s->bucket);
	natsMsg_Destroy(last);
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = s->stream; /* by name: a site's copy has no subjects to find it by */
	so.Ordered = true;
	so.Config.DeliverPolicy = js_DeliverLastPerSubject;
	natsSubscription *sub = NULL;
	st = js_SubscribeSync(&sub, s->js, all, NULL, &so, &jerr);
	if (st != NATS_OK)
		return op_store__err(e, st, jerr, "list object store %s", s->bucket);
	int rc = 0;
	for (;;) {
		natsMsg *msg = NULL;
		st = natsSubscription_NextMsg(&msg, sub, s->wait_ms);
		if (st != NATS_OK) {
			rc = op_store__err(e, st, 0, "list object store %s", s->bucket);
			break;
		}
		jsMsgMetaData *md = NULL;
		if (natsMsg_GetMetaData(&md, msg) != NATS_OK) {
			natsMsg_Destroy(msg);
			rc = op_err_set(e, OP_ENATS,
				"list object store %s: a message without "
				"JetStream metadata",
				s->bucket);
			break;
		}
		uint64_t pending = md->NumPending;
		rc = take(l, msg, md->Timestamp, e);
		jsMsgMetaData_Destroy(md);
		natsMsg_Destroy(msg);
		if (rc || pending == 0)
			break;
	}
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	if (rc) {
		op_store_list_clear(l);
		return rc;
	}
	qsort(l->v, l->n, sizeof *l->v, by_name);
	return 0;
}

int op_store_find(op_store *s, const uint8_t sha[32], op_objmeta *m, op_err *e)
{
	char name[OP_ART_DIGEST_LEN + 1];
	op_art_digest_format(sha, name);
	int rc = op_store_info(s, name, m, e);
	if (rc == 0 && op_objmeta_live(m) && !memcmp(m->sha256, sha, 32))
		return 0;
	op_objmeta_clear(m);
	if (rc && rc != OP_ENOTFOUND && rc != OP_EINVAL)
		return rc;
	op_store_list l;
	if ((rc = op_store_list_read(s, &l, e)) != 0)
		return rc;
	const op_objmeta *f = op_store_list_find(&l, sha);
	rc = f ? op_objmeta_copy(m, f, e)
	       : op_err_set(e, OP_ENOTFOUND, "no object holds %s in store %s", name, s->bucket);
	op_store_list_clear(&l);
	return rc;
}

/* ---- reading an object's bytes ----------------------------------------------------------- */

static int check_end(const op_objmeta *m, uint64_t chunks, uint64_t bytes,
	crypto_hash_sha256_state *h, op_err *e)
{
	uint8_t sha[32];
	crypto_hash_sha256_final(h, sha);
	if (chunks != m->chunks || bytes != m->size)
		return op_err_set(e, OP_EIO,
			"object %s: read %llu bytes in %llu chunks, its meta says %llu in %lu",
			m->name, (unsigned long long)bytes, (unsigned long long)chunks,
			(unsigned long long)m->size, (unsigned long)m->chunks);
	if (sodium_memcmp(sha, m->sha256, 32) != 0) /* whole, and not what it says it is */
		return op_err_set(
			e, OP_ETRUST, "object %s: its bytes do not match its digest", m->name);
	return 0;
}

int op_store_read(op_store *s, const op_objmeta *m, op_store_chunk_fn fn, void *arg, op_err *e)
{
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	if (!op_objmeta_live(m))
		return op_err_set(
			e, OP_EINVAL, "object %s holds no bytes (deleted or a link)", m->name);
	if (m->chunks == 0)
		return check_end(m, 0, 0, &h, e);
	char subj[128];
	if (op_objmeta_chunk_subject(s->bucket, m->nuid, subj, sizeof subj) != 0)
		return op_err_set(e, OP_EINVAL, "object %s: bad nuid", m->name);
	/* A meta whose chunks are gone (purged by hand, half a delete by another client)
	 * is said at once, not after a consumer waited for chunks that never come. */
	natsMsg *last = NULL;
	jsErrCode jerr = 0;
	natsStatus st = js_GetLastMsg(&last, s->js, s->stream, subj, NULL, &jerr);
	if (st == NATS_NOT_FOUND)
		return op_err_set(e, OP_EIO, "object %s: its chunks are missing (%s is empty)",
			m->name, subj);
	if (st != NATS_OK)
		return op_store__err(e, st, jerr, "read object %s", m->name);
	natsMsg_Destroy(last);
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = s->stream; /* by name: a site's copy has no subjects to find it by */
	so.Ordered = true;
	natsSubscription *sub = NULL;
	st = js_SubscribeSync(&sub, s->js, subj, NULL, &so, &jerr);
	if (st != NATS_OK)
		return op_store__err(e, st, jerr, "read object %s", m->name);
	uint64_t chunks = 0, bytes = 0;
	int rc = 0;
	for (;;) {
		natsMsg *msg = NULL;
		st = natsSubscription_NextMsg(&msg, sub, s->wait_ms);
		if (st == NATS_TIMEOUT) {
			rc = op_err_set(e, OP_EIO,
				"object %s: no chunk after %llu of %lu within %d ms (chunks "
				"missing?)",
				m->name, (unsigned long long)chunks, (unsigned long)m->chunks,
				s->wait_ms);
			break;
		}
		if (st != NATS_OK) {
			rc = op_store__err(e, st, 0, "read object %s", m->name);
			break;
		}
		jsMsgMetaData *md = NULL;
		uint64_t pending = 0;
		if (natsMsg_GetMetaData(&md, msg) == NATS_OK) {
			pending = md->NumPending;
			jsMsgMetaData_Destroy(md);
		}
		size_t n = (size_t)natsMsg_GetDataLength(msg);
		chunks++;
		bytes += n;
		if (bytes > m->size || chunks > m->chunks) {
			natsMsg_Destroy(msg);
			rc = op_err_set(e, OP_EIO,
				"object %s: more bytes or chunks than its meta says", m->name);
			break;
		}
		crypto_hash_sha256_update(&h, (const unsigned char *)natsMsg_GetData(msg), n);
		rc = fn(arg, natsMsg_GetData(msg), n);
		natsMsg_Destroy(msg);
		if (rc) {
			if (e && !e->msg[0])
				op_err_set(e, rc, "object %s: the reader stopped", m->name);
			break;
		}
		if (pending == 0)
			break;
	}
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	return rc ? rc : check_end(m, chunks, bytes, &h, e);
}

/* ---- deleting ------------------------------------------------------------------------------ */

int op_store_purge_object(op_store *s, const op_objmeta *m, op_err *e)
{
	char chunks[128], meta[2048];
	if (op_objmeta_chunk_subject(s->bucket, m->nuid, chunks, sizeof chunks) != 0 ||
		op_objmeta_meta_subject(s->bucket, m->name, meta, sizeof meta) != 0)
		return op_err_set(e, OP_EINVAL, "object %s: bad nuid or name", m->name);
	int rc = op_store__purge(s, chunks, e);
	return rc ? rc : op_store__purge(s, meta, e);
}

int op_store__purge(op_store *s, const char *subject, op_err *e)
{
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Purge.Subject = subject;
	jsErrCode jerr = 0;
	natsStatus st = js_PurgeStream(s->js, s->stream, &o, &jerr);
	return st == NATS_OK ? 0 : op_store__err(e, st, jerr, "purge %s", subject);
}

int op_store__put_meta(op_store *s, const op_objmeta *m, op_err *e)
{
	char subj[2048], *json = NULL;
	size_t len = 0;
	int rc = op_objmeta_meta_subject(s->bucket, m->name, subj, sizeof subj);
	if (rc)
		return op_err_set(e, rc, "object name \"%s\" is not valid", m->name);
	if ((rc = op_objmeta_encode(m, &json, &len, e)) != 0)
		return rc;
	natsMsg *msg = NULL;
	natsStatus st = natsMsg_Create(&msg, subj, NULL, json, (int)len);
	free(json);
	if (st == NATS_OK)
		st = natsMsgHeader_Set(msg, "Nats-Rollup", "sub");
	jsPubAck *pa = NULL;
	jsErrCode jerr = 0;
	if (st == NATS_OK)
		st = js_PublishMsg(&pa, s->js, msg, NULL, &jerr);
	natsMsg_Destroy(msg);
	jsPubAck_Destroy(pa);
	return st == NATS_OK ? 0 : op_store__err(e, st, jerr, "write the meta of %s", m->name);
}

int op_store_delete(op_store *s, const op_objmeta *m, op_err *e)
{
	op_objmeta d;
	int rc = op_objmeta_copy(&d, m, e);
	if (rc)
		return rc;
	d.deleted = true;
	d.size = 0;
	d.chunks = 0;
	d.has_digest = false;
	rc = op_store__put_meta(s, &d, e);
	op_objmeta_clear(&d);
	char subj[128];
	if (!rc && op_objmeta_chunk_subject(s->bucket, m->nuid, subj, sizeof subj) == 0)
		rc = op_store__purge(s, subj, e);
	return rc;
}
