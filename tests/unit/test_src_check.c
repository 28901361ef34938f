/* test_src_check.c - the completeness proofs of lib/source/src_check.c and the forwarding
 * reader and helpers of lib/source/src_child.c.
 *
 * Without arguments: built-in cases (crc64 vector, synthetic archives, truncations,
 * corruptions). With `--file pgdump|rdb|mariadb|pgglobals PATH`: check a real dump file and
 * print its summary (tests/integration/db_checks.sh feeds it dumps from real servers and cut or
 * damaged copies of them); exit 0 when proved complete, 1 otherwise with the error on stderr. */
#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include "source/child.h"
#include "source/chk.h"
#include "unit.h"

/* a reader over an in-memory buffer, through a pipe written by a child process */
static int mem_fd(const void *p, size_t n)
{
    char path[] = "/tmp/coffer-unit.XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    if (write(fd, p, n) != (ssize_t)n) {
        close(fd);
        return -1;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

struct sink_count {
    uint64_t bytes;
    int fail_after;   /* fail the Nth call (0: never) */
    int calls;
};

static int count_sink(void *ctx, const void *buf, size_t len, struct cf_err *e)
{
    struct sink_count *c = ctx;
    (void)buf;
    c->calls++;
    if (c->fail_after && c->calls >= c->fail_after)
        return cf_err_set(e, CF_E_IO, "sink refused");
    c->bytes += len;
    return 0;
}

TEST(crc64_vector)
{
    CHECK(src_crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9caULL);
    /* split input gives the same value */
    uint64_t c = src_crc64(0, "1234", 4);
    CHECK(src_crc64(c, "56789", 5) == 0xe9c6d914c4b8d9caULL);
    char big[1000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)(i * 7);
    uint64_t whole = src_crc64(0, big, sizeof(big));
    uint64_t parts = src_crc64(src_crc64(0, big, 333), big + 333, sizeof(big) - 333);
    CHECK(whole == parts);
}

/* a minimal RDB: header, aux, selectdb, resizedb, a string with TTL, EOF, crc */
static size_t make_rdb(unsigned char *out, bool with_crc)
{
    size_t n = 0;
    memcpy(out, "REDIS0010", 9);
    n = 9;
    out[n++] = 0xFA;
    out[n++] = 9;
    memcpy(out + n, "redis-ver", 9);
    n += 9;
    out[n++] = 6;
    memcpy(out + n, "7.0.15", 6);
    n += 6;
    out[n++] = 0xFE;
    out[n++] = 0;
    out[n++] = 0xFB;
    out[n++] = 2;
    out[n++] = 1;
    out[n++] = 0xFC;   /* expire ms */
    for (int i = 0; i < 8; i++)
        out[n++] = (unsigned char)(i == 5 ? 1 : 0);
    out[n++] = 0;   /* string */
    out[n++] = 1;
    out[n++] = 'k';
    out[n++] = 3;
    memcpy(out + n, "val", 3);
    n += 3;
    out[n++] = 0;   /* string, int-encoded value */
    out[n++] = 2;
    memcpy(out + n, "k2", 2);
    n += 2;
    out[n++] = 0xC0;
    out[n++] = 42;
    out[n++] = 0xFF;
    uint64_t crc = with_crc ? src_crc64(0, out, n) : 0;
    for (int i = 0; i < 8; i++)
        out[n++] = (unsigned char)(crc >> (8 * i));
    return n;
}

static int check_rdb_mem(const unsigned char *p, size_t n, struct rdb_summary *s,
                         struct cf_err *e)
{
    int fd = mem_fd(p, n);
    struct src_reader r;
    struct sink_count sc = { 0, 0, 0 };
    src_reader_init(&r, fd, "test rdb", count_sink, &sc);
    int rc = rdb_check(&r, s, NULL, NULL, e);
    if (rc == 0 && sc.bytes != n)
        rc = cf_err_set(e, CF_E_INTERNAL, "forwarded %llu of %zu", (unsigned long long)sc.bytes, n);
    src_reader_free(&r);
    close(fd);
    return rc;
}

TEST(rdb_whole)
{
    unsigned char b[128];
    size_t n = make_rdb(b, true);
    struct rdb_summary s;
    struct cf_err e = CF_ERR_INIT;
    CHECK_EQ_INT(check_rdb_mem(b, n, &s, &e), 0);
    CHECK_EQ_INT(s.version, 10);
    CHECK_EQ_INT(s.keys, 2);
    CHECK_EQ_INT(s.keys_with_ttl, 1);
    CHECK_STR(s.redis_version, "7.0.15");
}

TEST(rdb_truncated_everywhere)
{
    unsigned char b[128];
    size_t n = make_rdb(b, true);
    for (size_t cut = 0; cut < n; cut++) {
        struct rdb_summary s;
        struct cf_err e = CF_ERR_INIT;
        CHECK_EQ_INT(check_rdb_mem(b, cut, &s, &e), -1);
        CHECK(e.code == CF_E_CORRUPT);
    }
}

TEST(rdb_bitflip_and_no_checksum)
{
    unsigned char b[128];
    size_t n = make_rdb(b, true);
    struct rdb_summary s;
    for (size_t i = 9; i < n; i++) {
        struct cf_err e = CF_ERR_INIT;
        b[i] ^= 0x10;
        CHECK_EQ_INT(check_rdb_mem(b, n, &s, &e), -1);
        b[i] ^= 0x10;
    }
    struct cf_err e = CF_ERR_INIT;
    n = make_rdb(b, false);
    CHECK_EQ_INT(check_rdb_mem(b, n, &s, &e), -1);
    CHECK_MSG(e, "rdbchecksum");
}

TEST(rdb_stops_after_trailer)
{
    unsigned char b[160];
    size_t n = make_rdb(b, true);
    memcpy(b + n, "+REPLCONF\r\n", 11);   /* what a master sends after the RDB */
    int fd = mem_fd(b, n + 11);
    struct src_reader r;
    struct sink_count sc = { 0, 0, 0 };
    struct rdb_summary s;
    struct cf_err e = CF_ERR_INIT;
    src_reader_init(&r, fd, "test rdb", count_sink, &sc);
    CHECK_EQ_INT(rdb_check(&r, &s, NULL, NULL, &e), 0);
    CHECK_EQ_INT(sc.bytes, n);
    src_reader_free(&r);
    close(fd);
}

TEST(sink_failure_is_reported)
{
    unsigned char b[128];
    size_t n = make_rdb(b, true);
    int fd = mem_fd(b, n);
    struct src_reader r;
    struct sink_count sc = { 0, 1, 0 };
    struct rdb_summary s;
    struct cf_err e = CF_ERR_INIT;
    src_reader_init(&r, fd, "test rdb", count_sink, &sc);
    CHECK_EQ_INT(rdb_check(&r, &s, NULL, NULL, &e), -1);
    CHECK_MSG(e, "sink refused");
    src_reader_free(&r);
    close(fd);
}

TEST(pgdump_not_an_archive)
{
    struct cf_err e = CF_ERR_INIT;
    struct pgdump_summary s;
    struct src_reader r;
    int fd = mem_fd("", 0);
    src_reader_init(&r, fd, "pg_dump app output", NULL, NULL);
    CHECK_EQ_INT(pgdump_check(&r, &s, &e), -1);
    CHECK_MSG(e, "empty");
    src_reader_free(&r);
    close(fd);
    cf_err_clear(&e);
    fd = mem_fd("-- PostgreSQL database dump\n", 28);
    src_reader_init(&r, fd, "pg_dump app output", NULL, NULL);
    CHECK_EQ_INT(pgdump_check(&r, &s, &e), -1);
    CHECK_MSG(e, "not a pg_dump custom-format archive");
    src_reader_free(&r);
    close(fd);
}

static void setbuf_str(struct buf *b, const char *s)
{
    buf_reset(b);
    buf_puts(b, s);
}

TEST(sqldump_trailer)
{
    struct buf head = BUF_INIT, tail = BUF_INIT;
    struct cf_err e = CF_ERR_INIT;
    setbuf_str(&head, "-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB\n");
    setbuf_str(&tail, "UNLOCK TABLES;\n\n-- Dump completed on 2026-11-22  5:10:01\n");
    CHECK_EQ_INT(sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL, "x", &e), 0);
    setbuf_str(&tail, "UNLOCK TABLES;\n\n-- Dump completed\n");
    CHECK_EQ_INT(sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL, "x", &e), 0);
    setbuf_str(&tail, "UNLOCK TABLES;\n\n-- Dump completed on 2026-11-22  5:1");
    CHECK_EQ_INT(sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL, "x", &e), -1);
    setbuf_str(&tail, "UNLOCK TABLES;\n\n-- Dump completed on 2026-11\n");
    CHECK_EQ_INT(sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL, "x", &e), -1);
    setbuf_str(&tail, "INSERT INTO `t` VALUES (1,'a'),(2,");
    CHECK_EQ_INT(sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL, "x", &e), -1);
    CHECK_MSG(e, "incomplete");
    cf_err_clear(&e);
    buf_reset(&head);
    CHECK_EQ_INT(sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL, "x", &e), -1);
    CHECK_MSG(e, "empty");
    buf_free(&head);
    buf_free(&tail);
}

TEST(child_failure_quotes_stderr)
{
    struct cf_err e = CF_ERR_INIT;
    struct child c;
    char *argv[] = { "sh", "-c", "echo 'pg_dump: error: connection failed' >&2; exit 3", NULL };
    const char *env[] = { "PGPASSWORD=secret", NULL };
    CHECK_EQ_INT(src_child_start(&c, "pg_dump app", argv, env, CHILD_READ, &e), 0);
    CHECK_EQ_INT(src_child_finish(&c, &e), -1);
    CHECK_MSG(e, "pg_dump app failed with exit status 3: pg_dump: error: connection failed");
    cf_err_clear(&e);
    /* the child sees the private environment, this process does not */
    char *argv2[] = { "sh", "-c", "printf %s \"$PGPASSWORD\"", NULL };
    CHECK_EQ_INT(src_child_start(&c, "sh", argv2, env, CHILD_READ, &e), 0);
    char out[16] = { 0 };
    CHECK_EQ_INT(read(c.fd, out, sizeof(out) - 1), 6);
    CHECK_STR(out, "secret");
    CHECK_EQ_INT(src_child_finish(&c, &e), 0);
    CHECK(getenv("PGPASSWORD") == NULL || strcmp(getenv("PGPASSWORD"), "secret") != 0);
}

static int check_file(const char *kind, const char *path)
{
    struct cf_err e = CF_ERR_INIT;
    struct src_reader r;
    struct sink_count sc = { 0, 0, 0 };
    int fd = open(path, O_RDONLY);
    int rc = -1;
    if (fd < 0) {
        perror(path);
        return 2;
    }
    src_reader_init(&r, fd, path, count_sink, &sc);
    if (strcmp(kind, "pgdump") == 0) {
        struct pgdump_summary s;
        rc = pgdump_check_rows(&r, &s, &e);
        if (rc == 0) {
            printf("archive %d.%d db=%s server=%s toc=%u data=%u large_objects=%u bytes=%llu\n",
                   s.vmaj, s.vmin, s.dbname, s.server_version, s.toc_entries, s.data_entries,
                   s.large_objects, (unsigned long long)s.bytes);
            for (size_t i = 0; i < s.ntables; i++)
                if (s.tables[i].counted)
                    printf("rows %s.%s %llu\n", s.tables[i].nsp, s.tables[i].name,
                           (unsigned long long)s.tables[i].rows);
                else
                    printf("rows %s.%s not counted\n", s.tables[i].nsp, s.tables[i].name);
            pgdump_summary_free(&s);
        }
    } else if (strcmp(kind, "rdb") == 0) {
        struct rdb_summary s;
        rc = rdb_check(&r, &s, NULL, NULL, &e);
        if (rc == 0)
            printf("rdb %d redis=%s keys=%llu ttl=%llu bytes=%llu\n", s.version,
                   s.redis_version, (unsigned long long)s.keys,
                   (unsigned long long)s.keys_with_ttl, (unsigned long long)s.bytes);
        if (rc == 0 && src_reader_at_eof(&r, &e) != 1)
            rc = cf_err_set(&e, CF_E_CORRUPT, "%s: bytes after the RDB trailer", path);
    } else {
        struct buf head = BUF_INIT, tail = BUF_INIT;
        bool my = strcmp(kind, "mariadb") == 0;
        rc = src_pump(&r, &head, 4096, &tail, 4096, &e);
        if (rc == 0)
            rc = sqldump_check(&head, &tail, my ? SQLDUMP_MARIADB_FIRST : SQLDUMP_PGALL_FIRST,
                               my ? SQLDUMP_MARIADB_LAST : SQLDUMP_PGALL_LAST,
                               my ? NULL : SQLDUMP_PGALL_SUFFIX, path, &e);
        buf_free(&head);
        buf_free(&tail);
    }
    if (rc == 0 && sc.bytes != r.consumed)
        rc = cf_err_set(&e, CF_E_INTERNAL, "forwarded %llu of %llu bytes",
                        (unsigned long long)sc.bytes, (unsigned long long)r.consumed);
    if (rc != 0)
        fprintf(stderr, "%s\n", e.msg);
    src_reader_free(&r);
    close(fd);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--file") == 0)
        return check_file(argv[2], argv[3]);
    RUN(crc64_vector);
    RUN(rdb_whole);
    RUN(rdb_truncated_everywhere);
    RUN(rdb_bitflip_and_no_checksum);
    RUN(rdb_stops_after_trailer);
    RUN(sink_failure_is_reported);
    RUN(pgdump_not_an_archive);
    RUN(sqldump_trailer);
    RUN(child_failure_quotes_stderr);
    return unit_done();
}
