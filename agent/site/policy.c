/* The trust policy a site verifying at the edge holds (see policy_int.h). Every check
 * reads the --trust file (so an edit applies without a restart, as before rotations
 * could be followed); a policy the site adopted from the repository stays in force
 * while that file holds the bytes it held then. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/trust/trust.h"

static void policy_path(const ag_policy *p, char *out, size_t n)
{
	snprintf(out, n, "%s/policy.json", p->state);
}

static json_t *b64(const char *raw, size_t len)
{
	size_t n = sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);
	char *s = malloc(n);
	if (!s)
		return NULL;
	sodium_bin2base64(s, n, (const unsigned char *)raw, len, sodium_base64_VARIANT_ORIGINAL);
	json_t *j = json_string(s);
	free(s);
	return j;
}

/* A base64 field (absent: NULL) into allocated bytes; false when it is not base64. */
static bool unb64(json_t *v, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if (!v)
		return true;
	if (!json_is_string(v))
		return false;
	size_t n = json_string_length(v);
	*out = malloc(n / 4 * 3 + 3);
	if (*out &&
		sodium_base642bin((unsigned char *)*out, n / 4 * 3 + 3, json_string_value(v), n,
			NULL, len, NULL, sodium_base64_VARIANT_ORIGINAL) == 0) {
		(*out)[*len] = '\0';
		return true;
	}
	free(*out);
	*out = NULL;
	return false;
}

static void save(const ag_policy *p)
{
	const op_follow_policy *h = &p->held;
	char path[1100];
	op_err e = {0};
	policy_path(p, path, sizeof path);
	json_t *j = json_pack("{s:i, s:s, s:s, s:s, s:s, s:s}", "v", 1, "from",
		h->ref.trust[0] ? "repository" : "trust-file", "commit", h->commit, "trust_blob",
		h->ref.trust, "revoked_blob", h->ref.revoked, "trust_file", p->trust_file);
	if (j && h->trust)
		json_object_set_new(j, "trust", b64(h->trust, h->tlen));
	if (j && h->revoked)
		json_object_set_new(j, "revoked", b64(h->revoked, h->rlen));
	char *s = j ? json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
	json_decref(j);
	if (!s || op_write_atomic(path, s, strlen(s), &e) != 0)
		op_log_warn("cannot persist the trust policy", "error=\"%s\"",
			s ? e.msg : "out of memory");
	free(s);
}

/* The saved policy's texts must hash to the ids it names. */
static bool held_valid(const op_follow_policy *h)
{
	char id[OP_GIT_ID_LEN + 1];
	if (!h->ref.trust[0])
		return !h->ref.revoked[0] && !h->trust && !h->revoked;
	if (!h->trust || op_git_hash("blob", h->trust, h->tlen, id) != 0 ||
		strcmp(id, h->ref.trust) != 0)
		return false;
	if (!h->ref.revoked[0])
		return !h->revoked;
	return h->revoked && op_git_hash("blob", h->revoked, h->rlen, id) == 0 &&
		!strcmp(id, h->ref.revoked);
}

static bool copy_id(json_t *v, char out[OP_GIT_ID_LEN + 1])
{
	const char *s = json_string_value(v);
	if (!s || (strlen(s) != 0 && strlen(s) != OP_GIT_ID_LEN))
		return false;
	snprintf(out, OP_GIT_ID_LEN + 1, "%s", s);
	return true;
}

void ag_policy_init(ag_policy *p, const op_agent_cfg *cfg)
{
	memset(p, 0, sizeof *p);
	p->state = cfg->state;
	p->trust = cfg->trust;
	p->revoked = cfg->revoked;
	p->dir = cfg->path;
	if (!p->trust)
		return;
	char path[1100];
	policy_path(p, path, sizeof path);
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return; /* none yet: the --trust file */
	op_follow_policy h = {0};
	char tf[OP_GIT_ID_LEN + 1] = "";
	bool ok = json_integer_value(json_object_get(j, "v")) == 1 &&
		copy_id(json_object_get(j, "commit"), h.commit) &&
		copy_id(json_object_get(j, "trust_blob"), h.ref.trust) &&
		copy_id(json_object_get(j, "revoked_blob"), h.ref.revoked) &&
		copy_id(json_object_get(j, "trust_file"), tf) &&
		unb64(json_object_get(j, "trust"), &h.trust, &h.tlen) &&
		unb64(json_object_get(j, "revoked"), &h.revoked, &h.rlen) && held_valid(&h);
	json_decref(j);
	if (!ok) {
		op_follow_policy_clear(&h);
		op_log_warn("ignoring the saved trust policy: unreadable or altered; the --trust "
			    "file is in force",
			"file=%s", path);
		return;
	}
	op_follow_policy_clear(&p->held);
	p->held = h;
	memcpy(p->trust_file, tf, sizeof tf);
	op_log_info("resuming the saved trust policy", "from=%s commit=%.12s",
		h.ref.trust[0] ? "repository" : "trust-file", h.commit);
}

/* The --trust file changed since the site adopted a policy from the repository: the
 * operator resets the site to it. */
static void reset_if_changed(ag_policy *p, const char *text, size_t len)
{
	char id[OP_GIT_ID_LEN + 1];
	op_git_hash("blob", text, len, id);
	if (!strcmp(id, p->trust_file))
		return;
	bool was_repo = p->held.ref.trust[0] != '\0';
	memcpy(p->trust_file, id, sizeof id);
	if (!was_repo)
		return; /* the file is the policy; nothing to save until a rotation */
	op_log_warn("the --trust file changed: the site's trust policy is reset to it",
		"file=%s was=%.12s", p->trust, p->held.commit);
	op_follow_policy_clear(&p->held);
	save(p);
}

int ag_policy_verify(ag_policy *ap, const op_marker *m, const char *proof_json, size_t proof_len,
	op_edge_blob_fn blob, void *arg, op_revision *out, op_err *e)
{
	if (!proof_json)
		return op_edge_verify(NULL, ap->dir, m, NULL, 0, blob, arg, out, e);
	char *text = NULL;
	size_t tlen = 0;
	op_err fe = {0};
	int rc = op_read_file(ap->trust, OP_TRUST_MAX_FILE, &text, &tlen, &fe);
	if (rc)
		return op_err_set(
			e, rc == OP_ENOMEM ? OP_ENOMEM : OP_ETRUST, "trust policy: %.400s", fe.msg);
	reset_if_changed(ap, text, tlen);
	op_proof p;
	rc = op_proof_decode(proof_json, proof_len, &p, &fe);
	if (rc) {
		free(text);
		return op_err_set(e, rc == OP_ENOMEM ? OP_ENOMEM : OP_ETRUST, "%s", fe.msg);
	}
	if (strcmp(p.commit, m->commit) != 0) {
		/* A proof of another revision (the marker is on its way): nothing to follow
		 * yet, a wait like a blob not here. */
		rc = op_err_set(e, OP_ENOTFOUND,
			"the proof is for commit %.12s, the marker names %.12s", p.commit,
			m->commit);
		op_proof_clear(&p);
		free(text);
		return rc;
	}
	op_follow_in in = {&ap->held, ap->trust, text, tlen, ap->revoked, &p, blob, arg};
	op_policy *pol = NULL;
	op_follow_policy next;
	rc = op_follow(&in, &pol, &next, e);
	if (rc == 0)
		rc = op_edge_verify_proof(pol, ap->dir, m, &p, blob, arg, out, e);
	if (rc == 0) {
		op_follow_policy_clear(&ap->next);
		ap->next = next;
		snprintf(ap->next_for, sizeof ap->next_for, "%s", m->commit);
	} else {
		op_follow_policy_clear(&next);
	}
	op_policy_free(pol);
	op_proof_clear(&p);
	free(text);
	return rc;
}

void ag_policy_adopt(ag_policy *p, const char *commit)
{
	if (!p->trust || !p->next_for[0] || strcmp(p->next_for, commit) != 0)
		return;
	bool changed = !op_follow_ref_equal(&p->held.ref, &p->next.ref) ||
		strcmp(p->held.commit, p->next.commit) != 0;
	op_follow_policy_clear(&p->held);
	p->held = p->next;
	memset(&p->next, 0, sizeof p->next);
	p->next_for[0] = '\0';
	if (!changed)
		return;
	op_log_info("trust policy followed", "from=%s commit=%.12s file=%s",
		p->held.ref.trust[0] ? "repository" : "trust-file", p->held.commit,
		p->held.ref.trust[0] ? OP_FOLLOW_TRUST : p->trust);
	save(p);
}

json_t *ag_policy_status(const ag_policy *p)
{
	const op_follow_policy *h = &p->held;
	return json_pack("{s:s, s:s}", "commit", h->commit, "from",
		h->ref.trust[0] ? "repository" : "trust-file");
}

void ag_policy_clear(ag_policy *p)
{
	op_follow_policy_clear(&p->held);
	op_follow_policy_clear(&p->next);
}
