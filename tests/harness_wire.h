/* Writing SSH wire format in tests (RFC 4251: uint32 big-endian, string = uint32 length
 * and bytes), for the key blobs, signatures and KRLs the tests make by hand. */
#ifndef OUTPOST_TEST_HARNESS_WIRE_H
#define OUTPOST_TEST_HARNESS_WIRE_H

#include <stddef.h>
#include <stdint.h>

/* A bounded buffer: what does not fit is dropped (and then shows as a wrong length). */
typedef struct t_buf {
	unsigned char d[16384];
	size_t n;
} t_buf;

void t_put(t_buf *b, const void *p, size_t n);
void t_put_u32(t_buf *b, uint32_t v);
void t_put_str(t_buf *b, const void *p, size_t n);
void t_put_cstr(t_buf *b, const char *s);

#endif
