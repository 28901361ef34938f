/* repo_seg.c - the index and references of a layout 3 volume backup (repo_seg.h). */
#include "repo_seg.h"

#include <string.h>

#include <zstd.h>

#include "../core/buf.h"
#include "../core/util.h"
#include "repo_int.h"

static char *obj_key(const char *source, const char *id, const char *name)
{
    return cf_asprintf("backups/%s/%s/%s", source, id, name);
}

int repo_index_save(struct repo *r, const struct seal_key *sk, const char *source,
                    const char *id, const json_t *index, uint64_t *size, char hex[65],
                    struct cf_err *e)
{
    char *text = json_dumps(index, JSON_COMPACT), *key = obj_key(source, id, "index");
    size_t tlen = text ? strlen(text) : 0, zcap = ZSTD_compressBound(tlen), zlen;
    unsigned char *z = cf_malloc(zcap);
    unsigned char h[32];
    struct buf obj = BUF_INIT;
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    int rc = -1;

    if (text == NULL || cc == NULL) {
        cf_err_set(e, CF_E_NOMEM, "unable to build the file index");
        goto out;
    }
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 3);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
    zlen = ZSTD_compress2(cc, z, zcap, text, tlen);
    if (ZSTD_isError(zlen)) {
        cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(zlen));
        goto out;
    }
    repo_seal_buf(sk, SEAL_INDEX, z, zlen, &obj);
    crypto_generichash(h, sizeof(h), (const unsigned char *)obj.data, obj.len, NULL, 0);
    hex_encode(h, sizeof(h), hex);
    *size = obj.len;
    if (target_put_buf(repo_target(r), key, obj.data, obj.len, 0, e) != 0) {
        cf_err_ctx(e, "unable to store the file index of %s/%s", source, id);
        goto out;
    }
    rc = 0;
out:
    if (text) {
        sodium_memzero(text, tlen);
        free(text);
    }
    ZSTD_freeCCtx(cc);
    buf_free(&obj);
    free(z);
    free(key);
    return rc;
}

/* the index object's zstd frame, authenticated, into @z; @hex (or NULL) its BLAKE2b */
static int index_read(struct repo *r, const char *source, const char *id, struct buf *z,
                      char hex[65], struct cf_err *e)
{
    char *key = obj_key(source, id, "index");
    struct buf raw = BUF_INIT;
    struct seal_key sk;
    struct seal_r sr;
    struct seal_mem m;
    unsigned char *pt = cf_malloc(SEAL_MSG_MAX), tag = 0, h[32];
    size_t len;
    int rc = -1, k;

    memset(&sk, 0, sizeof(sk));
    memset(&sr, 0, sizeof(sr));
    if (target_get_buf(repo_target(r), key, REPO_INDEX_MAX, &raw, e) != 0)
        goto out;
    m.p = (const unsigned char *)raw.data;
    m.left = raw.len;
    if (seal_open(&sr, seal_mem_read, &m, repo_keys(r), &sk, SEAL_INDEX, 0, id, e) != 0)
        goto out;
    while ((k = seal_next(&sr, pt, &len, &tag, e)) == 1)
        buf_append(z, pt, len);
    if (k < 0)
        goto out;
    if (tag != SEAL_TAG_FINAL) {
        cf_err_set(e, CF_E_CORRUPT, "the index does not end with its final message");
        goto out;
    }
    if (hex) {
        crypto_generichash(h, sizeof(h), (const unsigned char *)raw.data, raw.len, NULL, 0);
        hex_encode(h, sizeof(h), hex);
    }
    rc = 0;
out:
    if (rc != 0)
        cf_err_ctx(e, "file index of backup %s/%s ('%s')", source, id, key);
    seal_r_free(&sr);
    seal_key_wipe(&sk);
    buf_free(&raw);
    free(pt);
    free(key);
    return rc;
}

/* the frame in @z decompressed into @out (NUL-terminated) */
static int index_inflate(const struct buf *z, struct buf *out, struct cf_err *e)
{
    unsigned long long n = ZSTD_getFrameContentSize(z->data, z->len);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > REPO_INDEX_MAX * 8)
        return cf_err_set(e, CF_E_CORRUPT, "the index is not a zstd frame of known size");
    buf_reserve(out, (size_t)n + 1);
    size_t got = ZSTD_decompress(out->data, (size_t)n + 1, z->data, z->len);
    if (ZSTD_isError(got) || got != n)
        return cf_err_set(e, CF_E_CORRUPT, "the index's zstd frame is damaged: %s",
                          ZSTD_isError(got) ? ZSTD_getErrorName(got) : "short");
    out->len = got;
    out->data[got] = '\0';
    return 0;
}

int repo_index_load(struct repo *r, const char *source, const char *id, json_t **out,
                    struct cf_err *e)
{
    struct buf z = BUF_INIT, text = BUF_INIT;
    json_error_t jerr;
    int rc = -1;

    *out = NULL;
    if (!repo_can_read(r)) {
        cf_err_set(e, CF_E_KEY, "reading a file index needs the secret key; HINT: pass "
                   "--secret-key-file FILE");
        goto out;
    }
    if (index_read(r, source, id, &z, NULL, e) != 0)
        goto out;
    if (index_inflate(&z, &text, e) != 0) {
        cf_err_ctx(e, "file index of backup %s/%s", source, id);
        goto out;
    }
    *out = json_loadb(text.data, text.len, 0, &jerr);
    if (*out == NULL || !json_is_array(json_object_get(*out, "entries"))) {
        json_decref(*out);
        *out = NULL;
        cf_err_set(e, CF_E_CORRUPT, "file index of backup %s/%s is not an index: %s", source,
                   id, jerr.text);
        goto out;
    }
    rc = 0;
out:
    if (text.data)
        sodium_memzero(text.data, text.cap);
    buf_free(&text);
    buf_free(&z);
    return rc;
}

int repo_index_verify(struct repo *r, const char *source, const char *id, const char *hex,
                      struct cf_err *e)
{
    struct buf z = BUF_INIT, text = BUF_INIT;
    char got[65];
    int rc = -1;

    if (index_read(r, source, id, &z, got, e) != 0)
        goto out;
    if (strcmp(got, hex) != 0) {
        cf_err_set(e, CF_E_CORRUPT, "file index of backup %s/%s: BLAKE2b hash differs from "
                   "the manifest", source, id);
        goto out;
    }
    if (index_inflate(&z, &text, e) != 0) {
        cf_err_ctx(e, "file index of backup %s/%s", source, id);
        goto out;
    }
    rc = 0;
out:
    buf_free(&text);
    buf_free(&z);
    return rc;
}

int repo_refs_save(struct repo *r, const char *source, const char *id, const json_t *refs,
                   struct cf_err *e)
{
    char *text = json_dumps(refs, JSON_COMPACT | JSON_SORT_KEYS), *key = obj_key(source, id, "refs");
    int rc = target_put_buf(repo_target(r), key, text, strlen(text), 0, e);
    if (rc != 0)
        cf_err_ctx(e, "unable to store the references of %s/%s", source, id);
    free(text);
    free(key);
    return rc;
}

int repo_refs_load(struct repo *r, const char *source, const char *id, json_t **out,
                   struct cf_err *e)
{
    char *key = obj_key(source, id, "refs");
    struct buf raw = BUF_INIT;
    json_error_t jerr;
    int rc = -1;

    *out = NULL;
    if (target_get_buf(repo_target(r), key, 64u << 20, &raw, e) != 0)
        goto out;
    *out = json_loadb(raw.data ? raw.data : "", raw.len, 0, &jerr);
    if (*out == NULL || !json_is_array(json_object_get(*out, "refs"))) {
        json_decref(*out);
        *out = NULL;
        cf_err_set(e, CF_E_CORRUPT, "'%s' is not a list of references: %s", key, jerr.text);
        goto out;
    }
    rc = 0;
out:
    buf_free(&raw);
    free(key);
    return rc;
}

int repo_refs_mark(struct repo *r, const char *source, const char *id, json_t *marks,
                   struct cf_err *e)
{
    json_t *refs = NULL, *g, *n;
    size_t i, k;
    char key[160];

    if (repo_refs_load(r, source, id, &refs, e) != 0) {
        if (e->code != CF_E_NOTFOUND)
            return cf_err_ctx(e, "the references of %s/%s", source, id);
        cf_err_clear(e);
        return 0;
    }
    json_array_foreach(json_object_get(refs, "refs"), i, g) {
        const char *rid = json_string_value(json_object_get(g, "id"));
        json_array_foreach(json_object_get(g, "n"), k, n) {
            snprintf(key, sizeof(key), "%s/%lld", rid ? rid : "", (long long)json_integer_value(n));
            json_object_set_new(marks, key, json_true());
        }
    }
    json_decref(refs);
    return 0;
}

bool repo_key_marked(const char *key, const json_t *marks)
{
    struct repo_key k;
    char mk[160];
    if (marks == NULL || repo_key_parse(key, &k) != REPO_KEY_DATA)
        return false;
    snprintf(mk, sizeof(mk), "%s/%u", k.id, k.n);
    return json_object_get(marks, mk) != NULL;
}

struct rm_ctx {
    const json_t *marks;
    struct buf keys;   /* char * each */
    uint64_t freed, kept;
};

static int rm_cb(void *arg, const char *key, uint64_t size)
{
    struct rm_ctx *c = arg;
    if (repo_key_marked(key, c->marks)) {
        c->kept += size;
        return 0;
    }
    char *k = cf_strdup(key);
    buf_append(&c->keys, &k, sizeof(k));
    c->freed += size;
    return 0;
}

int repo_backup_remove_marked(struct repo *r, const char *source, const char *id,
                              const json_t *marks, uint64_t *freed, uint64_t *kept,
                              struct cf_err *e)
{
    char *mkey = repo_key_manifest(source, id), *prefix = repo_key_backup_prefix(source, id);
    struct rm_ctx c = { marks, BUF_INIT, 0, 0 };
    uint64_t msize = 0;
    int rc = -1;

    /* the manifest first: from then on the backup is not listed */
    if (target_stat(repo_target(r), mkey, &msize, e) != 0 ||
        target_remove(repo_target(r), mkey, e) != 0 ||
        target_list(repo_target(r), prefix, rm_cb, &c, e) != 0)
        goto out;
    size_t n = c.keys.len / sizeof(char *);
    if (n > 0 && target_remove_many(repo_target(r), (const char *const *)(void *)c.keys.data, n,
                                    e) != 0)
        goto out;
    *freed = c.freed + msize;
    *kept = c.kept;
    rc = 0;
out:
    if (rc != 0)
        cf_err_ctx(e, "unable to remove backup %s/%s", source, id);
    for (size_t i = 0; i < c.keys.len / sizeof(char *); i++)
        free(((char **)(void *)c.keys.data)[i]);
    buf_free(&c.keys);
    free(prefix);
    free(mkey);
    return rc;
}
