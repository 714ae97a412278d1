/* Artifacts staged at a site before a revision applies (agent/site/stage*.c), end to
 * end: a hub with its sync and object store, a site behind a link the harness cuts, its
 * agent and a host, all real processes. Files go into the hub's store with `outpost
 * artifact put`; apps pin them by digest; the site's copy (stream OBJ_outpost-artifacts
 * in the site's domain) is read back with outpost's object-store reader. What is
 * checked: a revision applies only once its artifacts are whole at the site; a cut in
 * the middle of staging applies nothing and resumes; a site fetches only the arch its
 * hosts have; bytes swapped in the hub's store are refused and the previous revision
 * keeps running; an artifact not in the store keeps its old meaning; the site keeps the
 * previous revision's artifacts (a rollback downloads nothing) and drops older ones. */
#include <jansson.h>
#include <nats/nats.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fleet.h"
#include "outpost/agent/store/store.h"
#include "t.h"

#define WAIT_MS 60000
#define STREAM "OBJ_outpost-artifacts"

static fleet F;
static op_bus site_bus;

typedef struct art {
	const char *path;
	char hex[65];
	size_t size;
} art;

/* A file of random bytes of size, put into the hub's store. */
static art put(const char *name, size_t size)
{
	art a = {.path = h_path("files/%s", name), .size = size};
	h_mkdirs(h_path("files"));
	unsigned char *b = malloc(size ? size : 1);
	randombytes_buf(b, size);
	unsigned char sha[32];
	crypto_hash_sha256(sha, b, size);
	sodium_bin2hex(a.hex, sizeof a.hex, sha, 32);
	FILE *fp = fopen(a.path, "wb");
	if (fp) {
		fwrite(b, 1, size, fp);
		fclose(fp);
	}
	free(b);
	char *out = NULL;
	int rc = h_run(&out, "%s artifact put --nats %s %s", F.bin, h_nats_url(F.hub), a.path);
	if (rc != 0 || !out || !strstr(out, a.hex))
		printf("    artifact put failed (%d): %s\n", rc, out ? out : "");
	free(out);
	return a;
}

/* A digest no store holds. */
static art unstored(void)
{
	art a = {.path = "/nonexistent"};
	unsigned char r[32];
	randombytes_buf(r, sizeof r);
	sodium_bin2hex(a.hex, sizeof a.hex, r, 32);
	return a;
}

static const char *pin(const art *a, const char *where)
{
	return h_str("{path: %s, sha256: %s}", h_path("inst/%s", where), a->hex);
}

/* The site's copy holds the object with a's content, whole: its meta (when m). */
static bool site_has(const art *a, op_objmeta *m)
{
	op_store s;
	op_err e = {0};
	uint8_t sha[32];
	if (op_art_digest_parse(a->hex, sha) != 0 ||
		op_store_open(&s, &site_bus, OP_STORE_BUCKET, false, &e) != 0)
		return false;
	op_objmeta mm;
	bool ok = op_store_find(&s, sha, &mm, &e) == 0;
	if (ok && m)
		*m = mm;
	else
		op_objmeta_clear(&mm);
	op_store_close(&s);
	return ok;
}

static bool site_lacks(void *arg)
{
	return !site_has(arg, NULL);
}

/* Messages the site's copy holds on subject. */
static uint64_t site_count(const char *subject)
{
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = subject;
	jsStreamInfo *si = NULL;
	if (js_GetStreamInfo(&si, F.site_js, STREAM, &o, NULL) != NATS_OK)
		return 0;
	uint64_t n = 0;
	for (int i = 0; si->State.Subjects && i < si->State.Subjects->Count; i++)
		n += si->State.Subjects->List[i].Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

static json_t *agent_status(void)
{
	return fl_kv_json(F.site_status, h_str("site.%s.agent", F.name));
}

/* The state the agent's status gives the artifact (NULL: not listed). */
static const char *art_state(const art *a)
{
	json_t *j = agent_status();
	const char *state = NULL;
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(j, "artifacts"), i, x)
	{
		const char *d = json_string_value(json_object_get(x, "digest"));
		if (d && strstr(d, a->hex))
			state = h_str("%s", json_string_value(json_object_get(x, "state")));
	}
	json_decref(j);
	return state;
}

struct seq_wait {
	uint64_t seq;
};

static bool at_seq(void *arg)
{
	return fl_agent_seq(&F) == (long long)((struct seq_wait *)arg)->seq;
}

static bool wait_seq(uint64_t seq)
{
	struct seq_wait w = {seq};
	return seq && h_wait_until(at_seq, &w, WAIT_MS);
}

/* ---- the tests ------------------------------------------------------------------------ */

static art A, B, C, D, E, G, H, X;

/* A site without artifacts keeps no staging state: revisions apply without the file
 * being written (two fsyncs a revision saved at every site). */
static void test_no_artifacts_no_file(void)
{
	F.apps[1] = (fl_app){.on = true, .ver = 1, .instances = 1};
	T_REQUIRE(wait_seq(fl_push(&F)));
	F.apps[1].ver = 2;
	T_REQUIRE(wait_seq(fl_push(&F)));
	T_CHECK(access(h_path("agent-state/staging.json"), F_OK) != 0);
	F.apps[1].on = false;
	T_REQUIRE(wait_seq(fl_push(&F)));
}

static void test_staged_before_apply(void)
{
	A = put("a", 3 * 1024 * 1024 + 17);
	F.apps[0] = (fl_app){.on = true, .ver = 1, .instances = 1, .artifact = pin(&A, "a")};
	uint64_t seq = fl_push(&F);
	T_REQUIRE(wait_seq(seq));
	/* Applied means staged: the whole object is at the site, its digest checked. */
	op_objmeta m;
	T_REQUIRE(site_has(&A, &m));
	T_EQ_INT((int)m.size, (int)A.size);
	op_objmeta_clear(&m);
	T_EQ_STR(art_state(&A), "staged");
	T_CHECK(fl_log_count(fl_agent_log(), 0,
			h_str("artifact staged\" digest=sha256:%s", A.hex)) == 1);
	T_CHECK(access(h_path("agent-state/staging.json"), F_OK) == 0);
}

static void test_not_in_store_keeps_old_meaning(void)
{
	X = unstored();
	F.apps[1] = (fl_app){.on = true, .ver = 1, .instances = 1, .artifact = pin(&X, "x")};
	uint64_t seq = fl_push(&F);
	T_REQUIRE(wait_seq(seq)); /* not held: the file must be on the box, as before */
	T_EQ_STR(art_state(&X), "absent");
	F.apps[1].on = false;
	T_REQUIRE(wait_seq(fl_push(&F)));
}

struct half {
	const char *subject;
	uint64_t want;
};

static bool half_here(void *arg)
{
	struct half *h = arg;
	return site_count(h->subject) >= h->want;
}

static bool held_staging(void *arg)
{
	(void)arg;
	json_t *j = agent_status();
	bool ok = json_object_get(j, "staging") &&
		strstr(json_string_value(json_object_get(j, "problem")), "waits");
	json_decref(j);
	return ok;
}

static void test_cut_mid_staging(void)
{
	long long before = fl_agent_seq(&F);
	B = put("b", 48 * 1024 * 1024);
	op_store hub;
	op_bus hb;
	op_err e = {0};
	op_objmeta m;
	uint8_t sha[32];
	op_art_digest_parse(B.hex, sha);
	T_REQUIRE(op_bus_connect(&hb, h_nats_url(F.hub), "test", NULL, 3000, &e) == 0);
	T_REQUIRE(op_store_open(&hub, &hb, OP_STORE_BUCKET, false, &e) == 0);
	T_REQUIRE(op_store_find(&hub, sha, &m, &e) == 0);
	op_store_close(&hub);
	op_bus_close(&hb);
	struct half h = {h_str("$O.outpost-artifacts.C.%s", m.nuid), m.chunks / 2};
	uint32_t chunks = m.chunks;
	op_objmeta_clear(&m);

	F.apps[0].ver = 2;
	F.apps[0].artifact = pin(&B, "a");
	uint64_t seq = fl_push(&F);
	T_REQUIRE(seq);
	T_REQUIRE(h_wait_until_poll(half_here, &h, WAIT_MS, 2000));
	h_link_cut(F.site);
	uint64_t at_cut = site_count(h.subject);
	T_CHECK_MSG(at_cut < chunks, "all %llu chunks crossed before the cut",
		(unsigned long long)at_cut);
	/* Cut off with half the bytes: the previous revision keeps running, whole. */
	T_CHECK(h_wait_until(held_staging, NULL, WAIT_MS));
	T_EQ_INT((int)fl_agent_seq(&F), (int)before);
	T_EQ_STR(art_state(&B), "staging");
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s status --nats %s", F.bin, h_nats_url(F.site)), 0);
	T_CHECK_MSG(out && strstr(out, "waits: staging") && strstr(out, "): staging, ") &&
			strstr(out, " MB"),
		"status: %s", out ? out : "");
	free(out);

	h_link_restore(F.site);
	T_REQUIRE(h_leaf_wait(F.site, 30000));
	T_REQUIRE(wait_seq(seq));
	/* Resumed, not restarted: each chunk is at the site once. */
	T_EQ_INT((int)site_count(h.subject), (int)chunks);
	T_REQUIRE(site_has(&B, NULL));
	T_EQ_STR(art_state(&B), "staged");
}

static void test_only_the_arch_the_site_has(void)
{
	C = put("c-amd64", 200 * 1024);
	D = put("d-riscv64", 300 * 1024);
	F.apps[2] = (fl_app){.on = true,
		.ver = 1,
		.instances = 1,
		.artifact = h_str("{path: %s, sha256: {amd64: %s, riscv64: %s}}", h_path("inst/c"),
			C.hex, D.hex)};
	uint64_t seq = fl_push(&F);
	T_REQUIRE(wait_seq(seq));
	T_CHECK(site_has(&C, NULL));
	T_CHECK(!site_has(&D, NULL)); /* no riscv64 host here: nothing fetched for it */
	T_CHECK(art_state(&D) == NULL);
}

/* Replaces the chunks of the object holding a's content by other bytes of the same
 * sizes, straight in the hub's stream: its meta still claims a's digest. */
static bool swap_bytes(const art *a)
{
	op_bus b;
	op_store s;
	op_err e = {0};
	op_objmeta m;
	uint8_t sha[32];
	op_art_digest_parse(a->hex, sha);
	if (op_bus_connect(&b, h_nats_url(F.hub), "test", NULL, 3000, &e) != 0)
		return false;
	bool ok = op_store_open(&s, &b, OP_STORE_BUCKET, false, &e) == 0 &&
		op_store_find(&s, sha, &m, &e) == 0;
	if (ok) {
		const char *subj = h_str("$O.outpost-artifacts.C.%s", m.nuid);
		jsOptions o;
		jsOptions_Init(&o);
		o.Stream.Purge.Subject = subj;
		ok = js_PurgeStream(F.hub_js, STREAM, &o, NULL) == NATS_OK;
		size_t left = m.size, each = m.max_chunk ? m.max_chunk : 128 * 1024;
		unsigned char *buf = malloc(each);
		for (uint32_t i = 0; ok && i < m.chunks; i++) {
			size_t n = left < each ? left : each;
			randombytes_buf(buf, n);
			ok = js_Publish(NULL, F.hub_js, subj, buf, (int)n, NULL, NULL) == NATS_OK;
			left -= n;
		}
		free(buf);
		op_objmeta_clear(&m);
		op_store_close(&s);
	}
	op_bus_close(&b);
	return ok;
}

static bool refused_shown(void *arg)
{
	const char *st = art_state(arg);
	return st && !strcmp(st, "refused");
}

static void test_swapped_bytes_refused(void)
{
	long long before = fl_agent_seq(&F);
	long off = fl_log_size(fl_agent_log());
	E = put("e", 700 * 1024);
	T_REQUIRE(swap_bytes(&E));
	F.apps[3] = (fl_app){.on = true, .ver = 1, .instances = 1, .artifact = pin(&E, "e")};
	uint64_t seq = fl_push(&F);
	T_REQUIRE(seq);
	T_REQUIRE(h_wait_until(refused_shown, &E, WAIT_MS));
	T_CHECK(h_wait_until(held_staging, NULL, WAIT_MS));
	T_EQ_INT((int)fl_agent_seq(&F), (int)before); /* the previous revision runs on */
	json_t *j = agent_status();
	const char *p = json_string_value(json_object_get(j, "problem"));
	T_CHECK_MSG(p && strstr(p, "refused") && strstr(p, E.hex), "problem: %s", p ? p : "");
	json_decref(j);
	T_EQ_INT(fl_log_count(fl_agent_log(), off, "artifact refused at the site"), 1);
	T_CHECK(!site_has(&E, NULL)); /* the bad bytes are not kept */
	/* Dropping the app lets the next revision apply. */
	F.apps[3].on = false;
	T_REQUIRE(wait_seq(fl_push(&F)));
}

static void test_rollback_keeps_and_gc_drops(void)
{
	/* apps[0] needs B now. Revision 1 moves it to G, revision 2 back to B (a revert):
	 * B was kept as the previous revision's, so nothing is staged again. */
	G = put("g", 500 * 1024);
	F.apps[0].ver = 3;
	F.apps[0].artifact = pin(&G, "a");
	T_REQUIRE(wait_seq(fl_push(&F)));
	T_CHECK(site_has(&B, NULL));
	long off = fl_log_size(fl_agent_log());
	F.apps[0].ver = 2;
	F.apps[0].artifact = pin(&B, "a");
	T_REQUIRE(wait_seq(fl_push(&F)));
	T_EQ_INT(fl_log_count(
			 fl_agent_log(), off, h_str("staging artifact\" digest=sha256:%s", B.hex)),
		0);
	/* Two revisions on, G is older than the previous revision: dropped. */
	H = put("h", 100 * 1024);
	F.apps[0].ver = 4;
	F.apps[0].artifact = pin(&H, "a");
	T_REQUIRE(wait_seq(fl_push(&F)));
	F.apps[0].ver = 5;
	F.apps[0].artifact = pin(&A, "a");
	T_REQUIRE(wait_seq(fl_push(&F)));
	T_CHECK(h_wait_until(site_lacks, &G, WAIT_MS));
	T_CHECK(site_has(&H, NULL)); /* the previous revision's */
	T_CHECK(site_has(&A, NULL)); /* the running one's */
}

int main(void)
{
	if (sodium_init() < 0 || !fl_start(&F, "plant-a", 1))
		return 1;
	op_err e = {0};
	if (op_bus_connect(&site_bus, h_nats_url(F.site), "test", NULL, 3000, &e) != 0)
		return 1;
	T_RUN(test_no_artifacts_no_file);
	T_RUN(test_staged_before_apply);
	T_RUN(test_not_in_store_keeps_old_meaning);
	T_RUN(test_cut_mid_staging);
	T_RUN(test_only_the_arch_the_site_has);
	T_RUN(test_swapped_bytes_refused);
	T_RUN(test_rollback_keeps_and_gc_drops);
	op_bus_close(&site_bus);
	fl_stop(&F);
	return t_done();
}
