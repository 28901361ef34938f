/* metrics_http.c - GET /metrics and /healthz with libmicrohttpd (see metrics_http.h). */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/log.h"
#include "../core/util.h"

struct metrics_http {
    struct MHD_Daemon *d;
    metrics_body_fn fn;
    void *arg;
};

union addr {
    struct sockaddr sa;
    struct sockaddr_in in;
    struct sockaddr_in6 in6;
};

/* "HOST:PORT" into @a; @loopback says whether HOST is a loopback address */
static int parse_listen(const char *v, union addr *a, bool *loopback, struct cf_err *e)
{
    char host[64];
    const char *colon = strrchr(v, ':'), *h = v;
    size_t hl;
    char *end;
    long port;

    memset(a, 0, sizeof(*a));
    if (colon == NULL)
        return cf_err_set(e, CF_E_CONFIG, "listen: '%s' has no port (HINT: ADDRESS:PORT, "
                          "e.g. %s)", v, METRICS_LISTEN_DEFAULT);
    hl = (size_t)(colon - v);
    if (hl >= 2 && v[0] == '[' && v[hl - 1] == ']') {
        h = v + 1;
        hl -= 2;
    }
    if (hl == 0 || hl >= sizeof(host))
        return cf_err_set(e, CF_E_CONFIG, "listen: '%s' has no address", v);
    memcpy(host, h, hl);
    host[hl] = '\0';
    port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 1 || port > 65535)
        return cf_err_set(e, CF_E_CONFIG, "listen: '%s': port must be 1-65535", v);
    if (strcasecmp(host, "localhost") == 0)
        snprintf(host, sizeof(host), "127.0.0.1");
    if (inet_pton(AF_INET, host, &a->in.sin_addr) == 1) {
        a->in.sin_family = AF_INET;
        a->in.sin_port = htons((uint16_t)port);
        *loopback = (ntohl(a->in.sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, host, &a->in6.sin6_addr) == 1) {
        a->in6.sin6_family = AF_INET6;
        a->in6.sin6_port = htons((uint16_t)port);
        *loopback = IN6_IS_ADDR_LOOPBACK(&a->in6.sin6_addr);
    } else {
        return cf_err_set(e, CF_E_CONFIG, "listen: '%s' is not an IP address (HINT: an address "
                          "such as 127.0.0.1 or [::1], or localhost; no host names)", host);
    }
    return 0;
}

int metrics_listen_get(const struct ini_section *s, const char **listen, struct cf_err *e)
{
    const char *v = METRICS_LISTEN_DEFAULT;

    if (s != NULL && ini_get_str(s, "listen", METRICS_LISTEN_DEFAULT, &v, e) != 0)
        return -1;
    *listen = strcasecmp(v, "no") == 0 || strcasecmp(v, "off") == 0 ? NULL : v;
    return 0;
}

int metrics_listen_check(const struct ini_section *s, struct cf_err *e)
{
    const char *v;
    union addr a;
    bool lo;
    struct cf_err le = CF_ERR_INIT;

    if (metrics_listen_get(s, &v, e) != 0)
        return -1;
    if (v != NULL && parse_listen(v, &a, &lo, &le) != 0)
        return ini_err(s, "listen", e, "%s", le.msg);
    return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type,
                             struct buf *body, bool allow)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        body->len, body->len ? body->data : (void *)"", MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (r == NULL)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    rc = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_size, void **state)
{
    struct metrics_http *h = cls;
    struct buf body = BUF_INIT;
    enum MHD_Result rc;
    bool known = strcmp(url, "/metrics") == 0 || strcmp(url, "/healthz") == 0;

    (void)version;
    (void)upload_data;
    if (*state == NULL) {   /* headers only so far: answer once the request is in */
        *state = h;
        return MHD_YES;
    }
    *upload_size = 0;   /* a body is never read */
    if (!known) {
        buf_puts(&body, "not found\n");
        rc = reply(conn, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", &body, false);
    } else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
        buf_puts(&body, "method not allowed\n");
        rc = reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8", &body, true);
    } else if (strcmp(url, "/healthz") == 0) {
        buf_puts(&body, "ok\n");
        rc = reply(conn, MHD_HTTP_OK, "text/plain; charset=utf-8", &body, false);
    } else {
        h->fn(h->arg, &body);
        rc = reply(conn, MHD_HTTP_OK, METRICS_CONTENT_TYPE, &body, false);
    }
    buf_free(&body);
    return rc;
}

int metrics_http_start(const char *listen, metrics_body_fn fn, void *arg,
                       struct metrics_http **out, struct cf_err *e)
{
    struct metrics_http *h;
    union addr a;
    bool lo;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

    if (parse_listen(listen, &a, &lo, e) != 0)
        return -1;
    if (!lo)
        log_warn("metrics served on %s, not a loopback address: whatever reaches it reads "
                 "them", listen);
    if (a.sa.sa_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h = cf_calloc(1, sizeof(*h));
    h->fn = fn;
    h->arg = arg;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &a.sa,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10, MHD_OPTION_END);
    if (h->d == NULL) {
        free(h);
        return cf_err_set(e, CF_E_IO, "unable to serve metrics on %s (HINT: is the port in use? "
                          "[metrics] listen sets it, listen = no turns it off)", listen);
    }
    *out = h;
    return 0;
}

void metrics_http_stop(struct metrics_http *h)
{
    if (h == NULL)
        return;
    MHD_stop_daemon(h->d);
    free(h);
}
