/* TLS end to end: certificates made with openssl (a CA, server certificates for
 * 127.0.0.1 with SAN IP:127.0.0.1, client certificates, a second CA, an expired
 * client certificate); a hub and a site that require TLS from clients and verify
 * their certificates, and a leaf link with mutual TLS (the hub's leafnodes block
 * verifies the site's client certificate). The roles run over it with
 * OUTPOST_NATS_CA/CERT/KEY and a signed push runs a process at the site. Refused: a
 * client trusting another CA (with a message naming the certificate), a client
 * without a certificate, a plain-text client, and a site whose client certificate has
 * expired (no leaf link; the hub's log says why). */
#include <nats/nats.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "t.h"

#define WAIT_MS 30000

static const char *bin, *tag, *pki;
static h_nats *hub, *site;
static pid_t sync_pid, agent_pid, host_pid;
static const h_key *key;
static h_repo *repo;

static const char *pem(const char *name)
{
	return h_str("%s/%s", pki, name);
}

/* One key and certificate signed by ca: name.key, name.pem. ext: extensions. */
static int issue(
	const char *ca, const char *name, const char *cn, const char *ext, const char *validity)
{
	return h_run(NULL,
		"cd %s && openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		"-keyout %s.key -out %s.csr -subj /CN=%s 2>/dev/null && "
		"printf '%s\\n' > %s.ext && openssl x509 -req -in %s.csr -CA %s.pem -CAkey %s.key "
		"-CAcreateserial -out %s.pem %s -extfile %s.ext 2>/dev/null",
		h_q(pki), name, name, cn, ext, name, name, ca, ca, name, validity, name);
}

static bool make_pki(void)
{
	const char *srv = "subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth,clientAuth";
	const char *cli = "extendedKeyUsage=clientAuth";
	return h_mkdirs(pki) == 0 &&
		h_run(NULL,
			"cd %s && for ca in ca ca2; do openssl req -x509 -newkey ec -pkeyopt "
			"ec_paramgen_curve:P-256 -nodes -days 2 -keyout $ca.key -out $ca.pem "
			"-subj /CN=outpost-test-$ca 2>/dev/null || exit 1; done",
			h_q(pki)) == 0 &&
		issue("ca", "server", "127.0.0.1", srv, "-days 2") == 0 &&
		issue("ca", "client", "outpost-client", cli, "-days 2") == 0 &&
		issue("ca", "leaf", "plant-7", cli, "-days 2") == 0 &&
		issue("ca", "expired", "plant-x", cli,
			"-not_before 20200101000000Z -not_after 20200102000000Z") == 0;
}

/* ---- servers ------------------------------------------------------------------------- */

static const char *tls_block(const char *cert)
{
	return h_str("tls { cert_file: \"%s\", key_file: \"%s.key\", ca_file: \"%s\", "
		     "verify: true, timeout: 3 }",
		pem(h_str("%s.pem", cert)), pem(cert), pem("ca.pem"));
}

/* Clients over TLS with verified certificates; leaf links the same (mutual TLS). */
static const char *hub_text(const h_nats *s, void *arg)
{
	(void)arg;
	return h_str("%s\nleafnodes {\n  listen: \"127.0.0.1:%d\"\n  compression: off\n  %s\n}\n",
		tls_block("server"), s->leaf_port, tls_block("server"));
}

/* arg: the client certificate of the site's leaf link. */
static const char *site_text(const h_nats *s, void *arg)
{
	const char *cert = arg;
	return h_str(
		"%s\nleafnodes {\n  reconnect: \"1s\"\n  remotes: [ {\n"
		"    url: \"nats-leaf://127.0.0.1:%d\"\n"
		"    tls: { cert_file: \"%s\", key_file: \"%s.key\", ca_file: \"%s\" }\n  } ]\n}\n",
		tls_block("server"), s->leaf_port, pem(h_str("%s.pem", cert)), pem(cert),
		pem("ca.pem"));
}

static const char *tls_env(const char *ca, const char *cert)
{
	if (!cert)
		return h_str("env OUTPOST_NATS_CA=%s", pem(ca));
	return h_str("env OUTPOST_NATS_CA=%s OUTPOST_NATS_CERT=%s OUTPOST_NATS_KEY=%s", pem(ca),
		pem(h_str("%s.pem", cert)), pem(h_str("%s.key", cert)));
}

/* ---- tests ------------------------------------------------------------------------------ */

static void test_setup(void)
{
	T_REQUIRE(make_pki());
	h_nats_cfg hc = {.text = hub_text, .own_leafnodes = true};
	h_nats_cfg sc = {.text = site_text, .arg = (void *)"leaf", .own_leafnodes = true};
	hub = h_hub_start_cfg(&hc);
	T_REQUIRE(hub);
	site = h_site_start_cfg(hub, "plant-7", &sc);
	T_REQUIRE(site);
	T_CHECK_MSG(h_leaf_wait(site, WAIT_MS), "no mutual-TLS leaf link");
}

static void test_roles_over_tls(void)
{
	key = h_keygen("ed25519");
	repo = h_repo_new("fleet");
	T_REQUIRE(key && repo);
	const char *trust = h_path("allowed_signers");
	h_write(trust, "test@example.com namespaces=\"git\" %s\n", key->pub);
	h_repo_write(repo, "apps/web.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: web\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sleep\n        args: [\"%s1\"]\n",
		tag);
	T_REQUIRE(h_repo_commit(repo, &(h_commit){.key = key, .msg = "web"}));
	const char *env = tls_env("ca.pem", "client");
	sync_pid = h_spawn_sh(h_path("sync.log"),
		"%s %s sync --repo %s --trust %s --state %s --nats %s --interval 1h", env, bin,
		repo->path, trust, h_path("sync-state"), h_nats_url(hub));
	agent_pid = h_spawn_sh(h_path("agent.log"),
		"%s %s agent --site plant-7 --nats %s --state %s --host-timeout 1s --resync 2s",
		env, bin, h_nats_url(site), h_path("agent-state"));
	host_pid = h_spawn_sh(h_path("host.log"),
		"%s %s host --site plant-7 --id h1 --nats %s --state %s --heartbeat 300ms", env,
		bin, h_nats_url(site), h_path("host"));
	T_REQUIRE(sync_pid > 0 && agent_pid > 0 && host_pid > 0);
	T_CHECK(h_wait_workloads(tag, NULL, 1, WAIT_MS));
	T_CHECK(h_wait_output("deployed", WAIT_MS, "%s %s status --nats %s 2>&1",
		tls_env("ca.pem", "client"), bin, h_nats_url(site)));
}

/* The server's certificate does not chain to the CA the client trusts. */
static void test_wrong_ca_refused(void)
{
	char *out = NULL;
	int rc = h_run(&out, "%s %s status --nats %s 2>&1", tls_env("ca2.pem", "client"), bin,
		h_nats_url(hub));
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && (strstr(out, "certificate") || strstr(out, "SSL") || strstr(out, "TLS")),
		"%s", out ? out : "");
	printf("  wrong CA (status): %s", out ? out : "\n");
	free(out);
	/* a daemon fails at once, with the reason in its log, rather than retrying blind */
	rc = h_run(&out, "%s %s agent --site plant-7 --nats %s --state %s 2>&1",
		tls_env("ca2.pem", "client"), bin, h_nats_url(site), h_path("agent-wrong-ca"));
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && strstr(out, "certificate"), "%s", out ? out : "");
	printf("  wrong CA (agent): %s", out ? out : "\n");
	free(out);
}

static void test_client_without_cert_refused(void)
{
	char *out = NULL;
	int rc = h_run(
		&out, "%s %s status --nats %s 2>&1", tls_env("ca.pem", NULL), bin, h_nats_url(hub));
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && strstr(out, "client certificate"), "%s", out ? out : "");
	printf("  no client certificate: %s", out ? out : "\n");
	free(out);
	rc = h_run(&out, "%s status --nats %s 2>&1", bin, h_nats_url(hub));
	T_EQ_INT(rc, 1);
	/* nats.c upgrades to TLS when the server requires it, and trusts no test CA then */
	T_CHECK_MSG(out && strstr(out, "SSL"), "%s", out ? out : "");
	printf("  plain text: %s", out ? out : "\n");
	free(out);
	rc = h_run(&out, "env OUTPOST_NATS_CERT=%s %s status --nats %s 2>&1", pem("client.pem"),
		bin, h_nats_url(hub));
	T_EQ_INT(rc, 1);
	T_CHECK_MSG(out && strstr(out, "OUTPOST_NATS_KEY"), "%s", out ? out : "");
	free(out);
}

static bool hub_log_says_expired(void *arg)
{
	(void)arg;
	char *log = h_read(hub->log);
	bool yes = log && strstr(log, "expired");
	free(log);
	return yes;
}

static int hub_leafs(void)
{
	json_t *j = h_nats_monitor(hub, "/leafz");
	int n = (int)json_array_size(json_object_get(j, "leafs"));
	json_decref(j);
	return n;
}

/* A site whose leaf client certificate expired: the hub refuses the handshake. */
static void test_expired_leaf_refused(void)
{
	h_nats_cfg sc = {.text = site_text, .arg = (void *)"expired", .own_leafnodes = true};
	h_nats *x = h_site_start_cfg(hub, "plant-x", &sc);
	T_REQUIRE(x);
	T_CHECK_MSG(h_wait_until(hub_log_says_expired, NULL, WAIT_MS),
		"the hub's log does not say the certificate expired");
	json_t *j = h_nats_monitor(x, "/leafz");
	T_CHECK(j && json_array_size(json_object_get(j, "leafs")) == 0);
	json_decref(j);
	T_EQ_INT(hub_leafs(), 1); /* plant-7 only */
	char *out = NULL;
	h_run(&out, "grep -m1 expired %s", h_q(hub->log));
	printf("  expired leaf certificate, hub log: %s", out ? out : "\n");
	free(out);
	h_nats_stop(x, false);
}

int main(void)
{
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd))
		return 1;
	bin = h_str("%s/outpost", cwd);
	tag = h_str("7%05d", (int)(getpid() % 100000));
	pki = h_path("pki");
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_roles_over_tls);
		T_RUN(test_wrong_ca_refused);
		T_RUN(test_client_without_cert_refused);
		T_RUN(test_expired_leaf_refused);
	}
	fflush(stdout);
	h_adopt_workloads(tag);
	return t_done();
}
