/* Least-privilege NATS identities for a deployment: one user per role instance (sync,
 * the hub's status reader, an operator's CI for the artifact store, each site's leaf
 * link, agent and status reader, each host),
 * each allowed exactly the subjects its role uses, and the nats-server config
 * fragments that declare them. Pure: the caller supplies the passwords (random) and
 * writes the files (see creds_cmd.c); everything here is text from plain structs. */
#ifndef OUTPOST_CREDS_H
#define OUTPOST_CREDS_H

#include <stddef.h>

#include "outpost/agent/base/err.h"

#define OP_CREDS_ACCOUNT "OUTPOST" /* the hub's and each site's JetStream account */
/* The hub's account of one site's leaf link: this prefix and the site's name. */
#define OP_CREDS_SITE_ACCOUNT "SITE_"

enum op_role {
	OP_ROLE_SYNC, /* hub: writes the desired state and hub.sync */
	OP_ROLE_HUB_STATUS, /* hub: reads outpost-status */
	OP_ROLE_HOOK, /* hub: asks sync for a pass (outpost sync --now), nothing else */
	OP_ROLE_LEAF, /* hub: a site's leaf link (allowed_connection_types LEAFNODE) */
	OP_ROLE_AGENT, /* site: the agent */
	OP_ROLE_SITE_STATUS, /* site: reads the site's outpost-status */
	OP_ROLE_HOST, /* site: one edge box */
	OP_ROLE_HUB_LOGS, /* hub: outpost logs of every site (and outpost status) */
	OP_ROLE_SITE_LOGS, /* site: outpost logs of that site (and outpost status) */
	OP_ROLE_CI /* hub: an operator's CI, outpost artifact put and ls */
};

typedef struct op_ident {
	enum op_role role;
	char site[64]; /* "" for the hub's own */
	char host[64]; /* OP_ROLE_HOST only */
	char user[160]; /* sync, status, hook, logs, ci, leaf.<site>, agent.<site>,
			   status.<site>, logs.<site>, host.<site>.<id> */
	char file[200]; /* credential file, relative to the output dir */
	char pass[128]; /* filled by the caller before the conf functions run */
} op_ident;

typedef struct op_creds {
	op_ident *v;
	size_t n;
	char **sites;
	size_t nsites;
} op_creds;

/* Adds a site (a valid name, not "hub", not twice), or a host "SITE:ID" of a site
 * added before. OP_EUSAGE with a message. */
int op_creds_add_site(op_creds *c, const char *site, op_err *e);
int op_creds_add_host(op_creds *c, const char *site_id, op_err *e);
/* Removes a site (and its hosts) or a host SITE:ID added before. OP_EUSAGE when there
 * is no such site or host. */
int op_creds_remove_site(op_creds *c, const char *site, op_err *e);
int op_creds_remove_host(op_creds *c, const char *site_id, op_err *e);
/* The identities of the deployment, in order: sync, status, then per site leaf, agent,
 * status, logs and its hosts, then the hook, the hub's logs and ci. Call once after the
 * adds. */
int op_creds_plan(op_creds *c, op_err *e);
void op_creds_clear(op_creds *c);

/* Config text, malloc'd (caller frees), NULL when out of memory. The hub's: the
 * OUTPOST account with sync, status and every site's leaf user, to include in the
 * hub's server config. A site's: its account (agent, status, hosts) and the leafnodes
 * remote to hub_leaf (nats-leaf://host:port) as that site's leaf user. */
char *op_creds_hub_conf(const op_creds *c);
char *op_creds_site_conf(const op_creds *c, const char *site, const char *hub_leaf);
/* A credential file's content: "user:password\n" (caller frees). */
char *op_creds_file_text(const op_ident *id);

/* Checks a leaf URL for the site fragments: scheme://host:port, no user info, no
 * quotes or spaces. */
int op_creds_check_url(const char *url, op_err *e);

#endif
