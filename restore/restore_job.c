/* restore_job.c - `restore --job J --at T`: every source of a job, each at the backup --at
 * means for it, into the destinations of --map and a [restore-profile]. */
#include "restore_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/validate/validate.h"

/* where one source goes: the profile's keys, then --map's over them */
struct job_dest {
    const char *to, *to_file, *into_db, *into_redis, *database, *to_datadir;
};

/* the destination key a bare `--map SOURCE=DEST` sets, by the source's kind (and method) */
static const char *default_key(const struct ini_section *sec)
{
    const char *kind = NULL, *method = NULL;
    struct cf_err e = CF_ERR_INIT;
    ini_get_str(sec, "type", "", &kind, &e);
    ini_get_str(sec, "method", "logical", &method, &e);
    if (kind && strcmp(kind, "volume") == 0)
        return "to";
    if (kind && strcmp(kind, "redis") == 0)
        return "into-redis";
    if (kind && strcmp(kind, "postgres") == 0 && method && strcmp(method, "physical") == 0)
        return "to-datadir";
    return "into-db";   /* postgres, mariadb */
}

static void dest_set(struct job_dest *d, const char *key, const char *value)
{
    if (strcmp(key, "to") == 0)
        d->to = value;
    else if (strcmp(key, "to-file") == 0)
        d->to_file = value;
    else if (strcmp(key, "into-db") == 0)
        d->into_db = value;
    else if (strcmp(key, "into-redis") == 0)
        d->into_redis = value;
    else if (strcmp(key, "database") == 0)
        d->database = value;
    else if (strcmp(key, "to-datadir") == 0)
        d->to_datadir = value;
}

/* the source of @job named by the first @len bytes of @name, or -1 */
static long job_source_index(const struct conf_job *job, const char *name, size_t len)
{
    for (size_t i = 0; i < job->nsources; i++)
        if (strlen(job->sources[i]) == len && strncmp(job->sources[i], name, len) == 0)
            return (long)i;
    return -1;
}

/* Fill @d (one per source of @job) from @profile, then each --map: "SOURCE=DEST" (the kind's
 * destination) or "SOURCE.KEY=VALUE" (a profile key). Errors are usage errors. */
static int dests_resolve(const struct conf *c, const struct conf_job *job,
                         const struct restore_job_opts *jo, struct job_dest *d, struct cf_err *e)
{
    const struct ini_section *prof = NULL;

    if (jo->profile != NULL) {
        prof = ini_find(c->ini, "restore-profile", jo->profile);
        if (prof == NULL)
            return cf_err_set(e, CF_E_USAGE, "no [restore-profile %s] in %s", jo->profile,
                              c->ini->file);
        for (size_t i = 0; i < prof->n; i++) {
            const char *k = restore_profile_key(prof->kv[i].key);
            long s = k ? job_source_index(job, prof->kv[i].key, (size_t)(k - 1 - prof->kv[i].key))
                       : -1;
            if (s >= 0)   /* keys of sources outside this job are another job's */
                dest_set(&d[s], k, prof->kv[i].value);
        }
    }
    for (size_t i = 0; i < jo->nmaps; i++) {
        const char *m = jo->maps[i], *eq = strchr(m, '=');
        if (eq == NULL || eq == m || eq[1] == '\0')
            return cf_err_set(e, CF_E_USAGE, "--map '%s': use SOURCE=DEST or SOURCE.KEY=VALUE", m);
        size_t lhs = (size_t)(eq - m);
        long s = job_source_index(job, m, lhs);
        const char *key = NULL;
        char k[24];
        if (s >= 0) {
            snprintf(k, sizeof(k), "%s", default_key(conf_source(c, job->sources[s])));
        } else {
            char *l = cf_strndup(m, lhs);
            key = restore_profile_key(l);
            s = key ? job_source_index(job, l, (size_t)(key - 1 - l)) : -1;
            key = key ? m + (key - l) : NULL;
            free(l);
            if (key == NULL || s < 0)
                return cf_err_set(e, CF_E_USAGE, "--map '%s': '%.*s' is not a source of job %s "
                                  "(nor SOURCE.KEY with KEY one of to, to-file, into-db, "
                                  "into-redis, database, to-datadir)", m, (int)lhs, m, job->name);
            snprintf(k, sizeof(k), "%.*s", (int)(eq - key), key);
        }
        if (strcmp(k, "database") != 0) {   /* a destination replaces the profile's */
            const char *db = d[s].database;
            memset(&d[s], 0, sizeof(d[s]));
            d[s].database = db;
        }
        dest_set(&d[s], k, eq + 1);
    }
    return 0;
}

/* the options one source is restored with: its destination, and of the job's options those
 * its kind takes */
static void source_opts(const struct restore_job_opts *jo, const struct job_dest *d,
                        const char *kind, struct restore_opts *o)
{
    *o = jo->base;
    o->to_dir = d->to;
    o->to_file = d->to_file;
    o->into_db = d->into_db;
    o->into_redis = d->into_redis;
    o->database = d->database;
    o->to_datadir = d->to_datadir;
    if (d->to_datadir == NULL)
        o->pause = false;
    if (strcmp(kind, "postgres") != 0) {
        o->clean = false;
        o->globals = false;
        o->jobs = 1;
    }
}

/* the spread of the set: the oldest and newest moment among @p, each source's backup time
 * or, for a data directory recovered from the WAL archive, the moment itself */
static void plan_spread(const struct restore_one *p, size_t n, struct repo_when at,
                        int64_t max_spread)
{
    size_t lo = 0, hi = 0;
    char a[32], b[32], d[32], m[32];
    const char *exact = ": WAL replayed to it";

    for (size_t i = 1; i < n; i++) {
        if (restore_one_point(&p[i], at) < restore_one_point(&p[lo], at))
            lo = i;
        if (restore_one_point(&p[i], at) > restore_one_point(&p[hi], at))
            hi = i;
    }
    time_t tlo = restore_one_point(&p[lo], at), thi = restore_one_point(&p[hi], at);
    int64_t spread = (int64_t)(thi - tlo);
    time_format_rfc3339(tlo, a, sizeof(a));
    time_format_rfc3339(thi, b, sizeof(b));
    restore_age(tlo, thi, d, sizeof(d));
    printf("spread     %s between the oldest backup (%s, %s%s) and the newest (%s, %s%s)\n", d,
           p[lo].source, a, p[lo].pitr ? exact : "", p[hi].source, b, p[hi].pitr ? exact : "");
    if (max_spread > 0 && spread > max_spread) {
        restore_age(0, (time_t)max_spread, m, sizeof(m));
        printf("WARNING    the spread %s is over --max-spread %s: the sources come back from "
               "moments that far apart\n", d, m);
        log_warn("restore job spread_s=%" PRId64 " over max_spread_s=%" PRId64, spread,
                 max_spread);
    }
}

int restore_job_run(const struct conf *c, const struct repo_unlock *u, const char *name,
                    struct repo_when at, const struct restore_job_opts *jo)
{
    const struct conf_job *job = conf_job(c, name);
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct job_dest *d = NULL;
    struct restore_one *p = NULL;
    double *secs = NULL;
    char **why = NULL, **cmds = NULL;
    size_t n = 0, failed = 0;
    struct buf missing = BUF_INIT;
    char when[40];
    int rc = EXIT_FAILED;

    if (job == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [job %s] in %s", name, c->ini->file);
        return cli_fail("restore", &e);
    }
    n = job->nsources;
    d = cf_calloc(n, sizeof(*d));
    p = cf_calloc(n, sizeof(*p));
    secs = cf_calloc(n, sizeof(*secs));
    why = cf_calloc(n, sizeof(*why));
    cmds = cf_calloc(n, sizeof(*cmds));
    if (dests_resolve(c, job, jo, d, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    /* every source has somewhere to go, or nothing starts */
    for (size_t i = 0; i < n; i++)
        if (!d[i].to && !d[i].to_file && !d[i].into_db && !d[i].into_redis && !d[i].to_datadir)
            buf_printf(&missing, "%s%s", missing.len ? ", " : "", job->sources[i]);
    if (missing.len) {
        cf_err_set(&e, CF_E_USAGE, "no destination for %.*s of job %s: nothing restored; HINT: "
                   "give --map SOURCE=DEST or --profile NAME ([restore-profile NAME] with "
                   "SOURCE.into-db, SOURCE.to, SOURCE.into-redis or SOURCE.to-datadir)", (int)missing.len,
                   (const char *)missing.data, name);
        rc = cli_fail("restore", &e);
        goto out;
    }
    if (repo_open(c, u, &r, &e) != 0) {
        rc = cli_fail("restore", &e);
        goto out;
    }
    /* every source's backup and destination are checked before anything changes */
    for (size_t i = 0; i < n; i++) {
        const char *kind = NULL;
        struct restore_opts o;
        struct cf_err ke = CF_ERR_INIT;
        ini_get_str(conf_source(c, job->sources[i]), "type", "", &kind, &ke);
        source_opts(jo, &d[i], kind ? kind : "", &o);
        if (o.to_datadir && restore_pitr_command(c, u, job->sources[i], &cmds[i], &e) == 0)
            o.restore_command = cmds[i];
        if (e.code != CF_E_OK ||
            restore_one_prepare(c, r, job->sources[i], NULL, at, &o, &p[i], &e) != 0) {
            fprintf(stderr, "restore: error: source %s: %s\n", job->sources[i], e.msg);
            if (failed++ == 0)
                rc = cli_exit_code(&e);
            cf_err_clear(&e);
        }
    }
    if (failed) {
        fprintf(stderr, "restore: error: %zu of %zu sources of job %s cannot be restored as "
                "asked: nothing restored\n", failed, n, name);
        goto out;
    }
    repo_when_format(at, when, sizeof(when));
    printf("restore plan for job %s at %s, %zu sources%s\n", name, when, n,
           jo->base.dry_run ? " (dry run: nothing will be changed)" : "");
    for (size_t i = 0; i < n; i++) {
        printf("[%zu/%zu]\n", i + 1, n);
        restore_one_print_plan(&p[i], at);
    }
    plan_spread(p, n, at, jo->max_spread);
    fflush(stdout);
    if (jo->base.dry_run) {
        rc = EXIT_OK;
        goto out;
    }
    /* one source failing does not stop the others; the summary says which came back */
    for (size_t i = 0; i < n; i++) {
        printf("restoring [%zu/%zu] %s from %s\n", i + 1, n, p[i].source, p[i].ref.id);
        fflush(stdout);
        if (restore_one_run(r, &p[i], &secs[i], &e) != 0) {
            fprintf(stderr, "restore: error: source %s: %s\n", p[i].source, e.msg);
            why[i] = cf_strdup(e.msg);
            failed++;
            cf_err_clear(&e);
        }
    }
    printf("restore summary for job %s: %zu of %zu sources restored\n", name, n - failed, n);
    for (size_t i = 0; i < n; i++) {
        if (why[i] == NULL && p[i].pitr)
            printf("  restored  %s from %s in %.1f s: data directory %s, set up to recover to "
                   "%s; HINT: start it as the cluster's owner: pg_ctl -D %s start\n",
                   p[i].source, p[i].ref.id, secs[i], p[i].opts.to_datadir, p[i].target[0]
                   ? when : "the end of the archive", p[i].opts.to_datadir);
        else if (why[i] == NULL)
            printf("  restored  %s from %s in %.1f s\n", p[i].source, p[i].ref.id, secs[i]);
        else
            printf("  FAILED    %s from %s after %.1f s: %s; HINT: its destination may hold a "
                   "partial restore: clear it and run 'restore --source %s' again\n",
                   p[i].source, p[i].ref.id, secs[i], why[i], p[i].source);
    }
    fflush(stdout);
    rc = failed == 0 ? EXIT_OK : failed < n ? EXIT_PARTIAL : EXIT_FAILED;
out:
    for (size_t i = 0; i < n; i++) {
        restore_one_free(&p[i]);
        free(why[i]);
        free(cmds[i]);
    }
    free(cmds);
    buf_free(&missing);
    free(why);
    free(secs);
    free(p);
    free(d);
    repo_close(r);
    return rc;
}
