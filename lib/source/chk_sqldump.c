/* chk_sqldump.c - the completeness proof of an SQL dump (mariadb-dump, pg_dumpall): its first
 * line and its last non-empty line. */
#include "chk.h"

#include <string.h>

/* ------------------------------------------------------------------------------------------
 * SQL dumps: the first line and the last non-empty line
 * ---------------------------------------------------------------------------------------- */

/* the start of line @i (0-based) of @b within its first bytes, or NULL */
static const char *nth_line(const struct buf *b, int i)
{
    const char *p = b->data, *end = b->data + b->len;
    while (i-- > 0) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL)
            return NULL;
        p++;
    }
    return p < end ? p : NULL;
}

int sqldump_check(const struct buf *head, const struct buf *tail, const char *first_line_prefix,
                  const char *last_line_prefix, const char *exact_suffix, const char *what,
                  struct cf_err *e)
{
    size_t n = strlen(first_line_prefix);
    bool found = false;
    if (head->len == 0)
        return cf_err_set(e, CF_E_CORRUPT, "%s: empty (no dump at all)", what);
    /* within the first three lines: newer tools put a sandbox-mode comment first */
    for (int i = 0; i < 3 && !found; i++) {
        const char *l = nth_line(head, i);
        found = l && (size_t)(head->data + head->len - l) >= n && memcmp(l, first_line_prefix, n) == 0;
    }
    if (!found)
        return cf_err_set(e, CF_E_CORRUPT, "%s: does not start with '%s'", what,
                          first_line_prefix);
    /* the last line that is neither blank nor a bare comment marker "--", and it must be
     * whole: followed by a newline */
    size_t end = tail->len;
    for (;;) {
        while (end > 0 && (tail->data[end - 1] == '\n' || tail->data[end - 1] == '\r' ||
                           tail->data[end - 1] == ' '))
            end--;
        if (end >= 2 && tail->data[end - 1] == '-' && tail->data[end - 2] == '-' &&
            (end == 2 || tail->data[end - 3] == '\n')) {
            end -= 2;
            continue;
        }
        break;
    }
    size_t start = end;
    while (start > 0 && tail->data[start - 1] != '\n')
        start--;
    n = strlen(last_line_prefix);
    if (end - start < n || memcmp(tail->data + start, last_line_prefix, n) != 0 ||
        end == tail->len || tail->data[end] != '\n')
        return cf_err_set(e, CF_E_CORRUPT,
                          "%s: incomplete: the last line is not '%s' (the dump was cut short)",
                          what, last_line_prefix);
    /* "-- Dump completed on 2026-11-22  5:10:01": a date cut short is a dump cut short */
    if (end - start > n && !(end - start == n + 4 + 19 && memcmp(tail->data + start + n, " on ", 4) == 0))
        return cf_err_set(e, CF_E_CORRUPT, "%s: incomplete: the last line is cut short", what);
    /* text after the last line may only be the closing "--" lines the tool writes */
    if (exact_suffix && (tail->len < strlen(exact_suffix) ||
                         strcmp(tail->data + tail->len - strlen(exact_suffix), exact_suffix) != 0))
        return cf_err_set(e, CF_E_CORRUPT, "%s: incomplete: does not end with its closing lines",
                          what);
    return 0;
}
