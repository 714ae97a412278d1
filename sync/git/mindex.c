/* The hub's manifest index (see include/outpost/sync/git/mindex.h). One line per manifest:
 * "<blob> <digest> <name>", after a header naming the format, so that an index written
 * by another release (whose canonical JSON may differ) is not used. */
#include "outpost/sync/git/mindex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

#define HEADER "outpost-mindex 1 format 1\n"

static int blob_cmp(const void *a, const void *b)
{
	return strcmp(((const op_mindex_entry *)a)->blob, ((const op_mindex_entry *)b)->blob);
}

static int hexlen(const char *s)
{
	int n = 0;
	while ((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))
		n++;
	return n;
}

void op_mindex_load(op_mindex *m, const char *path)
{
	memset(m, 0, sizeof *m);
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	char line[256];
	size_t cap = 0;
	bool ok = fgets(line, sizeof line, f) && !strcmp(line, HEADER);
	while (ok && fgets(line, sizeof line, f)) {
		op_mindex_entry e;
		char *sp1 = strchr(line, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
		char *nl = strchr(line, '\n');
		ok = sp1 && sp2 && nl && sp1 - line == 40 && hexlen(line) == 40 &&
			sp2 - sp1 - 1 == OP_DIGEST_LEN && !strncmp(sp1 + 1, "sha256:", 7) &&
			hexlen(sp1 + 8) == 64 && nl - sp2 - 1 <= OP_NAME_MAX;
		if (!ok)
			break;
		*nl = '\0';
		memcpy(e.blob, line, 40);
		e.blob[40] = '\0';
		memcpy(e.digest, sp1 + 1, OP_DIGEST_LEN);
		e.digest[OP_DIGEST_LEN] = '\0';
		snprintf(e.name, sizeof e.name, "%s", sp2 + 1);
		if (!(ok = op_name_valid(e.name)))
			break;
		if (m->n == cap) {
			cap = cap ? cap * 2 : 256;
			op_mindex_entry *v = realloc(m->v, cap * sizeof *v);
			if (!(ok = v != NULL))
				break;
			m->v = v;
		}
		m->v[m->n++] = e;
	}
	fclose(f);
	if (!ok) {
		op_mindex_clear(m);
		return;
	}
	qsort(m->v, m->n, sizeof *m->v, blob_cmp);
}

int op_mindex_set(op_mindex *m, const op_mindex_entry *entries, size_t n)
{
	op_mindex_entry *v = malloc((n + 1) * sizeof *v);
	if (!v)
		return OP_ENOMEM;
	memcpy(v, entries, n * sizeof *v);
	qsort(v, n, sizeof *v, blob_cmp);
	free(m->v);
	m->v = v;
	m->n = n;
	return 0;
}

int op_mindex_save(const op_mindex *m, const char *path, op_err *e)
{
	size_t cap = sizeof HEADER + m->n * 192, used = 0;
	char *buf = malloc(cap);
	if (!buf)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	used += (size_t)snprintf(buf, cap, "%s", HEADER);
	for (size_t i = 0; i < m->n; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s %s %s\n", m->v[i].blob,
			m->v[i].digest, m->v[i].name);
	int rc = op_write_atomic(path, buf, used, e);
	free(buf);
	return rc;
}

const op_mindex_entry *op_mindex_find(const op_mindex *m, const char *blob)
{
	op_mindex_entry key;
	snprintf(key.blob, sizeof key.blob, "%s", blob);
	return m->n ? bsearch(&key, m->v, m->n, sizeof *m->v, blob_cmp) : NULL;
}

void op_mindex_clear(op_mindex *m)
{
	free(m->v);
	memset(m, 0, sizeof *m);
}
