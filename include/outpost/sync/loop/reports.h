/* The hub's side of the sites' status reports (agent/wire/report.h): sync answers
 * outpost.hub.status.* (a queue group, so that the syncs of a hub cluster share the
 * work) by writing each report's keys into the hub's outpost-status, and says the first
 * report of each site once. */
#ifndef OUTPOST_SYNC_REPORTS_H
#define OUTPOST_SYNC_REPORTS_H

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/base/err.h"

typedef struct op_reports op_reports;

/* Subscribes on hub (borrowed until op_reports_stop). */
int op_reports_serve(op_bus *hub, op_reports **out, op_err *e);
/* Unsubscribes (waits for a report under way) and frees; NULL is fine. */
void op_reports_stop(op_reports *r);

/* Sources of the hub's status stream that an older outpost added (one per site): they
 * are removed, since reports replaced them. Logs what it removed. */
int op_reports_drop_sources(op_bus *hub, op_err *e);

#endif
