/* libFuzzer target for the object store's meta decoder: meta JSON comes off the network,
 * written by any NATS object-store client. An accepted meta must be one a reader can act
 * on (a live object's size fits its chunks, its nuid is a subject token) and, when it
 * encodes (a valid nuid), decode back to the same fields; a refused one must say why.
 * Violations trap; leaks are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/store/objmeta.h"

#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	op_objmeta m, back;
	op_err e = {0};
	if (op_objmeta_decode((const char *)data, size, &m, &e) != 0) {
		CHECK(e.msg[0] != '\0');
		op_objmeta_clear(&m);
		return 0;
	}
	CHECK(m.name && m.name[0] && strlen(m.name) <= OP_OBJ_NAME_MAX);
	if (op_objmeta_live(&m)) {
		CHECK(op_objmeta_nuid_valid(m.nuid));
		CHECK(m.chunks <= m.size && (m.size == 0) == (m.chunks == 0));
		CHECK(!m.max_chunk || m.size <= (uint64_t)m.chunks * m.max_chunk);
	}
	char subj[4096];
	CHECK(op_objmeta_meta_subject("b", m.name, subj, sizeof subj) == 0);
	char *json = NULL;
	size_t len = 0;
	if (op_objmeta_encode(&m, &json, &len, &e) == 0) {
		CHECK(op_objmeta_decode(json, len, &back, &e) == 0);
		CHECK(!strcmp(back.name, m.name) && !strcmp(back.nuid, m.nuid));
		CHECK(back.deleted == m.deleted && back.has_digest == (m.has_digest && !m.deleted));
		if (!m.deleted) {
			CHECK(back.size == m.size && back.chunks == m.chunks);
			CHECK(back.max_chunk == m.max_chunk);
			CHECK(!m.has_digest || !memcmp(back.sha256, m.sha256, 32));
		}
		CHECK(op_objmeta_live(&back) == (op_objmeta_live(&m) && !m.link));
		op_objmeta_clear(&back);
		free(json);
	}
	op_objmeta_clear(&m);
	return 0;
}
