/* drill_check.c - what the drill checks on each restored copy: PostgreSQL (pg_amcheck, the
 * row count of every table against the counts the backup recorded), MariaDB (CHECK TABLE, the
 * row count of every table against the rows its dump held, counted while it was loaded),
 * Redis (the key count, the RDB's checksum), volumes (file count and bytes), and a source's
 * own check-sql. */
#include "drill.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../lib/core/buf.h"
#include "../lib/core/util.h"
#include "../lib/db/db_pg.h"
#include "../lib/repo/repo_seg.h"
#include "../lib/source/sqlrows.h"

void drill_check_add(json_t *checks, const char *name, enum drill_result res, const char *fmt,
                     ...)
{
    char d[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d, sizeof(d), fmt, ap);
    va_end(ap);
    json_array_append_new(checks, json_pack("{s:s,s:s,s:s}", "name", name, "result",
                                            res == DRILL_PASS   ? "passed"
                                            : res == DRILL_FAIL ? "FAILED"
                                                                : "not checked",
                                            "detail", d));
}

/* --- PostgreSQL --- */

static PGconn *pg_scratch(const struct drill_target *t)
{
    const char *k[] = { "host", "port", "user", "dbname", "application_name", NULL };
    const char *v[] = { t->srv->sock, "5432", "postgres", t->database, "coffer-drill", NULL };
    return PQconnectdbParams(k, v, 0);
}

/* pg_amcheck of database t->database, or of every database when @all */
static void pg_amcheck(const struct drill_target *t, bool all, json_t *checks)
{
    char *tool = cf_asprintf("%s/pg_amcheck", t->srv->bindir);
    char *log = cf_asprintf("%s/amcheck-%s.log", t->srv->dir, all ? "all" : t->database);
    char *argv[] = { tool, "-h", t->srv->sock, "-p", "5432", "-U", "postgres", "--install-missing",
                     "--heapallindexed", all ? "--all" : "-d", all ? NULL : (char *)t->database,
                     NULL };
    const char *what = all ? "every database" : "database ";
    struct cf_err e = CF_ERR_INIT;
    pid_t pid;
    if (drill_spawn(argv, log, true, &pid, &e) == 0)
        drill_check_add(checks, "pg_amcheck", DRILL_PASS,
                        "%s%s: every table and index checked, no corruption", what,
                        all ? "" : t->database);
    else
        drill_check_add(checks, "pg_amcheck", DRILL_FAIL, "%s%s: %s", what,
                        all ? "" : t->database, e.msg);
    free(log);
    free(tool);
}

void drill_rows_compare(json_t *checks, const char *db, json_t *want, json_t *got,
                        const char *whence)
{
    struct buf bad = BUF_INIT;
    int64_t rows = 0;
    const char *tab;
    json_t *v;

    json_object_foreach(want, tab, v) {
        json_t *g = json_object_get(got, tab);
        rows += json_integer_value(v);
        if (g == NULL)
            buf_printf(&bad, "%s%s missing (backup: %" JSON_INTEGER_FORMAT ")",
                       bad.len ? ", " : "", tab, json_integer_value(v));
        else if (json_integer_value(g) != json_integer_value(v))
            buf_printf(&bad, "%s%s has %" JSON_INTEGER_FORMAT " rows, the backup %"
                       JSON_INTEGER_FORMAT, bad.len ? ", " : "", tab, json_integer_value(g),
                       json_integer_value(v));
    }
    json_object_foreach(got, tab, v)
        if (json_object_get(want, tab) == NULL)
            buf_printf(&bad, "%s%s not in the backup", bad.len ? ", " : "", tab);
    if (bad.len)
        drill_check_add(checks, "row counts", DRILL_FAIL, "database %s: %s", db, bad.data);
    else
        drill_check_add(checks, "row counts", DRILL_PASS, "database %s: %zu tables, %" PRId64
                        " rows, %s", db, json_object_size(want), rows, whence);
    buf_free(&bad);
}

static void pg_rows(PGconn *c, const struct drill_target *t, json_t *dbinfo, json_t *checks)
{
    json_t *want = json_object_get(dbinfo, "row_counts");

    if (!json_is_object(want)) {
        drill_check_add(checks, "row counts", DRILL_SKIP, "database %s: the backup recorded no "
                        "row counts (taken by an older coffer)", t->database);
        return;
    }
    PGresult *r = PQexec(c, DB_PG_ROW_COUNTS_SQL);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        drill_check_add(checks, "row counts", DRILL_FAIL, "database %s: counting failed: %s",
                        t->database, PQerrorMessage(c));
        PQclear(r);
        return;
    }
    json_t *got = json_object();
    for (int i = 0; i < PQntuples(r); i++)
        json_object_set_new(got, PQgetvalue(r, i, 0),
                            json_integer(strtoll(PQgetvalue(r, i, 1), NULL, 10)));
    PQclear(r);
    drill_rows_compare(checks, t->database, want, got, "as counted in the backup's snapshot");
    json_decref(got);
}

/* the first column of the first row of @sql against @expect */
static void sql_verdict(json_t *checks, const char *db, const char *sql, const char *expect,
                        const char *got, const char *err)
{
    if (err)
        drill_check_add(checks, "check-sql", DRILL_FAIL, "database %s: %s: %s", db, sql, err);
    else if (got == NULL || strcmp(got, expect) != 0)
        drill_check_add(checks, "check-sql", DRILL_FAIL, "database %s: %s returned '%s', "
                        "check-expect is '%s'", db, sql, got ? got : "no row", expect);
    else
        drill_check_add(checks, "check-sql", DRILL_PASS, "database %s: %s returned '%s'", db,
                        sql, got);
}

/* check-sql on the connection @c to database t->database */
static void pg_check_sql(PGconn *c, const struct drill_target *t, const char *sql,
                         const char *expect, json_t *checks)
{
    if (sql) {
        PGresult *r = PQexec(c, sql);
        bool ok = PQresultStatus(r) == PGRES_TUPLES_OK;
        sql_verdict(checks, t->database, sql, expect,
                    ok && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : NULL,
                    ok ? NULL : PQerrorMessage(c));
        PQclear(r);
    }
}

void drill_check_postgres(const struct drill_target *t, json_t *dbinfo, const char *sql,
                          const char *expect, json_t *checks)
{
    pg_amcheck(t, false, checks);
    PGconn *c = pg_scratch(t);
    if (PQstatus(c) != CONNECTION_OK) {
        drill_check_add(checks, "row counts", DRILL_FAIL, "database %s: no connection: %s",
                        t->database, PQerrorMessage(c));
        PQfinish(c);
        return;
    }
    pg_rows(c, t, dbinfo, checks);
    pg_check_sql(c, t, sql, expect, checks);
    PQfinish(c);
}

void drill_check_pg_cluster(const struct drill_target *t, const char *sql, const char *expect,
                            json_t *checks)
{
    pg_amcheck(t, true, checks);
    drill_check_add(checks, "row counts", DRILL_SKIP, "a physical base backup records no row "
                    "counts (it copies the cluster's files, it runs no query)");
    if (sql == NULL)
        return;
    PGconn *c = pg_scratch(t);
    if (PQstatus(c) != CONNECTION_OK)
        sql_verdict(checks, t->database, sql, expect, NULL, PQerrorMessage(c));
    else
        pg_check_sql(c, t, sql, expect, checks);
    PQfinish(c);
}

/* --- MariaDB --- */

/* mariadb-dump writes no rows of these engines' tables (their rows live elsewhere) */
static bool maria_rows_elsewhere(const char *engine)
{
    return engine && (strcasecmp(engine, "MRG_MyISAM") == 0 ||
                      strcasecmp(engine, "MRG_ISAM") == 0 || strcasecmp(engine, "FEDERATED") == 0);
}

/* @pre, table @tab quoted as an identifier (a backquote in it written twice), then @post */
static void maria_table_sql(struct buf *q, const char *pre, const char *tab, const char *post)
{
    buf_reset(q);
    buf_puts(q, pre);
    buf_puts(q, "`");
    for (const char *p = tab; *p; p++) {
        if (*p == '`')
            buf_append(q, p, 1);
        buf_append(q, p, 1);
    }
    buf_puts(q, "`");
    buf_puts(q, post);
}

/* SELECT COUNT(*) of table @tab into @got; false (and the error in @bad) when it fails */
static bool maria_count(MYSQL *m, const char *tab, json_t *got, struct buf *bad)
{
    struct buf q = BUF_INIT;
    MYSQL_RES *r = NULL;
    MYSQL_ROW v;
    bool ok = false;

    maria_table_sql(&q, "SELECT COUNT(*) FROM ", tab, "");
    if (mysql_query(m, q.data) == 0 && (r = mysql_store_result(m)) != NULL &&
        (v = mysql_fetch_row(r)) != NULL && v[0]) {
        json_object_set_new(got, tab, json_integer(strtoll(v[0], NULL, 10)));
        ok = true;
    } else {
        buf_printf(bad, "counting %s: %s", tab, mysql_error(m));
    }
    mysql_free_result(r);
    buf_free(&q);
    return ok;
}

/* the row counts of the restored database against those the dump held (@want), tables the
 * dump held no row of expected empty */
static void maria_rows(MYSQL *m, const struct drill_target *t, const struct sqlrows *want,
                       json_t *names, json_t *checks)
{
    json_t *w = json_object(), *got = json_object(), *v;
    struct buf bad = BUF_INIT;
    const char *tab;
    uint64_t n;

    json_object_foreach(names, tab, v) {
        if (maria_rows_elsewhere(json_string_value(v)))
            continue;
        if (!maria_count(m, tab, got, &bad))
            break;
        json_object_set_new(w, tab, json_integer((json_int_t)sqlrows_get(want, tab)));
    }
    for (size_t i = 0; bad.len == 0 && (tab = sqlrows_table(want, i, &n)) != NULL; i++)
        if (json_object_get(w, tab) == NULL)
            json_object_set_new(w, tab, json_integer((json_int_t)n));
    if (bad.len)
        drill_check_add(checks, "row counts", DRILL_FAIL, "database %s: %s", t->database,
                        bad.data);
    else
        drill_rows_compare(checks, t->database, w, got, "as counted in the backup");
    buf_free(&bad);
    json_decref(got);
    json_decref(w);
}

void drill_check_mariadb(const struct drill_target *t, const struct sqlrows *rows,
                         const char *rows_skip, const char *sql, const char *expect,
                         json_t *checks)
{
    MYSQL *m = mysql_init(NULL);
    struct buf bad = BUF_INIT;
    unsigned tables = 0;
    MYSQL_RES *res = NULL;
    MYSQL_ROW row;
    json_t *names = json_object();   /* table -> engine */
    struct buf q = BUF_INIT;

    if (mysql_real_connect(m, NULL, "root", NULL, t->database, 0, t->srv->sock, 0) == NULL) {
        drill_check_add(checks, "CHECK TABLE", DRILL_FAIL, "database %s: no connection: %s",
                        t->database, mysql_error(m));
        goto out;
    }
    if (mysql_query(m, "SELECT table_name, engine FROM information_schema.tables WHERE "
                       "table_schema = DATABASE() AND table_type IN ('BASE TABLE', "
                       "'SYSTEM VERSIONED') ORDER BY 1") != 0 ||
        (res = mysql_store_result(m)) == NULL) {
        drill_check_add(checks, "CHECK TABLE", DRILL_FAIL, "database %s: %s", t->database,
                        mysql_error(m));
        goto out;
    }
    while ((row = mysql_fetch_row(res)) != NULL) {
        MYSQL_RES *cr = NULL;
        MYSQL_ROW c;
        const char *last = "no answer";
        tables++;
        json_object_set_new(names, row[0], row[1] ? json_string(row[1]) : json_null());
        maria_table_sql(&q, "CHECK TABLE ", row[0], " EXTENDED");
        if (mysql_query(m, q.data) != 0 || (cr = mysql_store_result(m)) == NULL)
            last = mysql_error(m);
        else
            while ((c = mysql_fetch_row(cr)) != NULL)   /* Table, Op, Msg_type, Msg_text */
                if (c[2] && strcmp(c[2], "status") == 0)
                    last = c[3] ? c[3] : "";
        if (strcmp(last, "OK") != 0)
            buf_printf(&bad, "%s%s: %s", bad.len ? ", " : "", row[0], last);
        mysql_free_result(cr);
    }
    if (bad.len)
        drill_check_add(checks, "CHECK TABLE", DRILL_FAIL, "database %s: %s", t->database,
                        bad.data);
    else
        drill_check_add(checks, "CHECK TABLE", DRILL_PASS, "database %s: %u tables OK",
                        t->database, tables);
    if (rows)
        maria_rows(m, t, rows, names, checks);
    else
        drill_check_add(checks, "row counts", DRILL_SKIP, "database %s: %s", t->database,
                        rows_skip);
    if (sql) {
        MYSQL_RES *r = NULL;
        MYSQL_ROW v = NULL;
        bool ok = mysql_query(m, sql) == 0 && (r = mysql_store_result(m)) != NULL;
        if (ok)
            v = mysql_fetch_row(r);
        sql_verdict(checks, t->database, sql, expect, v && v[0] ? v[0] : NULL,
                    ok ? NULL : mysql_error(m));
        mysql_free_result(r);
    }
out:
    buf_free(&q);
    json_decref(names);
    mysql_free_result(res);
    buf_free(&bad);
    mysql_close(m);
}

/* --- Redis --- */

/* INFO keyspace's key count, summed over the databases; -1 on error */
static long long redis_keys(const char *sock, char *err, size_t cap)
{
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    const char req[] = "*2\r\n$4\r\nINFO\r\n$8\r\nkeyspace\r\n";
    char b[8192];
    size_t n = 0;
    long long keys = 0;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) {
        snprintf(err, cap, "no connection to %s: %s", sock, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    /* "$LEN\r\n" then LEN bytes and "\r\n" */
    for (;;) {
        ssize_t r = read(fd, b + n, sizeof(b) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        b[n] = '\0';
        char *nl = strstr(b, "\r\n");
        if (b[0] == '$' && nl && n >= (size_t)(nl + 2 - b) + strtoul(b + 1, NULL, 10))
            break;
        if (n == sizeof(b) - 1)
            break;
    }
    close(fd);
    b[n] = '\0';
    if (n == 0 || b[0] != '$') {
        snprintf(err, cap, "INFO keyspace: unexpected answer");
        return -1;
    }
    for (char *p = strstr(b, ":keys="); p; p = strstr(p + 1, ":keys="))
        keys += strtoll(p + 6, NULL, 10);
    return keys;
}

void drill_check_redis(const struct drill_target *t, json_t *info, json_t *checks)
{
    char err[256];
    long long want = json_integer_value(json_object_get(info, "keys"));
    long long ttl = json_integer_value(json_object_get(info, "keys_with_ttl"));
    long long got = redis_keys(t->srv->sock, err, sizeof(err));

    if (got < 0)
        drill_check_add(checks, "key count", DRILL_FAIL, "%s", err);
    else if (got == want)
        drill_check_add(checks, "key count", DRILL_PASS, "%lld keys, as in the RDB", got);
    else if (got < want && got >= want - ttl)
        drill_check_add(checks, "key count", DRILL_PASS, "%lld keys of the RDB's %lld: %lld with "
                        "a TTL had expired", got, want, want - got);
    else
        drill_check_add(checks, "key count", DRILL_FAIL, "%lld keys, the RDB holds %lld "
                        "(%lld with a TTL)", got, want, ttl);
    drill_check_add(checks, "RDB checksum", DRILL_PASS, "the CRC64 trailer matched the RDB "
                    "while it was loaded (%lld keys parsed)", want);
}

/* --- volumes --- */

static struct walk {
    uint64_t files, bytes;
    struct { dev_t dev; ino_t ino; } *seen;
    size_t nseen;
} walk;

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (flag != FTW_F || !S_ISREG(st->st_mode))
        return 0;
    walk.files++;
    if (st->st_nlink > 1) {   /* each inode once, as the backup counted it */
        for (size_t i = 0; i < walk.nseen; i++)
            if (walk.seen[i].dev == st->st_dev && walk.seen[i].ino == st->st_ino)
                return 0;
        walk.seen = cf_realloc(walk.seen, (walk.nseen + 1) * sizeof(*walk.seen));
        walk.seen[walk.nseen].dev = st->st_dev;
        walk.seen[walk.nseen++].ino = st->st_ino;
    }
    walk.bytes += (uint64_t)st->st_size;
    return 0;
}

/* the BLAKE2b-256 of the file @path, as the backup's index holds it; false when unreadable */
static bool file_hash(const char *path, char hex[65])
{
    crypto_generichash_state hs;
    unsigned char h[32], buf[65536];
    ssize_t n;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    if (fd < 0)
        return false;
    crypto_generichash_init(&hs, NULL, 0, sizeof(h));
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        crypto_generichash_update(&hs, buf, (size_t)n);
    close(fd);
    if (n < 0)
        return false;
    crypto_generichash_final(&hs, h, sizeof(h));
    hex_encode(h, sizeof(h), hex);
    return true;
}

/* every regular file of a layout 3 backup's index against the restored copy in @dir */
static void check_file_hashes(const char *dir, struct repo *r, const struct manifest *m,
                              json_t *checks)
{
    struct cf_err e = CF_ERR_INIT;
    json_t *idx = NULL, *ent;
    size_t i, n = 0, bad = 0;
    char *first = NULL;

    if (m->format != MANIFEST_FORMAT_SEG) {
        drill_check_add(checks, "file hashes", DRILL_SKIP, "the backup records no per-file "
                        "index (layout 1); every byte was authenticated while it was read");
        return;
    }
    if (repo_index_load(r, m->source, m->id, &idx, &e) != 0) {
        drill_check_add(checks, "file hashes", DRILL_FAIL, "the backup's file index: %s", e.msg);
        return;
    }
    json_array_foreach(json_object_get(idx, "entries"), i, ent) {
        const char *want = json_string_value(json_object_get(ent, "blake2b"));
        const char *p = json_string_value(json_object_get(ent, "path"));
        const char *ph = json_string_value(json_object_get(ent, "path_hex"));
        char got[65], *rel = NULL;
        if (want == NULL || strcmp(json_string_value(json_object_get(ent, "type")) ?: "", "file"))
            continue;
        if (p != NULL) {
            rel = cf_strdup(p);
        } else if (ph != NULL) {
            size_t k = strlen(ph) / 2;
            rel = cf_malloc(k + 1);
            if (hex_decode(ph, (unsigned char *)rel, k) != 0)
                rel[0] = '\0';
            rel[k] = '\0';
        }
        char *path = cf_asprintf("%s/%s", dir, rel ? rel : "");
        n++;
        if (!file_hash(path, got) || strcmp(got, want) != 0) {
            bad++;
            if (first == NULL)
                first = cf_strdup(rel ? rel : "?");
        }
        free(path);
        free(rel);
    }
    if (bad)
        drill_check_add(checks, "file hashes", DRILL_FAIL, "%zu of %zu files differ from the "
                        "backup's index, the first '%s'", bad, n, first);
    else
        drill_check_add(checks, "file hashes", DRILL_PASS, "%zu files, each as the backup's "
                        "index records it (BLAKE2b)", n);
    free(first);
    json_decref(idx);
}

void drill_check_volume(const struct drill_target *t, struct repo *r, const struct manifest *m,
                        json_t *checks)
{
    json_t *info = m->info;
    json_t *fb = json_object_get(info, "file_bytes");
    uint64_t want = (uint64_t)json_integer_value(json_object_get(info, "files"));

    memset(&walk, 0, sizeof(walk));
    if (nftw(t->dir, walk_one, 32, FTW_PHYS) != 0) {
        drill_check_add(checks, "file count", DRILL_FAIL, "unable to walk %s: %s", t->dir,
                        strerror(errno));
        goto out;
    }
    drill_check_add(checks, "file count", walk.files == want ? DRILL_PASS : DRILL_FAIL,
                    "%" PRIu64 " files restored, the backup holds %" PRIu64, walk.files, want);
    if (json_is_integer(fb))
        drill_check_add(checks, "bytes", walk.bytes == (uint64_t)json_integer_value(fb)
                                             ? DRILL_PASS : DRILL_FAIL,
                        "%" PRIu64 " bytes in regular files, the backup %" JSON_INTEGER_FORMAT,
                        walk.bytes, json_integer_value(fb));
    else
        drill_check_add(checks, "bytes", DRILL_SKIP, "the backup recorded no byte count (taken "
                        "by an older coffer)");
    check_file_hashes(t->dir, r, m, checks);
out:
    free(walk.seen);
    memset(&walk, 0, sizeof(walk));
}
