/* migrate_main.c - `migrate`: versioned schema migrations with a snapshot before apply. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../lib/config/conf.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "mig.h"

static void usage(FILE *f)
{
    fputs("usage: migrate [--config F] --source S [--database DB] [--dir PATH] [--json]\n"
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
          "  14 snapshot failed (nothing applied)\n", f);
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "config", required_argument, NULL, 'c' },
        { "source", required_argument, NULL, 's' },
        { "database", required_argument, NULL, 'd' },
        { "dir", required_argument, NULL, 'D' },
        { "to", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "dry-run", no_argument, NULL, 'n' },
        { "no-snapshot", no_argument, NULL, 'N' },
        { "restore-snapshot", no_argument, NULL, 'R' },
        { "force", no_argument, NULL, 'f' },
        { "lock-timeout", required_argument, NULL, 'l' },
        { "secret-key-file", required_argument, NULL, 'k' },
        { "log-format", required_argument, NULL, 'L' },
        { "verbose", no_argument, NULL, 'v' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct mig_opts o;
    int64_t secs;
    int ch;

    memset(&o, 0, sizeof(o));
    o.config = CONF_DEFAULT_PATH;
    o.lock_timeout_ms = 60 * 1000;
    while ((ch = getopt_long(argc, argv, "hvq", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c': o.config = optarg; break;
        case 's': o.source = optarg; break;
        case 'd': o.database = optarg; break;
        case 'D': o.dir = optarg; break;
        case 't':
            if (mig_parse_version(optarg, &o.to) != 0) {
                fprintf(stderr, "migrate: --to needs a version (digits), got '%s'\n", optarg);
                return MIG_EXIT_USAGE;
            }
            o.has_to = true;
            break;
        case 'j': o.json = true; break;
        case 'n': o.dry_run = true; break;
        case 'N': o.no_snapshot = true; break;
        case 'R': o.restore_snapshot = true; break;
        case 'f': o.force = true; break;
        case 'k': o.secret_key_file = optarg; break;
        case 'l':
            if (parse_duration(optarg, &secs) != 0 || secs < 0) {
                fprintf(stderr, "migrate: --lock-timeout needs a duration (30s, 5m), got '%s'\n",
                        optarg);
                return MIG_EXIT_USAGE;
            }
            o.lock_timeout_ms = secs * 1000;
            break;
        case 'L': {
            enum log_format lf;
            if (log_format_parse(optarg, &lf) != 0) {
                fprintf(stderr, "migrate: --log-format is text or json, not '%s'\n", optarg);
                return MIG_EXIT_USAGE;
            }
            log_set_format(lf);
            break;
        }
        case 'v': log_set_level(LOG_DEBUG); break;
        case 'q': log_set_level(LOG_WARN); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return MIG_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return MIG_EXIT_USAGE;
    }
    o.command = argv[optind++];
    bool takes_arg = strcmp(o.command, "baseline") == 0 ||
                     strcmp(o.command, "accept-checksum") == 0 || strcmp(o.command, "new") == 0;
    if (takes_arg) {
        if (optind >= argc) {
            fprintf(stderr, "migrate: %s needs an argument\n", o.command);
            return MIG_EXIT_USAGE;
        }
        o.arg = argv[optind++];
    }
    if (optind < argc) {
        fprintf(stderr, "migrate: unexpected argument '%s'\n", argv[optind]);
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
