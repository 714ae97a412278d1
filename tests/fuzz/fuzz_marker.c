/* libFuzzer target for what sites read off the network about revisions: the commit
 * marker decoder and a whole-revision assembly over it. The input is the marker, then
 * optionally a NUL and the JSON every listed app is held as (the marker's digests are
 * set to that JSON's, so that assembly goes on to parse it). An accepted marker must
 * encode back to JSON that decodes to the same marker; anything else must be refused
 * with a message. Violations trap; leaks are findings. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/wire/marker.h"
#include "outpost/agent/wire/revision.h"

#include "fuzz.h"

/* Every app the marker lists is "held" as the same bytes. */
static int lookup(void *arg, const char *name, const char **json, size_t *len)
{
	const uint8_t **d = arg;
	(void)name;
	*json = (const char *)d[0];
	*len = (size_t)(d[1] - d[0]);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	op_marker m, back;
	op_err e = {0};
	const uint8_t *nul = memchr(data, 0, size);
	size_t mlen = nul ? (size_t)(nul - data) : size;
	const uint8_t *app = nul ? nul + 1 : data, *end = data + size;
	int rc = op_marker_decode((const char *)data, mlen, &m, &e);
	if (rc != 0) {
		CHECK(e.msg[0] != '\0');
		return 0;
	}
	CHECK(m.seq >= 1 && strlen(m.commit) == 40);
	for (size_t i = 1; i < m.napps; i++)
		CHECK(strcmp(m.apps[i - 1].name, m.apps[i].name) < 0);
	char *json = NULL;
	CHECK(op_marker_encode(&m, &json, &e) == 0);
	CHECK(op_marker_decode(json, strlen(json), &back, &e) == 0);
	CHECK(back.seq == m.seq && back.napps == m.napps && !strcmp(back.commit, m.commit));
	for (size_t i = 0; i < m.napps; i++)
		CHECK(!strcmp(back.apps[i].name, m.apps[i].name) &&
			!strcmp(back.apps[i].digest, m.apps[i].digest));
	const uint8_t *span[2] = {app, end};
	for (size_t i = 0; nul && i < m.napps; i++)
		op_digest(app, (size_t)(end - app), m.apps[i].digest);
	op_revision r;
	if (op_revision_assemble(&m, lookup, span, &r, &e) == 0)
		op_revision_clear(&r);
	op_marker_clear(&back);
	op_marker_clear(&m);
	free(json);
	return 0;
}
