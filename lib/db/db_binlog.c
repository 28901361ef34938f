/* db_binlog.c - binlog names and event headers (db_binlog.h). Only the common header of
 * each event is read, plus the first 12 bytes of MariaDB's GTID event body (sequence number,
 * domain); nothing else of an event is interpreted. */
#include "db_binlog.h"

#include <errno.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/util.h"

#define EV_HDR 19
#define EV_ROTATE 4
#define EV_STOP 3
#define EV_FORMAT 15
#define EV_QUERY 2
#define EV_XID 16
#define EV_GTID 162   /* MariaDB's GTID event: begins a transaction (event group) */

bool db_binlog_name(const char *file, uint64_t *seq, size_t *baselen)
{
    const char *dot = strrchr(file, '.');
    size_t nd;

    if (dot == NULL || dot == file)
        return false;
    for (const char *p = file; p < dot; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-'))
            return false;
    nd = strlen(dot + 1);
    if (nd < 6 || nd > 10 || strspn(dot + 1, "0123456789") != nd)
        return false;
    if (seq)
        *seq = strtoull(dot + 1, NULL, 10);
    if (baselen)
        *baselen = (size_t)(dot - file);
    return true;
}

bool db_binlog_object_name(const char *name, uint64_t *seq, size_t *baselen,
                           uint64_t *partial)
{
    const char *p = strstr(name, ".partial-");
    char file[256];
    size_t n;

    if (partial)
        *partial = 0;
    if (p == NULL)
        return db_binlog_name(name, seq, baselen);
    n = (size_t)(p - name);
    p += strlen(".partial-");
    if (n >= sizeof(file) || *p == '\0' || *p == '0' || strlen(p) > 19 ||
        strspn(p, "0123456789") != strlen(p))
        return false;
    memcpy(file, name, n);
    file[n] = '\0';
    if (!db_binlog_name(file, seq, baselen))
        return false;
    if (partial)
        *partial = strtoull(p, NULL, 10);
    return true;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
    return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

/* read exactly @n bytes at @off: 1 done, 0 the file ends first, -1 error */
static int read_at(int fd, uint64_t off, unsigned char *buf, size_t n, const char *path,
                   struct cf_err *e)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
        }
        if (k == 0)
            return 0;
        got += (size_t)k;
    }
    return 1;
}

/* a query event at @off of @size bytes: count it when its default database is @db and its
 * text is a statement (not BEGIN, COMMIT, ROLLBACK or XA) */
static int watch_query(int fd, uint64_t off, uint32_t size, const char *db,
                       struct db_binlog_scan *s, const char *path, struct cf_err *e)
{
    unsigned char b[EV_HDR + 13 + 1024];
    size_t n = size < sizeof(b) ? size : sizeof(b), dl, sl, q;
    int k;

    if (n < EV_HDR + 13)
        return 0;
    if ((k = read_at(fd, off, b, n, path, e)) <= 0)
        return k == 0 ? cf_err_set(e, CF_E_CORRUPT, "'%s': a truncated query event", path) : -1;
    dl = b[EV_HDR + 8];
    sl = (size_t)b[EV_HDR + 11] | (size_t)b[EV_HDR + 12] << 8;
    q = EV_HDR + 13 + sl + dl + 1;
    if (q > n || dl != strlen(db) || memcmp(b + EV_HDR + 13 + sl, db, dl) != 0)
        return 0;
    size_t tl = n - q < sizeof(s->statement) - 1 ? n - q : sizeof(s->statement) - 1;
    char t[sizeof(s->statement)];
    memcpy(t, b + q, tl);
    t[tl] = '\0';
    for (char *c = t; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
    if (strncasecmp(t, "BEGIN", 5) == 0 || strncasecmp(t, "COMMIT", 6) == 0 ||
        strncasecmp(t, "ROLLBACK", 8) == 0 || strncasecmp(t, "XA ", 3) == 0)
        return 0;
    if (s->statements++ == 0)
        memcpy(s->statement, t, sizeof(t));
    return 0;
}

int db_binlog_scan(const char *path, uint64_t start, int64_t stop, const char *watch_db,
                   bool carry, struct db_binlog_scan *s, struct cf_err *e)
{
    unsigned char h[EV_HDR + 12];
    char cur_gtid[DB_BINLOG_GTID_MAX] = "";
    int64_t cur_time = 0;
    uint64_t off = 4;
    struct stat st;
    int fd, rc = -1, k;
    bool first = true;

    if (carry) {
        struct db_binlog_scan prev = *s;
        memset(s, 0, sizeof(*s));
        s->applied_time = prev.applied_time;
        s->reached = prev.reached;
        memcpy(s->applied_gtid, prev.applied_gtid, sizeof(prev.applied_gtid));
        s->statements = prev.statements;
        memcpy(s->statement, prev.statement, sizeof(prev.statement));
    } else {
        memset(s, 0, sizeof(*s));
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return cf_err_sys(e, errno == ENOENT ? CF_E_NOTFOUND : CF_E_IO, "unable to open '%s'",
                          path);
    if ((k = read_at(fd, 0, h, 4, path, e)) < 0)
        goto out;
    if (k == 0 || memcmp(h, "\xfe" "bin", 4) != 0) {
        cf_err_set(e, CF_E_CORRUPT, "'%s' is not a binlog file (no magic number)", path);
        goto out;
    }
    if (fstat(fd, &st) != 0) {
        cf_err_sys(e, CF_E_IO, "unable to read '%s'", path);
        goto out;
    }
    s->size = 4;
    for (;;) {
        if ((k = read_at(fd, off, h, EV_HDR, path, e)) < 0)
            goto out;
        if (k == 0)
            break;   /* the end, or a partly written header: not a whole event */
        uint32_t size = le32(h + 9);
        uint8_t type = h[4];
        int64_t t = (int64_t)le32(h);
        if (size < EV_HDR) {
            cf_err_set(e, CF_E_CORRUPT, "'%s': an impossible event at offset %llu", path,
                       (unsigned long long)off);
            goto out;
        }
        if (off + size > (uint64_t)st.st_size)
            break;   /* a partly written event: ignored */
        if (first && type != EV_FORMAT) {
            cf_err_set(e, CF_E_CORRUPT, "'%s' does not begin with a format description event",
                       path);
            goto out;
        }
        /* a replay from a recorded position skips the events before it but the first */
        bool counted = !first && off >= start;
        if (counted) {
            s->events++;
            if (s->first_time == 0)
                s->first_time = t;
            if (t > s->last_time)
                s->last_time = t;
            char g[DB_BINLOG_GTID_MAX] = "";
            if (type == EV_GTID && size >= EV_HDR + 12) {
                if ((k = read_at(fd, off, h, EV_HDR + 12, path, e)) <= 0) {
                    if (k == 0)
                        cf_err_set(e, CF_E_CORRUPT, "'%s': a truncated GTID event", path);
                    goto out;
                }
                snprintf(g, sizeof(g), "%u-%u-%llu", le32(h + EV_HDR + 8), le32(h + 5),
                         (unsigned long long)le64(h + EV_HDR));
                if (s->gtid_first[0] == '\0')
                    memcpy(s->gtid_first, g, sizeof(g));
                memcpy(s->gtid_last, g, sizeof(g));
            }
            if (watch_db && type == EV_QUERY && !s->reached && (stop == 0 || t < stop) &&
                watch_query(fd, off, size, watch_db, s, path, e) != 0)
                goto out;
            if (stop > 0 && !s->reached) {
                /* a GTID, ROTATE or STOP event ends the transaction before it; an XID
                 * event ends its own */
                if ((type == EV_GTID || type == EV_ROTATE || type == EV_STOP) && cur_gtid[0]) {
                    memcpy(s->applied_gtid, cur_gtid, sizeof(cur_gtid));
                    s->applied_time = cur_time;
                    cur_gtid[0] = '\0';
                }
                if (t >= stop) {
                    s->reached = true;   /* what is open now is cut: rolled back */
                    cur_gtid[0] = '\0';
                } else {
                    if (type == EV_GTID)
                        memcpy(cur_gtid, g, sizeof(g));
                    cur_time = t;
                    if (type == EV_XID && cur_gtid[0]) {
                        memcpy(s->applied_gtid, cur_gtid, sizeof(cur_gtid));
                        s->applied_time = cur_time;
                        cur_gtid[0] = '\0';
                    }
                }
            }
        }
        s->closed = type == EV_ROTATE || type == EV_STOP;
        first = false;
        off += size;
        s->size = off;
    }
    if (stop > 0 && !s->reached && cur_gtid[0] && s->closed) {
        memcpy(s->applied_gtid, cur_gtid, sizeof(cur_gtid));
        s->applied_time = cur_time;
    }
    rc = 0;
out:
    close(fd);
    return rc;
}

int db_binlog_conf_load(const struct ini_section *sec, struct db_binlog_conf *out,
                        struct cf_err *e)
{
    const char *mode;

    memset(out, 0, sizeof(*out));
    if (ini_get_bool(sec, "binlog-archive", false, &out->archive, e) != 0 ||
        ini_get_str(sec, "binlog-mode", "sync", &mode, e) != 0 ||
        ini_get_duration(sec, "binlog-seal-interval", 60, &out->seal_interval, e) != 0)
        return -1;
    if (strcmp(mode, "sync") == 0) {
        out->mode = DB_BINLOG_SYNC;
    } else if (strcmp(mode, "follow") == 0) {
        out->mode = DB_BINLOG_FOLLOW;
    } else {
        const struct ini_kv *kv = ini_kv_find(sec, "binlog-mode");
        return cf_err_set(e, CF_E_CONFIG, "%s:%d: binlog-mode: '%s' is neither sync nor follow",
                          sec->file, kv ? kv->line : sec->line, mode);
    }
    if (out->seal_interval < 1 || out->seal_interval > 86400) {
        const struct ini_kv *kv = ini_kv_find(sec, "binlog-seal-interval");
        return cf_err_set(e, CF_E_CONFIG, "%s:%d: binlog-seal-interval: from 1s to 1d",
                          sec->file, kv ? kv->line : sec->line);
    }
    return 0;
}

bool db_binlog_replays(const struct ini_section *sec)
{
    struct db_binlog_conf bc;
    struct cf_err e = CF_ERR_INIT;
    return sec != NULL && db_binlog_conf_load(sec, &bc, &e) == 0 && bc.archive;
}

int db_binlog_server_check(MYSQL *c, struct cf_err *e)
{
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    struct buf missing = BUF_INIT;
    bool log_bin = false, repl = false, monitor = false;
    int rc = -1;

    if (mysql_query(c, "SELECT @@log_bin") != 0 || (r = mysql_store_result(c)) == NULL) {
        cf_err_set(e, CF_E_SOURCE, "reading log_bin: %s", mysql_error(c));
        goto out;
    }
    if ((row = mysql_fetch_row(r)) && row[0])
        log_bin = strcmp(row[0], "1") == 0;
    mysql_free_result(r);
    if (mysql_query(c, "SHOW GRANTS") != 0 || (r = mysql_store_result(c)) == NULL) {
        cf_err_set(e, CF_E_SOURCE, "reading the user's grants: %s", mysql_error(c));
        goto out;
    }
    while ((row = mysql_fetch_row(r))) {
        const char *g = row[0] ? row[0] : "";
        if (strstr(g, " ON *.* ") == NULL)
            continue;
        bool all = strstr(g, "GRANT ALL PRIVILEGES ON") == g;
        repl = repl || all || strstr(g, "REPLICATION SLAVE") != NULL;
        monitor = monitor || all || strstr(g, "BINLOG MONITOR") != NULL ||
                  strstr(g, "REPLICATION CLIENT") != NULL || strstr(g, "SUPER") != NULL;
    }
    if (!log_bin)
        buf_puts(&missing, "log_bin is off on the server (set log_bin and server_id in "
                           "[mysqld] and restart it)");
    if (!repl)
        buf_printf(&missing, "%sthe user lacks REPLICATION SLAVE", missing.len ? "; " : "");
    if (!monitor)
        buf_printf(&missing, "%sthe user lacks BINLOG MONITOR", missing.len ? "; " : "");
    if (missing.len) {
        cf_err_set(e, CF_E_SOURCE, "binlog-archive = yes needs what is missing here: %s. HINT: "
                   "docs/PITR.md \"MariaDB\" gives the server settings and the GRANT",
                   missing.data);
        goto out;
    }
    rc = 0;
out:
    mysql_free_result(r);
    buf_free(&missing);
    return rc;
}
