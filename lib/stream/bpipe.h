/* bpipe.h - a bounded byte pipe between two threads.
 *
 * The writer blocks while the pipe is full, the reader while it is empty. Either side may
 * fail the pipe with an error: the other side's next call returns -1 with a copy of it, so
 * the first error travels to every stage and each stops. Memory is the capacity, fixed. */
#ifndef CF_BPIPE_H
#define CF_BPIPE_H

#include <stddef.h>
#include <sys/types.h>

#include "../core/err.h"

struct bpipe;

struct bpipe *bpipe_new(size_t cap);
void bpipe_free(struct bpipe *p);
/* write all of @len bytes; -1 when the pipe failed (@e gets its error) */
int bpipe_write(struct bpipe *p, const void *buf, size_t len, struct cf_err *e);
/* read 1..@cap bytes; 0 once closed and drained; -1 when failed */
ssize_t bpipe_read(struct bpipe *p, void *buf, size_t cap, struct cf_err *e);
/* read exactly @cap bytes unless the end comes first (then fewer); -1 when failed */
ssize_t bpipe_read_full(struct bpipe *p, void *buf, size_t cap, struct cf_err *e);
/* writer: no more data */
void bpipe_close(struct bpipe *p);
/* either side: stop both with @err (the first failure is kept) */
void bpipe_fail(struct bpipe *p, const struct cf_err *err);

#endif
