/* See t.h. */
#include "t.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int t_failed_checks;
static int passed, failed, skipped;
static const char *current;
static char skip_why[256]; /* set by t_skip during the running test */

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "  FAIL %s (%s:%d): ", current ? current : "?", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	t_failed_checks++;
}

bool t_write(const char *dir, const char *name, const char *text)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	if (!f)
		return false;
	bool ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

void t_run(const char *name, void (*fn)(void))
{
	const char *filter = getenv("TEST_FILTER");
	if (filter && *filter && !strstr(name, filter))
		return;
	int before = t_failed_checks;
	struct timespec a, b;
	current = name;
	skip_why[0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &a);
	fn();
	clock_gettime(CLOCK_MONOTONIC, &b);
	double ms = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
	if (t_failed_checks == before && skip_why[0]) {
		skipped++;
		printf("skip %s (%s)\n", name, skip_why);
	} else if (t_failed_checks == before) {
		passed++;
		printf("ok   %s (%.0f ms)\n", name, ms);
	} else {
		failed++;
		printf("FAIL %s (%.0f ms)\n", name, ms);
	}
	fflush(stdout);
	current = NULL;
}

void t_skip(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(skip_why, sizeof skip_why, fmt, ap);
	va_end(ap);
	if (n <= 0)
		snprintf(skip_why, sizeof skip_why, "skipped");
}

int t_done(void)
{
	printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
	return failed ? 1 : 0;
}
