/* repo_logz.c - a log file read once, digested and compressed in the same pass.
 *
 * An archived file's keyed digest is part of its object's id, and every message of the object
 * is authenticated with the id: nothing can be sealed before the whole file is digested. The
 * compression does not wait for it: this thread reads the file in chunks into a ring of
 * LOGZ_SLOTS buffers and digests each one, while a second thread compresses the same chunks in
 * order into memory (a 16 MiB WAL segment compresses to a few hundred KiB; the caller bounds
 * the file's size). At level 3 the digest and the compression cost about the same, so on two
 * cores a push takes about one of them instead of their sum; zstd's own workers would copy
 * every byte once more and compress the overlap of their jobs twice. */
#include "repo_logz.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include <sodium.h>

#include "../core/util.h"

/* the ring holds 2 MiB; a reader that finds it full waits until half of it is free, and the
 * compressing thread that finds it empty until half of it is full, so that the two threads wake
 * each other a few times per file, not once per chunk (on a busy machine every wake-up may wait
 * for a time slice) */
#define LOGZ_SLOTS 8

struct logz {
    ZSTD_CCtx *cc;
    struct buf *z;
    size_t zerr;                   /* the first zstd error, or 0 */
    pthread_mutex_t mu;
    pthread_cond_t rcv, wcv;       /* the reader waits on rcv, the compressing thread on wcv */
    bool rwait, wwait;             /* ... and is waiting now */
    unsigned char *slot[LOGZ_SLOTS];
    size_t len[LOGZ_SLOTS];
    uint64_t filled, done;         /* chunks read, chunks compressed */
    bool end;                      /* the reader stopped */
    bool all;                      /* ... having read the whole file: end the frame */
};

ZSTD_CCtx *logz_cctx(int level)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();

    /* no content checksum: the keyed digest in the object's id checks the same bytes (the
     * checksum was 2-3% of a push's CPU) */
    if (z == NULL || ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, level))) {
        ZSTD_freeCCtx(z);
        return NULL;
    }
    return z;
}

/* compress @len bytes at @p onto the end of @lz->z, ending the frame when @last; 0 or a zstd
 * error code */
static size_t lz_compress(struct logz *lz, const unsigned char *p, size_t len, bool last)
{
    ZSTD_inBuffer ib = { p, len, 0 };
    size_t left;

    do {
        buf_reserve(lz->z, ZSTD_CStreamOutSize());
        ZSTD_outBuffer ob = { lz->z->data + lz->z->len, lz->z->cap - lz->z->len - 1, 0 };
        left = ZSTD_compressStream2(lz->cc, &ob, &ib, last ? ZSTD_e_end : ZSTD_e_continue);
        if (ZSTD_isError(left))
            return left;
        lz->z->len += ob.pos;
    } while (ib.pos < ib.size || (last && left != 0));
    return 0;
}

/* the compressing thread: every chunk the reader hands over, in order, then the frame's end */
static void *lz_worker(void *arg)
{
    struct logz *lz = arg;
    size_t err = 0;
    bool finish;

    pthread_mutex_lock(&lz->mu);
    for (;;) {
        /* an empty ring: wait until half of it is full, or the end */
        while (lz->filled - lz->done < (lz->wwait ? LOGZ_SLOTS / 2 : 1) && !lz->end) {
            lz->wwait = true;
            pthread_cond_wait(&lz->wcv, &lz->mu);
        }
        lz->wwait = false;
        if (lz->done == lz->filled)
            break;
        unsigned i = (unsigned)(lz->done % LOGZ_SLOTS);
        pthread_mutex_unlock(&lz->mu);
        err = lz_compress(lz, lz->slot[i], lz->len[i], false);
        pthread_mutex_lock(&lz->mu);
        if (err != 0) {
            lz->zerr = err;
            pthread_cond_signal(&lz->rcv);
            break;
        }
        lz->done++;
        if (lz->rwait && lz->filled - lz->done <= LOGZ_SLOTS / 2)
            pthread_cond_signal(&lz->rcv);
    }
    finish = lz->all && lz->zerr == 0;
    pthread_mutex_unlock(&lz->mu);
    if (finish && (err = lz_compress(lz, NULL, 0, true)) != 0)
        lz->zerr = err;   /* read by the reader after the join */
    return NULL;
}

int logz_squeeze(int fd, const char *path, int level, uint64_t size, uint64_t max,
                 const unsigned char dkey[KEY_BYTES], unsigned char dig[32], uint64_t *len,
                 struct buf *z, struct cf_err *e)
{
    struct logz lz = { .z = z };
    crypto_generichash_state h;
    unsigned char *ring;
    pthread_t th;
    bool threaded = false;
    int rc = -1;

    *len = 0;
    buf_reset(z);
    if ((lz.cc = logz_cctx(level)) == NULL)
        return cf_err_set(e, CF_E_INTERNAL, "unable to set up zstd");
    /* room for the whole frame: only the pages it fills are ever touched */
    if (size <= max)
        buf_reserve(z, ZSTD_compressBound((size_t)size));
    ring = cf_malloc(LOGZ_SLOTS * LOGZ_CHUNK);
    for (unsigned i = 0; i < LOGZ_SLOTS; i++)
        lz.slot[i] = ring + i * LOGZ_CHUNK;
    pthread_mutex_init(&lz.mu, NULL);
    pthread_cond_init(&lz.rcv, NULL);
    pthread_cond_init(&lz.wcv, NULL);
    /* a small file (a history or backup label) is compressed here: a thread is not worth it */
    threaded = size >= 2 * LOGZ_CHUNK && pthread_create(&th, NULL, lz_worker, &lz) == 0;
    crypto_generichash_init(&h, dkey, KEY_BYTES, 32);
    for (;;) {
        unsigned i = (unsigned)(lz.filled % LOGZ_SLOTS);
        bool failed;

        if (threaded) {
            pthread_mutex_lock(&lz.mu);
            while (lz.filled - lz.done > (lz.rwait ? LOGZ_SLOTS / 2 : LOGZ_SLOTS - 1) &&
                   lz.zerr == 0) {
                lz.rwait = true;
                pthread_cond_wait(&lz.rcv, &lz.mu);
            }
            lz.rwait = false;
            failed = lz.zerr != 0;
            pthread_mutex_unlock(&lz.mu);
            if (failed)
                break;
        }
        ssize_t k = read(fd, lz.slot[i], LOGZ_CHUNK);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
            break;
        }
        if (k == 0) {
            lz.all = true;
            break;
        }
        if (*len + (uint64_t)k > max) {
            rc = 1;
            break;
        }
        *len += (uint64_t)k;
        if (threaded) {
            pthread_mutex_lock(&lz.mu);
            lz.len[i] = (size_t)k;
            lz.filled++;
            if (lz.wwait && lz.filled - lz.done >= LOGZ_SLOTS / 2)
                pthread_cond_signal(&lz.wcv);
            pthread_mutex_unlock(&lz.mu);
        } else if ((lz.zerr = lz_compress(&lz, lz.slot[i], (size_t)k, false)) != 0) {
            break;
        }
        /* the compressing thread reads the chunk meanwhile; it is not refilled before both
         * are done with it */
        crypto_generichash_update(&h, lz.slot[i], (size_t)k);
    }
    if (threaded) {
        pthread_mutex_lock(&lz.mu);
        lz.end = true;
        pthread_cond_signal(&lz.wcv);
        pthread_mutex_unlock(&lz.mu);
        pthread_join(th, NULL);
    } else if (lz.all && lz.zerr == 0) {
        lz.zerr = lz_compress(&lz, NULL, 0, true);
    }
    if (lz.zerr != 0) {
        cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(lz.zerr));
        rc = -1;
    } else if (lz.all) {
        crypto_generichash_final(&h, dig, 32);
        rc = 0;
    }
    if (rc != 0)
        buf_reset(z);
    sodium_memzero(&h, sizeof(h));
    pthread_cond_destroy(&lz.wcv);
    pthread_cond_destroy(&lz.rcv);
    pthread_mutex_destroy(&lz.mu);
    free(ring);
    ZSTD_freeCCtx(lz.cc);
    return rc;
}
