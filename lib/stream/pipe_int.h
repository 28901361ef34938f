/* pipe_int.h - what the two halves of the pipeline share (pipe_backup.c, pipe_restore.c);
 * private to lib/stream.
 *
 * Errors: the stage that fails first records its error as the root cause (struct pl) and
 * fails every pipe; the others stop at their next pipe call. The caller reports the root
 * cause, so "object 3 is truncated" is not hidden behind "the archive ended early". */
#ifndef CF_PIPE_INT_H
#define CF_PIPE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "../core/err.h"
#include "bpipe.h"
#include "bqueue.h"

#define PIPE_CAP (8u << 20)

/* the root cause of a failed run, and the pipes to stop */
struct pl {
    pthread_mutex_t mu;
    bool failed;
    struct cf_err err;
    struct bpipe *pipes[2];
    struct bqueue *queue;
};

void pl_init(struct pl *pl);
/* record @err unless an earlier failure is recorded, and stop every pipe */
void pl_fail(struct pl *pl, const struct cf_err *err);
/* -1 with the root cause in @e */
int pl_result(struct pl *pl, struct cf_err *e);

#endif
