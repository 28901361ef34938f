/* bqueue.h - a bounded queue of buffers between two threads, with a fixed pool.
 *
 * The producer takes a free buffer (waiting while all are in use), fills it and pushes it; the
 * consumer pops it, uses it and gives it back. Nothing is copied and memory is the pool.
 * Like bpipe, either side can fail the queue and the other stops with that error. */
#ifndef CF_BQUEUE_H
#define CF_BQUEUE_H

#include <stddef.h>

#include "../core/err.h"

struct bq_buf {
    int type;              /* the caller's meaning */
    size_t len;
    unsigned char *data;   /* room for the pool's buffer size */
};

struct bqueue;

struct bqueue *bqueue_new(size_t nbufs, size_t bufsize);
void bqueue_free(struct bqueue *q);
/* a free buffer, or NULL when the queue failed (@e set) */
struct bq_buf *bqueue_get_free(struct bqueue *q, struct cf_err *e);
int bqueue_push(struct bqueue *q, struct bq_buf *b, struct cf_err *e);
/* the next full buffer; NULL at the end (closed and empty, @e untouched) or on failure */
struct bq_buf *bqueue_pop(struct bqueue *q, struct cf_err *e);
void bqueue_put_free(struct bqueue *q, struct bq_buf *b);
void bqueue_close(struct bqueue *q);
void bqueue_fail(struct bqueue *q, const struct cf_err *err);

#endif
