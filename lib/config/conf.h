/* conf.h - coffer.conf read and sorted: the repository, the catalog, the sources, the jobs,
 * metrics and notifications.
 *
 * conf_read() parses the file and sorts its sections; it knows no driver and no other owner's
 * keys. The keys and values of each section are checked by the validation step
 * (lib/validate), which conf_read() calls for each section through @check. */
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
    const struct ini_section *metrics;   /* [metrics], NULL when absent */
    const struct ini_section *notify;    /* [notify]: every job's notifications, or NULL */
    const struct ini_section **sources;
    size_t nsources;
    struct conf_job *jobs;
    size_t njobs;
    bool repository_bad;   /* with a report: [repository] did not check (a finding says why) */
    const struct ini_section **mirrors;   /* [mirror NAME] sections: copies of the repository */
    size_t nmirrors;
    /* where the repository is read and written: [repository]'s target keys, or a mirror's
     * after conf_use_repository(); the key is always [repository]'s */
    const struct ini_section *target;
    const char *target_name;   /* the mirror's NAME, NULL for [repository] */
};

/* the keys of a [job] section that conf_read() reads itself (sources) */
extern const char *const conf_job_keys[];

/* conf_check_fn - check section @s's keys and values; 0, or -1 with @e set */
typedef int (*conf_check_fn)(void *arg, const struct ini_section *s, struct cf_err *e);

/* conf_read() - parse @path and sort its sections, checking each recognised one through
 * @check (NULL: none) as it goes; [repository] is checked last. Without @rep the first error
 * fails the whole; with it (conf_check.h), each section's error is a finding, the section is
 * passed over (a source is left out of ->sources, a bad [repository] sets ->repository_bad)
 * and the reading goes on: -1 only when the file cannot be read or parsed, or has no
 * [repository]. */
struct conf_report;
int conf_read(const char *path, conf_check_fn check, void *arg, struct conf_report *rep,
              struct conf **out, struct cf_err *e);
void conf_free(struct conf *c);
const struct ini_section *conf_source(const struct conf *c, const char *name);
const struct conf_job *conf_job(const struct conf *c, const char *name);
/* [mirror @name], or NULL */
const struct ini_section *conf_mirror(const struct conf *c, const char *name);
/* conf_use_repository() - `--repository NAME`: read and write the repository at [mirror
 * @name]'s target in place of [repository]'s (NULL or "" changes nothing); CF_E_USAGE when
 * there is no such mirror */
int conf_use_repository(struct conf *c, const char *name, struct cf_err *e);

#endif
