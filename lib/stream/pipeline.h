/* pipeline.h - a source's stream into the repository and back.
 *
 * Backup:  source export -> frames -> zstd (worker threads) -> [queue] -> seal (secretstream,
 *          BLAKE2b) -> objects on the target; manifest last.
 * Restore: objects -> hash + open (authenticated) -> [queue] -> zstd -d -> [queue] -> frames
 *          -> source import.
 * Stages run concurrently with bounded buffers: memory stays flat whatever the input. */
#ifndef CF_PIPELINE_H
#define CF_PIPELINE_H

#include <stdint.h>

#include <jansson.h>

#include "../repo/repo.h"
#include "../source/source.h"
#include "stream_opts.h"

struct backup_result {
    char id[REPO_ID_MAX];
    uint64_t bytes_in;       /* bytes the source produced */
    uint64_t bytes_stored;   /* bytes written to the target */
    uint32_t objects;
    uint64_t elapsed_ms;
    unsigned warnings;
};

/* pipeline_backup() - back up @src into @r as one new backup and commit it (manifest last),
 * compressed and cut as @so says (stream_opts_resolve()). @job may be NULL. On success
 * *@committed (unless @committed is NULL) is the manifest committed, for the caller to free
 * (manifest_free). On failure nothing is committed: the objects written are removed (best
 * effort; prune sweeps what a crash leaves). Callers take backups through backup_source()
 * (lib/backup/backup.h), which holds the source's lock. */
int pipeline_backup(struct repo *r, struct source *src, const struct stream_opts *so,
                    const char *job, struct backup_result *res, struct manifest **committed,
                    struct cf_err *e);

/* pipeline_restore() - restore the backup of @src that manifest @m describes (already loaded)
 * through the source's import. Every object's hash and every message's tag is checked before
 * its bytes are passed on. */
int pipeline_restore(struct repo *r, struct source *src, const struct manifest *m,
                     const struct restore_opts *opts, struct cf_err *e);

/* pipeline_verify() - read, authenticate and decompress every object of the backup that @m
 * describes, checking hashes, tags, frames and sizes; nothing is written. */
int pipeline_verify(struct repo *r, const struct manifest *m, struct cf_err *e);

#endif
