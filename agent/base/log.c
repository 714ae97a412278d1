/* One line per event on stderr: time, level, quoted message, then key=value pairs.
 * A single write() per line so lines from threads and processes never interleave. */
#include "outpost/agent/base/log.h"

#include <stdarg.h>
#include <stdio.h>
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
		/* Values come from the network too: control characters are escaped, so that
		 * no value can end the line and forge one of its own. */
		char tail[2048];
		va_list ap;
		va_start(ap, kvfmt);
		vsnprintf(tail, sizeof tail, kvfmt, ap);
		va_end(ap);
		buf[n++] = ' ';
		for (const unsigned char *p = (const unsigned char *)tail; *p && n < sizeof buf - 6;
			p++) {
			if (*p >= 0x20 && *p != 0x7f)
				buf[n++] = (char)*p;
			else
				n += (size_t)snprintf(buf + n, 5, "\\x%02x", *p);
		}
	}
	buf[n++] = '\n';
	ssize_t r = write(STDERR_FILENO, buf, n);
	(void)r;
}
