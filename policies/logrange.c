/* logrange.c - log archives as ranges, gaps and retention (see logrange.h). */
#include "logrange.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool hex_n(const char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'A' && c <= 'F')
            d = (unsigned)(c - 'A' + 10);
        else
            return false;   /* PostgreSQL writes upper case only */
        x = x * 16 + d;
    }
    *v = x;
    return true;
}

bool log_wal_seg_ok(uint64_t seg_size)
{
    return seg_size >= (1u << 20) && seg_size <= (1u << 30) && (seg_size & (seg_size - 1)) == 0;
}

/* segment @s (24 hex digits) -> timeline and number */
static bool wal_seg(const char *s, uint64_t seg_size, struct log_pos *out)
{
    uint64_t tl, hi, lo, per = 0x100000000ull / seg_size;
    if (!hex_n(s, 8, &tl) || !hex_n(s + 8, 8, &hi) || !hex_n(s + 16, 8, &lo) || tl == 0 ||
        lo >= per)
        return false;
    memcpy(out->stream, s, 8);
    out->stream[8] = '\0';
    out->seq = hi * per + lo;
    return true;
}

bool log_parse_wal(const char *file, uint64_t seg_size, struct log_pos *out)
{
    size_t n = strlen(file);
    uint64_t v;

    memset(out, 0, sizeof(*out));
    if (!log_wal_seg_ok(seg_size))
        return false;
    if (n == 16 && strcmp(file + 8, ".history") == 0) {
        if (!hex_n(file, 8, &v) || v == 0)
            return false;
        memcpy(out->stream, file, 8);
        out->kind = LOG_HISTORY;
        return true;
    }
    if (n < 24 || !wal_seg(file, seg_size, out))
        return false;
    if (n == 24) {
        out->kind = LOG_SEGMENT;
        return true;
    }
    if (strcmp(file + 24, ".partial") == 0) {
        out->kind = LOG_PARTIAL;
        return true;
    }
    /* 000000010000000000000002.00000028.backup */
    if (n == 40 && file[24] == '.' && hex_n(file + 25, 8, &v) && strcmp(file + 33, ".backup") == 0) {
        out->kind = LOG_BACKUP;
        return true;
    }
    memset(out, 0, sizeof(*out));
    return false;
}

void log_format_wal(const char *tl, uint64_t seq, uint64_t seg_size, char out[25])
{
    uint64_t per = 0x100000000ull / seg_size;
    snprintf(out, 25, "%.8s%08X%08X", tl, (unsigned)(seq / per), (unsigned)(seq % per));
}

bool log_parse_binlog(const char *file, struct log_pos *out)
{
    const char *dot = strrchr(file, '.');
    size_t digits;
    uint64_t v = 0;

    memset(out, 0, sizeof(*out));
    if (dot == NULL || dot == file || (size_t)(dot - file) >= LOG_STREAM_MAX)
        return false;
    digits = strlen(dot + 1);
    if (digits < 6 || digits > 18)
        return false;
    for (const char *p = dot + 1; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        v = v * 10 + (uint64_t)(*p - '0');
    }
    memcpy(out->stream, file, (size_t)(dot - file));
    out->seq = v;
    out->kind = LOG_SEGMENT;
    return true;
}

static int cmp_pos(const void *a, const void *b)
{
    const struct log_pos *x = *(const struct log_pos *const *)a, *y = *(const struct log_pos *const *)b;
    int c = strcmp(x->stream, y->stream);
    if (c)
        return c;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void range_add(struct log_range **v, size_t *n, const char *stream, uint64_t first,
                      uint64_t last)
{
    struct log_range *r;
    *v = realloc(*v, (*n + 1) * sizeof(**v));
    if (*v == NULL)
        abort();
    r = &(*v)[(*n)++];
    memset(r, 0, sizeof(*r));
    snprintf(r->stream, sizeof(r->stream), "%s", stream);
    r->first = first;
    r->last = last;
    r->files = (size_t)(last - first + 1);
}

void log_ranges(const struct log_pos *p, size_t n, struct log_range **ranges, size_t *nranges,
                struct log_range **gaps, size_t *ngaps)
{
    const struct log_pos **s = calloc(n ? n : 1, sizeof(*s));
    struct log_range *rv = NULL, *gv = NULL;
    size_t m = 0, nr = 0, ng = 0;

    if (s == NULL)
        abort();
    for (size_t i = 0; i < n; i++)
        if (p[i].kind == LOG_SEGMENT)
            s[m++] = &p[i];
    qsort(s, m, sizeof(*s), cmp_pos);
    for (size_t i = 0; i < m;) {
        size_t j = i;
        /* one run: consecutive numbers on one stream (a duplicate does not break it) */
        while (j + 1 < m && strcmp(s[j + 1]->stream, s[i]->stream) == 0 &&
               s[j + 1]->seq <= s[j]->seq + 1)
            j++;
        range_add(&rv, &nr, s[i]->stream, s[i]->seq, s[j]->seq);
        if (j + 1 < m && strcmp(s[j + 1]->stream, s[i]->stream) == 0)
            range_add(&gv, &ng, s[i]->stream, s[j]->seq + 1, s[j + 1]->seq - 1);
        i = j + 1;
    }
    /* files counts the distinct numbers */
    for (size_t k = 0; k < nr; k++)
        rv[k].files = (size_t)(rv[k].last - rv[k].first + 1);
    free(s);
    if (ranges) {
        *ranges = rv;
        *nranges = nr;
    } else {
        free(rv);
    }
    if (gaps) {
        *gaps = gv;
        *ngaps = ng;
    } else {
        free(gv);
    }
}

/* the newest usable base backup and the one the window replays from, into @plan */
static void plan_bases(const struct log_base *b, size_t nb, time_t now, int64_t keep_pitr,
                       struct log_plan *plan)
{
    bool have_oldest = false;
    size_t oldest = 0;

    memset(plan, 0, sizeof(*plan));
    for (size_t i = 0; i < nb; i++) {
        if (!b[i].usable)
            continue;
        if (!plan->have_base || b[i].stop_time > b[plan->latest].stop_time ||
            (b[i].stop_time == b[plan->latest].stop_time && b[i].start > b[plan->latest].start))
            plan->latest = i;
        if (!have_oldest || b[i].stop_time < b[oldest].stop_time)
            oldest = i;
        plan->have_base = have_oldest = true;
    }
    if (plan->have_base && keep_pitr > 0) {
        plan->window_start = now - (time_t)keep_pitr;
        plan->anchored = true;
        plan->anchor = oldest;
        plan->anchor_short = true;
        for (size_t i = 0; i < nb; i++) {
            if (!b[i].usable || b[i].stop_time > plan->window_start)
                continue;
            if (plan->anchor_short || b[i].stop_time > b[plan->anchor].stop_time ||
                (b[i].stop_time == b[plan->anchor].stop_time && b[i].start > b[plan->anchor].start))
                plan->anchor = i;
            plan->anchor_short = false;
        }
    }
}

bool log_gap_matters(const struct log_base *b, size_t nb, time_t now, int64_t keep_pitr,
                     const struct log_range *g)
{
    struct log_plan plan;

    plan_bases(b, nb, now, keep_pitr, &plan);
    if (!plan.have_base || g->last >= b[plan.latest].start ||
        (plan.anchored && g->last >= b[plan.anchor].start))
        return true;
    for (size_t i = 0; i < nb; i++)
        if (!b[i].self_contained && strcmp(b[i].stream, g->stream) == 0 &&
            g->first <= b[i].stop && g->last >= b[i].start)
            return true;
    return false;
}

void log_retention(const struct log_base *b, size_t nb, const struct log_file *f, size_t nf,
                   time_t now, int64_t keep_pitr, struct log_decision *out,
                   struct log_plan *plan)
{
    uint64_t from = UINT64_MAX;   /* every file at or above this is kept */

    memset(out, 0, nf * sizeof(*out));
    plan_bases(b, nb, now, keep_pitr, plan);
    if (!plan->have_base) {
        for (size_t k = 0; k < nf; k++)
            out[k].keep = LOGK_NO_BASE;
        return;
    }
    if (plan->anchored)
        from = b[plan->anchor].start;
    for (size_t k = 0; k < nf; k++) {
        const struct log_pos *p = &f[k].pos;
        if (p->kind == LOG_HISTORY)
            continue;
        if (p->seq >= b[plan->latest].start)
            out[k].keep |= LOGK_LATEST;
        if (plan->anchored && (p->seq >= from || f[k].pushed >= plan->window_start))
            out[k].keep |= LOGK_WINDOW;
        for (size_t i = 0; i < nb; i++) {
            if (!(b[i].kept || (plan->anchored && i == plan->anchor)) || b[i].self_contained)
                continue;
            if (strcmp(b[i].stream, p->stream) == 0 && p->seq >= b[i].start &&
                p->seq <= b[i].stop) {
                if (!(out[k].keep & LOGK_BACKUP))
                    out[k].base = i;
                out[k].keep |= LOGK_BACKUP;
            }
        }
    }
    /* a timeline's history while anything kept is on it or a later one (stream names of
     * one width compare as their numbers) */
    for (size_t k = 0; k < nf; k++) {
        if (f[k].pos.kind != LOG_HISTORY)
            continue;
        for (size_t j = 0; j < nf && out[k].keep == 0; j++)
            if (f[j].pos.kind != LOG_HISTORY && out[j].keep != 0 &&
                strlen(f[j].pos.stream) == strlen(f[k].pos.stream) &&
                strcmp(f[j].pos.stream, f[k].pos.stream) >= 0)
                out[k].keep = LOGK_HISTORY;
    }
}

void log_keep_format(unsigned keep, char *out, size_t cap)
{
    static const char *const names[] = { "window", "backup", "history", "no-base", "latest" };
    size_t len = 0;

    out[0] = '\0';
    for (unsigned b = 0; b < sizeof(names) / sizeof(*names); b++)
        if (keep & (1u << b))
            len += (size_t)snprintf(out + len, len < cap ? cap - len : 0, "%s%s",
                                    len ? "," : "", names[b]);
    if (len == 0)
        snprintf(out, cap, "none");
}
