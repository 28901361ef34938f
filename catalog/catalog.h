/* catalog.h - what the repository holds, through the local index (lib/catalog/cat_index.h):
 * list, show, at, verify, pin, unpin, status, prune, forget, rebuild. Every command refreshes the
 * index from the repository first; the repository wins. */
#ifndef CF_CATALOG_H
#define CF_CATALOG_H

#include <stdbool.h>
#include <time.h>

#include <jansson.h>

#include "../lib/catalog/cat_ctx.h"
#include "../lib/catalog/cat_prune.h"
#include "../lib/config/conf.h"
#include "../lib/repo/repo.h"

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
/* the archived log files of @source as ranges per timeline (stream), gaps; exit 1 on a gap */
int catalog_logs(const struct conf *c, const struct repo_unlock *u, const char *source,
                 const struct catalog_opts *o);
/* acknowledge the loss of a vanished backup (its manifest went missing behind coffer's back):
 * writes removed/<source>/<id> and marks the row pruned, so verify and status stop reporting
 * it; a backup that is not vanished is refused (exit 2) */
int catalog_forget(const struct conf *c, const struct repo_unlock *u, const char *id,
                   const struct catalog_opts *o);
/* `sync MIRROR` (cat_mirror.c): copy to [mirror MIRROR] what it lacks (docs/CATALOG.md), then,
 * when the mirror has retention rules of its own, prune it by them */
int catalog_mirror_sync(const struct conf *c, const struct repo_unlock *u, const char *name,
                        const struct catalog_opts *o);
/* recreate the index rows of this repository from the repository alone (rows of vanished
 * backups are kept: the repository has no trace of them) */
int catalog_rebuild(const struct conf *c, const struct repo_unlock *u,
                    const struct catalog_opts *o);

/* an age as "3d 4h", "2h 05m", "42s" (catalog.c) */
void cat_fmt_age(int64_t s, char *out, size_t cap);

/* cat_mirror_status() - `catalog status`'s part on the mirrors of the configuration (none
 * when a mirror is the repository in use; cat_mirror.c): each one's lag, printed (text) or
 * appended to @arr; *@notok counts those behind, unreachable or of another repository */
void cat_mirror_status(const struct cat_ctx *ctx, const struct catalog_opts *o, json_t *arr,
                       size_t *notok);
/* the drill reports stored in the repository, oldest first (cat_drills.c) */
int catalog_drills(const struct conf *c, const struct repo_unlock *u,
                   const struct catalog_opts *o);
/* cat_drill_status() - status's drill lines: each job's last drill (from the repository @r,
 * NULL when unreachable) against its drill-every, printed unless @quiet and appended to
 * @out; returns the number of jobs whose drill is failed or overdue */
int cat_drill_status(const struct conf *c, struct repo *r, bool quiet, json_t *out);

#endif
