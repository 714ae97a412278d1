/* The accepted revisions `outpost artifact ls` and `gc` go by, read from the hub's
 * bucket: the marker `rev` names each revision's apps with the digest of their canonical
 * JSON, and the JSON names the artifacts. The bucket keeps 8 values per key (sync's
 * History), so the last few markers and the app values they name are there; a revision
 * older than that cannot be read whole, and is refused rather than half-read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifact_int.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"

/* One app key's history, read once for every marker that names the app. */
struct hist {
	char key[OP_NAME_MAX + 8];
	kvEntryList list;
	bool none; /* the key has no history at all */
};

struct reader {
	kvStore *kv;
	struct hist *h;
	size_t nh;
};

static int history(struct reader *rd, const char *key, struct hist **out, op_err *e)
{
	for (size_t i = 0; i < rd->nh; i++)
		if (!strcmp(rd->h[i].key, key)) {
			*out = &rd->h[i];
			return 0;
		}
	struct hist *h = realloc(rd->h, (rd->nh + 1) * sizeof *h);
	if (!h)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	rd->h = h;
	h = &rd->h[rd->nh];
	memset(h, 0, sizeof *h);
	snprintf(h->key, sizeof h->key, "%s", key);
	natsStatus s = kvStore_History(&h->list, rd->kv, key, NULL);
	if (s == NATS_NOT_FOUND)
		h->none = true;
	else if (s != NATS_OK)
		return op_bus_err(e, s, key);
	rd->nh++;
	*out = h;
	return 0;
}

/* Adds what app (at digest) references; OP_ENOTFOUND when its value is not held. */
static int app_refs(struct reader *rd, const op_marker *m, const op_marker_app *app,
	op_art_refs *into, op_err *e)
{
	char key[OP_NAME_MAX + 8];
	snprintf(key, sizeof key, "app.%s", app->name);
	struct hist *h = NULL;
	int rc = history(rd, key, &h, e);
	if (rc)
		return rc;
	for (int i = h->none ? 0 : h->list.Count; i-- > 0;) {
		kvEntry *ent = h->list.Entries[i];
		if (kvEntry_Operation(ent) != kvOp_Put)
			continue;
		char d[OP_DIGEST_LEN + 1];
		op_digest(kvEntry_Value(ent), (size_t)kvEntry_ValueLen(ent), d);
		if (strcmp(d, app->digest) != 0)
			continue;
		rc = op_art_refs_add_json(
			into, kvEntry_Value(ent), (size_t)kvEntry_ValueLen(ent), e);
		if (rc && e) {
			char why[sizeof e->msg];
			snprintf(why, sizeof why, "%s", e->msg);
			op_err_set(e, rc, "revision %llu, app %s: %s", (unsigned long long)m->seq,
				app->name, why);
		}
		return rc;
	}
	return op_err_set(e, OP_ENOTFOUND,
		"revision %llu (commit %.12s): app %s at %.19s... is no longer in the hub bucket's "
		"history (it keeps 8 values per key): keep fewer revisions",
		(unsigned long long)m->seq, m->commit, app->name, app->digest);
}

static int read_markers(struct reader *rd, size_t keep, art_revs *r, op_err *e)
{
	kvEntryList revs = {0};
	natsStatus s = kvStore_History(&revs, rd->kv, "rev", NULL);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return op_bus_err(e, s, "read the history of rev");
	int rc = 0;
	size_t got = 0;
	/* Newest first; a marker that does not decode ends what can be trusted. */
	for (int i = revs.Count; !rc && got < keep && i-- > 0;) {
		kvEntry *ent = revs.Entries[i];
		if (kvEntry_Operation(ent) != kvOp_Put)
			continue;
		op_marker m;
		if ((rc = op_marker_decode(
			     kvEntry_Value(ent), (size_t)kvEntry_ValueLen(ent), &m, e)) != 0)
			break;
		if (got == 0) {
			r->have = true;
			r->newest_seq = m.seq;
			snprintf(r->newest_commit, sizeof r->newest_commit, "%s", m.commit);
		}
		for (size_t k = 0; !rc && k < m.napps; k++) {
			rc = app_refs(rd, &m, &m.apps[k], &r->all, e);
			if (!rc && got == 0)
				rc = app_refs(rd, &m, &m.apps[k], &r->newest, e);
		}
		r->oldest_seq = m.seq;
		got++;
		op_marker_clear(&m);
	}
	r->kept = got;
	/* Fewer markers than asked for, and older revisions existed: they are past the
	 * history, and what they reference is unknown. */
	if (!rc && got < keep && r->have && r->oldest_seq > 1)
		rc = op_err_set(e, OP_ENOTFOUND,
			"--keep %zu: the hub bucket holds the markers of the last %zu revisions "
			"only (seq %llu..%llu): keep %zu or fewer",
			keep, got, (unsigned long long)r->oldest_seq,
			(unsigned long long)r->newest_seq, got);
	kvEntryList_Destroy(&revs);
	return rc;
}

int art_revs_read(op_bus *b, size_t keep, art_revs *r, op_err *e)
{
	memset(r, 0, sizeof *r);
	struct reader rd = {0};
	natsStatus s = js_KeyValue(&rd.kv, b->js, OP_BUCKET);
	if (s == NATS_NOT_FOUND)
		return 0;
	if (s != NATS_OK)
		return op_bus_err(e, s, "open bucket " OP_BUCKET);
	int rc = read_markers(&rd, keep ? keep : 1, r, e);
	for (size_t i = 0; i < rd.nh; i++)
		if (!rd.h[i].none)
			kvEntryList_Destroy(&rd.h[i].list);
	free(rd.h);
	kvStore_Destroy(rd.kv);
	if (rc)
		art_revs_clear(r);
	return rc;
}

void art_revs_clear(art_revs *r)
{
	op_art_refs_clear(&r->newest);
	op_art_refs_clear(&r->all);
	memset(r, 0, sizeof *r);
}
