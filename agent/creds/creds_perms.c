/* What each least-privilege identity may do (see include/outpost/agent/creds/creds.h;
 * creds.c writes it into nats-server config). The permissions are data: one allow-list per role,
 * with {s} for the site, {h} for the host and {u} for the user name, each subject one the role was
 * seen to need against real servers (tests/e2e/test_creds.c runs every role with these lists and
 * tries what each must not do). Everything not listed is denied.
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
#include "creds_int.h"

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/wire/deliver.h"

/* The hub's desired-state writer: its two buckets (created when missing; the status
 * stream updated once to drop the sources an older outpost added), every key of
 * `outpost`, of `outpost-status` hub.sync, hub.rollout.* and the sites' keys, which it
 * writes as the sites report them and reads (for canary waves); it answers sync.now,
 * the sites' status reports, and rollout promote and halt requests. It reads the
 * artifact store (which digests the accepted revision lacks) and is who runs
 * `outpost artifact gc`: delete markers on metas and purges; it never creates the store
 * or puts chunks. */
static const struct op_creds_perms sync_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost", "$JS.API.STREAM.CREATE.KV_outpost",
		"$JS.API.DIRECT.GET.KV_outpost.>", "$JS.API.CONSUMER.CREATE.KV_outpost",
		"$JS.API.CONSUMER.DELETE.KV_outpost.*", "$KV.outpost.>",
		"$JS.API.STREAM.INFO.KV_outpost-status", "$JS.API.STREAM.CREATE.KV_outpost-status",
		"$JS.API.STREAM.UPDATE.KV_outpost-status", "$KV.outpost-status.hub.sync",
		"$KV.outpost-status.hub.rollout.>", "$KV.outpost-status.site.>",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*",
		"$JS.API.STREAM.MSG.GET.KV_outpost-status",
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
static const struct op_creds_perms ci_perms = {
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

/* Reads outpost-status where it connects (no domain: $JS.API), through a watcher, and
 * the last sequence under its filter (that the watcher left nothing out). */
static const struct op_creds_perms status_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*",
		"$JS.API.STREAM.MSG.GET.KV_outpost-status"},
	.sub = {"_INBOX.{u}.>"},
};

/* outpost logs: what outpost status reads, and requests to the hosts' log subject,
 * which a host answers with the output of its instances (read-only). At the hub, of
 * every site (across its leaf link); at a site, of that site, and outpost restart there
 * (a request to the site's agent, which commands its hosts). No other identity may
 * ask: workloads' output can hold what a status reader should not see. At the hub it is
 * the operator's, and so also asks sync to promote or halt a rollout. */
static const struct op_creds_perms hub_logs_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*",
		"$JS.API.STREAM.MSG.GET.KV_outpost-status", "outpost-logs.*.*",
		"outpost.hub.rollout.promote", "outpost.hub.rollout.halt"},
	.sub = {"_INBOX.{u}.>"},
};
static const struct op_creds_perms site_logs_perms = {
	.pub = {"$JS.API.STREAM.INFO.KV_outpost-status",
		"$JS.API.CONSUMER.CREATE.KV_outpost-status",
		"$JS.API.CONSUMER.DELETE.KV_outpost-status.*",
		"$JS.API.STREAM.MSG.GET.KV_outpost-status", "outpost-logs.{s}.*",
		"outpost.{s}.restart"},
	.sub = {"_INBOX.{u}.>"},
};

/* A post-receive hook: one request to sync (outpost sync --now) and its reply. */
static const struct op_creds_perms hook_perms = {
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
static const struct op_creds_perms leaf_perms = {
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
static const struct op_creds_perms agent_perms = {
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
static const struct op_creds_perms host_perms = {
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
const char *const op_creds_deny_imports[] = {
	"outpost.>", "$KV.>", "$OBJ.>", "$JS.API.>", "$JS.{s}.API.>", NULL};
/* The site's own traffic stays at the site. */
const char *const op_creds_deny_exports[] = {"outpost.{s}.>", NULL};

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
/* OUTPOST to each site's account: the mirror's consumer and the agent's direct gets,
 * the mirror's deliveries and flow control; the site's status reports; its agent's
 * inbox; the artifact store's source consumers, reads and flow control, and their
 * deliveries. */
const struct op_creds_xport op_creds_hub_to_sites[] = {
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
const struct op_creds_xport op_creds_sites_to_hub[] = {
	{"service", "outpost-logs.{s}.*", true},
	{NULL, NULL, false},
};

const struct op_creds_perms *op_creds_perms_of(enum op_role r)
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
