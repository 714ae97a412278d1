/* How a site becomes known to the hub: its agent requests outpost.hub.site.announce
 * (repeated until answered); sync answers by adding the site's outpost-status stream
 * as a source of the hub's, filtered to $KV.outpost-status.site.<site>.> so that no
 * site can write another's keys. Idempotent. */
#ifndef OUTPOST_ANNOUNCE_H
#define OUTPOST_ANNOUNCE_H

#include "outpost/bus.h"

#define OP_SUBJECT_ANNOUNCE "outpost.hub.site.announce"

/* Adds site as a source of the hub's status stream unless it is one already. */
int op_announce_add_site(op_bus *hub, const char *site, op_err *e);
/* Subscribes the handler on the hub connection. */
int op_announce_serve(op_bus *hub, natsSubscription **sub, op_err *e);

#endif
