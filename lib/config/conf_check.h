/* conf_check.h - the validation step: findings about a configuration, all of them.
 *
 * `backupd check-config` parses the file (conf_load_report), then asks each owner to check
 * what it owns against the world: lib/repo (repo_check) the key and the repository, each
 * source driver (source_check) its files, server and dump tool. Each owner adds what it finds
 * here, naming the section (and the line where known), and goes on. */
#ifndef CF_CONF_CHECK_H
#define CF_CONF_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "ini.h"

struct conf_finding {
    enum cf_code code;   /* decides the exit code: configuration/key (2) or unreachable (1) */
    char *msg;           /* "file:line: [section] what; HINT: ..." */
};

struct conf_report {
    bool offline;        /* skip what needs the network (S3, database connections) */
    struct conf_finding *f;
    size_t n;
};

/* conf_report_add() - record @e as a finding about @s (at @key's line when @key is given and
 * present, else the section's); a message that already names the file is kept as it is */
void conf_report_add(struct conf_report *r, const struct ini_section *s, const char *key,
                     const struct cf_err *e);
/* print every finding and a closing line to @out; the exit code they call for: 0 none, 2 any
 * configuration or key finding, else 1 */
int conf_report_print(const struct conf_report *r, const char *file, FILE *out);
void conf_report_free(struct conf_report *r);

#endif
