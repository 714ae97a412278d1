/* The artifacts the accepted revision pins that the hub's store lacks: the pure
 * decision (see include/outpost/sync/loop/artcheck.h). */
#include "outpost/sync/loop/artcheck.h"

#include <stdlib.h>
#include <string.h>

static bool held(const op_objmeta *have, size_t nhave, const uint8_t sha[32])
{
	for (size_t i = 0; i < nhave; i++)
		if (op_objmeta_live(&have[i]) && have[i].has_digest &&
			!memcmp(have[i].sha256, sha, 32))
			return true;
	return false;
}

static int by_digest(const void *a, const void *b)
{
	return memcmp(((const op_art_missing_item *)a)->sha256,
		((const op_art_missing_item *)b)->sha256, 32);
}

int op_artcheck_missing(const op_art_refs *refs, const op_objmeta *have, size_t nhave,
	op_art_missing *out, op_err *e)
{
	op_art_missing_clear(out);
	if (!refs->n)
		return 0;
	out->v = calloc(refs->n, sizeof *out->v);
	if (!out->v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	for (size_t i = 0; i < refs->n; i++) {
		const uint8_t *sha = refs->v[i].sha256;
		bool seen = false;
		for (size_t k = 0; k < out->n && !seen; k++)
			seen = !memcmp(out->v[k].sha256, sha, 32);
		if (seen || held(have, nhave, sha))
			continue;
		op_art_missing_item *it = &out->v[out->n++];
		memcpy(it->sha256, sha, 32);
		op_art_refs_apps(refs, sha, it->apps, sizeof it->apps);
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof *out->v, by_digest);
	if (!out->n) {
		free(out->v);
		out->v = NULL;
	}
	return 0;
}

int op_art_missing_copy(op_art_missing *out, const op_art_missing *m, op_err *e)
{
	op_art_missing_clear(out);
	if (!m->n)
		return 0;
	if (!(out->v = malloc(m->n * sizeof *out->v)))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	memcpy(out->v, m->v, m->n * sizeof *out->v);
	out->n = m->n;
	return 0;
}

void op_art_missing_clear(op_art_missing *m)
{
	free(m->v);
	m->v = NULL;
	m->n = 0;
}
