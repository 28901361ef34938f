/* backup.c - lock, pipeline, index record: one backup of one source (see backup.h). */
#include "backup.h"

#include <string.h>

#include "../catalog/cat_index.h"
#include "../config/conf.h"
#include "../core/log.h"
#include "../core/util.h"
#include "../repo/repo.h"
#include "../repo/repo_lease.h"
#include "../source/source.h"

int backup_source(const struct conf *c, struct repo *r, struct source *src, const char *job,
                  struct backup_result *res, struct cf_err *e)
{
    struct lease *lock = NULL;
    struct manifest *m = NULL;
    struct cf_err le = CF_ERR_INIT, ie = CF_ERR_INIT;
    struct stream_opts so;

    memset(res, 0, sizeof(*res));
    if (stream_opts_resolve(c->repository, conf_source(c, src->name), &so, e) != 0)
        return -1;
    /* the local copy of a volume's last file index (public-key mode) lives beside the
     * catalog's database unless [source] cache-dir says otherwise */
    char *cache = NULL;
    const char *catpath;
    if (so.cache_dir == NULL && cat_index_path(c, &catpath, e) == 0)
        so.cache_dir = cache = fs_dirname(catpath);
    cf_err_clear(e);
    /* Held while the backup writes and commits, so that a prune never deletes or sweeps
     * under it; a prune holds it only while it works on that source, so wait a little for
     * it. Renewed by a thread while the pipeline runs. */
    if (repo_lock_source(r, src->name, "backup", LEASE_DEFAULT_TTL,
                         REPO_LOCK_WAIT | REPO_LOCK_KEEP, &lock, e) != 0) {
        free(cache);
        return -1;
    }
    int prc = pipeline_backup(r, src, &so, job, res, &m, e);
    free(cache);
    if (prc != 0) {
        if (repo_unlock_source(lock, &le) != 0)
            log_warn("lock of source %s was lost during the backup: %s", src->name, le.msg);
        return -1;
    }
    /* the index is a cache: failing to update it leaves the backup as good as done */
    if (catalog_index_record(c, r, m, &ie) != 0)
        log_warn("backup %s of source %s is committed but not in the catalog index "
                 "(the next catalog command adds it): %s", res->id, src->name, ie.msg);
    if (repo_unlock_source(lock, &le) != 0)
        log_warn("lock of source %s was lost during the backup: %s", src->name, le.msg);
    manifest_free(m);
    return 0;
}
