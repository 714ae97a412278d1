/* Internal to the site agent: a table of live keys of a desired-state bucket (the site's
 * mirror as its watcher sees it, or the hub's bucket as read past a stalled mirror).
 * Small (one entry per app, blob, and a few more), so a plain array searched in order. */
#ifndef OUTPOST_SITE_TABLE_INT_H
#define OUTPOST_SITE_TABLE_INT_H

#include <stdbool.h>
#include <stddef.h>

typedef struct ag_entry {
	char *key;
	char *val; /* NUL-terminated too */
	size_t len;
} ag_entry;

typedef struct ag_table {
	ag_entry *v;
	size_t n, cap;
} ag_table;

/* The entry of key (borrowed), or NULL. */
const ag_entry *ag_table_get(const ag_table *t, const char *key);
/* Sets (or with del, removes) a key: 0 or OP_ENOMEM, the table as it was. */
int ag_table_set(ag_table *t, const char *key, const char *val, size_t len, bool del);
/* *dst, empty, made a copy of src: 0 or OP_ENOMEM (dst empty). */
int ag_table_copy(ag_table *dst, const ag_table *src);
void ag_table_clear(ag_table *t);

#endif
