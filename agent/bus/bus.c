/* NATS connection policy and KV helpers shared by sync, agent and host. The policy:
 * never give up reconnecting (edge links come back after days), and never block a
 * role's start on the server being up unless the caller asks to wait. Credentials and
 * TLS are read from the environment here, once for every role (see bus.h), and no
 * password ever reaches a message: each one known is scrubbed from error texts. */
#include "outpost/agent/bus/bus.h"

#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "outpost/agent/base/log.h"

/* ---- secrets kept out of messages ------------------------------------------------------
 * Process-wide: a role holds one connection, and nats.c's callbacks may still run
 * while a connection is being destroyed, so their state must outlive it. */

#define MAX_SECRETS 4

static pthread_mutex_t secret_mu = PTHREAD_MUTEX_INITIALIZER;
static char secrets[MAX_SECRETS][256];

static void secret_add(const char *s)
{
	if (!s || strlen(s) < 3 || strlen(s) >= sizeof secrets[0])
		return; /* a one- or two-character password would scrub half of every line */
	pthread_mutex_lock(&secret_mu);
	for (int i = 0; i < MAX_SECRETS; i++) {
		if (!strcmp(secrets[i], s))
			break;
		if (!secrets[i][0]) {
			snprintf(secrets[i], sizeof secrets[i], "%s", s);
			break;
		}
	}
	pthread_mutex_unlock(&secret_mu);
}

/* Replaces every known secret in buf (NUL-terminated, capacity cap) by "***". */
static void scrub(char *buf, size_t cap)
{
	pthread_mutex_lock(&secret_mu);
	for (int i = 0; i < MAX_SECRETS && secrets[i][0]; i++) {
		size_t sl = strlen(secrets[i]);
		for (char *at = strstr(buf, secrets[i]); at; at = strstr(at + 3, secrets[i])) {
			size_t tail = strlen(at + sl);
			if ((size_t)(at - buf) + 3 + tail >= cap)
				break;
			memmove(at + 3, at + sl, tail + 1);
			memset(at, '*', 3);
		}
	}
	pthread_mutex_unlock(&secret_mu);
}

/* Where the password of one URL (up to end) is: [*pw, *pw_end), or false. */
static bool url_password(const char *url, const char *end, const char **pw, const char **pw_end)
{
	const char *host = strstr(url, "://");
	host = host && host < end ? host + 3 : url;
	const char *at = memchr(host, '@', (size_t)(end - host));
	const char *colon = at ? memchr(host, ':', (size_t)(at - host)) : NULL;
	if (!colon)
		return false;
	*pw = colon + 1;
	*pw_end = at;
	return true;
}

void op_bus_url_redact(const char *url, char *out, size_t len)
{
	size_t n = 0;
	if (!len)
		return;
	out[0] = '\0';
	/* nats.c takes a comma-separated list of URLs: each may hold a password */
	for (const char *p = url; p && *p && n + 1 < len;) {
		const char *end = strchr(p, ',');
		end = end ? end + 1 : p + strlen(p);
		const char *pw, *pw_end;
		int w = url_password(p, end, &pw, &pw_end)
			? snprintf(out + n, len - n, "%.*s***%.*s", (int)(pw - p), p,
				  (int)(end - pw_end), pw_end)
			: snprintf(out + n, len - n, "%.*s", (int)(end - p), p);
		if (w < 0 || (size_t)w >= len - n)
			break; /* truncated: nothing past the cut was copied */
		n += (size_t)w;
		p = end;
	}
}

/* The role's connection, so that an error about a closed connection can say why it
 * closed (a refused password closes it for good; nats.c does not retry that). */
static pthread_mutex_t conn_mu = PTHREAD_MUTEX_INITIALIZER;
static natsConnection *conn_last;

/* nats.c's errors name its own source lines, "(conn.c:2143): ": nothing an operator
 * can act on. Removed in place, with the separator that follows. */
static void strip_locations(char *s)
{
	for (char *p = strchr(s, '('); p; p = strchr(p, '(')) {
		size_t n = strspn(p + 1, "abcdefghijklmnopqrstuvwxyz_0123456789");
		char *q = p + 1 + n;
		if (n == 0 || strncmp(q, ".c:", 3) != 0) {
			p++;
			continue;
		}
		q += 3;
		size_t d = strspn(q, "0123456789");
		if (d == 0 || q[d] != ')') {
			p++;
			continue;
		}
		q += d + 1;
		if (q[0] == ':' && q[1] == ' ')
			q += 2;
		else if (q[0] == ' ')
			q++;
		if (p > s && p[-1] == ' ' && !*q)
			p--;
		memmove(p, q, strlen(q) + 1);
	}
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == ':'))
		s[--n] = '\0';
}

int op_bus_err(op_err *e, natsStatus s, const char *what)
{
	const char *last = nats_GetLastError(NULL);
	char why[300] = "";
	if (s == NATS_CONNECTION_CLOSED || s == NATS_NOT_YET_CONNECTED || s == NATS_NO_SERVER) {
		pthread_mutex_lock(&conn_mu);
		const char *txt = NULL;
		if (conn_last && natsConnection_GetLastError(conn_last, &txt) != NATS_OK && txt)
			snprintf(why, sizeof why, " (%s)", txt);
		pthread_mutex_unlock(&conn_mu);
	}
	char detail[300] = "";
	if (last && *last)
		snprintf(detail, sizeof detail, "%s", last);
	strip_locations(detail);
	strip_locations(why);
	/* nats.c's last error often repeats the status text: say it once. */
	const char *st = natsStatus_GetText(s);
	bool repeat = !detail[0] || !strcmp(detail, st);
	int rc = op_err_set(e, OP_ENATS, "%s: %s%s%s%s", what, st, repeat ? "" : ": ",
		repeat ? "" : detail, why);
	if (e)
		scrub(e->msg, sizeof e->msg);
	return rc;
}

/* ---- errors nats.c reports in the background ---------------------------------------------
 * A failed first connect is retried in the background and a permission violation
 * arrives asynchronously: both would be silent. One log line per change of error (and
 * again after a minute), never one per retry. */

static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static char note_last[512], note_url[256];
static int64_t note_at;
static bool note_tls; /* jitter as nats.c's own for TLS */

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void note(const char *msg, const char *text)
{
	char line[512];
	snprintf(line, sizeof line, "%s", text && *text ? text : "unknown error");
	scrub(line, sizeof line);
	for (char *p = line; *p; p++)
		if (*p == '"')
			*p = '\'';
	pthread_mutex_lock(&note_mu);
	int64_t now = mono_ms();
	bool same = !strcmp(line, note_last) && now - note_at < 60000;
	if (!same) {
		snprintf(note_last, sizeof note_last, "%s", line);
		note_at = now;
	}
	char url[256];
	snprintf(url, sizeof url, "%s", note_url);
	pthread_mutex_unlock(&note_mu);
	if (!same)
		op_log_warn(msg, "url=%s error=\"%s\"", url, line);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus s, void *arg)
{
	(void)sub, (void)arg;
	const char *txt = NULL;
	natsConnection_GetLastError(nc, &txt);
	char line[512];
	snprintf(line, sizeof line, "%s%s%s", natsStatus_GetText(s), txt && *txt ? ": " : "",
		txt && *txt ? txt : "");
	note("nats error", line);
}

/* Called by nats.c after each failed round of (re)connect attempts. */
static int64_t on_retry(natsConnection *nc, int attempts, void *arg)
{
	(void)attempts, (void)arg;
	const char *txt = NULL;
	natsStatus s = natsConnection_GetLastError(nc, &txt);
	const char *tl = nats_GetLastError(NULL);
	char line[512];
	if (s != NATS_OK && txt && *txt)
		snprintf(line, sizeof line, "%s", txt);
	else
		snprintf(line, sizeof line, "%s", tl && *tl ? tl : "no server available");
	note("cannot connect to nats; retrying", line);
	pthread_mutex_lock(&note_mu);
	int64_t jitter = note_tls ? 1000 : 250;
	pthread_mutex_unlock(&note_mu);
	return 500 + (int64_t)(randombytes_uniform((uint32_t)jitter + 1));
}

/* With a callback, a failed first connect returns at once and goes on in the
 * background (without one, nats.c would block until it connects). */
static void on_connected(natsConnection *nc, void *arg)
{
	(void)nc, (void)arg;
	pthread_mutex_lock(&note_mu);
	bool had = note_last[0] != '\0';
	note_last[0] = '\0';
	char url[256];
	snprintf(url, sizeof url, "%s", note_url);
	pthread_mutex_unlock(&note_mu);
	if (had)
		op_log_info("connected to nats", "url=%s", url);
}

/* Closed for good: by op_bus_close (no error then), or by nats.c giving up (a refused
 * password or certificate). */
static void on_closed(natsConnection *nc, void *arg)
{
	(void)arg;
	const char *txt = NULL;
	if (natsConnection_GetLastError(nc, &txt) != NATS_OK && txt && *txt)
		note("nats connection closed by the server for good", txt);
}

bool op_bus_lost(const op_bus *b, char *why, size_t len)
{
	if (!b->nc || !natsConnection_IsClosed(b->nc))
		return false;
	const char *txt = NULL;
	natsConnection_GetLastError(b->nc, &txt);
	snprintf(why, len, "%s", txt && *txt ? txt : "closed");
	return true;
}

/* ---- credentials and TLS from the environment ------------------------------------------- */

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

/* A subject token-safe user name, for the inbox prefix. */
static bool inbox_safe(const char *user)
{
	size_t n = strlen(user);
	return n > 0 && n <= 128 &&
		strspn(user, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
		n &&
		user[0] != '.' && user[n - 1] != '.' && !strstr(user, "..");
}

/* OUTPOST_NATS_CREDS: `user:password` on the first line, or a NATS .creds file. */
static int set_creds(natsOptions *o, const char *path, op_err *e)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return op_err_set(e, OP_EIO, "OUTPOST_NATS_CREDS=%s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 077))
		op_log_warn("credentials file readable by others (chmod 600 it)", "file=%s", path);
	char buf[1024];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	natsStatus s;
	if (strstr(buf, "-----BEGIN NATS USER JWT-----")) {
		explicit_bzero(buf, sizeof buf);
		s = natsOptions_SetUserCredentialsFromFiles(o, path, NULL);
		return s == NATS_OK ? 0 : op_bus_err(e, s, "OUTPOST_NATS_CREDS (NATS .creds)");
	}
	buf[strcspn(buf, "\r\n")] = '\0';
	char *colon = strchr(buf, ':');
	if (!colon || colon == buf || !colon[1]) {
		explicit_bzero(buf, sizeof buf);
		return op_err_set(e, OP_EINVAL,
			"OUTPOST_NATS_CREDS=%s: expected user:password on the first line", path);
	}
	*colon = '\0';
	secret_add(colon + 1);
	s = natsOptions_SetUserInfo(o, buf, colon + 1);
	if (s == NATS_OK && inbox_safe(buf)) {
		char pfx[160];
		snprintf(pfx, sizeof pfx, "_INBOX.%.140s", buf); /* user names are short */
		s = natsOptions_SetCustomInboxPrefix(o, pfx);
	}
	explicit_bzero(buf, sizeof buf);
	return s == NATS_OK ? 0 : op_bus_err(e, s, "OUTPOST_NATS_CREDS");
}

static int set_tls(natsOptions *o, bool *tls, op_err *e)
{
	const char *ca = env("OUTPOST_NATS_CA"), *cert = env("OUTPOST_NATS_CERT"),
		   *key = env("OUTPOST_NATS_KEY");
	natsStatus s;
	char what[600];
	*tls = ca || cert || key;
	if (!*tls)
		return 0;
	if (!cert != !key)
		return op_err_set(e, OP_EUSAGE,
			"OUTPOST_NATS_CERT and OUTPOST_NATS_KEY go together (one is unset)");
	if ((s = natsOptions_SetSecure(o, true)) != NATS_OK)
		return op_bus_err(e, s, "TLS");
	if (ca && (s = natsOptions_LoadCATrustedCertificates(o, ca)) != NATS_OK) {
		snprintf(what, sizeof what, "TLS: load CA certificates OUTPOST_NATS_CA=%s", ca);
		return op_bus_err(e, s, what);
	}
	if (cert && (s = natsOptions_LoadCertificatesChain(o, cert, key)) != NATS_OK) {
		snprintf(what, sizeof what,
			"TLS: load client certificate OUTPOST_NATS_CERT=%s OUTPOST_NATS_KEY=%s",
			cert, key);
		return op_bus_err(e, s, what);
	}
	return 0;
}

/* The URLs' own passwords (nats://user:password@host) are secrets too. */
static void url_secret(const char *url)
{
	for (const char *p = url; p && *p;) {
		const char *end = strchr(p, ',');
		end = end ? end + 1 : p + strlen(p);
		const char *pw, *pw_end;
		if (url_password(p, end, &pw, &pw_end) && pw_end - pw > 0 && pw_end - pw < 256) {
			char buf[256];
			snprintf(buf, sizeof buf, "%.*s", (int)(pw_end - pw), pw);
			secret_add(buf);
			explicit_bzero(buf, sizeof buf);
		}
		p = end;
	}
}

#define MAX_URLS 16

/* --nats takes a comma-separated list (say, every node of a hub cluster): nats.c's
 * SetURL takes one URL only, SetServers a list. Spaces around each URL are dropped; an
 * empty one is refused. */
static natsStatus set_urls(natsOptions *o, const char *list)
{
	char buf[4096];
	const char *v[MAX_URLS];
	int n = 0, w = snprintf(buf, sizeof buf, "%s", list);
	if (w < 0 || (size_t)w >= sizeof buf)
		return NATS_INVALID_ARG;
	for (char *p = buf;;) {
		char *end = strchr(p, ',');
		if (end)
			*end = '\0';
		p += strspn(p, " \t");
		size_t len = strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			p[--len] = '\0';
		if (!len || n == MAX_URLS)
			return NATS_INVALID_ARG;
		v[n++] = p;
		if (!end)
			break;
		p = end + 1;
	}
	natsStatus s = n == 1 ? natsOptions_SetURL(o, v[0]) : natsOptions_SetServers(o, v, n);
	explicit_bzero(buf, sizeof buf);
	return s;
}

static int set_options(natsOptions *o, const char *url, const char *name, int wait_ms, op_err *e)
{
	const char *creds = env("OUTPOST_NATS_CREDS");
	bool tls = false;
	int rc;
	url_secret(url);
	if (set_urls(o, url) != NATS_OK) {
		char red[300];
		op_bus_url_redact(url, red, sizeof red);
		return op_err_set(e, OP_EUSAGE, "bad NATS URL %s", red);
	}
	natsOptions_SetName(o, name);
	natsOptions_SetMaxReconnect(o, -1);
	natsOptions_SetTimeout(o, wait_ms > 0 ? wait_ms : 2000);
	natsOptions_SetReconnectBufSize(o, 8 * 1024 * 1024);
	natsOptions_SetCustomReconnectDelay(o, on_retry, NULL);
	natsOptions_SetErrorHandler(o, on_async_error, NULL);
	if (creds && (rc = set_creds(o, creds, e)) != 0)
		return rc;
	if ((rc = set_tls(o, &tls, e)) != 0)
		return rc;
	pthread_mutex_lock(&note_mu);
	note_tls = tls || !strncmp(url, "tls://", 6);
	op_bus_url_redact(url, note_url, sizeof note_url);
	pthread_mutex_unlock(&note_mu);
	natsOptions_SetReconnectedCB(o, on_connected, NULL);
	natsOptions_SetClosedCB(o, on_closed, NULL);
	return 0;
}

/* A server that answered and refused us: retrying in the background would hide why
 * (nats.c then only says "no server available"), so these fail at once. */
static bool refused(natsStatus s)
{
	return s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NOT_PERMITTED || s == NATS_SSL_ERROR ||
		s == NATS_SECURE_CONNECTION_REQUIRED || s == NATS_SECURE_CONNECTION_WANTED;
}

int op_bus_connect(
	op_bus *b, const char *url, const char *name, const char *domain, int wait_ms, op_err *e)
{
	natsOptions *o = NULL;
	natsStatus s;
	memset(b, 0, sizeof *b);
	if (!url)
		url = OP_DEFAULT_NATS;
	if (sodium_init() < 0)
		return op_err_set(e, OP_ENOMEM, "libsodium cannot start");
	if ((s = natsOptions_Create(&o)) != NATS_OK)
		return op_bus_err(e, s, "nats options");
	int rc = set_options(o, url, name, wait_ms, e);
	if (rc) {
		natsOptions_Destroy(o);
		return rc;
	}
	/* One attempt first, so that a refused password or certificate is reported with
	 * its reason; then, when asked not to wait, retries in the background. */
	s = natsConnection_Connect(&b->nc, o);
	if (s != NATS_OK && wait_ms == 0 && !refused(s)) {
		natsOptions_SetRetryOnFailedConnect(o, true, on_connected, NULL);
		s = natsConnection_Connect(&b->nc, o);
		if (s == NATS_NOT_YET_CONNECTED)
			s = NATS_OK; /* connecting in the background */
	}
	natsOptions_Destroy(o);
	if (s != NATS_OK) {
		char what[300], red[256];
		op_bus_url_redact(url, red, sizeof red);
		snprintf(what, sizeof what, "connect to %s", red);
		b->nc = NULL;
		rc = op_bus_err(e, s, what);
		/* A server that verifies clients closes a handshake without a certificate,
		 * and nats.c only says the connection closed. */
		if (e && env("OUTPOST_NATS_CA") && !env("OUTPOST_NATS_CERT") &&
			(s == NATS_CONNECTION_CLOSED || s == NATS_IO_ERROR)) {
			size_t n = strlen(e->msg);
			snprintf(e->msg + n, sizeof e->msg - n, "%s",
				" (TLS: the server may require a client certificate: set "
				"OUTPOST_NATS_CERT and OUTPOST_NATS_KEY)");
		}
		return rc;
	}
	pthread_mutex_lock(&conn_mu);
	conn_last = b->nc;
	pthread_mutex_unlock(&conn_mu);
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Domain = domain;
	jo.Wait = OP_JS_WAIT_MS;
	if ((s = natsConnection_JetStream(&b->js, b->nc, &jo)) != NATS_OK) {
		op_bus_close(b);
		return op_bus_err(e, s, "jetstream context");
	}
	return 0;
}

void op_bus_close(op_bus *b)
{
	pthread_mutex_lock(&conn_mu);
	if (conn_last == b->nc)
		conn_last = NULL;
	pthread_mutex_unlock(&conn_mu);
	if (b->js)
		jsCtx_Destroy(b->js);
	if (b->nc) {
		natsConnection_Close(b->nc);
		natsConnection_Destroy(b->nc);
	}
	memset(b, 0, sizeof *b);
}

bool op_bus_connected(const op_bus *b)
{
	return b->nc && natsConnection_Status(b->nc) == NATS_CONN_STATUS_CONNECTED;
}

int op_bus_kv(op_bus *b, kvConfig *cfg, kvStore **kv, op_err *e)
{
	natsStatus s = js_KeyValue(kv, b->js, cfg->Bucket);
	if (s == NATS_NOT_FOUND)
		s = js_CreateKeyValue(kv, b->js, cfg);
	if (s != NATS_OK) {
		char what[128];
		snprintf(what, sizeof what, "open bucket %s", cfg->Bucket);
		return op_bus_err(e, s, what);
	}
	return 0;
}

int op_bus_kv_get(kvStore *kv, const char *key, char **val, size_t *len, uint64_t *rev, op_err *e)
{
	kvEntry *ent = NULL;
	natsStatus s = kvStore_Get(&ent, kv, key);
	if (s == NATS_NOT_FOUND)
		return op_err_set(e, OP_ENOTFOUND, "key %s not found", key);
	if (s != NATS_OK) {
		char what[160];
		snprintf(what, sizeof what, "get %s", key);
		return op_bus_err(e, s, what);
	}
	int n = kvEntry_ValueLen(ent);
	*val = malloc((size_t)n + 1);
	if (!*val) {
		kvEntry_Destroy(ent);
		return op_err_set(e, OP_ENOMEM, "out of memory");
	}
	memcpy(*val, kvEntry_Value(ent), (size_t)n);
	(*val)[n] = '\0';
	if (len)
		*len = (size_t)n;
	if (rev)
		*rev = kvEntry_Revision(ent);
	kvEntry_Destroy(ent);
	return 0;
}
