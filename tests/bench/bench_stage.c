/* Staging an artifact at a site: what it costs in time and in bytes over the leaf link,
 * against the floor of JetStream's own mirror in the same run. A hub and a site
 * nats-server come from the harness, the site's leaf link through the harness's proxy,
 * which counts the bytes it carries (h_link_bytes) and can cut the link. The artifact
 * is BENCH_STAGE_MIB MiB (default 100) of random bytes plus an odd tail, put into the
 * hub's object store outpost-artifacts by agent/store (ADR-20, 128 KiB chunks).
 *
 * Timed, median of ROUNDS, the three in turn in each round:
 *   (a) floor: a plain stream on the hub holding the same bytes in the same chunks,
 *       mirrored into the site's domain (mirror with external api $JS.hub.API): from
 *       the mirror's creation to all its messages at the site;
 *   (b) context: the same bytes copied between two local TCP sockets into a file, with
 *       fsync at the end (JetStream does not fsync each message: see DESIGN.md);
 *   (c) staging: the site's stream OBJ_outpost-artifacts sourcing the artifact's chunk
 *       and meta subjects from the hub: from the trigger to every chunk and the meta at
 *       the site. Printed against the floor (goal <= 1.2x).
 * Then, in bytes the proxy took in while staging, both ways: (d) a clean staging (goal
 * <= 1.02x the artifact's size), and (e) a staging whose link is cut when about half
 * the chunks are at the site, restored at once (goal <= 1.05x), its staged copy read
 * back from the site's stream and checked against the artifact's digest and bytes.
 * Every staged copy is checked so, outside the timing.
 *
 * What starts staging is one function, stage_start: the stream config the site agent
 * sends (op_stage_stream_config); the rest only watches the site's stream.
 * The build root's runner clears the environment: a quick run is
 *   packaging/inroot.sh env BENCH_STAGE_MIB=8 build/rel/tests/bench/bench_stage
 * Figures are printed, never judged: the exit status is non-zero only when something
 * does not happen at all or a staged copy differs. OUTPOST_KEEP=1 keeps the temp dir. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/wire/deliver.h"
#include "outpost/agent/store/stage.h"
#include "outpost/agent/store/store.h"

#define ROUNDS 3
#define WAIT_MS 180000
#define POLL_US 2000
#define GOAL_TIME 1.2
#define GOAL_BYTES 1.02
#define GOAL_CUT 1.05
#define TAIL 4321 /* a last chunk shorter than the others, as real files have */
#define STREAM "OBJ_" OP_STORE_BUCKET
#define FLOOR "bench-floor"
#define FLOOR_SUBJ "bench.floor"
#define MIB (1024.0 * 1024.0)

/* The stream limits every site stream here gets: no limits, file storage. */
#define LIMITS \
	"\"storage\":\"file\",\"num_replicas\":1,\"retention\":\"limits\",\"discard\":\"new\"," \
	"\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,\"max_msgs_per_subject\":-1," \
	"\"max_msg_size\":-1"
#define EXTERNAL "\"external\":{\"api\":\"$JS.hub.API\",\"deliver\":\"\"}"

static h_nats *hub, *site;
static natsConnection *hub_nc, *site_nc;
static jsCtx *hub_js, *site_js;
static unsigned char *bytes; /* the artifact */
static size_t size;
static uint32_t chunk;
static op_objmeta art; /* its info as the hub's store holds it */
static char chunk_subj[128], meta_subj[2048];
static int failed;

/* ---- JetStream by raw API requests ------------------------------------------------------ */

/* Sends a JetStream API request (JSON) on nc; false with the reply's error printed. */
static bool api(natsConnection *nc, const char *subj, const char *body)
{
	natsMsg *r = NULL;
	natsStatus s = natsConnection_Request(&r, nc, subj, body, (int)strlen(body), 10000);
	json_t *j = s == NATS_OK
		? json_loadb(natsMsg_GetData(r), (size_t)natsMsg_GetDataLength(r), 0, NULL)
		: NULL;
	json_t *err = json_object_get(j, "error");
	bool ok = j && !err;
	if (!ok)
		fprintf(stderr, "bench_stage: %s: %s\n", subj,
			s != NATS_OK  ? natsStatus_GetText(s)
				: err ? json_string_value(json_object_get(err, "description"))
				      : "a reply that is not JSON");
	json_decref(j);
	natsMsg_Destroy(r);
	return ok;
}

/* Deletes a stream at the site, so that the next round starts with nothing there. */
static void site_drop(const char *stream)
{
	natsMsg *r = NULL;
	natsConnection_RequestString(
		&r, site_nc, h_str("$JS.API.STREAM.DELETE.%s", stream), "", 10000);
	natsMsg_Destroy(r);
}

/* ---- the hub: the artifact in the store, the same bytes in a plain stream ------------- */

static bool put_artifact(void)
{
	const char *path = h_path("artifact.bin");
	FILE *f = fopen(path, "wb");
	bool ok = f && fwrite(bytes, 1, size, f) == size;
	if (f && fclose(f) != 0)
		ok = false;
	op_bus b;
	op_store s;
	op_err e = {0};
	bool sent = false;
	if (!ok || op_bus_connect(&b, h_nats_url(hub), "bench", NULL, 5000, &e) != 0) {
		fprintf(stderr, "bench_stage: cannot write %s or reach the hub: %s\n", path, e.msg);
		return false;
	}
	ok = op_store_open(&s, &b, OP_STORE_BUCKET, true, &e) == 0;
	if (ok) {
		ok = op_store_put_file(&s, path, NULL, &art, &sent, &e) == 0;
		chunk = s.chunk;
		op_store_close(&s);
	}
	op_bus_close(&b);
	if (!ok)
		fprintf(stderr, "bench_stage: put: %s\n", e.msg);
	unlink(path);
	return ok &&
		op_objmeta_chunk_subject(
			OP_STORE_BUCKET, art.nuid, chunk_subj, sizeof chunk_subj) == 0 &&
		op_objmeta_meta_subject(OP_STORE_BUCKET, art.name, meta_subj, sizeof meta_subj) ==
		0;
}

static bool put_floor(void)
{
	const char *subjects[] = {FLOOR_SUBJ};
	jsStreamConfig c;
	jsStreamConfig_Init(&c);
	c.Name = FLOOR;
	c.Subjects = subjects;
	c.SubjectsLen = 1;
	c.Storage = js_FileStorage;
	jsStreamInfo *si = NULL;
	if (js_AddStream(&si, hub_js, &c, NULL, NULL) != NATS_OK)
		return false;
	jsStreamInfo_Destroy(si);
	for (size_t off = 0; off < size; off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;
		if (js_PublishAsync(hub_js, FLOOR_SUBJ, bytes + off, (int)n, NULL) != NATS_OK)
			return false;
	}
	jsPubOptions po;
	jsPubOptions_Init(&po);
	po.MaxWait = 60000;
	return js_PublishAsyncComplete(hub_js, &po) == NATS_OK;
}

/* ---- the site: what triggers each copy, and what says it is done ------------------------ */

/* The floor's trigger: the site mirrors the plain stream. */
static bool floor_start(void)
{
	return api(site_nc, "$JS.API.STREAM.CREATE." FLOOR,
		"{\"name\":\"" FLOOR "\"," LIMITS ",\"mirror\":{\"name\":\"" FLOOR "\"," EXTERNAL
		"}}");
}

/* What starts staging at the site: the site's copy of the store sourcing the artifact's
 * chunk and meta subjects from the hub's, one source per subject (measured here with
 * nats-server 2.10: one source with both filters was 2.5-3x slower and, after a cut,
 * sent a quarter of the artifact again). The meta may come before the last chunk, which
 * stage_done allows. */
static bool stage_start(void)
{
	char *body = NULL;
	op_err e = {0};
	if (op_stage_stream_config(OP_STORE_BUCKET, "$JS.hub.API", OP_ART_DELIVER ".bench", &art, 1,
		    &body, &e) != 0) {
		fprintf(stderr, "bench_stage: %s\n", e.msg);
		return false;
	}
	bool ok = api(site_nc, "$JS.API.STREAM.CREATE." STREAM, body);
	free(body);
	return ok;
}

static uint64_t floor_msgs(void)
{
	jsStreamInfo *si = NULL;
	if (js_GetStreamInfo(&si, site_js, FLOOR, NULL, NULL) != NATS_OK)
		return 0;
	uint64_t n = si->State.Msgs;
	jsStreamInfo_Destroy(si);
	return n;
}

static bool floor_done(void *arg)
{
	(void)arg;
	return floor_msgs() >= art.chunks;
}

/* The artifact's chunks and meta messages at the site, by subject: the stream may hold
 * other artifacts. */
static void staged(uint64_t *chunks, uint64_t *metas)
{
	jsOptions o;
	jsOptions_Init(&o);
	o.Stream.Info.SubjectsFilter = "$O." OP_STORE_BUCKET ".>";
	jsStreamInfo *si = NULL;
	*chunks = *metas = 0;
	if (js_GetStreamInfo(&si, site_js, STREAM, &o, NULL) != NATS_OK)
		return;
	for (int i = 0; si->State.Subjects && i < si->State.Subjects->Count; i++) {
		const jsStreamStateSubject *s = &si->State.Subjects->List[i];
		if (!strcmp(s->Subject, chunk_subj))
			*chunks = s->Msgs;
		else if (!strcmp(s->Subject, meta_subj))
			*metas = s->Msgs;
	}
	jsStreamInfo_Destroy(si);
}

static bool stage_done(void *arg)
{
	(void)arg;
	uint64_t c, m;
	staged(&c, &m);
	return c >= art.chunks && m >= 1;
}

static bool stage_half(void *arg)
{
	(void)arg;
	uint64_t c, m;
	staged(&c, &m);
	return c >= (art.chunks + 1) / 2;
}

/* ---- the staged copy, read back from the site ------------------------------------------ */

/* The site's meta says what the hub's does, and its chunks, read in order from the
 * site's stream alone (agent/store's reader finds streams by subject, and a sourced
 * stream has none), are the artifact's bytes with its digest. */
static bool staged_copy_ok(void)
{
	natsMsg *msg = NULL;
	op_objmeta m = {0};
	op_err e = {0};
	bool ok = js_GetLastMsg(&msg, site_js, STREAM, meta_subj, NULL, NULL) == NATS_OK &&
		op_objmeta_decode(
			natsMsg_GetData(msg), (size_t)natsMsg_GetDataLength(msg), &m, &e) == 0 &&
		!strcmp(m.nuid, art.nuid) && m.size == art.size && m.chunks == art.chunks &&
		!memcmp(m.sha256, art.sha256, 32);
	natsMsg_Destroy(msg);
	op_objmeta_clear(&m);
	if (!ok) {
		fprintf(stderr, "bench_stage: the site's meta differs from the hub's %s\n", e.msg);
		return false;
	}
	jsSubOptions so;
	jsSubOptions_Init(&so);
	so.Stream = STREAM;
	so.Ordered = true;
	natsSubscription *sub = NULL;
	if (js_SubscribeSync(&sub, site_js, chunk_subj, NULL, &so, NULL) != NATS_OK)
		return false;
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	size_t got = 0;
	for (uint32_t i = 0; ok && i < art.chunks; i++) {
		msg = NULL;
		ok = natsSubscription_NextMsg(&msg, sub, 10000) == NATS_OK;
		size_t n = ok ? (size_t)natsMsg_GetDataLength(msg) : 0;
		ok = ok && got + n <= size && !memcmp(bytes + got, natsMsg_GetData(msg), n);
		if (ok)
			crypto_hash_sha256_update(
				&h, (const unsigned char *)natsMsg_GetData(msg), n);
		got += n;
		natsMsg_Destroy(msg);
	}
	natsSubscription_Unsubscribe(sub);
	natsSubscription_Destroy(sub);
	unsigned char sha[32];
	crypto_hash_sha256_final(&h, sha);
	ok = ok && got == size && !memcmp(sha, art.sha256, 32);
	if (!ok)
		fprintf(stderr, "bench_stage: the staged copy differs (%zu of %zu bytes read)\n",
			got, size);
	return ok;
}

/* ---- one copy each way ------------------------------------------------------------------- */

typedef struct copy {
	long long ms; /* trigger to done; -1 when it never got there */
	unsigned long long to_site, to_hub; /* bytes the link carried meanwhile */
} copy;

static unsigned long long link_total(const copy *c)
{
	return c->to_site + c->to_hub;
}

/* Starts one copy and waits until done says it is over, counting time and link bytes. */
static copy timed(bool (*start)(void), bool (*done)(void *))
{
	copy c = {-1, 0, 0};
	unsigned long long s0, h0;
	h_link_bytes(site, &s0, &h0);
	long long t0 = h_now_ms();
	if (!start() || !h_wait_until_poll(done, NULL, WAIT_MS, POLL_US)) {
		fprintf(stderr, "bench_stage: a copy did not finish within %d s\n", WAIT_MS / 1000);
		failed = 1;
		return c;
	}
	c.ms = h_now_ms() - t0;
	h_link_bytes(site, &c.to_site, &c.to_hub);
	c.to_site -= s0;
	c.to_hub -= h0;
	return c;
}

static void *tcp_send(void *arg)
{
	int fd = *(int *)arg;
	for (size_t off = 0; off < size;) {
		ssize_t n = send(
			fd, bytes + off, size - off < chunk ? size - off : chunk, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	return NULL;
}

/* A connected pair of local TCP sockets: *a to write, *b to read. 0 or -1. */
static int tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	*a = *b = -1;
	if (l >= 0 && bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0 &&
		getsockname(l, (struct sockaddr *)&sa, &len) == 0 &&
		(*a = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
		connect(*a, (struct sockaddr *)&sa, sizeof sa) == 0)
		*b = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	if (l >= 0)
		close(l);
	if (*b < 0 && *a >= 0) {
		close(*a);
		*a = -1;
	}
	return *b < 0 ? -1 : 0;
}

/* Reads in to its end into out; the bytes read. */
static size_t tcp_drain(int in, int out, char *buf)
{
	size_t got = 0;
	for (;;) {
		ssize_t n = read(in, buf, chunk);
		if (n <= 0)
			return got;
		for (ssize_t w = 0; w < n;) {
			ssize_t k = write(out, buf + w, (size_t)(n - w));
			if (k <= 0)
				return got;
			w += k;
		}
		got += (size_t)n;
	}
}

/* The same bytes from one local TCP socket to another, written to a file and fsynced:
 * ms, or -1. */
static long long tcp_copy(void)
{
	const char *path = h_path("tcp-copy.bin");
	int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char *buf = malloc(chunk);
	long long t0 = h_now_ms(), ms = -1;
	int a = -1, b = -1;
	pthread_t th;
	if (out >= 0 && buf && tcp_pair(&a, &b) == 0) {
		if (pthread_create(&th, NULL, tcp_send, &a) == 0) {
			size_t got = tcp_drain(b, out, buf);
			close(b); /* a sender still writing (a failed file write) stops */
			pthread_join(th, NULL); /* it closed a */
			if (got == size && fsync(out) == 0)
				ms = h_now_ms() - t0;
		} else {
			close(a);
			close(b);
		}
	}
	if (out >= 0)
		close(out);
	free(buf);
	unlink(path);
	if (ms < 0)
		failed = 1;
	return ms;
}

/* ---- the runs ---------------------------------------------------------------------------- */

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static long long median(const long long *v, int n)
{
	long long s[ROUNDS];
	memcpy(s, v, (size_t)n * sizeof *v);
	qsort(s, (size_t)n, sizeof *s, cmp_ll);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double mib_s(long long ms)
{
	return ms > 0 ? (double)size / MIB / ((double)ms / 1000.0) : 0.0;
}

static const char *samples(const long long *v, int n)
{
	const char *s = "";
	for (int i = 0; i < n; i++)
		s = h_str("%s%s%lld", s, i ? " " : "", v[i]);
	return s;
}

/* A staging whose link is cut once about half the chunks are at the site. */
static void cut_at_half(void)
{
	site_drop(STREAM);
	unsigned long long s0, h0, s1, h1;
	h_link_bytes(site, &s0, &h0);
	long long t0 = h_now_ms();
	if (!stage_start() || !h_wait_until_poll(stage_half, NULL, WAIT_MS, POLL_US)) {
		fprintf(stderr, "bench_stage: half the chunks never got to the site\n");
		failed = 1;
		return;
	}
	uint64_t at, metas;
	staged(&at, &metas);
	h_link_bytes(site, &s1, NULL);
	h_link_cut(site);
	long long t_cut = h_now_ms();
	double crossed = (double)(s1 - s0);
	h_link_restore(site);
	bool up = h_leaf_wait(site, 30000);
	long long t_up = h_now_ms();
	if (!up || !h_wait_until_poll(stage_done, NULL, WAIT_MS, POLL_US)) {
		fprintf(stderr, "bench_stage: staging did not finish after the cut (link %s)\n",
			up ? "back" : "still down");
		failed = 1;
		return;
	}
	long long t1 = h_now_ms();
	h_link_bytes(site, &s1, &h1);
	double total = (double)(s1 - s0 + h1 - h0);
	bool same = staged_copy_ok();
	printf("  (e) cut at half (at %llu of %lu chunks stored, %.1f MiB, with %.1f MiB across "
	       "the link; down %lld ms): staged %lld ms after the link was back, %lld ms in all; "
	       "bytes over the link %.4fx the size (goal <= %.2fx); staged copy's digest %s\n",
		(unsigned long long)at, (unsigned long)art.chunks, (double)at * chunk / MIB,
		crossed / MIB, t_up - t_cut, t1 - t_up, t1 - t0, total / (double)size, GOAL_CUT,
		same ? "matches" : "DIFFERS");
	if (!same)
		failed = 1;
}

static bool setup(void)
{
	const char *env = getenv("BENCH_STAGE_MIB");
	long mib = env ? strtol(env, NULL, 10) : 100;
	size = (size_t)(mib > 0 ? mib : 100) * 1024 * 1024 + TAIL;
	bytes = malloc(size);
	if (!bytes || sodium_init() < 0)
		return false;
	randombytes_buf(bytes, size);
	hub = h_hub_start();
	site = hub ? h_site_start(hub, "plant") : NULL;
	return site && h_leaf_wait(site, 30000) &&
		natsConnection_ConnectTo(&hub_nc, h_nats_url(hub)) == NATS_OK &&
		natsConnection_ConnectTo(&site_nc, h_nats_url(site)) == NATS_OK &&
		natsConnection_JetStream(&hub_js, hub_nc, NULL) == NATS_OK &&
		natsConnection_JetStream(&site_js, site_nc, NULL) == NATS_OK && put_artifact() &&
		put_floor();
}

int main(void)
{
	if (!setup()) {
		fprintf(stderr, "bench_stage: set-up failed\n");
		return 1;
	}
	printf("bench_stage: a %.2f MiB artifact (%lu chunks of %u KiB) staged at a site over "
	       "its leaf link (the agent's stream config), median of %d (ms of each round in "
	       "[])\n",
		(double)size / MIB, (unsigned long)art.chunks, chunk / 1024, ROUNDS);
	long long fl[ROUNDS], tc[ROUNDS], st[ROUNDS];
	copy fc = {0}, sc = {0};
	for (int r = 0; r < ROUNDS && !failed; r++) {
		site_drop(FLOOR);
		fc = timed(floor_start, floor_done);
		fl[r] = fc.ms;
		tc[r] = tcp_copy();
		site_drop(STREAM);
		sc = timed(stage_start, stage_done);
		st[r] = sc.ms;
		if (!failed && !staged_copy_ok())
			failed = 1;
	}
	site_drop(FLOOR);
	if (failed)
		return 1;
	long long f = median(fl, ROUNDS), t = median(tc, ROUNDS), s = median(st, ROUNDS);
	printf("  (a) floor: JetStream's mirror of a plain stream into the site's domain: %6lld "
	       "ms (%.1f MiB/s) [%s]\n",
		f, mib_s(f), samples(fl, ROUNDS));
	printf("  (b) context: TCP copy between two local sockets, fsync at the end:     %6lld "
	       "ms (%.1f MiB/s) [%s]\n",
		t, mib_s(t), samples(tc, ROUNDS));
	printf("  (c) staging: the site's stream sourcing the artifact's chunks and meta: %6lld "
	       "ms (%.1f MiB/s) [%s]; staging/floor %.2fx (goal <= %.1fx)\n",
		s, mib_s(s), samples(st, ROUNDS), f > 0 ? (double)s / (double)f : 0.0, GOAL_TIME);
	printf("  (d) bytes over the leaf link while staging: %llu (%llu to the site, %llu to "
	       "the hub), %.4fx the size (goal <= %.2fx); the floor's: %.4fx\n",
		link_total(&sc), sc.to_site, sc.to_hub, (double)link_total(&sc) / (double)size,
		GOAL_BYTES, (double)link_total(&fc) / (double)size);
	cut_at_half();
	jsCtx_Destroy(hub_js);
	jsCtx_Destroy(site_js);
	natsConnection_Destroy(hub_nc);
	natsConnection_Destroy(site_nc);
	op_objmeta_clear(&art);
	free(bytes);
	return failed;
}
