/* backupd_binlog.h - what binlog-sync and binlog-follow share (backupd_binlog.c), private to
 * backupd/. */
#ifndef CF_BACKUPD_BINLOG_H
#define CF_BACKUPD_BINLOG_H

#include <stdbool.h>

#include "../lib/config/conf.h"
#include "../lib/db/db_binlog.h"
#include "../lib/db/db_settings.h"
#include "../lib/repo/repo.h"
#include "../lib/source/child.h"
#include "../lib/stream/stream_opts.h"

/* a mariadb source that archives binlogs */
struct binlog_src {
    const char *name;
    const struct ini_section *sec;
    struct db_binlog_conf conf;
    struct db_settings *m;
    struct stream_opts so;
};
/* binlog_source_open() - [source @source] of type mariadb with binlog-archive = yes (@cmd
 * names the command in messages); close with binlog_source_close, also after -1 */
int binlog_source_open(const struct conf *c, const char *source, const char *cmd,
                       struct binlog_src *b, struct cf_err *e);
void binlog_source_close(struct binlog_src *b);

/* the names archived under logs/<source>/binlog/ */
struct binlog_archived {
    char **names;
    size_t n;
};
int binlog_archived_load(struct repo *r, const char *source, struct binlog_archived *a,
                         struct cf_err *e);
bool binlog_archived_has(const struct binlog_archived *a, const char *name);
void binlog_archived_free(struct binlog_archived *a);

/* binlog_push_file() - scan the binlog file at @path into @sc and archive it as @object (its
 * own name when whole, which it must then be: closed; "<name>.partial-<length>" when not) */
int binlog_push_file(struct repo *r, const struct binlog_src *b, const char *path,
                     const char *object, bool whole, struct repo_log_stats *st,
                     struct db_binlog_scan *sc, struct cf_err *e);
/* binlog_fetch() - mariadb-binlog --read-from-remote-server --raw of @file into @dir; with
 * @stop_never it goes on with the files after it and keeps running (the caller owns @ch),
 * otherwise it returns once the file is read */
int binlog_fetch(const struct binlog_src *b, const char *optfile, const char *dir,
                 const char *file, bool stop_never, struct child *ch, struct cf_err *e);
/* binlog_server_files() - the server's binlog files (SHOW BINARY LOGS), oldest first (the last
 * one is open); free with ini_list_free */
int binlog_server_files(MYSQL *c, char ***names, size_t *n, struct cf_err *e);
/* binlog_gap_report() - when the server's oldest file @names[0] comes after the archive's
 * newest plus one, the files between were purged unarchived: logged as a gap; 1, else 0 */
unsigned binlog_gap_report(const char *source, char **names, size_t n,
                           const struct binlog_archived *a);

#endif
