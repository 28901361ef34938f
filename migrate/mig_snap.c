/* mig_snap.c - the snapshot before apply and its restore, through the normal backup path
 * (lib/stream/pipeline.h) and the database sources (lib/source/src_postgres.c, ...).
 *
 * The snapshot is a backup of the one database being migrated: the [source] narrowed to that
 * database (source_only_database), into the configured repository, listed and restorable like
 * any other backup of the source.
 *
 * Restore never destroys before it has a good copy: the snapshot is first restored into a
 * scratch database; only when that succeeds is the migrated database replaced. PostgreSQL:
 * the postgres source does it, as for `restore --into-db SAME --clean --force` (one
 * implementation, lib/source/src_postgres.c: loaded into a scratch database, then the migrated
 * one is renamed aside and kept, the scratch renamed into its place). MariaDB, which cannot
 * rename a database: here, dropped, recreated and loaded again from the snapshot just proven
 * loadable into a scratch database. */
#include "mig.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/backup/backup.h"
#include "../lib/config/conf.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/db/db_pg.h"
#include "../lib/db/db_version.h"
#include "../lib/repo/repo.h"
#include "../lib/source/child.h"
#include "../lib/stream/pipeline.h"

/* The dump tool the source will run must read this server: fail loudly, never skip. */
static int check_dump_tool(const struct mig_snap *s, struct cf_err *e)
{
    char line[256];
    int major = 0, rc;
    char *tool = s->eng == MIG_PG ? src_tool_path("pg_dump", s->set->bindir, DB_PG_TOOLS_GLOB)
                                  : src_tool_path("mariadb-dump", s->set->bindir, NULL);

    rc = db_tool_major(tool, line, sizeof(line), &major, e);
    if (rc == 0)
        rc = s->eng == MIG_PG ? db_pg_tool_check(tool, major, s->server_version, e)
                              : db_maria_tool_check(tool, line, s->server_version, e);
    if (rc != 0) {
        e->code = CF_E_SOURCE;   /* the snapshot failed (exit 14), whatever the cause */
        cf_err_ctx(e, "checking the dump tool of [source %s]", s->source);
    } else {
        log_info("dump tool checked tool=%s version='%s' server=%lu", tool, line,
                 s->server_version);
    }
    free(tool);
    return rc;
}

/* configuration, repository and the narrowed source */
struct snap_env {
    struct repo *repo;
    struct source *src;
};

/* @for_backup: check the dump tool first (before the repository's key is even derived);
 * otherwise the repository must be readable (a restore) */
static int env_open(const struct mig_snap *s, bool for_backup, struct snap_env *v,
                    struct cf_err *e)
{
    struct repo_unlock u = { s->secret_key_file };
    const struct ini_section *sec = conf_source(s->conf, s->source);

    memset(v, 0, sizeof(*v));
    if (for_backup && check_dump_tool(s, e) != 0)
        return -1;
    if (repo_open(s->conf, &u, &v->repo, e) != 0)
        return cf_err_ctx(e, "opening the repository");
    if (!for_backup && !repo_can_read(v->repo))
        return cf_err_set(e, CF_E_KEY, "the repository is sealed to a public key; HINT: "
                          "give --secret-key-file FILE to restore");
    if (source_open(sec, &v->src, e) != 0)
        return cf_err_ctx(e, "opening source '%s'", s->source);
    return source_only_database(v->src, s->database, e);
}

static void env_close(struct snap_env *v)
{
    source_close(v->src);
    repo_close(v->repo);
}

int mig_snapshot_take(const struct mig_snap *s, char *id, size_t cap, struct cf_err *e)
{
    struct snap_env v;
    struct backup_result res;
    int rc = -1;

    if (env_open(s, true, &v, e) != 0)
        goto out;
    memset(&res, 0, sizeof(res));
    if (backup_source(s->conf, v.repo, v.src, "migrate", &res, e) != 0) {
        cf_err_ctx(e, "backup of database '%s'", s->database);
        goto out;
    }
    snprintf(id, cap, "%s", res.id);
    log_info("snapshot done source=%s database=%s id=%s in=%" PRIu64 " stored=%" PRIu64
             " ms=%" PRIu64, s->source, s->database, res.id, res.bytes_in, res.bytes_stored,
             res.elapsed_ms);
    rc = 0;
out:
    env_close(&v);
    return rc;
}

/* one restore of snapshot @id's part @s->database into database @into */
static int restore_into(struct snap_env *v, const struct mig_snap *s, const char *id,
                        const struct manifest *manifest, const char *into, struct cf_err *e)
{
    struct restore_opts o;

    memset(&o, 0, sizeof(o));
    o.database = s->database;
    o.into_db = into;
    o.force = true;
    o.clean = s->eng == MIG_PG;   /* postgres: an existing @into is replaced (scratch, swap) */
    o.backup_id = id;
    if (pipeline_restore(v->repo, v->src, manifest, &o, e) != 0)
        return cf_err_ctx(e, "restoring snapshot %s into database '%s'", id, into);
    return 0;
}

static int admin_exec(const struct mig_engine_ops *ops, void *db, const char *sql, struct cf_err *e)
{
    if (ops->exec(db, sql, e) != 0)
        return cf_err_ctx(e, "%s", sql);
    return 0;
}

/* the MariaDB maintenance connection, without a database */
static int admin_connect(const struct mig_snap *s, const struct mig_engine_ops **ops, void **db,
                         struct cf_err *e)
{
    *ops = &mig_maria_ops;
    if ((*ops)->connect(s->set, NULL, db, e) != 0)
        return cf_err_ctx(e, "connecting for the restore");
    return 0;
}

static char *drop_sql(const char *name)
{
    return cf_asprintf("DROP DATABASE IF EXISTS `%s`", name);
}

/* (Re)create MariaDB database @name empty, with the character set and collation of the
 * migrated one as it is now. The shape is read before @name is dropped, so @name may be the
 * migrated database itself. */
static int create_like(const struct mig_snap *s, const char *name, struct cf_err *e)
{
    const struct mig_engine_ops *ops;
    struct mig_rows r = { 0, 0, NULL };
    void *db = NULL;
    char *sql = NULL;
    int rc = -1;

    if (admin_connect(s, &ops, &db, e) != 0)
        return -1;
    sql = cf_asprintf("SELECT default_character_set_name, default_collation_name FROM "
                      "information_schema.schemata WHERE schema_name = '%s'", s->database);
    if (ops->query(db, sql, &r, e) != 0)
        goto out;
    for (size_t i = 0; i < r.nrows * r.ncols; i++)
        if (r.cell[i] == NULL || strpbrk(r.cell[i], "'\"`\\") != NULL) {
            cf_err_set(e, CF_E_SOURCE, "unexpected properties of database '%s'", s->database);
            goto out;
        }
    free(sql);
    sql = drop_sql(name);
    if (admin_exec(ops, db, sql, e) != 0)
        goto out;
    free(sql);
    if (r.nrows != 1)
        sql = cf_asprintf("CREATE DATABASE `%s`", name);
    else
        sql = cf_asprintf("CREATE DATABASE `%s` CHARACTER SET %s COLLATE %s", name,
                          MIG_CELL(&r, 0, 0), MIG_CELL(&r, 0, 1));
    if (admin_exec(ops, db, sql, e) != 0)
        goto out;
    rc = 0;
out:
    mig_rows_free(&r);
    free(sql);
    ops->close(db);
    return rc;
}

/* best effort: a failed restore leaves no scratch database behind */
static void scratch_drop(const struct mig_snap *s, const char *scratch)
{
    const struct mig_engine_ops *ops;
    struct cf_err e = CF_ERR_INIT;
    void *db = NULL;
    char *sql = drop_sql(scratch);

    if (admin_connect(s, &ops, &db, &e) != 0 || admin_exec(ops, db, sql, &e) != 0)
        log_warn("unable to drop the scratch database %s: %s", scratch, e.msg);
    if (db != NULL)
        ops->close(db);
    free(sql);
}

/* MariaDB cannot rename a database: the snapshot, just proven loadable into the scratch
 * database, is loaded again into the migrated database, recreated empty */
static int maria_replace(const struct mig_snap *s, struct snap_env *v, const char *id,
                         const struct manifest *manifest, const char *scratch, struct cf_err *e)
{
    scratch_drop(s, scratch);
    if (create_like(s, s->database, e) != 0)
        return cf_err_ctx(e, "recreating database '%s'", s->database);
    if (restore_into(v, s, id, manifest, s->database, e) != 0)
        return cf_err_ctx(e, "database '%s' was emptied and the second load failed; HINT: run "
                          "the same rollback again, or `restore` backup %s into it",
                          s->database, id);
    return 0;
}

int mig_snapshot_restore(const struct mig_snap *s, const char *id, struct cf_err *e)
{
    struct snap_env v;
    struct manifest *manifest = NULL;
    char *scratch = cf_asprintf("%.40s_coffer_restore", s->database);
    int rc = -1;

    if (env_open(s, false, &v, e) != 0)
        goto out;
    if (repo_manifest_load(v.repo, s->source, id, &manifest, e) != 0) {
        cf_err_ctx(e, "snapshot %s of source '%s'", id, s->source);
        goto out;
    }
    if (s->eng == MIG_PG) {
        rc = restore_into(&v, s, id, manifest, s->database, e);
        goto out;
    }
    if (create_like(s, scratch, e) != 0)
        goto out;
    if (restore_into(&v, s, id, manifest, scratch, e) != 0) {
        scratch_drop(s, scratch);
        goto out;
    }
    rc = maria_replace(s, &v, id, manifest, scratch, e);
out:
    manifest_free(manifest);
    env_close(&v);
    free(scratch);
    return rc;
}
