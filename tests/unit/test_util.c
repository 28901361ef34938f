/* test_util.c - times, sizes and durations as operators write them. */
#include "unit.h"
#include "core/util.h"

TEST(rfc3339)
{
    time_t t;
    struct cf_err e = CF_ERR_INIT;
    char out[32];
    CHECK(time_parse_rfc3339("2026-11-21T03:00:00Z", &t, &e) == 0);
    time_format_rfc3339(t, out, sizeof(out));
    CHECK_STR(out, "2026-11-21T03:00:00Z");
    CHECK(time_parse_rfc3339("2026-11-21T04:00:00+01:00", &t, &e) == 0);
    time_format_rfc3339(t, out, sizeof(out));
    CHECK_STR(out, "2026-11-21T03:00:00Z");
    CHECK(time_parse_rfc3339("2026-11-20T22:30:00-04:30", &t, &e) == 0);
    time_format_rfc3339(t, out, sizeof(out));
    CHECK_STR(out, "2026-11-21T03:00:00Z");
    CHECK(time_parse_rfc3339("2026-11-21T03:00:00.123456Z", &t, &e) == 0);
    CHECK(time_parse_rfc3339("2024-02-29T00:00:00Z", &t, &e) == 0);   /* leap year */
    CHECK(time_parse_rfc3339("now", &t, &e) == 0);
    static const char *const bad[] = { "2026-11-21", "2026-11-21T03:00:00", "2025-02-29T00:00:00Z",
                                       "2026-13-01T00:00:00Z", "2026-11-31T00:00:00Z",
                                       "2026-11-21T24:00:00Z", "2026-11-21T03:00:00+1:00",
                                       "yesterday", "", "2026-11-21T03:00:00Zjunk", NULL };
    for (int i = 0; bad[i]; i++) {
        cf_err_clear(&e);
        if (time_parse_rfc3339(bad[i], &t, &e) == 0) {
            printf("#   accepted '%s'\n", bad[i]);
            CHECK(0);
        }
        CHECK(e.code == CF_E_USAGE);
        CHECK_MSG(e, "is not a time");
    }
}

TEST(compact_ids)
{
    time_t t = 1795317300, back;   /* 2026-11-22T03:15:00Z */
    char out[32];
    time_format_compact(t, out, sizeof(out));
    CHECK_STR(out, "20261122T031500Z");
    CHECK(time_parse_compact(out, &back) == 0);
    CHECK_EQ_INT(back, t);
    CHECK(time_parse_compact("20261122X031500Z", &back) != 0);
}

TEST(sizes)
{
    uint64_t v;
    CHECK(parse_size("64MiB", &v) == 0 && v == 64u << 20);
    CHECK(parse_size("16 MiB", &v) == 0 && v == 16u << 20);
    CHECK(parse_size("10MB", &v) == 0 && v == 10000000);
    CHECK(parse_size("1g", &v) == 0 && v == 1u << 30);
    CHECK(parse_size("4096", &v) == 0 && v == 4096);
    CHECK(parse_size("-1", &v) != 0);
    CHECK(parse_size("12 parsecs", &v) != 0);
    CHECK(parse_size("MiB", &v) != 0);
    CHECK(parse_size("99999999999999999999", &v) != 0);
}

TEST(durations)
{
    int64_t v;
    CHECK(parse_duration("26h", &v) == 0 && v == 26 * 3600);
    CHECK(parse_duration("2d", &v) == 0 && v == 2 * 86400);
    CHECK(parse_duration("1w", &v) == 0 && v == 7 * 86400);
    CHECK(parse_duration("90", &v) == 0 && v == 90);
    CHECK(parse_duration("30m", &v) == 0 && v == 1800);
    CHECK(parse_duration("2 days", &v) != 0);
    CHECK(parse_duration("h", &v) != 0);
    CHECK(parse_duration("-3h", &v) != 0);
}

int main(void)
{
    RUN(rfc3339);
    RUN(compact_ids);
    RUN(sizes);
    RUN(durations);
    return unit_done();
}
