/* backupd.h - the backup daemon's commands, callable from tests. */
#ifndef CF_BACKUPD_H
#define CF_BACKUPD_H

#include <stdbool.h>

#include "../lib/config/conf.h"
#include "../lib/core/err.h"

/* backupd_job_run() - back up every source of @job, one after the other, printing one summary
 * line per source on stdout. Returns an exit code: 0 all done, 1 all failed (or the job could
 * not start), 3 some failed. */
int backupd_job_run(const struct conf *c, const char *job);

/* backupd_check_config() - `check-config`: read @path, then check the repository and every
 * source as a backup will need them (docs/CONFIG.md "check-config"), printing every finding.
 * Returns an exit code: 0 nothing found, 2 a configuration or key finding, else 1. */
int backupd_check_config(const char *path, bool offline);

/* backupd_wal_push() - `wal-push SOURCE PATH`, PostgreSQL's archive_command: archive the WAL
 * file at @path for postgres source @source (docs/PITR.md). Returns an exit code: 0 once the
 * object is durable (or already archived with the same content), else 1 or 2. */
int backupd_wal_push(const struct conf *c, const char *source, const char *path);

#endif
