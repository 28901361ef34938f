/* catalog.h - what the repository holds, through the local index (lib/catalog/cat_index.h):
 * list, show, at, verify, pin, unpin, status, prune, forget, rebuild. Every command refreshes the
 * index from the repository first; the repository wins. */
#ifndef CF_CATALOG_H
#define CF_CATALOG_H

#include <stdbool.h>
#include <time.h>

#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"

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
};

/* Each returns an exit code: 0, 1 (failed, damage found, objective violated), 2 (usage),
 * 3 (prune: some sources skipped because a backup held their lock). */
int catalog_list(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o);
int catalog_show(const struct conf *c, const struct repo_unlock *u, const char *id,
                 const struct catalog_opts *o);
/* the backup `restore --at @when` would use, per source */
int catalog_at(const struct conf *c, const struct repo_unlock *u, struct repo_when when,
               const struct catalog_opts *o);
/* cat_pitr.c: `catalog at` for a physical postgres source (--source S with method = physical):
 * the base backup and WAL that restore --to-datadir would use */
bool catalog_source_physical(const struct conf *c, const char *source);
int catalog_at_pitr(const struct conf *c, const struct repo_unlock *u, struct repo_when when,
                    const struct catalog_opts *o);
int catalog_verify(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o);
int catalog_pin(const struct conf *c, const struct repo_unlock *u, const char *id, bool pin,
                const struct catalog_opts *o);
/* per source: newest complete backup, age, RPO, OK/VIOLATED, last verify; locks held */
int catalog_status(const struct conf *c, const struct repo_unlock *u,
                   const struct catalog_opts *o);
int catalog_prune(const struct conf *c, const struct repo_unlock *u, const struct catalog_opts *o);
/* acknowledge the loss of a vanished backup (its manifest went missing behind coffer's back):
 * writes removed/<source>/<id> and marks the row pruned, so verify and status stop reporting
 * it; a backup that is not vanished is refused (exit 2) */
int catalog_forget(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o);
/* recreate the index rows of this repository from the repository alone (rows of vanished
 * backups are kept: the repository has no trace of them) */
int catalog_rebuild(const struct conf *c, const struct repo_unlock *u,
                    const struct catalog_opts *o);

#endif
