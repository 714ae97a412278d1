/* See oom.h. The live set is an open-addressing hash set of pointers (linear probing,
 * deletion by backward shift), kept with the real allocator so that it never counts
 * itself. */
#include "oom.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
char *__real_strndup(const char *s, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
char *__wrap_strndup(const char *s, size_t n);
void __wrap_free(void *p);

static bool armed, persist, fired, fired_json;
static long target, count;

static void **set;
static size_t cap, used;

static size_t home(const void *p)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15ull) & (cap - 1);
}

static size_t slot(const void *p)
{
	size_t i = home(p);
	while (set[i] && set[i] != p)
		i = (i + 1) & (cap - 1);
	return i;
}

static void track(void *p)
{
	if ((used + 1) * 2 > cap) {
		void **old = set;
		size_t ocap = cap;
		cap = cap ? cap * 2 : 1024;
		set = __real_calloc(cap, sizeof *set);
		if (!set) {
			fputs("oom: no memory for the live set\n", stderr);
			abort();
		}
		for (size_t i = 0; i < ocap; i++)
			if (old[i])
				set[slot(old[i])] = old[i];
		__real_free(old);
	}
	size_t i = slot(p);
	if (!set[i]) {
		set[i] = p;
		used++;
	}
}

static void *keep(void *p)
{
	if (p && armed)
		track(p);
	return p;
}

/* Removes p if held; true when it was. */
static bool untrack(const void *p)
{
	if (!used || !p)
		return false;
	size_t i = slot(p);
	if (!set[i])
		return false;
	set[i] = NULL;
	used--;
	for (size_t j = (i + 1) & (cap - 1); set[j]; j = (j + 1) & (cap - 1)) {
		size_t k = home(set[j]);
		/* set[j] may move to the hole at i unless its home lies cyclically in (i, j]. */
		bool stays = i < j ? (k > i && k <= j) : (k > i || k <= j);
		if (!stays) {
			set[i] = set[j];
			set[j] = NULL;
			i = j;
		}
	}
	return true;
}

/* The call sites failed since oom_sites_reset: return addresses in our objects (or,
 * for jansson's allocations, inside jansson). */
#define OOM_MAX_SITES 4096
struct sites {
	const void *at[OOM_MAX_SITES];
	bool json[OOM_MAX_SITES];
	size_t n;
};
static struct sites since_reset, ever;

static void add_site(struct sites *s, const void *site, bool json)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->at[i] == site)
			return;
	if (s->n < OOM_MAX_SITES) {
		s->json[s->n] = json;
		s->at[s->n++] = site;
	}
}

static size_t count_sites(const struct sites *s, bool json)
{
	size_t n = 0;
	for (size_t i = 0; i < s->n; i++)
		n += s->json[i] == json;
	return n;
}

/* Whether the allocation being made now (called from site) is to fail. */
static bool fail_now(const void *site, bool json)
{
	if (!armed)
		return false;
	long n = count++;
	if (target < 0 || n < target || (n > target && !persist))
		return false;
	fired = true;
	add_site(&since_reset, site, json);
	add_site(&ever, site, json);
	return true;
}

/* jansson 2.14 goes on after some of its own allocation failures (lex_save in load.c,
 * an object key in dump.c), trusting the next allocation to fail too, as it would under
 * real memory pressure. A failure that heals at once makes it drop a key from the text
 * it writes, or crash inside json_loadb (both seen with this allocator): jansson's to
 * fix, not ours. So once one of its allocations failed, the rest of the run's do. */
static void *json_alloc(size_t n)
{
	if (armed && fired_json) {
		count++;
		return NULL;
	}
	if (fail_now(__builtin_return_address(0), true)) {
		fired_json = true;
		return NULL;
	}
	return keep(__real_malloc(n));
}

void *__wrap_malloc(size_t n)
{
	return fail_now(__builtin_return_address(0), false) ? NULL : keep(__real_malloc(n));
}

void *__wrap_calloc(size_t n, size_t size)
{
	return fail_now(__builtin_return_address(0), false) ? NULL : keep(__real_calloc(n, size));
}

/* A failed realloc leaves p allocated and the caller's. */
void *__wrap_realloc(void *p, size_t n)
{
	if (fail_now(__builtin_return_address(0), false))
		return NULL;
	bool held = p && untrack(p);
	void *q = __real_realloc(p, n);
	if (!q) {
		if (held)
			track(p);
		return NULL;
	}
	if (held || (!p && armed))
		track(q);
	return q;
}

char *__wrap_strdup(const char *s)
{
	return fail_now(__builtin_return_address(0), false) ? NULL : keep(__real_strdup(s));
}

char *__wrap_strndup(const char *s, size_t n)
{
	return fail_now(__builtin_return_address(0), false) ? NULL : keep(__real_strndup(s, n));
}

void __wrap_free(void *p)
{
	untrack(p);
	__real_free(p);
}

void oom_arm(long n, bool persist_)
{
	if (set)
		memset(set, 0, cap * sizeof *set);
	used = 0;
	target = n;
	persist = persist_;
	fired = fired_json = false;
	count = 0;
	armed = true;
}

long oom_disarm(void)
{
	armed = false;
	return count;
}

bool oom_fired(void)
{
	return fired;
}

bool oom_fired_json(void)
{
	return fired_json;
}

void oom_sites_reset(void)
{
	since_reset.n = 0;
}

size_t oom_sites(bool json)
{
	return count_sites(&since_reset, json);
}

size_t oom_sites_ever(bool json)
{
	return count_sites(&ever, json);
}

size_t oom_live(void)
{
	return used;
}

void oom_jansson(void)
{
	json_set_alloc_funcs(json_alloc, __wrap_free);
}
