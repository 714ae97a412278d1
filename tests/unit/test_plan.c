/* The planner, rule by rule, on small hand-made sites. Apps are real manifests parsed
 * from YAML; a test sets up hosts and what they report, runs the plan and compares the
 * commands, written compactly: "+web.c.0/h1" starts web.c.0-<hash> on h1, "-..." stops
 * (the hash is left out; which one is meant is clear from the step). apply() plays the
 * hosts: a start becomes a RUNNING instance, a stop removes it. Every plan() also checks
 * what must always hold: the same commands twice and with the input reversed, no
 * command to a dead host, starts that name a real app and component. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/model/manifest.h"
#include "outpost/agent/plan/plan.h"
#include "t.h"

#define MAXA 8
#define MAXH 32
#define MAXI 1024

static struct {
	op_app *apps[MAXA];
	size_t napps;
	op_host_view hosts[MAXH];
	size_t nhosts;
	op_inst_view insts[MAXI];
	size_t ninsts;
	op_cmd *cmds;
	size_t ncmds;
	char str[16384];
} W;

/* --- the world ---------------------------------------------------------------------- */

static void kvs_clear(op_kvs *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].key), free(m->v[i].val);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static int kv_cmp(const void *a, const void *b)
{
	return strcmp(((const op_kv *)a)->key, ((const op_kv *)b)->key);
}

/* "arch=arm64,role=gw" into a sorted op_kvs. */
static void kvs_set(op_kvs *m, const char *spec)
{
	kvs_clear(m);
	char buf[256];
	snprintf(buf, sizeof buf, "%s", spec);
	m->v = calloc(16, sizeof *m->v);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			continue;
		*eq = '\0';
		m->v[m->n].key = strdup(t);
		m->v[m->n].val = strdup(eq + 1);
		m->n++;
	}
	qsort(m->v, m->n, sizeof *m->v, kv_cmp);
}

static void reset(void)
{
	for (size_t i = 0; i < W.napps; i++)
		op_app_free(W.apps[i]);
	for (size_t i = 0; i < W.nhosts; i++)
		kvs_clear(&W.hosts[i].labels);
	free(W.cmds);
	memset(&W, 0, sizeof W);
}

static op_host_view *host(const char *id, const char *labels, bool alive)
{
	for (size_t i = 0; i < W.nhosts; i++)
		if (!strcmp(W.hosts[i].id, id)) {
			kvs_set(&W.hosts[i].labels, labels);
			W.hosts[i].alive = alive;
			return &W.hosts[i];
		}
	op_host_view *h = &W.hosts[W.nhosts++];
	snprintf(h->id, sizeof h->id, "%s", id);
	kvs_set(&h->labels, labels);
	h->alive = alive;
	return h;
}

static void set_alive(const char *id, bool alive)
{
	for (size_t i = 0; i < W.nhosts; i++)
		if (!strcmp(W.hosts[i].id, id))
			W.hosts[i].alive = alive;
}

static bool alive(const char *id)
{
	for (size_t i = 0; i < W.nhosts; i++)
		if (!strcmp(W.hosts[i].id, id))
			return W.hosts[i].alive;
	return false;
}

static op_app *parse(const char *yaml)
{
	op_app *app = NULL;
	op_diags d = {0};
	if (op_manifest_parse("t.yaml", yaml, strlen(yaml), &app, &d) != 0) {
		op_diags_print(&d, stderr);
		fprintf(stderr, "%s", yaml);
	}
	op_diags_clear(&d);
	return app;
}

/* An app with one component "c". props: extra property lines, ';'-separated ("args:
 * [x]; rollout: stop-first"); spread: the spread list as YAML flow text, or NULL. */
static op_app *mkapp(
	const char *name, const char *props, const char *scaler, int n, const char *spread)
{
	char yaml[4096], lines[1024] = "", buf[512];
	snprintf(buf, sizeof buf, "%s", props ? props : "");
	for (char *save = NULL, *t = strtok_r(buf, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		while (*t == ' ')
			t++;
		size_t len = strlen(lines);
		snprintf(lines + len, sizeof lines - len, "        %s\n", t);
	}
	char sp[512] = "";
	if (spread)
		snprintf(sp, sizeof sp, "            spread: %s\n", spread);
	snprintf(yaml, sizeof yaml,
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: %s\n"
		"spec:\n  components:\n    - name: c\n      type: process\n      properties:\n"
		"        command: /bin/c\n%s      traits:\n        - type: %s\n"
		"          properties:\n            instances: %d\n%s",
		name, lines, scaler, n, sp);
	return parse(yaml);
}

/* Sets app slot i (replacing what was there). */
static op_app *set_app(size_t i, op_app *a)
{
	if (i < W.napps)
		op_app_free(W.apps[i]);
	W.apps[i] = a;
	if (i >= W.napps)
		W.napps = i + 1;
	return a;
}

static void drop_app(size_t i)
{
	op_app_free(W.apps[i]);
	memmove(&W.apps[i], &W.apps[i + 1], (W.napps - i - 1) * sizeof W.apps[0]);
	W.napps--;
}

static const char *hash_of(const op_app *a, size_t comp)
{
	static char h[4][13];
	static int k;
	char *out = h[k++ & 3];
	if (op_component_hash(&a->comps[comp], out) != 0)
		snprintf(out, 13, "????????????");
	return out;
}

/* The id of ordinal n of app a's component 0 under its current spec. */
static const char *idof(const op_app *a, int n, const char *dhost)
{
	static char ids[8][OP_INST_MAX + 1];
	static int k;
	char *out = ids[k++ & 7];
	if (op_inst_id(a, &a->comps[0], hash_of(a, 0), n, dhost, out) != 0)
		snprintf(out, OP_INST_MAX + 1, "?");
	return out;
}

static op_inst_view *add(const char *id, const char *h, enum op_inst_state st)
{
	op_inst_view *v = &W.insts[W.ninsts++];
	memset(v, 0, sizeof *v);
	snprintf(v->id, sizeof v->id, "%s", id);
	snprintf(v->host, sizeof v->host, "%s", h);
	v->state = st;
	v->health = st == OP_INST_RUNNING ? OP_HEALTH_HEALTHY : OP_HEALTH_NONE;
	return v;
}

static op_inst_view *find(const char *id, const char *h)
{
	for (size_t i = 0; i < W.ninsts; i++)
		if (!strcmp(W.insts[i].id, id) && (!h || !strcmp(W.insts[i].host, h)))
			return &W.insts[i];
	return NULL;
}

static void del(size_t i)
{
	W.insts[i] = W.insts[--W.ninsts];
}

/* --- planning ----------------------------------------------------------------------- */

static bool cmds_equal(const op_cmd *a, size_t na, const op_cmd *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++)
		if (a[i].op != b[i].op || strcmp(a[i].host, b[i].host) ||
			strcmp(a[i].inst, b[i].inst) || a[i].app != b[i].app ||
			a[i].comp != b[i].comp)
			return false;
	return true;
}

static void render(void)
{
	W.str[0] = '\0';
	for (size_t i = 0; i < W.ncmds; i++) {
		const op_cmd *c = &W.cmds[i];
		size_t len = strlen(c->inst), at = strlen(W.str);
		int keep = len > 13 ? (int)(len - 13) : (int)len;
		snprintf(W.str + at, sizeof W.str - at, "%s%c%.*s/%s", i ? " " : "",
			c->op == OP_CMD_START ? '+' : '-', keep, c->inst, c->host);
	}
}

/* Plans, checks the invariants, renders into W.str and returns it. */
static const char *plan(void)
{
	free(W.cmds);
	W.cmds = NULL;
	W.ncmds = 0;
	const op_app *apps[MAXA];
	for (size_t i = 0; i < W.napps; i++)
		apps[i] = W.apps[i];
	op_plan_in in = {apps, W.napps, W.hosts, W.nhosts, W.insts, W.ninsts};
	int rc = op_plan_compute(&in, &W.cmds, &W.ncmds);
	T_EQ_INT(rc, 0);

	op_cmd *again = NULL, *rev = NULL;
	size_t nagain = 0, nrev = 0;
	T_EQ_INT(op_plan_compute(&in, &again, &nagain), 0);
	T_CHECK_MSG(cmds_equal(W.cmds, W.ncmds, again, nagain), "plan twice differs");
	static op_host_view rh[MAXH];
	static op_inst_view ri[MAXI];
	for (size_t i = 0; i < W.nhosts; i++)
		rh[i] = W.hosts[W.nhosts - 1 - i];
	for (size_t i = 0; i < W.ninsts; i++)
		ri[i] = W.insts[W.ninsts - 1 - i];
	op_plan_in rin = {apps, W.napps, rh, W.nhosts, ri, W.ninsts};
	T_EQ_INT(op_plan_compute(&rin, &rev, &nrev), 0);
	T_CHECK_MSG(cmds_equal(W.cmds, W.ncmds, rev, nrev), "plan of the reversed input differs");
	free(again);
	free(rev);

	for (size_t i = 0; i < W.ncmds; i++) {
		const op_cmd *c = &W.cmds[i];
		T_CHECK_MSG(alive(c->host), "command to dead host %s: %s", c->host, c->inst);
		if (c->op == OP_CMD_START) {
			T_CHECK(c->app < W.napps && c->comp < W.apps[c->app]->ncomps);
		} else {
			T_CHECK(c->app == OP_PLAN_NOIDX && c->comp == OP_PLAN_NOIDX);
		}
	}
	render();
	return W.str;
}

/* The hosts do what they were told: starts run, stops go. */
static void apply(void)
{
	for (size_t i = 0; i < W.ncmds; i++) {
		const op_cmd *c = &W.cmds[i];
		if (c->op == OP_CMD_STOP) {
			for (size_t j = W.ninsts; j-- > 0;)
				if (!strcmp(W.insts[j].id, c->inst) &&
					!strcmp(W.insts[j].host, c->host))
					del(j);
		} else {
			op_inst_view *v = find(c->inst, c->host);
			if (v)
				v->state = OP_INST_RUNNING, v->health = OP_HEALTH_HEALTHY;
			else
				add(c->inst, c->host, OP_INST_RUNNING);
		}
	}
}

/* plan/apply until nothing is left to do; the number of rounds that did something. */
static int converge(int max)
{
	for (int r = 0; r <= max; r++) {
		if (!*plan())
			return r;
		apply();
	}
	return -1;
}

/* Instances of app a (any hash) on alive hosts, optionally only on host h. */
static int count(const char *app, const char *h)
{
	int n = 0;
	size_t len = strlen(app);
	for (size_t i = 0; i < W.ninsts; i++)
		n += !strncmp(W.insts[i].id, app, len) && W.insts[i].id[len] == '.' &&
			alive(W.insts[i].host) && (!h || !strcmp(W.insts[i].host, h)) &&
			W.insts[i].state != OP_INST_STOPPING;
	return n;
}

#define PLAN_IS(s) T_EQ_STR(plan(), s)

/* --- hashes, ids, labels ------------------------------------------------------------- */

/* The hash the long way: the app's canonical JSON, its component's properties cut out
 * and dumped on their own. op_component_hash builds them directly; the bytes must agree. */
static void slow_hash(const op_app *a, size_t comp, char out[13])
{
	char *json = NULL, *props = NULL;
	snprintf(out, 13, "(failed)");
	if (op_manifest_to_json(a, &json, NULL) != 0)
		return;
	json_t *root = json_loads(json, 0, NULL);
	json_t *p = json_object_get(
		json_array_get(json_object_get(json_object_get(root, "spec"), "components"), comp),
		"properties");
	if (p && (props = json_dumps(p, JSON_SORT_KEYS | JSON_COMPACT))) {
		char d[OP_DIGEST_LEN + 1];
		op_digest(props, strlen(props), d);
		snprintf(out, 13, "%.12s", d + 7);
	}
	free(props);
	json_decref(root);
	free(json);
}

static void test_hash_equals_canonical_json(void)
{
	reset();
	const char *y =
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: all\n"
		"  annotations: {version: v3}\nspec:\n  components:\n"
		"    - name: a\n      type: process\n      properties:\n"
		"        command: /opt/a\n"
		"        args: [\"--x=\\\"q\\\"\", \"back\\\\slash\", \"tab\\there\", \"caf\u00e9 "
		"\u2603\", "
		"\"a/b\", \"\\u0001\\b\\f\\r\\n\\x1f\\x7f\\U0001F600\", \"\"]\n"
		"        env: {ZED: \"1\", ALPHA: two words, MID: 3}\n"
		"        workdir: /var/lib/a\n        restart: on-failure\n        rollout: "
		"stop-first\n"
		"        artifact:\n          path: /opt/a\n          sha256: "
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"    - name: b\n      type: process\n      properties:\n"
		"        command: /opt/b\n        restart: never\n"
		"        artifact:\n          path: /opt/b\n          mode: \"0750\"\n"
		"          unpack: tar\n          sha256:\n"
		"            arm64: "
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"            amd64: "
		"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n"
		"      traits:\n        - type: daemonscaler\n          properties: {instances: "
		"2}\n"
		"    - name: c\n      type: process\n      properties:\n        command: /opt/c\n"
		"    - name: d\n      type: process\n      properties:\n        command: /opt/d\n"
		"        min_ready: 0s\n        health:\n"
		"          exec: {command: /opt/chk, args: [\"-q\", \"tab\\there\"]}\n"
		"          interval: 90s\n          timeout: 1500ms\n          failures: 7\n"
		"          start_period: 2m\n"
		"    - name: e\n      type: process\n      properties:\n        command: /opt/e\n"
		"        min_ready: 1h\n        health: {http: {port: 8080, path: /h?x=\"1\"}}\n"
		"    - name: f\n      type: process\n      properties:\n        command: /opt/f\n"
		"        workdir: /w\n        health: {tcp: {port: 1}, interval: 100ms}\n"
		"    - name: g\n      type: process\n      properties:\n        command: /opt/g\n"
		"        env: {B: {secret: tok}, A: a, C: c, Z: {secret: db}}\n"
		"        files: [{path: /run/g/k, secret: tls, mode: \"0440\"}, {path: /run/g/a, "
		"secret: db}]\n"
		"        user: nobody\n        group: \"65534\"\n        umask: \"0077\"\n"
		"        limits: {processes: 9, memory: 1Gi, open_files: 64, cpu_time: 2m}\n"
		"    - name: h\n      type: process\n      properties:\n        command: /opt/h\n"
		"        env: {B: {secret: tok}}\n"
		"        limits: {open_files: 8}\n        user: \"0\"\n"
		"    - name: i\n      type: wasm\n      properties:\n"
		"        module: sha256:"
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
		"        path: /opt/i.wasm\n        args: [x]\n        env: {A: b}\n"
		"        dirs: [{guest: /data, host: /var/lib/i}, {guest: /etc/i, host: /etc/i, "
		"readonly: true}]\n"
		"        limits: {memory: 64Mi}\n        user: nobody\n"
		"        health: {tcp: {port: 2}}\n        min_ready: 1s\n"
		"    - name: j\n      type: wasm\n      properties:\n"
		"        module: sha256:"
		"fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210\n"
		"        path: /opt/j.wasm\n";
	op_app *a = set_app(0, parse(y));
	T_REQUIRE(a);
	T_EQ_INT(a->ncomps, 10);
	for (size_t i = 0; i < a->ncomps; i++) {
		char slow[13];
		slow_hash(a, i, slow);
		T_EQ_STR(hash_of(a, i), slow);
	}
	/* A site's pin of a sealed file is in the hash: a new sealed value, new ids. */
	char before[13];
	snprintf(before, sizeof before, "%s", hash_of(a, 6));
	for (size_t i = 0; i < a->comps[6].nsecrets; i++)
		a->comps[6].secrets[i].sealed = strdup("0123456789abcdef0123456789abcdef01234567");
	char slow[13];
	slow_hash(a, 6, slow);
	T_EQ_STR(hash_of(a, 6), slow);
	T_CHECK(strcmp(before, slow) != 0);
	free(a->comps[6].secrets[0].sealed);
	a->comps[6].secrets[0].sealed = strdup("1123456789abcdef0123456789abcdef01234567");
	char other[13];
	slow_hash(a, 6, other);
	T_EQ_STR(hash_of(a, 6), other);
	T_CHECK(strcmp(other, slow) != 0);
	reset();
}

static void test_component_hash(void)
{
	reset();
	op_app *a = set_app(0, mkapp("web", "args: [x]", "spreadscaler", 2, NULL));
	T_REQUIRE(a);
	char h[13];
	T_EQ_INT(op_component_hash(&a->comps[0], h), 0);
	T_EQ_INT(strlen(h), 12);
	/* The canonical properties, written out by hand: sorted keys, compact, defaults. */
	const char *canon = "{\"args\":[\"x\"],\"command\":\"/bin/c\",\"env\":{},\"restart\":"
			    "\"always\",\"rollout\":\"start-first\"}";
	char d[OP_DIGEST_LEN + 1];
	op_digest(canon, strlen(canon), d);
	T_CHECK_MSG(!strncmp(h, d + 7, 12), "hash %s, canonical properties give %.12s", h, d + 7);

	/* Traits are not in it: instances and spread change nothing. */
	op_app *b = mkapp("web", "args: [x]", "spreadscaler", 7,
		"[{requirements: {arch: arm64}, weight: 3}]");
	op_app *c = mkapp("other", "args: [x]", "daemonscaler", 1, NULL);
	op_app *e = mkapp("web", "args: [y]", "spreadscaler", 2, NULL);
	op_app *f = mkapp("web", "args: [x]; env: {A: b}", "spreadscaler", 2, NULL);
	op_app *g = mkapp("web", "args: [x]; rollout: stop-first", "spreadscaler", 2, NULL);
	T_REQUIRE(b && c && e && f && g);
	T_EQ_STR(hash_of(b, 0), h);
	T_EQ_STR(hash_of(c, 0), h); /* the app's name is not in it either */
	T_CHECK(strcmp(hash_of(e, 0), h) != 0);
	T_CHECK(strcmp(hash_of(f, 0), h) != 0);
	T_CHECK(strcmp(hash_of(g, 0), h) != 0);
	op_app_free(b);
	op_app_free(c);
	op_app_free(e);
	op_app_free(f);
	op_app_free(g);
	reset();
}

static void test_inst_ids(void)
{
	reset();
	op_app *s = set_app(0, mkapp("web", NULL, "spreadscaler", 2, NULL));
	op_app *d = set_app(1, mkapp("gw", NULL, "daemonscaler", 2, NULL));
	T_REQUIRE(s && d);
	char id[OP_INST_MAX + 1], want[OP_INST_MAX + 1];
	T_EQ_INT(op_inst_id(s, &s->comps[0], "0123456789ab", 3, "h1", id), 0);
	T_EQ_STR(id, "web.c.3-0123456789ab"); /* the host matters to daemon ids only */
	T_EQ_INT(op_inst_id(d, &d->comps[0], "0123456789ab", 1, "g-1", id), 0);
	T_EQ_STR(id, "gw.c.1@g-1-0123456789ab");
	T_EQ_INT(op_inst_id(d, &d->comps[0], "0123456789ab", 1, NULL, id), OP_EINVAL);
	T_EQ_INT(op_inst_id(s, &s->comps[0], "0123456789ab", -1, NULL, id), OP_EINVAL);

	op_inst_ref r;
	T_EQ_INT(op_inst_id_parse("gw.c.12@g-1-0123456789ab", &r), 0);
	T_EQ_STR(r.app, "gw");
	T_EQ_STR(r.comp, "c");
	T_EQ_INT(r.n, 12);
	T_EQ_STR(r.host, "g-1");
	T_EQ_STR(r.hash, "0123456789ab");
	T_EQ_INT(op_inst_id_parse("web.c.0-0123456789ab", &r), 0);
	T_EQ_STR(r.host, "");
	T_EQ_INT(r.n, 0);
	static const char *const bad[] = {"", "web", "web.c", "web.c.0", "web.c.0-",
		"web.c.01-0123456789ab", "web.c.-0123456789ab", "web.c.+1-0123456789ab",
		"web.c.1-0123456789AB", "web.c.1-0123456789a", "web.c.1-0123456789abc",
		"Web.c.1-0123456789ab", "web..1-0123456789ab", "web.c.1@-0123456789ab",
		"web.c.1@a@b-0123456789ab", "web.c.1x-0123456789ab", "web.c.d.1-0123456789ab",
		"web.c.1@h.x-0123456789ab", "web.c.1234567890-0123456789ab", ".c.1-0123456789ab"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		T_CHECK_MSG(op_inst_id_parse(bad[i], &r) == OP_EINVAL, "parsed \"%s\"", bad[i]);

	/* The longest possible id fits. */
	char n63[64];
	memset(n63, 'a', 63);
	n63[63] = '\0';
	op_app big = *d;
	op_component bc = d->comps[0];
	big.name = n63;
	bc.name = n63;
	T_EQ_INT(op_inst_id(&big, &bc, "0123456789ab", 99, n63, id), 0);
	T_EQ_INT(strlen(id), 207);
	T_EQ_INT(op_inst_id_parse(id, &r), 0);
	T_EQ_INT(r.n, 99);
	snprintf(want, sizeof want, "%s", idof(d, 0, "h"));
	T_EQ_INT(op_inst_id_parse(want, &r), 0);
	T_EQ_STR(r.hash, hash_of(d, 0));
	reset();
}

static void test_labels_and_placement(void)
{
	reset();
	op_kvs l = {0}, req = {0}, none = {0};
	kvs_set(&l, "arch=arm64,role=gw,site=plant-7,region=eu");
	T_CHECK(op_labels_match(&l, &none));
	kvs_set(&req, "arch=arm64");
	T_CHECK(op_labels_match(&l, &req));
	kvs_set(&req, "arch=arm64,role=gw");
	T_CHECK(op_labels_match(&l, &req));
	kvs_set(&req, "arch=amd64");
	T_CHECK(!op_labels_match(&l, &req));
	kvs_set(&req, "zone=a");
	T_CHECK(!op_labels_match(&l, &req));
	T_CHECK(!op_labels_match(&none, &req));

	const char *head = "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
			   "  name: p\nspec:\n";
	const char *comps = "  components:\n    - name: c\n      type: process\n"
			    "      properties:\n        command: /bin/c\n";
	char y[1024];
	op_app *a = set_app(0, mkapp("web", NULL, "spreadscaler", 1, NULL));
	T_REQUIRE(a);
	T_CHECK(op_placement_matches(a, "plant-7", &l));
	T_CHECK(op_placement_matches(a, "anywhere", &none));
	static const struct {
		const char *props;
		bool p7, p9, p7_us;
	} rows[] = {
		{"sites: [plant-7, plant-8]", true, false, true},
		{"requirements: {region: eu}", true, true, false},
		{"sites: [plant-7]\n        requirements: {region: eu}", true, false, false},
		{"sites: [plant-9]", false, true, false},
	};
	op_kvs us = {0};
	kvs_set(&us, "region=us");
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		snprintf(y, sizeof y,
			"%s  policies:\n    - name: where\n      type: placement\n      "
			"properties:\n"
			"        %s\n%s",
			head, rows[i].props, comps);
		op_app *p = parse(y);
		T_REQUIRE(p);
		T_EQ_INT(op_placement_matches(p, "plant-7", &l), rows[i].p7);
		T_EQ_INT(op_placement_matches(p, "plant-9", &l), rows[i].p9);
		T_EQ_INT(op_placement_matches(p, "plant-7", &us), rows[i].p7_us);
		op_app_free(p);
	}
	kvs_clear(&l);
	kvs_clear(&req);
	kvs_clear(&us);
	reset();
}

/* --- spreadscaler ------------------------------------------------------------------- */

static void test_fresh_exact_counts(void)
{
	reset();
	host("h1", "arch=amd64", true);
	host("h2", "arch=amd64", true);
	host("h3", "arch=amd64", true);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 4, NULL)));
	/* Fewest of the component first, then fewest overall, then the lowest id. */
	PLAN_IS("+web.c.0/h1 +web.c.1/h2 +web.c.2/h3 +web.c.3/h1");
	apply();
	PLAN_IS("");
	T_EQ_INT(count("web", NULL), 4);
	/* Nothing desired, nothing running: nothing to do. */
	reset();
	PLAN_IS("");
	host("h1", "", true);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 0, NULL)));
	PLAN_IS("");
	reset();
}

static void test_overall_load_breaks_ties(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	host("h3", "", true);
	op_app *db = set_app(0, mkapp("db", NULL, "spreadscaler", 2, NULL));
	T_REQUIRE(db);
	add(idof(db, 0, NULL), "h1", OP_INST_RUNNING);
	add(idof(db, 1, NULL), "h1", OP_INST_RUNNING);
	PLAN_IS(""); /* sticky: both stay on h1 */
	T_REQUIRE(set_app(1, mkapp("web", NULL, "spreadscaler", 3, NULL)));
	PLAN_IS("+web.c.0/h2 +web.c.1/h3 +web.c.2/h1");
	reset();
}

static void test_weights_largest_remainder(void)
{
	reset();
	host("a1", "arch=arm64", true);
	host("a2", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	/* 80/20 of 4: 3.2 and 0.8 -> floors 3 and 0, the one left to the larger remainder. */
	T_REQUIRE(set_app(0,
		mkapp("web", NULL, "spreadscaler", 4,
			"[{name: arm, requirements: {arch: arm64}, weight: 80}, "
			"{name: any, weight: 20}]")));
	PLAN_IS("+web.c.0/a1 +web.c.1/a2 +web.c.2/a1 +web.c.3/x1");
	apply();
	PLAN_IS("");

	static const struct {
		int n;
		const char *w; /* weights of zones a, b, c */
		int ca, cb, cc;
	} rows[] = {
		{7, "50 30 20", 4, 2, 1}, /* 3.5 2.1 1.4: the one left goes to a */
		{4, "1 1 1", 2, 1, 1}, /* ties go to the lower index */
		{2, "1 1 1", 1, 1, 0},
		{10, "1 1 1", 4, 3, 3},
		{5, "1 2 2", 1, 2, 2}, /* 1 2 2 exactly */
		{6, "1 1 4", 1, 1, 4},
		{3, "1000000 1 1", 3, 0, 0},
		{1, "1 1 1", 1, 0, 0},
		{100, "33 33 34", 33, 33, 34},
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		reset();
		host("za", "zone=a", true);
		host("zb", "zone=b", true);
		host("zc", "zone=c", true);
		int wa, wb, wc;
		T_REQUIRE(sscanf(rows[i].w, "%d %d %d", &wa, &wb, &wc) == 3);
		char sp[256];
		snprintf(sp, sizeof sp,
			"[{requirements: {zone: a}, weight: %d}, {requirements: {zone: b}, weight: "
			"%d}, {requirements: {zone: c}, weight: %d}]",
			wa, wb, wc);
		T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", rows[i].n, sp)));
		T_EQ_INT(converge(3), 1);
		T_CHECK_MSG(count("web", "za") == rows[i].ca && count("web", "zb") == rows[i].cb &&
				count("web", "zc") == rows[i].cc,
			"%d over %s: %d %d %d, want %d %d %d", rows[i].n, rows[i].w,
			count("web", "za"), count("web", "zb"), count("web", "zc"), rows[i].ca,
			rows[i].cb, rows[i].cc);
	}
	reset();
}

static void test_requirements_and_no_eligible_host(void)
{
	reset();
	host("a1", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	/* No riscv64 host: that half is not placed, and does not move to arm64. */
	op_app *a = set_app(0,
		mkapp("web", NULL, "spreadscaler", 4,
			"[{requirements: {arch: arm64}}, {requirements: {arch: riscv64}}]"));
	T_REQUIRE(a);
	PLAN_IS("+web.c.0/a1 +web.c.1/a1");
	apply();
	PLAN_IS("");
	/* A riscv64 host joins: the missing half goes there, nothing else moves. */
	host("r1", "arch=riscv64", true);
	PLAN_IS("+web.c.2/r1 +web.c.3/r1");
	apply();
	PLAN_IS("");
	/* r1 no longer meets any entry: its instances go, and their share waits for a
	 * riscv64 host. */
	host("r1", "arch=amd64", true);
	PLAN_IS("-web.c.2/r1 -web.c.3/r1");
	apply();
	PLAN_IS("");
	host("r2", "arch=riscv64", true);
	PLAN_IS("+web.c.2/r2 +web.c.3/r2");
	reset();
}

/* A wasm component is placed only on hosts with a WebAssembly runtime, whatever its
 * spread says; one that loses its runtime (a host restarted without it) gives its
 * instances back; processes of the same app are not concerned. */
static op_app *wasm_app(const char *scaler, int n)
{
	char y[2048];
	snprintf(y, sizeof y,
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: mod\n"
		"spec:\n  components:\n    - name: c\n      type: wasm\n      properties:\n"
		"        module: sha256:%s\n        path: /opt/m.wasm\n"
		"      traits:\n        - type: %s\n          properties: {instances: %d}\n",
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", scaler, n);
	return parse(y);
}

static void test_wasm_needs_runtime(void)
{
	reset();
	host("a1", "arch=arm64", true)->wasm = true;
	host("x1", "arch=amd64", true);
	host("x2", "arch=amd64", true)->wasm = true;
	op_app *a = set_app(0, wasm_app("spreadscaler", 4));
	T_REQUIRE(a);
	PLAN_IS("+mod.c.0/a1 +mod.c.1/x2 +mod.c.2/a1 +mod.c.3/x2");
	apply();
	PLAN_IS("");
	/* x2 comes back without its runtime: its two go to a1, the only one left. */
	host("x2", "arch=amd64", true)->wasm = false;
	PLAN_IS("+mod.c.1/a1 +mod.c.3/a1 -mod.c.1/x2 -mod.c.3/x2");
	reset();

	host("a1", "", true);
	host("x1", "", true)->wasm = true;
	T_REQUIRE(set_app(0, wasm_app("daemonscaler", 1)));
	T_REQUIRE(set_app(1, mkapp("web", NULL, "daemonscaler", 1, NULL)));
	T_CHECK(converge(3) >= 1);
	T_EQ_INT(count("mod", "a1"), 0);
	T_EQ_INT(count("mod", "x1"), 1);
	T_EQ_INT(count("web", "a1"), 1);
	T_EQ_INT(count("web", "x1"), 1);
	/* No host with a runtime: nothing placed, nothing else disturbed. */
	reset();
	host("a1", "", true);
	T_REQUIRE(set_app(0, wasm_app("spreadscaler", 2)));
	PLAN_IS("");
	reset();
}

static void test_requirements_change_stops(void)
{
	reset();
	host("a1", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	op_app *a = set_app(
		0, mkapp("web", NULL, "spreadscaler", 2, "[{requirements: {arch: arm64}}]"));
	T_REQUIRE(a);
	add(idof(a, 0, NULL), "x1", OP_INST_RUNNING);
	add(idof(a, 1, NULL), "a1", OP_INST_RUNNING);
	PLAN_IS("+web.c.0/a1 -web.c.0/x1");
	apply();
	PLAN_IS("");
	/* The host changes its labels: its instances go elsewhere. */
	host("a2", "arch=arm64", true);
	host("a1", "arch=amd64", true);
	PLAN_IS("+web.c.0/a2 +web.c.1/a2 -web.c.0/a1 -web.c.1/a1");
	reset();
}

static void test_sticky_when_host_joins(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 4, NULL)));
	T_EQ_INT(converge(3), 1);
	T_EQ_INT(count("web", "h1"), 2);
	host("h3", "", true);
	host("h0", "", true);
	PLAN_IS(""); /* nothing moves to the new hosts */
	/* Only new instances go there. */
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 6, NULL)));
	PLAN_IS("+web.c.4/h0 +web.c.5/h3");
	reset();
}

static void test_host_death_and_return(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	host("h3", "", true);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 4, NULL)));
	T_EQ_INT(converge(3), 1); /* h1: 0 3, h2: 1, h3: 2 */
	set_alive("h1", false);
	PLAN_IS("+web.c.0/h2 +web.c.3/h3"); /* re-placed; nothing sent to h1 */
	apply();
	PLAN_IS("");
	T_EQ_INT(count("web", NULL), 4);
	/* h1 comes back still running 0 and 3: one copy of each stays (all RUNNING: the
	 * lowest host id), the others are stopped. */
	set_alive("h1", true);
	PLAN_IS("-web.c.0/h2 -web.c.3/h3");
	apply();
	PLAN_IS("");
	T_EQ_INT(count("web", "h1"), 2);
	/* Every host dead: nothing to do, nothing sent. */
	set_alive("h1", false);
	set_alive("h2", false);
	set_alive("h3", false);
	PLAN_IS("");
	reset();
}

static void test_duplicates(void)
{
	reset();
	host("h1", "arch=arm64", true);
	host("h2", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	op_app *a = set_app(0, mkapp("web", NULL, "spreadscaler", 2, NULL));
	T_REQUIRE(a);
	/* The RUNNING copy stays, whatever the host ids. */
	add(idof(a, 0, NULL), "h1", OP_INST_STARTING);
	add(idof(a, 0, NULL), "h2", OP_INST_RUNNING);
	add(idof(a, 1, NULL), "h1", OP_INST_RUNNING);
	PLAN_IS("-web.c.0/h1");
	apply();
	PLAN_IS("");
	/* A copy on a host it may not run on never wins. */
	reset();
	host("h1", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	a = set_app(0, mkapp("web", NULL, "spreadscaler", 1, "[{requirements: {arch: arm64}}]"));
	T_REQUIRE(a);
	add(idof(a, 0, NULL), "x1", OP_INST_RUNNING);
	add(idof(a, 0, NULL), "h1", OP_INST_BACKOFF);
	add(idof(a, 0, NULL), "h1", OP_INST_BACKOFF); /* one host reporting it twice */
	PLAN_IS("-web.c.0/x1");
	/* A copy being stopped is not counted, and no stop is sent again. */
	reset();
	host("h1", "", true);
	host("h2", "", true);
	a = set_app(0, mkapp("web", NULL, "spreadscaler", 1, NULL));
	T_REQUIRE(a);
	add(idof(a, 0, NULL), "h1", OP_INST_STOPPING);
	add(idof(a, 0, NULL), "h2", OP_INST_RUNNING);
	PLAN_IS("");
	reset();
}

static void test_scale_up_and_down(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 4, NULL)));
	T_EQ_INT(converge(3), 1);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 7, NULL)));
	PLAN_IS("+web.c.4/h1 +web.c.5/h2 +web.c.6/h1"); /* same hash: nothing restarts */
	apply();
	PLAN_IS("");
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 2, NULL)));
	PLAN_IS("-web.c.2/h1 -web.c.3/h2 -web.c.4/h1 -web.c.5/h2 -web.c.6/h1");
	apply();
	PLAN_IS("");
	T_EQ_INT(count("web", "h1"), 1);
	T_EQ_INT(count("web", "h2"), 1);
	reset();
}

static void test_surplus_stops_highest_ordinals(void)
{
	reset();
	host("a1", "arch=arm64", true);
	host("a2", "arch=arm64", true);
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 4, NULL)));
	T_EQ_INT(converge(3), 1); /* a1: 0 2, a2: 1 3 */
	host("x1", "arch=amd64", true);
	host("x2", "arch=amd64", true);
	/* Half must now run on amd64: 2 and 3 move (the highest), 0 and 1 stay. */
	T_REQUIRE(set_app(0,
		mkapp("web", NULL, "spreadscaler", 4,
			"[{requirements: {arch: arm64}}, {requirements: {arch: amd64}}]")));
	PLAN_IS("+web.c.2/x1 +web.c.3/x2 -web.c.2/a1 -web.c.3/a2");
	apply();
	PLAN_IS("");
	reset();
}

static void test_sticky_matching_moves_no_one(void)
{
	reset();
	host("a1", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	/* Entry 0 takes any host, entry 1 arm64 only, one each. Ordinal 0 (on a1) would go
	 * to entry 0 first; ordinal 1 (on x1) can only be in entry 0: the matching moves 0
	 * to entry 1 on paper, and both stay where they run. */
	op_app *a = set_app(0,
		mkapp("web", NULL, "spreadscaler", 2,
			"[{name: any}, {name: arm, requirements: {arch: arm64}}]"));
	T_REQUIRE(a);
	add(idof(a, 0, NULL), "a1", OP_INST_RUNNING);
	add(idof(a, 1, NULL), "x1", OP_INST_RUNNING);
	PLAN_IS("");
	/* Both on amd64: one must go to arm64, the higher ordinal. */
	reset();
	host("a1", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	host("x2", "arch=amd64", true);
	a = set_app(0,
		mkapp("web", NULL, "spreadscaler", 2,
			"[{name: any}, {name: arm, requirements: {arch: arm64}}]"));
	T_REQUIRE(a);
	add(idof(a, 0, NULL), "x2", OP_INST_RUNNING);
	add(idof(a, 1, NULL), "x1", OP_INST_RUNNING);
	PLAN_IS("+web.c.1/a1 -web.c.1/x1");
	reset();
}

static void test_app_and_component_deletion(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", false);
	op_app *a = set_app(0, mkapp("web", NULL, "spreadscaler", 1, NULL));
	op_app *b = set_app(1, mkapp("db", NULL, "spreadscaler", 1, NULL));
	T_REQUIRE(a && b);
	add(idof(a, 0, NULL), "h1", OP_INST_RUNNING);
	add(idof(a, 0, NULL), "h2", OP_INST_RUNNING); /* dead host: left alone */
	add(idof(b, 0, NULL), "h1", OP_INST_RUNNING);
	add("junk", "h1", OP_INST_RUNNING);
	add("gone.c.0-0123456789ab", "h1", OP_INST_EXITED);
	add("web.nope.0-0123456789ab", "h1", OP_INST_FAILED);
	add("web.c.00-0123456789ab", "h1", OP_INST_RUNNING); /* not the canonical form */
	add("web.c.0@h1-0123456789ab", "h1", OP_INST_RUNNING); /* the daemon form */
	add("old.c.0-0123456789ab", "h1", OP_INST_STOPPING); /* already stopping */
	add("elsewhere.c.0-0123456789ab", "h9", OP_INST_RUNNING); /* unknown host */
	PLAN_IS("-gone.c.0/h1 -junk/h1 -web.c.00/h1 -web.c.0@h1/h1 -web.nope.0/h1");
	apply();
	PLAN_IS("");
	drop_app(0); /* web is deleted */
	PLAN_IS("-web.c.0/h1");
	apply();
	PLAN_IS("");
	/* A component is deleted from an app. */
	reset();
	host("h1", "", true);
	const char *two = "apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
			  "  name: web\nspec:\n  components:\n"
			  "    - name: c\n      type: process\n      properties:\n"
			  "        command: /bin/c\n"
			  "    - name: d\n      type: process\n      properties:\n"
			  "        command: /bin/d\n";
	T_REQUIRE(set_app(0, parse(two)));
	PLAN_IS("+web.c.0/h1 +web.d.0/h1");
	apply();
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 1, NULL)));
	PLAN_IS("-web.d.0/h1");
	reset();
}

static void test_failed_and_exited(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	op_app *a = set_app(0, mkapp("web", NULL, "spreadscaler", 2, NULL));
	T_REQUIRE(a);
	/* FAILED counts as placed: not placed again in a loop. */
	add(idof(a, 0, NULL), "h1", OP_INST_FAILED);
	add(idof(a, 1, NULL), "h2", OP_INST_BACKOFF);
	PLAN_IS("");
	/* EXITED under restart always: restarted where it is. */
	W.insts[0].state = OP_INST_EXITED;
	PLAN_IS("+web.c.0/h1");
	apply();
	PLAN_IS("");
	/* ...unless it may not stay there: then its record is cleared, it goes elsewhere. */
	T_REQUIRE(set_app(0, mkapp("web", NULL, "spreadscaler", 2, "[{requirements: {x: y}}]")));
	host("h3", "x=y", true);
	W.insts[0].state = OP_INST_EXITED;
	PLAN_IS("+web.c.0/h3 +web.c.1/h3 -web.c.0/h1 -web.c.1/h2");
	/* Under restart never or on-failure an EXITED instance is done. */
	static const char *const policies[] = {"restart: never", "restart: on-failure"};
	for (size_t i = 0; i < 2; i++) {
		reset();
		host("h1", "", true);
		a = set_app(0, mkapp("job", policies[i], "spreadscaler", 2, NULL));
		T_REQUIRE(a);
		add(idof(a, 0, NULL), "h1", OP_INST_EXITED);
		add(idof(a, 1, NULL), "h1", OP_INST_EXITED);
		PLAN_IS("");
		/* Two EXITED records of one id: one is cleared. */
		add(idof(a, 1, NULL), "h2", OP_INST_EXITED);
		host("h2", "", true);
		PLAN_IS("-job.c.1/h2");
	}
	reset();
}

static void test_stopping_id_not_restarted(void)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	op_app *a = set_app(0, mkapp("web", NULL, "spreadscaler", 1, NULL));
	T_REQUIRE(a);
	add(idof(a, 0, NULL), "h1", OP_INST_STOPPING);
	PLAN_IS(""); /* the id is still being stopped: no second copy races it */
	W.ninsts = 0;
	PLAN_IS("+web.c.0/h1");
	reset();
}

/* --- rollouts ------------------------------------------------------------------------ */

static void three_on_three(const char *props)
{
	reset();
	host("h1", "", true);
	host("h2", "", true);
	host("h3", "", true);
	char p[128];
	snprintf(p, sizeof p, "args: [v1]%s%s", props ? "; " : "", props ? props : "");
	T_REQUIRE(set_app(0, mkapp("web", p, "spreadscaler", 3, NULL)));
	T_EQ_INT(converge(3), 1);
	snprintf(p, sizeof p, "args: [v2]%s%s", props ? "; " : "", props ? props : "");
	set_app(0, mkapp("web", p, "spreadscaler", 3, NULL));
}

static void test_rollout_start_first(void)
{
	three_on_three(NULL);
	T_REQUIRE(W.apps[0]);
	const op_app *a = W.apps[0];
	PLAN_IS("+web.c.0/h1");
	apply();
	find(idof(a, 0, NULL), "h1")->state = OP_INST_STARTING;
	PLAN_IS(""); /* the new 0 is not RUNNING yet: the old 0 stays, nothing else starts */
	find(idof(a, 0, NULL), "h1")->state = OP_INST_BACKOFF;
	PLAN_IS("");
	find(idof(a, 0, NULL), "h1")->state = OP_INST_RUNNING;
	find(idof(a, 0, NULL), "h1")->health = OP_HEALTH_HEALTHY;
	PLAN_IS("-web.c.0/h1");
	T_CHECK(strstr(W.cmds[0].inst, hash_of(a, 0)) == NULL); /* the old one is stopped */
	apply();
	PLAN_IS("+web.c.1/h2"); /* only once the old 0 is gone */
	apply();
	PLAN_IS("-web.c.1/h2");
	apply();
	PLAN_IS("+web.c.2/h3");
	apply();
	PLAN_IS("-web.c.2/h3");
	apply();
	PLAN_IS("");
	T_EQ_INT(count("web", NULL), 3);
	for (int n = 0; n < 3; n++)
		T_CHECK(find(idof(a, n, NULL), NULL) != NULL);
	reset();
}

/* start-first: while the replaced old instance is still STOPPING, the next replacement
 * waits, so at most one instance more than desired exists at any time. */
static void test_rollout_waits_for_the_stop(void)
{
	three_on_three(NULL);
	T_REQUIRE(W.apps[0]);
	const op_app *a = W.apps[0];
	PLAN_IS("+web.c.0/h1");
	apply();
	/* The new 0 runs: the plan stops the old 0; acknowledged, it is still going. */
	char old0[OP_INST_MAX + 1] = "";
	for (size_t i = 0; i < W.ninsts; i++)
		if (!strncmp(W.insts[i].id, "web.c.0-", 8) && !strstr(W.insts[i].id, hash_of(a, 0)))
			snprintf(old0, sizeof old0, "%s", W.insts[i].id);
	T_REQUIRE(old0[0]);
	PLAN_IS("-web.c.0/h1");
	find(old0, "h1")->state = OP_INST_STOPPING;
	PLAN_IS(""); /* old 0 is still there: new 1 waits */
	for (size_t i = 0; i < W.ninsts; i++)
		if (!strcmp(W.insts[i].id, old0))
			del(i);
	PLAN_IS("+web.c.1/h2");
	reset();
}

/* A replacement moves on only once the new instance is RUNNING and healthy: running but
 * starting, unhealthy or of unknown health it is in flight (the old one keeps serving,
 * nothing else moves), in both rollout orders. The old instances' health does not
 * matter, nor does health in a steady revision: the plan sends nothing for it. */
static void test_rollout_waits_for_health(void)
{
	static const enum op_health waits[] = {
		OP_HEALTH_NONE, OP_HEALTH_STARTING, OP_HEALTH_UNHEALTHY};
	for (int order = 0; order < 2; order++)
		for (size_t w = 0; w < sizeof waits / sizeof *waits; w++) {
			three_on_three(order ? "rollout: stop-first" : NULL);
			T_REQUIRE(W.apps[0]);
			const op_app *a = W.apps[0];
			/* The old instances are unhealthy: they are still not touched. */
			for (size_t i = 0; i < W.ninsts; i++)
				W.insts[i].health = OP_HEALTH_UNHEALTHY;
			if (order) {
				PLAN_IS("-web.c.0/h1");
				apply();
			}
			PLAN_IS("+web.c.0/h1");
			apply();
			op_inst_view *v = find(idof(a, 0, NULL), "h1");
			T_REQUIRE(v);
			v->health = waits[w];
			T_CHECK_MSG(!strcmp(plan(), ""), "order %d health %d: %s", order, waits[w],
				plan());
			v->health = OP_HEALTH_HEALTHY;
			PLAN_IS(order ? "-web.c.1/h2" : "-web.c.0/h1");
			reset();
		}

	/* Steady: every instance unhealthy or starting, nothing to do. */
	reset();
	host("h1", "", true);
	host("h2", "", true);
	T_REQUIRE(set_app(0, mkapp("web", "args: [v1]", "spreadscaler", 2, NULL)));
	T_EQ_INT(converge(3), 1);
	W.insts[0].health = OP_HEALTH_UNHEALTHY;
	W.insts[1].health = OP_HEALTH_STARTING;
	PLAN_IS("");
	reset();

	/* A job done for good (EXITED under restart never) is ready whatever its health. */
	reset();
	host("h1", "", true);
	T_REQUIRE(set_app(0, mkapp("job", "args: [v1]; restart: never", "spreadscaler", 2, NULL)));
	T_EQ_INT(converge(3), 1);
	T_REQUIRE(set_app(0, mkapp("job", "args: [v2]; restart: never", "spreadscaler", 2, NULL)));
	PLAN_IS("+job.c.0/h1");
	apply();
	op_inst_view *j = find(idof(W.apps[0], 0, NULL), "h1");
	T_REQUIRE(j);
	j->state = OP_INST_EXITED;
	j->health = OP_HEALTH_NONE;
	PLAN_IS("-job.c.0/h1");
	reset();
}

static void test_rollout_halts_on_failure(void)
{
	three_on_three(NULL);
	T_REQUIRE(W.apps[0]);
	PLAN_IS("+web.c.0/h1");
	apply();
	find(idof(W.apps[0], 0, NULL), "h1")->state = OP_INST_FAILED;
	PLAN_IS(""); /* the old instances keep serving; FAILED is not placed again */
	T_EQ_INT(count("web", NULL), 4);
	/* A fixed spec replaces the failed one and resumes. */
	set_app(0, mkapp("web", "args: [v3]", "spreadscaler", 3, NULL));
	PLAN_IS("+web.c.0/h2 -web.c.0/h1"); /* h1 holds two records: h2 is less loaded */
	T_CHECK(strstr(W.cmds[1].inst, hash_of(W.apps[0], 0)) == NULL);
	reset();
}

static void test_rollout_stop_first(void)
{
	three_on_three("rollout: stop-first");
	T_REQUIRE(W.apps[0]);
	const op_app *a = W.apps[0];
	PLAN_IS("-web.c.0/h1");
	/* The host is stopping it: STOPPING counts as remaining. */
	for (size_t i = 0; i < W.ninsts; i++)
		if (!strcmp(W.insts[i].id, W.cmds[0].inst))
			W.insts[i].state = OP_INST_STOPPING;
	PLAN_IS("");
	apply(); /* no commands: the instance is still there */
	for (size_t i = W.ninsts; i-- > 0;)
		if (W.insts[i].state == OP_INST_STOPPING)
			del(i);
	PLAN_IS("+web.c.0/h1");
	apply();
	find(idof(a, 0, NULL), "h1")->state = OP_INST_STARTING;
	PLAN_IS(""); /* not RUNNING yet: the next old one stays */
	find(idof(a, 0, NULL), "h1")->state = OP_INST_RUNNING;
	find(idof(a, 0, NULL), "h1")->health = OP_HEALTH_HEALTHY;
	PLAN_IS("-web.c.1/h2");
	apply();
	PLAN_IS("+web.c.1/h2");
	apply();
	PLAN_IS("-web.c.2/h3");
	apply();
	PLAN_IS("+web.c.2/h3");
	apply();
	PLAN_IS("");
	reset();
}

static void test_rollout_bounds(void)
{
	static const char *const policies[] = {"rollout: start-first", "rollout: stop-first"};
	for (int pol = 0; pol < 2; pol++)
		for (int n = 1; n <= 6; n++)
			for (int daemon = 0; daemon < 2; daemon++) {
				reset();
				host("h1", "", true);
				host("h2", "", true);
				host("h3", "", false);
				const char *sc = daemon ? "daemonscaler" : "spreadscaler";
				char p[128];
				snprintf(p, sizeof p, "args: [v1]; %s", policies[pol]);
				int dn = daemon ? (n + 1) / 2 : n, want = daemon ? 2 * dn : n;
				T_REQUIRE(set_app(0, mkapp("web", p, sc, dn, NULL)));
				T_EQ_INT(converge(3), 1);
				snprintf(p, sizeof p, "args: [v2]; %s", policies[pol]);
				T_REQUIRE(set_app(0, mkapp("web", p, sc, dn, NULL)));
				int rounds = 0;
				while (*plan() && rounds <= 2 * want + 2) {
					apply();
					rounds++;
					int c = count("web", NULL);
					if (pol == 0)
						T_CHECK_MSG(
							c <= want + 1, "%s n=%d: %d run", sc, n, c);
					else
						T_CHECK_MSG(
							c >= want - 1, "%s n=%d: %d run", sc, n, c);
				}
				T_CHECK_MSG(rounds <= 2 * want + 2, "%s %s n=%d: %d rounds", sc,
					policies[pol], want, rounds);
				T_EQ_INT(count("web", NULL), want);
				for (size_t i = 0; i < W.ninsts; i++)
					T_CHECK(strstr(W.insts[i].id, hash_of(W.apps[0], 0)) !=
						NULL);
			}
	reset();
}

static void test_rollout_edges(void)
{
	/* Scaled down in the same change: old ordinals past the count go at once. */
	three_on_three(NULL);
	set_app(0, mkapp("web", "args: [v2]", "spreadscaler", 1, NULL));
	PLAN_IS("+web.c.0/h1 -web.c.1/h2 -web.c.2/h3");
	/* Old instances that serve nothing (FAILED, EXITED) go at once; with none left, all
	 * new ones start together. */
	three_on_three(NULL);
	for (size_t i = 0; i < W.ninsts; i++)
		W.insts[i].state = i == 0 ? OP_INST_EXITED : OP_INST_FAILED;
	PLAN_IS("+web.c.0/h1 +web.c.1/h2 +web.c.2/h3 -web.c.0/h1 -web.c.1/h2 -web.c.2/h3");
	/* Old instances on a dead host are not counted: no rollout, start everything. */
	three_on_three(NULL);
	set_alive("h1", false);
	set_alive("h2", false);
	set_alive("h3", false);
	host("h4", "", true);
	PLAN_IS("+web.c.0/h4 +web.c.1/h4 +web.c.2/h4");
	/* An old instance no place could ever replace is stopped. */
	reset();
	host("a1", "arch=arm64", true);
	host("x1", "arch=amd64", true);
	T_REQUIRE(set_app(0, mkapp("web", "args: [v1]", "spreadscaler", 2, NULL)));
	T_EQ_INT(converge(3), 1); /* a1: 0, x1: 1 */
	T_REQUIRE(set_app(0,
		mkapp("web", "args: [v2]", "spreadscaler", 2,
			"[{requirements: {arch: arm64}}, {requirements: {arch: s390x}}]")));
	PLAN_IS("+web.c.0/a1 -web.c.1/x1"); /* 1 will never have a place: it goes now */
	apply();
	PLAN_IS("-web.c.0/a1");
	apply();
	PLAN_IS("");
	reset();
}

/* --- daemonscaler ------------------------------------------------------------------- */

static void test_daemonscaler(void)
{
	reset();
	host("g1", "role=gw", true);
	host("g2", "role=gw", true);
	host("d1", "role=db", true);
	op_app *a = set_app(0,
		mkapp("gw", NULL, "daemonscaler", 2,
			"[{requirements: {role: gw}, weight: 1}, {requirements: {role: edge}}]"));
	T_REQUIRE(a);
	PLAN_IS("+gw.c.0@g1/g1 +gw.c.0@g2/g2 +gw.c.1@g1/g1 +gw.c.1@g2/g2");
	apply();
	PLAN_IS("");
	host("g3", "role=edge", true); /* any entry's requirements will do */
	PLAN_IS("+gw.c.0@g3/g3 +gw.c.1@g3/g3");
	apply();
	set_alive("g1", false); /* leaves: nothing to re-place, nothing sent */
	PLAN_IS("");
	set_alive("g1", true);
	PLAN_IS("");
	host("g2", "role=db", true); /* no longer matches: its instances go */
	PLAN_IS("-gw.c.0@g2/g2 -gw.c.1@g2/g2");
	apply();
	/* An id naming another host than the one it runs on is stopped; scaling down stops
	 * the highest ordinals on every host. */
	add(idof(a, 0, "g1"), "d1", OP_INST_RUNNING);
	T_REQUIRE(set_app(0,
		mkapp("gw", NULL, "daemonscaler", 1,
			"[{requirements: {role: gw}}, {requirements: {role: edge}}]")));
	PLAN_IS("-gw.c.0@g1/d1 -gw.c.1@g1/g1 -gw.c.1@g3/g3");
	apply();
	PLAN_IS("");
	/* No entries: every alive host. */
	reset();
	host("h1", "", true);
	host("h2", "", false);
	host("h3", "", true);
	T_REQUIRE(set_app(0, mkapp("agent", NULL, "daemonscaler", 1, NULL)));
	PLAN_IS("+agent.c.0@h1/h1 +agent.c.0@h3/h3");
	reset();
}

/* --- contract ------------------------------------------------------------------------ */

static void test_bad_input(void)
{
	reset();
	op_cmd *cmds = (op_cmd *)1;
	size_t n = 7;
	T_EQ_INT(op_plan_compute(&(op_plan_in){0}, &cmds, &n), 0);
	T_CHECK(cmds == NULL && n == 0);
	T_EQ_INT(op_plan_compute(&(op_plan_in){.ninsts = 1}, &cmds, &n), OP_EINVAL);
	host("h1", "", true);
	host("h1", "", true); /* host() updates: make a real duplicate */
	W.hosts[W.nhosts] = W.hosts[0];
	W.hosts[W.nhosts].labels = (op_kvs){0};
	W.nhosts++;
	op_plan_in in = {NULL, 0, W.hosts, W.nhosts, NULL, 0};
	T_EQ_INT(op_plan_compute(&in, &cmds, &n), OP_EINVAL);
	W.hosts[1].alive = false; /* dead or not, one id is one host */
	T_EQ_INT(op_plan_compute(&in, &cmds, &n), OP_EINVAL);
	W.nhosts = 1;
	op_app *a = mkapp("web", NULL, "spreadscaler", 1, NULL);
	op_app *b = mkapp("web", "args: [x]", "spreadscaler", 1, NULL);
	T_REQUIRE(a && b);
	const op_app *apps[] = {a, b};
	op_plan_in in2 = {apps, 2, W.hosts, W.nhosts, NULL, 0};
	T_EQ_INT(op_plan_compute(&in2, &cmds, &n), OP_EINVAL);
	op_app_free(a);
	op_app_free(b);
	reset();
}

static void test_order_independent(void)
{
	reset();
	static const char *const hs[] = {"h5", "h1", "h4", "h2", "h3"};
	for (size_t i = 0; i < 5; i++)
		host(hs[i], i % 2 ? "arch=arm64" : "arch=amd64", i != 3);
	op_app *a = set_app(0,
		mkapp("web", NULL, "spreadscaler", 5,
			"[{requirements: {arch: arm64}, weight: 2}, {weight: 1}]"));
	op_app *b = set_app(1, mkapp("agent", NULL, "daemonscaler", 1, NULL));
	T_REQUIRE(a && b);
	add(idof(a, 3, NULL), "h4", OP_INST_RUNNING);
	add(idof(a, 3, NULL), "h2", OP_INST_RUNNING);
	add(idof(a, 7, NULL), "h1", OP_INST_RUNNING);
	add(idof(b, 0, "h5"), "h5", OP_INST_STARTING);
	add("x.y.0-0123456789ab", "h3", OP_INST_RUNNING);
	char first[sizeof W.str];
	snprintf(first, sizeof first, "%s", plan());
	/* The apps in the other order: the same commands, with the app indexes swapped. */
	W.apps[0] = b;
	W.apps[1] = a;
	plan();
	for (size_t i = 0; i < W.ncmds; i++)
		if (W.cmds[i].op == OP_CMD_START)
			T_CHECK(W.cmds[i].app == (strncmp(W.cmds[i].inst, "web.", 4) ? 0u : 1u));
	T_EQ_STR(W.str, first);
	reset();
}

int main(void)
{
	T_RUN(test_component_hash);
	T_RUN(test_wasm_needs_runtime);
	T_RUN(test_hash_equals_canonical_json);
	T_RUN(test_inst_ids);
	T_RUN(test_labels_and_placement);
	T_RUN(test_fresh_exact_counts);
	T_RUN(test_overall_load_breaks_ties);
	T_RUN(test_weights_largest_remainder);
	T_RUN(test_requirements_and_no_eligible_host);
	T_RUN(test_requirements_change_stops);
	T_RUN(test_sticky_when_host_joins);
	T_RUN(test_host_death_and_return);
	T_RUN(test_duplicates);
	T_RUN(test_scale_up_and_down);
	T_RUN(test_surplus_stops_highest_ordinals);
	T_RUN(test_sticky_matching_moves_no_one);
	T_RUN(test_app_and_component_deletion);
	T_RUN(test_failed_and_exited);
	T_RUN(test_stopping_id_not_restarted);
	T_RUN(test_rollout_start_first);
	T_RUN(test_rollout_waits_for_the_stop);
	T_RUN(test_rollout_halts_on_failure);
	T_RUN(test_rollout_waits_for_health);
	T_RUN(test_rollout_stop_first);
	T_RUN(test_rollout_bounds);
	T_RUN(test_rollout_edges);
	T_RUN(test_daemonscaler);
	T_RUN(test_bad_input);
	T_RUN(test_order_independent);
	return t_done();
}
