/* test_logrange.c - policies/logrange.c: WAL and binlog names, ranges and gaps, and the
 * retention of a log archive: hand-written cases, then randomized archives (timeline switches,
 * base backups kept or not, damaged ones, keep-pitr windows) checked against the invariants
 * and a brute-force oracle of the rules. */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>

#include "../../policies/logrange.h"

#define MIB (1024ull * 1024)

TEST(wal_names)
{
    struct log_pos p;
    char s[25];

    CHECK(log_parse_wal("0000000100000000000000FF", 16 * MIB, &p));
    CHECK_STR(p.stream, "00000001");
    CHECK_EQ_INT(p.seq, 255);
    CHECK_EQ_INT(p.kind, LOG_SEGMENT);
    CHECK(log_parse_wal("000000010000000100000000", 16 * MIB, &p));
    CHECK_EQ_INT(p.seq, 256);
    CHECK(log_parse_wal("0000000A000000020000000C", 16 * MIB, &p));
    CHECK_STR(p.stream, "0000000A");
    CHECK_EQ_INT(p.seq, 2 * 256 + 12);
    /* YY at or above 4 GiB / segment size does not exist */
    CHECK(!log_parse_wal("000000010000000000000100", 16 * MIB, &p));
    CHECK(log_parse_wal("00000001000000000000003F", 64 * MIB, &p));
    CHECK_EQ_INT(p.seq, 63);
    CHECK(!log_parse_wal("000000010000000000000040", 64 * MIB, &p));
    CHECK(log_parse_wal("000000010000000500000003", 1024 * MIB, &p));
    CHECK_EQ_INT(p.seq, 5 * 4 + 3);
    CHECK(log_parse_wal("000000010000000000000FFF", 1 * MIB, &p));
    CHECK_EQ_INT(p.seq, 0xFFF);
    /* sizes PostgreSQL does not allow, lower case, timeline 0, junk */
    CHECK(!log_parse_wal("000000010000000000000001", 3 * MIB, &p));
    CHECK(!log_parse_wal("000000010000000000000001", 2048 * MIB, &p));
    CHECK(!log_parse_wal("0000000100000000000000ff", 16 * MIB, &p));
    CHECK(!log_parse_wal("000000000000000000000001", 16 * MIB, &p));
    CHECK(!log_parse_wal("00000001000000000000001", 16 * MIB, &p));
    CHECK(!log_parse_wal("0000000100000000000000010", 16 * MIB, &p));
    CHECK(!log_parse_wal("000000010000000000000001.tmp", 16 * MIB, &p));
    CHECK(!log_parse_wal("archive_status", 16 * MIB, &p));
    /* the other files PostgreSQL archives */
    CHECK(log_parse_wal("00000002.history", 16 * MIB, &p));
    CHECK_EQ_INT(p.kind, LOG_HISTORY);
    CHECK_STR(p.stream, "00000002");
    CHECK(!log_parse_wal("00000000.history", 16 * MIB, &p));
    CHECK(log_parse_wal("000000010000000000000005.partial", 16 * MIB, &p));
    CHECK_EQ_INT(p.kind, LOG_PARTIAL);
    CHECK_EQ_INT(p.seq, 5);
    CHECK(log_parse_wal("000000010000000000000002.00000028.backup", 16 * MIB, &p));
    CHECK_EQ_INT(p.kind, LOG_BACKUP);
    CHECK_EQ_INT(p.seq, 2);
    CHECK(!log_parse_wal("000000010000000000000002.0000002.backup", 16 * MIB, &p));
    /* the name of a number round-trips, for every allowed size */
    for (uint64_t seg = MIB; seg <= 1024 * MIB; seg *= 2)
        for (uint64_t q = 0; q < 3000; q += 7) {
            log_format_wal("0000000C", q, seg, s);
            CHECK(log_parse_wal(s, seg, &p));
            CHECK_EQ_INT(p.seq, q);
            CHECK_STR(p.stream, "0000000C");
        }
    log_format_wal("00000001", 256, 16 * MIB, s);
    CHECK_STR(s, "000000010000000100000000");
}

TEST(binlog_names)
{
    struct log_pos p;
    CHECK(log_parse_binlog("mysql-bin.000042", &p));
    CHECK_STR(p.stream, "mysql-bin");
    CHECK_EQ_INT(p.seq, 42);
    CHECK(log_parse_binlog("host.name-bin.1000000", &p));
    CHECK_STR(p.stream, "host.name-bin");
    CHECK_EQ_INT(p.seq, 1000000);
    CHECK(!log_parse_binlog("mysql-bin.index", &p));
    CHECK(!log_parse_binlog("mysql-bin.00042", &p));
    CHECK(!log_parse_binlog("mysql-bin.0000x2", &p));
    CHECK(!log_parse_binlog(".000001", &p));
    CHECK(!log_parse_binlog("mysqlbin", &p));
}

static struct log_pos P(const char *stream, uint64_t seq, enum log_kind k)
{
    struct log_pos p;
    memset(&p, 0, sizeof(p));
    snprintf(p.stream, sizeof(p.stream), "%s", stream);
    p.seq = seq;
    p.kind = k;
    return p;
}

TEST(ranges_and_gaps)
{
    struct log_pos v[] = {
        P("00000001", 7, LOG_SEGMENT), P("00000001", 3, LOG_SEGMENT),
        P("00000001", 4, LOG_SEGMENT), P("00000001", 5, LOG_SEGMENT),
        P("00000001", 4, LOG_SEGMENT),   /* listed twice: not a gap, counted once */
        P("00000001", 6, LOG_PARTIAL),   /* does not fill the hole at 6 */
        P("00000002", 9, LOG_SEGMENT),   P("00000002", 8, LOG_SEGMENT),
        P("00000002", 12, LOG_SEGMENT),  P("00000002", 0, LOG_HISTORY),
        P("00000003", 20, LOG_BACKUP),
    };
    struct log_range *r = NULL, *g = NULL;
    size_t nr = 0, ng = 0;

    log_ranges(v, sizeof(v) / sizeof(*v), &r, &nr, &g, &ng);
    CHECK_EQ_INT(nr, 4);
    CHECK_EQ_INT(ng, 2);
    if (nr == 4 && ng == 2) {
        CHECK_STR(r[0].stream, "00000001");
        CHECK_EQ_INT(r[0].first, 3);
        CHECK_EQ_INT(r[0].last, 5);
        CHECK_EQ_INT(r[0].files, 3);
        CHECK_EQ_INT(r[1].first, 7);
        CHECK_EQ_INT(r[1].last, 7);
        CHECK_STR(r[2].stream, "00000002");
        CHECK_EQ_INT(r[2].first, 8);
        CHECK_EQ_INT(r[2].last, 9);
        CHECK_EQ_INT(r[3].first, 12);
        CHECK_STR(g[0].stream, "00000001");
        CHECK_EQ_INT(g[0].first, 6);
        CHECK_EQ_INT(g[0].last, 6);
        CHECK_EQ_INT(g[0].files, 1);
        CHECK_STR(g[1].stream, "00000002");
        CHECK_EQ_INT(g[1].first, 10);
        CHECK_EQ_INT(g[1].last, 11);
        CHECK_EQ_INT(g[1].files, 2);
    }
    free(r);
    free(g);
    /* nothing, one file: no gap */
    log_ranges(v, 0, &r, &nr, &g, &ng);
    CHECK_EQ_INT(nr, 0);
    CHECK_EQ_INT(ng, 0);
    free(r);
    free(g);
    log_ranges(v, 1, &r, &nr, NULL, NULL);
    CHECK_EQ_INT(nr, 1);
    free(r);
}

/* --- retention --- */

#define MAXF 400
#define MAXB 24

struct arch {
    struct log_file f[MAXF];
    size_t nf;
    struct log_base b[MAXB];
    char ids[MAXB][16];
    size_t nb;
};

static unsigned rnd(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static void add_file(struct arch *a, const char *tl, uint64_t seq, enum log_kind k, time_t pushed)
{
    if (a->nf == MAXF)
        return;
    a->f[a->nf].pos = P(tl, seq, k);
    a->f[a->nf].pushed = pushed;
    a->nf++;
}

/* an archive of @nseg segments pushed one a minute from t0, a timeline switch at @sw (0:
 * none), base backups every few segments */
static void make_arch(struct arch *a, unsigned *seed, time_t t0)
{
    memset(a, 0, sizeof(*a));
    unsigned nseg = 20 + rnd(seed) % 300, sw = rnd(seed) % 3 ? 0 : 5 + rnd(seed) % nseg;
    const char *tl = "00000001";
    for (unsigned q = 0; q < nseg; q++) {
        if (sw && q == sw) {
            add_file(a, "00000001", q, LOG_PARTIAL, t0 + q * 60);
            add_file(a, "00000002", 0, LOG_HISTORY, t0 + q * 60);
            tl = "00000002";
        }
        if (rnd(seed) % 40 == 0)
            continue;   /* a hole now and then */
        add_file(a, tl, q, LOG_SEGMENT, t0 + q * 60 + 59);
        if (a->nb < MAXB && rnd(seed) % 12 == 0) {
            struct log_base *b = &a->b[a->nb];
            unsigned len = rnd(seed) % 3;
            snprintf(a->ids[a->nb], sizeof(a->ids[a->nb]), "b%zu", a->nb);
            b->id = a->ids[a->nb];
            snprintf(b->stream, sizeof(b->stream), "%s", tl);
            b->start = q;
            b->stop = q + len;
            b->stop_time = t0 + (time_t)(q + len) * 60 + 30;
            b->kept = rnd(seed) % 2;
            b->usable = rnd(seed) % 8 != 0;
            add_file(a, tl, q, LOG_BACKUP, t0 + q * 60 + 59);
            a->nb++;
        }
    }
}

/* the rules, written out the slow way */
static unsigned oracle(const struct arch *a, size_t k, time_t now, int64_t pitr,
                       const struct log_decision *d)
{
    const struct log_pos *p = &a->f[k].pos;
    bool any = false;
    size_t latest = 0, anchor = 0;
    bool have_anchor = false;
    unsigned keep = 0;

    for (size_t i = 0; i < a->nb; i++) {
        if (!a->b[i].usable)
            continue;
        if (!any || a->b[i].stop_time > a->b[latest].stop_time ||
            (a->b[i].stop_time == a->b[latest].stop_time && a->b[i].start > a->b[latest].start))
            latest = i;
        any = true;
    }
    if (!any)
        return LOGK_NO_BASE;
    if (pitr > 0) {
        time_t ws = now - pitr;
        for (size_t i = 0; i < a->nb; i++)
            if (a->b[i].usable && a->b[i].stop_time <= ws &&
                (!have_anchor || a->b[i].stop_time > a->b[anchor].stop_time ||
                 (a->b[i].stop_time == a->b[anchor].stop_time &&
                  a->b[i].start > a->b[anchor].start))) {
                anchor = i;
                have_anchor = true;
            }
        if (!have_anchor)
            for (size_t i = 0; i < a->nb; i++)
                if (a->b[i].usable && (!have_anchor || a->b[i].stop_time < a->b[anchor].stop_time)) {
                    anchor = i;
                    have_anchor = true;
                }
    }
    if (p->kind == LOG_HISTORY) {
        for (size_t j = 0; j < a->nf; j++)
            if (a->f[j].pos.kind != LOG_HISTORY && d[j].keep &&
                strcmp(a->f[j].pos.stream, p->stream) >= 0)
                return LOGK_HISTORY;
        return 0;
    }
    if (p->seq >= a->b[latest].start)
        keep |= LOGK_LATEST;
    if (have_anchor && (p->seq >= a->b[anchor].start || a->f[k].pushed >= now - pitr))
        keep |= LOGK_WINDOW;
    for (size_t i = 0; i < a->nb; i++)
        if ((a->b[i].kept || (have_anchor && i == anchor)) && !a->b[i].self_contained &&
            strcmp(a->b[i].stream, p->stream) == 0 && p->seq >= a->b[i].start &&
            p->seq <= a->b[i].stop)
            keep |= LOGK_BACKUP;
    return keep;
}

TEST(retention_no_base_keeps_everything)
{
    struct arch a;
    struct log_decision d[MAXF];
    struct log_plan pl;
    unsigned seed = 7;

    make_arch(&a, &seed, 1000000);
    for (size_t i = 0; i < a.nb; i++)
        a.b[i].usable = false;   /* damaged ones are no base to restore from */
    log_retention(a.b, a.nb, a.f, a.nf, 1000000 + 86400 * 30, 3600, d, &pl);
    CHECK(!pl.have_base);
    for (size_t i = 0; i < a.nf; i++)
        CHECK_EQ_INT(d[i].keep, LOGK_NO_BASE);
    log_retention(NULL, 0, a.f, a.nf, 0, 0, d, &pl);
    for (size_t i = 0; i < a.nf; i++)
        CHECK(d[i].keep != 0);
}

TEST(retention_hand_written)
{
    /* segments 0..29 on timeline 1, pushed one a minute; base A 2..3 (kept by GFS), base B
     * 10..11 (not kept), base C 20..21 (newest); window of 15 min at minute 30 */
    struct arch a;
    struct log_decision d[MAXF];
    struct log_plan pl;
    memset(&a, 0, sizeof(a));
    for (uint64_t q = 0; q < 30; q++)
        add_file(&a, "00000001", q, LOG_SEGMENT, (time_t)q * 60 + 59);
    struct log_base b[] = {
        { "A", "00000001", 2, 3, 3 * 60 + 30, true, true, false },
        { "B", "00000001", 10, 11, 11 * 60 + 30, false, true, false },
        { "C", "00000001", 20, 21, 21 * 60 + 30, true, true, false },
    };
    log_retention(b, 3, a.f, a.nf, 30 * 60, 15 * 60, d, &pl);
    /* window start 15:00: B stopped before it, C after: B anchors the window */
    CHECK(pl.anchored);
    CHECK_EQ_INT(pl.anchor, 1);
    CHECK(!pl.anchor_short);
    CHECK_EQ_INT(pl.latest, 2);
    for (size_t q = 0; q < 30; q++) {
        bool want = (q >= 2 && q <= 3) || q >= 10;
        CHECK_EQ_INT(d[q].keep != 0, want);
    }
    CHECK(d[2].keep & LOGK_BACKUP);
    CHECK_EQ_INT(d[2].base, 0);
    CHECK(d[10].keep & LOGK_WINDOW);
    CHECK(d[10].keep & LOGK_BACKUP);   /* the anchor keeps its own range */
    CHECK(d[25].keep & LOGK_LATEST);
    /* no window: only A's range and from C on */
    log_retention(b, 3, a.f, a.nf, 30 * 60, 0, d, &pl);
    CHECK(!pl.anchored);
    for (size_t q = 0; q < 30; q++)
        CHECK_EQ_INT(d[q].keep != 0, (q >= 2 && q <= 3) || q >= 20);
    /* a window older than every base backup: it starts at the oldest one; the files pushed
     * within the window are kept even before it (segment 1, pushed at 1:59) */
    log_retention(b, 3, a.f, a.nf, 30 * 60, 29 * 60, d, &pl);
    CHECK(pl.anchor_short);
    CHECK_EQ_INT(pl.anchor, 0);
    for (size_t q = 0; q < 30; q++)
        CHECK_EQ_INT(d[q].keep != 0, q >= 1);
    CHECK_EQ_INT(d[1].keep, LOGK_WINDOW);
}

TEST(retention_randomized)
{
    unsigned seed = 12345;
    static struct arch a, a2;
    static struct log_decision d[MAXF], d2[MAXF];
    struct log_plan pl, pl2;

    unsigned seen = 0;
    size_t deleted = 0;

    for (int round = 0; round < 3000; round++) {
        time_t t0 = 1700000000;
        make_arch(&a, &seed, t0);
        time_t now = t0 + (time_t)(rnd(&seed) % 400) * 60;
        int64_t pitr = rnd(&seed) % 3 ? (int64_t)(rnd(&seed) % 300) * 60 : 0;
        log_retention(a.b, a.nb, a.f, a.nf, now, pitr, d, &pl);
        for (size_t k = 0; k < a.nf; k++) {
            unsigned want = oracle(&a, k, now, pitr, d);
            if (want != d[k].keep) {
                printf("# round %d file %zu (%s %llu kind %d): keep %u, oracle %u\n", round, k,
                       a.f[k].pos.stream, (unsigned long long)a.f[k].pos.seq, a.f[k].pos.kind,
                       d[k].keep, want);
                CHECK_EQ_INT(d[k].keep, want);
                break;
            }
        }
        for (size_t k = 0; k < a.nf; k++) {
            seen |= d[k].keep;
            deleted += d[k].keep == 0;
        }
        if (!pl.have_base)
            continue;
        /* invariants, said directly */
        for (size_t k = 0; k < a.nf; k++) {
            const struct log_pos *p = &a.f[k].pos;
            if (p->kind == LOG_HISTORY)
                continue;
            /* never delete WAL a kept base backup needs */
            for (size_t i = 0; i < a.nb; i++)
                if (a.b[i].kept && strcmp(a.b[i].stream, p->stream) == 0 &&
                    p->seq >= a.b[i].start && p->seq <= a.b[i].stop)
                    CHECK(d[k].keep != 0);
            /* anything newer than the newest base backup's start stays */
            if (p->seq >= a.b[pl.latest].start)
                CHECK(d[k].keep != 0);
            /* every file of the window, and every file from its base backup on */
            if (pitr > 0 && (a.f[k].pushed >= now - pitr || p->seq >= a.b[pl.anchor].start))
                CHECK(d[k].keep != 0);
        }
        if (pl.anchored) {
            CHECK(a.b[pl.anchor].usable);
            if (!pl.anchor_short)
                CHECK(a.b[pl.anchor].stop_time <= now - pitr);
            for (size_t i = 0; i < a.nb; i++)   /* the newest that stopped before the window */
                if (!pl.anchor_short && a.b[i].usable && a.b[i].stop_time <= now - pitr)
                    CHECK(a.b[i].stop_time <= a.b[pl.anchor].stop_time);
        }
        /* applying it again to what it kept (the anchor now kept as the caller must) deletes
         * nothing more */
        a2 = a;
        a2.nf = 0;
        for (size_t k = 0; k < a.nf; k++)
            if (d[k].keep)
                a2.f[a2.nf++] = a.f[k];
        if (pl.anchored)
            a2.b[pl.anchor].kept = true;
        log_retention(a2.b, a2.nb, a2.f, a2.nf, now, pitr, d2, &pl2);
        for (size_t k = 0; k < a2.nf; k++)
            if (d2[k].keep == 0) {
                printf("# round %d: a second pass deletes %s %llu\n", round,
                       a2.f[k].pos.stream, (unsigned long long)a2.f[k].pos.seq);
                CHECK(d2[k].keep != 0);
                break;
            }
    }
    /* the rounds exercised every rule, and deleted something */
    CHECK_EQ_INT(seen, LOGK_WINDOW | LOGK_BACKUP | LOGK_HISTORY | LOGK_NO_BASE | LOGK_LATEST);
    CHECK(deleted > 1000);
}

/* prune never makes a gap that matters: after removing what log_retention() deletes (and the
 * base backups nobody keeps), every gap that log_gap_matters() reports holds a segment that
 * was missing before */
TEST(retention_makes_no_gap_that_matters)
{
    unsigned seed = 777;
    static struct arch a, k;
    static struct log_decision d[MAXF];
    static struct log_pos p0[MAXF], p1[MAXF];
    struct log_plan pl;
    size_t holes = 0, mattering = 0;

    for (int round = 0; round < 2000; round++) {
        time_t t0 = 1700000000;
        make_arch(&a, &seed, t0);
        time_t now = t0 + (time_t)(rnd(&seed) % 400) * 60;
        int64_t pitr = rnd(&seed) % 3 ? (int64_t)(rnd(&seed) % 300) * 60 : 0;
        struct log_plan first;
        log_retention(a.b, a.nb, a.f, a.nf, now, pitr, d, &first);
        if (first.have_base)
            a.b[first.latest].kept = true;   /* the newest is always kept (retention.h) */
        log_retention(a.b, a.nb, a.f, a.nf, now, pitr, d, &pl);
        if (pl.anchored)
            a.b[pl.anchor].kept = true;      /* as the caller must */
        memset(&k, 0, sizeof(k));
        for (size_t i = 0; i < a.nb; i++)
            if (a.b[i].kept || !pl.have_base) {
                k.b[k.nb] = a.b[i];
                k.b[k.nb].id = a.ids[i];
                k.nb++;
            }
        size_t n0 = 0, n1 = 0;
        for (size_t i = 0; i < a.nf; i++) {
            p0[n0++] = a.f[i].pos;
            if (d[i].keep)
                p1[n1++] = a.f[i].pos;
        }
        struct log_range *g0 = NULL, *g1 = NULL;
        size_t ng0 = 0, ng1 = 0;
        log_ranges(p0, n0, NULL, NULL, &g0, &ng0);
        log_ranges(p1, n1, NULL, NULL, &g1, &ng1);
        for (size_t j = 0; j < ng1; j++) {
            if (!log_gap_matters(k.b, k.nb, now, pitr, &g1[j])) {
                holes++;
                continue;
            }
            mattering++;
            bool old = false;
            for (size_t i = 0; i < ng0 && !old; i++)
                old = strcmp(g0[i].stream, g1[j].stream) == 0 && g0[i].first >= g1[j].first &&
                      g0[i].last <= g1[j].last;
            if (!old) {
                printf("# round %d: prune made a gap that matters: %s %llu..%llu\n", round,
                       g1[j].stream, (unsigned long long)g1[j].first,
                       (unsigned long long)g1[j].last);
                CHECK(old);
                j = ng1;
            }
        }
        free(g0);
        free(g1);
    }
    /* both kinds were seen: holes retention left, and gaps that were there before */
    CHECK(holes > 100);
    CHECK(mattering > 100);
}

/* A MariaDB binlog archive and its dumps: files binlog.000001.. closed one after another
 * (each holds the events from the previous one's close to its own), pushed a few seconds
 * after; dumps at random moments, each recording the file being written then (the earliest of
 * its databases' positions), self-contained. After a prune as catalog prune does it (the
 * files log_retention() deletes, the dumps no rule keeps, the anchor kept), a restore to any
 * second of the keep-pitr window, and to any moment after the newest dump, finds every file
 * from its dump's position to the file holding the moment; and a dump kept by the backup
 * rules outside the window keeps no binlog at all. */
struct barch {
    int64_t close[MAXF];   /* close[n]: when binlog n+1 was closed */
    size_t nfiles;
};

/* the file (seq) whose events cover @t: the first closed after @t, else the last */
static uint64_t file_at(const struct barch *ba, int64_t t)
{
    for (size_t n = 0; n < ba->nfiles; n++)
        if (ba->close[n] > t)
            return n + 1;
    return ba->nfiles;
}

TEST(retention_binlog_dumps)
{
    unsigned seed = 4242;
    static struct arch a;
    static struct barch ba;
    static struct log_decision d[MAXF];
    struct log_plan pl;
    size_t restores = 0, gfs_outside = 0, deleted = 0;

    for (int round = 0; round < 3000; round++) {
        time_t t0 = 1700000000;
        memset(&a, 0, sizeof(a));
        memset(&ba, 0, sizeof(ba));
        ba.nfiles = 5 + rnd(&seed) % 150;
        int64_t t = t0;
        for (size_t n = 0; n < ba.nfiles; n++) {
            t += 30 + rnd(&seed) % 600;
            ba.close[n] = t;
            add_file(&a, "binlog", n + 1, LOG_SEGMENT, (time_t)t + rnd(&seed) % 5);
        }
        int64_t end = t;
        /* dumps in time order, as a source's lock makes them */
        int64_t td = t0 + rnd(&seed) % 900;
        while (a.nb < MAXB && td < end) {
            struct log_base *b = &a.b[a.nb];
            snprintf(a.ids[a.nb], sizeof(a.ids[a.nb]), "d%zu", a.nb);
            b->id = a.ids[a.nb];
            snprintf(b->stream, sizeof(b->stream), "binlog");
            b->start = b->stop = file_at(&ba, td);
            b->stop_time = (time_t)td;
            b->kept = rnd(&seed) % 3 == 0;
            b->usable = rnd(&seed) % 10 != 0;
            b->self_contained = true;
            a.nb++;
            td += 60 + rnd(&seed) % 6000;
        }
        time_t now = (time_t)end + rnd(&seed) % 300;
        int64_t pitr = rnd(&seed) % 4 ? (int64_t)(rnd(&seed) % 40000) : 0;
        struct log_plan first;
        log_retention(a.b, a.nb, a.f, a.nf, now, pitr, d, &first);
        if (first.have_base)
            a.b[first.latest].kept = true;   /* the newest is always kept (retention.h) */
        log_retention(a.b, a.nb, a.f, a.nf, now, pitr, d, &pl);
        for (size_t k = 0; k < a.nf; k++)
            if (oracle(&a, k, now, pitr, d) != d[k].keep) {
                printf("# round %d: binlog %llu keep %u, oracle %u\n", round,
                       (unsigned long long)a.f[k].pos.seq, d[k].keep, oracle(&a, k, now, pitr, d));
                CHECK_EQ_INT(d[k].keep, oracle(&a, k, now, pitr, d));
                break;
            }
        if (!pl.have_base)
            continue;
        if (pl.anchored)
            a.b[pl.anchor].kept = true;      /* as the caller must */
        /* what is left: kept[seq] */
        static bool kept[MAXF + 2];
        memset(kept, 0, sizeof(kept));
        for (size_t k = 0; k < a.nf; k++) {
            kept[a.f[k].pos.seq] = d[k].keep != 0;
            deleted += d[k].keep == 0;
        }
        /* a restore to @T as restore does it: the newest dump left that is usable and at or
         * before T, then every file from its position to the one holding T */
        int64_t from = pitr > 0 ? (int64_t)now - pitr : (int64_t)a.b[pl.latest].stop_time;
        for (int64_t T = from; T <= (int64_t)now; T += 1 + rnd(&seed) % 97) {
            const struct log_base *use = NULL;
            for (size_t i = 0; i < a.nb; i++)
                if (a.b[i].kept && a.b[i].usable && a.b[i].stop_time <= T &&
                    (use == NULL || a.b[i].stop_time > use->stop_time))
                    use = &a.b[i];
            if (use == NULL)
                continue;   /* before the oldest dump: nothing restores it, kept or not */
            restores++;
            for (uint64_t q = use->start; q <= file_at(&ba, T); q++)
                if (!kept[q]) {
                    printf("# round %d: restore --at %lld from %s (binlog %llu) misses binlog "
                           "%llu\n", round, (long long)T, use->id,
                           (unsigned long long)use->start, (unsigned long long)q);
                    CHECK(kept[q]);
                    T = (int64_t)now + 1;
                    break;
                }
        }
        /* a dump the rules keep outside the window keeps nothing of its own: every file
         * before the window's (and the newest dump's) start that was pushed before the
         * window opened is gone */
        uint64_t floor = a.b[pl.latest].start;
        if (pl.anchored && a.b[pl.anchor].start < floor)
            floor = a.b[pl.anchor].start;
        for (size_t i = 0; i < a.nb; i++) {
            if (!a.b[i].kept || a.b[i].start >= floor)
                continue;
            gfs_outside++;
            for (size_t k = 0; k < a.nf; k++)
                if (a.f[k].pos.seq == a.b[i].start &&
                    (!pl.anchored || a.f[k].pushed < pl.window_start))
                    CHECK_EQ_INT(d[k].keep, 0);
        }
        /* and prune made no gap that matters to what is left */
        static struct log_pos left[MAXF];
        static struct log_base kb[MAXB];
        size_t nl = 0, nk = 0;
        for (size_t k = 0; k < a.nf; k++)
            if (d[k].keep)
                left[nl++] = a.f[k].pos;
        for (size_t i = 0; i < a.nb; i++)
            if (a.b[i].kept)
                kb[nk++] = a.b[i];
        struct log_range *g = NULL;
        size_t ng = 0;
        log_ranges(left, nl, NULL, NULL, &g, &ng);
        for (size_t j = 0; j < ng; j++)
            CHECK(!log_gap_matters(kb, nk, now, pitr, &g[j]));
        free(g);
    }
    CHECK(restores > 10000);
    CHECK(gfs_outside > 500);
    CHECK(deleted > 10000);
}

TEST(gap_matters_hand_written)
{
    struct log_base b[] = {
        { "A", "00000001", 2, 3, 1000, true, true, false },
        { "C", "00000001", 20, 21, 3000, true, true, false },
    };
    struct log_range g = { "00000001", 5, 9, 5 };
    CHECK(!log_gap_matters(b, 2, 4000, 0, &g));       /* between A and C: a hole */
    CHECK(log_gap_matters(b, 0, 4000, 0, &g));        /* no base backup: never coffer's */
    CHECK(log_gap_matters(b, 2, 4000, 3500, &g));     /* the window replays from A */
    g.first = 3;
    CHECK(log_gap_matters(b, 2, 4000, 0, &g));        /* into A's own range */
    g.first = 25;
    g.last = 26;
    CHECK(log_gap_matters(b, 2, 4000, 0, &g));        /* after the newest's start */
    snprintf(g.stream, sizeof(g.stream), "00000002");
    g.first = 2;
    g.last = 3;
    CHECK(!log_gap_matters(b, 2, 4000, 0, &g));       /* another timeline than A's */
}

TEST(keep_names)
{
    char s[64];
    log_keep_format(LOGK_WINDOW | LOGK_BACKUP, s, sizeof(s));
    CHECK_STR(s, "window,backup");
    log_keep_format(0, s, sizeof(s));
    CHECK_STR(s, "none");
}

int main(void)
{
    RUN(wal_names);
    RUN(binlog_names);
    RUN(ranges_and_gaps);
    RUN(retention_no_base_keeps_everything);
    RUN(retention_hand_written);
    RUN(retention_randomized);
    RUN(retention_makes_no_gap_that_matters);
    RUN(retention_binlog_dumps);
    RUN(gap_matters_hand_written);
    RUN(keep_names);
    return unit_done();
}
