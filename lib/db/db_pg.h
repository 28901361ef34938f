/* db_pg.h - a PostgreSQL server, as the postgres source and migrate reach it: settings with
 * PostgreSQL's defaults, libpq connections that fail with one set of messages, and the
 * environment that hands the settings and the password to a child tool (pg_dump, psql). */
#ifndef CF_DB_PG_H
#define CF_DB_PG_H

#include <stddef.h>

#include <libpq-fe.h>

#include "db_settings.h"

/* where Debian installs each major version's client tools (for src_tool_path) */
#define DB_PG_TOOLS_GLOB "/usr/lib/postgresql/[0-9]*/bin"

/* The tables whose rows pg_dump writes (ordinary tables and partitions, not a partitioned
 * parent, a system or an extension's table), in order: "schema.table" (quoted as needed), then
 * DB_PG_ROW_TABLES_SQL: the schema and the table's name, DB_PG_ROW_COUNTS_SQL: count(*). At
 * backup time the names are read in the dump's snapshot and the rows counted in the dump
 * itself (pgdump_check_rows); the drill counts a restored copy and compares the two. */
#define DB_PG_ROW_TABLES_FROM                                                                  \
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "                            \
    "WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') "          \
    "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' "                \
    "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass "         \
    "AND d.objid = c.oid AND d.deptype = 'e') ORDER BY 1"
#define DB_PG_ROW_TABLES_SQL                                                                   \
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), n.nspname, c.relname "     \
    DB_PG_ROW_TABLES_FROM
#define DB_PG_ROW_COUNTS_SQL                                                                   \
    "SELECT quote_ident(n.nspname) || '.' || quote_ident(c.relname), "                          \
    "(xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM ONLY %I.%I', "      \
    "n.nspname, c.relname), false, true, '')))[1]::text::bigint " DB_PG_ROW_TABLES_FROM

/* db_pg_settings_load() - the settings of a postgres [source]: port 5432, the password from
 * `password-file` or PGPASSWORD */
int db_pg_settings_load(const struct ini_section *sec, struct db_settings **out,
                        struct cf_err *e);

/* "socket /run/postgresql port 5432" or "db.example.com:5432", for messages */
void db_pg_where(const struct db_settings *p, char *out, size_t cap);
/* the first line of a libpq message, without "FATAL:  " noise */
void db_pg_msg(const char *m, char *out, size_t cap);

/* db_pg_connect() - connect to database @db as application @app, with libpq `options` @options
 * (NULL: none) and a 20 s connect timeout. A refused user or password is CF_E_AUTH with a
 * HINT, a missing database CF_E_NOTFOUND, anything else a retryable CF_E_NET with a HINT; the
 * message names the server (db_pg_where), never the password. */
int db_pg_connect(const struct db_settings *p, const char *db, const char *app,
                  const char *options, PGconn **out, struct cf_err *e);
/* db_pg_connect_admin() - a connection for cluster-wide work: database postgres, else
 * template1 (as pg_dumpall does) */
int db_pg_connect_admin(const struct db_settings *p, PGconn **out, struct cf_err *e);

/* The environment of a child tool: where to connect (PGHOST, PGPORT, PGUSER, PGDATABASE) and
 * the password (PGPASSWORD), NULL-terminated for src_child_start. */
struct db_pg_env {
    char *v[8];
    size_t n;
};
/* fill @env for database @db (NULL: the tool's default) */
void db_pg_env_build(const struct db_settings *p, const char *db, struct db_pg_env *env);
/* overwrite and free; safe on a zeroed @env and twice */
void db_pg_env_free(struct db_pg_env *env);

#endif
