/* test_repo_log.c - the names the WAL archive takes (repo_log_name, repo_key_log) and how
 * the one key parser sees them. */
#include "unit.h"
#include "repo/repo.h"

TEST(names)
{
    static const struct {
        const char *file, *tl;
    } good[] = {
        { "000000010000000000000001", "00000001" },
        { "0000000A00000001000000FF", "0000000A" },
        { "000000010000000000000003.partial", "00000001" },
        { "00000002.history", "00000002" },
        { "000000010000000000000002.00000028.backup", "00000001" },
    };
    static const char *const bad[] = {
        "", "00000001000000000000000", "0000000100000000000000010", "00000001000000000000000g",
        "000000010000000000000001.tmp", "00000002.History", "0000002.history",
        "000000010000000000000002.0000028.backup", "000000010000000000000002.00000028.backupx",
        "../00000001000000000000", "RECOVERYXLOG", "archive_status",
        "000000010000000000000001/", "000000010000000000000001.partial.partial",
    };
    char tl[9];
    struct cf_err e = CF_ERR_INIT;
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); i++) {
        cf_err_clear(&e);
        CHECK(repo_log_name(good[i].file, tl, &e) == 0);
        CHECK_STR(tl, good[i].tl);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        cf_err_clear(&e);
        CHECK(repo_log_name(bad[i], tl, &e) == -1);
        CHECK_EQ_INT(e.code, CF_E_USAGE);
        CHECK(repo_key_log("pg", bad[i]) == NULL);
    }
}

TEST(keys)
{
    struct repo_key k;
    char *key = repo_key_log("app-db", "00000002.history");
    CHECK_STR(key, "logs/app-db/00000002/00000002.history");
    CHECK_EQ_INT(repo_key_parse(key, &k), REPO_KEY_LOG);
    CHECK_STR(k.source, "app-db");
    free(key);
    key = repo_key_log("app-db", "000000010000000000000002.00000028.backup");
    CHECK_STR(key, "logs/app-db/00000001/000000010000000000000002.00000028.backup");
    free(key);
}

int main(void)
{
    RUN(names);
    RUN(keys);
    return unit_done();
}
