/* backupd.h - the backup daemon's commands, callable from tests. */
#ifndef CF_BACKUPD_H
#define CF_BACKUPD_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "../lib/config/conf.h"
#include "../lib/core/buf.h"
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
/* backupd_textfile() - rewrite the metrics textfile ([metrics] textfile-dir; nothing when
 * unset) from the index now; logs what it cannot do */
void backupd_textfile(const struct conf *c, const char *repo_id);
/* backupd_metrics_text() - the metrics of every job and source as the textfile holds them,
 * gathered now from the catalog index (of every repository it knows), into @out */
int backupd_metrics_text(const struct conf *c, struct buf *out, struct cf_err *e);

/* backupd_daemon() - `daemon` (backupd_daemon.c): run each job at its schedule until SIGTERM;
 * SIGHUP reloads @config_path. Returns an exit code: 0 after SIGTERM, 1 or 2 when it cannot
 * start. */
int backupd_daemon(const char *config_path, struct conf *c);
/* backupd_status() - `status [--json]` (backupd_dstate.c): what the running daemon says of
 * its jobs. Returns 0, or 1 when no daemon runs. */
int backupd_status(const struct conf *c, bool json);

/* backupd_job_verify() - (backupd_verify.c) verify, as the job's `verify` says
 * (daemon_verify_mode()), the backup each of its sources
 * committed since @since, recording the result in the index and the metrics textfile.
 * Returns an exit code: 0 (also with verify = no), 1 when damage was found or the check could
 * not be done. */
int backupd_job_verify(const struct conf *c, const char *job, time_t since);
/* backupd_job_prune() - with the job's `prune = yes`, `catalog prune` of each of its sources
 * (retention and debris, printed on stdout). Returns catalog prune's exit code. */
int backupd_job_prune(const struct conf *c, const char *job);

/* backupd_systemd_units() - `systemd-units --dir D [--prefix P]` (backupd_units.c): for each
 * job with a schedule, D/P@JOB.timer.d/schedule.conf (P: coffer-backup) with OnCalendar= reset
 * and set to the schedule, RandomizedDelaySec= the jitter, Persistent=true; prints each path.
 * Returns an exit code. */
int backupd_systemd_units(const struct conf *c, const char *dir, const char *prefix);

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
