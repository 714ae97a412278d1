/* Hosts the status bucket remembers and this agent has not heard (see status_int.h).
 * An agent that restarts knows its hosts again only from their heartbeats: a host that
 * died while the agent was away sent none, and its key, written by the agent before,
 * would say "alive" for ever. So the keys are read back once at start; a host still
 * unheard when the start-up window (one host timeout) has passed is written dead, with
 * what it last ran, and a day after it was last seen its key is deleted. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "status_int.h"

static int add_ghost(void *arg, const char *key, const char *val, size_t len, uint64_t rev)
{
	ag_status *st = arg;
	(void)rev;
	json_t *j = json_loadb(val, len, 0, NULL);
	if (!json_is_object(j) ||
		op_grow((void **)&st->ghosts, &st->capghosts, st->nghosts + 1,
			sizeof *st->ghosts) != 0) {
		json_decref(j);
		return 0; /* unreadable, or no memory: that host stays as the bucket has it */
	}
	char *k = strdup(key);
	if (!k) {
		json_decref(j);
		return 0;
	}
	ag_ghost *g = &st->ghosts[st->nghosts++];
	g->key = k;
	g->last = j;
	g->seen = 0;
	if (op_time_parse_rfc3339(json_string_value(json_object_get(j, "last_seen")), &g->seen))
		g->seen = op_wall_ms() / 1000; /* unknown: a day from now, then */
	return 0;
}

static void drop(ag_status *st, size_t i)
{
	free(st->ghosts[i].key);
	json_decref(st->ghosts[i].last);
	st->ghosts[i] = st->ghosts[--st->nghosts];
}

void ag_ghosts_write(ag_status *st, const ag_status_in *si)
{
	if (!st->ghosts_loaded) {
		char filter[256];
		op_err e = {0};
		snprintf(filter, sizeof filter, "site.%s.host.>", st->site);
		if (op_bus_kv_scan(NULL, st->kv, filter, add_ghost, st, &e) != 0) {
			ag_ghosts_clear(st); /* what a broken scan added: all again next round */
			return;
		}
		st->ghosts_loaded = true;
	}
	size_t prefix = strlen("site.") + strlen(st->site) + strlen(".host.");
	int64_t wall = op_wall_ms() / 1000;
	for (size_t i = 0; i < st->nghosts;) {
		ag_ghost *g = &st->ghosts[i];
		const char *id = strlen(g->key) > prefix ? g->key + prefix : "";
		if (ag_hosts_find(si->hosts, id)) {
			drop(st, i); /* heard again: written as any other host */
			continue;
		}
		if (!ag_hosts_warm(si->hosts, si->now)) {
			i++; /* it may still speak up */
			continue;
		}
		if (g->seen && wall - g->seen > AG_GHOST_FORGET_S) {
			op_log_info("forgetting a host not heard for a day", "host=%s", id);
			if (kvStore_Delete(st->kv, g->key) == NATS_OK && st->report)
				ag_report_put(st->report, g->key, NULL);
			drop(st, i);
			continue;
		}
		json_t *body = json_deep_copy(g->last);
		const char *seen = json_string_value(json_object_get(g->last, "last_seen"));
		if (body) {
			json_object_set_new(body, "alive", json_false());
			json_object_del(body, "updated");
			json_object_del(body, "last_seen");
		}
		ag_status_put(st, g->key, body, seen, false);
		i++;
	}
}

void ag_ghosts_clear(ag_status *st)
{
	while (st->nghosts)
		drop(st, st->nghosts - 1);
	free(st->ghosts);
	st->ghosts = NULL;
	st->capghosts = 0;
}
