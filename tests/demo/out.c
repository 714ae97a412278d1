/* The demo's output: numbered steps, narration, the commands it runs, and the verdict.
 * Plain text when stdout is not a terminal (no ANSI codes in a pipe or a log). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "demo.h"
#include "harness.h"
#include "t.h"

char demo_bin[4096], demo_tmp[512], demo_tag[16];
bool demo_tty, demo_cleaned;
long long demo_t0;
static int nstep;

double demo_elapsed(void)
{
	return (double)(h_now_ms() - demo_t0) / 1000.0;
}

/* Writes n bytes of s with the temp dir shown as $DEMO and the binary as outpost. */
static void put_short(FILE *f, const char *s, size_t n)
{
	size_t lt = strlen(demo_tmp), lb = strlen(demo_bin);
	for (size_t i = 0; i < n;) {
		if (lb && n - i >= lb && !strncmp(s + i, demo_bin, lb)) {
			fputs("outpost", f);
			i += lb;
		} else if (lt && n - i >= lt && !strncmp(s + i, demo_tmp, lt)) {
			fputs("$DEMO", f);
			i += lt;
		} else {
			fputc(s[i++], f);
		}
	}
}

void demo_block(const char *prefix, const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");
		fputs(prefix, stdout);
		put_short(stdout, text, n);
		fputc('\n', stdout);
		text += n + (text[n] == '\n');
	}
}

void demo_step(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	printf("\n%s== %d. %s%s  [%.1f s]\n", demo_tty ? "\033[1m" : "", ++nstep, buf,
		demo_tty ? "\033[0m" : "", demo_elapsed());
}

void demo_say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = h__vfmt(fmt, ap);
	va_end(ap);
	demo_block("   ", s);
	free(s);
}

void demo_show(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = h__vfmt(fmt, ap);
	va_end(ap);
	demo_block(demo_tty ? "   \033[36m$\033[0m " : "   $ ", s);
	free(s);
}

/* True when stdout and stderr are different files: then the verdict goes to both. */
static bool split_output(void)
{
	struct stat a, b;
	return fstat(1, &a) != 0 || fstat(2, &b) != 0 || a.st_dev != b.st_dev ||
		a.st_ino != b.st_ino;
}

void demo_fail(const char *fmt, ...)
{
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fflush(stdout);
	bool color = isatty(2);
	const char *red = color ? "\033[1;31m" : "", *off = color ? "\033[0m" : "";
	fprintf(stderr, "\n%sdemo: FAILED%s at step %d: %s\n", red, off, nstep, msg);
	if (!demo_cleaned) {
		static struct procs p;
		procs_scan(&p); /* adopts the shims and workloads started since the last look */
		t_failed_checks++; /* so that the harness prints the tail of every log */
		demo_cleaned = true;
		h_cleanup();
	}
	fprintf(stderr, "%sdemo: FAILED%s at step %d after %.1f s: %s\n", red, off, nstep,
		demo_elapsed(), msg);
	if (split_output())
		printf("demo: FAILED at step %d after %.1f s: %s\n", nstep, demo_elapsed(), msg);
	exit(1);
}
