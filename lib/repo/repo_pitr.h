/* repo_pitr.h - point-in-time recovery of a PostgreSQL source from the repository: which base
 * backup and which archived WAL bring the cluster to moment T (repo_pitr.c, docs/PITR.md).
 * `restore --to-datadir` and `catalog at` both ask this one function. */
#ifndef CF_REPO_PITR_H
#define CF_REPO_PITR_H

#include <stdbool.h>
#include <stdint.h>

#include "../core/buf.h"
#include "repo.h"

struct repo_pitr {
    struct repo_ref base;      /* the base backup */
    struct manifest *m;        /* its manifest (info: start_wal, stop_wal, timeline...) */
    uint32_t timeline;         /* the timeline recovery ends on (recovery_target_timeline =
                                  latest: the newest whose history is archived) */
    char first[25], last[25];  /* the first and last WAL segment replayed */
    uint64_t segments;         /* how many */
    uint64_t wal_bytes;        /* their size: what recovery replays */
    uint64_t stored;           /* their stored size: what it fetches */
    int64_t reach;             /* when the last one was archived (0: not recorded) */
    bool to_end;               /* latest: recovery runs to the end of the archive */
};

/* repo_pitr_plan() - for moment @at (or latest) of postgres source @source: the newest
 * physical base backup whose stop_time is at or before it, and the archived WAL from its
 * start segment through the segment that holds @at (the first pushed at or after it, on the
 * timeline path recovery follows), every one checked present. CF_E_NOTFOUND names a missing
 * segment and the last moment that can be reached, or says the archive ends before @at.
 * Nothing is written. Free @p with repo_pitr_free (also after -1). */
int repo_pitr_plan(struct repo *r, const char *source, struct repo_when at,
                   struct repo_pitr *p, struct cf_err *e);
void repo_pitr_free(struct repo_pitr *p);
/* repo_pitr_describe() - the plan's lines about @p (base backup, WAL range and replay size,
 * target), as `restore --to-datadir` and `catalog at` print them */
void repo_pitr_describe(const struct repo_pitr *p, const char *source, struct repo_when at,
                        struct buf *out);

/* repo_log_wait() - wait up to @seconds for @file to be archived for @source (a base backup
 * is complete only when its last WAL segment is); CF_E_SOURCE naming it when it is not */
int repo_log_wait(struct repo *r, const char *source, const char *file, int64_t seconds,
                  struct cf_err *e);

#endif
