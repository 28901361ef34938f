/* redis_conn.c - the Redis source's connection: socket or TCP, TLS, RESP commands and
 * replies, error replies as messages, INFO fields. */
#include "redis_conn.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "../core/util.h"

/* the first OpenSSL error (or the certificate verification result) into @e */
static int tls_err(struct redis_conn *c, const char *what, struct cf_err *e)
{
    char msg[256] = "";
    unsigned long err = ERR_get_error();
    long vr = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
    if (vr != X509_V_OK)
        snprintf(msg, sizeof(msg), "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
    else if (err)
        ERR_error_string_n(err, msg, sizeof(msg));
    else
        snprintf(msg, sizeof(msg), "%s", errno ? strerror(errno) : "connection closed");
    ERR_clear_error();
    return cf_err_set(e, CF_E_NET, "redis at %s: TLS %s: %s%s", c->addr, what, msg,
                      vr != X509_V_OK ? ". HINT: check tls-ca-file and tls-server-name" : "");
}

static ssize_t tls_read(void *ctx, void *buf, size_t cap, struct cf_err *e)
{
    struct redis_conn *c = ctx;
    int n = SSL_read(c->ssl, buf, cap > INT32_MAX ? INT32_MAX : (int)cap);
    if (n > 0)
        return n;
    int err = SSL_get_error(c->ssl, n);
    if (err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && errno == 0))
        return 0;
    if (err == SSL_ERROR_SYSCALL && errno != 0)
        return cf_err_sys(e, CF_E_NET, "unable to read redis connection");
    return tls_err(c, "read", e);
}

static int tls_start(struct redis_conn *c, const struct redis_tls *t, struct cf_err *e)
{
    struct in6_addr ip;
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (c->ctx == NULL)
        return tls_err(c, "setup", e);
    SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    if ((t->ca ? SSL_CTX_load_verify_locations(c->ctx, t->ca, NULL)
               : SSL_CTX_set_default_verify_paths(c->ctx)) != 1)
        return tls_err(c, t->ca ? "loading tls-ca-file" : "loading the system CAs", e);
    if (t->cert && (SSL_CTX_use_certificate_chain_file(c->ctx, t->cert) != 1 ||
                    SSL_CTX_use_PrivateKey_file(c->ctx, t->key, SSL_FILETYPE_PEM) != 1))
        return tls_err(c, "loading the client certificate", e);
    if ((c->ssl = SSL_new(c->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
        return tls_err(c, "setup", e);
    if (t->name) {
        X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
        if (inet_pton(AF_INET, t->name, &ip) == 1 || inet_pton(AF_INET6, t->name, &ip) == 1) {
            X509_VERIFY_PARAM_set1_ip_asc(vp, t->name);
        } else {
            SSL_set_tlsext_host_name(c->ssl, t->name);
            X509_VERIFY_PARAM_set1_host(vp, t->name, 0);
        }
    }
    errno = 0;
    if (SSL_connect(c->ssl) != 1)
        return tls_err(c, "handshake", e);
    src_reader_init_fn(&c->rd, tls_read, c, "redis connection", NULL, NULL);
    return 0;
}

int redis_conn_open(struct redis_conn *c, const char *addr, const struct redis_tls *tls,
                    struct cf_err *e)
{
    struct timeval tv = { REDIS_IO_TIMEOUT_S, 0 };
    memset(c, 0, sizeof(*c));
    c->fd = -1;
    c->addr = cf_strdup(addr);
    if (addr[0] == '/' || strncmp(addr, "unix:", 5) == 0) {
        const char *path = addr[0] == '/' ? addr : addr + 5;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
            return cf_err_set(e, CF_E_CONFIG, "redis socket path '%s' is too long", path);
        strcpy(sa.sun_path, path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
            return cf_err_retry(e, CF_E_NET,
                                "unable to connect to redis at %s: %s. HINT: is the server running, and is the socket right?",
                                addr, strerror(errno));
    } else {
        char host[256];
        const char *colon = strrchr(addr, ':');
        if (colon == NULL || (size_t)(colon - addr) >= sizeof(host))
            return cf_err_set(e, CF_E_USAGE, "redis address '%s': expected HOST:PORT or a socket path",
                              addr);
        memcpy(host, addr, (size_t)(colon - addr));
        host[colon - addr] = '\0';
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai, *p;
        int g = getaddrinfo(host, colon + 1, &hints, &ai);
        if (g != 0)
            return cf_err_retry(e, CF_E_NET, "redis at %s: %s", addr, gai_strerror(g));
        int err = 0;
        for (p = ai; p; p = p->ai_next) {
            c->fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, p->ai_protocol);
            if (c->fd >= 0 && connect(c->fd, p->ai_addr, p->ai_addrlen) == 0)
                break;
            err = errno;
            if (c->fd >= 0)
                close(c->fd);
            c->fd = -1;
        }
        freeaddrinfo(ai);
        if (c->fd < 0)
            return cf_err_retry(e, CF_E_NET,
                                "unable to connect to redis at %s: %s. HINT: is the server running, and are host and port right?",
                                addr, strerror(err));
    }
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    src_reader_init(&c->rd, c->fd, "redis connection", NULL, NULL);
    if (tls && tls->on)
        return tls_start(c, tls, e);
    return 0;
}

void redis_conn_close(struct redis_conn *c)
{
    SSL_free(c->ssl);
    c->ssl = NULL;
    SSL_CTX_free(c->ctx);
    c->ctx = NULL;
    src_reader_free(&c->rd);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->addr);
    c->addr = NULL;
}

void redis_resp_cmd(struct buf *out, int argc, const char *const argv[], const size_t lens[])
{
    buf_printf(out, "*%d\r\n", argc);
    for (int i = 0; i < argc; i++) {
        size_t n = lens ? lens[i] : strlen(argv[i]);
        buf_printf(out, "$%zu\r\n", n);
        buf_append(out, argv[i], n);
        buf_puts(out, "\r\n");
    }
}

int redis_conn_send(struct redis_conn *c, const struct buf *b, struct cf_err *e)
{
    if (c->ssl) {
        size_t done = 0;
        while (done < b->len) {
            size_t n = b->len - done > INT32_MAX ? INT32_MAX : b->len - done;
            errno = 0;
            int k = SSL_write(c->ssl, b->data + done, (int)n);
            if (k <= 0)
                return tls_err(c, "write", e);
            done += (size_t)k;
        }
        return 0;
    }
    if (fs_write_all(c->fd, b->data, b->len, "the redis connection", e) != 0)
        return cf_err_ctx(e, "redis at %s", c->addr);
    return 0;
}

int redis_resp_line(struct redis_conn *c, struct buf *line, struct cf_err *e)
{
    buf_reset(line);
    for (;;) {
        const unsigned char *p = src_reader_peek(&c->rd);
        size_t n = src_reader_avail(&c->rd);
        const unsigned char *nl = n ? memchr(p, '\n', n) : NULL;
        if (nl) {
            size_t k = (size_t)(nl - p);
            buf_append(line, p, k && p[k - 1] == '\r' ? k - 1 : k);
            src_reader_consume(&c->rd, k + 1);
            return 0;
        }
        if (n > 1024 * 1024)
            return cf_err_set(e, CF_E_NET, "redis at %s: reply line too long", c->addr);
        int f = src_reader_fill(&c->rd, n + 1, e);
        if (f < 0) {
            if (e->sys_errno == EAGAIN || e->sys_errno == EWOULDBLOCK)
                return cf_err_set(e, CF_E_NET, "redis at %s: no answer for %d s%s%s", c->addr,
                                  REDIS_IO_TIMEOUT_S, c->awaiting ? " waiting for " : "",
                                  c->awaiting ? c->awaiting : "");
            return cf_err_ctx(e, "redis at %s", c->addr);
        }
        if (f == 0)
            return cf_err_retry(e, CF_E_NET, "redis at %s closed the connection", c->addr);
    }
}

int redis_resp_reply(struct redis_conn *c, char *type, struct buf *out, struct cf_err *e)
{
    if (redis_resp_line(c, out, e) != 0)
        return -1;
    if (out->len == 0)
        return cf_err_set(e, CF_E_NET, "redis at %s: empty reply", c->addr);
    *type = out->data[0];
    if (*type == '$') {
        long long n = strtoll(out->data + 1, NULL, 10);
        buf_reset(out);
        if (n < 0)
            return 0;
        buf_reserve(out, (size_t)n + 2);
        if (src_reader_get(&c->rd, out->data, (size_t)n + 2, "bulk reply", e) != 0)
            return cf_err_ctx(e, "redis at %s", c->addr);
        out->len = (size_t)n;
        out->data[n] = '\0';
        return 0;
    }
    if (*type == '*') {
        long long n = strtoll(out->data + 1, NULL, 10);
        for (long long i = 0; i < n; i++) {
            char t;
            if (redis_resp_reply(c, &t, out, e) != 0)
                return -1;
        }
        buf_reset(out);
        return 0;
    }
    memmove(out->data, out->data + 1, out->len);   /* drop the type byte, keep the NUL */
    out->len--;
    return 0;
}

int redis_reply_err(struct redis_conn *c, const char *cmd, const char *msg, struct cf_err *e)
{
    const char *user = c->user;
    if (strncmp(msg, "NOPERM", 6) == 0) {
        char lc[32];
        size_t i;
        for (i = 0; cmd[i] && i < sizeof(lc) - 1; i++)
            lc[i] = (char)tolower((unsigned char)cmd[i]);
        lc[i] = '\0';
        return cf_err_set(e, CF_E_AUTH,
                          "redis at %s: the user%s%s%s lacks the +%s permission (%s refused: %s). "
                          "HINT: ACL SETUSER %s +%s; a backup needs +info +replconf +psync",
                          c->addr, user ? " '" : " 'default'", user ? user : "", user ? "'" : "",
                          lc, cmd, msg, user ? user : "default", lc);
    }
    bool auth = strncmp(msg, "NOAUTH", 6) == 0 || strncmp(msg, "WRONGPASS", 9) == 0 ||
                strstr(msg, "invalid password");
    return cf_err_set(e, auth ? CF_E_AUTH : CF_E_SOURCE, "redis at %s refused %s: %s%s", c->addr,
                      cmd, msg, auth ? ". HINT: check user and password-file" : "");
}

int redis_conn_call(struct redis_conn *c, int argc, const char *const argv[], struct buf *out,
                    struct cf_err *e)
{
    struct buf cmd = BUF_INIT, reply = BUF_INIT;
    char t;
    int rc = -1;
    redis_resp_cmd(&cmd, argc, argv, NULL);
    if (redis_conn_send(c, &cmd, e) != 0 || redis_resp_reply(c, &t, &reply, e) != 0)
        goto out;
    if (t == '-') {
        redis_reply_err(c, argv[0], reply.data, e);
        goto out;
    }
    if (out) {
        buf_reset(out);
        buf_append(out, reply.data, reply.len);
    }
    rc = 0;
out:
    if (cmd.data)   /* AUTH carries the password */
        explicit_bzero(cmd.data, cmd.len);
    if (reply.data)
        explicit_bzero(reply.data, reply.len);
    buf_free(&cmd);
    buf_free(&reply);
    return rc;
}

int redis_conn_auth(struct redis_conn *c, const char *user, const char *password,
                    struct cf_err *e)
{
    if (password == NULL)
        return 0;
    const char *argv[3] = { "AUTH", user ? user : password, password };
    c->user = user;
    return redis_conn_call(c, user ? 3 : 2, argv, NULL, e);
}

bool redis_info_field(const char *info, const char *key, char *out, size_t cap)
{
    size_t n = strlen(key);
    for (const char *p = info; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && p[n] == ':') {
            size_t k = strcspn(p + n + 1, "\r\n");
            snprintf(out, cap, "%.*s", (int)k, p + n + 1);
            return true;
        }
    }
    return false;
}

uint64_t redis_info_keys(const char *info, uint64_t per_db[RDB_MAX_DBS])
{
    uint64_t total = 0;
    memset(per_db, 0, sizeof(uint64_t) * RDB_MAX_DBS);
    for (const char *p = strstr(info, "\ndb"); p; p = strstr(p + 1, "\ndb")) {
        unsigned db;
        unsigned long long k;
        if (sscanf(p + 1, "db%u:keys=%llu", &db, &k) == 2 && db < RDB_MAX_DBS) {
            per_db[db] = k;
            total += k;
        }
    }
    return total;
}
