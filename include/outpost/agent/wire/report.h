/* A site's status reaching the hub: its agent requests outpost.hub.status.<site> with
 * the keys of its outpost-status bucket that changed (each key's newest value, or its
 * deletion) until the hub answers; sync writes them into the hub's outpost-status and
 * answers. The site is the subject's last token: under `outpost creds` a site may
 * publish on its own subject only, and the hub takes only keys under site.<site>., so
 * no site can write what the hub shows of another (the weakness of sourcing, where the
 * hub stored a sourced message under whatever subject its delivery named). A report
 * costs the hub nothing per site between reports: no stream, source or consumer.
 *
 *   {"v":1,"site":NAME,"put":{KEY:{...},...},"del":[KEY,...]}
 *
 * The answer is {"v":1,"ok":true} or {"v":1,"ok":false,"error":TEXT}. */
#ifndef OUTPOST_WIRE_REPORT_H
#define OUTPOST_WIRE_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

#define OP_SUBJECT_REPORT_PREFIX "outpost.hub.status." /* + the site */
#define OP_REPORT_MAX_BYTES (256 * 1024) /* one request; an agent splits what is more */
#define OP_REPORT_MAX_KEYS 1000
#define OP_REPORT_KEY_MAX 255

/* A key the hub takes from site: "site.<site>." and one or more tokens of
 * [A-Za-z0-9_=/-], separated by single dots, at most OP_REPORT_KEY_MAX bytes. */
bool op_report_key_ok(const char *site, const char *key);

/* Decodes a report that arrived on the subject of site (the subject's last token, not
 * yet checked): at most OP_REPORT_MAX_BYTES, JSON without duplicate keys, v the integer
 * 1, site a name (op_name_valid, not "hub") equal to the subject's, put an object of
 * at most OP_REPORT_MAX_KEYS keys that op_report_key_ok takes, each a JSON object, del
 * an array of such keys (put and del each optional, together at most
 * OP_REPORT_MAX_KEYS). Other fields are ignored. *out gets the document (the caller
 * decrefs it). Pure. Returns 0, OP_ETOOBIG, OP_EINVAL or OP_ENOMEM with a message
 * that quotes nothing of the input (it is logged and sent back). */
int op_report_decode(const char *site, const char *buf, size_t len, json_t **out, op_err *e);

#endif
