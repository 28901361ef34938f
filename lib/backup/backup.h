/* backup.h - taking a backup of a source: the one function every caller uses (backupd run,
 * migrate's snapshot before it applies, and what comes next), so that they all hold the
 * source's lock, run the same pipeline (compressed as the repository and the source's
 * section say) and record the backup in the catalog index.
 *
 * It sits above lib/stream (the pipeline) and lib/catalog (the index), which both sit above
 * lib/repo, so it has a room of its own (docs/ARCHITECTURE.md). */
#ifndef CF_BACKUP_H
#define CF_BACKUP_H

#include "../core/err.h"
#include "../stream/pipeline.h"

struct conf;
struct repo;
struct source;

/* backup_source() - back up @src into @r as one new backup: take locks/source-<name> (waiting
 * a little for a prune of that source), run the pipeline, and record the committed backup in
 * the catalog index of @c from the manifest in memory. @job may be NULL. A failure to record
 * it, or a lock lost after the commit, is logged as a warning: the backup is committed all the
 * same (the next catalog command finds it in the repository). On -1 nothing is committed. */
int backup_source(const struct conf *c, struct repo *r, struct source *src, const char *job,
                  struct backup_result *res, struct cf_err *e);

#endif
