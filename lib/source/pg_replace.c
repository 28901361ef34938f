/* pg_replace.c - the postgres source's replacement of an existing database (restore --clean
 * --force, `migrate rollback --restore-snapshot`): a scratch database shaped like it, loaded,
 * given its privileges, comment and settings, then the two renamed. */
#include "pg_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../db/db_pg.h"

#define PG_ASIDE_SUFFIX "_before_restore_"

char *pg_name_suffixed(const char *base, const char *suffix)
{
    size_t room = 63 - strlen(suffix), n = strlen(base);

    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)base[n] & 0xc0) == 0x80)
            n--;
    }
    return cf_asprintf("%.*s%s", (int)n, base, suffix);
}

char *pg_aside_name(const char *dest, time_t t)
{
    char ts[32], suffix[64];
    time_format_compact(t, ts, sizeof(ts));
    snprintf(suffix, sizeof(suffix), PG_ASIDE_SUFFIX "%s", ts);
    return pg_name_suffixed(dest, suffix);
}

/* pg_aside_name() for now, made unique among the server's databases: the original is never
 * renamed onto a database kept aside by an earlier restore of the same second. "Now" is
 * COFFER_TEST_ASIDE_TIME (Unix seconds) when set: a test takes that second's name first. */
static char *aside_unique(PGconn *admin, const char *dest, struct cf_err *e)
{
    char ts[32], suffix[64];
    bool exists = true;
    char *name = NULL;
    const char *test = getenv("COFFER_TEST_ASIDE_TIME");
    time_t now = test ? (time_t)strtoll(test, NULL, 10) : time(NULL);

    time_format_compact(now, ts, sizeof(ts));
    for (unsigned n = 1; exists && n < 1000; n++) {
        free(name);
        if (n == 1)
            snprintf(suffix, sizeof(suffix), PG_ASIDE_SUFFIX "%s", ts);
        else
            snprintf(suffix, sizeof(suffix), PG_ASIDE_SUFFIX "%s_%u", ts, n);
        name = pg_name_suffixed(dest, suffix);
        if (pg_db_exists(admin, name, &exists, e) != 0) {
            free(name);
            return NULL;
        }
    }
    if (exists) {
        cf_err_set(e, CF_E_SOURCE, "no free name to keep database '%s' aside as ('%s' exists)",
                   dest, name);
        free(name);
        return NULL;
    }
    return name;
}

/* ------------------------------------------------------------------------------------------
 * replacing an existing database: load a scratch database, then swap the names
 *
 * pg_restore --clean cannot replace every schema in place (it drops a partition's inherited
 * constraints, which PostgreSQL refuses, and --single-transaction then aborts the whole
 * restore), so an existing database is replaced by loading the backup into a scratch database
 * shaped like it and renaming the two: the original is untouched until the load has
 * succeeded, and kept (renamed aside) afterwards. `migrate rollback --restore-snapshot` comes
 * here too.
 * ---------------------------------------------------------------------------------------- */

/* Run, in order, each statement that the query @builder returns; its parameters are $1, the
 * database to copy from, and $2, the one to change. *@ran counts the statements. The server
 * builds the statements with format('%I', '%L'), so every name and value is quoted there. */
static int pg_exec_built(PGconn *c, const char *what, const char *builder, const char *from,
                         const char *to, int *ran, struct cf_err *e)
{
    const char *params[2] = { from, to };
    PGresult *r = pg_exec(c, what, builder, 2, params, e);

    *ran = 0;
    if (r == NULL)
        return -1;
    for (int i = 0; i < PQntuples(r); i++) {
        PGresult *x = pg_exec(c, what, PQgetvalue(r, i, 0), 0, NULL, e);
        if (x == NULL) {
            PQclear(r);
            return -1;
        }
        PQclear(x);
        (*ran)++;
    }
    PQclear(r);
    return 0;
}

/* CREATE DATABASE $2 with the encoding, locale, owner, tablespace and connection limit of $1 */
static const char *pg_create_like_sql(int server_version)
{
    if (server_version >= 170000)
        return "SELECT format('CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L "
               "LC_CTYPE %L OWNER %I TABLESPACE %I CONNECTION LIMIT %s', $2::text, "
               "pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
               "pg_get_userbyid(d.datdba), t.spcname, d.datconnlimit) || "
               "CASE d.datlocprovider WHEN 'i' THEN format(' LOCALE_PROVIDER icu ICU_LOCALE %L', "
               "d.datlocale) WHEN 'b' THEN format(' LOCALE_PROVIDER builtin BUILTIN_LOCALE %L', "
               "d.datlocale) ELSE '' END "
               "FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
               "WHERE d.datname = $1::text";
    if (server_version >= 150000)
        return "SELECT format('CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L "
               "LC_CTYPE %L OWNER %I TABLESPACE %I CONNECTION LIMIT %s', $2::text, "
               "pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
               "pg_get_userbyid(d.datdba), t.spcname, d.datconnlimit) || "
               "CASE d.datlocprovider WHEN 'i' THEN format(' LOCALE_PROVIDER icu ICU_LOCALE %L', "
               "d.daticulocale) ELSE '' END "
               "FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
               "WHERE d.datname = $1::text";
    return "SELECT format('CREATE DATABASE %I TEMPLATE template0 ENCODING %L LC_COLLATE %L "
           "LC_CTYPE %L OWNER %I TABLESPACE %I CONNECTION LIMIT %s', $2::text, "
           "pg_encoding_to_char(d.encoding), d.datcollate, d.datctype, "
           "pg_get_userbyid(d.datdba), t.spcname, d.datconnlimit) "
           "FROM pg_database d JOIN pg_tablespace t ON t.oid = d.dattablespace "
           "WHERE d.datname = $1::text";
}

/* What pg_restore without --create does not restore, copied from the database being replaced:
 * its privileges, comment and settings (ALTER DATABASE / ALTER ROLE IN DATABASE ... SET). A
 * list setting (search_path) is written as the list it is, unless it holds a quote, semicolon,
 * backslash or control character (then as one literal, as every other setting). */
static const char pg_props_sql[] =
    "SELECT s FROM ("
    " SELECT 1 AS k, format('REVOKE ALL ON DATABASE %I FROM PUBLIC', $2::text) AS s"
    "  FROM pg_database WHERE datname = $1::text AND datacl IS NOT NULL"
    " UNION ALL"
    " SELECT 2, format('REVOKE ALL ON DATABASE %I FROM %I', $2::text, pg_get_userbyid(datdba))"
    "  FROM pg_database WHERE datname = $1::text AND datacl IS NOT NULL"
    " UNION ALL"
    " SELECT 3, format('GRANT %s ON DATABASE %I TO %s%s', a.privilege_type, $2::text,"
    "  CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,"
    "  CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)"
    "  FROM pg_database d, aclexplode(d.datacl) a WHERE d.datname = $1::text"
    " UNION ALL"
    " SELECT 4, format('COMMENT ON DATABASE %I IS %L', $2::text, shobj_description(d.oid, 'pg_database'))"
    "  FROM pg_database d WHERE d.datname = $1::text"
    "  AND shobj_description(d.oid, 'pg_database') IS NOT NULL"
    " UNION ALL"
    " SELECT 5, CASE WHEN st.setrole = 0 THEN format('ALTER DATABASE %I SET ', $2::text)"
    "  ELSE format('ALTER ROLE %I IN DATABASE %I SET ', pg_get_userbyid(st.setrole), $2::text) END"
    "  || g.name || ' = ' || CASE WHEN g.name IN ('search_path', 'temp_tablespaces',"
    "  'session_preload_libraries', 'local_preload_libraries', 'shared_preload_libraries')"
    "  AND g.val <> '' AND g.val !~ '[;''\\\\[:cntrl:]]' AND position('\"\"' in g.val) = 0"
    "  THEN g.val ELSE quote_literal(g.val) END"
    "  FROM pg_db_role_setting st JOIN pg_database d ON d.oid = st.setdatabase,"
    "  LATERAL (SELECT split_part(c, '=', 1) AS name, substr(c, strpos(c, '=') + 1) AS val"
    "   FROM unnest(st.setconfig) c) g"
    "  WHERE d.datname = $1::text AND g.name ~ '^[A-Za-z_][A-Za-z0-9_.$]*$'"
    ") x ORDER BY k";

static int pg_rename_db(PGconn *c, const char *from, const char *to, struct cf_err *e)
{
    char *a = PQescapeIdentifier(c, from, strlen(from)), *b = PQescapeIdentifier(c, to, strlen(to));
    char *sql = cf_asprintf("ALTER DATABASE %s RENAME TO %s", a, b);
    char *what = cf_asprintf("renaming database '%s' to '%s'", from, to);
    PGresult *r = pg_exec(c, what, sql, 0, NULL, e);
    PQclear(r);
    PQfreemem(a);
    PQfreemem(b);
    free(sql);
    free(what);
    return r == NULL ? -1 : 0;
}

/* Rename @dest to @aside and @scratch to @dest, ending the sessions connected to @dest first.
 * On -1 either nothing was renamed, or (*@half set) @dest is gone and both renames back failed:
 * the original is @aside and the loaded copy @scratch. */
static int pg_swap(struct db_settings *p, const char *dest, const char *scratch,
                   const char *aside, bool *half, struct cf_err *e)
{
    PGconn *c = NULL;
    const char *params[1] = { dest };
    int rc = -1;

    *half = false;
    /* not connected to @dest ourselves: a database in use cannot be renamed */
    if (db_pg_connect(p, strcmp(dest, "postgres") == 0 ? "template1" : "postgres", "coffer", NULL,
                      &c, e) != 0)
        return cf_err_ctx(e, "connecting to swap the databases");
    for (int attempt = 1;; attempt++) {
        PGresult *r = pg_exec(c, "ending the sessions connected to the database",
                              "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                              "WHERE datname = $1 AND pid <> pg_backend_pid()", 1, params, e);
        if (r == NULL)
            goto out;
        if (strcmp(PQgetvalue(r, 0, 0), "0") != 0)
            log_warn("restore ended %s session(s) connected to database %s", PQgetvalue(r, 0, 0),
                     dest);
        PQclear(r);
        if (pg_rename_db(c, dest, aside, e) == 0)
            break;
        if (attempt == 3 || strstr(e->msg, "being accessed by other users") == NULL) {
            cf_err_ctx(e, "the restored copy is ready in '%s', the original '%s' is unchanged",
                       scratch, dest);
            if (strstr(e->msg, "being accessed"))
                cf_err_ctx(e, "HINT: stop what keeps reconnecting to '%s' (or grant coffer's "
                           "user pg_signal_backend) and restore again", dest);
            goto out;
        }
    }
    if (pg_rename_db(c, scratch, dest, e) != 0) {
        struct cf_err be = CF_ERR_INIT;
        if (pg_rename_db(c, aside, dest, &be) != 0) {
            *half = true;
            cf_err_ctx(e, "and renaming '%s' back failed too (%s). HINT: by hand: ALTER DATABASE "
                       "\"%s\" RENAME TO \"%s\" (the original), or the restored copy \"%s\"",
                       aside, be.msg, aside, dest, scratch);
        }
        goto out;
    }
    rc = 0;
out:
    PQfinish(c);
    return rc;
}

int pg_replace_db(struct db_settings *p, struct source_in *in, const struct restore_opts *o,
                  const char *orig, const char *dest, PGconn *admin, struct cf_err *e)
{
    char *scratch = pg_name_suffixed(dest, PG_SCRATCH_SUFFIX), *aside = NULL;
    bool half = false;
    int rc = -1, ran;

    pg_drop_db(admin, scratch);   /* left by a restore that was killed */
    if (pg_exec_built(admin, "creating the scratch database", pg_create_like_sql(PQserverVersion(admin)),
                      dest, scratch, &ran, e) != 0)
        goto out;
    if (ran != 1) {
        cf_err_set(e, CF_E_NOTFOUND, "database '%s' disappeared during the restore", dest);
        goto out;
    }
    if (pg_load(p, in, o, orig, scratch, e) != 0 ||
        pg_exec_built(admin, "copying the database's privileges, comment and settings",
                      pg_props_sql, dest, scratch, &ran, e) != 0)
        goto out;
    if ((aside = aside_unique(admin, dest, e)) == NULL)
        goto out;
    if (pg_swap(p, dest, scratch, aside, &half, e) != 0)
        goto out;
    log_warn("restore replaced database %s; the database as it was is kept as %s: drop it "
             "(DROP DATABASE \"%s\") once satisfied", dest, aside, aside);
    rc = 0;
out:
    if (rc != 0 && !half)
        pg_drop_db(admin, scratch);
    if (rc != 0)
        cf_err_ctx(e, "replacing database '%s'", dest);
    free(aside);
    free(scratch);
    return rc;
}
