/* Sealed secrets end to end (model/sealed.c, sync/git/secrets.c, agent/site/secrets.c,
 * agent/host/secrets.c): a hub with its sync, a site "plant" with its agent (--seal-key)
 * and a host, a second site "other" with a key of its own, all real processes; the
 * values sealed with `outpost secret seal` (fed on stdin from this process's memory).
 *
 * Checked: a manifest that refers to a secret whose file is missing is refused by sync,
 * naming both files; the workload reads the value back itself, from its environment and
 * from its file on a tmpfs (it prints their sha256 and the test compares); the site the
 * secret is not sealed to does not run the app and says why in status, its other app
 * runs; the hub's key and the other site's key cannot open the sealed file the hub holds;
 * a new value changes the instance id and replaces the instance; a power cut of the whole
 * site while cut off from the hub starts the workload again with its value; and a sweep
 * that reads every file under the test's temp dir (logs, state dirs, both JetStream
 * stores) and every KV value of both servers finds each value nowhere but in the
 * workload's environment and its tmpfs file. */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <mbedtls/sha256.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet.h"
#include "harness.h"
#include "outpost/agent/model/sealed.h"
#include "t.h"

#define WAIT_MS 30000
#define HUB_WAIT_MS 60000
#define VAULT_APP 15 /* the workload's sleep reads as app 15 of the fleet's set strings */

static fleet F;
static fl_site S;
static char shm[256]; /* the tmpfs dir of the secret files */
static char v1[64], v2[64], tok[64]; /* the values: random, so that a hit is a leak */
static int ver = 1;

/* ---- helpers ------------------------------------------------------------------------- */

static void random_value(char *out, size_t n, const char *prefix)
{
	unsigned char b[12];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t r = fd >= 0 ? read(fd, b, sizeof b) : -1;
	if (fd >= 0)
		close(fd);
	int k = snprintf(out, n, "%s", prefix);
	for (size_t i = 0; i < sizeof b && r == (ssize_t)sizeof b; i++)
		k += snprintf(out + k, n - (size_t)k, "%02x", b[i]);
}

static const char *sha_hex(const char *s)
{
	unsigned char h[32];
	mbedtls_sha256((const unsigned char *)s, strlen(s), h, 0);
	char out[65];
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
	return h_str("%s", out);
}

/* `outpost secret seal --name NAME --to ...` with value on its stdin (from memory: no
 * file, no argument holds it); its stdout written to the repository's secrets/NAME.yaml. */
static bool seal(const char *name, const char *value, const char *to)
{
	int in[2], out[2];
	if (pipe(in) != 0 || pipe(out) != 0)
		return false;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[0]), close(in[1]), close(out[0]), close(out[1]);
		execl("/bin/sh", "sh", "-c",
			h_str("exec %s secret seal --name %s %s", F.bin, name, to), (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	bool ok = write(in[1], value, strlen(value)) == (ssize_t)strlen(value);
	close(in[1]);
	char buf[65536];
	size_t n = 0;
	ssize_t r;
	while ((r = read(out[0], buf + n, sizeof buf - 1 - n)) > 0)
		n += (size_t)r;
	close(out[0]);
	buf[n] = '\0';
	int st = 0;
	waitpid(pid, &st, 0);
	ok = ok && WIFEXITED(st) && WEXITSTATUS(st) == 0 && n > 0;
	return ok && h_repo_write(F.repo, h_str("secrets/%s.yaml", name), "%s", buf) == 0;
}

static const char *to_both(void)
{
	return h_str("--to plant=%s --to third=%s", h_path("keys/plant/seal.pub"),
		h_path("keys/third/seal.pub"));
}

/* The app that uses the secrets: a shell that prints the sha256 of what it was given,
 * then becomes the fleet's sleep (app 15, version ver). It runs as nobody: its file is
 * its own. */
static void write_vault(const char *secret)
{
	h_repo_write(F.repo, "apps/vault.yaml",
		"apiVersion: core.oam.dev/v1beta1\nkind: Application\nmetadata:\n  name: vault\n"
		"spec:\n  components:\n    - name: main\n      type: process\n      properties:\n"
		"        command: /bin/sh\n"
		"        args: [\"-c\", \"printf %%s \\\"$DB_PASS\\\" | sha256sum | sed "
		"'s/^/env=/'; sha256sum < %s/db-pass | sed 's/^/file=/'; printf %%s "
		"\\\"$TOKEN\\\" | sha256sum | sed 's/^/tok=/'; exec /bin/sleep %s%02d%03d\"]\n"
		"        min_ready: 200ms\n        user: nobody\n"
		"        env: {DB_PASS: {secret: %s}, TOKEN: {secret: api-token}, MODE: test}\n"
		"        files: [{path: %s/db-pass, secret: %s, mode: \"0400\"}]\n",
		shm, F.tag, VAULT_APP, ver, secret, shm, secret);
}

/* The instance dirs of app vault on host 0, and the newest one's output. */
static const char *vault_inst(void)
{
	DIR *d = opendir(h_path("host0/instances"));
	const char *found = "";
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (!strncmp(de->d_name, "vault.main.", 11))
			found = h_str("%s", de->d_name);
	if (d)
		closedir(d);
	return found;
}

struct want_out {
	const char *value, *tok;
	const char *inst; /* out: the instance whose output shows them */
};

static bool output_shows(void *arg)
{
	struct want_out *w = arg;
	const char *inst = vault_inst();
	if (!inst[0])
		return false;
	char *log = h_read(h_path("host0/instances/%s/output.log", inst));
	const char *h = sha_hex(w->value);
	bool ok = log && strstr(log, h_str("env=%s", h)) && strstr(log, h_str("file=%s", h)) &&
		strstr(log, h_str("tok=%s", sha_hex(w->tok)));
	free(log);
	if (ok)
		w->inst = inst;
	return ok;
}

/* The workload: the fleet's sleep for app 15 at version ver; its pid or 0. */
static int vault_pid(void)
{
	fl_procs p;
	fl_scan(&F, &p);
	for (int i = 0; i < p.nw; i++)
		if (p.wapp[i] == VAULT_APP && p.wver[i] == ver)
			return p.wpid[i];
	return 0;
}

static bool environ_has(int pid, const char *what)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f = fopen(h_str("/proc/%d/environ", pid), "r");
	if (!f)
		return false;
	char chunk[4096];
	size_t r;
	while ((r = fread(chunk, 1, sizeof chunk, f)) > 0) {
		char *b = realloc(buf, n + r);
		if (!b)
			break;
		buf = b;
		memcpy(buf + n, chunk, r);
		n += r;
	}
	fclose(f);
	bool hit = buf && memmem(buf, n, what, strlen(what)) != NULL;
	free(buf);
	return hit;
}

static json_t *status_of(kvStore *kv, const char *site, const char *app)
{
	return fl_kv_json(kv, h_str("site.%s.app.%s", site, app));
}

struct want_state {
	kvStore *kv;
	const char *site, *app, *state, *msg;
};

static bool has_state(void *arg)
{
	struct want_state *w = arg;
	json_t *j = status_of(w->kv, w->site, w->app);
	const char *st = json_string_value(json_object_get(j, "state"));
	const char *msg = json_string_value(json_object_get(j, "message"));
	bool ok = st && !strcmp(st, w->state) && (!w->msg || (msg && strstr(msg, w->msg)));
	json_decref(j);
	return ok;
}

/* ---- the sweep ------------------------------------------------------------------------- */

struct sweep {
	const char *const *values;
	int nvalues;
	long files, bytes;
	int hits;
	char where[2048];
};

static void hit(struct sweep *s, const char *what)
{
	s->hits++;
	size_t n = strlen(s->where);
	if (n < sizeof s->where - 200)
		snprintf(s->where + n, sizeof s->where - n, "%s; ", what);
}

static void sweep_buf(struct sweep *s, const char *buf, size_t n, const char *what)
{
	for (int i = 0; i < s->nvalues; i++)
		if (memmem(buf, n, s->values[i], strlen(s->values[i])))
			hit(s, h_str("value %d in %s", i, what));
}

static void sweep_dir(struct sweep *s, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		const char *p = h_str("%s/%s", dir, de->d_name);
		struct stat st;
		if (lstat(p, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			sweep_dir(s, p);
			continue;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		FILE *f = fopen(p, "rb");
		if (!f)
			continue;
		char *buf = malloc((size_t)st.st_size + 1);
		size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
		fclose(f);
		s->files++;
		s->bytes += (long)n;
		if (buf)
			sweep_buf(s, buf, n, p);
		free(buf);
	}
	if (d)
		closedir(d);
}

static long sweep_kv(struct sweep *s, kvStore *kv, const char *name)
{
	kvKeysList keys = {0};
	long n = 0;
	if (!kv || kvStore_Keys(&keys, kv, NULL) != NATS_OK)
		return -1;
	for (int i = 0; i < keys.Count; i++) {
		kvEntry *e = NULL;
		if (kvStore_Get(&e, kv, keys.Keys[i]) != NATS_OK)
			continue;
		sweep_buf(s, kvEntry_Value(e), (size_t)kvEntry_ValueLen(e),
			h_str("%s %s", name, keys.Keys[i]));
		n++;
		kvEntry_Destroy(e);
	}
	kvKeysList_Destroy(&keys);
	return n;
}

/* ---- the tests ------------------------------------------------------------------------- */

static void test_setup(void)
{
	random_value(v1, sizeof v1, "pw1-");
	random_value(v2, sizeof v2, "pw2-");
	random_value(tok, sizeof tok, "tok-");
	snprintf(shm, sizeof shm, "/dev/shm/outpost-test-%d/thermo", (int)getpid());
	for (int i = 0; i < 4; i++) {
		const char *who = (const char *[]){"plant", "other", "third", "hub"}[i];
		T_REQUIRE(h_run(NULL, "./outpost secret keygen %s", h_path("keys/%s", who)) == 0);
	}
	struct stat st;
	T_REQUIRE(stat(h_path("keys/plant/seal.key"), &st) == 0);
	T_EQ_INT(st.st_mode & 0777, 0600);
	/* a key is never overwritten */
	T_EQ_INT(h_run(NULL, "./outpost secret keygen %s 2>/dev/null", h_path("keys/plant")), 1);
	/* plant verifies every revision itself (the sealed files' blobs are checked against
	 * the signed commit); other takes the hub's word */
	F.agent_args = h_str("--seal-key %s --trust %s", h_path("keys/plant/seal.key"),
		h_path("allowed_signers"));
	F.site_hosts = 4;
	T_REQUIRE(fl_start(&F, "plant", 1));
	F.apps[0] = (fl_app){.on = true, .ver = 1, .instances = 1};
	T_REQUIRE(fl_push(&F) > 0);
	T_REQUIRE(fl_wait_set(&F, "00.001=1;", WAIT_MS));
	S.name = "other";
	T_REQUIRE(fl_site_start(&F, &S, 4, h_str("--seal-key %s", h_path("keys/other/seal.key"))));
}

/* A manifest that refers to a secret with no file: refused, both files named. */
static void test_missing_secret_refused(void)
{
	write_vault("db-pass");
	h_repo_write(F.repo, "apps/.keep.yaml", "# not read\n");
	const char *sha = fl_commit(&F, F.key, "vault without its secrets");
	T_REQUIRE(sha);
	json_t *j = fl_sync(&F, 30000);
	const char *out = json_string_value(json_object_get(j, "outcome"));
	char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
	T_CHECK_MSG(out && !strcmp(out, "rejected"), "sync: %s", dump ? dump : "(none)");
	T_CHECK_MSG(dump && strstr(dump, "apps/vault.yaml") && strstr(dump, "secrets/db-pass.yaml"),
		"sync: %s", dump ? dump : "(none)");
	free(dump);
	json_decref(j);
	/* a file that is not a sealed secret: refused, naming it and where */
	h_repo_write(F.repo, "secrets/db-pass.yaml", "apiVersion: outpost/v1\nkind: Secret\n");
	T_REQUIRE(fl_commit(&F, F.key, "not sealed"));
	j = fl_sync(&F, 30000);
	out = json_string_value(json_object_get(j, "outcome"));
	dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
	T_CHECK_MSG(out && !strcmp(out, "rejected"), "sync: %s", dump ? dump : "(none)");
	T_CHECK_MSG(dump && strstr(dump, "secrets/db-pass.yaml:2:7") &&
			strstr(dump, "SealedSecret") && strstr(dump, "apps/vault.yaml"),
		"sync: %s", dump ? dump : "(none)");
	free(dump);
	json_decref(j);
	/* files no manifest refers to are checked too: a bad name, another secret's name */
	T_REQUIRE(seal("api-token", tok, to_both()));
	char *good = h_read(h_str("%s/secrets/api-token.yaml", F.repo->path));
	T_REQUIRE(good);
	h_repo_write(F.repo, "secrets/db-pass.yaml", "%s", good);
	h_repo_write(F.repo, "secrets/Bad_Name.yaml", "%s", good);
	free(good);
	T_REQUIRE(fl_commit(&F, F.key, "misnamed"));
	j = fl_sync(&F, 30000);
	out = json_string_value(json_object_get(j, "outcome"));
	dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
	T_CHECK_MSG(out && !strcmp(out, "rejected"), "sync: %s", dump ? dump : "(none)");
	T_CHECK_MSG(dump && strstr(dump, "secrets/Bad_Name.yaml") &&
			strstr(dump, "names secret \\\"api-token\\\""),
		"sync: %s", dump ? dump : "(none)");
	free(dump);
	json_decref(j);
	h_repo_rm(F.repo, "secrets/Bad_Name.yaml");
}

static void test_secret_reaches_workload(void)
{
	T_REQUIRE(seal("db-pass", v1, to_both()));
	T_REQUIRE(seal("api-token", tok,
		h_str("--to plant=%s --to other=%s", h_path("keys/plant/seal.pub"),
			h_path("keys/other/seal.pub"))));
	T_REQUIRE(fl_push(&F) > 0);
	struct want_out w = {v1, tok, NULL};
	T_REQUIRE(h_wait_until(output_shows, &w, WAIT_MS));
	T_CHECK(h_wait_until(has_state,
		&(struct want_state){F.site_status, "plant", "vault", "deployed", NULL}, WAIT_MS));
	int pid = vault_pid();
	T_REQUIRE(pid > 0);
	T_CHECK(environ_has(pid, h_str("DB_PASS=%s", v1)));
	T_CHECK(environ_has(pid, h_str("TOKEN=%s", tok)));
	T_CHECK(environ_has(pid, "MODE=test"));
	char *file = h_read(h_str("%s/db-pass", shm));
	T_CHECK(file && !strcmp(file, v1));
	free(file);
	struct stat st;
	/* the workload's own, as it runs as nobody (65534) */
	T_CHECK(stat(h_str("%s/db-pass", shm), &st) == 0 && (st.st_mode & 0777) == 0400 &&
		st.st_uid == 65534);
	/* spec.json holds the reference and the pin, never the value */
	char *spec = h_read(h_path("host0/instances/%s/spec.json", w.inst));
	T_CHECK(spec && strstr(spec, "\"secret\":\"db-pass\"") && strstr(spec, "\"sealed\":\""));
	free(spec);
}

/* The site the secret is not sealed to: the app does not run there, status says why;
 * its other app runs. */
static void test_not_recipient(void)
{
	struct want_state w = {S.status, "other", "vault", "failed", "not sealed to site other"};
	T_CHECK(h_wait_until(has_state, &w, WAIT_MS));
	T_CHECK(h_wait_until(has_state,
		&(struct want_state){S.status, "other", "a00", "deployed", NULL}, WAIT_MS));
	/* and the hub hears it too */
	w.kv = F.hub_status;
	T_CHECK(h_wait_until(has_state, &w, HUB_WAIT_MS));
	T_CHECK(fl_log_count(fl_site_log(&S), 0,
			"app not run: a secret it needs cannot be opened") >= 1);
}

/* The hub's key and a non-recipient site's key, tried on the sealed file the hub holds. */
static void test_hub_and_other_cannot_open(void)
{
	kvKeysList keys = {0};
	T_REQUIRE(kvStore_Keys(&keys, F.hub_kv, NULL) == NATS_OK);
	int files = 0;
	for (int i = 0; i < keys.Count; i++) {
		if (strncmp(keys.Keys[i], "proof.blob.", 11) != 0)
			continue;
		kvEntry *e = NULL;
		if (kvStore_Get(&e, F.hub_kv, keys.Keys[i]) != NATS_OK)
			continue;
		op_sealed sealed;
		op_diags d = {0};
		if (op_sealed_parse("blob", kvEntry_Value(e), (size_t)kvEntry_ValueLen(e), &sealed,
			    &d) == 0 &&
			!strcmp(sealed.name, "db-pass")) {
			files++;
			const char *who[] = {"hub", "other"};
			for (int k = 0; k < 2; k++) {
				unsigned char pk[32], sk[32], *v = NULL;
				size_t vl = 0;
				op_err err = {0};
				T_REQUIRE(op_seal_key_read(h_path("keys/%s/seal.key", who[k]), pk,
						  sk, &err) == 0);
				/* as itself, and posing as each recipient */
				T_CHECK(op_sealed_open(&sealed, who[k], pk, sk, &v, &vl, &err) !=
					0);
				T_CHECK(op_sealed_open(&sealed, "plant", pk, sk, &v, &vl, &err) !=
					0);
				T_CHECK(op_sealed_open(&sealed, "third", pk, sk, &v, &vl, &err) !=
					0);
				T_CHECK(v == NULL);
			}
			/* the recipient's own key does open it */
			unsigned char pk[32], sk[32], *v = NULL;
			size_t vl = 0;
			op_err err = {0};
			T_REQUIRE(
				op_seal_key_read(h_path("keys/plant/seal.key"), pk, sk, &err) == 0);
			T_CHECK(op_sealed_open(&sealed, "plant", pk, sk, &v, &vl, &err) == 0 &&
				vl == strlen(v1) && !memcmp(v, v1, vl));
			op_secret_free(v, vl);
		}
		op_sealed_clear(&sealed);
		op_diags_clear(&d);
		kvEntry_Destroy(e);
	}
	kvKeysList_Destroy(&keys);
	T_EQ_INT(files, 1);
}

/* A new value: a new pin, so a new instance id; the old instance goes. */
static void test_rotation_replaces(void)
{
	const char *before = vault_inst();
	T_REQUIRE(before[0]);
	T_REQUIRE(seal("db-pass", v2, to_both()));
	T_REQUIRE(fl_push(&F) > 0);
	struct want_out w = {v2, tok, NULL};
	T_REQUIRE(h_wait_until(output_shows, &w, WAIT_MS));
	T_CHECK(strcmp(w.inst, before) != 0);
	T_CHECK(strlen(w.inst) == strlen(before));
	T_CHECK(fl_wait_set(&F, h_str("00.001=1;%02d.%03d=1;", VAULT_APP, ver), WAIT_MS));
	T_EQ_STR(vault_inst(), w.inst); /* one instance left: the old one is gone */
	int pid = vault_pid();
	T_CHECK(pid > 0 && environ_has(pid, h_str("DB_PASS=%s", v2)));
	char *file = h_read(h_str("%s/db-pass", shm));
	T_CHECK(file && !strcmp(file, v2));
	free(file);
}

/* The whole site loses power while cut off from the hub: back up, the workload starts
 * again with its value, from the site's own mirror. */
static void test_power_cut_offline(void)
{
	int before = vault_pid();
	T_REQUIRE(before > 0);
	long log0 = fl_log_size(fl_agent_log());
	h_link_cut(F.site);
	T_REQUIRE(fl_power_cut(&F));
	/* a power cut empties the tmpfs too */
	h_run(NULL, "rm -rf %s", shm);
	T_REQUIRE(h_nats_start_again(F.site) == 0);
	T_REQUIRE(fl_start_agent(&F) > 0);
	T_REQUIRE(fl_start_host(&F, 0) > 0);
	T_CHECK(fl_wait_set(&F, h_str("00.001=1;%02d.%03d=1;", VAULT_APP, ver), WAIT_MS));
	struct want_out w = {v2, tok, NULL};
	T_CHECK(h_wait_until(output_shows, &w, WAIT_MS));
	int pid = vault_pid();
	T_CHECK(pid > 0 && pid != before && environ_has(pid, h_str("DB_PASS=%s", v2)));
	char *file = h_read(h_str("%s/db-pass", shm));
	T_CHECK(file && !strcmp(file, v2));
	free(file);
	T_CHECK(fl_log_count(h_path("host0.log"), 0, "action=ask-agent") >= 1);
	T_CHECK(fl_log_count(fl_agent_log(), log0, "resuming the saved revision") == 1);
	h_link_restore(F.site);
	T_CHECK(h_leaf_wait(F.site, WAIT_MS));
}

/* Every file under the temp dir, every KV value of both servers: each value is only in
 * the workload's environment and its tmpfs file. */
static void test_sweep(void)
{
	const char *values[] = {v1, v2, tok};
	/* The sweep finds what is there: a planted copy of a value, deep in a state dir. */
	struct sweep canary = {.values = values, .nvalues = 3};
	T_REQUIRE(h_write(h_path("agent-state/deep/canary"), "x%sy", tok) == 0);
	sweep_dir(&canary, h_tmpdir());
	T_CHECK_MSG(canary.hits == 1 && strstr(canary.where, "canary"), "canary: %d %s",
		canary.hits, canary.where);
	T_REQUIRE(unlink(h_path("agent-state/deep/canary")) == 0);
	struct sweep s = {.values = values, .nvalues = 3};
	sweep_dir(&s, h_tmpdir());
	long kv = 0, n;
	kvStore *other_kv = NULL;
	jsCtx *ojs = NULL;
	if (natsConnection_JetStream(&ojs, S.nc, NULL) == NATS_OK)
		fl_kv_open(ojs, "outpost", &other_kv, 5000);
	struct {
		kvStore *kv;
		const char *name;
	} stores[] = {{F.hub_kv, "hub outpost"}, {F.hub_status, "hub outpost-status"},
		{F.site_kv, "plant outpost"}, {F.site_status, "plant outpost-status"},
		{other_kv, "other outpost"}, {S.status, "other outpost-status"}};
	for (size_t i = 0; i < sizeof stores / sizeof *stores; i++) {
		n = sweep_kv(&s, stores[i].kv, stores[i].name);
		T_CHECK_MSG(n > 0, "no keys read from %s", stores[i].name);
		kv += n > 0 ? n : 0;
	}
	if (other_kv)
		kvStore_Destroy(other_kv);
	if (ojs)
		jsCtx_Destroy(ojs);
	T_CHECK_MSG(s.hits == 0, "found: %s", s.where);
	T_CHECK(s.files > 50);
	printf("  sweep: %ld files (%ld bytes) under %s, %ld KV values in 6 buckets of 3 "
	       "servers: %d hits\n",
		s.files, s.bytes, h_tmpdir(), kv, s.hits);
	/* where the value is meant to be */
	int pid = vault_pid();
	T_CHECK(pid > 0 && environ_has(pid, h_str("DB_PASS=%s", v2)) &&
		environ_has(pid, h_str("TOKEN=%s", tok)));
	char *file = h_read(h_str("%s/db-pass", shm));
	T_CHECK(file && !strcmp(file, v2));
	free(file);
}

int main(void)
{
	T_RUN(test_setup);
	if (t_failed_checks == 0) {
		T_RUN(test_missing_secret_refused);
		T_RUN(test_secret_reaches_workload);
		T_RUN(test_not_recipient);
		T_RUN(test_hub_and_other_cannot_open);
		T_RUN(test_rotation_replaces);
		T_RUN(test_power_cut_offline);
		T_RUN(test_sweep);
	}
	fl_site_stop(&S);
	fl_stop(&F);
	if (shm[0])
		h_run(NULL, "rm -rf %s", h_str("/dev/shm/outpost-test-%d", (int)getpid()));
	return t_done();
}
