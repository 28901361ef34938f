/* mig.h - the migrate tool: migration files, statement splitting, the database engines and
 * the commands. migrate_main.c parses arguments and calls migrate_run(); everything else
 * lives in migrate/mig_*.c and is linked into build/libcoffer.a for the unit tests. */
#ifndef CF_MIG_H
#define CF_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../lib/core/buf.h"
#include "../lib/core/err.h"
#include "../lib/db/db_settings.h"

/* Exit codes of `migrate` (docs/MIGRATE.md). 0, 1 and 2 are the ones every tool uses. */
enum mig_exit {
    MIG_EXIT_OK = 0,
    MIG_EXIT_FAILED = 1,      /* an error, or a migration failed cleanly (PostgreSQL) */
    MIG_EXIT_USAGE = 2,       /* command line or configuration */
    MIG_EXIT_PENDING = 10,    /* status: migrations are waiting to be applied */
    MIG_EXIT_NEEDS_ROLLBACK = 11, /* a migration failed partway: rollback or repair first */
    MIG_EXIT_LOCKED = 12,     /* another runner held the lock past --lock-timeout */
    MIG_EXIT_DRIFT = 13,      /* an applied file changed or is missing */
    MIG_EXIT_SNAPSHOT = 14,   /* the snapshot before apply failed: nothing was applied */
};

enum mig_engine { MIG_PG, MIG_MARIA };

/* --- files (mig_files.c) --- */

#define MIG_CHECKSUM_MAX 72     /* "sha256:" + 64 hex + NUL */
#define MIG_NO_TX_MARKER "-- coffer:no-transaction"

struct mig_file {
    uint64_t version;
    char *vtext;        /* the version as written in the file name ("0003") */
    char *name;         /* "add_users" */
    char *up_path;
    char *down_path;    /* NULL when there is no down script */
    char *up_sql;
    char *down_sql;     /* NULL when there is no down script */
    char checksum[MIG_CHECKSUM_MAX];
    bool no_tx;         /* first line of the up script is MIG_NO_TX_MARKER */
    bool down_no_tx;
};

struct mig_set {
    struct mig_file *f;  /* sorted by version, ascending */
    size_t n;
};

/* mig_scan() - read every migration in @dir: `<version>_<name>.up.sql` and optional
 * `<version>_<name>.down.sql`, versions digits (integers or timestamps) ordered numerically.
 * Fails (nothing returned) on a duplicate version, a down script without its up script, a
 * file ending in .sql that does not follow the pattern, an empty up script, or a file that
 * cannot be read; the message names the file. Hidden files and other files are ignored. */
int mig_scan(const char *dir, struct mig_set *out, struct cf_err *e);
void mig_set_free(struct mig_set *s);
/* the file of @version, or NULL */
const struct mig_file *mig_set_find(const struct mig_set *s, uint64_t version);

/* mig_parse_name() - split a file name into version, name and kind (1 up, 2 down). Returns
 * 0 when it is a migration name, 1 when it is not a .sql file (ignored), -1 when it ends in
 * .sql but does not follow the pattern (@e says why). *vtext and *name are allocated. */
int mig_parse_name(const char *file, uint64_t *version, char **vtext, char **name, int *kind,
                   struct cf_err *e);
/* mig_parse_version() - digits only, at most 19 of them, a signed 64-bit value (the
 * history's bigint); 0 or -1 */
int mig_parse_version(const char *s, uint64_t *out);

/* "sha256:<hex>" of @sql with CRLF and lone CR turned into LF */
void mig_checksum(const char *sql, size_t len, char out[MIG_CHECKSUM_MAX]);
/* true when the first line of @sql is the no-transaction marker (trailing blanks allowed) */
bool mig_is_no_tx(const char *sql);

/* mig_new_version() - the version text for `migrate new`: one more than the highest, zero
 * padded like it, or a UTC timestamp (YYYYMMDDHHMMSS, at least one more than the highest)
 * when the directory is empty or uses timestamps. @now is the current time. */
void mig_new_version(const struct mig_set *s, int64_t now, char *out, size_t cap);

/* --- statement splitting (mig_split.c) --- */

struct mig_stmt {
    char *sql;   /* trimmed, without the delimiter */
    int line;    /* line of its first character in the file, from 1 */
};

struct mig_stmts {
    struct mig_stmt *s;
    size_t n;
};

/* mig_split() - cut a script into statements the way the engine's own client would.
 * PostgreSQL: '' and E'' strings, "" identifiers, -- and nested block comments,
 * dollar quoting ($$ and $tag$). MariaDB: '' and "" strings with backslash escapes, ``
 * identifiers, --, # and block comments, DELIMITER lines (not sent to the server).
 * Statements that hold only comments and blanks are dropped. An unterminated quote or
 * comment is an error naming the line where it starts. */
int mig_split(enum mig_engine eng, const char *sql, struct mig_stmts *out, struct cf_err *e);
void mig_stmts_free(struct mig_stmts *st);
/* true for a transaction control statement (BEGIN, COMMIT, ROLLBACK, END, ABORT, START
 * TRANSACTION, SAVEPOINT, RELEASE): PostgreSQL migrations run in their own transaction and
 * must not hold these unless they opt out of it */
bool mig_stmt_is_tx_control(const char *sql);

/* --- database engines (mig_pg.c, mig_maria.c) --- */

/* Rows of a query: cell(r, c) is NULL for SQL NULL. */
struct mig_rows {
    size_t nrows, ncols;
    char **cell;
};
#define MIG_CELL(rows, r, c) ((rows)->cell[(r) * (rows)->ncols + (c)])
void mig_rows_free(struct mig_rows *r);

struct mig_engine_ops {
    enum mig_engine eng;
    const char *name;             /* "postgres", "mariadb" */
    /* CREATE TABLE IF NOT EXISTS <%s: the qualified table name> (...) */
    const char *history_ddl;
    /* query with <%s: the schema as a string literal>: a row when the table exists */
    const char *history_exists;
    /* put the session back after each migration, so that what one changed (PostgreSQL: SET,
     * SET ROLE; MariaDB: USE) reaches neither the next one nor the history writes */
    int (*session_reset)(void *h, const char *db, struct cf_err *e);
    const char *now_expr;         /* the current time for applied_at, stored as UTC */
    const char *applied_at_expr;  /* applied_at as "YYYY-MM-DDTHH:MM:SSZ" */
    const char *upsert_tail;      /* what follows INSERT ... VALUES (...) to replace a row */
    bool transactional_ddl;
    /* the [source] section's connection settings, with the kind's defaults (lib/db) */
    int (*settings_load)(const struct ini_section *sec, struct db_settings **out,
                         struct cf_err *e);
    /* connect to database @db (NULL: none, MariaDB) as lib/db does for the sources */
    int (*connect)(const struct db_settings *s, const char *db, void **h, struct cf_err *e);
    void (*close)(void *h);
    /* run one statement (result rows discarded); on failure @e holds the server's message */
    int (*exec)(void *h, const char *sql, struct cf_err *e);
    int (*query)(void *h, const char *sql, struct mig_rows *out, struct cf_err *e);
    /* @s as an SQL string literal, quotes included; freshly allocated */
    char *(*quote)(void *h, const char *s);
    /* @s as a quoted identifier; freshly allocated */
    char *(*quote_ident)(void *h, const char *s);
    /* where the history table lives: PostgreSQL's current schema at connection time, MariaDB's
     * database @db; freshly allocated */
    int (*history_schema)(void *h, const char *db, char **out, struct cf_err *e);
    /* one attempt at the migration lock of database @db: 1 taken, 0 held elsewhere */
    int (*lock_try)(void *h, const char *db, struct cf_err *e);
    void (*unlock)(void *h, const char *db);
    /* the server's version as major*10000 + minor*100 + patch (PostgreSQL: major*10000 +
     * minor) */
    unsigned long (*server_version)(void *h);
};

extern const struct mig_engine_ops mig_pg_ops;
extern const struct mig_engine_ops mig_maria_ops;

/* --- the commands (mig_run.c) --- */

struct mig_opts {
    const char *config;          /* --config (default CONF_DEFAULT_PATH) */
    const char *source;          /* --source */
    const char *database;        /* --database */
    const char *dir;             /* --dir */
    const char *command;         /* status, up, down, verify, baseline, rollback, repair,
                                    accept-checksum, new */
    const char *arg;             /* baseline V, accept-checksum V, new NAME */
    bool has_to;
    uint64_t to;                 /* --to V */
    bool json, dry_run, no_snapshot, restore_snapshot, force;
    int64_t lock_timeout_ms;     /* --lock-timeout */
    const char *secret_key_file; /* --secret-key-file, to restore in public-key mode */
    const char *repository;      /* --repository MIRROR: snapshots to and from a mirror */
};

/* migrate_run() - run one command; returns the process exit code (enum mig_exit). Errors are
 * logged on stderr; results go to stdout (JSON with --json). */
int migrate_run(const struct mig_opts *o);

/* --- the snapshot before apply (mig_snap.c) --- */

struct conf;

struct mig_snap {
    const struct conf *conf;       /* coffer.conf, as validate_load read it */
    const char *source;            /* the [source] section's name */
    const char *database;          /* the one database migrated */
    enum mig_engine eng;
    unsigned long server_version;  /* as mig_engine_ops.server_version */
    const char *secret_key_file;   /* public-key repositories: needed to restore */
    const struct db_settings *set; /* the source's connection settings (to swap databases) */
};

/* mig_snapshot_take() - back up @s->database of @s->source through the normal backup path
 * into the repository of @s->conf, after checking that the dump tool can read the server.
 * The new backup's id goes to @id. Fails (nothing committed) on any error. */
int mig_snapshot_take(const struct mig_snap *s, char *id, size_t cap, struct cf_err *e);
/* mig_snapshot_restore() - restore backup @id into the same database, replacing what is
 * there: first into a scratch database, and only when that worked in place of the migrated
 * one. PostgreSQL (the postgres source's replace, as `restore --clean --force` does): the
 * caller must have closed its own connection to the database (others are ended; it is
 * renamed aside); the old database is kept under a name the log gives. */
int mig_snapshot_restore(const struct mig_snap *s, const char *id, struct cf_err *e);

#endif
