/* restore.h - bring a source back as it was at a moment. */
#ifndef CF_RESTORE_H
#define CF_RESTORE_H

#include <time.h>

#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"
#include "../lib/source/source.h"

/* restore_run() - choose the backup of @source at @at (a time, or latest), check the
 * destination, print the plan, and unless opts->dry_run restore it. Nothing of the plan is
 * printed when the destination is refused. Returns an exit code (0, 1, 2). */
int restore_run(const struct conf *c, const struct repo_unlock *u, const char *source,
                struct repo_when at, const struct restore_opts *opts);

/* restore_pitr_run() - `--to-datadir`: the PostgreSQL cluster of @source at @at (or to the
 * end of the archive) from a physical base backup and the WAL archive: the plan of
 * repo_pitr_plan() checked and printed, then the base backup extracted into the new data
 * directory opts->to_datadir, set up to recover (restore_pitr.c, docs/PITR.md). An exit code. */
int restore_pitr_run(const struct conf *c, const struct repo_unlock *u, const char *source,
                     struct repo_when at, const struct restore_opts *opts);

/* restore_wal_fetch() - `wal-fetch SOURCE FILE PATH`, PostgreSQL's restore_command: write the
 * archived WAL file @file of postgres source @source to @dest (atomically, once checked).
 * Returns an exit code: 0 done; 1 without a word when it was never archived; 1 or 2 with
 * the error on stderr otherwise. */
int restore_wal_fetch(const struct conf *c, const struct repo_unlock *u, const char *source,
                      const char *file, const char *dest);

#endif
