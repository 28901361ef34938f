/* cat_int.h - private to lib/catalog: the index handle and the SQLite helpers its files share
 * (cat_index.c: backups and meta; cat_attempt.c: attempts). */
#ifndef CF_CAT_INT_H
#define CF_CAT_INT_H

#include <sqlite3.h>

#include "../core/err.h"

struct cat_index {
    sqlite3 *db;
    char *path;
};

/* Schema 3: one row per attempt of `backupd run` to back up a source, committed or not
 * (docs/CATALOG.md "Attempts"); kept when the index is rebuilt from the repository, which has
 * no trace of failed attempts. */
#define CAT_ATTEMPTS_SQL                                                                   \
    "CREATE TABLE IF NOT EXISTS attempts("                                                 \
    " source TEXT NOT NULL, job TEXT NOT NULL, repo TEXT NOT NULL DEFAULT '',"            \
    " started INTEGER NOT NULL, finished INTEGER NOT NULL,"                                \
    " duration_ms INTEGER NOT NULL DEFAULT 0, ok INTEGER NOT NULL, error TEXT,"           \
    " backup_id TEXT, bytes_in INTEGER NOT NULL DEFAULT 0,"                                \
    " bytes_stored INTEGER NOT NULL DEFAULT 0);"                                           \
    "CREATE INDEX IF NOT EXISTS attempts_by_source ON attempts(source, job, started);"

/* Schema 4: one row per archived log file (WAL, binlogs) of a source, as a refresh found it
 * under logs/<source>/ (docs/CATALOG.md "The log archive"); a cache like the backups table. */
#define CAT_LOGS_SQL                                                                       \
    "CREATE TABLE IF NOT EXISTS logs("                                                     \
    " repo TEXT NOT NULL, source TEXT NOT NULL, file TEXT NOT NULL,"                       \
    " pushed INTEGER NOT NULL DEFAULT 0, stored INTEGER NOT NULL DEFAULT 0,"               \
    " last_event INTEGER NOT NULL DEFAULT -1, PRIMARY KEY(repo, source, file));"
/* Schema 6: a binlog object's last event time (the header's, -1 until a refresh read it) */
#define CAT_LOGS_6_SQL "ALTER TABLE logs ADD COLUMN last_event INTEGER NOT NULL DEFAULT -1;"

/* Schema 5: one row per restore drill (docs/CATALOG.md "Drills"), from `restore drill` or a
 * refresh that found its report under drills/; a cache like the backups table. @subject is
 * "job.NAME" or "source.NAME", as under drills/. */
#define CAT_DRILLS_SQL                                                                     \
    "CREATE TABLE IF NOT EXISTS drills("                                                   \
    " repo TEXT NOT NULL, subject TEXT NOT NULL, id TEXT NOT NULL,"                        \
    " started INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0,"            \
    " ok INTEGER NOT NULL, rto_ms INTEGER NOT NULL DEFAULT 0,"                             \
    " PRIMARY KEY(repo, subject, id));"

/* the SQLite result @rc of doing @what as an error: CF_E_LOCKED, CF_E_CORRUPT or CF_E_IO */
int cat_db_err(struct cat_index *x, int rc, const char *what, struct cf_err *e);
int cat_prepare(struct cat_index *x, const char *sql, sqlite3_stmt **st, struct cf_err *e);
/* run a statement that returns no rows; finalizes it */
int cat_step_done(struct cat_index *x, sqlite3_stmt *st, const char *what, struct cf_err *e);
/* bind @s, or NULL */
void cat_bind_text(sqlite3_stmt *st, int i, const char *s);

#endif
