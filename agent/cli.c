/* Command-line helpers shared by the subcommands. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/cli.h"

/* Adds k=v to labels (sorted, unique keys). */
int op_cli_label(op_kvs *labels, const char *kv, op_err *e)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv || !eq[1] || eq - kv > 63 || strlen(eq + 1) > 63)
		return op_err_set(e, OP_EUSAGE, "--label %s: expected key=value", kv);
	for (const char *p = kv; *p; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			(c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
			(p < eq && c == '/') || p == eq;
		if (!ok)
			return op_err_set(e, OP_EUSAGE, "--label %s: bad character '%c'", kv, c);
	}
	size_t klen = (size_t)(eq - kv);
	for (size_t i = 0; i < labels->n; i++)
		if (strlen(labels->v[i].key) == klen && !strncmp(labels->v[i].key, kv, klen))
			return op_err_set(e, OP_EUSAGE, "--label %.*s given twice", (int)klen, kv);
	op_kv *v = realloc(labels->v, (labels->n + 1) * sizeof *v);
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	labels->v = v;
	size_t at = labels->n;
	while (at > 0 && strncmp(labels->v[at - 1].key, kv, klen + 1) > 0) {
		labels->v[at] = labels->v[at - 1];
		at--;
	}
	labels->v[at].key = strndup(kv, klen);
	labels->v[at].val = strdup(eq + 1);
	labels->n++;
	return 0;
}
