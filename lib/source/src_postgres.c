/* src_postgres.c - a PostgreSQL cluster: pg_dump -Fc -Z0 per database plus the cluster's roles
 * and tablespaces (pg_dumpall --globals-only), restored with pg_restore and psql; with
 * `method = physical`, a base backup instead (pg_physical.c).
 *
 * Parts of the stream: "globals" (SQL text), then "db:<name>" (a custom-format archive) per
 * database. Connection settings reach the children through their environment (PGHOST,
 * PGPORT, PGUSER, PGDATABASE, PGPASSWORD), so no name or secret is on a command line.
 *
 * Consistency: for each database, a libpq session opens a REPEATABLE READ transaction, exports
 * its snapshot and reads pg_current_wal_lsn() in that same statement; pg_dump --snapshot then
 * dumps exactly that snapshot while the session holds it. The LSN is an upper bound: every
 * transaction visible to the dump committed before it, and a transaction that committed
 * between the snapshot and the LSN read (the same statement) is not in the dump. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../db/db_pg.h"
#include "../db/db_version.h"
#include "source.h"
#include "child.h"
#include "chk.h"
#include "dbparts.h"
#include "pg_int.h"

#define PART_GLOBALS "globals"

static const char *const pg_keys[] = { "host", "port", "user", "password-file", "databases",
                                       "bin-dir", "method", "checkpoint", "archive-wait",
                                       NULL };

/* the source: the server's settings, and the physical method's (pg_physical.c) */
struct pg_src {
    struct db_settings *db;
    struct pg_phys phys;
};

static int pg_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    struct pg_src *s = cf_calloc(1, sizeof(*s));
    if (pg_phys_load(sec, &s->phys, e) != 0 || db_pg_settings_load(sec, &s->db, e) != 0) {
        free(s);
        return -1;
    }
    *priv = s;
    return 0;
}

static void pg_close(void *priv)
{
    struct pg_src *s = priv;
    if (s == NULL)
        return;
    db_settings_free(s->db);
    free(s);
}

static void pg_only_database(void *priv, const char *db)
{
    db_settings_only(((struct pg_src *)priv)->db, db);
}

PGresult *pg_exec(PGconn *c, const char *what, const char *sql, int nparams,
                  const char *const *params, struct cf_err *e)
{
    PGresult *r = PQexecParams(c, sql, nparams, NULL, params, NULL, NULL, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
        return r;
    char msg[512];
    db_pg_msg(PQerrorMessage(c), msg, sizeof(msg));
    cf_err_set(e, CF_E_SOURCE, "%s: %s", what, msg);
    PQclear(r);
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * export
 * ---------------------------------------------------------------------------------------- */

static int out_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    return source_out_write(ctx, buf, len, e);
}

/* the databases to dump: the configured ones (each must exist) or all but templates */
static int pg_list_databases(const struct db_settings *p, PGconn *c, char ***names, size_t *n,
                             json_t *sizes, struct cf_err *e)
{
    PGresult *r = pg_exec(c, "listing databases",
                          "SELECT datname, pg_database_size(oid) FROM pg_database "
                          "WHERE datallowconn AND NOT datistemplate ORDER BY datname",
                          0, NULL, e);
    if (r == NULL)
        return -1;
    *names = NULL;
    *n = 0;
    if (p->all) {
        *names = cf_calloc((size_t)PQntuples(r) + 1, sizeof(char *));
        for (int i = 0; i < PQntuples(r); i++)
            (*names)[(*n)++] = cf_strdup(PQgetvalue(r, i, 0));
    } else {
        *names = cf_calloc(p->ndbs + 1, sizeof(char *));
        for (size_t k = 0; k < p->ndbs; k++) {
            int i;
            for (i = 0; i < PQntuples(r) && strcmp(PQgetvalue(r, i, 0), p->dbs[k]) != 0; i++)
                ;
            if (i == PQntuples(r)) {
                char where[512];
                db_pg_where(p, where, sizeof(where));
                cf_err_set(e, CF_E_NOTFOUND,
                           "database '%s' does not exist on postgres at %s (or does not accept connections). HINT: check 'databases ='",
                           p->dbs[k], where);
                ini_list_free(*names, *n);
                *names = NULL;
                *n = 0;
                PQclear(r);
                return -1;
            }
            (*names)[(*n)++] = cf_strdup(p->dbs[k]);
        }
    }
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(sizes, PQgetvalue(r, i, 0),
                            json_integer(strtoll(PQgetvalue(r, i, 1), NULL, 10)));
    PQclear(r);
    if (*n == 0)
        return cf_err_set(e, CF_E_NOTFOUND, "the server has no database to back up");
    return 0;
}

static int pg_export_globals(struct db_settings *p, PGconn *c, struct source_out *out, json_t *info,
                             struct cf_err *e)
{
    struct child ch = { 0 };
    struct src_reader r;
    struct db_pg_env env;
    char *tool = src_tool_path("pg_dumpall", p->bindir, DB_PG_TOOLS_GLOB);
    int rc = -1;
    bool super;

    PGresult *res = pg_exec(c, "checking the role",
                            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user", 0,
                            NULL, e);
    if (res == NULL)
        goto out_nores;
    super = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);

    char *argv[] = { tool, "--globals-only", "--no-password",
                     super ? NULL : "--no-role-passwords", NULL };
    db_pg_env_build(p, NULL, &env);
    src_reader_init(&r, -1, "pg_dumpall --globals-only output", out_sink, out);
    if (source_out_part(out, PART_GLOBALS, e) != 0)
        goto out;
    if (src_child_start(&ch, "pg_dumpall --globals-only", argv, (const char *const *)env.v,
                        CHILD_READ, e) != 0)
        goto out;
    r.fd = ch.fd;
    int prc = dump_check(&r, DUMP_PGALL, e);
    r.fd = -1;
    if (src_child_conclude(&ch, prc, r.eof, e) != 0)
        goto out;
    json_object_set_new(info, "globals", json_pack("{s:s,s:I,s:b}", "part", PART_GLOBALS,
                                                   "bytes", (json_int_t)r.consumed,
                                                   "role_passwords", super));
    if (!super) {
        char w[256];
        snprintf(w, sizeof(w), "user '%s' is not a superuser: roles were dumped without their passwords",
                 p->user ? p->user : "(default)");
        log_warn("backup warning source=%s: %s", p->name, w);
        json_array_append_new(json_object_get(info, "warnings"), json_string(w));
    }
    rc = 0;
out:
    src_child_kill(&ch);
    src_reader_free(&r);
    db_pg_env_free(&env);
out_nores:
    free(tool);
    return rc;
}

/* the exact row count of each table, in the dump's snapshot (the transaction is still open),
 * for the drill to compare with the restored copy; a failure is a warning, not a failed backup */
static int table_cmp(const void *a, const void *b)
{
    const struct pgdump_table *x = a, *y = b;
    int c = strcmp(x->nsp, y->nsp);
    return c ? c : strcmp(x->name, y->name);
}

/* row_counts: each table's rows as the dump @s holds them, named as the drill names them (in
 * the dump's snapshot, on @c). A table the archive gave no count for (none is known: every
 * table pg_dump writes has its data entry, ended by its marker) has them all counted in the
 * snapshot instead. */
static void pg_row_counts(const struct db_settings *p, PGconn *c, const char *db,
                          struct pgdump_summary *s, json_t *dbinfo)
{
    struct cf_err e = CF_ERR_INIT;
    bool whole = true;
    PGresult *res = pg_exec(c, "listing the tables", DB_PG_ROW_TABLES_SQL, 0, NULL, &e);
    json_t *counts = json_object();
    if (res != NULL) {
        if (s->ntables)
            qsort(s->tables, s->ntables, sizeof(*s->tables), table_cmp);
        for (int i = 0; whole && i < PQntuples(res); i++) {
            struct pgdump_table k = { PQgetvalue(res, i, 1), PQgetvalue(res, i, 2), 0, false };
            const struct pgdump_table *t =
                s->ntables ? bsearch(&k, s->tables, s->ntables, sizeof(k), table_cmp) : NULL;
            if (t == NULL || !t->counted)
                whole = false;
            else
                json_object_set_new(counts, PQgetvalue(res, i, 0),
                                    json_integer((json_int_t)t->rows));
        }
        PQclear(res);
        if (!whole) {
            json_object_clear(counts);
            res = pg_exec(c, "counting the rows of each table", DB_PG_ROW_COUNTS_SQL, 0, NULL,
                          &e);
            for (int i = 0; res != NULL && i < PQntuples(res); i++)
                json_object_set_new(counts, PQgetvalue(res, i, 0),
                                    json_integer(strtoll(PQgetvalue(res, i, 1), NULL, 10)));
            PQclear(res);
        }
    }
    if (e.code != CF_E_OK) {
        log_warn("backup source=%s database=%s: no row counts recorded: %s", p->name, db, e.msg);
        json_decref(counts);
        return;
    }
    json_object_set_new(dbinfo, "row_counts", counts);
}

static int pg_export_db(struct db_settings *p, const char *db, struct source_out *out, json_t *dbinfo,
                        struct cf_err *e)
{
    PGconn *c = NULL;
    PGresult *res = NULL;
    struct child ch = { 0 };
    struct src_reader r;
    struct db_pg_env env = { { 0 }, 0 };
    struct pgdump_summary s = { 0 };
    char *tool = src_tool_path("pg_dump", p->bindir, DB_PG_TOOLS_GLOB);
    char *part = cf_asprintf(SRC_PART_DB_PREFIX "%s", db);
    char *what = cf_asprintf("pg_dump of database '%s'", db);
    char *snap = NULL;
    int rc = -1;

    src_reader_init(&r, -1, what, out_sink, out);
    if (db_pg_connect(p, db, "coffer", NULL, &c, e) != 0)
        goto out;
    res = pg_exec(c, "starting the snapshot transaction",
                  "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0, NULL, e);
    if (res == NULL)
        goto out;
    PQclear(res);
    res = pg_exec(c, "exporting the snapshot",
                  "SELECT pg_export_snapshot(), "
                  "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
                  "ELSE pg_current_wal_lsn() END, pg_database_size(current_database()), "
                  "to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                  0, NULL, e);
    if (res == NULL)
        goto out;
    snap = cf_strdup(PQgetvalue(res, 0, 0));
    json_object_set_new(dbinfo, "wal_lsn", json_string(PQgetvalue(res, 0, 1)));
    json_object_set_new(dbinfo, "size", json_integer(strtoll(PQgetvalue(res, 0, 2), NULL, 10)));
    json_object_set_new(dbinfo, "snapshot_time", json_string(PQgetvalue(res, 0, 3)));
    PQclear(res);
    res = NULL;

    char *snaparg = cf_asprintf("--snapshot=%s", snap);
    char *argv[] = { tool, "--format=custom", "--compress=0", "--no-password", snaparg, NULL };
    db_pg_env_build(p, db, &env);
    if (source_out_part(out, part, e) != 0 ||
        src_child_start(&ch, what, argv, (const char *const *)env.v, CHILD_READ, e) != 0) {
        free(snaparg);
        goto out;
    }
    free(snaparg);
    r.fd = ch.fd;
    int crc = pgdump_check_rows(&r, &s, e);
    r.fd = -1;
    if (src_child_conclude(&ch, crc, r.eof, e) != 0)
        goto out;
    json_object_set_new(dbinfo, "part", json_string(part));
    json_object_set_new(dbinfo, "bytes", json_integer((json_int_t)s.bytes));
    json_object_set_new(dbinfo, "archive_version", json_sprintf("%d.%d.%d", s.vmaj, s.vmin, s.vrev));
    json_object_set_new(dbinfo, "pg_dump_version", json_string(s.dump_version));
    json_object_set_new(dbinfo, "toc_entries", json_integer(s.toc_entries));
    json_object_set_new(dbinfo, "data_entries", json_integer(s.data_entries));
    json_object_set_new(dbinfo, "large_objects", json_integer(s.large_objects));
    pg_row_counts(p, c, db, &s, dbinfo);
    log_info("backup part source=%s database=%s bytes=%" PRIu64 " toc=%u lsn=%s", p->name, db,
             s.bytes, s.toc_entries, json_string_value(json_object_get(dbinfo, "wal_lsn")));
    rc = 0;
out:
    pgdump_summary_free(&s);
    src_child_kill(&ch);
    src_reader_free(&r);
    db_pg_env_free(&env);
    PQclear(res);
    PQfinish(c);   /* ends the snapshot transaction */
    free(snap);
    free(what);
    free(part);
    free(tool);
    return rc;
}

static int pg_export(void *priv, struct source_out *out, json_t *info, struct cf_err *e)
{
    struct db_settings *p = ((struct pg_src *)priv)->db;
    if (((struct pg_src *)priv)->phys.physical)
        return pg_phys_export(p, &((struct pg_src *)priv)->phys, out, info, e);
    PGconn *c = NULL;
    PGresult *res = NULL;
    char **names = NULL;
    size_t n = 0;
    json_t *sizes = json_object(), *dbs = json_array();
    char where[512];
    int rc = -1;

    db_pg_where(p, where, sizeof(where));
    json_object_set_new(info, "warnings", json_array());
    if (db_pg_connect_admin(p, &c, e) != 0)
        goto out;
    res = pg_exec(c, "reading the server version", "SELECT current_setting('server_version')",
                  0, NULL, e);
    if (res == NULL)
        goto out;
    json_object_set_new(info, "server_version", json_string(PQgetvalue(res, 0, 0)));
    json_object_set_new(info, "server_version_num", json_integer(PQserverVersion(c)));
    json_object_set_new(info, "server", json_string(where));
    json_object_set_new(info, "lsn_note",
                        json_string("each database's wal_lsn is pg_current_wal_lsn() read in the "
                                    "statement that exported the snapshot pg_dump used: an upper "
                                    "bound of the commits the dump holds"));
    PQclear(res);
    res = NULL;
    if (pg_list_databases(p, c, &names, &n, sizes, e) != 0)
        goto out;
    if (pg_export_globals(p, c, out, info, e) != 0)
        goto out;
    PQfinish(c);
    c = NULL;
    json_object_set(info, "databases", dbs);
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_pack("{s:s}", "name", names[i]);
        json_array_append_new(dbs, d);
        if (pg_export_db(p, names[i], out, d, e) != 0)
            goto out;
    }
    rc = 0;
out:
    ini_list_free(names, n);
    json_decref(sizes);
    json_decref(dbs);
    PQclear(res);
    PQfinish(c);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * restore
 * ---------------------------------------------------------------------------------------- */

/* what a restore does with each part */
struct pg_plan {
    json_t *dbs;              /* info.databases (borrowed) */
    const char *only;         /* the one database restored, or NULL for all */
    bool globals;             /* restore (or write) the globals part */
    bool to_file;
};

static int pg_plan_check(const struct restore_opts *o, json_t *info, struct pg_plan *pl,
                         struct cf_err *e)
{
    memset(pl, 0, sizeof(*pl));
    pl->dbs = json_object_get(info, "databases");
    if (o->into_redis || o->to_dir)
        return cf_err_set(e, CF_E_USAGE, "--into-redis and --to are not for a postgres source: "
                                         "use --into-db NAME or --to-file FILE");
    if (o->to_file && o->into_db)
        return cf_err_set(e, CF_E_USAGE, "give either --to-file or --into-db, not both");
    /* --to-file --globals alone writes the roles; otherwise --to-file and --into-db need one */
    bool roles_file = o->to_file && o->globals && !o->database;
    if (src_select_db(info, o->database, (o->to_file && !roles_file) || src_into_named(o),
                      o->to_file ? "--to-file" : "--into-db", &pl->only, e) != 0)
        return -1;
    pl->globals = o->globals;
    pl->to_file = o->to_file != NULL;
    if (o->to_file && o->globals && o->database)
        return cf_err_set(e, CF_E_USAGE, "--to-file writes one part: --globals or --database DB, not both");
    if (o->to_file)
        return src_outfile_check(o->to_file, o->force, e);
    if (o->into_db && !db_name_is_safe(o->into_db))
        return cf_err_set(e, CF_E_USAGE, "--into-db '%s' is not a database name coffer accepts",
                          o->into_db);
    if (o->clean && !o->force)
        return cf_err_set(e, CF_E_USAGE,
                          "--clean drops and recreates objects in an existing database. HINT: add --force if that is what you want");
    return 0;
}

static bool pg_db_selected(const struct pg_plan *pl, const char *name)
{
    return pl->only == NULL ? !pl->to_file : strcmp(pl->only, name) == 0;
}

int pg_db_exists(PGconn *c, const char *name, bool *exists, struct cf_err *e)
{
    const char *params[1] = { name };
    PGresult *r = pg_exec(c, "looking up the database",
                          "SELECT 1 FROM pg_database WHERE datname = $1", 1, params, e);
    if (r == NULL)
        return -1;
    *exists = PQntuples(r) == 1;
    PQclear(r);
    return 0;
}

static int pg_plan(void *priv, const struct restore_opts *o, json_t *info, struct buf *lines,
                   struct cf_err *e)
{
    struct db_settings *p = ((struct pg_src *)priv)->db;
    struct pg_plan pl;
    PGconn *c = NULL;

    if (pg_info_physical(info))
        return pg_phys_plan(o, info, lines, e);
    if (o->to_datadir)
        return cf_err_set(e, CF_E_USAGE, "--to-datadir restores a physical base backup, and "
                          "this backup is a logical one (pg_dump). HINT: --into-db NAME or "
                          "--to-file FILE");
    char where[512];
    int rc = -1;

    if (pg_plan_check(o, info, &pl, e) != 0)
        return -1;
    db_pg_where(p, where, sizeof(where));
    buf_printf(lines,
               "  server   PostgreSQL %s, dumped by pg_dump %s\n",
               json_string_value(json_object_get(info, "server_version")),
               json_string_value(json_object_get(json_array_get(pl.dbs, 0), "pg_dump_version")));
    if (pl.to_file) {
        if (pl.only)
            buf_printf(lines,
                       "  write    database %s as a pg_restore archive (custom format) to %s\n",
                       pl.only, o->to_file);
        else
            buf_printf(lines,
                       "  write    roles and tablespaces (SQL for psql) to %s\n", o->to_file);
        buf_printf(lines,
                   "  then     by hand: pg_restore -d DBNAME %s   (or psql -f for the roles)\n",
                   o->to_file);
        return 0;
    }
    if (db_pg_connect_admin(p, &c, e) != 0)
        goto out;
    if (pl.globals)
        buf_printf(lines,
                   "  roles    roles and tablespaces into postgres at %s (existing roles are kept; "
                   "their errors are reported)\n", where);
    for (size_t i = 0; i < json_array_size(pl.dbs); i++) {
        const char *orig = src_info_db_name(info, i);
        if (!pg_db_selected(&pl, orig))
            continue;
        const char *dest = src_dest_db(o, orig);
        bool exists;
        if (pg_db_exists(c, dest, &exists, e) != 0)
            goto out;
        if (exists && !(o->clean && o->force)) {
            cf_err_set(e, CF_E_EXISTS,
                       "database '%s' exists on postgres at %s. HINT: restore into a new name with --into-db NAME, or replace it with --clean --force",
                       dest, where);
            goto out;
        }
        char *size = src_plan_db_size(info, orig);
        buf_printf(lines, "  database %s -> %s at %s (%s%s)\n", orig, dest, where,
                   exists ? "exists: replaced (--clean --force)" : "created", size);
        free(size);
        if (exists) {
            char *scratch = pg_name_suffixed(dest, PG_SCRATCH_SUFFIX);
            char *aside = pg_aside_name(dest, time(NULL));
            buf_printf(lines,
                       "           loaded into a scratch database %s first; only when that load "
                       "succeeds are the sessions connected to %s ended and the two renamed: the "
                       "current %s is kept as %s (the time of the swap)\n", scratch, dest, dest,
                       aside);
            free(aside);
            free(scratch);
        }
        if (o->jobs > 1)
            buf_printf(lines,
                       "           pg_restore --jobs %d reads a seekable copy: the archive is "
                       "written to a 0600 temp file in $TMPDIR first, then removed\n", o->jobs);
    }
    rc = 0;
out:
    PQfinish(c);
    return rc;
}

/* load the globals SQL from @in into psql, connected where @admin is: errors of single statements (a role that already
 * exists) are reported, not fatal */
static int pg_import_globals(struct db_settings *p, PGconn *admin, struct source_in *in,
                             struct cf_err *e)
{
    struct child ch = { 0 };
    struct src_reader r;
    struct db_pg_env env;
    struct buf errs = BUF_INIT;
    char *tool = src_tool_path("psql", p->bindir, DB_PG_TOOLS_GLOB);
    char *argv[] = { tool, "-X", "-q", "--no-password", "-v", "ON_ERROR_STOP=0", NULL };
    int rc = -1, fd = -1;

    db_pg_env_build(p, PQdb(admin), &env);
    src_reader_init_fn(&r, src_in_read_fn, in, "globals part", src_fd_sink, &fd);
    if (src_child_start(&ch, "psql (roles and tablespaces)", argv, (const char *const *)env.v,
                        CHILD_WRITE, e) != 0)
        goto out;
    fd = ch.fd;
    int prc = dump_check(&r, DUMP_PGALL, e);
    src_child_stderr(&ch, 2000, &errs);
    if (src_child_conclude(&ch, prc, false, e) != 0)
        goto out;
    if (errs.len)
        log_warn("restore roles source=%s: some statements failed (usually roles that already exist): %.300s",
                 p->name, errs.data);
    rc = 0;
out:
    src_child_kill(&ch);
    src_reader_free(&r);
    db_pg_env_free(&env);
    buf_free(&errs);
    free(tool);
    return rc;
}

static int pg_create_db(PGconn *c, const char *name, struct cf_err *e)
{
    char *id = PQescapeIdentifier(c, name, strlen(name));
    char *sql = cf_asprintf("CREATE DATABASE %s TEMPLATE template0", id);
    PGresult *r = pg_exec(c, "creating the database", sql, 0, NULL, e);
    PQfreemem(id);
    free(sql);
    if (r == NULL)
        return cf_err_ctx(e, "database '%s'", name);
    PQclear(r);
    return 0;
}

void pg_drop_db(PGconn *c, const char *name)
{
    char *id = PQescapeIdentifier(c, name, strlen(name));
    char *sql = cf_asprintf("DROP DATABASE IF EXISTS %s", id);
    struct cf_err e = CF_ERR_INIT;
    PGresult *r = pg_exec(c, "dropping the half-restored database", sql, 0, NULL, &e);
    if (r == NULL)
        log_warn("restore cleanup: %s", e.msg);
    PQclear(r);
    PQfreemem(id);
    free(sql);
}

/* run pg_restore with @extra (NULL-terminated, at most 6) on the table of contents @tocfile;
 * with @out, what it prints goes there */
static int pg_restore_toc(struct db_settings *p, const char *tocfile, const char *const *extra,
                          struct db_pg_env *env, const char *what, struct buf *out,
                          struct cf_err *e)
{
    struct child ch = { 0 };
    char *tool = src_tool_path("pg_restore", p->bindir, DB_PG_TOOLS_GLOB);
    char *argv[10];
    int k = 0, rc = -1;
    argv[k++] = tool;
    argv[k++] = "--no-password";
    for (; *extra; extra++)
        argv[k++] = (char *)*extra;
    argv[k++] = (char *)tocfile;
    argv[k] = NULL;
    if (src_child_start(&ch, what, argv, (const char *const *)env->v,
                        out ? CHILD_READ : CHILD_WRITE, e) != 0)
        goto out;
    if (out) {   /* all of it into @out (the head of src_pump, uncapped) */
        struct src_reader r;
        src_reader_init(&r, ch.fd, what, NULL, NULL);
        int prc = src_pump(&r, out, SIZE_MAX, NULL, 0, e);
        bool ended = r.eof;
        src_reader_free(&r);
        if (src_child_conclude(&ch, prc, ended, e) != 0)
            goto out;
    } else if (src_child_finish(&ch, e) != 0) {
        goto out;
    }
    rc = 0;
out:
    src_child_kill(&ch);
    free(tool);
    return rc;
}

/* which of pg_load_post_data's runs restores the `pg_restore --list` entry @line ("<id>;
 * <catalog oid> <oid> <KIND> <schema> <name> <owner>"): 1 an index attachment, 2 a foreign
 * key, 0 anything else (a line it cannot read too: never left out) */
static int post_data_run(const char *line)
{
    unsigned id, a, o;
    int off = 0;
    if (sscanf(line, "%u; %u %u %n", &id, &a, &o, &off) != 3 || off == 0)
        return 0;
    if (strncmp(line + off, "INDEX ATTACH ", 13) == 0)
        return 1;
    if (strncmp(line + off, "FK CONSTRAINT ", 14) == 0)
        return 2;
    return 0;
}

/* restore --jobs N: pg_restore --jobs reads a file it can seek in, and a copy of the whole
 * archive on local disk would have to be written before the load could start. So the stream
 * goes straight into one pg_restore of the pre-data and data sections (one transaction, as
 * with one job), loading while it is fetched, decrypted and decompressed; the archive's header
 * and table of contents, kept on the way (a few KiB), are then a 0600 temp file that
 * `pg_restore --jobs N --section=post-data` reads: the indexes, constraints and triggers,
 * which need no data blocks, built N at a time. The sections are pg_restore's own split.
 *
 * The post-data section in three runs chosen with --use-list, not one parallel pg_restore:
 * pg_restore 15 may create a foreign key to a partitioned table before every partition's index
 * is attached to its key ("there is no unique constraint matching given keys"), or attach one
 * while another job holds a lock it needs ("deadlock detected"): 4 restores in 30 of a table
 * like that failed on 2 busy cores. So everything else N at a time, then the index
 * attachments one by one, then the foreign keys N at a time. */
static int pg_load_post_data(struct db_settings *p, const struct buf *toc, const char *jobs,
                             const char *dbarg, struct db_pg_env *env, const char *what,
                             struct cf_err *e)
{
    struct buf list = BUF_INIT, runs[3] = { BUF_INIT, BUF_INIT, BUF_INIT };
    char *tmpdir = NULL, *tmpfile = NULL, *lists[3] = { NULL, NULL, NULL };
    int rc = -1;

    if (fs_private_tmpdir("pgrestore", &tmpdir, e) != 0) {
        cf_err_ctx(e, "pg_restore --jobs");
        goto out;
    }
    tmpfile = cf_asprintf("%s/toc", tmpdir);
    if (fs_write_file_atomic(tmpfile, toc->data, toc->len, 0600, e) != 0)
        goto out;
    const char *const list_args[] = { "--list", NULL };
    if (pg_restore_toc(p, tmpfile, list_args, env, what, &list, e) != 0)
        goto out;
    for (const char *l = list.data; l && *l;) {   /* ';' starts a comment */
        size_t len = strcspn(l, "\n");
        if (len > 0 && l[0] != ';') {
            struct buf *r = &runs[post_data_run(l)];
            buf_append(r, l, len);
            buf_puts(r, "\n");
        }
        l += len + (l[len] == '\n');
    }
    for (int i = 0; i < 3; i++) {
        if (runs[i].len == 0)
            continue;
        lists[i] = cf_asprintf("%s/list%d", tmpdir, i);
        char *use = cf_asprintf("--use-list=%s", lists[i]);
        const char *const args[] = { "--exit-on-error", "--section=post-data",
                                     i == 1 ? "--jobs=1" : jobs, dbarg, use, NULL };
        int r = fs_write_file_atomic(lists[i], runs[i].data, runs[i].len, 0600, e) != 0 ? -1
                : pg_restore_toc(p, tmpfile, args, env, what, NULL, e);
        free(use);
        if (r != 0)
            goto out;
    }
    rc = 0;
out:
    buf_free(&list);
    for (int i = 0; i < 3; i++) {
        buf_free(&runs[i]);
        if (lists[i])
            unlink(lists[i]);
        free(lists[i]);
    }
    if (tmpfile)
        unlink(tmpfile);
    if (tmpdir)
        rmdir(tmpdir);
    free(tmpfile);
    free(tmpdir);
    return rc;
}

int pg_load(struct db_settings *p, struct source_in *in, const struct restore_opts *o,
            const char *orig, const char *dest, struct cf_err *e)
{
    struct child ch = { 0 };
    struct src_reader r;
    struct db_pg_env env;
    struct child_stdio_env big;
    const char *envv[16];
    struct pgdump_summary s;
    struct buf toc = BUF_INIT;
    char *tool = src_tool_path("pg_restore", p->bindir, DB_PG_TOOLS_GLOB);
    char *jobs = cf_asprintf("--jobs=%d", o->jobs > 1 ? o->jobs : 1);
    char *what = cf_asprintf("pg_restore into database '%s'", dest);
    /* a connection string, so that a name holding '=' stays a name (no quotes in names) */
    char *dbarg = cf_asprintf("--dbname=dbname='%s'", dest);
    /* one transaction: a failure leaves the database as it was */
    char *argv[] = { tool, "--no-password", "--single-transaction", dbarg, NULL, NULL, NULL };
    int rc = -1, fd = -1;

    db_pg_env_build(p, dest, &env);
    /* pg_restore reads its stdin through stdio: 1 MiB per read, not 4 KiB */
    size_t ne = 0;
    for (size_t i = 0; i < env.n; i++)
        envv[ne++] = env.v[i];
    for (const char *const *b = src_child_stdio_env(&big, CHILD_WRITE); *b; b++)
        envv[ne++] = *b;
    envv[ne] = NULL;
    if (o->jobs > 1) {   /* the post-data section comes after, N at a time */
        argv[4] = "--section=pre-data";
        argv[5] = "--section=data";
    }
    src_reader_init(&r, -1, what, NULL, NULL);
    if (src_child_start(&ch, what, argv, envv, CHILD_WRITE, e) != 0)
        goto out;
    fd = ch.fd;
    src_reader_init_fn(&r, src_in_read_fn, in, what, src_fd_sink, &fd);
    if (o->jobs > 1)
        r.capture = &toc;
    /* an unproved stream is never committed: the loader is killed before its input ends */
    if (src_child_conclude(&ch, pgdump_check(&r, &s, e), false, e) != 0)
        goto out;
    if (o->jobs > 1 && pg_load_post_data(p, &toc, jobs, dbarg, &env, what, e) != 0)
        goto out;
    log_info("restore part source=%s database=%s into=%s toc=%u", p->name, orig, dest,
             s.toc_entries);
    rc = 0;
out:
    src_child_kill(&ch);
    src_reader_free(&r);
    buf_free(&toc);
    db_pg_env_free(&env);
    free(dbarg);
    free(what);
    free(jobs);
    free(tool);
    return rc;
}

/* one database part into database @dest: created when missing, replaced when it exists and
 * --clean --force say so */
static int pg_import_db(struct db_settings *p, struct source_in *in, const struct restore_opts *o,
                        const char *orig, const char *dest, PGconn *admin, struct cf_err *e)
{
    bool exists;

    if (pg_db_exists(admin, dest, &exists, e) != 0)
        return -1;
    if (exists && !(o->clean && o->force))
        return cf_err_set(e, CF_E_EXISTS, "database '%s' exists. HINT: --into-db NEWNAME, or "
                          "--clean --force to replace it", dest);
    if (exists)
        return pg_replace_db(p, in, o, orig, dest, admin, e);
    if (pg_create_db(admin, dest, e) != 0)
        return -1;
    if (pg_load(p, in, o, orig, dest, e) != 0) {
        pg_drop_db(admin, dest);   /* nothing half-restored may look complete */
        return -1;
    }
    return 0;
}

static int pg_import(void *priv, struct source_in *in, const struct restore_opts *o,
                     json_t *info, struct cf_err *e)
{
    struct db_settings *p = ((struct pg_src *)priv)->db;
    struct pg_plan pl;
    PGconn *admin = NULL;

    if (pg_info_physical(info))
        return pg_phys_import(in, o, info, e);
    const char *part;
    char *db = NULL;
    int rc = -1, k;
    unsigned done = 0;

    if (pg_plan_check(o, info, &pl, e) != 0)
        return -1;
    if (!pl.to_file && db_pg_connect_admin(p, &admin, e) != 0)
        return -1;
    while ((k = src_in_next_db(in, &part, &db, e)) == 1) {
        int irc = 0;
        if (db == NULL && strcmp(part, PART_GLOBALS) == 0 && pl.globals) {
            irc = pl.to_file ? dump_part_to_file(in, DUMP_PGALL, o->to_file, o->force, e)
                             : pg_import_globals(p, admin, in, e);
        } else if (db == NULL || !pg_db_selected(&pl, db)) {
            free(db);
            db = NULL;
            continue;
        } else if (pl.to_file)
            irc = dump_part_to_file(in, DUMP_PGDUMP, o->to_file, o->force, e);
        else
            irc = pg_import_db(p, in, o, db, src_dest_db(o, db), admin, e);
        free(db);
        db = NULL;
        if (irc != 0)
            goto out;
        done++;
    }
    if (k < 0)
        goto out;
    if (done == 0) {
        cf_err_set(e, CF_E_NOTFOUND, "nothing restored: the backup holds no part that was asked for");
        goto out;
    }
    rc = 0;
out:
    free(db);
    PQfinish(admin);
    return rc;
}

/* check step: pg_dump (pg_basebackup for method = physical) runs and is at least the server's
 * major version (an older one refuses the server); the server accepts the user and password */
static void pg_check(void *priv, const struct ini_section *sec, struct conf_report *r)
{
    const struct db_settings *p = ((const struct pg_src *)priv)->db;
    struct cf_err e = CF_ERR_INIT;
    /* the tool a backup runs: pg_basebackup for method = physical */
    char *tool = src_tool_path(((const struct pg_src *)priv)->phys.physical ? "pg_basebackup"
                               : "pg_dump", p->bindir, DB_PG_TOOLS_GLOB);
    char line[256];
    int tool_major = 0;
    PGconn *c = NULL;

    if (db_tool_major(tool, line, sizeof(line), &tool_major, &e) != 0)
        conf_report_add(r, sec, "bin-dir", &e);
    cf_err_clear(&e);
    if (!r->offline && db_pg_connect_admin(p, &c, &e) == 0) {
        PGresult *res = PQexec(c, "SELECT 1");
        if (PQresultStatus(res) != PGRES_TUPLES_OK)
            cf_err_set(&e, CF_E_SOURCE, "SELECT 1 failed: %s", PQerrorMessage(c));
        else if (tool_major)
            db_pg_tool_check(tool, tool_major, (unsigned long)PQserverVersion(c), &e);
        PQclear(res);
        PQfinish(c);
    }
    if (e.code != CF_E_OK)
        conf_report_add(r, sec, e.code == CF_E_CONFIG ? "bin-dir" : NULL, &e);
    free(tool);
}

const struct source_ops src_postgres_ops = {
    .name = "postgres",
    .keys = pg_keys,
    .open = pg_open,
    .close = pg_close,
    .export = pg_export,
    .import = pg_import,
    .plan = pg_plan,
    .check = pg_check,
    .only_database = pg_only_database,
};
