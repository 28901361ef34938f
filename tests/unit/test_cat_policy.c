/* test_cat_policy.c - lib/catalog/cat_policy.c: which retention rules and RPO apply to a source
 * (the source's own rules win, else every job that backs it up), and their merge. */
#include "unit.h"

#include <stdlib.h>
#include <unistd.h>

#include "../../lib/catalog/cat_ctx.h"
#include "../../lib/core/log.h"
#include "../../lib/core/util.h"
#include "../../lib/validate/validate.h"

static char dir[] = "/tmp/coffer-catpol.XXXXXX";

static struct conf *load(const char *body)
{
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    char *path = cf_asprintf("%s/coffer.conf", dir);
    char *text = cf_asprintf("[repository]\ntarget = local\npath = %s/repo\nkey-file = %s/k\n\n"
                             "[source media]\ntype = volume\npath = %s\n%s",
                             dir, dir, dir, body);
    if (fs_write_file_atomic(path, text, strlen(text), 0600, &e) != 0 ||
        validate_load(path, &c, &e) != 0)
        printf("# load: %s\n", e.msg);
    free(text);
    free(path);
    return c;
}

TEST(job_rules_apply)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_policy_set ps;
    struct conf *c = load("\n[job nightly]\nsources = media\nkeep-daily = 7\nrpo = 26h\n"
                          "timezone = Europe/Berlin\n");
    CHECK(c != NULL);
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.n, 1);
    CHECK_EQ_INT(ps.p[0].keep_daily, 7);
    CHECK_STR(ps.p[0].timezone, "Europe/Berlin");
    CHECK_STR(ps.origin[0], "[job nightly]");
    CHECK_EQ_INT(ps.rpo, 26 * 3600);
    conf_free(c);
}

TEST(source_rules_win)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_policy_set ps;
    struct conf *c = load("keep-last = 3\nrpo = 2h\n\n[job nightly]\nsources = media\n"
                          "keep-daily = 7\nrpo = 26h\ntimezone = Asia/Kolkata\n");
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.n, 1);
    CHECK_EQ_INT(ps.p[0].keep_last, 3);
    CHECK_EQ_INT(ps.p[0].keep_daily, 0);
    CHECK_STR(ps.p[0].timezone, "Asia/Kolkata");   /* the job's zone, none of its own */
    CHECK_STR(ps.origin[0], "[source media]");
    CHECK_EQ_INT(ps.rpo, 2 * 3600);
    conf_free(c);
}

TEST(several_jobs_union)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_policy_set ps;
    struct conf *c = load("\n[job hourly]\nsources = media\nkeep-last = 1\nrpo = 2h\n"
                          "\n[job monthly]\nsources = media\nkeep-monthly = 12\nrpo = 40d\n");
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.n, 2);
    CHECK_EQ_INT(ps.rpo, 2 * 3600);   /* the strictest */
    /* a backup kept by either job's rules is kept */
    struct ret_backup b[3] = { { "a", 1000, RET_COMPLETE, false },
                               { "b", 3456000, RET_COMPLETE, false },     /* February */
                               { "c", 3456100, RET_COMPLETE, false } };
    struct ret_decision d[3];
    CHECK_EQ_INT(cat_policy_apply(&ps, b, 3, 4000000, d, &e), 0);
    CHECK(d[0].keep && d[0].reasons == RET_BY_MONTHLY);
    CHECK(!d[1].keep);
    CHECK(d[2].keep && (d[2].reasons & RET_BY_LAST) && (d[2].reasons & RET_BY_MONTHLY));
    conf_free(c);
}

/* keep-pitr: the source's own, else the largest of its jobs'; it is not a backup rule, so
 * a source with only keep-pitr still takes its jobs' keep-* rules */
TEST(keep_pitr)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_policy_set ps;
    struct conf *c = load("\n[job hourly]\nsources = media\nkeep-last = 1\nkeep-pitr = 2d\n"
                          "\n[job weekly]\nsources = media\nkeep-pitr = 7d\n");
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.keep_pitr, 7 * 86400);
    CHECK_STR(ps.pitr_origin, "[job weekly]");
    conf_free(c);
    c = load("keep-pitr = 12h\n\n[job hourly]\nsources = media\nkeep-last = 1\n"
             "keep-pitr = 7d\n");
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.keep_pitr, 12 * 3600);
    CHECK_STR(ps.pitr_origin, "[source media]");
    CHECK_EQ_INT(ps.n, 1);   /* the job's keep-last still applies */
    CHECK_STR(ps.origin[0], "[job hourly]");
    conf_free(c);
    c = load("\n[job nightly]\nsources = media\nkeep-daily = 7\n");
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.keep_pitr, 0);
    conf_free(c);
}

TEST(no_rules_keep_everything)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_policy_set ps;
    struct conf *c = load("\n[job nightly]\nsources = media\n");
    CHECK_EQ_INT(cat_policy_for(c, "media", &ps, &e), 0);
    CHECK_EQ_INT(ps.n, 0);
    CHECK_EQ_INT(ps.rpo, 0);
    struct ret_backup b[2] = { { "a", 1000, RET_COMPLETE, false },
                               { "b", 2000, RET_COMPLETE, false } };
    struct ret_decision d[2];
    CHECK_EQ_INT(cat_policy_apply(&ps, b, 2, 3000, d, &e), 0);
    CHECK(d[0].keep && d[1].keep);
    CHECK(d[0].reasons & RET_BY_NO_POLICY);
    /* a source nobody configured: no rules either */
    CHECK_EQ_INT(cat_policy_for(c, "gone", &ps, &e), 0);
    CHECK_EQ_INT(ps.n, 0);
    conf_free(c);
}

TEST(bad_timezone_names_line)
{
    /* refused by the configuration itself (check-config), with file and line */
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    char *path = cf_asprintf("%s/bad.conf", dir);
    char *text = cf_asprintf("[repository]\ntarget = local\npath = %s/repo\nkey-file = %s/k\n\n"
                             "[source media]\ntype = volume\npath = %s\n\n[job nightly]\n"
                             "sources = media\nkeep-daily = 1\ntimezone = Europe/Nowhere\n",
                             dir, dir, dir);
    CHECK_EQ_INT(fs_write_file_atomic(path, text, strlen(text), 0600, &e), 0);
    CHECK_EQ_INT(validate_load(path, &c, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_CONFIG);
    CHECK_MSG(e, "bad.conf:13: [job nightly] timezone: unknown timezone 'Europe/Nowhere'");
    CHECK_MSG(e, "HINT:");
    conf_free(c);
    free(text);
    free(path);
}

int main(void)
{
    log_setup(LOG_ERROR, LOG_TEXT);
    if (mkdtemp(dir) == NULL)
        return 1;
    RUN(job_rules_apply);
    RUN(source_rules_win);
    RUN(several_jobs_union);
    RUN(keep_pitr);
    RUN(no_rules_keep_everything);
    RUN(bad_timezone_names_line);
    struct cf_err e = CF_ERR_INIT;
    fs_remove_tree(dir, &e);
    return unit_done();
}
