/* validate.h - the validation step: coffer.conf checked as a whole, by every tool at its
 * start and by `backupd check-config`.
 *
 * lib/config reads and sorts the file; this step gathers each owner's keys (the repository's,
 * each target and source driver's, the stream's, the policies', the jobs', migrate's, the
 * catalog's), checks every value's form, and opens each driver on its section so that it
 * checks its own settings, all without touching a server or the repository. check-config
 * then asks lib/repo and each source driver to check what they own against the world. */
#ifndef CF_VALIDATE_H
#define CF_VALIDATE_H

#include "../config/conf.h"
#include "../config/conf_check.h"

#include <stdint.h>

/* validate_load() - read @path and check it: unknown sections and keys, values of the wrong
 * form, jobs naming missing sources, each target and source kind's own settings (through
 * their open/close). The first error fails the whole, naming file and line. */
int validate_load(const char *path, struct conf **out, struct cf_err *e);

/* validate_source() - one [source] as the backup side reads it: every key known to one of its
 * owners, and its driver's own settings (through open/close); for migrate, which reads its
 * one section by itself */
int validate_source(const struct ini_section *s, struct cf_err *e);

/* validate_report() - `backupd check-config`: as validate_load, but every section that does
 * not check is a finding in @rep and the others are still read; then the key and the
 * repository (repo_check) and each source's files, server and dump tool (source_check), each
 * adding its findings (with rep->offline, nothing that needs the network). -1 only when the
 * file cannot be read or parsed, or has no [repository]. */
int validate_report(const char *path, struct conf **out, struct conf_report *rep,
                    struct cf_err *e);

/* [daemon]: backupd daemon's settings (docs/CONFIG.md "[daemon]"); read here because lib/
 * includes no tool */
struct daemon_opts {
    long max_jobs;          /* jobs run at once, default 1 */
    int64_t stop_grace;     /* seconds running jobs get after SIGTERM, default 300 */
    const char *runtime_dir;   /* the state file and the lock, default /run/coffer */
};
#define DAEMON_RUNTIME_DIR "/run/coffer"

/* `verify =` of a [job]: what backupd daemon checks after the job's run */
enum daemon_verify { DAEMON_VERIFY_NO, DAEMON_VERIFY_QUICK, DAEMON_VERIFY_FULL };
int daemon_verify_mode(const struct ini_section *job, enum daemon_verify *out, struct cf_err *e);

/* daemon_opts_read() - [daemon] of @c (defaults when absent) */
int daemon_opts_read(const struct conf *c, struct daemon_opts *out, struct cf_err *e);
/* the drill's keys of [source] (check-sql, check-expect; NULL-terminated) */
extern const char *const drill_source_keys[];
/* restore's keys of a [restore-profile NAME] section, written SOURCE.KEY (NULL-terminated) */
extern const char *const restore_profile_keys[];
/* restore_profile_key() - the KEY of a profile key SOURCE.KEY when KEY is one of
 * restore_profile_keys (a pointer into @key, after the last dot), else NULL */
const char *restore_profile_key(const char *key);

#endif
