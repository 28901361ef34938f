/* test_db_binlog.c - binlog names and what the scan of a binlog file finds (db_binlog.h),
 * on files built event by event: times, GTIDs, closed or not, the last transaction before
 * a stop time across files, statements of a watched database, damaged files. */
#include "unit.h"
#include "db/db_binlog.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

TEST(names)
{
    uint64_t seq, part;
    size_t bl;
    CHECK(db_binlog_name("binlog.000042", &seq, &bl));
    CHECK(seq == 42 && bl == 6);
    CHECK(db_binlog_name("mysql-bin.1234567890", &seq, NULL) && seq == 1234567890ull);
    CHECK(db_binlog_name("my_host-bin.000001", NULL, NULL));
    static const char *const bad[] = { "", "binlog", ".000001", "binlog.00001",
                                       "binlog.12345678901", "binlog.00000a", "bin.log.000001",
                                       "../binlog.000001", "binlog.000001.partial",
                                       "binlog.index", "binlog.000001/" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        CHECK(!db_binlog_name(bad[i], NULL, NULL));
    CHECK(db_binlog_object_name("binlog.000042", &seq, &bl, &part) && part == 0 && seq == 42);
    CHECK(db_binlog_object_name("binlog.000042.partial-1234", &seq, &bl, &part));
    CHECK(part == 1234 && seq == 42 && bl == 6);
    CHECK(!db_binlog_object_name("binlog.000042.partial-", NULL, NULL, NULL));
    CHECK(!db_binlog_object_name("binlog.000042.partial-0", NULL, NULL, NULL));
    CHECK(!db_binlog_object_name("binlog.000042.partial-12x", NULL, NULL, NULL));
    CHECK(!db_binlog_object_name("binlog.partial-12", NULL, NULL, NULL));
}

struct bl {
    unsigned char b[4096];
    size_t n;
};

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* an event of @type at time @t with @body (and a 4-byte checksum, as the server writes) */
static void ev(struct bl *f, uint8_t type, uint32_t t, const void *body, size_t len)
{
    unsigned char *h = f->b + f->n;
    uint32_t size = (uint32_t)(19 + len + 4);
    put32(h, t);
    h[4] = type;
    put32(h + 5, 1);   /* server id */
    put32(h + 9, size);
    put32(h + 13, (uint32_t)(f->n + size));
    h[17] = h[18] = 0;
    memcpy(h + 19, body, len);
    memset(h + 19 + len, 0xcc, 4);
    f->n += size;
}

static void gtid(struct bl *f, uint32_t t, uint64_t seq)
{
    unsigned char b[13] = { 0 };
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(seq >> (8 * i));
    put32(b + 8, 0);   /* domain */
    ev(f, 162, t, b, sizeof(b));
}

static void query(struct bl *f, uint32_t t, const char *db, const char *sql)
{
    unsigned char b[256] = { 0 };
    size_t dl = strlen(db), n = 13;
    b[8] = (unsigned char)dl;   /* no status variables */
    memcpy(b + n, db, dl);
    n += dl + 1;
    memcpy(b + n, sql, strlen(sql));
    ev(f, 2, t, b, n + strlen(sql));
}

static void start(struct bl *f, uint32_t t)
{
    unsigned char fd[80] = { 4, 0 };
    memcpy(f->b, "\xfe" "bin", 4);
    f->n = 4;
    ev(f, 15, t, fd, sizeof(fd));
}

static const char *save(const struct bl *f, const char *name)
{
    static char path[3][64];
    static int k;
    char *p = path[k++ % 3];
    snprintf(p, 64, "/tmp/coffer-unit-%d-%s", (int)getpid(), name);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, f->b, f->n) != (ssize_t)f->n)
        abort();
    close(fd);
    return p;
}

/* file 1: transactions 5 (t=100, two row events and XID at 101) and 6 (t=103), rotate at 104;
 * file 2: a statement of database shop (7, t=105), transaction 8 (t=107), no rotate yet */
TEST(scan)
{
    struct bl f1, f2;
    struct db_binlog_scan s;
    struct cf_err e = CF_ERR_INIT;
    unsigned char rows[8] = { 0 }, xid[8] = { 0 };

    start(&f1, 90);
    gtid(&f1, 100, 5);
    ev(&f1, 19, 100, rows, sizeof(rows));   /* table map */
    ev(&f1, 23, 100, rows, sizeof(rows));   /* write rows */
    ev(&f1, 16, 101, xid, sizeof(xid));
    size_t pos6 = f1.n;
    gtid(&f1, 103, 6);
    query(&f1, 103, "shop", "BEGIN");
    ev(&f1, 23, 103, rows, sizeof(rows));
    ev(&f1, 16, 103, xid, sizeof(xid));
    ev(&f1, 4, 104, "\4\0\0\0\0\0\0\0binlog.000002", 21);
    start(&f2, 104);
    gtid(&f2, 105, 7);
    query(&f2, 105, "shop", "INSERT INTO shop.t VALUES (1)");
    gtid(&f2, 107, 8);
    ev(&f2, 23, 107, rows, sizeof(rows));
    ev(&f2, 16, 107, xid, sizeof(xid));
    const char *p1 = save(&f1, "binlog.000001"), *p2 = save(&f2, "binlog.000002");

    /* the whole of file 1 */
    CHECK(db_binlog_scan(p1, 4, 0, NULL, false, &s, &e) == 0);
    CHECK(s.closed);
    CHECK(s.first_time == 100 && s.last_time == 104);
    CHECK_STR(s.gtid_first, "0-1-5");
    CHECK_STR(s.gtid_last, "0-1-6");
    CHECK(s.size == f1.n && s.events == 9);
    /* a stop at 103: transaction 5 is the last applied, 6 is cut */
    CHECK(db_binlog_scan(p1, 4, 103, NULL, false, &s, &e) == 0);
    CHECK(s.reached);
    CHECK_STR(s.applied_gtid, "0-1-5");
    CHECK(s.applied_time == 101);
    /* from the position of transaction 6 (a dump's), a stop at 106 across both files: the
     * statement 7 is applied (ended by the GTID of 8), 8 is not; a watched database counts it */
    CHECK(db_binlog_scan(p1, pos6, 106, "shop", false, &s, &e) == 0);
    CHECK(!s.reached && s.first_time == 103);
    CHECK_STR(s.applied_gtid, "0-1-6");
    CHECK(s.statements == 0);   /* BEGIN is no statement */
    CHECK(db_binlog_scan(p2, 4, 106, "shop", true, &s, &e) == 0);
    CHECK(s.reached && !s.closed);
    CHECK_STR(s.applied_gtid, "0-1-7");
    CHECK(s.applied_time == 105);
    CHECK(s.statements == 1);
    CHECK(strncmp(s.statement, "INSERT INTO shop.t", 18) == 0);
    /* another database's statements are not counted */
    CHECK(db_binlog_scan(p2, 4, 106, "other", false, &s, &e) == 0);
    CHECK(s.statements == 0);
    /* a stop beyond the end: not reached; an open file's last transaction ended by its XID */
    CHECK(db_binlog_scan(p2, 4, 200, NULL, false, &s, &e) == 0);
    CHECK(!s.reached);
    CHECK_STR(s.applied_gtid, "0-1-8");

    /* a partly written last event is not counted; the size ends before it */
    size_t whole = f2.n;
    gtid(&f2, 109, 9);
    f2.n -= 5;
    p2 = save(&f2, "binlog.000002");
    CHECK(db_binlog_scan(p2, 4, 0, NULL, false, &s, &e) == 0);
    CHECK(s.size == whole);
    CHECK_STR(s.gtid_last, "0-1-8");

    /* no magic, an impossible event size, no format description first */
    f2.b[0] = 'x';
    p2 = save(&f2, "binlog.000002");
    CHECK(db_binlog_scan(p2, 4, 0, NULL, false, &s, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_CORRUPT);
    cf_err_clear(&e);
    f2.b[0] = 0xfe;
    put32(f2.b + 4 + 9, 3);
    p2 = save(&f2, "binlog.000002");
    CHECK(db_binlog_scan(p2, 4, 0, NULL, false, &s, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_CORRUPT);
    cf_err_clear(&e);
    f2.b[4 + 4] = 2;
    put32(f2.b + 4 + 9, 19 + 80 + 4);
    p2 = save(&f2, "binlog.000002");
    CHECK(db_binlog_scan(p2, 4, 0, NULL, false, &s, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_CORRUPT);
    cf_err_clear(&e);
    CHECK(db_binlog_scan("/nonexistent/binlog.000001", 4, 0, NULL, false, &s, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    unlink(p1);
    unlink(p2);
}

int main(void)
{
    RUN(names);
    RUN(scan);
    return unit_done();
}
