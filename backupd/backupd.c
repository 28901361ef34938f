#include "backupd.h"

#include <inttypes.h>
#include <stdio.h>
#include <unistd.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "../lib/catalog/cat_index.h"
#include "../lib/source/source.h"
#include "../lib/repo/repo.h"
#include "../lib/repo/repo_lease.h"
#include "../lib/stream/pipeline.h"
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

/* Hold locks/source-<source> while a backup writes and commits, so that a prune never
 * deletes or sweeps under it; a prune holds it only while it works on that source, so wait
 * a little for it. Renewed by a thread while the pipeline runs. */
static int lock_source(struct repo *r, const char *source, struct lease **out, struct cf_err *e)
{
    char name[REPO_NAME_MAX + 16];
    lease_source_name(source, name, sizeof(name));
    for (int attempt = 0;; attempt++) {
        if (lease_acquire(repo_target(r), name, "backup", LEASE_DEFAULT_TTL, out, e) == 0)
            return lease_keeper_start(*out, e) == 0 ? 0 : (lease_release(*out), -1);
        if (e->code != CF_E_LOCKED || attempt >= 60)
            return -1;
        if (attempt == 0)
            log_info("waiting for lock source=%s: %s", source, e->msg);
        cf_err_clear(e);
        sleep(1);
    }
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
    if (repo_open(c, NULL, &r, &e) != 0)
        return cli_fail("backupd", &e);
    for (size_t i = 0; i < j->nsources; i++) {
        struct source *src = NULL;
        struct lease *lock = NULL;
        struct backup_result res;
        struct stream_opts so;
        cf_err_clear(&e);
        if (source_open(conf_source(c, j->sources[i]), &src, &e) != 0 ||
            stream_opts_resolve(c->repository, conf_source(c, j->sources[i]), &so, &e) != 0 ||
            lock_source(r, j->sources[i], &lock, &e) != 0 ||
            pipeline_backup(r, src, &so, job, &res, &e) != 0) {
            log_error("backup failed job=%s source=%s: %s", job, j->sources[i], e.msg);
            fprintf(stderr, "backupd: error: source '%s': %s\n", j->sources[i], e.msg);
            failed++;
        } else {
            log_info("backup done job=%s source=%s id=%s in=%" PRIu64 " stored=%" PRIu64
                     " objects=%u ms=%" PRIu64,
                     job, src->name, res.id, res.bytes_in, res.bytes_stored, res.objects,
                     res.elapsed_ms);
            print_summary(src->name, &res);
            ok++;
            /* the index is a cache: failing to update it leaves the backup as good as done */
            struct cf_err ie = CF_ERR_INIT;
            if (catalog_index_record(c, r, src->name, job, &res, &ie) != 0)
                log_warn("backup %s of source %s is committed but not in the catalog index "
                         "(the next catalog command adds it): %s", res.id, src->name, ie.msg);
        }
        struct cf_err le = CF_ERR_INIT;
        if (lease_keeper_stop(lock, &le) != 0)
            log_warn("lock of source %s was lost during the backup: %s", j->sources[i], le.msg);
        lease_release(lock);
        source_close(src);
    }
    repo_close(r);
    if (failed == 0)
        return EXIT_OK;
    return ok == 0 ? EXIT_FAILED : EXIT_PARTIAL;
}
