/* cli.h - what every tool's main shares: exit codes, error printing, common options. */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdbool.h>

#include "err.h"

enum cli_exit { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_PARTIAL = 3 };

/* the exit code an error calls for: 2 for usage and configuration, else 1 */
int cli_exit_code(const struct cf_err *e);
/* "<tool>: error: <message>" on stderr; returns cli_exit_code(e) */
int cli_fail(const char *tool, const struct cf_err *e);

/* Options every tool takes; cli_common_opt() consumes them from argv[*i] ("--config F",
 * "--config=F", "--log-format json", "--verbose", "--quiet"): 1 if consumed, 0 if not
 * common, -1 on a bad value (@e set). */
struct cli_common {
    const char *config;
};
int cli_common_opt(struct cli_common *c, int argc, char **argv, int *i, struct cf_err *e);
/* the value of "--name V" / "--name=V" at argv[*i]: NULL if argv[*i] is not --name */
const char *cli_opt_value(const char *name, int argc, char **argv, int *i, struct cf_err *e);

/* Boolean options: a table of names and the flags they set, ended by { NULL, NULL }.
 * cli_flag() sets the one named by @arg and returns 1, or returns 0. */
struct cli_flag {
    const char *name;
    bool *set;
};
int cli_flag(const struct cli_flag *flags, const char *arg);

#endif
