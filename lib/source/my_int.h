/* my_int.h - private to the mariadb source: what src_mariadb.c and my_rows.c share. */
#ifndef CF_MY_INT_H
#define CF_MY_INT_H

#include <jansson.h>
#include <mysql.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "../db/db_settings.h"
#include "reader.h"

/* mariadb-dump's default net_buffer_length, 1 MiB - 1025 rounded down to its option's 1 KiB
 * block: an extended INSERT ends before it would reach this many bytes (a row longer than it
 * is a statement of its own) */
#define MY_NET_BUFFER_LENGTH 1046528L

/* --- my_rows.c --- */

/* one connection to a database, reading its rows from one consistent snapshot */
struct my_snap;

/* my_snap_connect() - connect to database @db in the session mariadb-dump uses (utf8mb4,
 * time_zone '+00:00', sql_mode ''), and fingerprint its tables (their names, columns, indexes
 * and constraints) and its routines, events, triggers and views, before the schema is dumped */
int my_snap_connect(const struct db_settings *m, const char *db, struct my_snap **out,
                    struct cf_err *e);
/* my_snap_begin() - START TRANSACTION WITH CONSISTENT SNAPSHOT, after the schema is dumped: a
 * table created or dropped since my_snap_connect() is an error; with @binlog, the snapshot's
 * binlog file, position and GTID into @dbinfo ("binlog_file", "binlog_pos", "gtid"), or 1 when
 * the server gives none (binlog_snapshot_file is MariaDB's) */
int my_snap_begin(struct my_snap *s, bool binlog, json_t *dbinfo, struct cf_err *e);
/* my_snap_rows() - the rows of every base table, as mariadb-dump's data sections with its
 * session settings around them, through @sink. Each table is read under a savepoint that
 * releases its lock afterwards, and its definition must be the one fingerprinted. *@rows:
 * rows written; *@later: whether the database has triggers or events (dumped after the rows). */
int my_snap_rows(struct my_snap *s, src_sink_fn sink, void *ctx, uint64_t *rows, bool *later,
                 struct cf_err *e);
/* my_snap_unchanged() - the routines, events, triggers and views are the ones fingerprinted
 * (call after the last of them is dumped) */
int my_snap_unchanged(struct my_snap *s, struct cf_err *e);
void my_snap_close(struct my_snap *s);

/* my_escape() - @n bytes of @from as mysql_real_escape_string writes them in a utf8mb4
 * session, into @to, which has room for 2 * @n + 8 bytes (it stores eight at a time); returns
 * the bytes written */
size_t my_escape(char *to, const unsigned char *from, size_t n);

#endif
