/* SSH wire bytes (RFC 4251 5): a reader whose every call checks the length it
 * consumes, base64 as OpenSSH writes it, and a safe copy of hostile bytes for
 * messages. Shared by agent/trust/sshkey.c, sshsig.c and trust.c through the internal part of
 * include/outpost/agent/trust/sshsig.h. */
#include "outpost/agent/trust/sshsig.h"

#include <stdio.h>
#include <string.h>

/* ---- wire reading ---------------------------------------------------------------- */

int op_ssh__u32(op_ssh__rd *r, uint32_t *v)
{
	if (r->n < 4)
		return -1;
	*v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return 0;
}

int op_ssh__str(op_ssh__rd *r, const unsigned char **s, size_t *len)
{
	uint32_t n;
	op_ssh__rd save = *r;
	if (op_ssh__u32(r, &n) != 0 || n > r->n) {
		*r = save;
		return -1;
	}
	*s = r->p;
	*len = n;
	r->p += n;
	r->n -= n;
	return 0;
}

bool op_ssh__str_is(const unsigned char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && memcmp(s, lit, len) == 0;
}

void op_ssh__printable(char *out, size_t cap, const void *in, size_t len)
{
	const unsigned char *s = in;
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < cap; i++) {
		if (o + 4 >= cap && i + 1 < len) {
			o += (size_t)snprintf(out + o, cap - o, "...");
			break;
		}
		out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	}
	if (cap)
		out[o < cap ? o : cap - 1] = '\0';
}

/* ---- base64 ------------------------------------------------------------------------- */

static int b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int op_base64_decode(const char *in, size_t len, bool skip_space, unsigned char *out, size_t cap,
	size_t *out_len)
{
	uint32_t acc = 0;
	size_t o = 0, q = 0, pad = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (skip_space && is_space(c))
			continue;
		if (c == '=') {
			/* Padding ends a quantum of two or three characters. */
			if (q < 2 || pad >= 2 || q + pad >= 4)
				return OP_EINVAL;
			pad++;
			continue;
		}
		int v = b64_val(c);
		if (v < 0 || pad)
			return OP_EINVAL;
		acc = acc << 6 | (uint32_t)v;
		if (++q == 4) {
			if (o + 3 > cap)
				return OP_ETOOBIG;
			out[o++] = (unsigned char)(acc >> 16);
			out[o++] = (unsigned char)(acc >> 8);
			out[o++] = (unsigned char)acc;
			acc = 0;
			q = 0;
		}
	}
	if (q == 0 && pad == 0) {
		*out_len = o;
		return 0;
	}
	if (q + pad != 4)
		return OP_EINVAL; /* an unpadded or overpadded tail */
	if (q == 2) {
		if (acc & 0xf)
			return OP_EINVAL; /* unused bits must be zero */
		if (o + 1 > cap)
			return OP_ETOOBIG;
		out[o++] = (unsigned char)(acc >> 4);
	} else {
		if (acc & 0x3)
			return OP_EINVAL;
		if (o + 2 > cap)
			return OP_ETOOBIG;
		out[o++] = (unsigned char)(acc >> 10);
		out[o++] = (unsigned char)(acc >> 2);
	}
	*out_len = o;
	return 0;
}

void op_ssh__b64_nopad(const unsigned char *in, size_t len, char *out, size_t cap)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;
	for (size_t i = 0; i < len; i += 3) {
		size_t need = i + 2 < len ? 4 : i + 1 < len ? 3 : 2;
		if (o + need + 1 > cap)
			break;
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		if (i + 1 < len)
			out[o++] = tab[v >> 6 & 63];
		if (i + 2 < len)
			out[o++] = tab[v & 63];
	}
	out[o] = '\0';
}
