/* cat_logcmd.c - the log archive (logs/<source>/) in the catalog: `catalog logs SOURCE`, the
 * archive part of status and the check of every log object by verify (its refresh into the
 * index is lib/catalog/cat_sync.c's, the base backups its retention needs cat_archive.c's). */
#include "catalog.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../lib/core/cli.h"
#include "../lib/core/log.h"
#include "../lib/core/util.h"
#include "catalog.h"

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
