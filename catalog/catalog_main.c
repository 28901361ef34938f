/* catalog - what the repository holds. */
#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/util.h"
#include "../lib/crypto/keys.h"
#include "../lib/validate/validate.h"
#include "catalog.h"

static const char usage[] =
    "usage: catalog [--config FILE] [--repository MIRROR] COMMAND [options]\n"
    "\n"
    "commands (each refreshes the local index from the repository first):\n"
    "  list [--source S] [--job J] [--since T] [--until T]\n"
    "                                   backups, oldest first, with status and pins\n"
    "  show ID [--source S]             one backup: times, sizes, consistency point, objects\n"
    "  at TIME [--source S]             per source, the backup `restore --at TIME` would use\n"
    "                                   (and whether a binlog archive reaches TIME)\n"
    "  verify ID|--all|--latest|--logs [--source S] [--quick]\n"
    "                                   read, decrypt and check every byte (--quick: every\n"
    "                                   object exists with its size); exit 1 on damage\n"
    "                                   or a vanished backup; --all and --logs check the\n"
    "                                   archived log files (WAL) too, --logs only them\n"
    "  pin ID [--reason TEXT]           never prune this backup (stored in the repository)\n"
    "  unpin ID                         let retention decide again\n"
    "  logs SOURCE                      the archived log files (WAL) as ranges per\n"
    "                                   timeline, and the gaps; exit 1 on a gap\n"
    "  status [--source S]              newest backup, age, RPO, last verify, locks;\n"
    "                                   exit 1 unless every objective is met, the last\n"
    "                                   backup attempt succeeded and no backup vanished\n"
    "  prune [--dry-run] [--source S]   apply the retention rules, sweep debris\n"
    "  forget ID [--source S]           acknowledge a vanished backup (its manifest went\n"
    "                                   missing without a prune): verify and status stop\n"
    "                                   reporting it\n"
    "  rebuild                          recreate the index from the repository alone\n"
    "  sync MIRROR                      copy to [mirror MIRROR] what it lacks, checking each\n"
    "                                   copy; then prune it by its own rules, if it has any\n"
    "  drills                           the drill reports in the repository (restore drill),\n"
    "                                   oldest first; status shows each job's last one\n"
    "\n"
    "  --json               machine-readable output (docs/CATALOG.md)\n"
    "  --repository MIRROR  work on [mirror MIRROR]'s copy of the repository\n"
    "  --secret-key-file F  the secret key, for a repository sealed to a public key\n"
    "  --log-format text|json, --verbose, --quiet\n"
    "TIME is RFC 3339 (2026-11-21T03:00:00Z) or 'now' ('latest' too for at).\n"
    "\n"
    "Exit codes: 0 done, 1 failed, damage found or objective violated, 2 usage,\n"
    "configuration or key error, 3 prune skipped a source locked by a running backup\n"
    "(docs/CONFIG.md, \"Exit codes\").\n";

static int parse_time_opt(const char *name, const char *v, time_t *out, struct cf_err *e)
{
    if (time_parse_rfc3339(v, out, e) != 0)
        return cf_err_ctx(e, "%s", name);
    return 0;
}

int main(int argc, char **argv)
{
    struct catalog_opts o = { 0 };
    struct repo_unlock u = { NULL };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    const char *cmd, *arg, *since = NULL, *until = NULL;
    const char *pos[2];
    int rc;
    const struct cli_opt opts[] = {
        { "--source", &o.source, NULL },   { "--secret-key-file", &u.secret_key_file, NULL },
        { "--job", &o.job, NULL },         { "--reason", &o.reason, NULL },
        { "--since", &since, NULL },       { "--until", &until, NULL },
        { "--json", NULL, &o.json },       { "--all", NULL, &o.all },
        { "--latest", NULL, &o.latest },   { "--quick", NULL, &o.quick },
        { "--dry-run", NULL, &o.dry_run }, { "--logs", NULL, &o.logs },
        { NULL, NULL, NULL },
    };
    struct cli_args a = { "catalog", usage, opts, CONF_DEFAULT_PATH, pos, 2, 0, NULL };

    if ((rc = cli_parse(&a, argc, argv)) >= 0)
        return rc;
    cmd = a.npos > 0 ? pos[0] : NULL;
    arg = a.npos > 1 ? pos[1] : NULL;
    if ((since && parse_time_opt("--since", since, &o.since, &e) != 0) ||
        (until && parse_time_opt("--until", until, &o.until, &e) != 0))
        goto usage_err;
    if (cmd == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no command given");
        goto usage_err;
    }
    /* each command: does it take an ID/TIME argument (1), none (0) */
    static const struct {
        const char *name;
        int arg;
    } cmds[] = { { "list", 0 }, { "show", 1 },  { "at", 1 },     { "verify", -1 },
                 { "pin", 1 },  { "unpin", 1 }, { "status", 0 }, { "prune", 0 },
                 { "rebuild", 0 }, { "forget", 1 }, { "sync", 1 },   { "logs", 1 },
                 { "drills", 0 } };
    int want = -2;
    for (size_t k = 0; k < sizeof(cmds) / sizeof(*cmds); k++)
        if (strcmp(cmd, cmds[k].name) == 0)
            want = cmds[k].arg;
    if (want == -2) {
        cf_err_set(&e, CF_E_USAGE, "unknown command '%s'", cmd);
        goto usage_err;
    }
    bool is_verify = strcmp(cmd, "verify") == 0;
    if ((want == 0 && arg) || (want == 1 && !arg) ||
        (is_verify && (!!arg + o.all + o.latest + o.logs) != 1) ||
        ((o.all || o.latest || o.quick || o.logs) && !is_verify) ||
        (o.dry_run && strcmp(cmd, "prune") != 0) || (o.reason && strcmp(cmd, "pin") != 0) ||
        ((o.job || o.since || o.until) && strcmp(cmd, "list") != 0)) {
        cf_err_set(&e, CF_E_USAGE, "%s: wrong arguments", cmd);
        goto usage_err;
    }
    struct repo_when when = { false, 0, false };
    if (strcmp(cmd, "at") == 0) {
        if (repo_when_parse("at", arg, &when, &e) != 0)
            return cli_fail("catalog", &e);   /* one line listing every form, no usage */
    }
    if (keys_init(&e) != 0)
        return cli_fail("catalog", &e);
    if (validate_load(a.config, &c, &e) != 0 || conf_use_repository(c, a.repository, &e) != 0) {
        conf_free(c);
        return cli_fail("catalog", &e);
    }
    if (strcmp(cmd, "list") == 0)
        rc = catalog_list(c, &u, &o);
    else if (strcmp(cmd, "show") == 0)
        rc = catalog_show(c, &u, arg, &o);
    else if (strcmp(cmd, "at") == 0)
        rc = catalog_at(c, &u, when, &o);
    else if (is_verify)
        rc = catalog_verify(c, &u, arg, &o);
    else if (strcmp(cmd, "pin") == 0 || strcmp(cmd, "unpin") == 0)
        rc = catalog_pin(c, &u, arg, strcmp(cmd, "pin") == 0, &o);
    else if (strcmp(cmd, "status") == 0)
        rc = catalog_status(c, &u, &o);
    else if (strcmp(cmd, "prune") == 0)
        rc = catalog_prune(c, &u, &o);
    else if (strcmp(cmd, "logs") == 0)
        rc = catalog_logs(c, &u, arg, &o);
    else if (strcmp(cmd, "forget") == 0)
        rc = catalog_forget(c, &u, arg, &o);
    else if (strcmp(cmd, "sync") == 0)
        rc = catalog_mirror_sync(c, &u, arg, &o);
    else if (strcmp(cmd, "drills") == 0)
        rc = catalog_drills(c, &u, &o);
    else
        rc = catalog_rebuild(c, &u, &o);
    conf_free(c);
    return rc;

usage_err:
    return cli_usage_error(&a, &e);
}
