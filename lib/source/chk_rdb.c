/* chk_rdb.c - the completeness proof of a Redis RDB, and the CRC64 that ends it.
 *
 * The parser pulls from a src_reader, which forwards every consumed byte to the backup
 * stream, so a stream is checked in the same pass that stores it and never held whole. */
#include "chk.h"

#include <inttypes.h>
#include <pthread.h>
#include <string.h>

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

/* --- crc64 (Redis: Jones polynomial 0xad93d23594c935a9, reflected, init 0) --- */

static uint64_t crc_table[8][256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    const uint64_t poly = 0x95ac9329ac4bc9b5ULL;   /* 0xad93d23594c935a9 reflected */
    for (int i = 0; i < 256; i++) {
        uint64_t c = (uint64_t)i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
        crc_table[0][i] = c;
    }
    for (int i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xff];
}

uint64_t src_crc64(uint64_t crc, const void *p, size_t n)
{
    const unsigned char *s = p;
    pthread_once(&crc_once, crc_init);
    while (n >= 8) {   /* slicing by 8 */
        uint64_t v;
        memcpy(&v, s, 8);
        v ^= crc;
        crc = crc_table[7][v & 0xff] ^ crc_table[6][(v >> 8) & 0xff] ^
              crc_table[5][(v >> 16) & 0xff] ^ crc_table[4][(v >> 24) & 0xff] ^
              crc_table[3][(v >> 32) & 0xff] ^ crc_table[2][(v >> 40) & 0xff] ^
              crc_table[1][(v >> 48) & 0xff] ^ crc_table[0][v >> 56];
        s += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_table[0][(crc ^ *s++) & 0xff] ^ (crc >> 8);
    return crc;
}
