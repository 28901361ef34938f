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
    "  --dry-run            print the plan and change nothing\n"
    "  --secret-key-file F  the secret key, for a repository sealed to a public key\n"
    "  --log-format text|json, --verbose, --quiet\n"
    "\n"
    "Exit codes: 0 done, 1 failed, 2 usage, configuration or key error (docs/CONFIG.md).\n";

int main(int argc, char **argv)
{
    struct cli_common cc = { CONF_DEFAULT_PATH };
    struct restore_opts o = { 0 };
    struct repo_unlock u = { NULL };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    const char *source = NULL, *at = NULL, *v;
    time_t t;
    int rc;

    const struct cli_flag flags[] = {
        { "--clean", &o.clean }, { "--globals", &o.globals }, { "--force", &o.force },
        { "--dry-run", &o.dry_run }, { NULL, NULL },
    };

    o.jobs = 1;
    for (int i = 1; i < argc; i++) {
        int k = cli_common_opt(&cc, argc, argv, &i, &e);
        if (k < 0)
            goto usage_err;
        if (k > 0)
            continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(usage, stdout);
            return EXIT_OK;
        }
        if ((v = cli_opt_value("--source", argc, argv, &i, &e)))
            source = v;
        else if ((v = cli_opt_value("--at", argc, argv, &i, &e)))
            at = v;
        else if ((v = cli_opt_value("--to", argc, argv, &i, &e)))
            o.to_dir = v;
        else if ((v = cli_opt_value("--to-file", argc, argv, &i, &e)))
            o.to_file = v;
        else if ((v = cli_opt_value("--into-db", argc, argv, &i, &e)))
            o.into_db = v;
        else if ((v = cli_opt_value("--into-redis", argc, argv, &i, &e)))
            o.into_redis = v;
        else if ((v = cli_opt_value("--database", argc, argv, &i, &e)))
            o.database = v;
        else if ((v = cli_opt_value("--secret-key-file", argc, argv, &i, &e)))
            u.secret_key_file = v;
        else if ((v = cli_opt_value("--jobs", argc, argv, &i, &e))) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 64) {
                cf_err_set(&e, CF_E_USAGE, "--jobs: '%s' is not a number from 1 to 64", v);
                goto usage_err;
            }
            o.jobs = (int)n;
        } else if (e.code != CF_E_OK)
            goto usage_err;
        else if (!cli_flag(flags, argv[i])) {
            cf_err_set(&e, CF_E_USAGE, "unknown argument '%s'", argv[i]);
            goto usage_err;
        }
    }
    if (source == NULL || at == NULL) {
        cf_err_set(&e, CF_E_USAGE, "--source and --at are required");
        goto usage_err;
    }
    /* a bad time is one line listing every form: the usage would bury it during an incident */
    if (time_parse_at("--at", at, true, &t, &e) != 0)
        return cli_fail("restore", &e);
    if (keys_init(&e) != 0)
        return cli_fail("restore", &e);
    if (validate_load(cc.config, &c, &e) != 0)
        return cli_fail("restore", &e);
    rc = restore_run(c, &u, source, t, &o);
    conf_free(c);
    return rc;

usage_err:
    fprintf(stderr, "restore: %s\n%s", e.msg, usage);
    return EXIT_USAGE;
}
