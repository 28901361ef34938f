/* test_schedule.c - policies/schedule.c: the five fields (names, ranges, steps, lists, the
 * day-of-month/day-of-week OR rule, shorthands), every bad form, the next fire time checked
 * against a minute-by-minute oracle in UTC and in a named zone away from DST, and both DST
 * transitions of Europe/Berlin for wildcard and fixed-time schedules. */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <time.h>

#include "../../lib/core/tz.h"
#include "../../lib/core/util.h"
#include "../../policies/schedule.h"

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

/* next fire of @expr in @tz after @after, or -1 */
static time_t next_of(const char *expr, const struct cf_tz *tz, time_t after)
{
    struct sched s;
    struct cf_err e = CF_ERR_INIT;
    time_t t;
    if (schedule_parse(expr, &s, &e) != 0) {
        printf("# parse %s: %s\n", expr, e.msg);
        return -1;
    }
    if (schedule_next(&s, tz, after, &t, &e) != 0) {
        printf("# next %s: %s\n", expr, e.msg);
        return -1;
    }
    return t;
}

#define CHECK_NEXT(expr, tz, after, want) CHECK_EQ_INT(next_of(expr, tz, T(after)), T(want))

TEST(fields)
{
    struct sched s;
    struct cf_err e = CF_ERR_INIT;

    CHECK_EQ_INT(schedule_parse("5,10-12,*/20 1-23/11 1,15 jan-MAR,dec mon-fri", &s, &e), 0);
    CHECK_EQ_INT(s.minute, (1ull << 0) | (1ull << 5) | (1ull << 10) | (1ull << 11) |
                               (1ull << 12) | (1ull << 20) | (1ull << 40));
    CHECK_EQ_INT(s.hour, (1u << 1) | (1u << 12) | (1u << 23));
    CHECK_EQ_INT(s.dom, (1u << 1) | (1u << 15));
    CHECK_EQ_INT(s.month, (1u << 1) | (1u << 2) | (1u << 3) | (1u << 12));
    CHECK_EQ_INT(s.dow, 0x3e);
    CHECK(!s.min_star && !s.hour_star && !s.dom_star && !s.dow_star);
    CHECK(!schedule_wildcard(&s));
    CHECK_EQ_INT(schedule_parse("*/5 * * * 7", &s, &e), 0);
    CHECK_EQ_INT(s.dow, 1);   /* 7 is Sunday */
    CHECK(s.min_star && s.hour_star && s.dom_star && !s.dow_star);
    CHECK(schedule_wildcard(&s));
    CHECK_EQ_INT(schedule_parse("0 0 * * 5-7", &s, &e), 0);
    CHECK_EQ_INT(s.dow, (1u << 0) | (1u << 5) | (1u << 6));
    CHECK_EQ_INT(schedule_parse("  0\t3  * *  sun ", &s, &e), 0);
    CHECK_EQ_INT(schedule_parse("@hourly", &s, &e), 0);
    CHECK(s.hour_star && !s.min_star && s.minute == 1);
    CHECK_STR(s.text, "@hourly");
    CHECK_EQ_INT(schedule_parse("@daily", &s, &e), 0);
    CHECK(!schedule_wildcard(&s) && s.hour == 1 && s.minute == 1);
    CHECK_EQ_INT(schedule_parse("@WEEKLY", &s, &e), 0);
    CHECK_EQ_INT(s.dow, 1);
    CHECK_EQ_INT(schedule_parse("@monthly", &s, &e), 0);
    CHECK_EQ_INT(s.dom, 2);
    CHECK_EQ_INT(schedule_parse("@yearly", &s, &e), 0);
    CHECK_EQ_INT(s.month, 2);
    CHECK_EQ_INT(schedule_parse("@midnight", &s, &e), 0);
    CHECK_EQ_INT(schedule_parse("@annually", &s, &e), 0);
}

TEST(bad_forms)
{
    static const struct {
        const char *text, *msg;
    } bad[] = {
        { "", "0 fields" },
        { "* * * *", "4 fields" },
        { "* * * * * /bin/true", "more than 5 fields" },
        { "60 * * * *", "bad minute field '60'" },
        { "* 24 * * *", "bad hour field" },
        { "* * 0 * *", "bad day of month field" },
        { "* * 32 * *", "bad day of month field" },
        { "* * * 13 *", "bad month field" },
        { "* * * * 8", "bad day of week field" },
        { "5/10 * * * *", "bad minute field" },
        { "*/0 * * * *", "bad minute field" },
        { "*/61 * * * *", "bad minute field" },
        { "10-5 * * * *", "bad minute field" },
        { "1,,2 * * * *", "bad minute field" },
        { "1, * * * *", "bad minute field" },
        { "-1 * * * *", "bad minute field" },
        { "* * * january *", "bad month field" },
        { "* * * * mo", "bad day of week field" },
        { "* * * * * ", NULL },   /* trailing blank: fine */
        { "x * * * *", "bad minute field" },
        { "0 0 * jan mon/2", "bad day of week field" },
        { "@reboot", "unknown shorthand" },
        { "@daily 0", "unknown shorthand" },
        { "0 0 30 2 *", "never fires" },
        { "0 0 31 4,6,9,11 *", "never fires" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sched s;
        struct cf_err e = CF_ERR_INIT;
        int rc = schedule_parse(bad[i].text, &s, &e);
        if (bad[i].msg == NULL) {
            CHECK_EQ_INT(rc, 0);
            continue;
        }
        CHECK_EQ_INT(rc, -1);
        CHECK_EQ_INT(e.code, CF_E_CONFIG);
        CHECK_MSG(e, bad[i].msg);
    }
}

TEST(next_utc)
{
    CHECK_NEXT("* * * * *", NULL, "2026-11-30T12:00:30Z", "2026-11-30T12:01:00Z");
    CHECK_NEXT("* * * * *", NULL, "2026-11-30T12:00:00Z", "2026-11-30T12:01:00Z");
    CHECK_NEXT("*/15 * * * *", NULL, "2026-11-30T12:44:59Z", "2026-11-30T12:45:00Z");
    CHECK_NEXT("*/15 * * * *", NULL, "2026-11-30T23:45:00Z", "2026-12-01T00:00:00Z");
    /* Friday 2026-12-04 after 03:00 -> Monday */
    CHECK_NEXT("0 3 * * mon-fri", NULL, "2026-12-04T03:00:00Z", "2026-12-07T03:00:00Z");
    /* both restricted: the 13th OR a Friday (2026-12-04 is a Friday, 12-13 a Sunday) */
    CHECK_NEXT("0 0 13 * 5", NULL, "2026-12-01T00:00:00Z", "2026-12-04T00:00:00Z");
    CHECK_NEXT("0 0 13 * 5", NULL, "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z");
    /* day of month starts with '*': AND (odd days that are Fridays) */
    CHECK_NEXT("0 0 */2 * 5", NULL, "2026-12-01T00:00:00Z", "2026-12-11T00:00:00Z");
    CHECK_NEXT("0 0 29 2 *", NULL, "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z");
    CHECK_NEXT("@weekly", NULL, "2026-11-30T00:00:00Z", "2026-12-06T00:00:00Z");
    CHECK_NEXT("@monthly", NULL, "2026-12-31T23:59:59Z", "2027-01-01T00:00:00Z");
    CHECK_NEXT("@yearly", NULL, "2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z");
    CHECK_NEXT("59 23 31 dec *", NULL, "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
}

/* the oracle: the first minute after @after whose local time in @tz matches */
static time_t brute_next(const struct sched *s, const struct cf_tz *tz, time_t after)
{
    time_t t = after - ((after % 60) + 60) % 60 + 60;
    for (long i = 0; i < 400L * 1440; i++, t += 60) {
        struct tm tm;
        tz_localtime(tz, t, &tm);
        if (schedule_matches(s, tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_wday,
                             tm.tm_hour, tm.tm_min))
            return t;
    }
    return -1;
}

static void random_field(char *out, size_t cap, int lo, int hi, unsigned *seed)
{
    int kind = rand_r(seed) % 5;
    int a = lo + rand_r(seed) % (hi - lo + 1), b = lo + rand_r(seed) % (hi - lo + 1);
    if (a > b) {
        int x = a;
        a = b;
        b = x;
    }
    switch (kind) {
    case 0: snprintf(out, cap, "*"); break;
    case 1: snprintf(out, cap, "%d", a); break;
    case 2: snprintf(out, cap, "%d-%d", a, b); break;
    case 3: snprintf(out, cap, "*/%d", 1 + rand_r(seed) % 7); break;
    default: snprintf(out, cap, "%d,%d-%d/%d", a, a, b, 1 + rand_r(seed) % 4); break;
    }
}

/* random expressions, random instants, in UTC and in a zone far from its DST changes */
static void oracle_run(const char *zone, time_t from, time_t span, int rounds)
{
    struct cf_tz *tz = NULL;
    struct cf_err e = CF_ERR_INIT;
    unsigned seed = 20261130;
    int compared = 0;

    CHECK_EQ_INT(tz_open(zone, &tz, &e), 0);
    for (int r = 0; r < rounds; r++) {
        char f[5][32], expr[200];
        struct sched s;
        time_t got, want, after = from + (time_t)(rand_r(&seed) % span);
        random_field(f[0], 32, 0, 59, &seed);
        random_field(f[1], 32, 0, 23, &seed);
        random_field(f[2], 32, 1, 31, &seed);
        random_field(f[3], 32, 1, 12, &seed);
        random_field(f[4], 32, 0, 7, &seed);
        snprintf(expr, sizeof(expr), "%s %s %s %s %s", f[0], f[1], f[2], f[3], f[4]);
        if (schedule_parse(expr, &s, &e) != 0)
            continue;   /* never fires: fine */
        if (schedule_next(&s, tz, after, &got, &e) != 0) {
            printf("# %s: %s\n", expr, e.msg);
            CHECK(0);
            continue;
        }
        want = brute_next(&s, tz, after);
        if (want < 0 || want > from + span + 40 * 86400)
            continue;   /* the oracle's window is short; DST could differ past it */
        if (got != want)
            printf("# '%s' in %s after %lld: got %lld want %lld\n", expr, zone,
                   (long long)after, (long long)got, (long long)want);
        CHECK_EQ_INT(got, want);
        compared++;
    }
    CHECK(compared > rounds / 4);
    tz_free(tz);
}

TEST(oracle_utc)
{
    oracle_run("UTC", T("2026-01-01T00:00:00Z"), 300 * 86400, 150);
}

TEST(oracle_zone)
{
    /* Berlin between its changes (2026-03-29 and 2026-10-25): wall clock is plain arithmetic */
    oracle_run("Europe/Berlin", T("2026-04-02T00:00:00Z"), 120 * 86400, 100);
    oracle_run("Asia/Kolkata", T("2026-01-01T00:00:00Z"), 300 * 86400, 50);
}

/* Europe/Berlin 2026: 02:00 CET -> 03:00 CEST at 2026-03-29T01:00Z; 03:00 CEST -> 02:00 CET
 * at 2026-10-25T01:00Z (02:00-02:59 local happens twice) */
TEST(dst_spring)
{
    struct cf_tz *tz = NULL;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(tz_open("Europe/Berlin", &tz, &e), 0);
    /* fixed time inside the gap: runs at the change, once */
    CHECK_NEXT("30 2 * * *", tz, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z");
    CHECK_NEXT("30 2 * * *", tz, "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z");
    CHECK_NEXT("0,15,30 2 * * *", tz, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z");
    CHECK_NEXT("0,15,30 2 * * *", tz, "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z");
    /* fixed time before and after the gap: unmoved */
    CHECK_NEXT("30 1 * * *", tz, "2026-03-28T12:00:00Z", "2026-03-29T00:30:00Z");
    CHECK_NEXT("30 3 * * *", tz, "2026-03-28T12:00:00Z", "2026-03-29T01:30:00Z");
    /* wildcard: the skipped minutes do not fire */
    CHECK_NEXT("*/30 * * * *", tz, "2026-03-29T00:45:00Z", "2026-03-29T01:00:00Z");
    CHECK_NEXT("30 * * * *", tz, "2026-03-29T00:30:00Z", "2026-03-29T01:30:00Z");
    CHECK_NEXT("@hourly", tz, "2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z");
    CHECK_NEXT("* 2 * * *", tz, "2026-03-28T12:00:00Z", "2026-03-30T00:00:00Z");
    /* the same in a POSIX TZ string */
    tz_free(tz);
    tz = NULL;
    CHECK_EQ_INT(tz_open("CET-1CEST,M3.5.0,M10.5.0/3", &tz, &e), 0);
    CHECK_NEXT("30 2 * * *", tz, "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z");
    tz_free(tz);
}

TEST(dst_autumn)
{
    struct cf_tz *tz = NULL;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(tz_open("Europe/Berlin", &tz, &e), 0);
    /* fixed time in the repeated hour: the first occurrence only */
    CHECK_NEXT("30 2 * * *", tz, "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z");
    CHECK_NEXT("30 2 * * *", tz, "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z");
    CHECK_NEXT("0 2 * * *", tz, "2026-10-25T00:00:00Z", "2026-10-26T01:00:00Z");
    /* wildcard: both occurrences */
    CHECK_NEXT("30 * * * *", tz, "2026-10-25T00:00:00Z", "2026-10-25T00:30:00Z");
    CHECK_NEXT("30 * * * *", tz, "2026-10-25T00:30:00Z", "2026-10-25T01:30:00Z");
    CHECK_NEXT("30 * * * *", tz, "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z");
    CHECK_NEXT("*/20 2 * * *", tz, "2026-10-25T00:40:00Z", "2026-10-25T01:00:00Z");
    CHECK_NEXT("*/20 2 * * *", tz, "2026-10-25T01:40:00Z", "2026-10-26T01:00:00Z");
    /* a fixed time after the repeated hour, asked from inside its second pass */
    CHECK_NEXT("0 3 * * *", tz, "2026-10-25T01:10:00Z", "2026-10-25T02:00:00Z");
    CHECK_NEXT("45 1 * * *", tz, "2026-10-24T23:50:00Z", "2026-10-26T00:45:00Z");
    tz_free(tz);
}

/* the times systemd-analyze gives for one OnCalendar= event after @base, in UTC */
static size_t systemd_times(const char *event, time_t base, time_t *out, size_t cap)
{
    char cmd[SCHED_CAL_MAX + 200], line[512];
    size_t n = 0;
    FILE *p;

    snprintf(cmd, sizeof(cmd),
             "TZ=UTC systemd-analyze calendar --base-time=@%lld --iterations=%zu '%s' 2>&1",
             (long long)base, cap, event);
    if ((p = popen(cmd, "r")) == NULL)
        return 0;
    while (fgets(line, sizeof(line), p) != NULL && n < cap) {
        char *at = strstr(line, "Next elapse: ");
        struct tm tm;
        if (at == NULL && (at = strstr(line, "Iter. #")) != NULL)
            at = strstr(at, ": ");
        else if (at != NULL)
            at += strlen("Next elapse");
        if (at == NULL)
            continue;
        memset(&tm, 0, sizeof(tm));
        if (strptime(at + 2, "%a %Y-%m-%d %H:%M:%S", &tm) != NULL)
            out[n++] = timegm(&tm);
    }
    if (pclose(p) != 0)
        printf("# systemd-analyze refused '%s'\n", event);
    return n;
}

static int cmp_time(const void *a, const void *b)
{
    time_t x = *(const time_t *)a, y = *(const time_t *)b;
    return x < y ? -1 : x > y;
}

/* the OnCalendar= events `backupd systemd-units` writes fire when schedule_next() says, as
 * systemd-analyze computes them (away from DST changes, where each follows its own rule) */
TEST(oncalendar_systemd)
{
    static const char *const exprs[] = {
        "*/15 * * * *", "0 3 * * mon-fri", "30 4 1,15 * *", "0 0 13 * 5", "5 6 * jan,apr,jul,oct *",
        "@weekly", "@monthly", "0 12 */2 * sun", "10-20/5 8-17/3 * * 1,3,5", "0 0 * * 0,6",
        "59 23 31 * *", "0 0 29 2 *",
    };
    static const char *const zones[] = { "", "Europe/Berlin", "America/New_York" };
    time_t base = T("2026-04-10T10:07:00Z");
    enum { N = 8 };

    if (system("systemd-analyze --version >/dev/null 2>&1") != 0) {
        printf("# systemd-analyze not installed: not compared\n");
        return;
    }
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        struct cf_tz *tz = NULL;
        struct cf_err e = CF_ERR_INIT;
        CHECK_EQ_INT(tz_open(zones[z], &tz, &e), 0);
        for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
            struct sched s;
            char ev[2][SCHED_CAL_MAX];
            time_t want[N], got[2 * N], t = base;
            size_t ng = 0;
            CHECK_EQ_INT(schedule_parse(exprs[i], &s, &e), 0);
            int nev = schedule_oncalendar(&s, zones[z], ev);
            for (int k = 0; k < nev; k++)
                ng += systemd_times(ev[k], base, got + ng, N);
            qsort(got, ng, sizeof(got[0]), cmp_time);
            for (size_t k = 0; k + 1 < ng; k++)   /* a day that is both: once */
                if (got[k] == got[k + 1])
                    memmove(&got[k], &got[k + 1], (--ng - k) * sizeof(got[0]));
            CHECK(ng >= N);
            for (size_t k = 0; k < N && k < ng; k++) {
                CHECK_EQ_INT(schedule_next(&s, tz, t, &want[k], &e), 0);
                t = want[k];
                if (got[k] != want[k])
                    printf("# '%s' in '%s' as '%s'%s%s: #%zu systemd %lld, schedule %lld\n",
                           exprs[i], zones[z], ev[0], nev > 1 ? " + " : "", nev > 1 ? ev[1] : "",
                           k, (long long)got[k], (long long)want[k]);
                CHECK_EQ_INT(got[k], want[k]);
            }
        }
        tz_free(tz);
    }
}

TEST(oncalendar_form)
{
    struct sched s;
    struct cf_err e = CF_ERR_INIT;
    char ev[2][SCHED_CAL_MAX];

    CHECK_EQ_INT(schedule_parse("30 2 * * *", &s, &e), 0);
    CHECK_EQ_INT(schedule_oncalendar(&s, "Europe/Berlin", ev), 1);
    CHECK_STR(ev[0], "*-*-* 02:30:00 Europe/Berlin");
    CHECK_EQ_INT(schedule_parse("*/20 8-17 * * mon-fri", &s, &e), 0);
    CHECK_EQ_INT(schedule_oncalendar(&s, NULL, ev), 1);
    CHECK_STR(ev[0], "Mon..Fri *-*-* 08..17:00,20,40:00");
    CHECK_EQ_INT(schedule_parse("0 0 1,15 jan-mar 7", &s, &e), 0);
    CHECK_EQ_INT(schedule_oncalendar(&s, "", ev), 2);
    CHECK_STR(ev[0], "*-01..03-01,15 00:00:00");
    CHECK_STR(ev[1], "Sun *-01..03-* 00:00:00");
}

int main(void)
{
    RUN(fields);
    RUN(bad_forms);
    RUN(next_utc);
    RUN(oracle_utc);
    RUN(oracle_zone);
    RUN(dst_spring);
    RUN(dst_autumn);
    RUN(oncalendar_form);
    RUN(oncalendar_systemd);
    return unit_done();
}
