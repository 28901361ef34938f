/* db_maria.h - a MariaDB (or MySQL) server, as the mariadb source and migrate reach it:
 * settings with MariaDB's defaults, libmariadb connections that fail with one set of
 * messages, and the 0600 option file that hands the settings and the password to a child
 * tool (mariadb-dump, mariadb). */
#ifndef CF_DB_MARIA_H
#define CF_DB_MARIA_H

#include <stddef.h>

#include <mysql.h>

#include "db_settings.h"

/* db_maria_settings_load() - the settings of a mariadb [source]: port 3306, the socket
 * /run/mysqld/mysqld.sock when neither socket nor host is given, user root when none is, the
 * password from `password-file` or MYSQL_PWD */
int db_maria_settings_load(const struct ini_section *sec, struct db_settings **out,
                           struct cf_err *e);

/* "socket /run/mysqld/mysqld.sock" or "db.example.com:3306", for messages */
void db_maria_where(const struct db_settings *m, char *out, size_t cap);

/* db_maria_connect() - connect (utf8mb4, 20 s connect timeout) with database @db selected
 * (NULL: none) and client @flags (CLIENT_MULTI_RESULTS, ...). A refused user or password is
 * CF_E_AUTH with a HINT, a missing database CF_E_NOTFOUND, anything else a retryable CF_E_NET
 * with a HINT; the message names the server (db_maria_where), never the password. */
int db_maria_connect(const struct db_settings *m, const char *db, unsigned long flags,
                     MYSQL **out, struct cf_err *e);

/* db_maria_query() - run @sql and keep its whole result; NULL with "@what: the server's
 * error" (CF_E_SOURCE) when it fails or returns no rows at all */
MYSQL_RES *db_maria_query(MYSQL *c, const char *what, const char *sql, struct cf_err *e);
/* db_maria_exec() - run @sql, a statement whose result (if any) is not wanted */
int db_maria_exec(MYSQL *c, const char *what, const char *sql, struct cf_err *e);
/* db_maria_escape() - @s escaped for inside '...' in @c's character set (free it) */
char *db_maria_escape(MYSQL *c, const char *s);

/* db_maria_option_file() - the 0600 --defaults-extra-file with where to connect and the
 * password; remove it with db_secret_file_remove once the child is done */
int db_maria_option_file(const struct db_settings *m, char **path, struct cf_err *e);
/* db_maria_binlog_option_file() - the same for mariadb-binlog, which refuses
 * default-character-set (it prints events as they are) */
int db_maria_binlog_option_file(const struct db_settings *m, char **path, struct cf_err *e);

#endif
