/* s3_xml.c - just enough XML for S3 answers (see s3_xml.h). */
#include "s3_xml.h"

#include <stdlib.h>
#include <string.h>

static const char *find_mem(const char *p, const char *end, const char *needle)
{
    size_t n = strlen(needle);
    if (p >= end)
        return NULL;
    return memmem(p, (size_t)(end - p), needle, n);
}

bool s3_xml_find(const char **p, const char *end, const char *tag, const char **vs,
                 const char **ve)
{
    struct buf open = BUF_INIT, empty = BUF_INIT, close = BUF_INIT;
    const char *o, *x, *c;
    bool found = false;

    buf_printf(&open, "<%s>", tag);
    buf_printf(&empty, "<%s/>", tag);
    buf_printf(&close, "</%s>", tag);
    o = find_mem(*p, end, open.data);
    x = find_mem(*p, end, empty.data);
    if (x != NULL && (o == NULL || x < o)) {
        *vs = *ve = x;
        *p = x + empty.len;
        found = true;
    } else if (o != NULL) {
        c = find_mem(o + open.len, end, close.data);
        if (c != NULL) {
            *vs = o + open.len;
            *ve = c;
            *p = c + close.len;
            found = true;
        }
    }
    buf_free(&open);
    buf_free(&empty);
    buf_free(&close);
    return found;
}

static void put_utf8(struct buf *out, unsigned long cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (unsigned char)(0xc0 | (cp >> 6));
        u[1] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (unsigned char)(0xe0 | (cp >> 12));
        u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (unsigned char)(0xf0 | ((cp >> 18) & 0x07));
        u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (unsigned char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    buf_append(out, u, n);
}

void s3_xml_text(struct buf *out, const char *s, const char *e)
{
    static const struct { const char *name; char c; } ent[] = {
        { "&amp;", '&' }, { "&lt;", '<' }, { "&gt;", '>' }, { "&quot;", '"' }, { "&apos;", '\'' },
    };
    buf_append(out, "", 0);
    while (s < e) {
        const char *amp = memchr(s, '&', (size_t)(e - s));
        if (amp == NULL) {
            buf_append(out, s, (size_t)(e - s));
            return;
        }
        buf_append(out, s, (size_t)(amp - s));
        s = amp;
        bool done = false;
        for (size_t i = 0; i < sizeof(ent) / sizeof(ent[0]) && !done; i++) {
            size_t n = strlen(ent[i].name);
            if ((size_t)(e - s) >= n && memcmp(s, ent[i].name, n) == 0) {
                buf_append(out, &ent[i].c, 1);
                s += n;
                done = true;
            }
        }
        if (!done && e - s > 3 && s[1] == '#') {
            const char *semi = memchr(s, ';', (size_t)(e - s));
            if (semi != NULL) {
                char num[16] = { 0 };
                size_t n = (size_t)(semi - s - 2);
                if (n > 0 && n < sizeof(num)) {
                    memcpy(num, s + 2, n);
                    unsigned long cp = num[0] == 'x' ? strtoul(num + 1, NULL, 16)
                                                     : strtoul(num, NULL, 10);
                    put_utf8(out, cp);
                    s = semi + 1;
                    done = true;
                }
            }
        }
        if (!done) {
            buf_append(out, "&", 1);
            s++;
        }
    }
}

bool s3_xml_get(const char *s, const char *e, const char *tag, struct buf *out)
{
    const char *vs, *ve, *p = s;
    buf_reset(out);
    if (!s3_xml_find(&p, e, tag, &vs, &ve))
        return false;
    s3_xml_text(out, vs, ve);
    return true;
}

void s3_xml_escape(struct buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': buf_puts(out, "&amp;"); break;
        case '<': buf_puts(out, "&lt;"); break;
        case '>': buf_puts(out, "&gt;"); break;
        case '"': buf_puts(out, "&quot;"); break;
        case '\'': buf_puts(out, "&apos;"); break;
        default: buf_append(out, s, 1);
        }
    }
}
