/* Verification at the edge (see include/outpost/agent/trust/edge.h). */
#include "outpost/agent/trust/edge.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/trust/sshsig.h"
#include "outpost/agent/base/util.h"

struct derive {
	op_edge_blob_fn blob;
	void *arg;
	op_appset set;
	op_diags diags;
	char **json; /* canonical JSON of set.apps[i] */
	size_t *jlen;
	size_t cap;
	bool waiting; /* a blob is not here yet */
};

/* One manifest file of the commit: its blob's id checked, its YAML parsed and validated,
 * its canonical JSON made. */
static int on_file(void *arg, const char *file, const char *id, op_err *e)
{
	struct derive *d = arg;
	const char *buf;
	size_t len;
	if (d->blob(d->arg, id, &buf, &len) != 0) {
		d->waiting = true;
		return op_err_set(e, OP_ENOTFOUND, "blob %.12s (%s) not here yet", id, file);
	}
	char got[OP_GIT_ID_LEN + 1];
	op_git_hash("blob", buf, len, got);
	if (strcmp(got, id) != 0)
		return op_err_set(
			e, OP_ETRUST, "%s: the blob held as %.12s hashes to %.12s", file, id, got);
	if (d->set.n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 64;
		char **j = realloc(d->json, cap * sizeof *j);
		if (j)
			d->json = j;
		size_t *l = j ? realloc(d->jlen, cap * sizeof *l) : NULL;
		if (!l)
			return op_err_set(e, OP_ENOMEM, "out of memory");
		d->jlen = l;
		d->cap = cap;
	}
	size_t before = d->set.n;
	int rc = op_appset_add(&d->set, file, buf, len, &d->diags);
	if (d->set.n > before)
		d->json[before] = NULL;
	if (rc == OP_ENOMEM)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	if (d->diags.n) {
		const op_diag *g = &d->diags.v[0];
		return op_err_set(e, OP_ETRUST, "%s:%d:%d: %s: %s", g->file, g->line, g->col,
			g->path, g->msg);
	}
	if (d->set.n == before)
		return op_err_set(e, OP_ETRUST, "%s: no app", file);
	size_t i = d->set.n - 1;
	d->json[i] = NULL;
	if (op_manifest_to_json(d->set.apps[i], &d->json[i], &d->jlen[i]) != 0)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	return 0;
}

static int lookup_derived(void *arg, const char *name, const char **json, size_t *len)
{
	const struct derive *d = arg;
	long i = op_appset_find(&d->set, name);
	if (i < 0)
		return OP_ENOTFOUND;
	*json = d->json[i];
	*len = d->jlen[i];
	return 0;
}

static int check_commit(const op_policy *pol, const char *path, const op_marker *m,
	const op_proof *p, char signer[256], char time[32], op_err *e)
{
	char want[OP_PROOF_PATH_MAX + 1];
	op_proof_path_clean(path, want);
	/* Another revision's proof: the next one's, written before its marker (a wait, and
	 * reported as one if it lasts; nothing is applied either way). */
	if (strcmp(p->commit, m->commit) != 0)
		return op_err_set(e, OP_ENOTFOUND,
			"the proof is for commit %.12s, the marker names %.12s", p->commit,
			m->commit);
	if (strcmp(p->path, want) != 0)
		return op_err_set(e, OP_ETRUST,
			"the proof is for path %.200s, this site reads %.200s", p->path, want);
	op_commit c = {.raw = p->object, .len = p->olen};
	memcpy(c.sha, p->commit, sizeof c.sha);
	op_err ve = {0};
	if (op_policy_verify_commit(pol, &c, signer, &ve) != 0)
		return op_err_set(e, ve.code == OP_ENOMEM ? OP_ENOMEM : OP_ETRUST,
			"commit %.12s: %.400s", p->commit, ve.msg);
	/* The time is the site's own reading, never the hub's left in place. */
	char *email = NULL;
	int64_t t = 0;
	int rc = op_commit_committer(p->object, p->olen, &email, &t, &ve);
	free(email);
	if (rc)
		return op_err_set(e, rc == OP_ENOMEM ? OP_ENOMEM : OP_ETRUST,
			"commit %.12s: %.400s", p->commit, ve.msg);
	op_time_rfc3339(t, time);
	return 0;
}

int op_edge_verify(const op_policy *pol, const char *path, const op_marker *m,
	const char *proof_json, size_t proof_len, op_edge_blob_fn blob, void *arg, op_revision *out,
	op_err *e)
{
	memset(out, 0, sizeof *out);
	if (!proof_json)
		return op_err_set(e, OP_ETRUST,
			"no proof in the bucket for commit %.12s (does the hub run an older "
			"outpost?)",
			m->commit);
	op_proof p;
	op_err pe = {0};
	int rc = op_proof_decode(proof_json, proof_len, &p, &pe);
	if (rc)
		return op_err_set(e, rc == OP_ENOMEM ? OP_ENOMEM : OP_ETRUST, "%s", pe.msg);
	rc = op_edge_verify_proof(pol, path, m, &p, blob, arg, out, e);
	op_proof_clear(&p);
	return rc;
}

int op_edge_verify_proof(const op_policy *pol, const char *path, const op_marker *m,
	const op_proof *pp, op_edge_blob_fn blob, void *arg, op_revision *out, op_err *e)
{
	const op_proof p = *pp;
	int rc;
	memset(out, 0, sizeof *out);
	char signer[256] = "", time[32] = "";
	snprintf(time, sizeof time, "%s", m->time);
	struct derive d = {.blob = blob, .arg = arg};
	op_err we = {0};
	if ((rc = check_commit(pol, path, m, &p, signer, time, e)) == 0) {
		rc = op_proof_files(&p, on_file, &d, &we);
		if (rc == OP_ENOTFOUND && !d.waiting && m->napps == 0)
			rc = 0; /* the signed commit has no such directory: no apps, as listed */
		if (rc)
			rc = op_err_set(e,
				d.waiting                 ? OP_ENOTFOUND
					: rc == OP_ENOMEM ? OP_ENOMEM
							  : OP_ETRUST,
				"%s", we.msg);
	}
	if (rc == 0 && d.set.n != m->napps)
		rc = op_err_set(e, OP_ETRUST,
			"the commit holds %zu apps under %s, the marker lists %zu", d.set.n, p.path,
			m->napps);
	for (size_t i = 0; rc == 0 && i < m->napps; i++) {
		const char *json;
		size_t len;
		char dg[OP_DIGEST_LEN + 1];
		if (lookup_derived(&d, m->apps[i].name, &json, &len) != 0) {
			rc = op_err_set(e, OP_ETRUST,
				"the marker lists app %s, which the signed commit does not hold",
				m->apps[i].name);
			break;
		}
		op_digest(json, len, dg);
		if (strcmp(dg, m->apps[i].digest) != 0)
			rc = op_err_set(e, OP_ETRUST,
				"app %s: the marker lists %.19s..., the signed manifest yields "
				"%.19s...",
				m->apps[i].name, m->apps[i].digest, dg);
	}
	if (rc == 0) {
		op_err ae = {0};
		rc = op_revision_assemble(m, lookup_derived, &d, out, &ae);
		if (rc == OP_ENOTFOUND || rc == OP_EINVAL)
			rc = op_err_set(e, OP_ETRUST,
				"the marker does not match the signed manifests: %.400s", ae.msg);
		else if (rc)
			op_err_set(e, rc, "%s", ae.msg);
	}
	if (rc == 0) {
		out->verified = true;
		snprintf(out->marker.signer, sizeof out->marker.signer, "%s", signer);
		snprintf(out->marker.time, sizeof out->marker.time, "%s", time);
	}
	for (size_t i = 0; i < d.set.n && d.json; i++)
		free(d.json[i]);
	free(d.json);
	free(d.jlen);
	op_appset_clear(&d.set);
	op_diags_clear(&d.diags);
	return rc;
}
