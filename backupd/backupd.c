#include "backupd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../lib/backup/backup.h"
#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/source/source.h"
#include "../lib/repo/repo.h"
#include "../lib/repo/repo_mirror.h"
#include "../lib/validate/validate.h"

static void print_summary(const char *source, const struct backup_result *r)
{
    char in[32], st[32];
    double secs = (double)r->elapsed_ms / 1000.0;
    format_bytes(r->bytes_in, in, sizeof(in));
    format_bytes(r->bytes_stored, st, sizeof(st));
    printf("%s: backup %s done: in %s, stored %s, ratio %.2f, %.1f s, %.1f MB/s%s\n", source,
           r->id, in, st, r->bytes_in ? (double)r->bytes_stored / (double)r->bytes_in : 0.0,
           secs, secs > 0 ? (double)r->bytes_in / 1e6 / secs : 0.0,
           r->warnings ? " (with warnings, see the log)" : "");
    fflush(stdout);
}

int backupd_check_config(const char *path, bool offline)
{
    struct conf_report rep = { .offline = offline };
    struct cf_err e = CF_ERR_INIT;
    struct conf *c = NULL;
    int rc;

    if (validate_report(path, &c, &rep, &e) != 0) {
        conf_report_free(&rep);
        return cli_fail("backupd", &e);
    }
    rc = conf_report_print(&rep, path, stderr);
    if (rc == EXIT_OK)
        printf("%s: ok (%zu sources, %zu jobs%s)\n", path, c->nsources, c->njobs,
               offline ? "; offline: the network was not checked" : "");
    conf_report_free(&rep);
    conf_free(c);
    return rc;
}

/* after the primary committed: every mirror brought up to date (the new backups, and whatever
 * else is new, logs/ too); returns how many failed, each named on stderr */
static size_t copy_to_mirrors(const struct conf *c, struct repo *r)
{
    size_t failed = 0;

    for (size_t i = 0; c->target_name == NULL && i < c->nmirrors; i++) {
        struct repo_mirror_stats st;
        struct cf_err e = CF_ERR_INIT;
        uint64_t t0 = time_mono_ms();
        if (repo_mirror_sync(r, c->mirrors[i], false, &st, &e) != 0) {
            log_error("mirror copy failed mirror=%s: %s", c->mirrors[i]->name, e.msg);
            if (strstr(e.msg, "HINT") != NULL)
                fprintf(stderr, "backupd: error: the backups stand in the repository, but %s\n",
                        e.msg);
            else
                fprintf(stderr, "backupd: error: the backups stand in the repository, but %s; "
                        "HINT: once it is reachable, 'catalog sync %s' catches it up\n", e.msg,
                        c->mirrors[i]->name);
            failed++;
            continue;
        }
        log_info("mirror copied mirror=%s backups=%zu objects=%zu bytes=%" PRIu64
                 " skipped=%zu ms=%" PRIu64, c->mirrors[i]->name, st.backups, st.objects,
                 st.bytes, st.skipped, time_mono_ms() - t0);
    }
    return failed;
}

int backupd_job_run(const struct conf *c, const char *job)
{
    const struct conf_job *j = conf_job(c, job);
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    size_t ok = 0, failed = 0;

    if (j == NULL) {
        cf_err_set(&e, CF_E_USAGE, "no [job %s] in %s", job, c->ini->file);
        return cli_fail("backupd", &e);
    }
    if (repo_open(c, NULL, &r, &e) != 0) {
        /* nothing could be attempted: each source failed all the same */
        for (size_t i = 0; i < j->nsources; i++) {
            struct backupd_outcome o = { .source = j->sources[i], .started = time(NULL),
                                         .error = e.msg };
            backupd_attempt(c, job, &o);
        }
        backupd_after_run(c, job, NULL);
        return cli_fail("backupd", &e);
    }
    for (size_t i = 0; i < j->nsources; i++) {
        struct source *src = NULL;
        struct backup_result res;
        struct backupd_outcome o = { .source = j->sources[i], .repo_id = repo_id(r),
                                     .started = time(NULL) };
        uint64_t t0 = time_mono_ms();
        cf_err_clear(&e);
        if (source_open(conf_source(c, j->sources[i]), &src, &e) != 0 ||
            backup_source(c, r, src, job, &res, &e) != 0) {
            log_error("backup failed job=%s source=%s: %s", job, j->sources[i], e.msg);
            cli_say(LOG_ERROR, "backupd: error: source '%s': %s", j->sources[i], e.msg);
            failed++;
            o.error = e.msg;
        } else {
            log_info("backup done job=%s source=%s id=%s in=%" PRIu64 " stored=%" PRIu64
                     " objects=%u ms=%" PRIu64,
                     job, src->name, res.id, res.bytes_in, res.bytes_stored, res.objects,
                     res.elapsed_ms);
            print_summary(src->name, &res);
            ok++;
            o.res = &res;
        }
        o.ms = time_mono_ms() - t0;
        backupd_attempt(c, job, &o);
        source_close(src);
    }
    backupd_after_run(c, job, repo_id(r));
    size_t mirrors_failed = copy_to_mirrors(c, r);
    repo_close(r);
    if (failed == 0)
        return mirrors_failed ? EXIT_PARTIAL : EXIT_OK;
    return ok == 0 ? EXIT_FAILED : EXIT_PARTIAL;
}
