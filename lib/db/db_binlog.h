/* db_binlog.h - MariaDB binary log files as coffer archives and replays them: their names
 * (<base>.<number>) and what their event headers say (times, GTIDs, whether the file was
 * closed), read without a server. The format: a 4-byte magic, then events, each with a
 * 19-byte header (timestamp, type, server id, size, end position, flags) whose size covers
 * the body and the checksum. */
#ifndef CF_DB_BINLOG_H
#define CF_DB_BINLOG_H

#include <stdbool.h>
#include <stdint.h>

#include <mysql.h>

#include "../config/ini.h"
#include "../core/err.h"

#define DB_BINLOG_GTID_MAX 48   /* "domain-server-seq", each part decimal */

/* db_binlog_name() - is @file a binlog file name "<base>.<number>" (base of letters, digits,
 * '_' and '-'; number of 6 to 10 digits)? On true @seq holds the number and @baselen the
 * length of the base (NULL: not wanted) */
bool db_binlog_name(const char *file, uint64_t *seq, size_t *baselen);
/* db_binlog_object_name() - a name in the binlog archive: a binlog file's name (the whole,
 * closed file; @partial 0), or "<file>.partial-<length>": its first @partial bytes, sealed
 * while the server still wrote it (binlog-follow). A length names one content only, since a
 * binlog file only grows. */
bool db_binlog_object_name(const char *name, uint64_t *seq, size_t *baselen,
                           uint64_t *partial);

/* what db_binlog_scan() finds in one file */
struct db_binlog_scan {
    int64_t first_time, last_time;          /* of the events after the format description
                                               (0 when there are none) */
    char gtid_first[DB_BINLOG_GTID_MAX];    /* the first and last GTID of the file, "" if none */
    char gtid_last[DB_BINLOG_GTID_MAX];
    bool closed;        /* ends with a ROTATE or STOP event: the server closed it */
    uint64_t size;      /* bytes up to the end of the last whole event */
    uint64_t events;
    /* with a @stop time: the first event at or after it ends what mariadb-binlog
     * --stop-datetime replays; the last transaction that ends before it is "applied" */
    bool reached;                           /* an event at or after @stop was found */
    int64_t applied_time;                   /* time of the last event of that transaction */
    char applied_gtid[DB_BINLOG_GTID_MAX];  /* its GTID ("" when none so far) */
    /* with a @watch_db: the statements logged as SQL text (STATEMENT or MIXED format, and
     * DDL in every format) with @watch_db as default database, among the events before
     * @stop; BEGIN, COMMIT, ROLLBACK and XA are not counted */
    uint64_t statements;
    char statement[80];                     /* the first one's start */
};

/* db_binlog_scan() - read the binlog file at @path from @start (4, or a position a dump
 * recorded) and fill @s; @stop 0 for none; @watch_db NULL for none. @s->applied_*,
 * reached and the statements carry over from the scan of the previous file when @carry is
 * true (a replay across files). CF_E_CORRUPT when the file is no binlog or an event header
 * is impossible. */
int db_binlog_scan(const char *path, uint64_t start, int64_t stop, const char *watch_db,
                   bool carry, struct db_binlog_scan *s, struct cf_err *e);

/* a mariadb [source]'s binlog keys (docs/CONFIG.md) */
enum db_binlog_mode { DB_BINLOG_SYNC, DB_BINLOG_FOLLOW };
struct db_binlog_conf {
    bool archive;               /* binlog-archive = yes */
    enum db_binlog_mode mode;   /* binlog-mode = sync (a timer runs binlog-sync) | follow */
    int64_t seal_interval;      /* binlog-seal-interval, seconds (follow) */
};
#define DB_BINLOG_KEYS "binlog-archive", "binlog-mode", "binlog-seal-interval"
/* db_binlog_conf_load() - the keys of @sec, each error naming file and line */
int db_binlog_conf_load(const struct ini_section *sec, struct db_binlog_conf *out,
                        struct cf_err *e);

/* db_binlog_replays() - does a restore of @sec (NULL: none) to a moment replay archived
 * binlog events after its dump (binlog-archive = yes, readable)? */
bool db_binlog_replays(const struct ini_section *sec);

/* db_binlog_server_check() - can the user of @c archive binlogs: log_bin on, and the
 * REPLICATION SLAVE and BINLOG MONITOR privileges (or ALL PRIVILEGES)? A CF_E_SOURCE error
 * names each thing missing, with a HINT */
int db_binlog_server_check(MYSQL *c, struct cf_err *e);

#endif
