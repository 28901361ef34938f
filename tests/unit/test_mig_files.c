/* test_mig_files.c - migrations directory scanning, names, versions, checksums, markers. */
#include "unit.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../../migrate/mig.h"
#include "core/util.h"

static char dir[64];

static void fresh_dir(void)
{
    struct cf_err e = CF_ERR_INIT;
    if (dir[0])
        fs_remove_tree(dir, &e);
    strcpy(dir, "/tmp/coffer-migf.XXXXXX");
    if (mkdtemp(dir) == NULL)
        abort();
}

static void put(const char *name, const char *text)
{
    char *p = cf_asprintf("%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f == NULL)
        abort();
    fputs(text, f);
    fclose(f);
    free(p);
}

static int scan(struct mig_set *s, struct cf_err *e)
{
    cf_err_clear(e);
    return mig_scan(dir, s, e);
}

TEST(parse_version)
{
    uint64_t v;
    CHECK_EQ_INT(mig_parse_version("1", &v), 0);
    CHECK_EQ_INT(v, 1);
    CHECK_EQ_INT(mig_parse_version("0003", &v), 0);
    CHECK_EQ_INT(v, 3);
    CHECK_EQ_INT(mig_parse_version("20261122031500", &v), 0);
    CHECK(v == UINT64_C(20261122031500));
    CHECK_EQ_INT(mig_parse_version("9223372036854775807", &v), 0);
    CHECK(v == UINT64_C(9223372036854775807));
    CHECK_EQ_INT(mig_parse_version("9223372036854775808", &v), -1);
    CHECK_EQ_INT(mig_parse_version("9999999999999999999", &v), -1);
    CHECK_EQ_INT(mig_parse_version("10000000000000000000", &v), -1);
    CHECK_EQ_INT(mig_parse_version("", &v), -1);
    CHECK_EQ_INT(mig_parse_version("1a", &v), -1);
    CHECK_EQ_INT(mig_parse_version("-1", &v), -1);
    CHECK_EQ_INT(mig_parse_version(" 1", &v), -1);
}

TEST(parse_name)
{
    struct cf_err e = CF_ERR_INIT;
    uint64_t v;
    char *vt = NULL, *nm = NULL;
    int kind;

    CHECK_EQ_INT(mig_parse_name("0003_add_users.up.sql", &v, &vt, &nm, &kind, &e), 0);
    CHECK_EQ_INT(v, 3);
    CHECK_STR(vt, "0003");
    CHECK_STR(nm, "add_users");
    CHECK_EQ_INT(kind, 1);
    free(vt);
    free(nm);
    CHECK_EQ_INT(mig_parse_name("12_a-b.down.sql", &v, &vt, &nm, &kind, &e), 0);
    CHECK_EQ_INT(kind, 2);
    CHECK_STR(nm, "a-b");
    free(vt);
    free(nm);
    CHECK_EQ_INT(mig_parse_name("README.md", &v, &vt, &nm, &kind, &e), 1);
    CHECK_EQ_INT(mig_parse_name("1_x.sql.bak", &v, &vt, &nm, &kind, &e), 1);
    CHECK_EQ_INT(mig_parse_name("1_x.sql", &v, &vt, &nm, &kind, &e), -1);
    CHECK_MSG(e, "not a migration name");
    CHECK_EQ_INT(mig_parse_name("x_y.up.sql", &v, &vt, &nm, &kind, &e), -1);
    CHECK_MSG(e, "digits only");
    CHECK_EQ_INT(mig_parse_name("1.up.sql", &v, &vt, &nm, &kind, &e), -1);
    CHECK_EQ_INT(mig_parse_name("_x.up.sql", &v, &vt, &nm, &kind, &e), -1);
    CHECK_EQ_INT(mig_parse_name("1_.up.sql", &v, &vt, &nm, &kind, &e), -1);
    CHECK_EQ_INT(mig_parse_name("1_a b.up.sql", &v, &vt, &nm, &kind, &e), -1);
    CHECK_MSG(e, "only letters");
    CHECK_EQ_INT(mig_parse_name("1_x.UP.sql", &v, &vt, &nm, &kind, &e), -1);
}

TEST(checksum_normalises_line_endings)
{
    char a[MIG_CHECKSUM_MAX], b[MIG_CHECKSUM_MAX], c[MIG_CHECKSUM_MAX], d[MIG_CHECKSUM_MAX];
    const char *lf = "create table t (a int);\nselect 1;\n";
    const char *crlf = "create table t (a int);\r\nselect 1;\r\n";
    const char *cr = "create table t (a int);\rselect 1;\r";
    mig_checksum(lf, strlen(lf), a);
    mig_checksum(crlf, strlen(crlf), b);
    mig_checksum(cr, strlen(cr), c);
    CHECK_STR(a, b);
    CHECK_STR(a, c);
    CHECK(strncmp(a, "sha256:", 7) == 0);
    CHECK_EQ_INT(strlen(a), 7 + 64);
    /* known value: sha256 of the LF text */
    unsigned char h[32];
    char hex[65];
    crypto_hash_sha256(h, (const unsigned char *)lf, strlen(lf));
    hex_encode(h, 32, hex);
    CHECK_STR(a + 7, hex);
    mig_checksum("select 2;\n", 10, d);
    CHECK(strcmp(a, d) != 0);
    /* "\r\r\n" is two line ends */
    mig_checksum("a\r\r\nb", 5, c);
    mig_checksum("a\n\nb", 4, d);
    CHECK_STR(c, d);
    mig_checksum("", 0, c);
    CHECK_STR(c, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(no_tx_marker)
{
    CHECK(mig_is_no_tx("-- coffer:no-transaction\ncreate index concurrently i on t(a);"));
    CHECK(mig_is_no_tx("-- coffer:no-transaction  \r\nx"));
    CHECK(mig_is_no_tx("-- coffer:no-transaction"));
    CHECK(mig_is_no_tx("\xef\xbb\xbf-- coffer:no-transaction\n"));
    CHECK(!mig_is_no_tx("\n-- coffer:no-transaction\n"));
    CHECK(!mig_is_no_tx("-- coffer:no-transactions\n"));
    CHECK(!mig_is_no_tx("select 1; -- coffer:no-transaction\n"));
    CHECK(!mig_is_no_tx(" -- coffer:no-transaction\n"));
}

TEST(scan_orders_numerically)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s;
    fresh_dir();
    put("10_ten.up.sql", "select 10;");
    put("9_nine.up.sql", "select 9;");
    put("9_nine.down.sql", "select -9;");
    put("0100_hundred.up.sql", "select 100;");
    put("2_two.up.sql", "-- coffer:no-transaction\nselect 2;");
    put("README.md", "notes");
    put(".9_hidden.up.sql", "x");
    CHECK_EQ_INT(scan(&s, &e), 0);
    CHECK_EQ_INT(s.n, 4);
    if (s.n == 4) {
        CHECK_EQ_INT(s.f[0].version, 2);
        CHECK_EQ_INT(s.f[1].version, 9);
        CHECK_EQ_INT(s.f[2].version, 10);
        CHECK_EQ_INT(s.f[3].version, 100);
        CHECK_STR(s.f[3].vtext, "0100");
        CHECK(s.f[0].no_tx);
        CHECK(!s.f[1].no_tx);
        CHECK(s.f[1].down_sql != NULL);
        CHECK_STR(s.f[1].down_sql, "select -9;");
        CHECK(s.f[2].down_sql == NULL && s.f[2].down_path == NULL);
        CHECK_STR(s.f[1].name, "nine");
        CHECK(mig_set_find(&s, 10) == &s.f[2]);
        CHECK(mig_set_find(&s, 11) == NULL);
    }
    mig_set_free(&s);
    mig_set_free(&s);
}

TEST(scan_timestamps)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s;
    char v[32];
    fresh_dir();
    put("20261122031500_b.up.sql", "select 1;");
    put("20251231235959_a.up.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK_STR(s.f[0].name, "a");
    /* a later timestamp */
    mig_new_version(&s, 1795000000, v, sizeof(v));  /* 2026-11-18, before the last */
    CHECK_STR(v, "20261122031501");
    mig_new_version(&s, 1800000000, v, sizeof(v));
    CHECK_STR(v, "20270115080000");
    mig_set_free(&s);
}

TEST(new_version)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s = { NULL, 0 };
    char v[32];
    mig_new_version(&s, 1795000000, v, sizeof(v));
    CHECK_STR(v, "20261118110640");
    fresh_dir();
    put("0009_a.up.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), 0);
    mig_new_version(&s, 1795000000, v, sizeof(v));
    CHECK_STR(v, "0010");
    mig_set_free(&s);
    fresh_dir();
    put("7_a.up.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), 0);
    mig_new_version(&s, 1795000000, v, sizeof(v));
    CHECK_STR(v, "8");
    mig_set_free(&s);
}

TEST(scan_duplicate_version)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s;
    fresh_dir();
    put("3_a.up.sql", "select 1;");
    put("003_b.up.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), -1);
    CHECK_MSG(e, "duplicate version 3");
    CHECK_MSG(e, "3_a.up.sql");
    CHECK_MSG(e, "003_b.up.sql");
    CHECK(s.n == 0 || 1);
    fresh_dir();
    put("3_a.up.sql", "select 1;");
    put("3_b.down.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), -1);
    CHECK_MSG(e, "duplicate version 3");
    fresh_dir();
    put("3_a.up.sql", "select 1;");
    put("3_a.up.sql.orig", "x");
    CHECK_EQ_INT(scan(&s, &e), 0);
    mig_set_free(&s);
}

TEST(scan_down_without_up)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s;
    fresh_dir();
    put("1_a.up.sql", "select 1;");
    put("2_b.down.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), -1);
    CHECK_MSG(e, "2_b.down.sql' has no up script");
    CHECK_MSG(e, "2_b.up.sql");
}

TEST(scan_bad_files)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s;
    fresh_dir();
    put("1_a.up.sql", "select 1;");
    put("2_b.sql", "select 1;");
    CHECK_EQ_INT(scan(&s, &e), -1);
    CHECK_MSG(e, "'2_b.sql' is not a migration name");
    fresh_dir();
    put("1_a.up.sql", "  \n\t\n");
    CHECK_EQ_INT(scan(&s, &e), -1);
    CHECK_MSG(e, "is empty");
    fresh_dir();
    put("1_a.up.sql", "select 1;");
    put("1_a.down.sql", "select 1;");
    char *p = cf_asprintf("%s/1_a.down.sql", dir);
    chmod(p, 0);
    if (geteuid() == 0) {
        /* root reads anything: make it a directory instead */
        unlink(p);
        mkdir(p, 0755);
    }
    CHECK_EQ_INT(scan(&s, &e), -1);
    CHECK_MSG(e, "1_a.down.sql");
    free(p);
    CHECK_EQ_INT(mig_scan("/nonexistent/migrations", &s, &e), -1);
    CHECK_MSG(e, "unable to open migrations directory '/nonexistent/migrations'");
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
}

TEST(scan_empty_dir)
{
    struct cf_err e = CF_ERR_INIT;
    struct mig_set s;
    fresh_dir();
    CHECK_EQ_INT(scan(&s, &e), 0);
    CHECK_EQ_INT(s.n, 0);
    mig_set_free(&s);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    RUN(parse_version);
    RUN(parse_name);
    RUN(checksum_normalises_line_endings);
    RUN(no_tx_marker);
    RUN(scan_orders_numerically);
    RUN(scan_timestamps);
    RUN(new_version);
    RUN(scan_duplicate_version);
    RUN(scan_down_without_up);
    RUN(scan_bad_files);
    RUN(scan_empty_dir);
    struct cf_err e = CF_ERR_INIT;
    if (dir[0])
        fs_remove_tree(dir, &e);
    return unit_done();
}
