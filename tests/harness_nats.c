/* The harness's nats-servers (see harness.h): a hub with a leafnode port and sites
 * that link to it through a TCP proxy of ours, so a test can cut and restore a site's
 * link while both servers keep running (nats-server cannot drop a leaf link on reload),
 * and count the bytes a link carries (what a metered link would bill).
 *
 * Each proxy is one poll() thread that owns its sockets; the main thread only flips
 * its state under a mutex and waits until the thread has acted on it. Every socket is
 * close-on-exec: a copy inherited by a child would keep a "cut" connection open. */
#include "harness.h"

#include <errno.h>
#include <nats/nats.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAXSERVERS 1024 /* bench_fleet starts hundreds of sites */
#define MAXPAIRS 16
#define BUFSZ 65536
#define LINESZ 16384
#define READY_MS 15000
#define CUT_MS 5000

/* One proxied connection: fd[0] from the site, fd[1] to the hub; buf[i] holds bytes
 * read from fd[i] not yet written to the other side. */
struct pair {
	int fd[2];
	char buf[2][BUFSZ];
	size_t len[2], off[2];
	bool handshake; /* reading the hub's side line by line (see read_hub) */
	char line[LINESZ + 64]; /* the hub's partial line then; room for the rewrite */
	size_t nline;
};

struct h_proxy {
	int lfd, port, target_port;
	int ctl[2]; /* wakes the thread up */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool cut, stop; /* wanted state, under mu */
	int refused; /* connections refused since the last cut, under mu */
	/* Hub leafnode ports the INFO rewrite replaces by this site's proxy ports, under
	 * mu (a cluster's INFO names every node; none set: target_port -> port). */
	int map_from[H_MAXNODES], map_to[H_MAXNODES];
	int nmap;
	unsigned long long bytes[2]; /* read from the site [0] and the hub [1], under mu */
	unsigned long req, done; /* requests made / acted on, under mu */
	struct pair *pairs[MAXPAIRS]; /* the thread's own */
	int npairs;
};

static h_nats *servers[MAXSERVERS];
static int nservers;

/* ---- the link proxy ------------------------------------------------------------------ */

static void pair_close(struct pair *p)
{
	close(p->fd[0]);
	close(p->fd[1]);
	free(p);
}

static void close_pairs(struct h_proxy *x)
{
	for (int i = 0; i < x->npairs; i++)
		pair_close(x->pairs[i]);
	x->npairs = 0;
}

static int connect_local(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void nonblock(int fd)
{
	int one = 1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static void proxy_accept(struct h_proxy *x)
{
	int c = accept4(x->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (c < 0)
		return;
	pthread_mutex_lock(&x->mu);
	bool cut = x->cut;
	if (cut)
		x->refused++;
	pthread_mutex_unlock(&x->mu);
	int h = (cut || x->npairs == MAXPAIRS) ? -1 : connect_local(x->target_port);
	struct pair *p = h < 0 ? NULL : calloc(1, sizeof *p);
	if (!p) { /* cut, or the hub is down: the site sees the connection close */
		if (h >= 0)
			close(h);
		close(c);
		return;
	}
	nonblock(c);
	nonblock(h);
	p->fd[0] = c;
	p->fd[1] = h;
	p->handshake = true;
	x->pairs[x->npairs++] = p;
}

/* The hub's INFO names its own leafnode address ("ip" and "leafnode_urls") and
 * nats-server 2.10 cannot be told not to: no_advertise is for routes, advertise only
 * changes the address, and a site refuses an INFO without leafnode_urls ("attempted
 * to connect to wrong port"). A site adds a URL it learns to its remote and, after a
 * cut, reconnects straight to the hub around the proxy. So until the first message
 * the proxy reads the hub's side line by line and, in INFO lines, replaces the hub's
 * address by its own, which the site then drops as the URL it already has. The hub's
 * leaf compression is off so that the INFO sent after CONNECT is plain text too. */
static void rewrite_port(char *line, size_t cap, int from_port, int to_port)
{
	char from[32], to[32];
	snprintf(from, sizeof from, "\"127.0.0.1:%d\"", from_port);
	snprintf(to, sizeof to, "\"127.0.0.1:%d\"", to_port);
	size_t lf = strlen(from), lt = strlen(to);
	for (char *at = strstr(line, from); at; at = strstr(at + lt, from)) {
		size_t len = strlen(line);
		if (len + lt - lf >= cap)
			break;
		memmove(at + lt, at + lf, len - (size_t)(at - line) - lf + 1);
		memcpy(at, to, lt);
	}
}

/* Of a cluster hub, the INFO's leafnode_urls name every node: each becomes the site's
 * proxy to that node, so that the site never learns a way around its proxies. */
static void rewrite_info(struct h_proxy *x, char *line, size_t cap)
{
	pthread_mutex_lock(&x->mu);
	int n = x->nmap, from[H_MAXNODES], to[H_MAXNODES];
	memcpy(from, x->map_from, sizeof from);
	memcpy(to, x->map_to, sizeof to);
	pthread_mutex_unlock(&x->mu);
	if (n == 0)
		rewrite_port(line, cap, x->target_port, x->port);
	for (int i = 0; i < n; i++)
		rewrite_port(line, cap, from[i], to[i]);
}

/* Reads the hub's side into p->buf[1] (empty on entry) during the handshake. */
static ssize_t read_hub(struct h_proxy *x, struct pair *p)
{
	char in[LINESZ];
	ssize_t n = read(p->fd[1], in, sizeof in);
	size_t out = 0;
	for (ssize_t i = 0; i < n; i++) {
		if (!p->handshake) {
			memcpy(p->buf[1] + out, in + i, (size_t)(n - i));
			out += (size_t)(n - i);
			break;
		}
		p->line[p->nline++] = in[i];
		if (in[i] != '\n' && p->nline < LINESZ)
			continue;
		p->line[p->nline] = 0;
		bool tls = false;
		if (strncmp(p->line, "INFO ", 5) == 0) {
			rewrite_info(x, p->line, sizeof p->line);
			/* A TLS handshake follows: the rest is opaque (see h_nats_cfg). */
			tls = strstr(p->line, "\"tls_required\":true") != NULL;
		} else if (p->nline == LINESZ || strstr(p->line, "MSG ") == p->line + 1 ||
			strncmp(p->line, "MSG ", 4) == 0)
			p->handshake = false; /* LMSG, HMSG, RMSG, MSG: payloads follow */
		size_t len = strlen(p->line);
		memcpy(p->buf[1] + out, p->line, len);
		out += len;
		p->nline = 0;
		if (tls)
			p->handshake = false;
	}
	p->len[1] = out;
	p->off[1] = 0;
	return n;
}

/* Moves bytes for one pair as poll said; false once either side is closed. */
static bool pair_pump(struct h_proxy *x, struct pair *p, const struct pollfd pf[2])
{
	for (int i = 0; i < 2; i++) {
		int o = 1 - i;
		if ((pf[i].revents & (POLLIN | POLLHUP | POLLERR)) && p->len[i] == 0) {
			bool hub_handshake = i == 1 && p->handshake;
			ssize_t n = hub_handshake ? read_hub(x, p)
						  : read(p->fd[i], p->buf[i], BUFSZ);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return false;
			if (n > 0) {
				pthread_mutex_lock(&x->mu);
				x->bytes[i] += (unsigned long long)n;
				pthread_mutex_unlock(&x->mu);
			}
			if (n > 0 && !hub_handshake) {
				p->len[i] = (size_t)n;
				p->off[i] = 0;
			}
		}
		if (p->len[i] > 0) { /* try at once; POLLOUT on the other side otherwise */
			ssize_t n = write(p->fd[o], p->buf[i] + p->off[i], p->len[i] - p->off[i]);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return false;
			if (n > 0)
				p->off[i] += (size_t)n;
			if (p->off[i] == p->len[i])
				p->len[i] = p->off[i] = 0;
		}
	}
	return true;
}

/* Returns false when asked to stop. */
static bool proxy_control(struct h_proxy *x)
{
	char b[64];
	while (read(x->ctl[0], b, sizeof b) > 0)
		;
	pthread_mutex_lock(&x->mu);
	bool stop = x->stop;
	if (x->cut || stop)
		close_pairs(x);
	x->done = x->req;
	pthread_cond_broadcast(&x->cv);
	pthread_mutex_unlock(&x->mu);
	return !stop;
}

static void *proxy_main(void *arg)
{
	struct h_proxy *x = arg;
	sigset_t all;
	sigfillset(&all); /* signals go to the main thread */
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	struct pollfd pf[2 + 2 * MAXPAIRS];
	for (;;) {
		int n = x->npairs;
		pf[0] = (struct pollfd){x->ctl[0], POLLIN, 0};
		pf[1] = (struct pollfd){x->lfd, POLLIN, 0};
		for (int i = 0; i < n; i++) {
			struct pair *p = x->pairs[i];
			for (int s = 0; s < 2; s++) {
				short ev = p->len[s] == 0 ? POLLIN : 0;
				if (p->len[1 - s] > 0)
					ev |= POLLOUT;
				pf[2 + 2 * i + s] = (struct pollfd){p->fd[s], ev, 0};
			}
		}
		if (poll(pf, (nfds_t)(2 + 2 * n), -1) < 0 && errno != EINTR)
			break;
		int kept = 0;
		for (int i = 0; i < n; i++) {
			if (pair_pump(x, x->pairs[i], &pf[2 + 2 * i]))
				x->pairs[kept++] = x->pairs[i];
			else
				pair_close(x->pairs[i]);
		}
		x->npairs = kept;
		if (pf[1].revents & POLLIN)
			proxy_accept(x);
		if ((pf[0].revents & POLLIN) && !proxy_control(x))
			break;
	}
	close_pairs(x);
	return NULL;
}

/* Makes the thread act on the state just set, and waits until it has. */
static void proxy_sync(struct h_proxy *x)
{
	pthread_mutex_lock(&x->mu);
	unsigned long want = ++x->req;
	ssize_t r = write(x->ctl[1], "x", 1);
	(void)r;
	while (x->done < want)
		pthread_cond_wait(&x->cv, &x->mu);
	pthread_mutex_unlock(&x->mu);
}

static struct h_proxy *proxy_start(int target_port, bool cut)
{
	struct h_proxy *x = calloc(1, sizeof *x);
	if (!x)
		return NULL;
	x->target_port = target_port;
	x->cut = cut;
	x->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof a;
	if (x->lfd < 0 || bind(x->lfd, (struct sockaddr *)&a, sizeof a) < 0 ||
		listen(x->lfd, 16) < 0 || getsockname(x->lfd, (struct sockaddr *)&a, &len) < 0 ||
		pipe2(x->ctl, O_CLOEXEC | O_NONBLOCK) < 0) {
		if (x->lfd >= 0)
			close(x->lfd);
		free(x);
		return NULL;
	}
	x->port = ntohs(a.sin_port);
	pthread_mutex_init(&x->mu, NULL);
	pthread_cond_init(&x->cv, NULL);
	if (pthread_create(&x->thread, NULL, proxy_main, x) != 0) {
		close(x->lfd), close(x->ctl[0]), close(x->ctl[1]);
		free(x);
		return NULL;
	}
	return x;
}

static void proxy_free(struct h_proxy *x)
{
	pthread_mutex_lock(&x->mu);
	x->stop = true;
	pthread_mutex_unlock(&x->mu);
	proxy_sync(x);
	pthread_join(x->thread, NULL);
	close(x->lfd), close(x->ctl[0]), close(x->ctl[1]);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
}

/* ---- monitoring over HTTP/1.0 ----------------------------------------------------------- */

/* GET path on 127.0.0.1:port; the body (caller frees) if the status is 200. */
char *h_http_get(int port, const char *path)
{
	int fd = connect_local(port);
	if (fd < 0)
		return NULL;
	struct timeval tv = {2, 0};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	char req[512];
	int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
	size_t cap = 16384, len = 0;
	char *buf = malloc(cap);
	if (!buf || n < 0 || (size_t)n >= sizeof req || write(fd, req, (size_t)n) != n) {
		free(buf);
		close(fd);
		return NULL;
	}
	for (;;) {
		if (len + 1 == cap) {
			char *b = cap < (16u << 20) ? realloc(buf, cap * 2) : NULL;
			if (!b)
				break;
			buf = b;
			cap *= 2;
		}
		ssize_t r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	buf[len] = 0;
	char *body = strstr(buf, "\r\n\r\n");
	int status = 0;
	if (strncmp(buf, "HTTP/1.", 7) == 0 && len > 12)
		status = (int)strtol(buf + 9, NULL, 10);
	char *out = (body && status == 200) ? strdup(body + 4) : NULL;
	free(buf);
	return out;
}

char *h_nats_monitor_text(const h_nats *s, const char *path)
{
	return h_http_get(s->http_port, path);
}

json_t *h_nats_monitor(const h_nats *s, const char *path)
{
	char *body = h_http_get(s->http_port, path);
	if (!body)
		return NULL;
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	return j;
}

static bool healthy(void *arg)
{
	const h_nats *s = arg;
	json_t *j = h_nats_monitor(s, "/healthz");
	const char *st = json_string_value(json_object_get(j, "status"));
	bool ok = st && strcmp(st, "ok") == 0;
	json_decref(j);
	return ok;
}

/* True when /leafz at the site lists a link to its hub. */
static bool leaf_up(void *arg)
{
	h_nats *s = arg;
	json_t *j = h_nats_monitor(s, "/leafz");
	json_t *leafs = json_object_get(j, "leafs");
	bool up = false;
	for (size_t i = 0; i < json_array_size(leafs) && !up; i++) {
		const char *name = json_string_value(
			json_object_get(json_array_get(leafs, i), "name"));
		up = !name || !s->hub || strcmp(name, s->hub->name) == 0;
		for (int k = 0; !up && k < s->hub->nnodes; k++)
			up = strcmp(name, s->hub->nodes[k]->name) == 0;
	}
	json_decref(j);
	return up;
}

static bool leaf_down(void *arg)
{
	h_nats *s = arg;
	json_t *j = h_nats_monitor(s, "/leafz");
	bool down = j && json_array_size(json_object_get(j, "leafs")) == 0;
	json_decref(j);
	return down;
}

bool h_leaf_wait(h_nats *site, int timeout_ms)
{
	return h_wait_until(leaf_up, site, timeout_ms);
}

bool h_leaf_wait_down(h_nats *site, int timeout_ms)
{
	return h_wait_until(leaf_down, site, timeout_ms);
}

/* ---- servers ---------------------------------------------------------------------------- */

static void cleanup_servers(void)
{
	for (int i = 0; i < nservers; i++) {
		for (int k = 0; k < H_MAXNODES; k++)
			if (servers[i]->proxies[k])
				proxy_free(servers[i]->proxies[k]);
		free(servers[i]);
	}
	nservers = 0;
}

/* "\"<scheme>://127.0.0.1:<port>\", ..." of ports[0..n) but skip (0: none), into buf. */
static int url_list(char *buf, size_t cap, const char *scheme, const int *ports, int n, int skip)
{
	size_t len = 0;
	buf[0] = 0;
	for (int i = 0; i < n; i++) {
		if (ports[i] == skip)
			continue;
		int k = snprintf(buf + len, cap - len, "%s\"%s://127.0.0.1:%d\"", len ? ", " : "",
			scheme, ports[i]);
		if (k < 0 || (size_t)k >= cap - len)
			return -1;
		len += (size_t)k;
	}
	return 0;
}

/* The cluster block of a hub node: routes to every other node. */
static int cluster_conf(const h_nats *s, char *buf, size_t cap)
{
	int ports[H_MAXNODES] = {0};
	char routes[H_MAXNODES * 48];
	for (int i = 0; i < s->nnodes; i++)
		ports[i] = s->nodes[i]->cluster_port;
	if (url_list(routes, sizeof routes, "nats-route", ports, s->nnodes, s->cluster_port) < 0)
		return -1;
	int n = snprintf(buf, cap,
		"cluster {\n  name: \"hub\"\n  listen: \"127.0.0.1:%d\"\n  routes: [ %s ]\n}\n",
		s->cluster_port, routes);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int write_conf(const h_nats *s, const h_nats_cfg *cfg)
{
	char leaf[512], urls[H_MAXNODES * 48], cluster[H_MAXNODES * 48 + 128] = "";
	/* The site retries its remote every second (the default, said here on purpose).
	 * The hub's leaf compression is off for the proxy's sake (see rewrite_info). A
	 * site of a cluster hub lists every node (through its proxy to each). */
	int n, ports[H_MAXNODES] = {s->leaf_port};
	for (int i = 0; s->hub && i < s->nnodes; i++)
		ports[i] = s->proxies[i]->port;
	if (s->hub &&
		url_list(urls, sizeof urls, "nats-leaf", ports, s->nnodes ? s->nnodes : 1, 0) < 0)
		return -1;
	if (s->hub)
		n = snprintf(leaf, sizeof leaf,
			"leafnodes {\n  reconnect: \"1s\"\n"
			"  remotes: [ { urls: [ %s ] } ]\n}\n",
			urls);
	else
		n = snprintf(leaf, sizeof leaf,
			"leafnodes { listen: \"127.0.0.1:%d\", compression: off }\n", s->leaf_port);
	if (n < 0 || (size_t)n >= sizeof leaf)
		return -1;
	if (!s->hub && s->nnodes && cluster_conf(s, cluster, sizeof cluster) < 0)
		return -1;
	const char *extra = cfg && cfg->text ? cfg->text(s, cfg->arg) : NULL;
	if (cfg && cfg->text && !extra)
		return -1;
	/* sync_interval stays the default (2 min): a killed server loses nothing the kernel
	 * already has, and the tests do not power off the machine. */
	return h_write(h_str("%s/server.conf", s->dir),
		"server_name: \"%s\"\nlisten: \"127.0.0.1:%d\"\nhttp: \"127.0.0.1:%d\"\n"
		"jetstream { domain: \"%s\", store_dir: \"%s\" }\n%s%s%s%s",
		s->name, s->port, s->http_port, s->domain, s->store, cluster,
		cfg && cfg->own_leafnodes ? "" : leaf, extra ? extra : "",
		extra && *extra && extra[strlen(extra) - 1] != '\n' ? "\n" : "");
}

static bool exited_or_healthy(void *arg)
{
	h_nats *s = arg;
	return h_proc_exited(s->pid, NULL) || healthy(s);
}

static void launch_failed(h_nats *s, bool quiet)
{
	if (s->pid > 0)
		h_proc_stop(s->pid, true, 0);
	s->pid = 0;
	if (!quiet) {
		fprintf(stderr, "harness: nats-server %s did not become ready; its log:\n",
			s->name);
		h_run(NULL, "tail -n 20 %s >&2; exit 1", h_q(s->log));
	}
}

static pid_t spawn_server(h_nats *s)
{
	const char *conf = h_str("%s/server.conf", s->dir);
	/* A site's server as packaging/deb/systemd/nats-site.service.conf runs it: one
	 * thread of Go code at a time (see there). The hub's nodes keep Go's default. */
	const char *site[] = {"env", "GOMAXPROCS=1", "nats-server", "-c", conf, NULL};
	const char *hub[] = {"nats-server", "-c", conf, NULL};
	return s->pid = h_spawn(s->log, s->hub ? site : hub);
}

/* Up enough to be asked: /varz answers (a cluster node without a quorum never gets
 * healthy: JetStream has no meta leader). */
static bool exited_or_up(void *arg)
{
	h_nats *s = arg;
	json_t *j = h_proc_exited(s->pid, NULL) ? NULL : h_nats_monitor(s, "/varz");
	json_decref(j);
	return j != NULL || s->pid <= 0 || kill(s->pid, 0) < 0;
}

/* A cluster node's peers that run, itself included. */
static int nodes_up(const h_nats *s)
{
	int up = 0;
	for (int i = 0; i < s->nnodes; i++)
		up += s->nodes[i] == s || s->nodes[i]->pid > 0;
	return up;
}

/* Starts the server from its config and waits for /healthz (a cluster node without a
 * quorum of running nodes: for /varz only). 0, or -1 (pid 0). */
static int launch(h_nats *s, bool quiet)
{
	bool quorum = s->hub || !s->nnodes || nodes_up(s) > s->nnodes / 2;
	if (spawn_server(s) > 0 &&
		h_wait_until(quorum ? exited_or_healthy : exited_or_up, s, READY_MS) &&
		!h_proc_exited(s->pid, NULL) && (!quorum || healthy(s)))
		return 0;
	launch_failed(s, quiet);
	return -1;
}

/* A new server's struct, registered, with its dirs made; no ports yet. */
static h_nats *server_alloc(h_nats *hub, const char *name, const char *domain)
{
	size_t n = strlen(name);
	if (n == 0 || n > 63 || strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-") != n ||
		nservers == MAXSERVERS) {
		fprintf(stderr, "harness: bad server name or too many servers: %s\n", name);
		return NULL;
	}
	h_nats *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	h__init();
	h__atcleanup(cleanup_servers);
	servers[nservers++] = s;
	snprintf(s->name, sizeof s->name, "%s", name);
	snprintf(s->domain, sizeof s->domain, "%s", domain);
	/* nats-NAME, or nats-NAME-2... when a test starts two servers of one name */
	int n1 = snprintf(s->dir, sizeof s->dir, "%s/nats-%s", h_tmpdir(), name);
	for (int k = 2; n1 > 0 && (size_t)n1 < 400 && mkdir(s->dir, 0755) < 0 && errno == EEXIST;
		k++)
		n1 = snprintf(s->dir, sizeof s->dir, "%s/nats-%s-%d", h_tmpdir(), name, k);
	int n2 = snprintf(s->store, sizeof s->store, "%.400s/store", s->dir);
	int n3 = snprintf(s->log, sizeof s->log, "%.400s/server.log", s->dir);
	s->hub = hub;
	if (n1 < 0 || (size_t)n1 >= 400 || n2 < 0 || n3 < 0 || h_mkdirs(s->store) < 0) {
		fprintf(stderr, "harness: cannot make %s\n", s->store);
		return NULL;
	}
	return s;
}

/* A site's link proxies: one to the hub, or one to each node of a cluster hub, each
 * rewriting every node's leaf address to the site's proxy to that node. */
static int site_proxies(h_nats *s, h_nats *hub, bool cut)
{
	int n = hub->nnodes ? hub->nnodes : 1;
	for (int i = 0; i < n; i++) {
		const h_nats *node = hub->nnodes ? hub->nodes[i] : hub;
		if (!(s->proxies[i] = proxy_start(node->leaf_port, cut)))
			return -1;
		s->leaf_ports[i] = s->proxies[i]->port;
	}
	for (int i = 0; i < n && hub->nnodes; i++) {
		struct h_proxy *x = s->proxies[i];
		pthread_mutex_lock(&x->mu);
		for (int k = 0; k < n; k++) {
			x->map_from[k] = hub->nodes[k]->leaf_port;
			x->map_to[k] = s->proxies[k]->port;
		}
		x->nmap = n;
		pthread_mutex_unlock(&x->mu);
	}
	s->proxy = s->proxies[0];
	s->nnodes = hub->nnodes;
	s->hub = hub->nnodes ? hub->nodes[0] : hub;
	return 0;
}

/* A site's or a lone hub's struct, registered, with its dirs and link proxies; not
 * started, no ports yet. */
static h_nats *server_prepare(h_nats *hub, const char *name, bool cut)
{
	h_nats *s = server_alloc(hub, name, name);
	if (!s)
		return NULL;
	if (hub && site_proxies(s, hub, cut) < 0) {
		fprintf(stderr, "harness: cannot start the link proxy of %s\n", name);
		return NULL;
	}
	return s;
}

/* Picks the server's ports and writes its config. 0 or -1 (printed). */
static int server_conf(h_nats *s, const h_nats_cfg *cfg)
{
	s->port = h_free_port();
	s->http_port = h_free_port();
	s->leaf_port = s->hub ? s->proxy->port : h_free_port();
	snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", s->port);
	snprintf(s->urls, sizeof s->urls, "%s", s->url);
	if (write_conf(s, cfg) == 0)
		return 0;
	fprintf(stderr, "harness: cannot write %s/server.conf\n", s->dir);
	return -1;
}

/* Ports are free when picked but may be taken before the server binds them: retry
 * with new ones (the proxy's port is held open by the proxy itself). */
static int server_launch(h_nats *s, const h_nats_cfg *cfg, int attempts)
{
	for (int attempt = 0; attempt < attempts; attempt++) {
		if (server_conf(s, cfg) < 0)
			return -1;
		if (launch(s, attempt < attempts - 1) == 0)
			return 0;
	}
	return -1;
}

static h_nats *server_new(h_nats *hub, const char *name, bool cut, const h_nats_cfg *cfg)
{
	h_nats *s = server_prepare(hub, name, cut);
	return s && server_launch(s, cfg, 3) == 0 ? s : NULL;
}

struct many {
	h_nats **v;
	bool *ready;
	int n;
};

/* Every server that has not exited is healthy (asks only those not known to be). */
static bool many_ready(void *arg)
{
	struct many *m = arg;
	bool all = true;
	for (int i = 0; i < m->n; i++)
		if (m->v[i]->pid > 0 && !m->ready[i])
			all &= (m->ready[i] = exited_or_healthy(m->v[i]));
	return all;
}

bool h_sites_start(h_nats *hub, const char *const names[], int n, h_nats *out[])
{
	return h_sites_start_cfg(hub, names, n, out, NULL);
}

bool h_sites_start_cfg(
	h_nats *hub, const char *const names[], int n, h_nats *out[], const h_nats_cfg *cfg)
{
	struct many m = {out, calloc((size_t)n, sizeof(bool)), n};
	if (!m.ready)
		return false;
	for (int i = 0; i < n; i++) {
		if (!(out[i] = server_prepare(hub, names[i], false)) ||
			server_conf(out[i], cfg) < 0) {
			free(m.ready);
			return false;
		}
		spawn_server(out[i]);
	}
	h_wait_until(many_ready, &m, READY_MS + n * 100);
	free(m.ready);
	/* Those that did not come up (a port taken meanwhile, say): one at a time. */
	for (int i = 0; i < n; i++) {
		/* One that exited may have lost its port to a server that answers there. */
		if (out[i]->pid > 0 && !h_proc_exited(out[i]->pid, NULL) && healthy(out[i]))
			continue;
		if (out[i]->pid > 0)
			h_proc_stop(out[i]->pid, true, 0);
		out[i]->pid = 0;
		if (server_launch(out[i], cfg, 3) < 0)
			return false;
	}
	return true;
}

struct cluster {
	int n;
	h_nats **nodes;
};

/* The meta leader (some node) lists every other node as a peer, each current: the
 * cluster can place a replicated stream. /healthz says less: a node is healthy once it
 * knows a leader, which may not have heard from every peer yet. */
static bool meta_complete(void *arg)
{
	const struct cluster *c = arg;
	bool ok = false;
	for (int i = 0; i < c->n && !ok; i++) {
		json_t *j = h_nats_monitor(c->nodes[i], "/jsz");
		json_t *m = json_object_get(j, "meta_cluster");
		const char *leader = json_string_value(json_object_get(m, "leader"));
		json_t *peers = json_object_get(m, "replicas");
		if (leader && !strcmp(leader, c->nodes[i]->name) &&
			json_array_size(peers) == (size_t)c->n - 1) {
			ok = true;
			for (size_t k = 0; k < json_array_size(peers); k++)
				ok &= json_is_true(
					json_object_get(json_array_get(peers, k), "current"));
		}
		json_decref(j);
	}
	return ok;
}

/* Every node's ports, URLs and config; then all are started before any is waited for
 * (none is healthy before a quorum runs). */
static int cluster_launch(int n, h_nats *nodes[], const h_nats_cfg *cfg, bool quiet)
{
	char urls[sizeof nodes[0]->urls] = "";
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		h_nats *s = nodes[i];
		s->port = h_free_port();
		s->http_port = h_free_port();
		s->leaf_port = h_free_port();
		s->cluster_port = h_free_port();
		snprintf(s->url, sizeof s->url, "nats://127.0.0.1:%d", s->port);
		int k = snprintf(urls + len, sizeof urls - len, "%s%s", i ? "," : "", s->url);
		if (k < 0 || (size_t)k >= sizeof urls - len)
			return -1;
		len += (size_t)k;
	}
	for (int i = 0; i < n; i++) {
		snprintf(nodes[i]->urls, sizeof nodes[i]->urls, "%s", urls);
		if (write_conf(nodes[i], cfg) < 0) {
			fprintf(stderr, "harness: cannot write %s/server.conf\n", nodes[i]->dir);
			return -1;
		}
	}
	int ok = 0;
	for (int i = 0; i < n; i++)
		ok += spawn_server(nodes[i]) > 0;
	for (int i = 0; i < n && ok == n; i++)
		if (!h_wait_until(exited_or_healthy, nodes[i], READY_MS) ||
			h_proc_exited(nodes[i]->pid, NULL) || !healthy(nodes[i]))
			ok = 0;
	if (ok == n && h_wait_until(meta_complete, &(struct cluster){n, nodes}, READY_MS))
		return 0;
	if (ok == n && !quiet)
		fprintf(stderr, "harness: the cluster's meta leader does not list every node\n");
	for (int i = 0; i < n; i++) {
		launch_failed(nodes[i], quiet);
		/* The next try starts from nothing, not from what this one half agreed. */
		h_run(NULL, "rm -rf %s", h_q(nodes[i]->store));
	}
	return -1;
}

h_nats *h_hub_cluster_start(int n, h_nats *nodes[])
{
	return h_hub_cluster_start_cfg(n, nodes, NULL);
}

h_nats *h_hub_cluster_start_cfg(int n, h_nats *nodes[], const h_nats_cfg *cfg)
{
	if (n < 2 || n > H_MAXNODES) {
		fprintf(stderr, "harness: a hub cluster has 2..%d nodes, not %d\n", H_MAXNODES, n);
		return NULL;
	}
	for (int i = 0; i < n; i++)
		if (!(nodes[i] = server_alloc(NULL, h_str("hub-%d", i + 1), "hub")))
			return NULL;
	for (int i = 0; i < n; i++) {
		memcpy(nodes[i]->nodes, nodes, (size_t)n * sizeof nodes[0]);
		nodes[i]->nnodes = n;
	}
	for (int attempt = 0; attempt < 3; attempt++)
		if (cluster_launch(n, nodes, cfg, attempt < 2) == 0)
			return nodes[0];
	return NULL;
}

const char *h_nats_urls(const h_nats *s)
{
	return s->urls[0] ? s->urls : s->url;
}

struct kv_create {
	kvStore **kv;
	jsCtx *js;
	kvConfig *cfg;
	natsStatus st;
};

static bool kv_created(void *arg)
{
	struct kv_create *c = arg;
	c->st = js_CreateKeyValue(c->kv, c->js, c->cfg);
	/* A meta leader just elected may not have heard from every peer yet. */
	const char *why = c->st == NATS_OK ? NULL : nats_GetLastError(NULL);
	return c->st != NATS_TIMEOUT && !(why && strstr(why, "no suitable peers"));
}

natsStatus h_kv_create(kvStore **kv, jsCtx *js, kvConfig *cfg)
{
	struct kv_create c = {kv, js, cfg, NATS_TIMEOUT};
	h_wait_until(kv_created, &c, 60000);
	return c.st;
}

h_nats *h_hub_start(void)
{
	return server_new(NULL, "hub", false, NULL);
}

h_nats *h_site_start(h_nats *hub, const char *site)
{
	return hub ? server_new(hub, site, false, NULL) : NULL;
}

h_nats *h_site_start_cut(h_nats *hub, const char *site)
{
	return hub ? server_new(hub, site, true, NULL) : NULL;
}

h_nats *h_hub_start_cfg(const h_nats_cfg *cfg)
{
	return server_new(NULL, "hub", false, cfg);
}

h_nats *h_site_start_cfg(h_nats *hub, const char *site, const h_nats_cfg *cfg)
{
	return hub ? server_new(hub, site, false, cfg) : NULL;
}

const char *h_nats_url(const h_nats *s)
{
	return s->url;
}

/* The site's proxies: one, or one per node of its cluster hub. */
static int nproxies(const h_nats *site)
{
	return !site->proxy ? 0 : site->nnodes ? site->nnodes : 1;
}

void h_link_cut(h_nats *site)
{
	for (int i = 0; i < nproxies(site); i++) {
		struct h_proxy *x = site->proxies[i];
		pthread_mutex_lock(&x->mu);
		x->cut = true;
		x->refused = 0;
		pthread_mutex_unlock(&x->mu);
		proxy_sync(x);
	}
	if (!site->proxy)
		return;
	if (site->pid && !h_leaf_wait_down(site, CUT_MS))
		fprintf(stderr, "harness: %s still shows a leaf link %d ms after the cut\n",
			site->name, CUT_MS);
}

void h_links_cut(h_nats *const sites[], int n)
{
	for (int i = 0; i < n; i++)
		for (int k = 0; k < nproxies(sites[i]); k++) {
			struct h_proxy *x = sites[i]->proxies[k];
			pthread_mutex_lock(&x->mu);
			x->cut = true;
			x->refused = 0;
			pthread_mutex_unlock(&x->mu);
			proxy_sync(x);
		}
	for (int i = 0; i < n; i++)
		if (sites[i]->proxy && sites[i]->pid && !h_leaf_wait_down(sites[i], CUT_MS))
			fprintf(stderr, "harness: %s still shows a leaf link %d ms after the cut\n",
				sites[i]->name, CUT_MS);
}

int h_link_refused(const h_nats *site)
{
	int n = 0;
	for (int i = 0; i < nproxies(site); i++) {
		pthread_mutex_lock(&site->proxies[i]->mu);
		n += site->proxies[i]->refused;
		pthread_mutex_unlock(&site->proxies[i]->mu);
	}
	return n;
}

void h_link_bytes(const h_nats *site, unsigned long long *to_site, unsigned long long *to_hub)
{
	unsigned long long b[2] = {0, 0};
	for (int i = 0; i < nproxies(site); i++) {
		pthread_mutex_lock(&site->proxies[i]->mu);
		b[0] += site->proxies[i]->bytes[0];
		b[1] += site->proxies[i]->bytes[1];
		pthread_mutex_unlock(&site->proxies[i]->mu);
	}
	if (to_site)
		*to_site = b[1];
	if (to_hub)
		*to_hub = b[0];
}

void h_link_restore(h_nats *site)
{
	for (int i = 0; i < nproxies(site); i++) {
		pthread_mutex_lock(&site->proxies[i]->mu);
		site->proxies[i]->cut = false;
		pthread_mutex_unlock(&site->proxies[i]->mu);
		proxy_sync(site->proxies[i]);
	}
}

int h_nats_stop(h_nats *s, bool kill9)
{
	if (!s->pid)
		return -1;
	h_proc_stop(s->pid, kill9, 5000);
	s->pid = 0;
	return 0;
}

int h_nats_start_again(h_nats *s)
{
	if (s->pid)
		return -1;
	return launch(s, false);
}

/* ---- asking sync for a pass ------------------------------------------------------------- */

struct sync_req {
	const h_nats *hub;
	char *reply;
};

static bool sync_answered(void *arg)
{
	struct sync_req *r = arg;
	natsConnection *nc = NULL;
	natsMsg *m = NULL;
	bool ok = natsConnection_ConnectTo(&nc, h_nats_urls(r->hub)) == NATS_OK &&
		natsConnection_RequestString(&m, nc, "outpost.hub.sync.now", "{}", 10000) ==
			NATS_OK;
	if (ok)
		r->reply = strndup(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
	natsMsg_Destroy(m);
	natsConnection_Destroy(nc);
	return ok;
}

bool h_sync_now(const h_nats *hub, char **reply, int timeout_ms)
{
	struct sync_req r = {hub, NULL};
	*reply = NULL;
	if (!h_wait_until(sync_answered, &r, timeout_ms))
		return false;
	*reply = r.reply;
	return true;
}

bool h_sync_accepted(const h_nats *hub, int timeout_ms)
{
	char *reply = NULL;
	if (!h_sync_now(hub, &reply, timeout_ms))
		return false;
	bool ok = strstr(reply, "\"outcome\":\"accepted\"") ||
		strstr(reply, "\"outcome\":\"unchanged\"");
	if (!ok)
		fprintf(stderr, "  sync: %s\n", reply);
	free(reply);
	return ok;
}

const char *h_creds_site_conf(const h_nats *s, const char *dir, const char *site)
{
	char *t = h_read(h_str("%s/%s/site.conf", dir, site ? site : s->name));
	for (int i = 0; t && i < (s->nnodes ? s->nnodes : 1); i++) {
		const char *from = h_str("@127.0.0.1:%d\"", H_CREDS_LEAF_PORT + i);
		char *at = strstr(t, from);
		if (!at) {
			free(t);
			return NULL;
		}
		*at = '\0';
		int port = s->nnodes ? s->leaf_ports[i] : s->leaf_port;
		char *n = strdup(h_str("%s@127.0.0.1:%d\"%s", t, port, at + strlen(from)));
		free(t);
		t = n;
	}
	return t ? h_keep(t) : NULL;
}
