/* restore - bring a source back as it was at a given time. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/util.h"
#include "../lib/crypto/keys.h"
#include "../lib/validate/validate.h"
#include "restore.h"

static const char usage[] =
    "usage: restore [--config FILE] --source NAME --at TIME [options]\n"
    "       restore [--config FILE] wal-fetch SOURCE FILE PATH\n"
    "\n"
    "Restores the newest complete backup of NAME taken at or before TIME, passing over those\n"
    "`catalog verify` found damaged. The destination is checked first (a full --to DIR, an\n"
    "existing --into-db database or keys in --into-redis are refused unless --force, or for\n"
    "postgres --clean --force, allows them); then the plan is printed; --dry-run stops there.\n"
    "\n"
    "  --at TIME            RFC 3339 with Z or an offset (2026-11-21T03:00:00Z,\n"
    "                       2026-11-21T04:00:00+01:00 or +0100; seconds may be left out:\n"
    "                       2026-11-21T03:00Z), 'now', or 'latest' (the newest intact backup)\n"
    "  --to DIR             volume: restore into DIR (new, or empty; --force replaces a full\n"
    "                       one, moving its contents aside)\n"
    "  --to-file FILE       database: write the dump (pg_restore / SQL / RDB) to FILE\n"
    "  --into-db NAME       database: load into database NAME (created if missing); SAME\n"
    "                       means the backup's own database name\n"
    "  --into-redis ADDR    redis: load into a running, empty scratch server\n"
    "  --database DB        only this database of a backup that holds several\n"
    "  --clean              postgres: replace an existing database (with --force): the\n"
    "                       backup is loaded into a scratch database, then renamed into\n"
    "                       place; the old one is kept, renamed aside\n"
    "  --globals            postgres: restore roles and tablespaces too\n"
    "  --jobs N             postgres: parallel pg_restore\n"
    "  --force              allow replacing existing data\n"
    "  --to-datadir DIR     postgres, method = physical: a new data directory recovered to\n"
    "                       TIME (or to the end of the archive with 'latest') from the newest\n"
    "                       base backup finished at or before it and the WAL archive\n"
    "  --pause              with --to-datadir: pause at TIME instead of promoting\n"
    "  --dry-run            print the plan and change nothing\n"
    "  --secret-key-file F  the secret key, for a repository sealed to a public key\n"
    "  --log-format text|json, --verbose, --quiet\n"
    "\n"
    "wal-fetch is PostgreSQL's restore_command: it writes the archived WAL file FILE (%f) of\n"
    "the postgres source SOURCE to PATH (%p); exit 1 without a word when it was never\n"
    "archived (docs/PITR.md).\n"
    "\n"
    "Exit codes: 0 done, 1 failed, 2 usage, configuration or key error (docs/CONFIG.md).\n";

int main(int argc, char **argv)
{
    struct restore_opts o = { 0 };
    struct repo_unlock u = { NULL };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    const char *source = NULL, *at = NULL, *jobs = NULL;
    struct repo_when t;
    int rc;
    const struct cli_opt opts[] = {
        { "--source", &source, NULL },
        { "--at", &at, NULL },
        { "--to", &o.to_dir, NULL },
        { "--to-file", &o.to_file, NULL },
        { "--into-db", &o.into_db, NULL },
        { "--into-redis", &o.into_redis, NULL },
        { "--database", &o.database, NULL },
        { "--secret-key-file", &u.secret_key_file, NULL },
        { "--jobs", &jobs, NULL },
        { "--clean", NULL, &o.clean },
        { "--globals", NULL, &o.globals },
        { "--force", NULL, &o.force },
        { "--dry-run", NULL, &o.dry_run },
        { "--to-datadir", &o.to_datadir, NULL },
        { "--pause", NULL, &o.pause },
        { NULL, NULL, NULL },
    };
    const char *pos[4];
    struct cli_args a = { "restore", usage, opts, CONF_DEFAULT_PATH, pos, 4, 0 };

    if ((rc = cli_parse(&a, argc, argv)) >= 0)
        return rc;
    if (a.npos > 0 && strcmp(pos[0], "wal-fetch") != 0) {
        cf_err_set(&e, CF_E_USAGE, "unknown argument '%s'", pos[0]);
        goto usage_err;
    }
    if (a.npos > 0) {
        if (a.npos != 4 || source || at) {
            cf_err_set(&e, CF_E_USAGE, "wal-fetch needs SOURCE, FILE and PATH, and no --source or --at");
            goto usage_err;
        }
        if (keys_init(&e) != 0 || validate_load(a.config, &c, &e) != 0)
            return cli_fail("restore", &e);
        rc = restore_wal_fetch(c, &u, pos[1], pos[2], pos[3]);
        conf_free(c);
        return rc;
    }
    o.jobs = 1;
    if (jobs != NULL) {
        char *end;
        long n = strtol(jobs, &end, 10);
        if (*end || n < 1 || n > 64) {
            cf_err_set(&e, CF_E_USAGE, "--jobs: '%s' is not a number from 1 to 64", jobs);
            goto usage_err;
        }
        o.jobs = (int)n;
    }
    if (source == NULL || at == NULL) {
        cf_err_set(&e, CF_E_USAGE, "--source and --at are required");
        goto usage_err;
    }
    /* a bad time is one line listing every form: the usage would bury it during an incident */
    if (repo_when_parse("--at", at, &t, &e) != 0)
        return cli_fail("restore", &e);
    if (keys_init(&e) != 0)
        return cli_fail("restore", &e);
    if (validate_load(a.config, &c, &e) != 0)
        return cli_fail("restore", &e);
    if (o.pause && !o.to_datadir) {
        cf_err_set(&e, CF_E_USAGE, "--pause is for --to-datadir");
        conf_free(c);
        goto usage_err;
    }
    rc = o.to_datadir ? restore_pitr_run(c, &u, source, t, &o) : restore_run(c, &u, source, t, &o);
    conf_free(c);
    return rc;

usage_err:
    return cli_usage_error(&a, &e);
}
