/* reader.c - the forwarding reader: a stream parsed while every byte it consumes passes on to a
 * sink (the backup stream, a restore tool, a file). */
#include "reader.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/util.h"
#include "chk.h"
#include "source.h"

/* --- the forwarding reader --- */

#define READER_CHUNK (256 * 1024)

static ssize_t fd_read(void *ctx, void *buf, size_t cap, struct cf_err *e)
{
    struct src_reader *r = ctx;
    for (;;) {
        ssize_t got = read(r->fd, buf, cap);
        if (got >= 0)
            return got;
        if (errno != EINTR)
            return cf_err_sys(e, CF_E_SOURCE, "unable to read %s", r->what);
    }
}

void src_reader_init_fn(struct src_reader *r, src_read_fn fn, void *fn_ctx, const char *what,
                        src_sink_fn sink, void *sink_ctx)
{
    memset(r, 0, sizeof(*r));
    r->read = fn;
    r->read_ctx = fn_ctx;
    r->fd = -1;
    r->what = what;
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->limit = UINT64_MAX;
}

void src_reader_init(struct src_reader *r, int fd, const char *what, src_sink_fn sink,
                     void *sink_ctx)
{
    memset(r, 0, sizeof(*r));
    r->read = fd_read;
    r->read_ctx = r;
    r->fd = fd;
    r->what = what;
    r->sink = sink;
    r->sink_ctx = sink_ctx;
    r->limit = UINT64_MAX;
}

void src_reader_free(struct src_reader *r)
{
    free(r->buf);
    r->buf = NULL;
}

int src_reader_flush(struct src_reader *r, struct cf_err *e)
{
    size_t n = r->pos - r->fwd;
    if (n == 0)
        return 0;
    if (r->crc)
        r->crc64 = src_crc64(r->crc64, r->buf + r->fwd, n);
    if (r->sink && r->sink(r->sink_ctx, r->buf + r->fwd, n, e) != 0)
        return -1;
    r->fwd = r->pos;
    return 0;
}

int src_reader_fill(struct src_reader *r, size_t n, struct cf_err *e)
{
    if (r->len - r->pos >= n)
        return 1;
    if (src_reader_flush(r, e) != 0)
        return -1;
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = r->fwd = 0;
    }
    if (r->cap < n || r->cap < READER_CHUNK) {
        size_t cap = n > READER_CHUNK ? n : READER_CHUNK;
        r->buf = cf_realloc(r->buf, cap);
        r->cap = cap;
    }
    while (r->len < n && !r->eof) {
        size_t want = r->cap - r->len;
        if ((uint64_t)want > r->limit - r->nread)
            want = (size_t)(r->limit - r->nread);
        if (want == 0) {
            r->eof = true;
            break;
        }
        ssize_t got = r->read(r->read_ctx, r->buf + r->len, want, e);
        if (got < 0)
            return -1;
        if (got == 0) {
            r->eof = true;
            break;
        }
        r->len += (size_t)got;
        r->nread += (uint64_t)got;
    }
    return r->len >= n ? 1 : 0;
}

const unsigned char *src_reader_peek(const struct src_reader *r)
{
    return r->buf ? r->buf + r->pos : (const unsigned char *)"";
}

size_t src_reader_avail(const struct src_reader *r)
{
    return r->len - r->pos;
}

void src_reader_consume(struct src_reader *r, size_t n)
{
    CF_ASSERT(n <= r->len - r->pos);
    if (r->capture)
        buf_append(r->capture, r->buf + r->pos, n);
    r->pos += n;
    r->consumed += n;
}

int src_reader_get(struct src_reader *r, void *out, size_t n, const char *field,
                   struct cf_err *e)
{
    if (out != NULL || n <= READER_CHUNK) {
        int f = src_reader_fill(r, n, e);
        if (f < 0)
            return -1;
        if (f == 0)
            return cf_err_set(e, CF_E_CORRUPT, "%s: truncated in %s at byte %llu", r->what,
                              field, (unsigned long long)r->consumed);
        if (out)
            memcpy(out, src_reader_peek(r), n);
        src_reader_consume(r, n);
        return 0;
    }
    while (n > 0) {   /* a large skip, one buffer at a time */
        int f = src_reader_fill(r, 1, e);
        if (f < 0)
            return -1;
        if (f == 0)
            return cf_err_set(e, CF_E_CORRUPT, "%s: truncated in %s at byte %llu", r->what,
                              field, (unsigned long long)r->consumed);
        size_t k = src_reader_avail(r) < n ? src_reader_avail(r) : n;
        src_reader_consume(r, k);
        n -= k;
    }
    return 0;
}

int src_reader_at_eof(struct src_reader *r, struct cf_err *e)
{
    int f = src_reader_fill(r, 1, e);
    if (f < 0)
        return -1;
    return f == 0 ? 1 : 0;
}

int src_pump(struct src_reader *r, struct buf *head, size_t head_cap, struct buf *tail,
             size_t tail_cap, struct cf_err *e)
{
    for (;;) {
        int f = src_reader_fill(r, 1, e);
        if (f < 0)
            return -1;
        if (f == 0)
            break;
        const unsigned char *p = src_reader_peek(r);
        size_t n = src_reader_avail(r);
        if (head && head->len < head_cap)
            buf_append(head, p, n < head_cap - head->len ? n : head_cap - head->len);
        if (tail) {
            if (n >= tail_cap) {
                buf_reset(tail);
                buf_append(tail, p + n - tail_cap, tail_cap);
            } else {
                buf_append(tail, p, n);
                if (tail->len > tail_cap) {
                    memmove(tail->data, tail->data + tail->len - tail_cap, tail_cap);
                    tail->len = tail_cap;
                    tail->data[tail->len] = '\0';
                }
            }
        }
        src_reader_consume(r, n);
    }
    return src_reader_flush(r, e);
}

ssize_t src_in_read_fn(void *ctx, void *buf, size_t cap, struct cf_err *e)
{
    return source_in_read(ctx, buf, cap, e);
}

int src_fd_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    return fs_write_all(*(int *)ctx, buf, len, "the restore tool's input", e);
}
