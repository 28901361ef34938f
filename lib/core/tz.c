/* tz.c - TZif files (RFC 8536) and POSIX TZ strings, read into a table of transitions and a
 * rule for the times after the last one; conversions search the table or evaluate the rule. */
#include "tz.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "buf.h"
#include "util.h"

/* a date of a POSIX rule: Jn (1..365, Feb 29 never counted), n (0..365), or Mm.w.d */
struct tz_date {
    char kind;   /* 'J', 'D' or 'M' */
    int m, w, d, n;
    long time;   /* seconds after local midnight at which the change happens */
};

/* std offset [dst [offset] [,start[/time],end[/time]]] */
struct tz_rule {
    long std_off, dst_off;   /* seconds east of UTC */
    bool has_dst;
    struct tz_date start, end;
};

struct cf_tz {
    size_t n;          /* transitions */
    int64_t *at;       /* their instants, ascending */
    long *off;         /* the offset from each one on */
    long off0;         /* the offset before the first */
    bool has_rule;     /* @rule holds after the last transition (or everywhere when n is 0) */
    struct tz_rule rule;
};

/* Howard Hinnant's days_from_civil */
long long tz_days_from_civil(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

static bool is_leap(long long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* --- POSIX TZ strings --- */

static const char *parse_name(const char *s)
{
    if (*s == '<') {
        const char *end = strchr(s, '>');
        return end && end - s >= 4 ? end + 1 : NULL;
    }
    const char *p = s;
    while (isalpha((unsigned char)*p))
        p++;
    return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]] into seconds, hours up to @max_h; NULL on a bad one */
static const char *parse_hms(const char *s, int max_h, long *out)
{
    long sign = 1, v[3] = { 0, 0, 0 };
    int k = 0;

    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    for (;;) {
        if (!isdigit((unsigned char)*s))
            return NULL;
        long x = 0;
        int digits = 0;
        while (isdigit((unsigned char)*s) && digits < 3) {
            x = x * 10 + (*s++ - '0');
            digits++;
        }
        v[k++] = x;
        if (k == 3 || *s != ':')
            break;
        s++;
    }
    if (v[0] > max_h || v[1] > 59 || v[2] > 59)
        return NULL;
    *out = sign * (v[0] * 3600 + v[1] * 60 + v[2]);
    return s;
}

static const char *parse_num(const char *s, int lo, int hi, int *out)
{
    if (!isdigit((unsigned char)*s))
        return NULL;
    long v = 0;
    while (isdigit((unsigned char)*s) && v <= hi)
        v = v * 10 + (*s++ - '0');
    if (v < lo || v > hi)
        return NULL;
    *out = (int)v;
    return s;
}

static const char *parse_date(const char *s, struct tz_date *d)
{
    memset(d, 0, sizeof(*d));
    if (*s == 'J') {
        d->kind = 'J';
        s = parse_num(s + 1, 1, 365, &d->n);
    } else if (*s == 'M') {
        d->kind = 'M';
        if ((s = parse_num(s + 1, 1, 12, &d->m)) == NULL || *s != '.' ||
            (s = parse_num(s + 1, 1, 5, &d->w)) == NULL || *s != '.')
            return NULL;
        s = parse_num(s + 1, 0, 6, &d->d);
    } else {
        d->kind = 'D';
        s = parse_num(s, 0, 365, &d->n);
    }
    if (s == NULL)
        return NULL;
    d->time = 2 * 3600;
    if (*s == '/')
        s = parse_hms(s + 1, 167, &d->time);
    return s;
}

/* 0 when all of @s is a POSIX TZ string */
static int parse_rule(const char *s, struct tz_rule *r)
{
    long off;

    memset(r, 0, sizeof(*r));
    if ((s = parse_name(s)) == NULL || (s = parse_hms(s, 24, &off)) == NULL)
        return -1;
    r->std_off = -off;   /* POSIX counts west of UTC */
    if (*s == '\0')
        return 0;
    if ((s = parse_name(s)) == NULL)
        return -1;
    r->has_dst = true;
    r->dst_off = r->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if ((s = parse_hms(s, 24, &off)) == NULL)
            return -1;
        r->dst_off = -off;
    }
    if (*s == '\0')   /* no rule: the US one, as the C library assumes */
        s = ",M3.2.0,M11.1.0";
    if (*s != ',' || (s = parse_date(s + 1, &r->start)) == NULL || *s != ',' ||
        (s = parse_date(s + 1, &r->end)) == NULL)
        return -1;
    return *s == '\0' ? 0 : -1;
}

/* the instant, in local seconds since the epoch, of date @d in year @y */
static long long date_local(const struct tz_date *d, long long y)
{
    long long day;

    if (d->kind == 'J') {
        day = tz_days_from_civil(y, 1, 1) + d->n - 1 + (is_leap(y) && d->n >= 60);
    } else if (d->kind == 'D') {
        day = tz_days_from_civil(y, 1, 1) + d->n;
    } else {
        static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        long long first = tz_days_from_civil(y, (unsigned)d->m, 1);
        int len = mdays[d->m - 1] + (d->m == 2 && is_leap(y));
        int wday = (int)(((first + 4) % 7 + 7) % 7);   /* 1970-01-01 was a Thursday */
        day = first + (d->d - wday + 7) % 7 + 7 * (d->w - 1);
        while (day >= first + len)
            day -= 7;
    }
    return day * 86400 + d->time;
}

static long rule_offset(const struct tz_rule *r, time_t t)
{
    if (!r->has_dst)
        return r->std_off;
    struct tm tm;
    gmtime_r(&t, &tm);
    long long y = (long long)tm.tm_year + 1900;
    /* the change to summer time happens in standard time, the change back in summer time */
    long long start = date_local(&r->start, y) - r->std_off;
    long long end = date_local(&r->end, y) - r->dst_off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? r->dst_off : r->std_off;
}

/* --- TZif --- */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* 0 when @b..@len is a TZif file; fills @z */
static int parse_tzif(const unsigned char *b, size_t len, struct cf_tz *z)
{
    const unsigned char *p = b, *end = b + len;
    int tsize = 4;
    uint32_t c[6];   /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */

    for (int pass = 0; pass < 2; pass++) {
        if (end - p < 44 || memcmp(p, "TZif", 4) != 0)
            return -1;
        char version = (char)p[4];
        for (int i = 0; i < 6; i++)
            c[i] = be32(p + 20 + 4 * i);
        p += 44;
        if (c[4] == 0 || c[3] > 100000 || c[4] > 256 || c[5] > 100000 || c[2] > 100000)
            return -1;
        size_t body = (size_t)c[3] * (size_t)tsize + c[3] + (size_t)c[4] * 6 + c[5] +
                      (size_t)c[2] * (size_t)(tsize + 4) + c[1] + c[0];
        if ((size_t)(end - p) < body)
            return -1;
        if (pass == 0 && version >= '2') {
            p += body;   /* the 64-bit data follow */
            tsize = 8;
            continue;
        }
        const unsigned char *times = p, *idx = p + (size_t)c[3] * (size_t)tsize;
        const unsigned char *types = idx + c[3];
        z->n = c[3];
        z->at = cf_calloc(z->n ? z->n : 1, sizeof(*z->at));
        z->off = cf_calloc(z->n ? z->n : 1, sizeof(*z->off));
        for (size_t i = 0; i < z->n; i++) {
            if (idx[i] >= c[4])
                return -1;
            z->at[i] = tsize == 8 ? be64(times + 8 * i) : (int32_t)be32(times + 4 * i);
            z->off[i] = (int32_t)be32(types + 6 * idx[i]);
        }
        z->off0 = (int32_t)be32(types);
        p += body;
        /* the footer: "\n<POSIX TZ string>\n", for the times after the last transition */
        if (tsize == 8 && p < end && *p == '\n') {
            const unsigned char *nl = memchr(p + 1, '\n', (size_t)(end - p - 1));
            if (nl != NULL && nl > p + 1) {
                char *s = cf_strndup((const char *)p + 1, (size_t)(nl - p - 1));
                z->has_rule = parse_rule(s, &z->rule) == 0;
                free(s);
            }
        }
        return 0;
    }
    return -1;
}

/* --- zones --- */

static int unknown(const char *name, struct cf_err *e)
{
    return cf_err_set(e, CF_E_CONFIG,
                      "unknown timezone '%s'; HINT: use a name from /usr/share/zoneinfo such as "
                      "Europe/Berlin, or UTC",
                      name);
}

int tz_open(const char *name, struct cf_tz **out, struct cf_err *e)
{
    struct stat st;
    char path[512];
    const char *dir = getenv("TZDIR");
    struct cf_tz *z;
    struct buf b = BUF_INIT;

    *out = NULL;
    if (name != NULL && strlen(name) >= TZ_NAME_MAX)
        return cf_err_set(e, CF_E_CONFIG, "timezone '%.40s...' is too long", name);
    z = cf_calloc(1, sizeof(*z));
    if (name == NULL || name[0] == '\0' || strcmp(name, "UTC") == 0)
        goto done;   /* no transitions, offset 0 */
    if (name[0] != '/' && strstr(name, "..") == NULL) {
        snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            int rc = fs_read_file(path, 1u << 20, &b, NULL) == 0
                         ? parse_tzif((const unsigned char *)b.data, b.len, z)
                         : -1;
            buf_free(&b);
            if (rc != 0)
                goto fail;
            goto done;
        }
    }
    /* a POSIX TZ string names its standard time (3+ letters), then its offset */
    size_t letters = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    if (letters < 3 || name[letters] == '\0' || strchr("+-0123456789", name[letters]) == NULL ||
        parse_rule(name, &z->rule) != 0)
        goto fail;
    z->has_rule = true;
done:
    *out = z;
    return 0;
fail:
    tz_free(z);
    return unknown(name, e);
}

void tz_free(struct cf_tz *z)
{
    if (z == NULL)
        return;
    free(z->at);
    free(z->off);
    free(z);
}

long tz_offset(const struct cf_tz *z, time_t t)
{
    if (z == NULL)
        return 0;
    if (z->n == 0 || (int64_t)t >= z->at[z->n - 1]) {
        if (z->has_rule)
            return rule_offset(&z->rule, t);
        return z->n == 0 ? z->off0 : z->off[z->n - 1];
    }
    if ((int64_t)t < z->at[0])
        return z->off0;
    size_t lo = 0, hi = z->n - 1;   /* at[lo] <= t < at[hi] */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (z->at[mid] <= (int64_t)t)
            lo = mid;
        else
            hi = mid;
    }
    return z->off[lo];
}

void tz_localtime(const struct cf_tz *z, time_t t, struct tm *out)
{
    long off = tz_offset(z, t);
    time_t local = t + off;
    gmtime_r(&local, out);
    out->tm_gmtoff = off;
}

int time_zone_check(const char *tz, struct cf_err *e)
{
    struct cf_tz *z;

    if (tz_open(tz, &z, e) != 0)
        return -1;
    tz_free(z);
    return 0;
}
