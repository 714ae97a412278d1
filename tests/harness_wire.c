/* See harness_wire.h. */
#include "harness_wire.h"

#include <string.h>

void t_put(t_buf *b, const void *p, size_t n)
{
	if (b->n + n <= sizeof b->d) {
		memcpy(b->d + b->n, p, n);
		b->n += n;
	}
}

void t_put_u32(t_buf *b, uint32_t v)
{
	unsigned char u[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
		(unsigned char)(v >> 8), (unsigned char)v};
	t_put(b, u, 4);
}

void t_put_str(t_buf *b, const void *p, size_t n)
{
	t_put_u32(b, (uint32_t)n);
	t_put(b, p, n);
}

void t_put_cstr(t_buf *b, const char *s)
{
	t_put_str(b, s, strlen(s));
}
