/* cat_policy.c - the retention rules and RPO of a source, from the configuration. */
#include "cat_ctx.h"

#include <string.h>

static const char *const count_keys[] = { "keep-last", "keep-hourly", "keep-daily",
                                          "keep-weekly", "keep-monthly", "keep-yearly" };

static bool has_rules(const struct ini_section *s)
{
    for (size_t i = 0; i < sizeof(count_keys) / sizeof(*count_keys); i++)
        if (ini_kv_find(s, count_keys[i]))
            return true;
    return ini_kv_find(s, "keep-within") != NULL;
}

/* the rules of @s; the timezone from @s, else from @tz_from (may be NULL) */
static int read_rules(const struct ini_section *s, const struct ini_section *tz_from,
                      struct ret_policy *p, struct cf_err *e)
{
    long *slots[] = { &p->keep_last, &p->keep_hourly, &p->keep_daily, &p->keep_weekly,
                      &p->keep_monthly, &p->keep_yearly };
    const char *tz = NULL;
    const struct ini_section *tz_sec = s;

    memset(p, 0, sizeof(*p));
    for (size_t i = 0; i < sizeof(count_keys) / sizeof(*count_keys); i++)
        if (ini_get_int(s, count_keys[i], 0, 0, 1000000, slots[i], e) != 0)
            return -1;
    if (ini_get_duration(s, "keep-within", 0, &p->keep_within, e) != 0 ||
        ini_get_str(s, "timezone", NULL, &tz, e) != 0)
        return -1;
    if (tz == NULL && tz_from != NULL) {
        tz_sec = tz_from;
        if (ini_get_str(tz_from, "timezone", NULL, &tz, e) != 0)
            return -1;
    }
    if (tz != NULL) {
        struct cf_err te = CF_ERR_INIT;
        if (time_zone_check(tz, &te) != 0)
            return ini_err(tz_sec, "timezone", e, "timezone: %s", te.msg);
        snprintf(p->timezone, sizeof(p->timezone), "%s", tz);
    }
    return 0;
}

int cat_policy_for(const struct conf *c, const char *source, struct cat_policy_set *out,
                   struct cf_err *e)
{
    const struct ini_section *src = conf_source(c, source);

    memset(out, 0, sizeof(*out));
    if (cat_source_rpo(c, source, &out->rpo, e) != 0)
        return -1;
    /* a mirror in use with rules of its own: they alone decide, for every source */
    const struct ini_section *m = c->target_name ? conf_mirror(c, c->target_name) : NULL;
    if (m != NULL && has_rules(m)) {
        if (read_rules(m, NULL, &out->p[0], e) != 0)
            return -1;
        snprintf(out->origin[0], sizeof(out->origin[0]), "[mirror %s]", m->name);
        out->n = 1;
        return 0;
    }
    if (src != NULL) {
        if (has_rules(src)) {
            const struct ini_section *job_tz = NULL;
            for (size_t i = 0; i < c->njobs && job_tz == NULL; i++)
                for (size_t k = 0; k < c->jobs[i].nsources; k++)
                    if (strcmp(c->jobs[i].sources[k], source) == 0)
                        job_tz = c->jobs[i].sec;
            if (read_rules(src, job_tz, &out->p[0], e) != 0)
                return -1;
            snprintf(out->origin[0], sizeof(out->origin[0]), "[source %s]", source);
            out->n = 1;
        }
    }
    for (size_t i = 0; i < c->njobs; i++) {
        const struct conf_job *j = &c->jobs[i];
        bool mine = false;
        for (size_t k = 0; k < j->nsources; k++)
            mine |= strcmp(j->sources[k], source) == 0;
        if (!mine)
            continue;
        if ((src != NULL && has_rules(src)) || !has_rules(j->sec) || out->n == CAT_POLICY_MAX)
            continue;
        if (read_rules(j->sec, src, &out->p[out->n], e) != 0)
            return -1;
        snprintf(out->origin[out->n], sizeof(out->origin[out->n]), "[job %s]", j->name);
        out->n++;
    }
    return 0;
}

/* retention_apply() with @p's timezone read from the zone database for this call */
static int apply_one(const struct ret_policy *p, const struct ret_backup *b, size_t n, time_t now,
                     struct ret_decision *out, struct cf_err *e)
{
    struct cf_tz *tz;
    int rc;

    if (tz_open(p->timezone, &tz, e) != 0)
        return -1;
    rc = retention_apply(b, n, now, p, tz, out, e);
    tz_free(tz);
    return rc;
}

int cat_policy_apply(const struct cat_policy_set *ps, const struct ret_backup *b, size_t n,
                     time_t now, struct ret_decision *out, struct cf_err *e)
{
    static const struct ret_policy none;
    struct ret_decision *one;

    if (ps->n == 0)
        return apply_one(&none, b, n, now, out, e);
    if (apply_one(&ps->p[0], b, n, now, out, e) != 0)
        return -1;
    one = cf_calloc(n ? n : 1, sizeof(*one));
    for (size_t k = 1; k < ps->n; k++) {
        if (apply_one(&ps->p[k], b, n, now, one, e) != 0) {
            free(one);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            out[i].reasons |= one[i].reasons;
            out[i].keep = out[i].reasons != 0;
        }
    }
    free(one);
    return 0;
}
