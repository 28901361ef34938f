#include "seal.h"

#include <string.h>

static const unsigned char magic[8] = { 'C', 'O', 'F', 'F', 'E', 'R', 0x00, 0x01 };

int seal_key_new(struct seal_key *sk, const struct keyring *k, const char *id, struct cf_err *e)
{
    memset(sk, 0, sizeof(*sk));
    if (strlen(id) > SEAL_ID_MAX)
        return cf_err_set(e, CF_E_INTERNAL, "backup id too long");
    crypto_secretstream_xchacha20poly1305_keygen(sk->dk);
    if (keys_wrap(k, sk->dk, sk->wrapped, &sk->wrapped_len, e) != 0)
        return -1;
    sk->mode = (uint8_t)(k->mode == KEY_MODE_PUBLIC ? 2 : 1);
    snprintf(sk->id, sizeof(sk->id), "%s", id);
    sk->have_dk = true;
    return 0;
}

void seal_key_wipe(struct seal_key *sk)
{
    sodium_memzero(sk, sizeof(*sk));
}

void seal_begin(struct seal_w *w, const struct seal_key *sk, enum seal_kind kind, uint32_t index)
{
    unsigned char *p = w->hdr;
    size_t idlen = strlen(sk->id);

    memcpy(p, magic, 8);
    p[8] = (unsigned char)kind;
    p[9] = sk->mode;
    p[10] = (unsigned char)(sk->wrapped_len & 0xff);
    p[11] = (unsigned char)(sk->wrapped_len >> 8);
    for (int i = 0; i < 4; i++)
        p[12 + i] = (unsigned char)(index >> (8 * i));
    p[16] = (unsigned char)idlen;
    p += 17;
    memcpy(p, sk->id, idlen);
    p += idlen;
    memcpy(p, sk->wrapped, sk->wrapped_len);
    p += sk->wrapped_len;
    crypto_secretstream_xchacha20poly1305_init_push(&w->st, p, sk->dk);
    p += crypto_secretstream_xchacha20poly1305_HEADERBYTES;
    w->hdr_len = (size_t)(p - w->hdr);
}

size_t seal_push(struct seal_w *w, const void *pt, size_t len, unsigned char tag,
                 unsigned char *out)
{
    unsigned long long clen;
    CF_ASSERT(len <= SEAL_MSG_MAX);
    crypto_secretstream_xchacha20poly1305_push(&w->st, out + 4, &clen, pt, len, w->hdr,
                                               w->hdr_len, tag);
    for (int i = 0; i < 4; i++)
        out[i] = (unsigned char)(clen >> (8 * i));
    return 4 + (size_t)clen;
}

/* read exactly @n bytes, hashing them; *eof set when the object ended before any byte */
static int r_exact(struct seal_r *r, void *buf, size_t n, bool *eof, struct cf_err *e)
{
    size_t got = 0;
    if (eof)
        *eof = false;
    while (got < n) {
        ssize_t k = r->read(r->arg, (char *)buf + got, n - got, e);
        if (k < 0)
            return -1;
        if (k == 0) {
            if (got == 0 && eof) {
                *eof = true;
                return 0;
            }
            return cf_err_set(e, CF_E_CORRUPT, "object is truncated");
        }
        got += (size_t)k;
    }
    if (!r->skip_hash)
        crypto_generichash_update(&r->hash, buf, n);
    r->bytes += n;
    return 0;
}

int seal_open(struct seal_r *r, seal_read_fn read, void *arg, const struct keyring *k,
              struct seal_key *sk, enum seal_kind kind, uint32_t index, const char *id,
              struct cf_err *e)
{
    unsigned char *p = r->hdr;
    size_t wlen, idlen;
    uint32_t idx = 0;
    bool eof;

    memset(r, 0, sizeof(*r));
    r->read = read;
    r->arg = arg;
    crypto_generichash_init(&r->hash, NULL, 0, 32);
    if (r_exact(r, p, 17, &eof, e) != 0)
        return -1;
    if (eof)
        return cf_err_set(e, CF_E_CORRUPT, "object is empty");
    if (memcmp(p, magic, 6) != 0)
        return cf_err_set(e, CF_E_CORRUPT, "not a coffer object (bad magic)");
    if (p[6] != 0x00 || p[7] != 0x01)
        return cf_err_set(e, CF_E_CORRUPT, "object format version %u.%u is not supported",
                          p[6], p[7]);
    if (p[8] != kind)
        return cf_err_set(e, CF_E_CORRUPT, "object is of kind %u, expected %u", p[8], kind);
    wlen = (size_t)p[10] | (size_t)p[11] << 8;
    for (int i = 3; i >= 0; i--)
        idx = idx << 8 | p[12 + i];
    idlen = p[16];
    if (wlen > KEYS_WRAPPED_MAX || idlen > SEAL_ID_MAX)
        return cf_err_set(e, CF_E_CORRUPT, "object header is malformed");
    if (r_exact(r, p + 17, idlen + wlen + crypto_secretstream_xchacha20poly1305_HEADERBYTES,
                NULL, e) != 0)
        return -1;
    r->hdr_len = 17 + idlen + wlen + crypto_secretstream_xchacha20poly1305_HEADERBYTES;
    if (id != NULL && (idlen != strlen(id) || memcmp(p + 17, id, idlen) != 0))
        return cf_err_set(e, CF_E_CORRUPT, "object belongs to backup '%.*s', not '%s'",
                          (int)idlen, (const char *)(p + 17), id);
    if (idx != index)
        return cf_err_set(e, CF_E_CORRUPT, "object says it is number %u, expected %u", idx,
                          index);
    const unsigned char *wrapped = p + 17 + idlen;
    if (sk->have_dk) {
        if (wlen != sk->wrapped_len || memcmp(wrapped, sk->wrapped, wlen) != 0)
            return cf_err_set(e, CF_E_CORRUPT, "object carries another backup's data key");
    } else {
        if (keys_unwrap(k, wrapped, wlen, sk->dk, e) != 0)
            return -1;
        memcpy(sk->wrapped, wrapped, wlen);
        sk->wrapped_len = wlen;
        sk->mode = p[9];
        snprintf(sk->id, sizeof(sk->id), "%.*s", (int)idlen, (const char *)(p + 17));
        sk->have_dk = true;
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&r->st, wrapped + wlen, sk->dk) != 0)
        return cf_err_set(e, CF_E_CORRUPT, "object header is malformed");
    r->ct = cf_malloc(SEAL_MSG_MAX + crypto_secretstream_xchacha20poly1305_ABYTES);
    return 0;
}

int seal_hdr_id(const unsigned char *hdr, size_t len, uint8_t *kind, char *id,
                struct cf_err *e)
{
    size_t idlen;
    if (len < 17 || memcmp(hdr, magic, 8) != 0)
        return cf_err_set(e, CF_E_CORRUPT, "not a coffer object (bad magic or too short)");
    idlen = hdr[16];
    if (len < 17 + idlen)
        return cf_err_set(e, CF_E_CORRUPT, "object header is truncated");
    *kind = hdr[8];
    memcpy(id, hdr + 17, idlen);
    id[idlen] = '\0';
    return 0;
}

int seal_next(struct seal_r *r, unsigned char *pt, size_t *len, unsigned char *tag,
              struct cf_err *e)
{
    unsigned char lb[4];
    unsigned long long plen;
    uint32_t clen = 0;
    bool eof;

    if (r->done)
        return 0;
    if (r_exact(r, lb, 4, &eof, e) != 0)
        return -1;
    if (eof)
        return cf_err_set(e, CF_E_CORRUPT, "object is truncated (its last message is missing)");
    for (int i = 3; i >= 0; i--)
        clen = clen << 8 | lb[i];
    if (clen < crypto_secretstream_xchacha20poly1305_ABYTES ||
        clen > SEAL_MSG_MAX + crypto_secretstream_xchacha20poly1305_ABYTES)
        return cf_err_set(e, CF_E_CORRUPT, "message length %u is impossible", clen);
    if (r_exact(r, r->ct, clen, NULL, e) != 0)
        return -1;
    if (crypto_secretstream_xchacha20poly1305_pull(&r->st, pt, &plen, tag, r->ct, clen, r->hdr,
                                                   r->hdr_len) != 0)
        return cf_err_set(e, CF_E_CORRUPT,
                          "message at byte %llu fails authentication (altered or reordered)",
                          (unsigned long long)(r->bytes - clen - 4));
    *len = (size_t)plen;
    r->last_tag = *tag;
    if (*tag == SEAL_TAG_PUSH || *tag == SEAL_TAG_FINAL) {
        char extra;
        ssize_t k = r->read(r->arg, &extra, 1, e);
        if (k < 0)
            return -1;
        if (k > 0)
            return cf_err_set(e, CF_E_CORRUPT, "data after the object's last message");
        r->done = true;
    } else if (*tag != SEAL_TAG_MESSAGE) {
        return cf_err_set(e, CF_E_CORRUPT, "message has an unknown tag %u", *tag);
    }
    return 1;
}

void seal_r_hash(struct seal_r *r, unsigned char out[32])
{
    crypto_generichash_final(&r->hash, out, 32);
}

void seal_r_free(struct seal_r *r)
{
    if (r == NULL)
        return;
    free(r->ct);
    r->ct = NULL;
    sodium_memzero(&r->st, sizeof(r->st));
}

ssize_t seal_mem_read(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    struct seal_mem *m = arg;
    size_t n = cap < m->left ? cap : m->left;
    (void)e;
    memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    return (ssize_t)n;
}
