/* Least privilege on NATS, end to end. `outpost creds` writes the identities of a hub
 * and two sites; the servers run with the generated config; sync, the agents and the
 * hosts run with their own credential files, and a signed push runs processes at both
 * sites. Then every credential tries what it must not do against the real servers:
 * clients with nats.c, a site's leaf link spoken by hand (a compromised site server
 * sends what it likes; only the hub's checks stand), and a compromised hub (a server
 * without any permissions that a site with the generated config links to). Each
 * attempt must be refused (a permission error, or no responders where a site refuses
 * the hub's traffic silently) AND leave the target as it was: stream sequences, keys,
 * messages received. The credentials x forbidden actions table is printed at the end. */
#include <errno.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "outpost/agent/model/sealed.h"
#include "outpost/agent/bus/bus.h"
#include "outpost/agent/site/buckets.h"
#include "outpost/agent/store/store.h"
#include "t.h"

#define WAIT_MS 30000
#define HB "300ms"
#define FORGED "forged-by-test_creds"

static const char *bin, *tag, *creds;
static const h_key *key;
static h_nats *hub, *site7, *site9;
static h_repo *repo;
static pid_t sync_pid, agent_pid[2], host_pid[3];

/* ---- the table ----------------------------------------------------------------------- */

struct row {
	char cred[32], action[96], how[64];
	bool ok;
};
static struct row rows[96];
static int nrows;

/* One forbidden action: refused (how) and nothing changed. */
static void record(
	const char *cred, const char *action, bool refused, const char *how, bool unchanged)
{
	T_CHECK_MSG(refused, "%s: %s was not refused", cred, action);
	T_CHECK_MSG(unchanged, "%s: %s changed something", cred, action);
	if (nrows < (int)(sizeof rows / sizeof *rows)) {
		struct row *r = &rows[nrows++];
		snprintf(r->cred, sizeof r->cred, "%s", cred);
		snprintf(r->action, sizeof r->action, "%s", action);
		snprintf(r->how, sizeof r->how, "%s", refused ? how : "NOT REFUSED");
		r->ok = refused && unchanged;
	}
}

static void print_table(void)
{
	printf("\n%-16s %-52s %-36s %s\n", "credential", "forbidden action", "refused by",
		"unchanged");
	for (int i = 0; i < nrows; i++)
		printf("%-16s %-52s %-36s %s\n", rows[i].cred, rows[i].action, rows[i].how,
			rows[i].ok ? "yes" : "NO");
	printf("\n");
	fflush(stdout);
}

/* ---- credentials and connections --------------------------------------------------------- */

static const char *cred(const char *rel)
{
	return h_str("%s/%s", creds, rel);
}

static bool cred_read(const char *rel, char *user, size_t ul, char *pass, size_t pl)
{
	char *s = h_read(cred(rel));
	char *colon = s ? strchr(s, ':') : NULL;
	if (!colon) {
		free(s);
		return false;
	}
	*colon = '\0';
	colon[1 + strcspn(colon + 1, "\r\n")] = '\0';
	snprintf(user, ul, "%s", s);
	snprintf(pass, pl, "%s", colon + 1);
	free(s);
	return true;
}

/* A connection to s as a credential (NULL: none), with its user's inbox prefix. */
static natsStatus connect_as(natsConnection **nc, const h_nats *s, const char *rel)
{
	natsOptions *o = NULL;
	char user[200] = "", pass[200] = "";
	natsOptions_Create(&o);
	natsOptions_SetURL(o, h_nats_url(s));
	natsOptions_SetTimeout(o, 2000);
	natsOptions_SetAllowReconnect(o, false);
	if (rel && cred_read(rel, user, sizeof user, pass, sizeof pass)) {
		natsOptions_SetUserInfo(o, user, pass);
		natsOptions_SetCustomInboxPrefix(o, h_str("_INBOX.%s", user));
	}
	*nc = NULL;
	natsStatus st = natsConnection_Connect(nc, o);
	natsOptions_Destroy(o);
	return st;
}

static void conn_close(natsConnection *nc)
{
	if (nc) {
		natsConnection_Close(nc);
		natsConnection_Destroy(nc);
	}
}

/* The server said "Permissions Violation" for this subject on this connection. */
static bool violated(natsConnection *nc, const char *subject)
{
	natsConnection_FlushTimeout(nc, 2000); /* -ERR comes before the PONG */
	const char *txt = NULL;
	natsStatus st = natsConnection_GetLastError(nc, &txt);
	return st == NATS_NOT_PERMITTED && txt && strstr(txt, "Permissions Violation") &&
		strstr(txt, subject);
}

/* Publishes (with a reply subject of the user's, for API requests) as rel at s. */
static bool pub_refused(const h_nats *s, const char *rel, const char *subject, const char *data)
{
	natsConnection *nc = NULL;
	if (connect_as(&nc, s, rel) != NATS_OK)
		return false;
	char user[200], pass[200];
	cred_read(rel, user, sizeof user, pass, sizeof pass);
	natsConnection_PublishRequestString(
		nc, subject, h_str("_INBOX.%s.forged", user), data ? data : "{}");
	bool v = violated(nc, subject);
	conn_close(nc);
	return v;
}

static bool sub_refused(const h_nats *s, const char *rel, const char *subject)
{
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	if (connect_as(&nc, s, rel) != NATS_OK)
		return false;
	natsConnection_SubscribeSync(&sub, nc, subject);
	bool v = violated(nc, subject);
	natsSubscription_Destroy(sub);
	conn_close(nc);
	return v;
}

/* ---- what must not change ------------------------------------------------------------------ */

struct snap {
	uint64_t first, last, msgs;
	bool exists;
};

/* A stream's state at s, read as rel (one that may read stream info). */
static struct snap stream_snap(const h_nats *s, const char *rel, const char *stream)
{
	struct snap sn = {0};
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	jsErrCode jerr = 0;
	if (connect_as(&nc, s, rel) == NATS_OK &&
		natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
		js_GetStreamInfo(&si, js, stream, NULL, &jerr) == NATS_OK) {
		sn.exists = true;
		sn.first = si->State.FirstSeq;
		sn.last = si->State.LastSeq;
		sn.msgs = si->State.Msgs;
	}
	jsStreamInfo_Destroy(si);
	jsCtx_Destroy(js);
	conn_close(nc);
	return sn;
}

static bool same(struct snap a, struct snap b)
{
	return a.exists && b.exists && a.first == b.first && a.last == b.last && a.msgs == b.msgs;
}

/* The latest value of one key, read through a watcher as rel at s ("" if none). */
static char *key_value(const h_nats *s, const char *rel, const char *bucket, const char *k)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	kvWatcher *w = NULL;
	kvEntry *ent = NULL;
	char *out = strdup("");
	if (connect_as(&nc, s, rel) == NATS_OK &&
		natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
		js_KeyValue(&kv, js, bucket) == NATS_OK &&
		kvStore_Watch(&w, kv, k, NULL) == NATS_OK &&
		kvWatcher_Next(&ent, w, 5000) == NATS_OK && ent) {
		free(out);
		out = strndup(kvEntry_ValueString(ent), (size_t)kvEntry_ValueLen(ent));
	}
	kvEntry_Destroy(ent);
	kvWatcher_Destroy(w);
	kvStore_Destroy(kv);
	jsCtx_Destroy(js);
	conn_close(nc);
	return out;
}

static bool not_forged(const h_nats *s, const char *rel, const char *bucket, const char *k)
{
	char *v = key_value(s, rel, bucket, k);
	bool ok = !strstr(v, FORGED);
	free(v);
	return ok;
}

/* ---- a site's leaf link spoken by hand ------------------------------------------------------ */

/* Reads one protocol line (without CRLF) into buf; false on EOF or timeout. */
static bool read_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	while (n + 1 < cap) {
		char c;
		ssize_t r = read(fd, &c, 1);
		if (r <= 0)
			return false;
		if (c == '\n')
			break;
		if (c != '\r')
			buf[n++] = c;
	}
	buf[n] = '\0';
	return true;
}

/* Skips a message's payload after an LMSG/HMSG line (its size is the last field). */
static void skip_payload(int fd, const char *line)
{
	const char *sp = strrchr(line, ' ');
	long n = sp ? strtol(sp + 1, NULL, 10) + 2 : 0;
	char b[4096];
	while (n > 0) {
		ssize_t r = read(fd, b, n < (long)sizeof b ? (size_t)n : sizeof b);
		if (r <= 0)
			return;
		n -= r;
	}
}

/* Reads until PONG ("" then), -ERR (its text), or EOF/timeout ("EOF"). */
static void read_until_pong(int fd, char *err, size_t cap)
{
	char line[8192];
	while (read_line(fd, line, sizeof line)) {
		if (!strcmp(line, "PONG")) {
			err[0] = '\0';
			return;
		}
		if (!strncmp(line, "-ERR", 4)) {
			snprintf(err, cap, "%.200s", line);
			return;
		}
		if (!strcmp(line, "PING"))
			(void)!write(fd, "PONG\r\n", 6);
		else if (!strncmp(line, "LMSG", 4) || !strncmp(line, "HMSG", 4))
			skip_payload(fd, line);
	}
	snprintf(err, cap, "EOF");
}

/* Opens a leaf connection to the hub as the leaf user of rel; -1 if refused. */
static int leaf_open(const char *rel)
{
	char user[200], pass[200], line[8192], err[256];
	if (!cred_read(rel, user, sizeof user, pass, sizeof pass))
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET,
		.sin_port = htons((uint16_t)hub->leaf_port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct timeval tv = {5, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0 ||
		!read_line(fd, line, sizeof line) || strncmp(line, "INFO ", 5) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	const char *c = h_str(
		"CONNECT {\"version\":\"2.10.27\",\"user\":\"%s\",\"pass\":\"%s\","
		"\"server_id\":\"NEVILSITE%08d\",\"name\":\"evil-site\","
		"\"cluster\":\"evil-site\",\"headers\":true,\"jetstream\":false,"
		"\"compress_mode\":\"off\",\"remote_account\":\"OUTPOST\"}\r\nPING\r\n",
		user, pass, (int)getpid());
	if (write(fd, c, strlen(c)) != (ssize_t)strlen(c)) {
		close(fd);
		return -1;
	}
	read_until_pong(fd, err, sizeof err);
	if (err[0]) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Sends one protocol line (and payload) on a fresh leaf link of rel; true when the hub
 * answers with a permission violation (it then closes the link). */
static bool leaf_refused(const char *rel, const char *proto)
{
	int fd = leaf_open(rel);
	if (fd < 0)
		return false;
	char err[512];
	const char *all = h_str("%sPING\r\n", proto);
	if (write(fd, all, strlen(all)) != (ssize_t)strlen(all)) {
		close(fd);
		return false;
	}
	read_until_pong(fd, err, sizeof err);
	close(fd);
	return strstr(err, "Permissions Violation") != NULL;
}

/* ---- servers ----------------------------------------------------------------------------------
 */

static const char *hub_text(const h_nats *s, void *arg)
{
	(void)s, (void)arg;
	char *t = h_read(cred("hub/hub.conf"));
	return t ? h_keep(t) : NULL;
}

/* A site's fragment with its leaf remote pointed at its link proxy; arg: the site whose
 * credentials to use (NULL: the server's own name). */
static const char *site_text(const h_nats *s, void *arg)
{
	return h_creds_site_conf(s, creds, arg);
}

/* ---- the command --------------------------------------------------------------------------------
 */

static void test_creds_command(void)
{
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s creds --help", bin), 0);
	T_CHECK(out && strstr(out, "--hub-leaf"));
	free(out);
	const char *x = h_path("x");
	T_EQ_INT(h_run(NULL, "%s creds --out %s 2>/dev/null", bin, x), 2);
	T_EQ_INT(h_run(NULL, "%s creds --out %s --site a 2>/dev/null", bin, x), 2);
	T_EQ_INT(h_run(NULL, "%s creds --out %s --hub-leaf nats-leaf://h:1 --site hub 2>/dev/null",
			 bin, x),
		2);
	T_EQ_INT(
		h_run(NULL, "%s creds --out %s --hub-leaf nats-leaf://u:p@h:1 --site a 2>/dev/null",
			bin, x),
		2);
	T_EQ_INT(h_run(NULL,
			 "%s creds --out %s --hub-leaf nats-leaf://h:1 --site a --host b:c "
			 "2>/dev/null",
			 bin, x),
		2);
	T_EQ_INT(h_run(NULL, "%s creds --bogus 2>/dev/null", bin), 2);
	T_EQ_INT(h_run(NULL,
			 "%s creds --out %s --hub-leaf nats-leaf://127.0.0.1:7422 --site plant-7 "
			 "--site plant-9 --host plant-7:h1 --host plant-7:h2 --host plant-9:h1",
			 bin, creds),
		0);
	/* never over existing credentials */
	T_EQ_INT(h_run(NULL, "%s creds --out %s --hub-leaf nats-leaf://h:1 --site a 2>/dev/null",
			 bin, creds),
		1);
	const char *files[] = {"hub/hub.conf", "hub/sync.creds", "hub/status.creds",
		"hub/hook.creds", "plant-7/site.conf", "plant-7/leaf.creds", "plant-7/agent.creds",
		"plant-7/status.creds", "plant-7/host-h1.creds", "plant-7/host-h2.creds",
		"hub/ci.creds", "plant-9/site.conf", "plant-9/leaf.creds", "plant-9/agent.creds",
		"plant-9/status.creds", "plant-9/host-h1.creds", "hub/fresh.key", "hub/logs.creds",
		"plant-7/logs.creds", "plant-9/logs.creds", "plant-7/fresh_signers",
		"plant-9/fresh_signers", "plant-7/seal.key", "plant-9/seal.key"};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		struct stat st;
		T_CHECK_MSG(stat(cred(files[i]), &st) == 0 && (st.st_mode & 0777) == 0600,
			"%s: missing or not 0600", files[i]);
	}
	struct stat st;
	T_CHECK(stat(creds, &st) == 0 && (st.st_mode & 0777) == 0700);
	/* Each site's key for sealed secrets: its public half is what operators seal to, and
	 * a value sealed to it opens with the private half. */
	char *sealed = NULL;
	T_CHECK(stat(cred("plant-9/seal.pub"), &st) == 0 && (st.st_mode & 0777) == 0644);
	T_EQ_INT(h_run(&sealed, "printf v | %s secret seal --name n --to plant-9=%s", bin,
			 cred("plant-9/seal.pub")),
		0);
	op_sealed sl;
	op_diags sd = {0};
	unsigned char spk[32], ssk[32], *sv = NULL;
	size_t svl = 0;
	op_err se = {0};
	T_CHECK(sealed && op_sealed_parse("s", sealed, strlen(sealed), &sl, &sd) == 0 &&
		op_seal_key_read(cred("plant-9/seal.key"), spk, ssk, &se) == 0 &&
		op_sealed_open(&sl, "plant-9", spk, ssk, &sv, &svl, &se) == 0 && svl == 1 &&
		sv[0] == 'v');
	op_secret_free(sv, svl);
	op_sealed_clear(&sl);
	op_diags_clear(&sd);
	free(sealed);
	char *k7 = h_read(cred("plant-7/seal.key")), *k9 = h_read(cred("plant-9/seal.key"));
	T_CHECK(k7 && k9 && strcmp(k7, k9) != 0);
	free(k7), free(k9);
	/* The freshness key: OpenSSH reads it, and its public half is what sites check. */
	char *pub = NULL, *signers = h_read(cred("plant-7/fresh_signers"));
	T_EQ_INT(h_run(&pub, "ssh-keygen -y -f %s", cred("hub/fresh.key")), 0);
	T_CHECK_MSG(pub && signers && strlen(pub) > 60 && strstr(signers, h_str("%.60s", pub)) &&
			strstr(signers, "namespaces=\"outpost-fresh,outpost-rollout\""),
		"%s / %s", pub, signers);
	free(pub);
	free(signers);
	/* two runs never share a password */
	T_EQ_INT(h_run(NULL,
			 "%s creds --out %s --hub-leaf nats-leaf://127.0.0.1:7422 --site plant-7",
			 bin, h_path("creds2")),
		0);
	char u1[200], p1[200];
	T_CHECK(cred_read("plant-7/agent.creds", u1, sizeof u1, p1, sizeof p1));
	char *other = h_read(h_path("creds2/plant-7/agent.creds"));
	T_CHECK(other && !strstr(other, p1) && strlen(p1) >= 40);
	free(other);
}

/* ---- the deployment runs with its credentials ------------------------------------------------ */

static pid_t start_host(int i)
{
	static const char *site[] = {"plant-7", "plant-7", "plant-9"};
	static const char *id[] = {"h1", "h2", "h1"};
	return h_spawn_sh(h_path("host%d.log", i),
		"env OUTPOST_NATS_CREDS=%s %s host --site %s --id %s --nats %s --state %s "
		"--heartbeat " HB,
		cred(h_str("%s/host-%s.creds", site[i], id[i])), bin, site[i], id[i],
		h_nats_url(i < 2 ? site7 : site9), h_path("host%d", i));
}

/* A hub of three nodes: the sites' remote lists every node; --update keeps the list;
 * nats-server takes hub.conf with a cluster block and site.conf as they are. */
static void test_creds_cluster(void)
{
	const char *d = h_path("creds-cluster");
	const char *urls = "nats-leaf://10.0.0.1:7422,nats-leaf://10.0.0.2:7422,"
			   "nats-leaf://10.0.0.3:7422";
	T_REQUIRE(h_run(NULL, "%s creds --out %s --hub-leaf %s --site a >/dev/null", bin, d,
			  urls) == 0);
	T_REQUIRE(h_run(NULL, "%s creds --update %s --site b >/dev/null", bin, d) == 0);
	for (int i = 0; i < 2; i++) {
		char *c = h_read(h_str("%s/%s/site.conf", d, i ? "b" : "a"));
		T_CHECK_MSG(c && strstr(c, "urls: [") && strstr(c, "@10.0.0.1:7422\"") &&
				strstr(c, "@10.0.0.2:7422\"") && strstr(c, "@10.0.0.3:7422\""),
			"%s", c ? c : "");
		free(c);
	}
	h_write(h_str("%s/node.conf", d),
		"server_name: hub-1\nlisten: \"127.0.0.1:4222\"\n"
		"jetstream { domain: hub, store_dir: \"%s/store\" }\n"
		"cluster { name: hub, listen: \"127.0.0.1:6222\", routes: "
		"[\"nats-route://127.0.0.1:6223\"] }\n"
		"leafnodes { listen: \"127.0.0.1:7422\" }\ninclude \"hub/hub.conf\"\n",
		d);
	h_write(h_str("%s/site-a.conf", d),
		"server_name: a\njetstream { domain: a, store_dir: \"%s/store-a\" }\n"
		"include \"a/site.conf\"\n",
		d);
	T_CHECK(h_run(NULL, "nats-server -t -c %s/node.conf", d) == 0);
	T_CHECK(h_run(NULL, "nats-server -t -c %s/site-a.conf", d) == 0);
}

/* `creds --update`: one site or host added or removed, every other secret kept byte for
 * byte, the hub's freshness key too; a change that cannot be made changes nothing. */
#define SUMS "cd %s && find . -type f | sort | xargs sha256sum"

static void test_creds_update(void)
{
	const char *d = h_path("creds-upd");
	T_REQUIRE(
		h_run(NULL,
			"%s creds --out %s --hub-leaf nats-leaf://127.0.0.1:7422 --site a --site b "
			"--host a:h1 >/dev/null",
			bin, d) == 0);
	char *sum0 = NULL, *sum1 = NULL, *sum2 = NULL;
	T_REQUIRE(h_run(&sum0, SUMS, d) == 0);
	/* refused: nothing changes */
	T_EQ_INT(h_run(NULL, "%s creds --update %s --remove-site nope 2>/dev/null", bin, d), 2);
	T_EQ_INT(h_run(NULL, "%s creds --update %s --site a 2>/dev/null", bin, d), 2);
	T_EQ_INT(h_run(NULL, "%s creds --update %s --host zz:h1 2>/dev/null", bin, d), 2);
	T_EQ_INT(h_run(NULL, "%s creds --update %s 2>/dev/null", bin, d), 2);
	T_REQUIRE(h_run(&sum1, SUMS, d) == 0);
	T_EQ_STR(sum1, sum0);
	free(sum1);
	/* add a site and a host */
	char *out = NULL;
	T_EQ_INT(h_run(&out, "%s creds --update %s --site c --host b:h2", bin, d), 0);
	T_CHECK_MSG(out && strstr(out, "(14 kept, 5 new)"), "%s", out ? out : "");
	free(out);
	T_REQUIRE(h_run(&sum1, SUMS, d) == 0);
	const char *same[] = {"./hub/sync.creds", "./hub/status.creds", "./hub/hook.creds",
		"./hub/fresh.key", "./a/leaf.creds", "./a/agent.creds", "./a/host-h1.creds",
		"./b/agent.creds", "./a/site.conf", "./b/fresh_signers", "./a/seal.key",
		"./b/seal.pub"};
	for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
		const char *a = strstr(sum0, same[i]), *b = strstr(sum1, same[i]);
		T_CHECK_MSG(a && b && !strncmp(a - 66, b - 66, 64), "%s changed", same[i]);
	}
	T_CHECK(strstr(sum1, "./c/agent.creds") && strstr(sum1, "./b/host-h2.creds") &&
		strstr(sum1, "./c/seal.key"));
	char *hc = h_read(h_str("%s/hub/hub.conf", d)), *c = h_read(h_str("%s/c/site.conf", d));
	T_CHECK(hc && strstr(hc, "leaf.c") && strstr(hc, "leaf.a"));
	T_CHECK(c && strstr(c, "nats-leaf://leaf.c:") && strstr(c, "@127.0.0.1:7422"));
	free(hc), free(c);
	/* remove a site (its hosts with it) and a host; the directory named with a slash */
	T_EQ_INT(h_run(NULL, "%s creds --update %s/ --remove-site b --remove-host a:h1 >/dev/null",
			 bin, d),
		0);
	T_REQUIRE(h_run(&sum2, SUMS, d) == 0);
	T_CHECK(!strstr(sum2, "./b/") && !strstr(sum2, "host-h1"));
	const char *a = strstr(sum0, "./a/agent.creds"), *b = strstr(sum2, "./a/agent.creds");
	T_CHECK(a && b && !strncmp(a - 66, b - 66, 64));
	hc = h_read(h_str("%s/hub/hub.conf", d));
	T_CHECK(hc && !strstr(hc, "leaf.b") && strstr(hc, "leaf.c"));
	free(hc);
	struct stat st;
	T_CHECK(stat(d, &st) == 0 && (st.st_mode & 0777) == 0700);
	T_CHECK(stat(h_str("%s.new-1", d), &st) != 0);
	free(sum0), free(sum1), free(sum2);
}

static void test_setup(void)
{
	h_nats_cfg hc = {.text = hub_text};
	h_nats_cfg sc = {.text = site_text, .own_leafnodes = true};
	hub = h_hub_start_cfg(&hc);
	T_REQUIRE(hub);
	site7 = h_site_start_cfg(hub, "plant-7", &sc);
	site9 = h_site_start_cfg(hub, "plant-9", &sc);
	T_REQUIRE(site7 && site9);
	T_REQUIRE(h_leaf_wait(site7, WAIT_MS) && h_leaf_wait(site9, WAIT_MS));
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && repo);
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	h_repo_write(repo, "apps/web.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: web\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s1\"]\n"
		"      traits:\n        - type: spreadscaler\n          properties:\n"
		"            instances: 2\n",
		tag);
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = key, .msg = "web"}));
	sync_pid = h_spawn_sh(h_path("sync.log"),
		"env OUTPOST_NATS_CREDS=%s %s sync --repo %s --trust %s --state %s --nats %s "
		"--interval 1h --fresh-key %s --fresh-every 1s --fresh-ttl 30s",
		cred("hub/sync.creds"), bin, repo->path, trust, h_path("sync-state"),
		h_nats_url(hub), cred("hub/fresh.key"));
	/* plant-7 verifies at the edge and checks freshness with the key creds wrote. */
	for (int i = 0; i < 2; i++) {
		const char *name = i ? "plant-9" : "plant-7";
		agent_pid[i] = h_spawn_sh(h_path("agent-%s.log", name),
			"env OUTPOST_NATS_CREDS=%s %s agent --site %s --nats %s --state %s "
			"--host-timeout 1s --resync 2s%s",
			cred(h_str("%s/agent.creds", name)), bin, name,
			h_nats_url(i ? site9 : site7), h_path("agent-%s", name),
			i ? ""
			  : h_str(" --trust %s --fresh-signers %s", trust,
				    cred("plant-7/fresh_signers")));
	}
	for (int i = 0; i < 3; i++)
		host_pid[i] = start_host(i);
	T_REQUIRE(sync_pid > 0 && agent_pid[0] > 0 && agent_pid[1] > 0 && host_pid[2] > 0);
}

static void test_signed_push_runs_everywhere(void)
{
	int want = 4; /* two instances at each site */
	T_CHECK(h_wait_workloads(tag, NULL, want, WAIT_MS));
}

static bool wait_status_as(const h_nats *server, const char *rel, const char *want, bool json)
{
	return h_wait_output(want, WAIT_MS, "env OUTPOST_NATS_CREDS=%s %s status --nats %s%s 2>&1",
		cred(rel), bin, h_nats_url(server), json ? " --json" : "");
}

static bool wait_status(const h_nats *server, const char *rel, const char *want)
{
	return wait_status_as(server, rel, want, false);
}

static void test_status_readers(void)
{
	/* plant-7 verified the revision itself and holds a fresh record signed by the hub's
	 * freshness key; plant-9 takes the hub's word and checks no freshness */
	T_CHECK(wait_status_as(site7, "plant-7/status.creds", "\"verify\": \"edge\"", true));
	T_CHECK(wait_status_as(site7, "plant-7/status.creds", "\"freshness\": \"fresh\"", true));
	T_CHECK(wait_status_as(site9, "plant-9/status.creds", "\"freshness\": \"off\"", true));
	/* both sites report their status to the hub through their leaf links */
	T_CHECK(wait_status(hub, "hub/status.creds", "hub sync: accepted"));
	T_CHECK(wait_status(hub, "hub/status.creds", "plant-7          web"));
	T_CHECK(wait_status(hub, "hub/status.creds", "plant-9          web"));
	T_CHECK(wait_status(site7, "plant-7/status.creds", "2/2"));
	T_CHECK(wait_status(site9, "plant-9/status.creds", "2/2"));
}

/* outpost logs with the logs identities, from the hub (across the leaf link and the site's
 * account) and at a site. The workloads print nothing: a header per instance is the
 * answer of its host. */
static void test_logs_readers(void)
{
	const struct {
		const h_nats *s;
		const char *cred, *site;
	} ok[] = {{hub, "hub/logs.creds", "plant-7"}, {hub, "hub/logs.creds", "plant-9"},
		{site7, "plant-7/logs.creds", "plant-7"}};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		T_CHECK_MSG(
			h_wait_output("==> web.main.", WAIT_MS,
				"env OUTPOST_NATS_CREDS=%s %s logs --site %s --app web --nats %s "
				"2>&1",
				cred(ok[i].cred), bin, ok[i].site, h_nats_url(ok[i].s)),
			"%s: outpost logs --site %s", ok[i].cred, ok[i].site);
}

/* The agent's way past a stalled mirror (agent/site/mirror.c): it reads the hub's bucket
 * across the link itself, through op_bus_connect with its credential file. */
static int count_key(void *arg, const char *k, const char *val, size_t len, bool del)
{
	(void)val, (void)len;
	if (!del)
		*(int *)arg |= !strcmp(k, "rev") ? 1 : !strcmp(k, "app.web") ? 2 : 0;
	return 0;
}

static void test_agent_reads_hub_directly(void)
{
	op_bus b;
	op_err e = {0};
	jsCtx *js = NULL;
	uint64_t last = 0;
	int n = 0;
	setenv("OUTPOST_NATS_CREDS", cred("plant-7/agent.creds"), 1);
	int rc = op_bus_connect(&b, h_nats_url(site7), "test-agent", "plant-7", 3000, &e);
	unsetenv("OUTPOST_NATS_CREDS");
	T_CHECK_MSG(rc == 0, "connect as plant-7's agent: %s", e.msg);
	if (rc)
		return;
	T_CHECK_MSG(op_site_hub_js(&b, 2000, &js, &e) == 0 &&
			op_site_hub_last(js, &last, &e) == 0 && last > 0,
		"stream info of the hub's bucket: %s", e.msg);
	T_CHECK_MSG(op_site_hub_read(js, 2000, 0, last, count_key, &n, &e) == 0 && n == 3,
		"read the hub's bucket (direct gets): keys seen %d of 3, %s", n, e.msg);
	if (js)
		jsCtx_Destroy(js);
	op_bus_close(&b);
}

/* ---- the artifact store ---------------------------------------------------------------------- */

#define OBJ "OBJ_" OP_STORE_BUCKET

/* `outpost artifact put` as rel: the digest it printed (hex) */
static bool put_as(const char *rel, const char *file, char hex[65])
{
	char *out = NULL;
	int rc = h_run(&out, "env OUTPOST_NATS_CREDS=%s %s artifact put --nats %s %s 2>&1",
		cred(rel), bin, h_nats_url(hub), file);
	const char *p = out ? strstr(out, "sha256:") : NULL;
	bool ok = rc == 0 && p && strlen(p) >= 71;
	if (ok)
		snprintf(hex, 65, "%.64s", p + 7);
	else
		printf("    artifact put as %s (%d): %s\n", rel, rc, out ? out : "");
	free(out);
	return ok;
}

static char *art_ls(const char *rel)
{
	char *out = NULL;
	int rc = h_run(&out, "env OUTPOST_NATS_CREDS=%s %s artifact ls --nats %s 2>&1", cred(rel),
		bin, h_nats_url(hub));
	if (rc != 0) {
		printf("    artifact ls as %s (%d): %s\n", rel, rc, out ? out : "");
		free(out);
		return NULL;
	}
	return out;
}

static int count_bytes(void *arg, const void *buf, size_t len)
{
	(void)buf;
	*(uint64_t *)arg += len;
	return 0;
}

/* plant-7's copy read as a host reads it, with store.c's calls and a host's credential
 * file: the object with hex's content is there, whole, its digest checked. */
static bool host_reads(void *arg)
{
	const char *hex = arg;
	op_bus b;
	op_err e = {0};
	setenv("OUTPOST_NATS_CREDS", cred("plant-7/host-h1.creds"), 1);
	int rc = op_bus_connect(&b, h_nats_url(site7), "test-host", NULL, 3000, &e);
	unsetenv("OUTPOST_NATS_CREDS");
	if (rc)
		return false;
	op_store s;
	uint8_t sha[32];
	op_objmeta m;
	memset(&m, 0, sizeof m);
	uint64_t n = 0;
	bool ok = op_art_digest_parse(hex, sha) == 0 &&
		op_store_open_at(&s, &b, OP_STORE_BUCKET, NULL, false, &e) == 0;
	if (ok) {
		ok = op_store_find(&s, sha, &m, &e) == 0 &&
			op_store_read(&s, &m, count_bytes, &n, &e) == 0 && n == m.size && n > 0;
		op_objmeta_clear(&m);
		op_store_close(&s);
	}
	op_bus_close(&b);
	return ok;
}

static char tool_hex[65]; /* the artifact test_artifacts pinned */

/* ci puts an artifact and lists the store; an app at plant-7 pins it; plant-7 stages it
 * through its leaf link (sources delivered on outpost-artifacts.plant-7) and its host
 * reads it there; sync's identity runs gc. No role logs a violation meanwhile
 * (test_no_violations_in_use). */
static void test_artifacts(void)
{
	const char *file = h_path("tool.bin"), *spare = h_path("spare.bin");
	h_write(file, "#!/bin/sh\n# the tool of run %s\n", tag);
	h_write(spare, "an artifact no revision references, run %s\n", tag);
	char hex[65], spare_hex[65];
	T_REQUIRE(put_as("hub/ci.creds", file, hex));
	T_REQUIRE(put_as("hub/ci.creds", spare, spare_hex));
	char *ls = art_ls("hub/ci.creds");
	T_CHECK_MSG(ls && strstr(ls, hex) && strstr(ls, spare_hex), "%s", ls ? ls : "");
	free(ls);

	h_repo_write(repo, "apps/tool.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: tool\n"
		"spec:\n  policies:\n    - name: where\n      type: placement\n"
		"      properties:\n        sites: [plant-7]\n"
		"  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s7\"]\n"
		"        artifact: {path: %s, sha256: %s}\n"
		"      traits:\n        - type: spreadscaler\n          properties:\n"
		"            instances: 1\n",
		tag, file, hex);
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = key, .msg = "tool"}));
	T_EQ_INT(h_run(NULL, "env OUTPOST_NATS_CREDS=%s %s sync --now --nats %s >/dev/null 2>&1",
			 cred("hub/hook.creds"), bin, h_nats_url(hub)),
		0);
	T_CHECK_MSG(h_wait_until(host_reads, hex, WAIT_MS),
		"plant-7's host cannot read the artifact staged there");
	T_CHECK(wait_status_as(site7, "plant-7/status.creds", "\"staged\"", true));
	T_CHECK(h_wait_workloads(tag, "7", 1, WAIT_MS));
	ls = art_ls("hub/ci.creds"); /* the apps of the accepted revision: read by ci */
	T_CHECK_MSG(ls && strstr(ls, h_str("%s  ", hex)) && strstr(ls, "tool"), "%s", ls ? ls : "");
	free(ls);

	/* gc with sync's identity: the unreferenced one goes, the pinned one stays */
	char *out = NULL;
	T_EQ_INT(h_run(&out,
			 "env OUTPOST_NATS_CREDS=%s %s artifact gc --keep 1 --min-age 0 --nats %s "
			 "2>&1",
			 cred("hub/sync.creds"), bin, h_nats_url(hub)),
		0);
	T_CHECK_MSG(out && strstr(out, h_str("deleted sha256:%s", spare_hex)) && !strstr(out, hex),
		"%s", out ? out : "");
	free(out);
	ls = art_ls("hub/ci.creds");
	T_CHECK_MSG(ls && strstr(ls, hex) && !strstr(ls, spare_hex), "%s", ls ? ls : "");
	free(ls);
	snprintf(tool_hex, sizeof tool_hex, "%s", hex);
}

/* ci: the store, and reading the accepted revision, nothing else; a host: the site's
 * copy, read only; no leaf gets another site's deliveries. */
static void test_artifacts_forbidden(void)
{
	const char *c = "hub/ci.creds";
	struct snap hub0 = stream_snap(hub, "hub/sync.creds", "KV_outpost");
	struct snap obj0 = stream_snap(hub, c, OBJ);
	struct snap copy0 = stream_snap(site7, "plant-7/agent.creds", OBJ);
	T_REQUIRE(hub0.exists && obj0.exists && copy0.exists);
	bool r = pub_refused(hub, c, "$KV.outpost.app.web", FORGED);
	record("hub ci", "put desired state", r, "hub: publish permission",
		same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
	r = pub_refused(hub, c, "$JS.API.STREAM.PURGE.KV_outpost", NULL);
	record("hub ci", "purge the hub's bucket", r, "hub: publish permission",
		same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
	r = pub_refused(hub, c, "$JS.API.STREAM.INFO.KV_outpost-status", NULL);
	record("hub ci", "read the status bucket", r, "hub: publish permission", true);
	r = pub_refused(hub, c, "$KV.outpost-status.hub.sync", FORGED);
	record("hub ci", "write hub.sync", r, "hub: publish permission",
		not_forged(hub, "hub/status.creds", "outpost-status", "hub.sync"));
	r = pub_refused(hub, c, "$JS.API.STREAM.DELETE." OBJ, NULL);
	record("hub ci", "delete the artifact store", r, "hub: publish permission",
		same(obj0, stream_snap(hub, c, OBJ)));
	r = pub_refused(hub, c, "$JS.API.STREAM.UPDATE." OBJ, NULL);
	record("hub ci", "change the artifact store's config", r, "hub: publish permission",
		same(obj0, stream_snap(hub, c, OBJ)));
	r = pub_refused(hub, c, "$JS.plant-7.API.STREAM.PURGE." OBJ, NULL);
	record("hub ci", "purge plant-7's staged copy", r, "hub: publish permission",
		same(copy0, stream_snap(site7, "plant-7/agent.creds", OBJ)));
	r = pub_refused(hub, c, "outpost.hub.sync.now", NULL);
	record("hub ci", "trigger a sync pass", r, "hub: publish permission", true);

	/* a host: the site's copy, read only */
	c = "plant-7/host-h1.creds";
	const char *host_subjects[][2] = {
		{"$JS.API.STREAM.PURGE." OBJ, "purge the staged copy"},
		{"$JS.API.STREAM.DELETE." OBJ, "delete the staged copy"},
		{"$JS.API.STREAM.UPDATE." OBJ, "change the staged copy's sources"},
		{"$JS.API.STREAM.MSG.DELETE." OBJ, "delete a staged chunk"},
		{"$O." OP_STORE_BUCKET ".M.Zm9yZ2Vk", "write an object meta"},
		{"$JS.hub.API.STREAM.INFO." OBJ, "read the hub's store"},
	};
	for (size_t i = 0; i < sizeof host_subjects / sizeof *host_subjects; i++) {
		r = pub_refused(site7, c, host_subjects[i][0], FORGED);
		record("plant-7 host h1", host_subjects[i][1], r, "site: publish permission",
			same(copy0, stream_snap(site7, "plant-7/agent.creds", OBJ)));
	}
	T_CHECK(host_reads(tool_hex)); /* and still reads it */

	/* plant-9's leaf link receives nothing delivered to plant-7 */
	r = leaf_refused("plant-9/leaf.creds", "LS+ outpost-artifacts.plant-7.S.x\r\n");
	record("plant-9 leaf", "receive plant-7's artifact deliveries", r,
		"hub: leaf subscribe permission", true);
}

/* No role logged a permission violation: every list holds what its role needs. */
static void test_no_violations_in_use(void)
{
	char *out = NULL;
	h_run(&out, "grep -h 'Violation' %s/nats-*/server.log %s/*.log 2>/dev/null", h_tmpdir(),
		h_tmpdir());
	T_CHECK_MSG(!out || !*out, "violations while the roles ran:\n%s", out ? out : "");
	free(out);
}

/* ---- forbidden: each credential against the real servers --------------------------------------
 */

/* A connection as rel to s is refused by the server's authorization. */
static bool auth_refused(const h_nats *s, const char *rel)
{
	natsConnection *nc = NULL;
	natsStatus st = connect_as(&nc, s, rel);
	conn_close(nc);
	return st == NATS_CONNECTION_AUTH_FAILED || st == NATS_NOT_PERMITTED;
}

static void test_wrong_identity_refused(void)
{
	/* a leaf identity is for leaf links only; agents and hosts exist at their site only */
	record("plant-7 leaf", "connect to the hub as a client",
		auth_refused(hub, "plant-7/leaf.creds"), "hub: leaf connections only", true);
	record("plant-7 agent", "connect to the hub", auth_refused(hub, "plant-7/agent.creds"),
		"hub: no such user", true);
	record("plant-7 host h1", "connect to plant-9's server",
		auth_refused(site9, "plant-7/host-h1.creds"), "plant-9: no such user", true);
	record("(none)", "connect to a site without credentials", auth_refused(site7, NULL),
		"site: authorization", true);
}

static void test_agent_forbidden(void)
{
	const char *c = "plant-7/agent.creds";
	struct snap hub0 = stream_snap(hub, "hub/sync.creds", "KV_outpost");
	struct snap s9 = stream_snap(site9, "plant-9/agent.creds", "KV_outpost");
	T_REQUIRE(hub0.exists && hub0.last > 0 && s9.exists);
	const char *hub_subjects[][2] = {
		{"$JS.hub.API.$KV.outpost.app.web",
			"put the hub's desired state (via $JS.hub.API)"},
		{"$KV.outpost.app.web", "put desired state ($KV at its site)"},
		{"$JS.hub.API.STREAM.PURGE.KV_outpost", "purge the hub's bucket"},
		{"$JS.hub.API.STREAM.DELETE.KV_outpost", "delete the hub's bucket"},
		{"$JS.hub.API.STREAM.MSG.DELETE.KV_outpost",
			"delete a message of the hub's bucket"},
		{"$JS.hub.API.STREAM.UPDATE.KV_outpost", "update the hub's bucket"},
		{"$JS.plant-9.API.STREAM.PURGE.KV_outpost", "purge plant-9's mirror"},
	};
	for (size_t i = 0; i < sizeof hub_subjects / sizeof *hub_subjects; i++) {
		bool r = pub_refused(site7, c, hub_subjects[i][0], "{\"v\":\"" FORGED "\"}");
		record("plant-7 agent", hub_subjects[i][1], r, "site: publish permission",
			same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")) &&
				same(s9, stream_snap(site9, "plant-9/agent.creds", "KV_outpost")));
	}
	bool r = pub_refused(site7, c, "$JS.hub.API.$KV.outpost-status.site.plant-9.agent", FORGED);
	record("plant-7 agent", "write plant-9's status at the hub", r, "site: publish permission",
		not_forged(hub, "hub/status.creds", "outpost-status", "site.plant-9.agent"));
	char forged[256];
	snprintf(forged, sizeof forged,
		"{\"v\":1,\"site\":\"plant-9\",\"put\":{\"site.plant-9.agent\":{\"v\":\"%s\"}}}",
		FORGED);
	r = pub_refused(site7, c, "outpost.hub.status.plant-9", forged);
	record("plant-7 agent", "report plant-9's status to the hub", r, "site: publish permission",
		not_forged(hub, "hub/status.creds", "outpost-status", "site.plant-9.agent"));
	r = pub_refused(site7, c, "$KV.outpost-status.site.plant-9.agent", FORGED);
	record("plant-7 agent", "write plant-9's status key at its site", r,
		"site: publish permission",
		not_forged(site7, "plant-7/status.creds", "outpost-status", "site.plant-9.agent"));
	r = pub_refused(site7, c, "outpost.plant-9.host.h1.cmd", FORGED);
	record("plant-7 agent", "command plant-9's host", r, "site: publish permission", true);
	r = sub_refused(site7, c, "outpost.hub.site.announce");
	record("plant-7 agent", "answer announces in sync's place", r, "site: subscribe permission",
		true);
}

/* Reads from a raw leaf link until PONG; marks which replies ("<prefix>.<n>") came,
 * false on EOF or an error. */
static bool leaf_collect(int fd, const char *prefix, bool *got, int n, bool *other)
{
	char line[8192];
	size_t pl = strlen(prefix);
	while (read_line(fd, line, sizeof line)) {
		if (!strcmp(line, "PONG"))
			return true;
		if (!strncmp(line, "-ERR", 4))
			return false;
		if (!strcmp(line, "PING")) {
			(void)!write(fd, "PONG\r\n", 6);
			continue;
		}
		if (strncmp(line, "LMSG ", 5) && strncmp(line, "HMSG ", 5))
			continue;
		const char *subj = line + 5;
		if (!strncmp(subj, prefix, pl) && subj[pl] == '.') {
			int i = (int)strtol(subj + pl + 1, NULL, 10);
			if (i >= 0 && i < n)
				got[i] = true;
		} else if (other && strncmp(subj, "_INBOX.agent.plant-7.", 21) != 0) {
			*other = true;
		}
		skip_payload(fd, line);
	}
	return false;
}

/* One request on a fresh raw leaf link; the reply's payload (caller frees), NULL if none
 * came before the link closed or timed out. */
static char *leaf_request(const char *rel, const char *subject, const char *body)
{
	int fd = leaf_open(rel);
	if (fd < 0)
		return NULL;
	const char *p = h_str(
		"LS+ _INBOX.agent.plant-7.evil.r\r\nLMSG %s _INBOX.agent.plant-7.evil.r "
		"%zu\r\n%s\r\n",
		subject, strlen(body), body);
	char line[8192], *out = NULL;
	if (write(fd, p, strlen(p)) != (ssize_t)strlen(p)) {
		close(fd);
		return NULL;
	}
	while (!out && read_line(fd, line, sizeof line)) {
		if (!strcmp(line, "PING")) {
			(void)!write(fd, "PONG\r\n", 6);
			continue;
		}
		if (strncmp(line, "LMSG ", 5) && strncmp(line, "HMSG ", 5))
			continue;
		const char *sp = strrchr(line, ' ');
		long n = sp ? strtol(sp + 1, NULL, 10) : 0;
		bool mine = !strncmp(line + 5, "_INBOX.agent.plant-7.evil.r ", 28);
		char *buf = n >= 0 && n < (1 << 20) ? malloc((size_t)n + 3) : NULL;
		long got = 0;
		while (buf && got < n + 2) {
			ssize_t r = read(fd, buf + got, (size_t)(n + 2 - got));
			if (r <= 0)
				break;
			got += r;
		}
		if (buf && got == n + 2 && mine) {
			buf[n] = '\0';
			out = buf;
		} else {
			free(buf);
		}
	}
	close(fd);
	return out;
}

/* A consumer of the hub's KV_outpost, from the monitoring port: how many messages it
 * delivered and whether anything listens on its deliver subject. */
static bool hub_consumer(const char *name, long long *delivered, bool *bound)
{
	char *t = h_nats_monitor_text(hub, "/jsz?acc=OUTPOST&streams=true&consumers=true");
	json_t *j = t ? json_loads(t, JSON_DECODE_INT_AS_REAL, NULL) : NULL;
	free(t);
	bool found = false;
	json_t *accs = json_object_get(j, "account_details");
	for (size_t a = 0; a < json_array_size(accs); a++) {
		json_t *sts = json_object_get(json_array_get(accs, a), "stream_detail");
		for (size_t i = 0; i < json_array_size(sts); i++) {
			json_t *cs = json_object_get(json_array_get(sts, i), "consumer_detail");
			for (size_t k = 0; k < json_array_size(cs); k++) {
				json_t *cd = json_array_get(cs, k);
				const char *n = json_string_value(json_object_get(cd, "name"));
				if (!n || strcmp(n, name))
					continue;
				found = true;
				*delivered = (long long)json_number_value(json_object_get(
					json_object_get(cd, "delivered"), "consumer_seq"));
				*bound = json_is_true(json_object_get(cd, "push_bound"));
			}
		}
	}
	json_decref(j);
	return found;
}

/* A compromised site server speaks the leaf protocol as it likes. What it sends lands
 * in its site's account at the hub, which reaches the hub's JetStream only through the
 * exports of OUTPOST, and of sync only its own site's report subject: everything else
 * goes nowhere (no responder, nothing stored). */
static void test_leaf_forbidden(void)
{
	const char *c = "plant-7/leaf.creds";
	struct snap hub0 = stream_snap(hub, "hub/sync.creds", "KV_outpost");
	struct snap m9 = stream_snap(site9, "plant-9/agent.creds", "KV_outpost");
	char *sync0 = key_value(hub, "hub/status.creds", "outpost-status", "hub.sync");
	T_REQUIRE(hub0.exists && m9.exists && *sync0);
	static const char *subjects[][2] = {
		{"$JS.hub.API.$KV.outpost.app.web", "put desired state ($JS.hub.API.$KV)"},
		{"$KV.outpost.app.web", "put desired state ($KV)"},
		{"$JS.hub.API.STREAM.PURGE.KV_outpost", "purge the hub's bucket"},
		{"$JS.hub.API.STREAM.DELETE.KV_outpost", "delete the hub's bucket"},
		{"$JS.hub.API.STREAM.MSG.DELETE.KV_outpost",
			"delete a message of the hub's bucket"},
		{"$JS.hub.API.STREAM.UPDATE.KV_outpost", "update the hub's bucket"},
		{"$JS.hub.API.STREAM.CREATE.KV_evil", "create a stream at the hub"},
		{"$JS.API.STREAM.PURGE.KV_outpost", "purge the hub's bucket ($JS.API)"},
		{"$JS.hub.API.STREAM.PURGE.KV_outpost-status", "purge the hub's status"},
		{"$JS.hub.API.$KV.outpost-status.site.plant-9.agent",
			"write plant-9's status at the hub"},
		{"$KV.outpost-status.site.plant-9.agent", "write plant-9's status key ($KV)"},
		{"$KV.outpost-status.hub.sync", "write hub.sync"},
		{"$JS.plant-9.API.STREAM.PURGE.KV_outpost", "purge plant-9's mirror (via the hub)"},
		{"outpost.plant-9.host.h1.cmd", "command plant-9's host (via the hub)"},
		{"outpost.hub.sync.now", "trigger a sync pass"},
		{"outpost.hub.status.plant-9", "report as plant-9 (a well-formed report)"},
	};
	enum { N = sizeof subjects / sizeof *subjects };
	/* what sync would take from plant-9's own link */
	const char *report = "{\"v\":1,\"site\":\"plant-9\",\"put\":{\"site.plant-9.agent\":"
			     "{\"forged\":\"" FORGED "\"}}}";
	int fd = leaf_open(c);
	T_REQUIRE(fd >= 0); /* the leaf credential links */
	const char *body = "{\"forged\":\"" FORGED "\"}";
	char *proto = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&proto, &len);
	fputs("LS+ _INBOX.agent.plant-7.evil.>\r\n", f);
	for (int i = 0; i < N; i++) {
		const char *b = strncmp(subjects[i][0], "outpost.hub.status.", 19) ? body : report;
		fprintf(f, "LMSG %s _INBOX.agent.plant-7.evil.%d %zu\r\n%s\r\n", subjects[i][0], i,
			strlen(b), b);
	}
	/* the control: what a site needs is answered on the same link */
	fprintf(f, "LMSG $JS.hub.API.STREAM.INFO.KV_outpost _INBOX.agent.plant-7.evil.%d 0\r\n\r\n",
		N);
	fclose(f);
	bool got[N + 1] = {false}, ok = write(fd, proto, len) == (ssize_t)len;
	free(proto);
	/* the control's answer, then a round trip: every forbidden one was handled before */
	for (long long end = h_now_ms() + 10000; ok && !got[N] && h_now_ms() < end;)
		ok = write(fd, "PING\r\n", 6) == 6 &&
			leaf_collect(fd, "_INBOX.agent.plant-7.evil", got, N + 1, NULL);
	close(fd);
	T_CHECK_MSG(ok && got[N], "the control request was not answered on the leaf link");
	char *sync1 = key_value(hub, "hub/status.creds", "outpost-status", "hub.sync");
	bool same_sync = !strcmp(sync0, sync1);
	free(sync0);
	free(sync1);
	char *h9 = h_read(h_path("host2.log"));
	bool h9_quiet = h9 && !strstr(h9, "command refused");
	free(h9);
	for (int i = 0; i < N; i++) {
		bool unchanged = same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")) &&
			same(m9, stream_snap(site9, "plant-9/agent.creds", "KV_outpost")) &&
			not_forged(
				hub, "hub/status.creds", "outpost-status", "site.plant-9.agent") &&
			same_sync && h9_quiet;
		record("plant-7 leaf", subjects[i][1], ok && !got[i],
			"hub: account SITE_plant-7, not imported", unchanged);
	}

	/* A consumer on the desired state, which a site may create, set to deliver where it
	 * must not: into the bucket itself, or onto JetStream's API. */
	static const char *targets[][2] = {
		{"$KV.outpost.app.web", "rewrite desired state with a consumer's deliveries"},
		{"$JS.hub.API.$KV.outpost.app.web",
			"rewrite desired state with deliveries (domain)"},
		{"$JS.API.STREAM.PURGE.KV_outpost", "purge the hub's bucket with deliveries"},
	};
	for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) {
		const char *cfg = h_str(
			"{\"stream_name\":\"KV_outpost\",\"config\":{"
			"\"deliver_policy\":\"all\",\"ack_policy\":\"none\","
			"\"deliver_subject\":\"%s\",\"inactive_threshold\":5000000000}}",
			targets[i][0]);
		char *rep = leaf_request(c, "$JS.hub.API.CONSUMER.CREATE.KV_outpost", cfg);
		json_t *j = rep ? json_loads(rep, 0, NULL) : NULL;
		const char *name = json_string_value(json_object_get(j, "name"));
		long long delivered = -1;
		bool bound = true, listed = name && hub_consumer(name, &delivered, &bound);
		bool r = (j && json_object_get(j, "error")) || (listed && delivered == 0 && !bound);
		record("plant-7 leaf", targets[i][1], r,
			name ? "no interest: OUTPOST imports none" : "JetStream: delivery cycle",
			same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
		json_decref(j);
		free(rep);
	}

	/* subscriptions: a literal one is refused outright (and the link closed) */
	bool r = leaf_refused(c, "LS+ _INBOX.agent.plant-9.XXXX.1\r\n");
	record("plant-7 leaf", "receive plant-9's agent replies", r,
		"hub: leaf subscribe permission", true);
	r = leaf_refused(c, "LS+ $JS.plant-9.API.CONSUMER.CREATE.KV_outpost-status\r\n");
	record("plant-7 leaf", "receive the hub's requests to plant-9", r,
		"hub: leaf subscribe permission", true);
	r = leaf_refused(c, "LS+ outpost.hub.site.announce\r\n");
	record("plant-7 leaf", "answer announces in sync's place", r,
		"hub: leaf subscribe permission", true);
	/* a wildcard one is taken, but nothing of plant-9's is delivered on it */
	fd = leaf_open(c);
	T_REQUIRE(fd >= 0);
	bool other = false, dummy[1] = {false};
	r = write(fd, "LS+ _INBOX.>\r\nPING\r\n", 20) == 20 &&
		leaf_collect(fd, "-", dummy, 1, &other);
	natsConnection *a9 = NULL;
	natsMsg *m = NULL;
	T_REQUIRE(connect_as(&a9, site9, "plant-9/agent.creds") == NATS_OK);
	natsStatus st = natsConnection_RequestString(
		&m, a9, "$JS.hub.API.STREAM.INFO.KV_outpost", "", 5000);
	natsMsg_Destroy(m);
	conn_close(a9);
	T_CHECK_MSG(st == NATS_OK, "plant-9's agent got no answer from the hub: %s",
		natsStatus_GetText(st));
	r = r && write(fd, "PING\r\n", 6) == 6 && leaf_collect(fd, "-", dummy, 1, &other);
	close(fd);
	record("plant-7 leaf", "receive plant-9's replies (wildcard _INBOX.>)", r && !other,
		"hub: delivery permission", st == NATS_OK);
}

/* A host's heartbeat for another host: the agent's view never gets it. The marker, a
 * heartbeat of its own sent after it on the same connection, proves the forged one
 * would have arrived by then. */
static void test_host_forbidden(void)
{
	const char *c = "plant-7/host-h1.creds";
	natsConnection *obs = NULL, *nc = NULL;
	natsSubscription *sub = NULL;
	T_REQUIRE(connect_as(&obs, site7, "plant-7/agent.creds") == NATS_OK);
	T_REQUIRE(natsConnection_SubscribeSync(&sub, obs, "outpost.plant-7.hb.*") == NATS_OK);
	natsConnection_FlushTimeout(obs, 2000);
	T_REQUIRE(connect_as(&nc, site7, c) == NATS_OK);
	natsConnection_PublishString(nc, "outpost.plant-7.hb.h2", "{\"v\":1,\"" FORGED "\":1}");
	bool r = violated(nc, "outpost.plant-7.hb.h2");
	natsConnection_PublishString(nc, "outpost.plant-7.hb.h1", "{\"v\":1,\"marker\":1}");
	natsConnection_FlushTimeout(nc, 2000);
	bool forged = false, marker = false;
	while (!marker) {
		natsMsg *m = NULL;
		if (natsSubscription_NextMsg(&m, sub, 5000) != NATS_OK)
			break;
		const char *d = natsMsg_GetData(m);
		forged |= strstr(d, FORGED) != NULL;
		marker |= strstr(d, "\"marker\"") != NULL;
		natsMsg_Destroy(m);
	}
	T_CHECK_MSG(marker, "the host's own heartbeat did not arrive");
	record("plant-7 host h1", "heartbeat as host h2", r, "site: publish permission",
		marker && !forged);
	natsSubscription_Destroy(sub);
	conn_close(obs);
	conn_close(nc);

	/* Another host's commands: refused, and a command to h2 never reaches h1. */
	T_REQUIRE(connect_as(&nc, site7, c) == NATS_OK);
	natsSubscription *s2 = NULL, *s1 = NULL;
	natsConnection_SubscribeSync(&s2, nc, "outpost.plant-7.host.h2.cmd");
	r = violated(nc, "outpost.plant-7.host.h2.cmd");
	natsConnection_SubscribeSync(&s1, nc, "outpost.plant-7.host.h1.cmd");
	natsConnection_FlushTimeout(nc, 2000);
	T_REQUIRE(connect_as(&obs, site7, "plant-7/agent.creds") == NATS_OK);
	natsConnection_PublishString(obs, "outpost.plant-7.host.h2.cmd", FORGED);
	natsConnection_PublishString(obs, "outpost.plant-7.host.h1.cmd", "marker");
	natsConnection_FlushTimeout(obs, 2000);
	natsMsg *m = NULL;
	marker = natsSubscription_NextMsg(&m, s1, 5000) == NATS_OK;
	natsMsg_Destroy(m);
	m = NULL;
	bool got2 = natsSubscription_NextMsg(&m, s2, 0) == NATS_OK;
	natsMsg_Destroy(m);
	T_CHECK_MSG(marker, "the host's own command did not arrive");
	record("plant-7 host h1", "receive host h2's commands", r, "site: subscribe permission",
		marker && !got2);
	natsSubscription_Destroy(s1);
	natsSubscription_Destroy(s2);
	conn_close(obs);
	conn_close(nc);

	r = sub_refused(site7, c, "outpost.plant-7.host.*.cmd");
	record("plant-7 host h1", "receive every host's commands", r, "site: subscribe permission",
		true);
	r = sub_refused(site7, c, "outpost.plant-7.hb.*");
	record("plant-7 host h1", "read other hosts' heartbeats", r, "site: subscribe permission",
		true);
	struct snap m7 = stream_snap(site7, "plant-7/agent.creds", "KV_outpost");
	struct snap hub0 = stream_snap(hub, "hub/sync.creds", "KV_outpost");
	r = pub_refused(site7, c, "$KV.outpost-status.site.plant-7.host.h2", FORGED);
	record("plant-7 host h1", "write KV (h2's status key)", r, "site: publish permission",
		not_forged(
			site7, "plant-7/status.creds", "outpost-status", "site.plant-7.host.h2"));
	r = pub_refused(site7, c, "$JS.API.STREAM.PURGE.KV_outpost", NULL);
	record("plant-7 host h1", "purge its site's mirror", r, "site: publish permission",
		same(m7, stream_snap(site7, "plant-7/agent.creds", "KV_outpost")));
	r = pub_refused(site7, c, "$JS.hub.API.$KV.outpost.app.web", FORGED);
	record("plant-7 host h1", "put the hub's desired state", r, "site: publish permission",
		same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
	r = pub_refused(site7, c, "outpost.plant-7.host.h2.cmd", FORGED);
	record("plant-7 host h1", "command host h2", r, "site: publish permission", true);
}

static void test_status_and_sync_forbidden(void)
{
	struct snap hub0 = stream_snap(hub, "hub/sync.creds", "KV_outpost");
	struct snap m7 = stream_snap(site7, "plant-7/agent.creds", "KV_outpost");
	const char *c = "hub/status.creds";
	bool r = pub_refused(hub, c, "$KV.outpost.app.web", FORGED);
	record("hub status", "put desired state", r, "hub: publish permission",
		same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
	r = pub_refused(hub, c, "$JS.API.STREAM.PURGE.KV_outpost", NULL);
	record("hub status", "purge the hub's bucket", r, "hub: publish permission",
		same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
	r = pub_refused(hub, c, "$KV.outpost-status.hub.sync", FORGED);
	record("hub status", "write hub.sync", r, "hub: publish permission",
		not_forged(hub, c, "outpost-status", "hub.sync"));
	r = pub_refused(hub, c, "$JS.API.STREAM.DELETE.KV_outpost-status", NULL);
	record("hub status", "delete the status bucket", r, "hub: publish permission",
		stream_snap(hub, "hub/sync.creds", "KV_outpost-status").exists);
	r = sub_refused(hub, c, "outpost.hub.site.announce");
	record("hub status", "answer announces in sync's place", r, "hub: subscribe permission",
		true);
	c = "plant-7/status.creds";
	r = pub_refused(site7, c, "$JS.API.STREAM.PURGE.KV_outpost", NULL);
	record("plant-7 status", "purge its site's mirror", r, "site: publish permission",
		same(m7, stream_snap(site7, "plant-7/agent.creds", "KV_outpost")));
	r = pub_refused(site7, c, "outpost.plant-7.host.h1.cmd", FORGED);
	record("plant-7 status", "command a host", r, "site: publish permission", true);
	r = pub_refused(site7, c, "$KV.outpost-status.site.plant-7.agent", FORGED);
	record("plant-7 status", "write its site's status", r, "site: publish permission",
		not_forged(site7, c, "outpost-status", "site.plant-7.agent"));

	/* sync writes the desired state, and nothing at the sites */
	c = "hub/sync.creds";
	r = pub_refused(hub, c, "$JS.plant-7.API.STREAM.PURGE.KV_outpost", NULL);
	record("hub sync", "purge plant-7's mirror (via its link)", r, "hub: publish permission",
		same(m7, stream_snap(site7, "plant-7/agent.creds", "KV_outpost")));
	r = pub_refused(hub, c, "outpost.plant-7.host.h1.cmd", FORGED);
	record("hub sync", "command plant-7's host", r, "hub: publish permission", true);
	r = pub_refused(hub, c, "$KV.outpost-status.hub.x", FORGED);
	record("hub sync", "write status keys that are neither a site's nor its own", r,
		"hub: publish permission", true);
	r = pub_refused(hub, c, "$JS.API.STREAM.DELETE.KV_outpost-status", NULL);
	record("hub sync", "delete the status bucket", r, "hub: publish permission",
		stream_snap(hub, c, "KV_outpost-status").exists);
}

/* Only the logs identities ask hosts for logs, each where it belongs; they can do
 * nothing else a host answers; a host answers only its own. */
static void test_logs_forbidden(void)
{
	const char *hub_c[][2] = {{"hub status", "hub/status.creds"},
		{"hub hook", "hub/hook.creds"}, {"hub sync", "hub/sync.creds"}};
	for (size_t i = 0; i < sizeof hub_c / sizeof *hub_c; i++)
		record(hub_c[i][0], "ask plant-7's host for logs",
			pub_refused(hub, hub_c[i][1], "outpost-logs.plant-7.h1", NULL),
			"hub: publish permission", true);
	const char *site_c[][2] = {{"plant-7 status", "plant-7/status.creds"},
		{"plant-7 agent", "plant-7/agent.creds"},
		{"plant-7 host h2", "plant-7/host-h2.creds"}};
	for (size_t i = 0; i < sizeof site_c / sizeof *site_c; i++)
		record(site_c[i][0], "ask host h1 for logs",
			pub_refused(site7, site_c[i][1], "outpost-logs.plant-7.h1", NULL),
			"site: publish permission", true);
	record("plant-7 logs", "command a host",
		pub_refused(site7, "plant-7/logs.creds", "outpost.plant-7.host.h1.cmd", FORGED),
		"site: publish permission", true);
	record("hub logs", "command plant-7's host",
		pub_refused(hub, "hub/logs.creds", "outpost.plant-7.host.h1.cmd", FORGED),
		"hub: publish permission", true);
	record("hub logs", "write plant-7's status at the hub",
		pub_refused(hub, "hub/logs.creds", "$KV.outpost-status.site.plant-7.agent", FORGED),
		"hub: publish permission",
		not_forged(hub, "hub/status.creds", "outpost-status", "site.plant-7.agent"));
	record("plant-7 host h1", "answer h2's log requests",
		sub_refused(site7, "plant-7/host-h1.creds", "outpost-logs.plant-7.h2"),
		"site: subscribe permission", true);
}

/* The post-receive hook's identity: `outpost sync --now` and nothing else. */
static void test_hook(void)
{
	char *out = NULL;
	T_EQ_INT(h_run(&out, "env OUTPOST_NATS_CREDS=%s %s sync --now --nats %s 2>&1",
			 cred("hub/hook.creds"), bin, h_nats_url(hub)),
		0);
	T_CHECK_MSG(out && strstr(out, "outpost sync: unchanged commit"), "%s", out ? out : "");
	free(out);
	struct snap hub0 = stream_snap(hub, "hub/sync.creds", "KV_outpost");
	const char *c = "hub/hook.creds";
	bool r = pub_refused(hub, c, "$KV.outpost.app.web", FORGED);
	record("hub hook", "put desired state", r, "hub: publish permission",
		same(hub0, stream_snap(hub, "hub/sync.creds", "KV_outpost")));
	r = pub_refused(hub, c, "$JS.API.STREAM.INFO.KV_outpost-status", NULL);
	record("hub hook", "read the status bucket", r, "hub: publish permission", true);
	r = sub_refused(hub, c, "outpost.hub.sync.now");
	record("hub hook", "answer sync.now in sync's place", r, "hub: subscribe permission", true);
}

/* ---- a compromised hub
 * --------------------------------------------------------------------------- A hub server with no
 * permissions at all, and a site server with plant-7's generated config linked to it: what the site
 * refuses from the hub (deny_imports) is the only defence. Requests the site refuses find no
 * responders at the hub. */

static void test_compromised_hub(void)
{
	h_nats *evil = h_hub_start();
	T_REQUIRE(evil);
	h_nats_cfg sc = {.text = site_text, .arg = (void *)"plant-7", .own_leafnodes = true};
	h_nats *site = h_site_start_cfg(evil, "plant-7", &sc);
	T_REQUIRE(site && h_leaf_wait(site, WAIT_MS));
	natsConnection *agent = NULL, *host = NULL, *root = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	natsSubscription *cmds = NULL;
	T_REQUIRE(connect_as(&agent, site, "plant-7/agent.creds") == NATS_OK);
	T_REQUIRE(natsConnection_JetStream(&js, agent, NULL) == NATS_OK);
	kvConfig kc;
	kvConfig_Init(&kc);
	kc.Bucket = "outpost-status";
	kc.History = 1;
	T_REQUIRE(js_CreateKeyValue(&kv, js, &kc) == NATS_OK);
	T_REQUIRE(kvStore_PutString(NULL, kv, "site.plant-7.agent", "{\"v\":1}") == NATS_OK);
	T_REQUIRE(connect_as(&host, site, "plant-7/host-h1.creds") == NATS_OK);
	T_REQUIRE(natsConnection_SubscribeSync(&cmds, host, "outpost.plant-7.host.h1.cmd") ==
		NATS_OK);
	natsConnection_FlushTimeout(host, 2000);
	T_REQUIRE(connect_as(&root, evil, NULL) == NATS_OK);
	struct snap st0 = stream_snap(site, "plant-7/agent.creds", "KV_outpost-status");
	T_REQUIRE(st0.exists);

	natsMsg *m = NULL;
	natsStatus s;
	const char *reqs[][2] = {
		{"outpost.plant-7.host.h1.cmd", "command plant-7's host"},
		/* sites report their status: the hub has no business in a site's JetStream */
		{"$JS.plant-7.API.CONSUMER.CREATE.KV_outpost-status",
			"read plant-7's status stream (a consumer)"},
		{"$JS.plant-7.API.STREAM.INFO.KV_outpost-status", "read plant-7's stream info"},
		{"$JS.plant-7.API.STREAM.PURGE.KV_outpost-status", "purge plant-7's status"},
		{"$JS.plant-7.API.STREAM.DELETE.KV_outpost-status", "delete plant-7's status"},
		{"$JS.plant-7.API.STREAM.CREATE.KV_outpost",
			"create plant-7's desired-state bucket"},
		{"$JS.plant-7.API.$KV.outpost-status.site.plant-7.agent",
			"write plant-7's status ($JS.plant-7.API.$KV)"},
		{"$KV.outpost-status.site.plant-7.agent", "write plant-7's status ($KV)"},
	};
	for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
		m = NULL;
		s = natsConnection_RequestString(
			&m, root, reqs[i][0], "{\"v\":\"" FORGED "\"}", 2000);
		natsMsg_Destroy(m);
		record("any at the hub", reqs[i][1], s == NATS_NO_RESPONDERS,
			"site: deny_imports (no responders)",
			same(st0, stream_snap(site, "plant-7/agent.creds", "KV_outpost-status")) &&
				not_forged(site, "plant-7/status.creds", "outpost-status",
					"site.plant-7.agent"));
	}
	m = NULL;
	T_CHECK(natsSubscription_NextMsg(&m, cmds, 0) != NATS_OK);
	natsMsg_Destroy(m);
	natsSubscription_Destroy(cmds);
	kvStore_Destroy(kv);
	jsCtx_Destroy(js);
	conn_close(root);
	conn_close(host);
	conn_close(agent);
	h_nats_stop(site, false);
	h_nats_stop(evil, false);
}

/* ---- the credentials on a hub cluster, live ------------------------------------------------- */

static const char *live; /* the cluster's credentials */

static const char *live_hub_text(const h_nats *s, void *arg)
{
	(void)s, (void)arg;
	char *t = h_read(h_str("%s/hub/hub.conf", live));
	return t ? h_keep(t) : NULL;
}

/* plant-c's site.conf with each node's leaf URL pointed at the site's link proxy to
 * that node. */
static const char *live_site_text(const h_nats *s, void *arg)
{
	(void)arg;
	return h_creds_site_conf(s, live, NULL);
}

static bool leaf_to(h_nats *site, const char *node)
{
	json_t *j = h_nats_monitor(site, "/leafz");
	const char *name = json_string_value(
		json_object_get(json_array_get(json_object_get(j, "leafs"), 0), "name"));
	bool yes = name && !strcmp(name, node);
	json_decref(j);
	return yes;
}

/* outpost creds for a hub of three nodes, used for real: hub.conf on every node (its
 * accounts across the routes, JetStream in OUTPOST with three replicas), a site whose
 * remote lists every node with its leaf user, sync, the agent and a host each with
 * their identity. A revision runs; the node the site links to is killed; the next
 * revision runs too, and the hub's status reader sees the site. */
static void test_creds_cluster_live(void)
{
	live = h_path("creds-live");
	T_REQUIRE(h_run(NULL,
			  "%s creds --out %s --hub-leaf nats-leaf://127.0.0.1:7422,"
			  "nats-leaf://127.0.0.1:7423,nats-leaf://127.0.0.1:7424 --site plant-c "
			  "--host plant-c:h1 >/dev/null",
			  bin, live) == 0);
	h_nats *nodes[3];
	h_nats_cfg hc = {.text = live_hub_text};
	h_nats_cfg sc = {.text = live_site_text, .own_leafnodes = true};
	T_REQUIRE(h_hub_cluster_start_cfg(3, nodes, &hc));
	h_nats *site = h_site_start_cfg(nodes[0], "plant-c", &sc);
	T_REQUIRE(site && h_leaf_wait(site, WAIT_MS));
	const h_key *k = h_keygen("ed25519");
	h_repo *r = h_repo_new("fleet-live");
	T_REQUIRE(k && r);
	const char *trust = h_path("allowed_signers-live");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", k->pub);
	const char *urls = h_nats_urls(nodes[0]);
	for (int v = 3; v <= 4; v++) {
		h_repo_write(r, "apps/web.yaml",
			"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n"
			"  name: web\nspec:\n  components:\n    - name: main\n      type: process\n"
			"      properties:\n        command: /bin/sleep\n        args: [\"%s%d\"]\n"
			"      traits:\n        - type: spreadscaler\n          properties:\n"
			"            instances: 1\n",
			tag, v);
		T_REQUIRE(h_repo_commit(r, &(h_commit){.key = k, .msg = "web"}));
		if (v == 3) {
			pid_t p[3];
			p[0] = h_spawn_sh(h_path("sync-live.log"),
				"env OUTPOST_NATS_CREDS=%s %s sync --repo %s --trust %s --state %s "
				"--nats %s --interval 1h --replicas 3",
				h_str("%s/hub/sync.creds", live), bin, r->path, trust,
				h_path("sync-live"), urls);
			p[1] = h_spawn_sh(h_path("agent-plant-c.log"),
				"env OUTPOST_NATS_CREDS=%s/plant-c/agent.creds %s agent --site "
				"plant-c "
				"--nats %s --state %s --host-timeout 1s --resync 2s",
				live, bin, h_nats_url(site), h_path("agent-plant-c"));
			p[2] = h_spawn_sh(h_path("host-plant-c.log"),
				"env OUTPOST_NATS_CREDS=%s/plant-c/host-h1.creds %s host --site "
				"plant-c --id h1 --nats %s --state %s --heartbeat " HB,
				live, bin, h_nats_url(site), h_path("host-plant-c"));
			T_REQUIRE(p[0] > 0 && p[1] > 0 && p[2] > 0);
		} else {
			/* kill -9 of the node the site links to, then the push */
			h_nats *linked = NULL;
			for (int i = 0; i < 3; i++)
				if (leaf_to(site, nodes[i]->name))
					linked = nodes[i];
			T_REQUIRE(linked && h_nats_stop(linked, true) == 0);
		}
		T_CHECK(h_wait_output("outcome", WAIT_MS,
			"env OUTPOST_NATS_CREDS=%s/hub/hook.creds %s sync --now --nats %s 2>&1 && "
			"echo outcome",
			live, bin, urls));
		T_CHECK(h_wait_workloads(tag, h_str("%d", v), 1, 45000));
	}
	T_CHECK(h_wait_output("plant-c", WAIT_MS,
		"env OUTPOST_NATS_CREDS=%s/hub/status.creds %s status --nats %s 2>&1", live, bin,
		urls));
	T_CHECK(h_run(NULL, "grep -q 'Permissions Violation' %s %s %s %s", h_q(nodes[0]->log),
			h_q(nodes[1]->log), h_q(nodes[2]->log), h_q(site->log)) == 1);
}

/* ---- a mirror an older outpost made ------------------------------------------------------------
 */

/* plant-9's mirror as its agent's credential sees it: its deliver prefix ("" for none)
 * and last sequence; false if it cannot be read. */
static bool mirror_cfg(char *prefix, size_t len, uint64_t *last)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamInfo *si = NULL;
	bool ok = connect_as(&nc, site9, "plant-9/agent.creds") == NATS_OK &&
		natsConnection_JetStream(&js, nc, NULL) == NATS_OK &&
		js_GetStreamInfo(&si, js, "KV_outpost", NULL, NULL) == NATS_OK && si->Config &&
		si->Config->Mirror && si->Config->Mirror->External;
	if (ok) {
		const char *d = si->Config->Mirror->External->DeliverPrefix;
		snprintf(prefix, len, "%s", d ? d : "");
		*last = si->State.LastSeq;
	}
	jsStreamInfo_Destroy(si);
	if (js)
		jsCtx_Destroy(js);
	conn_close(nc);
	return ok;
}

struct level {
	uint64_t hub;
	char prefix[128];
};

static bool mirror_level(void *arg)
{
	struct level *l = arg;
	uint64_t last = 0;
	return mirror_cfg(l->prefix, sizeof l->prefix, &last) &&
		!strcmp(l->prefix, "outpost-mirror.plant-9") && last >= l->hub;
}

static pid_t start_agent9(const char *extra)
{
	return h_spawn_sh(h_path("agent-plant-9.log"),
		"env OUTPOST_NATS_CREDS=%s %s agent --site plant-9 --nats %s --state %s "
		"--host-timeout 1s --resync 2s%s",
		cred("plant-9/agent.creds"), bin, h_nats_url(site9), h_path("agent-plant-9"),
		extra);
}

/* A site's mirror made before the sites had accounts of their own is delivered on
 * $JS.M, which the hub's credentials no longer deliver: the agent says so once and
 * what to do; --repair-mirror re-creates it on the site's prefix, and it is level
 * with the hub again. */
static void test_old_mirror_repaired(void)
{
	int running = h_workloads(tag, NULL, NULL, 0);
	T_REQUIRE(h_proc_stop(agent_pid[1], false, 10000) == 0);
	agent_pid[1] = 0;
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	kvStore *kv = NULL;
	T_REQUIRE(connect_as(&nc, site9, "plant-9/agent.creds") == NATS_OK &&
		natsConnection_JetStream(&js, nc, NULL) == NATS_OK);
	jsExternalStream ext = {.APIPrefix = "$JS.hub.API", .DeliverPrefix = ""};
	jsStreamSource src = {.Name = "KV_outpost", .External = &ext};
	kvConfig c;
	kvConfig_Init(&c);
	c.Bucket = "outpost";
	c.History = 8;
	c.Mirror = &src;
	T_CHECK(js_DeleteStream(js, "KV_outpost", NULL, NULL) == NATS_OK &&
		js_CreateKeyValue(&kv, js, &c) == NATS_OK);
	if (kv)
		kvStore_Destroy(kv);
	jsCtx_Destroy(js);
	conn_close(nc);
	char prefix[128] = "?";
	uint64_t last = 0;
	T_CHECK(mirror_cfg(prefix, sizeof prefix, &last) && !strcmp(prefix, ""));
	struct stat st;
	long off = stat(h_path("agent-plant-9.log"), &st) == 0 ? (long)st.st_size : 0;
	agent_pid[1] = start_agent9("");
	T_CHECK(h_wait_output("made by an older outpost", WAIT_MS, "tail -c +%ld %s", off + 1,
		h_q(h_path("agent-plant-9.log"))));
	T_CHECK(h_wait_output("--repair-mirror", WAIT_MS,
		"env OUTPOST_NATS_CREDS=%s %s status --nats %s 2>&1", cred("plant-9/status.creds"),
		bin, h_nats_url(site9)));
	T_REQUIRE(h_proc_stop(agent_pid[1], false, 10000) == 0);
	agent_pid[1] = start_agent9(" --repair-mirror");
	struct level l = {stream_snap(hub, "hub/sync.creds", "KV_outpost").last, ""};
	T_CHECK_MSG(l.hub > 0 && h_wait_until(mirror_level, &l, WAIT_MS),
		"plant-9's mirror, deliver prefix \"%s\", not level with the hub's %llu", l.prefix,
		(unsigned long long)l.hub);
	/* the site ran on through all this: the same workloads */
	T_CHECK(h_wait_workloads(tag, NULL, running, WAIT_MS));
}

/* ---- secrets stay out of messages ------------------------------------------------------------ */

static void test_no_secret_in_messages(void)
{
	char *out = NULL;
	const char *pw = "Sup3rSecretPassw0rd";
	/* a user:password in --nats, wrong: refused, and the message does not show it */
	int rc = h_run(
		&out, "%s status --nats nats://status:%s@127.0.0.1:%d 2>&1", bin, pw, hub->port);
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && !strstr(out, pw) && strstr(out, "status:***@"), "%s", out ? out : "");
	free(out);
	/* a credentials file with a wrong password */
	h_write(h_path("bad.creds"), "status:%s\n", pw);
	chmod(h_path("bad.creds"), 0600);
	rc = h_run(&out, "env OUTPOST_NATS_CREDS=%s %s status --nats %s 2>&1", h_path("bad.creds"),
		bin, h_nats_url(hub));
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && !strstr(out, pw) && strstr(out, "uthorization"), "%s", out ? out : "");
	free(out);
	/* a daemon: a refused password is reported at once with its reason, not the secret */
	rc = h_run(&out,
		"%s host --site plant-7 --id h9 --nats nats://x:%s@127.0.0.1:%d --state %s 2>&1",
		bin, pw, site7->port, h_path("badhost"));
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && strstr(out, "uthorization") && !strstr(out, pw), "%s", out ? out : "");
	free(out);
	/* the credential files' passwords never reach a role's log */
	char u[200], pass[200];
	T_REQUIRE(cred_read("plant-7/agent.creds", u, sizeof u, pass, sizeof pass));
	rc = h_run(NULL, "grep -r -F -q -- %s %s/*.log", h_q(pass), h_tmpdir());
	T_CHECK_MSG(rc == 1, "a password is in a log");
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("8%05d", (int)(getpid() % 100000));
	creds = h_path("creds");
	T_RUN(test_creds_command);
	T_RUN(test_creds_update);
	T_RUN(test_creds_cluster);
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_signed_push_runs_everywhere);
		T_RUN(test_status_readers);
		T_RUN(test_agent_reads_hub_directly);
		T_RUN(test_logs_readers);
		T_RUN(test_artifacts);
		T_RUN(test_no_violations_in_use);
		T_RUN(test_wrong_identity_refused);
		T_RUN(test_agent_forbidden);
		T_RUN(test_leaf_forbidden);
		T_RUN(test_host_forbidden);
		T_RUN(test_artifacts_forbidden);
		T_RUN(test_status_and_sync_forbidden);
		T_RUN(test_logs_forbidden);
		T_RUN(test_hook);
		T_RUN(test_compromised_hub);
		T_RUN(test_no_secret_in_messages);
		T_RUN(test_old_mirror_repaired);
		print_table();
	}
	T_RUN(test_creds_cluster_live);
	h_adopt_workloads(tag);
	return t_done();
}
