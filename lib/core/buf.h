/* buf.h - a growable byte buffer, always NUL-terminated for convenience. */
#ifndef CF_BUF_H
#define CF_BUF_H

#include <stddef.h>

#include "err.h"

struct buf {
    char *data;
    size_t len;
    size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

void buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...) CF_PRINTF(2, 3);
void buf_reset(struct buf *b);
void buf_free(struct buf *b);

#endif
