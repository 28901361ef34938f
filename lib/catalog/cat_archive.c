/* cat_archive.c - the logs table of the catalog index (see cat_archive.h). */
#include "cat_archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "../core/util.h"
#include "../db/db_binlog.h"
#include "cat_ctx.h"
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
    if (cat_prepare(x, "SELECT file, pushed, stored, last_event FROM logs WHERE repo = ?1 AND "
                   "source = ?2 ORDER BY file", &st, e) != 0)
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
        l->last_event = sqlite3_column_int64(st, 3);
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
    if (cat_prepare(x, "INSERT OR REPLACE INTO logs(repo, source, file, pushed, stored, "
                   "last_event) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, e) != 0)
        return -1;
    cat_bind_text(st, 1, repo);
    cat_bind_text(st, 2, source);
    cat_bind_text(st, 3, l->file);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)l->pushed);
    sqlite3_bind_int64(st, 5, (sqlite3_int64)l->stored);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)l->last_event);
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

uint64_t cat_log_partial(enum cat_log_naming k, const char *file)
{
    uint64_t partial = 0;
    if (k != CAT_LOG_BINLOG || !db_binlog_object_name(file, NULL, NULL, &partial))
        return 0;
    return partial;
}

bool cat_log_parse(enum cat_log_naming k, const char *file, uint64_t seg_size,
                   struct log_pos *out)
{
    char whole[sizeof(((struct cat_log *)0)->file)];
    const char *p;

    if (k != CAT_LOG_BINLOG)
        return log_parse_wal(file, seg_size, out);
    if (cat_log_partial(k, file) > 0 && (p = strstr(file, ".partial-")) != NULL &&
        (size_t)(p - file) < sizeof(whole)) {
        snprintf(whole, sizeof(whole), "%.*s", (int)(p - file), file);
        return log_parse_binlog(whole, out);
    }
    return log_parse_binlog(file, out);
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
            /* one binlog file's objects: the whole file, else the longest partial */
            if (c == 0 && p[m].seq == lastp.seq && k == CAT_LOG_BINLOG) {
                uint64_t a = cat_log_partial(k, v[i].file), b = cat_log_partial(k, out->last.file);
                c = (a == 0 ? UINT64_MAX : a) > (b == 0 ? UINT64_MAX : b) ? 1 : -1;
            }
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
    if (out->have_last)
        out->point = k == CAT_LOG_BINLOG && out->last.last_event > 0 ? out->last.last_event
                                                                     : out->last.pushed;
}

int cat_archive_load(struct cat_index *x, const char *repo, const char *source,
                     enum cat_log_naming k, uint64_t seg_size, struct cat_archive *out,
                     struct cf_err *e)
{
    struct cat_log *v = NULL;
    size_t n = 0;

    memset(out, 0, sizeof(*out));
    if (cat_index_logs(x, repo, source, &v, &n, e) != 0)
        return -1;
    cat_archive_sum(v, n, k, seg_size, out);
    free(v);
    return 0;
}

void cat_archive_judge_gaps(struct cat_archive *a, const struct log_base *b, size_t nb,
                            time_t now, int64_t keep_pitr)
{
    size_t m = 0;
    for (size_t i = 0; i < a->ngaps; i++) {
        if (log_gap_matters(b, nb, now, keep_pitr, &a->gaps[i]))
            a->gaps[m++] = a->gaps[i];
        else
            a->holes++;
    }
    a->ngaps = m;
}

static char *base_key(const char *repo, const char *source, const char *id)
{
    return cf_asprintf("base:%s:%s:%s", repo, source, id);
}

int cat_base_get(struct cat_index *x, const char *repo, const char *source, const char *id,
                 bool *phys, struct log_base *b, uint64_t *seg_size, struct cf_err *e)
{
    char *key = base_key(repo, source, id), val[160];
    unsigned long long start, stop, seg;
    long long st;
    char kind[16] = "";
    int rc = cat_index_meta_get(x, key, val, sizeof(val), e);

    free(key);
    if (rc != 0)
        return -1;
    memset(b, 0, sizeof(*b));
    *phys = strcmp(val, "-") != 0;
    if (!*phys)
        return 0;
    if (sscanf(val, "%63s %llu %llu %lld %llu %15s", b->stream, &start, &stop, &st, &seg,
               kind) < 5)
        return cf_err_set(e, CF_E_NOTFOUND, "unreadable base backup entry '%s'", val);
    b->self_contained = strcmp(kind, "dump") == 0;
    b->start = start;
    b->stop = stop;
    b->stop_time = (time_t)st;
    *seg_size = seg;
    return 0;
}

int cat_base_put(struct cat_index *x, const char *repo, const char *source, const char *id,
                 bool phys, const struct log_base *b, uint64_t seg_size, struct cf_err *e)
{
    char *key = base_key(repo, source, id), val[160];
    int rc;

    if (phys)
        snprintf(val, sizeof(val), "%s %llu %llu %lld %llu%s", b->stream,
                 (unsigned long long)b->start, (unsigned long long)b->stop,
                 (long long)b->stop_time, (unsigned long long)seg_size,
                 b->self_contained ? " dump" : "");
    else
        snprintf(val, sizeof(val), "-");
    rc = cat_index_meta_set(x, key, val, e);
    free(key);
    return rc;
}

int cat_bases_cached(struct cat_index *x, const struct cat_row *rows, size_t nrows,
                     struct cat_bases *out, struct cf_err *e)
{
    memset(out, 0, sizeof(*out));
    out->seg_size = LOG_WAL_SEG_DEFAULT;
    for (size_t i = nrows; i-- > 0;) {
        const struct cat_row *r = &rows[i];
        struct log_base b;
        uint64_t seg = 0;
        bool phys;
        struct cf_err ge = CF_ERR_INIT;
        if (r->status != CAT_COMPLETE && r->status != CAT_DAMAGED)
            continue;
        if (cat_base_get(x, r->repo, r->source, r->id, &phys, &b, &seg, &ge) != 0) {
            if (ge.code != CF_E_NOTFOUND) {
                cf_err_keep(e, &ge);
                cat_bases_free(out);
                return -1;
            }
            continue;
        }
        if (!phys)
            continue;
        if (out->n == 0 && log_wal_seg_ok(seg))
            out->seg_size = seg;
        /* a dump is the base of a replay only to moments after its finish (repo_when_base_ok):
         * before, its snapshot may be later than the moment (remembered stop times of older
         * indexes are its start); a physical base backup only to moments after the second it
         * stopped in (repo_pitr.c): the times are whole seconds */
        if (b.self_contained && r->finished != 0)
            b.stop_time = r->finished + 1;
        else if (!b.self_contained)
            b.stop_time += 1;
        b.usable = r->status == CAT_COMPLETE;
        out->b = cf_realloc(out->b, (out->n + 1) * sizeof(*out->b));
        out->row = cf_realloc(out->row, (out->n + 1) * sizeof(*out->row));
        out->row[out->n] = i;
        out->b[out->n++] = b;
    }
    for (size_t k = 0; k < out->n; k++)
        out->b[k].id = rows[out->row[k]].id;
    return 0;
}

void cat_bases_free(struct cat_bases *b)
{
    free(b->b);
    free(b->row);
    memset(b, 0, sizeof(*b));
}

void cat_archive_free(struct cat_archive *a)
{
    if (a == NULL)
        return;
    free(a->ranges);
    free(a->gaps);
    a->ranges = a->gaps = NULL;
}

/* --- the base backups of a log archive, read from manifests once (cat_ctx.h) --- */

/* a physical base backup's manifest (docs/PITR.md): info.method "physical", timeline,
 * start_wal, stop_wal, stop_time, wal_segment_size. false when @m is not one. */
static bool physical_base(const struct manifest *m, struct log_base *b, uint64_t *seg)
{
    const json_t *info = m->info;
    const char *method, *sw, *ew;
    json_int_t tl, ws;
    struct log_pos ps, pe;

    if (strcmp(m->kind, "postgres") != 0 || !json_is_object(info) ||
        (method = json_string_value(json_object_get(info, "method"))) == NULL ||
        strcmp(method, "physical") != 0)
        return false;
    ws = json_integer_value(json_object_get(info, "wal_segment_size"));
    *seg = ws > 0 && log_wal_seg_ok((uint64_t)ws) ? (uint64_t)ws : LOG_WAL_SEG_DEFAULT;
    tl = json_integer_value(json_object_get(info, "timeline"));
    sw = json_string_value(json_object_get(info, "start_wal"));
    ew = json_string_value(json_object_get(info, "stop_wal"));
    if (sw == NULL || ew == NULL || !log_parse_wal(sw, *seg, &ps) ||
        !log_parse_wal(ew, *seg, &pe) || ps.kind != LOG_SEGMENT || pe.kind != LOG_SEGMENT ||
        strcmp(ps.stream, pe.stream) != 0 || pe.seq < ps.seq)
        return false;
    if (tl > 0)
        snprintf(b->stream, sizeof(b->stream), "%08X", (unsigned)tl);
    else
        snprintf(b->stream, sizeof(b->stream), "%s", ps.stream);
    b->start = ps.seq;
    b->stop = pe.seq;
    b->stop_time = (time_t)json_integer_value(json_object_get(info, "stop_time"));
    if (b->stop_time == 0)
        b->stop_time = m->finished;
    return true;
}

/* a mariadb dump's manifest (docs/PITR.md "MariaDB"): info.databases[] each with the
 * binlog_file and binlog_pos its snapshot recorded. The dump restores as of its own time
 * alone; a replay after it starts in the earliest of those files. The moment it stands for is
 * its start (@time, the backup id's), or the manifest's when later; cat_bases_cached() moves
 * it to the first second after the dump finished, as restore chooses a dump to replay from.
 * false when no database records a position (binary logging was off). */
static bool dump_base(const struct manifest *m, time_t time, struct log_base *b)
{
    json_t *dbs = json_object_get(m->info, "databases"), *d;
    size_t i;
    bool any = false;

    if (strcmp(m->kind, "mariadb") != 0 || !json_is_array(dbs))
        return false;
    json_array_foreach(dbs, i, d) {
        const char *f = json_string_value(json_object_get(d, "binlog_file"));
        struct log_pos p;
        if (f == NULL || json_integer_value(json_object_get(d, "binlog_pos")) <= 0 ||
            !log_parse_binlog(f, &p))
            continue;
        if (any && strcmp(p.stream, b->stream) != 0)
            return false;   /* one server writes one base name: not a dump retention knows */
        if (!any || p.seq < b->start)
            b->start = p.seq;
        snprintf(b->stream, sizeof(b->stream), "%s", p.stream);
        any = true;
    }
    if (!any)
        return false;
    b->stop = b->start;
    b->stop_time = time > (time_t)m->started ? time : (time_t)m->started;
    b->self_contained = true;
    return true;
}

int cat_log_bases(struct cat_ctx *ctx, const char *source, const struct cat_row *rows,
                  size_t nrows, struct cat_bases *out, struct cf_err *e)
{
    bool readable = ctx->r != NULL && repo_can_read(ctx->r);

    /* what the index does not remember yet is read from the manifests once */
    for (size_t i = 0; readable && i < nrows; i++) {
        const struct cat_row *r = &rows[i];
        struct log_base b;
        uint64_t seg = 0;
        bool phys;
        struct cf_err ge = CF_ERR_INIT;
        if (strcmp(r->source, source) != 0 ||
            (r->status != CAT_COMPLETE && r->status != CAT_DAMAGED))
            continue;
        if (cat_base_get(ctx->x, ctx->repo_id, source, r->id, &phys, &b, &seg, &ge) == 0)
            continue;
        if (ge.code != CF_E_NOTFOUND) {
            cf_err_keep(e, &ge);
            return -1;
        }
        memset(&b, 0, sizeof(b));
        phys = false;
        /* the kinds whose manifests can describe a base backup of a log archive: a physical
         * postgres backup, a mariadb dump with its binlog position */
        if (strcmp(r->kind, "postgres") == 0 || strcmp(r->kind, "mariadb") == 0) {
            struct manifest *m = NULL;
            struct cf_err me = CF_ERR_INIT;
            if (repo_manifest_load(ctx->r, source, r->id, &m, &me) != 0) {
                if (me.code == CF_E_NET || me.code == CF_E_IO || me.code == CF_E_AUTH) {
                    cf_err_keep(e, &me);
                    return -1;
                }
                continue;   /* damaged: its row says so; asked again next time */
            }
            phys = physical_base(m, &b, &seg) || dump_base(m, r->time, &b);
            manifest_free(m);
        }
        if (cat_base_put(ctx->x, ctx->repo_id, source, r->id, phys, &b, seg, e) != 0)
            return -1;
    }
    return cat_bases_cached(ctx->x, rows, nrows, out, e);
}
