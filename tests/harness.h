/* The end-to-end test harness: real nats-servers (a hub and leaf sites, with a link
 * proxy that can cut a site off), real git repositories with SSH-signed commits, and
 * real child processes, all on 127.0.0.1 with random ports inside one temp dir.
 *
 * Rules every e2e test gets for free:
 * - Every process the harness starts (servers, h_spawn, h_run) is registered, runs in
 *   its own process group with PDEATHSIG=SIGKILL, and is killed (TERM, then KILL after
 *   a short grace) and reaped at exit, on SIGINT/SIGTERM/SIGABRT/SIGSEGV, or by
 *   h_cleanup(). Call the starting functions from the main thread only.
 * - One temp dir per test program ($TMPDIR or /tmp, "outpost-test-XXXXXX"), removed at
 *   exit unless OUTPOST_KEEP is set (then its path is printed). When a check failed
 *   (tests/t.h), the tail of every server and h_spawn log is printed at exit.
 * - No fixed sleeps: wait on a condition with h_wait_until().
 * - Strings returned as `const char *` are owned by the harness and live until
 *   h_cleanup(); `char *` results are the caller's to free().
 *
 * Reading the site's KV mirror with nats.c 3.10.1 (each point is checked by
 * tests/e2e/test_harness.c):
 * - Create it at the site with js_CreateKeyValue, kvConfig.Bucket = "outpost",
 *   kvConfig.Mirror = &(jsStreamSource){.Name = "KV_outpost", .External =
 *   &(jsExternalStream){.APIPrefix = "$JS.hub.API", .DeliverPrefix = ""}}, History 1
 *   and TTL 0. nats.c makes the site's stream "KV_outpost" with AllowDirect and
 *   MirrorDirect, no subjects of its own and MaxAge 0.
 * - Read it through a connection to the SITE server, jsOptions.Domain = site name (or
 *   no domain: a client of the site server gets the site's JetStream), then
 *   js_KeyValue(&kv, js, "outpost"): kvStore_Get and kvStore_Keys (a watcher
 *   underneath) work on the local mirror, link up or down. Nothing special is needed:
 *   the mirror keeps the origin's subjects ($KV.outpost.<key>) and gets are direct gets
 *   on the site's own KV_outpost (the domains keep the hub from answering them).
 * - Never kvStore_Put/Delete through that handle: nats.c sets a mirror bucket's write
 *   prefix to "$JS.hub.API.$KV.outpost.", so with the link up the put lands in the
 *   HUB's bucket (and comes back through the mirror); with the link cut it fails with
 *   "no responders".
 * - Mirror progress: js_GetStreamInfo(&si, js, "KV_outpost", NULL, NULL) at the site:
 *   si->Mirror->Lag (messages behind the origin, as last heard) and si->Mirror->Active
 *   (ns since the hub was last heard from; it grows while the link is down).
 *
 * Timing (nats-server 2.10.27, measured here):
 * - A site's leaf remote retries every second (`reconnect: "1s"`, the default); after
 *   h_link_restore() the link is back within ~1 s. A restarted hub: ~1 s too.
 * - The mirror catches up at once when the cut was shorter than ~10 s. After a longer
 *   cut, a site booted offline, or a hub restart, it does NOT: the server notices a
 *   silent mirror after 10 s, asks the hub for a new consumer, waits 30 s for an
 *   answer that the cut link lost, then retries every 10 s x failures (at most 2 min).
 *   (After a hub restart only the 10 s check applies: the new request gets through.)
 *   Measured: catch-up 15-60 s after the restore (booted offline: 40 s; hub restart:
 *   10-20 s). A test of those cases needs deadlines of minutes (TEST_FILTER=slow runs
 *   test_slow_mirror_recovery), or restarts the site server once the link is back:
 *   a mirror set up with the link up catches up in ~0.2 s.
 * - A hub cluster (h_hub_cluster_start, three nodes): up in ~1 s. kill -9 of a node: a
 *   site linked to it relinks to another in ~1 s; a stream it led has no leader for a
 *   few seconds (requests get "no responders" or time out: retry them); the mirror and
 *   the hub's sources resume at once, or after the server's own 10 s check when their
 *   deliveries died with the node (test_cluster: 1-23 s for a revision to reach two
 *   sites and their status the hub). A client's first consumer after the meta leader
 *   died may time out once (5 s). The node started again is healthy and caught up in
 *   ~2-3 s. Two of three down: JetStream answers nothing until one is back.
 */
#ifndef OUTPOST_TEST_HARNESS_H
#define OUTPOST_TEST_HARNESS_H

#include <jansson.h>
#include <nats/nats.h>
#include <stdarg.h>
#include <stdbool.h>
#include <sys/types.h>

/* ---- temp dir, paths, files -------------------------------------------------------- */

/* The program's temp dir, made on first use (exits the program if it cannot be). */
const char *h_tmpdir(void);
/* A path inside the temp dir: h_path("state/%s", site). Does not create anything. */
const char *h_path(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A string printf'd into harness-owned memory. */
const char *h_str(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Takes a malloc'd string into harness ownership (freed by h_cleanup); returns it. */
const char *h_keep(char *s);
/* The string single-quoted for /bin/sh ('it'\''s'), harness-owned. */
const char *h_q(const char *s);
/* mkdir -p. 0 or -1. */
int h_mkdirs(const char *path);
/* Writes a file (creating its parent dirs), printf-style content. 0 or -1. */
int h_write(const char *path, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Whole file as a NUL-terminated string (caller frees), NULL if unreadable. */
char *h_read(const char *path);

/* ---- waiting ------------------------------------------------------------------------ */

/* Polls cond(arg) every ~20 ms until it is true (returns true) or timeout_ms passes
 * (returns false). The only place where the tests sleep. */
bool h_wait_until(bool (*cond)(void *), void *arg, int timeout_ms);
/* The same, polling every poll_us microseconds: for benchmarks that time what they wait
 * for (h_wait_until polls every 20 ms). */
bool h_wait_until_poll(bool (*cond)(void *), void *arg, int timeout_ms, int poll_us);
/* Milliseconds on the monotonic clock, for timing things in tests. */
long long h_now_ms(void);
/* Microseconds on the same clock, for benchmarks. */
long long h_now_us(void);
/* The p-th percentile (nearest rank, 1..100) of v's n values; sorts v. */
long long h_pct(long long *v, int n, int p);
/* A free TCP port on 127.0.0.1 (bind port 0, read it, close); -1 on failure. */
int h_free_port(void);
/* GET http://127.0.0.1:<port><path> (HTTP/1.0): the body (malloc'd), or NULL. */
char *h_http_get(int port, const char *path);

/* ---- processes ---------------------------------------------------------------------- */

/* Runs `/bin/sh -c CMD` (printf-style), stdin /dev/null, and waits for it (at most
 * 120 s, then its process group is killed and 124 is returned). Returns the exit code,
 * 128+N if killed by signal N, -1 if it could not be started. If out is not NULL it
 * gets stdout and stderr together (caller frees); if NULL, the output is printed to
 * stderr when the exit code is not 0 and dropped otherwise. It returns when the
 * output is closed and the shell exited: start daemons with h_spawn, not "cmd &". */
int h_run(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same with stdout and stderr apart (either may be NULL: dropped). */
int h_run2(char **out, char **err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Runs the command (as h_run, stdout and stderr together) again and again until its
 * output holds want: true; false after timeout_ms, with the last output printed. */
bool h_wait_output(const char *want, int timeout_ms, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Starts argv[0] (PATH searched) in the background with stdout and stderr appended to
 * log (NULL: inherited), stdin /dev/null, and registers it. Returns its pid (also its
 * process group id), or -1. */
pid_t h_spawn(const char *log, const char *const argv[]);
/* The same for `/bin/sh -c "exec CMD"`, printf-style. */
pid_t h_spawn_sh(const char *log, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Stops a registered process and its group: SIGTERM (SIGKILL when kill9), then SIGKILL
 * after grace_ms, reaps it and unregisters it. Returns its exit code (128+N if killed
 * by signal N), -1 if pid is not registered. */
int h_proc_stop(pid_t pid, bool kill9, int grace_ms);
/* Non-blocking: true once the registered process exited (then it is reaped and
 * unregistered, and *code gets its exit code as h_proc_stop's; code may be NULL).
 * Also true for a pid that is not registered (already reaped). */
bool h_proc_exited(pid_t pid, int *code);
/* Registers a process the harness did not start (say, a shim that left its parent's
 * group) so that cleanup kills it too. It is signalled only, not reaped. */
void h_adopt(pid_t pid);
/* Workloads: processes whose command line is /bin/sleep <tag><suffix> (suffix NULL: any
 * argument that starts with tag), the tests' stand-in for real services. Their count,
 * and the pids of the first max (pids may be NULL). */
int h_workloads(const char *tag, const char *suffix, pid_t *pids, int max);
/* Waits until there are want of them; false (the count printed) after timeout_ms. */
bool h_wait_workloads(const char *tag, const char *suffix, int want, int timeout_ms);
/* Adopts (h_adopt) every workload of tag and every `outpost shim` of this run (one of
 * its arguments under h_tmpdir()): shims leave their host's process group by design,
 * and nothing a test started may outlive it. */
void h_adopt_workloads(const char *tag);
/* kB of a field of /proc/<pid>/status ("VmRSS", "VmHWM"), -1 if unreadable. */
long h_proc_status_kb(pid_t pid, const char *field);
/* kB of Pss and Rss of /proc/<pid>/smaps_rollup; false if unreadable. */
bool h_proc_smaps_kb(pid_t pid, long *pss, long *rss);
/* Kills every registered process and waits for them; prints the log tails if a check
 * failed; removes the temp dir unless OUTPOST_KEEP is set. Runs at exit and on fatal
 * signals by itself; a test may call it to check that nothing survives. */
void h_cleanup(void);

/* ---- nats-server: a hub and leaf sites ------------------------------------------------ */

struct h_proxy;

#define H_MAXNODES 5 /* nodes of a hub cluster */

/* A running (or stopped) nats-server. Fields are read-only for tests. */
typedef struct h_nats {
	char name[64]; /* server_name: "hub" or the site name */
	char domain[64]; /* JetStream domain: the same */
	char url[64]; /* nats://127.0.0.1:PORT */
	int port; /* client port */
	int http_port; /* monitoring port (/varz, /jsz, /leafz, /healthz) */
	int leaf_port; /* hub: leafnode listen port; site: the port of its link proxy */
	char dir[512]; /* server dir: server.conf, server.log, store/ */
	char store[512]; /* JetStream store dir, kept across stop and start */
	char log[512]; /* server.log */
	pid_t pid; /* 0 while stopped */
	struct h_nats *hub; /* site: the hub it links to (of a cluster: its first node) */
	struct h_proxy *proxy; /* site: its link proxy (to the hub's first node) */
	/* A node of a hub cluster: every node of it (itself included), in order; a site
	 * of a cluster hub: one link proxy per node, proxies[0] == proxy. */
	struct h_nats *nodes[H_MAXNODES];
	struct h_proxy *proxies[H_MAXNODES];
	int leaf_ports[H_MAXNODES]; /* a site of a cluster hub: its proxy to each node */
	int nnodes; /* 0: a single server (or a site of one) */
	int cluster_port; /* a cluster node's route port */
	char urls[H_MAXNODES * 32]; /* the client URLs of every node, comma-separated */
} h_nats;

/* Starts the hub (JetStream domain "hub", a leafnode port). NULL on failure, after
 * printing why (with the tail of its log). Waits until /healthz is ok. */
h_nats *h_hub_start(void);
/* Starts a hub of n nodes (1 < n <= H_MAXNODES) in one JetStream cluster: server_name
 * hub-1..hub-n, cluster "hub" with routes on free ports, JetStream domain "hub" on
 * each, a leafnode port each, a store dir each. nodes[] gets them (each one's nodes[]
 * and urls name all of them); returns nodes[0], NULL on failure (printed). Returns once
 * every node's /healthz is ok (JetStream has its meta leader). A node stopped with
 * h_nats_stop starts again with h_nats_start_again: it becomes healthy once it has
 * caught up with the others (two of three must be up for that). */
h_nats *h_hub_cluster_start(int n, h_nats *nodes[]);
/* The comma-separated client URLs of a hub cluster, any node given (nats.c and every
 * outpost --nats take such a list); a single server's own URL. */
const char *h_nats_urls(const h_nats *s);
/* js_CreateKeyValue(kv, js, cfg), asked again while the request times out or finds no
 * peers to place it on, for up to a minute: a cluster that just started, on a loaded
 * machine, may take longer than one request to place a replicated stream and elect its
 * leader, and its meta leader to hear from every peer. The last status. */
natsStatus h_kv_create(kvStore **kv, jsCtx *js, kvConfig *cfg);
/* Starts a site server (domain = site) whose leaf remote goes through a link proxy to
 * hub's leafnode port; of a cluster hub (any node given), its one remote lists every
 * node, each through a link proxy of its own, and the link may be to any of them.
 * h_link_cut and h_link_restore act on all of its proxies. Does not wait for the
 * link: see h_leaf_wait. It runs with GOMAXPROCS=1, as the package's drop-in for a
 * site's nats-server gives it (packaging/deb/systemd/nats-site.service.conf). */
h_nats *h_site_start(h_nats *hub, const char *site);
/* The same with its link cut from the start (a site that boots offline). */
h_nats *h_site_start_cut(h_nats *hub, const char *site);
/* n sites at once (each as h_site_start, names[i] into out[i]): every server is
 * spawned before any is waited for, so that hundreds start in the time of a few
 * (bench_fleet). false, after printing why, if one did not start. */
bool h_sites_start(h_nats *hub, const char *const names[], int n, h_nats *out[]);
const char *h_nats_url(const h_nats *s);
/* GET http://127.0.0.1:<http_port><path> (e.g. "/leafz", "/jsz?streams=1"), parsed;
 * caller json_decref()s. NULL if unreachable, not 200, or not JSON. */
json_t *h_nats_monitor(const h_nats *s, const char *path);
/* The same, the body as text (caller frees), for what jansson refuses as it is: /jsz
 * with accounts holds integers past int64 (parse with JSON_DECODE_INT_AS_REAL). */
char *h_nats_monitor_text(const h_nats *s, const char *path);
/* True once /leafz at the site lists its link to the hub, within timeout_ms. */
bool h_leaf_wait(h_nats *site, int timeout_ms);
/* True once /leafz at the site lists no leaf link, within timeout_ms. */
bool h_leaf_wait_down(h_nats *site, int timeout_ms);
/* Asks the hub's sync for a pass (outpost.hub.sync.now), retrying until sync answers
 * (it listens after its first pass) or timeout_ms: true with its JSON reply in *reply
 * (caller frees). accepted: the reply's outcome is "accepted" or "unchanged" (a pass of
 * sync's own loop got there first); otherwise the reply is printed. */
bool h_sync_now(const h_nats *hub, char **reply, int timeout_ms);
bool h_sync_accepted(const h_nats *hub, int timeout_ms);
/* Cuts the site's link: closes every proxied connection, then refuses new ones
 * (accepts and closes at once). The proxy hides the hub's own leafnode address from
 * the site (see rewrite_info in harness_nats.c): a site that learned it would
 * reconnect around the proxy. Returns when the site's /leafz shows it down (waits at
 * most 5 s; prints a warning otherwise). */
void h_link_cut(h_nats *site);
/* The links of n sites cut at once (as h_link_cut, every proxy first), then waits
 * until each site shows its link down. */
void h_links_cut(h_nats *const sites[], int n);
/* How many connections the proxy refused since the last cut: the site's reconnect
 * attempts (about one a second). */
int h_link_refused(const h_nats *site);
/* Bytes the site's link proxy has taken in since the site started, across cuts: from
 * the hub (*to_site) and from the site (*to_hub); either may be NULL. Bytes read when
 * a cut drops them count too: they were sent over the link. A link's cost is the
 * difference between two readings. */
void h_link_bytes(const h_nats *site, unsigned long long *to_site, unsigned long long *to_hub);
/* Forwards new connections again. Returns at once; the site's leaf remote reconnects
 * within about a second: h_leaf_wait() for it. */
void h_link_restore(h_nats *site);
/* Servers with more config: accounts and users, TLS. text(s, arg) is called once the
 * server's ports are chosen (a site's s->leaf_port is its link proxy's port) and
 * returns config text appended to server.conf (harness-owned or static; NULL fails
 * the start). With own_leafnodes the text writes the whole leafnodes { } block and
 * the harness writes none: the hub's must listen on 127.0.0.1:<s->leaf_port> with
 * `compression: off` (for the proxy), a site's remote must go to
 * nats-leaf://127.0.0.1:<s->leaf_port>, the proxy. The proxy forwards a TLS leaf link
 * as it is (after the hub's first INFO, which announces TLS): the site may then learn
 * the hub's own address from an encrypted INFO, so h_link_cut is not for TLS links.
 * The monitoring port stays plain HTTP without auth. */
typedef struct h_nats_cfg {
	const char *(*text)(const h_nats *s, void *arg);
	void *arg;
	bool own_leafnodes;
} h_nats_cfg;
h_nats *h_hub_start_cfg(const h_nats_cfg *cfg);
/* A hub cluster (h_hub_cluster_start) whose nodes' configs have cfg's text too (the
 * same text on each: say, outpost creds' hub.conf). A site's text (own_leafnodes) of a
 * cluster hub writes one remote with every node, nats-leaf://127.0.0.1:<leaf_ports[i]>. */
h_nats *h_hub_cluster_start_cfg(int n, h_nats *nodes[], const h_nats_cfg *cfg);
h_nats *h_site_start_cfg(h_nats *hub, const char *site, const h_nats_cfg *cfg);
/* `outpost creds --hub-leaf` for a test's hub: nats-leaf://127.0.0.1:H_CREDS_LEAF_PORT
 * (+1, +2 for the nodes of a cluster), never listened on: h_creds_site_conf points
 * them at the site's link proxies. */
#define H_CREDS_LEAF_PORT 7422
/* The site.conf that `outpost creds --out dir` wrote for site (NULL: s's name), with
 * the remote's URLs pointed at s's link proxies: for a cfg text of own_leafnodes. Kept
 * by the harness; NULL if missing or not as written. */
const char *h_creds_site_conf(const h_nats *s, const char *dir, const char *site);
/* n sites at once (h_sites_start), each config with cfg's text (as h_site_start_cfg). */
bool h_sites_start_cfg(
	h_nats *hub, const char *const names[], int n, h_nats *out[], const h_nats_cfg *cfg);
/* Stops the server with SIGTERM (kill9: SIGKILL), waits for it; store and ports kept.
 * 0, or -1 if it was not running. */
int h_nats_stop(h_nats *s, bool kill9);
/* Starts it again on the same ports and store dir; waits for /healthz. 0 or -1. */
int h_nats_start_again(h_nats *s);

/* ---- git and SSH keys ----------------------------------------------------------------- */

/* An SSH key pair made with ssh-keygen, no passphrase. */
typedef struct h_key {
	const char *type; /* "ed25519", "ecdsa" (nistp256) or "rsa" (3072 bits) */
	const char *path; /* private key; the public key is path + ".pub" */
	const char *pub; /* "ssh-ed25519 AAAA...": key type and base64, no comment */
} h_key;

/* Makes a key of that type. NULL on failure (printed). */
const h_key *h_keygen(const char *type);

/* The environment prefix the harness runs git with, for tests that run git by hand:
 * "HOME=<tmp>/home XDG_CONFIG_HOME=... GIT_CONFIG_NOSYSTEM=1 TZ=UTC ..." (shell syntax,
 * ends with a space): h_run(NULL, "%sgit verify-commit %s", h_git_env(), sha). */
const char *h_git_env(void);

typedef struct h_repo {
	const char *path; /* work tree (non-bare), branch main */
} h_repo;

/* git init -b main in <tmp>/<name>. NULL on failure (printed). */
h_repo *h_repo_new(const char *name);
/* Writes a file in the work tree (printf-style content, parent dirs made). 0 or -1. */
int h_repo_write(h_repo *r, const char *relpath, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Deletes a file from the work tree. 0 or -1. */
int h_repo_rm(h_repo *r, const char *relpath);

/* What h_repo_commit commits. Zero fields take the defaults. */
typedef struct h_commit {
	const h_key *key; /* sign with it (git commit -S, gpg.format=ssh); NULL: unsigned */
	const char *name; /* committer and author name; default "Test User" */
	const char *email; /* committer and author email; default "test@example.com" */
	const char *date; /* committer and author date, any git date format, e.g.
			     "2024-05-01T12:00:00Z"; NULL: now */
	const char *msg; /* default "change" */
} h_commit;

/* git add -A, then git commit --allow-empty as c says. Returns the new commit's sha
 * (harness-owned), NULL on failure (printed). c may be NULL (unsigned, defaults). */
const char *h_repo_commit(h_repo *r, const h_commit *c);
/* The sha of HEAD (or of any rev: h_repo_rev(r, "HEAD~1")), harness-owned; NULL. */
const char *h_repo_rev(h_repo *r, const char *rev);
/* Runs `git -C <repo> ARGS` (printf-style) with h_git_env(); as h_run. */
int h_repo_git(h_repo *r, char **out, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- WebAssembly modules ----------------------------------------------------------------- */

/* WAT of a WASI module that writes line and a newline to stdout, then waits sleep_ms on
 * the monotonic clock, for ever (fd_write, poll_oneoff); again: the line every round.
 * NULL for a line over 46 bytes or with a quote or a backslash. Harness-owned. */
const char *h_wat_writer(const char *line, bool again, long long sleep_ms);
/* wat written to <tmp>/name.wat and compiled by wat2wasm (Debian's wabt) into
 * <tmp>/name.wasm: its path, and in *hex (may be NULL) its sha256; NULL on failure. */
const char *h_wasm_build(const char *name, const char *wat, const char **hex);

/* ---- internal: shared by the harness_*.c files, not for tests ------------------------ */

void h__init(void); /* makes the temp dir, installs exit/signal cleanup */
void h__atcleanup(void (*fn)(void)); /* runs at cleanup, after the processes are gone */
void h__track_log(const char *path); /* a log whose tail is printed on failure */
void h__kill_all(void); /* async-signal-safe: stop and reap every process */
/* Adopts every process whose command line names dir (not async-signal-safe). */
void h__adopt_users(const char *dir);
void h__sleep_ms(int ms); /* for the polling helpers only */
const char *h__keep(char *s); /* = h_keep (test_verify_git.c calls this name) */
char *h__vfmt(const char *fmt, va_list ap) /* vasprintf; caller frees */
	__attribute__((format(printf, 1, 0)));

#endif
