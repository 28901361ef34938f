/* mig_maria.c - the migrate engine for MariaDB, through libmariadb. */
#include "mig.h"

#include <stdio.h>
#include <string.h>

#include <mysql.h>
#include <sodium.h>

#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/db/db_maria.h"

static int my_fail(MYSQL *m, const char *what, struct cf_err *e)
{
    unsigned no = mysql_errno(m);
    /* 2002-2013: the client lost or never had its server */
    enum cf_code code = no >= 2000 && no < 3000 ? CF_E_NET : CF_E_SOURCE;

    if (what != NULL)
        return cf_err_set(e, code, "%s: %s (error %u)", what, mysql_error(m), no);
    return cf_err_set(e, code, "%s (error %u)", mysql_error(m), no);
}

static int my_connect(const struct db_settings *s, const char *db, void **h, struct cf_err *e)
{
    MYSQL *m;

    if (db_maria_connect(s, db, CLIENT_MULTI_RESULTS, &m, e) != 0)
        return db ? cf_err_ctx(e, "database '%s'", db) : -1;
    *h = m;
    return 0;
}

static void my_close(void *h)
{
    if (h != NULL)
        mysql_close(h);
}

static int my_exec(void *h, const char *sql, struct cf_err *e)
{
    MYSQL *m = h;
    int st;

    if (mysql_real_query(m, sql, strlen(sql)) != 0)
        return my_fail(m, NULL, e);
    do {
        MYSQL_RES *res = mysql_store_result(m);
        if (res != NULL)
            mysql_free_result(res);
        else if (mysql_field_count(m) != 0)
            return my_fail(m, NULL, e);
        st = mysql_next_result(m);
    } while (st == 0);
    if (st > 0)
        return my_fail(m, NULL, e);
    return 0;
}

static int my_query(void *h, const char *sql, struct mig_rows *out, struct cf_err *e)
{
    MYSQL *m = h;
    MYSQL_RES *res;
    MYSQL_ROW row;

    memset(out, 0, sizeof(*out));
    if (mysql_real_query(m, sql, strlen(sql)) != 0)
        return my_fail(m, "query failed", e);
    res = mysql_store_result(m);
    if (res == NULL)
        return my_fail(m, "query failed", e);
    out->nrows = (size_t)mysql_num_rows(res);
    out->ncols = mysql_num_fields(res);
    out->cell = cf_calloc(out->nrows * out->ncols + 1, sizeof(char *));
    for (size_t i = 0; (row = mysql_fetch_row(res)) != NULL && i < out->nrows; i++) {
        unsigned long *len = mysql_fetch_lengths(res);
        for (size_t j = 0; j < out->ncols; j++)
            if (row[j] != NULL)
                MIG_CELL(out, i, j) = cf_strndup(row[j], len[j]);
    }
    mysql_free_result(res);
    while (mysql_next_result(m) == 0) {
        res = mysql_store_result(m);
        if (res != NULL)
            mysql_free_result(res);
    }
    return 0;
}

static char *my_quote(void *h, const char *s)
{
    size_t n = strlen(s);
    char *q = cf_malloc(2 * n + 3);
    unsigned long k = mysql_real_escape_string(h, q + 1, s, (unsigned long)n);

    q[0] = '\'';
    q[k + 1] = '\'';
    q[k + 2] = '\0';
    return q;
}

static char *my_quote_ident(void *h, const char *s)
{
    struct buf b = BUF_INIT;

    (void)h;
    buf_puts(&b, "`");
    for (; *s; s++) {
        if (*s == '`')
            buf_puts(&b, "`");
        buf_append(&b, s, 1);
    }
    buf_puts(&b, "`");
    return b.data;
}

static int my_history_schema(void *h, const char *db, char **out, struct cf_err *e)
{
    (void)h;
    (void)e;
    *out = cf_strdup(db);
    return 0;
}

/* "coffer_migrate.<db>", or a hash of the database name where that passes the 64
 * characters GET_LOCK allows */
static char *lock_name(MYSQL *m, const char *db)
{
    char *name = cf_asprintf("coffer_migrate.%s", db), *q;
    unsigned char h[crypto_hash_sha256_BYTES];
    char hex[2 * sizeof(h) + 1];

    if (strlen(name) > 64) {
        free(name);
        crypto_hash_sha256(h, (const unsigned char *)db, strlen(db));
        hex_encode(h, sizeof(h), hex);
        hex[40] = '\0';
        name = cf_asprintf("coffer_migrate.%s", hex);
    }
    q = my_quote(m, name);
    free(name);
    return q;
}

static int my_lock_try(void *h, const char *db, struct cf_err *e)
{
    char *name = lock_name(h, db);
    char *sql = cf_asprintf("SELECT GET_LOCK(%s, 0)", name);
    struct mig_rows r;
    int rc;

    rc = my_query(h, sql, &r, e);
    if (rc == 0) {
        rc = r.nrows == 1 && MIG_CELL(&r, 0, 0) && strcmp(MIG_CELL(&r, 0, 0), "1") == 0;
        mig_rows_free(&r);
    } else {
        cf_err_ctx(e, "GET_LOCK");
    }
    free(sql);
    free(name);
    return rc;
}

static void my_unlock(void *h, const char *db)
{
    char *name = lock_name(h, db);
    char *sql = cf_asprintf("SELECT RELEASE_LOCK(%s)", name);
    struct cf_err e = CF_ERR_INIT;

    if (my_exec(h, sql, &e) != 0)
        log_warn("unable to release the migration lock (it goes with the session): %s", e.msg);
    free(sql);
    free(name);
}

static int my_session_reset(void *h, const char *db, struct cf_err *e)
{
    if (mysql_select_db(h, db) != 0)
        return my_fail(h, "selecting the database again", e);
    return 0;
}

static unsigned long my_server_version(void *h)
{
    return mysql_get_server_version(h);
}

const struct mig_engine_ops mig_maria_ops = {
    .eng = MIG_MARIA,
    .name = "mariadb",
    .history_ddl =
        "CREATE TABLE IF NOT EXISTS %s ("
        " version BIGINT NOT NULL PRIMARY KEY,"
        " name VARCHAR(255) NOT NULL,"
        " checksum VARCHAR(80) NOT NULL,"
        " applied_at DATETIME(3) NOT NULL,"
        " duration_ms BIGINT NOT NULL DEFAULT 0,"
        " applied_by VARCHAR(255) NOT NULL DEFAULT '',"
        " status VARCHAR(16) NOT NULL,"
        " snapshot VARCHAR(80),"
        " run_id VARCHAR(80),"
        " failed_statement MEDIUMTEXT,"
        " error TEXT,"
        " CHECK (status IN ('applied', 'failed', 'rolled_back'))"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
    .history_exists =
        "SELECT 1 FROM information_schema.tables WHERE table_schema = %s"
        " AND table_name = 'coffer_schema_history'",
    .session_reset = my_session_reset,
    .now_expr = "UTC_TIMESTAMP(3)",
    .applied_at_expr = "DATE_FORMAT(applied_at, '%Y-%m-%dT%H:%i:%sZ')",
    .upsert_tail =
        " ON DUPLICATE KEY UPDATE name = VALUES(name), checksum = VALUES(checksum),"
        " applied_at = VALUES(applied_at), duration_ms = VALUES(duration_ms),"
        " applied_by = VALUES(applied_by), status = VALUES(status),"
        " snapshot = VALUES(snapshot), run_id = VALUES(run_id),"
        " failed_statement = VALUES(failed_statement), error = VALUES(error)",
    .transactional_ddl = false,
    .settings_load = db_maria_settings_load,
    .connect = my_connect,
    .close = my_close,
    .exec = my_exec,
    .query = my_query,
    .quote = my_quote,
    .quote_ident = my_quote_ident,
    .history_schema = my_history_schema,
    .lock_try = my_lock_try,
    .unlock = my_unlock,
    .server_version = my_server_version,
};
