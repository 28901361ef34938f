/* test_util.c - times, sizes and durations as operators write them. */
#include "unit.h"
#include "core/cli.h"
#include "core/util.h"

#include <stdlib.h>

TEST(rfc3339)
{
    /* every form an operator may type, each with the UTC time it means */
    static const struct {
        const char *in, *utc;
    } good[] = {
        { "2026-11-21T03:00:00Z", "2026-11-21T03:00:00Z" },
        { "2026-11-21t03:00:00z", "2026-11-21T03:00:00Z" },
        { "2026-11-21 03:00:00Z", "2026-11-21T03:00:00Z" },
        { "2026-11-21T04:00:00+01:00", "2026-11-21T03:00:00Z" },
        { "2026-11-21T04:00:00+0100", "2026-11-21T03:00:00Z" },
        { "2026-11-20T22:30:00-04:30", "2026-11-21T03:00:00Z" },
        { "2026-11-20T22:30:00-0430", "2026-11-21T03:00:00Z" },
        { "2026-11-21T03:00:00+00:00", "2026-11-21T03:00:00Z" },
        { "2026-11-21T03:00:00-00:00", "2026-11-21T03:00:00Z" },
        { "2026-11-21T03:00:00.123456Z", "2026-11-21T03:00:00Z" },
        { "2026-11-21T04:00:00.5+01:00", "2026-11-21T03:00:00Z" },
        { "2026-11-21T03:00Z", "2026-11-21T03:00:00Z" },
        { "2026-11-21T03:00z", "2026-11-21T03:00:00Z" },
        { "2026-11-21T04:00+01:00", "2026-11-21T03:00:00Z" },
        { "2026-11-21T04:00+0100", "2026-11-21T03:00:00Z" },
        { "2026-11-21T00:30+05:30", "2026-11-20T19:00:00Z" },
        { "2026-11-21T23:59:59-23:59", "2026-11-22T23:58:59Z" },
        { "2026-01-01T00:30+01:00", "2025-12-31T23:30:00Z" },   /* across a year */
        { "2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z" },     /* leap year */
        { "2000-02-29T12:00Z", "2000-02-29T12:00:00Z" },        /* leap: divisible by 400 */
        { "1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z" },
        { "9999-12-31T23:59:59Z", "9999-12-31T23:59:59Z" },
    };
    time_t t;
    struct cf_err e = CF_ERR_INIT;
    char out[32];
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        cf_err_clear(&e);
        if (time_parse_rfc3339(good[i].in, &t, &e) != 0) {
            printf("#   refused '%s': %s\n", good[i].in, e.msg);
            CHECK(0);
            continue;
        }
        time_format_rfc3339(t, out, sizeof(out));
        if (strcmp(out, good[i].utc) != 0) {
            printf("#   '%s' gave %s, expected %s\n", good[i].in, out, good[i].utc);
            CHECK(0);
        }
    }
    time_t before = time(NULL);
    CHECK(time_parse_rfc3339("now", &t, &e) == 0);
    CHECK(t >= before && t <= time(NULL));
    CHECK(time_parse_rfc3339("latest", &t, &e) != 0);   /* only time_parse_at knows it */

    static const char *const bad[] = {
        "", "now ", "Now", "yesterday", "2026-11-21", "2026-11-21T", "2026-11-21T03",
        "2026-11-21T03Z", "2026-11-21T03:00", "2026-11-21T03:00:00", "2026-11-21T3:00Z",
        "2026-11-21T03:0Z", "2026-11-21T03:00:0Z", "2026-11-21T03:00:Z", "2026-11-21T03:00:00.Z",
        "2026-11-21T03:00:00.5", "2026-11-21T03:00.5Z", "26-11-21T03:00:00Z", "2026-1-21T03:00Z",
        "2026/11/21T03:00Z", "2026-11-21X03:00Z", "2026-11-21T03-00Z", "2025-02-29T00:00:00Z",
        "1900-02-29T00:00Z", "2026-00-01T00:00Z", "2026-13-01T00:00:00Z", "2026-11-00T00:00Z",
        "2026-11-31T00:00:00Z", "2026-11-21T24:00:00Z", "2026-11-21T03:60Z",
        "2026-11-21T03:00:61Z", "2026-11-21T03:00:00+1:00", "2026-11-21T03:00:00+01",
        "2026-11-21T03:00:00+1",  "2026-11-21T03:00:00+010", "2026-11-21T03:00:00+01:0",
        "2026-11-21T03:00:00+24:00", "2026-11-21T03:00:00+01:60", "2026-11-21T03:00:00+01:00Z",
        "2026-11-21T03:00:00Zjunk", "2026-11-21T03:00Z ", " 2026-11-21T03:00Z",
        "2026-11-21T03:00:00 Z", "2026-11-21T03:00:00UTC", "2026-11-21T03:00+01-00",
        "2026-11-21T03:00+01:00:00", "-2026-11-21T03:00Z", "+2026-11-21T03:00Z",
        "2026-11-21T03:00:00.123456", "latest", "1795317300", "20261121T030000Z",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cf_err_clear(&e);
        if (time_parse_rfc3339(bad[i], &t, &e) == 0) {
            printf("#   accepted '%s'\n", bad[i]);
            CHECK(0);
        }
        CHECK(e.code == CF_E_USAGE);
        CHECK_MSG(e, "is not a time");
        CHECK(strchr(e.msg, '\n') == NULL);
    }
}

TEST(time_at)
{
    time_t t = 0;
    struct cf_err e = CF_ERR_INIT;
    char out[32];
    CHECK(time_parse_at("--at", "latest", true, &t, &e) == 0);
    CHECK(t == TIME_LATEST);
    CHECK(time_parse_at("--at", "2026-11-21T04:00+0100", true, &t, &e) == 0);
    time_format_rfc3339(t, out, sizeof(out));
    CHECK_STR(out, "2026-11-21T03:00:00Z");
    time_t before = time(NULL);
    CHECK(time_parse_at("--at", "now", false, &t, &e) == 0);
    CHECK(t >= before && t <= time(NULL));
    /* 'latest' is later than any time an operator may type but one: no backup can be ahead */
    CHECK(time_parse_rfc3339("9999-12-31T23:59:59Z", &t, &e) == 0 && t == TIME_LATEST);

    /* one line, the option named, every accepted form listed */
    CHECK(time_parse_at("--at", "2026-11-21", true, &t, &e) == -1);
    CHECK(e.code == CF_E_USAGE);
    CHECK(strchr(e.msg, '\n') == NULL);
    CHECK(strncmp(e.msg, "--at '2026-11-21' is not a time", 31) == 0);
    static const char *const forms[] = { "RFC 3339", "Z", "+01:00", "+0100",
                                         "2026-11-21T03:00Z", "'now'", "'latest'" };
    for (size_t i = 0; i < sizeof(forms) / sizeof(*forms); i++)
        CHECK_MSG(e, forms[i]);
    /* where 'latest' means nothing it is refused, and not offered */
    cf_err_clear(&e);
    CHECK(time_parse_at("--since", "latest", false, &t, &e) == -1);
    CHECK_MSG(e, "--since 'latest' is not a time");
    CHECK(strstr(e.msg, "'latest'") == e.msg + strlen("--since "));
    CHECK(strstr(e.msg + 10, "latest") == NULL);
    CHECK(time_parse_at("--at", "Latest", true, &t, &e) == -1);
    CHECK(time_parse_at("--at", "", true, &t, &e) == -1);
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

/* an option given several times comes out in order, the rest of argv stays for cli_parse */
TEST(cli_collect)
{
    char *argv[] = { "restore", "--map", "a=1", "--job", "j", "--map=b.to=/x", "--at", "now",
                     "--", "--map", "c", NULL };
    int argc = 11;
    const char **v;
    size_t n;
    struct cf_err e = CF_ERR_INIT;

    CHECK(cli_collect(&argc, argv, "--map", &v, &n, &e) == 0);
    CHECK_EQ_INT(n, 2);
    CHECK_STR(v[0], "a=1");
    CHECK_STR(v[1], "b.to=/x");
    CHECK_EQ_INT(argc, 8);
    CHECK_STR(argv[1], "--job");
    CHECK_STR(argv[4], "now");
    CHECK_STR(argv[5], "--");
    CHECK_STR(argv[6], "--map");   /* after "--": not an option */
    CHECK(argv[8] == NULL);
    free(v);

    char *bad[] = { "restore", "--map", NULL };
    argc = 2;
    CHECK(cli_collect(&argc, bad, "--map", &v, &n, &e) == -1);
    CHECK(e.code == CF_E_USAGE && strstr(e.msg, "--map needs a value") != NULL);
    CHECK(v == NULL && n == 0);

    char *none[] = { "restore", "--mapx", "1", NULL };
    argc = 3;
    cf_err_clear(&e);
    CHECK(cli_collect(&argc, none, "--map", &v, &n, &e) == 0);
    CHECK(n == 0 && v == NULL && argc == 3);
}

int main(void)
{
    RUN(rfc3339);
    RUN(time_at);
    RUN(compact_ids);
    RUN(sizes);
    RUN(durations);
    RUN(cli_collect);
    return unit_done();
}
