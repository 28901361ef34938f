/* restore.h - bring a source back as it was at a moment. */
#ifndef CF_RESTORE_H
#define CF_RESTORE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"
#include "../lib/source/source.h"

/* restore_run() - choose the backup of @source at @at (a time, or latest), check the
 * destination, print the plan, and unless opts->dry_run restore it. With opts->to_datadir
 * (a physical postgres source): the newest base backup finished at or before @at and the
 * WAL archive, every segment checked present, extracted into a new data directory set up
 * to recover to @at (restore_pitr.c, docs/PITR.md). Nothing of the plan is
 * printed when the destination is refused. Returns an exit code (0, 1, 2). */
int restore_run(const struct conf *c, const struct repo_unlock *u, const char *source,
                struct repo_when at, const struct restore_opts *opts);

/* What `restore --job` takes besides the moment: the options every source shares (@base:
 * force, dry_run, and for postgres sources clean, globals, jobs), where each goes, and the
 * spread above which the plan warns. */
struct restore_job_opts {
    struct restore_opts base;
    const char *profile;        /* --profile NAME: [restore-profile NAME], or NULL */
    const char **maps;          /* --map SOURCE=DEST or SOURCE.KEY=VALUE, in order */
    size_t nmaps;
    int64_t max_spread;         /* seconds; 0: no warning */
};

/* restore_job_run() - `restore --job`: every source of job @job at @at. Each source's
 * destination comes from the profile and --map (later over earlier); a source without one
 * refuses the whole before anything is read. Every source's backup and destination are
 * checked, then the plan is printed with the spread of the backups' times (unless
 * base.dry_run, the sources are restored one after the other, a failure not stopping the
 * others), then a summary. Returns 0 all restored, 3 some, 1 none (2 usage or config). */
int restore_job_run(const struct conf *c, const struct repo_unlock *u, const char *job,
                    struct repo_when at, const struct restore_job_opts *jo);

/* What `restore drill` takes. */
struct restore_drill_opts {
    const char *job, *source;   /* one of the two */
    struct repo_when at;        /* unless random */
    bool random;                /* --at random */
    const char **reports;       /* --report FILE (.md: Markdown, else JSON), in order */
    size_t nreports;
    const char *scratch_dir;    /* where the scratch directory is made */
};

/* restore_drill_run() - `restore drill`: restore every source of the job (or the one source)
 * at the moment into scratch servers of the right kind and version (volumes into a scratch
 * directory), check each copy, measure the recovery time against `rto`, store the report in
 * the repository under drills/ and write it to each --report file, print a summary. Every
 * scratch server is stopped and the scratch directory removed, also on failure or SIGINT.
 * Returns 0 when every restore and check passed and no objective was missed, else 1 (2 for
 * usage and configuration errors). */
int restore_drill_run(const struct conf *c, const struct repo_unlock *u,
                      const struct restore_drill_opts *o);
/* restore_wal_fetch() - `wal-fetch SOURCE FILE PATH`, PostgreSQL's restore_command: write the
 * archived WAL file @file of postgres source @source to @dest (atomically, once checked).
 * Returns an exit code: 0 done; 1 without a word when it was never archived; 1 or 2 with
 * the error on stderr otherwise. */
int restore_wal_fetch(const struct conf *c, const struct repo_unlock *u, const char *source,
                      const char *file, const char *dest);

#endif
