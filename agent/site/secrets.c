/* Sealed secrets at the site (see secrets_int.h). The sealed files come from the site's
 * own mirror (proof.blob.<id>), so a site cut off from the hub opens them as well; each
 * blob is checked against its git id before it is parsed. */
#include "secrets_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/model/doc.h"
#include "outpost/agent/wire/gitobj.h"

int ag_secrets_init(ag_secrets *s, const op_agent_cfg *cfg, op_err *e)
{
	memset(s, 0, sizeof *s);
	s->site = cfg->site;
	s->key_path = cfg->seal_key;
	op_proof_secrets_dir(cfg->path ? cfg->path : "apps", s->dir);
	if (!cfg->seal_key)
		return 0;
	int rc = op_seal_key_read(cfg->seal_key, s->pk, s->sk, e);
	s->have_key = rc == 0;
	return rc;
}

void ag_secrets_clear(ag_secrets *s)
{
	op_secret_wipe(s->sk, sizeof s->sk);
	free(s->pins);
	free(s->apps);
	free(s->blocked);
	memset(s, 0, sizeof *s);
}

struct collect {
	ag_secrets *s;
	size_t dirlen;
	int rc;
};

/* One sealed file of the proof: dir/NAME.yaml (NAME a secret name; others are no
 * secret's and are left alone). */
static int on_file(void *arg, const char *file, const char *blob, op_err *e)
{
	struct collect *c = arg;
	const char *name = file + c->dirlen + 1;
	size_t n = strlen(name);
	if (n < 6 || strcmp(name + n - 5, ".yaml") != 0 || strchr(name, '/'))
		return 0;
	char nm[OP_NAME_MAX + 1];
	if (n - 5 > OP_NAME_MAX)
		return 0;
	snprintf(nm, sizeof nm, "%.*s", (int)(n - 5), name);
	if (!op_name_valid(nm))
		return 0;
	ag_secrets *s = c->s;
	ag_pin *v = realloc(s->pins, (s->npins + 1) * sizeof *v);
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	s->pins = v;
	snprintf(v[s->npins].name, sizeof v[s->npins].name, "%s", nm);
	snprintf(v[s->npins].blob, sizeof v[s->npins].blob, "%s", blob);
	s->npins++;
	return 0;
}

/* The pins of the proof t holds, when it is the proof of commit (read once a commit). */
static void read_pins(ag_secrets *s, const ag_table *t, const char *commit)
{
	if (!commit || !strcmp(s->commit, commit))
		return;
	const ag_entry *pe = ag_table_get(t, "proof");
	if (!pe)
		return;
	op_proof p;
	op_err e = {0};
	if (op_proof_decode(pe->val, pe->len, &p, &e) != 0)
		return;
	if (strcmp(p.commit, commit) != 0) {
		op_proof_clear(&p);
		return; /* the mirror is ahead of (or behind) the revision run: pins stay */
	}
	s->npins = 0;
	struct collect c = {s, strlen(s->dir), 0};
	int rc = op_proof_secret_files(&p, on_file, &c, &e);
	op_proof_clear(&p);
	if (rc == 0 || rc == OP_ENOTFOUND)
		snprintf(s->commit, sizeof s->commit, "%s", commit);
	else
		s->npins = 0;
}

static const char *pin_of(const ag_secrets *s, const char *name)
{
	for (size_t i = 0; i < s->npins; i++)
		if (!strcmp(s->pins[i].name, name))
			return s->pins[i].blob;
	return NULL;
}

/* The sealed file of a pinned reference, read from the mirror and checked against its
 * git id: 0, or why not (in e). */
static int load_sealed(
	const ag_secrets *s, const ag_table *t, const op_secref *r, op_sealed *out, op_err *e)
{
	memset(out, 0, sizeof *out);
	if (!r->sealed)
		return op_err_set(e, OP_ENOTFOUND, "secret %s: no %s/%s.yaml in the revision",
			r->secret, s->dir, r->secret);
	char key[sizeof OP_PROOF_BLOB_PREFIX + OP_GIT_ID_LEN];
	snprintf(key, sizeof key, OP_PROOF_BLOB_PREFIX "%s", r->sealed);
	const ag_entry *en = ag_table_get(t, key);
	if (!en)
		return op_err_set(e, OP_ENOTFOUND,
			"secret %s: its sealed file (blob %.12s) is not in the site's mirror yet",
			r->secret, r->sealed);
	char id[OP_GIT_ID_LEN + 1];
	if (op_git_hash("blob", en->val, en->len, id) != 0 || strcmp(id, r->sealed) != 0)
		return op_err_set(e, OP_ETRUST, "secret %s: blob %.12s does not hash to its id",
			r->secret, r->sealed);
	char file[OP_PROOF_PATH_MAX + OP_NAME_MAX + 8];
	snprintf(file, sizeof file, "%s/%s.yaml", s->dir, r->secret);
	op_diags d = {0};
	int rc = op_sealed_parse(file, en->val, en->len, out, &d);
	if (rc)
		op_err_set(e, rc, "%s: %s", file, d.n ? d.v[0].msg : "not a sealed secret");
	op_diags_clear(&d);
	return rc;
}

/* Whether this site can open every secret of app: 0, or why not. */
static int can_run(const ag_secrets *s, const ag_table *t, const op_app *app, op_err *e)
{
	for (size_t c = 0; c < app->ncomps; c++)
		for (size_t i = 0; i < app->comps[c].nsecrets; i++) {
			const op_secref *r = &app->comps[c].secrets[i];
			op_sealed sealed;
			int rc = load_sealed(s, t, r, &sealed, e);
			const op_sealed_to *to = NULL;
			for (size_t k = 0; rc == 0 && k < sealed.n && !to; k++)
				if (!strcmp(sealed.to[k].site, s->site))
					to = &sealed.to[k];
			if (rc == 0 && !to)
				rc = op_err_set(e, OP_ENOTFOUND,
					"secret %s is not sealed to site %s: the app does not run "
					"here",
					r->secret, s->site);
			else if (rc == 0 && !s->have_key)
				rc = op_err_set(e, OP_ENOTFOUND,
					"secret %s: this agent has no --seal-key", r->secret);
			else if (rc == 0 && memcmp(to->key, s->pk, OP_SEAL_KEY_LEN) != 0)
				rc = op_err_set(e, OP_ETRUST,
					"secret %s is sealed to another key of site %s than its "
					"--seal-key (seal it again to the site's seal.pub)",
					r->secret, s->site);
			op_sealed_clear(&sealed);
			if (rc)
				return rc;
		}
	return 0;
}

static int pin_app(ag_secrets *s, const op_app *app)
{
	for (size_t c = 0; c < app->ncomps; c++)
		for (size_t i = 0; i < app->comps[c].nsecrets; i++) {
			op_secref *r = &app->comps[c].secrets[i]; /* the model is the loop's */
			const char *blob = pin_of(s, r->secret);
			if (!blob || (r->sealed && !strcmp(r->sealed, blob)))
				continue;
			char *b = strdup(blob);
			if (!b)
				return OP_ENOMEM;
			free(r->sealed);
			r->sealed = b;
		}
	return 0;
}

int ag_secrets_round(ag_secrets *s, const ag_table *t, const char *commit,
	const op_app *const *apps, size_t napps)
{
	bool some = false; /* a revision without secrets costs no proof decoding */
	for (size_t i = 0; i < napps && !some; i++)
		for (size_t c = 0; c < apps[i]->ncomps && !some; c++)
			some = apps[i]->comps[c].nsecrets > 0;
	if (some)
		read_pins(s, t, commit);
	s->napps = s->nblocked = 0;
	if (op_grow((void **)&s->apps, &s->capapps, napps + 1, sizeof *s->apps) ||
		op_grow((void **)&s->blocked, &s->capblocked, napps + 1, sizeof *s->blocked))
		return OP_ENOMEM;
	for (size_t i = 0; i < napps; i++) {
		const op_app *app = apps[i];
		bool any = false;
		for (size_t c = 0; c < app->ncomps; c++)
			any |= app->comps[c].nsecrets > 0;
		op_err e = {0};
		if (any && pin_app(s, app) != 0)
			return OP_ENOMEM;
		if (!any || can_run(s, t, app, &e) == 0) {
			s->apps[s->napps++] = app;
			continue;
		}
		ag_blocked *b = &s->blocked[s->nblocked++];
		b->app = app;
		snprintf(b->why, sizeof b->why, "%s", e.msg);
		char line[sizeof s->logged];
		snprintf(line, sizeof line, "%s %s", app->name, e.msg);
		if (strcmp(line, s->logged) != 0) {
			snprintf(s->logged, sizeof s->logged, "%s", line);
			op_log_warn("app not run: a secret it needs cannot be opened here",
				"app=%s why=\"%s\"", app->name, e.msg);
		}
	}
	return 0;
}

int ag_secrets_open(
	const ag_secrets *s, const ag_table *t, const op_component *c, op_hostcmd *cmd, op_err *e)
{
	cmd->secrets = NULL;
	cmd->nsecrets = 0;
	if (!c->nsecrets)
		return 0;
	op_secret_val *v = calloc(c->nsecrets, sizeof *v);
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	int rc = 0;
	size_t n = 0;
	for (size_t i = 0; rc == 0 && i < c->nsecrets; i++) {
		const op_secref *r = &c->secrets[i];
		if (op_secret_vals_find(v, n, r->secret))
			continue; /* one value for every use of it */
		op_sealed sealed;
		rc = load_sealed(s, t, r, &sealed, e);
		if (rc == 0 && !s->have_key)
			rc = op_err_set(e, OP_ENOTFOUND, "secret %s: no --seal-key", r->secret);
		if (rc == 0)
			rc = op_sealed_open(
				&sealed, s->site, s->pk, s->sk, &v[n].val, &v[n].len, e);
		op_sealed_clear(&sealed);
		if (rc == 0)
			snprintf(v[n++].name, sizeof v[0].name, "%s", r->secret);
	}
	if (rc) {
		op_secret_vals_free(v, n);
		return rc;
	}
	cmd->secrets = v;
	cmd->nsecrets = n;
	return 0;
}
