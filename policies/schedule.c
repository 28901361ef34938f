#include "schedule.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const schedule_keys[] = { "schedule", "jitter", NULL };

#define DAY 86400LL
#define DST_MAX (3 * 3600LL)     /* the largest change of offset looked back over */
#define SEARCH_DAYS (28 * 366)   /* the calendar repeats its weekdays every 28 years */

static const char *const month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
                                           "jul", "aug", "sep", "oct", "nov", "dec", NULL };
static const char *const dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat",
                                         NULL };

struct field {
    const char *name;
    int lo, hi;
    const char *const *names;   /* names[i] is lo + i (months from 1, days from 0) */
};

static const struct field fields[5] = {
    { "minute", 0, 59, NULL },   { "hour", 0, 23, NULL },         { "day of month", 1, 31, NULL },
    { "month", 1, 12, month_names }, { "day of week", 0, 7, dow_names },
};

/* one number or name at *@p, advanced past it */
static int read_value(const struct field *f, const char **p, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end - s > 3 || v < f->lo || v > f->hi)
            return -1;
        *out = (int)v;
        *p = end;
        return 0;
    }
    for (size_t i = 0; f->names && f->names[i]; i++)
        if (strncasecmp(s, f->names[i], 3) == 0 && !isalpha((unsigned char)s[3])) {
            *out = f->lo + (int)i;
            *p = s + 3;
            return 0;
        }
    return -1;
}

/* one field's text (@s, @len bytes) into @bits */
static int parse_field(const struct field *f, const char *s, size_t len, uint64_t *bits)
{
    char buf[64];
    const char *p;

    if (len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    *bits = 0;
    p = buf;
    for (;;) {
        int a, b, step = 1;
        if (*p == '*') {
            a = f->lo;
            b = f->hi;
            p++;
        } else {
            if (read_value(f, &p, &a) != 0)
                return -1;
            b = a;
            if (*p == '-') {
                p++;
                if (read_value(f, &p, &b) != 0 || b < a)
                    return -1;
            }
        }
        if (*p == '/') {
            char *end;
            if (a == b && p[-1] != '*')
                return -1;   /* "5/10": not cron's */
            p++;
            if (!isdigit((unsigned char)*p))
                return -1;
            long v = strtol(p, &end, 10);
            if (v < 1 || v > f->hi - f->lo + 1 || end - p > 3)
                return -1;
            step = (int)v;
            p = end;
        }
        for (int v = a; v <= b; v += step)
            *bits |= 1ull << v;
        if (*p == '\0')
            break;
        if (*p != ',')
            return -1;
        p++;
    }
    return 0;
}

static const struct {
    const char *name, *fields;
} shorthands[] = {
    { "@hourly", "0 * * * *" },   { "@daily", "0 0 * * *" },   { "@midnight", "0 0 * * *" },
    { "@weekly", "0 0 * * 0" },   { "@monthly", "0 0 1 * *" }, { "@yearly", "0 0 1 1 *" },
    { "@annually", "0 0 1 1 *" },
};

int schedule_parse(const char *text, struct sched *out, struct cf_err *e)
{
    const char *p = text;
    uint64_t bits[5];
    bool star[5];
    time_t probe;

    memset(out, 0, sizeof(*out));
    while (*p == ' ' || *p == '\t')
        p++;
    if (strlen(text) >= sizeof(out->text))
        return cf_err_set(e, CF_E_CONFIG, "schedule too long (at most %d characters)",
                          SCHED_TEXT_MAX - 1);
    if (*p == '@') {
        size_t n = strcspn(p, " \t");
        const char *q = p + n;
        while (*q == ' ' || *q == '\t')
            q++;
        for (size_t i = 0; i < sizeof(shorthands) / sizeof(shorthands[0]); i++)
            if (*q == '\0' && strlen(shorthands[i].name) == n &&
                strncasecmp(p, shorthands[i].name, n) == 0) {
                if (schedule_parse(shorthands[i].fields, out, e) != 0)
                    return -1;
                snprintf(out->text, sizeof(out->text), "%s", text);
                return 0;
            }
        return cf_err_set(e, CF_E_CONFIG,
                          "schedule '%s': unknown shorthand (HINT: @hourly, @daily, @weekly, "
                          "@monthly, @yearly, or five cron fields)",
                          text);
    }
    int nf = 0;
    for (const char *q = p; *q;) {
        q += strcspn(q, " \t");
        q += strspn(q, " \t");
        nf++;
    }
    if (nf < 5)
        return cf_err_set(e, CF_E_CONFIG,
                          "schedule '%s': %d fields, expected 5 (minute hour day-of-month month "
                          "day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly",
                          text, nf);
    for (int i = 0; i < 5; i++) {
        size_t n = strcspn(p, " \t");
        star[i] = *p == '*';
        if (parse_field(&fields[i], p, n, &bits[i]) != 0)
            return cf_err_set(e, CF_E_CONFIG, "schedule '%s': bad %s field '%.*s'", text,
                              fields[i].name, (int)n, p);
        p += n;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    if (*p != '\0')
        return cf_err_set(e, CF_E_CONFIG,
                          "schedule '%s': more than 5 fields (HINT: no command or user field "
                          "here, only the time)",
                          text);
    out->minute = bits[0];
    out->hour = (uint32_t)bits[1];
    out->dom = (uint32_t)bits[2];
    out->month = (uint16_t)bits[3];
    out->dow = (uint8_t)((bits[4] | (bits[4] >> 7)) & 0x7f);   /* 7 is Sunday */
    out->min_star = star[0];
    out->hour_star = star[1];
    out->dom_star = star[2];
    out->dow_star = star[4];
    snprintf(out->text, sizeof(out->text), "%s", text);
    if (schedule_next(out, NULL, 0, &probe, e) != 0)
        return cf_err_set(e, CF_E_CONFIG, "schedule '%s' never fires (HINT: check the day of "
                          "month against the month)", text);
    return 0;
}

bool schedule_wildcard(const struct sched *s)
{
    return s->min_star || s->hour_star;
}

static bool day_matches(const struct sched *s, int mon, int d, int wday)
{
    bool dom = s->dom >> d & 1, dow = s->dow >> wday & 1;
    if (!(s->month >> mon & 1))
        return false;
    return s->dom_star || s->dow_star ? dom && dow : dom || dow;
}

bool schedule_matches(const struct sched *s, int y, int mon, int d, int wday, int h, int min)
{
    (void)y;
    return day_matches(s, mon, d, wday) && (s->hour >> h & 1) && (s->minute >> min & 1);
}

/* the first matching local civil time at or after @from (seconds since 1970 as if UTC,
 * minute-aligned) */
static bool next_local(const struct sched *s, long long from, long long *out)
{
    long long day = from >= 0 ? from / DAY : -((-from + DAY - 1) / DAY);
    int h0 = (int)((from - day * DAY) / 3600), m0 = (int)((from - day * DAY) % 3600 / 60);

    for (long n = 0; n < SEARCH_DAYS; n++, day++, h0 = 0, m0 = 0) {
        struct tm tm;
        time_t t = (time_t)(day * DAY);
        gmtime_r(&t, &tm);
        if (!day_matches(s, tm.tm_mon + 1, tm.tm_mday, tm.tm_wday))
            continue;
        for (int h = h0; h < 24; h++) {
            if (!(s->hour >> h & 1))
                continue;
            for (int m = h == h0 ? m0 : 0; m < 60; m++)
                if (s->minute >> m & 1) {
                    *out = day * DAY + h * 3600LL + m * 60LL;
                    return true;
                }
        }
    }
    return false;
}

/* the instants whose local time in @tz is @L: 0 (a skipped time), 1, or 2 (a repeated time,
 * earlier first); @change: in a skipped time, the instant of the change */
static int instants(const struct cf_tz *tz, long long L, time_t u[2], time_t *change)
{
    long oa = tz_offset(tz, (time_t)(L - DAY)), ob = tz_offset(tz, (time_t)(L + DAY));
    int n = 0;

    if (tz_offset(tz, (time_t)(L - oa)) == oa)
        u[n++] = (time_t)(L - oa);
    if (ob != oa && tz_offset(tz, (time_t)(L - ob)) == ob)
        u[n++] = (time_t)(L - ob);
    if (n == 2 && u[1] < u[0]) {
        time_t x = u[0];
        u[0] = u[1];
        u[1] = x;
    }
    if (n == 0) {
        /* skipped: the offset is still oa at L - ob, already ob at L - oa */
        time_t lo = (time_t)(L - ob), hi = (time_t)(L - oa);
        while (hi - lo > 1) {
            time_t mid = lo + (hi - lo) / 2;
            if (tz_offset(tz, mid) == oa)
                lo = mid;
            else
                hi = mid;
        }
        *change = hi;
    }
    return n;
}

int schedule_next(const struct sched *s, const struct cf_tz *tz, time_t after, time_t *out,
                  struct cf_err *e)
{
    long long L = (long long)after + tz_offset(tz, after);
    bool have = false;
    time_t best = 0;

    L -= DST_MAX;
    L -= ((L % 60) + 60) % 60;
    for (;;) {
        time_t u[2], change = 0, cand[2];
        int n, nc = 0;
        if (!next_local(s, L, &L))
            break;
        if (have && L > (long long)best + tz_offset(tz, best) + DST_MAX)
            break;
        n = instants(tz, L, u, &change);
        if (n >= 1)
            cand[nc++] = u[0];
        if (n == 2 && schedule_wildcard(s))
            cand[nc++] = u[1];
        if (n == 0 && !schedule_wildcard(s))
            cand[nc++] = change;
        for (int i = 0; i < nc; i++)
            if (cand[i] > after && (!have || cand[i] < best)) {
                best = cand[i];
                have = true;
            }
        L += 60;
    }
    if (!have)
        return cf_err_set(e, CF_E_CONFIG, "schedule '%s' does not fire within 28 years",
                          s->text);
    *out = best;
    return 0;
}

static void cal_value(int v, const char *const *names, char *out, size_t cap)
{
    if (names != NULL)
        snprintf(out, cap, "%s", names[v]);
    else
        snprintf(out, cap, "%02d", v);
}

/* the set bits of @bits in [@lo, @hi] as "a,b..c" (systemd's lists and ranges); "*" when all */
static void cal_field(uint64_t bits, int lo, int hi, const char *const *names, char *out,
                      size_t cap)
{
    size_t n = 0;
    uint64_t all = 0;

    for (int v = lo; v <= hi; v++)
        all |= 1ull << v;
    if ((bits & all) == all) {
        snprintf(out, cap, "*");
        return;
    }
    out[0] = '\0';
    for (int v = lo; v <= hi; v++) {
        int end = v;
        char a[8], b[8];
        if (!(bits >> v & 1))
            continue;
        while (end < hi && (bits >> (end + 1) & 1))
            end++;
        cal_value(v, names, a, sizeof(a));
        cal_value(end, names, b, sizeof(b));
        n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s%s%s", n ? "," : "", a,
                              end == v ? "" : "..", end == v ? "" : b);
        v = end;
    }
}

int schedule_oncalendar(const struct sched *s, const char *tz, char out[2][SCHED_CAL_MAX])
{
    static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    char min[200], hour[100], dom[120], mon[60], dow[60];
    const char *sp = tz && tz[0] ? " " : "", *z = tz ? tz : "";
    int n = 0;

    cal_field(s->minute, 0, 59, NULL, min, sizeof(min));
    cal_field(s->hour, 0, 23, NULL, hour, sizeof(hour));
    cal_field(s->dom, 1, 31, NULL, dom, sizeof(dom));
    cal_field(s->month, 1, 12, NULL, mon, sizeof(mon));
    cal_field(s->dow, 0, 6, wd, dow, sizeof(dow));
    if (!s->dom_star && !s->dow_star) {
        /* cron's OR: the dates, then the weekdays */
        snprintf(out[n++], SCHED_CAL_MAX, "*-%s-%s %s:%s:00%s%s", mon, dom, hour, min, sp, z);
        snprintf(out[n++], SCHED_CAL_MAX, "%s *-%s-* %s:%s:00%s%s", dow, mon, hour, min, sp, z);
        return n;
    }
    snprintf(out[n++], SCHED_CAL_MAX, "%s%s*-%s-%s %s:%s:00%s%s", strcmp(dow, "*") ? dow : "",
             strcmp(dow, "*") ? " " : "", mon, dom, hour, min, sp, z);
    return n;
}
