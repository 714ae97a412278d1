/* What a sync pass says (sync/loop/outcome.c): the refusal key that decides whether a
 * rejection or failure is logged again, over every kind and every field it covers or
 * ignores; and the outcome's JSON read back. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/sync/loop/outcome.h"
#include "t.h"

static void base(op_sync_outcome *o, enum op_sync_kind k)
{
	memset(o, 0, sizeof *o);
	o->kind = k;
	snprintf(o->commit, sizeof o->commit, "%s", "0123456789abcdef0123456789abcdef01234567");
	snprintf(o->signer, sizeof o->signer, "%s", "ops@example.com");
	snprintf(o->reason, sizeof o->reason, "%s", "commit is not signed");
	o->seq = 7;
	o->rev_seq = 6;
	op_diags_add(&o->errors, "apps/web.yaml", 3, 5, "spec.replicas", "must be at least 0");
}

static void key(enum op_sync_kind k, void (*edit)(op_sync_outcome *), char out[65])
{
	op_sync_outcome o;
	base(&o, k);
	if (edit)
		edit(&o);
	op_sync_refusal_key(&o, out);
	op_sync_outcome_clear(&o);
}

static void other_commit(op_sync_outcome *o)
{
	o->commit[0] = 'f';
}
static void other_reason(op_sync_outcome *o)
{
	strcat(o->reason, "!");
}
static void other_file(op_sync_outcome *o)
{
	o->errors.v[0].file[0] = 'X';
}
static void other_line(op_sync_outcome *o)
{
	o->errors.v[0].line++;
}
static void other_col(op_sync_outcome *o)
{
	o->errors.v[0].col++;
}
static void other_msg(op_sync_outcome *o)
{
	o->errors.v[0].msg[0] = 'X';
}
static void more_errors(op_sync_outcome *o)
{
	op_diags_add(&o->errors, "apps/db.yaml", 1, 1, "kind", "unknown kind");
}
static void no_errors(op_sync_outcome *o)
{
	op_diags_clear(&o->errors);
}
/* Not part of a refusal's identity: said again it would be the same refusal. */
static void other_signer(op_sync_outcome *o)
{
	o->signer[0] = 'X';
}
static void other_seq(op_sync_outcome *o)
{
	o->seq++, o->rev_seq++, o->ms = 99;
}
static void other_path(op_sync_outcome *o)
{
	o->errors.v[0].path[0] = 'X';
}

static void test_refusal_key(void)
{
	static void (*const changes[])(op_sync_outcome *) = {other_commit, other_reason, other_file,
		other_line, other_col, other_msg, more_errors, no_errors};
	static void (*const same[])(op_sync_outcome *) = {other_signer, other_seq, other_path};
	const enum op_sync_kind refusals[] = {OP_SYNC_REJECTED, OP_SYNC_FAILED};
	char a[65], b[65];
	for (size_t k = 0; k < 2; k++) {
		key(refusals[k], NULL, a);
		T_EQ_INT((int)strlen(a), 64);
		key(refusals[k], NULL, b);
		T_EQ_STR(a, b); /* the same refusal twice: said once */
		for (size_t i = 0; i < sizeof changes / sizeof *changes; i++) {
			key(refusals[k], changes[i], b);
			T_CHECK_MSG(strcmp(a, b) != 0, "kind %zu, change %zu", k, i);
		}
		for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
			key(refusals[k], same[i], b);
			T_CHECK_MSG(strcmp(a, b) == 0, "kind %zu, same %zu", k, i);
		}
	}
	key(OP_SYNC_REJECTED, NULL, a);
	key(OP_SYNC_FAILED, NULL, b);
	T_CHECK(strcmp(a, b) != 0); /* a failure after a rejection is said */
	key(OP_SYNC_ACCEPTED, NULL, a);
	T_EQ_STR(a, "");
	key(OP_SYNC_UNCHANGED, NULL, a);
	T_EQ_STR(a, "");
}

static void test_json(void)
{
	op_sync_outcome o;
	base(&o, OP_SYNC_REJECTED);
	o.puts = 2;
	o.dels = 1;
	char *s = op_sync_outcome_json(&o);
	T_REQUIRE(s != NULL);
	json_t *j = json_loads(s, 0, NULL);
	T_REQUIRE(j != NULL);
	T_EQ_STR(json_string_value(json_object_get(j, "outcome")), "rejected");
	T_EQ_STR(json_string_value(json_object_get(j, "commit")), o.commit);
	T_EQ_STR(json_string_value(json_object_get(j, "reason")), o.reason);
	T_EQ_INT((int)json_integer_value(json_object_get(j, "seq")), 7);
	T_EQ_INT((int)json_integer_value(json_object_get(j, "rev_seq")), 6);
	T_EQ_INT((int)json_integer_value(json_object_get(j, "puts")), 2);
	T_EQ_INT((int)json_integer_value(json_object_get(j, "deletes")), 1);
	json_t *errs = json_object_get(j, "errors");
	T_EQ_INT((int)json_array_size(errs), 1);
	T_EQ_STR(json_string_value(json_array_get(errs, 0)),
		"apps/web.yaml:3:5: spec.replicas: must be at least 0");
	T_EQ_INT((int)json_array_size(json_object_get(j, "artifacts_missing")), 0);
	json_decref(j);
	free(s);
	op_sync_outcome_clear(&o);
	const enum op_sync_kind all[] = {
		OP_SYNC_ACCEPTED, OP_SYNC_UNCHANGED, OP_SYNC_REJECTED, OP_SYNC_FAILED};
	const char *names[] = {"accepted", "unchanged", "rejected", "failed"};
	for (int i = 0; i < 4; i++)
		T_EQ_STR(op_sync_kind_name(all[i]), names[i]);
}

int main(void)
{
	T_RUN(test_refusal_key);
	T_RUN(test_json);
	return t_done();
}
