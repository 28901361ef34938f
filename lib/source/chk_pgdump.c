/* chk_pgdump.c - the completeness proof of a pg_dump custom-format archive.
 *
 * The parser pulls from a src_reader, which forwards every consumed byte to the backup
 * stream, so a stream is checked in the same pass that stores it and never held whole. */
#include "chk.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"

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

/* newlines counted in a table's data, and its last bytes */
#define PGD_END_MARKER "\\.\n\n\n"
struct pgd_count {
    uint64_t lines;
    unsigned char last[sizeof(PGD_END_MARKER) - 1];
    size_t nlast;
};

/* skip @n bytes, counting them into @c */
static int pgd_lines(struct pgd *p, size_t n, struct pgd_count *c, const char *field,
                     struct cf_err *e)
{
    while (n > 0) {
        int f = src_reader_fill(p->r, 1, e);
        if (f < 0)
            return -1;
        if (f == 0)   /* the input ended: the reader's own message for it */
            return src_reader_get(p->r, NULL, n, field, e);
        size_t k = src_reader_avail(p->r) < n ? src_reader_avail(p->r) : n;
        const unsigned char *b = src_reader_peek(p->r), *end = b + k;
        size_t keep = k < sizeof(c->last) ? k : sizeof(c->last);
        for (const unsigned char *q = end - keep; q < end; q++) {   /* the last bytes */
            if (c->nlast == sizeof(c->last)) {
                memmove(c->last, c->last + 1, sizeof(c->last) - 1);
                c->nlast--;
            }
            c->last[c->nlast++] = *q;
        }
        while ((b = memchr(b, '\n', (size_t)(end - b))) != NULL) {
            c->lines++;
            b++;
        }
        src_reader_consume(p->r, k);
        n -= k;
    }
    return 0;
}

/* data chunks of one block (or one large object) up to the zero-length terminator, counted
 * into @c unless it is NULL */
static int pgd_chunks(struct pgd *p, struct pgd_count *c, const char *field, struct cf_err *e)
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
        if (c ? pgd_lines(p, (size_t)len, c, field, e)
              : src_reader_get(p->r, NULL, (size_t)len, field, e))
            return -1;
    }
}

struct toc_data {
    int64_t id;
    bool seen;
    bool blobs;
    struct pgdump_table *table;   /* TABLE DATA, when rows are counted */
};

void pgdump_summary_free(struct pgdump_summary *s)
{
    for (size_t i = 0; i < s->ntables; i++) {
        free(s->tables[i].nsp);
        free(s->tables[i].name);
    }
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}

static int pgdump_parse(struct src_reader *r, struct pgdump_summary *s, bool rows,
                        struct cf_err *e)
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
        char desc[64], tag[256], nsp[256];   /* names are at most 63 bytes */
        bool is_null;
        snprintf(field, sizeof(field), "table of contents entry %" PRId64 " of %" PRId64, i + 1,
                 count);
        if (pgd_int(&p, &id, field, e) != 0 || pgd_int(&p, &dumper, field, e) != 0 ||
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* tableoid */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* oid */
            pgd_str(&p, tag, sizeof(tag), NULL, field, e) != 0 ||
            pgd_str(&p, desc, sizeof(desc), NULL, field, e) != 0 ||
            pgd_int(&p, &v, field, e) != 0 ||                     /* section */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* defn */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* dropStmt */
            pgd_str(&p, NULL, 0, NULL, field, e) != 0 ||          /* copyStmt */
            pgd_str(&p, nsp, sizeof(nsp), NULL, field, e) != 0 ||
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
            if (rows && s->compression == 0 && strcmp(desc, "TABLE DATA") == 0) {
                if (s->ntables == 0)
                    s->tables = cf_calloc((size_t)count, sizeof(*s->tables));
                struct pgdump_table *t = &s->tables[s->ntables++];
                t->nsp = cf_strdup(nsp);
                t->name = cf_strdup(tag);
                data[ndata].table = t;
            }
            ndata++;
        }
    }
    s->data_entries = (unsigned)ndata;
    r->capture = NULL;   /* a capture holds the header and the table of contents only */

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
            struct pgd_count c = { 0, { 0 }, 0 };
            struct pgdump_table *t = data[k].table;
            if (pgd_chunks(&p, t ? &c : NULL, field, e) != 0)
                goto out;
            if (t && c.nlast == sizeof(c.last) && memcmp(c.last, PGD_END_MARKER, c.nlast) == 0) {
                t->rows = c.lines - 3;
                t->counted = true;
            }
        } else {
            for (;;) {
                int64_t oid;
                if (pgd_int(&p, &oid, field, e) != 0)
                    goto out;
                if (oid == 0)
                    break;
                s->large_objects++;
                if (pgd_chunks(&p, NULL, field, e) != 0)
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
    if (rc != 0)
        pgdump_summary_free(s);
    free(data);
    return rc;
}

int pgdump_check(struct src_reader *r, struct pgdump_summary *s, struct cf_err *e)
{
    return pgdump_parse(r, s, false, e);
}

int pgdump_check_rows(struct src_reader *r, struct pgdump_summary *s, struct cf_err *e)
{
    return pgdump_parse(r, s, true, e);
}
