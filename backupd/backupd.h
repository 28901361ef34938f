/* backupd.h - the backup daemon's commands, callable from tests. */
#ifndef CF_BACKUPD_H
#define CF_BACKUPD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../lib/config/conf.h"
#include "../lib/core/err.h"
#include "../lib/stream/pipeline.h"

/* backupd_job_run() - back up every source of @job, one after the other, printing one summary
 * line per source on stdout. Returns an exit code: 0 all done, 1 all failed (or the job could
 * not start), 3 some failed. */
int backupd_job_run(const struct conf *c, const char *job);

/* backupd_check_config() - `check-config`: read @path, then check the repository and every
 * source as a backup will need them (docs/CONFIG.md "check-config"), printing every finding.
 * Returns an exit code: 0 nothing found, 2 a configuration or key finding, else 1. */
int backupd_check_config(const char *path, bool offline);

/* how one source of a job run ended */
struct backupd_outcome {
    const char *source;
    const char *repo_id;              /* NULL when the repository could not be opened */
    time_t started;
    uint64_t ms;                      /* how long it took */
    const struct backup_result *res;  /* the backup committed, NULL when it failed */
    const char *error;                /* why it failed */
};

/* backupd_attempt() - after one source of @job (backupd_report.c): record the attempt in the
 * catalog index, and notify a failure, or a success after a failure (recovery). Logs what it
 * cannot do; never fails. */
void backupd_attempt(const struct conf *c, const char *job, const struct backupd_outcome *o);
/* backupd_after_run() - after @job: notify the RPO violations of its sources and write the
 * metrics textfile ([metrics] textfile-dir). Logs what it cannot do; never fails. */
void backupd_after_run(const struct conf *c, const char *job, const char *repo_id);
/* What `backupd key ...` was given on the command line. */
struct backupd_key_args {
    const char *const *args;   /* after "key": SUBCOMMAND [ID] */
    int nargs;
    const char *passphrase_file, *key_file, *label;
};

/* backupd_key() - `key list|add|remove|passwd|upgrade` (backupd_key.c): the repository's key
 * slots (docs/RUNBOOK.md "Key slots"). Returns an exit code. */
int backupd_key(const struct conf *c, const struct backupd_key_args *k);
/* backupd_wal_push() - `wal-push SOURCE PATH`, PostgreSQL's archive_command: archive the WAL
 * file at @path for postgres source @source (docs/PITR.md). Returns an exit code: 0 once the
 * object is durable (or already archived with the same content), else 1 or 2. */
int backupd_wal_push(const struct conf *c, const char *source, const char *path);
/* backupd_binlog_sync() - `binlog-sync SOURCE`: FLUSH BINARY LOGS, then archive every closed
 * binlog file not archived yet (backupd_binlog.c); 1 also when files were purged unarchived */
int backupd_binlog_sync(const struct conf *c, const char *source);
/* backupd_binlog_follow() - `binlog-follow SOURCE`: stream the binlog as the server writes
 * it, sealing every binlog-seal-interval; runs until SIGTERM/SIGINT (backupd_follow.c) */
int backupd_binlog_follow(const struct conf *c, const char *source);

#endif
