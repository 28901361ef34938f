/* cat_index.h - the catalog index: a SQLite file with one row per backup of one or more
 * repositories. It is a cache of the repository, never the truth: whatever it lacks or gets
 * wrong is recreated from the repository (catalog/cat_sync.c), and a missing, corrupted or
 * outdated file is replaced by a fresh one.
 *
 * Tables (docs/CATALOG.md): backups (one row per backup, key repo+source+id), attempts (one
 * row per attempt of `backupd run`, cat_health.h), logs (one row per archived log file,
 * cat_archive.h), drills (one row per restore drill, cat_drill.h) and meta (schema version). Times are Unix
 * seconds (UTC).
 *
 * One thing the index knows that the repository cannot tell: that a backup existed. A row
 * whose backup left the repository without a removal record (removed/<source>/<id>, written
 * by prune and forget) is CAT_VANISHED, and stays so until `catalog forget`. */
#ifndef CF_CAT_INDEX_H
#define CF_CAT_INDEX_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../config/conf.h"
#include "../core/err.h"

#define CAT_DEFAULT_PATH "/var/lib/coffer/catalog.db"
#define CAT_BUSY_MS 5000   /* how long to wait for another process's write */

struct repo;
struct manifest;

/* CAT_PRUNED: removed by coffer (prune) or its loss acknowledged (forget); CAT_VANISHED: gone
 * from the repository without either */
enum cat_status { CAT_COMPLETE = 0, CAT_DAMAGED = 1, CAT_PRUNED = 2, CAT_VANISHED = 3 };

enum cat_verify { CAT_VERIFY_NEVER = 0, CAT_VERIFY_OK = 1, CAT_VERIFY_FAILED = 2 };

struct cat_row {
    char repo[80];          /* repository id */
    char source[128];
    char id[64];
    time_t time;            /* from the id: when the backup started */
    char kind[32];          /* source type: volume, postgres, ... ("" when not read) */
    char job[128];
    time_t started, finished;
    char *consistency;      /* JSON text of the consistency point, or NULL */
    uint64_t bytes_in, bytes_stored;
    uint64_t objects;
    char tool_version[64];
    enum cat_status status;
    char *damage;           /* why damaged, or NULL */
    bool details;           /* the manifest was read (false: public-key mode without key) */
    bool pinned;
    char *pin_reason;
    time_t pinned_at;
    enum cat_verify verify;
    bool verify_quick;
    time_t verified_at;
    char *verify_error;
    time_t gone_at;         /* when a refresh found it gone (pruned, vanished), else 0 */
};

struct cat_index;

/* the keys of [catalog] (NULL-terminated): path (read here), debris-grace and lock-ttl (read by
 * catalog prune) */
extern const char *const cat_section_keys[];

/* the index path: [catalog] path, or CAT_DEFAULT_PATH */
int cat_index_path(const struct conf *c, const char **out, struct cf_err *e);

/* cat_index_open() - open the index at @path, creating it (mode 0600, parents 0700) when
 * missing. An index of schema 1 to 4 is upgraded in place to schema 5 (2: gone_at, vanished
 * rows; 3: the attempts table; 4: the archived log files, cat_archive.h; 5: the drills,
 * cat_drill.h).
 * A file that is not a usable index (corrupted, or another schema) is moved aside to
 * "<path>.broken-<time>" with a warning and replaced by an empty one. *@fresh is set when the
 * index starts empty (new or replaced): the caller fills it from the repository. Another
 * process's write blocks us at most CAT_BUSY_MS, then CF_E_LOCKED. */
int cat_index_open(const char *path, struct cat_index **out, bool *fresh, struct cf_err *e);
void cat_index_close(struct cat_index *x);
const char *cat_index_file(const struct cat_index *x);

/* one transaction around many writes (much faster, and all or nothing) */
int cat_index_begin(struct cat_index *x, struct cf_err *e);
int cat_index_commit(struct cat_index *x, struct cf_err *e);
void cat_index_rollback(struct cat_index *x);

/* insert or replace a row; pins and verify results already in the index are kept unless
 * @r says otherwise (pins: always taken from @r; verify: kept when @r has none) */
int cat_index_put(struct cat_index *x, const struct cat_row *r, struct cf_err *e);
/* one row; CF_E_NOTFOUND when absent. @source may be NULL (ids are unique in practice). */
int cat_index_get(struct cat_index *x, const char *repo, const char *source, const char *id,
                  struct cat_row *out, struct cf_err *e);

struct cat_filter {
    const char *repo;       /* NULL: all repositories */
    const char *source;     /* NULL: all */
    const char *job;        /* NULL: all */
    time_t since, until;    /* 0: open */
    bool with_pruned;       /* include rows of pruned backups */
};

/* rows matching @f, sorted by source then time then id */
int cat_index_query(struct cat_index *x, const struct cat_filter *f, struct cat_row **rows,
                    size_t *n, struct cf_err *e);
/* the complete backup of @source at @w (repo_choose_at(): the newest at or before, by its
 * time, and for a replay finished before it: repo_when_base_ok); CF_E_NOTFOUND */
struct repo_when;
int cat_index_at(struct cat_index *x, const char *repo, const char *source,
                 struct repo_when w, struct cat_row *out, struct cf_err *e);

/* set status and damage; gone_at is set to now when the row becomes pruned or vanished (kept
 * when it already was one of them), and cleared otherwise */
int cat_index_set_status(struct cat_index *x, const char *repo, const char *source,
                         const char *id, enum cat_status st, const char *damage,
                         struct cf_err *e);
int cat_index_set_pin(struct cat_index *x, const char *repo, const char *source, const char *id,
                      bool pinned, const char *reason, time_t at, struct cf_err *e);
int cat_index_set_verify(struct cat_index *x, const char *repo, const char *source,
                         const char *id, enum cat_verify v, bool quick, time_t at,
                         const char *error, struct cf_err *e);

/* small values kept beside the rows ("synced:<repo>" and the like) */
int cat_index_meta_set(struct cat_index *x, const char *key, const char *value,
                       struct cf_err *e);
/* CF_E_NOTFOUND when absent */
int cat_index_meta_get(struct cat_index *x, const char *key, char *out, size_t cap,
                       struct cf_err *e);
/* drop every row of repository @repo (catalog rebuild), except those of vanished backups:
 * the index is the only record of them */
int cat_index_forget(struct cat_index *x, const char *repo, struct cf_err *e);

/* free what a row holds (not the row itself) */
void cat_row_clear(struct cat_row *r);
void cat_rows_free(struct cat_row *rows, size_t n);

const char *cat_status_name(enum cat_status s);
const char *cat_verify_name(enum cat_verify v);

/* cat_row_from_manifest() - fill the fields a manifest gives (kind, job, times, consistency
 * point, byte counts, objects, tool version); the rest of @r is left alone. */
void cat_row_from_manifest(const struct manifest *m, struct cat_row *r);

/* cat_row_from_repo() - a row for committed backup @source/@id of @r: from its manifest when
 * the repository can be read (status damaged, with the reason, when the manifest fails to
 * load), else from the names alone (details false). Fails when the repository cannot be
 * reached (CF_E_NET, CF_E_IO, CF_E_AUTH) or the manifest vanished since it was listed
 * (CF_E_NOTFOUND): damage is a status, not an error. */
int cat_row_from_repo(struct repo *r, const char *source, const char *id, struct cat_row *out,
                      struct cf_err *e);

/* catalog_index_record() - called by backup_source() (lib/backup) right after a backup
 * commits: records the backup that manifest @m describes in the index named by the
 * configuration, from the manifest in memory (no read back). In public-key mode the row is
 * what a refresh on this host would make (details false). A failure here does not undo the
 * backup: the caller logs it as a warning (the next `catalog list` finds the backup in the
 * repository anyway). */
int catalog_index_record(const struct conf *c, struct repo *r, const struct manifest *m,
                         struct cf_err *e);

#endif
