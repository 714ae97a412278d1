/* Internal to agent/creds: the permissions and exports as data (creds_perms.c), and
 * reading an existing credentials directory back (creds_dir.c), for `outpost creds
 * --update`. */
#ifndef OUTPOST_CREDS_INT_H
#define OUTPOST_CREDS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/creds/creds.h"

#define OP_CREDS_MAXSUBJ 40

/* What one role may publish and subscribe to: subjects with {s} for the site, {h} for
 * the host and {u} for the user name; NULL-ended. */
struct op_creds_perms {
	const char *pub[OP_CREDS_MAXSUBJ];
	const char *sub[OP_CREDS_MAXSUBJ];
	bool responses; /* allow_responses: may answer requests it received */
	bool leaf; /* a leaf link's user (LEAFNODE connections only) */
};

const struct op_creds_perms *op_creds_perms_of(enum op_role r);

/* An export of one account that another imports. */
struct op_creds_xport {
	const char *kind; /* "service" or "stream" */
	const char *subject; /* the same in both accounts */
	bool per_site; /* names {s}: for one site's account only */
};

/* OUTPOST to each site's account, and each site's account to OUTPOST; {NULL}-ended. */
extern const struct op_creds_xport op_creds_hub_to_sites[];
extern const struct op_creds_xport op_creds_sites_to_hub[];
/* The site's leaf remote: what it refuses from the hub, what it keeps to itself;
 * NULL-ended. */
extern const char *const op_creds_deny_imports[];
extern const char *const op_creds_deny_exports[];

/* Adds to c every site of dir (a directory holding leaf.creds) and each of its hosts
 * (host-ID.creds), as op_creds_add_site and op_creds_add_host would. */
int op_creds_dir_read(op_creds *c, const char *dir, op_err *e);
/* Fills id->pass from dir/id->file when that file exists and names id->user: 1 when
 * found, 0 when the identity is new (no file), or an error. */
int op_creds_dir_password(const char *dir, op_ident *id, op_err *e);
/* The hub's leaf URL (scheme://host:port) as the first readable site.conf names it. */
int op_creds_dir_hub_leaf(const op_creds *c, const char *dir, char *url, size_t len, op_err *e);

/* creds_seal.c: each site's key pair for sealed secrets, SITE/seal.key (0600: the
 * agent's --seal-key) and SITE/seal.pub (what operators seal to), in dir. A site that
 * has them in old (an update; NULL: none) keeps them byte for byte: a new key would
 * leave every value sealed to the old one unopenable. */
int op_creds_seal_keys(const op_creds *c, const char *old, const char *dir, op_err *e);

#endif
