/* cat_drill.c - the drills table of the catalog index (see cat_drill.h). */
#include "cat_drill.h"

#include <stdio.h>
#include <string.h>

#include "../core/util.h"
#include "../repo/repo.h"
#include "cat_int.h"

static const char *jstr(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

/* an RFC 3339 time of the report, 0 when absent or unreadable */
static time_t jtime(json_t *o, const char *k)
{
    const char *s = jstr(o, k);
    time_t t = 0;
    if (s == NULL || time_parse_rfc3339(s, &t, NULL) != 0)
        return 0;
    return t;
}

int cat_drill_from_report(json_t *rep, const char *repo_id, struct cat_drill *out,
                          struct cf_err *e)
{
    const char *id = jstr(rep, "id"), *subject = jstr(rep, "subject"), *res = jstr(rep, "result");
    json_int_t ms = json_integer_value(json_object_get(json_object_get(rep, "rto"),
                                                       "measured_ms"));

    memset(out, 0, sizeof(*out));
    if (id == NULL || subject == NULL || res == NULL)
        return cf_err_set(e, CF_E_CORRUPT, "drill report without %s",
                          id == NULL ? "an id" : subject == NULL ? "a subject" : "a result");
    snprintf(out->repo, sizeof(out->repo), "%s", repo_id);
    snprintf(out->subject, sizeof(out->subject), "%s", subject);
    snprintf(out->id, sizeof(out->id), "%s", id);
    out->started = jtime(rep, "started");
    out->finished = jtime(rep, "finished");
    out->ok = strcmp(res, "passed") == 0;
    out->rto_ms = ms > 0 ? (uint64_t)ms : 0;
    return 0;
}

int cat_index_drill_put(struct cat_index *x, const struct cat_drill *d, struct cf_err *e)
{
    sqlite3_stmt *st;
    if (cat_prepare(x, "INSERT OR REPLACE INTO drills(repo, subject, id, started, finished, ok, "
                   "rto_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, d->repo);
    cat_bind_text(st, 2, d->subject);
    cat_bind_text(st, 3, d->id);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)d->started);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)d->finished);
    sqlite3_bind_int(st, 6, d->ok);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)d->rto_ms);
    return cat_step_done(x, st, "write a drill row", e);
}

int cat_index_drill_has(struct cat_index *x, const char *repo, const char *subject,
                        const char *id, bool *has, struct cf_err *e)
{
    sqlite3_stmt *st;
    int rc;
    if (cat_prepare(x, "SELECT 1 FROM drills WHERE repo = ?1 AND subject = ?2 AND id = ?3", &st,
                    e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, subject);
    cat_bind_text(st, 3, id);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return cat_db_err(x, rc, "read drills", e);
    *has = rc == SQLITE_ROW;
    return 0;
}

int cat_index_drill_last(struct cat_index *x, const char *repo, const char *subject,
                         struct cat_drill *out, bool *found, struct cf_err *e)
{
    sqlite3_stmt *st;
    int rc;

    memset(out, 0, sizeof(*out));
    *found = false;
    if (cat_prepare(x, "SELECT repo, subject, id, started, finished, ok, rto_ms FROM drills "
                   "WHERE (?1 IS NULL OR repo = ?1) AND subject = ?2 "
                   "ORDER BY started DESC, id DESC LIMIT 1", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, subject);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        snprintf(out->repo, sizeof(out->repo), "%s", (const char *)sqlite3_column_text(st, 0));
        snprintf(out->subject, sizeof(out->subject), "%s",
                 (const char *)sqlite3_column_text(st, 1));
        snprintf(out->id, sizeof(out->id), "%s", (const char *)sqlite3_column_text(st, 2));
        out->started = (time_t)sqlite3_column_int64(st, 3);
        out->finished = (time_t)sqlite3_column_int64(st, 4);
        out->ok = sqlite3_column_int(st, 5) != 0;
        out->rto_ms = (uint64_t)sqlite3_column_int64(st, 6);
        *found = true;
        rc = SQLITE_DONE;
    }
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : cat_db_err(x, rc, "read drills", e);
}

int catalog_drill_record(const struct conf *c, struct repo *r, json_t *rep, struct cf_err *e)
{
    const char *path;
    struct cat_index *x = NULL;
    struct cat_drill d;
    bool fresh;
    int rc = -1;

    if (cat_drill_from_report(rep, repo_id(r), &d, e) != 0 || cat_index_path(c, &path, e) != 0 ||
        cat_index_open(path, &x, &fresh, e) != 0 || cat_index_drill_put(x, &d, e) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0)
        cf_err_ctx(e, "unable to record the drill in the catalog index");
    cat_index_close(x);
    return rc;
}
