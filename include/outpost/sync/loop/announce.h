/* How a site becomes known to the hub: its agent requests outpost.hub.site.announce
 * (repeated until answered); sync answers by adding the site's outpost-status stream
 * as a source of the hub's, filtered to $KV.outpost-status.site.<site>.> so that no
 * site can write another's keys. Idempotent. */
#ifndef OUTPOST_ANNOUNCE_H
#define OUTPOST_ANNOUNCE_H

#include <stddef.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/model/manifest.h"

#define OP_SUBJECT_ANNOUNCE "outpost.hub.site.announce"
#define OP_ANNOUNCE_MAX_SITES 1024 /* sources of the hub's status stream */
#define OP_ANNOUNCE_MAX_BYTES (64 * 1024)
#define OP_ANNOUNCE_MAX_LABELS 64 /* as many as a heartbeat may carry */

/* Decodes an announce, {"v":1,"site":NAME,"labels":{KEY:VALUE,...}}, off the network:
 * at most OP_ANNOUNCE_MAX_BYTES, no duplicate keys, v the integer 1, site a name
 * (op_name_valid) other than "hub", labels optional but when present an object of at
 * most OP_ANNOUNCE_MAX_LABELS string values on the host label rules (proto.h). Other
 * fields are ignored (a newer agent may send more). Fills site on success, leaves it
 * "" otherwise. Pure. Returns 0, OP_ETOOBIG, OP_EINVAL or OP_ENOMEM with a message
 * that quotes nothing of the input (it is logged and sent back). */
int op_announce_decode(const char *buf, size_t len, char site[OP_NAME_MAX + 1], op_err *e);

/* Adds site as a source of the hub's status stream unless it is one already. */
int op_announce_add_site(op_bus *hub, const char *site, op_err *e);
/* Subscribes the handler on the hub connection. */
int op_announce_serve(op_bus *hub, natsSubscription **sub, op_err *e);

#endif
