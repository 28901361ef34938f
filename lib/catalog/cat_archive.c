/* cat_archive.c - the logs table of the catalog index (see cat_archive.h). */
#include "cat_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../core/util.h"
#include "cat_index.h"
#include "cat_int.h"

int cat_index_logs(struct cat_index *x, const char *repo, const char *source,
                   struct cat_log **v, size_t *n, struct cf_err *e)
{
    sqlite3_stmt *st;
    struct cat_log *out = NULL;
    size_t cnt = 0, cap = 0;
    int rc;

    *v = NULL;
    *n = 0;
    if (cat_prepare(x, "SELECT file, pushed, stored FROM logs WHERE repo = ?1 AND source = ?2 "
                   "ORDER BY file", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, source);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            cap = cap ? cap * 2 : 256;
            out = cf_realloc(out, cap * sizeof(*out));
        }
        struct cat_log *l = &out[cnt++];
        const unsigned char *f = sqlite3_column_text(st, 0);
        snprintf(l->file, sizeof(l->file), "%s", f ? (const char *)f : "");
        l->pushed = sqlite3_column_int64(st, 1);
        l->stored = (uint64_t)sqlite3_column_int64(st, 2);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        free(out);
        return cat_db_err(x, rc, "read the log archive", e);
    }
    *v = out;
    *n = cnt;
    return 0;
}

int cat_index_log_put(struct cat_index *x, const char *repo, const char *source,
                      const struct cat_log *l, struct cf_err *e)
{
    sqlite3_stmt *st;
    if (cat_prepare(x, "INSERT OR REPLACE INTO logs(repo, source, file, pushed, stored) "
                   "VALUES (?1, ?2, ?3, ?4, ?5)", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, source);
    cat_bind_text(st, 3, l->file);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)l->pushed);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)l->stored);
    return cat_step_done(x, st, "write a log row", e);
}

int cat_index_log_drop(struct cat_index *x, const char *repo, const char *source,
                       const char *file, struct cf_err *e)
{
    sqlite3_stmt *st;
    if (cat_prepare(x, "DELETE FROM logs WHERE repo = ?1 AND (?2 IS NULL OR source = ?2) AND "
                   "(?3 IS NULL OR file = ?3)", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, source);
    cat_bind_text(st, 3, file);
    return cat_step_done(x, st, "drop log rows", e);
}

int cat_index_log_sources(struct cat_index *x, const char *repo, char ***names, size_t *n,
                          struct cf_err *e)
{
    sqlite3_stmt *st;
    char **v = NULL;
    size_t cnt = 0;
    int rc;

    *names = NULL;
    *n = 0;
    if (cat_prepare(x, "SELECT DISTINCT source FROM logs WHERE repo = ?1 ORDER BY source", &st,
                    e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        v = cf_realloc(v, (cnt + 1) * sizeof(*v));
        v[cnt++] = cf_strdup((const char *)sqlite3_column_text(st, 0));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        for (size_t i = 0; i < cnt; i++)
            free(v[i]);
        free(v);
        return cat_db_err(x, rc, "read the log archive", e);
    }
    *names = v;
    *n = cnt;
    return 0;
}

enum cat_log_naming cat_log_naming_of(const struct conf *c, const char *source)
{
    const struct ini_section *s = conf_source(c, source);
    const char *type = NULL;
    if (s != NULL && ini_get_str(s, "type", NULL, &type, NULL) == 0 && type != NULL &&
        strcmp(type, "mariadb") == 0)
        return CAT_LOG_BINLOG;
    return CAT_LOG_WAL;
}

bool cat_log_parse(enum cat_log_naming k, const char *file, uint64_t seg_size,
                   struct log_pos *out)
{
    return k == CAT_LOG_BINLOG ? log_parse_binlog(file, out)
                               : log_parse_wal(file, seg_size, out);
}

void cat_log_format(enum cat_log_naming k, const char *stream, uint64_t seq, uint64_t seg_size,
                    char *out, size_t cap)
{
    char w[25];
    if (k == CAT_LOG_BINLOG) {
        snprintf(out, cap, "%s.%06llu", stream, (unsigned long long)seq);
        return;
    }
    log_format_wal(stream, seq, seg_size, w);
    snprintf(out, cap, "%s", w);
}

void cat_archive_sum(const struct cat_log *v, size_t n, enum cat_log_naming k,
                     uint64_t seg_size, struct cat_archive *out)
{
    struct log_pos *p = cf_calloc(n ? n : 1, sizeof(*p)), lastp;
    size_t m = 0;

    memset(out, 0, sizeof(*out));
    memset(&lastp, 0, sizeof(lastp));
    out->files = n;
    for (size_t i = 0; i < n; i++) {
        out->stored += v[i].stored;
        if (!cat_log_parse(k, v[i].file, seg_size, &p[m])) {
            out->unparsed++;
            continue;
        }
        if (p[m].kind == LOG_SEGMENT) {
            int c = out->have_last ? strcmp(p[m].stream, lastp.stream) : 1;
            if (c > 0 || (c == 0 && p[m].seq > lastp.seq)) {
                lastp = p[m];
                out->last = v[i];
                out->have_last = true;
            }
        }
        m++;
    }
    log_ranges(p, m, &out->ranges, &out->nranges, &out->gaps, &out->ngaps);
    free(p);
}

int cat_archive_seg_remember(struct cat_index *x, const char *repo, const char *source,
                             uint64_t seg_size, struct cf_err *e)
{
    char *key = cf_asprintf("walseg:%s:%s", repo, source), have[32], want[32];
    struct cf_err me = CF_ERR_INIT;
    int rc = 0;

    snprintf(want, sizeof(want), "%llu", (unsigned long long)seg_size);
    if (cat_index_meta_get(x, key, have, sizeof(have), &me) != 0 || strcmp(have, want) != 0)
        rc = cat_index_meta_set(x, key, want, e);
    free(key);
    return rc;
}

int cat_archive_load(struct cat_index *x, const char *repo, const char *source,
                     enum cat_log_naming k, uint64_t *seg_size, struct cat_archive *out,
                     struct cf_err *e)
{
    struct cat_log *v = NULL;
    size_t n = 0;
    char *key = cf_asprintf("walseg:%s:%s", repo, source), val[32];
    struct cf_err me = CF_ERR_INIT;

    memset(out, 0, sizeof(*out));
    *seg_size = LOG_WAL_SEG_DEFAULT;
    if (cat_index_meta_get(x, key, val, sizeof(val), &me) == 0 &&
        log_wal_seg_ok(strtoull(val, NULL, 10)))
        *seg_size = strtoull(val, NULL, 10);
    free(key);
    if (cat_index_logs(x, repo, source, &v, &n, e) != 0)
        return -1;
    cat_archive_sum(v, n, k, *seg_size, out);
    free(v);
    return 0;
}

void cat_archive_free(struct cat_archive *a)
{
    if (a == NULL)
        return;
    free(a->ranges);
    free(a->gaps);
    a->ranges = a->gaps = NULL;
}
