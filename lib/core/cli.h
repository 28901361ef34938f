/* cli.h - what every tool's main shares: exit codes, error printing, common options. */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdbool.h>

#include "err.h"

/* The exit codes of every tool; docs/CONFIG.md "Exit codes" is their one table. */
enum cli_exit {
    EXIT_OK = 0,
    EXIT_FAILED = 1,    /* a server, the repository, the network or the data failed */
    EXIT_USAGE = 2,     /* command line, configuration or key: the operator must fix it */
    EXIT_PARTIAL = 3,   /* some sources (or backups) failed, the others are done */
};

/* cli_exit_code() - the exit code for an error, by its code alone (the one mapping all tools
 * use): CF_E_USAGE, CF_E_CONFIG and CF_E_KEY give EXIT_USAGE, every other code EXIT_FAILED */
int cli_exit_code(const struct cf_err *e);
int cli_exit_for_code(enum cf_code code);
/* cli_exit_code_or() - the same for a tool that has its own word for some failures (@outcome,
 * such as migrate's 11 "failed partway"; 0 for none): usage aside, configuration and key errors
 * give EXIT_USAGE whatever @outcome says, other errors @outcome when it is not 0 */
int cli_exit_code_or(const struct cf_err *e, int outcome);
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
