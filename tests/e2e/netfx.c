/* The probes' listeners (netfx.h). */
#include "netfx.h"

#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int nx_listen(int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof a;
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
		getsockname(fd, (struct sockaddr *)&a, &l) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return fd;
}

/* Reads up to the blank line that ends the request's head; its length. */
static size_t read_head(int c, char *req, size_t size)
{
	size_t n = 0;
	req[0] = '\0';
	for (;;) {
		struct pollfd cp = {c, POLLIN, 0};
		if (poll(&cp, 1, 1000) <= 0)
			break;
		ssize_t r = read(c, req + n, size - 1 - n);
		if (r <= 0)
			break;
		n += (size_t)r;
		req[n] = '\0';
		if (strstr(req, "\r\n\r\n") || n == size - 1)
			break;
	}
	return n;
}

static void answer(nx_server *s, int c)
{
	char req[2048], resp[128];
	size_t n = read_head(c, req, sizeof req);
	int st = s->status;
	int len = snprintf(resp, sizeof resp, "HTTP/1.0 %d %s\r\nContent-Length: 0\r\n\r\n", st,
		st == 200 ? "OK" : "Service Unavailable");
	if (n > 0 && len > 0 && (size_t)len < sizeof resp &&
		!strncmp(req, "GET /healthz HTTP/1.0\r\n", 23) && write(c, resp, (size_t)len) > 0)
		s->served++;
}

static void *serve(void *arg)
{
	nx_server *s = arg;
	while (!s->quit) {
		struct pollfd pf = {s->fd, POLLIN, 0};
		if (poll(&pf, 1, 50) <= 0)
			continue;
		int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (s->http)
			answer(s, c);
		else
			s->served++;
		close(c);
	}
	return NULL;
}

bool nx_start(nx_server *s, bool http)
{
	s->fd = nx_listen(&s->port);
	s->http = http;
	s->status = 200;
	s->quit = 0;
	s->served = 0;
	if (s->fd < 0)
		return false;
	if (pthread_create(&s->th, NULL, serve, s) != 0) {
		close(s->fd);
		s->fd = -1;
		return false;
	}
	return true;
}

void nx_stop(nx_server *s)
{
	if (s->fd < 0)
		return;
	s->quit = 1;
	pthread_join(s->th, NULL);
	close(s->fd);
	s->fd = -1;
}
