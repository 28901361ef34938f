#include "conf.h"

#include <string.h>

#include "../core/util.h"
#include "conf_check.h"

const char *const conf_job_keys[] = { "sources", NULL };

/* Parse @path and sort its sections; then check each section. Without @rep the first error
 * fails the whole; with it, each section's error is a finding and the checking goes on (only
 * a file that cannot be read or parsed fails). */
int conf_read(const char *path, conf_check_fn check, void *arg, struct conf_report *rep,
              struct conf **out, struct cf_err *e)
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
        } else if (strcmp(s->kind, "metrics") == 0 && !named) {
            c->metrics = s;
        } else if (strcmp(s->kind, "notify") == 0 && !named) {
            c->notify = s;
        } else if (strcmp(s->kind, "mirror") == 0 && named) {
            c->mirrors = cf_realloc(c->mirrors, (c->nmirrors + 1) * sizeof(*c->mirrors));
            c->mirrors[c->nmirrors++] = s;
        } else if (strcmp(s->kind, "source") == 0 && named) {
            c->sources = cf_realloc(c->sources, (c->nsources + 1) * sizeof(*c->sources));
            c->sources[c->nsources++] = s;
        } else if (strcmp(s->kind, "job") == 0 && named) {
            c->jobs = cf_realloc(c->jobs, (c->njobs + 1) * sizeof(*c->jobs));
            struct conf_job *j = &c->jobs[c->njobs++];
            memset(j, 0, sizeof(*j));
            j->name = s->name;
            j->sec = s;
            if (check && check(arg, s, e) != 0)
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
                       "[job NAME], [mirror NAME], [catalog], [metrics] or [notify])",
                       s->file, s->line, s->kind, named ? " " : "", named ? s->name : "");
            goto section_err;
        }
        if (s != c->repository && strcmp(s->kind, "job") != 0 && check && check(arg, s, e) != 0)
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
        if (c->nmirrors && c->mirrors[c->nmirrors - 1] == s)
            c->nmirrors--;
    }
    if (c->repository == NULL) {
        cf_err_set(e, CF_E_CONFIG, "%s: no [repository] section", path);
        goto fail;
    }
    c->target = c->repository;
    if (check && check(arg, c->repository, e) != 0) {
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

void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->njobs; i++)
        ini_list_free(c->jobs[i].sources, c->jobs[i].nsources);
    free(c->jobs);
    free(c->sources);
    free(c->mirrors);
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

const struct ini_section *conf_mirror(const struct conf *c, const char *name)
{
    for (size_t i = 0; i < c->nmirrors; i++)
        if (strcmp(c->mirrors[i]->name, name) == 0)
            return c->mirrors[i];
    return NULL;
}

int conf_use_repository(struct conf *c, const char *name, struct cf_err *e)
{
    const struct ini_section *m;

    if (name == NULL || name[0] == '\0')
        return 0;
    if ((m = conf_mirror(c, name)) == NULL)
        return cf_err_set(e, CF_E_USAGE, "--repository %s: no [mirror %s] in %s", name, name,
                          c->ini->file);
    c->target = m;
    c->target_name = m->name;
    return 0;
}
