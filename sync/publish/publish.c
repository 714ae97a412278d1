/* An accepted revision into KV (see include/outpost/sync/publish/publish.h). The bucket is read
 * back before writing, so what is compared is what the bucket holds, not what the
 * last marker claims: a pass that died between its puts and its marker is repaired by
 * the next one, and a pass over an unchanged head writes nothing at all. */
#include "outpost/sync/publish/publish.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/sync/publish/chain.h"

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
		op_publish_diff_clear(d);
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

void op_publish_diff_clear(op_pub_diff *d)
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

int op_publish_last_seq(jsCtx *js, uint64_t *seq, op_err *e)
{
	jsStreamInfo *si = NULL;
	natsStatus st = js_GetStreamInfo(&si, js, "KV_" OP_BUCKET, NULL, NULL);
	if (st != NATS_OK)
		return op_bus_err(e, st, "stream info KV_" OP_BUCKET);
	*seq = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return 0;
}

static int on_held_blob(void *arg, const char *key, const char *val, size_t len, uint64_t rev)
{
	op_blob_ids *b = arg;
	(void)val;
	(void)len;
	(void)rev;
	const char *id = key + strlen(OP_PROOF_BLOB_PREFIX);
	if (strncmp(key, OP_PROOF_BLOB_PREFIX, strlen(OP_PROOF_BLOB_PREFIX)) != 0 ||
		strlen(id) != OP_GIT_ID_LEN)
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		void *v = realloc(b->v, cap * sizeof *b->v);
		if (!v)
			return OP_ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	memcpy(b->v[b->n++], id, OP_GIT_ID_LEN + 1);
	return 0;
}

/* The blobs the revision needs and the bucket lacks, then the proof's blob keys it holds
 * that the revision no longer names (dels: after the app deletes). */
static int put_blobs(
	op_chain *c, const op_pub_proof *p, const op_blob_ids *held, op_pub_result *r, op_err *e)
{
	char key[sizeof OP_PROOF_BLOB_PREFIX + OP_GIT_ID_LEN];
	for (size_t i = 0; i < p->blobs->n; i++) {
		if (op_blob_ids_has(held, p->blobs->v[i]))
			continue;
		char *buf = NULL;
		size_t len = 0;
		int rc = p->load(p->load_arg, p->blobs->v[i], &buf, &len, e);
		snprintf(key, sizeof key, OP_PROOF_BLOB_PREFIX "%s", p->blobs->v[i]);
		if (rc == 0)
			rc = op_chain_put(c, key, buf ? buf : "", len, e);
		free(buf);
		if (rc)
			return rc;
		r->blob_puts++;
	}
	return 0;
}

static int del_blobs(
	op_chain *c, const op_pub_proof *p, const op_blob_ids *held, op_pub_result *r, op_err *e)
{
	char key[sizeof OP_PROOF_BLOB_PREFIX + OP_GIT_ID_LEN];
	for (size_t i = 0; i < held->n; i++) {
		if (op_blob_ids_has(p->blobs, held->v[i]))
			continue;
		snprintf(key, sizeof key, OP_PROOF_BLOB_PREFIX "%s", held->v[i]);
		int rc = op_chain_put(c, key, NULL, 0, e);
		if (rc)
			return rc;
		r->blob_dels++;
	}
	return 0;
}

/* The blobs the bucket's proof names, when that proof is prev's. */
static int held_blobs_from_proof(kvStore *kv, const op_marker *prev, op_blob_ids *held)
{
	char *val = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	op_err e = {0};
	op_proof p;
	if (op_bus_kv_get(kv, "proof", &val, &len, &rev, &e) != 0)
		return -1;
	int rc = op_proof_decode(val, len, &p, &e);
	free(val);
	if (rc)
		return rc;
	rc = strcmp(p.commit, prev->commit) ? -1 : op_proof_blobs(&p, held, &e);
	op_proof_clear(&p);
	return rc;
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

int op_publish(natsConnection *nc, kvStore *kv, op_pub_entry *want, size_t nwant, op_pub_load load,
	void *load_arg, const op_pub_proof *proof, op_marker *m, const op_marker *prev,
	uint64_t marker_rev, uint64_t base_seq, int window, op_pub_result *r, op_err *e)
{
	memset(r, 0, sizeof *r);
	op_chain c;
	if (op_chain_open(&c, nc, base_seq, window, e) != 0)
		return e->code;
	struct held have = {0};
	op_blob_ids held_blobs = {0};
	op_pub_diff d = {0};
	int rc = 0;
	if (prev && marker_rev && marker_rev == base_seq) {
		if (held_from_marker(&have, prev) != 0) {
			rc = op_err_set(e, OP_ENOMEM, "out of memory");
			goto out;
		}
	} else if ((rc = op_bus_kv_scan(NULL, kv, "app.>", on_held, &have, e)) != 0) {
		goto out;
	}
	if (proof && prev && marker_rev && marker_rev == base_seq &&
		held_blobs_from_proof(kv, prev, &held_blobs) == 0) {
		/* The marker was the last write, so the proof before it says which blobs the
		 * bucket holds: no scan of the blob keys. */
	} else if (proof) {
		op_blob_ids_clear(&held_blobs);
		if ((rc = op_bus_kv_keys(NULL, kv, OP_PROOF_BLOB_PREFIX ">", on_held_blob,
			     &held_blobs, e)) != 0) {
			if (rc == OP_ENOMEM)
				op_err_set(e, OP_ENOMEM, "out of memory");
			goto out;
		}
		op_blob_ids_sort(&held_blobs);
	}
	qsort(have.v, have.n, sizeof *have.v, entry_cmp);
	if (op_publish_diff(want, nwant, have.v, have.n, &d) != 0) {
		rc = op_err_set(e, OP_ENOMEM, "out of memory");
		goto out;
	}
	char key[8 + OP_NAME_MAX];
	for (size_t i = 0; i < d.nputs; i++) {
		op_pub_entry *w = &want[d.puts[i]];
		snprintf(key, sizeof key, "app.%s", w->name);
		if (!w->json && (rc = load(load_arg, w, e)) != 0)
			goto out;
		if ((rc = op_chain_put(&c, key, w->json, w->len, e)) != 0)
			goto out;
		r->puts++;
	}
	if (proof && (rc = put_blobs(&c, proof, &held_blobs, r, e)) != 0)
		goto out;
	for (size_t i = 0; i < d.ndels; i++) {
		snprintf(key, sizeof key, "app.%s", have.v[d.dels[i]].name);
		if ((rc = op_chain_put(&c, key, NULL, 0, e)) != 0)
			goto out;
		r->dels++;
	}
	if (proof &&
		((rc = del_blobs(&c, proof, &held_blobs, r, e)) != 0 ||
			(rc = op_chain_put(&c, "proof", proof->json, proof->len, e)) != 0))
		goto out;
	/* The marker lists every app, last, once every write before it is stored, each
	 * right after the one before: a refused write never has a marker after it. */
	if ((rc = op_chain_wait(&c, e)) != 0)
		goto out;
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
	rc = op_chain_put(&c, "rev", json, strlen(json), e);
	free(json);
	if (rc || (rc = op_chain_wait(&c, e)) != 0)
		goto out;
	r->wrote_marker = true;
out:
	op_chain_close(&c);
	op_publish_diff_clear(&d);
	free(have.v);
	op_blob_ids_clear(&held_blobs);
	return rc;
}

int op_publish_proof(natsConnection *nc, kvStore *kv, const op_pub_proof *proof, uint64_t base_seq,
	int window, size_t *puts, op_err *e)
{
	op_blob_ids held = {0};
	op_pub_result r = {0};
	op_chain c;
	int rc = op_chain_open(&c, nc, base_seq, window, e);
	if (rc == 0 &&
		(rc = op_bus_kv_keys(NULL, kv, OP_PROOF_BLOB_PREFIX ">", on_held_blob, &held, e)) ==
			OP_ENOMEM)
		op_err_set(e, OP_ENOMEM, "out of memory");
	if (rc == 0) {
		op_blob_ids_sort(&held);
		rc = put_blobs(&c, proof, &held, &r, e);
	}
	/* The proof once the blobs it names are in place. */
	if (rc == 0 && (rc = op_chain_wait(&c, e)) == 0 &&
		(rc = op_chain_put(&c, "proof", proof->json, proof->len, e)) == 0)
		rc = op_chain_wait(&c, e);
	*puts = r.blob_puts;
	op_blob_ids_clear(&held);
	op_chain_close(&c);
	return rc;
}
