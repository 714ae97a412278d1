/* Error values and diagnostic lists (see include/outpost/agent/base/err.h). */
#include "outpost/agent/base/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#undef op_err_set /* the function itself, not the analyzer's macro (err.h) */
int op_err_set(op_err *e, int code, const char *fmt, ...)
{
	if (e) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(e->msg, sizeof e->msg, fmt, ap);
		va_end(ap);
		e->code = code;
	}
	return code;
}

const char *op_err_name(int code)
{
	switch (code) {
	case OP_OK: return "ok";
	case OP_EINVAL: return "invalid";
	case OP_ENOMEM: return "out of memory";
	case OP_EIO: return "i/o error";
	case OP_ENOTFOUND: return "not found";
	case OP_ETOOBIG: return "too big";
	case OP_ENATS: return "nats error";
	case OP_EGIT: return "git error";
	case OP_ETRUST: return "not trusted";
	case OP_EUSAGE: return "usage";
	case OP_ECONFLICT: return "conflict";
	default: break;
	}
	return "unknown error";
}

/* A copy of s fit for one line of a terminal: control characters (C0, DEL and C1), and
 * bytes that are not UTF-8, written as \xNN (C1 as \u00NN), so that a key or value
 * quoted from an input file can neither start a diagnostic line of its own nor send
 * escape sequences to the terminal. */
static char *strdup_line(const char *s)
{
	size_t n = strlen(s);
	char *out = malloc(n * 6 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t k = 0;
		if (*p >= 0x20 && *p < 0x7f)
			k = 1;
		else if (*p >= 0xc2 && *p <= 0xdf && (p[1] & 0xc0) == 0x80)
			k = 2;
		else if (*p >= 0xe0 && *p <= 0xef && (p[1] & 0xc0) == 0x80 &&
			(p[2] & 0xc0) == 0x80 && (*p != 0xe0 || p[1] >= 0xa0) &&
			(*p != 0xed || p[1] < 0xa0))
			k = 3;
		else if (*p >= 0xf0 && *p <= 0xf4 && (p[1] & 0xc0) == 0x80 &&
			(p[2] & 0xc0) == 0x80 && (p[3] & 0xc0) == 0x80 &&
			(*p != 0xf0 || p[1] >= 0x90) && (*p != 0xf4 || p[1] < 0x90))
			k = 4;
		if (k == 2 && *p == 0xc2 && p[1] < 0xa0) { /* C1 control */
			o += (size_t)snprintf(out + o, 7, "\\u00%02x", p[1]);
			p += 2;
		} else if (k) {
			memcpy(out + o, p, k);
			o += k;
			p += k;
		} else {
			o += (size_t)snprintf(out + o, 5, "\\x%02x", *p);
			p++;
		}
	}
	out[o] = '\0';
	return out;
}

int op_diags_add(
	op_diags *d, const char *file, int line, int col, const char *path, const char *fmt, ...)
{
	size_t limit = d->limit ? d->limit : OP_DIAGS_LIMIT;
	if (d->n >= limit) {
		d->dropped++;
		return 0;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		op_diag *v = realloc(d->v, cap * sizeof *v);
		if (!v)
			return OP_ENOMEM;
		d->v = v;
		d->cap = cap;
	}
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	op_diag *g = &d->v[d->n];
	g->file = strdup_line(file ? file : "");
	g->path = strdup_line(path && *path ? path : "(document)");
	g->msg = strdup_line(msg);
	g->line = line;
	g->col = col;
	if (!g->file || !g->path || !g->msg) {
		free(g->file), free(g->path), free(g->msg);
		return OP_ENOMEM;
	}
	d->n++;
	return 0;
}

size_t op_diags_count(const op_diags *d)
{
	return d->n + d->dropped;
}

void op_diags_print(const op_diags *d, void *stdio_file)
{
	FILE *f = stdio_file;
	for (size_t i = 0; i < d->n; i++) {
		const op_diag *g = &d->v[i];
		fprintf(f, "%s:%d:%d: %s: %s\n", g->file, g->line, g->col, g->path, g->msg);
	}
	if (d->dropped)
		fprintf(f, "%s: %zu more errors not shown\n", d->n ? d->v[d->n - 1].file : "",
			d->dropped);
}

void op_diags_clear(op_diags *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->v[i].file), free(d->v[i].path), free(d->v[i].msg);
	free(d->v);
	memset(d, 0, sizeof *d);
}
