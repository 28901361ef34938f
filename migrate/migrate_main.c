/* migrate_main.c - `migrate`: versioned schema migrations with a snapshot before apply. */
#include <stdio.h>
#include <string.h>

#include "../lib/config/conf.h"
#include "../lib/core/cli.h"
#include "../lib/core/util.h"
#include "mig.h"

static const char usage[] =
    "usage: migrate [--config F] [--repository MIRROR] --source S [--database DB] [--dir PATH] [--json]\n"
    "               [--dry-run] [--lock-timeout DUR] [--log-format text|json] [-v|-q]\n"
    "               COMMAND\n"
    "commands:\n"
    "  status                     applied, pending, failed and drifted migrations\n"
    "  up [--to V] [--no-snapshot]  snapshot, then apply the pending migrations\n"
    "  down [--to V]              revert by down scripts, newest first (default: one)\n"
    "  verify                     checksums of applied files against the history\n"
    "  baseline V                 mark versions up to V applied without running them\n"
    "  rollback [--restore-snapshot] [--force] [--secret-key-file F]  undo the last run\n"
    "  repair                     mark failed migrations rolled back (fixed by hand)\n"
    "  accept-checksum V          record the edited file of applied version V\n"
    "  new NAME                   create the next <version>_NAME.up.sql / .down.sql\n"
    "exit codes (docs/CONFIG.md): 0 done, 1 failed, 2 usage, configuration or key,\n"
    "  10 pending (status),\n"
    "  11 failed partway: rollback or repair first, 12 lock timeout, 13 checksum drift,\n"
    "  14 snapshot failed (nothing applied)\n";

int main(int argc, char **argv)
{
    struct mig_opts o;
    const char *to = NULL, *lock_timeout = NULL;
    const char *pos[8];
    int64_t secs;
    int rc, next = 1;

    memset(&o, 0, sizeof(o));
    const struct cli_opt opts[] = {
        { "--source", &o.source, NULL },
        { "--database", &o.database, NULL },
        { "--dir", &o.dir, NULL },
        { "--to", &to, NULL },
        { "--json", NULL, &o.json },
        { "--dry-run", NULL, &o.dry_run },
        { "--no-snapshot", NULL, &o.no_snapshot },
        { "--restore-snapshot", NULL, &o.restore_snapshot },
        { "--force", NULL, &o.force },
        { "--lock-timeout", &lock_timeout, NULL },
        { "--secret-key-file", &o.secret_key_file, NULL },
        { NULL, NULL, NULL },
    };
    struct cli_args a = { "migrate", usage, opts, CONF_DEFAULT_PATH, pos, 8, 0, NULL };

    if ((rc = cli_parse(&a, argc, argv)) >= 0)
        return rc;   /* EXIT_OK after --help, EXIT_USAGE (MIG_EXIT_USAGE) on a usage error */
    o.config = a.config;
    o.repository = a.repository;
    o.lock_timeout_ms = 60 * 1000;
    if (to != NULL) {
        if (mig_parse_version(to, &o.to) != 0) {
            fprintf(stderr, "migrate: --to needs a version (digits), got '%s'\n", to);
            return MIG_EXIT_USAGE;
        }
        o.has_to = true;
    }
    if (lock_timeout != NULL) {
        if (parse_duration(lock_timeout, &secs) != 0 || secs < 0) {
            fprintf(stderr, "migrate: --lock-timeout needs a duration (30s, 5m), got '%s'\n",
                    lock_timeout);
            return MIG_EXIT_USAGE;
        }
        o.lock_timeout_ms = secs * 1000;
    }
    if (a.npos == 0) {
        fputs(usage, stderr);
        return MIG_EXIT_USAGE;
    }
    o.command = pos[0];
    bool takes_arg = strcmp(o.command, "baseline") == 0 ||
                     strcmp(o.command, "accept-checksum") == 0 || strcmp(o.command, "new") == 0;
    if (takes_arg) {
        if (next >= a.npos) {
            fprintf(stderr, "migrate: %s needs an argument\n", o.command);
            return MIG_EXIT_USAGE;
        }
        o.arg = pos[next++];
    }
    if (next < a.npos) {
        fprintf(stderr, "migrate: unexpected argument '%s'\n", pos[next]);
        return MIG_EXIT_USAGE;
    }
    if ((o.has_to && strcmp(o.command, "up") != 0 && strcmp(o.command, "down") != 0) ||
        (o.no_snapshot && strcmp(o.command, "up") != 0) ||
        (o.restore_snapshot && strcmp(o.command, "rollback") != 0) ||
        (o.force && strcmp(o.command, "rollback") != 0)) {
        fprintf(stderr, "migrate: option not valid with '%s'\n", o.command);
        return MIG_EXIT_USAGE;
    }
    return migrate_run(&o);
}
