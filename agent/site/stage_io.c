/* Staging's I/O (see stage_int.h), outside the loop's mutex: the hub's store is asked
 * about what the site needs (across the leaf link, read-only), the site's copy gets one
 * source per artifact the hub holds (JetStream fills it whenever the link is up and
 * resumes after a cut), progress is read from the copy's per-subject counts, a whole
 * artifact's digest is checked once before it counts as staged, and what no revision
 * kept needs is dropped. Nothing here waits for the link: a request that finds no one
 * across it fails at once and the step is tried again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/wire/deliver.h"
#include "outpost/agent/store/store.h"
#include "stage_int.h"

#define HUB_API "$JS.hub.API"
#define WAIT_MS 5000

/* ---- the site's copy: its config and its subjects' counts ------------------------------ */

typedef struct copy_view {
	bool exists, is_copy;
	jsStreamInfo *si; /* with the subjects' counts */
} copy_view;

static int copy_read(ag_stage *st, copy_view *cv, op_err *e)
{
	memset(cv, 0, sizeof *cv);
	char stream[80], all[128];
	op_objmeta_stream(OP_STORE_BUCKET, stream, sizeof stream);
	snprintf(all, sizeof all, "$O.%s.>", OP_STORE_BUCKET);
	jsCtx *js = NULL;
	jsOptions o;
	jsOptions_Init(&o);
	o.Wait = WAIT_MS;
	o.Stream.Info.SubjectsFilter = all;
	natsStatus s = natsConnection_JetStream(&js, st->bus->nc, &o);
	jsErrCode jerr = 0;
	if (s == NATS_OK)
		s = js_GetStreamInfo(&cv->si, js, stream, &o, &jerr);
	jsCtx_Destroy(js);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return op_bus_err(e, s, "the site's copy of the artifact store");
	cv->exists = true;
	const jsStreamConfig *c = cv->si->Config;
	cv->is_copy = c->SubjectsLen == 0 && !c->Mirror;
	return 0;
}

static uint64_t count_of(const copy_view *cv, const char *subject)
{
	const jsStreamStateSubjects *ss = cv->si ? cv->si->State.Subjects : NULL;
	for (int i = 0; ss && i < ss->Count; i++)
		if (!strcmp(ss->List[i].Subject, subject))
			return ss->List[i].Msgs;
	return 0;
}

static bool has_source(const copy_view *cv, const char *chunks)
{
	const jsStreamConfig *c = cv->si ? cv->si->Config : NULL;
	for (int i = 0; c && i < c->SourcesLen; i++)
		if (c->Sources[i]->FilterSubject && !strcmp(c->Sources[i]->FilterSubject, chunks))
			return true;
	return false;
}

/* Every source delivers on deliver (a copy made by an older release may not: it is
 * rewritten, or with credentials it would never fill). */
static bool delivers_on(const copy_view *cv, const char *deliver)
{
	const jsStreamConfig *c = cv->si ? cv->si->Config : NULL;
	for (int i = 0; c && i < c->SourcesLen; i++) {
		const jsExternalStream *x = c->Sources[i]->External;
		if (!x || !x->DeliverPrefix || strcmp(x->DeliverPrefix, deliver) != 0)
			return false;
	}
	return true;
}

/* A JetStream API request with a JSON body: 0, or the server's error as op_err. */
static int api(ag_stage *st, const char *subject, const char *body, op_err *e)
{
	natsMsg *m = NULL;
	natsStatus s = natsConnection_RequestString(
		&m, st->bus->nc, subject, body ? body : "", WAIT_MS);
	if (s != NATS_OK)
		return op_bus_err(e, s, subject);
	json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	natsMsg_Destroy(m);
	json_t *err = json_object_get(j, "error");
	int rc = 0;
	if (!j)
		rc = op_err_set(e, OP_ENATS, "%s: the reply is not JSON", subject);
	else if (err)
		rc = op_err_set(e, OP_ENATS, "%s: %s (JetStream error %lld)", subject,
			json_string_value(json_object_get(err, "description")),
			(long long)json_integer_value(json_object_get(err, "err_code")));
	json_decref(j);
	return rc;
}

/* The copy's sources made equal to the artifacts that are wanted and in the hub's
 * store, in the order the agent met them (an update keeps the other sources as they
 * are, so they resume, not restart). No source left: the copy goes. */
static int sources_sync(ag_stage *st, const copy_view *cv, op_err *e)
{
	size_t want = 0, have = 0;
	bool differ = false;
	for (size_t i = 0; i < st->n; i++) {
		ag_art *a = &st->v[i];
		bool should = a->wanted && a->have_hub &&
			(a->state == OP_STAGE_FETCHING || a->state == OP_STAGE_STAGED);
		char chunks[128];
		a->sourced = false;
		if (a->have_hub &&
			op_objmeta_chunk_subject(
				OP_STORE_BUCKET, a->hub.nuid, chunks, sizeof chunks) == 0)
			a->sourced = has_source(cv, chunks);
		differ |= should != a->sourced;
		want += should;
		have += a->sourced;
	}
	/* Delivered on a subject of this site's own (outpost-artifacts.<site>): with
	 * credentials, the only one its leaf link may receive them on. */
	char deliver[128], *body = NULL;
	snprintf(deliver, sizeof deliver, OP_ART_DELIVER ".%s", st->site);
	int n_src = cv->si ? cv->si->Config->SourcesLen : 0;
	if (!differ && (size_t)n_src == 2 * have && delivers_on(cv, deliver))
		return 0;
	char stream[80], subj[160];
	op_objmeta_stream(OP_STORE_BUCKET, stream, sizeof stream);
	if (want == 0) {
		if (!cv->exists)
			return 0;
		snprintf(subj, sizeof subj, "$JS.API.STREAM.DELETE.%s", stream);
		op_log_info("no artifact needed here any more: dropping the site's copy", NULL);
		return api(st, subj, NULL, e);
	}
	op_objmeta *objs = calloc(want, sizeof *objs);
	if (!objs)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	size_t k = 0;
	for (size_t i = 0; i < st->n; i++) {
		const ag_art *a = &st->v[i];
		if (a->wanted && a->have_hub &&
			(a->state == OP_STAGE_FETCHING || a->state == OP_STAGE_STAGED))
			objs[k++] = a->hub; /* shallow: the config only reads name and nuid */
	}
	int rc = op_stage_stream_config(OP_STORE_BUCKET, HUB_API, deliver, objs, k, &body, e);
	free(objs);
	if (rc)
		return rc;
	snprintf(subj, sizeof subj, "$JS.API.STREAM.%s.%s", cv->exists ? "UPDATE" : "CREATE",
		stream);
	rc = api(st, subj, body, e);
	free(body);
	if (rc == 0)
		op_log_info("artifact sources set", "artifacts=%zu", k);
	return rc;
}

/* ---- the hub's store ------------------------------------------------------------------- */

/* With the hub out of reach, an artifact not asked about yet may be whole in the site's
 * copy already (staged before the agent restarted): its meta there is the hub's. */
static void from_copy(ag_stage *st)
{
	op_store copy;
	op_err e = {0};
	if (op_store_open(&copy, st->bus, OP_STORE_BUCKET, false, &e) != 0)
		return;
	for (size_t i = 0; i < st->n; i++) {
		ag_art *a = &st->v[i];
		if (!a->wanted || a->state != OP_STAGE_UNKNOWN)
			continue;
		op_objmeta m;
		if (op_store_find(&copy, a->sha256, &m, &e) == 0) {
			op_objmeta_clear(&a->hub);
			a->hub = m;
			a->have_hub = true;
			a->state = OP_STAGE_FETCHING; /* checked whole before it counts */
		} else {
			op_objmeta_clear(&m);
		}
	}
	op_store_close(&copy);
}

/* Asks the hub about every wanted artifact due for it. A hub without a store lacks them
 * all; a hub not reached leaves them as they were. */
static void ask_hub(ag_stage *st, int64_t now)
{
	bool due = false;
	for (size_t i = 0; i < st->n && !due; i++) {
		const ag_art *a = &st->v[i];
		due = a->wanted &&
			(a->state == OP_STAGE_UNKNOWN ||
				((a->state == OP_STAGE_ABSENT || a->state == OP_STAGE_REFUSED) &&
					now - a->asked_ms >= AG_STAGE_RECHECK_MS));
	}
	if (!due)
		return;
	op_store hub;
	op_err e = {0};
	int orc = op_store_open_at(&hub, st->bus, OP_STORE_BUCKET, "hub", false, &e);
	if (orc && orc != OP_ENOTFOUND) { /* not reached (the link is down) */
		from_copy(st);
		return;
	}
	for (size_t i = 0; i < st->n; i++) {
		ag_art *a = &st->v[i];
		bool ask = a->wanted &&
			(a->state == OP_STAGE_UNKNOWN ||
				((a->state == OP_STAGE_ABSENT || a->state == OP_STAGE_REFUSED) &&
					now - a->asked_ms >= AG_STAGE_RECHECK_MS));
		if (!ask)
			continue;
		op_objmeta m;
		memset(&m, 0, sizeof m);
		int rc = orc ? OP_ENOTFOUND : op_store_find(&hub, a->sha256, &m, &e);
		if (rc == OP_ENOTFOUND) {
			if (a->state != OP_STAGE_ABSENT)
				op_log_info("artifact not in the hub's store: the file must be on "
					    "the box already",
					"digest=%s", a->digest);
			a->state = OP_STAGE_ABSENT;
			a->asked_ms = now;
		} else if (rc == 0 && a->state == OP_STAGE_REFUSED && a->have_hub &&
			!strcmp(m.nuid, a->hub.nuid)) {
			a->asked_ms = now; /* the same bytes: refused again, not fetched again */
		} else if (rc == 0) {
			op_objmeta_clear(&a->hub);
			a->hub = m;
			memset(&m, 0, sizeof m);
			a->have_hub = true;
			a->state = OP_STAGE_FETCHING;
			a->chunks_here = 0;
			a->asked_ms = now;
			op_log_info("staging artifact", "digest=%s size=%llu chunks=%lu", a->digest,
				(unsigned long long)a->hub.size, (unsigned long)a->hub.chunks);
		}
		op_objmeta_clear(&m);
	}
	if (!orc)
		op_store_close(&hub);
}

/* ---- progress, the digest check, gc --------------------------------------------------- */

static int discard(void *arg, const void *buf, size_t len)
{
	(void)arg, (void)buf, (void)len;
	return 0;
}

/* A whole artifact at the site is read back once: staged, or refused and dropped. */
static void check_whole(op_store *copy, ag_art *a)
{
	op_err e = {0};
	int64_t t0 = op_now_ms();
	op_objmeta m;
	int rc = op_store_info(copy, a->hub.name, &m, &e);
	if (rc == 0 && (!op_objmeta_live(&m) || memcmp(m.sha256, a->sha256, 32) != 0))
		rc = op_err_set(&e, OP_ETRUST, "its meta at the site names another digest");
	if (rc == 0)
		rc = op_store_read(copy, &m, discard, NULL, &e);
	if (rc == 0) {
		a->state = OP_STAGE_STAGED;
		op_log_info("artifact staged", "digest=%s size=%llu check_ms=%lld", a->digest,
			(unsigned long long)m.size, (long long)(op_now_ms() - t0));
	} else if (rc == OP_ETRUST) {
		a->state = OP_STAGE_REFUSED;
		snprintf(a->why, sizeof a->why, "%.299s", e.msg);
		op_log_warn("artifact refused at the site: the revision that needs it waits",
			"digest=%s error=\"%s\"", a->digest, e.msg);
		op_err pe = {0};
		if (op_store_purge_object(copy, &a->hub, &pe) != 0)
			op_log_warn("cannot drop a refused artifact", "digest=%s error=\"%s\"",
				a->digest, pe.msg);
	} else if (strcmp(a->why, e.msg) != 0) { /* a short read: the next step looks again */
		snprintf(a->why, sizeof a->why, "%.299s", e.msg);
		op_log_warn("staged artifact not readable yet; retrying", "digest=%s error=\"%s\"",
			a->digest, e.msg);
	}
	op_objmeta_clear(&m);
}

static void progress(ag_stage *st, const copy_view *cv)
{
	op_store copy;
	bool open = false;
	for (size_t i = 0; i < st->n; i++) {
		ag_art *a = &st->v[i];
		bool staged = a->state == OP_STAGE_STAGED;
		if (!a->wanted || !a->have_hub || (a->state != OP_STAGE_FETCHING && !staged))
			continue;
		char chunks[128], meta[2048];
		if (op_objmeta_chunk_subject(OP_STORE_BUCKET, a->hub.nuid, chunks, sizeof chunks) ||
			op_objmeta_meta_subject(OP_STORE_BUCKET, a->hub.name, meta, sizeof meta))
			continue;
		a->chunks_here = count_of(cv, chunks);
		a->meta_here = count_of(cv, meta) > 0;
		bool whole = a->meta_here && a->chunks_here >= a->hub.chunks;
		if (staged && !whole) { /* purged by hand, or a lost store: fetched again */
			op_log_warn("a staged artifact is gone from the site's copy; staging it "
				    "again",
				"digest=%s", a->digest);
			a->state = OP_STAGE_UNKNOWN;
			a->have_hub = false;
		}
		if (staged || !whole)
			continue;
		op_err e = {0};
		if (!open && op_store_open(&copy, st->bus, OP_STORE_BUCKET, false, &e) != 0)
			return;
		open = true;
		check_whole(&copy, a);
	}
	if (open)
		op_store_close(&copy);
}

/* An artifact dropped from the copy is as if never asked about: needed again, it is
 * looked up and fetched again. */
static void forget(ag_stage *st, const uint8_t sha[32])
{
	for (size_t i = 0; i < st->n; i++) {
		ag_art *a = &st->v[i];
		if (memcmp(a->sha256, sha, 32) != 0)
			continue;
		op_objmeta_clear(&a->hub);
		a->have_hub = false;
		a->state = OP_STAGE_UNKNOWN;
		a->chunks_here = 0;
		a->meta_here = false;
	}
}

/* Drops every object of the copy that no wanted artifact is. */
static void gc(ag_stage *st)
{
	op_store copy;
	op_err e = {0};
	if (op_store_open(&copy, st->bus, OP_STORE_BUCKET, false, &e) != 0)
		return;
	op_store_list l;
	if (op_store_list_read(&copy, &l, &e) == 0) {
		bool *del = calloc(l.n ? l.n : 1, sizeof *del);
		if (del && op_stage_gc_choose(l.v, l.n, &st->want, del))
			for (size_t i = 0; i < l.n; i++) {
				if (!del[i])
					continue;
				char d[OP_ART_DIGEST_LEN + 1];
				op_art_digest_format(l.v[i].sha256, d);
				if (op_store_purge_object(&copy, &l.v[i], &e) != 0)
					continue;
				op_log_info("staged artifact dropped: no kept revision needs it",
					"digest=%s size=%llu", d, (unsigned long long)l.v[i].size);
				forget(st, l.v[i].sha256);
			}
		free(del);
		op_store_list_clear(&l);
	}
	op_store_close(&copy);
}

/* Whether an artifact moved since the step began (the round's view, was). */
static bool moved(const ag_stage *st)
{
	for (size_t i = 0; i < st->n; i++) {
		op_stage_item now = ag_stage_item(&st->v[i]);
		if (op_stage_moved(&st->v[i].was, &now))
			return true;
	}
	return false;
}

bool ag_stage_step(ag_stage *st, int64_t now)
{
	if (now < st->next_ms)
		return false;
	bool busy = false;
	for (size_t i = 0; i < st->n; i++) {
		busy |= st->v[i].wanted &&
			(st->v[i].state == OP_STAGE_UNKNOWN || st->v[i].state == OP_STAGE_FETCHING);
		st->v[i].was = ag_stage_item(&st->v[i]);
	}
	st->next_ms = now + (busy ? 1000 : 5000);
	if (!st->n && !st->gc_ms)
		return false; /* nothing ever needed: no copy to look at */
	op_err e = {0};
	copy_view cv;
	int rc = copy_read(st, &cv, &e);
	if (rc == 0 && cv.exists && !cv.is_copy) {
		if (!st->copy_bad)
			op_log_warn("the site's server holds an artifact store of its own "
				    "(subjects, or a mirror): not staging into it",
				"stream=OBJ_" OP_STORE_BUCKET);
		st->copy_bad = true;
		jsStreamInfo_Destroy(cv.si);
		return false;
	}
	st->copy_bad = false;
	if (rc == 0) {
		ask_hub(st, now);
		rc = sources_sync(st, &cv, &e);
	}
	if (rc == 0 && cv.exists)
		progress(st, &cv);
	if (rc == 0 && cv.exists && now >= st->gc_ms) {
		gc(st);
		st->gc_ms = now + AG_STAGE_RECHECK_MS;
	}
	if (cv.si)
		jsStreamInfo_Destroy(cv.si);
	if (rc && !st->failing)
		op_log_warn("staging artifacts failed; retrying", "error=\"%s\"", e.msg);
	else if (!rc && st->failing)
		op_log_info("staging artifacts works again", NULL);
	st->failing = rc != 0;
	return moved(st);
}
