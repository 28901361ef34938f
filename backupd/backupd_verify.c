/* backupd_verify.c - after a job the daemon ran: `verify = quick|full` checks the backup each
 * source of the job just committed, as `catalog verify [--quick] ID` would (the same library
 * calls: repo_backup_check_sizes(), pipeline_verify()), and records the result in the index;
 * `prune = yes` then runs `catalog prune` for each source of the job (catalog_prune()). */
#include "backupd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/catalog/cat_index.h"
#include "../lib/catalog/cat_prune.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/repo/repo.h"
#include "../lib/stream/pipeline.h"
#include "../lib/validate/validate.h"

/* the newest complete backup of @source by @job that started at or after @since */
static int newest_of_run(struct cat_index *x, const char *repo, const char *source,
                         const char *job, time_t since, char *id, size_t cap, struct cf_err *e)
{
    struct cat_filter f = { .repo = repo, .source = source, .job = job, .since = since };
    struct cat_row *v = NULL;
    size_t n = 0;

    id[0] = '\0';
    if (cat_index_query(x, &f, &v, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (v[i].status == CAT_COMPLETE)
            snprintf(id, cap, "%s", v[i].id);   /* sorted by time: the last one wins */
    cat_rows_free(v, n);
    return 0;
}

int backupd_job_verify(const struct conf *c, const char *job, time_t since)
{
    const struct conf_job *j = conf_job(c, job);
    enum daemon_verify mode;
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    struct cat_index *x = NULL;
    const char *path;
    bool fresh;
    size_t bad = 0;

    if (j == NULL || daemon_verify_mode(j->sec, &mode, &e) != 0 || mode == DAEMON_VERIFY_NO)
        return e.code == CF_E_OK ? EXIT_OK : cli_fail("backupd", &e);
    if (repo_open(c, NULL, &r, &e) != 0 || cat_index_path(c, &path, &e) != 0 ||
        cat_index_open(path, &x, &fresh, &e) != 0) {
        log_error("verify after job %s not done: %s", job, e.msg);
        goto out;
    }
    if (!repo_can_read(r)) {
        log_warn("verify after job %s not done: the repository is sealed to a public key and "
                 "this host has no secret key (HINT: verify = no here; verify where the "
                 "secret key is)", job);
        goto out;
    }
    for (size_t i = 0; i < j->nsources; i++) {
        char id[64];
        struct manifest *m = NULL;
        int k;
        cf_err_clear(&e);
        if (newest_of_run(x, repo_id(r), j->sources[i], job, since, id, sizeof(id), &e) != 0) {
            log_error("verify of source %s after job %s not done: %s", j->sources[i], job,
                      e.msg);
            bad++;
            continue;
        }
        if (id[0] == '\0')
            continue;   /* nothing committed by this run: its failure is already told */
        uint64_t t0 = time_mono_ms();
        k = repo_manifest_load(r, j->sources[i], id, &m, &e);
        if (k == 0)
            k = mode == DAEMON_VERIFY_QUICK ? repo_backup_check_sizes(r, m, &e)
                                             : pipeline_verify(r, m, &e);
        manifest_free(m);
        struct cf_err we = CF_ERR_INIT;
        bool damaged = k != 0 && (e.code == CF_E_CORRUPT || e.code == CF_E_CRYPTO ||
                                  e.code == CF_E_NOTFOUND);
        if ((k == 0 || damaged) &&
            (cat_index_set_verify(x, repo_id(r), j->sources[i], id,
                                  k == 0 ? CAT_VERIFY_OK : CAT_VERIFY_FAILED,
                                  mode == DAEMON_VERIFY_QUICK, time(NULL), k ? e.msg : NULL,
                                  &we) != 0 ||
             cat_index_set_status(x, repo_id(r), j->sources[i], id,
                                  k == 0 ? CAT_COMPLETE : CAT_DAMAGED, k ? e.msg : NULL,
                                  &we) != 0))
            log_warn("unable to record the verify result in the index: %s", we.msg);
        if (k == 0) {
            log_info("verify done job=%s source=%s id=%s mode=%s ms=%" PRIu64, job,
                     j->sources[i], id, mode == DAEMON_VERIFY_QUICK ? "quick" : "full",
                     time_mono_ms() - t0);
        } else {
            log_error("verify failed job=%s source=%s id=%s: %s", job, j->sources[i], id,
                      e.msg);
            bad++;
        }
    }
out:
    cat_index_close(x);
    backupd_textfile(c, r ? repo_id(r) : NULL);   /* the metrics show the verify */
    repo_close(r);
    return bad || e.code != CF_E_OK ? EXIT_FAILED : EXIT_OK;
}

int backupd_job_prune(const struct conf *c, const char *job)
{
    const struct conf_job *j = conf_job(c, job);
    struct cf_err e = CF_ERR_INIT;
    bool prune = false;
    int rc = EXIT_OK;

    if (j == NULL || ini_get_bool(j->sec, "prune", false, &prune, &e) != 0)
        return e.code == CF_E_OK ? EXIT_OK : cli_fail("backupd", &e);
    for (size_t i = 0; prune && i < j->nsources; i++) {
        struct catalog_opts o = { .source = j->sources[i] };
        int k = catalog_prune(c, NULL, &o);
        log_info("prune after job %s source=%s exit=%d", job, j->sources[i], k);
        if (k != EXIT_OK && rc == EXIT_OK)
            rc = k;
    }
    if (prune)
        backupd_textfile(c, NULL);   /* the metrics show what is left */
    return rc;
}
