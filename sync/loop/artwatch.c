/* Sync's reads for the artifacts the accepted revision pins that the hub's store lacks
 * (see include/outpost/sync/loop/artcheck.h): the pins once per revision, the store's
 * listing at a bounded rate, each missing artifact logged once per revision. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/model/manifest.h"
#include "outpost/agent/store/store.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/sync/loop/artcheck.h"

/* The pins of the revision the marker names: what each of its apps' values says. */
static int read_pins(kvStore *kv, const op_marker *m, op_art_refs *refs, op_err *e)
{
	op_art_refs_clear(refs);
	int rc = 0;
	for (size_t i = 0; !rc && i < m->napps; i++) {
		char key[OP_NAME_MAX + 8], *val = NULL;
		size_t len = 0;
		uint64_t rev = 0;
		snprintf(key, sizeof key, "app.%s", m->apps[i].name);
		rc = op_bus_kv_get(kv, key, &val, &len, &rev, e);
		if (rc == 0)
			rc = op_art_refs_add_json(refs, val, len, e);
		free(val);
	}
	if (rc)
		op_art_refs_clear(refs);
	return rc;
}

/* The store's live objects into l; a store that is not there is an empty list. */
static int list_store(op_bus *b, op_store_list *l, op_err *e)
{
	memset(l, 0, sizeof *l);
	op_store s;
	int rc = op_store_open(&s, b, OP_STORE_BUCKET, false, e);
	if (rc == OP_ENOTFOUND)
		return 0;
	if (rc)
		return rc;
	rc = op_store_list_read(&s, l, e);
	op_store_close(&s);
	return rc;
}

static void say(op_artwatch *w, size_t before)
{
	if (w->missing.n && w->warned_seq != w->seq) {
		for (size_t i = 0; i < w->missing.n; i++) {
			char d[OP_ART_DIGEST_LEN + 1];
			op_art_digest_format(w->missing.v[i].sha256, d);
			op_log_warn("the accepted revision pins an artifact the hub's store lacks: "
				    "sites cannot stage it, the file must be on the boxes already",
				"seq=%llu digest=%s apps=%s", (unsigned long long)w->seq, d,
				w->missing.v[i].apps);
		}
		w->warned_seq = w->seq;
	} else if (!w->missing.n && before) {
		op_log_info("every artifact the accepted revision pins is in the hub's store",
			"seq=%llu artifacts=%zu", (unsigned long long)w->seq, w->refs.n);
	}
}

void op_artwatch_step(op_artwatch *w, op_bus *b, kvStore *kv, int64_t now_ms)
{
	op_err e = {0};
	char *val = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	op_marker m = {0};
	int rc = op_bus_kv_get(kv, "rev", &val, &len, &rev, &e);
	if (rc == OP_ENOTFOUND) { /* no accepted revision: nothing is pinned */
		op_art_refs_clear(&w->refs);
		op_art_missing_clear(&w->missing);
		w->seq = 0;
		return;
	}
	if (rc == 0)
		rc = op_marker_decode(val, len, &m, &e);
	free(val);
	if (rc == 0 && m.seq != w->seq) {
		rc = read_pins(kv, &m, &w->refs, &e);
		if (rc == 0) {
			w->seq = m.seq;
			w->next_ms = 0; /* a new revision: listed now */
		}
	}
	op_marker_clear(&m);
	if (rc == 0 && now_ms >= w->next_ms) {
		size_t before = w->missing.n;
		op_store_list l = {0};
		if (w->refs.n)
			rc = list_store(b, &l, &e);
		if (rc == 0)
			rc = op_artcheck_missing(&w->refs, l.v, l.n, &w->missing, &e);
		op_store_list_clear(&l);
		if (rc == 0) {
			w->next_ms = now_ms +
				(w->missing.n ? OP_ARTWATCH_MISSING_MS : OP_ARTWATCH_QUIET_MS);
			say(w, before);
		}
	}
	if (rc)
		w->next_ms = now_ms + OP_ARTWATCH_MISSING_MS; /* retried, at the same bound */
	if (rc && !w->failing)
		op_log_warn("cannot check the accepted revision's artifacts against the hub's "
			    "store; retrying",
			"error=\"%s\"", e.msg);
	else if (!rc && w->failing)
		op_log_info("checking the accepted revision's artifacts works again", NULL);
	w->failing = rc != 0;
}

void op_artwatch_clear(op_artwatch *w)
{
	op_art_refs_clear(&w->refs);
	op_art_missing_clear(&w->missing);
	memset(w, 0, sizeof *w);
}
