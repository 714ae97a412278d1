/* The object store's layout as pure functions (see include/outpost/agent/store/objmeta.h).
 * The decoder reads what other clients wrote, so it is lenient about fields outpost does
 * not use and strict about the ones it acts on: a meta that says 3 chunks of at most
 * 128 KiB hold 1 GB is refused here, not discovered while reading. */
#include "outpost/agent/store/objmeta.h"

#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOKEN_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

void op_objmeta_clear(op_objmeta *m)
{
	free(m->name);
	free(m->bucket);
	memset(m, 0, sizeof *m);
}

bool op_objmeta_live(const op_objmeta *m)
{
	return !m->deleted && !m->link && m->has_digest;
}

int op_objmeta_copy(op_objmeta *dst, const op_objmeta *src, op_err *e)
{
	*dst = *src;
	dst->name = src->name ? strdup(src->name) : NULL;
	dst->bucket = src->bucket ? strdup(src->bucket) : NULL;
	if ((src->name && !dst->name) || (src->bucket && !dst->bucket)) {
		op_objmeta_clear(dst);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	return 0;
}

/* ---- digests ---------------------------------------------------------------------------- */

void op_objmeta_digest_format(const uint8_t sha[32], char out[OP_OBJ_DIGEST_LEN + 1])
{
	snprintf(out, 9, "SHA-256="); /* the digest follows, terminated */
	sodium_bin2base64(
		out + 8, OP_OBJ_DIGEST_LEN + 1 - 8, sha, 32, sodium_base64_VARIANT_URLSAFE);
}

int op_objmeta_digest_parse(const char *s, uint8_t sha[32])
{
	static const int variants[] = {sodium_base64_VARIANT_URLSAFE,
		sodium_base64_VARIANT_URLSAFE_NO_PADDING, sodium_base64_VARIANT_ORIGINAL,
		sodium_base64_VARIANT_ORIGINAL_NO_PADDING};
	if (!s || strncasecmp(s, "SHA-256=", 8) != 0)
		return OP_EINVAL;
	const char *b = s + 8;
	size_t n = strlen(b);
	if (n < 43 || n > 44)
		return OP_EINVAL;
	for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
		size_t got = 0;
		const char *end = NULL;
		uint8_t buf[33];
		if (sodium_base642bin(buf, sizeof buf, b, n, NULL, &got, &end, variants[i]) == 0 &&
			got == 32 && end == b + n) {
			memcpy(sha, buf, 32);
			return 0;
		}
	}
	return OP_EINVAL;
}

void op_art_digest_format(const uint8_t sha[32], char out[OP_ART_DIGEST_LEN + 1])
{
	snprintf(out, 8, "sha256:");
	sodium_bin2hex(out + 7, 65, sha, 32);
}

int op_art_digest_parse(const char *s, uint8_t sha[32])
{
	if (!s)
		return OP_EINVAL;
	if (!strncmp(s, "sha256:", 7))
		s += 7;
	if (strlen(s) != 64 || strspn(s, "0123456789abcdef") != 64)
		return OP_EINVAL;
	size_t got = 0;
	if (sodium_hex2bin(sha, 32, s, 64, NULL, &got, NULL) != 0 || got != 32)
		return OP_EINVAL;
	return 0;
}

/* ---- names and subjects ----------------------------------------------------------------- */

static bool token(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;
	return n >= 1 && n <= max && strspn(s, TOKEN_CHARS) == n;
}

bool op_objmeta_bucket_valid(const char *bucket)
{
	return token(bucket, 64);
}

bool op_objmeta_nuid_valid(const char *nuid)
{
	return token(nuid, OP_OBJ_NUID_MAX);
}

void op_objmeta_nuid_new(char out[23])
{
	static const char digits[] =
		"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	for (int i = 0; i < 22; i++)
		out[i] = digits[randombytes_uniform(62)];
	out[22] = '\0';
}

static int fmt(char *out, size_t cap, const char *bucket, const char *kind, const char *tail)
{
	if (!op_objmeta_bucket_valid(bucket))
		return OP_EINVAL;
	int n = snprintf(out, cap, "$O.%s.%s.%s", bucket, kind, tail);
	return n < 0 || (size_t)n >= cap ? OP_ETOOBIG : 0;
}

int op_objmeta_stream(const char *bucket, char *out, size_t cap)
{
	if (!op_objmeta_bucket_valid(bucket))
		return OP_EINVAL;
	int n = snprintf(out, cap, "OBJ_%s", bucket);
	return n < 0 || (size_t)n >= cap ? OP_ETOOBIG : 0;
}

int op_objmeta_meta_subject(const char *bucket, const char *name, char *out, size_t cap)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > OP_OBJ_NAME_MAX)
		return OP_EINVAL;
	size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE);
	char *enc = malloc(need);
	if (!enc)
		return OP_ENOMEM;
	sodium_bin2base64(enc, need, (const unsigned char *)name, n, sodium_base64_VARIANT_URLSAFE);
	int rc = fmt(out, cap, bucket, "M", enc);
	free(enc);
	return rc;
}

int op_objmeta_meta_all(const char *bucket, char *out, size_t cap)
{
	return fmt(out, cap, bucket, "M", ">");
}

int op_objmeta_chunk_subject(const char *bucket, const char *nuid, char *out, size_t cap)
{
	if (!op_objmeta_nuid_valid(nuid))
		return OP_EINVAL;
	return fmt(out, cap, bucket, "C", nuid);
}

int op_objmeta_chunk_all(const char *bucket, char *out, size_t cap)
{
	return fmt(out, cap, bucket, "C", ">");
}

/* ---- chunking ----------------------------------------------------------------------------- */

/* Room left in a message for its headers (Nats-Msg-Id and the like). */
#define HEADROOM 1024

uint32_t op_objmeta_chunk_size(int64_t max_payload)
{
	if (max_payload <= 0 || max_payload - HEADROOM >= OP_STORE_CHUNK)
		return OP_STORE_CHUNK;
	if (max_payload > 2 * HEADROOM)
		return (uint32_t)(max_payload - HEADROOM);
	return (uint32_t)(max_payload / 2 > 0 ? max_payload / 2 : 1);
}

uint64_t op_objmeta_chunk_count(uint64_t size, uint32_t chunk)
{
	if (chunk == 0)
		return 0;
	return size / chunk + (size % chunk ? 1 : 0);
}

/* ---- meta JSON ------------------------------------------------------------------------------ */

int op_objmeta_encode(const op_objmeta *m, char **json, size_t *len, op_err *e)
{
	*json = NULL;
	if (!m->name || !*m->name || !op_objmeta_nuid_valid(m->nuid) || m->size > INT64_MAX)
		return op_err_set(e, OP_EINVAL, "object meta: name, nuid or size is not valid");
	if (m->link) /* outpost never writes a link: it would be read back as a bare object */
		return op_err_set(e, OP_EINVAL, "object meta: a link is not written here");
	json_t *j = json_object();
	int bad = !j;
	bad |= json_object_set_new(j, "name", json_string(m->name));
	if (m->max_chunk && !m->deleted)
		bad |= json_object_set_new(j, "options",
			json_pack("{s:I}", "max_chunk_size", (json_int_t)m->max_chunk));
	bad |= json_object_set_new(j, "bucket", json_string(m->bucket ? m->bucket : ""));
	bad |= json_object_set_new(j, "nuid", json_string(m->nuid));
	bad |= json_object_set_new(j, "size", json_integer((json_int_t)m->size));
	/* Never the real time (ADR-20): readers take the message's. nats.go writes its
	 * zero time, which strict readers expect to be there. */
	bad |= json_object_set_new(j, "mtime", json_string("0001-01-01T00:00:00Z"));
	bad |= json_object_set_new(j, "chunks", json_integer((json_int_t)m->chunks));
	if (m->has_digest && !m->deleted) {
		char d[OP_OBJ_DIGEST_LEN + 1];
		op_objmeta_digest_format(m->sha256, d);
		bad |= json_object_set_new(j, "digest", json_string(d));
	}
	if (m->deleted)
		bad |= json_object_set_new(j, "deleted", json_true());
	if (!bad)
		*json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!*json)
		return op_err_set(e, OP_ENOMEM, "object meta: cannot encode (a name of UTF-8?)");
	if (len)
		*len = strlen(*json);
	return 0;
}

/* A string field: absent (NULL, 0), or a string without NUL of at most max bytes. */
static int get_str(json_t *j, const char *key, size_t max, const char **out, op_err *e)
{
	json_t *v = json_object_get(j, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return op_err_set(e, OP_EINVAL, "object meta: %s: expected a string", key);
	size_t n = json_string_length(v);
	if (n > max || strlen(json_string_value(v)) != n)
		return op_err_set(e, OP_EINVAL,
			"object meta: %s: expected at most %zu bytes and no NUL", key, max);
	*out = json_string_value(v);
	return 0;
}

/* An integer field in [0, max]; absent is 0. */
static int get_uint(json_t *j, const char *key, uint64_t max, uint64_t *out, op_err *e)
{
	json_t *v = json_object_get(j, key);
	*out = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		(uint64_t)json_integer_value(v) > max)
		return op_err_set(e, OP_EINVAL, "object meta: %s: expected an integer 0..%llu", key,
			(unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

static int read_options(json_t *j, op_objmeta *m, op_err *e)
{
	json_t *o = json_object_get(j, "options");
	if (!o || json_is_null(o))
		return 0;
	if (!json_is_object(o))
		return op_err_set(e, OP_EINVAL, "object meta: options: expected an object");
	uint64_t mc = 0;
	int rc = get_uint(o, "max_chunk_size", UINT32_MAX, &mc, e);
	if (rc)
		return rc;
	m->max_chunk = (uint32_t)mc;
	json_t *link = json_object_get(o, "link");
	if (link && !json_is_null(link) && !json_is_object(link))
		return op_err_set(e, OP_EINVAL, "object meta: options.link: expected an object");
	m->link = link && json_is_object(link);
	return 0;
}

/* What a reader relies on: the byte count agrees with the chunk count and size. */
static int check_live(const op_objmeta *m, op_err *e)
{
	if (!op_objmeta_nuid_valid(m->nuid))
		return op_err_set(e, OP_EINVAL,
			"object meta: nuid: expected a subject token [A-Za-z0-9_-], 1..%d",
			OP_OBJ_NUID_MAX);
	if (!m->has_digest)
		return op_err_set(e, OP_EINVAL, "object meta: digest: missing");
	if ((m->size == 0) != (m->chunks == 0) || m->chunks > m->size)
		return op_err_set(e, OP_EINVAL,
			"object meta: %llu bytes cannot be in %lu chunks of at least one byte",
			(unsigned long long)m->size, (unsigned long)m->chunks);
	if (m->max_chunk && m->size > (uint64_t)m->chunks * m->max_chunk)
		return op_err_set(e, OP_EINVAL,
			"object meta: %llu bytes do not fit in %lu chunks of at most %lu",
			(unsigned long long)m->size, (unsigned long)m->chunks,
			(unsigned long)m->max_chunk);
	return 0;
}

static int decode(json_t *j, op_objmeta *m, op_err *e)
{
	if (!json_is_object(j))
		return op_err_set(e, OP_EINVAL, "object meta: expected a JSON object");
	const char *name, *bucket, *nuid, *digest;
	uint64_t size, chunks;
	int rc;
	if ((rc = get_str(j, "name", OP_OBJ_NAME_MAX, &name, e)) ||
		(rc = get_str(j, "bucket", 256, &bucket, e)) ||
		(rc = get_str(j, "nuid", OP_OBJ_NUID_MAX, &nuid, e)) ||
		(rc = get_str(j, "digest", 128, &digest, e)) ||
		(rc = get_uint(j, "size", INT64_MAX, &size, e)) ||
		(rc = get_uint(j, "chunks", UINT32_MAX, &chunks, e)) ||
		(rc = read_options(j, m, e)))
		return rc;
	if (!name || !*name)
		return op_err_set(e, OP_EINVAL, "object meta: name: missing or empty");
	json_t *del = json_object_get(j, "deleted");
	if (del && !json_is_null(del) && !json_is_boolean(del))
		return op_err_set(e, OP_EINVAL, "object meta: deleted: expected true or false");
	m->deleted = del && json_is_true(del);
	m->name = strdup(name);
	m->bucket = bucket ? strdup(bucket) : NULL;
	if (!m->name || (bucket && !m->bucket))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	snprintf(m->nuid, sizeof m->nuid, "%s", nuid ? nuid : "");
	m->size = size;
	m->chunks = (uint32_t)chunks;
	if (digest && *digest) {
		if (op_objmeta_digest_parse(digest, m->sha256) != 0)
			return op_err_set(e, OP_EINVAL,
				"object meta: digest: expected SHA-256= and the base64 of 32 "
				"bytes");
		m->has_digest = true;
	}
	if (m->deleted || m->link)
		return 0;
	return check_live(m, e);
}

int op_objmeta_decode(const char *buf, size_t len, op_objmeta *m, op_err *e)
{
	memset(m, 0, sizeof *m);
	if (len > OP_OBJMETA_MAX)
		return op_err_set(e, OP_ETOOBIG, "object meta: %zu bytes is more than %d", len,
			OP_OBJMETA_MAX);
	json_error_t je;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return op_err_set(e, OP_EINVAL, "object meta: not JSON: %s", je.text);
	int rc = decode(j, m, e);
	json_decref(j);
	return rc;
}
