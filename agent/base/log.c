/* One line per event on stderr, in logfmt: time, level, quoted message, then key=value
 * pairs. A single write() per line so lines from threads and processes never interleave. */
#include "outpost/agent/base/log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static enum op_log_level min_level = OP_LOG_INFO;

void op_log_set_level(enum op_log_level lvl)
{
	min_level = lvl;
}

static const char *level_name(enum op_log_level l)
{
	switch (l) {
	case OP_LOG_DEBUG: return "debug";
	case OP_LOG_INFO: return "info";
	case OP_LOG_WARN: return "warn";
	case OP_LOG_ERROR: return "error";
	}
	return "info";
}

/* ---- the key=value tail ------------------------------------------------------------- */

/* The tail is built from the caller's format one conversion at a time, so that each
 * value can be written as logfmt wants it whatever it holds: inside the format's own
 * quotes (key="%s") a quote or backslash is escaped; a value outside quotes that holds a
 * space, a quote or '=' is quoted; a control character is \xNN everywhere. So no value
 * read off the network can break a line's syntax or start a line of its own. */
typedef struct tail {
	char *buf;
	size_t n, cap;
	bool quoted; /* inside a quoted value of the format */
} tail;

static void put_raw(tail *t, const char *s, size_t len)
{
	for (size_t i = 0; i < len && t->n + 1 < t->cap; i++)
		t->buf[t->n++] = s[i];
}

/* Writes v as a (part of a) value: escaped as above. */
static void put_value(tail *t, const char *v)
{
	bool quote = !t->quoted && v[strcspn(v, " \"=\\")] != '\0';
	if (quote)
		put_raw(t, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p && t->n + 5 < t->cap; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			t->n += (size_t)snprintf(t->buf + t->n, 5, "\\x%02x", *p);
		} else {
			if ((*p == '"' || *p == '\\') && (t->quoted || quote))
				t->buf[t->n++] = '\\';
			t->buf[t->n++] = (char)*p;
		}
	}
	if (quote)
		put_raw(t, "\"", 1);
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* Formats one conversion spec (as written, e.g. "%.12s", "%llu") with its argument(s).
 * false for a conversion it does not know: its argument's type is unknown, so the rest
 * of the format is not read (rather than misread). */
static bool put_conv(tail *t, const char *spec, size_t len, va_list *ap)
{
	char f[32], out[1024];
	if (len >= sizeof f)
		return false;
	memcpy(f, spec, len);
	f[len] = '\0';
	char conv = f[len - 1];
	int stars[2], nstars = 0;
	for (size_t i = 1; i + 1 < len; i++)
		if (f[i] == '*' && nstars < 2)
			stars[nstars++] = va_arg(*ap, int);
	bool l = strstr(f, "l") != NULL, ll = strstr(f, "ll") != NULL;
	bool z = strchr(f, 'z') != NULL, j = strchr(f, 'j') != NULL;
	bool td = strchr(f, 't') != NULL;
	out[0] = '\0';
#define FMT(arg) \
	(nstars == 2                  ? snprintf(out, sizeof out, f, stars[0], stars[1], arg) \
			: nstars == 1 ? snprintf(out, sizeof out, f, stars[0], arg) \
				      : snprintf(out, sizeof out, f, arg))
	switch (conv) {
	case 'd':
	case 'i':
		if (ll)
			FMT(va_arg(*ap, long long));
		else if (l)
			FMT(va_arg(*ap, long));
		else if (z)
			FMT(va_arg(*ap, ssize_t));
		else if (j)
			FMT(va_arg(*ap, intmax_t));
		else if (td)
			FMT(va_arg(*ap, ptrdiff_t));
		else
			FMT(va_arg(*ap, int));
		break;
	case 'u':
	case 'x':
	case 'X':
	case 'o':
		if (ll)
			FMT(va_arg(*ap, unsigned long long));
		else if (l)
			FMT(va_arg(*ap, unsigned long));
		else if (z)
			FMT(va_arg(*ap, size_t));
		else if (j)
			FMT(va_arg(*ap, uintmax_t));
		else if (td)
			FMT(va_arg(*ap, size_t));
		else
			FMT(va_arg(*ap, unsigned int));
		break;
	case 'c': FMT(va_arg(*ap, int)); break;
	case 'f':
	case 'F':
	case 'g':
	case 'G':
	case 'e':
	case 'E':
	case 'a':
	case 'A': FMT(va_arg(*ap, double)); break;
	case 'p': FMT(va_arg(*ap, void *)); break;
	case 's': {
		const char *s = va_arg(*ap, const char *);
		FMT(s ? s : "(null)");
		break;
	}
	default: return false; /* %n, %ls, ...: never written by outpost */
	}
#undef FMT
	put_value(t, out);
	return true;
}
#pragma GCC diagnostic pop

static void put_tail(tail *t, const char *fmt, va_list ap)
{
	va_list cp;
	va_copy(cp, ap);
	for (const char *p = fmt; *p && t->n + 1 < t->cap;) {
		if (*p != '%') {
			if (*p == '"')
				t->quoted = !t->quoted;
			if ((unsigned char)*p >= 0x20)
				put_raw(t, p, 1);
			p++;
			continue;
		}
		if (p[1] == '%') {
			put_raw(t, "%", 1);
			p += 2;
			continue;
		}
		size_t len = 1 + strspn(p + 1, "-+ #0123456789.*hlzjt");
		if (!p[len] || !put_conv(t, p, len + 1, &cp)) {
			put_raw(t, "...", 3); /* the rest cannot be read safely */
			break;
		}
		p += len + 1;
	}
	va_end(cp);
}

void op_log(enum op_log_level lvl, const char *msg, const char *kvfmt, ...)
{
	if (lvl < min_level)
		return;
	char buf[2048];
	size_t n = 0;
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n += strftime(buf, sizeof buf, "time=%Y-%m-%dT%H:%M:%S", &tm);
	int w = snprintf(buf + n, sizeof buf - n, ".%03ldZ level=%s msg=\"", ts.tv_nsec / 1000000,
		level_name(lvl));
	n += (w > 0 && (size_t)w < sizeof buf - n) ? (size_t)w : 0;
	for (const char *p = msg; *p && n < sizeof buf - 4; p++) {
		if (*p == '"' || *p == '\\')
			buf[n++] = '\\';
		buf[n++] = ((unsigned char)*p < 0x20) ? ' ' : *p;
	}
	buf[n++] = '"';
	if (kvfmt && *kvfmt && n < sizeof buf - 2) {
		buf[n++] = ' ';
		tail t = {buf, n, sizeof buf - 1, false};
		va_list ap;
		va_start(ap, kvfmt);
		put_tail(&t, kvfmt, ap);
		va_end(ap);
		n = t.n;
	}
	buf[n++] = '\n';
	ssize_t r = write(STDERR_FILENO, buf, n);
	(void)r;
}
