/* cat_record.c - index rows made from the repository: by `catalog` when it refreshes, and by
 * backup_source() when a backup commits (one piece of code for both). */
#include "cat_index.h"

#include <string.h>

#include "../core/util.h"
#include "../repo/manifest.h"
#include "../repo/repo.h"

/* what the names and the configuration tell of committed backup @source/@id */
static void row_from_names(struct repo *r, const char *source, const char *id,
                           struct cat_row *out)
{
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
}

int cat_row_from_repo(struct repo *r, const char *source, const char *id, struct cat_row *out,
                      struct cf_err *e)
{
    struct manifest *m = NULL;
    struct cf_err le = CF_ERR_INIT;

    row_from_names(r, source, id, out);
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
    manifest_free(m);
    return 0;
}

int catalog_index_record(const struct conf *c, struct repo *r, const struct manifest *m,
                         struct cf_err *e)
{
    const char *path;
    struct cat_index *x = NULL;
    struct cat_row row;
    bool fresh;
    int rc = -1;

    row_from_names(r, m->source, m->id, &row);
    if (cat_index_path(c, &path, e) != 0 || cat_index_open(path, &x, &fresh, e) != 0)
        goto out;
    if (repo_can_read(r)) {
        cat_row_from_manifest(m, &row);
    } else {
        /* as a refresh would find it on this host: committed, details not readable here */
        snprintf(row.job, sizeof(row.job), "%s", m->job);
        row.started = m->started;
        row.finished = m->finished;
        row.bytes_in = m->bytes_in;
        row.bytes_stored = m->bytes_stored;
        row.objects = m->nobjects;
    }
    rc = cat_index_put(x, &row, e);
out:
    if (rc != 0)
        cf_err_ctx(e, "unable to record backup '%s' in the catalog index", m->id);
    cat_row_clear(&row);
    cat_index_close(x);
    return rc;
}
