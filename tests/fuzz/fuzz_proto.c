/* libFuzzer target for the agent <-> host messages: the same bytes go to the heartbeat,
 * command and reply decoders (they come off the network). A refusal must carry a
 * message; an accepted message must keep the decoder's promises (ids, names, labels
 * sorted and valid, counts and ranges) and be a fixed point: decode -> encode ->
 * decode -> encode gives the same bytes. Any violation traps; leaks are findings too. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/wire/proto.h"

#include "fuzz.h"

static void check_refusal(int rc, const op_err *e)
{
	CHECK(rc == OP_EINVAL || rc == OP_ETOOBIG || rc == OP_ENOMEM);
	CHECK(e->msg[0] != '\0');
}

static void check_heartbeat(const op_heartbeat *hb)
{
	CHECK(op_name_valid(hb->host) && op_name_valid(hb->site));
	CHECK(hb->boot[0] && strlen(hb->boot) <= OP_BOOT_MAX);
	CHECK(hb->interval_ms >= OP_HB_MIN_INTERVAL_MS && hb->interval_ms <= OP_HB_MAX_INTERVAL_MS);
	CHECK(hb->labels.n <= OP_HB_MAX_LABELS && hb->ninsts <= OP_HB_MAX_INSTANCES);
	for (size_t i = 0; i < hb->labels.n; i++) {
		CHECK(op_label_key_valid(hb->labels.v[i].key));
		CHECK(op_label_value_valid(hb->labels.v[i].val));
		CHECK(i == 0 || strcmp(hb->labels.v[i - 1].key, hb->labels.v[i].key) < 0);
	}
	for (size_t i = 0; i < hb->ninsts; i++) {
		const op_hb_inst *in = &hb->insts[i];
		CHECK(op_inst_id_valid(in->id));
		CHECK(strcmp(op_inst_state_name(in->state), "unknown") != 0);
		CHECK(in->pid >= 0 && in->restarts >= 0);
		CHECK(in->exit_code >= -1 && in->exit_code <= 255);
		CHECK(strlen(in->error) < sizeof in->error);
		for (size_t k = 0; k < i; k++)
			CHECK(strcmp(hb->insts[k].id, in->id) != 0);
	}
}

static void fuzz_heartbeat(const char *buf, size_t size)
{
	op_heartbeat hb, back;
	op_err e = {0};
	int rc = op_heartbeat_decode(buf, size, &hb, &e);
	if (rc) {
		check_refusal(rc, &e);
		CHECK(hb.insts == NULL && hb.labels.v == NULL);
		return;
	}
	check_heartbeat(&hb);
	char *j1 = NULL, *j2 = NULL;
	CHECK(op_heartbeat_encode(&hb, &j1, &e) == 0);
	CHECK(op_heartbeat_decode(j1, strlen(j1), &back, &e) == 0);
	CHECK(back.ninsts == hb.ninsts && back.labels.n == hb.labels.n && back.seq == hb.seq);
	CHECK(op_heartbeat_encode(&back, &j2, &e) == 0);
	CHECK(strcmp(j1, j2) == 0);
	free(j1);
	free(j2);
	op_heartbeat_clear(&back);
	op_heartbeat_clear(&hb);
}

static void fuzz_hostcmd(const char *buf, size_t size)
{
	op_hostcmd c, back;
	op_err e = {0};
	int rc = op_hostcmd_decode(buf, size, &c, &e);
	if (rc) {
		check_refusal(rc, &e);
		CHECK(c.app == NULL);
		return;
	}
	CHECK(op_inst_id_valid(c.id));
	CHECK(c.op == OP_CMD_START || c.op == OP_CMD_STOP);
	if (c.op == OP_CMD_START) {
		CHECK(c.app && c.comp < c.app->ncomps);
		size_t an = strlen(c.app->name), cn = strlen(c.app->comps[c.comp].name);
		CHECK(!strncmp(c.id, c.app->name, an) && c.id[an] == '.');
		CHECK(!strncmp(c.id + an + 1, c.app->comps[c.comp].name, cn));
	} else {
		CHECK(c.app == NULL);
	}
	char *j1 = NULL, *j2 = NULL;
	rc = op_hostcmd_encode(&c, &j1, &e);
	/* The canonical app can be longer than what came in (defaults filled in). */
	if (rc == OP_ETOOBIG) {
		op_hostcmd_clear(&c);
		return;
	}
	CHECK(rc == 0);
	CHECK(op_hostcmd_decode(j1, strlen(j1), &back, &e) == 0);
	CHECK(back.op == c.op && back.comp == c.comp && !strcmp(back.id, c.id));
	CHECK(op_hostcmd_encode(&back, &j2, &e) == 0);
	CHECK(strcmp(j1, j2) == 0);
	free(j1);
	free(j2);
	op_hostcmd_clear(&back);
	op_hostcmd_clear(&c);
}

static void fuzz_reply(const char *buf, size_t size)
{
	op_hostreply r, back;
	op_err e = {0};
	int rc = op_hostreply_decode(buf, size, &r, &e);
	if (rc) {
		check_refusal(rc, &e);
		return;
	}
	CHECK(r.ok ? r.error[0] == '\0' : r.error[0] != '\0');
	char *j1 = NULL, *j2 = NULL;
	CHECK(op_hostreply_encode(&r, &j1, &e) == 0);
	CHECK(op_hostreply_decode(j1, strlen(j1), &back, &e) == 0);
	CHECK(back.ok == r.ok && !strcmp(back.error, r.error));
	CHECK(op_hostreply_encode(&back, &j2, &e) == 0);
	CHECK(strcmp(j1, j2) == 0);
	free(j1);
	free(j2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	fuzz_heartbeat(buf, size);
	fuzz_hostcmd(buf, size);
	fuzz_reply(buf, size);
	return 0;
}
