/* catalog - what the repository holds. */
#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/crypto/keys.h"
#include "catalog.h"

static const char usage[] =
    "usage: catalog [--config FILE] COMMAND [options]\n"
    "\n"
    "commands:\n"
    "  list [--source S] [--json]       every complete backup, oldest first\n"
    "  show ID [--json]                 one backup: times, sizes, consistency point, objects\n"
    "  verify ID|--all [--source S]     read, decrypt and check every object; exit 1 on damage\n"
    "\n"
    "  --secret-key-file F  the secret key, for a repository sealed to a public key\n"
    "  --log-format text|json, --verbose, --quiet\n"
    "\n"
    "Exit codes: 0 done, 1 failed or damage found, 2 usage or configuration error.\n";

int main(int argc, char **argv)
{
    struct cli_common cc = { CONF_DEFAULT_PATH };
    struct catalog_opts o = { 0 };
    struct repo_unlock u = { NULL };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    const char *cmd = NULL, *arg = NULL, *v;
    int rc;

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
            o.source = v;
        else if ((v = cli_opt_value("--secret-key-file", argc, argv, &i, &e)))
            u.secret_key_file = v;
        else if (e.code != CF_E_OK)
            goto usage_err;
        else if (strcmp(argv[i], "--json") == 0)
            o.json = true;
        else if (strcmp(argv[i], "--all") == 0)
            o.all = true;
        else if (argv[i][0] == '-') {
            cf_err_set(&e, CF_E_USAGE, "unknown option '%s'", argv[i]);
            goto usage_err;
        } else if (cmd == NULL)
            cmd = argv[i];
        else if (arg == NULL)
            arg = argv[i];
        else {
            cf_err_set(&e, CF_E_USAGE, "too many arguments");
            goto usage_err;
        }
    }
    if (cmd == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no command given");
        goto usage_err;
    }
    bool is_list = strcmp(cmd, "list") == 0, is_show = strcmp(cmd, "show") == 0,
         is_verify = strcmp(cmd, "verify") == 0;
    if (!is_list && !is_show && !is_verify) {
        cf_err_set(&e, CF_E_USAGE, "unknown command '%s'", cmd);
        goto usage_err;
    }
    if ((is_list && arg) || (is_show && !arg) || (is_verify && !arg == !o.all) ||
        (o.all && !is_verify)) {
        cf_err_set(&e, CF_E_USAGE, "%s: wrong arguments", cmd);
        goto usage_err;
    }
    if (keys_init(&e) != 0)
        return cli_fail("catalog", &e);
    if (conf_load(cc.config, &c, &e) != 0)
        return cli_fail("catalog", &e);
    if (is_list)
        rc = catalog_list(c, &u, &o);
    else if (is_show)
        rc = catalog_show(c, &u, arg, &o);
    else
        rc = catalog_verify(c, &u, arg, &o);
    conf_free(c);
    return rc;

usage_err:
    fprintf(stderr, "catalog: %s\n%s", e.msg, usage);
    return EXIT_USAGE;
}
