/* mig_history.c - the migrate history table, the lock, and the checks every changing
 * command makes first. */
#include "mig.h"

#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "mig_ctx.h"

#define HIST_COLS "version, name, checksum, applied_at, duration_ms, applied_by, status, " \
                  "snapshot, run_id, failed_statement, error"

/* ---------- small helpers ---------- */

bool mig_is_status(const struct mig_hist *h, const char *s)
{
    return strcmp(h->status, s) == 0;
}

const struct mig_hist *mig_hist_find(const struct mig_ctx *c, uint64_t v)
{
    for (size_t i = 0; i < c->nh; i++)
        if (c->h[i].version == v)
            return &c->h[i];
    return NULL;
}

void mig_hist_free(struct mig_ctx *c)
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
char *mig_cmd_prefix(const struct mig_ctx *c)
{
    const struct mig_opts *o = c->o;
    return cf_asprintf("migrate --config %s --source %s%s%s%s%s", o->config, o->source,
                       o->database ? " --database " : "", o->database ? o->database : "",
                       o->dir ? " --dir " : "", o->dir ? o->dir : "");
}

void mig_who_am_i(struct mig_ctx *c)
{
    struct passwd *pw = getpwuid(geteuid());
    char host[256] = "unknown";

    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = '\0';
    snprintf(c->who, sizeof(c->who), "%s@%s", pw ? pw->pw_name : "unknown", host);
}

/* "20261122T031500.123Z-1a2b3c4d": runs are serialised by the lock and each takes more than
 * a millisecond, so the latest run has the greatest id */
void mig_new_run_id(char *out, size_t cap)
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

/* ---------- history ---------- */

int mig_hist_locate(struct mig_ctx *c, struct cf_err *e)
{
    char *schema = NULL, *qs;

    if (c->ops->history_schema(c->db, c->database, &schema, e) != 0)
        return -1;
    qs = c->ops->quote_ident(c->db, schema);
    free(c->hist);
    free(c->hist_schema);
    c->hist = cf_asprintf("%s.coffer_schema_history", qs);
    c->hist_schema = c->ops->quote(c->db, schema);
    free(qs);
    free(schema);
    return 0;
}

int mig_hist_load(struct mig_ctx *c, struct cf_err *e)
{
    struct mig_rows r;

    mig_hist_free(c);
    char *q = cf_asprintf(c->ops->history_exists, c->hist_schema);
    int qrc = c->ops->query(c->db, q, &r, e);
    free(q);
    if (qrc != 0)
        return cf_err_ctx(e, "reading the migration history");
    c->have_table = r.nrows > 0;
    mig_rows_free(&r);
    if (!c->have_table)
        return 0;
    char *sql = cf_asprintf("SELECT version, name, checksum, %s, duration_ms, applied_by, "
                            "status, snapshot, run_id, failed_statement, error "
                            "FROM %s ORDER BY version", c->ops->applied_at_expr, c->hist);
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

int mig_hist_ensure(struct mig_ctx *c, struct cf_err *e)
{
    char *sql = cf_asprintf(c->ops->history_ddl, c->hist);
    int rc = c->ops->exec(c->db, sql, e);
    free(sql);
    if (rc != 0)
        return cf_err_ctx(e, "creating %s", c->hist);
    return 0;
}

static char *q_or_null(struct mig_ctx *c, const char *s)
{
    return s ? c->ops->quote(c->db, s) : cf_strdup("NULL");
}

int mig_hist_write(struct mig_ctx *c, const struct mig_hist_row *w, struct cf_err *e)
{
    char *name = c->ops->quote(c->db, w->name), *sum = c->ops->quote(c->db, w->checksum);
    char *who = c->ops->quote(c->db, c->who), *st = c->ops->quote(c->db, w->status);
    char *snap = q_or_null(c, w->snapshot), *run = q_or_null(c, w->run_id);
    char *fs = q_or_null(c, w->failed_statement), *er = q_or_null(c, w->error);
    char *sql = cf_asprintf("INSERT INTO %s (" HIST_COLS ") VALUES (%" PRIu64
                            ", %s, %s, %s, %" PRId64 ", %s, %s, %s, %s, %s, %s)%s", c->hist,
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
int mig_hist_set_status(struct mig_ctx *c, const struct mig_hist *h, const char *status,
                        const char *error, struct cf_err *e)
{
    struct mig_hist_row w = { .version = h->version, .name = h->name, .checksum = h->checksum,
                              .status = status, .snapshot = h->snapshot, .run_id = h->run_id,
                              .failed_statement = h->failed_statement, .error = error,
                              .duration_ms = h->duration_ms };
    return mig_hist_write(c, &w, e);
}

/* ---------- lock ---------- */

int mig_lock_take(struct mig_ctx *c, struct cf_err *e)
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

void mig_lock_release(struct mig_ctx *c)
{
    if (c->locked)
        c->ops->unlock(c->db, c->database);
    c->locked = false;
}

/* ---------- checks every changing command makes first ---------- */

/* Applied rows whose file changed or is gone. Sets the exit code and the error. */
int mig_check_drift(struct mig_ctx *c, struct cf_err *e)
{
    struct buf list = BUF_INIT;
    size_t n = 0;
    uint64_t first = 0;

    for (size_t i = 0; i < c->nh; i++) {
        const struct mig_hist *h = &c->h[i];
        const struct mig_file *f = mig_set_find(&c->files, h->version);
        if (!mig_is_status(h, "applied"))
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
    char *pre = mig_cmd_prefix(c);
    c->exit = MIG_EXIT_DRIFT;
    cf_err_set(e, CF_E_CORRUPT,
               "applied migrations differ from their files: %s; HINT: restore the applied "
               "version of each file, or accept an intended edit with `%s accept-checksum %"
               PRIu64 "`", list.data, pre, first);
    free(pre);
    buf_free(&list);
    return -1;
}

const struct mig_hist *mig_first_failed(const struct mig_ctx *c)
{
    for (size_t i = 0; i < c->nh; i++)
        if (mig_is_status(&c->h[i], "failed"))
            return &c->h[i];
    return NULL;
}

int mig_failed_error(struct mig_ctx *c, const struct mig_hist *h, struct cf_err *e)
{
    char *pre = mig_cmd_prefix(c);
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

/* lock, history, drift and failed checks shared by the commands that change things */
int mig_prepare_change(struct mig_ctx *c, bool allow_failed, struct cf_err *e)
{
    if (!c->o->dry_run && mig_lock_take(c, e) != 0)
        return -1;
    if (mig_hist_load(c, e) != 0 || mig_check_drift(c, e) != 0)
        return -1;
    const struct mig_hist *bad = mig_first_failed(c);
    if (bad != NULL && !allow_failed)
        return mig_failed_error(c, bad, e);
    return 0;
}
