/* src_mariadb.c - MariaDB (and MySQL) databases as the SQL text of mariadb-dump, restored by
 * piping it into the mariadb client.
 *
 * Parts: "db:<name>" per database, each one SQL text without CREATE DATABASE / USE, so a part
 * loads into any database name: the schema (tables, sequences, views, routines) by
 * mariadb-dump --no-data, the rows from one consistent snapshot in mariadb-dump's own form
 * (my_rows.c), then the triggers and events by mariadb-dump. The snapshot's binlog
 * file/position and GTID are recorded for the binlog archive's replay (docs/PITR.md); the
 * server's position read just before is kept too. Credentials reach the tools in a 0600
 * --defaults-extra-file removed right after. */
#include <inttypes.h>
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../db/db_binlog.h"
#include "../db/db_maria.h"
#include "../db/db_version.h"
#include "source.h"
#include "child.h"
#include "chk.h"
#include "dbparts.h"
#include "my_int.h"
#include "sqlrows.h"

static const char *const my_keys[] = { "socket", "host", "port", "user", "password-file",
                                       "databases", "bin-dir", DB_BINLOG_KEYS, NULL };

static int my_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    struct db_binlog_conf bc;   /* the binlog keys' form (docs/PITR.md "MariaDB") */
    if (db_binlog_conf_load(sec, &bc, e) != 0)
        return -1;
    return db_maria_settings_load(sec, (struct db_settings **)priv, e);
}

static void my_close(void *priv)
{
    db_settings_free(priv);
}

static void my_only_database(void *priv, const char *db)
{
    db_settings_only(priv, db);
}

/* ------------------------------------------------------------------------------------------
 * export
 * ---------------------------------------------------------------------------------------- */

static int my_list_databases(const struct db_settings *m, MYSQL *c, char ***names, size_t *n,
                             struct cf_err *e)
{
    MYSQL_RES *r = db_maria_query(c, "listing databases",
                            "SELECT schema_name FROM information_schema.schemata WHERE schema_name "
                            "NOT IN ('information_schema', 'performance_schema', 'sys', 'mysql') "
                            "ORDER BY schema_name",
                            e);
    MYSQL_ROW row;
    if (r == NULL)
        return -1;
    size_t rows = (size_t)mysql_num_rows(r), k = 0;
    char **have = cf_calloc(rows + 1, sizeof(char *));
    while ((row = mysql_fetch_row(r)))
        have[k++] = cf_strdup(row[0]);
    mysql_free_result(r);
    if (m->all) {
        *names = have;
        *n = k;
        if (k == 0)
            return cf_err_set(e, CF_E_NOTFOUND, "the server has no database to back up");
        return 0;
    }
    /* named databases must exist (system schemas may be named explicitly) */
    ini_list_free(have, k);
    *names = cf_calloc(m->ndbs + 1, sizeof(char *));
    *n = 0;
    for (size_t i = 0; i < m->ndbs; i++) {
        char *sql, *esc = db_maria_escape(c, m->dbs[i]);
        sql = cf_asprintf("SELECT 1 FROM information_schema.schemata WHERE schema_name = '%s'", esc);
        free(esc);
        r = db_maria_query(c, "looking up a database", sql, e);
        free(sql);
        if (r == NULL)
            return -1;
        bool found = mysql_num_rows(r) == 1;
        mysql_free_result(r);
        if (!found) {
            char where[512];
            db_maria_where(m, where, sizeof(where));
            return cf_err_set(e, CF_E_NOTFOUND,
                              "database '%s' does not exist on mariadb at %s. HINT: check 'databases ='",
                              m->dbs[i], where);
        }
        (*names)[(*n)++] = cf_strdup(m->dbs[i]);
    }
    return 0;
}

/* the size of database @db (data + indexes) into @dbinfo, and a warning for each table that
 * --single-transaction cannot make consistent */
static int my_inspect_db(const struct db_settings *m, MYSQL *c, const char *db, json_t *dbinfo,
                         json_t *warnings, struct cf_err *e)
{
    char *esc = db_maria_escape(c, db);
    char *q = cf_asprintf("SELECT COALESCE(SUM(data_length + index_length), 0) FROM "
                          "information_schema.tables WHERE table_schema = '%s'", esc);
    MYSQL_RES *sz = db_maria_query(c, "reading the database size", q, e);
    free(q);
    if (sz == NULL) {
        free(esc);
        return -1;
    }
    MYSQL_ROW srow = mysql_fetch_row(sz);
    json_object_set_new(dbinfo, "size", json_integer(srow && srow[0] ? strtoll(srow[0], NULL, 10) : 0));
    mysql_free_result(sz);
    char *sql = cf_asprintf("SELECT table_name, engine FROM information_schema.tables "
                            "WHERE table_schema = '%s' AND table_type = 'BASE TABLE' "
                            "AND engine NOT IN ('InnoDB', 'ROCKSDB') ORDER BY table_name",
                            esc);
    MYSQL_RES *r = db_maria_query(c, "listing table engines", sql, e);
    MYSQL_ROW row;
    free(sql);
    free(esc);
    if (r == NULL)
        return -1;
    while ((row = mysql_fetch_row(r))) {
        char *w = cf_asprintf("table %s.%s uses the non-transactional engine %s: "
                              "the snapshot does not make it consistent with the rest",
                              db, row[0], row[1] ? row[1] : "?");
        log_warn("backup warning source=%s: %s", m->name, w);
        json_array_append_new(warnings, json_string(w));
        free(w);
    }
    mysql_free_result(r);
    return 0;
}

/* a part's bytes go to the stream and are counted */
struct part_out {
    struct source_out *out;
    uint64_t bytes;
};

static int part_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    struct part_out *p = ctx;
    p->bytes += len;
    return source_out_write(p->out, buf, len, e);
}

/* @b's text into the part; @b is emptied */
static int part_text(struct part_out *p, struct buf *b, struct cf_err *e)
{
    int rc = part_sink(p, b->data, b->len, e);
    buf_reset(b);
    return rc;
}

/* the last line mariadb-dump writes (10.11; MariaDB 11's clients restore note_verbosity
 * last): without it, its output was cut short */
static const char *const my_dump_last[] = { "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;",
                                            "/*M!100616 SET NOTE_VERBOSITY=@OLD_NOTE_VERBOSITY */;",
                                            NULL };

/* the last line of @tail that is not blank is one of my_dump_last, and ends with a newline */
static bool my_dump_whole(const struct buf *tail)
{
    size_t end = tail->len;
    while (end > 0 && tail->data[end - 1] == '\n')
        end--;
    if (end == tail->len)
        return false;
    for (size_t i = 0; my_dump_last[i]; i++) {
        size_t n = strlen(my_dump_last[i]);
        if (end >= n && memcmp(tail->data + end - n, my_dump_last[i], n) == 0 &&
            (end == n || tail->data[end - n - 1] == '\n'))
            return true;
    }
    return false;
}

/* mariadb-dump of database @db with @opts (NULL-terminated) and without rows or comments, into
 * the part: the schema, or the triggers and events */
static int my_dump_schema(struct db_settings *m, const char *db, const char *optfile,
                          const char *const *opts, const char *what, struct part_out *p,
                          struct cf_err *e)
{
    struct child ch = { 0 };
    struct child_stdio_env big;
    struct src_reader r;
    struct buf tail = BUF_INIT;
    char *tool = src_tool_path("mariadb-dump", m->bindir, NULL);
    char *defaults = cf_asprintf("--defaults-extra-file=%s", optfile);
    char *argv[24];
    int k = 0, rc = -1;
    argv[k++] = tool;
    argv[k++] = defaults;   /* must come first */
    argv[k++] = "--single-transaction";
    argv[k++] = "--no-data";
    argv[k++] = "--skip-comments";
    argv[k++] = "--default-character-set=utf8mb4";
    while (*opts)
        argv[k++] = (char *)*opts++;
    argv[k++] = "--";
    argv[k++] = (char *)db;
    argv[k] = NULL;

    src_reader_init(&r, -1, what, part_sink, p);
    if (src_child_start(&ch, what, argv, src_child_stdio_env(&big, CHILD_READ), CHILD_READ, e) != 0)
        goto out;
    r.fd = ch.fd;
    int prc = src_pump(&r, NULL, 0, &tail, 256, e);
    if (prc == 0 && !my_dump_whole(&tail))
        prc = cf_err_set(e, CF_E_CORRUPT, "%s: incomplete: it does not end with '%s'", what,
                         my_dump_last[0]);
    r.fd = -1;
    rc = src_child_conclude(&ch, prc, r.eof, e);
out:
    src_child_kill(&ch);
    src_reader_free(&r);
    buf_free(&tail);
    free(defaults);
    free(tool);
    return rc;
}

/* one database as one part: the schema by mariadb-dump, the rows read here from one
 * consistent snapshot (my_rows.c), the triggers and events after them; what a single
 * mariadb-dump run writes, and it loads the same */
static int my_export_db(struct db_settings *m, MYSQL *c, const char *db, const char *optfile,
                        bool binlog, struct source_out *out, json_t *dbinfo, json_t *warnings,
                        struct cf_err *e)
{
    /* routines and views before the rows (they run nothing by themselves), triggers and events
     * after them (as mariadb-dump writes them: loading the rows fires none) */
    static const char *const schema_opts[] = { "--skip-triggers", "--routines", "--skip-events",
                                               NULL };
    static const char *const later_opts[] = { "--no-create-info", "--triggers", "--skip-routines",
                                              "--events", NULL };
    struct my_snap *s = NULL;
    struct part_out p = { out, 0 };
    struct buf t = BUF_INIT;
    char *part = cf_asprintf(SRC_PART_DB_PREFIX "%s", db);
    char *what = cf_asprintf("mariadb-dump of database '%s'", db);
    char *twhat = cf_asprintf("mariadb-dump of the triggers and events of database '%s'", db);
    uint64_t rows = 0;
    bool later = false;
    int rc = -1;

    if (source_out_part(out, part, e) != 0 || my_snap_connect(m, db, &s, e) != 0)
        goto out;
    /* (no database name in a comment: a newline in it would end the comment) */
    buf_printf(&t, SQLDUMP_MARIADB_FIRST " of one database: the schema by mariadb-dump, the rows "
                   "by coffer from one snapshot\n--\n-- Server version\t%s\n\n",
               mysql_get_server_info(c));
    if (part_text(&p, &t, e) != 0 ||
        my_dump_schema(m, db, optfile, schema_opts, what, &p, e) != 0)
        goto out;
    int brc = my_snap_begin(s, binlog, dbinfo, e);
    if (brc < 0)
        goto out;
    if (brc > 0) {
        char *w = cf_asprintf("database %s: the server reports no binlog position for a "
                              "snapshot (binlog_snapshot_file): no point-in-time recovery past "
                              "this backup", db);
        log_warn("backup warning source=%s: %s", m->name, w);
        json_array_append_new(warnings, json_string(w));
        free(w);
    }
    const char *file = json_string_value(json_object_get(dbinfo, "binlog_file"));
    const char *gtid = json_string_value(json_object_get(dbinfo, "gtid"));
    if (file)
        buf_printf(&t, "\n--\n-- Position to start replication or point-in-time recovery from\n"
                       "--\n\n-- CHANGE MASTER TO MASTER_LOG_FILE='%s', "
                       "MASTER_LOG_POS=%" JSON_INTEGER_FORMAT ";\n",
                   file, json_integer_value(json_object_get(dbinfo, "binlog_pos")));
    if (gtid)
        buf_printf(&t, "-- SET GLOBAL gtid_slave_pos='%s';\n", gtid);
    if (part_text(&p, &t, e) != 0 || my_snap_rows(s, part_sink, &p, &rows, &later, e) != 0)
        goto out;
    if ((later && my_dump_schema(m, db, optfile, later_opts, twhat, &p, e) != 0) ||
        my_snap_unchanged(s, e) != 0)
        goto out;
    char date[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);   /* as mariadb-dump: "2026-11-30  3:40:01" */
    snprintf(date, sizeof(date), "%04d-%02d-%02d %2d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    buf_printf(&t, "\n" SQLDUMP_MARIADB_LAST " on %s\n", date);
    if (part_text(&p, &t, e) != 0)
        goto out;
    json_object_set_new(dbinfo, "part", json_string(part));
    json_object_set_new(dbinfo, "bytes", json_integer((json_int_t)p.bytes));
    json_object_set_new(dbinfo, "rows", json_integer((json_int_t)rows));
    log_info("backup part source=%s database=%s bytes=%" PRIu64 " rows=%" PRIu64 " binlog=%s",
             m->name, db, p.bytes, rows, file ? file : "-");
    rc = 0;
out:
    my_snap_close(s);
    buf_free(&t);
    free(twhat);
    free(what);
    free(part);
    return rc;
}

/* info's "consistency" (which the catalog index keeps, readable without the key): each
 * database's binlog file, position and GTID, where a replay of the binlog archive starts */
static void my_consistency(json_t *info, json_t *dbs)
{
    json_t *bl = json_array(), *d;
    size_t i;
    json_array_foreach(dbs, i, d) {
        json_t *f = json_object_get(d, "binlog_file");
        if (f == NULL)
            continue;
        json_array_append_new(bl, json_pack("{s:O?, s:O, s:O?, s:O?}", "database",
                                            json_object_get(d, "name"), "file", f, "pos",
                                            json_object_get(d, "binlog_pos"), "gtid",
                                            json_object_get(d, "gtid")));
    }
    json_object_set_new(info, "consistency", json_pack("{s:o}", "binlog", bl));
}

static int my_export(void *priv, struct source_out *out, json_t *info, struct cf_err *e)
{
    struct db_settings *m = priv;
    MYSQL *c = NULL;
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    char **names = NULL, *optfile = NULL;
    size_t n = 0;
    json_t *warnings = json_array(), *dbs = json_array();
    char where[512];
    bool binlog = false;
    int rc = -1;

    json_object_set(info, "warnings", warnings);
    json_object_set(info, "databases", dbs);
    db_maria_where(m, where, sizeof(where));
    if (db_maria_connect(m, NULL, 0, &c, e) != 0)
        goto out;
    json_object_set_new(info, "server_version", json_string(mysql_get_server_info(c)));
    json_object_set_new(info, "server", json_string(where));
    if ((r = db_maria_query(c, "reading the binlog state", "SELECT @@log_bin, @@gtid_binlog_pos", e)) == NULL)
        goto out;
    if ((row = mysql_fetch_row(r))) {
        binlog = row[0] && strcmp(row[0], "1") == 0;
        json_object_set_new(info, "gtid_binlog_pos_before", json_string(row[1] ? row[1] : ""));
    }
    mysql_free_result(r);
    r = NULL;
    json_object_set_new(info, "log_bin", json_boolean(binlog));
    if (binlog) {
        if ((r = db_maria_query(c, "reading the binlog position", "SHOW MASTER STATUS", e)) == NULL)
            goto out;
        if ((row = mysql_fetch_row(r)) && row[0] && row[1])
            json_object_set_new(info, "binlog_before",
                                json_pack("{s:s,s:I}", "file", row[0], "pos",
                                          (json_int_t)strtoll(row[1], NULL, 10)));
        mysql_free_result(r);
        r = NULL;
    } else {
        const char *w = "binary logging is off: the backup records no binlog position, so no "
                        "point-in-time recovery past it";
        log_warn("backup warning source=%s: %s", m->name, w);
        json_array_append_new(warnings, json_string(w));
    }
    if (my_list_databases(m, c, &names, &n, e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++) {
        json_t *d = json_pack("{s:s}", "name", names[i]);
        json_array_append_new(dbs, d);
        if (my_inspect_db(m, c, names[i], d, warnings, e) != 0)
            goto out;
    }
    json_object_set_new(info, "consistency_note",
                        json_string("each database's rows are one consistent snapshot (START "
                                    "TRANSACTION WITH CONSISTENT SNAPSHOT); its binlog_file/"
                                    "binlog_pos/gtid are that snapshot's (binlog_snapshot_file, "
                                    "binlog_snapshot_position, BINLOG_GTID_POS)"));
    if (db_maria_option_file(m, &optfile, e) != 0)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (my_export_db(m, c, names[i], optfile, binlog, out, json_array_get(dbs, i), warnings,
                         e) != 0)
            goto out;
    my_consistency(info, dbs);
    rc = 0;
out:
    db_secret_file_remove(optfile);
    mysql_free_result(r);
    mysql_close(c);
    ini_list_free(names, n);
    json_decref(warnings);
    json_decref(dbs);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * restore
 * ---------------------------------------------------------------------------------------- */

static int my_plan_check(const struct restore_opts *o, json_t *info, const char **only,
                         struct cf_err *e)
{
    *only = NULL;
    if (o->into_redis || o->to_dir || o->globals || o->clean || o->jobs > 1)
        return cf_err_set(e, CF_E_USAGE, "a mariadb source takes --into-db NAME, --to-file FILE, "
                                         "--database DB and --force (not --into-redis, --to, "
                                         "--globals, --clean or --jobs)");
    if (o->to_file && o->into_db)
        return cf_err_set(e, CF_E_USAGE, "give either --to-file or --into-db, not both");
    if (src_select_db(info, o->database, o->to_file || src_into_named(o),
                      o->to_file ? "--to-file" : "--into-db", only, e) != 0)
        return -1;
    if (o->into_db && !db_name_is_safe(o->into_db))
        return cf_err_set(e, CF_E_USAGE, "--into-db '%s' is not a database name coffer accepts",
                          o->into_db);
    if (o->to_file)
        return src_outfile_check(o->to_file, o->force, e);
    return 0;
}

/* how many tables database @db holds; -1 when it does not exist */
static int my_db_tables(MYSQL *c, const char *db, long *tables, struct cf_err *e)
{
    char *esc = db_maria_escape(c, db);
    char *sql = cf_asprintf("SELECT (SELECT COUNT(*) FROM information_schema.schemata WHERE "
                            "schema_name = '%s'), (SELECT COUNT(*) FROM information_schema.tables "
                            "WHERE table_schema = '%s')", esc, esc);
    MYSQL_RES *r = db_maria_query(c, "looking up the database", sql, e);
    free(sql);
    free(esc);
    if (r == NULL)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    *tables = row && strcmp(row[0], "0") != 0 ? strtol(row[1], NULL, 10) : -1;
    mysql_free_result(r);
    return 0;
}

static int my_plan(void *priv, const struct restore_opts *o, json_t *info, struct buf *lines,
                   struct cf_err *e)
{
    struct db_settings *m = priv;
    const char *only;
    MYSQL *c = NULL;
    char where[512];
    int rc = -1;
    json_t *dbs = json_object_get(info, "databases");

    if (my_plan_check(o, info, &only, e) != 0)
        return -1;
    buf_printf(lines, "  server   MariaDB %s\n",
               json_string_value(json_object_get(info, "server_version")));
    for (size_t i = 0; i < json_array_size(json_object_get(info, "warnings")); i++)
        buf_printf(lines, "  warning  %s\n",
                   json_string_value(json_array_get(json_object_get(info, "warnings"), i)));
    if (o->to_file) {
        buf_printf(lines, "  write    database %s as SQL to %s\n", only, o->to_file);
        buf_printf(lines, "  then     by hand: mariadb --comments DBNAME < %s\n", o->to_file);
        return 0;
    }
    db_maria_where(m, where, sizeof(where));
    if (db_maria_connect(m, NULL, 0, &c, e) != 0)
        return -1;
    for (size_t i = 0; i < json_array_size(dbs); i++) {
        const char *orig = src_info_db_name(info, i);
        if (only && strcmp(only, orig) != 0)
            continue;
        const char *dest = src_dest_db(o, orig);
        long tables;
        if (my_db_tables(c, dest, &tables, e) != 0)
            goto out;
        if (tables > 0 && !o->force) {
            cf_err_set(e, CF_E_EXISTS,
                       "database '%s' on mariadb at %s holds %ld tables. HINT: restore into a new name with --into-db NAME, or add --force to load over it (tables in the dump are dropped and recreated)",
                       dest, where, tables);
            goto out;
        }
        char *size = src_plan_db_size(info, orig);
        buf_printf(lines, "  database %s -> %s at %s (%s%s)\n", orig, dest, where,
                   tables < 0    ? "created"
                   : tables == 0 ? "exists, empty"
                                 : "exists: tables in the dump are replaced (--force)",
                   size);
        free(size);
    }
    rc = 0;
out:
    mysql_close(c);
    return rc;
}

/* the load's sink: the mariadb client's stdin, and the row counter when one is asked for */
struct load_sink {
    int fd;
    struct sqlrows *rows;
};

static int load_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    struct load_sink *s = ctx;
    if (s->rows)
        sqlrows_feed(s->rows, buf, len);
    return src_fd_sink(&s->fd, buf, len, e);
}

static int my_import_db(struct db_settings *m, struct source_in *in, const struct restore_opts *o,
                        MYSQL *c, const char *optfile, const char *orig, struct cf_err *e)
{
    struct child ch = { 0 };
    struct src_reader r;
    struct buf head = BUF_INIT, tail = BUF_INIT;
    const char *dest = src_dest_db(o, orig);
    char *tool = src_tool_path("mariadb", m->bindir, NULL);
    char *defaults = cf_asprintf("--defaults-extra-file=%s", optfile);
    char *what = cf_asprintf("mariadb client loading database '%s'", dest);
    /* --comments: the client strips comments by default, also those inside routine bodies */
    char *argv[] = { tool, defaults, "--default-character-set=utf8mb4", "--comments", "--",
                     (char *)dest, NULL };
    bool created = false;
    long tables;
    int rc = -1;
    struct load_sink sink = { -1, o->count_rows };

    src_reader_init_fn(&r, src_in_read_fn, in, what, load_sink, &sink);
    if (my_db_tables(c, dest, &tables, e) != 0)
        goto out;
    if (tables > 0 && !o->force) {
        cf_err_set(e, CF_E_EXISTS, "database '%s' holds %ld tables. HINT: --into-db NEWNAME, or --force",
                   dest, tables);
        goto out;
    }
    if (tables < 0) {
        char *sql = cf_asprintf("CREATE DATABASE `%s` CHARACTER SET utf8mb4", dest);
        int xrc = db_maria_exec(c, "creating the database", sql, e);
        free(sql);
        if (xrc != 0)
            goto out;
        created = true;
    }
    if (src_child_start(&ch, what, argv, NULL, CHILD_WRITE, e) != 0)
        goto out;
    sink.fd = ch.fd;
    if (src_child_conclude(&ch, dump_check(&r, DUMP_MARIADB, e), false, e) != 0)
        goto out;
    log_info("restore part source=%s database=%s into=%s", m->name, orig, dest);
    rc = 0;
out:
    src_child_kill(&ch);
    src_reader_free(&r);
    if (rc != 0 && created) {   /* nothing half-loaded may look complete */
        char *sql = cf_asprintf("DROP DATABASE IF EXISTS `%s`", dest);
        struct cf_err de = CF_ERR_INIT;
        if (db_maria_exec(c, "dropping the half-restored database", sql, &de) != 0)
            log_warn("restore cleanup: %s", de.msg);
        free(sql);
    }
    buf_free(&head);
    buf_free(&tail);
    free(what);
    free(defaults);
    free(tool);
    return rc;
}

static int my_import(void *priv, struct source_in *in, const struct restore_opts *o,
                     json_t *info, struct cf_err *e)
{
    struct db_settings *m = priv;
    const char *only, *part;
    MYSQL *c = NULL;
    char *optfile = NULL, *orig = NULL;
    unsigned done = 0;
    int rc = -1, k;

    if (my_plan_check(o, info, &only, e) != 0)
        return -1;
    if (!o->to_file &&
        (db_maria_connect(m, NULL, 0, &c, e) != 0 || db_maria_option_file(m, &optfile, e) != 0))
        goto out;
    while ((k = src_in_next_db(in, &part, &orig, e)) == 1) {
        if (orig == NULL || (only && strcmp(only, orig) != 0)) {
            free(orig);
            continue;
        }
        int irc = o->to_file ? dump_part_to_file(in, DUMP_MARIADB, o->to_file, o->force, e)
                             : my_import_db(m, in, o, c, optfile, orig, e);
        free(orig);
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
    db_secret_file_remove(optfile);
    mysql_close(c);
    return rc;
}

/* check step: mariadb-dump runs; the server accepts the user and password and runs SELECT 1;
 * with binlog-archive = yes, log_bin is on and the user may read binlogs */
static void my_check(void *priv, const struct ini_section *sec, struct conf_report *r)
{
    const struct db_settings *m = priv;
    struct cf_err e = CF_ERR_INIT;
    char *tool = src_tool_path("mariadb-dump", m->bindir, NULL);
    char line[256];
    int major;
    MYSQL *c = NULL;

    if (db_tool_major(tool, line, sizeof(line), &major, &e) != 0)
        conf_report_add(r, sec, "bin-dir", &e);
    cf_err_clear(&e);
    struct db_binlog_conf bc;
    bool archive = db_binlog_conf_load(sec, &bc, &e) == 0 && bc.archive;
    cf_err_clear(&e);
    if (!r->offline && db_maria_connect(m, NULL, 0, &c, &e) == 0) {
        if (mysql_query(c, "SELECT 1") != 0)
            cf_err_set(&e, CF_E_SOURCE, "SELECT 1 failed: %s", mysql_error(c));
        else
            mysql_free_result(mysql_store_result(c));
        if (e.code == CF_E_OK && archive && db_binlog_server_check(c, &e) != 0) {
            conf_report_add(r, sec, "binlog-archive", &e);
            cf_err_clear(&e);
        }
        mysql_close(c);
    }
    if (e.code != CF_E_OK)
        conf_report_add(r, sec, NULL, &e);
    free(tool);
}

const struct source_ops src_mariadb_ops = {
    .name = "mariadb",
    .keys = my_keys,
    .open = my_open,
    .close = my_close,
    .export = my_export,
    .import = my_import,
    .plan = my_plan,
    .check = my_check,
    .only_database = my_only_database,
};
