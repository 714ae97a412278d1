/* Tables of live keys (see table_int.h): the mirror's, kept by its watcher thread, and
 * the hub's, read past a stalled mirror. */
#include "table_int.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/util.h"

static long find(const ag_table *t, const char *key)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].key, key))
			return (long)i;
	return -1;
}

const ag_entry *ag_table_get(const ag_table *t, const char *key)
{
	long i = find(t, key);
	return i < 0 ? NULL : &t->v[i];
}

int ag_table_set(ag_table *t, const char *key, const char *val, size_t len, bool del)
{
	long i = find(t, key);
	if (del) {
		if (i >= 0) {
			free(t->v[i].key);
			free(t->v[i].val);
			t->v[i] = t->v[--t->n];
		}
		return 0;
	}
	char *v = malloc(len + 1);
	if (!v)
		return OP_ENOMEM;
	memcpy(v, val, len);
	v[len] = '\0';
	if (i >= 0) {
		free(t->v[i].val);
		t->v[i].val = v;
		t->v[i].len = len;
		return 0;
	}
	char *k = strdup(key);
	if (!k || op_grow((void **)&t->v, &t->cap, t->n + 1, sizeof *t->v) != 0) {
		free(k);
		free(v);
		return OP_ENOMEM;
	}
	ag_entry *e = &t->v[t->n++];
	e->key = k;
	e->val = v;
	e->len = len;
	return 0;
}

int ag_table_copy(ag_table *dst, const ag_table *src)
{
	memset(dst, 0, sizeof *dst);
	for (size_t i = 0; i < src->n; i++)
		if (ag_table_set(dst, src->v[i].key, src->v[i].val, src->v[i].len, false) != 0) {
			ag_table_clear(dst);
			return OP_ENOMEM;
		}
	return 0;
}

void ag_table_clear(ag_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->v[i].key), free(t->v[i].val);
	free(t->v);
	memset(t, 0, sizeof *t);
}
