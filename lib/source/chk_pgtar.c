/* chk_pgtar.c - the proof that pg_basebackup's tar stream (`-D - -Ft`) is whole, read as it
 * is forwarded: every ustar header parses and every member's bytes follow it; backup_label
 * comes first among the files PostgreSQL needs, backup_manifest (which pg_basebackup adds at
 * the end of the stream it writes to stdout) and global/pg_control are present; the archive
 * ends with its zero blocks and nothing but zeros after them.
 *
 * On the way it keeps what the manifest of a physical backup records: the backup_label text
 * (start LSN, start segment, timeline), the tail of backup_manifest (its "WAL-Ranges": the
 * stop LSN), and the system identifier (the first 8 bytes of pg_control, native order). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chk.h"

#define TAR_BLOCK 512
#define MANIFEST_TAIL 8192

/* a tar number: octal text, or base-256 (high bit of the first byte) for large sizes */
static int tar_number(const unsigned char *p, size_t n, uint64_t *out)
{
    uint64_t v = 0;
    if (p[0] & 0x80) {
        for (size_t i = 1; i < n; i++) {
            if (v >> 56)
                return -1;
            v = (v << 8) | p[i];
        }
        *out = v;
        return 0;
    }
    size_t i = 0;
    while (i < n && p[i] == ' ')
        i++;
    for (; i < n && p[i] >= '0' && p[i] <= '7'; i++)
        v = v * 8 + (uint64_t)(p[i] - '0');
    if (i < n && p[i] != '\0' && p[i] != ' ')
        return -1;
    *out = v;
    return 0;
}

static bool block_is_zero(const unsigned char *b)
{
    for (size_t i = 0; i < TAR_BLOCK; i++)
        if (b[i])
            return false;
    return true;
}

/* the member's name: prefix "/" name, "./" dropped */
static void tar_name(const unsigned char *h, char *out, size_t cap)
{
    char name[101], prefix[156];
    memcpy(name, h, 100);
    name[100] = '\0';
    memcpy(prefix, h + 345, 155);
    prefix[155] = '\0';
    if (memcmp(h + 257, "ustar", 5) == 0 && prefix[0])
        snprintf(out, cap, "%s/%s", prefix, name);
    else
        snprintf(out, cap, "%s", name);
    if (strncmp(out, "./", 2) == 0)
        memmove(out, out + 2, strlen(out + 2) + 1);
}

/* the member's @size bytes plus padding, keeping up to @keep_cap of them in @keep (the last
 * ones when @tail, else the first ones) */
static int member_body(struct src_reader *r, uint64_t size, struct buf *keep, size_t keep_cap,
                       bool tail, const char *name, struct cf_err *e)
{
    uint64_t left = size;
    while (left > 0) {
        size_t want = left > 65536 ? 65536 : (size_t)left;
        int k = src_reader_fill(r, 1, e);
        if (k < 0)
            return -1;
        if (k == 0)
            return cf_err_set(e, CF_E_CORRUPT, "%s: truncated in member '%s' (%" PRIu64
                              " of %" PRIu64 " bytes)", r->what, name, size - left, size);
        size_t n = src_reader_avail(r) < want ? src_reader_avail(r) : want;
        if (keep) {
            const unsigned char *p = src_reader_peek(r);
            if (!tail && keep->len < keep_cap)
                buf_append(keep, p, n < keep_cap - keep->len ? n : keep_cap - keep->len);
            if (tail) {
                buf_append(keep, p, n);
                if (keep->len > 2 * keep_cap) {
                    memmove(keep->data, keep->data + keep->len - keep_cap, keep_cap);
                    keep->len = keep_cap;
                }
            }
        }
        src_reader_consume(r, n);
        left -= n;
    }
    uint64_t pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    return src_reader_get(r, NULL, (size_t)pad, "member padding", e);
}

int pgtar_check(struct src_reader *r, struct pgtar_summary *s, struct cf_err *e)
{
    unsigned char h[TAR_BLOCK];
    char name[300];
    struct buf ctl = BUF_INIT;
    int rc = -1;

    memset(s, 0, sizeof(*s));
    for (;;) {
        int k = src_reader_fill(r, TAR_BLOCK, e);
        if (k < 0)
            goto out;
        if (k == 0) {
            cf_err_set(e, CF_E_CORRUPT, "%s: truncated after %u members (no end of archive)",
                       r->what, s->members);
            goto out;
        }
        memcpy(h, src_reader_peek(r), TAR_BLOCK);
        src_reader_consume(r, TAR_BLOCK);
        if (block_is_zero(h))
            break;
        uint64_t size;
        if (tar_number(h + 124, 12, &size) != 0) {
            cf_err_set(e, CF_E_CORRUPT, "%s: a tar header after %u members does not parse",
                       r->what, s->members);
            goto out;
        }
        tar_name(h, name, sizeof(name));
        char type = (char)h[156];
        if (type != '0' && type != '\0')
            size = type == '5' || type == '2' ? 0 : size;
        s->members++;
        s->bytes += size;
        struct buf *keep = NULL;
        size_t cap = 0;
        bool tail = false;
        if (strcmp(name, "backup_label") == 0) {
            keep = &s->label, cap = 4096;
            s->have_label = true;
        } else if (strcmp(name, "backup_manifest") == 0) {
            keep = &s->manifest_tail, cap = MANIFEST_TAIL, tail = true;
            s->have_manifest = true;
        } else if (strcmp(name, "global/pg_control") == 0) {
            keep = &ctl, cap = 8;
        } else if (strncmp(name, "pg_tblspc/", 10) == 0 && type == '2') {
            s->tablespaces++;
        }
        if (member_body(r, size, keep, cap, tail, name, e) != 0)
            goto out;
        if (keep == &ctl && ctl.len >= 8) {
            memcpy(&s->system_identifier, ctl.data, 8);
            s->have_control = true;
        }
    }
    /* the second zero block, then nothing but zeros */
    if (src_reader_get(r, h, TAR_BLOCK, "end of archive", e) != 0)
        goto out;
    for (;;) {
        int k = src_reader_fill(r, 1, e);
        if (k < 0)
            goto out;
        if (k == 0)
            break;
        const unsigned char *p = src_reader_peek(r);
        size_t n = src_reader_avail(r);
        for (size_t i = 0; i < n; i++)
            if (p[i]) {
                cf_err_set(e, CF_E_CORRUPT, "%s: data after the end of the archive", r->what);
                goto out;
            }
        src_reader_consume(r, n);
    }
    if (!block_is_zero(h) || !s->have_label || !s->have_manifest || !s->have_control) {
        cf_err_set(e, CF_E_CORRUPT, "%s: not a whole base backup (%s missing)", r->what,
                   !block_is_zero(h) ? "end of archive" : !s->have_label ? "backup_label"
                   : !s->have_manifest ? "backup_manifest" : "global/pg_control");
        goto out;
    }
    buf_append(&s->label, "", 1);   /* text, terminated */
    buf_append(&s->manifest_tail, "", 1);
    rc = 0;
out:
    buf_free(&ctl);
    return rc;
}

void pgtar_summary_free(struct pgtar_summary *s)
{
    buf_free(&s->label);
    buf_free(&s->manifest_tail);
}
