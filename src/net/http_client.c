/*
 * http_client - a blocking HTTP/1.1 POST with a deadline (see http_client.h).
 */
#include "kirim/http_client.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "kirim/buf.h"

static int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events or the deadline; 0, or -1 (timed out or failed). */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -1;
		struct pollfd p = {.fd = fd, .events = events};
		int rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -1;
	}
}

int
http_client_post(const char *url, const char *headers, const void *body, size_t n, unsigned timeout,
                 int *status, char *err, size_t errsz)
{
	char host[256], port[8] = "80";
	const char *path = "/";
	if (strncmp(url, "http://", 7) != 0) {
		snprintf(err, errsz, "not an http:// URL");
		return -1;
	}
	const char *h = url + 7, *end = h + strcspn(h, "/?#");
	if (*end == '/' || *end == '?')
		path = end;
	const char *hend = end;
	if (*h == '[') { /* [v6]:port */
		const char *rb = memchr(h, ']', (size_t)(end - h));
		if (rb == NULL) {
			snprintf(err, errsz, "a bad IPv6 address in the URL");
			return -1;
		}
		if (rb + 1 < end && rb[1] == ':')
			snprintf(port, sizeof(port), "%.*s", (int)(end - rb - 2), rb + 2);
		h++;
		hend = rb;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		if (colon) {
			snprintf(port, sizeof(port), "%.*s", (int)(end - colon - 1), colon + 1);
			hend = colon;
		}
	}
	if (hend == h || (size_t)(hend - h) >= sizeof(host)) {
		snprintf(err, errsz, "no host in the URL");
		return -1;
	}
	memcpy(host, h, (size_t)(hend - h));
	host[hend - h] = '\0';
	err[0] = '\0';
	int64_t deadline = now_ms() + (int64_t)timeout * 1000;
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int grc = getaddrinfo(host, port, &hints, &ai);
	if (grc != 0) {
		snprintf(err, errsz, "cannot resolve %s: %s", host, gai_strerror(grc));
		return -1;
	}
	int fd = -1, ret = -1;
	struct buf req = BUF_INIT, in = BUF_INIT;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
		            a->ai_protocol);
		if (fd < 0)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
			close(fd);
			fd = -1;
			continue;
		}
		int soerr = 0;
		socklen_t sl = sizeof(soerr);
		if (wait_fd(fd, POLLOUT, deadline) < 0 ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0 || soerr != 0) {
			snprintf(err, errsz, "cannot connect to %s:%s: %s", host, port,
			         soerr ? strerror(soerr) : "timed out");
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		if (errno && err[0] == '\0')
			snprintf(err, errsz, "cannot connect to %s:%s: %s", host, port,
			         strerror(errno));
		return -1;
	}
	buf_printf(&req,
	           "POST %s HTTP/1.1\r\nHost: %s%s%s\r\nContent-Type: application/json\r\n"
	           "Content-Length: %zu\r\nConnection: close\r\nUser-Agent: kirim/%s\r\n%s\r\n",
	           path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", n,
	           KIRIM_VERSION, headers ? headers : "");
	buf_add(&req, body, n);
	size_t off = 0;
	while (off < req.len) {
		ssize_t w = send(fd, req.data + off, req.len - off, MSG_NOSIGNAL);
		if (w > 0) {
			off += (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			snprintf(err, errsz, "cannot send: %s", strerror(errno));
			goto out;
		}
		if (wait_fd(fd, POLLOUT, deadline) < 0) {
			snprintf(err, errsz, "timed out sending");
			goto out;
		}
	}
	/* The status line is all we need; the rest of the answer is read and let go. */
	for (;;) {
		char chunk[4096];
		ssize_t r = recv(fd, chunk, sizeof(chunk), 0);
		if (r > 0) {
			if (in.len < 8192)
				buf_add(&in, chunk, (size_t)r);
			if (memchr(in.data, '\n', in.len))
				break;
			continue;
		}
		if (r == 0) {
			snprintf(err, errsz,
			         "the receiver closed the connection without answering");
			goto out;
		}
		if (errno != EAGAIN && errno != EINTR) {
			snprintf(err, errsz, "cannot read the answer: %s", strerror(errno));
			goto out;
		}
		if (wait_fd(fd, POLLIN, deadline) < 0) {
			snprintf(err, errsz, "no answer within %u s", timeout);
			goto out;
		}
	}
	int code = 0;
	if (sscanf(in.data, "HTTP/1.%*d %3d", &code) != 1 || code < 100 || code > 599) {
		snprintf(err, errsz, "the answer is not HTTP");
		goto out;
	}
	*status = code;
	ret = 0;
out:
	close(fd);
	buf_free(&req);
	buf_free(&in);
	return ret;
}
