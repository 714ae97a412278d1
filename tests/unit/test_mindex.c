/* The hub's manifest index: a cache, so anything unreadable is an empty index. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outpost/sync/git/mindex.h"
#include "t.h"

static char dir[] = "/tmp/outpost-mindex-XXXXXX";

static op_mindex_entry ent(char b, const char *name, char d)
{
	op_mindex_entry e;
	memset(e.blob, b, 40);
	e.blob[40] = '\0';
	snprintf(e.name, sizeof e.name, "%s", name);
	memcpy(e.digest, "sha256:", 7);
	memset(e.digest + 7, d, 64);
	e.digest[OP_DIGEST_LEN] = '\0';
	return e;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f) {
		fputs(text, f);
		fclose(f);
	}
}

static void test_round_trip(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/idx", dir);
	op_mindex m = {0}, back;
	op_mindex_entry v[] = {
		ent('c', "gamma", '3'), ent('a', "alpha", '1'), ent('b', "beta", '2')};
	T_REQUIRE(op_mindex_set(&m, v, 3) == 0);
	T_REQUIRE(op_mindex_save(&m, path, NULL) == 0);
	op_mindex_load(&back, path);
	T_EQ_INT(back.n, 3);
	const op_mindex_entry *f = op_mindex_find(&back, v[0].blob);
	T_REQUIRE(f != NULL);
	T_EQ_STR(f->name, "gamma");
	T_EQ_STR(f->digest, v[0].digest);
	op_mindex_entry missing = ent('d', "x", '4');
	T_CHECK(op_mindex_find(&back, missing.blob) == NULL);
	op_mindex_clear(&m);
	op_mindex_clear(&back);
}

static void test_unreadable_is_empty(void)
{
	char path[128];
	snprintf(path, sizeof path, "%s/bad", dir);
	const char *bad[] = {
		"",
		"not an index\n",
		"outpost-mindex 2 format 1\n",
		"outpost-mindex 1 format 1\nshort sha256:00 name\n",
		"outpost-mindex 1 format 1\n"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa sha256:"
		"1111111111111111111111111111111111111111111111111111111111111111 Bad_Name\n",
		"outpost-mindex 1 format 1\n"
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa sha256:"
		"111111111111111111111111111111111111111111111111111111111111111 short\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		write_file(path, bad[i]);
		op_mindex m;
		op_mindex_load(&m, path);
		T_CHECK_MSG(m.n == 0, "case %zu read %zu entries", i, m.n);
		op_mindex_clear(&m);
	}
	op_mindex m;
	op_mindex_load(&m, "/nonexistent/idx");
	T_EQ_INT(m.n, 0);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	T_RUN(test_round_trip);
	T_RUN(test_unreadable_is_empty);
	char cmd[160];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return t_done();
}
