/* s3_http.c - one S3 request (see s3_int.h).
 *
 * Every request is signed here with Signature V4 (s3_sigv4.c) and sent with libcurl; easy
 * handles are pooled (each used by one thread at a time, keeping its connections), and share
 * DNS and TLS sessions through a CURLSH, so parallel parts and ranged reads reuse
 * connections. Each request is retried on its own (5xx, 429, timeouts,
 * resets) with exponential backoff and full jitter; 4xx answers fail at once with the
 * server's Code and Message.
 *
 * Credentials and the Authorization header are never logged; error messages name method, key
 * and the server's Code and Message only. */
#include <curl/curl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/log.h"
#include "../../core/util.h"
#include "s3_int.h"
#include "s3_sigv4.h"
#include "s3_xml.h"

#define S3_ERR_BODY_MAX (64u << 10)

struct body_cursor {
    const unsigned char *p;
    size_t len, off;
};

static size_t read_cb(char *out, size_t size, size_t n, void *arg)
{
    struct body_cursor *c = arg;
    size_t want = size * n, left = c->len - c->off;
    if (want > left)
        want = left;
    memcpy(out, c->p + c->off, want);
    c->off += want;
    return want;
}

static int seek_cb(void *arg, curl_off_t off, int origin)
{
    struct body_cursor *c = arg;
    if (origin != SEEK_SET || off < 0 || (size_t)off > c->len)
        return CURL_SEEKFUNC_FAIL;
    c->off = (size_t)off;
    return CURL_SEEKFUNC_OK;
}

struct xfer {
    struct s3_req *rq;
    CURL *h;
    bool overflow;
};

static size_t write_cb(char *data, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    struct s3_req *rq = x->rq;
    size_t len = size * n;
    long status = 0;

    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status >= 300) {
        if (rq->errbody.len + len <= S3_ERR_BODY_MAX)
            buf_append(&rq->errbody, data, len);
        return len;
    }
    if (rq->sink != NULL) {
        if (rq->sink_len + len > rq->sink_cap) {
            x->overflow = true;
            return 0;
        }
        memcpy(rq->sink + rq->sink_len, data, len);
        rq->sink_len += len;
    } else if (rq->resp != NULL) {
        buf_append(rq->resp, data, len);
    }
    return len;
}

static size_t header_cb(char *data, size_t size, size_t n, void *arg)
{
    struct s3_req *rq = arg;
    size_t len = size * n;
    const char *colon = memchr(data, ':', len);
    if (colon == NULL)
        return len;
    size_t nlen = (size_t)(colon - data);
    const char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t vlen = (size_t)(end - v);
    if (nlen == 4 && strncasecmp(data, "etag", 4) == 0 && vlen < sizeof(rq->etag)) {
        memcpy(rq->etag, v, vlen);
        rq->etag[vlen] = '\0';
    } else if (nlen == 14 && strncasecmp(data, "content-length", 14) == 0) {
        char num[32];
        if (vlen < sizeof(num)) {
            memcpy(num, v, vlen);
            num[vlen] = '\0';
            rq->length = strtoull(num, NULL, 10);
            rq->have_length = true;
        }
    }
    return len;
}

static int progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    atomic_int *cancel = arg;
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    return cancel != NULL && atomic_load(cancel) ? 1 : 0;
}

/* the path part of a request: encoded, also the canonical URI */
static void req_path(const struct s3 *s, const char *key, struct buf *out)
{
    buf_puts(out, s->bucket_path);
    buf_append(out, "/", 1);
    if (key != NULL)
        s3_uri_encode(out, key, true);
    else if (s->bucket_path[0] != '\0')
        out->data[--out->len] = '\0';   /* path style: "/bucket", not "/bucket/" */
}

/* a session token refused: Amazon S3 answers these codes with http 400, not 403 */
static bool token_error(const struct s3 *s, long status, const char *code)
{
    if (strcmp(code, "ExpiredToken") == 0 || strcmp(code, "InvalidToken") == 0 ||
        strcmp(code, "TokenRefreshRequired") == 0)
        return true;
    /* Ceph RGW: a token that decrypts but does not decode (one character changed) */
    return s->token.len > 0 && status == 400 && strcmp(code, "InvalidArgument") == 0;
}

static const char *auth_hint(const struct s3 *s, const char *code)
{
    if (strcmp(code, "SignatureDoesNotMatch") == 0)
        return " HINT: the secret access key is wrong; check secret-access-key-file or "
               "AWS_SECRET_ACCESS_KEY";
    if (strcmp(code, "RequestTimeTooSkewed") == 0)
        return " HINT: this host's clock is wrong; synchronise it (NTP)";
    if (s->token.len > 0)   /* Ceph RGW answers an expired or foreign token with AccessDenied */
        return " HINT: the session token has expired, is damaged or belongs to another access "
               "key, or a policy refuses this request; get new temporary credentials and "
               "replace the access key id, secret and session token together";
    if (strcmp(code, "InvalidAccessKeyId") == 0)
        return " HINT: the access key id is unknown to the server; check access-key-id-file "
               "or AWS_ACCESS_KEY_ID (temporary credentials also need session-token-file or "
               "AWS_SESSION_TOKEN)";
    return " HINT: check the credentials and the bucket's policy; temporary credentials also "
           "need their session token (session-token-file or AWS_SESSION_TOKEN)";
}

/* classify a finished exchange: 0 for success, else -1 with @e (retryable when it may pass) */
static int classify(const struct s3 *s, struct s3_req *rq, const char *what, struct cf_err *e)
{
    struct buf code = BUF_INIT, msg = BUF_INIT;
    const char *b = rq->errbody.data ? rq->errbody.data : "";
    const char *be = b + rq->errbody.len;
    long st = rq->status;
    int rc = -1;

    if (st >= 200 && st < 300)
        return 0;
    s3_xml_get(b, be, "Code", &code);
    s3_xml_get(b, be, "Message", &msg);
    snprintf(rq->errcode, sizeof(rq->errcode), "%s", code.data ? code.data : "");
    const char *c = code.data ? code.data : "";
    const char *m = msg.len ? msg.data : "";
    char detail[768];
    snprintf(detail, sizeof(detail), "http %ld%s%s%s%s", st, *c ? " " : "", c, *m ? ": " : "",
             m);

    if (st >= 500 || st == 429 || strcmp(c, "SlowDown") == 0 ||
        strcmp(c, "RequestTimeout") == 0 || strcmp(c, "InternalError") == 0) {
        cf_err_retry(e, CF_E_NET, "%s: %s", what, detail);
    } else if (strstr(c, "QuotaExceeded") != NULL || strcmp(c, "XMinioStorageFull") == 0 ||
               st == 507) {
        /* Ceph RGW's 403 QuotaExceeded, MinIO's bucket quota and full disks: the store is
         * full, which no retry and no credential fixes */
        cf_err_set(e, CF_E_IO,
                   "%s: the object store is full (%s). HINT: raise the bucket's or the "
                   "account's quota, or make room (catalog prune)", what, detail);
    } else if (st == 403 || st == 401 || token_error(s, st, c)) {
        cf_err_set(e, CF_E_AUTH, "%s: access denied (%s).%s", what, detail, auth_hint(s, c));
    } else if (st == 404 && strcmp(c, "NoSuchBucket") == 0) {
        /* not CF_E_NOTFOUND: callers take that for a missing object */
        cf_err_set(e, CF_E_CONFIG,
                   "%s: bucket '%s' does not exist (%s). HINT: create it, or correct bucket "
                   "and endpoint in [repository]", what, s->bucket, detail);
    } else if (st == 404) {
        cf_err_set(e, CF_E_NOTFOUND, "%s: not found (%s)", what, detail);
    } else if (st == 412) {
        cf_err_set(e, CF_E_EXISTS, "%s: the object already exists (%s)", what, detail);
    } else if (st == 301 || st == 307 || strcmp(c, "PermanentRedirect") == 0 ||
               strcmp(c, "AuthorizationHeaderMalformed") == 0) {
        cf_err_set(e, CF_E_CONFIG,
                   "%s: the bucket is not served here (%s). HINT: check region and endpoint "
                   "in [repository]", what, detail);
    } else {
        cf_err_set(e, CF_E_NET, "%s: %s", what, detail);
    }
    buf_free(&code);
    buf_free(&msg);
    return rc;
}

static CURL *handle_get(struct s3 *s)
{
    CURL *h = NULL;
    pthread_mutex_lock(&s->handle_mu);
    if (s->nhandles > 0)
        h = s->handles[--s->nhandles];
    pthread_mutex_unlock(&s->handle_mu);
    if (h != NULL)
        curl_easy_reset(h);   /* options cleared; live connections kept */
    else
        h = curl_easy_init();
    return h;
}

/* back to the pool after a clean exchange; dropped (connections closed) otherwise */
static void handle_put(struct s3 *s, CURL *h, bool reuse)
{
    if (h == NULL)
        return;
    pthread_mutex_lock(&s->handle_mu);
    if (reuse && s->nhandles < s->handle_cap) {
        s->handles[s->nhandles++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&s->handle_mu);
    curl_easy_cleanup(h);
}

/* the answer's root element is <Error> (after the XML declaration) */
static bool xml_root_is_error(const struct buf *b)
{
    const char *p = b->data ? b->data : "", *end = p + b->len;
    while (p < end) {
        p = memchr(p, '<', (size_t)(end - p));
        if (p == NULL)
            return false;
        if (p + 1 < end && p[1] != '?')
            return (size_t)(end - p) >= 7 && memcmp(p, "<Error>", 7) == 0;
        p++;
    }
    return false;
}

/* one attempt of @rq; the answer fields are reset first */
static int s3_once(struct s3 *s, struct s3_req *rq, struct cf_err *e)
{
    struct buf path = BUF_INIT, query = BUF_INIT, url = BUF_INIT, auth = BUF_INIT,
               line = BUF_INIT, what = BUF_INIT;
    struct curl_slist *hl = NULL;
    struct s3_pair *hdr = NULL;
    struct body_cursor cur = { rq->body, rq->body_len, 0 };
    char amz_date[17], payload[65], errbuf[CURL_ERROR_SIZE] = "";
    struct xfer x = { rq, NULL, false };
    CURL *h = NULL;
    CURLcode cc;
    size_t nh = 0;
    int rc = -1;
    bool transport_ok = false;
    time_t now = time(NULL);
    struct tm tm;

    rq->status = 0;
    rq->sink_len = 0;
    rq->have_length = false;
    rq->length = 0;
    rq->etag[0] = rq->errcode[0] = '\0';
    buf_reset(&rq->errbody);
    if (rq->resp != NULL)
        buf_reset(rq->resp);

    req_path(s, rq->key, &path);
    s3_query_build(rq->query, rq->nquery, &query);
    buf_printf(&url, "%s%s%s%s", s->scheme_host, path.data, query.len ? "?" : "",
               query.data);
    buf_printf(&what, "s3 %s '%s%s'", rq->method, rq->key ? "" : "bucket ",
               rq->key ? rq->key : s->bucket);

    gmtime_r(&now, &tm);
    strftime(amz_date, sizeof(amz_date), "%Y%m%dT%H%M%SZ", &tm);
    if (rq->body_sha != NULL)
        snprintf(payload, sizeof(payload), "%s", rq->body_sha);
    else
        s3_sha256_hex(rq->body ? rq->body : "", rq->body_len, payload);

    hdr = cf_calloc(rq->nhdr + 4, sizeof(*hdr));
    hdr[nh++] = (struct s3_pair){ "host", s->host };
    hdr[nh++] = (struct s3_pair){ "x-amz-content-sha256", payload };
    hdr[nh++] = (struct s3_pair){ "x-amz-date", amz_date };
    if (s->token.len)
        hdr[nh++] = (struct s3_pair){ "x-amz-security-token", s->token.data };
    for (size_t i = 0; i < rq->nhdr; i++)
        hdr[nh++] = rq->hdr[i];
    struct s3_sign sg = { rq->method, path.data, query.data, hdr, nh, payload, amz_date,
                          s->region, "s3", s->access_key.data, s->secret.data };
    s3_authorization(&sg, &auth);
    for (size_t i = 0; i < nh; i++) {
        buf_reset(&line);
        buf_printf(&line, "%s: %s", hdr[i].name, hdr[i].value);
        hl = curl_slist_append(hl, line.data);
    }
    buf_reset(&line);
    buf_printf(&line, "Authorization: %s", auth.data);
    hl = curl_slist_append(hl, line.data);
    sodium_memzero(line.data, line.len);
    sodium_memzero(auth.data, auth.len);
    hl = curl_slist_append(hl, "Expect:");
    hl = curl_slist_append(hl, "Content-Type:");

    h = handle_get(s);
    if (h == NULL) {
        cf_err_set(e, CF_E_NOMEM, "%s: unable to start a curl handle", what.data);
        goto out;
    }
    x.h = h;
    curl_easy_setopt(h, CURLOPT_URL, url.data);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(h, CURLOPT_SHARE, s->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 15L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->timeout);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (s->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, s->ca_file);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, rq);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, rq->cancel);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);
    curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
    if (strcmp(rq->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(rq->method, "PUT") == 0) {
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, &cur);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, &cur);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POST, 1L);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, rq->body ? (const char *)rq->body : "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)rq->body_len);
    } else if (strcmp(rq->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
    }

    cc = curl_easy_perform(h);
    transport_ok = cc == CURLE_OK;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rq->status);
    if (cc == CURLE_ABORTED_BY_CALLBACK && rq->cancel != NULL && atomic_load(rq->cancel)) {
        cf_err_set(e, CF_E_CANCEL, "%s: cancelled", what.data);
    } else if (x.overflow) {
        cf_err_retry(e, CF_E_NET, "%s: the server sent more bytes than asked for", what.data);
    } else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE ||
               cc == CURLE_SSL_CERTPROBLEM) {
        cf_err_set(e, CF_E_NET,
                   "%s: the server's TLS certificate was not accepted: %s. HINT: give the "
                   "certificate authority in ca-file", what.data, errbuf[0] ? errbuf
                                                                        : curl_easy_strerror(cc));
    } else if (cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
        cf_err_set(e, CF_E_CONFIG, "%s: %s", what.data, curl_easy_strerror(cc));
    } else if (cc != CURLE_OK) {
        cf_err_retry(e, CF_E_NET, "%s: %s", what.data,
                     errbuf[0] ? errbuf : curl_easy_strerror(cc));
    } else if (classify(s, rq, what.data, e) == 0) {
        rc = 0;
    }
    if (rc == 0 && rq->status >= 200 && rq->status < 300 && rq->errbody.len == 0 &&
        strcmp(rq->method, "POST") == 0 && rq->resp != NULL && xml_root_is_error(rq->resp)) {
        /* CompleteMultipartUpload may answer 200 and report an error in the body */
        struct buf code = BUF_INIT;
        s3_xml_get(rq->resp->data, rq->resp->data + rq->resp->len, "Code", &code);
        snprintf(rq->errcode, sizeof(rq->errcode), "%s", code.data ? code.data : "");
        cf_err_retry(e, CF_E_NET, "%s: http 200 with error %s", what.data, rq->errcode);
        buf_free(&code);
        rc = -1;
    }
out:
    handle_put(s, h, transport_ok);
    curl_slist_free_all(hl);
    free(hdr);
    buf_free(&path);
    buf_free(&query);
    buf_free(&url);
    buf_free(&auth);
    buf_free(&line);
    buf_free(&what);
    return rc;
}

/* sleep @ms milliseconds, waking early when @cancel is set */
static void nap(unsigned ms, atomic_int *cancel)
{
    while (ms > 0 && !(cancel != NULL && atomic_load(cancel))) {
        unsigned step = ms < 50 ? ms : 50;
        struct timespec ts = { 0, (long)step * 1000000L };
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* @rq with retries: exponential backoff with full jitter (0.2 s doubling, capped at 20 s) */
int s3_call(struct s3 *s, struct s3_req *rq, struct cf_err *e)
{
    for (unsigned attempt = 0;; attempt++) {
        struct cf_err one = CF_ERR_INIT;
        rq->attempts = attempt + 1;
        if (s3_once(s, rq, &one) == 0) {
            buf_free(&rq->errbody);
            return 0;
        }
        if (!one.retryable || attempt >= s->retries) {
            buf_free(&rq->errbody);
            if (one.retryable && s->retries > 0)
                cf_err_ctx(&one, "gave up after %u attempts", attempt + 1);
            cf_err_keep(e, &one);
            return -1;
        }
        unsigned cap = 200u << (attempt < 7 ? attempt : 7);
        if (cap > 20000)
            cap = 20000;
        unsigned ms = cap / 2 + randombytes_uniform(cap / 2 + 1);
        log_warn("s3 retry attempt=%u/%u wait_ms=%u: %s", attempt + 2, s->retries + 1, ms,
                 one.msg);
        nap(ms, rq->cancel);
        if (rq->cancel != NULL && atomic_load(rq->cancel)) {
            buf_free(&rq->errbody);
            return cf_err_set(e, CF_E_CANCEL, "s3 %s: cancelled", rq->method);
        }
    }
}

int s3_head_size(struct s3 *s, const char *fkey, uint64_t *size, struct cf_err *e)
{
    struct s3_req rq = { 0 };
    struct cf_err he = CF_ERR_INIT;
    rq.method = "HEAD";
    rq.key = fkey;
    if (s3_call(s, &rq, &he) == 0) {
        *size = rq.length;
        return 0;
    }
    if (rq.status >= 400 && rq.status < 500 && rq.errcode[0] == '\0') {
        /* a HEAD answer has no body: ask again with a one-byte GET to learn the server's
         * Code (NoSuchBucket or NoSuchKey, SignatureDoesNotMatch or AccessDenied) */
        const struct s3_pair h[] = { { "range", "bytes=0-0" } };
        unsigned char one[1];
        struct s3_req gq = { 0 };
        struct cf_err ge = CF_ERR_INIT;
        gq.method = "GET";
        gq.key = fkey;
        gq.hdr = h;
        gq.nhdr = 1;
        gq.sink = one;
        gq.sink_cap = 1;
        if (s3_call(s, &gq, &ge) != 0 && gq.errcode[0] != '\0' &&
            strcmp(gq.errcode, "InvalidRange") != 0) {
            cf_err_keep(e, &ge);
            return -1;
        }
    }
    cf_err_keep(e, &he);
    return -1;
}
