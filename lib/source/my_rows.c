/* my_rows.c - the rows of a MariaDB database as mariadb-dump writes them, read through
 * libmariadb from one consistent snapshot.
 *
 * mariadb-dump spends half its CPU in the client library's escape, which makes two indirect
 * charset calls a byte; on a database host that CPU is taken from the server, and the dump
 * took 1.4-1.7x the time of `mariadb-dump > /dev/null` (bench/databases.sh). Here the same
 * text is written with an escape of seven bytes, eight bytes a step: in a utf8mb4 session the
 * library escapes those seven wherever they stand (no UTF-8 character holds an ASCII byte)
 * and copies every other byte, so the two agree on any input (tests/unit/test_my_rows.c
 * compares them on random bytes). Values are written and INSERTs split as mariadb-dump 10.11
 * does (dump_table() in its client/mysqldump.c): tests/integration/db_mariadb.sh compares the
 * data sections byte for byte. The schema, sequences, views, routines, events and triggers
 * still come from mariadb-dump (src_mariadb.c).
 *
 * Consistency: before mariadb-dump writes the schema, each table's definition (columns,
 * indexes, constraints) is fingerprinted, and so are the routines, events, triggers and views
 * together. The snapshot is taken after the schema. Each table is read under a savepoint, as
 * mariadb-dump reads it: its fingerprint is taken again while the read holds the table's
 * metadata lock, then the savepoint releases the lock, so an ALTER of a table already read
 * waits for nothing (it happened after the snapshot: the binlog holds it). The other objects
 * are fingerprinted again after the last mariadb-dump run. A change in between fails the
 * backup: it would be in neither the schema dumped nor the binlog after the snapshot's
 * position (or in both), and the rows might not fit their table. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../core/buf.h"
#include "../core/util.h"
#include "../db/db_maria.h"
#include "my_int.h"

/* a table as the backup began: its engine and definition */
struct table_fp {
    char *name, *engine, *fp;
};

struct my_snap {
    MYSQL *c;
    char *db;
    struct table_fp *tables;   /* the base tables, sorted by name (strcmp) */
    size_t ntables;
    char names[64];            /* the base tables' names */
    char objects[160];         /* routines, events, triggers, views */
};

/* the session settings mariadb-dump writes around a dump, and what restores them */
static const char data_head[] =
    "/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;\n"
    "/*!40101 SET @OLD_CHARACTER_SET_RESULTS=@@CHARACTER_SET_RESULTS */;\n"
    "/*!40101 SET @OLD_COLLATION_CONNECTION=@@COLLATION_CONNECTION */;\n"
    "/*!40101 SET NAMES utf8mb4 */;\n"
    "/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;\n"
    "/*!40103 SET TIME_ZONE='+00:00' */;\n"
    "/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;\n"
    "/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;\n"
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;\n"
    "/*!40111 SET @OLD_SQL_NOTES=@@SQL_NOTES, SQL_NOTES=0 */;\n";
static const char data_foot[] =
    "/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n"
    "\n"
    "/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;\n"
    "/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;\n"
    "/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;\n"
    "/*!40101 SET CHARACTER_SET_CLIENT=@OLD_CHARACTER_SET_CLIENT */;\n"
    "/*!40101 SET CHARACTER_SET_RESULTS=@OLD_CHARACTER_SET_RESULTS */;\n"
    "/*!40101 SET COLLATION_CONNECTION=@OLD_COLLATION_CONNECTION */;\n"
    "/*!40111 SET SQL_NOTES=@OLD_SQL_NOTES */;\n";

/* engines whose data mariadb-dump leaves out (they hold none of their own, or it is remote) */
static const char *const no_data_engines[] = { "MRG_MyISAM", "MRG_ISAM", "CONNECT", "OQGRAPH",
                                               "SPIDER", "VP", "FEDERATED", "S3", NULL };

/* ------------------------------------------------------------------------------------------
 * the escape
 * ---------------------------------------------------------------------------------------- */

/* the bytes of @x that are @b have their high bit set (and maybe bytes above the first such:
 * the lowest flagged byte is exact) */
#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
static inline uint64_t byte_is(uint64_t x, unsigned char b)
{
    uint64_t y = x ^ (ONES * b);
    return (y - ONES) & ~y & HIGHS;
}

/* a mask of the bytes of @x that are escaped */
static inline uint64_t special(uint64_t x)
{
    return byte_is(x, 0) | byte_is(x, '\n') | byte_is(x, '\r') |
           byte_is(x, '\\') | byte_is(x, '\'') | byte_is(x, '"') | byte_is(x, 032);
}

/* one special byte as the library escapes it */
static inline char *escape_one(char *o, unsigned c)
{
    switch (c) {
    case 0: *o++ = '\\'; *o++ = '0'; break;
    case '\n': *o++ = '\\'; *o++ = 'n'; break;
    case '\r': *o++ = '\\'; *o++ = 'r'; break;
    case '\\': *o++ = '\\'; *o++ = '\\'; break;
    case '\'': *o++ = '\\'; *o++ = '\''; break;
    case '"': *o++ = '\\'; *o++ = '"'; break;
    case 032: *o++ = '\\'; *o++ = 'Z'; break;
    default: *o++ = (char)c;
    }
    return o;
}

size_t my_escape(char *to, const unsigned char *from, size_t n)
{
    char *o = to;
    const unsigned char *p = from, *end = from + n;
    if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__) {
        while (p < end)
            o = escape_one(o, *p++);
        return (size_t)(o - to);
    }
    /* eight bytes a step: all eight are stored, and the output moves on past the plain ones;
     * the first special one is escaped. The last few bytes are read into a word padded with
     * 'a' (no special byte). */
    uint64_t x, m;
    while (end - p >= 8) {
        memcpy(&x, p, 8);
        memcpy(o, &x, 8);
        if ((m = special(x)) == 0) {
            o += 8;
            p += 8;
            continue;
        }
        size_t i = (size_t)__builtin_ctzll(m) / 8;   /* little-endian: the lowest byte */
        o = escape_one(o + i, p[i]);
        p += i + 1;
    }
    while (p < end) {
        size_t k = (size_t)(end - p);
        x = ONES * 'a';
        switch (k) {   /* constant sizes: no call */
        case 7: memcpy(&x, p, 7); break;
        case 6: memcpy(&x, p, 6); break;
        case 5: memcpy(&x, p, 5); break;
        case 4: memcpy(&x, p, 4); break;
        case 3: memcpy(&x, p, 3); break;
        case 2: memcpy(&x, p, 2); break;
        default: memcpy(&x, p, 1); break;
        }
        memcpy(o, &x, 8);
        size_t i = (m = special(x)) ? (size_t)__builtin_ctzll(m) / 8 : k;
        o += i;
        p += i;
        if (p < end)
            o = escape_one(o, *p++);
    }
    return (size_t)(o - to);
}

/* ------------------------------------------------------------------------------------------
 * the connection and the snapshot
 * ---------------------------------------------------------------------------------------- */

/* the project's MariaDB queries (db_maria.h), their errors naming the database */
static MYSQL_RES *query(struct my_snap *s, const char *what, const char *sql, struct cf_err *e)
{
    MYSQL_RES *r = db_maria_query(s->c, what, sql, e);
    if (r == NULL)
        cf_err_ctx(e, "database '%s'", s->db);
    return r;
}

static int exec(struct my_snap *s, const char *what, const char *sql, struct cf_err *e)
{
    if (db_maria_exec(s->c, what, sql, e) != 0)
        return cf_err_ctx(e, "database '%s'", s->db);
    return 0;
}

/* `name`, with backticks in it doubled */
static void quote_name(struct buf *b, const char *name)
{
    buf_puts(b, "`");
    for (const char *p = name; *p; p++)
        buf_append(b, *p == '`' ? "``" : p, *p == '`' ? 2 : 1);
    buf_puts(b, "`");
}

/* each table's definition as "name", "fingerprint" rows (only @table's when not NULL): its
 * columns, indexes and constraints, each as a count and a sum of CRC32s */
static MYSQL_RES *table_fps(struct my_snap *s, const char *table, struct cf_err *e)
{
    char *only = NULL;
    if (table) {
        char *esc = db_maria_escape(s->c, table);
        only = cf_asprintf(" AND table_name = '%s'", esc);
        free(esc);
    }
    const char *w = only ? only : "";
    char *sql = cf_asprintf(
        "SELECT t, GROUP_CONCAT(f ORDER BY k SEPARATOR ' ') FROM ("
        "SELECT table_name AS t, 'c' AS k, CONCAT('c', COUNT(*), ':', SUM(CRC32(CONCAT_WS(0x1f, "
        "ordinal_position, column_name, column_type, is_nullable, IFNULL(column_default, 0x00), "
        "IFNULL(collation_name, ''), extra, IFNULL(generation_expression, ''))))) AS f "
        "FROM information_schema.columns WHERE table_schema = DATABASE()%s GROUP BY table_name "
        "UNION ALL SELECT table_name, 's', CONCAT('s', COUNT(*), ':', SUM(CRC32(CONCAT_WS(0x1f, "
        "index_name, seq_in_index, column_name, non_unique, IFNULL(sub_part, ''), index_type)))) "
        "FROM information_schema.statistics WHERE table_schema = DATABASE()%s GROUP BY table_name "
        "UNION ALL SELECT table_name, 'k', CONCAT('k', COUNT(*), ':', SUM(CRC32(CONCAT_WS(0x1f, "
        "constraint_name, constraint_type)))) FROM information_schema.table_constraints "
        "WHERE constraint_schema = DATABASE()%s GROUP BY table_name) x GROUP BY t",
        w, w, w);
    MYSQL_RES *r = query(s, "reading the tables' definitions", sql, e);
    free(sql);
    free(only);
    return r;
}

/* the one value @sql returns, into @out */
static int query_value(struct my_snap *s, const char *what, const char *sql, char *out,
                       size_t cap, struct cf_err *e)
{
    MYSQL_RES *r = query(s, what, sql, e);
    if (r == NULL)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    snprintf(out, cap, "%s", row && row[0] ? row[0] : "-");
    mysql_free_result(r);
    return 0;
}

static int table_fp_cmp(const void *a, const void *b)
{
    return strcmp(((const struct table_fp *)a)->name, ((const struct table_fp *)b)->name);
}

/* the routines, events, triggers and views, as one string that changes when any of them does */
static int objects_fp(struct my_snap *s, char *out, size_t cap, struct cf_err *e)
{
    return query_value(s, "reading the routines, events, triggers and views",
                       "SELECT CONCAT_WS(' ', "
                       "(SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS(0x1f, "
                       "routine_type, routine_name, IFNULL(routine_definition, ''), "
                       "last_altered))), 0)) FROM information_schema.routines "
                       "WHERE routine_schema = DATABASE()), "
                       "(SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS(0x1f, "
                       "event_name, IFNULL(event_definition, ''), status, last_altered))), 0)) "
                       "FROM information_schema.events WHERE event_schema = DATABASE()), "
                       "(SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS(0x1f, "
                       "trigger_name, event_object_table, action_timing, event_manipulation, "
                       "action_statement))), 0)) FROM information_schema.triggers "
                       "WHERE trigger_schema = DATABASE()), "
                       "(SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS(0x1f, "
                       "table_name, view_definition))), 0)) FROM information_schema.views "
                       "WHERE table_schema = DATABASE()))",
                       out, cap, e);
}

#define BASE_TABLES "FROM information_schema.tables WHERE table_schema = DATABASE() AND " \
                    "table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')"

/* the base tables' names, as one string that changes when a table is created or dropped */
static int names_fp(struct my_snap *s, char *out, size_t cap, struct cf_err *e)
{
    return query_value(s, "listing the tables",
                       "SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(table_name)), 0)) "
                       BASE_TABLES, out, cap, e);
}

/* the tables and definitions when the backup begins, before the schema is dumped */
static int fingerprint_all(struct my_snap *s, struct cf_err *e)
{
    MYSQL_RES *r = query(s, "listing the tables", "SELECT table_name, engine " BASE_TABLES, e);
    MYSQL_ROW row;
    if (r == NULL)
        return -1;
    s->tables = cf_calloc(mysql_num_rows(r) + 1, sizeof(*s->tables));
    while ((row = mysql_fetch_row(r))) {
        struct table_fp *t = &s->tables[s->ntables++];
        t->name = cf_strdup(row[0] ? row[0] : "");
        t->engine = row[1] ? cf_strdup(row[1]) : NULL;
    }
    mysql_free_result(r);
    qsort(s->tables, s->ntables, sizeof(*s->tables), table_fp_cmp);
    if ((r = table_fps(s, NULL, e)) == NULL)
        return -1;
    while ((row = mysql_fetch_row(r))) {
        struct table_fp key = { row[0] ? row[0] : "", NULL, NULL };
        struct table_fp *t = bsearch(&key, s->tables, s->ntables, sizeof(*s->tables),
                                     table_fp_cmp);
        if (t && t->fp == NULL)
            t->fp = cf_strdup(row[1] ? row[1] : "");
    }
    mysql_free_result(r);
    if (names_fp(s, s->names, sizeof(s->names), e) != 0)
        return -1;
    return objects_fp(s, s->objects, sizeof(s->objects), e);
}

/* @t's definition is the one it had when the backup began (called while the read that
 * just ended holds its metadata lock) */
static int table_unchanged(struct my_snap *s, const struct table_fp *t, struct cf_err *e)
{
    MYSQL_RES *r = table_fps(s, t->name, e);
    if (r == NULL)
        return -1;
    MYSQL_ROW row = mysql_fetch_row(r);
    bool same = t->fp && row && row[1] && strcmp(row[1], t->fp) == 0;
    mysql_free_result(r);
    if (same)
        return 0;
    struct buf qt = BUF_INIT;
    quote_name(&qt, t->name);
    cf_err_set(e, CF_E_SOURCE,
               "database '%s': table %s was altered while the database was being backed up, "
               "so its rows may not fit the schema dumped. HINT: run the backup again",
               s->db, qt.data);
    buf_free(&qt);
    return -1;
}

int my_snap_unchanged(struct my_snap *s, struct cf_err *e)
{
    char now[sizeof(s->objects)];
    if (objects_fp(s, now, sizeof(now), e) != 0)
        return -1;
    if (strcmp(now, s->objects) != 0)
        return cf_err_set(e, CF_E_SOURCE,
                          "database '%s': a routine, event, trigger or view was created, changed "
                          "or dropped while the database was being backed up. HINT: run the "
                          "backup again",
                          s->db);
    return 0;
}

int my_snap_connect(const struct db_settings *m, const char *db, struct my_snap **out,
                    struct cf_err *e)
{
    struct my_snap *s = cf_calloc(1, sizeof(*s));
    s->db = cf_strdup(db);
    *out = s;
    if (db_maria_connect(m, db, 0, &s->c, e) != 0)
        return -1;
    /* as mariadb-dump: values in UTC, no sql_mode that changes what a SELECT returns
     * (PAD_CHAR_TO_FULL_LENGTH), and no timeout while the stream waits for its target */
    if (exec(s, "setting up the session",
             "SET SESSION time_zone = '+00:00', SESSION sql_mode = '', "
             "SESSION net_read_timeout = 86400, SESSION net_write_timeout = 86400 "
             "/*M!100100 , SESSION max_statement_time = 0 */",
             e) != 0 ||
        exec(s, "setting up the session", "SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ",
             e) != 0)
        return -1;
    return fingerprint_all(s, e);
}

int my_snap_begin(struct my_snap *s, bool binlog, json_t *dbinfo, struct cf_err *e)
{
    if (exec(s, "starting the snapshot", "START TRANSACTION WITH CONSISTENT SNAPSHOT", e) != 0)
        return -1;
    /* a table created or dropped since the schema was dumped: its rows or its schema would be
     * missing, and the binlog after the snapshot's position does not hold the change */
    char names[sizeof(s->names)];
    if (names_fp(s, names, sizeof(names), e) != 0)
        return -1;
    if (strcmp(names, s->names) != 0)
        return cf_err_set(e, CF_E_SOURCE,
                          "database '%s': a table was created or dropped while its schema was "
                          "being dumped. HINT: run the backup again",
                          s->db);
    if (!binlog)
        return 0;
    /* the binlog position of this snapshot, without FLUSH TABLES WITH READ LOCK */
    MYSQL_RES *r = query(s, "reading the snapshot's binlog position",
                         "SHOW STATUS LIKE 'binlog_snapshot_%'", e);
    MYSQL_ROW row;
    char *file = NULL, *pos = NULL;
    int rc = -1;
    if (r == NULL)
        return -1;
    while ((row = mysql_fetch_row(r))) {
        if (row[0] && row[1] && strcasecmp(row[0], "binlog_snapshot_file") == 0)
            file = cf_strdup(row[1]);
        else if (row[0] && row[1] && strcasecmp(row[0], "binlog_snapshot_position") == 0)
            pos = cf_strdup(row[1]);
    }
    mysql_free_result(r);
    if (file == NULL || *file == '\0' || pos == NULL) {
        rc = 1;   /* not MariaDB's: no position without locking every table */
        goto out;
    }
    json_object_set_new(dbinfo, "binlog_file", json_string(file));
    json_object_set_new(dbinfo, "binlog_pos", json_integer(strtoll(pos, NULL, 10)));
    char *esc = db_maria_escape(s->c, file);
    char *sql = cf_asprintf("SELECT BINLOG_GTID_POS('%s', %lld)", esc, strtoll(pos, NULL, 10));
    free(esc);
    r = query(s, "reading the snapshot's GTID position", sql, e);
    free(sql);
    if (r == NULL)
        goto out;
    if ((row = mysql_fetch_row(r)) && row[0])
        json_object_set_new(dbinfo, "gtid", json_string(row[0]));
    mysql_free_result(r);
    rc = 0;
out:
    free(file);
    free(pos);
    return rc;
}

void my_snap_close(struct my_snap *s)
{
    if (s == NULL)
        return;
    mysql_close(s->c);
    for (size_t i = 0; i < s->ntables; i++) {
        free(s->tables[i].name);
        free(s->tables[i].engine);
        free(s->tables[i].fp);
    }
    free(s->tables);
    free(s->db);
    free(s);
}

/* ------------------------------------------------------------------------------------------
 * the rows
 * ---------------------------------------------------------------------------------------- */

struct out {
    struct buf b;
    src_sink_fn sink;
    void *ctx;
};

#define OUT_FLUSH (1024 * 1024)

static int out_flush(struct out *o, struct cf_err *e)
{
    if (o->b.len > 0 && o->sink(o->ctx, o->b.data, o->b.len, e) != 0)
        return -1;
    o->b.len = 0;
    return 0;
}

static int out_put(struct out *o, const void *p, size_t n, struct cf_err *e)
{
    buf_append(&o->b, p, n);
    return o->b.len >= OUT_FLUSH ? out_flush(o, e) : 0;
}

/* @s in an SQL comment line: a newline in it starts the next line with "-- " (as mariadb-dump's
 * fix_for_comment(), so that a table's name cannot end the comment and run as SQL) */
static void comment_text(struct buf *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        buf_append(b, p, 1);
        if (*p == '\n')
            buf_puts(b, "-- ");
    }
}

enum kind { K_TEXT, K_HEX, K_NUM, K_OLDDECIMAL };

/* how mariadb-dump --hex-blob writes a field's values */
static enum kind field_kind(const MYSQL_FIELD *f)
{
    if (f->flags & NUM_FLAG)
        return f->type == MYSQL_TYPE_DECIMAL ? K_OLDDECIMAL : K_NUM;
    if (f->charsetnr == 63) {   /* binary */
        switch (f->type) {
        case MYSQL_TYPE_BIT:
        case MYSQL_TYPE_STRING:
        case MYSQL_TYPE_VAR_STRING:
        case MYSQL_TYPE_VARCHAR:
        case MYSQL_TYPE_BLOB:
        case MYSQL_TYPE_LONG_BLOB:
        case MYSQL_TYPE_MEDIUM_BLOB:
        case MYSQL_TYPE_TINY_BLOB:
        case MYSQL_TYPE_GEOMETRY:
            return K_HEX;
        default:
            break;
        }
    }
    return K_TEXT;
}

static bool is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* one value into @row, which has room for 2 * @len + 10 bytes */
static void put_value(struct buf *row, enum kind k, const char *v, unsigned long len)
{
    static const char hex[] = "0123456789ABCDEF";
    char *o = row->data + row->len;
    if (v == NULL) {
        memcpy(o, "NULL", 4);
        o += 4;
    } else if (len == 0) {
        memcpy(o, "''", 2);
        o += 2;
    } else if (k == K_HEX) {
        *o++ = '0';
        *o++ = 'x';
        for (unsigned long i = 0; i < len; i++) {
            *o++ = hex[(unsigned char)v[i] >> 4];
            *o++ = hex[(unsigned char)v[i] & 15];
        }
    } else if (k == K_TEXT) {
        *o++ = '\'';
        o += my_escape(o, (const unsigned char *)v, len);
        *o++ = '\'';
    } else if (is_alpha((unsigned char)v[0]) || (v[0] == '-' && is_alpha((unsigned char)v[1]))) {
        memcpy(o, "NULL", 4);   /* inf, -inf, nan */
        o += 4;
    } else {
        if (k == K_OLDDECIMAL)
            *o++ = '\'';
        memcpy(o, v, len);
        o += len;
        if (k == K_OLDDECIMAL)
            *o++ = '\'';
    }
    row->len = (size_t)(o - row->data);
}

/* the columns mariadb-dump selects (all, invisible ones too) into @cols, and whether the
 * INSERTs must name them (a table with an invisible column) */
static int table_columns(struct my_snap *s, const char *table, struct buf *cols, bool *name_them,
                         unsigned *n, struct cf_err *e)
{
    char *esc = db_maria_escape(s->c, table);
    char *sql = cf_asprintf("SELECT column_name, extra FROM information_schema.columns WHERE "
                            "table_schema = DATABASE() AND table_name = '%s' "
                            "ORDER BY ordinal_position",
                            esc);
    free(esc);
    MYSQL_RES *r = query(s, "reading a table's columns", sql, e);
    free(sql);
    if (r == NULL)
        return -1;
    MYSQL_ROW row;
    *name_them = false;
    *n = 0;
    while ((row = mysql_fetch_row(r))) {
        if (*n > 0)
            buf_puts(cols, ", ");
        quote_name(cols, row[0] ? row[0] : "");
        if (row[1] && strstr(row[1], "INVISIBLE"))
            *name_them = true;
        (*n)++;
    }
    mysql_free_result(r);
    return 0;
}

static int dump_table(struct my_snap *s, struct out *o, const char *table, uint64_t *rows,
                      struct cf_err *e)
{
    struct buf cols = BUF_INIT, qt = BUF_INIT, pat = BUF_INIT, sql = BUF_INIT;
    MYSQL_RES *r = NULL;
    enum kind *kinds = NULL;
    bool name_them;
    unsigned ncols;
    int rc = -1;

    if (table_columns(s, table, &cols, &name_them, &ncols, e) != 0)
        goto out;
    quote_name(&qt, table);
    buf_printf(&pat, "INSERT INTO %s ", qt.data);
    if (name_them)
        buf_printf(&pat, "(%s) VALUES ", cols.data);
    else
        buf_puts(&pat, "VALUES\n");
    buf_printf(&sql, "SELECT /*!40001 SQL_NO_CACHE */ %s FROM %s", cols.data, qt.data);
    if (mysql_real_query(s->c, sql.data, sql.len) != 0 || (r = mysql_use_result(s->c)) == NULL) {
        cf_err_set(e, CF_E_SOURCE, "database '%s': reading table %s: %s", s->db, qt.data,
                   mysql_error(s->c));
        goto out;
    }
    unsigned nf = mysql_num_fields(r);
    if (nf != ncols) {
        cf_err_set(e, CF_E_SOURCE, "database '%s': table %s returned %u columns, not %u",
                   s->db, qt.data, nf, ncols);
        goto out;
    }
    MYSQL_FIELD *f = mysql_fetch_fields(r);
    kinds = cf_calloc(nf ? nf : 1, sizeof(*kinds));
    for (unsigned i = 0; i < nf; i++)
        kinds[i] = field_kind(&f[i]);

    struct buf head = BUF_INIT;
    buf_puts(&head, "\n--\n-- Dumping data for table ");
    comment_text(&head, qt.data);
    buf_printf(&head, "\n--\n\nLOCK TABLES %s WRITE;\n/*!40000 ALTER TABLE %s DISABLE KEYS */;\n",
               qt.data, qt.data);
    int hrc = out_put(o, head.data, head.len, e);
    buf_free(&head);
    if (hrc != 0)
        goto out;

    /* the statement split of mariadb-dump's dump_table(): a row joins the statement while
     * the statement stays under net_buffer_length */
    size_t total = MY_NET_BUFFER_LENGTH, init = pat.len + 4;
    bool open = false;
    unsigned long long n = 0;
    MYSQL_ROW v;
    while ((v = mysql_fetch_row(r))) {
        unsigned long *len = mysql_fetch_lengths(r);
        /* the row goes straight after ",\n"; when it starts a statement instead, it is moved
         * up to make room for ";\n" and the INSERT (once a megabyte) */
        size_t start = o->b.len, need = 4;
        for (unsigned i = 0; i < nf; i++)
            need += 2 * (size_t)len[i] + 11;   /* a value's room (put_value) and its comma */
        buf_reserve(&o->b, need);
        memcpy(o->b.data + o->b.len, ",\n(", 3);
        o->b.len += 3;
        for (unsigned i = 0; i < nf; i++) {
            if (i > 0)
                o->b.data[o->b.len++] = ',';
            put_value(&o->b, kinds[i], v[i], len[i]);
        }
        o->b.data[o->b.len++] = ')';
        size_t rowlen = o->b.len - start - 2, rl = 2 + rowlen;
        if (total + rl < (size_t)MY_NET_BUFFER_LENGTH) {
            total += rl;
        } else {
            size_t pre = (open ? 2 : 0) + pat.len;
            buf_reserve(&o->b, pre);
            memmove(o->b.data + start + pre, o->b.data + start + 2, rowlen);
            memcpy(o->b.data + start, ";\n", open ? 2 : 0);
            memcpy(o->b.data + start + (open ? 2 : 0), pat.data, pat.len);
            o->b.len = start + pre + rowlen;
            o->b.data[o->b.len] = '\0';
            open = true;
            total = rl + init;
        }
        if (o->b.len >= OUT_FLUSH && out_flush(o, e) != 0)
            goto out;
        n++;
    }
    *rows += n;
    if (mysql_errno(s->c) != 0) {
        cf_err_set(e, CF_E_SOURCE, "database '%s': reading table %s after %llu rows: %s", s->db,
                   qt.data, (unsigned long long)n, mysql_error(s->c));
        goto out;
    }
    if (open)
        buf_append(&o->b, ";\n", 2);
    buf_reset(&sql);
    buf_printf(&sql, "/*!40000 ALTER TABLE %s ENABLE KEYS */;\nUNLOCK TABLES;\n", qt.data);
    if (out_put(o, sql.data, sql.len, e) != 0)
        goto out;
    rc = 0;
out:
    if (rc != 0 && r != NULL)
        mariadb_cancel(s->c);   /* or freeing the result would read the rest of the table */
    mysql_free_result(r);
    free(kinds);
    buf_free(&cols);
    buf_free(&qt);
    buf_free(&pat);
    buf_free(&sql);
    return rc;
}

/* the server's log tables, whose rows mariadb-dump leaves out (LOCK TABLES on them fails) */
static bool log_table(const char *db, const char *table)
{
    return strcmp(db, "mysql") == 0 &&
           (strcmp(table, "general_log") == 0 || strcmp(table, "slow_log") == 0 ||
            strcmp(table, "transaction_registry") == 0);
}

static bool no_data_engine(const char *engine)
{
    for (size_t i = 0; engine && no_data_engines[i]; i++)
        if (strcasecmp(engine, no_data_engines[i]) == 0)
            return true;
    return false;
}

int my_snap_rows(struct my_snap *s, src_sink_fn sink, void *ctx, uint64_t *rows, bool *later,
                 struct cf_err *e)
{
    struct out o = { BUF_INIT, sink, ctx };
    MYSQL_RES *r = NULL;
    MYSQL_ROW row;
    int rc = -1;

    *rows = 0;
    *later = false;
    if (out_put(&o, data_head, sizeof(data_head) - 1, e) != 0)
        goto out;
    /* the tables as the backup began (one dropped since fails its read); each under a
     * savepoint whose rollback releases the table's metadata lock, as mariadb-dump does */
    for (size_t i = 0; i < s->ntables; i++) {
        const struct table_fp *t = &s->tables[i];
        if (no_data_engine(t->engine) || log_table(s->db, t->name))
            continue;
        if (exec(s, "setting a savepoint", "SAVEPOINT coffer", e) != 0 ||
            dump_table(s, &o, t->name, rows, e) != 0 || table_unchanged(s, t, e) != 0 ||
            exec(s, "releasing a table's lock", "ROLLBACK TO SAVEPOINT coffer", e) != 0)
            goto out;
    }
    if (out_put(&o, data_foot, sizeof(data_foot) - 1, e) != 0 || out_flush(&o, e) != 0)
        goto out;
    r = query(s, "counting the triggers and events",
              "SELECT (SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = "
              "DATABASE()) + (SELECT COUNT(*) FROM information_schema.events WHERE "
              "event_schema = DATABASE())",
              e);
    if (r == NULL)
        goto out;
    *later = (row = mysql_fetch_row(r)) && row[0] && strcmp(row[0], "0") != 0;
    rc = 0;
out:
    mysql_free_result(r);
    buf_free(&o.b);
    return rc;
}
