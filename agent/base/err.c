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
	g->file = strdup(file ? file : "");
	g->path = strdup(path && *path ? path : "(document)");
	g->msg = strdup(msg);
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
