/* cli.h - what every tool's main shares: exit codes, error printing, option parsing. */
#ifndef CF_CLI_H
#define CF_CLI_H

#include <stdbool.h>

#include "err.h"
#include "log.h"

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
/* "<tool>: error: <message>" on stderr (a JSON log line with --log-format json; with the
 * journal's "<3>" under systemd); returns cli_exit_code(e) */
int cli_fail(const char *tool, const struct cf_err *e);

/* cli_say() - one line for the operator on stderr besides the log ("catalog: warning: ..."):
 * as written, after the journal's priority prefix under systemd; a JSON log line at @lvl with
 * --log-format json, so that every line of stderr is then JSON */
void cli_say(enum log_level lvl, const char *fmt, ...) CF_PRINTF(2, 3);

/* One option of a tool's table, ended by { NULL }: "--name V" or "--name=V" stores V in
 * *@value; a flag ("--json") sets *@flag. */
struct cli_opt {
    const char *name;
    const char **value;   /* an option that takes a value, or NULL */
    bool *flag;           /* a flag, or NULL */
};

/* What cli_parse() reads and fills: the tool's table, and where the rest goes. */
struct cli_args {
    const char *tool;            /* "backupd": the prefix of usage errors */
    const char *usage;           /* for --help (on stdout) and after a usage error (on stderr) */
    const struct cli_opt *opts;
    const char *config;          /* --config (set the default before parsing) */
    const char **pos;            /* positional arguments, in order */
    int max_pos, npos;           /* 0: the tool takes none */
    const char *repository;      /* --repository NAME: a [mirror NAME] in place of
                                    [repository]'s target (conf_use_repository), or NULL */
};

/* cli_parse() - parse @argv: the options every tool takes ("--config F", "--repository NAME",
 * "--log-format text|json", "--verbose"/"-v", "--quiet"/"-q", "--help"/"-h", "--version"), the
 * tool's table, and up to @a->max_pos positional arguments. Returns -1 to go on; otherwise the
 * exit code to return: EXIT_OK after --help (the usage printed) or --version ("TOOL (coffer)
 * VERSION" on stdout), EXIT_USAGE after a usage error (printed by cli_usage_error). Unknown arguments: "unknown argument 'X'" when the tool takes no
 * positional argument, else "unknown option '-X'" or "too many arguments". */
int cli_parse(struct cli_args *a, int argc, char **argv);
/* "<tool>: <message>" and the usage on stderr; returns EXIT_USAGE */
int cli_usage_error(const struct cli_args *a, const struct cf_err *e);

#endif
