/* cat_drills.c - `catalog drills`: the drill reports stored in the repository (drills/, by
 * `restore drill`), and the drill lines of `catalog status`: each job's last drill, judged
 * against its drill-every. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/util.h"
#include "../policies/objectives.h"
#include "catalog.h"
#include "catalog.h"

static const char *jstr(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

int catalog_drills(const struct conf *c, const struct repo_unlock *u,
                   const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct repo_ref *refs = NULL;
    size_t n = 0, bad = 0;
    json_t *arr = json_array();
    int rc;

    if (repo_open(c, u, &r, &e) != 0 || repo_drill_list(r, NULL, &refs, &n, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (!o->json)
        printf("%-28s %-20s %-22s %-8s %s\n", "DRILL", "OF", "STARTED", "RESULT", "FINDINGS");
    for (size_t i = 0; i < n; i++) {
        json_t *d = NULL;
        if (repo_drill_load(r, refs[i].source, refs[i].id, &d, &e) != 0) {
            fprintf(stderr, "catalog: %s\n", e.msg);
            cf_err_clear(&e);
            bad++;
            continue;
        }
        json_t *f = json_object_get(d, "failures");
        if (!o->json)
            printf("%-28s %-20s %-22s %-8s %s%s\n", refs[i].id, refs[i].source, jstr(d, "started"),
                   jstr(d, "result"), json_array_size(f) ? json_string_value(json_array_get(f, 0))
                                                        : "-",
                   json_array_size(f) > 1 ? " (and more)" : "");
        json_array_append(arr, d);
        json_decref(d);
    }
    if (o->json)
        cat_print_json(arr);
    rc = bad ? EXIT_FAILED : EXIT_OK;
out:
    json_decref(arr);
    free(refs);
    repo_close(r);
    return rc;
}

int cat_drill_status(const struct conf *c, struct repo *r, bool quiet, json_t *out)
{
    struct cf_err e = CF_ERR_INIT;
    time_t now = time(NULL);
    int notok = 0;
    bool header = false;

    for (size_t j = 0; j < c->njobs; j++) {
        const struct conf_job *job = &c->jobs[j];
        char subject[REPO_NAME_MAX + 8], every[32] = "-", when[32] = "-";
        struct repo_ref *refs = NULL;
        size_t n = 0;
        int64_t ev = 0;
        json_t *d = NULL;
        const char *result = "NEVER", *id = "-";

        ini_get_duration(job->sec, "drill-every", 0, &ev, &e);
        cf_err_clear(&e);
        snprintf(subject, sizeof(subject), "job.%s", job->name);
        if (ev > 0 && !quiet && !header) {
            printf("\n%-16s %s\n", "JOB", "LAST DRILL");
            header = true;
        }
        if (r == NULL || repo_drill_list(r, subject, &refs, &n, &e) != 0) {
            if (!quiet && ev > 0)
                printf("%-16s drill unknown: %s\n", job->name,
                       r ? e.msg : "the repository is unreachable");
            cf_err_clear(&e);
            free(refs);
            continue;
        }
        if (n > 0 && repo_drill_load(r, refs[n - 1].source, refs[n - 1].id, &d, &e) == 0) {
            result = jstr(d, "result");
            id = refs[n - 1].id;
        } else if (n > 0) {
            result = "UNREADABLE";
            id = refs[n - 1].id;
            cf_err_clear(&e);
        }
        if (n == 0 && ev == 0) {   /* no objective and never drilled: nothing to say */
            free(refs);
            continue;
        }
        bool passed = strcmp(result, "passed") == 0;
        enum obj_state st = objective_drill(n > 0, n > 0 ? refs[n - 1].time : 0, passed, now, ev);
        if (ev)
            snprintf(every, sizeof(every), "%llds", (long long)ev);
        if (n > 0)
            time_format_rfc3339(refs[n - 1].time, when, sizeof(when));
        if (!quiet && !header) {
            printf("\n%-16s %s\n", "JOB", "LAST DRILL");
            header = true;
        }
        const char *state = st != OBJ_VIOLATED ? "OK"
                            : n > 0 && passed  ? "OVERDUE"
                                               : "FAILED";
        if (st == OBJ_VIOLATED)
            notok++;
        if (!quiet)
            printf("%-16s drill %s %s %s; drill-every %s: %s\n", job->name, id, when, result,
                   every, state);
        json_array_append_new(out, json_pack("{s:s, s:s?, s:s?, s:s, s:I, s:s}", "job", job->name,
                                             "id", n ? id : NULL, "at", n ? when : NULL, "result",
                                             result, "drill_every_seconds", (json_int_t)ev,
                                             "state", state));
        json_decref(d);
        free(refs);
    }
    return notok;
}
