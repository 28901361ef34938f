/* db_version.h - which dump tool can read which server: the check step (`backupd
 * check-config`) and migrate's snapshot ask the same questions here. */
#ifndef CF_DB_VERSION_H
#define CF_DB_VERSION_H

#include <stddef.h>

#include "../core/err.h"

/* db_tool_major() - run `@tool --version` and read the first number in its first line (15 in
 * "pg_dump (PostgreSQL) 15.8"); that line into @line. CF_E_CONFIG when the tool is missing
 * or does not run. */
int db_tool_major(const char *tool, char *line, size_t cap, int *major, struct cf_err *e);
/* db_version_parse() - the first "X.Y" or "X" after @after (NULL: anywhere) in @s; -1 when
 * there is none */
int db_version_parse(const char *s, const char *after, unsigned *major, unsigned *minor);

/* db_pg_tool_check() - pg_dump @tool of major version @tool_major against a server of version
 * number @server_num (PQserverVersion): a pg_dump older than the server refuses to dump it
 * (CF_E_CONFIG with a HINT) */
int db_pg_tool_check(const char *tool, int tool_major, unsigned long server_num,
                     struct cf_err *e);
/* db_maria_tool_check() - mariadb-dump @tool, whose `--version` printed @line, against a
 * server of version @server (mysql_get_server_version: major*10000 + minor*100 + patch): a
 * dump tool from an older MariaDB than the server's major.minor may miss what the server
 * has (CF_E_CONFIG with a HINT) */
int db_maria_tool_check(const char *tool, const char *line, unsigned long server,
                        struct cf_err *e);

#endif
