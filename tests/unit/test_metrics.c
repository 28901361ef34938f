/* test_metrics.c - the Prometheus text format of lib/metrics: label values escaped, integers
 * exact, a value that is not known left out (its family still declared), every family once. */
#include "unit.h"
#include "core/buf.h"
#include "metrics/metrics.h"

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

TEST(format)
{
    struct metrics_backup b[] = {
        { .job = "nightly", .source = "we\"ird\\src\nx", .attempts = 3, .failures = 1,
          .have_attempt = true, .last_attempt = 1795993364, .last_ok = false,
          .last_duration = 1.5, .last_success = 1795990000,
          .bytes_in = 9007199254740993ULL, .bytes_stored = 10 },
        { .job = "weekly", .source = "media" },   /* never attempted */
    };
    struct metrics_source s[] = {
        { .source = "media", .rpo = 3600, .rpo_violated = true, .backups = 0 },
        { .source = "pg", .archive = true, .archive_last = 1795993340, .archive_gaps = 2 },
    };
    struct metrics_drill d[] = {
        { .job = "nightly", .have = true, .last = 1795993000, .ok = true, .rto = 12.25,
          .every = true, .overdue = false },
        { .job = "weekly", .every = true, .overdue = true },   /* never drilled */
        { .source = "pg", .have = true, .last = 1795993100, .ok = false, .rto = 3 },
    };
    struct metrics_set m = { b, 2, s, 2, 1795993400, d, 3 };
    struct buf out = BUF_INIT;

    metrics_format(&m, &out);
    CHECK(strstr(out.data, "coffer_backup_attempts_total{job=\"nightly\",source=\"we\\\"ird\\\\src\\nx\"} 3\n") != NULL);
    CHECK(strstr(out.data, "coffer_backup_last_duration_seconds{job=\"nightly\",source=\"we\\\"ird\\\\src\\nx\"} 1.500\n") != NULL);
    /* above 2^53: printed from the integer, not rounded through %g */
    CHECK(strstr(out.data, "} 9007199254740992\n") != NULL || strstr(out.data, "} 9007199254740993\n") != NULL);
    CHECK(strstr(out.data, "e+") == NULL);
    /* the weekly job was never attempted: counters at 0, no timestamp */
    CHECK(strstr(out.data, "coffer_backup_attempts_total{job=\"weekly\",source=\"media\"} 0\n") != NULL);
    CHECK(strstr(out.data, "coffer_backup_last_attempt_timestamp_seconds{job=\"weekly\"") == NULL);
    CHECK(strstr(out.data, "coffer_source_rpo_violation{source=\"media\"} 1\n") != NULL);
    CHECK(strstr(out.data, "coffer_source_newest_backup_timestamp_seconds{") == NULL);
    CHECK(strstr(out.data, "coffer_source_last_verify_success{") == NULL);
    CHECK(strstr(out.data, "coffer_metrics_generated_timestamp_seconds 1795993400\n") != NULL);
    /* the log archive: only for a source that has one */
    CHECK(strstr(out.data, "coffer_archive_last_timestamp_seconds{source=\"pg\"} 1795993340\n") != NULL);
    CHECK(strstr(out.data, "coffer_archive_lag_seconds{source=\"pg\"} 60\n") != NULL);
    CHECK(strstr(out.data, "coffer_archive_gaps{source=\"pg\"} 2\n") != NULL);
    CHECK(strstr(out.data, "coffer_archive_gaps{source=\"media\"}") == NULL);
    CHECK(strstr(out.data, "coffer_archive_lag_seconds{source=\"media\"}") == NULL);
    /* drills: by job, or by source for a source drilled alone; overdue only with drill-every */
    CHECK(strstr(out.data, "coffer_drill_last_timestamp_seconds{job=\"nightly\"} 1795993000\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_last_success{job=\"nightly\"} 1\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_rto_seconds{job=\"nightly\"} 12.250\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_overdue{job=\"nightly\"} 0\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_overdue{job=\"weekly\"} 1\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_last_success{job=\"weekly\"}") == NULL);
    CHECK(strstr(out.data, "coffer_drill_last_success{source=\"pg\"} 0\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_rto_seconds{source=\"pg\"} 3\n") != NULL);
    CHECK(strstr(out.data, "coffer_drill_overdue{source=") == NULL);
    CHECK_EQ_INT(count(out.data, "# TYPE "), 24);
    CHECK_EQ_INT(count(out.data, "# TYPE coffer_backup_failures_total counter\n"), 1);
    CHECK_EQ_INT(count(out.data, "# HELP "), 24);
    buf_free(&out);
}

int main(void)
{
    RUN(format);
    return unit_done();
}
