/* drill_report.c - a drill's report, one JSON document (what is stored under drills/ and
 * written to --report FILE.json) rendered as Markdown (--report FILE.md) and as a summary. */
#include "drill.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/buf.h"
#include "../lib/core/util.h"

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double secs(json_t *o, const char *k)
{
    return (double)json_integer_value(json_object_get(o, k)) / 1000.0;
}

/* a table cell: no '|' or newline breaks the row */
static void cell(struct buf *b, const char *s)
{
    buf_puts(b, " ");
    for (; *s; s++)
        buf_puts(b, *s == '|' ? "\\|" : *s == '\n' ? " " : (char[]){ *s, 0 });
    buf_puts(b, " |");
}

static void rto_text(json_t *rto, char *out, size_t cap)
{
    json_t *obj = json_object_get(rto, "objective_s");
    double m = secs(rto, "measured_ms");
    if (json_is_integer(obj))
        snprintf(out, cap, "%.1f s (objective %" JSON_INTEGER_FORMAT " s: %s)", m,
                 json_integer_value(obj), str(rto, "result"));
    else
        snprintf(out, cap, "%.1f s (no objective)", m);
}

char *drill_report_markdown(json_t *r)
{
    struct buf b = BUF_INIT;
    char t[160];
    size_t i, k;
    json_t *s, *c, *f;

    buf_printf(&b, "# coffer drill %s: %s\n\n", str(r, "id"), str(r, "result"));
    buf_puts(&b, "| | |\n|---|---|\n");
    buf_printf(&b, "| %s | %s |\n", json_is_string(json_object_get(r, "job")) ? "job" : "source",
               json_is_string(json_object_get(r, "job")) ? str(r, "job") : str(r, "source"));
    buf_printf(&b, "| at | %s%s |\n", str(r, "at"),
               json_is_true(json_object_get(r, "at_random")) ? " (chosen at random)" : "");
    buf_printf(&b, "| host | %s |\n| coffer | %s |\n", str(r, "host"), str(r, "coffer_version"));
    buf_printf(&b, "| started | %s |\n| finished | %s |\n", str(r, "started"), str(r, "finished"));
    rto_text(json_object_get(r, "rto"), t, sizeof(t));
    buf_printf(&b, "| RTO of the whole | %s |\n\n", t);
    buf_puts(&b, "## Sources\n\n| source | kind | backup | taken | scratch server | server start | "
                 "restore | RTO | result |\n|---|---|---|---|---|---|---|---|---|\n");
    json_array_foreach(json_object_get(r, "sources"), i, s) {
        buf_puts(&b, "|");
        cell(&b, str(s, "name"));
        cell(&b, str(s, "kind"));
        cell(&b, str(s, "backup"));
        cell(&b, str(s, "backup_time"));
        cell(&b, json_is_string(json_object_get(s, "server")) ? str(s, "server") : "-");
        snprintf(t, sizeof(t), "%.1f s", secs(s, "server_start_ms"));
        cell(&b, t);
        snprintf(t, sizeof(t), "%.1f s", secs(s, "restore_ms"));
        cell(&b, t);
        rto_text(json_object_get(s, "rto"), t, sizeof(t));
        cell(&b, t);
        cell(&b, str(s, "result"));
        buf_puts(&b, "\n");
    }
    buf_puts(&b, "\n## Checks\n\n| source | check | result | detail |\n|---|---|---|---|\n");
    json_array_foreach(json_object_get(r, "sources"), i, s) {
        if (json_is_string(json_object_get(s, "error"))) {
            buf_puts(&b, "|");
            cell(&b, str(s, "name"));
            cell(&b, "restore");
            cell(&b, "FAILED");
            cell(&b, str(s, "error"));
            buf_puts(&b, "\n");
        }
        json_array_foreach(json_object_get(s, "checks"), k, c) {
            buf_puts(&b, "|");
            cell(&b, str(s, "name"));
            cell(&b, str(c, "name"));
            cell(&b, str(c, "result"));
            cell(&b, str(c, "detail"));
            buf_puts(&b, "\n");
        }
    }
    json_t *fl = json_object_get(r, "failures");
    if (json_array_size(fl) > 0) {
        buf_puts(&b, "\n## Failures\n\n");
        json_array_foreach(fl, i, f)
            buf_printf(&b, "- %s\n", json_string_value(f));
    }
    buf_puts(&b, "");
    return b.data;
}

int drill_report_write(json_t *r, const char *path, struct cf_err *e)
{
    size_t n = strlen(path);
    char *text = n > 3 && strcmp(path + n - 3, ".md") == 0
                     ? drill_report_markdown(r)
                     : json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc = fs_write_file_atomic(path, text, strlen(text), 0644, e);
    free(text);
    return rc == 0 ? 0 : cf_err_ctx(e, "unable to write the drill report '%s'", path);
}

void drill_report_summary(json_t *r)
{
    size_t i, k;
    json_t *s, *c, *f;
    char t[160];

    printf("drill %s of %s %s: %s\n", str(r, "id"),
           json_is_string(json_object_get(r, "job")) ? "job" : "source",
           json_is_string(json_object_get(r, "job")) ? str(r, "job") : str(r, "source"),
           str(r, "result"));
    json_array_foreach(json_object_get(r, "sources"), i, s) {
        size_t passed = 0, failed = 0, skipped = 0;
        json_array_foreach(json_object_get(s, "checks"), k, c) {
            const char *res = str(c, "result");
            if (strcmp(res, "passed") == 0)
                passed++;
            else if (strcmp(res, "FAILED") == 0)
                failed++;
            else
                skipped++;
        }
        rto_text(json_object_get(s, "rto"), t, sizeof(t));
        printf("  %-12s %-8s %s  %s; checks: %zu passed, %zu failed, %zu not checked; RTO %s\n",
               str(s, "name"), str(s, "kind"), str(s, "backup"), str(s, "result"), passed, failed,
               skipped, t);
    }
    rto_text(json_object_get(r, "rto"), t, sizeof(t));
    printf("  RTO of the whole: %s\n", t);
    json_array_foreach(json_object_get(r, "failures"), i, f)
        printf("  FAILED: %s\n", json_string_value(f));
    fflush(stdout);
}
