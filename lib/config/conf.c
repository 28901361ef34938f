#include "conf.h"

#include <string.h>

#include "../core/util.h"
#include "conf_check.h"
#include "../source/source.h"
#include "../storage/target.h"

const char *const conf_retention_keys[] = {
    "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly",
    "keep-yearly", "keep-within", "timezone", NULL,
};

static const char *const job_keys[] = { "sources", "rpo", NULL };
static const char *const catalog_keys[] = { "path", "debris-grace", "lock-ttl", NULL };

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
    const char *name, *kf, *pf, *pub;
    const struct target_ops *ops;
    struct target *t = NULL;
    long v;
    uint64_t sz;

    if (ini_get_str(s, "target", "local", &name, e) != 0)
        return -1;
    ops = target_driver_find(name);
    if (ops == NULL)
        return ini_err(s, "target", e, "target: unknown kind '%s' (local or s3)", name);
    const char *const *const lists[] = { target_common_keys, ops->keys, NULL };
    if (ini_check_keys(s, lists, e) != 0)
        return -1;
    if (ini_get_str(s, "key-file", NULL, &kf, e) != 0 ||
        ini_get_str(s, "passphrase-file", NULL, &pf, e) != 0 ||
        ini_get_str(s, "public-key-file", NULL, &pub, e) != 0)
        return -1;
    if (!!kf + !!pf + !!pub != 1)
        return ini_err(s, NULL, e,
                       "give exactly one of key-file, passphrase-file or public-key-file");
    if (ini_get_int(s, "compression-level", 3, 1, 19, &v, e) != 0 ||
        ini_get_int(s, "compression-threads", 0, 0, 256, &v, e) != 0 ||
        ini_get_size(s, "object-size", 64 << 20, 1 << 20, 1ull << 32, &sz, e) != 0)
        return -1;
    if (target_open(s, &t, e) != 0)
        return -1;
    target_close(t);
    return 0;
}

/* a section's own keys and values, through its owner (a source or target driver) */
static int check_section(const struct ini_section *s, struct cf_err *e)
{
    if (strcmp(s->kind, "catalog") == 0) {
        const char *const *const lists[] = { catalog_keys, NULL };
        int64_t d;
        return ini_check_keys(s, lists, e) == 0 &&
                       ini_get_duration(s, "debris-grace", 86400, &d, e) == 0 &&
                       ini_get_duration(s, "lock-ttl", 600, &d, e) == 0
                   ? 0
                   : -1;
    }
    if (strcmp(s->kind, "source") == 0) {
        struct source *src = NULL;
        long lv;
        int rc = source_open(s, &src, e) == 0 && check_retention(s, e) == 0 &&
                         ini_get_int(s, "compression-level", 3, 1, 19, &lv, e) == 0 &&
                         ini_get_int(s, "compression-threads", 0, 0, 256, &lv, e) == 0
                     ? 0
                     : -1;
        source_close(src);
        return rc;
    }
    if (strcmp(s->kind, "job") == 0) {
        const char *const *const lists[] = { job_keys, conf_retention_keys, NULL };
        return ini_check_keys(s, lists, e) == 0 && check_retention(s, e) == 0 ? 0 : -1;
    }
    return check_repository(s, e);
}

/* Parse @path and sort its sections; then check each section. Without @rep the first error
 * fails the whole; with it, each section's error is a finding and the checking goes on (only
 * a file that cannot be read or parsed fails). */
static int conf_read(const char *path, struct conf **out, struct conf_report *rep,
                     struct cf_err *e)
{
    struct conf *c = cf_calloc(1, sizeof(*c));

    if (ini_parse_file(path, &c->ini, e) != 0)
        goto fail;
    for (size_t i = 0; i < c->ini->n; i++) {
        const struct ini_section *s = &c->ini->sec[i];
        bool named = s->name != NULL;
        if (strcmp(s->kind, "repository") == 0 && !named) {
            c->repository = s;
        } else if (strcmp(s->kind, "catalog") == 0 && !named) {
            c->catalog = s;
        } else if (strcmp(s->kind, "source") == 0 && named) {
            c->sources = cf_realloc(c->sources, (c->nsources + 1) * sizeof(*c->sources));
            c->sources[c->nsources++] = s;
        } else if (strcmp(s->kind, "job") == 0 && named) {
            c->jobs = cf_realloc(c->jobs, (c->njobs + 1) * sizeof(*c->jobs));
            struct conf_job *j = &c->jobs[c->njobs++];
            memset(j, 0, sizeof(*j));
            j->name = s->name;
            j->sec = s;
            if (check_section(s, e) != 0)
                goto section_err;
            if (ini_get_list(s, "sources", &j->sources, &j->nsources, e) != 0)
                goto section_err;
            if (j->nsources == 0) {
                ini_err(s, NULL, e, "missing required key 'sources'");
                goto section_err;
            }
            for (size_t k = 0; k < j->nsources; k++)
                if (ini_find(c->ini, "source", j->sources[k]) == NULL) {
                    ini_err(s, "sources", e, "sources: no [source %s] in this file",
                            j->sources[k]);
                    goto section_err;
                }
        } else {
            cf_err_set(e, CF_E_CONFIG,
                       "%s:%d: unknown section [%s%s%s] (expected [repository], [source NAME], "
                       "[job NAME] or [catalog])",
                       s->file, s->line, s->kind, named ? " " : "", named ? s->name : "");
            goto section_err;
        }
        if (s != c->repository && strcmp(s->kind, "job") != 0 && check_section(s, e) != 0)
            goto section_err;
        continue;
    section_err:
        if (rep == NULL)
            goto fail;
        conf_report_add(rep, s, NULL, e);
        cf_err_clear(e);
        /* reported: the check step passes over it */
        if (c->nsources && c->sources[c->nsources - 1] == s)
            c->nsources--;
    }
    if (c->repository == NULL) {
        cf_err_set(e, CF_E_CONFIG, "%s: no [repository] section", path);
        goto fail;
    }
    if (check_section(c->repository, e) != 0) {
        if (rep == NULL)
            goto fail;
        conf_report_add(rep, c->repository, NULL, e);
        cf_err_clear(e);
        c->repository_bad = true;
    }
    *out = c;
    return 0;
fail:
    conf_free(c);
    return -1;
}

int conf_load(const char *path, struct conf **out, struct cf_err *e)
{
    return conf_read(path, out, NULL, e);
}

int conf_load_report(const char *path, struct conf **out, struct conf_report *rep,
                     struct cf_err *e)
{
    return conf_read(path, out, rep, e);
}

void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->njobs; i++)
        ini_list_free(c->jobs[i].sources, c->jobs[i].nsources);
    free(c->jobs);
    free(c->sources);
    ini_free(c->ini);
    free(c);
}

const struct ini_section *conf_source(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nsources; i++)
        if (strcmp(c->sources[i]->name, name) == 0)
            return c->sources[i];
    return NULL;
}

const struct conf_job *conf_job(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->njobs; i++)
        if (strcmp(c->jobs[i].name, name) == 0)
            return &c->jobs[i];
    return NULL;
}
