/* cat_logcmd.c - the log archive (logs/<source>/) in the catalog: its refresh into the index,
 * the base backups its retention needs, `catalog logs SOURCE`, the archive part of status and
 * the check of every log object by verify. */
#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "catalog.h"

/* --- refresh --- */

static int list_cb(void *arg, const char *file, uint64_t stored)
{
    struct buf *b = arg;
    struct cat_log l;
    memset(&l, 0, sizeof(l));
    snprintf(l.file, sizeof(l.file), "%s", file);
    l.stored = stored;
    l.last_event = -1;
    buf_append(b, &l, sizeof(l));
    return 0;
}

static int cmp_log(const void *a, const void *b)
{
    return strcmp(((const struct cat_log *)a)->file, ((const struct cat_log *)b)->file);
}

/* one source: list logs/<source>/ once; read the header only of files the index lacks */
static int sync_source(struct cat_ctx *ctx, const char *source, bool *in_tx, struct cf_err *e)
{
    struct buf lb = BUF_INIT;
    struct cat_log *have = NULL;
    size_t nhave = 0, i = 0, k = 0;
    bool binlog = cat_log_naming_of(ctx->c, source) == CAT_LOG_BINLOG;
    int rc = -1;

    if (repo_log_list(ctx->r, source, list_cb, &lb, e) != 0 ||
        cat_index_logs(ctx->x, ctx->repo_id, source, &have, &nhave, e) != 0)
        goto out;
    struct cat_log *got = (struct cat_log *)lb.data;
    size_t ngot = lb.len / sizeof(*got);
    if (ngot > 1)
        qsort(got, ngot, sizeof(*got), cmp_log);
    while (i < ngot || k < nhave) {
        int c = i >= ngot ? 1 : k >= nhave ? -1 : strcmp(got[i].file, have[k].file);
        if (c > 0) {   /* gone from the repository (pruned here or elsewhere) */
            if (cat_begin_once(ctx, in_tx, e) != 0 ||
                cat_index_log_drop(ctx->x, ctx->repo_id, source, have[k].file, e) != 0)
                goto out;
            ctx->st.logs_gone++;
            k++;
            continue;
        }
        /* a binlog row of an index before schema 6 lacks its last event: read once */
        if (c < 0 || have[k].stored != got[i].stored || (binlog && have[k].last_event < 0)) {
            struct repo_log_meta m;
            struct cf_err se = CF_ERR_INIT;
            if (repo_log_stat(ctx->r, source, got[i].file, &m, &se) != 0) {
                if (se.code != CF_E_NOTFOUND && se.code != CF_E_CORRUPT) {
                    cf_err_keep(e, &se);
                    goto out;
                }
                /* removed since listed, or a header that does not read: verify names it */
                m.pushed = 0;
                m.last_event = 0;
            }
            got[i].pushed = m.pushed;
            got[i].last_event = binlog ? m.last_event : -1;
            if (cat_begin_once(ctx, in_tx, e) != 0 ||
                cat_index_log_put(ctx->x, ctx->repo_id, source, &got[i], e) != 0)
                goto out;
            ctx->st.logs_added++;
        }
        i++;
        if (c == 0)
            k++;
    }
    rc = 0;
out:
    free(have);
    buf_free(&lb);
    return rc;
}

static void name_add(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = cf_realloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = cf_strdup(s);
}

int cat_sync_logs(struct cat_ctx *ctx, bool rebuild, bool *in_tx, struct cf_err *e)
{
    char **names = NULL;
    size_t n = 0;
    struct cat_row *rows = NULL;
    size_t nrows = 0;
    int rc = -1;

    if (rebuild && (cat_begin_once(ctx, in_tx, e) != 0 ||
                    cat_index_log_drop(ctx->x, ctx->repo_id, NULL, NULL, e) != 0))
        return -1;
    /* the sources to look at: configured ones, those with backups, those seen before */
    struct cat_filter f = { .repo = ctx->repo_id, .with_pruned = true };
    if (cat_index_log_sources(ctx->x, ctx->repo_id, &names, &n, e) != 0 ||
        cat_index_query(ctx->x, &f, &rows, &nrows, e) != 0)
        goto out;
    for (size_t i = 0; i < ctx->c->nsources; i++)
        name_add(&names, &n, ctx->c->sources[i]->name);
    for (size_t i = 0; i < nrows; i++)
        name_add(&names, &n, rows[i].source);
    for (size_t i = 0; i < n; i++)
        if (sync_source(ctx, names[i], in_tx, e) != 0)
            goto out;
    rc = 0;
out:
    cat_rows_free(rows, nrows);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* --- base backups --- */

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
 * its start (@time, the backup id's: restore picks the newest dump at or before a moment by
 * it), or the manifest's when later. false when no database records a position (binary
 * logging was off). */
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

int cat_arch_load(struct cat_ctx *ctx, const char *source, struct cat_arch *out,
                  struct cf_err *e)
{
    struct cat_row *rows = NULL;
    size_t nrows = 0;
    struct cat_bases bs;
    struct cat_filter f = { .repo = ctx->repo_id, .source = source };
    int64_t pitr = 0;
    char origin[160];
    int rc = -1;

    struct cat_log *v = NULL;
    size_t nv = 0;

    memset(out, 0, sizeof(*out));
    memset(&bs, 0, sizeof(bs));
    out->naming = cat_log_naming_of(ctx->c, source);
    out->seg_size = LOG_WAL_SEG_DEFAULT;
    /* the base backups only for a source with an archive: no manifest is read for others */
    if (cat_index_logs(ctx->x, ctx->repo_id, source, &v, &nv, e) != 0)
        goto out;
    free(v);
    if (nv > 0 && (cat_index_query(ctx->x, &f, &rows, &nrows, e) != 0 ||
                   cat_log_bases(ctx, source, rows, nrows, &bs, e) != 0))
        goto out;
    if (bs.n > 0)
        out->seg_size = bs.seg_size;
    if (cat_source_keep_pitr(ctx->c, source, &pitr, origin, sizeof(origin), e) != 0 ||
        cat_archive_load(ctx->x, ctx->repo_id, source, out->naming, out->seg_size, &out->a,
                         e) != 0)
        goto out;
    cat_archive_judge_gaps(&out->a, bs.b, bs.n, time(NULL), pitr);
    out->have = out->a.files > 0;
    rc = 0;
out:
    cat_bases_free(&bs);
    cat_rows_free(rows, nrows);
    return rc;
}

void cat_arch_free(struct cat_arch *a)
{
    cat_archive_free(&a->a);
}

static void fmt_name(const struct cat_arch *s, const char *stream, uint64_t seq, char *out,
                     size_t cap)
{
    cat_log_format(s->naming, stream, seq, s->seg_size, out, cap);
}

/* ranges or gaps as JSON: {"stream", @first_key, @last_key, @count_key} each */
static json_t *ranges_json(const struct cat_arch *s, const struct log_range *v, size_t n,
                           const char *first_key, const char *last_key, const char *count_key)
{
    json_t *arr = json_array();
    char a[96], b[96];

    for (size_t i = 0; i < n; i++) {
        fmt_name(s, v[i].stream, v[i].first, a, sizeof(a));
        fmt_name(s, v[i].stream, v[i].last, b, sizeof(b));
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I}", "stream", v[i].stream,
                                             first_key, a, last_key, b, count_key,
                                             (json_int_t)v[i].files));
    }
    return arr;
}

json_t *cat_arch_json(const struct cat_arch *s, time_t now)
{
    json_t *ranges = ranges_json(s, s->a.ranges, s->a.nranges, "first", "last", "files");
    json_t *gaps = ranges_json(s, s->a.gaps, s->a.ngaps, "first_missing", "last_missing",
                               "missing");

    bool binlog = s->naming == CAT_LOG_BINLOG;
    return json_pack("{s:I, s:I, s:s?, s:o, s:o, s:I, s:o, s:o, s:I}", "files",
                     (json_int_t)s->a.files, "stored_bytes", (json_int_t)s->a.stored, "last",
                     s->a.have_last ? s->a.last.file : NULL, "last_pushed",
                     cat_json_time((time_t)s->a.last.pushed), "last_event",
                     binlog && s->a.last.last_event > 0
                         ? cat_json_time((time_t)s->a.last.last_event)
                         : json_null(),
                     "age_seconds",
                     (json_int_t)(s->a.point ? (now > s->a.point ? now - s->a.point : 0) : 0),
                     "ranges", ranges, "gaps", gaps, "holes", (json_int_t)s->a.holes);
}

void cat_arch_print(const struct cat_arch *s, const char *source, time_t now, FILE *out)
{
    char when[32] = "unknown", sz[32], a[96], b[96];

    format_bytes(s->a.stored, sz, sizeof(sz));
    if (s->naming == CAT_LOG_BINLOG && s->a.have_last && s->a.last.last_event > 0) {
        /* a binlog object's last event is the recovery point, not the moment it was sealed */
        time_format_rfc3339((time_t)s->a.last.last_event, when, sizeof(when));
        fprintf(out, "  %s archive: last %s, last event %s (%" PRId64 "s ago), %zu files, %s\n",
                source, s->a.last.file, when,
                (int64_t)(now > s->a.point ? now - s->a.point : 0), s->a.files, sz);
    } else if (s->a.have_last && s->a.last.pushed) {
        time_format_rfc3339((time_t)s->a.last.pushed, when, sizeof(when));
        fprintf(out, "  %s archive: last %s pushed %s (%" PRId64 "s ago), %zu files, %s\n",
                source, s->a.last.file, when,
                (int64_t)(now > s->a.last.pushed ? now - s->a.last.pushed : 0), s->a.files, sz);
    } else {
        fprintf(out, "  %s archive: last %s (push time not recorded), %zu files, %s\n", source,
                s->a.have_last ? s->a.last.file : "-", s->a.files, sz);
    }
    for (size_t i = 0; i < s->a.ngaps; i++) {
        const struct log_range *r = &s->a.gaps[i];
        fmt_name(s, r->stream, r->first, a, sizeof(a));
        fmt_name(s, r->stream, r->last, b, sizeof(b));
        fprintf(out, "  %s archive: GAP on %s: %s missing (%zu files through %s)\n", source,
                r->stream, a, r->files, b);
    }
    if (s->a.holes)
        fprintf(out, "  %s archive: %zu holes between the ranges retention keeps (no base "
                "backup or window needs them)\n", source, s->a.holes);
}

/* --- catalog logs SOURCE --- */

int catalog_logs(const struct conf *c, const struct repo_unlock *u, const char *source,
                 const struct catalog_opts *o)
{
    struct cf_err e = CF_ERR_INIT;
    struct cat_ctx ctx;
    struct cat_arch s;
    time_t now = time(NULL);
    int rc;

    memset(&s, 0, sizeof(s));
    if (cat_ctx_open(c, u, true, &ctx, &e) != 0)
        return cli_fail("catalog", &e);
    if (!o->json || ctx.offline)
        cat_ctx_note(&ctx);
    if (cat_arch_load(&ctx, source, &s, &e) != 0) {
        rc = cli_fail("catalog", &e);
        goto out;
    }
    if (o->json) {
        json_t *res = json_pack("{s:o, s:s, s:b, s:o}", "catalog", cat_ctx_json(&ctx), "source",
                                source, "archived", s.have, "archive",
                                s.have ? cat_arch_json(&s, now) : json_null());
        cat_print_json(res);
        json_decref(res);
    } else if (!s.have) {
        printf("%s: no archived log files\n", source);
    } else {
        char a[96], b[96];
        printf("%-10s %-26s %-26s %s\n", "STREAM", "FIRST", "LAST", "FILES");
        for (size_t i = 0; i < s.a.nranges; i++) {
            const struct log_range *r = &s.a.ranges[i];
            fmt_name(&s, r->stream, r->first, a, sizeof(a));
            fmt_name(&s, r->stream, r->last, b, sizeof(b));
            printf("%-10s %-26s %-26s %zu\n", r->stream, a, b, r->files);
        }
        cat_arch_print(&s, source, now, stdout);
    }
    rc = s.a.ngaps ? EXIT_FAILED : EXIT_OK;
out:
    cat_arch_free(&s);
    cat_ctx_close(&ctx);
    return rc;
}

/* --- verify --- */

int cat_verify_logs(struct cat_ctx *ctx, const char *source, const struct catalog_opts *o,
                    json_t *results, size_t *done, size_t *bad, struct cf_err *e)
{
    struct cat_log *v = NULL;
    size_t n = 0;

    if (cat_index_logs(ctx->x, ctx->repo_id, source, &v, &n, e) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct cf_err ve = CF_ERR_INIT;
        int k = repo_log_verify(ctx->r, source, v[i].file, &ve);
        if (k != 0 && ve.code != CF_E_CORRUPT && ve.code != CF_E_CRYPTO &&
            ve.code != CF_E_NOTFOUND) {
            cf_err_keep(e, &ve);
            free(v);
            return -1;   /* not damage: the repository is unreachable */
        }
        if (k != 0 && ve.code == CF_E_NOTFOUND)
            snprintf(ve.msg, sizeof(ve.msg), "missing: listed by the last refresh, gone now");
        (*done)++;
        if (k != 0) {
            (*bad)++;
            log_error("verify failed source=%s log=%s: %s", source, v[i].file, ve.msg);
        }
        json_array_append_new(results, json_pack("{s:s, s:s, s:s, s:s?}", "source", source,
                                                 "log", v[i].file, "result",
                                                 k == 0 ? "ok" : "damaged", "error",
                                                 k == 0 ? NULL : ve.msg));
        if (!o->json && k != 0)
            printf("%s/logs/%s: DAMAGED: %s\n", source, v[i].file, ve.msg);
    }
    if (!o->json && n > 0)
        printf("%s: %zu archived log files checked\n", source, n);
    free(v);
    return 0;
}
