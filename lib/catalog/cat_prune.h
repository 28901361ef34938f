/* cat_prune.h - `catalog prune` (cat_prune.c): retention applied to every source's backups,
 * debris swept; in lib/ so that backupd daemon prunes after a job (`prune = yes`) with the same
 * code. The options are those of every catalog command (catalog/catalog.h). */
#ifndef CF_CAT_PRUNE_H
#define CF_CAT_PRUNE_H

#include <stdbool.h>
#include <time.h>

#include "../config/conf.h"
#include "../repo/repo.h"

struct catalog_opts {
    const char *source;   /* --source: only this one */
    const char *job;      /* --job: only backups made by this job */
    time_t since, until;  /* --since / --until (0: open) */
    const char *reason;   /* pin --reason */
    bool json;            /* --json */
    bool all;             /* verify --all */
    bool latest;          /* verify --latest: the newest complete backup of each source */
    bool quick;           /* verify --quick: objects exist with the right size */
    bool dry_run;         /* prune --dry-run */
    bool logs;            /* verify --logs: the archived log files only */
};

/* catalog_prune() - apply each source's retention (@o->source: that one only), sweep debris
 * older than [catalog] debris-grace, printing what it keeps and deletes. Returns an exit code:
 * 0, 1 (failed), 2 (usage or key), 3 (some sources skipped because a backup held their lock). */
int catalog_prune(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o);

#endif
