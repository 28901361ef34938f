/* test_repo_log.c - the names the WAL archive takes (repo_log_name, repo_key_log) and how
 * the one key parser sees them. */
#include "unit.h"
#include "fixture.h"
#include "repo/repo.h"

#include <time.h>

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

static void write_file(const char *path, char c, size_t n)
{
    char *b = malloc(n);
    memset(b, c, n);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, b, n) != (ssize_t)n)
        abort();
    close(fd);
    free(b);
}

struct seen {
    int n;
    bool seg, hist;
};

static int seen_one(void *arg, const char *file, uint64_t stored)
{
    struct seen *s = arg;
    s->n++;
    s->seg |= strcmp(file, "000000010000000000000001") == 0 && stored > 0;
    s->hist |= strcmp(file, "00000002.history") == 0;
    return 0;
}

/* the push time in the header, the listing, a second push of the same and other content */
TEST(push_stat_list)
{
    struct fixture f;
    struct cf_err e = CF_ERR_INIT;
    struct repo_log_stats st;
    struct repo_log_meta m;
    struct seen s = { 0 };
    char *seg, *hist, *junk, *back;
    time_t before = time(NULL);

    CHECK(fixture_open(&f, NULL) == 0);
    seg = cf_asprintf("%s/000000010000000000000001", f.dir);
    hist = cf_asprintf("%s/00000002.history", f.dir);
    junk = cf_asprintf("%s/repo/logs/media/00000001/notawalfile", f.dir);
    back = cf_asprintf("%s/fetched", f.dir);
    write_file(seg, 'a', 1 << 20);
    write_file(hist, 'h', 100);
    CHECK(repo_log_push(f.repo, "media", seg, 1, &st, &e) == 0);
    CHECK(!st.existed);
    CHECK(repo_log_push(f.repo, "media", hist, 1, &st, &e) == 0);
    CHECK(repo_log_stat(f.repo, "media", "000000010000000000000001", &m, &e) == 0);
    CHECK(m.pushed >= before && m.pushed <= time(NULL));
    CHECK(m.stored > 0);
    CHECK(repo_log_stat(f.repo, "media", "000000010000000000000002", &m, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    cf_err_clear(&e);
    write_file(junk, 'j', 10);   /* another key under logs/: passed over */
    CHECK(repo_log_list(f.repo, "media", seen_one, &s, &e) == 0);
    CHECK_EQ_INT(s.n, 2);
    CHECK(s.seg && s.hist);
    /* the same content again (a later push time) is success; other content is refused */
    CHECK(repo_log_push(f.repo, "media", seg, 1, &st, &e) == 0);
    CHECK(st.existed);
    write_file(seg, 'b', 1 << 20);
    CHECK(repo_log_push(f.repo, "media", seg, 1, &st, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_EXISTS);
    cf_err_clear(&e);
    CHECK(repo_log_fetch(f.repo, "media", "00000002.history", back, &e) == 0);
    struct stat sb;
    CHECK(stat(back, &sb) == 0 && sb.st_size == 100);
    free(seg);
    free(hist);
    free(junk);
    free(back);
    fixture_close(&f);
}

/* binlog files and their partial objects under logs/<source>/binlog/, with what their
 * events say in the id */
TEST(binlog)
{
    struct fixture f;
    struct cf_err e = CF_ERR_INIT;
    struct repo_log_stats st;
    struct repo_log_meta m;
    struct repo_key k;
    char tl[9], **names = NULL, *key;
    size_t n = 0;

    CHECK(repo_log_name("binlog.000007", tl, &e) == 0);
    CHECK_STR(tl, "binlog");
    CHECK(repo_log_name("binlog.000007.partial-4096", tl, &e) == 0);
    CHECK(repo_log_name("binlog.000007.partial", tl, &e) == -1);
    cf_err_clear(&e);
    key = repo_key_log("db1", "mysql-bin.000042");
    CHECK_STR(key, "logs/db1/binlog/mysql-bin.000042");
    CHECK_EQ_INT(repo_key_parse(key, &k), REPO_KEY_LOG);
    free(key);

    CHECK(fixture_open(&f, NULL) == 0);
    char *whole = cf_asprintf("%s/binlog.000007", f.dir);
    char *part = cf_asprintf("%s/binlog.000008.partial-300", f.dir);
    char *wal = cf_asprintf("%s/000000010000000000000001", f.dir);
    write_file(whole, 'w', 500);
    write_file(part, 'p', 300);
    write_file(wal, 'a', 100);
    CHECK(repo_log_push_extra(f.repo, "media", whole, 1,
                              "events=1700000000..1700000060;gtid=0-1-5..0-1-9;closed", &st,
                              &e) == 0);
    CHECK(repo_log_push_extra(f.repo, "media", part, 1, "events=1700000061..1700000070;x=y",
                              &st, &e) == 0);
    CHECK(repo_log_push(f.repo, "media", wal, 1, &st, &e) == 0);
    CHECK(repo_log_stat(f.repo, "media", "binlog.000007", &m, &e) == 0);
    CHECK(m.first_event == 1700000000 && m.last_event == 1700000060 && m.closed);
    CHECK_STR(m.gtid_first, "0-1-5");
    CHECK_STR(m.gtid_last, "0-1-9");
    CHECK(repo_log_stat(f.repo, "media", "binlog.000008.partial-300", &m, &e) == 0);
    CHECK(m.last_event == 1700000070 && !m.closed && m.gtid_first[0] == '\0');
    CHECK(repo_log_stat(f.repo, "media", "000000010000000000000001", &m, &e) == 0);
    CHECK(m.first_event == 0 && !m.closed);
    /* an extra text outside the alphabet is refused, and nothing is written */
    CHECK(repo_log_push_extra(f.repo, "media", whole, 1, "events=1 2", &st, &e) == -1);
    cf_err_clear(&e);
    /* the same content again is success whatever the extra text; other content is refused */
    CHECK(repo_log_push_extra(f.repo, "media", whole, 1, "closed", &st, &e) == 0 && st.existed);
    write_file(whole, 'x', 500);
    CHECK(repo_log_push_extra(f.repo, "media", whole, 1, "closed", &st, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_EXISTS);
    cf_err_clear(&e);
    CHECK(repo_binlog_names(f.repo, "media", &names, &n, &e) == 0);
    CHECK_EQ_INT((int)n, 2);
    for (size_t i = 0; i < n; i++) {
        CHECK(strcmp(names[i], "binlog.000007") == 0 ||
              strcmp(names[i], "binlog.000008.partial-300") == 0);
        free(names[i]);
    }
    free(names);
    char *back = cf_asprintf("%s/back", f.dir);
    CHECK(repo_log_fetch(f.repo, "media", "binlog.000008.partial-300", back, &e) == 0);
    struct stat sb;
    CHECK(stat(back, &sb) == 0 && sb.st_size == 300);
    free(back);
    free(whole);
    free(part);
    free(wal);
    fixture_close(&f);
}

/* @n bytes of a file that zstd compresses in places and not in others: pseudo-random runs
 * (xorshift from @seed) between runs of text */
static unsigned char *mixed(size_t n, uint64_t seed)
{
    unsigned char *b = malloc(n ? n : 1);
    uint64_t x = seed | 1;
    for (size_t i = 0; i < n; i++) {
        if ((i >> 18) % 3 == 0) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            b[i] = (unsigned char)x;
        } else {
            b[i] = "insert into t values (42, 'wal');\n"[i % 34];
        }
    }
    return b;
}

/* every size goes through whole and comes back byte for byte: empty, tiny, around the size
 * from which a second thread digests (one of them several sealed messages), and one above the
 * limit for one pass (read twice); each pushed again is "already archived" */
TEST(sizes)
{
    static const size_t sizes[] = {
        0, 1, (256 << 10) - 1, 256 << 10, (512 << 10) + 7, (3 << 20) + 12345, (64 << 20) + 1,
    };
    struct fixture f;
    struct cf_err e = CF_ERR_INIT;
    struct repo_log_stats st;

    CHECK(fixture_open(&f, NULL) == 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        char name[32];
        snprintf(name, sizeof(name), "0000000100000000000000%02zX", i + 1);
        char *seg = cf_asprintf("%s/%s", f.dir, name);
        char *back = cf_asprintf("%s/back", f.dir);
        unsigned char *data = mixed(sizes[i], i + 7), *got = malloc(sizes[i] + 1);
        int fd = open(seg, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        CHECK(fd >= 0 && write(fd, data, sizes[i]) == (ssize_t)sizes[i]);
        close(fd);
        CHECK(repo_log_push(f.repo, "media", seg, 1, &st, &e) == 0);
        CHECK(!st.existed && st.bytes_in == sizes[i] && st.bytes_stored > 0);
        CHECK(repo_log_fetch(f.repo, "media", name, back, &e) == 0);
        fd = open(back, O_RDONLY);
        CHECK(fd >= 0);
        size_t n = 0;
        ssize_t k;
        while (fd >= 0 && (k = read(fd, got + n, sizes[i] + 1 - n)) > 0)
            n += (size_t)k;
        close(fd);
        CHECK(n == sizes[i] && memcmp(got, data, n) == 0);
        CHECK(repo_log_push(f.repo, "media", seg, 1, &st, &e) == 0 && st.existed);
        CHECK(st.bytes_in == sizes[i]);
        if (e.code != CF_E_OK)
            fprintf(stderr, "# size %zu: %s\n", sizes[i], e.msg);
        cf_err_clear(&e);
        unlink(back);
        unlink(seg);
        free(data);
        free(got);
        free(back);
        free(seg);
    }
    fixture_close(&f);
}

int main(void)
{
    RUN(names);
    RUN(keys);
    RUN(push_stat_list);
    RUN(binlog);
    RUN(sizes);
    return unit_done();
}
