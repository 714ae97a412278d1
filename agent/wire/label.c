/* --label k=v of the agent and host commands (see include/outpost/agent/wire/label.h). */
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/label.h"
#include "outpost/agent/wire/proto.h"

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

/* Adds k=v to labels (sorted, unique keys), under the label rules of manifests. */
int op_cli_label(op_kvs *labels, const char *kv, op_err *e)
{
	char key[OP_NAME_MAX + 1];
	const char *eq = strchr(kv, '=');
	size_t klen = eq ? (size_t)(eq - kv) : 0;
	if (!eq || klen >= sizeof key)
		return op_err_set(e, OP_EUSAGE, "--label %s: expected KEY=VALUE", kv);
	memcpy(key, kv, klen);
	key[klen] = '\0';
	if (!op_label_key_valid(key) || !op_label_value_valid(eq + 1))
		return op_err_set(e, OP_EUSAGE,
			"--label %s: expected a key of [A-Za-z0-9._/-] and a value of "
			"[A-Za-z0-9._-], 1..63 characters each",
			kv);
	if (op_kvs_get(labels, key))
		return op_err_set(e, OP_EUSAGE, "--label %s given twice", key);
	/* One place is kept for the implicit site= label: a heartbeat with
	 * more than OP_HB_MAX_LABELS would be refused at the other end. */
	if (labels->n + 1 >= OP_HB_MAX_LABELS)
		return op_err_set(e, OP_EUSAGE, "--label: at most %d labels", OP_HB_MAX_LABELS - 1);
	op_kv *v = realloc(labels->v, (labels->n + 1) * sizeof *v);
	if (!v)
		return op_err_set(e, OP_ENOMEM, "out of memory");
	labels->v = v;
	v[labels->n].key = strdup(key);
	v[labels->n].val = strdup(eq + 1);
	if (!v[labels->n].key || !v[labels->n].val) {
		free(v[labels->n].key), free(v[labels->n].val);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	labels->n++;
	qsort(labels->v, labels->n, sizeof *labels->v, kv_cmp);
	return 0;
}
