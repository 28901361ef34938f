/* pipeline.c - where sources meet the repository.
 *
 * Backup, three threads plus zstd's workers and a committer:
 *   caller:  source export -> frames -> ZSTD_compressStream2 (nbWorkers) -> pipe
 *   sealer:  pipe -> 1 MiB messages -> secretstream -> queue of sealed buffers
 *   writer:  queue -> BLAKE2b -> target objects (put, write); each object's commit on a
 *            thread of its own (coffer-commit) while the next object fills
 * Encryption and hashing run on different threads: on data zstd cannot compress, they are
 * the slowest stages, and together on one thread they would leave the other core idle.
 * Restore and verify, three threads:
 *   fetcher: objects -> BLAKE2b + secretstream open (tags checked) -> pipe; the next object
 *            is opened 16 MiB before the current one ends (its first GETs under way)
 *   inflater: pipe -> ZSTD_decompressStream -> pipe
 *   caller:  pipe -> frames -> source import (or a drain, for verify)
 *
 * Errors: the stage that fails first records its error as the root cause (struct pl) and
 * fails every pipe; the others stop at their next pipe call. The caller reports the root
 * cause, so "object 3 is truncated" is not hidden behind "the archive ended early". */
#include "pipeline.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "../core/log.h"
#include "../core/progress.h"
#include "../core/util.h"
#include "../core/version.h"
#include "../crypto/seal.h"
#include "bpipe.h"
#include "bqueue.h"
#include "frame.h"

#define PIPE_CAP (8u << 20)
#define ZSTD_JOB_SIZE (2 << 20)

/* the root cause of a failed run, and the pipes to stop */
struct pl {
    pthread_mutex_t mu;
    bool failed;
    struct cf_err err;
    struct bpipe *pipes[2];
    struct bqueue *queue;
};

static void pl_init(struct pl *pl)
{
    memset(pl, 0, sizeof(*pl));
    pthread_mutex_init(&pl->mu, NULL);
}

/* record @err unless an earlier failure is recorded, and stop every pipe */
static void pl_fail(struct pl *pl, const struct cf_err *err)
{
    pthread_mutex_lock(&pl->mu);
    if (!pl->failed) {
        pl->failed = true;
        pl->err = *err;
    }
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < 2; i++)
        if (pl->pipes[i])
            bpipe_fail(pl->pipes[i], err);
    if (pl->queue)
        bqueue_fail(pl->queue, err);
}

/* -1 with the root cause in @e */
static int pl_result(struct pl *pl, struct cf_err *e)
{
    pthread_mutex_lock(&pl->mu);
    if (pl->failed)
        *e = pl->err;
    pthread_mutex_unlock(&pl->mu);
    return pl->failed ? -1 : 0;
}

/* ------------------------------------------------------------------------------------ */
/* backup                                                                                 */

struct backup {
    struct pl pl;
    struct repo *r;
    struct source *src;
    const char *id;
    struct seal_key sk;
    uint64_t object_size;
    ZSTD_CCtx *cctx;
    struct bpipe *q;
    unsigned char *zout;
    size_t zout_cap;
    struct progress prog;
    uint64_t in_bytes;
    pthread_t sealer, writer;
    struct bqueue *queue;
    /* written by the committer (one at a time, in order), read after join */
    json_t *objects;
    uint64_t stored;
    uint32_t nobjects;
};

/* frames -> zstd -> pipe (caller's thread) */
static int compress_emit(void *arg, const void *buf, size_t len, struct cf_err *e)
{
    struct backup *b = arg;
    ZSTD_inBuffer in = { buf, len, 0 };
    while (in.pos < in.size) {
        ZSTD_outBuffer out = { b->zout, b->zout_cap, 0 };
        size_t rc = ZSTD_compressStream2(b->cctx, &out, &in, ZSTD_e_continue);
        if (ZSTD_isError(rc))
            return cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(rc));
        if (out.pos && bpipe_write(b->q, b->zout, out.pos, e) != 0)
            return -1;
    }
    return 0;
}

static int compress_end(struct backup *b, struct cf_err *e)
{
    ZSTD_inBuffer in = { NULL, 0, 0 };
    size_t rc;
    do {
        ZSTD_outBuffer out = { b->zout, b->zout_cap, 0 };
        rc = ZSTD_compressStream2(b->cctx, &out, &in, ZSTD_e_end);
        if (ZSTD_isError(rc))
            return cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(rc));
        if (out.pos && bpipe_write(b->q, b->zout, out.pos, e) != 0)
            return -1;
    } while (rc != 0);
    return 0;
}

/* what the sealer hands the writer */
enum { CHUNK_BEGIN, CHUNK_DATA, CHUNK_LAST };
#define QUEUE_BUFS 6
#define QUEUE_BUF_SIZE (SEAL_MSG_MAX + SEAL_MSG_OVERHEAD)

static int queue_chunk(struct backup *b, int type, const void *hdr, size_t hdr_len,
                       struct bq_buf **out, struct cf_err *e)
{
    struct bq_buf *q = bqueue_get_free(b->queue, e);
    if (q == NULL)
        return -1;
    q->type = type;
    q->len = hdr_len;
    if (hdr_len)
        memcpy(q->data, hdr, hdr_len);
    *out = q;
    return 0;
}

static void *sealer_main(void *arg)
{
    struct backup *b = arg;
    struct cf_err e = CF_ERR_INIT;
    struct seal_w sw;
    struct bq_buf *q = NULL;
    unsigned char *cur = cf_malloc(SEAL_MSG_MAX), *next = cf_malloc(SEAL_MSG_MAX);
    const uint64_t per_object = b->object_size / SEAL_MSG_MAX;
    uint64_t msgs = 0;
    uint32_t index = 0;
    bool in_object = false;
    ssize_t n, m;

    pthread_setname_np(pthread_self(), "coffer-seal");
    n = bpipe_read_full(b->q, cur, SEAL_MSG_MAX, &e);
    if (n < 0)
        goto out;
    for (;;) {
        if (!in_object) {
            seal_begin(&sw, &b->sk, SEAL_DATA, index++);
            if (queue_chunk(b, CHUNK_BEGIN, sw.hdr, sw.hdr_len, &q, &e) != 0 ||
                bqueue_push(b->queue, q, &e) != 0)
                goto out;
            in_object = true;
        }
        /* one message of lookahead: the last message of the stream is sealed FINAL */
        m = bpipe_read_full(b->q, next, SEAL_MSG_MAX, &e);
        if (m < 0)
            goto out;
        unsigned char tag = m == 0                   ? SEAL_TAG_FINAL
                            : msgs + 1 == per_object ? SEAL_TAG_PUSH
                                                     : SEAL_TAG_MESSAGE;
        if (queue_chunk(b, tag == SEAL_TAG_MESSAGE ? CHUNK_DATA : CHUNK_LAST, NULL, 0, &q, &e) != 0)
            goto out;
        q->len = seal_push(&sw, cur, (size_t)n, tag, q->data);
        if (bqueue_push(b->queue, q, &e) != 0)
            goto out;
        msgs++;
        if (tag != SEAL_TAG_MESSAGE) {
            in_object = false;
            msgs = 0;
        }
        if (m == 0)
            break;
        unsigned char *t = cur;
        cur = next;
        next = t;
        n = m;
    }
    bqueue_close(b->queue);
out:
    if (e.code != CF_E_OK)
        pl_fail(&b->pl, &e);   /* after a pipe error, the root cause is already recorded */
    sodium_memzero(&sw, sizeof(sw));
    free(cur);
    free(next);
    return NULL;
}

/* one object being written */
struct obj_w {
    struct target_writer *w;
    crypto_generichash_state hash;
    uint64_t size;
    uint32_t n;
    char *key;
};

static int obj_write(struct obj_w *o, const void *p, size_t n, struct cf_err *e)
{
    crypto_generichash_update(&o->hash, p, n);
    o->size += n;
    return target_write(o->w, p, n, e);
}

static int obj_begin(struct backup *b, struct obj_w *o, uint32_t n, struct cf_err *e)
{
    o->n = n;
    o->key = repo_key_data(b->src->name, b->id, n);
    o->size = 0;
    crypto_generichash_init(&o->hash, NULL, 0, 32);
    return target_put_begin(repo_target(b->r), o->key, b->object_size + 4096, 0, &o->w, e);
}

static void obj_drop(struct obj_w *o)
{
    target_abort(o->w);
    free(o->key);
    memset(o, 0, sizeof(*o));
}

/* commit @o and add it to the manifest's list; objects are committed in order. The caller
 * drops @o after, committed or not (obj_drop). */
static int obj_commit(struct backup *b, struct obj_w *o, struct cf_err *e)
{
    unsigned char h[32];
    char hex[65];
    if (target_commit(o->w, e) != 0)
        return -1;
    o->w = NULL;
    crypto_generichash_final(&o->hash, h, sizeof(h));
    hex_encode(h, sizeof(h), hex);
    json_array_append_new(b->objects, json_pack("{s:i,s:I,s:s}", "n", (int)o->n, "size",
                                                (json_int_t)o->size, "blake2b", hex));
    b->stored += o->size;
    b->nobjects++;
    return 0;
}

/* The commit of an object (the upload of its last part, or fsync and rename) runs on a
 * thread of its own while the writer fills the next object: otherwise every stage would stand
 * still at each object's end. One commit at a time, so the objects' list stays in order. */
struct committer {
    struct backup *b;
    struct obj_w o;
    pthread_t th;
    bool running;
    int rc;
    struct cf_err err;
};

static void *commit_main(void *arg)
{
    struct committer *c = arg;
    pthread_setname_np(pthread_self(), "coffer-commit");
    c->rc = obj_commit(c->b, &c->o, &c->err);
    if (c->rc != 0) {
        cf_err_ctx(&c->err, "object %u", c->o.n);
        pl_fail(&c->b->pl, &c->err);   /* stop the other stages now */
    }
    return NULL;
}

/* wait for the commit in flight, if any; its error names its object */
static int commit_wait(struct committer *c, struct cf_err *e)
{
    if (!c->running)
        return 0;
    pthread_join(c->th, NULL);
    c->running = false;
    obj_drop(&c->o);
    if (c->rc != 0) {
        cf_err_keep(e, &c->err);
        return -1;
    }
    return 0;
}

/* hand @o (its last bytes written) to the committer; @o is empty after */
static int commit_start(struct committer *c, struct obj_w *o, struct cf_err *e)
{
    if (commit_wait(c, e) != 0)
        return -1;
    c->o = *o;
    memset(o, 0, sizeof(*o));
    c->rc = 0;
    cf_err_clear(&c->err);
    if (pthread_create(&c->th, NULL, commit_main, c) != 0) {
        /* no thread: commit here */
        int rc = obj_commit(c->b, &c->o, e);
        if (rc != 0)
            cf_err_ctx(e, "object %u", c->o.n);
        obj_drop(&c->o);
        return rc;
    }
    c->running = true;
    return 0;
}

static void *writer_main(void *arg)
{
    struct backup *b = arg;
    struct cf_err e = CF_ERR_INIT;
    struct obj_w o;
    struct committer c;
    struct bq_buf *q;
    uint32_t next = 0;

    pthread_setname_np(pthread_self(), "coffer-write");
    memset(&o, 0, sizeof(o));
    memset(&c, 0, sizeof(c));
    c.b = b;
    while ((q = bqueue_pop(b->queue, &e)) != NULL) {
        int rc = 0;
        if (q->type == CHUNK_BEGIN)
            rc = obj_begin(b, &o, next++, &e);
        if (rc == 0)
            rc = obj_write(&o, q->data, q->len, &e);
        if (rc != 0)
            cf_err_ctx(&e, "object %u", o.n);
        else if (q->type == CHUNK_LAST)
            rc = commit_start(&c, &o, &e);
        bqueue_put_free(b->queue, q);
        if (rc != 0)
            break;
    }
    if (e.code == CF_E_OK && o.w != NULL)
        cf_err_set(&e, CF_E_INTERNAL, "the stream ended inside object %u", o.n);
    obj_drop(&o);
    commit_wait(&c, &e);   /* the first error wins */
    if (e.code != CF_E_OK)
        pl_fail(&b->pl, &e);
    return NULL;
}

/* remove what a failed backup wrote; best effort, prune sweeps what is left */
static void backup_discard(struct repo *r, const char *source, const char *id)
{
    struct cf_err e = CF_ERR_INIT;
    char *prefix = repo_key_backup_prefix(source, id);
    if (target_remove_prefix(repo_target(r), prefix, NULL, &e) != 0)
        log_warn("unable to remove the objects of failed backup %s/%s (prune removes them "
                 "later): %s", source, id, e.msg);
    free(prefix);
}

static int progress_emit(void *arg, const void *buf, size_t len, struct cf_err *e)
{
    struct backup *b = arg;
    b->in_bytes += len;
    progress_update(&b->prog, b->in_bytes);
    return compress_emit(b, buf, len, e);
}

int pipeline_backup(struct repo *r, struct source *src, const struct stream_opts *so,
                    const char *job, struct backup_result *res, struct cf_err *e)
{
    struct backup b;
    struct source_out out;
    json_t *info = json_object(), *manifest = NULL;
    char started[32], finished[32], host[256] = "unknown";
    long level = so->level, threads = so->threads;
    uint64_t t0 = time_mono_ms();
    struct timespec start_ts;
    clock_gettime(CLOCK_REALTIME, &start_ts);
    time_t start = start_ts.tv_sec;
    bool sealer_started = false, wrote = false;
    int rc = -1;

    memset(&b, 0, sizeof(b));
    memset(res, 0, sizeof(*res));
    pl_init(&b.pl);
    frame_out_init(&out, progress_emit, &b, src->ops->name);
    b.object_size = so->object_size;
    if (threads == 0)
        threads = sys_ncpu();
    repo_new_id(&start_ts, res->id);
    b.r = r;
    b.src = src;
    b.id = res->id;
    b.objects = json_array();
    if (seal_key_new(&b.sk, repo_keys(r), res->id, e) != 0)
        goto out;
    b.cctx = ZSTD_createCCtx();
    if (b.cctx == NULL || ZSTD_isError(ZSTD_CCtx_setParameter(b.cctx, ZSTD_c_compressionLevel,
                                                              (int)level))) {
        cf_err_set(e, CF_E_INTERNAL, "zstd: unable to set up compression");
        goto out;
    }
    /* nbWorkers fails on a libzstd built without threads: then compress in this thread.
     * Jobs of 2 MiB rather than zstd's default (4 windows, 8 MiB at level 3): the same ratio
     * and speed on our data (bench/stream.sh), about 48 MiB less memory with two workers,
     * and the first bytes reach the repository sooner. */
    if (threads > 1 &&
        ZSTD_isError(ZSTD_CCtx_setParameter(b.cctx, ZSTD_c_nbWorkers, (int)threads)))
        log_warn("zstd without worker threads: compressing on one core");
    else if (threads > 1)
        ZSTD_CCtx_setParameter(b.cctx, ZSTD_c_jobSize, ZSTD_JOB_SIZE);
    b.zout_cap = ZSTD_CStreamOutSize();
    b.zout = cf_malloc(b.zout_cap);
    b.q = bpipe_new(PIPE_CAP);
    b.pl.pipes[0] = b.q;
    b.queue = bqueue_new(QUEUE_BUFS, QUEUE_BUF_SIZE);
    b.pl.queue = b.queue;

    log_info("backup start source=%s kind=%s id=%s target=%s", src->name, src->ops->name,
             res->id, target_describe(repo_target(r)));
    progress_start(&b.prog, "backing up", 0);
    if (pthread_create(&b.writer, NULL, writer_main, &b) != 0) {
        cf_err_sys(e, CF_E_INTERNAL, "unable to start a thread");
        goto out;
    }
    if (pthread_create(&b.sealer, NULL, sealer_main, &b) != 0) {
        cf_err_sys(e, CF_E_INTERNAL, "unable to start a thread");
        pl_fail(&b.pl, e);
        pthread_join(b.writer, NULL);
        goto out;
    }
    sealer_started = wrote = true;
    {
        struct cf_err ee = CF_ERR_INIT;
        if (src->ops->export(src->priv, &out, info, &ee) != 0 || frame_out_finish(&out, &ee) != 0 ||
            compress_end(&b, &ee) != 0) {
            pl_fail(&b.pl, &ee);   /* the caller says which source */
        } else {
            bpipe_close(b.q);
        }
    }
    pthread_join(b.sealer, NULL);
    pthread_join(b.writer, NULL);
    sealer_started = false;
    progress_end(&b.prog);
    if (pl_result(&b.pl, e) != 0)
        goto out;

    gethostname(host, sizeof(host) - 1);
    time_format_rfc3339(start, started, sizeof(started));
    time_format_rfc3339(time(NULL), finished, sizeof(finished));
    manifest = json_pack("{s:i,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s,s:I,s:I,s:{s:s,s:i},s:I,s:O,"
                         "s:O,s:O,s:n}",
                         "format", 1, "id", res->id, "source", src->name, "kind", src->ops->name,
                         "job", job ? json_string(job) : json_null(), "host", host, "tool",
                         "coffer " COFFER_VERSION, "started", started, "finished", finished,
                         "bytes_in", (json_int_t)out.total_bytes, "bytes_stored",
                         (json_int_t)b.stored, "compression", "algorithm", "zstd", "level",
                         (int)level, "object_size", (json_int_t)b.object_size, "objects",
                         b.objects, "parts", out.parts_info, "info", info, "parent");
    if (manifest == NULL) {
        cf_err_set(e, CF_E_INTERNAL, "unable to build the manifest");
        goto out;
    }
    if (repo_manifest_save(r, &b.sk, src->name, res->id, manifest, e) != 0) {
        cf_err_ctx(e, "unable to commit backup %s/%s", src->name, res->id);
        goto out;
    }
    res->bytes_in = out.total_bytes;
    res->bytes_stored = b.stored;
    res->objects = b.nobjects;
    res->elapsed_ms = time_mono_ms() - t0;
    res->warnings = (unsigned)json_array_size(json_object_get(info, "warnings"));
    rc = 0;
out:
    if (sealer_started) {
        pl_fail(&b.pl, e);
        pthread_join(b.sealer, NULL);
        pthread_join(b.writer, NULL);
    }
    if (rc != 0 && wrote)
        backup_discard(r, src->name, res->id);
    json_decref(manifest);
    json_decref(info);
    json_decref(b.objects);
    frame_out_free(&out);
    bpipe_free(b.q);
    bqueue_free(b.queue);
    free(b.zout);
    ZSTD_freeCCtx(b.cctx);
    seal_key_wipe(&b.sk);
    pthread_mutex_destroy(&b.pl.mu);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* restore and verify                                                                     */

struct readback {
    struct pl pl;
    struct repo *r;
    const char *source, *id;
    json_t *objects;
    struct seal_key sk;
    struct bpipe *q1, *q2;
    struct progress prog;
    uint64_t total_stored;
    bool check_hash;   /* verify: BLAKE2b too; restore: the keyed tags and sizes suffice */
};

static ssize_t tr_read(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    return target_read(arg, buf, cap, e);
}

/* the next object is opened this many bytes before the current one ends, so that its first
 * bytes (an S3 HEAD and the first ranged GETs) are on their way when they are needed */
#define PREFETCH_BYTES (16u << 20)

/* open object @n for reading; NULL (no error) when there is no such object in the list */
static struct target_reader *open_object(struct readback *rb, uint32_t n, struct cf_err *e)
{
    struct target_reader *tr = NULL;
    if (n >= json_array_size(rb->objects))
        return NULL;
    char *key = repo_key_data(rb->source, rb->id, n);
    if (target_get_begin(repo_target(rb->r), key, &tr, e) != 0)
        tr = NULL;
    free(key);
    return tr;
}

/* read, authenticate and check one object, passing its plaintext on. *@tr is the object's
 * reader if it was opened ahead (else NULL); on return *@next is object n + 1's, opened ahead
 * when this one was near its end (NULL if not; it is opened again then, and an error is
 * reported there). */
static int fetch_object(struct readback *rb, uint32_t n, struct target_reader *tr,
                        struct target_reader **next, unsigned char *pt, uint64_t *done,
                        struct cf_err *e)
{
    json_t *o = json_array_get(rb->objects, n);
    const char *want_hash = json_string_value(json_object_get(o, "blake2b"));
    json_int_t want_size = json_integer_value(json_object_get(o, "size"));
    bool last = n + 1 == json_array_size(rb->objects);
    char *key = repo_key_data(rb->source, rb->id, n);
    struct seal_r sr;
    unsigned char h[32], tag = 0;
    char hex[65];
    size_t len;
    int k, rc = -1;

    memset(&sr, 0, sizeof(sr));
    if (want_hash == NULL || json_integer_value(json_object_get(o, "n")) != n) {
        cf_err_set(e, CF_E_CORRUPT, "the manifest's entry for object %u is malformed", n);
        goto out;
    }
    if (tr == NULL && target_get_begin(repo_target(rb->r), key, &tr, e) != 0) {
        if (e->code == CF_E_NOTFOUND)
            cf_err_set(e, CF_E_NOTFOUND, "missing from the repository");
        goto bad;
    }
    if (seal_open(&sr, tr_read, tr, repo_keys(rb->r), &rb->sk, SEAL_DATA, n, rb->id, e) != 0)
        goto bad;
    sr.skip_hash = !rb->check_hash;
    while ((k = seal_next(&sr, pt, &len, &tag, e)) == 1) {
        if (len && bpipe_write(rb->q1, pt, len, e) != 0)
            goto out;   /* stopped from downstream */
        progress_update(&rb->prog, *done + sr.bytes);
        if (*next == NULL && !last && sr.bytes + PREFETCH_BYTES >= (uint64_t)want_size) {
            struct cf_err ignore = CF_ERR_INIT;
            *next = open_object(rb, n + 1, &ignore);
        }
    }
    if (k < 0)
        goto bad;
    if (last && tag != SEAL_TAG_FINAL) {
        cf_err_set(e, CF_E_CORRUPT, "the stream goes on after the last object: objects missing");
        goto bad;
    }
    if (!last && tag != SEAL_TAG_PUSH) {
        cf_err_set(e, CF_E_CORRUPT, "the stream ends in this object, but %zu more are listed",
                   json_array_size(rb->objects) - n - 1);
        goto bad;
    }
    if ((json_int_t)sr.bytes != want_size) {
        cf_err_set(e, CF_E_CORRUPT, "holds %" PRIu64 " bytes, the manifest says %lld", sr.bytes,
                   (long long)want_size);
        goto bad;
    }
    if (rb->check_hash) {
        seal_r_hash(&sr, h);
        hex_encode(h, sizeof(h), hex);
        if (strcmp(hex, want_hash) != 0) {
            cf_err_set(e, CF_E_CORRUPT, "BLAKE2b hash differs from the manifest");
            goto bad;
        }
    }
    *done += sr.bytes;
    rc = 0;
    goto out;
bad:
    cf_err_ctx(e, "object %u ('%s') of backup %s/%s", n, key, rb->source, rb->id);
    pl_fail(&rb->pl, e);
out:
    seal_r_free(&sr);
    target_get_end(tr);
    free(key);
    return rc;
}

static void *fetcher_main(void *arg)
{
    struct readback *rb = arg;
    struct cf_err e = CF_ERR_INIT;
    unsigned char *pt = cf_malloc(SEAL_MSG_MAX);
    pthread_setname_np(pthread_self(), "coffer-fetch");
    uint64_t done = 0;
    size_t count = json_array_size(rb->objects);
    struct target_reader *tr = NULL, *next = NULL;

    if (count == 0) {
        cf_err_set(&e, CF_E_CORRUPT, "backup %s/%s lists no objects", rb->source, rb->id);
        pl_fail(&rb->pl, &e);
    }
    for (uint32_t n = 0; n < count; n++) {
        int rc = fetch_object(rb, n, tr, &next, pt, &done, &e);
        tr = next;
        next = NULL;
        if (rc != 0) {
            pl_fail(&rb->pl, &e);
            break;
        }
    }
    target_get_end(tr);
    if (e.code == CF_E_OK)
        bpipe_close(rb->q1);
    free(pt);
    return NULL;
}

static void *inflater_main(void *arg)
{
    struct readback *rb = arg;
    struct cf_err e = CF_ERR_INIT;
    ZSTD_DCtx *d = ZSTD_createDCtx();
    size_t in_cap = ZSTD_DStreamInSize(), out_cap = ZSTD_DStreamOutSize(), zr = 0;
    unsigned char *inb = cf_malloc(in_cap), *outb = cf_malloc(out_cap);
    bool any = false;
    ssize_t n;

    pthread_setname_np(pthread_self(), "coffer-inflate");
    /* zr == 0 exactly when a frame has been fully decoded and flushed */
    while ((n = bpipe_read(rb->q1, inb, in_cap, &e)) > 0) {
        ZSTD_inBuffer in = { inb, (size_t)n, 0 };
        any = true;
        for (;;) {
            ZSTD_outBuffer out = { outb, out_cap, 0 };
            zr = ZSTD_decompressStream(d, &out, &in);
            if (ZSTD_isError(zr)) {
                cf_err_set(&e, CF_E_CORRUPT, "backup %s/%s: compressed stream is damaged: %s",
                           rb->source, rb->id, ZSTD_getErrorName(zr));
                pl_fail(&rb->pl, &e);
                goto out;
            }
            if (out.pos && bpipe_write(rb->q2, outb, out.pos, &e) != 0)
                goto out;
            if (in.pos == in.size && out.pos < out.size)
                break;
        }
    }
    if (n < 0)
        goto out;
    if (!any || zr != 0) {
        cf_err_set(&e, CF_E_CORRUPT, "backup %s/%s: compressed stream ends early", rb->source,
                   rb->id);
        pl_fail(&rb->pl, &e);
        goto out;
    }
    bpipe_close(rb->q2);
out:
    free(inb);
    free(outb);
    ZSTD_freeDCtx(d);
    return NULL;
}

static ssize_t q2_fill(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    return bpipe_read(arg, buf, cap, e);
}

/* run the read side of a backup; @src NULL verifies (drains, and checks hashes too) */
static int readback_run(struct repo *r, struct source *src, const char *source, const char *id,
                        json_t *manifest, const struct restore_opts *opts, struct cf_err *e)
{
    struct readback rb;
    struct source_in in;
    pthread_t th[2];
    int started = 0, rc;
    struct cf_err me = CF_ERR_INIT;

    memset(&rb, 0, sizeof(rb));
    pl_init(&rb.pl);
    rb.r = r;
    rb.source = source;
    rb.id = id;
    rb.objects = json_object_get(manifest, "objects");
    rb.total_stored = (uint64_t)json_integer_value(json_object_get(manifest, "bytes_stored"));
    rb.check_hash = src == NULL;
    if (!json_is_array(rb.objects)) {
        pthread_mutex_destroy(&rb.pl.mu);
        return cf_err_set(e, CF_E_CORRUPT, "manifest of %s/%s lists no objects", source, id);
    }
    rb.q1 = bpipe_new(PIPE_CAP);
    rb.q2 = bpipe_new(PIPE_CAP);
    rb.pl.pipes[0] = rb.q1;
    rb.pl.pipes[1] = rb.q2;
    progress_start(&rb.prog, src ? "restoring" : "verifying", rb.total_stored);
    frame_in_init(&in, q2_fill, rb.q2);

    if (pthread_create(&th[0], NULL, fetcher_main, &rb) != 0 ||
        (started = 1, pthread_create(&th[1], NULL, inflater_main, &rb) != 0)) {
        cf_err_set(&me, CF_E_INTERNAL, "unable to start a thread");
        pl_fail(&rb.pl, &me);
    } else {
        started = 2;
        json_t *info = json_object_get(manifest, "info");
        if (src != NULL)
            rc = src->ops->import(src->priv, &in, opts, info, &me);
        else
            rc = 0;
        if (rc == 0)
            rc = frame_in_finish(&in, &me);
        if (rc != 0)
            pl_fail(&rb.pl, &me);   /* keeps an upstream root cause if there is one */
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    progress_end(&rb.prog);
    rc = pl_result(&rb.pl, e);
    bpipe_free(rb.q1);
    bpipe_free(rb.q2);
    seal_key_wipe(&rb.sk);
    pthread_mutex_destroy(&rb.pl.mu);
    return rc;
}

int pipeline_restore(struct repo *r, struct source *src, const char *id, json_t *manifest,
                     const struct restore_opts *opts, struct cf_err *e)
{
    return readback_run(r, src, src->name, id, manifest, opts, e);
}

int pipeline_verify(struct repo *r, const char *source, const char *id, json_t *manifest,
                    struct cf_err *e)
{
    return readback_run(r, NULL, source, id, manifest, NULL, e);
}
