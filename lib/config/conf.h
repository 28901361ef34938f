/* conf.h - coffer.conf: the repository, its sources and jobs, checked as a whole.
 *
 * conf_load() validates everything it can without touching a server or the repository:
 * unknown sections and keys, values of the wrong type, jobs naming missing sources, and each
 * source and target kind's own settings (through their open/close). */
#ifndef CF_CONF_H
#define CF_CONF_H

#include <stdbool.h>

#include "ini.h"

#define CONF_DEFAULT_PATH "/etc/coffer/coffer.conf"

struct conf_job {
    const char *name;
    char **sources;
    size_t nsources;
    const struct ini_section *sec;
};

struct conf {
    struct ini *ini;
    const struct ini_section *repository;
    const struct ini_section *catalog;   /* NULL when absent */
    const struct ini_section **sources;
    size_t nsources;
    struct conf_job *jobs;
    size_t njobs;
    bool repository_bad;   /* conf_load_report: [repository] did not check (a finding says why) */
};

/* retention and objective keys, allowed in [job] and [source] sections */
extern const char *const conf_retention_keys[];

int conf_load(const char *path, struct conf **out, struct cf_err *e);
/* conf_load_report() - as conf_load, but every section that does not check is a finding in
 * @rep (conf_check.h) and the others are still read: -1 only when the file cannot be read or
 * parsed, or has no [repository] */
struct conf_report;
int conf_load_report(const char *path, struct conf **out, struct conf_report *rep,
                     struct cf_err *e);
void conf_free(struct conf *c);
const struct ini_section *conf_source(const struct conf *c, const char *name);
const struct conf_job *conf_job(const struct conf *c, const char *name);

#endif
