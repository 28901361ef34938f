#include "cli.h"

#include <string.h>

#include "log.h"

int cli_exit_for_code(enum cf_code code)
{
    switch (code) {
    case CF_E_OK:
        return EXIT_OK;
    case CF_E_USAGE:
    case CF_E_CONFIG:
    case CF_E_KEY:
        return EXIT_USAGE;
    default:
        return EXIT_FAILED;
    }
}

int cli_exit_code(const struct cf_err *e)
{
    /* an error without a code is still a failure */
    return e->code == CF_E_OK ? EXIT_FAILED : cli_exit_for_code(e->code);
}

int cli_exit_code_or(const struct cf_err *e, int outcome)
{
    if (e->code == CF_E_CONFIG || e->code == CF_E_KEY || outcome == 0)
        return cli_exit_code(e);
    return outcome;
}

int cli_fail(const char *tool, const struct cf_err *e)
{
    fprintf(stderr, "%s: error: %s\n", tool, e->msg[0] ? e->msg : "unknown error");
    return cli_exit_code(e);
}

const char *cli_opt_value(const char *name, int argc, char **argv, int *i, struct cf_err *e)
{
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (strncmp(a, name, n) != 0)
        return NULL;
    if (a[n] == '=')
        return a + n + 1;
    if (a[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        cf_err_set(e, CF_E_USAGE, "%s needs a value", name);
        return NULL;
    }
    return argv[++*i];
}

int cli_common_opt(struct cli_common *c, int argc, char **argv, int *i, struct cf_err *e)
{
    const char *v;
    enum log_format f;

    if ((v = cli_opt_value("--config", argc, argv, i, e)) != NULL) {
        c->config = v;
        return 1;
    }
    if ((v = cli_opt_value("--log-format", argc, argv, i, e)) != NULL) {
        if (log_format_parse(v, &f) != 0)
            return cf_err_set(e, CF_E_USAGE, "--log-format: '%s' is not text or json", v);
        log_set_format(f);
        return 1;
    }
    if (e->code != CF_E_OK)
        return -1;
    if (strcmp(argv[*i], "--verbose") == 0 || strcmp(argv[*i], "-v") == 0) {
        log_set_level(LOG_DEBUG);
        return 1;
    }
    if (strcmp(argv[*i], "--quiet") == 0 || strcmp(argv[*i], "-q") == 0) {
        log_set_level(LOG_WARN);
        return 1;
    }
    return 0;
}

int cli_flag(const struct cli_flag *flags, const char *arg)
{
    for (; flags->name; flags++)
        if (strcmp(flags->name, arg) == 0) {
            *flags->set = true;
            return 1;
        }
    return 0;
}
