/* backupd - back up the sources of a job into the repository. */
#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/crypto/keys.h"
#include "../lib/repo/repo.h"
#include "../lib/validate/validate.h"
#include "backupd.h"

static const char usage[] =
    "usage: backupd [--config FILE] [--repository MIRROR] [--log-format text|json]\n"
    "               [--verbose|--quiet] COMMAND\n"
    "\n"
    "commands:\n"
    "  init [--generate-key FILE]   create the repository named in [repository]; with\n"
    "                               --generate-key, first write a new random key to FILE (0600)\n"
    "  keygen --public OUT.pub --secret OUT.sec\n"
    "                               make a key pair for a repository sealed to a public key:\n"
    "                               the backup host keeps only OUT.pub; restores need OUT.sec\n"
    "  run JOB                      back up every source of [job JOB] now, once; then copy\n"
    "                               what is new to every [mirror NAME]\n"
    "  key list                     the repository's key slots (id, kind, created, label)\n"
    "  key add --passphrase-file F | --key-file F [--label L]\n"
    "                               a new slot opening the repository with F's passphrase or key\n"
    "  key remove ID                remove a slot (never the last one, nor the one in use)\n"
    "  key passwd --passphrase-file F\n"
    "                               the slot of the configuration's passphrase takes F's instead\n"
    "  key upgrade                  a version 1 repository gets key slots (format version 2)\n"
    "  wal-push SOURCE PATH         archive_command: archive the WAL file PATH (%p) of the\n"
    "                               postgres source SOURCE (docs/PITR.md)\n"
    "  daemon                       run each job at its schedule until SIGTERM; SIGHUP reloads\n"
    "                               the configuration (docs/RUNBOOK.md \"Running the daemon\")\n"
    "  status [--json]              what the running daemon says of its jobs; exit 1 without one\n"
    "  systemd-units --dir D [--prefix P]\n"
    "                               the jobs' schedules as timer drop-ins D/P@JOB.timer.d/\n"
    "                               schedule.conf (P: coffer-backup)\n"
    "  binlog-sync SOURCE           archive the closed binlog files of the mariadb source\n"
    "                               SOURCE not archived yet, after FLUSH BINARY LOGS\n"
    "  binlog-follow SOURCE         stream SOURCE's binlog into the archive, sealing every\n"
    "                               binlog-seal-interval, until stopped (docs/PITR.md)\n"
    "  check-config [--offline]     check the configuration and what a run will need (key,\n"
    "                               repository, servers, dump tools), reporting every problem;\n"
    "                               --offline: no network (S3, database connections)\n"
    "\n"
    "The configuration is " CONF_DEFAULT_PATH " unless --config is given; --repository\n"
    "MIRROR works on [mirror MIRROR]'s copy in place of [repository]'s (docs/RUNBOOK.md).\n"
    "Exit codes: 0 done, 1 failed (check-config: a server or the repository unreachable),\n"
    "2 usage, configuration or key error, 3 some sources failed, or a mirror could not be\n"
    "brought up to date (docs/CONFIG.md).\n";

int main(int argc, char **argv)
{
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    const char *cmd, *gen = NULL, *pub = NULL, *sec = NULL, *kpass = NULL, *kfile = NULL,
               *klabel = NULL, *udir = NULL, *uprefix = NULL;
    const char *pos[5];
    const char **args = pos + 1;
    int nargs, rc;
    bool offline = false, json = false;
    const struct cli_opt opts[] = {
        { "--offline", NULL, &offline },     { "--generate-key", &gen, NULL },
        { "--public", &pub, NULL },          { "--secret", &sec, NULL },
        { "--passphrase-file", &kpass, NULL }, { "--key-file", &kfile, NULL },
        { "--label", &klabel, NULL },        { "--json", NULL, &json },
        { "--dir", &udir, NULL },            { "--prefix", &uprefix, NULL },
        { NULL, NULL, NULL },
    };
    struct cli_args a = { "backupd", usage, opts, CONF_DEFAULT_PATH, pos, 5, 0, NULL };

    if ((rc = cli_parse(&a, argc, argv)) >= 0)
        return rc;
    cmd = a.npos > 0 ? pos[0] : NULL;
    nargs = a.npos > 0 ? a.npos - 1 : 0;
    if (cmd == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no command given");
        goto usage_err;
    }
    if (keys_init(&e) != 0)
        return cli_fail("backupd", &e);

    if (strcmp(cmd, "keygen") == 0) {
        if (pub == NULL || sec == NULL || nargs) {
            cf_err_set(&e, CF_E_USAGE, "keygen needs --public FILE and --secret FILE");
            goto usage_err;
        }
        if (keys_keygen(pub, sec, &e) != 0)
            return cli_fail("backupd", &e);
        printf("public key written to %s (give it to backup hosts: public-key-file = %s)\n"
               "secret key written to %s (mode 0600): keep it off the backup hosts, in a safe "
               "place; restores need it\n",
               pub, pub, sec);
        return EXIT_OK;
    }
    if ((gen || pub || sec) && strcmp(cmd, "init") != 0) {
        cf_err_set(&e, CF_E_USAGE, "--generate-key, --public and --secret go with init or keygen");
        goto usage_err;
    }
    if ((kpass || kfile || klabel) && strcmp(cmd, "key") != 0) {
        cf_err_set(&e, CF_E_USAGE, "--passphrase-file, --key-file and --label go with key");
        goto usage_err;
    }
    if (strcmp(cmd, "init") != 0 && strcmp(cmd, "run") != 0 && strcmp(cmd, "check-config") != 0 &&
        strcmp(cmd, "key") != 0 && strcmp(cmd, "wal-push") != 0 && strcmp(cmd, "daemon") != 0 &&
        strcmp(cmd, "status") != 0 && strcmp(cmd, "systemd-units") != 0 &&
        strcmp(cmd, "binlog-sync") != 0 && strcmp(cmd, "binlog-follow") != 0) {
        cf_err_set(&e, CF_E_USAGE, "unknown command '%s'", cmd);
        goto usage_err;
    }
    if (offline && strcmp(cmd, "check-config") != 0) {
        cf_err_set(&e, CF_E_USAGE, "--offline goes with check-config");
        goto usage_err;
    }
    if (json && strcmp(cmd, "status") != 0) {
        cf_err_set(&e, CF_E_USAGE, "--json goes with status");
        goto usage_err;
    }
    if ((udir || uprefix) && strcmp(cmd, "systemd-units") != 0) {
        cf_err_set(&e, CF_E_USAGE, "--dir and --prefix go with systemd-units");
        goto usage_err;
    }
    if (strcmp(cmd, "systemd-units") == 0 && udir == NULL) {
        cf_err_set(&e, CF_E_USAGE, "systemd-units needs --dir DIR");
        goto usage_err;
    }
    if ((strcmp(cmd, "daemon") == 0 || strcmp(cmd, "status") == 0 ||
         strcmp(cmd, "systemd-units") == 0) && nargs) {
        cf_err_set(&e, CF_E_USAGE, "%s takes no argument", cmd);
        goto usage_err;
    }
    if (strcmp(cmd, "check-config") == 0) {
        if (nargs) {
            cf_err_set(&e, CF_E_USAGE, "check-config takes no argument");
            goto usage_err;
        }
        return backupd_check_config(a.config, offline);
    }
    if (strcmp(cmd, "status") == 0) {
        /* the file may be mid-edit while a daemon runs: only its [daemon] section matters */
        if (conf_read(a.config, NULL, NULL, NULL, &c, &e) != 0)
            return cli_fail("backupd", &e);
        rc = backupd_status(c, json);
        conf_free(c);
        return rc;
    }
    if (validate_load(a.config, &c, &e) != 0 || conf_use_repository(c, a.repository, &e) != 0) {
        conf_free(c);
        return cli_fail("backupd", &e);
    }

    if (strcmp(cmd, "daemon") == 0)
        return backupd_daemon(a.config, c);   /* takes @c */
    if (strcmp(cmd, "systemd-units") == 0) {
        rc = backupd_systemd_units(c, udir, uprefix);
    } else if (strcmp(cmd, "wal-push") == 0) {
        if (nargs != 2) {
            conf_free(c);
            cf_err_set(&e, CF_E_USAGE, "wal-push needs SOURCE and PATH");
            goto usage_err;
        }
        rc = backupd_wal_push(c, args[0], args[1]);
    } else if (strncmp(cmd, "binlog-", 7) == 0) {
        if (nargs != 1) {
            conf_free(c);
            cf_err_set(&e, CF_E_USAGE, "%s needs one SOURCE", cmd);
            goto usage_err;
        }
        rc = strcmp(cmd, "binlog-sync") == 0 ? backupd_binlog_sync(c, args[0])
                                             : backupd_binlog_follow(c, args[0]);
    } else if (strcmp(cmd, "init") == 0) {
        rc = repo_init(c, gen, &e) == 0 ? EXIT_OK : cli_fail("backupd", &e);
        if (rc == EXIT_OK)
            printf("repository created\n");
    } else if (strcmp(cmd, "key") == 0) {
        struct backupd_key_args k = { args, nargs, kpass, kfile, klabel };
        rc = backupd_key(c, &k);
    } else {
        if (nargs != 1) {
            conf_free(c);
            cf_err_set(&e, CF_E_USAGE, "run needs one JOB name");
            goto usage_err;
        }
        rc = backupd_job_run(c, args[0]);
    }
    conf_free(c);
    return rc;

usage_err:
    return cli_usage_error(&a, &e);
}
