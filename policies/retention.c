#include "retention.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/core/tz.h"
#include "../lib/core/util.h"

const char *const retention_keys[] = {
    "keep-last", "keep-hourly", "keep-daily", "keep-weekly", "keep-monthly",
    "keep-yearly", "keep-within", "timezone", "keep-pitr", NULL,
};

/* Calendar fields of one instant in the policy's zone. */
struct cal {
    long long day;   /* days since 1970-01-01 of the local date */
    int year, month, hour;
};

static bool tz_is_utc(const char *tz)
{
    return tz == NULL || tz[0] == '\0' || strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0;
}

static void tm_to_cal(const struct tm *tm, struct cal *c)
{
    c->year = tm->tm_year + 1900;
    c->month = tm->tm_mon + 1;
    c->hour = tm->tm_hour;
    c->day = tz_days_from_civil(c->year, (unsigned)c->month, (unsigned)tm->tm_mday);
}

/* the calendar fields of each backup in zone @tz (NULL: UTC): pure arithmetic on the zone's
 * table, no process-wide TZ */
static void to_cal(const struct ret_backup *b, size_t n, const struct cf_tz *tz, struct cal *out)
{
    struct tm tm;

    for (size_t i = 0; i < n; i++) {
        tz_localtime(tz, b[i].time, &tm);
        tm_to_cal(&tm, &out[i]);
    }
}

bool retention_policy_empty(const struct ret_policy *p)
{
    return p->keep_last <= 0 && p->keep_hourly <= 0 && p->keep_daily <= 0 &&
           p->keep_weekly <= 0 && p->keep_monthly <= 0 && p->keep_yearly <= 0 &&
           p->keep_within <= 0;
}

/* newest first; equal times by id, larger first, so the order is total and repeatable
 * (@base: the backups the indexes point into) */
static int cmp_newest(const void *a, const void *b, void *base)
{
    const struct ret_backup *x = &((const struct ret_backup *)base)[*(const size_t *)a];
    const struct ret_backup *y = &((const struct ret_backup *)base)[*(const size_t *)b];
    if (x->time != y->time)
        return x->time > y->time ? -1 : 1;
    int c = strcmp(y->id ? y->id : "", x->id ? x->id : "");
    if (c != 0)
        return c;
    return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

struct bucket_ent {
    long long key;
    size_t rank;   /* position among complete backups, 0 = newest */
};

static int cmp_bucket(const void *a, const void *b)
{
    const struct bucket_ent *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static int cmp_rank(const void *a, const void *b)
{
    const struct bucket_ent *x = a, *y = b;
    return x->rank < y->rank ? -1 : x->rank > y->rank;
}

static long long cal_key(const struct cal *c, unsigned rule)
{
    switch (rule) {
    case RET_BY_HOURLY: return c->day * 24 + c->hour;
    case RET_BY_DAILY: return c->day;
    /* 1970-01-01 was a Thursday: weeks starting Monday are floor((day + 3) / 7) */
    case RET_BY_WEEKLY: return c->day + 3 >= 0 ? (c->day + 3) / 7 : -((-(c->day + 3) + 6) / 7);
    case RET_BY_MONTHLY: return (long long)c->year * 12 + c->month - 1;
    default: return c->year;
    }
}

/* Keep the newest backup of each of the @count newest buckets of @rule. @comp lists the
 * complete backups newest first (indexes into @b / @cal / @out). */
static void keep_buckets(const size_t *comp, size_t nc, const struct cal *cal, unsigned rule,
                         long count, struct ret_decision *out, struct bucket_ent *tmp)
{
    size_t nb = 0;

    if (count <= 0 || nc == 0)
        return;
    for (size_t r = 0; r < nc; r++) {
        tmp[r].key = cal_key(&cal[comp[r]], rule);
        tmp[r].rank = r;
    }
    qsort(tmp, nc, sizeof(*tmp), cmp_bucket);
    /* the first of each key run is that bucket's newest backup */
    for (size_t r = 0; r < nc; r++)
        if (r == 0 || tmp[r].key != tmp[r - 1].key)
            tmp[nb++] = tmp[r];
    qsort(tmp, nb, sizeof(*tmp), cmp_rank);
    for (size_t k = 0; k < nb && (long)k < count; k++)
        out[comp[tmp[k].rank]].reasons |= rule;
}

int retention_apply(const struct ret_backup *b, size_t n, time_t now, const struct ret_policy *p,
                    const struct cf_tz *tz, struct ret_decision *out, struct cf_err *e)
{
    size_t *order = NULL, *comp = NULL, nc = 0;
    struct cal *cal = NULL;
    struct bucket_ent *tmp = NULL;

    if (tz == NULL && !tz_is_utc(p->timezone))
        return cf_err_set(e, CF_E_CONFIG, "timezone '%s' was not opened", p->timezone);
    if (n == 0)
        return 0;
    order = cf_calloc(n, sizeof(*order));
    comp = cf_calloc(n, sizeof(*comp));
    cal = cf_calloc(n, sizeof(*cal));
    tmp = cf_calloc(n, sizeof(*tmp));

    for (size_t i = 0; i < n; i++) {
        order[i] = i;
        out[i].keep = false;
        out[i].reasons = 0;
    }
    qsort_r(order, n, sizeof(*order), cmp_newest, (void *)b);

    to_cal(b, n, tz, cal);
    bool empty = retention_policy_empty(p);

    for (size_t k = 0; k < n; k++) {
        size_t i = order[k];
        if (b[i].pinned)
            out[i].reasons |= RET_BY_PIN;
        if (b[i].state == RET_DAMAGED) {
            out[i].reasons |= RET_BY_DAMAGED;
            continue;
        }
        if (b[i].state == RET_INCOMPLETE) {
            out[i].reasons |= RET_BY_INCOMPLETE;
            continue;
        }
        if (b[i].time > now)
            out[i].reasons |= RET_BY_FUTURE;
        if (empty)
            out[i].reasons |= RET_BY_NO_POLICY;
        if (nc == 0)
            out[i].reasons |= RET_BY_NEWEST;
        if ((long)nc < p->keep_last)
            out[i].reasons |= RET_BY_LAST;
        if (p->keep_within > 0 && (int64_t)(now - b[i].time) < p->keep_within)
            out[i].reasons |= RET_BY_WITHIN;
        comp[nc++] = i;
    }
    keep_buckets(comp, nc, cal, RET_BY_HOURLY, p->keep_hourly, out, tmp);
    keep_buckets(comp, nc, cal, RET_BY_DAILY, p->keep_daily, out, tmp);
    keep_buckets(comp, nc, cal, RET_BY_WEEKLY, p->keep_weekly, out, tmp);
    keep_buckets(comp, nc, cal, RET_BY_MONTHLY, p->keep_monthly, out, tmp);
    keep_buckets(comp, nc, cal, RET_BY_YEARLY, p->keep_yearly, out, tmp);
    for (size_t i = 0; i < n; i++)
        out[i].keep = out[i].reasons != 0;

    free(tmp);
    free(cal);
    free(comp);
    free(order);
    return 0;
}

static const char *const reason_names[RET_REASON_COUNT] = {
    "pinned", "newest", "last", "hourly", "daily", "weekly", "monthly",
    "yearly", "within", "damaged", "incomplete", "no-policy", "future", "pitr",
};

const char *retention_reason_name(unsigned bit)
{
    for (unsigned i = 0; i < RET_REASON_COUNT; i++)
        if (bit == 1u << i)
            return reason_names[i];
    return "?";
}

void retention_reasons_format(unsigned reasons, char *out, size_t cap)
{
    size_t len = 0;

    if (cap == 0)
        return;
    out[0] = '\0';
    if (reasons == 0) {
        snprintf(out, cap, "none");
        return;
    }
    for (unsigned i = 0; i < RET_REASON_COUNT; i++) {
        if (!(reasons & (1u << i)))
            continue;
        int w = snprintf(out + len, cap - len, "%s%s", len ? "," : "", reason_names[i]);
        if (w < 0 || (size_t)w >= cap - len) {
            out[len] = '\0';
            break;
        }
        len += (size_t)w;
    }
}
