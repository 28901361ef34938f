/* src_check.c - completeness proofs for pg_dump custom archives, SQL dumps and Redis RDBs.
 *
 * Each parser pulls from a src_reader, which forwards every consumed byte to the backup
 * stream, so a stream is checked in the same pass that stores it and never held whole. */
#include "src_check.h"

#include "source.h"

#include <inttypes.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------
 * pg_dump custom format (pg_backup_archiver.c WriteHead/WriteToc, pg_backup_custom.c):
 *   "PGDMP" vmaj vmin vrev intSize offSize format
 *   compression: int (< 1.15) or byte (1.15)
 *   7 ints (creation time), str dbname, str server version, str pg_dump version
 *   int tocCount, then per entry: int dumpId, int hadDumper, str tableoid, str oid, str tag,
 *     str desc, int section, str defn, str dropStmt, str copyStmt, str namespace,
 *     str tablespace, [1.14+] str tableam, str owner, str withOids, str... deps, NULL str,
 *     offset (flag byte + offSize bytes)
 *   then for each entry with data, in TOC order: byte 1 (BLK_DATA) or 3 (BLK_BLOBS), int
 *     dumpId; BLK_DATA: chunks (int len > 0, bytes) until int 0; BLK_BLOBS: per large object
 *     int oid, chunks until int 0; int 0 ends the list.
 *   int: sign byte + intSize bytes little-endian; str: int length (-1: NULL) + bytes.
 * A stream written to a pipe ends after the last data block (no rewritten TOC).
 * ---------------------------------------------------------------------------------------- */

struct pgd {
    struct src_reader *r;
    int int_size, off_size;
};

static int pgd_int(struct pgd *p, int64_t *out, const char *field, struct cf_err *e)
{
    unsigned char b[9];
    if (src_reader_get(p->r, b, (size_t)p->int_size + 1, field, e) != 0)
        return -1;
    uint64_t v = 0;
    for (int i = p->int_size; i >= 1; i--)
        v = (v << 8) | b[i];
    if (b[0] > 1)
        return cf_err_set(e, CF_E_CORRUPT, "%s: bad sign byte %u in %s at byte %llu",
                          p->r->what, b[0], field, (unsigned long long)p->r->consumed);
    if (v > INT64_MAX)
        return cf_err_set(e, CF_E_CORRUPT, "%s: integer out of range in %s", p->r->what, field);
    *out = b[0] ? -(int64_t)v : (int64_t)v;
    return 0;
}

/* a string: into @out (cap bytes, truncated, NUL-terminated) or skipped when @out is NULL;
 * *@is_null tells a NULL string apart */
static int pgd_str(struct pgd *p, char *out, size_t cap, bool *is_null, const char *field,
                   struct cf_err *e)
{
    int64_t len;
    if (pgd_int(p, &len, field, e) != 0)
        return -1;
    if (is_null)
        *is_null = len == -1;
    if (out && cap)
        out[0] = '\0';
    if (len == -1)
        return 0;
    if (len < 0 || len > ((int64_t)1 << 40))
        return cf_err_set(e, CF_E_CORRUPT, "%s: bad string length %" PRId64 " in %s",
                          p->r->what, len, field);
    if (out == NULL || (uint64_t)len >= cap) {
        if (out && cap) {
            if (src_reader_get(p->r, out, cap - 1, field, e) != 0)
                return -1;
            out[cap - 1] = '\0';
            return src_reader_get(p->r, NULL, (size_t)len - (cap - 1), field, e);
        }
        return src_reader_get(p->r, NULL, (size_t)len, field, e);
    }
    if (src_reader_get(p->r, out, (size_t)len, field, e) != 0)
        return -1;
    out[len] = '\0';
    return 0;
}

/* data chunks of one block (or one large object) up to the zero-length terminator */
static int pgd_chunks(struct pgd *p, const char *field, struct cf_err *e)
{
    for (;;) {
        int64_t len;
        if (pgd_int(p, &len, field, e) != 0)
            return -1;
        if (len == 0)
            return 0;
        if (len < 0)
            return cf_err_set(e, CF_E_CORRUPT, "%s: negative chunk length in %s", p->r->what,
                              field);
        if (src_reader_get(p->r, NULL, (size_t)len, field, e) != 0)
            return -1;
    }
}

struct toc_data {
    int64_t id;
    bool seen;
    bool blobs;
};

int pgdump_check(struct src_reader *r, struct pgdump_summary *s, struct cf_err *e)
{
    struct pgd p = { r, 4, 8 };
    unsigned char h[11];
    int64_t v, count;
    struct toc_data *data = NULL;
    size_t ndata = 0, seen = 0;
    int rc = -1;
    char field[96];

    memset(s, 0, sizeof(*s));
    int f = src_reader_fill(r, 1, e);
    if (f < 0)
        goto out;
    if (f == 0) {
        cf_err_set(e, CF_E_CORRUPT, "%s: empty (no archive at all)", r->what);
        goto out;
    }
    if (src_reader_get(r, h, 11, "archive header", e) != 0)
        goto out;
    if (memcmp(h, "PGDMP", 5) != 0) {
        cf_err_set(e, CF_E_CORRUPT, "%s: not a pg_dump custom-format archive (no PGDMP header)",
                   r->what);
        goto out;
    }
    s->vmaj = h[5];
    s->vmin = h[6];
    s->vrev = h[7];
    p.int_size = h[8];
    p.off_size = h[9];
    if (s->vmaj != 1 || s->vmin < 12 || s->vmin > 15) {
        cf_err_set(e, CF_E_CORRUPT,
                   "%s: archive version %d.%d is not one coffer reads (1.12 to 1.15: pg_dump 11 to 16)",
                   r->what, s->vmaj, s->vmin);
        goto out;
    }
    if (p.int_size < 1 || p.int_size > 8 || p.off_size < 1 || p.off_size > 8 || h[10] != 1) {
        cf_err_set(e, CF_E_CORRUPT, "%s: bad archive header (int size %d, offset size %d, format %d)",
                   r->what, p.int_size, p.off_size, h[10]);
        goto out;
    }
    if (s->vmin >= 15) {
        unsigned char alg;
        if (src_reader_get(r, &alg, 1, "archive header", e) != 0)
            goto out;
        s->compression = alg;
    } else {
        if (pgd_int(&p, &v, "archive header", e) != 0)
            goto out;
        s->compression = (int)v;
    }
    for (int i = 0; i < 7; i++)
        if (pgd_int(&p, &v, "archive header", e) != 0)
            goto out;
    if (pgd_str(&p, s->dbname, sizeof(s->dbname), NULL, "archive header", e) != 0 ||
        pgd_str(&p, s->server_version, sizeof(s->server_version), NULL, "archive header", e) != 0 ||
        pgd_str(&p, s->dump_version, sizeof(s->dump_version), NULL, "archive header", e) != 0)
        goto out;

    if (pgd_int(&p, &count, "table of contents", e) != 0)
        goto out;
    if (count < 0 || count > 100000000) {
        cf_err_set(e, CF_E_CORRUPT, "%s: bad table of contents size %" PRId64, r->what, count);
        goto out;
    }
    s->toc_entries = (unsigned)count;
    data = cf_calloc((size_t)count + 1, sizeof(*data));
    for (int64_t i = 0; i < count; i++) {
        int64_t id, dumper;
        char desc[64];
        bool is_null;
        snprintf(field, sizeof(field), "table of contents entry %" PRId64 " of %" PRId64, i + 1,
                 count);
        if (pgd_int(&p, &id, field, e) != 0 || pgd_int(&p, &dumper, field, e) != 0 ||
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* tableoid */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* oid */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* tag */
            pgd_str(&p, desc, sizeof(desc), NULL, field, e) != 0 ||
            pgd_int(&p, &v, field, e) != 0 ||                     /* section */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* defn */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* dropStmt */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* copyStmt */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* namespace */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0)            /* tablespace */
            goto out;
        if (s->vmin >= 14 && pgd_str(&p, NULL, 0, NULL, field, e) != 0)   /* tableam */
            goto out;
        if (pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* owner */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0)            /* withOids */
            goto out;
        do {                                                      /* dependencies */
            if (pgd_str(&p, NULL, 0, &is_null, field, e) != 0)
                goto out;
        } while (!is_null);
        if (src_reader_get(r, NULL, (size_t)p.off_size + 1, field, e) != 0)   /* data offset */
            goto out;
        if (dumper != 0 && dumper != 1) {
            cf_err_set(e, CF_E_CORRUPT, "%s: bad %s", r->what, field);
            goto out;
        }
        if (dumper) {
            data[ndata].id = id;
            data[ndata].blobs = strcmp(desc, "BLOBS") == 0;
            ndata++;
        }
    }
    s->data_entries = (unsigned)ndata;

    while (seen < ndata) {
        unsigned char type;
        int64_t id;
        snprintf(field, sizeof(field), "data block %zu of %zu", seen + 1, ndata);
        if (src_reader_get(r, &type, 1, field, e) != 0 || pgd_int(&p, &id, field, e) != 0)
            goto out;
        size_t k;
        for (k = 0; k < ndata && data[k].id != id; k++)
            ;
        if (k == ndata || data[k].seen || (type != 1 && type != 3) || (type == 3) != data[k].blobs) {
            cf_err_set(e, CF_E_CORRUPT, "%s: unexpected block (type %u, entry %" PRId64 ") in %s",
                       r->what, type, id, field);
            goto out;
        }
        data[k].seen = true;
        seen++;
        snprintf(field, sizeof(field), "data block of TOC entry %" PRId64, id);
        if (type == 1) {
            if (pgd_chunks(&p, field, e) != 0)
                goto out;
        } else {
            for (;;) {
                int64_t oid;
                if (pgd_int(&p, &oid, field, e) != 0)
                    goto out;
                if (oid == 0)
                    break;
                s->large_objects++;
                if (pgd_chunks(&p, field, e) != 0)
                    goto out;
            }
        }
    }
    f = src_reader_at_eof(r, e);
    if (f < 0)
        goto out;
    if (f == 0) {
        cf_err_set(e, CF_E_CORRUPT, "%s: bytes after the end of the archive (at byte %llu)",
                   r->what, (unsigned long long)r->consumed);
        goto out;
    }
    if (src_reader_flush(r, e) != 0)
        goto out;
    s->bytes = r->consumed;
    rc = 0;
out:
    free(data);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * SQL dumps: the first line and the last non-empty line
 * ---------------------------------------------------------------------------------------- */

/* the start of line @i (0-based) of @b within its first bytes, or NULL */
static const char *nth_line(const struct buf *b, int i)
{
    const char *p = b->data, *end = b->data + b->len;
    while (i-- > 0) {
        p = memchr(p, '\n', (size_t)(end - p));
        if (p == NULL)
            return NULL;
        p++;
    }
    return p < end ? p : NULL;
}

int sqldump_check(const struct buf *head, const struct buf *tail, const char *first_line_prefix,
                  const char *last_line_prefix, const char *exact_suffix, const char *what,
                  struct cf_err *e)
{
    size_t n = strlen(first_line_prefix);
    bool found = false;
    if (head->len == 0)
        return cf_err_set(e, CF_E_CORRUPT, "%s: empty (no dump at all)", what);
    /* within the first three lines: newer tools put a sandbox-mode comment first */
    for (int i = 0; i < 3 && !found; i++) {
        const char *l = nth_line(head, i);
        found = l && (size_t)(head->data + head->len - l) >= n && memcmp(l, first_line_prefix, n) == 0;
    }
    if (!found)
        return cf_err_set(e, CF_E_CORRUPT, "%s: does not start with '%s'", what,
                          first_line_prefix);
    /* the last line that is neither blank nor a bare comment marker "--", and it must be
     * whole: followed by a newline */
    size_t end = tail->len;
    for (;;) {
        while (end > 0 && (tail->data[end - 1] == '\n' || tail->data[end - 1] == '\r' ||
                           tail->data[end - 1] == ' '))
            end--;
        if (end >= 2 && tail->data[end - 1] == '-' && tail->data[end - 2] == '-' &&
            (end == 2 || tail->data[end - 3] == '\n')) {
            end -= 2;
            continue;
        }
        break;
    }
    size_t start = end;
    while (start > 0 && tail->data[start - 1] != '\n')
        start--;
    n = strlen(last_line_prefix);
    if (end - start < n || memcmp(tail->data + start, last_line_prefix, n) != 0 ||
        end == tail->len || tail->data[end] != '\n')
        return cf_err_set(e, CF_E_CORRUPT,
                          "%s: incomplete: the last line is not '%s' (the dump was cut short)",
                          what, last_line_prefix);
    /* "-- Dump completed on 2026-11-22  5:10:01": a date cut short is a dump cut short */
    if (end - start > n && !(end - start == n + 4 + 19 && memcmp(tail->data + start + n, " on ", 4) == 0))
        return cf_err_set(e, CF_E_CORRUPT, "%s: incomplete: the last line is cut short", what);
    /* text after the last line may only be the closing "--" lines the tool writes */
    if (exact_suffix && (tail->len < strlen(exact_suffix) ||
                         strcmp(tail->data + tail->len - strlen(exact_suffix), exact_suffix) != 0))
        return cf_err_set(e, CF_E_CORRUPT, "%s: incomplete: does not end with its closing lines",
                          what);
    return 0;
}

/* ------------------------------------------------------------------------------------------
 * Redis RDB (rdb.h of Redis 7): "REDIS" + 4 version digits, then opcodes:
 *   0xFA aux (str key, str value)      0xFB resizedb (len, len)   0xFE selectdb (len)
 *   0xFC expire ms (8 bytes LE)        0xFD expire s (4 bytes LE) 0xF8 idle (len)
 *   0xF9 freq (1 byte)                 0xF7 module aux            0xF5 function (str)
 *   0xFF EOF, then 8 bytes: CRC64 of everything before them, little-endian (0: disabled)
 *   otherwise a value type, then str key, then the value.
 * len: 00xxxxxx 6 bits; 01xxxxxx +1 byte 14 bits; 0x80 + 4 bytes BE; 0x81 + 8 bytes BE;
 *   11xxxxxx special string encodings: 0 int8, 1 int16, 2 int32, 3 LZF (len clen, len ulen,
 *   clen bytes).
 * ---------------------------------------------------------------------------------------- */

enum {
    RDB_OP_FUNCTION2 = 245, RDB_OP_FUNCTION = 246, RDB_OP_MODULE_AUX = 247, RDB_OP_IDLE = 248,
    RDB_OP_FREQ = 249, RDB_OP_AUX = 250, RDB_OP_RESIZEDB = 251, RDB_OP_EXPIRETIME_MS = 252,
    RDB_OP_EXPIRETIME = 253, RDB_OP_SELECTDB = 254, RDB_OP_EOF = 255,
};

struct rdbp {
    struct src_reader *r;
    char field[64];
};

static int rdb_byte(struct rdbp *p, unsigned char *c, struct cf_err *e)
{
    return src_reader_get(p->r, c, 1, p->field, e);
}

/* a length; *@enc is set (and the low 6 bits returned) for a special string encoding */
static int rdb_len(struct rdbp *p, uint64_t *out, bool *enc, struct cf_err *e)
{
    unsigned char c, b[8];
    if (enc)
        *enc = false;
    if (rdb_byte(p, &c, e) != 0)
        return -1;
    switch (c >> 6) {
    case 0:
        *out = c & 0x3f;
        return 0;
    case 1:
        if (rdb_byte(p, &b[0], e) != 0)
            return -1;
        *out = ((uint64_t)(c & 0x3f) << 8) | b[0];
        return 0;
    case 3:
        if (enc == NULL)
            return cf_err_set(e, CF_E_CORRUPT, "%s: encoded length where a plain one belongs in %s",
                              p->r->what, p->field);
        *enc = true;
        *out = c & 0x3f;
        return 0;
    }
    if (c == 0x80 || c == 0x81) {
        size_t n = c == 0x80 ? 4 : 8;
        if (src_reader_get(p->r, b, n, p->field, e) != 0)
            return -1;
        uint64_t v = 0;
        for (size_t i = 0; i < n; i++)
            v = (v << 8) | b[i];
        *out = v;
        return 0;
    }
    return cf_err_set(e, CF_E_CORRUPT, "%s: bad length byte 0x%02x in %s", p->r->what, c,
                      p->field);
}

static int rdb_plain_len(struct rdbp *p, uint64_t *out, struct cf_err *e)
{
    return rdb_len(p, out, NULL, e);
}

/* a string: copied into @out (when not NULL) or skipped */
static int rdb_str(struct rdbp *p, struct buf *out, struct cf_err *e)
{
    uint64_t len, ulen;
    bool enc;
    if (rdb_len(p, &len, &enc, e) != 0)
        return -1;
    if (enc) {
        switch (len) {
        case 0: case 1: case 2: {
            unsigned char b[4];
            size_t n = (size_t)1 << len;
            if (src_reader_get(p->r, b, n, p->field, e) != 0)
                return -1;
            if (out) {
                int64_t v = len == 0 ? (int8_t)b[0]
                          : len == 1 ? (int16_t)(b[0] | b[1] << 8)
                                     : (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
                                                 (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
                buf_printf(out, "%" PRId64, v);
            }
            return 0;
        }
        case 3:
            if (rdb_plain_len(p, &len, e) != 0 || rdb_plain_len(p, &ulen, e) != 0)
                return -1;
            if (out)   /* compressed key names are rare; keep the raw form for messages only */
                buf_printf(out, "<lzf %" PRIu64 " bytes>", ulen);
            return src_reader_get(p->r, NULL, (size_t)len, p->field, e);
        default:
            return cf_err_set(e, CF_E_CORRUPT, "%s: unknown string encoding %" PRIu64 " in %s",
                              p->r->what, len, p->field);
        }
    }
    if (len > ((uint64_t)1 << 40))
        return cf_err_set(e, CF_E_CORRUPT, "%s: bad string length in %s", p->r->what, p->field);
    if (out == NULL)
        return src_reader_get(p->r, NULL, (size_t)len, p->field, e);
    buf_reserve(out, (size_t)len + 1);
    if (src_reader_get(p->r, out->data + out->len, (size_t)len, p->field, e) != 0)
        return -1;
    out->len += (size_t)len;
    out->data[out->len] = '\0';
    return 0;
}

static int rdb_skip_strs(struct rdbp *p, uint64_t n, struct cf_err *e)
{
    for (uint64_t i = 0; i < n; i++)
        if (rdb_str(p, NULL, e) != 0)
            return -1;
    return 0;
}

/* module values: opcodes until EOF (rdbLoadCheckModuleValue) */
static int rdb_module_value(struct rdbp *p, struct cf_err *e)
{
    for (;;) {
        uint64_t op, v;
        if (rdb_plain_len(p, &op, e) != 0)
            return -1;
        switch (op) {
        case 0:   /* EOF */
            return 0;
        case 1: case 2:   /* signed / unsigned integer */
            if (rdb_plain_len(p, &v, e) != 0)
                return -1;
            break;
        case 3:   /* float */
            if (src_reader_get(p->r, NULL, 4, p->field, e) != 0)
                return -1;
            break;
        case 4:   /* double */
            if (src_reader_get(p->r, NULL, 8, p->field, e) != 0)
                return -1;
            break;
        case 5:   /* string */
            if (rdb_str(p, NULL, e) != 0)
                return -1;
            break;
        default:
            return cf_err_set(e, CF_E_CORRUPT, "%s: unknown module opcode %" PRIu64 " in %s",
                              p->r->what, op, p->field);
        }
    }
}

static int rdb_stream(struct rdbp *p, int type, struct cf_err *e)
{
    uint64_t n, v, groups;
    if (rdb_plain_len(p, &n, e) != 0 || rdb_skip_strs(p, 2 * n, e) != 0)   /* listpacks */
        return -1;
    for (int i = 0; i < 3; i++)   /* length, last id ms, seq */
        if (rdb_plain_len(p, &v, e) != 0)
            return -1;
    if (type >= 19)   /* first id (2), max deleted id (2), entries added */
        for (int i = 0; i < 5; i++)
            if (rdb_plain_len(p, &v, e) != 0)
                return -1;
    if (rdb_plain_len(p, &groups, e) != 0)
        return -1;
    for (uint64_t g = 0; g < groups; g++) {
        uint64_t pel, consumers;
        if (rdb_str(p, NULL, e) != 0 || rdb_plain_len(p, &v, e) != 0 ||
            rdb_plain_len(p, &v, e) != 0)
            return -1;
        if (type >= 19 && rdb_plain_len(p, &v, e) != 0)   /* entries read */
            return -1;
        if (rdb_plain_len(p, &pel, e) != 0)
            return -1;
        for (uint64_t i = 0; i < pel; i++)   /* raw id, delivery time, delivery count */
            if (src_reader_get(p->r, NULL, 16 + 8, p->field, e) != 0 ||
                rdb_plain_len(p, &v, e) != 0)
                return -1;
        if (rdb_plain_len(p, &consumers, e) != 0)
            return -1;
        for (uint64_t c = 0; c < consumers; c++) {
            uint64_t cpel;
            if (rdb_str(p, NULL, e) != 0 ||
                src_reader_get(p->r, NULL, type >= 21 ? 16 : 8, p->field, e) != 0 ||
                rdb_plain_len(p, &cpel, e) != 0)
                return -1;
            for (uint64_t i = 0; i < cpel; i++)
                if (src_reader_get(p->r, NULL, 16, p->field, e) != 0)
                    return -1;
        }
    }
    return 0;
}

/* the serialized value of @type (after the key) */
static int rdb_value(struct rdbp *p, int type, struct cf_err *e)
{
    uint64_t n, v;
    switch (type) {
    case 0:   /* string */
        return rdb_str(p, NULL, e);
    case 1: case 2:   /* list, set */
        return rdb_plain_len(p, &n, e) != 0 ? -1 : rdb_skip_strs(p, n, e);
    case 3:   /* zset (string scores) */
        if (rdb_plain_len(p, &n, e) != 0)
            return -1;
        for (uint64_t i = 0; i < n; i++) {
            unsigned char l;
            if (rdb_str(p, NULL, e) != 0 || rdb_byte(p, &l, e) != 0)
                return -1;
            if (l < 253 && src_reader_get(p->r, NULL, l, p->field, e) != 0)
                return -1;
        }
        return 0;
    case 4:   /* hash */
        return rdb_plain_len(p, &n, e) != 0 ? -1 : rdb_skip_strs(p, 2 * n, e);
    case 5:   /* zset2: member + binary double */
        if (rdb_plain_len(p, &n, e) != 0)
            return -1;
        for (uint64_t i = 0; i < n; i++)
            if (rdb_str(p, NULL, e) != 0 || src_reader_get(p->r, NULL, 8, p->field, e) != 0)
                return -1;
        return 0;
    case 7:   /* module2 */
        return rdb_plain_len(p, &v, e) != 0 ? -1 : rdb_module_value(p, e);
    case 9: case 10: case 11: case 12: case 13: case 16: case 17: case 20:
        return rdb_str(p, NULL, e);   /* zipmap, ziplist, intset, listpack blobs */
    case 14:   /* quicklist: ziplists */
        return rdb_plain_len(p, &n, e) != 0 ? -1 : rdb_skip_strs(p, n, e);
    case 18:   /* quicklist2: container + blob */
        if (rdb_plain_len(p, &n, e) != 0)
            return -1;
        for (uint64_t i = 0; i < n; i++)
            if (rdb_plain_len(p, &v, e) != 0 || rdb_str(p, NULL, e) != 0)
                return -1;
        return 0;
    case 15: case 19: case 21:
        return rdb_stream(p, type, e);
    }
    return cf_err_set(e, CF_E_CORRUPT, "%s: unknown value type %d in %s", p->r->what, type,
                      p->field);
}

int rdb_check(struct src_reader *r, struct rdb_summary *s, rdb_key_fn key_cb, void *ctx,
              struct cf_err *e)
{
    struct rdbp p = { .r = r };
    unsigned char h[9], c;
    struct buf key = BUF_INIT, val = BUF_INIT, aux = BUF_INIT;
    uint64_t db = 0, v;
    int64_t expire = 0;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    r->crc = true;
    r->crc64 = 0;
    snprintf(p.field, sizeof(p.field), "header");
    int f = src_reader_fill(r, 1, e);
    if (f < 0)
        goto out;
    if (f == 0) {
        cf_err_set(e, CF_E_CORRUPT, "%s: empty (no RDB at all)", r->what);
        goto out;
    }
    if (src_reader_get(r, h, 9, p.field, e) != 0)
        goto out;
    if (memcmp(h, "REDIS", 5) != 0 || h[5] < '0' || h[5] > '9' || h[6] < '0' || h[6] > '9' ||
        h[7] < '0' || h[7] > '9' || h[8] < '0' || h[8] > '9') {
        cf_err_set(e, CF_E_CORRUPT, "%s: not an RDB file (no REDIS header)", r->what);
        goto out;
    }
    s->version = (h[5] - '0') * 1000 + (h[6] - '0') * 100 + (h[7] - '0') * 10 + (h[8] - '0');
    if (s->version < 1 || s->version > 12) {
        cf_err_set(e, CF_E_CORRUPT, "%s: RDB version %d is not one coffer reads (1 to 12)",
                   r->what, s->version);
        goto out;
    }

    for (;;) {
        snprintf(p.field, sizeof(p.field), "record after key %" PRIu64, s->keys);
        if (rdb_byte(&p, &c, e) != 0)
            goto out;
        switch (c) {
        case RDB_OP_EOF:
            goto eof;
        case RDB_OP_AUX:
            buf_reset(&key);
            buf_reset(&aux);
            if (rdb_str(&p, &key, e) != 0 || rdb_str(&p, &aux, e) != 0)
                goto out;
            if (strcmp(key.data, "redis-ver") == 0)
                snprintf(s->redis_version, sizeof(s->redis_version), "%s", aux.data);
            continue;
        case RDB_OP_RESIZEDB:
            if (rdb_plain_len(&p, &v, e) != 0 || rdb_plain_len(&p, &v, e) != 0)
                goto out;
            continue;
        case RDB_OP_SELECTDB:
            if (rdb_plain_len(&p, &db, e) != 0)
                goto out;
            if (db >= RDB_MAX_DBS) {
                cf_err_set(e, CF_E_CORRUPT, "%s: database number %" PRIu64 " out of range",
                           r->what, db);
                goto out;
            }
            continue;
        case RDB_OP_EXPIRETIME_MS: {
            unsigned char b[8];
            if (src_reader_get(r, b, 8, p.field, e) != 0)
                goto out;
            uint64_t t = 0;
            for (int i = 7; i >= 0; i--)
                t = (t << 8) | b[i];
            expire = (int64_t)t;
            continue;
        }
        case RDB_OP_EXPIRETIME: {
            unsigned char b[4];
            if (src_reader_get(r, b, 4, p.field, e) != 0)
                goto out;
            expire = (int64_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
                               (uint32_t)b[3] << 24) * 1000;
            continue;
        }
        case RDB_OP_IDLE:
            if (rdb_plain_len(&p, &v, e) != 0)
                goto out;
            continue;
        case RDB_OP_FREQ:
            if (rdb_byte(&p, &c, e) != 0)
                goto out;
            continue;
        case RDB_OP_FUNCTION2:
            if (rdb_str(&p, NULL, e) != 0)
                goto out;
            continue;
        case RDB_OP_MODULE_AUX:
            if (rdb_plain_len(&p, &v, e) != 0 || rdb_plain_len(&p, &v, e) != 0 ||
                rdb_plain_len(&p, &v, e) != 0 || rdb_module_value(&p, e) != 0)
                goto out;
            continue;
        case RDB_OP_FUNCTION:
            cf_err_set(e, CF_E_CORRUPT, "%s: pre-release function records are not supported",
                       r->what);
            goto out;
        }
        /* a key and its value */
        buf_reset(&key);
        if (rdb_str(&p, &key, e) != 0)
            goto out;
        snprintf(p.field, sizeof(p.field), "value of key %" PRIu64, s->keys + 1);
        if (key_cb) {
            buf_reset(&val);
            buf_append(&val, &c, 1);
            r->capture = &val;
        }
        int vr = rdb_value(&p, c, e);
        r->capture = NULL;
        if (vr != 0)
            goto out;
        s->keys++;
        s->db_keys[db]++;
        if (expire)
            s->keys_with_ttl++;
        if (key_cb && key_cb(ctx, (unsigned)db, key.data, key.len, expire,
                             (const unsigned char *)val.data, val.len, e) != 0)
            goto out;
        expire = 0;
    }
eof:
    /* the checksum covers every byte up to and including the EOF opcode */
    if (src_reader_flush(r, e) != 0)
        goto out;
    uint64_t want = r->crc64;
    if (s->version >= 5) {
        unsigned char b[8];
        r->crc = false;
        snprintf(p.field, sizeof(p.field), "checksum");
        if (src_reader_get(r, b, 8, p.field, e) != 0 || src_reader_flush(r, e) != 0)
            goto out;
        uint64_t got = 0;
        for (int i = 7; i >= 0; i--)
            got = (got << 8) | b[i];
        if (got == 0) {
            cf_err_set(e, CF_E_SOURCE,
                       "%s: the RDB carries no checksum, so it cannot be proved whole. HINT: set 'rdbchecksum yes' on the server",
                       r->what);
            goto out;
        }
        if (got != want) {
            cf_err_set(e, CF_E_CORRUPT, "%s: RDB checksum mismatch (stored %016" PRIx64
                       ", computed %016" PRIx64 ")", r->what, got, want);
            goto out;
        }
    }
    s->bytes = r->consumed;
    rc = 0;
out:
    r->capture = NULL;
    r->crc = false;
    buf_free(&key);
    buf_free(&val);
    buf_free(&aux);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * by kind
 * ---------------------------------------------------------------------------------------- */

int dump_check(struct src_reader *r, enum dump_kind kind, struct cf_err *e)
{
    struct buf head = BUF_INIT, tail = BUF_INIT;
    int rc = -1;
    switch (kind) {
    case DUMP_PGDUMP: {
        struct pgdump_summary s;
        return pgdump_check(r, &s, e);
    }
    case DUMP_RDB: {
        struct rdb_summary s;
        return rdb_check(r, &s, NULL, NULL, e);
    }
    case DUMP_PGALL:
        if (src_pump(r, &head, 4096, &tail, 4096, e) == 0)
            rc = sqldump_check(&head, &tail, SQLDUMP_PGALL_FIRST, SQLDUMP_PGALL_LAST,
                               SQLDUMP_PGALL_SUFFIX, r->what, e);
        break;
    case DUMP_MARIADB:
        if (src_pump(r, &head, 4096, &tail, 4096, e) == 0)
            rc = sqldump_check(&head, &tail, SQLDUMP_MARIADB_FIRST, SQLDUMP_MARIADB_LAST, NULL,
                               r->what, e);
        break;
    }
    buf_free(&head);
    buf_free(&tail);
    return rc;
}

int dump_part_to_file(struct source_in *in, enum dump_kind kind, const char *path, bool force,
                      struct cf_err *e)
{
    struct src_outfile f;
    struct src_reader r;
    int rc = -1;

    if (src_outfile_begin(&f, path, force, e) != 0)
        return -1;
    src_reader_init_fn(&r, src_in_read_fn, in, "the part written", src_fd_sink, &f.fd);
    if (dump_check(&r, kind, e) == 0 && src_reader_flush(&r, e) == 0 && src_outfile_commit(&f, e) == 0)
        rc = 0;
    src_outfile_abort(&f);
    src_reader_free(&r);
    return rc;
}
