#include "frame.h"

#include <string.h>

/* writes at least this large skip the gathering buffer */
#define FRAME_DIRECT_MIN (32u << 10)

enum { REC_PART = 'P', REC_DATA = 'D', REC_END = 'E', REC_STREAM_END = 'Z' };

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int emit_record(struct frame_out *o, int type, const void *payload, size_t len,
                       struct cf_err *e)
{
    unsigned char hdr[5];
    hdr[0] = (unsigned char)type;
    put_u32(hdr + 1, (uint32_t)len);
    if (o->emit(o->arg, hdr, sizeof(hdr), e) != 0)
        return -1;
    return len ? o->emit(o->arg, payload, len, e) : 0;
}

static int out_part_op(struct source_out *so, const char *name, struct cf_err *e);
static int out_write_op(struct source_out *so, const void *buf, size_t len, struct cf_err *e);

static const struct source_out_ops frame_out_ops = { .part = out_part_op, .write = out_write_op };

void frame_out_init(struct frame_out *o, frame_emit_fn emit, void *arg, const char *default_name)
{
    memset(o, 0, sizeof(*o));
    o->base.ops = &frame_out_ops;
    o->emit = emit;
    o->arg = arg;
    o->buf = cf_malloc(FRAME_DATA_MAX);
    o->default_name = cf_strdup(default_name);
    o->parts_info = json_array();
}

void frame_out_free(struct frame_out *o)
{
    free(o->buf);
    free(o->default_name);
    json_decref(o->parts_info);
    memset(o, 0, sizeof(*o));
}

static int flush_data(struct frame_out *o, struct cf_err *e)
{
    if (o->len == 0)
        return 0;
    if (emit_record(o, REC_DATA, o->buf, o->len, e) != 0)
        return -1;
    o->len = 0;
    return 0;
}

static int end_part(struct frame_out *o, struct cf_err *e)
{
    unsigned char n[8];
    if (!o->in_part)
        return 0;
    if (flush_data(o, e) != 0)
        return -1;
    put_u64(n, o->part_bytes);
    if (emit_record(o, REC_END, n, sizeof(n), e) != 0)
        return -1;
    json_object_set_new(json_array_get(o->parts_info, json_array_size(o->parts_info) - 1),
                        "bytes", json_integer((json_int_t)o->part_bytes));
    o->in_part = false;
    return 0;
}

static int out_part(struct frame_out *o, const char *name, struct cf_err *e)
{
    size_t len = strlen(name);
    if (len == 0 || len > FRAME_NAME_MAX)
        return cf_err_set(e, CF_E_INTERNAL, "part name '%s' is empty or too long", name);
    if (end_part(o, e) != 0 || emit_record(o, REC_PART, name, len, e) != 0)
        return -1;
    o->in_part = true;
    o->part_bytes = 0;
    o->parts++;
    json_array_append_new(o->parts_info, json_pack("{s:s}", "name", name));
    return 0;
}

static int out_write(struct frame_out *o, const void *buf, size_t len, struct cf_err *e)
{
    const char *p = buf;
    if (!o->in_part && out_part(o, o->default_name, e) != 0)
        return -1;
    o->part_bytes += len;
    o->total_bytes += len;
    /* large writes go out as records of their own, without a copy; small ones are gathered */
    if (len >= FRAME_DIRECT_MIN) {
        if (flush_data(o, e) != 0)
            return -1;
        while (len > 0) {
            size_t n = len < FRAME_DATA_MAX ? len : FRAME_DATA_MAX;
            if (emit_record(o, REC_DATA, p, n, e) != 0)
                return -1;
            p += n;
            len -= n;
        }
        return 0;
    }
    while (len > 0) {
        size_t n = FRAME_DATA_MAX - o->len;
        if (n > len)
            n = len;
        memcpy(o->buf + o->len, p, n);
        o->len += n;
        p += n;
        len -= n;
        if (o->len == FRAME_DATA_MAX && flush_data(o, e) != 0)
            return -1;
    }
    return 0;
}

static int out_part_op(struct source_out *so, const char *name, struct cf_err *e)
{
    return out_part((struct frame_out *)so, name, e);
}

static int out_write_op(struct source_out *so, const void *buf, size_t len, struct cf_err *e)
{
    return out_write((struct frame_out *)so, buf, len, e);
}

int frame_out_finish(struct frame_out *o, struct cf_err *e)
{
    unsigned char n[4];
    if (o->parts == 0 && out_part(o, o->default_name, e) != 0)
        return -1;
    if (end_part(o, e) != 0)
        return -1;
    put_u32(n, o->parts);
    return emit_record(o, REC_STREAM_END, n, sizeof(n), e);
}

/* --- reading --- */

static int in_next_part_op(struct source_in *si, const char **name, struct cf_err *e);
static ssize_t in_read_op(struct source_in *si, void *buf, size_t cap, struct cf_err *e);

static const struct source_in_ops frame_in_ops = { .next_part = in_next_part_op,
                                                   .read = in_read_op };

void frame_in_init(struct frame_in *in, frame_fill_fn fill, void *arg)
{
    memset(in, 0, sizeof(*in));
    in->base.ops = &frame_in_ops;
    in->fill = fill;
    in->arg = arg;
}

static int read_exact(struct frame_in *in, void *buf, size_t n, struct cf_err *e)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = in->fill(in->arg, (char *)buf + got, n - got, e);
        if (r < 0)
            return -1;
        if (r == 0)
            return cf_err_set(e, CF_E_CORRUPT, "the stream ends in the middle of a record");
        got += (size_t)r;
    }
    return 0;
}

static int read_header(struct frame_in *in, int *type, uint32_t *len, struct cf_err *e)
{
    unsigned char hdr[5];
    if (read_exact(in, hdr, sizeof(hdr), e) != 0)
        return -1;
    *type = hdr[0];
    *len = get_u32(hdr + 1);
    return 0;
}

/* the 'E' record's payload, checked against what was read */
static int read_part_end(struct frame_in *in, uint32_t len, struct cf_err *e)
{
    unsigned char n[8];
    if (len != 8 || read_exact(in, n, 8, e) != 0)
        return e->code ? -1 : cf_err_set(e, CF_E_CORRUPT, "malformed part end record");
    if (get_u64(n) != in->part_bytes)
        return cf_err_set(e, CF_E_CORRUPT, "part '%s' holds %llu bytes but its end record says %llu",
                          in->name, (unsigned long long)in->part_bytes,
                          (unsigned long long)get_u64(n));
    in->in_part = false;
    return 0;
}

static ssize_t in_read(struct frame_in *in, void *buf, size_t cap, struct cf_err *e)
{
    int type;
    uint32_t len;

    if (!in->in_part)
        return 0;
    while (in->data_left == 0) {
        if (read_header(in, &type, &len, e) != 0)
            return -1;
        if (type == REC_END) {
            if (read_part_end(in, len, e) != 0)
                return -1;
            return 0;
        }
        if (type != REC_DATA || len > FRAME_DATA_MAX)
            return cf_err_set(e, CF_E_CORRUPT, "unexpected record 0x%02x in part '%s'", type,
                              in->name);
        in->data_left = len;
    }
    if (cap > in->data_left)
        cap = (size_t)in->data_left;
    ssize_t n = in->fill(in->arg, buf, cap, e);
    if (n < 0)
        return -1;
    if (n == 0)
        return cf_err_set(e, CF_E_CORRUPT, "the stream ends inside part '%s'", in->name);
    in->data_left -= (uint64_t)n;
    in->part_bytes += (uint64_t)n;
    return n;
}

static int in_next_part(struct frame_in *in, const char **name, struct cf_err *e)
{
    char skip[65536];
    int type;
    uint32_t len;

    while (in->in_part) {
        ssize_t n = in_read(in, skip, sizeof(skip), e);
        if (n < 0)
            return -1;
    }
    if (in->ended)
        return 0;
    if (read_header(in, &type, &len, e) != 0)
        return -1;
    if (type == REC_PART) {
        if (len == 0 || len > FRAME_NAME_MAX)
            return cf_err_set(e, CF_E_CORRUPT, "malformed part record");
        if (read_exact(in, in->name, len, e) != 0)
            return -1;
        in->name[len] = '\0';
        in->in_part = true;
        in->part_bytes = 0;
        in->data_left = 0;
        in->parts++;
        *name = in->name;
        return 1;
    }
    if (type == REC_STREAM_END) {
        unsigned char n[4];
        char extra;
        if (len != 4 || read_exact(in, n, 4, e) != 0)
            return e->code ? -1 : cf_err_set(e, CF_E_CORRUPT, "malformed stream end record");
        if (get_u32(n) != in->parts)
            return cf_err_set(e, CF_E_CORRUPT, "the stream holds %u parts but its end says %u",
                              in->parts, get_u32(n));
        ssize_t r = in->fill(in->arg, &extra, 1, e);
        if (r < 0)
            return -1;
        if (r > 0)
            return cf_err_set(e, CF_E_CORRUPT, "data after the end of the stream");
        in->ended = true;
        return 0;
    }
    return cf_err_set(e, CF_E_CORRUPT, "unexpected record 0x%02x between parts", type);
}

static int in_next_part_op(struct source_in *si, const char **name, struct cf_err *e)
{
    return in_next_part((struct frame_in *)si, name, e);
}

static ssize_t in_read_op(struct source_in *si, void *buf, size_t cap, struct cf_err *e)
{
    return in_read((struct frame_in *)si, buf, cap, e);
}

int frame_in_finish(struct frame_in *in, struct cf_err *e)
{
    const char *name;
    int r;
    while ((r = in_next_part(in, &name, e)) == 1)
        ;
    return r;
}
