/* Internal to agent/creds: reading an existing credentials directory back
 * (creds_dir.c), for `outpost creds --update`. */
#ifndef OUTPOST_CREDS_INT_H
#define OUTPOST_CREDS_INT_H

#include <stddef.h>

#include "outpost/agent/creds/creds.h"

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
