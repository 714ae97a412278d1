/* A hub and one site for the offline and fault tests: see fleet.h. */
#include "fleet.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- processes in /proc --------------------------------------------------------------- */

size_t fl_cmdline(int pid, char *buf, size_t cap)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/cmdline", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t len = fread(buf, 1, cap - 2, f);
	fclose(f);
	buf[len] = buf[len + 1] = '\0';
	return len;
}

bool fl_stat(int pid, int *ppid, long long *ticks)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *p = strrchr(buf, ')'); /* comm may hold spaces */
	if (!p)
		return false;
	char st;
	int pp;
	long long ut, stt;
	if (sscanf(p + 2, "%c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lld %lld", &st, &pp, &ut,
		    &stt) != 4)
		return false;
	if (st == 'Z')
		return false;
	if (ppid)
		*ppid = pp;
	if (ticks)
		*ticks = ut + stt;
	return true;
}

long long fl_cpu_ticks(pid_t pid)
{
	long long t = -1;
	return fl_stat(pid, NULL, &t) ? t : -1;
}

bool fl_workload(const fleet *f, const char *cmd, size_t len, int *app, int *ver)
{
	if (len < 12 || strcmp(cmd, "/bin/sleep") != 0)
		return false;
	const char *arg = cmd + strlen(cmd) + 1;
	size_t t = strlen(f->tag);
	if (strncmp(arg, f->tag, t) != 0 || strlen(arg) != t + 5)
		return false;
	*app = (arg[t] - '0') * 10 + (arg[t + 1] - '0');
	*ver = (int)strtol(arg + t + 2, NULL, 10);
	return *app >= 0 && *app < FL_MAXAPPS;
}

int fl_shim_host(const char *cmd, size_t len)
{
	const char *a1 = cmd + strlen(cmd) + 1;
	if (len < 16 || a1 >= cmd + len || strcmp(a1, "shim") != 0)
		return -1;
	const char *a2 = a1 + strlen(a1) + 1;
	const char *dir = a2 + strlen(a2) + 1;
	if (a2 >= cmd + len || strcmp(a2, "--state") != 0 || dir >= cmd + len)
		return -1;
	size_t t = strlen(h_tmpdir());
	if (strncmp(dir, h_tmpdir(), t) != 0 || strncmp(dir + t, "/host", 5) != 0)
		return -1;
	return (int)strtol(dir + t + 5, NULL, 10);
}

/* Whether workload i of p counts for f's site (see site_hosts). */
static bool fl_counts(const fleet *f, const fl_procs *p, int i)
{
	if (f->site_hosts <= 0)
		return true;
	for (int j = 0; j < p->ns; j++)
		if (p->spid[j] == p->wppid[i])
			return p->shost[j] < f->site_hosts;
	return true; /* an orphan counts: fl_orphans says what is wrong with it */
}

void fl_scan(const fleet *f, fl_procs *p)
{
	memset(p, 0, sizeof *p);
	DIR *d = opendir("/proc");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		int pid = (int)strtol(e->d_name, NULL, 10), ppid = 0, app, ver;
		char cmd[2048];
		size_t len = fl_cmdline(pid, cmd, sizeof cmd);
		if (len == 0 || !fl_stat(pid, &ppid, NULL))
			continue;
		if (fl_workload(f, cmd, len, &app, &ver)) {
			if (p->nw < 512)
				p->wpid[p->nw] = pid, p->wppid[p->nw] = ppid, p->wapp[p->nw] = app,
				p->wver[p->nw++] = ver;
		} else {
			int h = fl_shim_host(cmd, len);
			if (h >= 0 && p->ns < 512)
				p->spid[p->ns] = pid, p->shost[p->ns++] = h;
		}
	}
	if (d)
		closedir(d);
	/* Counted once the shims are known: a parent may come after its child in /proc. */
	for (int i = 0; i < p->nw; i++)
		if (fl_counts(f, p, i)) {
			p->count[p->wapp[i]][p->wver[i]]++;
			p->total++;
		}
}

const char *fl_set_str(int count[FL_MAXAPPS][FL_MAXVER])
{
	char buf[4096];
	size_t n = 0;
	buf[0] = '\0';
	for (int a = 0; a < FL_MAXAPPS; a++)
		for (int v = 0; v < FL_MAXVER; v++)
			if (count[a][v] > 0 && n < sizeof buf - 32)
				n += (size_t)snprintf(buf + n, sizeof buf - n, "%02d.%03d=%d;", a,
					v, count[a][v]);
	return h_str("%s", buf);
}

const char *fl_seen(const fleet *f)
{
	static fl_procs p;
	fl_scan(f, &p);
	return fl_set_str(p.count);
}

int fl_hosts_up(const fleet *f)
{
	int n = 0;
	for (int i = 0; i < f->nhosts; i++)
		n += f->host_up[i];
	return n;
}

const char *fl_plan(const fleet *f)
{
	static int count[FL_MAXAPPS][FL_MAXVER];
	memset(count, 0, sizeof count);
	for (int a = 0; a < FL_MAXAPPS; a++)
		if (f->apps[a].on)
			count[a][f->apps[a].ver] = f->apps[a].instances *
				(f->apps[a].daemon ? fl_hosts_up(f) : 1);
	return fl_set_str(count);
}

void fl_set_parse(const char *s, int count[FL_MAXAPPS][FL_MAXVER])
{
	memset(count, 0, sizeof(int) * FL_MAXAPPS * FL_MAXVER);
	int a, v, n, used;
	while (s && sscanf(s, "%d.%d=%d;%n", &a, &v, &n, &used) == 3) {
		if (a >= 0 && a < FL_MAXAPPS && v >= 0 && v < FL_MAXVER)
			count[a][v] = n;
		s += used;
	}
}

struct fl_want {
	const fleet *f;
	const char *want;
	const char *last;
};

static bool fl_is(void *arg)
{
	struct fl_want *w = arg;
	w->last = fl_seen(w->f);
	return !strcmp(w->last, w->want);
}

const char *fl_not_between(const char *set, const char *from, const char *to)
{
	static int s[FL_MAXAPPS][FL_MAXVER], a[FL_MAXAPPS][FL_MAXVER], b[FL_MAXAPPS][FL_MAXVER];
	fl_set_parse(set, s);
	fl_set_parse(from, a);
	fl_set_parse(to, b);
	for (int i = 0; i < FL_MAXAPPS; i++)
		for (int v = 0; v < FL_MAXVER; v++) {
			int max = a[i][v] > b[i][v] ? a[i][v] : b[i][v];
			if (s[i][v] > max)
				return h_str(
					"%s has %02d.%03d=%d, more than in %s or %s (at most %d)",
					set, i, v, s[i][v], from, to, max);
		}
	return NULL;
}

bool fl_wait_set(const fleet *f, const char *want, int ms)
{
	struct fl_want w = {f, want, NULL};
	if (h_wait_until(fl_is, &w, ms))
		return true;
	fprintf(stderr, "  want %s\n  have %s\n", want, w.last ? w.last : "?");
	return false;
}

const char *fl_orphans(const fleet *f)
{
	static fl_procs p;
	fl_scan(f, &p);
	for (int i = 0; i < p.nw; i++) {
		bool ok = false;
		for (int j = 0; j < p.ns && !ok; j++)
			ok = p.spid[j] == p.wppid[i];
		if (!ok)
			return h_str(
				"workload %d has parent %d, not a shim", p.wpid[i], p.wppid[i]);
	}
	for (int j = 0; j < p.ns; j++) {
		int n = 0;
		for (int i = 0; i < p.nw; i++)
			n += p.wppid[i] == p.spid[j];
		if (n != 1)
			return h_str(
				"shim %d (host %d) has %d workloads", p.spid[j], p.shost[j], n);
	}
	return "";
}

struct fl_orphan_wait {
	const fleet *f;
	const char *last;
};

static bool fl_no_orphans(void *arg)
{
	struct fl_orphan_wait *w = arg;
	w->last = fl_orphans(w->f);
	return !w->last[0];
}

const char *fl_orphans_settled(const fleet *f, int timeout_ms)
{
	struct fl_orphan_wait w = {f, ""};
	h_wait_until(fl_no_orphans, &w, timeout_ms);
	return w.last;
}

void fl_adopt_all(const fleet *f)
{
	static fl_procs p;
	fl_scan(f, &p);
	for (int i = 0; i < p.nw; i++)
		h_adopt(p.wpid[i]);
	for (int i = 0; i < p.ns; i++)
		h_adopt(p.spid[i]);
}

int fl_kill_shims(const fleet *f, int i)
{
	static fl_procs p;
	fl_scan(f, &p);
	int n = 0;
	for (int j = 0; j < p.ns; j++) {
		if (i >= 0 ? p.shost[j] != i : (f->site_hosts > 0 && p.shost[j] >= f->site_hosts))
			continue;
		/* The shim first: a shim that outlived its workload by a moment would start
		 * it again at once (the first restart is immediate), and that new workload,
		 * orphaned when the shim goes, would survive the box. */
		kill(p.spid[j], SIGKILL);
		for (int k = 0; k < p.nw; k++)
			if (p.wppid[k] == p.spid[j])
				kill(p.wpid[k], SIGKILL), n++;
	}
	/* Workloads whose shim was already gone (another site's are left alone). */
	for (int k = 0; k < p.nw && i < 0; k++)
		if (fl_counts(f, &p, k))
			kill(p.wpid[k], SIGKILL);
	return n;
}

struct fl_gone {
	const fleet *f;
	int host; /* -1: all */
};

static bool fl_all_gone(void *arg)
{
	struct fl_gone *g = arg;
	static fl_procs p;
	/* Again and again: a shim in the middle of its double fork escapes one round. */
	fl_kill_shims(g->f, g->host);
	fl_scan(g->f, &p);
	int left = 0;
	for (int k = 0; k < p.nw && g->host < 0; k++)
		left += fl_counts(g->f, &p, k);
	for (int j = 0; j < p.ns; j++)
		left += g->host < 0 ? g->f->site_hosts <= 0 || p.shost[j] < g->f->site_hosts
				    : p.shost[j] == g->host;
	return left == 0;
}

bool fl_box_down(fleet *f, int i)
{
	kill(-f->host_pid[i], SIGKILL);
	struct fl_gone g = {f, i};
	bool gone = h_wait_until(fl_all_gone, &g, 10000);
	h_proc_stop(f->host_pid[i], true, 1000);
	f->host_up[i] = false;
	return gone;
}

bool fl_power_cut(fleet *f)
{
	kill(-f->site->pid, SIGKILL);
	kill(-f->agent_pid, SIGKILL);
	for (int i = 0; i < f->nhosts; i++)
		if (f->host_up[i])
			kill(-f->host_pid[i], SIGKILL);
	struct fl_gone g = {f, -1};
	bool gone = h_wait_until(fl_all_gone, &g, 10000);
	h_nats_stop(f->site, true);
	h_proc_stop(f->agent_pid, true, 1000);
	for (int i = 0; i < f->nhosts; i++)
		if (f->host_up[i])
			h_proc_stop(f->host_pid[i], true, 1000);
	return gone;
}

const char *fl_host_insts(int i)
{
	char *out = NULL;
	h_run(&out, "ls %s 2>/dev/null | sort", h_q(h_path("host%d/instances", i)));
	return out ? h_keep(out) : "";
}

/* ---- the agent's log ---------------------------------------------------------------------- */

long fl_log_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

int fl_log_count(const char *path, long offset, const char *what)
{
	char *s = h_read(path);
	int n = 0;
	if (!s)
		return 0;
	long len = (long)strlen(s);
	for (char *l = s + (offset < len ? offset : len); *l;) {
		char *nl = strchr(l, '\n');
		if (nl)
			*nl = '\0';
		n += what ? strstr(l, what) != NULL : 1;
		if (!nl)
			break;
		l = nl + 1;
	}
	free(s);
	return n;
}

const char *fl_agent_log(void)
{
	return h_path("agent.log");
}

/* ---- NATS ---------------------------------------------------------------------------------- */

natsConnection *fl_connect(const char *url)
{
	natsOptions *o = NULL;
	natsConnection *nc = NULL;
	if (natsOptions_Create(&o) != NATS_OK)
		return NULL;
	/* A list (a hub cluster's nodes): SetURL takes one URL, SetServers a list. */
	char buf[H_MAXNODES * 40];
	const char *v[H_MAXNODES];
	int n = 0;
	snprintf(buf, sizeof buf, "%s", url);
	for (char *p = buf; p && n < H_MAXNODES; n++) {
		v[n] = p;
		p = strchr(p, ',');
		if (p)
			*p++ = '\0';
	}
	if (n > 1)
		natsOptions_SetServers(o, v, n);
	else
		natsOptions_SetURL(o, url);
	natsOptions_SetMaxReconnect(o, -1);
	natsOptions_SetReconnectWait(o, 100);
	natsOptions_SetTimeout(o, 2000);
	natsOptions_SetAllowReconnect(o, true);
	if (natsConnection_Connect(&nc, o) != NATS_OK)
		nc = NULL;
	natsOptions_Destroy(o);
	return nc;
}

/* Opens a bucket through js (made by the agent or sync: waits for it). */
struct fl_kvopen {
	jsCtx *js;
	const char *name;
	kvStore **kv;
};

static bool fl_kv_try(void *arg)
{
	struct fl_kvopen *o = arg;
	return js_KeyValue(o->kv, o->js, o->name) == NATS_OK;
}

bool fl_kv_open(jsCtx *js, const char *name, kvStore **kv, int ms)
{
	struct fl_kvopen o = {js, name, kv};
	return h_wait_until(fl_kv_try, &o, ms);
}

json_t *fl_kv_json(kvStore *kv, const char *key)
{
	kvEntry *e = NULL;
	if (!kv || kvStore_Get(&e, kv, key) != NATS_OK)
		return NULL;
	json_t *j = json_loadb(kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), 0, NULL);
	kvEntry_Destroy(e);
	return j;
}

struct fl_key {
	kvStore *kv;
	const char *key;
};

static bool fl_has_key(void *arg)
{
	struct fl_key *k = arg;
	json_t *j = fl_kv_json(k->kv, k->key);
	json_decref(j);
	return j != NULL;
}

bool fl_wait_key(kvStore *kv, const char *key, int ms)
{
	struct fl_key k = {kv, key};
	return h_wait_until(fl_has_key, &k, ms);
}

long long fl_agent_seq(const fleet *f)
{
	json_t *j = fl_kv_json(f->site_status, h_str("site.%s.agent", f->name));
	long long seq = j ? json_integer_value(json_object_get(j, "seq")) : -1;
	json_decref(j);
	return seq;
}

uint64_t fl_last_seq(jsCtx *js, const char *stream)
{
	jsStreamInfo *si = NULL;
	if (js_GetStreamInfo(&si, js, stream, NULL, NULL) != NATS_OK)
		return 0;
	uint64_t n = si->State.LastSeq;
	jsStreamInfo_Destroy(si);
	return n;
}

/* ---- git pushes through sync --------------------------------------------------------------- */

const char *fl_app_yaml(const fleet *f, int i)
{
	const fl_app *a = &f->apps[i];
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: a%02d\n  annotations: {version: v%d}\nspec:\n%s%s  components:\n"
		     "    - name: main\n      type: process\n      properties:\n"
		     "        command: /bin/sleep\n        args: [\"%s%02d%03d%s\"]\n"
		     "        min_ready: 200ms\n" /* rollouts at the tests' pace, not 5 s a step */
		     "%s%s%s%s"
		     "      traits:\n        - type: %s\n          properties:\n"
		     "            instances: %d\n",
		i, a->ver, a->policies ? "  policies:\n" : "", a->policies ? a->policies : "",
		f->tag, i, a->ver, a->crash ? "x" : "", a->artifact ? "        artifact: " : "",
		a->artifact ? a->artifact : "", a->artifact ? "\n" : "", a->props ? a->props : "",
		a->daemon ? "daemonscaler" : "spreadscaler", a->instances);
}

const char *fl_commit(fleet *f, const h_key *key, const char *msg)
{
	for (int i = 0; i < FL_MAXAPPS; i++) {
		const char *p = h_str("apps/a%02d.yaml", i);
		if (f->apps[i].on)
			h_repo_write(f->repo, p, "%s", fl_app_yaml(f, i));
		else if (access(h_str("%s/%s", f->repo->path, p), F_OK) == 0)
			h_repo_rm(f->repo, p);
	}
	return h_repo_commit(f->repo, &(h_commit){.key = key, .msg = msg});
}

struct fl_sync_req {
	natsConnection *nc;
	char *reply;
};

static bool fl_sync_now(void *arg)
{
	struct fl_sync_req *r = arg;
	natsMsg *m = NULL;
	if (natsConnection_RequestString(&m, r->nc, "outpost.hub.sync.now", "{}", 5000) != NATS_OK)
		return false;
	r->reply = strndup(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
	return true;
}

json_t *fl_sync(fleet *f, int ms)
{
	struct fl_sync_req r = {f->hub_nc, NULL};
	if (!h_wait_until(fl_sync_now, &r, ms))
		return NULL;
	json_t *j = json_loads(r.reply, 0, NULL);
	free(r.reply);
	return j;
}

uint64_t fl_push(fleet *f)
{
	const char *sha = fl_commit(f, f->key, "change");
	if (!sha)
		return 0;
	for (int tries = 0; tries < 3; tries++) {
		json_t *j = fl_sync(f, 30000);
		const char *out = json_string_value(json_object_get(j, "outcome"));
		const char *commit = json_string_value(json_object_get(j, "commit"));
		uint64_t seq = (uint64_t)json_integer_value(json_object_get(j, "seq"));
		bool ok = out && commit && !strcmp(commit, sha) &&
			(!strcmp(out, "accepted") || !strcmp(out, "unchanged"));
		if (!ok && j) {
			char *s = json_dumps(j, JSON_COMPACT);
			fprintf(stderr, "  sync: %s\n", s ? s : "?");
			free(s);
		}
		json_decref(j);
		if (ok) {
			f->seq = seq;
			return seq;
		}
	}
	return 0;
}

/* ---- more sites ------------------------------------------------------------------------ */

bool fl_site_start(fleet *f, fl_site *s, int host, const char *agent_args)
{
	if (!(s->srv = h_site_start(f->hub, s->name)) || !h_leaf_wait(s->srv, 30000))
		return false;
	s->agent_pid = h_spawn_sh(fl_site_log(s),
		"%s agent --site %s --nats %s --state %s --host-timeout " FL_HOST_TIMEOUT
		" --resync 2s %s",
		f->bin, s->name, h_nats_url(s->srv), h_path("agent-%s", s->name), agent_args);
	s->host_pid = h_spawn_sh(h_path("host%d.log", host),
		"%s host --site %s --id h0 --nats %s --state %s --heartbeat " FL_HB, f->bin,
		s->name, h_nats_url(s->srv), h_path("host%d", host));
	if (s->agent_pid <= 0 || s->host_pid <= 0)
		return false;
	s->nc = fl_connect(h_nats_url(s->srv));
	return s->nc && natsConnection_JetStream(&s->js, s->nc, NULL) == NATS_OK &&
		fl_kv_open(s->js, "outpost-status", &s->status, 30000);
}

const char *fl_site_log(const fl_site *s)
{
	return h_path("agent-%s.log", s->name);
}

void fl_site_stop(fl_site *s)
{
	if (s->status)
		kvStore_Destroy(s->status);
	if (s->js)
		jsCtx_Destroy(s->js);
	if (s->nc)
		natsConnection_Destroy(s->nc);
	s->status = NULL;
	s->js = NULL;
	s->nc = NULL;
}

/* ---- starting things --------------------------------------------------------------------- */

pid_t fl_start_sync(fleet *f)
{
	f->sync_pid = h_spawn_sh(h_path("sync.log"),
		"%s sync --repo %s --trust %s --state %s --nats %s --interval 1h %s", f->bin,
		f->repo->path, f->trust, h_path("sync-state"), h_nats_urls(f->hub),
		f->sync_args ? f->sync_args : "");
	return f->sync_pid;
}

pid_t fl_start_agent(fleet *f)
{
	f->agent_pid = h_spawn_sh(fl_agent_log(),
		"%s agent --site %s --nats %s --state %s --host-timeout " FL_HOST_TIMEOUT
		" --resync 2s %s",
		f->bin, f->name, h_nats_url(f->site), h_path("agent-state"),
		f->agent_args ? f->agent_args : "");
	return f->agent_pid;
}

pid_t fl_start_host(fleet *f, int i)
{
	f->host_pid[i] = h_spawn_sh(h_path("host%d.log", i),
		"%s host --site %s --id h%d --nats %s --state %s --heartbeat " FL_HB
		" --label role=%s",
		f->bin, f->name, i, h_nats_url(f->site), h_path("host%d", i),
		i == 0 ? "gw" : "worker");
	f->host_up[i] = f->host_pid[i] > 0;
	if (i >= f->nhosts)
		f->nhosts = i + 1;
	return f->host_pid[i];
}

struct fl_copy {
	const char *from, *to;
};

static bool fl_copied(void *arg)
{
	struct fl_copy *c = arg;
	char *out = NULL;
	bool ok = h_run(&out, "cp %s %s && %s --version", h_q(c->from), h_q(c->to), h_q(c->to)) ==
		0;
	free(out);
	return ok;
}

bool fl_copy_bin(const char *from, const char *to)
{
	struct fl_copy c = {from, to};
	if (h_wait_until(fl_copied, &c, 60000))
		return true;
	fprintf(stderr, "fleet: cannot copy a working %s\n", from);
	return false;
}

bool fl_start(fleet *f, const char *site, int nhosts)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return false;
	/* A copy: the checkout's binary may be relinked by a build while the test runs. */
	f->bin = h_path("outpost");
	if (!fl_copy_bin(h_str("%s/outpost", cwd), f->bin))
		return false;
	f->tag = h_str("9%05d", (int)(getpid() % 100000));
	f->name = site;
	f->hub = f->hub_nodes > 1 ? h_hub_cluster_start(f->hub_nodes, f->nodes) : h_hub_start();
	if (!f->hub || !(f->site = h_site_start(f->hub, site)) || !h_leaf_wait(f->site, 30000))
		return false;
	f->key = h_keygen("ed25519");
	f->repo = h_repo_new("fleet");
	if (!f->key || !f->repo)
		return false;
	f->trust = h_path("allowed_signers");
	h_write(f->trust, "test@example.com namespaces=\"git\" %s\n", f->key->pub);
	h_repo_write(f->repo, "apps/.keep.yaml", "# not read\n");
	if (!h_repo_commit(f->repo, &(h_commit){.key = f->key, .msg = "start"}))
		return false;
	f->hub_nc = fl_connect(h_nats_urls(f->hub));
	f->site_nc = fl_connect(h_nats_url(f->site));
	if (!f->hub_nc || !f->site_nc ||
		natsConnection_JetStream(&f->hub_js, f->hub_nc, NULL) != NATS_OK ||
		natsConnection_JetStream(&f->site_js, f->site_nc, NULL) != NATS_OK)
		return false;
	if (fl_start_sync(f) <= 0 || fl_start_agent(f) <= 0)
		return false;
	for (int i = 0; i < nhosts; i++)
		if (fl_start_host(f, i) <= 0)
			return false;
	/* sync makes the hub's buckets; a first pass that fails (a cluster hub just formed
	 * may refuse a replicated stream for a moment) is retried after 1, 2, 4, 8, 16 s. */
	return fl_kv_open(f->hub_js, "outpost", &f->hub_kv, 60000) &&
		fl_kv_open(f->hub_js, "outpost-status", &f->hub_status, 60000) &&
		fl_kv_open(f->site_js, "outpost", &f->site_kv, 30000) &&
		fl_kv_open(f->site_js, "outpost-status", &f->site_status, 30000);
}

void fl_stop(fleet *f)
{
	fl_adopt_all(f);
	if (f->hub_kv)
		kvStore_Destroy(f->hub_kv);
	if (f->hub_status)
		kvStore_Destroy(f->hub_status);
	if (f->site_kv)
		kvStore_Destroy(f->site_kv);
	if (f->site_status)
		kvStore_Destroy(f->site_status);
	if (f->hub_js)
		jsCtx_Destroy(f->hub_js);
	if (f->site_js)
		jsCtx_Destroy(f->site_js);
	natsConnection_Destroy(f->hub_nc);
	natsConnection_Destroy(f->site_nc);
}
