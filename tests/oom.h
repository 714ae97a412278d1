/* Fault injection for out-of-memory tests, SQLite-style: a test allocator that fails
 * the Nth allocation, so that a test can run one operation for every N in turn and
 * reach each of its allocation failure paths.
 *
 * It sits under our own objects by the linker's --wrap (malloc, calloc, realloc,
 * strdup, strndup, free: see the test_oom rules in build.mk), and under jansson through
 * json_set_alloc_funcs. libyaml and mbedtls allocate inside their shared libraries,
 * which --wrap does not reach: their own failures are not injected, only ours around
 * them. __real_malloc is the allocator the program would have used (ASan's under ASan),
 * so ASan still sees every block.
 *
 * While armed it also keeps the set of blocks allocated since oom_arm and not freed,
 * so a test without ASan still finds a leak at the iteration that made it. Not
 * thread-safe: the OOM test is single-threaded. */
#ifndef OUTPOST_TEST_OOM_H
#define OUTPOST_TEST_OOM_H

#include <stdbool.h>
#include <stddef.h>

/* Counts allocations from now on and fails the one numbered n (0-based); with persist,
 * every later one fails too. n < 0 fails none (counting only). Forgets earlier blocks. */
void oom_arm(long n, bool persist);
/* Stops failing and counting; returns how many allocations were counted. The live
 * set is kept, so that what the operation's caller frees afterwards still counts. */
long oom_disarm(void);
/* Whether an allocation was failed since oom_arm. */
bool oom_fired(void);
/* Whether the failed allocation was jansson's: its loader reports a failure as a
 * syntax error (or with no text), so a decoder may rightly answer OP_EINVAL. */
bool oom_fired_json(void);
/* Forgets the call sites failed so far. */
void oom_sites_reset(void);
/* How many distinct call sites had an allocation failed since oom_sites_reset: ours
 * (json false), or jansson's own (json true). */
size_t oom_sites(bool json);
/* The same since the program started. */
size_t oom_sites_ever(bool json);
/* Blocks allocated since oom_arm and not freed yet. */
size_t oom_live(void);
/* Routes jansson's allocations through the same allocator; once one of them failed,
 * the later ones of the same run fail too (see oom.c). Call once, before any JSON
 * value exists. */
void oom_jansson(void);

#endif
