/* `outpost artifact put|ls|gc`: the hub's artifact store, the JetStream object store
 * `outpost-artifacts`. An operator's CI puts a build output and pins the printed digest
 * in a manifest's artifact.sha256; the digest is in the signed commit, so what a site
 * will run is what was signed for, whoever put the bytes. ls shows what the store holds
 * and which apps of the accepted revision use it; gc deletes what the last --keep
 * revisions do not reference. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifact_int.h"
#include "outpost/agent/base/cli.h"
#include "outpost/agent/base/log.h"
#include "outpost/agent/base/util.h"
#include "outpost/agent/store/store.h"

#define DEFAULT_KEEP 3
#define DEFAULT_MIN_AGE_MS (3600 * 1000)

static void usage(FILE *f)
{
	fprintf(f,
		"usage: outpost artifact put [--nats URL] FILE...\n"
		"       outpost artifact ls [--nats URL]\n"
		"       outpost artifact gc [--keep N] [--min-age DUR] [--dry-run] [--nats URL]\n"
		"\n"
		"The hub's artifact store, the NATS object store " OP_STORE_BUCKET " (any NATS\n"
		"object-store client reads it). Objects are named by content, sha256:<hex>: pin\n"
		"that digest in a manifest's artifact.sha256.\n"
		"\n"
		"  put       upload each FILE (creating the store when missing), unless the store\n"
		"            holds its content already, under any name; prints one line per\n"
		"            file: sha256:<hex>  FILE  SIZE\n"
		"  ls        each object: digest, size, upload time (UTC), the apps of the\n"
		"            accepted revision that reference it, and its name when it is not\n"
		"            its digest\n"
		"  gc        delete the objects that none of the last N accepted revisions\n"
		"            references (never one the newest references); prints each\n"
		"\n"
		"With `outpost creds`' identities (OUTPOST_NATS_CREDS): put and ls run as\n"
		"hub/ci.creds (an operator's CI); gc deletes, so it runs as hub/sync.creds.\n"
		"\n"
		"  --nats URL      the hub's server (default " OP_DEFAULT_NATS ")\n"
		"  --keep N        gc: accepted revisions whose artifacts stay (default %d, N >= "
		"1)\n"
		"  --min-age DUR   gc: never delete an object younger than this, so that a file\n"
		"                  CI put for a commit not synced yet stays (default 1h; 0 none)\n"
		"  --dry-run       gc: print what would be deleted, delete nothing\n"
		"  -h, --help      this help\n",
		DEFAULT_KEEP);
}

struct opts {
	const char *nats;
	long keep;
	int64_t min_age_ms;
	bool dry_run;
};

/* ---- shared -------------------------------------------------------------------------------- */

static int fail(const char *what, const op_err *e)
{
	fprintf(stderr, "outpost artifact %s: %s\n", what, e->msg);
	return OP_EXIT_FAIL;
}

static int connect(op_bus *b, const struct opts *o, op_err *e)
{
	return op_bus_connect(b, o->nats, "outpost-artifact", NULL, 3000, e);
}

static void human_time(int64_t t, char out[32])
{
	if (t <= 0)
		snprintf(out, 32, "-");
	else
		op_time_rfc3339(t, out);
}

/* ---- put ------------------------------------------------------------------------------------- */

static int cmd_put(const struct opts *o, int nfiles, char **files)
{
	/* Every file is checked before the first byte is sent: a typo in the last name
	 * must not leave half a release in the store. */
	for (int i = 0; i < nfiles; i++) {
		struct stat st;
		if (stat(files[i], &st) != 0) {
			fprintf(stderr, "outpost artifact put: %s: %s\n", files[i],
				strerror(errno));
			return OP_EXIT_FAIL;
		}
		if (!S_ISREG(st.st_mode)) {
			fprintf(stderr, "outpost artifact put: %s: not a regular file\n", files[i]);
			return OP_EXIT_FAIL;
		}
	}
	op_bus b;
	op_err e = {0};
	if (connect(&b, o, &e) != 0)
		return fail("put", &e);
	op_store s;
	op_store_list known = {0};
	int rc = op_store_open(&s, &b, OP_STORE_BUCKET, true, &e);
	if (!rc && (rc = op_store_list_read(&s, &known, &e)) != 0)
		op_store_close(&s);
	if (rc) {
		op_bus_close(&b);
		return fail("put", &e);
	}
	for (int i = 0; !rc && i < nfiles; i++) {
		op_objmeta m;
		bool sent = false;
		rc = op_store_put_file(&s, files[i], &known, &m, &sent, &e);
		if (!rc && sent)
			rc = op_store_list_add(&known, &m, &e);
		if (!rc) {
			char d[OP_ART_DIGEST_LEN + 1];
			op_art_digest_format(m.sha256, d);
			printf("%s  %s  %llu\n", d, files[i], (unsigned long long)m.size);
			fflush(stdout);
			op_log_info(sent ? "artifact stored" : "artifact already stored; not sent",
				"file=\"%s\" digest=%s size=%llu chunks=%lu name=\"%s\"", files[i],
				d, (unsigned long long)m.size, (unsigned long)m.chunks, m.name);
		}
		op_objmeta_clear(&m);
	}
	op_store_list_clear(&known);
	op_store_close(&s);
	op_bus_close(&b);
	return rc ? fail("put", &e) : OP_EXIT_OK;
}

/* ---- ls ---------------------------------------------------------------------------------------
 */

/* Opens the store for reading; *none when there is none yet (not an error). */
static int open_existing(op_bus *b, op_store *s, bool *none, op_err *e)
{
	*none = false;
	int rc = op_store_open(s, b, OP_STORE_BUCKET, false, e);
	if (rc == OP_ENOTFOUND) {
		*none = true;
		return 0;
	}
	return rc;
}

/* Digests the newest revision references that the store does not hold: sites cannot
 * stage them. Said on stderr, once each. */
static void warn_missing(const art_revs *r, const op_store_list *l)
{
	for (size_t i = 0; i < r->newest.n; i++) {
		const op_art_ref *ref = &r->newest.v[i];
		bool seen = false;
		for (size_t k = 0; k < i && !seen; k++)
			seen = !memcmp(r->newest.v[k].sha256, ref->sha256, 32);
		if (seen || op_store_list_find(l, ref->sha256))
			continue;
		char d[OP_ART_DIGEST_LEN + 1], apps[256];
		op_art_digest_format(ref->sha256, d);
		op_art_refs_apps(&r->newest, ref->sha256, apps, sizeof apps);
		fprintf(stderr,
			"outpost artifact ls: %s is referenced by %s but not in the store\n", d,
			apps);
	}
}

static int cmd_ls(const struct opts *o)
{
	op_bus b;
	op_err e = {0};
	if (connect(&b, o, &e) != 0)
		return fail("ls", &e);
	op_store s;
	op_store_list l = {0};
	art_revs r = {0};
	bool none = false;
	int rc = open_existing(&b, &s, &none, &e);
	if (!rc && !none) {
		rc = op_store_list_read(&s, &l, &e);
		op_store_close(&s);
	}
	if (!rc)
		rc = art_revs_read(&b, 1, &r, &e);
	op_bus_close(&b);
	if (rc) {
		op_store_list_clear(&l);
		return fail("ls", &e);
	}
	if (none)
		fprintf(stderr,
			"outpost artifact ls: no object store %s yet (outpost artifact "
			"put makes it)\n",
			OP_STORE_BUCKET);
	if (!r.have)
		fprintf(stderr,
			"outpost artifact ls: no accepted revision on this hub: no app "
			"references anything yet\n");
	printf("%-71s  %12s  %-20s  %s\n", "DIGEST", "SIZE", "UPLOADED", "APPS");
	for (size_t i = 0; i < l.n; i++) {
		const op_objmeta *m = &l.v[i];
		char d[OP_ART_DIGEST_LEN + 1], t[32], apps[512];
		op_art_digest_format(m->sha256, d);
		human_time(m->mtime, t);
		op_art_refs_apps(&r.newest, m->sha256, apps, sizeof apps);
		bool named = strcmp(m->name, d) != 0;
		printf("%s  %12llu  %-20s  %s%s%s\n", d, (unsigned long long)m->size, t,
			apps[0] ? apps : "-", named ? "  name=" : "", named ? m->name : "");
	}
	if (l.bad)
		fprintf(stderr,
			"outpost artifact ls: %zu object meta%s could not be read "
			"(logged above)\n",
			l.bad, l.bad == 1 ? "" : "s");
	if (r.have)
		warn_missing(&r, &l);
	op_store_list_clear(&l);
	art_revs_clear(&r);
	return OP_EXIT_OK;
}

/* ---- gc ----------------------------------------------------------------------------------------
 */

static int gc_delete(op_store *s, const op_store_list *l, const bool *del, bool dry, op_err *e)
{
	uint64_t bytes = 0;
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (!del[i])
			continue;
		const op_objmeta *m = &l->v[i];
		char d[OP_ART_DIGEST_LEN + 1];
		op_art_digest_format(m->sha256, d);
		if (!dry) {
			int rc = op_store_delete(s, m, e);
			if (rc)
				return rc;
		}
		bool named = strcmp(m->name, d) != 0;
		printf("%s %s  %llu%s%s\n", dry ? "would delete" : "deleted", d,
			(unsigned long long)m->size, named ? "  name=" : "", named ? m->name : "");
		fflush(stdout);
		bytes += m->size;
		n++;
	}
	op_log_info(dry ? "gc: dry run" : "gc: done", "deleted=%zu bytes=%llu kept=%zu dry_run=%s",
		n, (unsigned long long)bytes, l->n - n, dry ? "true" : "false");
	return 0;
}

static int cmd_gc(const struct opts *o)
{
	op_bus b;
	op_err e = {0};
	if (connect(&b, o, &e) != 0)
		return fail("gc", &e);
	op_store s;
	bool none = false;
	int rc = open_existing(&b, &s, &none, &e);
	if (rc || none) {
		op_bus_close(&b);
		if (none)
			fprintf(stderr, "outpost artifact gc: no object store %s: nothing to do\n",
				OP_STORE_BUCKET);
		return rc ? fail("gc", &e) : OP_EXIT_OK;
	}
	/* The revisions first: a failure to read them must stop gc before it lists. */
	art_revs r = {0};
	op_store_list l = {0};
	bool *del = NULL;
	rc = art_revs_read(&b, (size_t)o->keep, &r, &e);
	if (!rc && !r.have)
		rc = op_err_set(&e, OP_ENOTFOUND,
			"no accepted revision on this hub (bucket %s has no rev): gc deletes "
			"only what accepted revisions do not reference",
			OP_BUCKET);
	if (!rc)
		rc = op_store_list_read(&s, &l, &e);
	if (!rc && !(del = calloc(l.n + 1, sizeof *del)))
		rc = op_err_set(&e, OP_ENOMEM, "out of memory");
	if (!rc) {
		op_log_info("gc: revisions kept",
			"newest_seq=%llu oldest_seq=%llu revisions=%zu "
			"artifacts=%zu objects=%zu",
			(unsigned long long)r.newest_seq, (unsigned long long)r.oldest_seq, r.kept,
			r.all.n, l.n);
		op_art_gc_choose(l.v, l.n, &r.all, &r.newest, op_wall_ms() / 1000,
			o->min_age_ms / 1000, del);
		rc = gc_delete(&s, &l, del, o->dry_run, &e);
	}
	free(del);
	op_store_list_clear(&l);
	art_revs_clear(&r);
	op_store_close(&s);
	op_bus_close(&b);
	return rc ? fail("gc", &e) : OP_EXIT_OK;
}

/* ---- the command ------------------------------------------------------------------------------
 */

int op_cmd_artifact(int argc, char **argv)
{
	static const struct option opts[] = {{"nats", required_argument, NULL, 'n'},
		{"keep", required_argument, NULL, 'k'}, {"min-age", required_argument, NULL, 'a'},
		{"dry-run", no_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0}};
	struct opts o = {
		.nats = OP_DEFAULT_NATS, .keep = DEFAULT_KEEP, .min_age_ms = DEFAULT_MIN_AGE_MS};
	bool gc_flags = false;
	int ch;
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		usage(stdout);
		return OP_EXIT_OK;
	}
	if (argc < 2 || argv[1][0] == '-') {
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	const char *sub = argv[1];
	optind = 1;
	while ((ch = getopt_long(argc - 1, argv + 1, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n': o.nats = optarg; break;
		case 'k': {
			uint64_t v = 0;
			if (op_parse_u64(optarg, &v) != 0 || v < 1 || v > 1000) {
				fprintf(stderr, "outpost artifact: --keep %s: expected 1..1000\n",
					optarg);
				return OP_EXIT_USAGE;
			}
			o.keep = (long)v;
			gc_flags = true;
			break;
		}
		case 'a':
			if (op_parse_duration_ms(optarg, &o.min_age_ms) != 0 || o.min_age_ms < 0) {
				fprintf(stderr,
					"outpost artifact: --min-age %s: expected a duration (30s, "
					"5m, 1h, 0)\n",
					optarg);
				return OP_EXIT_USAGE;
			}
			gc_flags = true;
			break;
		case 'd':
			o.dry_run = true;
			gc_flags = true;
			break;
		case 'h': usage(stdout); return OP_EXIT_OK;
		default: usage(stderr); return OP_EXIT_USAGE;
		}
	}
	int nargs = argc - 1 - optind;
	char **args = argv + 1 + optind;
	bool is_put = !strcmp(sub, "put"), is_ls = !strcmp(sub, "ls"), is_gc = !strcmp(sub, "gc");
	if (!is_put && !is_ls && !is_gc) {
		fprintf(stderr, "outpost artifact: unknown subcommand \"%s\" (put, ls, gc)\n", sub);
		return OP_EXIT_USAGE;
	}
	if ((is_put && nargs == 0) || (!is_put && nargs > 0)) {
		fprintf(stderr, "outpost artifact %s: %s\n", sub,
			is_put ? "expected at least one FILE" : "takes no arguments");
		usage(stderr);
		return OP_EXIT_USAGE;
	}
	if (gc_flags && !is_gc) {
		fprintf(stderr, "outpost artifact %s: --keep, --min-age and --dry-run are gc's\n",
			sub);
		return OP_EXIT_USAGE;
	}
	if (is_put)
		return cmd_put(&o, nargs, args);
	return is_ls ? cmd_ls(&o) : cmd_gc(&o);
}
