/* s3_write.c - the S3 writer (see s3_int.h).
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
 * NOREPLACE: a single PUT carries If-None-Match: * (Amazon S3, Ceph RGW and MinIO honour it);
 * a multipart upload checks with HEAD just before CompleteMultipartUpload, which leaves a
 * short race with another writer of the same key (documented in docs/CONFIG.md). */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../../core/log.h"
#include "../../core/util.h"
#include "s3_int.h"
#include "s3_xml.h"

#define S3_MAX_PARTS 10000u
#define S3_FIRST_BUF (256u << 10)

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

int s3_put_begin(void *priv, const char *key, uint64_t size_hint, unsigned flags,
                 void **out, struct cf_err *e)
{
    struct s3 *s = priv;
    struct s3_writer *w;

    if (s3_check_key(key, e) != 0)
        return -1;
    w = cf_calloc(1, sizeof(*w));
    w->s = s;
    w->key = s3_full_key(s, key);
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

int s3_write(void *wp, const void *buf, size_t len, struct cf_err *e)
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
    if (e->code == CF_E_EXISTS && rq.attempts > 1 && s3_head_size(w->s, w->key, &sz, &he) == 0 &&
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
        if (s3_head_size(w->s, w->key, &sz, &he) == 0) {
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
        if (strcmp(rq.errcode, "NoSuchUpload") == 0 && s3_head_size(w->s, w->key, &sz, &he) == 0 &&
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

int s3_commit(void *wp, struct cf_err *e)
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

void s3_abort(void *wp)
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
        if (s3_abort_upload(w->s, w->key, w->upload_id, &e) != 0)
            log_warn("s3 abort of the multipart upload of '%s' failed (prune removes it "
                     "later): %s", w->key, e.msg);
    }
    writer_free(w);
}
