/* mig_apply.c - running migration scripts: up, down and rollback (by down scripts or by
 * restoring the snapshot taken before the run). */
#include "mig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "mig_ctx.h"

void mig_print_stmts(const struct mig_stmts *st)
{
    for (size_t i = 0; i < st->n; i++)
        printf("%s;\n", st->s[i].sql);
}

json_t *mig_stmts_json(const struct mig_stmts *st)
{
    json_t *a = json_array();
    for (size_t i = 0; i < st->n; i++)
        json_array_append_new(a, json_string(st->s[i].sql));
    return a;
}

/* ---------- running scripts ---------- */

enum script_kind { SCRIPT_UP, SCRIPT_DOWN };

/* Run the statements of @f's up or down script and record the outcome.
 * Returns 0, or -1 with c->exit MIG_EXIT_FAILED (nothing changed: the transaction was rolled
 * back) or MIG_EXIT_NEEDS_ROLLBACK (statements ran before the failure). */
static int run_statements(struct mig_ctx *c, const struct mig_file *f,
                          const struct mig_hist *old, enum script_kind kind,
                          const struct mig_stmts *st, const char *snapshot, const char *run_id,
                          struct cf_err *e)
{
    bool no_tx = kind == SCRIPT_UP ? f->no_tx : f->down_no_tx;
    bool tx = c->ops->transactional_ddl && !no_tx;
    const char *done = kind == SCRIPT_UP ? "applied" : "rolled_back";
    const char *what = kind == SCRIPT_UP ? "up" : "down";
    struct mig_hist_row w = { .version = f->version, .name = f->name, .checksum = f->checksum,
                              .status = done, .snapshot = snapshot, .run_id = run_id };
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
        struct mig_hist_row m = w;
        m.status = "failed";
        m.error = "interrupted: the runner stopped before this script finished";
        if (mig_hist_write(c, &m, e) != 0)
            return -1;
    }
    for (i = 0; i < st->n; i++)
        if (c->ops->exec(c->db, st->s[i].sql, &se) != 0)
            break;
    w.duration_ms = (int64_t)(time_mono_ms() - t0);
    if (i == st->n) {
        if (mig_hist_write(c, &w, e) != 0 || (tx && c->ops->exec(c->db, "COMMIT", e) != 0)) {
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
            struct mig_hist_row r = w;
            r.status = "rolled_back";
            r.failed_statement = stmt;
            r.error = se.msg;
            struct cf_err he = CF_ERR_INIT;
            if (mig_hist_write(c, &r, &he) != 0)
                log_warn("the failure of version %" PRIu64 " is not in the history: %s",
                         f->version, he.msg);
        }
        /* 25001: "cannot run inside a transaction block" (CREATE INDEX CONCURRENTLY, ...) */
        bool needs_no_tx = strstr(se.msg, "(SQLSTATE 25001)") != NULL;
        return cf_err_set(e, CF_E_SOURCE,
                          "%s script of version %" PRIu64 " (%s) failed at %s:%d, rolled back: "
                          "the database is as it was before it: %s%s", what, f->version,
                          f->name, path, line, se.msg,
                          needs_no_tx ? "; HINT: make the first line of the file '"
                                        MIG_NO_TX_MARKER "' to run it outside a transaction"
                                      : "");
    }
    struct mig_hist_row r = w;
    r.status = "failed";
    r.failed_statement = stmt;
    r.error = se.msg;
    c->exit = MIG_EXIT_NEEDS_ROLLBACK;
    if (mig_hist_write(c, &r, e) != 0)
        return cf_err_ctx(e, "%s script of version %" PRIu64 " failed at %s:%d (%s), and",
                          what, f->version, path, line, se.msg);
    char *pre = mig_cmd_prefix(c);
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

/* run_statements(), then the session put back (see mig_engine_ops.session_reset) */
static int run_script(struct mig_ctx *c, const struct mig_file *f, const struct mig_hist *old,
                      enum script_kind kind, const struct mig_stmts *st, const char *snapshot,
                      const char *run_id, struct cf_err *e)
{
    struct cf_err re = CF_ERR_INIT;
    int rc = run_statements(c, f, old, kind, st, snapshot, run_id, e);

    if (c->ops->session_reset(c->db, c->database, &re) != 0) {
        if (rc == 0) {
            c->exit = MIG_EXIT_FAILED;
            return cf_err_set(e, re.code, "resetting the session after version %" PRIu64
                              ": %s", f->version, re.msg);
        }
        log_warn("unable to reset the session after version %" PRIu64 ": %s", f->version,
                 re.msg);
    }
    return rc;
}

/* split @sql for @f or fail naming the file */
int mig_split_file(struct mig_ctx *c, const char *sql, const char *path, struct mig_stmts *st,
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
int mig_check_tx_control(struct mig_ctx *c, const char *path, bool no_tx,
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

/* ---------- up ---------- */

int mig_cmd_up(struct mig_ctx *c, struct cf_err *e)
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
        if (mig_lock_take(c, e) != 0 || mig_hist_ensure(c, e) != 0)
            goto out;
    }
    if (mig_hist_load(c, e) != 0 || mig_check_drift(c, e) != 0)
        goto out;
    const struct mig_hist *bad = mig_first_failed(c);
    if (bad != NULL) {
        mig_failed_error(c, bad, e);
        goto out;
    }
    for (size_t i = 0; i < c->nh; i++)
        if (mig_is_status(&c->h[i], "applied")) {
            any_applied = true;
            if (c->h[i].version > max_applied)
                max_applied = c->h[i].version;
        }
    for (size_t i = 0; i < c->files.n; i++) {
        const struct mig_file *f = &c->files.f[i];
        const struct mig_hist *h = mig_hist_find(c, f->version);
        if (h != NULL && !mig_is_status(h, "rolled_back"))
            continue;
        if (c->o->has_to && f->version > c->o->to)
            break;
        if (any_applied && f->version < max_applied) {
            char *pre = mig_cmd_prefix(c);
            c->exit = MIG_EXIT_FAILED;
            cf_err_set(e, CF_E_USAGE,
                       "'%s' is pending but a later version (%" PRIu64 ") is already applied; "
                       "HINT: give it a version after %" PRIu64 " (rename the file), or revert "
                       "the later ones first with `%s down --to %" PRIu64 "`",
                       f->up_path, max_applied, max_applied, pre, f->version - 1);
            free(pre);
            goto out;
        }
        if (mig_split_file(c, f->up_sql, f->up_path, &st[n], e) != 0)
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
                                                  mig_stmts_json(&st[i])));
            if (!c->o->json) {
                printf("\n-- version %s %s (%s)%s\n", todo[i]->vtext, todo[i]->name,
                       todo[i]->up_path, tx ? ", in one transaction" : ", statements one by one");
                mig_print_stmts(&st[i]);
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
        struct mig_snap s = { c->conf, c->o->source, c->database, c->ops->eng,
                              c->ops->server_version(c->db), c->o->secret_key_file, c->set };
        uint64_t t0 = time_mono_ms();
        if (mig_snapshot_take(&s, snap, sizeof(snap), e) != 0) {
            c->exit = MIG_EXIT_SNAPSHOT;
            cf_err_ctx(e, "snapshot before apply failed, nothing was applied");
            goto out;
        }
        log_info("snapshot taken database=%s backup=%s ms=%" PRIu64, c->database, snap,
                 time_mono_ms() - t0);
    }
    mig_new_run_id(run_id, sizeof(run_id));
    for (size_t i = 0; i < n; i++) {
        if (run_script(c, todo[i], mig_hist_find(c, todo[i]->version), SCRIPT_UP, &st[i],
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
    mig_lock_release(c);
    for (size_t i = 0; i < c->files.n; i++)
        mig_stmts_free(&st[i]);
    free(st);
    free(todo);
    return rc;
}

/* ---------- down and rollback ---------- */

/* Revert the applied versions @v[0..n) in that order by their down scripts. All scripts are
 * checked (present, splittable) before the first runs. */
static int revert(struct mig_ctx *c, const uint64_t *v, size_t n, struct cf_err *e)
{
    struct mig_stmts *st = cf_calloc(n + 1, sizeof(*st));
    const struct mig_file **f = cf_calloc(n + 1, sizeof(*f));
    json_t *done = json_array();
    char *pre = mig_cmd_prefix(c);
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
        if (mig_split_file(c, f[i]->down_sql, f[i]->down_path, &st[i], e) != 0)
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
                                                  mig_stmts_json(&st[i])));
            if (!c->o->json) {
                printf("\n-- version %s %s (%s)\n", f[i]->vtext, f[i]->name, f[i]->down_path);
                mig_print_stmts(&st[i]);
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
        if (run_script(c, f[i], mig_hist_find(c, v[i]), SCRIPT_DOWN, &st[i], NULL, NULL, e) != 0)
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

int mig_cmd_down(struct mig_ctx *c, struct cf_err *e)
{
    uint64_t *v = NULL;
    size_t n = 0;
    int rc = -1;

    if (mig_prepare_change(c, false, e) != 0)
        goto out;
    v = cf_calloc(c->nh + 1, sizeof(*v));
    for (size_t i = c->nh; i-- > 0;) {
        if (!mig_is_status(&c->h[i], "applied"))
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
    mig_lock_release(c);
    free(v);
    return rc;
}

static int confirm_restore(struct mig_ctx *c, const char *id, struct cf_err *e)
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

/* Restore snapshot @snap (taken before run @run, which applied @n migrations) into the
 * database, then mark that run's rows rolled back: the history table came back with the
 * snapshot, as it was before the run. */
static int restore_run(struct mig_ctx *c, const char *run, const char *snap, size_t n,
                       struct cf_err *e)
{
    struct mig_snap s = { c->conf, c->o->source, c->database, c->ops->eng,
                          c->ops->server_version(c->db), c->o->secret_key_file, c->set };
    /* the history in memory is replaced below: keep what we need from it */
    char *snap_id = cf_strdup(snap), *run_id = cf_strdup(run);
    char *why = cf_asprintf("rolled back by restoring snapshot %s", snap_id);
    struct mig_hist *before = c->h;
    size_t nbefore = c->nh;
    bool restored = false;
    int rc = -1;

    c->h = NULL;
    c->nh = 0;
    log_info("restoring snapshot database=%s backup=%s", c->database, snap_id);
    /* PostgreSQL renames the database aside, so our session (and its lock) goes first;
     * MariaDB's lock is server-wide and is held through the restore */
    if (c->ops->eng == MIG_PG) {
        mig_lock_release(c);
        c->ops->close(c->db);
        c->db = NULL;
    }
    if (mig_snapshot_restore(&s, snap_id, e) != 0) {
        c->exit = MIG_EXIT_SNAPSHOT;
        cf_err_ctx(e, "restoring snapshot %s into database '%s'", snap_id, c->database);
        goto out;
    }
    restored = true;
    mig_lock_release(c);
    if (c->db != NULL)
        c->ops->close(c->db);
    c->db = NULL;
    if (c->ops->connect(c->set, c->database, &c->db, e) != 0 || mig_lock_take(c, e) != 0 ||
        mig_hist_ensure(c, e) != 0 || mig_hist_load(c, e) != 0)
        goto out;
    for (size_t i = 0; i < nbefore; i++) {
        const struct mig_hist *h = &before[i];
        if (h->run_id != NULL && strcmp(h->run_id, run_id) == 0 &&
            mig_hist_set_status(c, h, "rolled_back", why, e) != 0)
            goto out;
    }
    if (c->o->json)
        c->out = json_pack("{s:s,s:s,s:s,s:I}", "database", c->database, "run", run_id,
                           "restored", snap_id, "migrations", (json_int_t)n);
    else
        printf("restored snapshot %s into %s; %zu migration(s) of run %s marked rolled back\n",
               snap_id, c->database, n, run_id);
    rc = 0;
out:
    if (rc != 0 && restored)
        cf_err_ctx(e, "snapshot %s restored, but recording it in the history failed", snap_id);
    {
        struct mig_hist *now = c->h;
        size_t nnow = c->nh;
        c->h = before;
        c->nh = nbefore;
        mig_hist_free(c);
        c->h = now;
        c->nh = nnow;
    }
    free(why);
    free(run_id);
    free(snap_id);
    return rc;
}

int mig_cmd_rollback(struct mig_ctx *c, struct cf_err *e)
{
    const char *run = NULL;
    uint64_t *v = NULL;
    size_t n = 0;
    bool has_failed = false;
    const char *snap = NULL;
    char *pre = mig_cmd_prefix(c);
    int rc = -1;

    if (mig_prepare_change(c, true, e) != 0)
        goto out;
    for (size_t i = 0; i < c->nh; i++)
        if (c->h[i].run_id &&
            (mig_is_status(&c->h[i], "applied") || mig_is_status(&c->h[i], "failed")) &&
            strncmp(c->h[i].run_id, "baseline", 8) != 0 &&
            (run == NULL || strcmp(c->h[i].run_id, run) > 0))
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
        if (!mig_is_status(h, "applied") && !mig_is_status(h, "failed"))
            continue;
        has_failed = has_failed || mig_is_status(h, "failed");
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
    rc = restore_run(c, run, snap, n, e);
out:
    mig_lock_release(c);
    free(pre);
    free(v);
    return rc;
}
