/* cat_record.c - index rows made from the repository: by `catalog` when it refreshes, and by
 * `backupd run` when a backup commits (one piece of code for both). */
#include "cat_index.h"

#include <string.h>

#include "../core/util.h"
#include "../repo/repo.h"
#include "../stream/pipeline.h"

int cat_row_from_repo(struct repo *r, const char *source, const char *id, struct cat_row *out,
                      struct cf_err *e)
{
    json_t *m = NULL;
    struct cf_err le = CF_ERR_INIT;

    memset(out, 0, sizeof(*out));
    snprintf(out->repo, sizeof(out->repo), "%s", repo_id(r));
    snprintf(out->source, sizeof(out->source), "%s", source);
    snprintf(out->id, sizeof(out->id), "%s", id);
    if (time_parse_compact(id, &out->time) != 0)
        out->time = 0;
    out->status = CAT_COMPLETE;
    const struct ini_section *sec = conf_source(repo_conf(r), source);
    const char *type = NULL;
    if (sec != NULL && ini_get_str(sec, "type", NULL, &type, NULL) == 0 && type != NULL)
        snprintf(out->kind, sizeof(out->kind), "%s", type);
    if (!repo_can_read(r))
        return 0;
    if (repo_manifest_load(r, source, id, &m, &le) != 0) {
        if (le.code == CF_E_NET || le.code == CF_E_IO || le.code == CF_E_AUTH ||
            le.code == CF_E_NOTFOUND) {
            cf_err_keep(e, &le);
            return -1;
        }
        out->status = CAT_DAMAGED;
        out->damage = cf_strdup(le.msg);
        return 0;
    }
    cat_row_from_manifest(m, out);
    json_decref(m);
    return 0;
}

int catalog_index_record(const struct conf *c, struct repo *r, const char *source,
                         const char *job, const struct backup_result *res, struct cf_err *e)
{
    const char *path;
    struct cat_index *x = NULL;
    struct cat_row row;
    bool fresh;
    int rc = -1;

    memset(&row, 0, sizeof(row));
    if (cat_index_path(c, &path, e) != 0 || cat_index_open(path, &x, &fresh, e) != 0)
        goto out;
    if (cat_row_from_repo(r, source, res->id, &row, e) != 0)
        goto out;
    if (!row.details) {
        if (job)
            snprintf(row.job, sizeof(row.job), "%s", job);
        row.started = row.time;
        row.finished = time(NULL);
        row.bytes_in = res->bytes_in;
        row.bytes_stored = res->bytes_stored;
        row.objects = res->objects;
    }
    rc = cat_index_put(x, &row, e);
out:
    if (rc != 0)
        cf_err_ctx(e, "unable to record backup '%s' in the catalog index", res->id);
    cat_row_clear(&row);
    cat_index_close(x);
    return rc;
}
