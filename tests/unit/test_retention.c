/* test_retention.c - policies/retention.c, policies/objectives.c and the zones of
 * lib/core/tz.c: hand-written calendars (month ends, leap years, ISO weeks across years, DST in
 * a named zone), randomized timelines checked against the invariants and a brute-force oracle
 * (the C library's localtime under TZ), and two zones used at once from two threads. */
#include "unit.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../../lib/core/tz.h"
#include "../../lib/core/util.h"
#include "../../policies/objectives.h"
#include "../../policies/retention.h"

#define MAXB 128

static time_t T(const char *s)
{
    time_t t;
    struct cf_err e = CF_ERR_INIT;
    if (time_parse_rfc3339(s, &t, &e) != 0) {
        printf("# bad time %s: %s\n", s, e.msg);
        abort();
    }
    return t;
}


struct tl {
    struct ret_backup b[MAXB];
    struct ret_decision d[MAXB];
    char ids[MAXB][32];
    size_t n;
};

static void tl_add(struct tl *t, const char *when, enum ret_state st, bool pin)
{
    size_t i = t->n++;
    t->b[i].time = T(when);
    time_format_compact(t->b[i].time, t->ids[i], sizeof(t->ids[i]));
    t->b[i].id = t->ids[i];
    t->b[i].state = st;
    t->b[i].pinned = pin;
}

static int tl_apply(struct tl *t, const char *now, const struct ret_policy *p)
{
    struct cf_err e = CF_ERR_INIT;
    struct cf_tz *tz = NULL;
    int rc = tz_open(p->timezone, &tz, &e);
    if (rc == 0)
        rc = retention_apply(t->b, t->n, T(now), p, tz, t->d, &e);
    if (rc != 0)
        printf("# retention_apply: %s\n", e.msg);
    tz_free(tz);
    return rc;
}

/* "1010..." in input order: 1 kept, 0 deleted */
static const char *kept(const struct tl *t)
{
    static _Thread_local char s[MAXB + 1];   /* one per thread: two_zones_two_threads */
    for (size_t i = 0; i < t->n; i++)
        s[i] = t->d[i].keep ? '1' : '0';
    s[t->n] = '\0';
    return s;
}

TEST(empty_policy_keeps_everything)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { 0 };
    tl_add(&t, "2020-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2021-01-01T00:00:00Z", RET_DAMAGED, false);
    tl_add(&t, "2022-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2023-01-01T00:00:00Z", RET_INCOMPLETE, false);
    CHECK(retention_policy_empty(&p));
    CHECK_EQ_INT(tl_apply(&t, "2026-01-01T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "1111");
    CHECK(t.d[0].reasons & RET_BY_NO_POLICY);
    CHECK(t.d[1].reasons == RET_BY_DAMAGED);
    CHECK(t.d[3].reasons == RET_BY_INCOMPLETE);
}

TEST(no_backups)
{
    struct ret_policy p = { .keep_last = 1 };
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(retention_apply(NULL, 0, 0, &p, NULL, NULL, &e), 0);
}

TEST(keep_last_and_newest)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_last = 2 };
    char when[32];
    for (int h = 0; h < 6; h++) {
        snprintf(when, sizeof(when), "2026-11-22T0%d:00:00Z", h);
        tl_add(&t, when, RET_COMPLETE, false);
    }
    CHECK_EQ_INT(tl_apply(&t, "2026-11-22T12:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "000011");
    CHECK(t.d[5].reasons == (RET_BY_NEWEST | RET_BY_LAST));
    CHECK(t.d[4].reasons == RET_BY_LAST);
    CHECK(t.d[0].reasons == 0);
}

TEST(input_order_does_not_matter)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_last = 2 };
    tl_add(&t, "2026-11-22T03:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T01:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T05:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T02:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-11-22T12:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "1010");
}

TEST(daily_across_month_end)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_daily = 3 };
    tl_add(&t, "2026-01-30T23:00:00Z", RET_COMPLETE, false); /* Jan 30 */
    tl_add(&t, "2026-01-31T01:00:00Z", RET_COMPLETE, false); /* Jan 31, older */
    tl_add(&t, "2026-01-31T23:59:59Z", RET_COMPLETE, false); /* Jan 31, newest of day */
    tl_add(&t, "2026-02-01T00:00:00Z", RET_COMPLETE, false); /* Feb 1, older */
    tl_add(&t, "2026-02-01T12:00:00Z", RET_COMPLETE, false); /* Feb 1, newest */
    CHECK_EQ_INT(tl_apply(&t, "2026-02-02T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "10101");
    CHECK(t.d[0].reasons == RET_BY_DAILY);
    CHECK(t.d[4].reasons == (RET_BY_DAILY | RET_BY_NEWEST));
}

TEST(leap_years)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_daily = 10, .keep_monthly = 10 };
    tl_add(&t, "2024-02-28T12:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2024-02-29T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2024-02-29T23:00:00Z", RET_COMPLETE, false); /* Feb's newest */
    tl_add(&t, "2024-03-01T00:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2024-03-02T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "1011");
    CHECK(t.d[2].reasons == (RET_BY_DAILY | RET_BY_MONTHLY));
    CHECK(t.d[0].reasons == RET_BY_DAILY);

    /* 2100 is not a leap year: Feb 28 then Mar 1 are consecutive days */
    struct tl u = { .n = 0 };
    struct ret_policy q = { .keep_daily = 2 };
    tl_add(&u, "2100-02-27T12:00:00Z", RET_COMPLETE, false);
    tl_add(&u, "2100-02-28T12:00:00Z", RET_COMPLETE, false);
    tl_add(&u, "2100-03-01T12:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&u, "2100-03-02T00:00:00Z", &q), 0);
    CHECK_STR(kept(&u), "011");

    /* 2000 is one */
    struct tl v = { .n = 0 };
    struct ret_policy r = { .keep_monthly = 1, .keep_daily = 2 };
    tl_add(&v, "2000-02-28T12:00:00Z", RET_COMPLETE, false);
    tl_add(&v, "2000-02-29T12:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&v, "2000-03-01T00:00:00Z", &r), 0);
    CHECK_STR(kept(&v), "11");
    CHECK(v.d[1].reasons & RET_BY_MONTHLY);
    CHECK(!(v.d[0].reasons & RET_BY_MONTHLY));
}

TEST(iso_weeks_cross_the_year)
{
    /* 2020-12-28 (Mon) .. 2021-01-03 (Sun) is ISO week 2020-W53; 2021-01-04 starts W01 */
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_weekly = 2 };
    tl_add(&t, "2020-12-27T12:00:00Z", RET_COMPLETE, false); /* Sun, W52 */
    tl_add(&t, "2020-12-28T00:00:00Z", RET_COMPLETE, false); /* Mon, W53 */
    tl_add(&t, "2020-12-31T12:00:00Z", RET_COMPLETE, false); /* Thu, W53 */
    tl_add(&t, "2021-01-03T23:59:59Z", RET_COMPLETE, false); /* Sun, W53 newest */
    tl_add(&t, "2021-01-04T00:00:00Z", RET_COMPLETE, false); /* Mon, W01 */
    CHECK_EQ_INT(tl_apply(&t, "2021-01-05T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "00011");
    p.keep_weekly = 3;
    CHECK_EQ_INT(tl_apply(&t, "2021-01-05T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "10011");
    /* yearly splits the same week */
    struct ret_policy y = { .keep_yearly = 5 };
    CHECK_EQ_INT(tl_apply(&t, "2021-01-05T00:00:00Z", &y), 0);
    CHECK_STR(kept(&t), "00101");
}

TEST(weeks_before_1970)
{
    /* 1969-12-29 was a Monday, 1969-12-28 a Sunday: week arithmetic on negative days */
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_weekly = 5 };
    tl_add(&t, "1969-12-28T12:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "1969-12-29T12:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "1970-01-01T12:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "1970-01-04T12:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "1970-01-05T12:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "1970-02-01T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "10011");
}

TEST(monthly_and_yearly_month_ends)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_monthly = 4 };
    tl_add(&t, "2026-04-30T23:59:59Z", RET_COMPLETE, false); /* April's last second */
    tl_add(&t, "2026-05-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-05-31T23:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-06-30T10:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-07-01T10:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-07-02T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "10111");
    p.keep_monthly = 2;
    CHECK_EQ_INT(tl_apply(&t, "2026-07-02T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "00011");
    struct ret_policy y = { .keep_yearly = 2 };
    struct tl u = { .n = 0 };
    tl_add(&u, "2024-12-31T23:59:59Z", RET_COMPLETE, false);
    tl_add(&u, "2025-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&u, "2025-12-31T23:59:59Z", RET_COMPLETE, false);
    tl_add(&u, "2026-01-01T00:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&u, "2026-02-01T00:00:00Z", &y), 0);
    CHECK_STR(kept(&u), "0011");
}

TEST(hourly)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_hourly = 2 };
    tl_add(&t, "2026-11-22T01:10:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T01:50:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T02:10:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T02:20:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-22T04:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-11-22T05:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "00011");
}

TEST(timezone_moves_day_boundaries)
{
    /* 21:30Z and 22:30Z on June 1 are 23:30 and 00:30 in Berlin (CEST, +2): two days there,
     * one day in UTC */
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_daily = 2 };
    tl_add(&t, "2026-05-31T12:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-06-01T21:30:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-06-01T22:30:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-06-03T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "101");
    snprintf(p.timezone, sizeof(p.timezone), "Europe/Berlin");
    CHECK_EQ_INT(tl_apply(&t, "2026-06-03T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "011");
    /* New York (-5 in winter): 03:00Z on Jan 1 is still Dec 31 of the year before */
    struct tl u = { .n = 0 };
    struct ret_policy y = { .keep_yearly = 1 };
    tl_add(&u, "2025-12-31T12:00:00Z", RET_COMPLETE, false);
    tl_add(&u, "2026-01-01T03:00:00Z", RET_COMPLETE, false);
    y.keep_yearly = 2;
    CHECK_EQ_INT(tl_apply(&u, "2026-02-01T00:00:00Z", &y), 0);
    CHECK_STR(kept(&u), "11");
    snprintf(y.timezone, sizeof(y.timezone), "America/New_York");
    CHECK_EQ_INT(tl_apply(&u, "2026-02-01T00:00:00Z", &y), 0);
    CHECK_STR(kept(&u), "01");
    /* the process's own TZ is left as it was */
    CHECK(getenv("TZ") == NULL || strcmp(getenv("TZ"), "Europe/Berlin") != 0);
}

TEST(dst_in_berlin)
{
    struct ret_policy p = { .keep_hourly = 10 };
    snprintf(p.timezone, sizeof(p.timezone), "Europe/Berlin");

    /* fall back, 2026-10-25: 00:30Z is 02:30 CEST, 01:30Z is 02:30 CET: one local hour */
    struct tl t = { .n = 0 };
    tl_add(&t, "2026-10-24T23:30:00Z", RET_COMPLETE, false); /* 01:30 CEST */
    tl_add(&t, "2026-10-25T00:30:00Z", RET_COMPLETE, false); /* 02:30 CEST */
    tl_add(&t, "2026-10-25T01:30:00Z", RET_COMPLETE, false); /* 02:30 CET  */
    tl_add(&t, "2026-10-25T02:30:00Z", RET_COMPLETE, false); /* 03:30 CET  */
    CHECK_EQ_INT(tl_apply(&t, "2026-10-26T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "1011");
    /* the same local day holds 25 hours: one daily bucket */
    struct ret_policy d = { .keep_daily = 5 };
    snprintf(d.timezone, sizeof(d.timezone), "Europe/Berlin");
    struct tl u = { .n = 0 };
    tl_add(&u, "2026-10-24T22:00:00Z", RET_COMPLETE, false); /* 00:00 CEST, Oct 25 */
    tl_add(&u, "2026-10-25T22:59:59Z", RET_COMPLETE, false); /* 23:59:59 CET, Oct 25 */
    tl_add(&u, "2026-10-25T23:00:00Z", RET_COMPLETE, false); /* 00:00 CET, Oct 26 */
    CHECK_EQ_INT(tl_apply(&u, "2026-10-27T00:00:00Z", &d), 0);
    CHECK_STR(kept(&u), "011");

    /* spring forward, 2026-03-29: 00:30Z is 01:30 CET, 01:30Z is 03:30 CEST: distinct */
    struct tl v = { .n = 0 };
    tl_add(&v, "2026-03-29T00:30:00Z", RET_COMPLETE, false);
    tl_add(&v, "2026-03-29T01:30:00Z", RET_COMPLETE, false);
    tl_add(&v, "2026-03-29T01:45:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&v, "2026-03-30T00:00:00Z", &p), 0);
    CHECK_STR(kept(&v), "101");
    /* the 23-hour day: 2026-03-28T23:00Z .. 2026-03-29T21:59:59Z is one local day */
    struct tl w = { .n = 0 };
    tl_add(&w, "2026-03-28T22:59:59Z", RET_COMPLETE, false); /* Mar 28, 23:59:59 CET */
    tl_add(&w, "2026-03-28T23:00:00Z", RET_COMPLETE, false); /* Mar 29 00:00 CET */
    tl_add(&w, "2026-03-29T21:59:59Z", RET_COMPLETE, false); /* Mar 29 23:59:59 CEST */
    tl_add(&w, "2026-03-29T22:00:00Z", RET_COMPLETE, false); /* Mar 30 00:00 CEST */
    CHECK_EQ_INT(tl_apply(&w, "2026-03-31T00:00:00Z", &d), 0);
    CHECK_STR(kept(&w), "1011");
}

TEST(half_hour_zone)
{
    /* India (+05:30): 18:29Z is 23:59 local, 18:30Z is midnight */
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_daily = 5 };
    snprintf(p.timezone, sizeof(p.timezone), "Asia/Kolkata");
    tl_add(&t, "2026-11-21T18:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-21T18:29:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-11-21T18:30:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-11-22T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "011");
}

TEST(posix_tz_string)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_daily = 5 };
    snprintf(p.timezone, sizeof(p.timezone), "CET-1CEST,M3.5.0,M10.5.0/3");
    tl_add(&t, "2026-06-01T21:30:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-06-01T22:30:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-06-03T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "11");
}

TEST(bad_timezone)
{
    struct cf_err e = CF_ERR_INIT;
    struct ret_policy p = { .keep_daily = 1 };
    struct ret_backup b = { "x", 0, RET_COMPLETE, false };
    struct ret_decision d;
    struct cf_tz *tz = NULL;
    snprintf(p.timezone, sizeof(p.timezone), "Mars/Olympus");
    CHECK_EQ_INT(tz_open(p.timezone, &tz, &e), -1);
    CHECK(tz == NULL);
    CHECK_EQ_INT(e.code, CF_E_CONFIG);
    CHECK_MSG(e, "unknown timezone 'Mars/Olympus'");
    CHECK_MSG(e, "HINT:");
    /* a named zone the caller did not open is refused, not read as UTC */
    CHECK_EQ_INT(retention_apply(&b, 1, 10, &p, NULL, &d, &e), -1);
    CHECK_EQ_INT(e.code, CF_E_CONFIG);
    CHECK_EQ_INT(time_zone_check("Mars/Olympus", &e), -1);
    CHECK_EQ_INT(time_zone_check("zone.tab", &e), -1);   /* in the database, not a zone */
    CHECK_EQ_INT(time_zone_check("ABCD", &e), -1);
    CHECK_EQ_INT(time_zone_check("../../etc/passwd", &e), -1);
    CHECK_EQ_INT(time_zone_check("/etc/passwd", &e), -1);
    CHECK_EQ_INT(time_zone_check("Europe", &e), -1);   /* a directory */
    CHECK_EQ_INT(time_zone_check("", &e), 0);
    CHECK_EQ_INT(time_zone_check("UTC", &e), 0);
    CHECK_EQ_INT(time_zone_check("Europe/Berlin", &e), 0);
    CHECK_EQ_INT(time_zone_check("EST5EDT", &e), 0);
}

TEST(pins_survive)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_last = 1 };
    tl_add(&t, "2020-01-01T00:00:00Z", RET_COMPLETE, true);
    tl_add(&t, "2020-01-02T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2020-01-03T00:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-01-01T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "101");
    CHECK(t.d[0].reasons == RET_BY_PIN);
    /* a pin does not take the place of a keep-last slot */
    struct tl u = { .n = 0 };
    tl_add(&u, "2020-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&u, "2020-01-02T00:00:00Z", RET_COMPLETE, false);
    tl_add(&u, "2020-01-03T00:00:00Z", RET_COMPLETE, true);
    p.keep_last = 2;
    CHECK_EQ_INT(tl_apply(&u, "2026-01-01T00:00:00Z", &p), 0);
    CHECK_STR(kept(&u), "011");
    CHECK(u.d[2].reasons == (RET_BY_PIN | RET_BY_NEWEST | RET_BY_LAST));
}

TEST(newest_complete_always_kept)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_within = 3600 };
    tl_add(&t, "2026-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-01-02T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-01-03T00:00:00Z", RET_DAMAGED, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-11-01T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "011");
    CHECK(t.d[1].reasons == RET_BY_NEWEST);
    CHECK(t.d[2].reasons == RET_BY_DAMAGED);
}

TEST(damaged_and_incomplete_do_not_count)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_last = 2, .keep_daily = 1 };
    tl_add(&t, "2026-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-01-02T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-01-03T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-01-04T00:00:00Z", RET_DAMAGED, false);
    tl_add(&t, "2026-01-04T06:00:00Z", RET_INCOMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-01-05T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "01111");
    CHECK(t.d[2].reasons == (RET_BY_NEWEST | RET_BY_LAST | RET_BY_DAILY));
    CHECK(t.d[1].reasons == RET_BY_LAST);
    CHECK(t.d[3].reasons == RET_BY_DAMAGED);
    CHECK(t.d[4].reasons == RET_BY_INCOMPLETE);
    /* with only damaged backups nothing is "newest" and nothing is deleted */
    struct tl u = { .n = 0 };
    tl_add(&u, "2026-01-01T00:00:00Z", RET_DAMAGED, false);
    tl_add(&u, "2026-01-02T00:00:00Z", RET_DAMAGED, true);
    CHECK_EQ_INT(tl_apply(&u, "2026-01-05T00:00:00Z", &p), 0);
    CHECK_STR(kept(&u), "11");
    CHECK(u.d[1].reasons == (RET_BY_DAMAGED | RET_BY_PIN));
}

TEST(keep_within_boundary)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_within = 2 * 86400 };
    tl_add(&t, "2026-01-01T00:00:00Z", RET_COMPLETE, false); /* exactly 2d old: out */
    tl_add(&t, "2026-01-01T00:00:01Z", RET_COMPLETE, false); /* 1s younger: in */
    tl_add(&t, "2026-01-02T00:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-01-03T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "011");
    CHECK(t.d[1].reasons == RET_BY_WITHIN);
}

TEST(future_backups_kept)
{
    struct tl t = { .n = 0 };
    struct ret_policy p = { .keep_last = 1 };
    tl_add(&t, "2026-01-01T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2026-01-02T00:00:00Z", RET_COMPLETE, false);
    tl_add(&t, "2027-01-02T00:00:00Z", RET_COMPLETE, false);
    CHECK_EQ_INT(tl_apply(&t, "2026-01-03T00:00:00Z", &p), 0);
    CHECK_STR(kept(&t), "001");
    CHECK(t.d[2].reasons & RET_BY_FUTURE);
}

TEST(reason_names)
{
    char s[128];
    retention_reasons_format(0, s, sizeof(s));
    CHECK_STR(s, "none");
    retention_reasons_format(RET_BY_DAILY | RET_BY_PIN | RET_BY_FUTURE, s, sizeof(s));
    CHECK_STR(s, "pinned,daily,future");
    retention_reasons_format(RET_BY_DAILY | RET_BY_PIN, s, 8);
    CHECK_STR(s, "pinned");
    CHECK_STR(retention_reason_name(RET_BY_WITHIN), "within");
    CHECK_STR(retention_reason_name(RET_BY_NO_POLICY), "no-policy");
    CHECK_STR(retention_reason_name(3), "?");
}

/* --- randomized timelines --- */

static unsigned long long rng = 0x9e3779b97f4a7c15ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static const char *const zones[] = { "", "UTC", "Europe/Berlin", "America/New_York",
                                     "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham" };

/* local calendar key by the C library, independently of the engine's arithmetic */
static void oracle_keys(const struct ret_backup *b, size_t n, const char *tz, long long keys[][5])
{
    char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;
    setenv("TZ", tz[0] ? tz : "UTC", 1);
    tzset();
    for (size_t i = 0; i < n; i++) {
        struct tm tm, mid = { 0 };
        localtime_r(&b[i].time, &tm);
        mid.tm_year = tm.tm_year;
        mid.tm_mon = tm.tm_mon;
        mid.tm_mday = tm.tm_mday;
        mid.tm_hour = 12;
        long long day = (long long)(timegm(&mid) / 86400);
        /* ISO week via strftime: "%G-%V" */
        char wk[16];
        strftime(wk, sizeof(wk), "%G%V", &tm);
        keys[i][0] = day * 24 + tm.tm_hour;
        keys[i][1] = day;
        keys[i][2] = atoll(wk);
        keys[i][3] = (long long)tm.tm_year * 12 + tm.tm_mon;
        keys[i][4] = tm.tm_year;
    }
    if (old) {
        setenv("TZ", old, 1);
        free(old);
    } else {
        unsetenv("TZ");
    }
    tzset();
}

/* Brute force: is backup i kept by bucket rule r, given the complete set? */
static bool oracle_bucket(const struct ret_backup *b, size_t n, long long keys[][5], size_t i,
                          int r, long count)
{
    if (count <= 0 || b[i].state != RET_COMPLETE)
        return false;
#define NEWER(j, k) (b[j].time > b[k].time || (b[j].time == b[k].time && strcmp(b[j].id, b[k].id) > 0))
    for (size_t j = 0; j < n; j++)
        if (j != i && b[j].state == RET_COMPLETE && keys[j][r] == keys[i][r] && NEWER(j, i))
            return false;   /* not its bucket's newest */
    /* count buckets whose newest is newer than i */
    long newer = 0;
    for (size_t j = 0; j < n; j++) {
        if (j == i || b[j].state != RET_COMPLETE || !NEWER(j, i) || keys[j][r] == keys[i][r])
            continue;
        bool head = true;
        for (size_t k = 0; k < n && head; k++)
            if (k != j && b[k].state == RET_COMPLETE && keys[k][r] == keys[j][r] && NEWER(k, j))
                head = false;
        newer += head;
    }
    return newer < count;
#undef NEWER
}

static void random_case(struct tl *t, struct ret_policy *p, time_t *now)
{
    time_t base = T("2023-01-01T00:00:00Z") + (time_t)rnd(3 * 365) * 86400;
    memset(t, 0, sizeof(*t));
    memset(p, 0, sizeof(*p));
    t->n = rnd(60);
    time_t at = base;
    for (size_t i = 0; i < t->n; i++) {
        /* clusters: minutes apart, hours apart, or days apart */
        static const unsigned gaps[] = { 60, 1800, 3600, 4 * 3600, 86400, 7 * 86400, 40 * 86400 };
        at += (time_t)rnd(gaps[rnd(7)]) + (rnd(10) == 0 ? 0 : 1);
        t->b[i].time = at;
        snprintf(t->ids[i], sizeof(t->ids[i]), "%08zx", (size_t)rnd(1u << 30));
        t->b[i].id = t->ids[i];
        unsigned s = rnd(10);
        t->b[i].state = s == 0 ? RET_DAMAGED : s == 1 ? RET_INCOMPLETE : RET_COMPLETE;
        t->b[i].pinned = rnd(12) == 0;
    }
    /* shuffle the input */
    for (size_t i = t->n; i > 1; i--) {
        size_t j = rnd((unsigned)i);
        struct ret_backup x = t->b[i - 1];
        t->b[i - 1] = t->b[j];
        t->b[j] = x;
    }
    long *rules[] = { &p->keep_last, &p->keep_hourly, &p->keep_daily, &p->keep_weekly,
                      &p->keep_monthly, &p->keep_yearly };
    for (int k = 0; k < 6; k++)
        *rules[k] = rnd(3) == 0 ? (long)rnd(8) : 0;
    if (rnd(4) == 0)
        p->keep_within = (int64_t)rnd(30 * 86400);
    snprintf(p->timezone, sizeof(p->timezone), "%s", zones[rnd(7)]);
    *now = at + (time_t)rnd(10 * 86400) - (rnd(8) == 0 ? 86400 : 0);
}

TEST(randomized_invariants)
{
    static struct tl t, again, clean;
    struct ret_policy p;
    time_t now;
    struct cf_err e = CF_ERR_INIT;
    static long long keys[MAXB][5];
    int bad = 0;

    for (int iter = 0; iter < 3000 && bad < 5; iter++) {
        random_case(&t, &p, &now);
        int before = unit_failed_checks;
        struct cf_tz *tz = NULL;
        CHECK_EQ_INT(tz_open(p.timezone, &tz, &e), 0);
        CHECK_EQ_INT(retention_apply(t.b, t.n, now, &p, tz, t.d, &e), 0);

        size_t newest = (size_t)-1;
        for (size_t i = 0; i < t.n; i++)
            if (t.b[i].state == RET_COMPLETE &&
                (newest == (size_t)-1 || t.b[i].time > t.b[newest].time ||
                 (t.b[i].time == t.b[newest].time && strcmp(t.b[i].id, t.b[newest].id) > 0)))
                newest = i;
        oracle_keys(t.b, t.n, p.timezone, keys);
        static const long *cnt[5];
        cnt[0] = &p.keep_hourly, cnt[1] = &p.keep_daily, cnt[2] = &p.keep_weekly;
        cnt[3] = &p.keep_monthly, cnt[4] = &p.keep_yearly;
        static const unsigned bits[5] = { RET_BY_HOURLY, RET_BY_DAILY, RET_BY_WEEKLY,
                                          RET_BY_MONTHLY, RET_BY_YEARLY };
        size_t ncomp = 0, nlast = 0;
        for (size_t i = 0; i < t.n; i++) {
            const struct ret_decision *d = &t.d[i];
            CHECK(d->keep == (d->reasons != 0));
            if (t.b[i].pinned)
                CHECK(d->keep && (d->reasons & RET_BY_PIN));
            if (t.b[i].state != RET_COMPLETE) {
                CHECK(d->keep);
                CHECK((d->reasons & ~(unsigned)(RET_BY_PIN | RET_BY_DAMAGED | RET_BY_INCOMPLETE)) == 0);
            } else {
                ncomp++;
            }
            if (i == newest)
                CHECK(d->keep && (d->reasons & RET_BY_NEWEST));
            else
                CHECK(!(d->reasons & RET_BY_NEWEST));
            if (retention_policy_empty(&p))
                CHECK(d->keep);
            nlast += !!(d->reasons & RET_BY_LAST);
            if (t.b[i].state == RET_COMPLETE && p.keep_within > 0)
                CHECK(!!(d->reasons & RET_BY_WITHIN) == ((int64_t)(now - t.b[i].time) < p.keep_within));
            if (t.b[i].state == RET_COMPLETE)
                CHECK(!!(d->reasons & RET_BY_FUTURE) == (t.b[i].time > now));
            for (int r = 0; r < 5; r++)
                CHECK(!!(d->reasons & bits[r]) == oracle_bucket(t.b, t.n, keys, i, r, *cnt[r]));
        }
        CHECK_EQ_INT(nlast, (long)ncomp < p.keep_last ? (long)ncomp : p.keep_last);

        /* idempotent: the kept set, run again, keeps everything for the same reasons */
        memset(&again, 0, sizeof(again));
        for (size_t i = 0; i < t.n; i++)
            if (t.d[i].keep) {
                again.b[again.n] = t.b[i];
                again.d[again.n].reasons = t.d[i].reasons; /* stash */
                again.n++;
            }
        unsigned want[MAXB];
        for (size_t i = 0; i < again.n; i++)
            want[i] = again.d[i].reasons;
        CHECK_EQ_INT(retention_apply(again.b, again.n, now, &p, tz, again.d, &e), 0);
        for (size_t i = 0; i < again.n; i++) {
            CHECK(again.d[i].keep);
            CHECK_EQ_INT(again.d[i].reasons, want[i]);
        }

        /* damaged and incomplete never count: without them, complete ones decide alike */
        memset(&clean, 0, sizeof(clean));
        size_t map[MAXB];
        for (size_t i = 0; i < t.n; i++)
            if (t.b[i].state == RET_COMPLETE) {
                map[clean.n] = i;
                clean.b[clean.n++] = t.b[i];
            }
        CHECK_EQ_INT(retention_apply(clean.b, clean.n, now, &p, tz, clean.d, &e), 0);
        for (size_t i = 0; i < clean.n; i++)
            CHECK_EQ_INT(clean.d[i].reasons, t.d[map[i]].reasons);

        /* more generous rules never delete more (an empty policy is the exception: it keeps
         * everything, any rule at all keeps less) */
        struct ret_policy q = p;
        q.keep_daily += 1;
        q.keep_last += 1;
        CHECK_EQ_INT(retention_apply(t.b, t.n, now, &q, tz, again.d, &e), 0);
        tz_free(tz);
        for (size_t i = 0; i < t.n; i++)
            if (t.d[i].keep && !retention_policy_empty(&p))
                CHECK(again.d[i].keep);

        if (unit_failed_checks != before) {
            bad++;
            printf("# failing case iter=%d n=%zu tz='%s' now=%lld last=%ld h=%ld d=%ld w=%ld "
                   "m=%ld y=%ld within=%lld\n",
                   iter, t.n, p.timezone, (long long)now, p.keep_last, p.keep_hourly,
                   p.keep_daily, p.keep_weekly, p.keep_monthly, p.keep_yearly,
                   (long long)p.keep_within);
        }
    }
}

/* --- two zones at once --- */

/* one thread's work: the Berlin day split and the New York year split of
 * timezone_moves_day_boundaries, in turn, @rounds times each; the number of wrong answers */
struct zone_job {
    int first;   /* which case the thread starts with */
    int rounds;
    int wrong;
};

static void *zone_worker(void *arg)
{
    struct zone_job *j = arg;
    struct tl berlin = { .n = 0 }, york = { .n = 0 };
    struct ret_policy pb = { .keep_daily = 2 }, py = { .keep_yearly = 2 };
    struct cf_tz *zb = NULL, *zy = NULL;
    struct cf_err e = CF_ERR_INIT;

    snprintf(pb.timezone, sizeof(pb.timezone), "Europe/Berlin");
    snprintf(py.timezone, sizeof(py.timezone), "America/New_York");
    tl_add(&berlin, "2026-05-31T12:00:00Z", RET_COMPLETE, false);
    tl_add(&berlin, "2026-06-01T21:30:00Z", RET_COMPLETE, false);
    tl_add(&berlin, "2026-06-01T22:30:00Z", RET_COMPLETE, false);
    tl_add(&york, "2025-12-31T12:00:00Z", RET_COMPLETE, false);
    tl_add(&york, "2026-01-01T03:00:00Z", RET_COMPLETE, false);
    if (tz_open(pb.timezone, &zb, &e) != 0 || tz_open(py.timezone, &zy, &e) != 0) {
        j->wrong = -1;
        goto out;
    }
    for (int i = 0; i < 2 * j->rounds; i++) {
        if ((i + j->first) % 2 == 0) {
            if (retention_apply(berlin.b, berlin.n, T("2026-06-03T00:00:00Z"), &pb, zb,
                                berlin.d, &e) != 0 || strcmp(kept(&berlin), "011") != 0)
                j->wrong++;
        } else {
            if (retention_apply(york.b, york.n, T("2026-02-01T00:00:00Z"), &py, zy, york.d,
                                &e) != 0 || strcmp(kept(&york), "01") != 0)
                j->wrong++;
        }
    }
out:
    tz_free(zb);
    tz_free(zy);
    return NULL;
}

TEST(two_zones_two_threads)
{
    struct zone_job a = { 0, 2000, 0 }, b = { 1, 2000, 0 };
    pthread_t ta, tb;
    CHECK_EQ_INT(pthread_create(&ta, NULL, zone_worker, &a), 0);
    CHECK_EQ_INT(pthread_create(&tb, NULL, zone_worker, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    CHECK_EQ_INT(a.wrong, 0);
    CHECK_EQ_INT(b.wrong, 0);
}

/* --- objectives --- */

TEST(rpo)
{
    struct rpo_eval r;
    time_t now = T("2026-11-22T06:00:00Z");
    objective_rpo(true, now - 26 * 3600, now, 26 * 3600, &r);
    CHECK_EQ_INT(r.state, OBJ_OK);
    CHECK_EQ_INT(r.age, 26 * 3600);
    objective_rpo(true, now - 26 * 3600 - 1, now, 26 * 3600, &r);
    CHECK_EQ_INT(r.state, OBJ_VIOLATED);
    objective_rpo(false, 0, now, 3600, &r);
    CHECK_EQ_INT(r.state, OBJ_VIOLATED);
    CHECK(!r.have_backup);
    objective_rpo(true, now - 999999, now, 0, &r);
    CHECK_EQ_INT(r.state, OBJ_NONE);
    CHECK_EQ_INT(r.age, 999999);
    objective_rpo(true, now + 100, now, 60, &r);
    CHECK_EQ_INT(r.state, OBJ_OK);
    CHECK_EQ_INT(r.age, 0);
    CHECK_STR(objective_state_name(OBJ_VIOLATED), "VIOLATED");
    CHECK_STR(objective_state_name(OBJ_OK), "OK");
    CHECK_STR(objective_state_name(OBJ_NONE), "NONE");
}

TEST(rto)
{
    CHECK_EQ_INT(objective_rto(600, 0), OBJ_NONE);
    CHECK_EQ_INT(objective_rto(600, 600), OBJ_OK);
    CHECK_EQ_INT(objective_rto(601, 600), OBJ_VIOLATED);
}

/* drill-every: the last drill must have passed and be no older than the objective */
TEST(drill_every)
{
    time_t now = T("2026-11-22T06:00:00Z");
    const int64_t d90 = 90 * 86400;
    CHECK_EQ_INT(objective_drill(true, now - d90, true, now, d90), OBJ_OK);
    CHECK_EQ_INT(objective_drill(true, now - d90 - 1, true, now, d90), OBJ_VIOLATED);
    CHECK_EQ_INT(objective_drill(true, now, false, now, d90), OBJ_VIOLATED);
    CHECK_EQ_INT(objective_drill(false, 0, false, now, d90), OBJ_VIOLATED);
    /* without an objective only a failed last drill is flagged */
    CHECK_EQ_INT(objective_drill(false, 0, false, now, 0), OBJ_NONE);
    CHECK_EQ_INT(objective_drill(true, now - 10 * d90, true, now, 0), OBJ_NONE);
    CHECK_EQ_INT(objective_drill(true, now, false, now, 0), OBJ_VIOLATED);
}

int main(void)
{
    unsetenv("TZ");
    RUN(empty_policy_keeps_everything);
    RUN(no_backups);
    RUN(keep_last_and_newest);
    RUN(input_order_does_not_matter);
    RUN(daily_across_month_end);
    RUN(leap_years);
    RUN(iso_weeks_cross_the_year);
    RUN(weeks_before_1970);
    RUN(monthly_and_yearly_month_ends);
    RUN(hourly);
    RUN(timezone_moves_day_boundaries);
    RUN(dst_in_berlin);
    RUN(half_hour_zone);
    RUN(posix_tz_string);
    RUN(bad_timezone);
    RUN(pins_survive);
    RUN(newest_complete_always_kept);
    RUN(damaged_and_incomplete_do_not_count);
    RUN(keep_within_boundary);
    RUN(future_backups_kept);
    RUN(reason_names);
    RUN(randomized_invariants);
    RUN(two_zones_two_threads);
    RUN(rpo);
    RUN(rto);
    RUN(drill_every);
    return unit_done();
}
