/* s3_int.h - what the files of the S3 driver share: struct s3 (the open target), one request
 * (struct s3_req) and the calls from one file to another. Private to lib/storage/s3/: nothing
 * outside this folder includes it; the rest of coffer reaches the driver through tgt_s3_ops.
 *
 *   s3.c        the ops table, open/close/describe, configuration and credentials
 *   s3_http.c   curl handles, one request: signing, error classification, retries
 *   s3_write.c  the writer: single PUT or multipart upload, the part buffer pool
 *   s3_read.c   the ranged reader
 *   s3_list.c   stat, list, remove, DeleteObjects, the sweep of unfinished uploads
 *   s3_sigv4.c  Signature V4;  s3_xml.c  just enough XML */
#ifndef CF_S3_INT_H
#define CF_S3_INT_H

#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../core/buf.h"
#include "../../core/err.h"
#include "../target.h"
#include "s3_sigv4.h"

#define S3_MIN_PART (5ull << 20)

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

/* s3_call() - send @rq, retrying what may pass (5xx, 429, timeouts, resets) with backoff,
 * until it succeeds, fails for good, runs out of retries or @rq->cancel is set. Returns 0
 * (the answer fields of @rq filled) or -1 with @e; @rq->status and @rq->errcode still say
 * what the server answered last. */
int s3_call(struct s3 *s, struct s3_req *rq, struct cf_err *e);
/* s3_head_size() - the size of the object under the full key @fkey (HEAD); -1 with @e
 * (CF_E_NOTFOUND when it does not exist) */
int s3_head_size(struct s3 *s, const char *fkey, uint64_t *size, struct cf_err *e);
/* s3_full_key() - @key under the target's prefix, allocated */
char *s3_full_key(const struct s3 *s, const char *key);
/* s3_check_key() - 0, or -1 (CF_E_INTERNAL) for an empty key, a leading '/' or "//" */
int s3_check_key(const char *key, struct cf_err *e);
/* s3_abort_upload() - abort the multipart upload @upload_id of @fkey; one already gone is
 * no error */
int s3_abort_upload(struct s3 *s, const char *fkey, const char *upload_id, struct cf_err *e);

/* the operations of tgt_s3_ops (see target.h for their contracts) */
int s3_put_begin(void *priv, const char *key, uint64_t size_hint, unsigned flags, void **out,
                 struct cf_err *e);
int s3_write(void *wp, const void *buf, size_t len, struct cf_err *e);
int s3_commit(void *wp, struct cf_err *e);
void s3_abort(void *wp);
int s3_get_begin(void *priv, const char *key, void **out, struct cf_err *e);
ssize_t s3_read(void *rp, void *buf, size_t cap, struct cf_err *e);
void s3_get_end(void *rp);
int s3_stat(void *priv, const char *key, uint64_t *size, struct cf_err *e);
int s3_list(void *priv, const char *prefix, target_list_cb cb, void *arg, struct cf_err *e);
int s3_remove(void *priv, const char *key, struct cf_err *e);
int s3_remove_many(void *priv, const char *const *keys, size_t n, struct cf_err *e);
int s3_sweep(void *priv, int64_t age, unsigned *n, struct cf_err *e);

#endif
