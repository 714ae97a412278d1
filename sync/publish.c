/* An accepted revision into KV (see include/outpost/publish.h). The bucket is read
 * back before writing, so what is compared is what the bucket holds, not what the
 * last marker claims: a pass that died between its puts and its marker is repaired by
 * the next one, and a pass over an unchanged head writes nothing at all. */
#include "outpost/publish.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/bus.h"

static int entry_cmp(const void *a, const void *b)
{
	return strcmp(((const op_pub_entry *)a)->name, ((const op_pub_entry *)b)->name);
}

int op_publish_diff(const op_pub_entry *want, size_t nwant, const op_pub_entry *have, size_t nhave,
	op_pub_diff *d)
{
	memset(d, 0, sizeof *d);
	d->puts = malloc((nwant + 1) * sizeof *d->puts);
	d->dels = malloc((nhave + 1) * sizeof *d->dels);
	if (!d->puts || !d->dels) {
		op_publish_diff_free(d);
		return OP_ENOMEM;
	}
	size_t i = 0, j = 0;
	while (i < nwant || j < nhave) {
		int c = i == nwant ? 1 : j == nhave ? -1 : strcmp(want[i].name, have[j].name);
		if (c < 0) {
			d->puts[d->nputs++] = i++;
		} else if (c > 0) {
			d->dels[d->ndels++] = j++;
		} else {
			if (strcmp(want[i].digest, have[j].digest) != 0)
				d->puts[d->nputs++] = i;
			i++, j++;
		}
	}
	return 0;
}

void op_publish_diff_free(op_pub_diff *d)
{
	free(d->puts);
	free(d->dels);
	memset(d, 0, sizeof *d);
}

void op_publish_bucket_config(kvConfig *cfg)
{
	kvConfig_Init(cfg);
	cfg->Bucket = OP_BUCKET;
	cfg->Description = "outpost desired state (written by outpost sync only)";
	cfg->History = 8;
	cfg->TTL = 0;
	cfg->MaxValueSize = OP_MAX_VALUE;
	cfg->StorageType = js_FileStorage;
	cfg->Replicas = 1;
}

struct held {
	op_pub_entry *v;
	size_t n, cap;
};

static int on_held(void *arg, const char *key, const char *val, size_t len, uint64_t rev)
{
	struct held *h = arg;
	(void)rev;
	if (strncmp(key, "app.", 4) != 0)
		return 0;
	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 64;
		op_pub_entry *v = realloc(h->v, cap * sizeof *v);
		if (!v)
			return OP_ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	op_pub_entry *e = &h->v[h->n++];
	memset(e, 0, sizeof *e);
	snprintf(e->name, sizeof e->name, "%s", key + 4);
	op_digest(val, len, e->digest);
	return 0;
}

/* True when the bucket's last write is the marker at marker_rev. */
static bool marker_is_last(jsCtx *js, uint64_t marker_rev)
{
	jsStreamInfo *si = NULL;
	if (!marker_rev || js_GetStreamInfo(&si, js, "KV_" OP_BUCKET, NULL, NULL) != NATS_OK)
		return false;
	bool last = si->State.LastSeq == marker_rev;
	jsStreamInfo_Destroy(si);
	return last;
}

static int held_from_marker(struct held *h, const op_marker *prev)
{
	h->v = calloc(prev->napps + 1, sizeof *h->v);
	if (!h->v)
		return OP_ENOMEM;
	for (size_t i = 0; i < prev->napps; i++) {
		memcpy(h->v[i].name, prev->apps[i].name, sizeof h->v[i].name);
		memcpy(h->v[i].digest, prev->apps[i].digest, sizeof h->v[i].digest);
	}
	h->n = h->cap = prev->napps;
	return 0;
}

int op_publish(jsCtx *js, kvStore *kv, op_pub_entry *want, size_t nwant, op_pub_load load,
	void *load_arg, op_marker *m, const op_marker *prev, uint64_t marker_rev, op_pub_result *r,
	op_err *e)
{
	memset(r, 0, sizeof *r);
	struct held have = {0};
	op_pub_diff d = {0};
	int rc = 0;
	if (prev && marker_is_last(js, marker_rev)) {
		if (held_from_marker(&have, prev) != 0) {
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
			goto out;
		}
	} else if ((rc = op_bus_kv_scan(kv, "app.>", on_held, &have, e)) != 0) {
		goto out;
	}
	qsort(have.v, have.n, sizeof *have.v, entry_cmp);
	if (op_publish_diff(want, nwant, have.v, have.n, &d) != 0) {
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
		goto out;
	}
	char key[8 + OP_NAME_MAX];
	natsStatus s;
	for (size_t i = 0; i < d.nputs; i++) {
		op_pub_entry *w = &want[d.puts[i]];
		snprintf(key, sizeof key, "app.%s", w->name);
		if (!w->json && (rc = load(load_arg, w, e)) != 0)
			goto out;
		if ((s = kvStore_Put(NULL, kv, key, w->json, (int)w->len)) != NATS_OK) {
			rc = op_bus_err(e, s, key);
			goto out;
		}
		r->puts++;
	}
	for (size_t i = 0; i < d.ndels; i++) {
		snprintf(key, sizeof key, "app.%s", have.v[d.dels[i]].name);
		if ((s = kvStore_Delete(kv, key)) != NATS_OK) {
			rc = op_bus_err(e, s, key);
			goto out;
		}
		r->dels++;
	}
	/* The marker lists every app, last, and only if nobody wrote one meanwhile. */
	free(m->apps);
	m->apps = calloc(nwant + 1, sizeof *m->apps);
	m->napps = 0;
	if (!m->apps) {
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < nwant; i++) {
		memcpy(m->apps[i].name, want[i].name, sizeof m->apps[i].name);
		memcpy(m->apps[i].digest, want[i].digest, sizeof m->apps[i].digest);
		m->napps++;
	}
	char *json = NULL;
	if ((rc = op_marker_encode(m, &json, e)) != 0)
		goto out;
	s = marker_rev ? kvStore_Update(NULL, kv, "rev", json, (int)strlen(json), marker_rev)
		       : kvStore_Create(NULL, kv, "rev", json, (int)strlen(json));
	free(json);
	if (s != NATS_OK) {
		rc = op_bus_err(e, s, "write commit marker (another sync wrote it meanwhile?)");
		if (rc == OP_ENATS && s == NATS_ERR)
			rc = OP_ECONFLICT;
		goto out;
	}
	r->wrote_marker = true;
out:
	op_publish_diff_free(&d);
	free(have.v);
	return rc;
}
