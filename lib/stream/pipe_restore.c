/* pipe_restore.c - a backup's objects back through a source's import, or only checked
 * (verify). The backup half is pipe_backup.c; what they share, pipe_int.h.
 *
 * Restore and verify, three threads:
 *   fetcher: objects -> BLAKE2b + secretstream open (tags checked) -> pipe; the next object
 *            is opened 16 MiB before the current one ends (its first GETs under way)
 *   inflater: pipe -> ZSTD_decompressStream -> pipe
 *   caller:  pipe -> frames -> source import (or a drain, for verify) */
#include "pipeline.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

#include <zstd.h>

#include "../core/progress.h"
#include "../core/util.h"
#include "../crypto/seal.h"
#include "frame.h"
#include "pipe_int.h"

struct readback {
    struct pl pl;
    struct repo *r;
    const char *source, *id;
    const struct manifest *m;
    struct seal_key sk;
    struct bpipe *q1, *q2;
    struct progress prog;
    uint64_t total_stored;
    bool check_hash;   /* verify: BLAKE2b too; restore: the keyed tags and sizes suffice */
};

static ssize_t tr_read(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    return repo_object_read(arg, buf, cap, e);
}

/* the next object is opened this many bytes before the current one ends, so that its first
 * bytes (an S3 HEAD and the first ranged GETs) are on their way when they are needed */
#define PREFETCH_BYTES (16u << 20)

/* open object @n for reading; NULL (no error) when there is no such object in the list */
static struct target_reader *open_object(struct readback *rb, uint32_t n, struct cf_err *e)
{
    struct target_reader *tr = NULL;
    if (n >= rb->m->nobjects)
        return NULL;
    if (repo_object_open(rb->r, rb->source, rb->id, n, &tr, e) != 0)
        tr = NULL;
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
    const struct manifest_object *o = &rb->m->objects[n];
    const char *want_hash = o->blake2b;
    json_int_t want_size = (json_int_t)o->size;
    bool last = n + 1 == rb->m->nobjects;
    char *key = repo_key_data(rb->source, rb->id, n);
    struct seal_r sr;
    unsigned char h[32], tag = 0;
    char hex[65];
    size_t len;
    int k, rc = -1;

    memset(&sr, 0, sizeof(sr));
    if (want_hash[0] == '\0' || o->n != n) {
        cf_err_set(e, CF_E_CORRUPT, "the manifest's entry for object %u is malformed", n);
        goto out;
    }
    if (tr == NULL && repo_object_open(rb->r, rb->source, rb->id, n, &tr, e) != 0) {
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
                   rb->m->nobjects - n - 1);
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
    repo_object_close(tr);
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
    size_t count = rb->m->nobjects;
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
    repo_object_close(tr);
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
static int readback_run(struct repo *r, struct source *src, const struct manifest *m,
                        const struct restore_opts *opts, struct cf_err *e)
{
    struct readback rb;
    struct frame_in in;
    pthread_t th[2];
    int started = 0, rc;
    struct cf_err me = CF_ERR_INIT;

    memset(&rb, 0, sizeof(rb));
    pl_init(&rb.pl);
    rb.r = r;
    rb.source = m->source;
    rb.id = m->id;
    rb.m = m;
    rb.total_stored = m->bytes_stored;
    rb.check_hash = src == NULL;
    if (!m->objects_listed) {
        pthread_mutex_destroy(&rb.pl.mu);
        return cf_err_set(e, CF_E_CORRUPT, "manifest of %s/%s lists no objects", m->source,
                          m->id);
    }
    if (m->has_parent) {   /* docs/FORMAT.md "The manifest": reserved for incrementals */
        pthread_mutex_destroy(&rb.pl.mu);
        return cf_err_set(e, CF_E_CORRUPT, "backup %s/%s references the data of backup %s/%s "
                          "(an incremental backup), which this coffer cannot read", m->source,
                          m->id, m->parent.source, m->parent.id);
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
        json_t *info = m->info;
        if (src != NULL)
            rc = source_import(src, &in.base, opts, info, &me);
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

int pipeline_restore(struct repo *r, struct source *src, const struct manifest *m,
                     const struct restore_opts *opts, struct cf_err *e)
{
    if (m->format == MANIFEST_FORMAT_SEG)
        return pipeline_restore_seg(r, src, m, opts, e);
    return readback_run(r, src, m, opts, e);
}

int pipeline_verify(struct repo *r, const struct manifest *m, struct cf_err *e)
{
    if (m->format == MANIFEST_FORMAT_SEG)
        return pipeline_verify_seg(r, m, e);
    return readback_run(r, NULL, m, NULL, e);
}
