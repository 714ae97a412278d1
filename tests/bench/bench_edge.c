/* What verification at the edge costs a site, against the floor of what a site that
 * takes the hub's word does with the same revision. A repository of 1,000 valid
 * manifests under apps/ (one SSH-signed ed25519 commit, from the harness) is read
 * through the sync cache; its proof and blobs are built as sync builds them. Timed, in
 * process, median of ROUNDS:
 *   (a) op_edge_verify: decode the proof, hash the commit and every tree and blob,
 *       check the signature, parse and validate 1,000 YAML files and make their
 *       canonical JSON, compare with the marker;
 *   (b) the floor, op_revision_assemble over the hub's canonical JSON: digest and parse
 *       of 1,000 JSON documents (what an agent without --trust does).
 * Also printed: the bytes a revision adds to the bucket (proof + blobs) against the app
 * entries alone. Printed, never judged; non-zero exit only on a failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "outpost/agent/trust/edge.h"
#include "outpost/sync/git/proofgen.h"

#define NAPPS 1000
#define ROUNDS 7

static const char *app_yaml(int i)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: app-%04d\n  annotations:\n    team: team-%d\nspec:\n  components:\n"
		     "    - name: main\n      type: process\n      properties:\n"
		     "        command: /usr/bin/app-%04d\n        args: [\"--port\", \"%d\"]\n"
		     "        env:\n          LOG_LEVEL: info\n      traits:\n"
		     "        - type: spreadscaler\n          properties:\n"
		     "            instances: 2\n",
		i, i % 10, i, 8000 + i);
}

typedef struct held {
	op_blob_ids *ids;
	char **bytes;
	size_t *len;
	op_marker *m;
	char **json; /* canonical JSON by marker order */
	size_t *jlen;
} held;

static int get_blob(void *arg, const char *id, const char **buf, size_t *len)
{
	held *h = arg;
	const char(*hit)[41] = bsearch(id, h->ids->v, h->ids->n, sizeof *h->ids->v,
		(int (*)(const void *, const void *))strcmp);
	if (!hit)
		return OP_ENOTFOUND;
	size_t i = (size_t)(hit - h->ids->v);
	*buf = h->bytes[i];
	*len = h->len[i];
	return 0;
}

static int get_json(void *arg, const char *name, const char **json, size_t *len)
{
	held *h = arg;
	for (size_t i = 0; i < h->m->napps; i++)
		if (!strcmp(h->m->apps[i].name, name)) {
			*json = h->json[i];
			*len = h->jlen[i];
			return 0;
		}
	return OP_ENOTFOUND;
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) * 1e3 + (double)(t1.tv_nsec - t0->tv_nsec) / 1e6;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	const h_key *key = h_keygen("ed25519");
	h_repo *repo = h_repo_new("fleet");
	if (!key || !repo)
		return 1;
	const char *trust = h_path("allowed_signers");
	h_write(trust, "ops@example.com %s\n", key->pub);
	for (int i = 0; i < NAPPS; i++)
		h_repo_write(repo, h_str("apps/app-%04d.yaml", i), "%s", app_yaml(i));
	const char *head = h_repo_commit(repo, &(h_commit){.key = key, .msg = "fleet"});
	op_source *src = NULL;
	op_err e = {0};
	char fetched[41];
	op_commit c;
	op_proof p;
	op_blob_ids ids;
	char *pj = NULL;
	size_t pjlen = 0;
	if (!head || op_source_open(&src, h_path("cache"), repo->path, NULL, &e) ||
		op_source_fetch(src, "main", fetched, &e) || op_source_commit(src, head, &c, &e) ||
		op_proof_build(src, &c, "apps", &p, &ids, &e) ||
		op_proof_encode(&p, &pj, &pjlen, &e)) {
		fprintf(stderr, "bench_edge: setup: %s\n", e.msg);
		return 1;
	}
	/* The blobs and the marker as sync would publish them. */
	held h = {.ids = &ids,
		.bytes = calloc(ids.n, sizeof(char *)),
		.len = calloc(ids.n, sizeof(size_t))};
	size_t blob_bytes = 0, json_bytes = 0;
	for (size_t i = 0; i < ids.n; i++) {
		if (op_source_blob(src, ids.v[i], &h.bytes[i], &h.len[i], &e))
			return 1;
		blob_bytes += h.len[i];
	}
	op_appset set = {0};
	op_diags d = {0};
	if (op_source_read_apps(src, head, "apps", &set, &d, NULL, NULL, &e) || d.n)
		return 1;
	op_policy *pol = NULL;
	if (op_policy_load(&pol, trust, NULL, false, &e))
		return 1;
	op_marker m = {0};
	memcpy(m.commit, head, 41);
	m.seq = 1;
	m.apps = calloc(set.n, sizeof *m.apps);
	h.json = calloc(set.n, sizeof(char *));
	h.jlen = calloc(set.n, sizeof(size_t));
	h.m = &m;
	for (size_t i = 0; i < set.n; i++) { /* files are app-0000.. in order: names sorted */
		op_manifest_to_json(set.apps[i], &h.json[i], &h.jlen[i]);
		snprintf(m.apps[i].name, sizeof m.apps[i].name, "%s", set.apps[i]->name);
		op_digest(h.json[i], h.jlen[i], m.apps[i].digest);
		json_bytes += h.jlen[i];
	}
	m.napps = set.n;
	double edge[ROUNDS], floor_[ROUNDS];
	for (int r = 0; r < ROUNDS; r++) {
		op_revision rev;
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int rc = op_edge_verify(pol, "apps", &m, pj, pjlen, get_blob, &h, &rev, &e);
		edge[r] = ms_since(&t0);
		if (rc) {
			fprintf(stderr, "bench_edge: verify: %s\n", e.msg);
			return 1;
		}
		op_revision_clear(&rev);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		rc = op_revision_assemble(&m, get_json, &h, &rev, &e);
		floor_[r] = ms_since(&t0);
		if (rc)
			return 1;
		op_revision_clear(&rev);
	}
	qsort(edge, ROUNDS, sizeof *edge, cmp_d);
	qsort(floor_, ROUNDS, sizeof *floor_, cmp_d);
	printf("bench_edge: %d apps, median of %d\n", NAPPS, ROUNDS);
	printf("  verify at the edge (proof, ids, signature, YAML -> JSON): %8.1f ms\n",
		edge[ROUNDS / 2]);
	printf("  floor: the hub's JSON taken as it is (digest + parse):    %8.1f ms\n",
		floor_[ROUNDS / 2]);
	printf("  ratio: %.2fx\n", edge[ROUNDS / 2] / floor_[ROUNDS / 2]);
	printf("  bucket bytes: app entries %zu, proof %zu (%zu trees) + blobs %zu: %.2fx "
	       "the entries\n",
		json_bytes, pjlen, p.ntrees, blob_bytes,
		(double)(json_bytes + pjlen + blob_bytes) / (double)json_bytes);
	op_policy_free(pol);
	return 0;
}
