/* test_drill_rows.c - the drill's "row counts" verdict (drill_rows_compare in
 * restore/drill_check.c), which PostgreSQL and MariaDB share: equal counts pass with the
 * totals; a table with another count, one missing from the restored copy and one the backup
 * does not hold each fail it, named with both counts. The comparison is tested here and not
 * against a server: a mariadb-dump loaded into a stock scratch server has no honest way to
 * come back with other counts (its triggers are created after each table's rows, the event
 * scheduler is off, every load error stops the load). The counts a MariaDB drill compares
 * come from sqlrows (test_sqlrows.c). */
#include <jansson.h>
#include <string.h>

#include "../../lib/source/sqlrows.h"
#include "../../restore/drill.h"
#include "unit.h"

/* the one check @checks holds: its result and detail */
static void verdict(json_t *checks, const char **result, const char **detail)
{
    json_t *c = json_array_get(checks, 0);
    CHECK(json_array_size(checks) == 1);
    CHECK_STR(json_string_value(json_object_get(c, "name")), "row counts");
    *result = json_string_value(json_object_get(c, "result"));
    *detail = json_string_value(json_object_get(c, "detail"));
}

TEST(equal_counts_pass_with_the_totals)
{
    json_t *checks = json_array(), *want = json_pack("{s:i,s:i,s:i}", "items", 300, "m1", 2,
                                                     "empty", 0);
    json_t *got = json_pack("{s:i,s:i,s:i}", "empty", 0, "items", 300, "m1", 2);
    const char *res, *det;
    drill_rows_compare(checks, "shop", want, got, "as counted in the backup");
    verdict(checks, &res, &det);
    CHECK_STR(res, "passed");
    CHECK_STR(det, "database shop: 3 tables, 302 rows, as counted in the backup");
    json_decref(checks);
    json_decref(want);
    json_decref(got);
}

TEST(a_table_with_other_counts_fails_naming_both)
{
    json_t *checks = json_array(), *want = json_pack("{s:i,s:i}", "items", 300, "log", 7);
    json_t *got = json_pack("{s:i,s:i}", "items", 299, "log", 7);
    const char *res, *det;
    drill_rows_compare(checks, "shop", want, got, "as counted in the backup");
    verdict(checks, &res, &det);
    CHECK_STR(res, "FAILED");
    CHECK_STR(det, "database shop: items has 299 rows, the backup 300");
    json_decref(checks);
    json_decref(want);
    json_decref(got);
}

TEST(missing_and_unexpected_tables_fail)
{
    json_t *checks = json_array(), *want = json_pack("{s:i,s:i}", "items", 3, "gone", 5);
    json_t *got = json_pack("{s:i,s:i}", "items", 3, "new", 0);
    const char *res, *det;
    drill_rows_compare(checks, "shop", want, got, "as counted in the backup");
    verdict(checks, &res, &det);
    CHECK_STR(res, "FAILED");
    CHECK_STR(det, "database shop: gone missing (backup: 5), new not in the backup");
    json_decref(checks);
    json_decref(want);
    json_decref(got);
}

/* what a MariaDB drill does with a dump's counts: every table of the restored copy expected
 * to hold what the dump held, none when it held no row */
TEST(counts_of_a_dump_against_a_restored_copy)
{
    const char dump[] = "INSERT INTO `items` VALUES (1,'a);'),(2,'b');\n"
                        "INSERT INTO `items` VALUES (3,'c');\n";
    struct sqlrows *c = sqlrows_new();
    struct cf_err e = CF_ERR_INIT;
    json_t *checks = json_array(), *want = json_object();
    json_t *got = json_pack("{s:i,s:i}", "items", 2, "empty", 0);
    const char *res, *det;
    sqlrows_feed(c, dump, sizeof(dump) - 1);
    CHECK(sqlrows_end(c, &e) == 0);
    json_object_set_new(want, "items", json_integer((json_int_t)sqlrows_get(c, "items")));
    json_object_set_new(want, "empty", json_integer((json_int_t)sqlrows_get(c, "empty")));
    drill_rows_compare(checks, "shop", want, got, "as counted in the backup");
    verdict(checks, &res, &det);
    CHECK_STR(res, "FAILED");
    CHECK_STR(det, "database shop: items has 2 rows, the backup 3");
    sqlrows_free(c);
    json_decref(checks);
    json_decref(want);
    json_decref(got);
}

int main(void)
{
    RUN(equal_counts_pass_with_the_totals);
    RUN(a_table_with_other_counts_fails_naming_both);
    RUN(missing_and_unexpected_tables_fail);
    RUN(counts_of_a_dump_against_a_restored_copy);
    return unit_done();
}
