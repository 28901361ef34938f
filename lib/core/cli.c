#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "version.h"

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

void cli_say(enum log_level lvl, const char *fmt, ...)
{
    char line[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (log_get_format() == LOG_JSON)
        log_msg(lvl, "%s", line);
    else
        fprintf(stderr, "%s%s\n", log_prefix(lvl), line);
}

int cli_fail(const char *tool, const struct cf_err *e)
{
    cli_say(LOG_ERROR, "%s: error: %s", tool, e->msg[0] ? e->msg : "unknown error");
    return cli_exit_code(e);
}

/* the value of "--name V" / "--name=V" at argv[*i]: NULL if argv[*i] is not --name (or, with
 * @e set, when the value is missing) */
static const char *cli_opt_value(const char *name, int argc, char **argv, int *i, struct cf_err *e)
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

/* the options every tool takes, consumed from argv[*i]: 1 if consumed, 0 if not common, -1 on
 * a bad value (@e set) */
static int cli_common_opt(struct cli_args *c, int argc, char **argv, int *i, struct cf_err *e)
{
    const char *v;
    enum log_format f;

    if ((v = cli_opt_value("--config", argc, argv, i, e)) != NULL) {
        c->config = v;
        return 1;
    }
    if ((v = cli_opt_value("--repository", argc, argv, i, e)) != NULL) {
        c->repository = v;
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

/* one option of @opts at argv[*i]: 1 if consumed, 0 if not in the table, -1 (@e set) */
static int cli_table_opt(const struct cli_opt *opts, int argc, char **argv, int *i,
                         struct cf_err *e)
{
    const char *v;

    for (; opts->name; opts++) {
        if (opts->flag != NULL) {
            if (strcmp(opts->name, argv[*i]) != 0)
                continue;
            *opts->flag = true;
            return 1;
        }
        if ((v = cli_opt_value(opts->name, argc, argv, i, e)) != NULL) {
            *opts->value = v;
            return 1;
        }
        if (e->code != CF_E_OK)
            return -1;
    }
    return 0;
}

int cli_usage_error(const struct cli_args *a, const struct cf_err *e)
{
    fprintf(stderr, "%s: %s\n%s", a->tool, e->msg, a->usage);
    return EXIT_USAGE;
}

int cli_parse(struct cli_args *a, int argc, char **argv)
{
    struct cf_err e = CF_ERR_INIT;

    a->npos = 0;
    for (int i = 1; i < argc; i++) {
        int k = cli_common_opt(a, argc, argv, &i, &e);
        if (k == 0) {
            if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
                fputs(a->usage, stdout);
                return EXIT_OK;
            }
            if (strcmp(argv[i], "--version") == 0) {
                printf("%s (coffer) %s\n", a->tool, COFFER_VERSION);
                return EXIT_OK;
            }
            k = cli_table_opt(a->opts, argc, argv, &i, &e);
        }
        if (k < 0)
            return cli_usage_error(a, &e);
        if (k > 0)
            continue;
        if (a->max_pos == 0)
            cf_err_set(&e, CF_E_USAGE, "unknown argument '%s'", argv[i]);
        else if (argv[i][0] == '-')
            cf_err_set(&e, CF_E_USAGE, "unknown option '%s'", argv[i]);
        else if (a->npos < a->max_pos)
            a->pos[a->npos++] = argv[i];
        else
            cf_err_set(&e, CF_E_USAGE, "too many arguments");
        if (e.code != CF_E_OK)
            return cli_usage_error(a, &e);
    }
    return -1;
}
