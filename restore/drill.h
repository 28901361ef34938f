/* drill.h - `restore drill`: restore a job or a source into scratch servers, check what came
 * back, measure the time it took, and keep the report; private to restore/. */
#ifndef CF_DRILL_H
#define CF_DRILL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../lib/core/buf.h"
#include "../lib/config/conf.h"
#include "../lib/core/err.h"
#include "../lib/repo/manifest.h"
#include "../lib/repo/repo.h"

/* --- scratch servers (drill_servers.c) --- */

/* One throwaway server of a kind and major version, in a directory of the drill's, on a unix
 * socket only, from the host's packages and their stock settings. */
struct drill_server {
    char kind[16];        /* "postgres", "mariadb", "redis" */
    char major[16];       /* "15" for postgres; what the host runs otherwise */
    char *dir;            /* its directory */
    char *sock;           /* postgres: the socket directory; mariadb, redis: the socket */
    char *bindir;         /* postgres: /usr/lib/postgresql/N/bin */
    pid_t pid;            /* the server, 0 when not running */
    uint64_t start_ms;    /* how long it took to start */
};

/* drill_server_start() - initialise and start a @kind server (for postgres, of major version
 * @major, or the newest installed when NULL) in the new directory @base/@label. On -1
 * nothing is left running and @e says why, quoting the server's log. */
int drill_server_start(struct drill_server *s, const char *kind, const char *major,
                       const char *base, const char *label, struct cf_err *e);
/* drill_server_start_restored() - a PostgreSQL @major server on the data directory
 * @base/@label/data a physical restore left there (no initdb): with its own settings and
 * recovery settings, plus the drill's pg_hba.conf, no TLS, no archiving (drill_servers.c);
 * started once it accepts connections (hot standby), not yet recovered */
int drill_server_start_restored(struct drill_server *s, const char *major, const char *base,
                                const char *label, struct cf_err *e);
/* drill_log_tail() - the last bytes of the log @path on one line, ": ..." into @out */
void drill_log_tail(const char *path, struct buf *out);
/* drill_server_stop() - stop it by its PID (waiting for it to exit) and free @s's strings;
 * safe on a server that never started */
void drill_server_stop(struct drill_server *s);
/* drill_scratch_begin() - make the drill's scratch directory under @base and, until
 * drill_scratch_end, stop every server started and remove the directory on SIGINT or SIGTERM
 * before exiting 130 */
int drill_scratch_begin(const char *base, char **dir, struct cf_err *e);
void drill_scratch_end(char *dir);

/* drill_spawn() - run @argv with stdin /dev/null and its output appended to @log, in a
 * process group of its own; with @wait until it exits (failing unless it exits 0, quoting the
 * end of @log), else *@pid is the running child */
int drill_spawn(char *const argv[], const char *log, bool wait, pid_t *pid, struct cf_err *e);

/* --- checks (drill_check.c): each adds {"name","result","detail"} objects to @checks,
 * result "passed", "FAILED" or "not checked" --- */
enum drill_result { DRILL_PASS, DRILL_FAIL, DRILL_SKIP };

struct drill_target {
    const struct drill_server *srv;   /* NULL for a volume */
    const char *database;             /* the restored database (postgres, mariadb) */
    const char *dir;                  /* the restored volume */
};
void drill_check_postgres(const struct drill_target *t, json_t *dbinfo, const char *sql,
                          const char *expect, json_t *checks);
/* a whole cluster restored from a physical base backup: pg_amcheck of every database, and
 * check-sql in t->database */
void drill_check_pg_cluster(const struct drill_target *t, const char *sql, const char *expect,
                            json_t *checks);
/* @rows: what the dump held, counted while it was loaded; NULL with @rows_skip saying why
 * the row counts are not checked */
struct sqlrows;
void drill_check_mariadb(const struct drill_target *t, const struct sqlrows *rows,
                         const char *rows_skip, const char *sql, const char *expect,
                         json_t *checks);
/* drill_rows_compare() - the "row counts" check of database @db: @got (table -> rows in the
 * restored copy) against @want (table -> rows the backup holds); a table missing from either,
 * or with another count, fails it, named with both counts; passed, the detail ends in @whence */
void drill_rows_compare(json_t *checks, const char *db, json_t *want, json_t *got,
                        const char *whence);
void drill_check_redis(const struct drill_target *t, json_t *info, json_t *checks);
void drill_check_volume(const struct drill_target *t, struct repo *r, const struct manifest *m,
                        json_t *checks);
void drill_check_add(json_t *checks, const char *name, enum drill_result res, const char *fmt,
                     ...) CF_PRINTF(4, 5);

/* --- a physical postgres source (drill_pitr.c) --- */

/* whether [source] @sec is a postgres source with method = physical */
bool drill_is_physical(const struct ini_section *sec);
/* what drill_physical needs of the drill */
struct drill_phys {
    const struct conf *c;
    const struct repo_unlock *u;
    struct repo *r;
    struct repo_when at;
    const char *scratch;
};
/* drill_physical() - restore physical source @name at ph->at (its base backup and WAL, every
 * segment checked present first) into a data directory under ph->scratch, start @srv on it,
 * wait (bounded) until it has recovered to the moment and promoted, then check it: recovery,
 * pg_amcheck of every database, check-sql. Fills @s (backup, backup_time, wal, server,
 * recovery_ms) and @checks; adds the server's start to *@start_ms and the extraction and
 * recovery to *@restore_ms. The caller stops @srv, also after -1 (@e: what failed). */
int drill_physical(const struct drill_phys *ph, const char *name, json_t *s, json_t *checks,
                   struct drill_server *srv, uint64_t *start_ms, uint64_t *restore_ms,
                   struct cf_err *e);

/* --- the report (drill_report.c) --- */

/* drill_report_markdown() - the report @r as Markdown into a new string */
char *drill_report_markdown(json_t *r);
/* drill_report_write() - @r into @path: Markdown when it ends in .md, JSON otherwise
 * (.json); written atomically, 0644 */
int drill_report_write(json_t *r, const char *path, struct cf_err *e);
/* drill_report_summary() - the few lines stdout gets */
void drill_report_summary(json_t *r);

#endif
