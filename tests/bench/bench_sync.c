/* How long a sync pass takes when one app of 1,000 changed, against the floor of what
 * any verifying fetch has to do. A repository of 1,000 valid manifests under apps/ (one
 * file each, SSH-signed ed25519 commits) and a hub nats-server come from the harness.
 * Timed, as whole processes started the same way (/bin/sh -c, wall time):
 *   (a) the first full sync of the 1,000 apps into an empty bucket and cache;
 *   (b) one app changed in a new signed commit, one `outpost sync --once` into the warm
 *       cache (fetch, marker, verify, tree walk and parse of every manifest, KV puts);
 *   (c) the floor, in the same round: `git fetch` of the same commit into a bare clone
 *       that had the previous one, then `git verify-commit` of it against the same
 *       allowed_signers file (gpg.ssh.allowedSignersFile).
 * (b) and (c) are repeated with a new change each round (their order alternating) and
 * the medians compared. For the breakdown, also timed: a pass with nothing new (the
 * fixed cost: process, policy, fetch negotiation, NATS connect, marker read), and
 * `outpost validate` of the 1,000 files from disk (parse and checks alone). Times are
 * printed, never judged: the exit status is non-zero only when a pass or a command
 * fails. OUTPOST_KEEP=1 keeps the temp dir. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NAPPS 1000
#define ROUNDS 7
#define GOAL 1.5

static const char *bin;
static int failed;

static const char *app_yaml(int i, int instances)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: app-%04d\n  annotations:\n    team: team-%d\nspec:\n  components:\n"
		     "    - name: main\n      type: process\n      properties:\n"
		     "        command: /usr/bin/app-%04d\n        args: [\"--port\", \"%d\"]\n"
		     "        env:\n          LOG_LEVEL: info\n      traits:\n"
		     "        - type: spreadscaler\n          properties:\n"
		     "            instances: %d\n",
		i, i % 10, i, 8000 + i, instances);
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static long long median(long long *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_ll);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Runs a command (printf-style) and returns its wall time in ms, or -1 when it failed
 * or its output lacks want (then the output is printed). *inner (if not NULL) gets the
 * ms= of its log's "sync pass" line: the pass alone, without the process around it. */
static long long timed(long long *inner, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static long long timed(long long *inner, const char *want, const char *fmt, ...)
{
	va_list ap;
	char *cmd = NULL;
	va_start(ap, fmt);
	int w = vasprintf(&cmd, fmt, ap);
	va_end(ap);
	if (w < 0)
		return -1;
	char *out = NULL;
	long long t0 = h_now_ms();
	int rc = h_run(&out, "%s", cmd);
	long long ms = h_now_ms() - t0;
	const char *p = out ? strstr(out, " ms=") : NULL;
	if (inner)
		*inner = p ? strtoll(p + 4, NULL, 10) : -1;
	if (rc != 0 || (want && (!out || !strstr(out, want))) || (inner && !p)) {
		fprintf(stderr, "bench_sync: FAIL (exit %d, expected \"%s\"): %s\n%s", rc,
			want ? want : "", cmd, out ? out : "");
		failed = 1;
		ms = -1;
	}
	free(cmd);
	free(out);
	return ms;
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	/* A copy of the binary: a rebuild of ./outpost during the run does not touch it. */
	bin = h_path("outpost");
	if (h_run(NULL, "cp %s/outpost %s", h_q(cwd), h_q(bin)) != 0)
		return 1;
	const h_key *key = h_keygen("ed25519");
	h_repo *repo = h_repo_new("repo");
	h_nats *hub = h_hub_start();
	if (!key || !repo || !hub)
		return 1;
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	for (int i = 0; i < NAPPS; i++)
		if (h_repo_write(
			    repo, h_str("apps/app-%04d.yaml", i), "%s", app_yaml(i, 1 + i % 5)))
			return 1;
	const char *head = h_repo_commit(repo, &(h_commit){.key = key, .msg = "1000 apps"});
	if (!head)
		return 1;

	const char *sync = h_str("%s sync --once --repo %s --trust %s --state %s --nats %s", bin,
		h_q(repo->path), h_q(trust), h_q(h_path("state")), h_nats_url(hub));
	const char *floor_git = h_path("floor.git");
	const char *floor = h_str(
		"%1$sgit -C %2$s fetch -q origin +refs/heads/main:refs/heads/main && "
		"%1$sgit -C %2$s -c gpg.ssh.allowedSignersFile=%3$s verify-commit refs/heads/main",
		h_git_env(), h_q(floor_git), h_q(trust));

	/* (a) the first full sync; the floor's clone starts from the same commit. */
	long long first = timed(NULL, "outcome=accepted", "%s", sync);
	if (h_run(NULL, "%sgit clone -q --bare %s %s", h_git_env(), h_q(repo->path),
		    h_q(floor_git)) != 0)
		return 1;

	/* (b) and (c), a new change each round. */
	long long ours[ROUNDS], base[ROUNDS], inner[ROUNDS];
	int n = 0;
	for (int r = 0; r < ROUNDS && !failed; r++) {
		int i = (r * 397 + 11) % NAPPS;
		h_repo_write(repo, h_str("apps/app-%04d.yaml", i), "%s", app_yaml(i, 6 + r));
		head = h_repo_commit(repo, &(h_commit){.key = key, .msg = h_str("scale %d", i)});
		if (!head)
			return 1;
		long long b = 0, c = 0;
		if (r % 2 == 0) {
			b = timed(&inner[n], "(1 written, 0 deleted)", "%s", sync);
			c = timed(NULL, NULL, "%s", floor);
		} else {
			c = timed(NULL, NULL, "%s", floor);
			b = timed(&inner[n], "(1 written, 0 deleted)", "%s", sync);
		}
		if (b < 0 || c < 0)
			break;
		ours[n] = b;
		base[n] = c;
		n++;
	}

	/* The breakdown: a pass with nothing new, and the parse of all files from disk. */
	long long idle[ROUNDS], idle_inner[ROUNDS], val[ROUNDS];
	int m = 0;
	for (int r = 0; r < ROUNDS && !failed; r++, m++) {
		idle[m] = timed(&idle_inner[m], "outcome=unchanged", "%s", sync);
		val[m] = timed(
			NULL, NULL, "%s validate %s", bin, h_q(h_str("%s/apps", repo->path)));
	}
	if (failed || n == 0 || m == 0) {
		fprintf(stderr, "bench_sync: a pass failed\n");
		return 1;
	}

	long long mo = median(ours, n), mb = median(base, n);
	printf("bench_sync: %d apps, %d rounds, medians\n", NAPPS, n);
	printf("first full sync of %d apps: %lld ms\n", NAPPS, first);
	printf("sync %d apps, 1 changed: %lld ms; floor (git fetch + git verify-commit): %lld ms; "
	       "ratio %.2fx (goal <= %.1fx)\n",
		NAPPS, mo, mb, mb > 0 ? (double)mo / (double)mb : 0.0, GOAL);
	printf("  of which the pass itself (its log's ms=): %lld ms\n", median(inner, n));
	printf("  sync with nothing new: %lld ms (pass itself %lld ms)\n", median(idle, m),
		median(idle_inner, m));
	printf("  outpost validate of the %d files from disk: %lld ms\n", NAPPS, median(val, m));
	return 0;
}
