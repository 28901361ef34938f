/* metrics_http.h - the metrics served over HTTP by backupd daemon, with libmicrohttpd.
 *
 * `[metrics] listen = ADDRESS:PORT` (default 127.0.0.1:9771; `no` turns the server off).
 * ADDRESS is an IP literal (IPv6 in brackets, "[::1]:9771") or `localhost`; an address
 * other than a loopback one is taken only as written and logged, since whatever reaches the
 * port reads the metrics. Only GET (and HEAD) of /metrics (text format 0.0.4) and /healthz
 * answer; any other path is 404, any other method 405. */
#ifndef CF_METRICS_HTTP_H
#define CF_METRICS_HTTP_H

#include <stdbool.h>

#include "../config/ini.h"
#include "../core/buf.h"
#include "../core/err.h"

#define METRICS_LISTEN_DEFAULT "127.0.0.1:9771"
#define METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http;

/* metrics_body_fn - append the metrics text to @out; called on the server's thread for each
 * scrape of /metrics, so it must be safe to call while the caller's threads run */
typedef void (*metrics_body_fn)(void *arg, struct buf *out);

/* metrics_listen_check() - the form of [metrics] listen in @s (NULL: absent) */
int metrics_listen_check(const struct ini_section *s, struct cf_err *e);
/* metrics_listen_get() - [metrics] listen of @s (NULL: absent): the address to serve on, or
 * NULL when turned off (`no`) */
int metrics_listen_get(const struct ini_section *s, const char **listen, struct cf_err *e);

/* metrics_http_start() - serve on @listen (as the key takes it) from a thread of the
 * library's own; @fn(@arg) makes each /metrics body. -1 when the address cannot be bound. */
int metrics_http_start(const char *listen, metrics_body_fn fn, void *arg,
                       struct metrics_http **out, struct cf_err *e);
/* metrics_http_stop() - stop serving and free @h; NULL is fine */
void metrics_http_stop(struct metrics_http *h);

#endif
