/* pipe_backup.c - a source's stream into the repository (the restore and verify half is
 * pipe_restore.c; what they share, pipe_int.h).
 *
 * Backup, three threads plus zstd's workers and a committer:
 *   caller:  source export -> frames -> ZSTD_compressStream2 (nbWorkers) -> pipe
 *   sealer:  pipe -> 1 MiB messages -> secretstream -> queue of sealed buffers
 *   writer:  queue -> BLAKE2b -> target objects (put, write); each object's commit on a
 *            thread of its own (coffer-commit) while the next object fills
 * Encryption and hashing run on different threads: on data zstd cannot compress, they are
 * the slowest stages, and together on one thread they would leave the other core idle.
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
#include "../repo/repo_pitr.h"
#include "frame.h"
#include "pipe_int.h"

#define ZSTD_JOB_SIZE (2 << 20)

void pl_init(struct pl *pl)
{
    memset(pl, 0, sizeof(*pl));
    pthread_mutex_init(&pl->mu, NULL);
}

void pl_fail(struct pl *pl, const struct cf_err *err)
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

int pl_result(struct pl *pl, struct cf_err *e)
{
    pthread_mutex_lock(&pl->mu);
    if (pl->failed)
        *e = pl->err;
    pthread_mutex_unlock(&pl->mu);
    return pl->failed ? -1 : 0;
}

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
    /* objects[] and bytes_stored written by the committer (one at a time, in order), read
     * after join */
    struct manifest *m;
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
};

static int obj_write(struct obj_w *o, const void *p, size_t n, struct cf_err *e)
{
    crypto_generichash_update(&o->hash, p, n);
    o->size += n;
    return repo_object_write(o->w, p, n, e);
}

static int obj_begin(struct backup *b, struct obj_w *o, uint32_t n, struct cf_err *e)
{
    o->n = n;
    o->size = 0;
    crypto_generichash_init(&o->hash, NULL, 0, 32);
    return repo_object_begin(b->r, b->src->name, b->id, n, b->object_size + 4096, &o->w, e);
}

static void obj_drop(struct obj_w *o)
{
    repo_object_abort(o->w);
    memset(o, 0, sizeof(*o));
}

/* commit @o and add it to the manifest's list; objects are committed in order. The caller
 * drops @o after, committed or not (obj_drop). */
int pl_object_commit(struct target_writer **w, crypto_generichash_state *hash,
                     struct manifest *m, uint32_t n, uint64_t size, struct cf_err *e)
{
    unsigned char h[32];
    char hex[65];
    if (repo_object_commit(*w, e) != 0)
        return -1;
    *w = NULL;
    crypto_generichash_final(hash, h, sizeof(h));
    hex_encode(h, sizeof(h), hex);
    manifest_object_add(m, n, size, hex);
    m->bytes_stored += size;
    return 0;
}

static int obj_commit(struct backup *b, struct obj_w *o, struct cf_err *e)
{
    return pl_object_commit(&o->w, &o->hash, b->m, o->n, o->size, e);
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
    if (repo_backup_discard(r, source, id, &e) != 0)
        log_warn("unable to remove the objects of failed backup %s/%s (prune removes them "
                 "later): %s", source, id, e.msg);
}

static int progress_emit(void *arg, const void *buf, size_t len, struct cf_err *e)
{
    struct backup *b = arg;
    b->in_bytes += len;
    progress_update(&b->prog, b->in_bytes);
    return compress_emit(b, buf, len, e);
}

void pl_manifest_fill(struct manifest *m, const char *id, const struct source *src,
                      const char *job, time_t start, uint64_t bytes_in, int level,
                      uint64_t object_size, json_t *parts, json_t *info)
{
    char host[256] = "unknown";
    gethostname(host, sizeof(host) - 1);
    snprintf(m->id, sizeof(m->id), "%s", id);
    snprintf(m->source, sizeof(m->source), "%s", src->name);
    snprintf(m->kind, sizeof(m->kind), "%s", source_kind(src));
    snprintf(m->job, sizeof(m->job), "%s", job ? job : "");
    snprintf(m->host, sizeof(m->host), "%s", host);
    snprintf(m->tool, sizeof(m->tool), "coffer " COFFER_VERSION);
    m->started = start;
    m->finished = time(NULL);
    m->bytes_in = bytes_in;
    snprintf(m->compression, sizeof(m->compression), "zstd");
    m->compression_level = level;
    m->object_size = object_size;
    m->parts = json_incref(parts);
    m->info = json_incref(info);
    /* the consistency point as a reader of the manifest sees it (manifest.c), for the index */
    json_t *cons = json_object_get(info, "consistency");
    if (cons != NULL && !json_is_null(cons))
        m->consistency = json_incref(cons);
}

int pipeline_backup(struct repo *r, struct source *src, const struct stream_opts *so,
                    const char *job, struct backup_result *res, struct manifest **committed,
                    struct cf_err *e)
{
    struct backup b;
    struct frame_out out;
    json_t *info = json_object();
    long level = so->level, threads = so->threads;
    uint64_t t0 = time_mono_ms();
    struct timespec start_ts;
    clock_gettime(CLOCK_REALTIME, &start_ts);
    time_t start = start_ts.tv_sec;
    bool sealer_started = false, wrote = false;
    int rc = -1;

    if (strcmp(source_kind(src), "volume") == 0 && so->incremental) {   /* layout 3 */
        json_decref(info);
        return pipeline_backup_seg(r, src, so, job, res, committed, e);
    }
    memset(&b, 0, sizeof(b));
    memset(res, 0, sizeof(*res));
    pl_init(&b.pl);
    frame_out_init(&out, progress_emit, &b, source_kind(src));
    b.object_size = so->object_size;
    if (threads == 0)
        threads = sys_ncpu();
    repo_new_id(&start_ts, res->id);
    b.r = r;
    b.src = src;
    b.id = res->id;
    b.m = manifest_new();
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

    log_info("backup start source=%s kind=%s id=%s target=%s", src->name, source_kind(src),
             res->id, repo_describe(r));
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
        if (source_export(src, &out.base, info, &ee) != 0 || frame_out_finish(&out, &ee) != 0 ||
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
    /* a backup whole only once a log file is archived (a base backup's last WAL segment,
     * docs/PITR.md) names it: wait for it, bounded, before the commit */
    json_t *wait = json_object_get(info, "wait_for_log");
    if (wait != NULL) {
        if (repo_log_wait(r, src->name, json_string_value(json_object_get(wait, "file")),
                          json_integer_value(json_object_get(wait, "seconds")), e) != 0) {
            cf_err_ctx(e, "backup %s/%s", src->name, res->id);
            goto out;
        }
        json_object_del(info, "wait_for_log");
    }

    pl_manifest_fill(b.m, res->id, src, job, start, out.total_bytes, (int)level, b.object_size,
                     out.parts_info, info);
    if (repo_manifest_save(r, &b.sk, b.m, e) != 0) {
        cf_err_ctx(e, "unable to commit backup %s/%s", src->name, res->id);
        goto out;
    }
    res->bytes_in = out.total_bytes;
    res->bytes_stored = b.m->bytes_stored;
    res->objects = (uint32_t)b.m->nobjects;
    res->elapsed_ms = time_mono_ms() - t0;
    res->warnings = (unsigned)json_array_size(json_object_get(info, "warnings"));
    if (committed) {
        *committed = b.m;
        b.m = NULL;
    }
    rc = 0;
out:
    if (sealer_started) {
        pl_fail(&b.pl, e);
        pthread_join(b.sealer, NULL);
        pthread_join(b.writer, NULL);
    }
    if (rc != 0 && wrote)
        backup_discard(r, src->name, res->id);
    json_decref(info);
    manifest_free(b.m);
    frame_out_free(&out);
    bpipe_free(b.q);
    bqueue_free(b.queue);
    free(b.zout);
    ZSTD_freeCCtx(b.cctx);
    seal_key_wipe(&b.sk);
    pthread_mutex_destroy(&b.pl.mu);
    return rc;
}
