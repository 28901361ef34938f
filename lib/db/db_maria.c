/* db_maria.c - MariaDB settings, connections and option files. */
#include "db_maria.h"

#include <stdio.h>
#include <string.h>

#include "../core/buf.h"
#include "../core/util.h"

int db_maria_settings_load(const struct ini_section *sec, struct db_settings **out,
                           struct cf_err *e)
{
    struct db_settings *m;
    if (db_settings_load(sec, "MYSQL_PWD", 3306, &m, e) != 0)
        return -1;
    if (m->socket == NULL && m->host == NULL)
        m->socket = cf_strdup("/run/mysqld/mysqld.sock");
    if (m->user == NULL)
        m->user = cf_strdup("root");
    *out = m;
    return 0;
}

void db_maria_where(const struct db_settings *m, char *out, size_t cap)
{
    if (m->socket)
        snprintf(out, cap, "socket %s", m->socket);
    else
        snprintf(out, cap, "%s:%ld", m->host, m->port);
}

int db_maria_connect(const struct db_settings *m, const char *db, unsigned long flags,
                     MYSQL **out, struct cf_err *e)
{
    char where[512];
    unsigned timeout = 20;
    MYSQL *c = mysql_init(NULL);
    if (c == NULL)
        return cf_err_set(e, CF_E_NOMEM, "mysql_init failed");
    mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(c, m->socket ? "localhost" : m->host, m->user, m->password, db,
                           (unsigned)m->port, m->socket, flags) != NULL) {
        *out = c;
        return 0;
    }
    db_maria_where(m, where, sizeof(where));
    unsigned err = mysql_errno(c);
    int rc;
    if (err == 1045 || err == 1698)   /* ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD */
        rc = cf_err_set(e, CF_E_AUTH,
                        "mariadb at %s refused user '%s': %s. HINT: check user and password-file",
                        where, m->user, mysql_error(c));
    else if (err == 1049)   /* ER_BAD_DB_ERROR */
        rc = cf_err_set(e, CF_E_NOTFOUND, "mariadb at %s: %s", where, mysql_error(c));
    else
        rc = cf_err_retry(e, CF_E_NET,
                          "unable to connect to mariadb at %s: %s. HINT: is the server running, and is the socket or host right?",
                          where, mysql_error(c));
    mysql_close(c);
    return rc;
}

MYSQL_RES *db_maria_query(MYSQL *c, const char *what, const char *sql, struct cf_err *e)
{
    if (mysql_query(c, sql) != 0) {
        cf_err_set(e, CF_E_SOURCE, "%s: %s", what, mysql_error(c));
        return NULL;
    }
    MYSQL_RES *r = mysql_store_result(c);
    if (r == NULL)
        cf_err_set(e, CF_E_SOURCE, "%s: %s", what,
                   mysql_field_count(c) ? mysql_error(c) : "no result");
    return r;
}

int db_maria_exec(MYSQL *c, const char *what, const char *sql, struct cf_err *e)
{
    if (mysql_query(c, sql) != 0)
        return cf_err_set(e, CF_E_SOURCE, "%s: %s", what, mysql_error(c));
    mysql_free_result(mysql_store_result(c));
    return 0;
}

char *db_maria_escape(MYSQL *c, const char *s)
{
    char *esc = cf_malloc(strlen(s) * 2 + 1);
    mysql_real_escape_string(c, esc, s, strlen(s));
    return esc;
}

/* a value inside "..." of an option file */
static void opt_quote(struct buf *b, const char *key, const char *v)
{
    buf_printf(b, "%s=\"", key);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_puts(b, "\\");
        buf_append(b, p, 1);
    }
    buf_puts(b, "\"\n");
}

static int option_file(const struct db_settings *m, bool charset, char **path, struct cf_err *e)
{
    struct buf b = BUF_INIT;
    buf_puts(&b, "[client]\n");
    opt_quote(&b, "user", m->user);
    if (m->password)
        opt_quote(&b, "password", m->password);
    if (m->socket) {
        opt_quote(&b, "socket", m->socket);
    } else {
        opt_quote(&b, "host", m->host);
        buf_printf(&b, "port=%ld\nprotocol=tcp\n", m->port);
    }
    if (charset)
        buf_puts(&b, "default-character-set=utf8mb4\n");
    int rc = db_secret_file_write(b.data, path, e);
    explicit_bzero(b.data, b.len);
    buf_free(&b);
    return rc;
}

int db_maria_option_file(const struct db_settings *m, char **path, struct cf_err *e)
{
    return option_file(m, true, path, e);
}

int db_maria_binlog_option_file(const struct db_settings *m, char **path, struct cf_err *e)
{
    return option_file(m, false, path, e);
}
