/* restore_int.h - one source restored at a moment, in stages the tool's commands share
 * (`restore --source`, `restore --job`); private to restore/. */
#ifndef CF_RESTORE_INT_H
#define CF_RESTORE_INT_H

#include <stdint.h>

#include "../lib/catalog/cat_index.h"
#include "../lib/core/buf.h"
#include "../lib/repo/repo_pitr.h"
#include "restore.h"

/* One source's restore: the backup chosen for the moment, the backups passed over on the
 * way, the destination checked and its plan lines. Filled by restore_one_prepare(); must
 * not move in memory afterwards (opts.backup_id points into ref). */
struct restore_one {
    const char *source;
    const char *kind;           /* the backup's kind (the manifest's) */
    struct source *src;
    struct manifest *m;
    struct repo_ref ref;
    struct restore_opts opts;
    struct buf dest;            /* the source's plan lines about the destination */
    uint64_t restore_bytes;
    struct binlog_replay *rp;   /* a mariadb dump's binlog replay up to the moment, or NULL */
    struct repo_pitr *pitr;     /* --to-datadir: the base backup and WAL (owns m), or NULL */
    char target[40];            /* --to-datadir: its recovery_target_time */
    /* the chooser: backups considered, newest first; all but the last passed over */
    struct cat_row *damage;
    size_t ndamage;
    struct restore_seen {
        char id[REPO_ID_MAX];
        const char *why;        /* the index's reason, or NULL */
        bool late;              /* finished too late to be the replay's dump */
        time_t finished;        /* when late: its finish, 0 unknown */
    } *seen;
    size_t nseen;
};

/* restore_one_prepare() - "this source at this moment into this destination", up to the
 * point where nothing has changed yet: choose the backup of @source at @at (passing over
 * those the index knows damaged), check its kind against [source], and check the
 * destination @opts names (source_plan). With opts->to_datadir (a physical postgres
 * source), the base backup and WAL of restore_pitr_prepare() instead; the caller sets
 * opts->restore_command (restore_pitr_command). The source is opened on @sec, or on its [source]
 * section when NULL (the drill passes one that points at its scratch server). On -1 (@e
 * set: the cause, without the source's name) the caller still calls restore_one_free(@p). */
int restore_one_prepare(const struct conf *c, struct repo *r, const char *source,
                        const struct ini_section *sec, struct repo_when at,
                        const struct restore_opts *opts, struct restore_one *p,
                        struct cf_err *e);
/* restore_one_print_plan() - the plan's lines of one prepared source, on stdout */
void restore_one_print_plan(const struct restore_one *p, struct repo_when at);
/* restore_one_run() - restore the prepared @p; prints "restore done: ..." and stores the
 * elapsed seconds in *@secs. On -1 @e says what failed, prefixed by source and backup. */
int restore_one_run(struct repo *r, struct restore_one *p, double *secs, struct cf_err *e);
void restore_one_free(struct restore_one *p);

/* --- restore_pitr.c: a physical postgres source into a new data directory --- */

/* restore_pitr_command() - the restore_command a cluster restored from @source runs: this
 * binary's wal-fetch with the configuration (and mirror, secret key file) in absolute paths,
 * never a secret; a new string into *@out */
int restore_pitr_command(const struct conf *c, const struct repo_unlock *u, const char *source,
                         char **out, struct cf_err *e);
/* restore_pitr_prepare() - restore_one_prepare's stage for p->opts.to_datadir: the plan of
 * repo_pitr_plan() at @at (every WAL segment checked present), recovery_target_time = @at,
 * the data directory checked */
int restore_pitr_prepare(struct repo *r, struct repo_when at, struct restore_one *p,
                         struct cf_err *e);
/* restore_pitr_done() - the lines after a data directory was restored: how to start it */
void restore_pitr_done(const struct restore_one *p, double secs);
/* restore_one_point() - the moment @p brings its source back to: the backup's time, or for
 * a data directory @at itself (the end of the archive for latest) */
time_t restore_one_point(const struct restore_one *p, struct repo_when at);

/* the age from @from to @to in words ("42s", "3min", "2h 5min", "3d 4h") */
void restore_age(time_t from, time_t to, char *out, size_t cap);

#endif
