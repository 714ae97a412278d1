/* A small test framework: each test is a function; checks record failures; the program
 * ends with `N passed, N failed, N skipped` (tests, not checks) and exits non-zero on a failure. */
#ifndef OUTPOST_TEST_T_H
#define OUTPOST_TEST_T_H

#include <stdbool.h>
#include <string.h>

extern int t_failed_checks;

void t_fail(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs one test unless TEST_FILTER is set and not a substring of its name. */
void t_run(const char *name, void (*fn)(void));
/* Marks the running test skipped (say why, e.g. "run with TEST_FILTER=slow"): it is
 * counted as skipped, not passed, unless a check of it failed. The caller returns. */
void t_skip(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Writes text into the file dir/name (a fixture: a fake /proc or cgroup tree); false
 * if it cannot. */
bool t_write(const char *dir, const char *name, const char *text);
/* Prints the summary line, `N passed, N failed, N skipped`; returns the exit code. */
int t_done(void);

#define T_RUN(fn) t_run(#fn, fn)
#define T_CHECK(c) \
	do { \
		if (!(c)) \
			t_fail(__FILE__, __LINE__, "check failed: %s", #c); \
	} while (0)
#define T_CHECK_MSG(c, ...) \
	do { \
		if (!(c)) \
			t_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)
#define T_EQ_INT(a, b) \
	do { \
		long long t_a_ = (long long)(a), t_b_ = (long long)(b); \
		if (t_a_ != t_b_) \
			t_fail(__FILE__, __LINE__, "%s == %s: %lld != %lld", #a, #b, t_a_, t_b_); \
	} while (0)
#define T_EQ_STR(a, b) \
	do { \
		const char *t_a_ = (a), *t_b_ = (b); \
		if (!t_a_ || !t_b_ || strcmp(t_a_, t_b_) != 0) \
			t_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, \
				t_a_ ? t_a_ : "(null)", t_b_ ? t_b_ : "(null)"); \
	} while (0)
/* Stops the current test when the check fails (for checks later ones depend on). */
#define T_REQUIRE(c) \
	do { \
		if (!(c)) { \
			t_fail(__FILE__, __LINE__, "required: %s", #c); \
			return; \
		} \
	} while (0)

#endif
