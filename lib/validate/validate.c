/* validate.c - the validation step: each owner's keys gathered, each driver opened. */
#include "validate.h"

#include <string.h>

#include "../../policies/objectives.h"
#include "../../policies/retention.h"
#include "../catalog/cat_index.h"
#include "../core/util.h"
#include "../metrics/metrics.h"
#include "../notify/notify.h"
#include "../repo/repo.h"
#include "../repo/repo_mirror.h"
#include "../source/source.h"
#include "../stream/stream_opts.h"

/* migrate's key of [source]: the migrations directory (read by migrate/mig_run.c; listed here
 * because lib/ includes no tool) */
static const char *const migrate_keys[] = { "migrations", NULL };

/* the keys other owners read from [source] and [job], besides the section's own */
static const char *const *const source_others[] = {
    stream_source_keys, retention_keys, objective_keys, migrate_keys, NULL,
};
static const char *const *const job_others[] = { retention_keys, objective_keys, notify_keys,
                                                  NULL };
static const char *const *const repository_others[] = { stream_repo_keys, NULL };

/* the values of the retention and objective keys; their defaults are the readers' (the
 * catalog), only the form is checked here */
static int check_retention(const struct ini_section *s, struct cf_err *e)
{
    static const char *const counts[] = { "keep-last", "keep-hourly", "keep-daily",
                                          "keep-weekly", "keep-monthly", "keep-yearly", NULL };
    long v;
    int64_t d;
    const char *tz;

    for (size_t i = 0; counts[i]; i++)
        if (ini_get_int(s, counts[i], 0, 0, 1000000, &v, e) != 0)
            return -1;
    if (ini_get_duration(s, "keep-within", 0, &d, e) != 0 ||
        ini_get_duration(s, "rpo", 0, &d, e) != 0 || ini_get_str(s, "timezone", NULL, &tz, e) != 0)
        return -1;
    struct cf_err te = CF_ERR_INIT;
    if (time_zone_check(tz, &te) != 0)
        return ini_err(s, "timezone", e, "timezone: %s", te.msg);
    return 0;
}

static int check_repository(const struct ini_section *s, struct cf_err *e)
{
    struct stream_opts so;

    if (repo_conf_check_keys(s, repository_others, e) != 0 ||
        stream_opts_resolve(s, NULL, &so, e) != 0)
        return -1;
    return repo_conf_check_target(s, e);
}

int validate_source(const struct ini_section *s, struct cf_err *e)
{
    struct source *src = NULL;

    if (source_check_keys(s, source_others, e) != 0 || source_open(s, &src, e) != 0)
        return -1;
    source_close(src);
    return 0;
}

/* a section's own keys and values, through its owners (conf_check_fn) */
static int check_section(void *arg, const struct ini_section *s, struct cf_err *e)
{
    (void)arg;
    if (strcmp(s->kind, "catalog") == 0) {
        const char *const *const lists[] = { cat_section_keys, NULL };
        int64_t d;
        /* only the form: the defaults are catalog prune's */
        return ini_check_keys(s, lists, e) == 0 &&
                       ini_get_duration(s, "debris-grace", 0, &d, e) == 0 &&
                       ini_get_duration(s, "lock-ttl", 0, &d, e) == 0
                   ? 0
                   : -1;
    }
    if (strcmp(s->kind, "metrics") == 0) {
        const char *const *const lists[] = { metrics_keys, NULL };
        return ini_check_keys(s, lists, e) == 0 && metrics_check(s, e) == 0 ? 0 : -1;
    }
    if (strcmp(s->kind, "notify") == 0) {
        const char *const *const lists[] = { notify_keys, NULL };
        return ini_check_keys(s, lists, e) == 0 && notify_check(s, e) == 0 ? 0 : -1;
    }
    if (strcmp(s->kind, "source") == 0) {
        struct stream_opts so;
        return validate_source(s, e) == 0 && check_retention(s, e) == 0 &&
                       stream_opts_resolve(NULL, s, &so, e) == 0
                   ? 0
                   : -1;
    }
    if (strcmp(s->kind, "mirror") == 0) {
        static const char *const *const mirror_others[] = { retention_keys, NULL };
        return repo_conf_check_mirror(s, mirror_others, e) == 0 && check_retention(s, e) == 0
                   ? 0
                   : -1;
    }
    if (strcmp(s->kind, "job") == 0)
        return ini_check_keys_with(s, conf_job_keys, NULL, job_others, e) == 0 &&
                       check_retention(s, e) == 0 && notify_check(s, e) == 0
                   ? 0
                   : -1;
    return check_repository(s, e);
}

int validate_load(const char *path, struct conf **out, struct cf_err *e)
{
    return conf_read(path, check_section, NULL, NULL, out, e);
}

int validate_report(const char *path, struct conf **out, struct conf_report *rep,
                    struct cf_err *e)
{
    if (conf_read(path, check_section, NULL, rep, out, e) != 0)
        return -1;
    repo_check(*out, rep);
    for (size_t i = 0; i < (*out)->nsources; i++)
        source_check((*out)->sources[i], rep);
    return 0;
}
