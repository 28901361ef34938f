/* tgt_s3.c - a repository in an S3-compatible bucket (Amazon S3, MinIO, Ceph RGW).
 *
 * Every request is signed here with Signature V4 (s3_sigv4.c) and sent with libcurl; easy
 * handles are pooled (each used by one thread at a time, keeping its connections), and share
 * DNS and TLS sessions through a CURLSH, so parallel parts and ranged reads reuse
 * connections. Each request is retried on its own (5xx, 429, timeouts,
 * resets) with exponential backoff and full jitter; 4xx answers fail at once with the
 * server's Code and Message.
 *
 * put: the writer fills one part in memory. If the object ends before the part is full, one
 * PUT sends it at commit. Otherwise the first full part starts a multipart upload; each full
 * part is uploaded by its own thread while the next one fills, up to upload-concurrency parts
 * in flight. commit uploads the last part (split into pieces of at least 5 MiB sent side by
 * side, since the caller waits for it), waits for all, and sends CompleteMultipartUpload: the
 * only step that makes the object visible. abort cancels the parts in flight and aborts the
 * upload on the server. Part buffers come from a pool shared by all writers of the target,
 * at most upload-concurrency + 2 of them, kept between objects: the pipeline fills the next
 * object while the previous one commits, and a writer waits for a buffer rather than adding
 * one (memory: (upload-concurrency + 2) x part-size).
 *
 * get: HEAD for the size, then ranged GETs of 8 MiB (or part-size if smaller; the first
 * three ramp up from 1 MiB so that the first bytes come soon), upload-concurrency of them in
 * flight, delivered in order; each range is retried on its own.
 *
 * NOREPLACE: a single PUT carries If-None-Match: * (Amazon S3, Ceph RGW and MinIO honour it);
 * a multipart upload checks with HEAD just before CompleteMultipartUpload, which leaves a
 * short race with another writer of the same key (documented in docs/CONFIG.md).
 *
 * sweep: ListMultipartUploads under the prefix; uploads older than the given age (left by
 * killed writers) are aborted. Credentials and the Authorization header are never logged;
 * error messages name method, key and the server's Code and Message only. */
#include <ctype.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "s3/s3_sigv4.h"
#include "s3/s3_xml.h"
#include "target.h"

#define S3_MIN_PART (5ull << 20)
#define S3_MAX_PART (5ull << 30)
#define S3_MAX_PARTS 10000u
#define S3_ERR_BODY_MAX (64u << 10)
#define S3_FIRST_BUF (256u << 10)
#define S3_GET_CHUNK (8ull << 20)   /* ranged GETs: at most this, at most part-size */

struct s3 {
    char *scheme_host;   /* "https://s3.eu-west-1.amazonaws.com" or "https://b.s3..." */
    char *host;          /* the Host header, signed */
    char *bucket_path;   /* encoded path of the bucket: "/bucket" (path style) or "" */
    char *bucket, *prefix, *region, *storage_class, *ca_file, *desc;
    struct buf access_key, secret, token;
    uint64_t part_size;
    unsigned concurrency, retries;
    long timeout;
    bool sign_payload;   /* SHA-256 of each body in x-amz-content-sha256, else UNSIGNED-PAYLOAD */
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
    /* easy handles kept between requests, each used by one thread at a time: their own
     * connection caches are reused (curl 7.88's shared connection cache is not thread-safe,
     * known bug 11.11, so only DNS and TLS sessions go through the share handle) */
    pthread_mutex_t handle_mu;
    CURL **handles;
    unsigned nhandles, handle_cap;
    /* part buffers, kept between objects: nbufs exist, npool of them idle (pool_get) */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    unsigned char **pool;
    unsigned npool, nbufs, pool_max;
};

static const char *const s3_keys[] = {
    "endpoint", "bucket", "prefix", "region", "uri-style", "access-key-id-file",
    "secret-access-key-file", "session-token-file", "ca-file", "storage-class",
    "upload-concurrency", "part-size", "retries", "timeout", "payload-signing", NULL,
};

/* ---- one request ---- */

struct s3_req {
    const char *method;
    const char *key;                 /* full key (prefix included); NULL: the bucket */
    const struct s3_pair *query;
    size_t nquery;
    const struct s3_pair *hdr;       /* extra headers to sign (lowercase names) */
    size_t nhdr;
    const void *body;
    size_t body_len;
    const char *body_sha;            /* hex SHA-256 of body when known */
    atomic_int *cancel;              /* set: stop at once, no retry */
    /* answer */
    struct buf *resp;                /* 2xx body (NULL: dropped unless sink) */
    unsigned char *sink;             /* 2xx body into a fixed buffer of sink_cap bytes */
    size_t sink_cap, sink_len;
    struct buf errbody;
    long status;
    uint64_t length;
    bool have_length;
    char etag[256];
    char errcode[128];
    unsigned attempts;               /* made by s3_call */
};

struct body_cursor {
    const unsigned char *p;
    size_t len, off;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *arg)
{
    struct s3 *s = arg;
    (void)h;
    (void)a;
    pthread_mutex_lock(&s->locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
    struct s3 *s = arg;
    (void)h;
    pthread_mutex_unlock(&s->locks[d]);
}

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
static int s3_call(struct s3 *s, struct s3_req *rq, struct cf_err *e)
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

static char *full_key(const struct s3 *s, const char *key)
{
    return cf_asprintf("%s%s", s->prefix, key);
}

/* ---- open / close ---- */

static int read_cred(const struct ini_section *sec, const char *key, const char *env,
                     const char *what, struct buf *out, bool *from_file, struct cf_err *e)
{
    const char *path = NULL, *v;
    if (ini_get_str(sec, key, NULL, &path, e) != 0)
        return -1;
    if (path != NULL) {
        *from_file = true;
        if (fs_read_secret(path, what, out, e) != 0) {
            char msg[sizeof(e->msg)];
            snprintf(msg, sizeof(msg), "%s", e->msg);
            return ini_err(sec, key, e, "%s", msg);
        }
        return 0;
    }
    v = env ? getenv(env) : NULL;
    if (v != NULL && *v != '\0')
        buf_puts(out, v);
    return 0;
}

static void s3_close(void *priv)
{
    struct s3 *s = priv;
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->nhandles; i++)
        curl_easy_cleanup(s->handles[i]);
    free(s->handles);
    pthread_mutex_destroy(&s->handle_mu);
    if (s->share != NULL)
        curl_share_cleanup(s->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->locks[i]);
    for (unsigned i = 0; i < s->npool; i++)
        free(s->pool[i]);
    free(s->pool);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    free(s->scheme_host);
    free(s->host);
    free(s->bucket_path);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    free(s->storage_class);
    free(s->ca_file);
    free(s->desc);
    if (s->secret.data)
        sodium_memzero(s->secret.data, s->secret.len);
    if (s->token.data)
        sodium_memzero(s->token.data, s->token.len);
    buf_free(&s->access_key);
    buf_free(&s->secret);
    buf_free(&s->token);
    free(s);
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (const char *p = b; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
              *p == '.' || *p == '_'))
            return false;
    return true;
}

static int s3_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    const char *endpoint, *bucket, *prefix, *region, *style, *ca, *sc, *signing;
    uint64_t part;
    long conc, retries;
    int64_t timeout;
    bool id_file = false, secret_file = false, token_file = false;
    struct s3 *s = cf_calloc(1, sizeof(*s));

    pthread_once(&curl_once, curl_init_once);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->locks[i], NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->handle_mu, NULL);
    if (sodium_init() < 0) {
        cf_err_set(e, CF_E_INTERNAL, "unable to initialise libsodium");
        goto fail;
    }
    if (ini_require_str(sec, "endpoint", &endpoint, e) != 0 ||
        ini_require_str(sec, "bucket", &bucket, e) != 0 ||
        ini_get_str(sec, "prefix", "", &prefix, e) != 0 ||
        ini_get_str(sec, "region", "us-east-1", &region, e) != 0 ||
        ini_get_str(sec, "uri-style", NULL, &style, e) != 0 ||
        ini_get_str(sec, "ca-file", NULL, &ca, e) != 0 ||
        ini_get_str(sec, "storage-class", NULL, &sc, e) != 0 ||
        ini_get_size(sec, "part-size", 8ull << 20, S3_MIN_PART, S3_MAX_PART, &part, e) != 0 ||
        ini_get_int(sec, "upload-concurrency", 4, 1, 64, &conc, e) != 0 ||
        ini_get_int(sec, "retries", 4, 0, 100, &retries, e) != 0 ||
        ini_get_duration(sec, "timeout", 60, &timeout, e) != 0 ||
        ini_get_str(sec, "payload-signing", "auto", &signing, e) != 0)
        goto fail;

    const char *hp;
    bool https;
    if (strncmp(endpoint, "https://", 8) == 0) {
        hp = endpoint + 8;
        https = true;
    } else if (strncmp(endpoint, "http://", 7) == 0) {
        hp = endpoint + 7;
        https = false;
    } else {
        ini_err(sec, "endpoint", e, "endpoint: '%s' must start with https:// or http://",
                endpoint);
        goto fail;
    }
    size_t hlen = strcspn(hp, "/?#");
    if (hlen == 0 || (hp[hlen] != '\0' && strcmp(hp + hlen, "/") != 0) ||
        memchr(hp, '@', hlen) != NULL) {
        ini_err(sec, "endpoint", e,
                "endpoint: '%s' must be a scheme and host[:port] only (no path, no user)",
                endpoint);
        goto fail;
    }
    if (!bucket_name_ok(bucket)) {
        ini_err(sec, "bucket", e, "bucket: '%s' is not a valid bucket name", bucket);
        goto fail;
    }
    if (strcmp(signing, "on") == 0 || (strcmp(signing, "auto") == 0 && !https)) {
        s->sign_payload = true;
    } else if (strcmp(signing, "off") != 0 && strcmp(signing, "auto") != 0) {
        ini_err(sec, "payload-signing", e, "payload-signing: '%s' is not auto, on or off",
                signing);
        goto fail;
    }
    if (timeout < 1 || timeout > 3600) {
        ini_err(sec, "timeout", e, "timeout: must be between 1s and 1h");
        goto fail;
    }
    if (*region == '\0' || strpbrk(region, "/ \t") != NULL) {
        ini_err(sec, "region", e, "region: '%s' is not a region name", region);
        goto fail;
    }
    if (sc != NULL) {
        for (const char *p = sc; *p; p++)
            if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) {
                ini_err(sec, "storage-class", e,
                        "storage-class: '%s' is not a storage class (STANDARD, STANDARD_IA, ...)",
                        sc);
                goto fail;
            }
    }
    char *host = cf_strndup(hp, hlen);
    bool host_style;
    if (style == NULL)
        host_style = strstr(host, "amazonaws.com") != NULL;
    else if (strcmp(style, "host") == 0)
        host_style = true;
    else if (strcmp(style, "path") == 0)
        host_style = false;
    else {
        free(host);
        ini_err(sec, "uri-style", e, "uri-style: '%s' is neither path nor host", style);
        goto fail;
    }
    if (host_style) {
        s->host = cf_asprintf("%s.%s", bucket, host);
        s->bucket_path = cf_strdup("");
        free(host);
    } else {
        struct buf bp = BUF_INIT;
        s->host = host;
        buf_append(&bp, "/", 1);
        s3_uri_encode(&bp, bucket, false);
        s->bucket_path = bp.data;
    }
    s->scheme_host = cf_asprintf("%s%s", https ? "https://" : "http://", s->host);
    s->bucket = cf_strdup(bucket);
    while (*prefix == '/')
        prefix++;
    s->prefix = *prefix && prefix[strlen(prefix) - 1] != '/' ? cf_asprintf("%s/", prefix)
                                                            : cf_strdup(prefix);
    s->region = cf_strdup(region);
    s->storage_class = sc ? cf_strdup(sc) : NULL;
    if (ca != NULL) {
        if (access(ca, R_OK) != 0) {
            ini_err(sec, "ca-file", e, "ca-file: unable to read '%s': %s", ca, strerror(errno));
            goto fail;
        }
        s->ca_file = cf_strdup(ca);
    }
    s->part_size = part;
    s->concurrency = (unsigned)conc;
    /* one upload-concurrency of parts in flight, the part being filled, and one for the
     * next object's writer while the last part of the previous one is sent */
    s->pool_max = s->concurrency + 2;
    s->pool = cf_calloc(s->pool_max, sizeof(*s->pool));
    s->handle_cap = 2 * s->concurrency + 2;
    s->handles = cf_calloc(s->handle_cap, sizeof(*s->handles));
    s->retries = (unsigned)retries;
    s->timeout = (long)timeout;

    if (read_cred(sec, "access-key-id-file", NULL, "access-key-id-file", &s->access_key,
                  &id_file, e) != 0 ||
        read_cred(sec, "secret-access-key-file", NULL, "secret-access-key-file", &s->secret,
                  &secret_file, e) != 0 ||
        read_cred(sec, "session-token-file", NULL, "session-token-file", &s->token,
                  &token_file, e) != 0)
        goto fail;
    if (id_file != secret_file) {
        ini_err(sec, id_file ? "access-key-id-file" : "secret-access-key-file", e,
                "access-key-id-file and secret-access-key-file go together");
        goto fail;
    }
    if (!id_file) {
        read_cred(sec, "-", "AWS_ACCESS_KEY_ID", NULL, &s->access_key, &id_file, e);
        read_cred(sec, "-", "AWS_SECRET_ACCESS_KEY", NULL, &s->secret, &id_file, e);
        if (!token_file)
            read_cred(sec, "-", "AWS_SESSION_TOKEN", NULL, &s->token, &token_file, e);
        if (s->access_key.len == 0 || s->secret.len == 0) {
            ini_err(sec, NULL, e,
                    "no S3 credentials. HINT: set access-key-id-file and "
                    "secret-access-key-file (0600 files), or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY in the environment");
            goto fail;
        }
    }
    s->desc = cf_asprintf("s3 %s/%s", s->bucket, s->prefix);
    s->share = curl_share_init();
    if (s->share == NULL) {
        cf_err_set(e, CF_E_NOMEM, "unable to start a curl share handle");
        goto fail;
    }
    curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *priv = s;
    return 0;
fail:
    s3_close(s);
    return -1;
}

static const char *s3_describe(void *priv)
{
    return ((struct s3 *)priv)->desc;
}

/* ---- put ---- */

struct s3_part {
    struct s3_writer *w;
    unsigned char *data;       /* the part's bytes, owned by the upload while it runs */
    size_t len;
    bool pooled;               /* data is a pool buffer, handed back when the upload ends */
    unsigned number;
    bool running;
    pthread_t th;
    int rc;
    struct cf_err err;
    char etag[256];
};

struct s3_writer {
    struct s3 *s;
    char *key;                 /* full key */
    unsigned flags;
    uint64_t hint;             /* the caller's size hint: 0 when unknown */
    char *upload_id;           /* multipart upload, once started */
    unsigned char *fill;       /* the part being filled */
    size_t fill_len, fill_cap;
    bool fill_pooled;          /* fill is a pool buffer (else a small object's own) */
    struct s3_part *slots;     /* uploads in flight: upload-concurrency */
    unsigned nslots, cur, next_number;
    char **etags;              /* by part number - 1, filled as parts are joined */
    size_t netags;
    uint64_t total;
    atomic_int cancel;
};

static int abort_upload(struct s3 *s, const char *fkey, const char *upload_id,
                        struct cf_err *e);

/* A part buffer: at most pool_max exist, shared by every writer of the target, so that a
 * writer filling the next object while another's upload completes waits for a buffer rather
 * than adding memory. Every holder hands its buffer back without needing another one (an
 * upload when it ends, a writer at commit or abort), so a wait always ends. */
static unsigned char *pool_get(struct s3 *s)
{
    unsigned char *b = NULL;
    bool grow = false;
    pthread_mutex_lock(&s->pool_mu);
    while (s->npool == 0 && s->nbufs >= s->pool_max)
        pthread_cond_wait(&s->pool_cv, &s->pool_mu);
    if (s->npool > 0)
        b = s->pool[--s->npool];
    else
        grow = true, s->nbufs++;
    pthread_mutex_unlock(&s->pool_mu);
    return grow ? cf_malloc_big(s->part_size) : b;
}

static void pool_put(struct s3 *s, unsigned char *b)
{
    if (b == NULL)
        return;
    pthread_mutex_lock(&s->pool_mu);
    CF_ASSERT(s->npool < s->pool_max);
    s->pool[s->npool++] = b;
    pthread_cond_signal(&s->pool_cv);
    pthread_mutex_unlock(&s->pool_mu);
}

static int check_key(const char *key, struct cf_err *e)
{
    if (*key == '\0' || *key == '/' || strstr(key, "//") != NULL)
        return cf_err_set(e, CF_E_INTERNAL, "bad object key '%s'", key);
    return 0;
}

static int s3_put_begin(void *priv, const char *key, uint64_t size_hint, unsigned flags,
                        void **out, struct cf_err *e)
{
    struct s3 *s = priv;
    struct s3_writer *w;

    if (check_key(key, e) != 0)
        return -1;
    w = cf_calloc(1, sizeof(*w));
    w->s = s;
    w->key = full_key(s, key);
    w->flags = flags;
    w->hint = size_hint;
    w->nslots = s->concurrency;
    w->slots = cf_calloc(w->nslots, sizeof(*w->slots));
    w->next_number = 1;
    atomic_init(&w->cancel, 0);
    *out = w;
    return 0;
}

static void *part_thread(void *arg)
{
    struct s3_part *p = arg;
    struct s3_writer *w = p->w;
    char num[16], sha[65];
    snprintf(num, sizeof(num), "%u", p->number);
    const struct s3_pair q[] = { { "partNumber", num }, { "uploadId", w->upload_id } };
    struct s3_req rq = { 0 };

    if (w->s->sign_payload)
        s3_sha256_hex(p->data, p->len, sha);
    else
        snprintf(sha, sizeof(sha), "UNSIGNED-PAYLOAD");
    rq.method = "PUT";
    rq.key = w->key;
    rq.query = q;
    rq.nquery = 2;
    rq.body = p->data;
    rq.body_len = p->len;
    rq.body_sha = sha;
    rq.cancel = &w->cancel;
    p->rc = s3_call(w->s, &rq, &p->err);
    if (p->rc == 0 && rq.etag[0] == '\0')
        p->rc = cf_err_set(&p->err, CF_E_NET, "s3 PUT '%s' part %u: no ETag in the answer",
                           w->key, p->number);
    if (p->rc == 0)
        snprintf(p->etag, sizeof(p->etag), "%s", rq.etag);
    else
        cf_err_ctx(&p->err, "part %u", p->number);
    if (p->pooled)
        pool_put(w->s, p->data);   /* sent (or given up): another writer may be waiting */
    p->data = NULL;
    return NULL;
}

/* wait for the part in @p; its ETag is kept by number */
static int part_join(struct s3_writer *w, struct s3_part *p, struct cf_err *e)
{
    if (!p->running)
        return 0;
    pthread_join(p->th, NULL);
    p->running = false;
    if (p->rc != 0) {
        cf_err_keep(e, &p->err);
        return -1;
    }
    if (p->number > w->netags) {
        size_t n = w->netags ? w->netags * 2 : 16;
        while (n < p->number)
            n *= 2;
        w->etags = cf_realloc(w->etags, n * sizeof(*w->etags));
        memset(w->etags + w->netags, 0, (n - w->netags) * sizeof(*w->etags));
        w->netags = n;
    }
    w->etags[p->number - 1] = cf_strdup(p->etag);
    return 0;
}

static int multipart_start(struct s3_writer *w, struct cf_err *e)
{
    const struct s3_pair q[] = { { "uploads", NULL } };
    const struct s3_pair h[] = { { "x-amz-storage-class", w->s->storage_class } };
    struct buf resp = BUF_INIT, id = BUF_INIT;
    struct s3_req rq = { 0 };
    int rc = -1;

    rq.method = "POST";
    rq.key = w->key;
    rq.query = q;
    rq.nquery = 1;
    rq.hdr = h;
    rq.nhdr = w->s->storage_class ? 1 : 0;
    rq.resp = &resp;
    rq.cancel = &w->cancel;
    if (s3_call(w->s, &rq, e) != 0) {
        cf_err_ctx(e, "unable to start a multipart upload");
        goto out;
    }
    if (!s3_xml_get(resp.data, resp.data + resp.len, "UploadId", &id) || id.len == 0) {
        cf_err_set(e, CF_E_NET, "s3 POST '%s?uploads': no UploadId in the answer", w->key);
        goto out;
    }
    w->upload_id = cf_strdup(id.data);
    log_debug("s3 multipart upload started key=%s", w->key);
    rc = 0;
out:
    buf_free(&resp);
    buf_free(&id);
    return rc;
}

/* upload @len bytes at @data as the next part, on its own thread; @pooled: the upload hands
 * the buffer back to the pool when it ends (also when it fails to start) */
static int part_start(struct s3_writer *w, struct s3_part *p, unsigned char *data, size_t len,
                      bool pooled, struct cf_err *e)
{
    if (w->next_number > S3_MAX_PARTS) {
        if (pooled)
            pool_put(w->s, data);
        return cf_err_set(e, CF_E_INTERNAL,
                          "s3 PUT '%s': more than %u parts. HINT: raise part-size", w->key,
                          S3_MAX_PARTS);
    }
    p->w = w;
    p->data = data;
    p->len = len;
    p->pooled = pooled;
    p->number = w->next_number++;
    p->rc = 0;
    cf_err_clear(&p->err);
    if (pthread_create(&p->th, NULL, part_thread, p) != 0) {
        if (pooled)
            pool_put(w->s, data);
        p->data = NULL;
        return cf_err_sys(e, CF_E_INTERNAL, "unable to start an upload thread");
    }
    p->running = true;
    return 0;
}

/* the filled part goes to the next upload slot (after the part there is done) */
static int part_launch(struct s3_writer *w, struct cf_err *e)
{
    struct s3_part *p = &w->slots[w->cur];
    unsigned char *data = w->fill;

    if (part_join(w, p, e) != 0 || (w->upload_id == NULL && multipart_start(w, e) != 0))
        return -1;
    w->fill = NULL;
    w->fill_cap = 0;
    w->fill_pooled = false;
    w->cur = (w->cur + 1) % w->nslots;
    size_t len = w->fill_len;
    w->fill_len = 0;
    return part_start(w, p, data, len, true, e);
}

static int s3_write(void *wp, const void *buf, size_t len, struct cf_err *e)
{
    struct s3_writer *w = wp;
    const unsigned char *in = buf;
    size_t part = (size_t)w->s->part_size;

    while (len > 0) {
        if (!w->fill_pooled && w->fill_len + len > w->fill_cap) {
            size_t want = w->fill_len + len;
            if (w->next_number > 1 || want > part / 4 || w->hint > part / 4) {
                /* a whole part, from the pool (no fresh pages to fault in) */
                unsigned char *nb = pool_get(w->s);
                if (w->fill_len > 0)
                    memcpy(nb, w->fill, w->fill_len);
                free(w->fill);
                w->fill = nb;
                w->fill_cap = part;
                w->fill_pooled = true;
            } else {
                /* a small object's buffer grows, so that small objects stay small */
                size_t cap = w->fill_cap ? w->fill_cap : S3_FIRST_BUF;
                while (cap < want)
                    cap *= 2;
                w->fill = cf_realloc(w->fill, cap);
                w->fill_cap = cap;
            }
        }
        size_t n = part - w->fill_len < len ? part - w->fill_len : len;
        memcpy(w->fill + w->fill_len, in, n);
        w->fill_len += n;
        in += n;
        len -= n;
        w->total += n;
        if (w->fill_len == part && part_launch(w, e) != 0)
            return -1;
    }
    return 0;
}

static void writer_free(struct s3_writer *w)
{
    if (w->fill_pooled)
        pool_put(w->s, w->fill);
    else
        free(w->fill);
    for (size_t i = 0; i < w->netags; i++)
        free(w->etags[i]);
    free(w->etags);
    free(w->slots);
    free(w->upload_id);
    free(w->key);
    free(w);
}

static int head_size(struct s3 *s, const char *fkey, uint64_t *size, struct cf_err *e)
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

static int single_put(struct s3_writer *w, struct cf_err *e)
{
    struct s3_pair h[2];
    struct s3_req rq = { 0 };
    size_t nh = 0;

    if (w->s->storage_class)
        h[nh++] = (struct s3_pair){ "x-amz-storage-class", w->s->storage_class };
    if (w->flags & TARGET_PUT_NOREPLACE)
        h[nh++] = (struct s3_pair){ "if-none-match", "*" };
    rq.method = "PUT";
    rq.key = w->key;
    rq.hdr = h;
    rq.nhdr = nh;
    rq.body = w->fill;
    rq.body_len = w->fill_len;
    rq.body_sha = w->s->sign_payload ? NULL : "UNSIGNED-PAYLOAD";
    rq.cancel = &w->cancel;
    if (s3_call(w->s, &rq, e) == 0)
        return 0;
    /* a conditional PUT retried after a lost answer may meet its own first attempt */
    uint64_t sz;
    struct cf_err he = CF_ERR_INIT;
    if (e->code == CF_E_EXISTS && rq.attempts > 1 && head_size(w->s, w->key, &sz, &he) == 0 &&
        sz == w->fill_len) {
        log_warn("s3 PUT '%s': precondition failed on attempt %u, taking the object of an "
                 "earlier attempt (same size)", w->key, rq.attempts);
        cf_err_clear(e);
        return 0;
    }
    return -1;
}

static int multipart_complete(struct s3_writer *w, struct cf_err *e)
{
    const struct s3_pair q[] = { { "uploadId", w->upload_id } };
    struct buf body = BUF_INIT, resp = BUF_INIT;
    struct s3_req rq = { 0 };
    unsigned nparts = w->next_number - 1;
    int rc = -1;

    buf_puts(&body, "<CompleteMultipartUpload>");
    for (unsigned i = 0; i < nparts; i++) {
        CF_ASSERT(i < w->netags && w->etags[i] != NULL);
        buf_printf(&body, "<Part><PartNumber>%u</PartNumber><ETag>", i + 1);
        s3_xml_escape(&body, w->etags[i]);
        buf_puts(&body, "</ETag></Part>");
    }
    buf_puts(&body, "</CompleteMultipartUpload>");
    if (w->flags & TARGET_PUT_NOREPLACE) {
        uint64_t sz;
        struct cf_err he = CF_ERR_INIT;
        if (head_size(w->s, w->key, &sz, &he) == 0) {
            cf_err_set(e, CF_E_EXISTS, "s3 PUT '%s': the object already exists", w->key);
            goto out;
        }
        if (he.code != CF_E_NOTFOUND) {
            cf_err_keep(e, &he);
            goto out;
        }
    }
    rq.method = "POST";
    rq.key = w->key;
    rq.query = q;
    rq.nquery = 1;
    rq.body = body.data;
    rq.body_len = body.len;
    rq.resp = &resp;
    if (s3_call(w->s, &rq, e) != 0) {
        /* a retry after a lost answer finds the upload gone: the object tells */
        uint64_t sz;
        struct cf_err he = CF_ERR_INIT;
        if (strcmp(rq.errcode, "NoSuchUpload") == 0 && head_size(w->s, w->key, &sz, &he) == 0 &&
            sz == w->total) {
            cf_err_clear(e);
            log_debug("s3 complete found done key=%s", w->key);
        } else {
            cf_err_ctx(e, "unable to complete the multipart upload of %u parts", nparts);
            goto out;
        }
    }
    free(w->upload_id);
    w->upload_id = NULL;
    rc = 0;
out:
    buf_free(&body);
    buf_free(&resp);
    return rc;
}

static int s3_commit(void *wp, struct cf_err *e)
{
    struct s3_writer *w = wp;
    struct s3_part *pieces = NULL;
    size_t npieces = 0;
    int rc = -1;

    if (w->upload_id == NULL) {
        if (single_put(w, e) != 0)
            return -1;
        writer_free(w);
        return 0;
    }
    /* The caller waits for commit, so the last part is what it waits for: split it into
     * pieces of at least the 5 MiB minimum and send them side by side. */
    size_t len = w->fill_len, k = len / S3_MIN_PART, off = 0;
    if (k > w->s->concurrency)
        k = w->s->concurrency;
    if (k < 1)
        k = 1;
    pieces = len > 0 ? cf_calloc(k, sizeof(*pieces)) : NULL;
    for (size_t i = 0; pieces != NULL && i < k; i++) {
        size_t n = i + 1 < k ? len / k : len - off;
        if (part_start(w, &pieces[i], w->fill + off, n, false, e) != 0)
            goto fail;
        off += n;
        npieces = i + 1;
    }
    for (unsigned i = 0; i < w->nslots; i++)
        if (part_join(w, &w->slots[i], e) != 0)
            goto fail;
    for (size_t i = 0; i < npieces; i++)
        if (part_join(w, &pieces[i], e) != 0)
            goto fail;
    free(pieces);
    pieces = NULL;
    npieces = 0;
    if (multipart_complete(w, e) != 0)
        goto fail;
    log_debug("s3 put done key=%s bytes=%" PRIu64 " parts=%u", w->key, w->total,
              w->next_number - 1);
    writer_free(w);
    return 0;
fail:
    /* the pieces point into the fill buffer: stop and wait for them before abort frees it */
    atomic_store(&w->cancel, 1);
    for (size_t i = 0; i < npieces; i++) {
        struct cf_err ignore = CF_ERR_INIT;
        part_join(w, &pieces[i], &ignore);
    }
    free(pieces);
    return rc;
}

static void s3_abort(void *wp)
{
    struct s3_writer *w = wp;
    if (w == NULL)
        return;
    atomic_store(&w->cancel, 1);
    for (unsigned i = 0; i < w->nslots; i++) {
        struct cf_err ignore = CF_ERR_INIT;
        part_join(w, &w->slots[i], &ignore);
    }
    if (w->upload_id != NULL) {
        struct cf_err e = CF_ERR_INIT;
        if (abort_upload(w->s, w->key, w->upload_id, &e) != 0)
            log_warn("s3 abort of the multipart upload of '%s' failed (prune removes it "
                     "later): %s", w->key, e.msg);
    }
    writer_free(w);
}

/* ---- get ---- */

struct s3_chunk {
    struct s3_reader *r;
    unsigned char *data;
    size_t len, cap;
    uint64_t off;
    bool running;
    pthread_t th;
    int rc;
    struct cf_err err;
};

struct s3_reader {
    struct s3 *s;
    char *key;
    uint64_t size, next_off;
    struct s3_chunk *slots;
    unsigned nslots, cur;
    size_t pos;
    unsigned launched;   /* ranges started so far */
    bool ready;          /* slots[cur] has been joined */
    atomic_int cancel;
};

static void *chunk_thread(void *arg)
{
    struct s3_chunk *c = arg;
    struct s3_reader *r = c->r;
    char range[64];
    snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, c->off,
             c->off + c->len - 1);
    const struct s3_pair h[] = { { "range", range } };
    struct s3_req rq = { 0 };

    rq.method = "GET";
    rq.key = r->key;
    rq.hdr = h;
    rq.nhdr = 1;
    rq.sink = c->data;
    rq.sink_cap = c->len;
    rq.cancel = &r->cancel;
    for (unsigned attempt = 0;; attempt++) {
        struct cf_err one = CF_ERR_INIT;
        c->rc = s3_call(r->s, &rq, &one);
        if (c->rc == 0 && rq.sink_len != c->len) {
            /* a short answer: retried like a dropped connection */
            c->rc = cf_err_retry(&one, CF_E_NET, "s3 GET '%s' %s: %zu of %zu bytes", r->key,
                                 range, rq.sink_len, c->len);
        }
        if (c->rc == 0 || !one.retryable || attempt >= r->s->retries) {
            if (c->rc != 0)
                cf_err_keep(&c->err, &one);
            break;
        }
        log_warn("s3 retry of a short read: %s", one.msg);
    }
    return NULL;
}

static int chunk_launch(struct s3_reader *r, struct s3_chunk *c, struct cf_err *e)
{
    uint64_t left = r->size - r->next_off;
    uint64_t chunk = r->s->part_size < S3_GET_CHUNK ? r->s->part_size : S3_GET_CHUNK;
    /* ramp up (1, 2, 4, 8 MiB): the reader is waiting for the first bytes of each object */
    if (r->launched < 3 && (1ull << 20 << r->launched) < chunk)
        chunk = 1ull << 20 << r->launched;
    r->launched++;
    size_t len = left < chunk ? (size_t)left : (size_t)chunk;
    if (c->cap < len) {
        free(c->data);
        c->data = cf_malloc(len);
        c->cap = len;
    }
    c->r = r;
    c->off = r->next_off;
    c->len = len;
    c->rc = 0;
    cf_err_clear(&c->err);
    r->next_off += len;
    if (pthread_create(&c->th, NULL, chunk_thread, c) != 0)
        return cf_err_sys(e, CF_E_INTERNAL, "unable to start a download thread");
    c->running = true;
    return 0;
}

static void reader_free(struct s3_reader *r)
{
    atomic_store(&r->cancel, 1);
    for (unsigned i = 0; i < r->nslots; i++) {
        if (r->slots[i].running)
            pthread_join(r->slots[i].th, NULL);
        free(r->slots[i].data);
    }
    free(r->slots);
    free(r->key);
    free(r);
}

static int s3_get_begin(void *priv, const char *key, void **out, struct cf_err *e)
{
    struct s3 *s = priv;
    struct s3_reader *r;

    if (check_key(key, e) != 0)
        return -1;
    r = cf_calloc(1, sizeof(*r));
    r->s = s;
    r->key = full_key(s, key);
    atomic_init(&r->cancel, 0);
    if (head_size(s, r->key, &r->size, e) != 0)
        goto fail;
    r->nslots = s->concurrency;
    r->slots = cf_calloc(r->nslots, sizeof(*r->slots));
    for (unsigned i = 0; i < r->nslots && r->next_off < r->size; i++)
        if (chunk_launch(r, &r->slots[i], e) != 0)
            goto fail;
    *out = r;
    return 0;
fail:
    reader_free(r);
    return -1;
}

static ssize_t s3_read(void *rp, void *buf, size_t cap, struct cf_err *e)
{
    struct s3_reader *r = rp;

    for (;;) {
        struct s3_chunk *c = &r->slots[r->cur];
        if (!r->ready) {
            if (!c->running)
                return 0;   /* nothing more was launched: the end */
            pthread_join(c->th, NULL);
            c->running = false;
            if (c->rc != 0) {
                cf_err_keep(e, &c->err);
                return -1;
            }
            r->ready = true;
            r->pos = 0;
        }
        if (r->pos < c->len) {
            size_t n = c->len - r->pos < cap ? c->len - r->pos : cap;
            memcpy(buf, c->data + r->pos, n);
            r->pos += n;
            return (ssize_t)n;
        }
        /* this chunk is used up: refill its slot with the next range, move on */
        r->ready = false;
        if (r->next_off < r->size && chunk_launch(r, c, e) != 0)
            return -1;
        r->cur = (r->cur + 1) % r->nslots;
    }
}

static void s3_get_end(void *rp)
{
    if (rp != NULL)
        reader_free(rp);
}

/* ---- stat, list, remove ---- */

static int s3_stat(void *priv, const char *key, uint64_t *size, struct cf_err *e)
{
    struct s3 *s = priv;
    char *fk;
    int rc;

    if (check_key(key, e) != 0)
        return -1;
    fk = full_key(s, key);
    rc = head_size(s, fk, size, e);
    free(fk);
    return rc;
}

static int s3_list(void *priv, const char *prefix, target_list_cb cb, void *arg,
                   struct cf_err *e)
{
    struct s3 *s = priv;
    struct buf resp = BUF_INIT, token = BUF_INIT, key = BUF_INIT, size = BUF_INIT,
               trunc = BUF_INIT;
    char *fp = full_key(s, prefix);
    size_t plen = strlen(s->prefix);
    int rc = -1;

    for (;;) {
        struct s3_pair q[4] = { { "list-type", "2" }, { "prefix", fp }, { "max-keys", "1000" } };
        struct s3_req rq = { 0 };
        size_t nq = 3;
        if (token.len)
            q[nq++] = (struct s3_pair){ "continuation-token", token.data };
        rq.method = "GET";
        rq.query = q;
        rq.nquery = nq;
        rq.resp = &resp;
        if (s3_call(s, &rq, e) != 0) {
            cf_err_ctx(e, "unable to list '%s'", fp);
            goto out;
        }
        const char *p = resp.data ? resp.data : "", *end = p + resp.len, *vs, *ve;
        while (s3_xml_find(&p, end, "Contents", &vs, &ve)) {
            if (!s3_xml_get(vs, ve, "Key", &key) || !s3_xml_get(vs, ve, "Size", &size)) {
                cf_err_set(e, CF_E_NET, "s3 list '%s': an entry without Key or Size", fp);
                goto out;
            }
            if (key.len < plen || strncmp(key.data, s->prefix, plen) != 0)
                continue;
            if (cb(arg, key.data + plen, strtoull(size.data, NULL, 10)) != 0) {
                if (e->code == CF_E_OK)
                    cf_err_set(e, CF_E_INTERNAL, "listing stopped by its caller");
                goto out;
            }
        }
        const char *b = resp.data ? resp.data : "";
        if (!s3_xml_get(b, b + resp.len, "IsTruncated", &trunc) ||
            strcmp(trunc.data, "true") != 0)
            break;
        if (!s3_xml_get(b, b + resp.len, "NextContinuationToken", &token) || token.len == 0) {
            cf_err_set(e, CF_E_NET, "s3 list '%s': truncated without a continuation token", fp);
            goto out;
        }
    }
    rc = 0;
out:
    free(fp);
    buf_free(&resp);
    buf_free(&token);
    buf_free(&key);
    buf_free(&size);
    buf_free(&trunc);
    return rc;
}

static int s3_remove(void *priv, const char *key, struct cf_err *e)
{
    struct s3 *s = priv;
    struct s3_req rq = { 0 };
    struct cf_err one = CF_ERR_INIT;
    int rc = 0;

    if (check_key(key, e) != 0)
        return -1;
    rq.method = "DELETE";
    rq.key = full_key(s, key);
    if (s3_call(s, &rq, &one) != 0 &&
        !(one.code == CF_E_NOTFOUND && strcmp(rq.errcode, "NoSuchBucket") != 0)) {
        cf_err_keep(e, &one);
        rc = -1;
    }
    free((char *)rq.key);
    return rc;
}

/* DeleteObjects, 1000 keys a request, quiet: the answer lists only the keys that failed */
static int s3_remove_many(void *priv, const char *const *keys, size_t n, struct cf_err *e)
{
    struct s3 *s = priv;
    struct buf body = BUF_INIT, resp = BUF_INIT, key = BUF_INIT, code = BUF_INIT,
               msg = BUF_INIT;
    int rc = -1;

    for (size_t done = 0; done < n;) {
        size_t k = n - done < 1000 ? n - done : 1000;
        unsigned char md5[EVP_MAX_MD_SIZE];
        unsigned md5_len = 0;
        char md5_b64[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
        const struct s3_pair q[] = { { "delete", NULL } };
        const struct s3_pair h[] = { { "content-md5", md5_b64 } };
        struct s3_req rq = { 0 };

        buf_reset(&body);
        buf_puts(&body, "<Delete><Quiet>true</Quiet>");
        for (size_t i = done; i < done + k; i++) {
            if (check_key(keys[i], e) != 0)
                goto out;
            buf_puts(&body, "<Object><Key>");
            s3_xml_escape(&body, s->prefix);
            s3_xml_escape(&body, keys[i]);
            buf_puts(&body, "</Key></Object>");
        }
        buf_puts(&body, "</Delete>");
        /* S3 refuses DeleteObjects without a Content-MD5 (or x-amz-checksum) of the body */
        CF_ASSERT(EVP_Digest(body.data, body.len, md5, &md5_len, EVP_md5(), NULL) == 1);
        sodium_bin2base64(md5_b64, sizeof(md5_b64), md5, md5_len,
                          sodium_base64_VARIANT_ORIGINAL);
        rq.method = "POST";
        rq.query = q;
        rq.nquery = 1;
        rq.hdr = h;
        rq.nhdr = 1;
        rq.body = body.data;
        rq.body_len = body.len;
        rq.resp = &resp;
        if (s3_call(s, &rq, e) != 0) {
            cf_err_ctx(e, "unable to delete %zu objects", k);
            goto out;
        }
        const char *p = resp.data ? resp.data : "", *end = p + resp.len, *vs, *ve;
        while (s3_xml_find(&p, end, "Error", &vs, &ve)) {
            s3_xml_get(vs, ve, "Key", &key);
            s3_xml_get(vs, ve, "Code", &code);
            s3_xml_get(vs, ve, "Message", &msg);
            if (code.data != NULL && strcmp(code.data, "NoSuchKey") == 0)
                continue;   /* already gone */
            cf_err_set(e, CF_E_NET, "s3 DeleteObjects: '%s' was not deleted: %s: %s",
                       key.data ? key.data : "?", code.data ? code.data : "?",
                       msg.data ? msg.data : "");
            goto out;
        }
        log_debug("s3 deleted objects=%zu", k);
        done += k;
    }
    rc = 0;
out:
    buf_free(&body);
    buf_free(&resp);
    buf_free(&key);
    buf_free(&code);
    buf_free(&msg);
    return rc;
}

static int abort_upload(struct s3 *s, const char *fkey, const char *upload_id, struct cf_err *e)
{
    const struct s3_pair q[] = { { "uploadId", upload_id } };
    struct s3_req rq = { 0 };
    struct cf_err one = CF_ERR_INIT;
    rq.method = "DELETE";
    rq.key = fkey;
    rq.query = q;
    rq.nquery = 1;
    if (s3_call(s, &rq, &one) != 0 && strcmp(rq.errcode, "NoSuchUpload") != 0) {
        cf_err_keep(e, &one);
        return -1;
    }
    return 0;
}

/* ListMultipartUploads under the prefix, page by page; abort those older than @age */
static int s3_sweep(void *priv, int64_t age, unsigned *n, struct cf_err *e)
{
    struct s3 *s = priv;
    struct buf resp = BUF_INIT, key = BUF_INIT, id = BUF_INIT, when = BUF_INIT,
               kmark = BUF_INIT, imark = BUF_INIT, trunc = BUF_INIT;
    time_t now = time(NULL);
    int rc = -1;

    for (;;) {
        struct s3_pair q[4] = { { "uploads", NULL }, { "prefix", s->prefix } };
        struct s3_req rq = { 0 };
        size_t nq = 2;
        if (kmark.len)
            q[nq++] = (struct s3_pair){ "key-marker", kmark.data };
        if (imark.len)
            q[nq++] = (struct s3_pair){ "upload-id-marker", imark.data };
        rq.method = "GET";
        rq.query = q;
        rq.nquery = nq;
        rq.resp = &resp;
        if (s3_call(s, &rq, e) != 0) {
            cf_err_ctx(e, "unable to list unfinished uploads");
            goto out;
        }
        const char *p = resp.data ? resp.data : "", *end = p + resp.len, *vs, *ve;
        while (s3_xml_find(&p, end, "Upload", &vs, &ve)) {
            time_t t;
            struct cf_err te = CF_ERR_INIT;
            if (!s3_xml_get(vs, ve, "Key", &key) || !s3_xml_get(vs, ve, "UploadId", &id) ||
                !s3_xml_get(vs, ve, "Initiated", &when) ||
                time_parse_rfc3339(when.data, &t, &te) != 0) {
                cf_err_set(e, CF_E_NET, "s3 list of uploads: an entry without Key, UploadId "
                                        "or a readable Initiated time");
                goto out;
            }
            if ((int64_t)(now - t) < age)
                continue;
            if (abort_upload(s, key.data, id.data, e) != 0) {
                cf_err_ctx(e, "unable to abort the unfinished upload of '%s'", key.data);
                goto out;
            }
            log_info("s3 unfinished upload aborted key=%s started=%s", key.data, when.data);
            (*n)++;
        }
        const char *b = resp.data ? resp.data : "";
        if (!s3_xml_get(b, b + resp.len, "IsTruncated", &trunc) ||
            strcmp(trunc.data, "true") != 0)
            break;
        if (!s3_xml_get(b, b + resp.len, "NextKeyMarker", &kmark) ||
            !s3_xml_get(b, b + resp.len, "NextUploadIdMarker", &imark)) {
            cf_err_set(e, CF_E_NET, "s3 list of uploads: truncated without markers");
            goto out;
        }
    }
    rc = 0;
out:
    buf_free(&resp);
    buf_free(&key);
    buf_free(&id);
    buf_free(&when);
    buf_free(&kmark);
    buf_free(&imark);
    buf_free(&trunc);
    return rc;
}

const struct target_ops tgt_s3_ops = {
    .name = "s3",
    .keys = s3_keys,
    .open = s3_open,
    .close = s3_close,
    .describe = s3_describe,
    .put_begin = s3_put_begin,
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
    .get_begin = s3_get_begin,
    .read = s3_read,
    .get_end = s3_get_end,
    .stat = s3_stat,
    .list = s3_list,
    .remove = s3_remove,
    .remove_many = s3_remove_many,
    .sweep = s3_sweep,
};
