/* mig_run.c - the migrate commands: configuration, history, lock, plan and apply. */
#include "mig.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../lib/config/conf.h"
#include "../lib/config/ini.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/source/source.h"
#include "../lib/source/src_child.h"

#define HIST_COLS "version, name, checksum, applied_at, duration_ms, applied_by, status, " \
                  "snapshot, run_id, failed_statement, error"

struct mig_hist {
    uint64_t version;
    char *name, *checksum, *applied_at, *applied_by, *status, *snapshot, *run_id;
    char *failed_statement, *error;
    int64_t duration_ms;
};

struct ctx {
    const struct mig_opts *o;
    int exit;                      /* exit code for the error in flight */
    struct ini *ini;
    const struct ini_section *sec;
    const struct mig_engine_ops *ops;
    char *dir;
    char *database;
    char *password;
    struct mig_conn_cfg cc;
    void *db;
    bool locked;
    struct mig_set files;
    struct mig_hist *h;
    size_t nh;
    bool have_table;
    char who[320];
    json_t *out;                   /* --json result */
};

/* ---------- small helpers ---------- */

static bool is_status(const struct mig_hist *h, const char *s)
{
    return strcmp(h->status, s) == 0;
}

static const struct mig_hist *hist_find(const struct ctx *c, uint64_t v)
{
    for (size_t i = 0; i < c->nh; i++)
        if (c->h[i].version == v)
            return &c->h[i];
    return NULL;
}

static void hist_free(struct ctx *c)
{
    for (size_t i = 0; i < c->nh; i++) {
        struct mig_hist *h = &c->h[i];
        free(h->name);
        free(h->checksum);
        free(h->applied_at);
        free(h->applied_by);
        free(h->status);
        free(h->snapshot);
        free(h->run_id);
        free(h->failed_statement);
        free(h->error);
    }
    free(c->h);
    c->h = NULL;
    c->nh = 0;
}

static char *dup_or_null(const char *s)
{
    return s ? cf_strdup(s) : NULL;
}

/* "migrate --config F --source S [--database D]": the start of every command we suggest */
static char *cmd_prefix(const struct ctx *c)
{
    const struct mig_opts *o = c->o;
    return cf_asprintf("migrate --config %s --source %s%s%s%s%s", o->config, o->source,
                       o->database ? " --database " : "", o->database ? o->database : "",
                       o->dir ? " --dir " : "", o->dir ? o->dir : "");
}

static void who_am_i(struct ctx *c)
{
    struct passwd *pw = getpwuid(geteuid());
    char host[256] = "unknown";

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(c->who, sizeof(c->who), "%s@%s", pw ? pw->pw_name : "unknown", host);
}

/* "20261122T031500.123Z-1a2b3c4d": runs are serialised by the lock and each takes more than
 * a millisecond, so the latest run has the greatest id */
static void new_run_id(char *out, size_t cap)
{
    struct timespec now;
    struct tm tm;
    char ts[32];
    unsigned char r[4];
    char hex[9];

    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof(ts), "%Y%m%dT%H%M%S", &tm);
    randombytes_buf(r, sizeof(r));
    hex_encode(r, sizeof(r), hex);
    snprintf(out, cap, "%s.%03ldZ-%s", ts, now.tv_nsec / 1000000, hex);
}

static void print_stmts(const struct mig_stmts *st)
{
    for (size_t i = 0; i < st->n; i++)
        printf("%s;\n", st->s[i].sql);
}

static json_t *stmts_json(const struct mig_stmts *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < st->n; i++)
        json_array_append_new(a, json_string(st->s[i].sql));
    return a;
}

/* ---------- configuration ---------- */

static int load_config(struct ctx *c, struct cf_err *e)
{
    const struct mig_opts *o = c->o;
    const char *type, *mig, *host, *sock, *user, *pwfile;
    char **dbs = NULL;
    size_t ndb = 0;
    long port;
    int rc = -1;

    if (ini_parse_file(o->config, &c->ini, e) != 0)
        return -1;
    c->sec = ini_find(c->ini, "source", o->source);
    if (c->sec == NULL)
        return cf_err_set(e, CF_E_CONFIG, "%s: no [source %s] section", o->config, o->source);
    if (ini_require_str(c->sec, "type", &type, e) != 0)
        return -1;
    if (strcmp(type, "postgres") == 0)
        c->ops = &mig_pg_ops;
    else if (strcmp(type, "mariadb") == 0)
        c->ops = &mig_maria_ops;
    else
        return ini_err(c->sec, "type", e, "migrate works on postgres and mariadb sources, "
                       "not on type '%s'", type);
    /* the section as the backup side reads it: unknown keys, bad values, file modes */
    {
        struct source *src = NULL;
        if (source_open(c->sec, &src, e) != 0)
            return -1;
        source_close(src);
    }
    if (ini_get_str(c->sec, "migrations", NULL, &mig, e) != 0 ||
        ini_get_str(c->sec, "host", NULL, &host, e) != 0 ||
        ini_get_str(c->sec, "socket", NULL, &sock, e) != 0 ||
        ini_get_str(c->sec, "user", NULL, &user, e) != 0 ||
        ini_get_str(c->sec, "password-file", NULL, &pwfile, e) != 0 ||
        ini_get_int(c->sec, "port", 0, 0, 65535, &port, e) != 0 ||
        ini_get_list(c->sec, "databases", &dbs, &ndb, e) != 0)
        goto out;
    if (o->dir != NULL) {
        c->dir = cf_strdup(o->dir);
    } else if (mig != NULL) {
        char *base = fs_dirname(o->config);
        c->dir = mig[0] == '/' ? cf_strdup(mig) : cf_asprintf("%s/%s", base, mig);
        free(base);
    } else {
        ini_err(c->sec, NULL, e, "no migrations directory; HINT: set migrations = PATH in this "
                "section or give --dir PATH");
        c->exit = MIG_EXIT_USAGE;
        goto out;
    }
    if (o->database != NULL) {
        bool listed = ndb == 0;
        for (size_t i = 0; i < ndb; i++)
            listed = listed || strcmp(dbs[i], o->database) == 0;
        if (!listed) {
            ini_err(c->sec, "databases", e, "--database %s is not one of this source's "
                    "databases", o->database);
            goto out;
        }
        c->database = cf_strdup(o->database);
    } else if (ndb == 1) {
        c->database = cf_strdup(dbs[0]);
    } else {
        ini_err(c->sec, "databases", e, ndb == 0 ? "no database to migrate; HINT: set "
                "databases = NAME or give --database NAME" : "names several databases; HINT: "
                "choose one with --database NAME");
        goto out;
    }
    if (pwfile != NULL) {
        struct buf b = BUF_INIT;
        if (fs_read_secret(pwfile, "password-file", &b, e) != 0) {
            buf_free(&b);
            cf_err_ctx(e, "[source %s]", o->source);
            goto out;
        }
        c->password = b.data;
    }
    if (!src_name_is_safe(c->database)) {
        ini_err(c->sec, "databases", e, "'%s' is not a database name coffer accepts (1-64 "
                "bytes, no quotes, backticks or control characters)", c->database);
        goto out;
    }
    c->cc.host = host;
    c->cc.socket = sock;
    c->cc.port = (unsigned)port;
    c->cc.user = user;
    c->cc.password = c->password;
    c->cc.database = c->database;
    rc = 0;
out:
    ini_list_free(dbs, ndb);
    if (rc != 0 && c->exit == 0)
        c->exit = MIG_EXIT_USAGE;
    return rc;
}

/* ---------- history ---------- */

static int hist_load(struct ctx *c, struct cf_err *e)
{
    struct mig_rows r;

    hist_free(c);
    if (c->ops->query(c->db, c->ops->history_exists, &r, e) != 0)
        return cf_err_ctx(e, "reading the migration history");
    c->have_table = r.nrows > 0;
    mig_rows_free(&r);
    if (!c->have_table)
        return 0;
    char *sql = cf_asprintf("SELECT version, name, checksum, %s, duration_ms, applied_by, "
                            "status, snapshot, run_id, failed_statement, error "
                            "FROM coffer_schema_history ORDER BY version", c->ops->applied_at_expr);
    int rc = c->ops->query(c->db, sql, &r, e);
    free(sql);
    if (rc != 0)
        return cf_err_ctx(e, "reading coffer_schema_history");
    c->h = cf_calloc(r.nrows + 1, sizeof(*c->h));
    for (size_t i = 0; i < r.nrows; i++) {
        struct mig_hist *h = &c->h[c->nh++];
        h->version = strtoull(MIG_CELL(&r, i, 0), NULL, 10);
        h->name = dup_or_null(MIG_CELL(&r, i, 1));
        h->checksum = dup_or_null(MIG_CELL(&r, i, 2));
        h->applied_at = dup_or_null(MIG_CELL(&r, i, 3));
        h->duration_ms = MIG_CELL(&r, i, 4) ? strtoll(MIG_CELL(&r, i, 4), NULL, 10) : 0;
        h->applied_by = dup_or_null(MIG_CELL(&r, i, 5));
        h->status = cf_strdup(MIG_CELL(&r, i, 6) ? MIG_CELL(&r, i, 6) : "failed");
        h->snapshot = dup_or_null(MIG_CELL(&r, i, 7));
        h->run_id = dup_or_null(MIG_CELL(&r, i, 8));
        h->failed_statement = dup_or_null(MIG_CELL(&r, i, 9));
        h->error = dup_or_null(MIG_CELL(&r, i, 10));
    }
    mig_rows_free(&r);
    return 0;
}

static int hist_ensure(struct ctx *c, struct cf_err *e)
{
    if (c->ops->exec(c->db, c->ops->history_ddl, e) != 0)
        return cf_err_ctx(e, "creating coffer_schema_history");
    return 0;
}

static char *q_or_null(struct ctx *c, const char *s)
{
    return s ? c->ops->quote(c->db, s) : cf_strdup("NULL");
}

/* the row of one migration, inserted or replaced */
struct hist_row {
    uint64_t version;
    const char *name, *checksum, *status, *snapshot, *run_id, *failed_statement, *error;
    int64_t duration_ms;
};

static int hist_write(struct ctx *c, const struct hist_row *w, struct cf_err *e)
{
    char *name = c->ops->quote(c->db, w->name), *sum = c->ops->quote(c->db, w->checksum);
    char *who = c->ops->quote(c->db, c->who), *st = c->ops->quote(c->db, w->status);
    char *snap = q_or_null(c, w->snapshot), *run = q_or_null(c, w->run_id);
    char *fs = q_or_null(c, w->failed_statement), *er = q_or_null(c, w->error);
    char *sql = cf_asprintf("INSERT INTO coffer_schema_history (" HIST_COLS ") VALUES (%" PRIu64
                            ", %s, %s, %s, %" PRId64 ", %s, %s, %s, %s, %s, %s)%s",
                            w->version, name, sum, c->ops->now_expr, w->duration_ms, who, st,
                            snap, run, fs, er, c->ops->upsert_tail);
    int rc = c->ops->exec(c->db, sql, e);

    if (rc != 0)
        cf_err_ctx(e, "recording version %" PRIu64 " as %s in coffer_schema_history",
                   w->version, w->status);
    free(sql);
    free(er);
    free(fs);
    free(run);
    free(snap);
    free(st);
    free(who);
    free(sum);
    free(name);
    return rc;
}

/* a row as it is, with a new status and error (repair, rollback) */
static int hist_set_status(struct ctx *c, const struct mig_hist *h, const char *status,
                           const char *error, struct cf_err *e)
{
    struct hist_row w = { h->version, h->name, h->checksum, status, h->snapshot, h->run_id,
                          h->failed_statement, error, h->duration_ms };
    return hist_write(c, &w, e);
}

/* ---------- lock ---------- */

static int lock_take(struct ctx *c, struct cf_err *e)
{
    uint64_t start = time_mono_ms();
    bool said = false;

    for (;;) {
        int r = c->ops->lock_try(c->db, c->database, e);
        if (r < 0)
            return cf_err_ctx(e, "taking the migration lock");
        if (r == 1) {
            c->locked = true;
            if (said)
                log_info("migration lock taken database=%s waited_ms=%" PRIu64, c->database,
                         time_mono_ms() - start);
            return 0;
        }
        if (time_mono_ms() - start >= (uint64_t)c->o->lock_timeout_ms) {
            c->exit = MIG_EXIT_LOCKED;
            return cf_err_set(e, CF_E_LOCKED,
                              "another migrate run holds the lock on database '%s' (waited %" PRId64
                              " ms); HINT: wait for it to finish, or raise --lock-timeout; a "
                              "killed runner's lock goes with its session", c->database,
                              c->o->lock_timeout_ms);
        }
        if (!said) {
            log_info("waiting for the migration lock database=%s timeout_ms=%" PRId64,
                     c->database, c->o->lock_timeout_ms);
            said = true;
        }
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
}

static void lock_release(struct ctx *c)
{
    if (c->locked)
        c->ops->unlock(c->db, c->database);
    c->locked = false;
}

/* ---------- checks every changing command makes first ---------- */

/* Applied rows whose file changed or is gone. Sets the exit code and the error. */
static int check_drift(struct ctx *c, struct cf_err *e)
{
    struct buf list = BUF_INIT;
    size_t n = 0;
    uint64_t first = 0;

    for (size_t i = 0; i < c->nh; i++) {
        const struct mig_hist *h = &c->h[i];
        const struct mig_file *f = mig_set_find(&c->files, h->version);
        if (!is_status(h, "applied"))
            continue;
        if (f == NULL)
            buf_printf(&list, "%s%" PRIu64 " (file missing)", n ? ", " : "", h->version);
        else if (strcmp(f->checksum, h->checksum) != 0)
            buf_printf(&list, "%s%" PRIu64 " (%s changed)", n ? ", " : "", h->version,
                       strrchr(f->up_path, '/') + 1);
        else
            continue;
        if (n++ == 0)
            first = h->version;
    }
    if (n == 0) {
        buf_free(&list);
        return 0;
    }
    char *pre = cmd_prefix(c);
    c->exit = MIG_EXIT_DRIFT;
    cf_err_set(e, CF_E_CORRUPT,
               "applied migrations differ from their files: %s; HINT: restore the applied "
               "version of each file, or accept an intended edit with `%s accept-checksum %"
               PRIu64 "`", list.data, pre, first);
    free(pre);
    buf_free(&list);
    return -1;
}

static const struct mig_hist *first_failed(const struct ctx *c)
{
    for (size_t i = 0; i < c->nh; i++)
        if (is_status(&c->h[i], "failed"))
            return &c->h[i];
    return NULL;
}

static int failed_error(struct ctx *c, const struct mig_hist *h, struct cf_err *e)
{
    char *pre = cmd_prefix(c);
    char *how = h->snapshot
                    ? cf_asprintf("`%s rollback --restore-snapshot` brings it back to snapshot %s; "
                                  "or fix it by hand and run `%s repair`", pre, h->snapshot, pre)
                    : cf_asprintf("no snapshot was taken for that run (--no-snapshot): fix it by "
                                  "hand and run `%s repair`", pre);
    c->exit = MIG_EXIT_NEEDS_ROLLBACK;
    cf_err_set(e, CF_E_SOURCE,
               "migration %" PRIu64 " (%s) failed partway%s%s%s%s: the database needs a rollback "
               "first; HINT: %s", h->version, h->name, h->error ? ": " : "",
               h->error ? h->error : "", h->failed_statement ? " in: " : "",
               h->failed_statement ? h->failed_statement : "", how);
    free(how);
    free(pre);
    return -1;
}

/* ---------- running scripts ---------- */

enum script_kind { SCRIPT_UP, SCRIPT_DOWN };

/* Run the statements of @f's up or down script and record the outcome.
 * Returns 0, or -1 with c->exit MIG_EXIT_FAILED (nothing changed: the transaction was rolled
 * back) or MIG_EXIT_NEEDS_ROLLBACK (statements ran before the failure). */
static int run_script(struct ctx *c, const struct mig_file *f, const struct mig_hist *old,
                      enum script_kind kind, const struct mig_stmts *st, const char *snapshot,
                      const char *run_id, struct cf_err *e)
{
    bool no_tx = kind == SCRIPT_UP ? f->no_tx : f->down_no_tx;
    bool tx = c->ops->transactional_ddl && !no_tx;
    const char *done = kind == SCRIPT_UP ? "applied" : "rolled_back";
    const char *what = kind == SCRIPT_UP ? "up" : "down";
    struct hist_row w = { f->version, f->name, f->checksum, done, snapshot, run_id, NULL, NULL,
                          0 };
    uint64_t t0 = time_mono_ms();
    struct cf_err se = CF_ERR_INIT;
    size_t i = 0;

    if (kind == SCRIPT_DOWN && old != NULL) {
        w.checksum = old->checksum;
        w.snapshot = old->snapshot;
        w.run_id = old->run_id;
    }
    log_info("%s version=%" PRIu64 " name=%s statements=%zu transaction=%s", kind == SCRIPT_UP
             ? "applying" : "reverting", f->version, f->name, st->n, tx ? "yes" : "no");
    if (tx) {
        if (c->ops->exec(c->db, "BEGIN", e) != 0)
            return cf_err_ctx(e, "starting the transaction of version %" PRIu64, f->version);
    } else {
        /* a killed runner leaves this row behind: the migration did not finish */
        struct hist_row m = w;
        m.status = "failed";
        m.error = "interrupted: the runner stopped before this script finished";
        if (hist_write(c, &m, e) != 0)
            return -1;
    }
    for (i = 0; i < st->n; i++)
        if (c->ops->exec(c->db, st->s[i].sql, &se) != 0)
            break;
    w.duration_ms = (int64_t)(time_mono_ms() - t0);
    if (i == st->n) {
        if (hist_write(c, &w, e) != 0 || (tx && c->ops->exec(c->db, "COMMIT", e) != 0)) {
            if (tx) {
                struct cf_err ignore = CF_ERR_INIT;
                c->ops->exec(c->db, "ROLLBACK", &ignore);
                c->exit = MIG_EXIT_FAILED;
            } else {
                c->exit = MIG_EXIT_NEEDS_ROLLBACK;
            }
            return cf_err_ctx(e, "version %" PRIu64 " (%s)", f->version, f->name);
        }
        log_info("%s version=%" PRIu64 " name=%s ms=%" PRId64, done, f->version, f->name,
                 w.duration_ms);
        return 0;
    }
    /* statement i failed */
    const char *stmt = st->s[i].sql;
    int line = st->s[i].line;
    const char *path = kind == SCRIPT_UP ? f->up_path : f->down_path;
    if (tx) {
        struct cf_err ignore = CF_ERR_INIT;
        c->ops->exec(c->db, "ROLLBACK", &ignore);
        c->exit = MIG_EXIT_FAILED;
        if (kind == SCRIPT_UP) {
            /* attempted and rolled back: pending again, with the error kept for status */
            struct hist_row r = w;
            r.status = "rolled_back";
            r.failed_statement = stmt;
            r.error = se.msg;
            if (hist_write(c, &r, e) != 0)
                return -1;
        }
        return cf_err_set(e, CF_E_SOURCE,
                          "%s script of version %" PRIu64 " (%s) failed at %s:%d, rolled back: "
                          "the database is as it was before it: %s", what, f->version, f->name,
                          path, line, se.msg);
    }
    struct hist_row r = w;
    r.status = "failed";
    r.failed_statement = stmt;
    r.error = se.msg;
    c->exit = MIG_EXIT_NEEDS_ROLLBACK;
    if (hist_write(c, &r, e) != 0)
        return cf_err_ctx(e, "%s script of version %" PRIu64 " failed at %s:%d (%s), and",
                          what, f->version, path, line, se.msg);
    char *pre = cmd_prefix(c);
    if (snapshot != NULL && kind == SCRIPT_UP)
        cf_err_set(e, CF_E_SOURCE,
                   "%s script of version %" PRIu64 " (%s) failed at %s:%d after %zu of %zu "
                   "statements ran (they are not undone): %s; HINT: `%s rollback "
                   "--restore-snapshot` brings the database back to snapshot %s; or fix it by "
                   "hand and run `%s repair`", what, f->version, f->name, path, line, i, st->n,
                   se.msg, pre, snapshot, pre);
    else
        cf_err_set(e, CF_E_SOURCE,
                   "%s script of version %" PRIu64 " (%s) failed at %s:%d after %zu of %zu "
                   "statements ran (they are not undone): %s; HINT: %sfix the database by hand, "
                   "then run `%s repair`", what, f->version, f->name, path, line, i, st->n, se.msg,
                   kind == SCRIPT_UP ? "no snapshot was taken (--no-snapshot): " : "", pre);
    free(pre);
    return -1;
}

/* split @sql for @f or fail naming the file */
static int split_file(struct ctx *c, const char *sql, const char *path, struct mig_stmts *st,
                      struct cf_err *e)
{
    if (mig_split(c->ops->eng, sql, st, e) != 0) {
        c->exit = MIG_EXIT_USAGE;
        return cf_err_ctx(e, "%s", path);
    }
    if (st->n == 0) {
        c->exit = MIG_EXIT_USAGE;
        return cf_err_set(e, CF_E_USAGE, "%s: no statements (only comments)", path);
    }
    return 0;
}

/* PostgreSQL runs each script in its own transaction: a COMMIT inside would end it early */
static int check_tx_control(struct ctx *c, const char *path, bool no_tx,
                            const struct mig_stmts *st, struct cf_err *e)
{
    if (c->ops->eng != MIG_PG || no_tx)
        return 0;
    for (size_t i = 0; i < st->n; i++)
        if (mig_stmt_is_tx_control(st->s[i].sql)) {
            c->exit = MIG_EXIT_USAGE;
            return cf_err_set(e, CF_E_USAGE,
                              "%s:%d: '%.40s' controls the transaction, but each migration "
                              "already runs in its own; HINT: remove it, or make the first line "
                              "'" MIG_NO_TX_MARKER "' to run the file statement by statement",
                              path, st->s[i].line, st->s[i].sql);
        }
    return 0;
}

/* ---------- status and verify ---------- */

static const char *file_state(const struct ctx *c, const struct mig_file *f,
                              const struct mig_hist **hp)
{
    const struct mig_hist *h = hist_find(c, f->version);
    *hp = h;
    if (h == NULL || is_status(h, "rolled_back"))
        return "pending";
    if (is_status(h, "failed"))
        return "failed";
    return strcmp(h->checksum, f->checksum) == 0 ? "applied" : "drift";
}

static int cmd_status(struct ctx *c, bool verify_only, struct cf_err *e)
{
    size_t applied = 0, pending = 0, failed = 0, drift = 0, missing = 0;
    json_t *list = json_array();

    (void)e;
    if (!c->o->json)
        printf("source %s database %s (%s), migrations in %s\n", c->o->source, c->database,
               c->ops->name, c->dir);
    for (size_t i = 0; i < c->files.n; i++) {
        const struct mig_file *f = &c->files.f[i];
        const struct mig_hist *h;
        const char *state = file_state(c, f, &h);
        if (strcmp(state, "applied") == 0) applied++;
        else if (strcmp(state, "pending") == 0) pending++;
        else if (strcmp(state, "failed") == 0) failed++;
        else drift++;
        if (verify_only && strcmp(state, "pending") == 0)
            continue;
        json_t *j = json_pack("{s:I,s:s,s:s,s:s}", "version", (json_int_t)f->version, "name",
                              f->name, "state", state, "checksum", f->checksum);
        if (h != NULL) {
            json_object_set_new(j, "recorded_checksum", json_string(h->checksum));
            json_object_set_new(j, "applied_at", json_string(h->applied_at));
            json_object_set_new(j, "applied_by", json_string(h->applied_by));
            json_object_set_new(j, "duration_ms", json_integer(h->duration_ms));
            json_object_set_new(j, "status", json_string(h->status));
            json_object_set_new(j, "snapshot", h->snapshot ? json_string(h->snapshot) : json_null());
            if (h->error)
                json_object_set_new(j, "error", json_string(h->error));
            if (h->failed_statement)
                json_object_set_new(j, "failed_statement", json_string(h->failed_statement));
        }
        json_array_append_new(list, j);
        if (!c->o->json) {
            printf("  %-16s %-8s %-28s", f->vtext, state, f->name);
            if (h != NULL && strcmp(state, "pending") != 0)
                printf(" %s by %s%s%s", h->applied_at ? h->applied_at : "?",
                       h->applied_by ? h->applied_by : "?", h->snapshot ? " snapshot " : "",
                       h->snapshot ? h->snapshot : "");
            if (h != NULL && h->error && strcmp(state, "applied") != 0)
                printf("\n      last error: %s%s%s", h->error,
                       h->failed_statement ? "\n      in: " : "",
                       h->failed_statement ? h->failed_statement : "");
            if (strcmp(state, "drift") == 0)
                printf("\n      recorded %s, file %s", h->checksum, f->checksum);
            printf("\n");
        }
    }
    for (size_t i = 0; i < c->nh; i++) {
        const struct mig_hist *h = &c->h[i];
        if (mig_set_find(&c->files, h->version) != NULL || is_status(h, "rolled_back"))
            continue;
        missing++;
        json_array_append_new(list, json_pack("{s:I,s:s,s:s,s:s}", "version",
                                              (json_int_t)h->version, "name", h->name, "state",
                                              "missing", "status", h->status));
        if (!c->o->json)
            printf("  %-16" PRIu64 " %-8s %-28s %s, but its file is gone\n", h->version, "missing",
                   h->name, h->status);
    }
    int code = MIG_EXIT_OK;
    if (verify_only)
        code = drift || missing ? MIG_EXIT_DRIFT : MIG_EXIT_OK;
    else if (failed)
        code = MIG_EXIT_NEEDS_ROLLBACK;
    else if (drift || missing)
        code = MIG_EXIT_DRIFT;
    else if (pending)
        code = MIG_EXIT_PENDING;
    if (c->o->json) {
        c->out = json_pack("{s:s,s:s,s:s,s:s,s:o,s:I,s:I,s:I,s:I,s:I,s:i}", "source",
                           c->o->source, "database", c->database, "engine", c->ops->name,
                           "directory", c->dir, "migrations", list, "applied", (json_int_t)applied,
                           "pending", (json_int_t)pending, "failed", (json_int_t)failed, "drift",
                           (json_int_t)drift, "missing", (json_int_t)missing, "exit", code);
    } else {
        json_decref(list);
        printf("%zu applied, %zu pending, %zu failed, %zu drifted, %zu missing\n", applied,
               pending, failed, drift, missing);
    }
    if (verify_only && code != 0)
        log_error("checksum drift: applied migrations differ from their files (see above); "
                  "HINT: restore the files, or `migrate accept-checksum V` for an intended edit");
    return code;
}

/* ---------- up ---------- */

static int cmd_up(struct ctx *c, struct cf_err *e)
{
    const struct mig_file **todo = cf_calloc(c->files.n + 1, sizeof(*todo));
    struct mig_stmts *st = cf_calloc(c->files.n + 1, sizeof(*st));
    size_t n = 0;
    uint64_t max_applied = 0;
    bool any_applied = false;
    char snap[128] = "";
    char run_id[64];
    json_t *done = json_array();
    int rc = -1;

    if (!c->o->dry_run) {
        if (lock_take(c, e) != 0 || hist_ensure(c, e) != 0)
            goto out;
    }
    if (hist_load(c, e) != 0 || check_drift(c, e) != 0)
        goto out;
    const struct mig_hist *bad = first_failed(c);
    if (bad != NULL) {
        failed_error(c, bad, e);
        goto out;
    }
    for (size_t i = 0; i < c->nh; i++)
        if (is_status(&c->h[i], "applied")) {
            any_applied = true;
            if (c->h[i].version > max_applied)
                max_applied = c->h[i].version;
        }
    for (size_t i = 0; i < c->files.n; i++) {
        const struct mig_file *f = &c->files.f[i];
        const struct mig_hist *h = hist_find(c, f->version);
        if (h != NULL && !is_status(h, "rolled_back"))
            continue;
        if (c->o->has_to && f->version > c->o->to)
            break;
        if (any_applied && f->version < max_applied) {
            c->exit = MIG_EXIT_FAILED;
            cf_err_set(e, CF_E_USAGE,
                       "'%s' is pending but a later version (%" PRIu64 ") is already applied; "
                       "HINT: give it a version after %" PRIu64 " (rename the file), or revert "
                       "the later ones with `migrate down --to %" PRIu64 "` first",
                       f->up_path, max_applied, max_applied, f->version - 1);
            goto out;
        }
        if (split_file(c, f->up_sql, f->up_path, &st[n], e) != 0)
            goto out;
        todo[n++] = f;
    }
    if (n == 0) {
        if (c->o->json)
            c->out = json_pack("{s:s,s:s,s:o,s:b}", "source", c->o->source, "database",
                               c->database, "applied", json_array(), "dry_run", c->o->dry_run);
        else
            printf("nothing to apply: database %s is up to date\n", c->database);
        rc = 0;
        goto out;
    }
    if (c->o->dry_run) {
        json_t *plan = json_array();
        if (!c->o->json)
            printf("-- plan for database %s (%s): %zu migration(s), nothing is changed\n"
                   "-- snapshot: %s\n", c->database, c->ops->name, n,
                   c->o->no_snapshot ? "none (--no-snapshot)"
                                     : "a backup of this database through the repository, "
                                       "before the first migration");
        for (size_t i = 0; i < n; i++) {
            bool tx = c->ops->transactional_ddl && !todo[i]->no_tx;
            json_array_append_new(plan, json_pack("{s:I,s:s,s:s,s:b,s:o}", "version",
                                                  (json_int_t)todo[i]->version, "name",
                                                  todo[i]->name, "file", todo[i]->up_path,
                                                  "transaction", tx, "statements",
                                                  stmts_json(&st[i])));
            if (!c->o->json) {
                printf("\n-- version %s %s (%s)%s\n", todo[i]->vtext, todo[i]->name,
                       todo[i]->up_path, tx ? ", in one transaction" : ", statements one by one");
                print_stmts(&st[i]);
            }
        }
        if (c->o->json)
            c->out = json_pack("{s:s,s:s,s:b,s:s,s:o}", "source", c->o->source, "database",
                               c->database, "dry_run", 1, "snapshot",
                               c->o->no_snapshot ? "none" : "planned", "plan", plan);
        else
            json_decref(plan);
        rc = 0;
        goto out;
    }
    if (c->o->no_snapshot) {
        log_warn("no snapshot before apply (--no-snapshot) database=%s: a failed migration "
                 "cannot be undone by restoring one", c->database);
    } else {
        struct mig_snap s = { c->o->config, c->o->source, c->database, c->ops->eng,
                              c->ops->server_version(c->db), c->o->secret_key_file, &c->cc };
        uint64_t t0 = time_mono_ms();
        if (mig_snapshot_take(&s, snap, sizeof(snap), e) != 0) {
            c->exit = MIG_EXIT_SNAPSHOT;
            cf_err_ctx(e, "snapshot before apply failed, nothing was applied");
            goto out;
        }
        log_info("snapshot taken database=%s backup=%s ms=%" PRIu64, c->database, snap,
                 time_mono_ms() - t0);
    }
    new_run_id(run_id, sizeof(run_id));
    for (size_t i = 0; i < n; i++) {
        if (run_script(c, todo[i], hist_find(c, todo[i]->version), SCRIPT_UP, &st[i],
                       snap[0] ? snap : NULL, run_id, e) != 0)
            goto out;
        json_array_append_new(done, json_pack("{s:I,s:s}", "version",
                                              (json_int_t)todo[i]->version, "name",
                                              todo[i]->name));
        if (!c->o->json)
            printf("applied %s %s\n", todo[i]->vtext, todo[i]->name);
    }
    if (c->o->json)
        c->out = json_pack("{s:s,s:s,s:O,s:s?,s:s}", "source", c->o->source, "database",
                           c->database, "applied", done, "snapshot", snap[0] ? snap : NULL,
                           "run", run_id);
    else
        printf("%zu migration(s) applied to %s%s%s\n", n, c->database,
               snap[0] ? ", snapshot " : "", snap);
    rc = 0;
out:
    if (rc != 0 && c->o->json)
        c->out = json_pack("{s:s,s:s,s:O,s:s?,s:s}", "source", c->o->source, "database",
                           c->database, "applied", done, "snapshot", snap[0] ? snap : NULL,
                           "error", e->msg);
    json_decref(done);
    lock_release(c);
    for (size_t i = 0; i < c->files.n; i++)
        mig_stmts_free(&st[i]);
    free(st);
    free(todo);
    return rc;
}

/* ---------- down and rollback ---------- */

/* Revert the applied versions @v[0..n) in that order by their down scripts. All scripts are
 * checked (present, splittable) before the first runs. */
static int revert(struct ctx *c, const uint64_t *v, size_t n, struct cf_err *e)
{
    struct mig_stmts *st = cf_calloc(n + 1, sizeof(*st));
    const struct mig_file **f = cf_calloc(n + 1, sizeof(*f));
    json_t *done = json_array();
    char *pre = cmd_prefix(c);
    int rc = -1;

    for (size_t i = 0; i < n; i++) {
        f[i] = mig_set_find(&c->files, v[i]);
        if (f[i] == NULL || f[i]->down_sql == NULL) {
            c->exit = MIG_EXIT_FAILED;
            cf_err_set(e, CF_E_NOTFOUND,
                       "version %" PRIu64 " has no down script%s; nothing was reverted; HINT: "
                       "write '%s/%s_%s.down.sql', or restore the snapshot with `%s rollback "
                       "--restore-snapshot`", v[i], f[i] ? "" : " (its files are gone)", c->dir,
                       f[i] ? f[i]->vtext : "V", f[i] ? f[i]->name : "NAME", pre);
            goto out;
        }
        if (split_file(c, f[i]->down_sql, f[i]->down_path, &st[i], e) != 0)
            goto out;
    }
    if (c->o->dry_run) {
        json_t *plan = json_array();
        if (!c->o->json)
            printf("-- plan for database %s (%s): revert %zu migration(s), nothing is changed\n",
                   c->database, c->ops->name, n);
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(plan, json_pack("{s:I,s:s,s:s,s:o}", "version",
                                                  (json_int_t)f[i]->version, "name", f[i]->name,
                                                  "file", f[i]->down_path, "statements",
                                                  stmts_json(&st[i])));
            if (!c->o->json) {
                printf("\n-- version %s %s (%s)\n", f[i]->vtext, f[i]->name, f[i]->down_path);
                print_stmts(&st[i]);
            }
        }
        if (c->o->json)
            c->out = json_pack("{s:s,s:b,s:o}", "database", c->database, "dry_run", 1, "plan",
                               plan);
        else
            json_decref(plan);
        rc = 0;
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (run_script(c, f[i], hist_find(c, v[i]), SCRIPT_DOWN, &st[i], NULL, NULL, e) != 0)
            goto out;
        json_array_append_new(done, json_pack("{s:I,s:s}", "version", (json_int_t)v[i], "name",
                                              f[i]->name));
        if (!c->o->json)
            printf("reverted %s %s\n", f[i]->vtext, f[i]->name);
    }
    if (c->o->json)
        c->out = json_pack("{s:s,s:O}", "database", c->database, "reverted", done);
    rc = 0;
out:
    if (rc != 0 && c->o->json)
        c->out = json_pack("{s:s,s:O,s:s}", "database", c->database, "reverted", done, "error",
                           e->msg);
    json_decref(done);
    free(pre);
    for (size_t i = 0; i < n; i++)
        mig_stmts_free(&st[i]);
    free(st);
    free(f);
    return rc;
}

/* lock, history, drift and failed checks shared by the commands that change things */
static int prepare_change(struct ctx *c, bool allow_failed, struct cf_err *e)
{
    if (!c->o->dry_run && lock_take(c, e) != 0)
        return -1;
    if (hist_load(c, e) != 0 || check_drift(c, e) != 0)
        return -1;
    const struct mig_hist *bad = first_failed(c);
    if (bad != NULL && !allow_failed)
        return failed_error(c, bad, e);
    return 0;
}

static int cmd_down(struct ctx *c, struct cf_err *e)
{
    uint64_t *v = NULL;
    size_t n = 0;
    int rc = -1;

    if (prepare_change(c, false, e) != 0)
        goto out;
    v = cf_calloc(c->nh + 1, sizeof(*v));
    for (size_t i = c->nh; i-- > 0;) {
        if (!is_status(&c->h[i], "applied"))
            continue;
        if (c->o->has_to ? c->h[i].version <= c->o->to : n == 1)
            break;
        v[n++] = c->h[i].version;
    }
    if (n == 0) {
        if (c->o->json)
            c->out = json_pack("{s:s,s:[]}", "database", c->database, "reverted");
        else
            printf("nothing to revert\n");
        rc = 0;
        goto out;
    }
    rc = revert(c, v, n, e);
out:
    lock_release(c);
    free(v);
    return rc;
}

static int confirm_restore(struct ctx *c, const char *id, struct cf_err *e)
{
    char line[512];

    if (c->o->force)
        return 0;
    if (!isatty(STDIN_FILENO)) {
        c->exit = MIG_EXIT_USAGE;
        return cf_err_set(e, CF_E_USAGE, "restoring snapshot %s replaces everything in database "
                          "'%s'; HINT: add --force to confirm without a terminal", id,
                          c->database);
    }
    fprintf(stderr, "restore snapshot %s into database '%s', replacing its schema and data?\n"
            "type the database name to confirm: ", id, c->database);
    fflush(stderr);
    if (fgets(line, sizeof(line), stdin) == NULL)
        line[0] = '\0';
    line[strcspn(line, "\r\n")] = '\0';
    if (strcmp(line, c->database) != 0) {
        c->exit = MIG_EXIT_USAGE;
        return cf_err_set(e, CF_E_USAGE, "not confirmed: nothing was restored");
    }
    return 0;
}

static int cmd_rollback(struct ctx *c, struct cf_err *e)
{
    const char *run = NULL;
    uint64_t *v = NULL;
    size_t n = 0;
    bool has_failed = false;
    const char *snap = NULL;
    char *pre = cmd_prefix(c);
    int rc = -1;

    if (prepare_change(c, true, e) != 0)
        goto out;
    for (size_t i = 0; i < c->nh; i++)
        if (c->h[i].run_id && (is_status(&c->h[i], "applied") || is_status(&c->h[i], "failed"))
            && strncmp(c->h[i].run_id, "baseline", 8) != 0
            && (run == NULL || strcmp(c->h[i].run_id, run) > 0))
            run = c->h[i].run_id;
    if (run == NULL) {
        if (c->o->json)
            c->out = json_pack("{s:s,s:n}", "database", c->database, "run");
        else
            printf("nothing to roll back: no applied run in database %s\n", c->database);
        rc = 0;
        goto out;
    }
    v = cf_calloc(c->nh + 1, sizeof(*v));
    for (size_t i = c->nh; i-- > 0;) {
        const struct mig_hist *h = &c->h[i];
        if (h->run_id == NULL || strcmp(h->run_id, run) != 0)
            continue;
        if (!is_status(h, "applied") && !is_status(h, "failed"))
            continue;
        has_failed = has_failed || is_status(h, "failed");
        if (h->snapshot)
            snap = h->snapshot;
        v[n++] = h->version;
    }
    if (!c->o->restore_snapshot) {
        if (has_failed) {
            c->exit = MIG_EXIT_NEEDS_ROLLBACK;
            cf_err_set(e, CF_E_USAGE,
                       "run %s has a migration that failed partway: its down script may not fit "
                       "what was left; HINT: `%s rollback --restore-snapshot`%s, or fix it by "
                       "hand and run `%s repair`", run, pre,
                       snap ? "" : " (no snapshot was taken for this run)", pre);
            goto out;
        }
        if (!c->o->json && !c->o->dry_run)
            printf("rolling back run %s by down scripts: %zu migration(s)\n", run, n);
        rc = revert(c, v, n, e);
        goto out;
    }
    if (snap == NULL) {
        c->exit = MIG_EXIT_FAILED;
        cf_err_set(e, CF_E_NOTFOUND,
                   "run %s was applied without a snapshot (--no-snapshot): there is none to "
                   "restore; HINT: `%s rollback` reverts it by down scripts", run, pre);
        goto out;
    }
    if (c->o->dry_run) {
        if (c->o->json)
            c->out = json_pack("{s:s,s:s,s:s,s:b}", "database", c->database, "run", run,
                               "snapshot", snap, "dry_run", 1);
        else
            printf("-- plan: restore snapshot %s into database %s (%s), replacing it; then "
                   "mark %zu migration(s) of run %s rolled back; nothing is changed now\n", snap,
                   c->database, c->ops->name, n, run);
        rc = 0;
        goto out;
    }
    if (confirm_restore(c, snap, e) != 0)
        goto out;
    {
        struct mig_snap s = { c->o->config, c->o->source, c->database, c->ops->eng,
                              c->ops->server_version(c->db), c->o->secret_key_file, &c->cc };
        char *snap_copy = cf_strdup(snap), *run_copy = cf_strdup(run);
        char *why = cf_asprintf("rolled back by restoring snapshot %s", snap_copy);
        int r;
        log_info("restoring snapshot database=%s backup=%s", c->database, snap_copy);
        /* PostgreSQL renames the database aside: our session (and its lock) must go first;
         * MariaDB's lock is server-wide and is held through the restore */
        if (c->ops->eng == MIG_PG) {
            lock_release(c);
            c->ops->close(c->db);
            c->db = NULL;
        }
        r = mig_snapshot_restore(&s, snap_copy, e);
        lock_release(c);
        if (c->db != NULL)
            c->ops->close(c->db);
        c->db = NULL;
        if (r == 0 && (c->ops->connect(&c->cc, &c->db, e) != 0 || lock_take(c, e) != 0)) {
            cf_err_ctx(e, "snapshot %s restored, but recording it in the history failed",
                       snap_copy);
            free(why);
            free(snap_copy);
            free(run_copy);
            goto out;
        }
        if (r != 0) {
            c->exit = MIG_EXIT_SNAPSHOT;
            cf_err_ctx(e, "restoring snapshot %s into database '%s'", snap_copy, c->database);
            free(why);
            free(snap_copy);
            free(run_copy);
            goto out;
        }
        /* the history came back with the snapshot; record what the run did and its end */
        struct mig_hist *keep = c->h;
        size_t nkeep = c->nh;
        c->h = NULL;
        c->nh = 0;
        if (hist_ensure(c, e) == 0 && hist_load(c, e) == 0) {
            for (size_t i = 0; i < nkeep && rc != -2; i++) {
                const struct mig_hist *h = &keep[i];
                if (h->run_id == NULL || strcmp(h->run_id, run_copy) != 0)
                    continue;
                if (hist_set_status(c, h, "rolled_back", why, e) != 0)
                    rc = -2;
            }
            if (rc != -2)
                rc = 0;
        }
        struct mig_hist *cur = c->h;
        size_t ncur = c->nh;
        c->h = keep;
        c->nh = nkeep;
        hist_free(c);
        c->h = cur;
        c->nh = ncur;
        if (rc == 0) {
            if (c->o->json)
                c->out = json_pack("{s:s,s:s,s:s,s:I}", "database", c->database, "run", run_copy,
                                   "restored", snap_copy, "migrations", (json_int_t)n);
            else
                printf("restored snapshot %s into %s; %zu migration(s) of run %s marked rolled "
                       "back\n", snap_copy, c->database, n, run_copy);
        } else {
            rc = -1;
            cf_err_ctx(e, "snapshot %s restored, but", snap_copy);
        }
        free(why);
        free(snap_copy);
        free(run_copy);
    }
out:
    lock_release(c);
    free(pre);
    free(v);
    return rc;
}

/* ---------- repair, baseline, accept-checksum ---------- */

static int cmd_repair(struct ctx *c, struct cf_err *e)
{
    size_t n = 0;
    json_t *list = json_array();
    int rc = -1;

    if (prepare_change(c, true, e) != 0)
        goto out;
    for (size_t i = 0; i < c->nh; i++) {
        const struct mig_hist *h = &c->h[i];
        if (!is_status(h, "failed"))
            continue;
        n++;
        json_array_append_new(list, json_pack("{s:I,s:s}", "version", (json_int_t)h->version,
                                              "name", h->name));
        if (c->o->dry_run) {
            if (!c->o->json)
                printf("-- plan: mark version %" PRIu64 " (%s) rolled back\n", h->version,
                       h->name);
            continue;
        }
        char *why = cf_asprintf("repaired by %s after: %s", c->who, h->error ? h->error : "?");
        int r = hist_set_status(c, h, "rolled_back", why, e);
        free(why);
        if (r != 0)
            goto out;
        log_warn("repair: version=%" PRIu64 " name=%s marked rolled_back by=%s", h->version,
                 h->name, c->who);
        if (!c->o->json)
            printf("version %" PRIu64 " (%s) marked rolled back\n", h->version, h->name);
    }
    if (n == 0 && !c->o->json)
        printf("nothing to repair: no failed migration in database %s\n", c->database);
    if (c->o->json)
        c->out = json_pack("{s:s,s:O,s:b}", "database", c->database, "repaired", list, "dry_run",
                           c->o->dry_run);
    rc = 0;
out:
    json_decref(list);
    lock_release(c);
    return rc;
}

static int parse_version_arg(struct ctx *c, const char *what, uint64_t *v, struct cf_err *e)
{
    if (c->o->arg == NULL || mig_parse_version(c->o->arg, v) != 0) {
        c->exit = MIG_EXIT_USAGE;
        return cf_err_set(e, CF_E_USAGE, "%s needs a version (digits), got '%s'", what,
                          c->o->arg ? c->o->arg : "");
    }
    return 0;
}

static int cmd_baseline(struct ctx *c, struct cf_err *e)
{
    uint64_t upto;
    size_t n = 0;
    char run_id[80];
    json_t *list = json_array();
    int rc = -1;

    if (parse_version_arg(c, "baseline", &upto, e) != 0)
        goto out;
    if (!c->o->dry_run && (lock_take(c, e) != 0 || hist_ensure(c, e) != 0))
        goto out;
    if (hist_load(c, e) != 0)
        goto out;
    for (size_t i = 0; i < c->nh; i++)
        if (!is_status(&c->h[i], "rolled_back")) {
            c->exit = MIG_EXIT_FAILED;
            cf_err_set(e, CF_E_EXISTS, "database '%s' already has migration history (version %"
                       PRIu64 " is %s): baseline adopts a database that has none",
                       c->database, c->h[i].version, c->h[i].status);
            goto out;
        }
    snprintf(run_id, sizeof(run_id), "baseline-");
    new_run_id(run_id + 9, sizeof(run_id) - 9);
    for (size_t i = 0; i < c->files.n && c->files.f[i].version <= upto; i++) {
        const struct mig_file *f = &c->files.f[i];
        struct hist_row w = { f->version, f->name, f->checksum, "applied", NULL, run_id, NULL,
                              "baseline: marked applied without running", 0 };
        n++;
        json_array_append_new(list, json_pack("{s:I,s:s}", "version", (json_int_t)f->version,
                                              "name", f->name));
        if (c->o->dry_run) {
            if (!c->o->json)
                printf("-- plan: mark %s %s applied without running it\n", f->vtext, f->name);
            continue;
        }
        if (hist_write(c, &w, e) != 0)
            goto out;
        if (!c->o->json)
            printf("baseline: %s %s marked applied\n", f->vtext, f->name);
    }
    if (n == 0) {
        c->exit = MIG_EXIT_USAGE;
        cf_err_set(e, CF_E_NOTFOUND, "no migration file with a version up to %" PRIu64 " in '%s'",
                   upto, c->dir);
        goto out;
    }
    if (!c->o->dry_run)
        log_info("baseline database=%s version=%" PRIu64 " migrations=%zu by=%s", c->database,
                 upto, n, c->who);
    if (c->o->json)
        c->out = json_pack("{s:s,s:O,s:b}", "database", c->database, "baseline", list,
                           "dry_run", c->o->dry_run);
    rc = 0;
out:
    json_decref(list);
    lock_release(c);
    return rc;
}

static int cmd_accept(struct ctx *c, struct cf_err *e)
{
    uint64_t v;
    const struct mig_hist *h;
    const struct mig_file *f;
    int rc = -1;

    if (parse_version_arg(c, "accept-checksum", &v, e) != 0)
        goto out;
    if (!c->o->dry_run && lock_take(c, e) != 0)
        goto out;
    if (hist_load(c, e) != 0)
        goto out;
    h = hist_find(c, v);
    f = mig_set_find(&c->files, v);
    if (h == NULL || !is_status(h, "applied") || f == NULL) {
        c->exit = MIG_EXIT_FAILED;
        cf_err_set(e, CF_E_NOTFOUND, "version %" PRIu64 " is %s: only the checksum of an "
                   "applied migration whose file exists can be accepted", v,
                   f == NULL ? "not in the migrations directory" : h == NULL ? "not applied"
                   : h->status);
        goto out;
    }
    if (strcmp(h->checksum, f->checksum) == 0) {
        if (!c->o->json)
            printf("version %" PRIu64 ": checksum already matches\n", v);
    } else if (c->o->dry_run) {
        if (!c->o->json)
            printf("-- plan: record %s for version %" PRIu64 " (was %s)\n", f->checksum, v,
                   h->checksum);
    } else {
        char *nq = c->ops->quote(c->db, f->checksum);
        char *sql = cf_asprintf("UPDATE coffer_schema_history SET checksum = %s WHERE version = %"
                                PRIu64, nq, v);
        int r = c->ops->exec(c->db, sql, e);
        free(sql);
        free(nq);
        if (r != 0) {
            cf_err_ctx(e, "updating the checksum of version %" PRIu64, v);
            goto out;
        }
        log_warn("accepted changed checksum version=%" PRIu64 " name=%s old=%s new=%s by=%s", v,
                 h->name, h->checksum, f->checksum, c->who);
        if (!c->o->json)
            printf("version %" PRIu64 ": accepted %s (was %s)\n", v, f->checksum, h->checksum);
    }
    if (c->o->json)
        c->out = json_pack("{s:s,s:I,s:s,s:s,s:b}", "database", c->database, "version",
                           (json_int_t)v, "old", h->checksum, "new", f->checksum, "dry_run",
                           c->o->dry_run);
    rc = 0;
out:
    lock_release(c);
    return rc;
}

/* ---------- new ---------- */

static int cmd_new(struct ctx *c, struct cf_err *e)
{
    const char *name = c->o->arg;
    char v[32];
    char *up = NULL, *down = NULL;
    int rc = -1, fd;

    c->exit = MIG_EXIT_USAGE;
    if (name == NULL || name[0] == '\0' || strspn(name, "abcdefghijklmnopqrstuvwxyz"
                                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
                                               != strlen(name))
        return cf_err_set(e, CF_E_USAGE, "new needs a NAME of letters, digits, '_' and '-'");
    mig_new_version(&c->files, (int64_t)time(NULL), v, sizeof(v));
    up = cf_asprintf("%s/%s_%s.up.sql", c->dir, v, name);
    down = cf_asprintf("%s/%s_%s.down.sql", c->dir, v, name);
    if (c->o->dry_run) {
        printf("-- plan: create %s and %s\n", up, down);
        rc = 0;
        goto out;
    }
    c->exit = MIG_EXIT_FAILED;
    fd = open(up, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create '%s'", up);
        goto out;
    }
    const char *ut = "-- up: the change. Each statement ends with ';'.\n";
    if (fs_write_all(fd, ut, strlen(ut), up, e) != 0) {
        close(fd);
        goto out;
    }
    close(fd);
    fd = open(down, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        cf_err_sys(e, CF_E_IO, "unable to create '%s'", down);
        unlink(up);
        goto out;
    }
    const char *dt = "-- down: undo what the up script did.\n";
    if (fs_write_all(fd, dt, strlen(dt), down, e) != 0) {
        close(fd);
        unlink(up);
        unlink(down);
        goto out;
    }
    close(fd);
    if (c->o->json)
        c->out = json_pack("{s:s,s:s,s:s}", "version", v, "up", up, "down", down);
    else
        printf("%s\n%s\n", up, down);
    rc = 0;
out:
    free(up);
    free(down);
    return rc;
}

/* ---------- entry ---------- */

static const char *const changing[] = { "up", "down", "baseline", "rollback", "repair",
                                        "accept-checksum", NULL };

int migrate_run(const struct mig_opts *o)
{
    struct ctx c;
    struct cf_err e = CF_ERR_INIT;
    int rc = -1, code = MIG_EXIT_OK;
    const char *cmd = o->command;

    memset(&c, 0, sizeof(c));
    c.o = o;
    who_am_i(&c);
    if (sodium_init() < 0) {
        cf_err_set(&e, CF_E_INTERNAL, "libsodium failed to initialise");
        goto out;
    }
    bool known = strcmp(cmd, "status") == 0 || strcmp(cmd, "verify") == 0 ||
                 strcmp(cmd, "new") == 0;
    for (size_t i = 0; changing[i]; i++)
        known = known || strcmp(cmd, changing[i]) == 0;
    if (!known) {
        c.exit = MIG_EXIT_USAGE;
        cf_err_set(&e, CF_E_USAGE, "unknown command '%s'", cmd);
        goto out;
    }
    if (strcmp(cmd, "new") == 0 && o->source == NULL) {
        if (o->dir == NULL) {
            c.exit = MIG_EXIT_USAGE;
            cf_err_set(&e, CF_E_USAGE, "new needs --dir PATH or --config F --source S");
            goto out;
        }
        c.dir = cf_strdup(o->dir);
    } else {
        if (o->source == NULL) {
            c.exit = MIG_EXIT_USAGE;
            cf_err_set(&e, CF_E_USAGE, "--source NAME is required");
            goto out;
        }
        if (load_config(&c, &e) != 0) {
            c.exit = c.exit ? c.exit : MIG_EXIT_USAGE;
            goto out;
        }
    }
    if (strcmp(cmd, "new") == 0 && !o->dry_run && fs_mkdir_p(c.dir, 0755, &e) != 0)
        goto out;
    /* every file is read and checked before the database is touched */
    if (mig_scan(c.dir, &c.files, &e) != 0) {
        c.exit = MIG_EXIT_USAGE;
        goto out;
    }
    if (strcmp(cmd, "new") == 0) {
        rc = cmd_new(&c, &e);
        goto out;
    }
    for (size_t i = 0; i < c.files.n; i++) {
        const struct mig_file *f = &c.files.f[i];
        struct mig_stmts st = { NULL, 0 };
        if (split_file(&c, f->up_sql, f->up_path, &st, &e) != 0)
            goto out;
        if (check_tx_control(&c, f->up_path, f->no_tx, &st, &e) != 0) {
            mig_stmts_free(&st);
            goto out;
        }
        mig_stmts_free(&st);
        if (f->down_sql != NULL && mig_split(c.ops->eng, f->down_sql, &st, &e) != 0) {
            c.exit = MIG_EXIT_USAGE;
            cf_err_ctx(&e, "%s", f->down_path);
            goto out;
        }
        if (f->down_sql != NULL &&
            check_tx_control(&c, f->down_path, f->down_no_tx, &st, &e) != 0) {
            mig_stmts_free(&st);
            goto out;
        }
        mig_stmts_free(&st);
    }
    if (c.ops->connect(&c.cc, &c.db, &e) != 0)
        goto out;
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "verify") == 0) {
        if (hist_load(&c, &e) != 0)
            goto out;
        code = cmd_status(&c, strcmp(cmd, "verify") == 0, &e);
        rc = 0;
    } else if (strcmp(cmd, "up") == 0) {
        rc = cmd_up(&c, &e);
    } else if (strcmp(cmd, "down") == 0) {
        rc = cmd_down(&c, &e);
    } else if (strcmp(cmd, "rollback") == 0) {
        rc = cmd_rollback(&c, &e);
    } else if (strcmp(cmd, "repair") == 0) {
        rc = cmd_repair(&c, &e);
    } else if (strcmp(cmd, "baseline") == 0) {
        rc = cmd_baseline(&c, &e);
    } else {
        rc = cmd_accept(&c, &e);
    }
out:
    if (rc != 0) {
        cf_err_ctx(&e, "%s", cmd);
        cli_fail("migrate", &e);
        code = c.exit ? c.exit : e.code == CF_E_LOCKED ? MIG_EXIT_LOCKED : MIG_EXIT_FAILED;
    }
    if (c.o->json) {
        if (c.out == NULL && rc != 0)
            c.out = json_pack("{s:s,s:s}", "command", cmd, "error", e.msg);
        if (c.out != NULL) {
            json_object_set_new(c.out, "exit", json_integer(code));
            json_dumpf(c.out, stdout, JSON_COMPACT);
            fputc('\n', stdout);
        }
    }
    json_decref(c.out);
    fflush(stdout);
    if (c.db != NULL)
        c.ops->close(c.db);
    hist_free(&c);
    mig_set_free(&c.files);
    if (c.password != NULL) {
        sodium_memzero(c.password, strlen(c.password));
        free(c.password);
    }
    free(c.database);
    free(c.dir);
    ini_free(c.ini);
    return code;
}
