/* Labels given on the command line (--label k=v) to agents and hosts: checked by the
 * rules heartbeats carry them under (proto.h). */
#ifndef OUTPOST_LABEL_H
#define OUTPOST_LABEL_H

#include "outpost/agent/base/err.h"
#include "outpost/agent/model/manifest.h"

/* Adds a --label k=v to labels, kept sorted with unique keys: keys 1..63 characters
 * of [A-Za-z0-9._/-], values 1..63 of [A-Za-z0-9._-]. OP_EUSAGE with a message. */
int op_cli_label(op_kvs *labels, const char *kv, op_err *e);

#endif
