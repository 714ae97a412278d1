/* Whole revisions: a marker and the apps it lists, each at its digest. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outpost/agent/wire/revision.h"
#include "t.h"

#define APP(name, n) \
	"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata: {name: " name "}\n" \
	"spec:\n  components:\n    - name: c\n      type: process\n" \
	"      properties: {command: /bin/true}\n      traits: [{type: spreadscaler, " \
	"properties: {instances: " #n "}}]\n"

struct store {
	const char *names[4];
	char *json[4];
	size_t n;
};

static int lookup(void *arg, const char *name, const char **json, size_t *len)
{
	struct store *s = arg;
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->names[i], name) && s->json[i]) {
			*json = s->json[i];
			*len = strlen(s->json[i]);
			return 0;
		}
	return OP_ENOTFOUND;
}

static char *canon(const char *yaml)
{
	op_app *a = NULL;
	op_diags d = {0};
	char *j = NULL;
	if (op_manifest_parse("t.yaml", yaml, strlen(yaml), &a, &d) == 0)
		op_manifest_to_json(a, &j, NULL);
	op_app_free(a);
	op_diags_clear(&d);
	return j;
}

static void marker_for(op_marker *m, struct store *s, uint64_t seq)
{
	memset(m, 0, sizeof *m);
	memset(m->commit, 'a', 40);
	m->seq = seq;
	snprintf(m->signer, sizeof m->signer, "ops@example.com");
	snprintf(m->time, sizeof m->time, "2026-11-25T00:00:00Z");
	m->apps = calloc(s->n + 1, sizeof *m->apps);
	for (size_t i = 0; i < s->n; i++) {
		snprintf(m->apps[i].name, sizeof m->apps[i].name, "%s", s->names[i]);
		op_digest(s->json[i], strlen(s->json[i]), m->apps[i].digest);
	}
	m->napps = s->n;
}

static void test_assemble(void)
{
	struct store s = {{"alpha", "beta"}, {canon(APP("alpha", 2)), canon(APP("beta", 3))}, 2};
	T_REQUIRE(s.json[0] && s.json[1]);
	op_marker m;
	marker_for(&m, &s, 5);
	op_revision r;
	op_err e = {0};
	T_REQUIRE(op_revision_assemble(&m, lookup, &s, &r, &e) == 0);
	T_EQ_INT(r.napps, 2);
	T_EQ_STR(r.apps[1]->name, "beta");
	T_EQ_INT(r.apps[1]->comps[0].scaler.instances, 3);
	T_EQ_INT(r.marker.seq, 5);

	/* Persisted and read back, digests checked again. */
	char dir[] = "/tmp/outpost-rev-XXXXXX", path[64];
	T_REQUIRE(mkdtemp(dir) != NULL);
	snprintf(path, sizeof path, "%s/revision.json", dir);
	T_REQUIRE(op_revision_save(&r, path, &e) == 0);
	op_revision back;
	T_REQUIRE(op_revision_load(&back, path, &e) == 0);
	T_EQ_INT(back.napps, 2);
	T_EQ_STR(back.json[0], r.json[0]);
	op_revision_clear(&back);
	/* A damaged file is refused, not half-used. */
	FILE *f = fopen(path, "r+");
	T_REQUIRE(f != NULL);
	fseek(f, 40, SEEK_SET);
	fputc('#', f);
	fclose(f);
	T_CHECK(op_revision_load(&back, path, &e) == OP_EINVAL);
	unlink(path);
	T_CHECK(op_revision_load(&back, path, &e) == OP_ENOTFOUND);
	rmdir(dir);
	op_revision_clear(&r);

	/* An app not there yet, or not yet at the listed digest: incomplete. */
	free(s.json[1]);
	s.json[1] = NULL;
	T_EQ_INT(op_revision_assemble(&m, lookup, &s, &r, &e), OP_ENOTFOUND);
	s.json[1] = canon(APP("beta", 4));
	T_EQ_INT(op_revision_assemble(&m, lookup, &s, &r, &e), OP_ENOTFOUND);
	/* Present at the digest but holding another app's name: refused. */
	free(s.json[1]);
	s.json[1] = canon(APP("gamma", 3));
	op_marker_clear(&m);
	marker_for(&m, &s, 6);
	T_EQ_INT(op_revision_assemble(&m, lookup, &s, &r, &e), OP_EINVAL);
	T_CHECK(strstr(e.msg, "beta") != NULL);
	op_marker_clear(&m);
	free(s.json[0]);
	free(s.json[1]);
}

int main(void)
{
	T_RUN(test_assemble);
	return t_done();
}
