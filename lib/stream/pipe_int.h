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
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

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

/* the manifest's common fields of a backup of @src (id, source, kind, job, host, tool, times,
 * bytes_in, compression, object size, parts and info: @parts and @info are referenced) */
struct manifest;
struct source;
struct target_writer;
/* pl_object_commit() - commit the data object being written through *@w (set to NULL), and
 * list it as object @n of @size bytes in @m with the BLAKE2b that @hash ends with */
int pl_object_commit(struct target_writer **w, crypto_generichash_state *hash,
                     struct manifest *m, uint32_t n, uint64_t size, struct cf_err *e);
void pl_manifest_fill(struct manifest *m, const char *id, const struct source *src,
                      const char *job, time_t start, uint64_t bytes_in, int level,
                      uint64_t object_size, json_t *parts, json_t *info);
/* the segmented backup of a volume (pipe_seg.c) and its restore and verify (pipe_segr.c) */
struct repo;
struct stream_opts;
struct backup_result;
struct restore_opts;
int pipeline_backup_seg(struct repo *r, struct source *src, const struct stream_opts *so,
                        const char *job, struct backup_result *res,
                        struct manifest **committed, struct cf_err *e);
int pipeline_restore_seg(struct repo *r, struct source *src, const struct manifest *m,
                         const struct restore_opts *opts, struct cf_err *e);
int pipeline_verify_seg(struct repo *r, const struct manifest *m, struct cf_err *e);
#endif
