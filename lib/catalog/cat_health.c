/* cat_health.c - attempts and the RPO of a source (see cat_health.h). */
#include "cat_health.h"

#include <string.h>

#include "../core/util.h"
#include "cat_int.h"

int cat_index_attempt_add(struct cat_index *x, const struct cat_attempt *a, struct cf_err *e)
{
    sqlite3_stmt *st;
    char err[CAT_ATTEMPT_ERROR_MAX + 1];

    if (cat_prepare(x, "INSERT INTO attempts(source, job, repo, started, finished, duration_ms,"
                       " ok, error, backup_id, bytes_in, bytes_stored) VALUES "
                       "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)", &st, e) != 0)
        return -1;
    if (a->error != NULL)
        snprintf(err, sizeof(err), "%s", a->error);
    cat_bind_text(st, 1, a->source);
    cat_bind_text(st, 2, a->job);
    cat_bind_text(st, 3, a->repo);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)a->started);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)a->finished);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)a->duration_ms);
    sqlite3_bind_int(st, 7, a->ok);
    cat_bind_text(st, 8, a->error ? err : NULL);
    cat_bind_text(st, 9, a->backup_id[0] ? a->backup_id : NULL);
    sqlite3_bind_int64(st, 10, (sqlite3_int64)a->bytes_in);
    sqlite3_bind_int64(st, 11, (sqlite3_int64)a->bytes_stored);
    return cat_step_done(x, st, "record an attempt", e);
}

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t cap)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(out, cap, "%s", s ? (const char *)s : "");
}

int cat_index_attempts(struct cat_index *x, const char *source, const char *job,
                       struct cat_attempts *out, struct cf_err *e)
{
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    if (cat_prepare(x, "SELECT count(*), coalesce(sum(ok = 0), 0) FROM attempts WHERE "
                       "source = ?1 AND (?2 IS NULL OR job = ?2)", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, source);
    cat_bind_text(st, 2, job);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->total = (uint64_t)sqlite3_column_int64(st, 0);
        out->failures = (uint64_t)sqlite3_column_int64(st, 1);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW)
        return cat_db_err(x, rc, "read attempts", e);
    if (cat_prepare(x, "SELECT finished, bytes_in, bytes_stored FROM attempts WHERE ok AND "
                       "source = ?1 AND (?2 IS NULL OR job = ?2) ORDER BY started DESC, "
                       "rowid DESC LIMIT 1", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, source);
    cat_bind_text(st, 2, job);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        out->last_success = (time_t)sqlite3_column_int64(st, 0);
        out->success_bytes_in = (uint64_t)sqlite3_column_int64(st, 1);
        out->success_bytes_stored = (uint64_t)sqlite3_column_int64(st, 2);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return cat_db_err(x, rc, "read attempts", e);
    if (cat_prepare(x, "SELECT source, job, repo, started, finished, duration_ms, ok, error, "
                       "backup_id, bytes_in, bytes_stored FROM attempts WHERE source = ?1 AND "
                       "(?2 IS NULL OR job = ?2) ORDER BY started DESC, rowid DESC LIMIT 1",
                    &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, source);
    cat_bind_text(st, 2, job);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        struct cat_attempt *a = &out->last;
        const unsigned char *err = sqlite3_column_text(st, 7);
        out->have_last = true;
        col_copy(st, 0, a->source, sizeof(a->source));
        col_copy(st, 1, a->job, sizeof(a->job));
        col_copy(st, 2, a->repo, sizeof(a->repo));
        a->started = (time_t)sqlite3_column_int64(st, 3);
        a->finished = (time_t)sqlite3_column_int64(st, 4);
        a->duration_ms = (uint64_t)sqlite3_column_int64(st, 5);
        a->ok = sqlite3_column_int(st, 6) != 0;
        a->error = err ? cf_strdup((const char *)err) : NULL;
        col_copy(st, 8, a->backup_id, sizeof(a->backup_id));
        a->bytes_in = (uint64_t)sqlite3_column_int64(st, 9);
        a->bytes_stored = (uint64_t)sqlite3_column_int64(st, 10);
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : cat_db_err(x, rc, "read attempts", e);
}

void cat_attempt_clear(struct cat_attempt *a)
{
    if (a == NULL)
        return;
    free(a->error);
    a->error = NULL;
}

int catalog_attempt_record(const struct conf *c, const struct cat_attempt *a, struct cf_err *e)
{
    const char *path;
    struct cat_index *x = NULL;
    bool fresh;
    int rc = -1;

    if (cat_index_path(c, &path, e) == 0 && cat_index_open(path, &x, &fresh, e) == 0)
        rc = cat_index_attempt_add(x, a, e);
    if (rc != 0)
        cf_err_ctx(e, "unable to record the attempt of source '%s' in the catalog index",
                   a->source);
    cat_index_close(x);
    return rc;
}

int cat_source_keep_pitr(const struct conf *c, const char *source, int64_t *v, char *origin,
                         size_t cap, struct cf_err *e)
{
    const struct ini_section *src = conf_source(c, source);
    int64_t w;

    *v = 0;
    origin[0] = '\0';
    if (src != NULL && ini_kv_find(src, "keep-pitr") != NULL) {
        snprintf(origin, cap, "[source %s]", source);
        return ini_get_duration(src, "keep-pitr", 0, v, e);
    }
    /* a window kept for one job is a window every job can restore into */
    for (size_t i = 0; i < c->njobs; i++) {
        const struct conf_job *j = &c->jobs[i];
        for (size_t k = 0; k < j->nsources; k++) {
            if (strcmp(j->sources[k], source) != 0)
                continue;
            if (ini_get_duration(j->sec, "keep-pitr", 0, &w, e) != 0)
                return -1;
            if (w > *v) {
                *v = w;
                snprintf(origin, cap, "[job %s]", j->name);
            }
        }
    }
    return 0;
}

int cat_source_rpo(const struct conf *c, const char *source, int64_t *rpo, struct cf_err *e)
{
    const struct ini_section *src = conf_source(c, source);
    int64_t v;

    *rpo = 0;
    if (src != NULL && ini_kv_find(src, "rpo") != NULL)
        return ini_get_duration(src, "rpo", 0, rpo, e);
    for (size_t i = 0; i < c->njobs; i++) {
        const struct conf_job *j = &c->jobs[i];
        for (size_t k = 0; k < j->nsources; k++) {
            if (strcmp(j->sources[k], source) != 0)
                continue;
            if (ini_get_duration(j->sec, "rpo", 0, &v, e) != 0)
                return -1;
            if (v > 0 && (*rpo == 0 || v < *rpo))
                *rpo = v;
        }
    }
    return 0;
}
