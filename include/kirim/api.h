/*
 * api - kirim's HTTP API: the admin listener of `kirim serve`
 * (--admin-listen, 127.0.0.1:8026 by default), JSON over HTTP/1.1 for tools
 * that drive kirim without a shell (docs/api.md, /api/openapi.json).
 *
 * It runs on the serve loop beside the public listener, with its own
 * http_server (http.h) and limits. Every request but /api/openapi.json
 * carries a token (access.h: Authorization: Bearer); failed attempts are
 * limited per client address. Nothing touches the database on the loop:
 * reads run in libuv's thread pool, API_READERS at a time, each on a read
 * connection of its own; changes run in one write lane (one work at a time)
 * that takes every change waiting, runs each in a savepoint of one
 * transaction (store_batch_begin) with its audit row, and commits once, so
 * a burst of upserts costs one commit. A request waits for its work; its
 * connection reads nothing more meanwhile (http.h).
 *
 * Each handler calls the app/ or store/ function its CLI command calls
 * (contacts.h, suppressions.h, templates.h, campaigns.h, lifecycle.h,
 * policies.h, store_report.h, ...). The loop thread only, except where said.
 */
#ifndef KIRIM_API_H
#define KIRIM_API_H

#include <stdbool.h>
#include <stddef.h>

#include <uv.h>

struct api;
struct config;

struct api_opts {
	const char *listen;  /* "HOST:PORT"; port 0 picks one */
	const char *db_path; /* the store the works open their connections on */
	/* The machine's identity (URLs, tracking base): read from the works. */
	const struct config *cfg;
	unsigned max_body;  /* bytes of request body; 0: 16 MiB */
	unsigned max_conns; /* 0: 256 */
	unsigned timeout;   /* seconds for a whole request and keep-alive idle; 0: 30 */
	int trust_proxy;  /* as serve_opts.trust_proxy: the client from X-Real-IP / X-Forwarded-For
	                   */
	double fail_rate; /* failed authentications per second per client; 0: 1 */
	unsigned fail_burst; /* 0: 10 */
};

/*
 * api_new - listen on o->listen on loop; NULL with a sentence in err. o and
 * what it points to must outlive the api.
 */
struct api *api_new(uv_loop_t *loop, const struct api_opts *o, char *err, size_t errsz);
/* api_port - the bound port */
unsigned api_port(const struct api *a);
/* api_quiesce - stop accepting; idle connections close now, busy ones after their answer */
void api_quiesce(struct api *a);
/* api_busy - requests not answered yet, and open connections */
size_t api_busy(const struct api *a);
/* api_working - whether a work is running in the thread pool (api_close must wait for it) */
bool api_working(const struct api *a);
/*
 * api_close - close the listener and every connection (no work may be
 * running: api_working; requests still waiting are answered 503 first); on_closed(arg)
 * runs when all is closed and the api freed.
 */
void api_close(struct api *a, void (*on_closed)(void *arg), void *arg);

#endif
