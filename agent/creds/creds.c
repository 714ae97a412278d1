/* Least-privilege identities and the nats-server config that declares them (see
 * include/outpost/agent/creds/creds.h). The permissions are data: one allow-list per role, with
 * {s} for the site, {h} for the host and {u} for the user name, each subject one the
 * role was seen to need against real servers (tests/e2e/test_creds.c runs every role
 * with these lists and tries what each must not do). Everything not listed is denied.
 *
 * Why each list is what it is:
 * - Replies: a role that answers requests (sync, hosts) gets allow_responses, the
 *   right to publish once to the reply subject of a message it received, and no
 *   publish right on inboxes. A role that makes requests subscribes to its own inbox
 *   prefix only, _INBOX.<user>.> (op_bus_connect sets it from the credentials).
 * - A server maps a client's $JS.<its own domain>.API.* to $JS.API.* before it checks
 *   permissions, so what a role does in its server's own domain is listed as $JS.API
 *   (sync uses the hub's domain, an agent its site's); requests for another domain
 *   ($JS.hub.API from a site) are listed as they are sent.
 * - A site's leaf link is one more user at the hub, LEAFNODE only, in an account of
 *   its own (see the exports below). Across it the hub mirrors KV_outpost to the site
 *   and takes the site's status reports.
 * - The site's remote refuses what a hub must never send it (deny_imports). */
#include "outpost/agent/creds/creds.h"
#include "outpost/agent/wire/deliver.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/manifest.h"

#define MAXSUBJ 40

struct perms {
	const char *pub[MAXSUBJ];
	const char *sub[MAXSUBJ];
	bool responses;
	bool leaf;
};

/* The hub's desired-state writer: its two buckets (created when missing; the status
 * stream updated once to drop the sources an older outpost added), every key of
 * `outpost`, of `outpost-status` hub.sync, hub.rollout.* and the sites' keys, which it
 * writes as the sites report them and reads (for canary waves); it answers sync.now,
 * the sites' status reports, and rollout promote and halt requests. It reads the
 * artifact store (which digests the accepted revision lacks) and is who runs
 * `outpost artifact gc`: delete markers on metas and purges; it never creates the store
 * or puts chunks. */
static const struct perms sync_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost", "$JS.API.STREAM.CREATE.KV_outpost",
		"$JS.API.DIRECT.GET.KV_outpost.>", "$JS.API.CONSUMER.CREATE.KV_outpost",
		"$JS.API.CONSUMER.DELETE.KV_outpost.*", "$KV.outpost.>",
		"$JS.API.STREAM.INFO.KV_outpost-status", "$JS.API.STREAM.CREATE.KV_outpost-status",
		"$JS.API.STREAM.UPDATE.KV_outpost-status", "$KV.outpost-status.hub.sync",
		"$KV.outpost-status.hub.rollout.>", "$KV.outpost-status.site.>",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*",
		"$JS.API.STREAM.INFO.OBJ_outpost-artifacts",
		"$JS.API.STREAM.MSG.GET.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*", "$JS.FC.OBJ_outpost-artifacts.>",
		"$JS.API.STREAM.PURGE.OBJ_outpost-artifacts", "$O.outpost-artifacts.M.>"},
	.sub = {"_INBOX.{u}.>", "outpost.hub.sync.now", "outpost.hub.status.*",
		"outpost.hub.rollout.promote", "outpost.hub.rollout.halt"},
	.responses = true,
};

/* An operator's CI: `outpost artifact put` and `ls`. It creates the store when missing,
 * publishes chunks and metas, reads the store, and purges (a put that fails half-way
 * purges its chunks; a meta it may write marks any object deleted anyway, so a purge
 * grants nothing more). ls names the apps of the accepted revision: the desired-state
 * bucket, read only. Never a write to `outpost`, never status, never a site. */
static const struct perms ci_perms = {
	.pub = {"$JS.API.STREAM.INFO.OBJ_outpost-artifacts",
		"$JS.API.STREAM.CREATE.OBJ_outpost-artifacts",
		"$JS.API.STREAM.MSG.GET.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*", "$JS.FC.OBJ_outpost-artifacts.>",
		"$JS.API.STREAM.PURGE.OBJ_outpost-artifacts", "$O.outpost-artifacts.C.>",
		"$O.outpost-artifacts.M.>", "$JS.API.STREAM.INFO.KV_outpost",
		"$JS.API.CONSUMER.CREATE.KV_outpost", "$JS.API.CONSUMER.DELETE.KV_outpost.*"},
	.sub = {"_INBOX.{u}.>"},
};

/* Reads outpost-status where it connects (no domain: $JS.API), through a watcher. */
static const struct perms status_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*"},
	.sub = {"_INBOX.{u}.>"},
};

/* outpost logs: what outpost status reads, and requests to the hosts' log subject,
 * which a host answers with the output of its instances (read-only). At the hub, of
 * every site (across its leaf link); at a site, of that site, and outpost restart there
 * (a request to the site's agent, which commands its hosts). No other identity may
 * ask: workloads' output can hold what a status reader should not see. At the hub it is
 * the operator's, and so also asks sync to promote or halt a rollout. */
static const struct perms hub_logs_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*", "outpost-logs.*.*",
		"outpost.hub.rollout.promote", "outpost.hub.rollout.halt"},
	.sub = {"_INBOX.{u}.>"},
};
static const struct perms site_logs_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*", "outpost-logs.{s}.*",
		"outpost.{s}.restart"},
	.sub = {"_INBOX.{u}.>"},
};

/* A post-receive hook: one request to sync (outpost sync --now) and its reply. */
static const struct perms hook_perms = {
	.pub = {"outpost.hub.sync.now"},
	.sub = {"_INBOX.{u}.>"},
};

/* A site's leaf link, as the hub sees it: publish is what the site may send into the
 * hub, subscribe what the hub delivers to it; only this site's subjects are named.
 * - the site's mirror of KV_outpost: it creates its consumer on the hub (reply on
 *   $JSC.R), receives on $JS.M, answers flow control on $JS.FC.KV_outpost;
 * - the agent: reports the site's status on its own subject, reads the hub's bucket
 *   (stream info, direct gets) when its mirror stalls, and gets replies on its own inbox;
 * - outpost logs at the hub: the requests to this site's hosts (answered on _R_);
 * - the site's copy of the artifact store: two sources per artifact, each a consumer it
 *   creates on the hub's store (CONSUMER.CREATE.<stream>.<name>.<filter>; the reply on
 *   $JSC.R), delivered on outpost-artifacts.<site>.S.<id> (the deliver prefix stage_io.c
 *   sets: only this site receives it), with flow control answered on
 *   $JS.FC.OBJ_outpost-artifacts; heartbeats come on the deliver subject. A source never
 *   deletes its consumer (the hub drops it when idle). The agent reads the hub's store
 *   across the link (stream info, last message per subject, an ordered consumer) to find
 *   what to stage. */
static const struct perms leaf_perms = {
	.pub = {"$JS.hub.API.CONSUMER.CREATE.KV_outpost", "$JS.hub.API.STREAM.INFO.KV_outpost",
		"$JS.hub.API.CONSUMER.DELETE.KV_outpost.*", "$JS.FC.KV_outpost.>", "_R_.>",
		"$JS.hub.API.DIRECT.GET.KV_outpost", "outpost.hub.status.{s}",
		"$JS.hub.API.CONSUMER.CREATE.OBJ_outpost-artifacts",
		"$JS.hub.API.CONSUMER.CREATE.OBJ_outpost-artifacts.>",
		"$JS.hub.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*",
		"$JS.hub.API.STREAM.INFO.OBJ_outpost-artifacts",
		"$JS.hub.API.STREAM.MSG.GET.OBJ_outpost-artifacts",
		"$JS.FC.OBJ_outpost-artifacts.>"},
	.sub = {"_INBOX.agent.{s}.>", "$JSC.R.>", OP_MIRROR_DELIVER ".{s}.>", "outpost-logs.{s}.*",
		OP_ART_DELIVER ".{s}.>"},
	.leaf = true,
};

/* The site's agent, at its own site (its domain's $JS.<site>.API is mapped to $JS.API
 * before permissions apply): the mirror and the site's status bucket, the site's own
 * status keys, commands to the site's hosts and their heartbeats; across the link,
 * the status reports and the reads of the hub's bucket. The site's copy of the artifact store
 * is its to make, change, drop, purge and read; the hub's store it only reads. */
static const struct perms agent_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost", "$JS.API.STREAM.CREATE.KV_outpost",
		"$JS.API.STREAM.DELETE.KV_outpost", "$JS.API.CONSUMER.CREATE.KV_outpost",
		"$JS.API.CONSUMER.DELETE.KV_outpost.*", "$JS.API.DIRECT.GET.KV_outpost.>",
		"$JS.API.STREAM.INFO.KV_outpost-status", "$JS.API.STREAM.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*", "$JS.FC.KV_outpost-status.>",
		"$KV.outpost-status.site.{s}.>", "$JS.hub.API.STREAM.INFO.KV_outpost",
		"$JS.hub.API.DIRECT.GET.KV_outpost", "$JS.FC.KV_outpost.>",
		"outpost.{s}.host.*.cmd", "outpost.hub.status.{s}",
		"$JS.API.STREAM.INFO.OBJ_outpost-artifacts",
		"$JS.API.STREAM.CREATE.OBJ_outpost-artifacts",
		"$JS.API.STREAM.UPDATE.OBJ_outpost-artifacts",
		"$JS.API.STREAM.DELETE.OBJ_outpost-artifacts",
		"$JS.API.STREAM.PURGE.OBJ_outpost-artifacts",
		"$JS.API.STREAM.MSG.GET.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*", "$JS.FC.OBJ_outpost-artifacts.>",
		"$JS.hub.API.STREAM.INFO.OBJ_outpost-artifacts",
		"$JS.hub.API.STREAM.MSG.GET.OBJ_outpost-artifacts",
		"$JS.hub.API.CONSUMER.CREATE.OBJ_outpost-artifacts",
		"$JS.hub.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*"},
	.sub = {"_INBOX.{u}.>", "outpost.{s}.hb.*", "outpost.{s}.restart"},
	.responses = true,
};

/* One edge box: its own heartbeats out, its own commands and log requests in, replies
 * to them; the site's copy of the artifact store, read only, as the object store
 * client reads it (stream info, the last message of a subject, an ordered consumer and
 * its flow control), with replies on its own inbox. */
static const struct perms host_perms = {
	.pub = {"outpost.{s}.hb.{h}", "$JS.API.STREAM.INFO.OBJ_outpost-artifacts",
		"$JS.API.STREAM.MSG.GET.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts",
		"$JS.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*",
		"$JS.FC.OBJ_outpost-artifacts.>"},
	.sub = {"outpost.{s}.host.{h}.cmd", "outpost-logs.{s}.{h}", "_INBOX.{u}.>"},
	.responses = true,
};

/* What the site's server refuses from the hub, whatever the hub's own config says (a
 * hub may be compromised): host commands and heartbeats, writes to any of the site's
 * streams and keys, any JetStream call in the site's domain (sites report their status:
 * the hub reads nothing of a site's JetStream). The hub keeps what it needs: asking the
 * hosts for logs (outpost-logs.<site>.<host>, outside outpost.> so that the deny of
 * outpost.> stays whole: a deny has no exceptions). */
static const char *const deny_imports[] = {
	"outpost.>", "$KV.>", "$OBJ.>", "$JS.API.>", "$JS.{s}.API.>", NULL};
/* The site's own traffic stays at the site. */
static const char *const deny_exports[] = {"outpost.{s}.>", NULL};

/* The hub's accounts. OUTPOST holds its JetStream (sync, status readers); each site's
 * leaf link is the one user of an account of its own, OP_CREDS_SITE_ACCOUNT<site>,
 * with no JetStream. nats-server 2.10 tells a leaf the publish permissions of its user
 * but does not check what the leaf sends against them at the hub: a compromised site
 * server that ignores them could write, purge or delete anything its account reaches.
 * So a site's account reaches OUTPOST only through these exports and imports (an
 * account boundary the hub enforces whatever a leaf sends), and only its own subjects
 * of them: its status reports, its deliveries. One account per site also keeps each
 * link's interest to itself (in a shared account every link learns every other's
 * subscriptions: a cost per link that grows with the number of links). Deliveries are
 * per site, on subjects only that site imports (a stream import of a subject every site
 * shares would hand each delivery to every site's account). The leaf permissions above
 * still keep honest sites to what they need. {s} lines are for one site. */
struct xport {
	const char *kind; /* "service" or "stream" */
	const char *subject; /* the same in both accounts */
	bool per_site;
};

/* OUTPOST to each site's account: the mirror's consumer and the agent's direct gets,
 * the mirror's deliveries and flow control; the site's status reports; its agent's
 * inbox; the artifact store's source consumers, reads and flow control, and their
 * deliveries. */
static const struct xport hub_to_sites[] = {
	{"service", "$JS.API.CONSUMER.CREATE.KV_outpost", false},
	{"service", "$JS.API.STREAM.INFO.KV_outpost", false},
	{"service", "$JS.API.DIRECT.GET.KV_outpost", false},
	{"service", "$JS.API.CONSUMER.DELETE.KV_outpost.*", false},
	{"service", "$JS.FC.KV_outpost.>", false},
	{"service", "outpost.hub.status.{s}", true},
	{"stream", OP_MIRROR_DELIVER ".{s}.>", true},
	{"stream", "_INBOX.agent.{s}.>", true},
	{"service", "$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts", false},
	{"service", "$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts.>", false},
	{"service", "$JS.API.CONSUMER.DELETE.OBJ_outpost-artifacts.*", false},
	{"service", "$JS.API.STREAM.INFO.OBJ_outpost-artifacts", false},
	{"service", "$JS.API.STREAM.MSG.GET.OBJ_outpost-artifacts", false},
	{"service", "$JS.FC.OBJ_outpost-artifacts.>", false},
	{"stream", OP_ART_DELIVER ".{s}.>", true},
	{NULL, NULL, false},
};

/* Each site's account to OUTPOST: the log requests to that site's hosts. */
static const struct xport sites_to_hub[] = {
	{"service", "outpost-logs.{s}.*", true},
	{NULL, NULL, false},
};

static const struct perms *perms_of(enum op_role r)
{
	switch (r) {
	case OP_ROLE_SYNC: return &sync_perms;
	case OP_ROLE_HUB_STATUS:
	case OP_ROLE_SITE_STATUS: return &status_perms;
	case OP_ROLE_HOOK: return &hook_perms;
	case OP_ROLE_CI: return &ci_perms;
	case OP_ROLE_LEAF: return &leaf_perms;
	case OP_ROLE_AGENT: return &agent_perms;
	case OP_ROLE_HOST: return &host_perms;
	case OP_ROLE_HUB_LOGS: return &hub_logs_perms;
	case OP_ROLE_SITE_LOGS: return &site_logs_perms;
	}
	return &status_perms;
}

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
	for (int i = 0; i < MAXSUBJ && subj[i]; i++) {
		fputs(i ? ", " : "", f);
		put_subject(f, subj[i], id);
	}
	fputc(']', f);
}

static void put_user(FILE *f, const op_ident *id)
{
	const struct perms *p = perms_of(id->role);
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
	for (const struct xport *x = hub_to_sites; x->kind; x++)
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
static void put_xports(FILE *f, const op_creds *c, const struct xport *x, bool exports,
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
	put_list(f, deny_imports, leaf);
	fputs("\n      deny_exports: ", f);
	put_list(f, deny_exports, leaf);
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
		put_xports(f, c, sites_to_hub, false, NULL, NULL);
		for (size_t i = 0; i < c->nsites; i++) {
			fputs("  }\n  ", f);
			put_site_account(f, c->sites[i]);
			fputs(" {\n", f);
			put_users(f, c, NULL, c->sites[i]);
			put_xports(f, c, sites_to_hub, true, c->sites[i], OP_CREDS_ACCOUNT);
			put_xports(f, c, hub_to_sites, false, c->sites[i], OP_CREDS_ACCOUNT);
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
