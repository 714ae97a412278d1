/* How fast manifests are read, against the floor of reading them at all. 1,000 varied
 * valid manifests are generated into a temp dir, then two things are timed in the same
 * run, best of N: the floor, libyaml alone turning each file into events (no tree, no
 * checks), and ours, op_appset_add_dir over the dir (tree, validation, unique names)
 * plus the canonical JSON and digest of every app. The ratio says what the model costs
 * over the parser it cannot do without. `./outpost validate DIR` as a whole process is
 * timed too, for information, and its digests must equal ours. Times are printed, never
 * judged: the exit status is non-zero only when something fails (a generated manifest
 * refused, a parse error, digests that differ). OUTPOST_KEEP=1 keeps the temp dir. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "outpost/agent/model/appset.h"
#include "outpost/agent/model/manifest.h"

#define NAPPS 1000
#define NDIRS 10 /* apps are spread over dir/team-N/ and dir itself */
#define REPS 15 /* best of, for the floor and ours */
#define PROC_REPS 5
#define BUDGET_S 15.0 /* repetitions stop early past this, whatever REPS says */

/* --- small helpers ------------------------------------------------------------------ */

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int failed;
static void fail(const char *fmt, ...)
{
	va_list ap;
	fputs("bench_validate: FAIL: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	failed = 1;
}

/* A growing text buffer for one manifest. */
struct sb {
	char *p;
	size_t n, cap;
};

static void put(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct sb *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int w = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
		va_end(ap);
		if (w < 0)
			abort();
		if ((size_t)w < b->cap - b->n) {
			b->n += (size_t)w;
			return;
		}
		size_t cap = (b->cap + (size_t)w + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p)
			abort();
		b->p = p;
		b->cap = cap;
	}
}

/* xorshift64*: the same manifests on every run, so runs compare. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;
static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (unsigned)((rng_state * 0x2545f4914f6cdd1dULL) >> 33) % n;
}

/* --- the manifests -------------------------------------------------------------------- */

static const char *const arches[] = {"amd64", "arm64", "armhf", "riscv64"};
static const char *const regions[] = {"eu", "us", "apac", "eu-north", "us-east"};
static const char *const restarts[] = {"always", "on-failure", "never"};
static const char *const rollouts[] = {"start-first", "stop-first"};

static void put_hex64(struct sb *b)
{
	for (int i = 0; i < 64; i++)
		put(b, "%c", "0123456789abcdef"[rnd(16)]);
}

static void gen_placement(struct sb *b)
{
	put(b, "  policies:\n    - name: where\n      type: placement\n      properties:\n");
	unsigned shape = rnd(3); /* sites, requirements, or both */
	if (shape != 1) {
		unsigned first = rnd(50), n = 1 + rnd(6);
		put(b, "        sites: [");
		for (unsigned i = 0; i < n; i++)
			put(b, "%splant-%u", i ? ", " : "", first + i * 3);
		put(b, "]\n");
	}
	if (shape != 0)
		put(b, "        requirements: {region: %s%s}\n", regions[rnd(5)],
			rnd(2) ? ", tier: gold" : "");
}

static void gen_traits(struct sb *b)
{
	unsigned kind = rnd(4); /* none (default scaler), spread, spread with spreads, daemon */
	if (kind == 0)
		return;
	if (kind == 3) {
		put(b,
			"      traits:\n        - type: daemonscaler\n          properties:\n"
			"            instances: %u\n",
			1 + rnd(3));
		if (rnd(2))
			put(b, "            spread: [{requirements: {role: gw}}]\n");
		return;
	}
	put(b,
		"      traits:\n        - type: spreadscaler\n          properties:\n"
		"            instances: %u\n",
		rnd(20));
	if (kind == 1)
		return;
	unsigned n = 1 + rnd(3);
	put(b, "            spread:\n");
	for (unsigned i = 0; i < n; i++) {
		/* Written names never look like the spread-<index> defaults. */
		if (rnd(2))
			put(b, "              - name: s%u\n                weight: %u\n", i,
				1 + rnd(100));
		else
			put(b, "              - weight: %u\n", 1 + rnd(100));
		if (rnd(3))
			put(b, "                requirements: {arch: %s}\n", arches[rnd(4)]);
	}
}

static void gen_component(struct sb *b, unsigned app, unsigned c, bool anchor_env)
{
	/* Now and then a whole component in flow style (not the one holding the anchor). */
	if (!(anchor_env && c == 0) && rnd(8) == 0) {
		put(b,
			"    - {name: c%u, type: process, properties: {command: /opt/app-%04u/c%u, "
			"args: [\"--id\", \"%u\"], restart: %s}}\n",
			c, app, c, c, restarts[rnd(3)]);
		return;
	}
	put(b, "    - name: c%u\n      type: process\n      properties:\n", c);
	put(b, "        command: /opt/app-%04u/bin/c%u\n", app, c);
	unsigned nargs = rnd(6);
	if (nargs) {
		put(b, "        args:");
		if (rnd(2)) {
			put(b, " [");
			for (unsigned i = 0; i < nargs; i++)
				put(b, "%s\"--opt-%u=%u\"", i ? ", " : "", i, rnd(1000));
			put(b, "]\n");
		} else {
			put(b, "\n");
			for (unsigned i = 0; i < nargs; i++)
				put(b, "          - '--flag-%u'\n", i);
		}
	}
	if (anchor_env && c > 0) {
		put(b, "        env: *env%u\n", app);
	} else {
		unsigned nenv = rnd(9);
		if (anchor_env)
			put(b, "        env: &env%u\n", app);
		else if (nenv)
			put(b, "        env:\n");
		if (nenv || anchor_env) {
			for (unsigned i = 0; i < nenv + (anchor_env ? 1 : 0); i++)
				put(b, "          VAR_%u: %s%u%s\n", i, i % 2 ? "\"" : "",
					rnd(100000), i % 2 ? "\"" : "");
		}
	}
	if (rnd(3) == 0)
		put(b, "        workdir: /var/lib/app-%04u\n", app);
	if (rnd(2))
		put(b, "        restart: %s\n", restarts[rnd(3)]);
	if (rnd(2))
		put(b, "        rollout: %s\n", rollouts[rnd(2)]);
	if (rnd(3) == 0) {
		put(b,
			"        artifact:\n          path: /opt/app-%04u/bin/c%u\n          "
			"sha256:",
			app, c);
		if (rnd(2)) {
			put(b, " ");
			put_hex64(b);
			put(b, "\n");
		} else {
			unsigned first = rnd(4), n = 1 + rnd(3);
			put(b, "\n");
			for (unsigned i = 0; i < n && first + i < 4; i++) {
				put(b, "            %s: ", arches[first + i]);
				put_hex64(b);
				put(b, "\n");
			}
		}
	}
	gen_traits(b);
}

static void gen_app(struct sb *b, unsigned app)
{
	b->n = 0;
	put(b,
		"# generated by bench_validate\napiVersion: core.oam.dev/v1beta1\n"
		"kind: Application\nmetadata:\n  name: app-%04u\n",
		app);
	if (rnd(4))
		put(b, "  annotations:\n    version: \"v%u.%u\"\n%s", rnd(10), rnd(100),
			rnd(2) ? "    example.com/owner: team-edge\n" : "");
	put(b, "spec:\n");
	if (rnd(3) == 0)
		gen_placement(b);
	unsigned ncomps = 1 + rnd(6);
	bool anchor_env = ncomps > 1 && rnd(5) == 0;
	put(b, "  components:\n");
	for (unsigned c = 0; c < ncomps; c++)
		gen_component(b, app, c, anchor_env);
}

static int write_file(const char *path, const char *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t w = fwrite(buf, 1, len, f);
	return fclose(f) == 0 && w == len ? 0 : -1;
}

/* Writes the manifests; paths[i] is each file, in the order generated. */
static int generate(const char *dir, char **paths, size_t *bytes)
{
	char path[4096];
	for (int d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof path, "%s/team-%d", dir, d);
		if (mkdir(path, 0755) != 0)
			return -1;
	}
	snprintf(path, sizeof path, "%s/README.md", dir); /* not a manifest: skipped */
	if (write_file(path, "apps\n", 5) != 0)
		return -1;
	struct sb b = {malloc(4096), 0, 4096}; /* never NULL in put(): NULL + 0 is UB */
	if (!b.p)
		return -1;
	*bytes = 0;
	for (unsigned i = 0; i < NAPPS; i++) {
		gen_app(&b, i);
		unsigned d = i % (NDIRS + 1);
		const char *ext = i % 7 == 0 ? "yml" : "yaml";
		int w = d == NDIRS
			? snprintf(path, sizeof path, "%s/app-%04u.%s", dir, i, ext)
			: snprintf(path, sizeof path, "%s/team-%u/app-%04u.%s", dir, d, i, ext);
		if (w < 0 || (size_t)w >= sizeof path || write_file(path, b.p, b.n) != 0 ||
			!(paths[i] = strdup(path))) {
			free(b.p);
			return -1;
		}
		*bytes += b.n;
	}
	free(b.p);
	return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* --- the floor: libyaml events only --------------------------------------------------- */

static char *read_all(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t n = 0;
	while (buf && n < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
}

/* Parses every file into events and drops them; returns the event count or -1. */
static long floor_pass(char **paths)
{
	long events = 0;
	for (size_t i = 0; i < NAPPS; i++) {
		size_t len;
		char *buf = read_all(paths[i], &len);
		if (!buf)
			return -1;
		yaml_parser_t p;
		if (!yaml_parser_initialize(&p)) {
			free(buf);
			return -1;
		}
		yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
		yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
		for (;;) {
			yaml_event_t ev;
			if (!yaml_parser_parse(&p, &ev)) {
				fail("libyaml: %s: %s", paths[i], p.problem ? p.problem : "error");
				events = -1;
				break;
			}
			events++;
			bool end = ev.type == YAML_STREAM_END_EVENT;
			yaml_event_delete(&ev);
			if (end)
				break;
		}
		yaml_parser_delete(&p);
		free(buf);
		if (events < 0)
			return -1;
	}
	return events;
}

/* --- ours: the appset, canonical JSON and digests ------------------------------------- */

struct ours {
	double add_ms, json_ms, digest_ms;
	size_t ncomps, json_bytes;
	char digests[NAPPS][OP_DIGEST_LEN + 1]; /* by app index in the set */
	char names[NAPPS][OP_NAME_MAX + 1];
};

static int ours_pass(const char *dir, struct ours *o)
{
	op_appset s = {0};
	op_diags d = {0};
	double t0 = now_ms();
	int rc = op_appset_add_dir(&s, dir, &d);
	double t1 = now_ms();
	if (rc != 0 || s.n != NAPPS || s.invalid != 0 || op_diags_count(&d) != 0) {
		fail("op_appset_add_dir: rc %d, %zu apps, %d invalid, %zu diagnostics:", rc, s.n,
			s.invalid, op_diags_count(&d));
		op_diags_print(&d, stderr);
		op_diags_clear(&d);
		op_appset_clear(&s);
		return -1;
	}
	o->ncomps = o->json_bytes = 0;
	o->digest_ms = 0;
	for (size_t i = 0; i < s.n; i++) {
		char *json;
		size_t len;
		if (op_manifest_to_json(s.apps[i], &json, &len) != 0) {
			fail("op_manifest_to_json: %s", s.files[i]);
			rc = -1;
			break;
		}
		double td = now_ms();
		op_digest(json, len, o->digests[i]);
		o->digest_ms += now_ms() - td;
		free(json);
		o->json_bytes += len;
		o->ncomps += s.apps[i]->ncomps;
		snprintf(o->names[i], sizeof o->names[i], "%s", s.apps[i]->name);
	}
	double t2 = now_ms();
	o->add_ms = t1 - t0;
	o->json_ms = t2 - t1;
	op_diags_clear(&d);
	op_appset_clear(&s);
	return rc;
}

/* --- the whole process ---------------------------------------------------------------- */

/* Runs ./outpost validate dir with stdout to out (stderr to /dev/null); returns the
 * exit status, or -1 when it could not run or was killed. */
static int run_validate(const char *dir, const char *out)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int n = open("/dev/null", O_WRONLY);
		if (o < 0 || n < 0 || dup2(o, 1) < 0 || dup2(n, 2) < 0)
			_exit(127);
		execl("./outpost", "outpost", "validate", dir, (char *)NULL);
		_exit(127);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Every "FILE: ok app=NAME DIGEST" line must carry our digest for NAME. */
static void check_process_output(const char *out, const struct ours *o)
{
	FILE *f = fopen(out, "r");
	if (!f) {
		fail("cannot read %s", out);
		return;
	}
	char line[8192];
	size_t lines = 0;
	while (fgets(line, sizeof line, f)) {
		const char *app = strstr(line, ": ok app=");
		char name[OP_NAME_MAX + 1], digest[OP_DIGEST_LEN + 1];
		if (!app || sscanf(app, ": ok app=%63s %71s", name, digest) != 2) {
			fail("outpost validate printed: %s", line);
			continue;
		}
		lines++;
		size_t i = 0;
		while (i < NAPPS && strcmp(o->names[i], name) != 0)
			i++;
		if (i == NAPPS || strcmp(o->digests[i], digest) != 0)
			fail("outpost validate: app %s has digest %s, the library gave %s", name,
				digest, i == NAPPS ? "none" : o->digests[i]);
	}
	fclose(f);
	if (lines != NAPPS)
		fail("outpost validate: %zu ok lines, expected %d", lines, NAPPS);
}

int main(void)
{
	char tmp[] = "/tmp/outpost-bench-XXXXXX";
	if (!mkdtemp(tmp)) {
		perror("bench_validate: mkdtemp");
		return 1;
	}
	char dir[sizeof tmp + 8], out[sizeof tmp + 16];
	snprintf(dir, sizeof dir, "%s/apps", tmp);
	snprintf(out, sizeof out, "%s/validate.out", tmp);
	static char *paths[NAPPS];
	static struct ours first, o;
	size_t bytes = 0;
	double t_start = now_ms();

	if (mkdir(dir, 0755) != 0 || generate(dir, paths, &bytes) != 0) {
		fail("cannot write the manifests under %s: %s", dir, strerror(errno));
		goto done;
	}
	/* One untimed pass of each: warms the page cache and checks the manifests. */
	long events = floor_pass(paths);
	if (events < 0 || ours_pass(dir, &first) != 0)
		goto done;
	printf("bench_validate: %d manifests, %.1f KiB of YAML, %zu components, %ld libyaml "
	       "events, %.1f KiB of canonical JSON\n",
		NAPPS, (double)bytes / 1024, first.ncomps, events, (double)first.json_bytes / 1024);

	double best_floor = 1e30, best_ours = 1e30, best_add = 0, best_json = 0, best_dg = 0;
	int reps = 0;
	for (; reps < REPS && now_ms() - t_start < BUDGET_S * 1e3; reps++) {
		double t0 = now_ms();
		if (floor_pass(paths) != events)
			goto done;
		double t1 = now_ms();
		if (ours_pass(dir, &o) != 0)
			goto done;
		double t2 = now_ms();
		if (memcmp(o.digests, first.digests, sizeof o.digests) != 0) {
			fail("digests differ between two passes over the same files");
			goto done;
		}
		if (t1 - t0 < best_floor)
			best_floor = t1 - t0;
		if (t2 - t1 < best_ours) {
			best_ours = t2 - t1;
			best_add = o.add_ms;
			best_json = o.json_ms;
			best_dg = o.digest_ms;
		}
	}
	printf("validate %d manifests: %.1f ms; floor (libyaml events only): %.1f ms; ratio "
	       "%.2fx\n",
		NAPPS, best_ours, best_floor, best_ours / best_floor);
	printf("  ours = op_appset_add_dir %.1f ms (read, parse, validate, unique names) + "
	       "canonical JSON %.1f ms + sha256 digests %.1f ms; best of %d\n",
		best_add, best_json - best_dg, best_dg, reps);
	printf("  per manifest: %.1f us ours, %.1f us floor\n", best_ours * 1e3 / NAPPS,
		best_floor * 1e3 / NAPPS);

	if (access("./outpost", X_OK) != 0) {
		printf("  ./outpost validate DIR (process): skipped, no ./outpost here\n");
	} else {
		double best_proc = 1e30;
		int preps = 0;
		for (; preps < PROC_REPS && (preps == 0 || now_ms() - t_start < BUDGET_S * 1e3);
			preps++) {
			double t0 = now_ms();
			int st = run_validate(dir, out);
			double t1 = now_ms();
			if (st != 0) {
				fail("./outpost validate %s exited %d", dir, st);
				goto done;
			}
			if (t1 - t0 < best_proc)
				best_proc = t1 - t0;
		}
		check_process_output(out, &first);
		printf("  ./outpost validate DIR (process, fork/exec, output to a file): %.1f ms; "
		       "best of %d\n",
			best_proc, preps);
	}

done:
	for (size_t i = 0; i < NAPPS; i++)
		free(paths[i]);
	if (getenv("OUTPOST_KEEP") && *getenv("OUTPOST_KEEP"))
		printf("bench_validate: kept %s (OUTPOST_KEEP)\n", tmp);
	else if (nftw(tmp, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0)
		fail("cannot remove %s: %s", tmp, strerror(errno));
	printf("bench_validate: %s (%.1f s)\n", failed ? "FAILED" : "ok",
		(now_ms() - t_start) / 1e3);
	return failed ? 1 : 0;
}
