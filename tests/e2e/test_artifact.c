/* `outpost artifact put|ls|gc` end to end, against a real hub nats-server. What the store
 * holds is read back twice: through outpost's own reader (agent/store) and through a
 * reader written here on raw JetStream calls from ADR-20's text alone (its own base64url,
 * its own consumer, the meta JSON read with jansson), so that the layout other NATS
 * clients read is what is tested, not only a round trip. An object put by a raw
 * publisher under another name must be found by digest. */
#include <jansson.h>
#include <nats/nats.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/store/store.h"
#include "t.h"

#define STREAM "OBJ_outpost-artifacts"
#define WAIT_MS 30000

static const char *bin;
static const h_key *ed;
static h_nats *hub;
static natsConnection *nc;
static jsCtx *js;

/* ---- files -------------------------------------------------------------------------------- */

typedef struct file {
	const char *path;
	unsigned char *bytes;
	size_t len;
	char hex[65]; /* sha256, computed here */
} file;

static file mkfile(const char *name, size_t len)
{
	file f = {.path = h_path("files/%s", name), .len = len};
	f.bytes = malloc(len + 1);
	randombytes_buf(f.bytes, len);
	h_mkdirs(h_path("files"));
	FILE *fp = fopen(f.path, "wb");
	if (fp) {
		fwrite(f.bytes, 1, len, fp);
		fclose(fp);
	}
	unsigned char sha[32];
	crypto_hash_sha256(sha, f.bytes, len);
	sodium_bin2hex(f.hex, sizeof f.hex, sha, 32);
	return f;
}

/* ---- the independent reader: ADR-20 on raw JetStream ---------------------------------- */

/* base64url with padding, written from RFC 4648 (not the code under test). */
static char *b64url(const unsigned char *p, size_t n)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
			(i + 2 < n ? p[i + 2] : 0);
		*o++ = a[v >> 18 & 63];
		*o++ = a[v >> 12 & 63];
		*o++ = i + 1 < n ? a[v >> 6 & 63] : '=';
		*o++ = i + 2 < n ? a[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static const char *meta_subject(const char *name)
{
	char *enc = b64url((const unsigned char *)name, strlen(name));
	const char *s = h_str("$O.outpost-artifacts.M.%s", enc);
	free(enc);
	return s;
}

/* The object's info (the last message on its meta subject), NULL when none. */
static json_t *raw_info(const char *name, bool *rollup)
{
	natsMsg *m = NULL;
	if (js_GetLastMsg(&m, js, STREAM, meta_subject(name), NULL, NULL) != NATS_OK)
		return NULL;
	const char *h = NULL;
	if (rollup)
		*rollup = natsMsgHeader_Get(m, "Nats-Rollup", &h) == NATS_OK && !strcmp(h, "sub");
	json_t *j = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m), 0, NULL);
	natsMsg_Destroy(m);
	return j;
}

/* Reads name's bytes as any client would: its meta, then `chunks` messages from a plain
 * consumer on its chunk subject; checks the digest as "SHA-256=" + base64url. Returns
 * the bytes (caller frees) and their length, NULL on any disagreement (printed). */
static unsigned char *raw_read(const char *name, size_t *len)
{
	json_t *j = raw_info(name, NULL);
	const char *nuid = json_string_value(json_object_get(j, "nuid"));
	const char *digest = json_string_value(json_object_get(j, "digest"));
	long long size = json_integer_value(json_object_get(j, "size"));
	long long chunks = json_integer_value(json_object_get(j, "chunks"));
	unsigned char *out = malloc((size_t)size + 1);
	size_t got = 0;
	bool ok = j && nuid && digest && out;
	natsSubscription *sub = NULL;
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Config.AckPolicy = js_AckNone;
	if (ok && chunks > 0)
		ok = js_SubscribeSync(&sub, js, h_str("$O.outpost-artifacts.C.%s", nuid), NULL, &so,
			     NULL) == NATS_OK;
	for (long long i = 0; ok && i < chunks; i++) {
		natsMsg *m = NULL;
		ok = natsSubscription_NextMsg(&m, sub, 5000) == NATS_OK;
		size_t n = ok ? (size_t)natsMsg_GetDataLength(m) : 0;
		ok = ok && got + n <= (size_t)size;
		if (ok)
			memcpy(out + got, natsMsg_GetData(m), n);
		got += n;
		natsMsg_Destroy(m);
	}
	if (sub)
		natsSubscription_Destroy(sub);
	unsigned char sha[32];
	crypto_hash_sha256(sha, out, got);
	char *enc = b64url(sha, 32);
	ok = ok && got == (size_t)size && !strcmp(digest, h_str("SHA-256=%s", enc));
	if (!ok)
		fprintf(stderr, "raw read of %s: %zu of %lld bytes, digest %s, want SHA-256=%s\n",
			name, got, size, digest ? digest : "(none)", enc);
	free(enc);
	json_decref(j);
	if (!ok) {
		free(out);
		return NULL;
	}
	*len = got;
	return out;
}

/* Puts bytes under name the way another client would: chunks of 1000 bytes on a fresh
 * chunk subject, then the meta, rolled up, with an unpadded standard-alphabet digest. */
static bool raw_put(const char *name, const unsigned char *p, size_t len)
{
	const char *nuid = "RawPublisherNuid0000001";
	size_t chunks = 0;
	for (size_t off = 0; off < len; off += 1000, chunks++) {
		size_t n = len - off < 1000 ? len - off : 1000;
		if (js_Publish(NULL, js, h_str("$O.outpost-artifacts.C.%s", nuid), p + off, (int)n,
			    NULL, NULL) != NATS_OK)
			return false;
	}
	unsigned char sha[32];
	char b64[64];
	crypto_hash_sha256(sha, p, len);
	sodium_bin2base64(b64, sizeof b64, sha, 32, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	char *meta = NULL;
	json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:{s:i}}", "name", name, "bucket",
		"outpost-artifacts", "nuid", nuid, "size", (json_int_t)len, "chunks",
		(json_int_t)chunks, "digest", h_str("SHA-256=%s", b64), "options", "max_chunk_size",
		1000);
	meta = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	natsMsg *m = NULL;
	natsMsg_Create(&m, meta_subject(name), NULL, meta, (int)strlen(meta));
	natsMsgHeader_Set(m, "Nats-Rollup", "sub");
	natsStatus s = js_PublishMsg(NULL, js, m, NULL, NULL);
	natsMsg_Destroy(m);
	free(meta);
	return s == NATS_OK;
}

static void usage(uint64_t *bytes, uint64_t *msgs)
{
	jsStreamInfo *si = NULL;
	*bytes = *msgs = 0;
	if (js_GetStreamInfo(&si, js, STREAM, NULL, NULL) != NATS_OK)
		return;
	*bytes = si->State.Bytes;
	*msgs = si->State.Msgs;
	jsStreamInfo_Destroy(si);
}

/* ---- outpost's own reader ------------------------------------------------------------------- */

struct buf {
	unsigned char *p;
	size_t n, cap;
};

static int collect(void *arg, const void *p, size_t n)
{
	struct buf *b = arg;
	if (b->n + n > b->cap) {
		b->cap = (b->n + n) * 2;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->n, p, n);
	b->n += n;
	return 0;
}

/* The object holding hex's content, found and read by agent/store; *name gets its name
 * (harness-owned). True when the bytes equal want. */
static bool store_read(const char *hex, const file *want, const char **name)
{
	op_bus b;
	op_store s;
	op_objmeta m;
	op_err e = {0};
	uint8_t sha[32];
	struct buf got = {0};
	bool ok = op_bus_connect(&b, h_nats_url(hub), "test", NULL, 3000, &e) == 0;
	if (ok && !(ok = op_store_open(&s, &b, OP_STORE_BUCKET, false, &e) == 0))
		op_bus_close(&b);
	if (ok) {
		op_art_digest_parse(hex, sha);
		ok = op_store_find(&s, sha, &m, &e) == 0 &&
			op_store_read(&s, &m, collect, &got, &e) == 0;
		if (ok && name)
			*name = h_str("%s", m.name);
		op_objmeta_clear(&m);
		op_store_close(&s);
		op_bus_close(&b);
	}
	if (!ok)
		fprintf(stderr, "store read of %s: %s\n", hex, e.msg);
	ok = ok && got.n == want->len && (got.n == 0 || !memcmp(got.p, want->bytes, got.n));
	free(got.p);
	return ok;
}

/* ---- the command ---------------------------------------------------------------------------- */

static int run(char **out, char **err, const char *args)
{
	return h_run2(out, err, "%s artifact %s", bin, args);
}

static file files[4];
static const char *all_paths;

static void test_put_and_read_back(void)
{
	files[0] = mkfile("empty", 0);
	files[1] = mkfile("one-chunk", 1000);
	files[2] = mkfile("three-chunks", 2 * 131072 + 5);
	files[3] = mkfile("few-mb", 3 * 1024 * 1024 + 7);
	all_paths = h_str(
		"%s %s %s %s", files[0].path, files[1].path, files[2].path, files[3].path);
	char *out = NULL, *err = NULL;
	T_EQ_INT(run(&out, &err, h_str("put --nats %s %s", h_nats_url(hub), all_paths)), 0);
	T_REQUIRE(out);
	for (int i = 0; i < 4; i++) {
		const char *line = h_str(
			"sha256:%s  %s  %zu\n", files[i].hex, files[i].path, files[i].len);
		T_CHECK_MSG(strstr(out, line), "want %s in:\n%s", line, out);
	}
	T_CHECK(err && strstr(err, "artifact stored"));
	free(out), free(err);

	/* The store is an object store as ADR-20 has it. */
	jsStreamInfo *si = NULL;
	T_REQUIRE(js_GetStreamInfo(&si, js, STREAM, NULL, NULL) == NATS_OK);
	jsStreamConfig *c = si->Config;
	T_EQ_INT(c->SubjectsLen, 2);
	T_CHECK(c->SubjectsLen == 2 && !strcmp(c->Subjects[0], "$O.outpost-artifacts.C.>") &&
		!strcmp(c->Subjects[1], "$O.outpost-artifacts.M.>"));
	T_CHECK(c->AllowRollup && c->AllowDirect && c->Discard == js_DiscardNew);
	T_CHECK(c->Storage == js_FileStorage && c->MaxBytes == -1 && c->MaxAge == 0);
	jsStreamInfo_Destroy(si);

	long long want_chunks[4] = {0, 1, 3, 25};
	for (int i = 0; i < 4; i++) {
		const char *name = h_str("sha256:%s", files[i].hex);
		bool rollup = false;
		json_t *j = raw_info(name, &rollup);
		T_CHECK_MSG(j, "no meta for %s", name);
		T_CHECK(rollup);
		T_EQ_STR(json_string_value(json_object_get(j, "name")), name);
		T_EQ_STR(json_string_value(json_object_get(j, "bucket")), "outpost-artifacts");
		T_EQ_INT(json_integer_value(json_object_get(j, "size")), files[i].len);
		T_EQ_INT(json_integer_value(json_object_get(j, "chunks")), want_chunks[i]);
		T_EQ_INT(json_integer_value(
				 json_object_get(json_object_get(j, "options"), "max_chunk_size")),
			131072);
		json_decref(j);
		size_t len = 0;
		unsigned char *raw = raw_read(name, &len);
		T_CHECK_MSG(raw && len == files[i].len &&
				(len == 0 || !memcmp(raw, files[i].bytes, len)),
			"raw read of %s differs", files[i].path);
		free(raw);
		const char *got = NULL;
		T_CHECK_MSG(store_read(files[i].hex, &files[i], &got), "store read of %s",
			files[i].path);
		T_EQ_STR(got, name);
	}
}

static void test_put_again_not_sent(void)
{
	uint64_t bytes, msgs, bytes2, msgs2;
	usage(&bytes, &msgs);
	T_CHECK(bytes > 3 * 1024 * 1024);
	char *out = NULL, *err = NULL;
	T_EQ_INT(run(&out, &err,
			 h_str("put --nats %s %s %s", h_nats_url(hub), all_paths, files[1].path)),
		0);
	for (int i = 0; i < 4; i++)
		T_CHECK(out &&
			strstr(out,
				h_str("sha256:%s  %s  %zu\n", files[i].hex, files[i].path,
					files[i].len)));
	T_CHECK_MSG(err && strstr(err, "already stored") && !strstr(err, "artifact stored"), "%s",
		err ? err : "");
	free(out), free(err);
	usage(&bytes2, &msgs2);
	T_EQ_INT(bytes2, bytes);
	T_EQ_INT(msgs2, msgs);
}

static file other;

/* Bytes another client put under its own name are found by their digest. */
static void test_found_by_digest(void)
{
	other = mkfile("other-client", 5500);
	T_REQUIRE(raw_put("thermo/reader-v3", other.bytes, other.len));
	uint64_t bytes, msgs, bytes2, msgs2;
	usage(&bytes, &msgs);
	char *out = NULL, *err = NULL;
	T_EQ_INT(run(&out, &err, h_str("put --nats %s %s", h_nats_url(hub), other.path)), 0);
	T_CHECK(out && strstr(out, h_str("sha256:%s  %s  5500\n", other.hex, other.path)));
	T_CHECK_MSG(err && strstr(err, "already stored") && strstr(err, "thermo/reader-v3"), "%s",
		err ? err : "");
	free(out), free(err);
	usage(&bytes2, &msgs2);
	T_EQ_INT(bytes2, bytes);
	const char *name = NULL;
	T_CHECK(store_read(other.hex, &other, &name));
	T_EQ_STR(name, "thermo/reader-v3");
	/* A meta whose chunks are not there reads as an error, not as short content; and a
	 * meta with a file's digest but another size is not taken for that file. */
	const char *liar = h_str("{\"name\":\"liar\",\"bucket\":\"outpost-artifacts\","
				 "\"nuid\":\"NoSuchChunks\",\"size\":10,\"chunks\":1,"
				 "\"digest\":\"SHA-256=%s\"}",
		"47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU=");
	T_REQUIRE(js_Publish(NULL, js, meta_subject("liar"), liar, (int)strlen(liar), NULL, NULL) ==
		NATS_OK);
	op_bus b;
	op_store s;
	op_objmeta m;
	op_err e = {0};
	T_REQUIRE(op_bus_connect(&b, h_nats_url(hub), "test", NULL, 3000, &e) == 0);
	T_REQUIRE(op_store_open(&s, &b, OP_STORE_BUCKET, false, &e) == 0);
	T_REQUIRE(op_store_info(&s, "liar", &m, &e) == 0);
	struct buf got = {0};
	long long t0 = h_now_ms();
	T_EQ_INT(op_store_read(&s, &m, collect, &got, &e), OP_EIO);
	T_CHECK_MSG(strstr(e.msg, "chunks are missing") && h_now_ms() - t0 < 5000, "%s", e.msg);
	free(got.p);
	op_objmeta_clear(&m);
	op_store_close(&s);
	op_bus_close(&b);
	T_EQ_INT(run(&out, &err, h_str("put --nats %s %s", h_nats_url(hub), files[0].path)), 0);
	T_CHECK_MSG(err && strstr(err, "already stored") && !strstr(err, "liar"), "%s", err);
	free(out), free(err);
}

/* The ls and gc cases work on a signed repository synced to the hub. */
static h_repo *repo;
static const char *trust, *state;

static const char *manifest(const char *hex_main, const char *extra)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: thermo\nspec:\n  components:\n    - name: reader\n"
		     "      type: process\n      properties:\n        command: /opt/reader\n"
		     "        artifact: {path: /opt/reader, sha256: %s}\n%s",
		hex_main, extra ? extra : "");
}

static bool sync_commit(const char *yaml)
{
	h_repo_write(repo, "apps/thermo.yaml", "%s", yaml);
	if (!h_repo_commit(repo, &(h_commit){.key = ed, .msg = "artifact"}))
		return false;
	return h_run(NULL, "%s sync --once --repo %s --trust %s --state %s --nats %s", bin,
		       repo->path, trust, state, h_nats_url(hub)) == 0;
}

static void test_ls_and_gc(void)
{
	repo = h_repo_new("repo");
	T_REQUIRE(repo);
	trust = h_path("allowed_signers");
	state = h_path("sync-state");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", ed->pub);
	const char *url = h_nats_url(hub);
	char *out = NULL, *err = NULL;

	/* gc with no accepted revision refuses: it has nothing to go by. */
	T_EQ_INT(run(NULL, &err, h_str("gc --nats %s --keep 1 --min-age 0", url)), 1);
	T_CHECK(err && strstr(err, "no accepted revision"));
	free(err);

	/* Revision 1 references the one-chunk file. */
	T_REQUIRE(sync_commit(manifest(files[1].hex, NULL)));
	T_EQ_INT(run(&out, &err, h_str("ls --nats %s", url)), 0);
	T_CHECK_MSG(out && strstr(out, h_str("sha256:%s", files[1].hex)), "%s", out);
	const char *l1 = out ? strstr(out, h_str("sha256:%s", files[1].hex)) : NULL;
	const char *l2 = out ? strstr(out, h_str("sha256:%s", files[2].hex)) : NULL;
	T_CHECK(l1 && strncmp(strchr(l1, '\n') - 6, "thermo", 6) == 0);
	T_CHECK(l2 && strncmp(strchr(l2, '\n') - 3, "  -", 3) == 0);
	T_CHECK(out && strstr(out, "name=thermo/reader-v3"));
	T_CHECK(out && strstr(out, " 1000  ") && strstr(out, " 3145735  "));
	T_CHECK(err && strstr(err, "liar") == NULL); /* a live meta: listed, read lazily */
	free(out), free(err);

	/* Revision 2 references the three-chunk file, and a digest nobody put. */
	T_REQUIRE(sync_commit(manifest(files[2].hex,
		"    - name: writer\n      type: process\n      properties:\n"
		"        command: /opt/writer\n        artifact: {path: /opt/writer, sha256: "
		"{amd64: 9999999999999999999999999999999999999999999999999999999999999999}}\n")));
	T_EQ_INT(run(&out, &err, h_str("ls --nats %s", url)), 0);
	T_CHECK(err && strstr(err, "sha256:9999") && strstr(err, "not in the store"));
	free(out), free(err);

	/* Young objects survive gc by default. */
	uint64_t bytes, msgs, bytes2, msgs2;
	usage(&bytes, &msgs);
	T_EQ_INT(run(&out, NULL, h_str("gc --nats %s --keep 1", url)), 0);
	T_CHECK(out && !strstr(out, "deleted"));
	free(out);
	/* A dry run names what --keep 1 would delete: everything but revision 2's. */
	T_EQ_INT(run(&out, NULL, h_str("gc --nats %s --keep 1 --min-age 0 --dry-run", url)), 0);
	T_CHECK_MSG(out && strstr(out, h_str("would delete sha256:%s", files[1].hex)) &&
			strstr(out, h_str("would delete sha256:%s", files[0].hex)) &&
			strstr(out, h_str("would delete sha256:%s", other.hex)) &&
			!strstr(out, files[2].hex),
		"%s", out ? out : "");
	free(out);
	usage(&bytes2, &msgs2);
	T_EQ_INT(bytes2, bytes);
	/* --keep 2 keeps both revisions' artifacts. */
	T_EQ_INT(run(&out, NULL, h_str("gc --nats %s --keep 2 --min-age 0", url)), 0);
	T_CHECK(out && strstr(out, h_str("deleted sha256:%s", files[3].hex)) &&
		!strstr(out, files[1].hex) && !strstr(out, files[2].hex));
	free(out);
	T_EQ_INT(run(&out, NULL, h_str("gc --nats %s --keep 1 --min-age 0", url)), 0);
	T_CHECK(out && strstr(out, h_str("deleted sha256:%s", files[1].hex)) &&
		!strstr(out, files[2].hex));
	free(out);
	/* Deleted as ADR-20 has it: a rolled-up meta with deleted:true, the chunks purged. */
	json_t *j = raw_info(h_str("sha256:%s", files[1].hex), NULL);
	T_CHECK(j && json_is_true(json_object_get(j, "deleted")));
	natsMsg *m = NULL;
	const char *nuid = json_string_value(json_object_get(j, "nuid"));
	T_CHECK(nuid &&
		js_GetLastMsg(&m, js, STREAM, h_str("$O.outpost-artifacts.C.%s", nuid), NULL,
			NULL) == NATS_NOT_FOUND);
	json_decref(j);
	T_EQ_INT(run(&out, NULL, h_str("ls --nats %s", url)), 0);
	T_CHECK(out && strstr(out, files[2].hex) && !strstr(out, files[1].hex) &&
		!strstr(out, files[3].hex));
	free(out);
	T_CHECK(store_read(files[2].hex, &files[2], NULL));
	/* --keep past what the bucket's history holds is refused when revisions are
	 * missing; here both revisions (seq 1 and 2) are held, so it is fine. */
	T_EQ_INT(run(NULL, NULL, h_str("gc --nats %s --keep 8 --min-age 0", url)), 0);
	/* Put again after gc: sent again. */
	T_EQ_INT(run(&out, &err, h_str("put --nats %s %s", url, files[1].path)), 0);
	T_CHECK(err && strstr(err, "artifact stored"));
	free(out), free(err);
	T_CHECK(store_read(files[1].hex, &files[1], NULL));
}

/* Sync's status warns about a pinned artifact the store lacks, names the apps, and
 * stops once the file is put (issue 15, item 3). A running sync, asked for passes with
 * sync --now: the warning is logged once for the revision, the store is listed again on
 * later passes (at most every 5 s while something is missing). */
static int count_in(const char *path, const char *what)
{
	char *t = h_read(path);
	int n = 0;
	for (const char *p = t; p && (p = strstr(p, what)); p++)
		n++;
	free(t);
	return n;
}

static void test_sync_warns_missing(void)
{
	file late = mkfile("late", 700);
	const char *url = h_nats_url(hub), *log = h_path("sync-run.log");
	h_repo_write(repo, "apps/thermo.yaml", "%s", manifest(late.hex, NULL));
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = ed, .msg = "late"}));
	pid_t pid = h_spawn_sh(log,
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h", bin, repo->path,
		trust, state, url);
	T_REQUIRE(pid > 0);
	const char *st = h_str("%s status --nats %s", bin, url);
	const char *warn = h_str(
		"warning: artifact sha256:%s (app thermo) is not in the hub's store", late.hex);
	T_CHECK(h_wait_output(warn, 30000, "%s 2>&1", st));
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s --json 2>&1", st), 0);
	T_CHECK_MSG(out && strstr(out, "\"artifacts_missing\"") && strstr(out, late.hex) &&
			strstr(out, "\"thermo\""),
		"%s", out ? out : "");
	free(out);
	const char *logged = h_str("digest=sha256:%s apps=thermo", late.hex);
	/* more passes of the same revision: still in status, logged once */
	for (int i = 0; i < 2; i++)
		T_EQ_INT(h_run(NULL, "%s sync --now --nats %s >/dev/null 2>&1", bin, url), 0);
	T_CHECK(h_wait_output(warn, 5000, "%s 2>&1", st));
	T_EQ_INT(count_in(log, logged), 1);
	/* put: a later pass finds it, and the warning goes */
	T_EQ_INT(run(NULL, NULL, h_str("put --nats %s %s", url, late.path)), 0);
	T_CHECK(h_wait_output("every artifact the accepted revision pins", 30000,
		"%s sync --now --nats %s >/dev/null 2>&1; cat %s", bin, url, log));
	T_EQ_INT(h_run(&out, "%s 2>&1", st), 0);
	T_CHECK_MSG(
		out && strstr(out, "hub sync: ") && !strstr(out, "warning:"), "%s", out ? out : "");
	free(out);
	T_EQ_INT(count_in(log, logged), 1);
	h_proc_stop(pid, false, 5000);
	free(late.bytes);
}

static void test_errors_and_usage(void)
{
	char *out = NULL, *err = NULL;
	const char *url = h_nats_url(hub);
	int port = h_free_port();
	T_EQ_INT(run(NULL, &err, h_str("put --nats nats://127.0.0.1:%d %s", port, files[1].path)),
		1);
	T_CHECK_MSG(err && strstr(err, "outpost artifact put: connect to"), "%s", err);
	free(err);
	T_EQ_INT(run(NULL, &err, h_str("ls --nats nats://127.0.0.1:%d", port)), 1);
	T_CHECK(err && strstr(err, "connect to"));
	free(err);
	T_EQ_INT(run(NULL, &err, h_str("put --nats %s %s /no/such/file", url, files[1].path)), 1);
	T_CHECK(err && strstr(err, "/no/such/file: No such file or directory"));
	free(err);
	T_EQ_INT(run(NULL, &err, h_str("put --nats %s %s", url, h_path("files"))), 1);
	T_CHECK(err && strstr(err, "not a regular file"));
	free(err);

	/* A stream of the store's name that is not an object store. */
	T_REQUIRE(js_DeleteStream(js, STREAM, NULL, NULL) == NATS_OK);
	jsStreamConfig c;
	jsStreamConfig_Init(&c);
	const char *subj[] = {"not.objects.>"};
	c.Name = STREAM;
	c.Subjects = subj;
	c.SubjectsLen = 1;
	T_REQUIRE(js_AddStream(NULL, js, &c, NULL, NULL) == NATS_OK);
	T_EQ_INT(run(NULL, &err, h_str("put --nats %s %s", url, files[1].path)), 1);
	T_CHECK_MSG(err && strstr(err, "is not an object store") && strstr(err, "not.objects.>"),
		"%s", err);
	free(err);
	T_EQ_INT(run(NULL, &err, h_str("ls --nats %s", url)), 1);
	T_CHECK(err && strstr(err, "is not an object store"));
	free(err);
	T_REQUIRE(js_DeleteStream(js, STREAM, NULL, NULL) == NATS_OK);
	/* Another stream holding the store's subjects: the store cannot be made. */
	const char *squat[] = {"$O.outpost-artifacts.>"};
	c.Name = "squatter";
	c.Subjects = squat;
	T_REQUIRE(js_AddStream(NULL, js, &c, NULL, NULL) == NATS_OK);
	T_EQ_INT(run(NULL, &err, h_str("put --nats %s %s", url, files[1].path)), 1);
	T_CHECK_MSG(err && strstr(err, "create object store outpost-artifacts"), "%s", err);
	free(err);
	js_DeleteStream(js, "squatter", NULL, NULL);
	/* No store at all: ls and gc say so and succeed. */
	T_EQ_INT(run(&out, &err, h_str("ls --nats %s", url)), 0);
	T_CHECK(err && strstr(err, "no object store outpost-artifacts yet"));
	free(out), free(err);

	const char *usage_cases[] = {"", "frob", "put", "ls extra", "gc extra", "gc --keep 0",
		"gc --keep x", "gc --min-age soon", "put --keep 1 x", "ls --dry-run", "--bogus",
		"ls --bogus"};
	for (size_t i = 0; i < sizeof usage_cases / sizeof *usage_cases; i++) {
		T_CHECK_MSG(run(NULL, &err, usage_cases[i]) == 2 && err && err[0],
			"outpost artifact %s", usage_cases[i]);
		free(err);
	}
	const char *helps[] = {"--help", "-h", "put --help", "gc -h"};
	for (size_t i = 0; i < sizeof helps / sizeof *helps; i++) {
		T_EQ_INT(run(&out, NULL, helps[i]), 0);
		T_CHECK(out && strstr(out, "usage: outpost artifact put") && strstr(out, "--keep"));
		free(out);
	}
	T_EQ_INT(h_run(&out, "%s --help", bin), 0);
	T_CHECK(out && strstr(out, "artifact"));
	free(out);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd) || sodium_init() < 0)
		return 1;
	bin = h_str("%s/outpost", cwd);
	ed = h_keygen("ed25519");
	hub = h_hub_start();
	if (!ed || !hub || natsConnection_ConnectTo(&nc, h_nats_url(hub)) != NATS_OK ||
		natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
		return 1;
	T_RUN(test_put_and_read_back);
	T_RUN(test_put_again_not_sent);
	T_RUN(test_found_by_digest);
	T_RUN(test_ls_and_gc);
	T_RUN(test_sync_warns_missing);
	T_RUN(test_errors_and_usage);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	for (int i = 0; i < 4; i++)
		free(files[i].bytes);
	free(other.bytes);
	return t_done();
}
