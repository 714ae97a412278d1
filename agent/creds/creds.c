/* Least-privilege identities (see include/outpost/agent/creds/creds.h): the deployment
 * (sites, hosts, their users and passwords) and the nats-server config text that
 * declares them. What each role may do, and what crosses between the hub's accounts,
 * is data in creds_perms.c. */
#include "outpost/agent/creds/creds.h"
#include "creds_int.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/manifest.h"

/* ---- the deployment ------------------------------------------------------------------ */

int op_creds_add_site(op_creds *c, const char *site, op_err *e)
{
	if (!op_name_valid(site) || !strcmp(site, "hub"))
		return op_err_set(e, OP_EUSAGE,
			"--site %s: expected [a-z0-9-], 1..63 characters, not \"hub\"", site);
	for (size_t i = 0; i < c->nsites; i++)
		if (!strcmp(c->sites[i], site))
			return op_err_set(e, OP_EUSAGE, "--site %s given twice", site);
	char **v = realloc(c->sites, (c->nsites + 1) * sizeof *v);
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	c->sites = v;
	if (!(c->sites[c->nsites] = strdup(site)))
		return op_err_set(e, OP_ENOMEM, "out of memory");
	c->nsites++;
	return 0;
}

static op_ident *ident_new(op_creds *c, op_err *e)
{
	op_ident *v = realloc(c->v, (c->n + 1) * sizeof *v);
	if (!v) {
		op_err_set(e, OP_ENOMEM, "out of memory");
		return NULL;
	}
	c->v = v;
	memset(&v[c->n], 0, sizeof v[c->n]);
	return &v[c->n++];
}

int op_creds_add_host(op_creds *c, const char *site_id, op_err *e)
{
	const char *colon = strchr(site_id, ':');
	char site[64];
	if (!colon || colon - site_id > 63)
		return op_err_set(e, OP_EUSAGE, "--host %s: expected SITE:ID", site_id);
	snprintf(site, sizeof site, "%.*s", (int)(colon - site_id), site_id);
	const char *id = colon + 1;
	bool known = false;
	for (size_t i = 0; i < c->nsites && !known; i++)
		known = !strcmp(c->sites[i], site);
	if (!known)
		return op_err_set(
			e, OP_EUSAGE, "--host %s: site %s is not one of the --site", site_id, site);
	if (!op_name_valid(id))
		return op_err_set(e, OP_EUSAGE,
			"--host %s: the id must be [a-z0-9-], 1..63 characters", site_id);
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].role == OP_ROLE_HOST && !strcmp(c->v[i].site, site) &&
			!strcmp(c->v[i].host, id))
			return op_err_set(e, OP_EUSAGE, "--host %s given twice", site_id);
	op_ident *h = ident_new(c, e);
	if (!h)
		return OP_ENOMEM;
	h->role = OP_ROLE_HOST;
	snprintf(h->site, sizeof h->site, "%s", site);
	snprintf(h->host, sizeof h->host, "%s", id);
	return 0;
}

int op_creds_remove_site(op_creds *c, const char *site, op_err *e)
{
	size_t s;
	for (s = 0; s < c->nsites && strcmp(c->sites[s], site) != 0; s++)
		;
	if (s == c->nsites)
		return op_err_set(e, OP_EUSAGE, "--remove-site %s: no such site", site);
	for (size_t i = 0; i < c->n;)
		if (!strcmp(c->v[i].site, site)) /* in order: the configs keep theirs */
			memmove(&c->v[i], &c->v[i + 1], (--c->n - i) * sizeof *c->v);
		else
			i++;
	free(c->sites[s]);
	memmove(&c->sites[s], &c->sites[s + 1], (c->nsites - s - 1) * sizeof *c->sites);
	c->nsites--;
	return 0;
}

int op_creds_remove_host(op_creds *c, const char *site_id, op_err *e)
{
	const char *colon = strchr(site_id, ':');
	size_t sl = colon ? (size_t)(colon - site_id) : 0;
	for (size_t i = 0; colon && i < c->n; i++)
		if (c->v[i].role == OP_ROLE_HOST && strlen(c->v[i].site) == sl &&
			!strncmp(c->v[i].site, site_id, sl) && !strcmp(c->v[i].host, colon + 1)) {
			memmove(&c->v[i], &c->v[i + 1], (c->n - i - 1) * sizeof *c->v);
			c->n--;
			return 0;
		}
	return op_err_set(e, OP_EUSAGE, "--remove-host %s: no such host", site_id);
}

static int add_ident(
	op_creds *c, enum op_role r, const char *site, const char *host, op_ident **out, op_err *e)
{
	op_ident *id = ident_new(c, e);
	if (!id)
		return OP_ENOMEM;
	id->role = r;
	snprintf(id->site, sizeof id->site, "%s", site ? site : "");
	snprintf(id->host, sizeof id->host, "%s", host ? host : "");
	*out = id;
	return 0;
}

static void name_ident(op_ident *id)
{
	switch (id->role) {
	case OP_ROLE_SYNC:
		snprintf(id->user, sizeof id->user, "sync");
		snprintf(id->file, sizeof id->file, "hub/sync.creds");
		break;
	case OP_ROLE_HUB_STATUS:
		snprintf(id->user, sizeof id->user, "status");
		snprintf(id->file, sizeof id->file, "hub/status.creds");
		break;
	case OP_ROLE_HOOK:
		snprintf(id->user, sizeof id->user, "hook");
		snprintf(id->file, sizeof id->file, "hub/hook.creds");
		break;
	case OP_ROLE_LEAF:
		snprintf(id->user, sizeof id->user, "leaf.%s", id->site);
		snprintf(id->file, sizeof id->file, "%s/leaf.creds", id->site);
		break;
	case OP_ROLE_AGENT:
		snprintf(id->user, sizeof id->user, "agent.%s", id->site);
		snprintf(id->file, sizeof id->file, "%s/agent.creds", id->site);
		break;
	case OP_ROLE_SITE_STATUS:
		snprintf(id->user, sizeof id->user, "status.%s", id->site);
		snprintf(id->file, sizeof id->file, "%s/status.creds", id->site);
		break;
	case OP_ROLE_HOST:
		snprintf(id->user, sizeof id->user, "host.%s.%s", id->site, id->host);
		snprintf(id->file, sizeof id->file, "%s/host-%s.creds", id->site, id->host);
		break;
	case OP_ROLE_CI:
		snprintf(id->user, sizeof id->user, "ci");
		snprintf(id->file, sizeof id->file, "hub/ci.creds");
		break;
	case OP_ROLE_HUB_LOGS:
		snprintf(id->user, sizeof id->user, "logs");
		snprintf(id->file, sizeof id->file, "hub/logs.creds");
		break;
	case OP_ROLE_SITE_LOGS:
		snprintf(id->user, sizeof id->user, "logs.%s", id->site);
		snprintf(id->file, sizeof id->file, "%s/logs.creds", id->site);
		break;
	}
}

int op_creds_plan(op_creds *c, op_err *e)
{
	/* The hosts were added as they came; the plan puts them after their site. */
	op_ident *hosts = c->v;
	size_t nhosts = c->n;
	c->v = NULL;
	c->n = 0;
	op_ident *id;
	int rc = add_ident(c, OP_ROLE_SYNC, NULL, NULL, &id, e);
	if (!rc)
		rc = add_ident(c, OP_ROLE_HUB_STATUS, NULL, NULL, &id, e);
	for (size_t s = 0; s < c->nsites && !rc; s++) {
		const char *site = c->sites[s];
		rc = add_ident(c, OP_ROLE_LEAF, site, NULL, &id, e);
		if (!rc)
			rc = add_ident(c, OP_ROLE_AGENT, site, NULL, &id, e);
		if (!rc)
			rc = add_ident(c, OP_ROLE_SITE_STATUS, site, NULL, &id, e);
		if (!rc)
			rc = add_ident(c, OP_ROLE_SITE_LOGS, site, NULL, &id, e);
		for (size_t h = 0; h < nhosts && !rc; h++)
			if (!strcmp(hosts[h].site, site))
				rc = add_ident(c, OP_ROLE_HOST, site, hosts[h].host, &id, e);
	}
	free(hosts);
	if (!rc)
		rc = add_ident(c, OP_ROLE_HOOK, NULL, NULL, &id, e);
	if (!rc)
		rc = add_ident(c, OP_ROLE_HUB_LOGS, NULL, NULL, &id, e);
	if (!rc)
		rc = add_ident(c, OP_ROLE_CI, NULL, NULL, &id, e);
	for (size_t i = 0; i < c->n; i++)
		name_ident(&c->v[i]);
	return rc;
}

void op_creds_clear(op_creds *c)
{
	for (size_t i = 0; i < c->n; i++)
		explicit_bzero(c->v[i].pass, sizeof c->v[i].pass);
	free(c->v);
	for (size_t i = 0; i < c->nsites; i++)
		free(c->sites[i]);
	free(c->sites);
	memset(c, 0, sizeof *c);
}

/* ---- config text --------------------------------------------------------------------- */

/* One subject with {s}, {h}, {u} expanded, quoted. */
static void put_subject(FILE *f, const char *tmpl, const op_ident *id)
{
	fputc('"', f);
	for (const char *p = tmpl; *p; p++) {
		if (p[0] == '{' && p[1] && p[2] == '}') {
			const char *v = p[1] == 's' ? id->site : p[1] == 'h' ? id->host : id->user;
			fputs(v, f);
			p += 2;
		} else {
			fputc(*p, f);
		}
	}
	fputc('"', f);
}

static void put_list(FILE *f, const char *const *subj, const op_ident *id)
{
	fputc('[', f);
	for (int i = 0; i < OP_CREDS_MAXSUBJ && subj[i]; i++) {
		fputs(i ? ", " : "", f);
		put_subject(f, subj[i], id);
	}
	fputc(']', f);
}

static void put_user(FILE *f, const op_ident *id)
{
	const struct op_creds_perms *p = op_creds_perms_of(id->role);
	fprintf(f, "      {\n        user: \"%s\", password: \"%s\"\n", id->user, id->pass);
	fprintf(f, "        allowed_connection_types: [\"%s\"]\n",
		p->leaf ? "LEAFNODE" : "STANDARD");
	fputs("        permissions: {\n          publish: { allow: ", f);
	put_list(f, p->pub, id);
	fputs(" }\n          subscribe: { allow: ", f);
	put_list(f, p->sub, id);
	fputs(" }\n", f);
	if (p->responses)
		fputs("          allow_responses: { max: 1, expires: \"10m\" }\n", f);
	fputs("        }\n      }\n", f);
}

/* The quoted name of site's account at the hub. */
static void put_site_account(FILE *f, const char *site)
{
	fprintf(f, "\"" OP_CREDS_SITE_ACCOUNT "%s\"", site);
}

/* OUTPOST's exports to the sites' accounts, one per line: a per-site subject to its
 * site's account alone, a shared one to every site's. */
static void put_hub_exports(FILE *f, const op_creds *c)
{
	fputs("    exports: [\n", f);
	for (const struct op_creds_xport *x = op_creds_hub_to_sites; x->kind; x++)
		for (size_t i = 0; i < (x->per_site ? c->nsites : 1); i++) {
			op_ident site = {0};
			snprintf(site.site, sizeof site.site, "%s", x->per_site ? c->sites[i] : "");
			fprintf(f, "      { %s: ", x->kind);
			put_subject(f, x->subject, &site);
			fputs(", accounts: [", f);
			for (size_t k = 0; k < c->nsites; k++)
				if (!x->per_site || k == i) {
					fputs(x->per_site || !k ? "" : ", ", f);
					put_site_account(f, c->sites[k]);
				}
			fputs("] }\n", f);
		}
	fputs("    ]\n", f);
}

/* The exports or imports x of one site's account (site), or OUTPOST's imports from
 * every site's account (site NULL), one per line; acc is the other account (NULL: the
 * site's). */
static void put_xports(FILE *f, const op_creds *c, const struct op_creds_xport *x, bool exports,
	const char *site, const char *acc)
{
	fprintf(f, "    %s: [\n", exports ? "exports" : "imports");
	for (; x->kind; x++)
		for (size_t i = 0; i < (site ? 1 : c->nsites); i++) {
			op_ident one = {0};
			snprintf(one.site, sizeof one.site, "%s", site ? site : c->sites[i]);
			fprintf(f, "      { %s: ", x->kind);
			if (!exports) {
				fputs("{ account: ", f);
				if (acc)
					fputs(acc, f);
				else
					put_site_account(f, one.site);
				fputs(", subject: ", f);
			}
			put_subject(f, x->subject, &one);
			if (exports)
				fprintf(f, ", accounts: [%s] }\n", acc);
			else
				fputs(" } }\n", f);
		}
	fputs("    ]\n", f);
}

/* The users of one account: a site's (site), the hub's OUTPOST (leaf_of NULL), or the
 * leaf link of site leaf_of. */
static void put_users(FILE *f, const op_creds *c, const char *site, const char *leaf_of)
{
	fputs("    users: [\n", f);
	for (size_t i = 0; i < c->n; i++) {
		const op_ident *id = &c->v[i];
		bool hub_side = id->role == OP_ROLE_SYNC || id->role == OP_ROLE_HUB_STATUS ||
			id->role == OP_ROLE_HOOK || id->role == OP_ROLE_HUB_LOGS ||
			id->role == OP_ROLE_CI || id->role == OP_ROLE_LEAF;
		bool mine = site  ? !hub_side && !strcmp(id->site, site)
			: leaf_of ? id->role == OP_ROLE_LEAF && !strcmp(id->site, leaf_of)
				  : hub_side && id->role != OP_ROLE_LEAF;
		if (mine)
			put_user(f, id);
	}
	fputs("    ]\n", f);
}

static void put_remote(FILE *f, const op_creds *c, const char *site, const char *hub_leaf)
{
	const op_ident *leaf = NULL;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].role == OP_ROLE_LEAF && !strcmp(c->v[i].site, site))
			leaf = &c->v[i];
	if (!leaf)
		return;
	/* A hub cluster: one remote listing every node (the site links to one at a time,
	 * and to another when that one dies). */
	bool list = strchr(hub_leaf, ',') != NULL;
	fprintf(f, "leafnodes {\n  remotes: [\n    {\n      %s", list ? "urls: [\n" : "url: ");
	for (const char *p = hub_leaf; *p;) {
		size_t n = strcspn(p, ",");
		const char *sep = strstr(p, "://");
		fprintf(f, "%s\"%.*s://%s:%s@%.*s\"%s", list ? "        " : "", (int)(sep - p), p,
			leaf->user, leaf->pass, (int)(n - (size_t)(sep + 3 - p)), sep + 3,
			list ? "\n" : "");
		p += n + (p[n] == ',');
	}
	fprintf(f, "%s\n      account: " OP_CREDS_ACCOUNT "\n      deny_imports: ",
		list ? "      ]" : "");
	put_list(f, op_creds_deny_imports, leaf);
	fputs("\n      deny_exports: ", f);
	put_list(f, op_creds_deny_exports, leaf);
	fputs("\n    }\n  ]\n}\n", f);
}

static char *conf_text(const op_creds *c, const char *site, const char *hub_leaf)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	fprintf(f,
		"# Written by `outpost creds` for %s: include it in that nats-server's config\n"
		"# (include \"%s\"). Every client of the server is one of these users; each may\n"
		"# use only the subjects its role needs. Keep it secret (it holds passwords).\n",
		site ? site : "the hub", site ? "site.conf" : "hub.conf");
	fputs("accounts {\n  " OP_CREDS_ACCOUNT " {\n    jetstream: enabled\n", f);
	put_users(f, c, site, NULL);
	if (!site) {
		put_hub_exports(f, c);
		put_xports(f, c, op_creds_sites_to_hub, false, NULL, NULL);
		for (size_t i = 0; i < c->nsites; i++) {
			fputs("  }\n  ", f);
			put_site_account(f, c->sites[i]);
			fputs(" {\n", f);
			put_users(f, c, NULL, c->sites[i]);
			put_xports(
				f, c, op_creds_sites_to_hub, true, c->sites[i], OP_CREDS_ACCOUNT);
			put_xports(
				f, c, op_creds_hub_to_sites, false, c->sites[i], OP_CREDS_ACCOUNT);
		}
	}
	fputs("  }\n}\n", f);
	if (site)
		put_remote(f, c, site, hub_leaf);
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

char *op_creds_hub_conf(const op_creds *c)
{
	return conf_text(c, NULL, NULL);
}

char *op_creds_site_conf(const op_creds *c, const char *site, const char *hub_leaf)
{
	return conf_text(c, site, hub_leaf);
}

char *op_creds_file_text(const op_ident *id)
{
	char *s = NULL;
	return asprintf(&s, "%s:%s\n", id->user, id->pass) < 0 ? NULL : s;
}

int op_creds_check_url(const char *url, op_err *e)
{
	/* One URL, or a comma-separated list of them (every node of a hub cluster). */
	for (const char *p = url;;) {
		size_t n = strcspn(p, ",");
		char one[512];
		snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one ? n : sizeof one - 1), p);
		const char *sep = strstr(one, "://");
		if (n >= sizeof one || !sep || sep == one || !sep[3] ||
			strpbrk(one, "@\"' \t\n\\{}[]#") || !strchr(sep + 3, ':'))
			return op_err_set(e, OP_EUSAGE,
				"--hub-leaf %s: expected scheme://host:port "
				"(nats-leaf://hub.example:7422), or a comma-separated list of "
				"them, without user info",
				url);
		if (!p[n])
			return 0;
		p += n + 1;
	}
}
