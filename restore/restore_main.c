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
    "usage: restore [--config FILE] [--repository MIRROR] --source NAME --at TIME [options]\n"
    "       restore [--config FILE] [--repository MIRROR] --job JOB --at TIME [--map SOURCE=DEST]...\n"
    "               [--profile P]\n"
    "       restore [--config FILE] [--repository MIRROR] wal-fetch SOURCE FILE PATH\n"
    "       restore [--config FILE] [--repository MIRROR] drill --job JOB | --source NAME\n"
    "               [--at TIME|random] [--report FILE.md|FILE.json]... [--scratch-dir DIR]\n"
    "\n"
    "Restores the newest complete backup of NAME taken at or before TIME, passing over those\n"
    "`catalog verify` found damaged. The destination is checked first (a full --to DIR, an\n"
    "existing --into-db database or keys in --into-redis are refused unless --force, or for\n"
    "postgres --clean --force, allows them); then the plan is printed; --dry-run stops there.\n"
    "A mariadb source with binlog-archive = yes is brought to TIME itself: the dump, then its\n"
    "archived binlog events before TIME (docs/PITR.md \"MariaDB\"; `catalog at` checks first).\n"
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
    "\n"
    "--job JOB restores every source of JOB at TIME (each its newest intact backup at or\n"
    "before it; a physical postgres source exactly TIME, from the WAL archive), one after\n"
    "the other; the plan shows each backup and the spread of their times. Every source\n"
    "needs a destination, or nothing starts:\n"
    "  --map SOURCE=DEST    DEST is what the source's kind restores to: a directory (volume,\n"
    "                       --to), a database (postgres, mariadb: --into-db), an address\n"
    "                       (redis: --into-redis), a new data directory (postgres with\n"
    "                       method = physical: --to-datadir, recovered to exactly TIME);\n"
    "                       SOURCE.KEY=VALUE sets one profile key (to, to-file, into-db,\n"
    "                       into-redis, database, to-datadir); may be repeated\n"
    "  --profile NAME       the destinations of [restore-profile NAME] (--map over them)\n"
    "  --max-spread DUR     warn when the backups' times lie further apart (default 1h;\n"
    "                       0 never warns)\n"
    "  --force, --dry-run, and for postgres sources --clean, --globals, --jobs, apply to\n"
    "  every source, --pause to each data directory; exit 0 all restored, 3 some, 1 none\n"
    "\n"
    "  --log-format text|json, --verbose, --quiet\n"
    "\n"
    "drill restores every source of JOB (or the source NAME) at TIME (default latest;\n"
    "random: a moment at which every source has a backup) into scratch servers it starts\n"
    "under DIR ($TMPDIR or /tmp) and stops at the end, checks each copy, measures the time\n"
    "against `rto`, stores the report in the repository (catalog drills lists them) and writes\n"
    "it to each --report FILE (Markdown for .md, else JSON); exit 1 naming each failed check\n"
    "or missed objective.\n"
    "\n"
    "wal-fetch is PostgreSQL's restore_command: it writes the archived WAL file FILE (%f) of\n"
    "the postgres source SOURCE to PATH (%p); exit 1 without a word when it was never\n"
    "archived (docs/PITR.md).\n"
    "\n"
    "Exit codes: 0 done, 1 failed, 2 usage, configuration or key error (docs/CONFIG.md).\n";

/* `restore drill`: its arguments checked, then restore_drill_run */
static int drill_main(const struct cli_args *a, const struct repo_unlock *u, const char *job,
                      const char *source, const char *at, const char *scratch,
                      const char **reports, size_t nreports)
{
    struct restore_drill_opts d = { job, source, { true, 0, false }, false, reports, nreports, scratch };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    int rc;

    if (a->npos != 1 || (job == NULL) == (source == NULL)) {
        cf_err_set(&e, CF_E_USAGE, "drill takes one of --job or --source");
        return cli_usage_error(a, &e);
    }
    if (d.scratch_dir == NULL)
        d.scratch_dir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    if (at != NULL && strcmp(at, "random") == 0)
        d.random = true;
    else if (at != NULL && repo_when_parse("--at", at, &d.at, &e) != 0)
        return cli_fail("restore", &e);
    if (keys_init(&e) != 0 || validate_load(a->config, &c, &e) != 0 ||
        conf_use_repository(c, a->repository, &e) != 0) {
        conf_free(c);
        return cli_fail("restore", &e);
    }
    rc = restore_drill_run(c, u, &d);
    conf_free(c);
    return rc;
}

int main(int argc, char **argv)
{
    struct restore_opts o = { 0 };
    struct repo_unlock u = { NULL };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    const char *source = NULL, *at = NULL, *jobs = NULL, *job = NULL, *profile = NULL;
    const char *spread = NULL, *scratch = NULL;
    const char **maps = NULL, **reports = NULL;
    size_t nmaps = 0, nreports = 0;
    struct repo_when t;
    int rc;
    const struct cli_opt opts[] = {
        { "--source", &source, NULL },
        { "--job", &job, NULL },
        { "--profile", &profile, NULL },
        { "--max-spread", &spread, NULL },
        { "--scratch-dir", &scratch, NULL },
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
    struct cli_args a = { "restore", usage, opts, CONF_DEFAULT_PATH, pos, 4, 0, NULL };

    if (cli_collect(&argc, argv, "--map", &maps, &nmaps, &e) != 0 ||
        cli_collect(&argc, argv, "--report", &reports, &nreports, &e) != 0) {
        free(maps);
        return cli_usage_error(&a, &e);
    }
    if ((rc = cli_parse(&a, argc, argv)) >= 0)
        goto out;
    if (a.npos > 0 && strcmp(pos[0], "drill") == 0) {
        rc = drill_main(&a, &u, job, source, at, scratch, reports, nreports);
        goto out;
    }
    if (nreports || scratch) {
        cf_err_set(&e, CF_E_USAGE, "--report and --scratch-dir go with drill");
        goto usage_err;
    }
    if (a.npos > 0 && strcmp(pos[0], "wal-fetch") != 0) {
        cf_err_set(&e, CF_E_USAGE, "unknown argument '%s'", pos[0]);
        goto usage_err;
    }
    if (a.npos > 0) {
        if (a.npos != 4 || source || at || job) {
            cf_err_set(&e, CF_E_USAGE, "wal-fetch needs SOURCE, FILE and PATH, and no --source or --at");
            goto usage_err;
        }
        if (keys_init(&e) != 0 || validate_load(a.config, &c, &e) != 0 ||
            conf_use_repository(c, a.repository, &e) != 0) {
            rc = cli_fail("restore", &e);
            goto out;
        }
        rc = restore_wal_fetch(c, &u, pos[1], pos[2], pos[3]);
        goto out;
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
    if ((source == NULL) == (job == NULL) || at == NULL) {
        cf_err_set(&e, CF_E_USAGE, "--at and one of --source or --job are required");
        goto usage_err;
    }
    if (job == NULL && (nmaps || profile || spread)) {
        cf_err_set(&e, CF_E_USAGE, "--map, --profile and --max-spread go with --job");
        goto usage_err;
    }
    if (job != NULL && (o.to_dir || o.to_file || o.into_db || o.into_redis || o.database)) {
        cf_err_set(&e, CF_E_USAGE, "--job takes each source's destination from --map or "
                                   "--profile, not --to, --to-file, --into-db, --into-redis "
                                   "or --database");
        goto usage_err;
    }
    int64_t max_spread = 3600;
    if (spread != NULL && parse_duration(spread, &max_spread) != 0) {
        cf_err_set(&e, CF_E_USAGE, "--max-spread: '%s' is not a duration (30m, 1h, 2d)",
                   spread);
        goto usage_err;
    }
    /* a bad time is one line listing every form: the usage would bury it during an incident */
    if (repo_when_parse("--at", at, &t, &e) != 0 || keys_init(&e) != 0 ||
        validate_load(a.config, &c, &e) != 0 || conf_use_repository(c, a.repository, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    if (o.pause && !o.to_datadir && job == NULL) {
        cf_err_set(&e, CF_E_USAGE, "--pause is for --to-datadir (or --job with a data directory)");
        goto usage_err;
    }
    if (job != NULL && o.to_datadir) {
        cf_err_set(&e, CF_E_USAGE, "--to-datadir is for one --source; give a physical source's "
                   "data directory with --map SOURCE=DIR (or SOURCE.to-datadir=DIR)");
        goto usage_err;
    }
    if (job != NULL) {
        struct restore_job_opts jo = { o, profile, maps, nmaps, max_spread };
        rc = restore_job_run(c, &u, job, t, &jo);
    } else {
        rc = restore_run(c, &u, source, t, &o);
    }
    goto out;

usage_err:
    rc = cli_usage_error(&a, &e);
out:
    conf_free(c);
    free(reports);
    free(maps);
    return rc;
}
