/* Secret values on the wire between agent, host and shim (see proto.h). The object is
 * small and flat; jansson builds and reads it, and every buffer that held a value is
 * wiped before it is freed (jansson's own copies cannot be: they live only while one
 * command is encoded or decoded). */
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/sealed.h"
#include "outpost/agent/wire/proto.h"

int op_secret_vals_encode(const op_secret_val *v, size_t n, char **json, op_err *e)
{
	*json = NULL;
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		size_t bl = sodium_base64_encoded_len(v[i].len, sodium_base64_VARIANT_ORIGINAL);
		char *b = malloc(bl);
		if (!b) {
			json_decref(o);
			o = NULL;
			break;
		}
		sodium_bin2base64(b, bl, v[i].val, v[i].len, sodium_base64_VARIANT_ORIGINAL);
		if (json_object_set_new(o, v[i].name, json_string(b)) != 0) {
			json_decref(o);
			o = NULL;
		}
		op_secret_free(b, bl);
	}
	if (!o)
		return op_err_set(e, OP_ENOMEM, "secrets: out of memory");
	*json = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT);
	json_decref(o);
	return *json ? 0 : op_err_set(e, OP_ENOMEM, "secrets: out of memory");
}

int op_secret_vals_decode(const char *json, size_t len, op_secret_val **out, size_t *n, op_err *e)
{
	*out = NULL;
	*n = 0;
	json_t *o = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return op_err_set(e, OP_EINVAL, "secrets: expected an object of name to base64");
	}
	size_t cap = json_object_size(o);
	op_secret_val *v = calloc(cap ? cap : 1, sizeof *v);
	int rc = v ? 0 : op_err_set(e, OP_ENOMEM, "secrets: out of memory");
	const char *k;
	json_t *val;
	json_object_foreach(o, k, val)
	{
		if (rc)
			break;
		const char *s = json_string_value(val);
		size_t sl = s ? json_string_length(val) : 0, got = 0;
		if (!op_name_valid(k)) {
			rc = op_err_set(e, OP_EINVAL, "secrets: expected secret names [a-z0-9-]");
			break;
		}
		unsigned char *b = s ? malloc(sl / 4 * 3 + 4) : NULL;
		if (!s || !b ||
			sodium_base642bin(b, sl / 4 * 3 + 4, s, sl, NULL, &got, NULL,
				sodium_base64_VARIANT_ORIGINAL) != 0 ||
			got == 0 || got > OP_SECRET_MAX) {
			op_secret_free(b, b ? sl / 4 * 3 + 4 : 0);
			rc = op_err_set(e, s && !b ? OP_ENOMEM : OP_EINVAL,
				"secrets.%s: expected the base64 of 1 to %d bytes", k,
				OP_SECRET_MAX);
			break;
		}
		snprintf(v[*n].name, sizeof v[*n].name, "%s", k);
		v[*n].val = b;
		v[*n].len = got;
		(*n)++;
	}
	json_decref(o);
	if (rc) {
		op_secret_vals_free(v, *n);
		*n = 0;
		return rc;
	}
	*out = v;
	return 0;
}

const op_secret_val *op_secret_vals_find(const op_secret_val *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

void op_secret_vals_free(op_secret_val *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		op_secret_free(v[i].val, v[i].len);
	free(v);
}
