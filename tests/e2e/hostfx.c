/* The host fixture (hostfx.h). */
#include "hostfx.h"

#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "outpost/agent/base/util.h"
#include "outpost/agent/host/supervise.h"
#include "outpost/agent/model/manifest.h"
#include "t.h"

#define WAIT_MS 20000
#define MAXHOSTS 16

static const char *fx_bin;
static h_nats *fx_srv;

h_nats *hx_init(const char **bin)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return NULL;
	fx_bin = h_str("%s/outpost", cwd);
	fx_srv = h_hub_start();
	if (!fx_srv)
		fprintf(stderr, "cannot start nats-server\n");
	if (bin)
		*bin = fx_bin;
	return fx_srv;
}

/* ---- heartbeats: the latest of each host, kept by a subscription ------------------- */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
	char host[64];
	char *json;
	size_t len;
	long count;
	char *trail; /* hx_trail */
	size_t trail_len;
} last[MAXHOSTS];

static void trail_add(int i, const char *id, const char *what)
{
	char buf[256];
	int n = snprintf(buf, sizeof buf, "%s=%s ", id, what);
	if (n <= 0 || (size_t)n >= sizeof buf)
		return;
	char *t = realloc(last[i].trail, last[i].trail_len + (size_t)n + 1);
	if (!t)
		return;
	memcpy(t + last[i].trail_len, buf, (size_t)n + 1);
	last[i].trail = t;
	last[i].trail_len += (size_t)n;
}

/* What the heartbeat json says that the one before it (old) did not, into host i's
 * trail: "<id>=<state>[/<health>] " for an instance new or changed, "<id>=gone " for one
 * no more. */
static void trail_step(int i, const char *old, size_t olen, const char *json, size_t len)
{
	op_heartbeat a = {0}, b = {0};
	op_err e = {0};
	if (op_heartbeat_decode(json, len, &b, &e) != 0)
		return;
	if (old && op_heartbeat_decode(old, olen, &a, &e) != 0)
		memset(&a, 0, sizeof a);
	for (size_t k = 0; k < b.ninsts; k++) {
		const op_hb_inst *x = &b.insts[k], *was = hx_hb_find(&a, x->id);
		if (was && was->state == x->state && was->health == x->health)
			continue;
		char what[64];
		snprintf(what, sizeof what, "%s%s%s", op_inst_state_name(x->state),
			x->state == OP_INST_RUNNING ? "/" : "",
			x->state == OP_INST_RUNNING ? op_health_name(x->health) : "");
		trail_add(i, x->id, what);
	}
	for (size_t k = 0; k < a.ninsts; k++)
		if (!hx_hb_find(&b, a.insts[k].id))
			trail_add(i, a.insts[k].id, "gone");
	op_heartbeat_clear(&a);
	op_heartbeat_clear(&b);
}

static void on_hb(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *arg)
{
	(void)nc, (void)sub, (void)arg;
	const char *host = natsMsg_GetSubject(m) + strlen("outpost." HX_SITE ".hb.");
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXHOSTS; i++) {
		if (last[i].host[0] && strcmp(last[i].host, host) != 0)
			continue;
		snprintf(last[i].host, sizeof last[i].host, "%s", host);
		size_t len = (size_t)natsMsg_GetDataLength(m);
		trail_step(i, last[i].json, last[i].len, natsMsg_GetData(m), len);
		free(last[i].json);
		last[i].len = len;
		last[i].json = malloc(last[i].len + 1);
		if (last[i].json) {
			memcpy(last[i].json, natsMsg_GetData(m), last[i].len);
			last[i].json[last[i].len] = '\0';
		}
		last[i].count++;
		break;
	}
	pthread_mutex_unlock(&mu);
	natsMsg_Destroy(m);
}

/* The latest heartbeat of host, decoded (op_heartbeat_clear after); false if none. */
bool hx_hb_get(const char *host, op_heartbeat *hb)
{
	bool ok = false;
	memset(hb, 0, sizeof *hb);
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXHOSTS; i++)
		if (!strcmp(last[i].host, host) && last[i].json) {
			op_err e = {0};
			ok = op_heartbeat_decode(last[i].json, last[i].len, hb, &e) == 0;
			if (!ok)
				fprintf(stderr, "bad heartbeat from %s: %s\n", host, e.msg);
			break;
		}
	pthread_mutex_unlock(&mu);
	return ok;
}

const char *hx_trail(const char *host)
{
	const char *out = "";
	pthread_mutex_lock(&mu);
	for (int i = 0; i < MAXHOSTS; i++)
		if (!strcmp(last[i].host, host) && last[i].trail)
			out = h_str("%s", last[i].trail);
	pthread_mutex_unlock(&mu);
	return out;
}

const op_hb_inst *hx_hb_find(const op_heartbeat *hb, const char *id)
{
	for (size_t i = 0; i < hb->ninsts; i++)
		if (!strcmp(hb->insts[i].id, id))
			return &hb->insts[i];
	return NULL;
}

/* ---- one host under test ------------------------------------------------------------ */

/* Every state dir a host of this program used, swept at the end. */
const char *hx_states[HX_MAXSTATES];
int hx_nstates;

bool hx_host_run(hx_host *h)
{
	h->pid = h_spawn_sh(h->log,
		"env OUTPOST_TEST_LEAK=1 %s host --site " HX_SITE " --id %s --nats %s --state %s "
		"--heartbeat 200ms --stop-grace 1s --label role=gw --label zone.x/y=a_b-1 %s",
		fx_bin, h->id, h->url, h->state, h->extra ? h->extra : "");
	return h->pid > 0;
}

static bool has_hb(void *arg)
{
	op_heartbeat hb;
	bool ok = hx_hb_get(arg, &hb);
	op_heartbeat_clear(&hb);
	return ok;
}

/* Starts a host and waits for its first heartbeat: it answers commands from then on. */
static bool start(hx_host *h, const char *id, const char *url, const char *extra)
{
	memset(h, 0, sizeof *h);
	h->extra = extra;
	h->id = id;
	h->url = url;
	h->state = h_path("state-%s", id);
	if (hx_nstates < HX_MAXSTATES)
		hx_states[hx_nstates++] = h->state;
	h->log = h_path("host-%s.log", id);
	if (natsConnection_ConnectTo(&h->nc, url) != NATS_OK ||
		natsConnection_Subscribe(&h->sub, h->nc, h_str("outpost." HX_SITE ".hb.%s", id),
			on_hb, NULL) != NATS_OK ||
		natsConnection_Flush(h->nc) != NATS_OK)
		return false;
	return hx_host_run(h) && h_wait_until(has_hb, (void *)id, WAIT_MS);
}

bool hx_host_start_at(hx_host *h, const char *id, const char *url)
{
	return start(h, id, url, NULL);
}

bool hx_host_start_extra(hx_host *h, const char *id, const char *extra)
{
	return start(h, id, h_nats_url(fx_srv), extra);
}

bool hx_host_start(hx_host *h, const char *id)
{
	return hx_host_start_at(h, id, h_nats_url(fx_srv));
}

/* Registers every shim and workload of the host's state dir with the harness. */
void hx_adopt_all(hx_host *h)
{
	DIR *d = opendir(h_str("%s/instances", h->state));
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		op_shim_state st;
		if (op_inst_id_valid(de->d_name) &&
			op_shim_state_load(h->state, de->d_name, &st, NULL) == 0) {
			if (st.shim_pid > 0)
				h_adopt(st.shim_pid);
			if (st.pid > 0)
				h_adopt(st.pid);
		}
	}
	if (d)
		closedir(d);
}

void hx_host_stop(hx_host *h)
{
	if (h->pid > 0)
		h_proc_stop(h->pid, false, 5000);
	if (h->sub)
		natsSubscription_Destroy(h->sub);
	if (h->nc)
		natsConnection_Destroy(h->nc);
	h->pid = 0;
	h->sub = NULL;
	h->nc = NULL;
}

/* ---- commands ----------------------------------------------------------------------- */

const char *hx_app_yaml(const char *name, const char *props)
{
	return h_str("apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
		     "  name: %s\nspec:\n  components:\n    - name: main\n      type: process\n"
		     "      properties:\n%s",
		name, props);
}

/* Sends json to the host; returns its decoded reply (ok false with the error on any
 * failure). */
op_hostreply hx_request(hx_host *h, const char *json)
{
	op_hostreply r = {0};
	natsMsg *reply = NULL;
	natsStatus s = natsConnection_Request(&reply, h->nc,
		h_str("outpost." HX_SITE ".host.%s.cmd", h->id), json, (int)strlen(json), 5000);
	if (s != NATS_OK) {
		snprintf(r.error, sizeof r.error, "request: %s", natsStatus_GetText(s));
		return r;
	}
	op_err e = {0};
	if (op_hostreply_decode(
		    natsMsg_GetData(reply), (size_t)natsMsg_GetDataLength(reply), &r, &e) != 0)
		snprintf(r.error, sizeof r.error, "bad reply: %.480s", e.msg);
	natsMsg_Destroy(reply);
	return r;
}

/* The id of instance n of app's component "main". */
const char *hx_inst_id(const char *app, int n)
{
	return h_str("%s.main.%d-0123456789ab", app, n);
}

op_hostreply hx_start(hx_host *h, const char *app, int n, const char *props)
{
	op_hostreply r = {0};
	op_app *a = NULL;
	op_diags d = {0};
	const char *yaml = hx_app_yaml(app, props);
	if (op_manifest_parse("test.yaml", yaml, strlen(yaml), &a, &d) != 0) {
		op_diags_print(&d, stderr);
		op_diags_clear(&d);
		snprintf(r.error, sizeof r.error, "test manifest invalid");
		return r;
	}
	op_hostcmd c = {.op = OP_CMD_START, .app = a, .comp = 0};
	snprintf(c.id, sizeof c.id, "%s", hx_inst_id(app, n));
	char *json = NULL;
	op_err e = {0};
	if (op_hostcmd_encode(&c, &json, &e) == 0)
		r = hx_request(h, json);
	else
		snprintf(r.error, sizeof r.error, "encode: %.480s", e.msg);
	free(json);
	op_app_free(a);
	return r;
}

op_hostreply hx_stop(hx_host *h, const char *id)
{
	return hx_request(h, h_str("{\"v\":1,\"op\":\"stop\",\"id\":\"%s\"}", id));
}

/* ---- waiting on heartbeats ---------------------------------------------------------- */

bool hx_cond_inst(void *arg)
{
	hx_want *w = arg;
	op_heartbeat hb;
	if (!hx_hb_get(w->h->id, &hb))
		return false;
	const op_hb_inst *in = hx_hb_find(&hb, w->id);
	bool ok = (!w->boot || strcmp(hb.boot, w->boot) != 0) &&
		(w->state < 0 ? !in : in && (int)in->state == w->state) &&
		(!w->not_pid || (in && in->pid != w->not_pid));
	if (in)
		w->got = *in;
	hx_adopt_all(w->h);
	op_heartbeat_clear(&hb);
	return ok;
}

/* Waits until the host reports id in state (-1: not at all); *got gets it. */
bool hx_wait_state(hx_host *h, const char *id, int state, op_hb_inst *got)
{
	hx_want w = {.h = h, .id = id, .state = state};
	bool ok = h_wait_until(hx_cond_inst, &w, WAIT_MS);
	if (!ok)
		fprintf(stderr, "  %s: wanted %s, last seen %s (exit %d, error \"%s\")\n", id,
			state < 0 ? "absent" : op_inst_state_name((enum op_inst_state)state),
			w.got.id[0] ? op_inst_state_name(w.got.state) : "absent", w.got.exit_code,
			w.got.error);
	if (got)
		*got = w.got;
	return ok;
}

static bool pid_gone(void *arg)
{
	uint64_t st;
	return op_proc_start_time(*(int *)arg, &st) != 0;
}

bool hx_wait_gone(int pid)
{
	return h_wait_until(pid_gone, &pid, WAIT_MS);
}

const char *hx_output(hx_host *h, const char *id)
{
	char *buf = h_read(h_str("%s/instances/%s/output.log", h->state, id));
	const char *s = h_str("%s", buf ? buf : "");
	free(buf);
	return s;
}

struct out_want {
	hx_host *h;
	const char *id, *text;
};

static bool has_output(void *arg)
{
	const struct out_want *w = arg;
	return strstr(hx_output(w->h, w->id), w->text) != NULL;
}

bool hx_wait_output(hx_host *h, const char *id, const char *text)
{
	struct out_want w = {h, id, text};
	return h_wait_until(has_output, &w, WAIT_MS);
}

/* Stops id and waits until its workload and the instance are gone. */
void hx_stop_and_check(hx_host *h, const char *id)
{
	op_heartbeat hb;
	int pid = 0, shim = 0;
	if (hx_hb_get(h->id, &hb)) {
		const op_hb_inst *in = hx_hb_find(&hb, id);
		pid = in ? in->pid : 0;
		op_heartbeat_clear(&hb);
	}
	op_shim_state st;
	if (op_shim_state_load(h->state, id, &st, NULL) == 0)
		shim = st.shim_pid;
	op_hostreply r = hx_stop(h, id);
	T_CHECK_MSG(r.ok, "stop %s: %s", id, r.error);
	T_CHECK(hx_wait_state(h, id, -1, NULL));
	if (pid)
		T_CHECK(hx_wait_gone(pid));
	if (shim)
		T_CHECK(hx_wait_gone(shim));
	T_CHECK(access(h_str("%s/instances/%s", h->state, id), F_OK) != 0);
}
