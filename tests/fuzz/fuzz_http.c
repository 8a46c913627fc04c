/*
 * fuzz_http - src/net/http.c over loopback: one real server (created once),
 * one client connection per input.
 *
 * Input: byte 0 is the mode (bit 0: the handler answers at once, or on the
 * next loop pass; bit 1: send the rest in two writes, split at byte 1's
 * fraction of it), then the bytes the client sends. After sending, the client
 * shuts down its sending side and the loop is pumped until the server has
 * closed the connection (a cap of passes aborts: a hang is a bug).
 *
 * Properties: no sanitizer error; what the client reads back is a sequence of
 * well-formed answers, each "HTTP/1.1 " and a 3-digit status, with a
 * Content-Length (no body for a HEAD request's answer); final answers <=
 * on_request calls + 1 (one answer of the server's own); afterwards
 * http_server_conns() == 0 and http_server_waiting() == 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kirim/http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	MAX_PASSES = 20000, /* loop passes per input before calling it a hang */
	MAX_REQS = 1024,
};

static uv_loop_t loop;
static struct http_server *srv;
static bool answer_later;
static unsigned nreq;
static bool heads[MAX_REQS];
static struct http_req *held[MAX_REQS];
static unsigned nheld;

static void
answer(struct http_req *r)
{
	char body[128];
	int n = snprintf(body, sizeof(body), "%s %.64s %zu", r->method, r->target, r->body_len);
	int status = r->target_len > 1 && r->target[1] == 'x' ? 404 : 200;
	if (http_header(r, "x-a") != NULL)
		http_respond(r, status, "X-A: 1\r\n", body, (size_t)n);
	else
		http_respond(r, status, NULL, body, (size_t)n);
}

static void
on_request(void *arg, struct http_req *r)
{
	(void)arg;
	if (r->body[r->body_len] != '\0' || strlen(r->target) != r->target_len)
		abort();
	if (nreq < MAX_REQS)
		heads[nreq] = r->head;
	nreq++;
	if (answer_later) {
		if (nheld >= MAX_REQS)
			abort();
		held[nheld++] = r;
	} else {
		answer(r);
	}
}

static void
on_end(void *arg, struct http_req *r, int status)
{
	(void)arg;
	(void)r;
	if (status < 100 || status > 599)
		abort();
}

static void
start(void)
{
	if (uv_loop_init(&loop) != 0)
		abort();
	struct http_opts o = {
	    .max_header = 512,
	    .max_body = 256,
	    .timeout = 30,
	    .on_request = on_request,
	    .on_end = on_end,
	};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	char err[256];
	srv = http_server_new(&loop, (struct sockaddr *)&sa, &o, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "fuzz_http: http_server_new: %s\n", err);
		abort();
	}
}

/* One loop pass; what was held during the previous pass is answered now. */
static void
pass(void)
{
	unsigned n = nheld;
	struct http_req *now[MAX_REQS];
	memcpy(now, held, n * sizeof(*now));
	nheld = 0;
	for (unsigned i = 0; i < n; i++)
		answer(now[i]);
	uv_run(&loop, UV_RUN_NOWAIT);
}

struct rx {
	char *d;
	size_t len, cap;
	bool eof;
};

static void
rx_read(int fd, struct rx *rx)
{
	while (!rx->eof) {
		if (rx->cap - rx->len < 4096) {
			rx->cap = rx->cap ? 2 * rx->cap : 16384;
			rx->d = realloc(rx->d, rx->cap);
			if (!rx->d)
				abort();
		}
		ssize_t n = recv(fd, rx->d + rx->len, rx->cap - rx->len, 0);
		if (n > 0) {
			rx->len += (size_t)n;
			continue;
		}
		if (n == 0 || (errno != EAGAIN && errno != EINTR))
			rx->eof = true;
		break;
	}
}

static void
send_all(int fd, const uint8_t *d, size_t n, struct rx *rx)
{
	for (unsigned i = 0; n > 0; i++) {
		if (i > MAX_PASSES)
			abort();
		ssize_t w = send(fd, d, n, MSG_NOSIGNAL);
		if (w > 0) {
			d += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return; /* the server closed (an error answer) */
		pass();
		rx_read(fd, rx);
	}
}

/* Check rx is a sequence of whole answers; returns the number of final ones. */
static unsigned
check_answers(const struct rx *rx)
{
	size_t off = 0;
	unsigned finals = 0;
	while (off < rx->len) {
		const char *p = rx->d + off;
		size_t left = rx->len - off;
		if (left < 13 || memcmp(p, "HTTP/1.1 ", 9) != 0 || p[9] < '1' || p[9] > '5' ||
		    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' || p[12] != ' ')
			abort();
		int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
		const char *end = memmem(p, left, "\r\n\r\n", 4);
		if (!end)
			abort();
		size_t hlen = (size_t)(end - p) + 4;
		long cl = -1;
		for (const char *l = memchr(p, '\n', hlen) + 1; l < p + hlen - 2;
		     l = (const char *)memchr(l, '\n', (size_t)(p + hlen - l)) + 1) {
			if (strncasecmp(l, "Content-Length: ", 16) == 0)
				cl = strtol(l + 16, NULL, 10);
		}
		size_t blen = 0;
		if (status >= 200) {
			if (cl < 0)
				abort();
			bool head = finals < nreq && finals < MAX_REQS && heads[finals];
			blen = head ? 0 : (size_t)cl;
			finals++;
		} else if (status != 100) {
			abort();
		}
		if (left < hlen + blen)
			abort();
		off += hlen + blen;
	}
	return finals;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!srv)
		start();
	if (size < 2)
		return 0;
	answer_later = data[0] & 1;
	bool split = data[0] & 2;
	size_t at = (size_t)data[1] * (size - 2) / 255;
	data += 2;
	size -= 2;
	nreq = 0;

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		abort();
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(http_server_port(srv))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Non-blocking: libFuzzer's -timeout alarm would interrupt a blocking connect. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			perror("fuzz_http: connect");
			abort();
		}
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		int err = 0;
		socklen_t len = sizeof(err);
		while (poll(&p, 1, 1000) != 1)
			;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
			fprintf(stderr, "fuzz_http: connect: %s\n", strerror(err));
			abort();
		}
	}
	struct rx rx = {0};
	if (split && at > 0 && at < size) {
		send_all(fd, data, at, &rx);
		pass();
		pass();
		rx_read(fd, &rx);
		send_all(fd, data + at, size - at, &rx);
	} else {
		send_all(fd, data, size, &rx);
	}
	shutdown(fd, SHUT_WR);
	unsigned i;
	for (i = 0; i < MAX_PASSES; i++) {
		pass();
		rx_read(fd, &rx);
		if (rx.eof && nheld == 0 && http_server_conns(srv) == 0 &&
		    http_server_waiting(srv) == 0)
			break;
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = uv_backend_fd(&loop), .events = POLLIN}};
		poll(p, 2, nheld ? 0 : 1);
	}
	if (i == MAX_PASSES) {
		fprintf(stderr, "fuzz_http: no close: eof %d conns %zu waiting %zu held %u\n",
		        rx.eof, http_server_conns(srv), http_server_waiting(srv), nheld);
		abort();
	}
	/* No TIME_WAIT pile-up over millions of inputs: reset rather than close. */
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
	unsigned finals = check_answers(&rx);
	if (finals > nreq + 1) {
		fprintf(stderr, "fuzz_http: %u answers for %u requests\n", finals, nreq);
		abort();
	}
	free(rx.d);
	return 0;
}
