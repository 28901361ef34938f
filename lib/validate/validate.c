/* validate.c - the validation step: each owner's keys gathered, each driver opened. */
#include "validate.h"

#include <string.h>

#include "../../policies/objectives.h"
#include "../../policies/retention.h"
#include "../../policies/schedule.h"
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

/* restore's keys of [restore-profile NAME], each written SOURCE.KEY (read by
 * restore/restore_job.c; listed here because lib/ includes no tool) */
const char *const restore_profile_keys[] = { "to", "to-file", "into-db", "into-redis",
                                             "database", "to-datadir", NULL };

/* the drill's keys of [source]: one custom check, run on the restored copy (read by
 * restore/drill_check.c; listed here because lib/ includes no tool) */
const char *const drill_source_keys[] = { "check-sql", "check-expect", NULL };

/* the keys other owners read from [source] and [job], besides the section's own */
static const char *const *const source_others[] = {
    stream_source_keys, retention_keys, objective_keys, migrate_keys, drill_source_keys, NULL,
};
/* the daemon's keys of [job] (read by backupd/backupd_verify.c) */
static const char *const daemon_job_keys[] = { "verify", "prune", NULL };
static const char *const *const job_others[] = { retention_keys, objective_keys, notify_keys,
                                                  schedule_keys, daemon_job_keys, drill_job_keys,
                                                  NULL };
/* backupd daemon's keys ([daemon]; the daemon is a tool, so they are declared here) */
static const char *const daemon_keys[] = { "max-jobs", "stop-grace", "runtime-dir", NULL };
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
        ini_get_duration(s, "keep-pitr", 0, &d, e) != 0 ||
        ini_get_duration(s, "rpo", 0, &d, e) != 0 || ini_get_duration(s, "rto", 0, &d, e) != 0 ||
        ini_get_duration(s, "drill-every", 0, &d, e) != 0 ||
        ini_get_str(s, "timezone", NULL, &tz, e) != 0)
        return -1;
    const char *sql, *expect;
    if (ini_get_str(s, "check-sql", NULL, &sql, e) != 0 ||
        ini_get_str(s, "check-expect", NULL, &expect, e) != 0)
        return -1;
    if ((sql == NULL) != (expect == NULL))
        return ini_err(s, sql ? "check-sql" : "check-expect", e,
                       "check-sql and check-expect go together: the query and the value its "
                       "first column of its first row must be");
    const char *type = NULL;
    if (sql && (ini_get_str(s, "type", "", &type, e) != 0 ||
                (strcmp(type, "postgres") != 0 && strcmp(type, "mariadb") != 0)))
        return ini_err(s, "check-sql", e, "check-sql: only a postgres or mariadb source runs "
                                          "SQL, not a %s source", type ? type : "?");
    struct cf_err te = CF_ERR_INIT;
    if (time_zone_check(tz, &te) != 0)
        return ini_err(s, "timezone", e, "timezone: %s", te.msg);
    return 0;
}

/* a job's schedule and jitter (policies/schedule.h) */
static int check_schedule(const struct ini_section *s, struct cf_err *e)
{
    const char *v;
    int64_t d;
    struct sched sc;
    struct cf_err se = CF_ERR_INIT;

    if (ini_get_str(s, "schedule", NULL, &v, e) != 0 ||
        ini_get_duration(s, "jitter", 0, &d, e) != 0)
        return -1;
    if (v != NULL && schedule_parse(v, &sc, &se) != 0)
        return ini_err(s, "schedule", e, "%s", se.msg);
    enum daemon_verify dv;
    bool prune;
    return daemon_verify_mode(s, &dv, e) == 0 && ini_get_bool(s, "prune", false, &prune, e) == 0
               ? 0
               : -1;
}

int daemon_verify_mode(const struct ini_section *job, enum daemon_verify *out, struct cf_err *e)
{
    const char *v;

    *out = DAEMON_VERIFY_NO;
    if (ini_get_str(job, "verify", "no", &v, e) != 0)
        return -1;
    if (strcmp(v, "quick") == 0)
        *out = DAEMON_VERIFY_QUICK;
    else if (strcmp(v, "full") == 0)
        *out = DAEMON_VERIFY_FULL;
    else if (strcmp(v, "no") != 0)
        return ini_err(job, "verify", e, "verify: '%s' is not quick, full or no", v);
    return 0;
}

int daemon_opts_read(const struct conf *c, struct daemon_opts *out, struct cf_err *e)
{
    const struct ini_section *s = c->daemon;

    out->max_jobs = 1;
    out->stop_grace = 300;
    out->runtime_dir = DAEMON_RUNTIME_DIR;
    if (s == NULL)
        return 0;
    if (ini_get_int(s, "max-jobs", 1, 1, 64, &out->max_jobs, e) != 0 ||
        ini_get_duration(s, "stop-grace", 300, &out->stop_grace, e) != 0 ||
        ini_get_str(s, "runtime-dir", DAEMON_RUNTIME_DIR, &out->runtime_dir, e) != 0)
        return -1;
    if (out->runtime_dir[0] != '/')
        return ini_err(s, "runtime-dir", e, "runtime-dir: '%s' is not an absolute path",
                       out->runtime_dir);
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
    if (strcmp(s->kind, "daemon") == 0) {
        const char *const *const lists[] = { daemon_keys, NULL };
        struct conf dc = { .daemon = s };
        struct daemon_opts o;
        return ini_check_keys(s, lists, e) == 0 && daemon_opts_read(&dc, &o, e) == 0 ? 0 : -1;
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
    if (strcmp(s->kind, "restore-profile") == 0)
        return 0;   /* its keys name sources: check_profiles(), once the file is read */
    if (strcmp(s->kind, "job") == 0)
        return ini_check_keys_with(s, conf_job_keys, NULL, job_others, e) == 0 &&
                       check_retention(s, e) == 0 && notify_check(s, e) == 0 &&
                       check_schedule(s, e) == 0
                   ? 0
                   : -1;
    return check_repository(s, e);
}

const char *restore_profile_key(const char *key)
{
    const char *dot = strrchr(key, '.');
    if (dot == NULL || dot == key)
        return NULL;
    for (size_t i = 0; restore_profile_keys[i]; i++)
        if (strcmp(dot + 1, restore_profile_keys[i]) == 0)
            return dot + 1;
    return NULL;
}

/* [restore-profile NAME]: every key is SOURCE.KEY, SOURCE a [source] of the file */
static int check_profile(const struct ini *ini, const struct ini_section *s, struct cf_err *e)
{
    for (size_t i = 0; i < s->n; i++) {
        const struct ini_kv *kv = &s->kv[i];
        const char *k = restore_profile_key(kv->key);
        if (k == NULL)
            return ini_err(s, kv->key, e, "'%s' is not SOURCE.KEY with KEY one of to, to-file, "
                                          "into-db, into-redis, database", kv->key);
        char *name = cf_strndup(kv->key, (size_t)(k - 1 - kv->key));
        bool known = ini_find(ini, "source", name) != NULL;
        free(name);
        if (!known)
            return ini_err(s, kv->key, e, "%s: no [source %.*s] in this file", kv->key,
                           (int)(k - 1 - kv->key), kv->key);
        if (kv->value[0] == '\0')
            return ini_err(s, kv->key, e, "%s: empty value", kv->key);
    }
    return 0;
}

static int check_profiles(const struct conf *c, struct conf_report *rep, struct cf_err *e)
{
    for (size_t i = 0; i < c->ini->n; i++) {
        const struct ini_section *s = &c->ini->sec[i];
        if (strcmp(s->kind, "restore-profile") != 0 || s->name == NULL ||
            check_profile(c->ini, s, e) == 0)
            continue;
        if (rep == NULL)
            return -1;
        conf_report_add(rep, s, NULL, e);
        cf_err_clear(e);
    }
    return 0;
}

int validate_load(const char *path, struct conf **out, struct cf_err *e)
{
    if (conf_read(path, check_section, NULL, NULL, out, e) != 0)
        return -1;
    if (check_profiles(*out, NULL, e) != 0) {
        conf_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

int validate_report(const char *path, struct conf **out, struct conf_report *rep,
                    struct cf_err *e)
{
    if (conf_read(path, check_section, NULL, rep, out, e) != 0)
        return -1;
    check_profiles(*out, rep, e);
    repo_check(*out, rep);
    for (size_t i = 0; i < (*out)->nsources; i++)
        source_check((*out)->sources[i], rep);
    return 0;
}
