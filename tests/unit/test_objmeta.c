/* The object store's layout (ADR-20) as outpost writes and reads it: digests in both
 * forms, meta subjects (base64url names), stream and chunk subjects, the chunk plan,
 * and the meta JSON, both outpost's own and what nats.go writes, with a table of
 * metas that must be refused and why. Expected strings were computed independently
 * (Python's base64 and hashlib), not by this code. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/store/objmeta.h"
#include "t.h"

#define EMPTY_HEX "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define EMPTY_B64 "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
#define ABC_HEX "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define ABC_STD "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
#define ABC_URL "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0="

static void test_digests(void)
{
	uint8_t sha[32], back[32];
	char d[OP_OBJ_DIGEST_LEN + 1], a[OP_ART_DIGEST_LEN + 1];
	T_REQUIRE(op_art_digest_parse("sha256:" EMPTY_HEX, sha) == 0);
	op_objmeta_digest_format(sha, d);
	T_EQ_STR(d, "SHA-256=" EMPTY_B64);
	op_art_digest_format(sha, a);
	T_EQ_STR(a, "sha256:" EMPTY_HEX);
	T_EQ_INT(op_art_digest_parse(EMPTY_HEX, back), 0); /* bare, as in a manifest */
	T_CHECK(!memcmp(sha, back, 32));

	/* Every base64 form a client may write reads as the same 32 bytes. */
	T_REQUIRE(op_art_digest_parse(ABC_HEX, sha) == 0);
	const char *forms[] = {"SHA-256=" ABC_URL, "SHA-256=" ABC_STD,
		"SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0",
		"SHA-256=ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0", "sha-256=" ABC_URL};
	for (size_t i = 0; i < sizeof forms / sizeof *forms; i++) {
		memset(back, 0, sizeof back);
		T_CHECK_MSG(op_objmeta_digest_parse(forms[i], back) == 0 && !memcmp(back, sha, 32),
			"%s", forms[i]);
	}
	const char *bad[] = {"", "SHA-256=", "SHA-512=" ABC_URL, "SHA-256:" ABC_URL,
		"SHA-256=" ABC_URL "=", "SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa",
		"SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0=x",
		"SHA-256=ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAF!0=", "SHA-256=" ABC_HEX};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		T_CHECK_MSG(op_objmeta_digest_parse(bad[i], back) != 0, "accepted %s", bad[i]);
	const char *badart[] = {"", "sha256:", "sha256:" ABC_HEX "0", "SHA256:" ABC_HEX,
		"sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
		"sha512:" ABC_HEX, "sha256: " ABC_HEX};
	for (size_t i = 0; i < sizeof badart / sizeof *badart; i++)
		T_CHECK_MSG(op_art_digest_parse(badart[i], back) != 0, "accepted %s", badart[i]);
}

static void test_subjects(void)
{
	char s[512];
	T_EQ_INT(op_objmeta_stream(OP_STORE_BUCKET, s, sizeof s), 0);
	T_EQ_STR(s, "OBJ_outpost-artifacts");
	T_EQ_INT(op_objmeta_meta_all(OP_STORE_BUCKET, s, sizeof s), 0);
	T_EQ_STR(s, "$O.outpost-artifacts.M.>");
	T_EQ_INT(op_objmeta_chunk_all(OP_STORE_BUCKET, s, sizeof s), 0);
	T_EQ_STR(s, "$O.outpost-artifacts.C.>");
	T_EQ_INT(op_objmeta_chunk_subject("b", "dQw4w9WgXcQ_ab-12", s, sizeof s), 0);
	T_EQ_STR(s, "$O.b.C.dQw4w9WgXcQ_ab-12");
	/* Names are base64url with padding, as nats.go and nats.py encode them. */
	T_EQ_INT(op_objmeta_meta_subject(OP_STORE_BUCKET, "sha256:" EMPTY_HEX, s, sizeof s), 0);
	T_EQ_STR(s,
		"$O.outpost-artifacts.M.c2hhMjU2OmUzYjBjNDQyOThmYzFjMTQ5YWZiZjRjODk5NmZiOT"
		"I0MjdhZTQxZTQ2NDliOTM0Y2E0OTU5OTFiNzg1MmI4NTU=");
	T_EQ_INT(op_objmeta_meta_subject("b", "a?>", s, sizeof s), 0);
	T_EQ_STR(s, "$O.b.M.YT8-");
	T_EQ_INT(op_objmeta_meta_subject("b", "dir/thermo-v3.bin", s, sizeof s), 0);
	T_EQ_STR(s, "$O.b.M.ZGlyL3RoZXJtby12My5iaW4=");
	/* Refusals: bad buckets and nuids, empty names, short buffers. */
	T_CHECK(op_objmeta_meta_subject("a.b", "x", s, sizeof s) == OP_EINVAL);
	T_CHECK(op_objmeta_meta_subject("", "x", s, sizeof s) == OP_EINVAL);
	T_CHECK(op_objmeta_meta_subject("a b", "x", s, sizeof s) == OP_EINVAL);
	T_CHECK(op_objmeta_meta_subject("b", "", s, sizeof s) == OP_EINVAL);
	T_CHECK(op_objmeta_chunk_subject("b", "a.b", s, sizeof s) == OP_EINVAL);
	T_CHECK(op_objmeta_chunk_subject("b", "*", s, sizeof s) == OP_EINVAL);
	T_CHECK(op_objmeta_stream("outpost-artifacts", s, 10) == OP_ETOOBIG);
	T_CHECK(op_objmeta_meta_subject("b", "dir/thermo-v3.bin", s, 12) == OP_ETOOBIG);
	T_CHECK(op_objmeta_bucket_valid("OBJ_x-1") && !op_objmeta_bucket_valid("x>"));
	char nuid[23], other[23];
	op_objmeta_nuid_new(nuid);
	op_objmeta_nuid_new(other);
	T_EQ_INT(strlen(nuid), 22);
	T_CHECK(op_objmeta_nuid_valid(nuid) && strcmp(nuid, other) != 0);
}

static void test_chunks(void)
{
	T_EQ_INT(op_objmeta_chunk_size(0), 128 * 1024);
	T_EQ_INT(op_objmeta_chunk_size(1024 * 1024), 128 * 1024);
	T_EQ_INT(op_objmeta_chunk_size(128 * 1024 + 1024), 128 * 1024);
	T_EQ_INT(op_objmeta_chunk_size(65536), 65536 - 1024);
	T_EQ_INT(op_objmeta_chunk_size(1000), 500);
	T_EQ_INT(op_objmeta_chunk_size(1), 1);
	T_EQ_INT(op_objmeta_chunk_count(0, 131072), 0);
	T_EQ_INT(op_objmeta_chunk_count(1, 131072), 1);
	T_EQ_INT(op_objmeta_chunk_count(131072, 131072), 1);
	T_EQ_INT(op_objmeta_chunk_count(131073, 131072), 2);
	T_EQ_INT(op_objmeta_chunk_count(5000000, 131072), 39);
	T_EQ_INT(op_objmeta_chunk_count(10, 0), 0);
}

static void test_meta_roundtrip(void)
{
	op_objmeta m = {0}, back;
	op_err e = {0};
	m.name = "sha256:" ABC_HEX;
	m.bucket = OP_STORE_BUCKET;
	snprintf(m.nuid, sizeof m.nuid, "%s", "Zq3a9Qx0Fh2LmN4oP6rS8t");
	m.size = 300000;
	m.chunks = 3;
	m.max_chunk = 131072;
	m.has_digest = true;
	op_art_digest_parse(ABC_HEX, m.sha256);
	m.mtime = 12345; /* never in the JSON */
	char *json = NULL;
	size_t len = 0;
	T_REQUIRE(op_objmeta_encode(&m, &json, &len, &e) == 0);
	T_EQ_STR(json,
		"{\"name\":\"sha256:" ABC_HEX "\",\"options\":{\"max_chunk_size\":131072},"
		"\"bucket\":\"outpost-artifacts\",\"nuid\":\"Zq3a9Qx0Fh2LmN4oP6rS8t\","
		"\"size\":300000,\"mtime\":\"0001-01-01T00:00:00Z\",\"chunks\":3,"
		"\"digest\":\"SHA-256=" ABC_URL "\"}");
	T_EQ_INT(len, strlen(json));
	T_REQUIRE(op_objmeta_decode(json, len, &back, &e) == 0);
	T_EQ_STR(back.name, m.name);
	T_EQ_STR(back.bucket, m.bucket);
	T_EQ_STR(back.nuid, m.nuid);
	T_EQ_INT(back.size, m.size);
	T_EQ_INT(back.chunks, m.chunks);
	T_EQ_INT(back.max_chunk, m.max_chunk);
	T_CHECK(back.has_digest && !memcmp(back.sha256, m.sha256, 32));
	T_CHECK(op_objmeta_live(&back) && back.mtime == 0);
	op_objmeta copy;
	T_REQUIRE(op_objmeta_copy(&copy, &back, &e) == 0);
	T_CHECK(copy.name != back.name && !strcmp(copy.name, back.name));
	op_objmeta_clear(&copy);
	op_objmeta_clear(&back);
	free(json);

	/* A delete marker: no digest, deleted:true, no bytes. */
	m.deleted = true;
	m.size = 0;
	m.chunks = 0;
	T_REQUIRE(op_objmeta_encode(&m, &json, NULL, &e) == 0);
	T_CHECK(strstr(json, "\"deleted\":true") && !strstr(json, "digest"));
	T_REQUIRE(op_objmeta_decode(json, strlen(json), &back, &e) == 0);
	T_CHECK(back.deleted && !op_objmeta_live(&back));
	op_objmeta_clear(&back);
	free(json);

	/* The empty object: no chunks at all. */
	m.deleted = false;
	op_art_digest_parse(EMPTY_HEX, m.sha256);
	T_REQUIRE(op_objmeta_encode(&m, &json, NULL, &e) == 0);
	T_REQUIRE(op_objmeta_decode(json, strlen(json), &back, &e) == 0);
	T_CHECK(op_objmeta_live(&back) && back.size == 0 && back.chunks == 0);
	op_objmeta_clear(&back);
	free(json);
	snprintf(m.nuid, sizeof m.nuid, "bad.nuid");
	T_CHECK(op_objmeta_encode(&m, &json, NULL, &e) == OP_EINVAL && !json);
}

/* What other clients write: nats.go's info with its extra fields, a link, and a
 * meta without options (nats.py before max_chunk_size was sent). */
static void test_meta_from_others(void)
{
	op_objmeta m;
	op_err e = {0};
	const char *go = "{\"name\":\"reader-v3\",\"description\":\"the reader\",\"headers\":"
			 "{\"k\":[\"v\"]},\"metadata\":{\"owner\":\"ops\"},\"options\":{\"link\":"
			 "null,\"max_chunk_size\":131072},\"bucket\":\"outpost-artifacts\","
			 "\"nuid\":\"Uuv0tHcPAbnnQiU9HBYcHh\",\"size\":1000,\"mtime\":"
			 "\"0001-01-01T00:00:00Z\",\"chunks\":1,\"digest\":\"SHA-256=" ABC_URL
			 "\",\"deleted\":false,\"future\":[1,2,3]}";
	T_REQUIRE(op_objmeta_decode(go, strlen(go), &m, &e) == 0);
	T_EQ_STR(m.name, "reader-v3");
	T_CHECK(op_objmeta_live(&m) && m.size == 1000 && m.chunks == 1 && !m.link);
	op_objmeta_clear(&m);
	const char *link = "{\"name\":\"l\",\"options\":{\"link\":{\"bucket\":\"other\",\"name\":"
			   "\"x\"}},\"bucket\":\"b\",\"nuid\":\"n1\",\"size\":0,\"chunks\":0}";
	T_REQUIRE(op_objmeta_decode(link, strlen(link), &m, &e) == 0);
	T_CHECK(m.link && !op_objmeta_live(&m));
	char *out = NULL;
	T_CHECK(op_objmeta_encode(&m, &out, NULL, &e) == OP_EINVAL && !out); /* never written */
	op_objmeta_clear(&m);
	const char *py = "{\"name\":\"n\",\"bucket\":\"b\",\"nuid\":\"n1\",\"size\":5,\"chunks\":2,"
			 "\"digest\":\"SHA-256=" ABC_STD "\"}";
	T_REQUIRE(op_objmeta_decode(py, strlen(py), &m, &e) == 0);
	T_CHECK(op_objmeta_live(&m) && m.max_chunk == 0);
	op_objmeta_clear(&m);
}

static const struct {
	const char *json, *why;
} refusals[] = {
	{"[]", "expected a JSON object"},
	{"{", "not JSON"},
	{"{\"bucket\":\"b\",\"nuid\":\"n\",\"size\":0,\"chunks\":0}", "name: missing"},
	{"{\"name\":\"\",\"nuid\":\"n\"}", "name: missing or empty"},
	{"{\"name\":\"a\\u0000b\",\"nuid\":\"n\"}", "not JSON"}, /* jansson refuses NUL */
	{"{\"name\":7}", "name: expected a string"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":-1}", "size: expected an integer"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":1.5}", "size: expected an integer"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"chunks\":4294967296}", "chunks: expected"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":3,\"chunks\":1}", "digest: missing"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":3,\"chunks\":1,\"digest\":\"md5=x\"}",
		"digest: expected SHA-256="},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":3,\"chunks\":4,\"digest\":\"SHA-256=" ABC_URL
	 "\"}",
		"cannot be in 4 chunks"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":3,\"chunks\":0,\"digest\":\"SHA-256=" ABC_URL
	 "\"}",
		"cannot be in 0 chunks"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"size\":300,\"chunks\":2,\"options\":{\"max_chunk_"
	 "size\":100},\"digest\":\"SHA-256=" ABC_URL "\"}",
		"do not fit in 2 chunks of at most 100"},
	{"{\"name\":\"n\",\"nuid\":\"a.b\",\"size\":3,\"chunks\":1,\"digest\":\"SHA-256=" ABC_URL
	 "\"}",
		"nuid: expected a subject token"},
	{"{\"name\":\"n\",\"size\":3,\"chunks\":1,\"digest\":\"SHA-256=" ABC_URL "\"}",
		"nuid: expected a subject token"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"deleted\":\"yes\"}", "deleted: expected true or false"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"options\":[]}", "options: expected an object"},
	{"{\"name\":\"n\",\"nuid\":\"n\",\"options\":{\"link\":1}}", "options.link"},
	{"{\"name\":\"n\",\"name\":\"m\"}", "duplicate"},
};

static void test_meta_refusals(void)
{
	for (size_t i = 0; i < sizeof refusals / sizeof *refusals; i++) {
		op_objmeta m;
		op_err e = {0};
		int rc = op_objmeta_decode(refusals[i].json, strlen(refusals[i].json), &m, &e);
		T_CHECK_MSG(rc == OP_EINVAL && strstr(e.msg, refusals[i].why),
			"%s: rc %d, \"%s\", want \"%s\"", refusals[i].json, rc, e.msg,
			refusals[i].why);
		op_objmeta_clear(&m);
	}
	size_t n = OP_OBJMETA_MAX + 1;
	char *big = malloc(n);
	T_REQUIRE(big);
	memset(big, ' ', n);
	op_objmeta m;
	op_err e = {0};
	T_EQ_INT(op_objmeta_decode(big, n, &m, &e), OP_ETOOBIG);
	op_objmeta_clear(&m);
	free(big);
}

int main(void)
{
	T_RUN(test_digests);
	T_RUN(test_subjects);
	T_RUN(test_chunks);
	T_RUN(test_meta_roundtrip);
	T_RUN(test_meta_from_others);
	T_RUN(test_meta_refusals);
	return t_done();
}
