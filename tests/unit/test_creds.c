/* `outpost creds`' pure part: the identities of a deployment and the config text that
 * declares them; and the URL redaction every role's messages go through. What the
 * permissions allow against real servers is tests/e2e/test_creds.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outpost/agent/bus/bus.h"
#include "outpost/agent/creds/creds.h"
#include "t.h"

static void deployment(op_creds *c)
{
	T_REQUIRE(op_creds_add_site(c, "plant-7", NULL) == 0);
	T_REQUIRE(op_creds_add_site(c, "plant-9", NULL) == 0);
	T_REQUIRE(op_creds_add_host(c, "plant-9:h1", NULL) == 0);
	T_REQUIRE(op_creds_add_host(c, "plant-7:h2", NULL) == 0);
	T_REQUIRE(op_creds_plan(c, NULL) == 0);
	for (size_t i = 0; i < c->n; i++)
		snprintf(c->v[i].pass, sizeof c->v[i].pass, "pw%zu", i);
}

static void test_names_checked(void)
{
	op_creds c = {0};
	op_err e = {0};
	T_EQ_INT(op_creds_add_site(&c, "hub", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_site(&c, "Plant", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_site(&c, "", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_site(&c, "a.b", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_site(&c, "a", &e), 0);
	T_EQ_INT(op_creds_add_site(&c, "a", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_host(&c, "b:h1", &e), OP_EUSAGE); /* not a --site */
	T_EQ_INT(op_creds_add_host(&c, "a", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_host(&c, "a:", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_host(&c, "a:h.1", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_add_host(&c, "a:h1", &e), 0);
	T_EQ_INT(op_creds_add_host(&c, "a:h1", &e), OP_EUSAGE);
	op_creds_clear(&c);
	T_EQ_INT(op_creds_check_url("nats-leaf://hub.example:7422", &e), 0);
	T_EQ_INT(op_creds_check_url("nats-leaf://u:p@hub.example:7422", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_check_url("hub.example:7422", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_check_url("nats-leaf://hub.example", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_check_url("nats-leaf://hub\"x:1", &e), OP_EUSAGE);
	/* a hub cluster: every node's URL */
	T_EQ_INT(
		op_creds_check_url("nats-leaf://h1:7422,nats-leaf://h2:7422,tls://h3:7422", &e), 0);
	T_EQ_INT(op_creds_check_url("nats-leaf://h1:7422,", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_check_url("nats-leaf://h1:7422,h2:7422", &e), OP_EUSAGE);
	T_EQ_INT(op_creds_check_url("nats-leaf://h1:7422,nats-leaf://u:p@h2:7422", &e), OP_EUSAGE);
}

static void test_plan(void)
{
	op_creds c = {0};
	deployment(&c);
	const char *want[][2] = {{"sync", "hub/sync.creds"}, {"status", "hub/status.creds"},
		{"leaf.plant-7", "plant-7/leaf.creds"}, {"agent.plant-7", "plant-7/agent.creds"},
		{"status.plant-7", "plant-7/status.creds"}, {"logs.plant-7", "plant-7/logs.creds"},
		{"host.plant-7.h2", "plant-7/host-h2.creds"},
		{"leaf.plant-9", "plant-9/leaf.creds"}, {"agent.plant-9", "plant-9/agent.creds"},
		{"status.plant-9", "plant-9/status.creds"}, {"logs.plant-9", "plant-9/logs.creds"},
		{"host.plant-9.h1", "plant-9/host-h1.creds"}, {"hook", "hub/hook.creds"},
		{"logs", "hub/logs.creds"}, {"ci", "hub/ci.creds"}};
	T_EQ_INT(c.n, sizeof want / sizeof *want);
	for (size_t i = 0; i < c.n && i < sizeof want / sizeof *want; i++) {
		T_EQ_STR(c.v[i].user, want[i][0]);
		T_EQ_STR(c.v[i].file, want[i][1]);
	}
	char *f = op_creds_file_text(&c.v[3]);
	T_EQ_STR(f, "agent.plant-7:pw3\n");
	free(f);
	op_creds_clear(&c);
}

static bool has(const char *text, const char *s)
{
	return text && strstr(text, s) != NULL;
}

/* The block of one user in a config (up to the end of its subscribe line), or "". */
static const char *user_block(const char *t, const char *user)
{
	static char one[2048];
	char key[128];
	snprintf(key, sizeof key, "user: \"%s\"", user);
	const char *b = strstr(t, key), *end = b ? strstr(b, "subscribe:") : NULL;
	end = end ? strchr(end, '\n') : NULL;
	snprintf(one, sizeof one, "%.*s", end ? (int)(end - b) : 0, end ? b : "");
	return one;
}

/* Who may read logs: the logs identities, each only where it belongs; the hosts answer
 * their own subject; the leaf delivers only its site's; the site's remote keeps its
 * deny of outpost.> whole. Nobody else. */
static void test_logs_perms(void)
{
	op_creds c = {0};
	deployment(&c);
	char *hub = op_creds_hub_conf(&c);
	char *site = op_creds_site_conf(&c, "plant-7", "nats-leaf://hub.example:7422");
	T_REQUIRE(hub && site);
	char *sites = strstr(hub, "  \"SITE_plant-7\" {");
	T_REQUIRE(sites);
	T_CHECK(strstr(hub, "user: \"logs\"") < sites);
	T_CHECK(has(user_block(hub, "logs"), "\"outpost-logs.*.*\""));
	T_CHECK(has(user_block(hub, "logs"), "KV_outpost-status"));
	T_CHECK(has(user_block(hub, "leaf.plant-7"), "\"outpost-logs.plant-7.*\""));
	T_CHECK(!has(user_block(hub, "leaf.plant-7"), "outpost-logs.plant-9"));
	T_CHECK(has(sites, "{ service: \"outpost-logs.plant-7.*\", accounts: [OUTPOST] }"));
	T_CHECK(has(hub,
		"{ service: { account: \"SITE_plant-9\", subject: \"outpost-logs.plant-9.*\" } }"));
	const char *no_hub[] = {"sync", "status", "hook"};
	for (size_t i = 0; i < sizeof no_hub / sizeof *no_hub; i++)
		T_CHECK_MSG(!has(user_block(hub, no_hub[i]), "outpost-logs"), "%s", no_hub[i]);
	T_CHECK(has(user_block(site, "logs.plant-7"), "\"outpost-logs.plant-7.*\""));
	T_CHECK(has(user_block(site, "host.plant-7.h2"),
		"subscribe: { allow: [\"outpost.plant-7.host.h2.cmd\", "
		"\"outpost-logs.plant-7.h2\", \"_INBOX.host.plant-7.h2.>\"]"));
	const char *no_site[] = {"agent.plant-7", "status.plant-7"};
	for (size_t i = 0; i < sizeof no_site / sizeof *no_site; i++)
		T_CHECK_MSG(!has(user_block(site, no_site[i]), "outpost-logs"), "%s", no_site[i]);
	T_CHECK(!has(user_block(site, "host.plant-7.h2"), "publish: { allow: [\"outpost-logs"));
	T_CHECK(has(site, "deny_imports: [\"outpost.>\""));
	T_CHECK(!has(strstr(site, "deny_imports"), "outpost-logs"));
	free(hub);
	free(site);
	op_creds_clear(&c);
}

static void test_hub_conf(void)
{
	op_creds c = {0};
	deployment(&c);
	char *t = op_creds_hub_conf(&c);
	T_REQUIRE(t);
	/* sync and the status reader in OUTPOST, each leaf user in its site's account,
	 * nobody else */
	char *sites = strstr(t, "  \"SITE_plant-7\" {");
	char *site9 = strstr(t, "  \"SITE_plant-9\" {");
	T_REQUIRE(sites && site9 && sites < site9);
	char s7[8192];
	snprintf(s7, sizeof s7, "%.*s", (int)(site9 - sites), sites);
	T_CHECK(has(t, "user: \"sync\", password: \"pw0\""));
	T_CHECK(strstr(t, "user: \"sync\"") < sites && strstr(t, "user: \"status\"") < sites);
	T_CHECK(has(s7, "user: \"leaf.plant-7\"") && has(site9, "user: \"leaf.plant-9\""));
	T_CHECK(!has(s7, "plant-9") && !has(site9, "plant-7"));
	T_CHECK(!has(t, "user: \"agent.") && !has(t, "user: \"host."));
	T_CHECK(has(s7, "allowed_connection_types: [\"LEAFNODE\"]"));
	T_CHECK(!has(sites, "jetstream: enabled"));
	/* sync writes the desired state; a leaf may not, and its account does not import it */
	T_CHECK(has(t, "\"$KV.outpost.>\""));
	T_CHECK(!has(sites, "$KV.outpost"));
	T_CHECK(!has(t, "\">\"]")); /* no allow-all */
	/* one report subject per site, exported to that site's account alone; the hub reads
	 * nothing of a site's JetStream */
	T_CHECK(has(
		t, "{ service: \"outpost.hub.status.plant-7\", accounts: [\"SITE_plant-7\"] }"));
	T_CHECK(has(
		t, "{ service: \"outpost.hub.status.plant-9\", accounts: [\"SITE_plant-9\"] }"));
	T_CHECK(!has(t, "KV_outpost-status.>\"") && !has(t, "$JS.S.>"));
	/* deliveries per site: the mirror's, the agent's inbox, the store's sources */
	T_CHECK(has(t, "{ stream: \"outpost-mirror.plant-7.>\", accounts: [\"SITE_plant-7\"] }"));
	T_CHECK(has(t, "{ stream: \"_INBOX.agent.plant-9.>\", accounts: [\"SITE_plant-9\"] }"));
	T_CHECK(!has(t, "$JS.M.>") && !has(t, "\"_INBOX.agent.>\""));
	T_CHECK(has(t,
		"{ service: \"$JS.API.DIRECT.GET.KV_outpost\", accounts: "
		"[\"SITE_plant-7\", \"SITE_plant-9\"] }"));
	T_CHECK(has(s7, "{ stream: { account: OUTPOST, subject: \"outpost-mirror.plant-7.>\" } }"));
	/* the hook: one request to sync, and its inbox */
	char *hook = strstr(t, "user: \"hook\"");
	T_REQUIRE(hook && hook < sites);
	char *end = strstr(hook, "subscribe:");
	end = end ? strchr(end, '\n') : NULL; /* the user's block ends with its subscribe */
	T_REQUIRE(end);
	char one[1024];
	snprintf(one, sizeof one, "%.*s", (int)(end - hook), hook);
	T_CHECK_MSG(has(one, "publish: { allow: [\"outpost.hub.sync.now\"] }") &&
			has(one, "\"_INBOX.hook.>\"") && !has(one, "$JS") && !has(one, "$KV"),
		"%s", one);
	free(t);
	op_creds_clear(&c);
}

static void test_site_conf(void)
{
	op_creds c = {0};
	deployment(&c);
	char *t = op_creds_site_conf(&c, "plant-7", "nats-leaf://hub.example:7422");
	T_REQUIRE(t);
	T_CHECK(has(t, "user: \"agent.plant-7\"") && has(t, "user: \"host.plant-7.h2\""));
	T_CHECK(has(t, "user: \"status.plant-7\""));
	T_CHECK(!has(t, "plant-9") && !has(t, "user: \"sync\""));
	T_CHECK(has(t, "url: \"nats-leaf://leaf.plant-7:pw2@hub.example:7422\""));
	T_CHECK(has(t, "\"outpost.plant-7.hb.h2\"") && has(t, "\"outpost.plant-7.host.h2.cmd\""));
	T_CHECK(has(t, "deny_imports: [\"outpost.>\""));
	T_CHECK(has(t, "\"$JS.plant-7.API.>\""));
	T_CHECK(!has(t, "\">\"]"));
	free(t);
	/* A hub cluster: one remote, every node, each with the leaf's user. */
	t = op_creds_site_conf(&c, "plant-7", "nats-leaf://h1:7422,nats-leaf://h2:7423");
	T_REQUIRE(t);
	T_CHECK(has(t,
		"      urls: [\n        \"nats-leaf://leaf.plant-7:pw2@h1:7422\"\n"
		"        \"nats-leaf://leaf.plant-7:pw2@h2:7423\"\n      ]\n"
		"      account: "));
	T_CHECK(!has(t, "url: "));
	free(t);
	op_creds_clear(&c);
}

/* The artifact store: ci puts and reads it, and reads the desired state, nothing else;
 * sync reads it and deletes (gc); each site's leaf receives only its own deliveries;
 * the agent manages its site's copy; a host only reads it. */
static void test_artifact_perms(void)
{
	op_creds c = {0};
	deployment(&c);
	char *hub = op_creds_hub_conf(&c);
	char *site = op_creds_site_conf(&c, "plant-7", "nats-leaf://hub.example:7422");
	T_REQUIRE(hub && site);
	char *sites = strstr(hub, "  \"SITE_plant-7\" {");
	T_REQUIRE(sites);
	T_CHECK(strstr(hub, "user: \"ci\"") < sites);
	char ci[2048];
	snprintf(ci, sizeof ci, "%s", user_block(hub, "ci"));
	T_CHECK(has(ci, "\"$O.outpost-artifacts.C.>\"") && has(ci, "\"$O.outpost-artifacts.M.>\""));
	T_CHECK(has(ci, "\"$JS.API.STREAM.CREATE.OBJ_outpost-artifacts\""));
	T_CHECK(has(ci, "\"$JS.API.STREAM.INFO.KV_outpost\"")); /* ls: the apps */
	T_CHECK_MSG(!has(ci, "$KV") && !has(ci, "KV_outpost-status") &&
			!has(ci, "STREAM.CREATE.KV") && !has(ci, "UPDATE") &&
			!has(ci, "DELETE.OBJ_outpost-artifacts\"") && !has(ci, "$JS.hub.") &&
			!has(ci, "outpost.hub"),
		"%s", ci);
	char sy[4096];
	snprintf(sy, sizeof sy, "%s", user_block(hub, "sync"));
	T_CHECK(has(sy, "\"$JS.API.STREAM.PURGE.OBJ_outpost-artifacts\"") &&
		has(sy, "\"$O.outpost-artifacts.M.>\"") && !has(sy, "$O.outpost-artifacts.C") &&
		!has(sy, "STREAM.CREATE.OBJ"));
	const char *leaf7 = user_block(hub, "leaf.plant-7");
	T_CHECK(has(leaf7, "\"outpost-artifacts.plant-7.>\""));
	T_CHECK(has(leaf7, "\"$JS.hub.API.CONSUMER.CREATE.OBJ_outpost-artifacts.>\""));
	T_CHECK(has(leaf7, "\"$JS.FC.OBJ_outpost-artifacts.>\""));
	T_CHECK(!has(leaf7, "outpost-artifacts.plant-9") && !has(leaf7, "$O."));
	T_CHECK(has(
		hub, "{ stream: \"outpost-artifacts.plant-7.>\", accounts: [\"SITE_plant-7\"] }"));
	T_CHECK(has(sites,
		"{ service: { account: OUTPOST, subject: "
		"\"$JS.API.CONSUMER.CREATE.OBJ_outpost-artifacts.>\" } }"));
	const char *agent = user_block(site, "agent.plant-7");
	T_CHECK(has(agent, "\"$JS.API.STREAM.UPDATE.OBJ_outpost-artifacts\"") &&
		has(agent, "\"$JS.API.STREAM.PURGE.OBJ_outpost-artifacts\"") &&
		has(agent, "\"$JS.hub.API.STREAM.MSG.GET.OBJ_outpost-artifacts\"") &&
		!has(agent, "$JS.hub.API.STREAM.PURGE.OBJ") && !has(agent, "$O."));
	char host[2048];
	snprintf(host, sizeof host, "%s", user_block(site, "host.plant-7.h2"));
	T_CHECK(has(host, "\"$JS.API.STREAM.MSG.GET.OBJ_outpost-artifacts\""));
	T_CHECK_MSG(!has(host, "PURGE") && !has(host, "STREAM.CREATE") &&
			!has(host, "STREAM.UPDATE") && !has(host, "STREAM.DELETE") &&
			!has(host, "$O.") && !has(host, "$JS.hub."),
		"%s", host);
	free(hub);
	free(site);
	op_creds_clear(&c);
}

static void test_url_redact(void)
{
	char out[128];
	op_bus_url_redact("nats://user:secret@host:4222", out, sizeof out);
	T_EQ_STR(out, "nats://user:***@host:4222");
	op_bus_url_redact("nats://host:4222", out, sizeof out);
	T_EQ_STR(out, "nats://host:4222");
	op_bus_url_redact("nats://token@host:4222", out, sizeof out);
	T_EQ_STR(out, "nats://token@host:4222");
	op_bus_url_redact("tls://a:b@h:1,nats://c:d@h:2", out, sizeof out);
	T_EQ_STR(out, "tls://a:***@h:1,nats://c:***@h:2");
	op_bus_url_redact(NULL, out, sizeof out);
	T_EQ_STR(out, "");
	/* A list with an empty URL is a usage error, said with the passwords hidden, before
	 * any connection is tried. */
	op_bus b;
	op_err e = {0};
	T_EQ_INT(op_bus_connect(
			 &b, "nats://u:pw9@127.0.0.1:1, ,nats://127.0.0.1:2", "t", NULL, 100, &e),
		OP_EUSAGE);
	T_CHECK(strstr(e.msg, "bad NATS URL") && !strstr(e.msg, "pw9"));
	op_bus_url_redact("nats://u:longpassword@h:1", out, 12);
	T_CHECK(!strstr(out, "lo"));
}

int main(void)
{
	T_RUN(test_names_checked);
	T_RUN(test_plan);
	T_RUN(test_hub_conf);
	T_RUN(test_site_conf);
	T_RUN(test_logs_perms);
	T_RUN(test_artifact_perms);
	T_RUN(test_url_redact);
	return t_done();
}
