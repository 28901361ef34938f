/* cat_index.c - the SQLite catalog index (see cat_index.h, docs/CATALOG.md). */
#include "cat_index.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../repo/repo.h"
#include "cat_int.h"

#define CAT_SCHEMA "6"

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS backups("
    " repo TEXT NOT NULL, source TEXT NOT NULL, id TEXT NOT NULL, time INTEGER NOT NULL,"
    " kind TEXT NOT NULL DEFAULT '', job TEXT NOT NULL DEFAULT '',"
    " started INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL DEFAULT 0,"
    " consistency TEXT, bytes_in INTEGER NOT NULL DEFAULT 0,"
    " bytes_stored INTEGER NOT NULL DEFAULT 0, objects INTEGER NOT NULL DEFAULT 0,"
    " tool_version TEXT NOT NULL DEFAULT '', status INTEGER NOT NULL, damage TEXT,"
    " details INTEGER NOT NULL DEFAULT 0, pinned INTEGER NOT NULL DEFAULT 0, pin_reason TEXT,"
    " pinned_at INTEGER NOT NULL DEFAULT 0, verify INTEGER NOT NULL DEFAULT 0,"
    " verify_quick INTEGER NOT NULL DEFAULT 0, verified_at INTEGER NOT NULL DEFAULT 0,"
    " verify_error TEXT, gone_at INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(repo, source, id));"
    "CREATE INDEX IF NOT EXISTS backups_by_time ON backups(repo, source, time);"
    CAT_ATTEMPTS_SQL
    CAT_LOGS_SQL
    CAT_DRILLS_SQL
    "INSERT OR IGNORE INTO meta(key, value) VALUES ('schema', '" CAT_SCHEMA "');";

#define COLS                                                                               \
    "repo, source, id, time, kind, job, started, finished, consistency, bytes_in, "        \
    "bytes_stored, objects, tool_version, status, damage, details, pinned, pin_reason, "   \
    "pinned_at, verify, verify_quick, verified_at, verify_error, gone_at"

int cat_db_err(struct cat_index *x, int rc, const char *what, struct cf_err *e)
{
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
        return cf_err_set(e, CF_E_LOCKED,
                          "catalog index '%s' is locked by another process (%s); HINT: wait "
                          "for the other coffer command to finish and try again",
                          x->path, what);
    if (rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB)
        return cf_err_set(e, CF_E_CORRUPT, "catalog index '%s' is corrupted (%s): %s; HINT: "
                          "remove it, the next catalog command rebuilds it from the repository",
                          x->path, what, sqlite3_errmsg(x->db));
    if (rc == SQLITE_FULL)
        return cf_err_set(e, CF_E_IO, "catalog index '%s': disk full (%s)", x->path, what);
    return cf_err_set(e, CF_E_IO, "catalog index '%s': %s: %s", x->path, what,
                      sqlite3_errmsg(x->db));
}

const char *const cat_section_keys[] = { "path", "debris-grace", "lock-ttl", NULL };

int cat_index_path(const struct conf *c, const char **out, struct cf_err *e)
{
    *out = CAT_DEFAULT_PATH;
    if (c != NULL && c->catalog != NULL)
        return ini_get_str(c->catalog, "path", CAT_DEFAULT_PATH, out, e);
    return 0;
}

const char *cat_index_file(const struct cat_index *x)
{
    return x->path;
}

/* Schema 1 -> 2: the column gone_at, and status 3 (vanished). Rows that schema 1 marked
 * pruned stay pruned: it did not tell a prune from a manifest removed behind coffer's back.
 * Schema 2 -> 3: the table of attempts (cat_int.h); 3 -> 4: the table of archived log files
 * (cat_int.h), empty until the next refresh fills it; 4 -> 5: the table of drills (cat_int.h),
 * filled by the next refresh from drills/; 5 -> 6: the logs table's column last_event (-1:
 * not read, so the next refresh reads the header of each binlog row once). Under the write lock, and from the version
 * read again under it, so that two commands upgrading at once do it once. */
static int index_upgrade(struct cat_index *x, struct cf_err *e)
{
    sqlite3_stmt *st = NULL;
    int from = 0;
    int rc = sqlite3_exec(x->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return cat_db_err(x, rc, "upgrade the schema", e);
    rc = sqlite3_prepare_v2(x->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        from = v ? atoi(v) : 0;
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_OK && from < 2)
        rc = sqlite3_exec(x->db, "ALTER TABLE backups ADD COLUMN gone_at INTEGER NOT NULL "
                          "DEFAULT 0", NULL, NULL, NULL);
    if (rc == SQLITE_OK && from < 3)
        rc = sqlite3_exec(x->db, CAT_ATTEMPTS_SQL, NULL, NULL, NULL);
    if (rc == SQLITE_OK && from < 4)
        rc = sqlite3_exec(x->db, CAT_LOGS_SQL, NULL, NULL, NULL);
    if (rc == SQLITE_OK && from < 5)
        rc = sqlite3_exec(x->db, CAT_DRILLS_SQL, NULL, NULL, NULL);
    if (rc == SQLITE_OK && from >= 4 && from < 6)
        rc = sqlite3_exec(x->db, CAT_LOGS_6_SQL, NULL, NULL, NULL);
    if (rc == SQLITE_OK && from < 6)
        rc = sqlite3_exec(x->db, "UPDATE meta SET value = '" CAT_SCHEMA "' WHERE key = 'schema'",
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(x->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        cat_db_err(x, rc, "upgrade the schema", e);
        sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
        return -1;
    }
    if (from < 6)
        log_info("catalog index upgraded path=%s schema=%d->" CAT_SCHEMA, x->path, from);
    return 0;
}

/* open, set up and check; CF_E_CORRUPT when the file is not a usable index */
static int index_try_open(struct cat_index *x, bool *fresh, struct cf_err *e)
{
    sqlite3_stmt *st = NULL;
    int rc;

    rc = sqlite3_open_v2(x->path, &x->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                         SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        return x->db ? cat_db_err(x, rc, "open", e)
                     : cf_err_set(e, CF_E_NOMEM, "unable to open catalog index");
    sqlite3_busy_timeout(x->db, CAT_BUSY_MS);
    /* A cache: losing the last commit in a power cut is fine (the repository has it), a
     * torn file is not. WAL with synchronous=NORMAL gives exactly that, without an fsync per
     * command. A file that is not a database fails here already. */
    rc = sqlite3_exec(x->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL", NULL, NULL,
                      NULL);
    if (rc != SQLITE_OK)
        return cat_db_err(x, rc, "set up", e);
    rc = sqlite3_prepare_v2(x->db, "PRAGMA quick_check", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *res = (const char *)sqlite3_column_text(st, 0);
        if (res == NULL || strcmp(res, "ok") != 0) {
            cf_err_set(e, CF_E_CORRUPT, "catalog index '%s' is corrupted: %s", x->path,
                       res ? res : "?");
            sqlite3_finalize(st);
            return -1;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return cat_db_err(x, rc, "check", e);
    /* a new file has no tables yet */
    int have = 0;
    rc = sqlite3_prepare_v2(x->db, "SELECT value FROM meta WHERE key = 'schema'", -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        if (v != NULL && (strcmp(v, "1") == 0 || strcmp(v, "2") == 0 || strcmp(v, "3") == 0 ||
                          strcmp(v, "4") == 0 || strcmp(v, "5") == 0)) {
            sqlite3_finalize(st);
            return index_upgrade(x, e);
        }
        if (v == NULL || strcmp(v, CAT_SCHEMA) != 0) {
            cf_err_set(e, CF_E_CORRUPT, "catalog index '%s' has schema %s, not %s", x->path,
                       v ? v : "?", CAT_SCHEMA);
            sqlite3_finalize(st);
            return -1;
        }
        have = 1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK && rc != SQLITE_ERROR)   /* SQLITE_ERROR: no such table */
        return cat_db_err(x, rc, "read schema", e);
    if (!have) {
        char *msg = NULL;
        rc = sqlite3_exec(x->db, schema_sql, NULL, NULL, &msg);
        sqlite3_free(msg);
        if (rc != SQLITE_OK)
            return cat_db_err(x, rc, "create tables", e);
        *fresh = true;
    }
    return 0;
}

int cat_index_open(const char *path, struct cat_index **out, bool *fresh, struct cf_err *e)
{
    struct cat_index *x = cf_calloc(1, sizeof(*x));
    char *dir = fs_dirname(path);
    int fd;

    *fresh = false;
    x->path = cf_strdup(path);
    if (fs_mkdir_p(dir, 0700, e) != 0) {
        cf_err_ctx(e, "catalog index '%s'", path);
        goto fail;
    }
    /* create it private before SQLite does (it would follow the umask) */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        bool denied = errno == EACCES || errno == EPERM || errno == EROFS;
        cf_err_sys(e, CF_E_IO, "unable to open catalog index '%s'", path);
        if (denied) {
            size_t len = strlen(e->msg);
            snprintf(e->msg + len, sizeof(e->msg) - len, "; HINT: run as the user that owns it, "
                     "or set [catalog] path to a file this user may write");
        }
        goto fail;
    }
    close(fd);
    if (index_try_open(x, fresh, e) == 0)
        goto done;
    if (e->code != CF_E_CORRUPT)
        goto fail;
    /* a cache: keep the broken file for inspection and start again */
    sqlite3_close(x->db);
    x->db = NULL;
    char ts[32];
    time_format_compact(time(NULL), ts, sizeof(ts));
    char *aside = cf_asprintf("%s.broken-%s", path, ts);
    log_warn("%s; moved aside to '%s', rebuilding it from the repository", e->msg, aside);
    cf_err_clear(e);
    if (rename(path, aside) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to move the broken catalog index '%s' aside", path);
        free(aside);
        goto fail;
    }
    free(aside);
    static const char *const sidecars[] = { "-journal", "-wal", "-shm" };
    for (size_t i = 0; i < sizeof(sidecars) / sizeof(*sidecars); i++) {
        char *j = cf_asprintf("%s%s", path, sidecars[i]);
        unlink(j);
        free(j);
    }
    fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    if (index_try_open(x, fresh, e) != 0)
        goto fail;
    *fresh = true;
done:
    free(dir);
    *out = x;
    return 0;
fail:
    free(dir);
    cat_index_close(x);
    return -1;
}

void cat_index_close(struct cat_index *x)
{
    if (x == NULL)
        return;
    sqlite3_close(x->db);
    free(x->path);
    free(x);
}

static int exec_simple(struct cat_index *x, const char *sql, struct cf_err *e)
{
    int rc = sqlite3_exec(x->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : cat_db_err(x, rc, sql, e);
}

int cat_index_begin(struct cat_index *x, struct cf_err *e)
{
    /* IMMEDIATE: take the write lock now, so a busy index fails here and not half-way */
    return exec_simple(x, "BEGIN IMMEDIATE", e);
}

int cat_index_commit(struct cat_index *x, struct cf_err *e)
{
    return exec_simple(x, "COMMIT", e);
}

void cat_index_rollback(struct cat_index *x)
{
    sqlite3_exec(x->db, "ROLLBACK", NULL, NULL, NULL);
}

void cat_bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s == NULL)
        sqlite3_bind_null(st, i);
    else
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
}

/* run a statement that returns no rows; finalizes it */
int cat_step_done(struct cat_index *x, sqlite3_stmt *st, const char *what, struct cf_err *e)
{
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : cat_db_err(x, rc, what, e);
}

int cat_prepare(struct cat_index *x, const char *sql, sqlite3_stmt **st, struct cf_err *e)
{
    int rc = sqlite3_prepare_v2(x->db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? 0 : cat_db_err(x, rc, "prepare", e);
}

int cat_index_put(struct cat_index *x, const struct cat_row *r, struct cf_err *e)
{
    sqlite3_stmt *st;
    /* verify results survive a refresh of the rest of the row */
    static const char sql[] =
        "INSERT INTO backups(" COLS ") VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,"
        "?15,?16,?17,?18,?19,?20,?21,?22,?23,?24) ON CONFLICT(repo, source, id) DO UPDATE SET "
        "time=?4, kind=?5, job=?6, started=?7, finished=?8, consistency=?9, bytes_in=?10, "
        "bytes_stored=?11, objects=?12, tool_version=?13, status=?14, damage=?15, details=?16,"
        " pinned=?17, pin_reason=?18, pinned_at=?19, "
        "verify=CASE WHEN ?20 = 0 THEN verify ELSE ?20 END, "
        "verify_quick=CASE WHEN ?20 = 0 THEN verify_quick ELSE ?21 END, "
        "verified_at=CASE WHEN ?20 = 0 THEN verified_at ELSE ?22 END, "
        "verify_error=CASE WHEN ?20 = 0 THEN verify_error ELSE ?23 END, gone_at=?24";

    if (cat_prepare(x, sql, &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, r->repo);
    cat_bind_text(st, 2, r->source);
    cat_bind_text(st, 3, r->id);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)r->time);
    cat_bind_text(st, 5, r->kind);
    cat_bind_text(st, 6, r->job);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)r->started);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)r->finished);
    cat_bind_text(st, 9, r->consistency);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)r->bytes_in);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)r->bytes_stored);
    sqlite3_bind_int64(st, 12, (sqlite3_int64)r->objects);
    cat_bind_text(st, 13, r->tool_version);
    sqlite3_bind_int(st, 14, (int)r->status);
    cat_bind_text(st, 15, r->damage);
    sqlite3_bind_int(st, 16, r->details);
    sqlite3_bind_int(st, 17, r->pinned);
    cat_bind_text(st, 18, r->pin_reason);
    sqlite3_bind_int64(st, 19, (sqlite3_int64)r->pinned_at);
    sqlite3_bind_int(st, 20, (int)r->verify);
    sqlite3_bind_int(st, 21, r->verify_quick);
    sqlite3_bind_int64(st, 22, (sqlite3_int64)r->verified_at);
    cat_bind_text(st, 23, r->verify_error);
    sqlite3_bind_int64(st, 24, (sqlite3_int64)r->gone_at);
    return cat_step_done(x, st, "write a backup row", e);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? cf_strdup((const char *)s) : NULL;
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", s ? (const char *)s : "");
}

static void row_read(sqlite3_stmt *st, struct cat_row *r)
{
    memset(r, 0, sizeof(*r));
    col_copy(st, 0, r->repo, sizeof(r->repo));
    col_copy(st, 1, r->source, sizeof(r->source));
    col_copy(st, 2, r->id, sizeof(r->id));
    r->time = (time_t)sqlite3_column_int64(st, 3);
    col_copy(st, 4, r->kind, sizeof(r->kind));
    col_copy(st, 5, r->job, sizeof(r->job));
    r->started = (time_t)sqlite3_column_int64(st, 6);
    r->finished = (time_t)sqlite3_column_int64(st, 7);
    r->consistency = col_dup(st, 8);
    r->bytes_in = (uint64_t)sqlite3_column_int64(st, 9);
    r->bytes_stored = (uint64_t)sqlite3_column_int64(st, 10);
    r->objects = (uint64_t)sqlite3_column_int64(st, 11);
    col_copy(st, 12, r->tool_version, sizeof(r->tool_version));
    r->status = (enum cat_status)sqlite3_column_int(st, 13);
    r->damage = col_dup(st, 14);
    r->details = sqlite3_column_int(st, 15) != 0;
    r->pinned = sqlite3_column_int(st, 16) != 0;
    r->pin_reason = col_dup(st, 17);
    r->pinned_at = (time_t)sqlite3_column_int64(st, 18);
    r->verify = (enum cat_verify)sqlite3_column_int(st, 19);
    r->verify_quick = sqlite3_column_int(st, 20) != 0;
    r->verified_at = (time_t)sqlite3_column_int64(st, 21);
    r->verify_error = col_dup(st, 22);
    r->gone_at = (time_t)sqlite3_column_int64(st, 23);
}

/* collect every row of a prepared query; finalizes it */
static int rows_collect(struct cat_index *x, sqlite3_stmt *st, struct cat_row **rows, size_t *n,
                        struct cf_err *e)
{
    struct cat_row *v = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 64;
            v = cf_realloc(v, cap * sizeof(*v));
        }
        row_read(st, &v[cnt++]);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        cat_rows_free(v, cnt);
        return cat_db_err(x, rc, "read backups", e);
    }
    *rows = v;
    *n = cnt;
    return 0;
}

int cat_index_get(struct cat_index *x, const char *repo, const char *source, const char *id,
                  struct cat_row *out, struct cf_err *e)
{
    sqlite3_stmt *st;
    struct cat_row *rows = NULL;
    size_t n = 0;

    if (cat_prepare(x, "SELECT " COLS " FROM backups WHERE (?1 IS NULL OR repo = ?1) AND "
                   "(?2 IS NULL OR source = ?2) AND id = ?3 ORDER BY status LIMIT 1",
                &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, source);
    cat_bind_text(st, 3, id);
    if (rows_collect(x, st, &rows, &n, e) != 0)
        return -1;
    if (n == 0)
        return cf_err_set(e, CF_E_NOTFOUND, "no backup '%s'%s%s in the catalog; HINT: `catalog "
                          "list` shows the backups there are", id, source ? " of source " : "",
                          source ? source : "");
    *out = rows[0];
    free(rows);
    return 0;
}

int cat_index_query(struct cat_index *x, const struct cat_filter *f, struct cat_row **rows,
                    size_t *n, struct cf_err *e)
{
    sqlite3_stmt *st;

    if (cat_prepare(x, "SELECT " COLS " FROM backups WHERE (?1 IS NULL OR repo = ?1) AND "
                   "(?2 IS NULL OR source = ?2) AND (?3 IS NULL OR job = ?3) AND "
                   "(?4 = 0 OR time >= ?4) AND (?5 = 0 OR time <= ?5) AND (?6 OR status != 2) "
                   "ORDER BY source, time, id",
                &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, f->repo);
    cat_bind_text(st, 2, f->source);
    cat_bind_text(st, 3, f->job);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)f->since);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)f->until);
    sqlite3_bind_int(st, 6, f->with_pruned);
    return rows_collect(x, st, rows, n, e);
}

/* cat_index_at()'s judge: for a replay, the dump must have finished before the moment */
struct at_ctx {
    const struct cat_row *rows;
    struct repo_when w;
    ssize_t late;   /* the newest passed over, -1: none */
};

static int at_judge(void *arg, size_t i)
{
    struct at_ctx *c = arg;
    if (repo_when_base_ok(c->w, c->rows[i].finished))
        return REPO_TAKE;
    if (c->late < 0)
        c->late = (ssize_t)i;
    return REPO_PASS;
}

int cat_index_at(struct cat_index *x, const char *repo, const char *source,
                 struct repo_when w, struct cat_row *out, struct cf_err *e)
{
    sqlite3_stmt *st;
    struct cat_row *rows = NULL;
    size_t n = 0;
    ssize_t k;
    char when[32];
    struct at_ctx c = { NULL, w, -1 };

    /* the complete backups, oldest first; repo_choose_at() decides which is at @w */
    if (cat_prepare(x, "SELECT " COLS " FROM backups WHERE (?1 IS NULL OR repo = ?1) AND "
                   "source = ?2 AND status = 0 ORDER BY time, id",
                &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, source);
    if (rows_collect(x, st, &rows, &n, e) != 0)
        return -1;
    c.rows = rows;
    k = repo_choose_at(rows, n, sizeof(*rows), offsetof(struct cat_row, time), w, at_judge, &c);
    if (k < 0 && c.late >= 0) {
        repo_when_late_err(e, source, w, rows[c.late].id, rows[c.late].finished);
        cat_rows_free(rows, n);
        return -1;
    }
    if (k < 0) {
        cat_rows_free(rows, n);
        if (w.latest)
            return cf_err_set(e, CF_E_NOTFOUND, "no complete backup of source '%s'", source);
        repo_when_format(w, when, sizeof(when));
        return cf_err_set(e, CF_E_NOTFOUND, "no complete backup of source '%s' at or before %s",
                          source, when);
    }
    *out = rows[k];
    memset(&rows[k], 0, sizeof(rows[k]));
    cat_rows_free(rows, n);
    return 0;
}

/* prepare an UPDATE of one row: ?1 repo, ?2 source, ?3 id are bound here */
static int prepare_row(struct cat_index *x, const char *sql, const char *repo, const char *source,
                       const char *id, sqlite3_stmt **st, struct cf_err *e)
{
    if (cat_prepare(x, sql, st, e) != 0)
        return -1;
    cat_bind_text(*st, 1, repo);
    cat_bind_text(*st, 2, source);
    cat_bind_text(*st, 3, id);
    return 0;
}

int cat_index_set_status(struct cat_index *x, const char *repo, const char *source,
                         const char *id, enum cat_status s, const char *damage,
                         struct cf_err *e)
{
    sqlite3_stmt *st;
    if (prepare_row(x, "UPDATE backups SET status = ?4, damage = ?5, gone_at = CASE WHEN ?4 < 2 "
                   "THEN 0 WHEN status >= 2 AND gone_at != 0 THEN gone_at ELSE ?6 END WHERE "
                   "repo = ?1 AND source = ?2 AND id = ?3", repo, source, id, &st, e) != 0)
        return -1;
    sqlite3_bind_int(st, 4, (int)s);
    cat_bind_text(st, 5, damage);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)time(NULL));
    return cat_step_done(x, st, "update a status", e);
}

int cat_index_set_pin(struct cat_index *x, const char *repo, const char *source, const char *id,
                      bool pinned, const char *reason, time_t at, struct cf_err *e)
{
    sqlite3_stmt *st;
    if (prepare_row(x, "UPDATE backups SET pinned = ?4, pin_reason = ?5, pinned_at = ?6 WHERE "
                   "repo = ?1 AND source = ?2 AND id = ?3", repo, source, id, &st, e) != 0)
        return -1;
    sqlite3_bind_int(st, 4, pinned);
    cat_bind_text(st, 5, pinned ? reason : NULL);
    sqlite3_bind_int64(st, 6, pinned ? (sqlite3_int64)at : 0);
    return cat_step_done(x, st, "update a pin", e);
}

int cat_index_set_verify(struct cat_index *x, const char *repo, const char *source,
                         const char *id, enum cat_verify v, bool quick, time_t at,
                         const char *error, struct cf_err *e)
{
    sqlite3_stmt *st;
    if (prepare_row(x, "UPDATE backups SET verify = ?4, verify_quick = ?5, verified_at = ?6, "
                   "verify_error = ?7 WHERE repo = ?1 AND source = ?2 AND id = ?3", repo, source, id, &st, e) != 0)
        return -1;
    sqlite3_bind_int(st, 4, (int)v);
    sqlite3_bind_int(st, 5, quick);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)at);
    cat_bind_text(st, 7, error);
    return cat_step_done(x, st, "record a verify result", e);
}

int cat_index_meta_set(struct cat_index *x, const char *key, const char *value,
                       struct cf_err *e)
{
    sqlite3_stmt *st;
    if (cat_prepare(x, "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, key);
    cat_bind_text(st, 2, value);
    return cat_step_done(x, st, "write meta", e);
}

int cat_index_meta_get(struct cat_index *x, const char *key, char *out, size_t cap,
                       struct cf_err *e)
{
    sqlite3_stmt *st;
    int rc;
    if (cat_prepare(x, "SELECT value FROM meta WHERE key = ?1", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, key);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out, cap, "%s", (const char *)sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE)
        return cf_err_set(e, CF_E_NOTFOUND, "no '%s' in the catalog index", key);
    return cat_db_err(x, rc, "read meta", e);
}

int cat_index_forget(struct cat_index *x, const char *repo, struct cf_err *e)
{
    sqlite3_stmt *st;
    if (cat_prepare(x, "DELETE FROM backups WHERE repo = ?1 AND status != 3", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    return cat_step_done(x, st, "drop rows", e);
}

void cat_row_clear(struct cat_row *r)
{
    if (r == NULL)
        return;
    free(r->consistency);
    free(r->damage);
    free(r->pin_reason);
    free(r->verify_error);
    r->consistency = r->damage = r->pin_reason = r->verify_error = NULL;
}

void cat_rows_free(struct cat_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cat_row_clear(&rows[i]);
    free(rows);
}

const char *cat_status_name(enum cat_status s)
{
    switch (s) {
    case CAT_COMPLETE: return "complete";
    case CAT_DAMAGED: return "damaged";
    case CAT_VANISHED: return "vanished";
    default: return "pruned";
    }
}

const char *cat_verify_name(enum cat_verify v)
{
    switch (v) {
    case CAT_VERIFY_OK: return "ok";
    case CAT_VERIFY_FAILED: return "failed";
    default: return "never";
    }
}

void cat_row_from_manifest(const struct manifest *m, struct cat_row *r)
{
    if (m->kind[0])
        snprintf(r->kind, sizeof(r->kind), "%s", m->kind);
    if (m->job[0])
        snprintf(r->job, sizeof(r->job), "%s", m->job);
    if (m->tool[0])
        snprintf(r->tool_version, sizeof(r->tool_version), "%s", m->tool);
    r->started = m->started;
    r->finished = m->finished;
    r->bytes_in = m->bytes_in;
    r->bytes_stored = m->bytes_stored;
    r->objects = m->nobjects;
    free(r->consistency);
    r->consistency = m->consistency ? json_dumps(m->consistency, JSON_COMPACT | JSON_SORT_KEYS |
                                                                    JSON_ENCODE_ANY)
                                    : NULL;
    r->details = true;
}
