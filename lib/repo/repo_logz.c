/* repo_logz.c - a log file read once, digested and compressed in the same pass.
 *
 * An archived file's keyed digest is part of its object's id, and every message of the object
 * is authenticated with the id: nothing can be sealed before the whole file is digested. The
 * compression does not wait for it: the file is read whole into memory (at most the caller's
 * bound, 64 MiB; a WAL segment is 16 MiB), then a second thread digests the buffer while this
 * one compresses the same buffer in one call into memory (a segment compresses to a few
 * hundred KiB to a few MiB). Both read the very same bytes. On two cores a push takes about
 * the longer of the two instead of their sum; on a busy machine it costs what one thread
 * doing both would. zstd's own workers would copy every byte once more and compress the
 * overlap of their jobs twice; a ring of small chunks handed between the threads cost more
 * wake-ups and CPU than it saved page faults (measured, bench/pitr.sh). */
#include "repo_logz.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "../core/util.h"

#define LOGZ_HUGE ((size_t)2 << 20)   /* the huge page the buffer is aligned to */

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

struct logz_digest {
    const unsigned char *p;
    size_t len;
    const unsigned char *key;
    unsigned char dig[32];
};

static void *lz_digest(void *arg)
{
    struct logz_digest *d = arg;
    crypto_generichash(d->dig, 32, d->p, d->len, d->key, KEY_BYTES);
    return NULL;
}

/* read all of @fd's file into a new buffer *@b (free()), *@n bytes; 1 when it holds more than
 * @max bytes */
static int read_all(int fd, const char *path, uint64_t size, uint64_t max, unsigned char **b,
                    size_t *n, struct cf_err *e)
{
    size_t cap = (size_t)(size < max ? size : max) + 1, got = 0;   /* a byte more: growth */
    void *p = NULL;

    *b = NULL;
    *n = 0;
    /* on huge pages where the kernel gives them: 8 page faults for a segment, not 4096 */
    if (cap >= LOGZ_HUGE && posix_memalign(&p, LOGZ_HUGE, cap) == 0)
        madvise(p, cap, MADV_HUGEPAGE);
    else
        p = cf_malloc(cap);
    for (;;) {
        if (got == cap) {
            if ((uint64_t)got > max) {
                free(p);
                return 1;
            }
            cap = cap * 2 > max + 1 ? (size_t)max + 1 : cap * 2;
            p = cf_realloc(p, cap);
        }
        ssize_t k = read(fd, (unsigned char *)p + got, cap - got);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            free(p);
            return cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
        }
        if (k == 0)
            break;
        got += (size_t)k;
    }
    *b = p;
    *n = got;
    return 0;
}

int logz_squeeze(int fd, const char *path, int level, uint64_t size, uint64_t max,
                 const unsigned char dkey[KEY_BYTES], unsigned char dig[32], uint64_t *len,
                 struct buf *z, struct cf_err *e)
{
    struct logz_digest d = { .key = dkey };
    unsigned char *b = NULL;
    ZSTD_CCtx *cc = NULL;
    pthread_t th;
    bool threaded;
    size_t n, zn;
    int rc;

    *len = 0;
    buf_reset(z);
    if ((rc = read_all(fd, path, size, max, &b, &n, e)) != 0)
        return rc;
    if ((cc = logz_cctx(level)) == NULL) {
        free(b);
        return cf_err_set(e, CF_E_INTERNAL, "unable to set up zstd");
    }
    d.p = b;
    d.len = n;
    /* a small file (a history or backup label) is digested here: a thread is not worth it */
    threaded = n >= 2 * LOGZ_CHUNK && pthread_create(&th, NULL, lz_digest, &d) == 0;
    /* room for the worst case: zstd compresses straight into it, and only the pages the frame
     * fills are ever touched */
    buf_reserve(z, ZSTD_compressBound(n));
    zn = ZSTD_compress2(cc, z->data, z->cap - 1, b, n);
    if (threaded)
        pthread_join(th, NULL);
    else
        lz_digest(&d);
    rc = -1;
    if (ZSTD_isError(zn)) {
        cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(zn));
    } else {
        z->len = zn;
        memcpy(dig, d.dig, 32);
        *len = n;
        rc = 0;
    }
    sodium_memzero(d.dig, sizeof(d.dig));
    ZSTD_freeCCtx(cc);
    free(b);
    return rc;
}
