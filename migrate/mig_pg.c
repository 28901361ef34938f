/* mig_pg.c - the migrate engine for PostgreSQL, through libpq. */
#include "mig.h"

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "../lib/core/log.h"
#include "../lib/db/db_pg.h"

/* the advisory lock key: "coffermi" read as a big-endian integer. Advisory locks are
 * scoped to the current database already, so one key serves every database. */
#define PG_LOCK_KEY "7165058122144443753"

void mig_rows_free(struct mig_rows *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nrows * r->ncols; i++)
        free(r->cell[i]);
    free(r->cell);
    memset(r, 0, sizeof(*r));
}

/* the server's message, without its trailing newline, whitespace folded to single spaces */
static int pg_fail(PGconn *c, const PGresult *res, const char *what, struct cf_err *e)
{
    const char *prim = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(c);
    char buf[900];

    if (prim != NULL && PQstatus(c) == CONNECTION_OK)
        return cf_err_set(e, CF_E_SOURCE, "%s%s%s (SQLSTATE %s)", prim, detail ? ": " : "",
                          detail ? detail : "", state ? state : "?");
    size_t n = 0;

    for (; *m && n + 1 < sizeof(buf); m++) {
        char ch = *m == '\n' || *m == '\t' ? ' ' : *m;
        if (ch == ' ' && (n == 0 || buf[n - 1] == ' '))
            continue;
        buf[n++] = ch;
    }
    while (n > 0 && buf[n - 1] == ' ')
        n--;
    buf[n] = '\0';
    if (PQstatus(c) != CONNECTION_OK)
        return cf_err_set(e, CF_E_NET, "%s: %s", what, buf);
    return cf_err_set(e, CF_E_SOURCE, "%s", buf);
}

static int pg_connect(const struct db_settings *s, const char *db, void **h, struct cf_err *e)
{
    PGconn *c;

    if (db_pg_connect(s, db, "coffer-migrate", "-c client_min_messages=warning", &c, e) != 0)
        return cf_err_ctx(e, "database '%s'", db);
    *h = c;
    return 0;
}

static void pg_close(void *h)
{
    if (h != NULL)
        PQfinish(h);
}

static int pg_exec(void *h, const char *sql, struct cf_err *e)
{
    PGresult *r = PQexec(h, sql);
    ExecStatusType st = PQresultStatus(r);
    int rc = 0;

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY)
        rc = pg_fail(h, r, "statement failed", e);
    PQclear(r);
    return rc;
}

static int pg_query(void *h, const char *sql, struct mig_rows *out, struct cf_err *e)
{
    PGresult *r = PQexec(h, sql);

    memset(out, 0, sizeof(*out));
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        pg_fail(h, r, "query failed", e);
        PQclear(r);
        return -1;
    }
    out->nrows = (size_t)PQntuples(r);
    out->ncols = (size_t)PQnfields(r);
    out->cell = cf_calloc(out->nrows * out->ncols + 1, sizeof(char *));
    for (size_t i = 0; i < out->nrows; i++)
        for (size_t j = 0; j < out->ncols; j++)
            if (!PQgetisnull(r, (int)i, (int)j))
                MIG_CELL(out, i, j) = cf_strdup(PQgetvalue(r, (int)i, (int)j));
    PQclear(r);
    return 0;
}

static char *pg_quote(void *h, const char *s)
{
    char *q = PQescapeLiteral(h, s, strlen(s));
    char *out;

    if (q == NULL) {
        fprintf(stderr, "coffer: unable to quote a string: %s", PQerrorMessage(h));
        abort();
    }
    out = cf_strdup(q);
    PQfreemem(q);
    return out;
}

static char *pg_quote_ident(void *h, const char *s)
{
    char *q = PQescapeIdentifier(h, s, strlen(s));
    char *out;

    if (q == NULL) {
        fprintf(stderr, "coffer: unable to quote an identifier: %s", PQerrorMessage(h));
        abort();
    }
    out = cf_strdup(q);
    PQfreemem(q);
    return out;
}

static int pg_history_schema(void *h, const char *db, char **out, struct cf_err *e)
{
    struct mig_rows r;

    (void)db;
    if (pg_query(h, "SELECT current_schema()", &r, e) != 0)
        return cf_err_ctx(e, "finding the current schema");
    if (r.nrows != 1 || MIG_CELL(&r, 0, 0) == NULL) {
        mig_rows_free(&r);
        return cf_err_set(e, CF_E_SOURCE, "no current schema (search_path names no existing "
                          "schema): there is nowhere to keep coffer_schema_history; HINT: set "
                          "the user's search_path, or create the schema it names");
    }
    *out = cf_strdup(MIG_CELL(&r, 0, 0));
    mig_rows_free(&r);
    return 0;
}

static int pg_lock_try(void *h, const char *db, struct cf_err *e)
{
    struct mig_rows r;
    int got;

    (void)db;
    if (pg_query(h, "SELECT pg_try_advisory_lock(" PG_LOCK_KEY ")", &r, e) != 0)
        return cf_err_ctx(e, "pg_try_advisory_lock");
    got = r.nrows == 1 && MIG_CELL(&r, 0, 0) && strcmp(MIG_CELL(&r, 0, 0), "t") == 0;
    mig_rows_free(&r);
    return got;
}

static void pg_unlock(void *h, const char *db)
{
    struct cf_err e = CF_ERR_INIT;

    (void)db;
    if (pg_exec(h, "SELECT pg_advisory_unlock(" PG_LOCK_KEY ")", &e) != 0)
        log_warn("unable to release the migration lock (it goes with the session): %s", e.msg);
}

static int pg_session_reset(void *h, const char *db, struct cf_err *e)
{
    (void)db;
    return pg_exec(h, "RESET SESSION AUTHORIZATION; RESET ALL", e);
}

static unsigned long pg_server_version(void *h)
{
    int v = PQserverVersion(h);
    return v > 0 ? (unsigned long)v : 0;
}

const struct mig_engine_ops mig_pg_ops = {
    .eng = MIG_PG,
    .name = "postgres",
    .history_ddl =
        "CREATE TABLE IF NOT EXISTS %s ("
        " version bigint PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now(),"
        " duration_ms bigint NOT NULL DEFAULT 0,"
        " applied_by text NOT NULL DEFAULT '',"
        " status text NOT NULL CHECK (status IN ('applied', 'failed', 'rolled_back')),"
        " snapshot text,"
        " run_id text,"
        " failed_statement text,"
        " error text)",
    .history_exists = "SELECT 1 FROM pg_tables WHERE schemaname = %s"
                      " AND tablename = 'coffer_schema_history'",
    .session_reset = pg_session_reset,
    .now_expr = "now()",
    .applied_at_expr =
        "to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
    .upsert_tail =
        " ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name,"
        " checksum = EXCLUDED.checksum, applied_at = EXCLUDED.applied_at,"
        " duration_ms = EXCLUDED.duration_ms, applied_by = EXCLUDED.applied_by,"
        " status = EXCLUDED.status, snapshot = EXCLUDED.snapshot, run_id = EXCLUDED.run_id,"
        " failed_statement = EXCLUDED.failed_statement, error = EXCLUDED.error",
    .transactional_ddl = true,
    .settings_load = db_pg_settings_load,
    .connect = pg_connect,
    .close = pg_close,
    .exec = pg_exec,
    .query = pg_query,
    .quote = pg_quote,
    .quote_ident = pg_quote_ident,
    .history_schema = pg_history_schema,
    .lock_try = pg_lock_try,
    .unlock = pg_unlock,
    .server_version = pg_server_version,
};
