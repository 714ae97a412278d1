/* The proof of a revision, what a site needs to check it itself: built for a new
 * revision, and published again when the bucket lacks the one of its revision (see
 * sync_int.h). */
#include "sync_int.h"

#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/sync/git/proofgen.h"
#include "outpost/sync/publish/publish.h"

int op_sync_load_blob(void *src, const char *id, char **buf, size_t *len, op_err *e)
{
	return op_source_blob(src, id, buf, len, e);
}

int op_sync_proof_build(
	op_sync *s, const op_commit *c, char **json, size_t *len, op_blob_ids *blobs, op_err *e)
{
	op_proof proof;
	*json = NULL;
	int rc = op_proof_build(s->src, c, s->cfg.path, &proof, blobs, e);
	if (rc)
		return rc;
	rc = op_proof_encode(&proof, json, len, e);
	if (rc == 0 && *len > OP_MAX_VALUE && proof.ncommits) {
		/* Without the chain rather than no revision: sites behind a rotation then
		 * refuse it and say how to reset them. */
		op_log_warn("the proof is too large with its chain of policy changes: published "
			    "without it",
			"commit=%.12s bytes=%zu commits=%zu", c->sha, *len, proof.ncommits);
		for (size_t i = 0; i < proof.ncommits; i++)
			free(proof.commits[i].raw);
		proof.ncommits = 0;
		free(*json);
		rc = op_proof_encode(&proof, json, len, e);
	}
	op_proof_clear(&proof);
	if (rc == 0 && *len > OP_MAX_VALUE)
		rc = op_err_set(e, OP_ETOOBIG,
			"the proof is %zu bytes, more than a value may hold (%d): too many "
			"directories or files under %s",
			*len, OP_MAX_VALUE, s->cfg.path);
	if (rc) {
		free(*json);
		*json = NULL;
		op_blob_ids_clear(blobs);
	}
	return rc;
}

void op_sync_proof_repair(op_sync *s, const char *head, uint64_t base_seq)
{
	char *val = NULL;
	size_t len = 0;
	uint64_t rev = 0;
	op_err e = {0};
	op_proof held;
	bool ok = false;
	if (op_bus_kv_get(s->kv, "proof", &val, &len, &rev, &e) == 0 &&
		op_proof_decode(val, len, &held, &e) == 0) {
		ok = !strcmp(held.commit, head);
		op_proof_clear(&held);
	}
	free(val);
	if (ok)
		return;
	op_commit hc;
	op_blob_ids blobs;
	char *pj = NULL;
	size_t pjlen = 0, put = 0;
	int rc = op_source_commit(s->src, head, &hc, &e);
	if (rc == 0) {
		rc = op_sync_proof_build(s, &hc, &pj, &pjlen, &blobs, &e);
		op_commit_clear(&hc);
	}
	if (rc == 0) {
		op_pub_proof pp = {pj, pjlen, &blobs, op_sync_load_blob, s->src};
		rc = op_publish_proof(
			s->bus.nc, s->kv, &pp, base_seq, s->cfg.write_window, &put, &e);
		op_blob_ids_clear(&blobs);
		free(pj);
	}
	if (rc)
		op_log_warn("cannot publish the proof of the current revision",
			"commit=%.12s error=\"%s\"", head, e.msg);
	else
		op_log_info("proof of the current revision published", "commit=%.12s blobs=%zu",
			head, put);
}
