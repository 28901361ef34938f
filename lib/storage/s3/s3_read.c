/* s3_read.c - the S3 reader (see s3_int.h).
 *
 * get: HEAD for the size, then ranged GETs of 8 MiB (or part-size if smaller; the first
 * three ramp up from 1 MiB so that the first bytes come soon), upload-concurrency of them in
 * flight, delivered in order; each range is retried on its own. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/log.h"
#include "../../core/util.h"
#include "s3_int.h"

#define S3_GET_CHUNK (8ull << 20)   /* ranged GETs: at most this, at most part-size */

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

int s3_get_begin(void *priv, const char *key, void **out, struct cf_err *e)
{
    struct s3 *s = priv;
    struct s3_reader *r;

    if (s3_check_key(key, e) != 0)
        return -1;
    r = cf_calloc(1, sizeof(*r));
    r->s = s;
    r->key = s3_full_key(s, key);
    atomic_init(&r->cancel, 0);
    if (s3_head_size(s, r->key, &r->size, e) != 0)
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

ssize_t s3_read(void *rp, void *buf, size_t cap, struct cf_err *e)
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

void s3_get_end(void *rp)
{
    if (rp != NULL)
        reader_free(rp);
}
