/* What the hub delivers a site's copies on, across its leaf link: subjects of that
 * site only, which only its account at the hub imports (agent/creds/creds.c) and
 * which the site's streams name as their deliver prefix. */
#ifndef OUTPOST_WIRE_DELIVER_H
#define OUTPOST_WIRE_DELIVER_H

/* The site's mirror of KV_outpost (its External.DeliverPrefix, agent/site/buckets.c):
 * OP_MIRROR_DELIVER.<site>.M.<id>. */
#define OP_MIRROR_DELIVER "outpost-mirror"
/* The sources of the site's copy of the artifact store (agent/site/stage_io.c):
 * OP_ART_DELIVER.<site>.S.<id>. */
#define OP_ART_DELIVER "outpost-artifacts"

#endif
