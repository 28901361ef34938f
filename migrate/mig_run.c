/* mig_run.c - the migrate entry point: configuration, status and verify, the commands that
 * only write history (repair, baseline, accept-checksum), and new. */
#include "mig.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../lib/config/conf.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/validate/validate.h"
#include "mig_ctx.h"

/* ---------- configuration ---------- */

static int load_config(struct mig_ctx *c, struct cf_err *e)
{
    const struct mig_opts *o = c->o;
    const char *type, *mig;
    const struct db_settings *s;
    int rc = -1;

    /* the whole file, as the other tools read it: unknown keys, bad values, file modes */
    if (validate_load(o->config, &c->conf, e) != 0 ||
        conf_use_repository(c->conf, o->repository, e) != 0)
        goto out;
    c->sec = conf_source(c->conf, o->source);
    if (c->sec == NULL) {
        cf_err_set(e, CF_E_CONFIG, "%s: no [source %s] section", o->config, o->source);
        goto out;
    }
    if (ini_require_str(c->sec, "type", &type, e) != 0)
        goto out;
    if (strcmp(type, "postgres") == 0)
        c->ops = &mig_pg_ops;
    else if (strcmp(type, "mariadb") == 0)
        c->ops = &mig_maria_ops;
    else {
        ini_err(c->sec, "type", e, "migrate works on postgres and mariadb sources, not on type "
                "'%s'", type);
        goto out;
    }
    if (ini_get_str(c->sec, "migrations", NULL, &mig, e) != 0 ||
        c->ops->settings_load(c->sec, &c->set, e) != 0)
        goto out;
    s = c->set;
    if (o->dir != NULL) {
        c->dir = cf_strdup(o->dir);
    } else if (mig != NULL) {
        char *base = fs_dirname(o->config);
        c->dir = mig[0] == '/' ? cf_strdup(mig) : cf_asprintf("%s/%s", base, mig);
        free(base);
    } else {
        ini_err(c->sec, NULL, e, "no migrations directory; HINT: set migrations = PATH in this "
                "section or give --dir PATH");
        goto out;
    }
    if (o->database != NULL) {
        bool listed = s->all;
        for (size_t i = 0; i < s->ndbs; i++)
            listed = listed || strcmp(s->dbs[i], o->database) == 0;
        if (!listed) {
            ini_err(c->sec, "databases", e, "--database %s is not one of this source's "
                    "databases", o->database);
            goto out;
        }
        c->database = cf_strdup(o->database);
    } else if (s->ndbs == 1) {
        c->database = cf_strdup(s->dbs[0]);
    } else {
        ini_err(c->sec, "databases", e, "%s; HINT: choose the one to migrate with --database "
                "NAME", s->all ? "covers all databases" : "names several databases");
        goto out;
    }
    if (!db_name_is_safe(c->database)) {
        ini_err(c->sec, "databases", e, "'%s' is not a database name coffer accepts (1-64 "
                "bytes, no quotes, backticks or control characters)", c->database);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0 && c->exit == 0)
        c->exit = MIG_EXIT_USAGE;
    return rc;
}

/* ---------- status and verify ---------- */

static const char *file_state(const struct mig_ctx *c, const struct mig_file *f,
                              const struct mig_hist **hp)
{
    const struct mig_hist *h = mig_hist_find(c, f->version);
    *hp = h;
    if (h == NULL || mig_is_status(h, "rolled_back"))
        return "pending";
    if (mig_is_status(h, "failed"))
        return "failed";
    return strcmp(h->checksum, f->checksum) == 0 ? "applied" : "drift";
}

static int cmd_status(struct mig_ctx *c, bool verify_only, struct cf_err *e)
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
            json_object_set_new(j, "snapshot",
                                h->snapshot ? json_string(h->snapshot) : json_null());
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
        if (mig_set_find(&c->files, h->version) != NULL || mig_is_status(h, "rolled_back"))
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
        /* the way out, as `up` would say it */
        const struct mig_hist *bad = mig_first_failed(c);
        struct cf_err why = CF_ERR_INIT;
        int keep = c->exit;
        if (!verify_only && bad != NULL && mig_failed_error(c, bad, &why) != 0)
            printf("%s\n", why.msg);
        c->exit = keep;
    }
    if (verify_only && code != 0)
        log_error("checksum drift: applied migrations differ from their files (see above); "
                  "HINT: restore the files, or `migrate accept-checksum V` for an intended edit");
    return code;
}

/* ---------- repair, baseline, accept-checksum ---------- */

static int cmd_repair(struct mig_ctx *c, struct cf_err *e)
{
    size_t n = 0;
    json_t *list = json_array();
    int rc = -1;

    if (mig_prepare_change(c, true, e) != 0)
        goto out;
    for (size_t i = 0; i < c->nh; i++) {
        const struct mig_hist *h = &c->h[i];
        if (!mig_is_status(h, "failed"))
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
        int r = mig_hist_set_status(c, h, "rolled_back", why, e);
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
    mig_lock_release(c);
    return rc;
}

static int parse_version_arg(struct mig_ctx *c, const char *what, uint64_t *v, struct cf_err *e)
{
    if (c->o->arg == NULL || mig_parse_version(c->o->arg, v) != 0) {
        c->exit = MIG_EXIT_USAGE;
        return cf_err_set(e, CF_E_USAGE, "%s needs a version (digits), got '%s'", what,
                          c->o->arg ? c->o->arg : "");
    }
    return 0;
}

static int cmd_baseline(struct mig_ctx *c, struct cf_err *e)
{
    uint64_t upto;
    size_t n = 0;
    char run_id[80];
    json_t *list = json_array();
    int rc = -1;

    if (parse_version_arg(c, "baseline", &upto, e) != 0)
        goto out;
    if (!c->o->dry_run && (mig_lock_take(c, e) != 0 || mig_hist_ensure(c, e) != 0))
        goto out;
    if (mig_hist_load(c, e) != 0)
        goto out;
    for (size_t i = 0; i < c->nh; i++)
        if (!mig_is_status(&c->h[i], "rolled_back")) {
            c->exit = MIG_EXIT_FAILED;
            cf_err_set(e, CF_E_EXISTS, "database '%s' already has migration history (version %"
                       PRIu64 " is %s): baseline adopts a database that has none",
                       c->database, c->h[i].version, c->h[i].status);
            goto out;
        }
    snprintf(run_id, sizeof(run_id), "baseline-");
    mig_new_run_id(run_id + 9, sizeof(run_id) - 9);
    for (size_t i = 0; i < c->files.n && c->files.f[i].version <= upto; i++) {
        const struct mig_file *f = &c->files.f[i];
        struct mig_hist_row w = { .version = f->version, .name = f->name,
                                  .checksum = f->checksum, .status = "applied", .run_id = run_id,
                                  .error = "baseline: marked applied without running" };
        n++;
        json_array_append_new(list, json_pack("{s:I,s:s}", "version", (json_int_t)f->version,
                                              "name", f->name));
        if (c->o->dry_run) {
            if (!c->o->json)
                printf("-- plan: mark %s %s applied without running it\n", f->vtext, f->name);
            continue;
        }
        if (mig_hist_write(c, &w, e) != 0)
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
    mig_lock_release(c);
    return rc;
}

static int cmd_accept(struct mig_ctx *c, struct cf_err *e)
{
    uint64_t v;
    const struct mig_hist *h;
    const struct mig_file *f;
    int rc = -1;

    if (parse_version_arg(c, "accept-checksum", &v, e) != 0)
        goto out;
    if (!c->o->dry_run && mig_lock_take(c, e) != 0)
        goto out;
    if (mig_hist_load(c, e) != 0)
        goto out;
    h = mig_hist_find(c, v);
    f = mig_set_find(&c->files, v);
    if (h == NULL || !mig_is_status(h, "applied") || f == NULL) {
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
        char *sql = cf_asprintf("UPDATE %s SET checksum = %s WHERE version = %" PRIu64, c->hist,
                                nq, v);
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
    mig_lock_release(c);
    return rc;
}

/* ---------- new ---------- */

static int cmd_new(struct mig_ctx *c, struct cf_err *e)
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
    struct mig_ctx c;
    struct cf_err e = CF_ERR_INIT;
    int rc = -1, code = MIG_EXIT_OK;
    const char *cmd = o->command;

    memset(&c, 0, sizeof(c));
    c.o = o;
    mig_who_am_i(&c);
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
        if (mig_split_file(&c, f->up_sql, f->up_path, &st, &e) != 0)
            goto out;
        if (mig_check_tx_control(&c, f->up_path, f->no_tx, &st, &e) != 0) {
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
            mig_check_tx_control(&c, f->down_path, f->down_no_tx, &st, &e) != 0) {
            mig_stmts_free(&st);
            goto out;
        }
        mig_stmts_free(&st);
    }
    if (c.ops->connect(c.set, c.database, &c.db, &e) != 0 || mig_hist_locate(&c, &e) != 0)
        goto out;
    if (strcmp(cmd, "status") == 0 || strcmp(cmd, "verify") == 0) {
        if (mig_hist_load(&c, &e) != 0)
            goto out;
        code = cmd_status(&c, strcmp(cmd, "verify") == 0, &e);
        rc = 0;
    } else if (strcmp(cmd, "up") == 0) {
        rc = mig_cmd_up(&c, &e);
    } else if (strcmp(cmd, "down") == 0) {
        rc = mig_cmd_down(&c, &e);
    } else if (strcmp(cmd, "rollback") == 0) {
        rc = mig_cmd_rollback(&c, &e);
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
        code = cli_exit_code_or(&e, c.exit ? c.exit : e.code == CF_E_LOCKED ? MIG_EXIT_LOCKED : 0);
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
    mig_hist_free(&c);
    mig_set_free(&c.files);
    db_settings_free(c.set);
    free(c.database);
    free(c.hist);
    free(c.hist_schema);
    free(c.dir);
    conf_free(c.conf);
    return code;
}
