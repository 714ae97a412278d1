/* The demo's parts (the scenario is demo.c): its two apps (apps.c), narration and the
 * verdict (out.c), and its workloads as /proc shows them (procs.c). Strings returned as
 * `const char *` are harness-owned. */
#ifndef OUTPOST_DEMO_H
#define OUTPOST_DEMO_H

#include <stdbool.h>
#include <sys/types.h>

#define NSITES 2
#define NHOSTS 2
#define MAXP 200
#define THERMO 1 /* the app digit in a workload's tag */
#define GATEWAY 2
#define GW_VER 4 /* gateway 1.4 */

/* Set by main before anything runs. Copies, not harness strings: they outlive
 * h_cleanup(). A workload is `/bin/sleep <tag><app digit><version digit>`. */
extern char demo_bin[4096], demo_tmp[512], demo_tag[16];
extern bool demo_tty, demo_cleaned;
extern long long demo_t0;
/* Each host's --state dir (harness strings), by site and host index. */
extern const char *demo_host_dir[NSITES][NHOSTS];

/* ---- apps.c: the manifests ---------------------------------------------------------- */

/* thermo's reader, version ver: where CI builds it, where the hosts install it, its
 * text, and its digest (64 hex, set once built). */
extern char demo_reader_sha[10][65];
const char *demo_reader_build(int ver);
const char *demo_reader_installed(int ver);
const char *demo_reader_source(int ver);
/* thermo: readers placed by the site label region=eu, spread over the hosts labelled
 * role=sensor (75) and any host (25); instances per site, version v<ver>, running the
 * reader v<ver> pinned by demo_reader_sha[ver]. */
const char *demo_thermo_yaml(int instances, int ver);
/* From v5 on, thermo has a rollout policy: the plants labelled ring=canary first. v5's
 * reader is a bad one: it exits at once, saying what it misses. */
#define DEMO_BAD_READER 5
const char *demo_canary_policy(void);
/* gateway 1.4: one MQTT bridge per site, on the host labelled role=gateway, and a
 * WebAssembly filter (type wasm) on every host, as nobody with 8 MiB. */
const char *demo_gateway_yaml(void);
/* The filter: its WAT text, where CI builds it (wat2wasm), where the hosts install it,
 * and its digest (64 hex, set once built): one module for every arch. */
extern char demo_filter_sha[65];
const char *demo_filter_wat(void);
const char *demo_filter_build(void);
const char *demo_filter_installed(void);

/* ---- out.c: what a person reads ------------------------------------------------------ */

/* Seconds since demo_t0. */
double demo_elapsed(void);
/* "== N. title  [t s]", bold on a terminal. */
void demo_step(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Narration, indented; the temp dir shows as $DEMO, the binary as outpost. */
void demo_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A command, as a person would type it: "$ ...". */
void demo_show(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Every line of text after prefix, shortened as demo_say does; text may be NULL. */
void demo_block(const char *prefix, const char *text);
/* The verdict on a step that did not happen: a FAILED line, every process stopped (the
 * harness prints each log's tail), the FAILED line again as the last word, exit 1. */
void demo_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- procs.c: the workloads ---------------------------------------------------------- */

struct wl {
	pid_t pid;
	int site, host; /* -1: its parent is not the shim of one of the demo's hosts */
	int app, ver; /* THERMO or GATEWAY; the version digit */
};

struct procs {
	int n, nshims;
	struct wl w[MAXP];
};

/* Finds every workload and every shim of this run in /proc. Each is adopted by the
 * harness (shims live in sessions of their own, so nothing else would stop them); an
 * adopted process that is gone is forgotten. Main thread only. */
void procs_scan(struct procs *p);
/* Workloads at site (host -1: any) of app (ver -1: any). */
int procs_count(const struct procs *p, int site, int host, int app, int ver);
/* Processes of this run still there once the harness cleaned up: every command line
 * that names demo_tmp, and the workloads. Adopts nothing. */
int procs_leftovers(void);

#endif
