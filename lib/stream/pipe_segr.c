/* pipe_segr.c - restore and verify of a layout 3 volume backup (docs/FORMAT.md "Volume
 * backups, layout 3"): the index, then each segment the import opens, decrypted and
 * decompressed on its own. Segments are read on the caller's thread: each is a few MiB, and
 * the import asks only for those its index names. */
#include "pipeline.h"

#include <inttypes.h>
#include <string.h>

#include <zstd.h>

#include "../core/progress.h"
#include "../core/util.h"
#include "../crypto/seal.h"
#include "../repo/repo_seg.h"
#include "../source/source_io.h"
#include "pipe_int.h"

struct dkey {
    char id[REPO_ID_MAX];
    struct seal_key sk;
};

struct seg_in {
    struct source_in base;
    struct repo *r;
    const struct manifest *m;
    json_t *index;
    bool part_given, check_hash;
    struct dkey *keys;
    size_t nkeys;
    /* the open segment */
    bool open, ended;
    char id[REPO_ID_MAX];
    uint32_t n;
    const char *want_hash;
    uint64_t want_size;
    struct target_reader *tr;
    struct seal_r sr;
    ZSTD_DCtx *dc;
    unsigned char *pt;
    size_t pt_len, pt_pos, zr;
    struct progress prog;
    uint64_t done;   /* stored bytes of the segments read before the open one */
};

static ssize_t tr_read(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    return repo_object_read(arg, buf, cap, e);
}

static struct seal_key *dkey_for(struct seg_in *s, const char *id)
{
    for (size_t i = 0; i < s->nkeys; i++)
        if (strcmp(s->keys[i].id, id) == 0)
            return &s->keys[i].sk;
    s->keys = cf_realloc(s->keys, (s->nkeys + 1) * sizeof(*s->keys));
    struct dkey *k = &s->keys[s->nkeys++];
    memset(k, 0, sizeof(*k));
    snprintf(k->id, sizeof(k->id), "%s", id);
    return &k->sk;
}

static void seg_close(struct seg_in *s)
{
    s->done += s->sr.bytes;
    seal_r_free(&s->sr);
    memset(&s->sr, 0, sizeof(s->sr));
    repo_object_close(s->tr);
    s->tr = NULL;
    s->open = false;
}

static const char *str_or_empty(const json_t *v)
{
    return json_is_string(v) ? json_string_value(v) : "";
}

/* the size and hash the manifest gives segment @n of @id: own objects, then refs */
static int seg_expect(struct seg_in *s, const char *id, uint32_t n, struct cf_err *e)
{
    const struct manifest *m = s->m;
    size_t i;
    json_t *v;
    if (strcmp(id, m->id) == 0) {
        for (i = 0; i < m->nobjects; i++)
            if (m->objects[i].n == n) {
                s->want_size = m->objects[i].size;
                s->want_hash = m->objects[i].blake2b;
                return 0;
            }
    } else {
        json_array_foreach(m->refs, i, v)
            if (strcmp(str_or_empty(json_object_get(v, "id")), id) == 0 &&
                json_integer_value(json_object_get(v, "n")) == (json_int_t)n) {
                s->want_size = (uint64_t)json_integer_value(json_object_get(v, "size"));
                s->want_hash = str_or_empty(json_object_get(v, "blake2b"));
                return 0;
            }
    }
    return cf_err_set(e, CF_E_CORRUPT, "the index names segment %u of backup %s, which the "
                      "manifest of %s/%s neither holds nor references", n, id, m->source, m->id);
}

/* the context of a segment's error, as layout 1 names an object */
static void seg_ctx(struct seg_in *s, const char *id, uint32_t n, struct cf_err *e)
{
    char *key = repo_key_data(s->m->source, id, n);
    cf_err_ctx(e, "object %u ('%s') of backup %s/%s", n, key, s->m->source, id);
    free(key);
}

static int in_seg_open(struct source_in *in, const char *id, uint32_t n, struct cf_err *e)
{
    struct seg_in *s = (struct seg_in *)in;
    seg_close(s);
    if (seg_expect(s, id, n, e) != 0)
        return -1;
    snprintf(s->id, sizeof(s->id), "%s", id);
    s->n = n;
    s->ended = false;
    s->pt_len = s->pt_pos = 0;
    s->zr = 1;
    ZSTD_DCtx_reset(s->dc, ZSTD_reset_session_only);
    if (repo_object_open(s->r, s->m->source, id, n, &s->tr, e) != 0 ||
        seal_open(&s->sr, tr_read, s->tr, repo_keys(s->r), dkey_for(s, id), SEAL_DATA, n, id,
                  e) != 0) {
        if (e->code == CF_E_NOTFOUND)
            cf_err_set(e, CF_E_NOTFOUND, "missing from the repository");
        seg_ctx(s, id, n, e);
        seg_close(s);
        return -1;
    }
    s->sr.skip_hash = !s->check_hash;
    s->open = true;
    return 0;
}

/* the end of the segment's object: FINAL, size, hash (verify) */
static int seg_finish(struct seg_in *s, unsigned char tag, struct cf_err *e)
{
    unsigned char h[32];
    char hex[65];
    if (tag != SEAL_TAG_FINAL)
        return cf_err_set(e, CF_E_CORRUPT, "the segment does not end with a final message");
    if (s->sr.bytes != s->want_size)
        return cf_err_set(e, CF_E_CORRUPT, "holds %" PRIu64 " bytes, the manifest says %" PRIu64,
                          s->sr.bytes, s->want_size);
    if (s->check_hash) {
        seal_r_hash(&s->sr, h);
        hex_encode(h, sizeof(h), hex);
        if (strcmp(hex, s->want_hash) != 0)
            return cf_err_set(e, CF_E_CORRUPT, "BLAKE2b hash differs from the manifest");
    }
    return 0;
}

static ssize_t in_read_op(struct source_in *in, void *buf, size_t cap, struct cf_err *e)
{
    struct seg_in *s = (struct seg_in *)in;
    unsigned char tag = 0;
    size_t len;
    int k;

    if (!s->open)
        return 0;
    for (;;) {
        if (s->pt_pos < s->pt_len || (s->pt_len && s->zr != 0)) {
            ZSTD_inBuffer zin = { s->pt, s->pt_len, s->pt_pos };
            ZSTD_outBuffer zout = { buf, cap, 0 };
            if (s->zr == 0 && s->pt_pos < s->pt_len) {
                cf_err_set(e, CF_E_CORRUPT, "bytes after the segment's zstd frame");
                goto bad;
            }
            s->zr = ZSTD_decompressStream(s->dc, &zout, &zin);
            if (ZSTD_isError(s->zr)) {
                cf_err_set(e, CF_E_CORRUPT, "compressed segment is damaged: %s",
                           ZSTD_getErrorName(s->zr));
                goto bad;
            }
            s->pt_pos = zin.pos;
            if (zout.pos > 0)
                return (ssize_t)zout.pos;
            if (s->pt_pos < s->pt_len)
                continue;
        }
        if (s->ended) {
            if (s->zr != 0) {
                cf_err_set(e, CF_E_CORRUPT, "the segment's zstd frame ends early");
                goto bad;
            }
            return 0;
        }
        k = seal_next(&s->sr, s->pt, &len, &tag, e);
        if (k < 0)
            goto bad;
        if (k == 0) {
            s->ended = true;
            if (seg_finish(s, s->sr.last_tag, e) != 0)
                goto bad;
            continue;
        }
        s->pt_len = len;
        s->pt_pos = 0;
        progress_update(&s->prog, s->done + s->sr.bytes);
    }
bad:
    seg_ctx(s, s->id, s->n, e);
    return -1;
}

static int in_next_part_op(struct source_in *in, const char **name, struct cf_err *e)
{
    struct seg_in *s = (struct seg_in *)in;
    (void)e;
    if (s->part_given)
        return 0;
    s->part_given = true;
    *name = "volume";
    return 1;
}

static json_t *in_index_op(struct source_in *in)
{
    return ((struct seg_in *)in)->index;
}

static const struct source_in_ops seg_in_ops = {
    .next_part = in_next_part_op,
    .read = in_read_op,
    .seg_index = in_index_op,
    .seg_open = in_seg_open,
};

static void seg_in_init(struct seg_in *s, struct repo *r, const struct manifest *m,
                        const char *what)
{
    uint64_t total = m->bytes_referenced;
    for (size_t i = 0; i < m->nobjects; i++)
        total += m->objects[i].size;
    memset(s, 0, sizeof(*s));
    progress_start(&s->prog, what, total);
    s->base.ops = &seg_in_ops;
    s->r = r;
    s->m = m;
    s->dc = ZSTD_createDCtx();
    s->pt = cf_malloc(SEAL_MSG_MAX);
}

static void seg_in_free(struct seg_in *s)
{
    seg_close(s);
    progress_end(&s->prog);
    for (size_t i = 0; i < s->nkeys; i++)
        seal_key_wipe(&s->keys[i].sk);
    free(s->keys);
    free(s->pt);
    ZSTD_freeDCtx(s->dc);
    json_decref(s->index);
}

int pipeline_restore_seg(struct repo *r, struct source *src, const struct manifest *m,
                         const struct restore_opts *opts, struct cf_err *e)
{
    struct seg_in s;
    int rc = -1;

    seg_in_init(&s, r, m, "restoring");
    if (repo_index_load(r, m->source, m->id, &s.index, e) == 0 &&
        source_import(src, &s.base, opts, m->info, e) == 0)
        rc = 0;
    seg_in_free(&s);
    return rc;
}

/* every segment the backup holds or references, read whole (hash, tags, frame, size) */
static int verify_one(struct seg_in *s, const char *id, uint32_t n, unsigned char *buf,
                      struct cf_err *e)
{
    ssize_t k;
    if (source_in_seg_open(&s->base, id, n, e) != 0)
        return -1;
    while ((k = source_in_read(&s->base, buf, 1 << 20, e)) > 0)
        ;
    return k < 0 ? -1 : 0;
}

int pipeline_verify_seg(struct repo *r, const struct manifest *m, struct cf_err *e)
{
    struct seg_in s;
    unsigned char *buf = cf_malloc(1 << 20);
    size_t i;
    json_t *v;
    int rc = -1;

    seg_in_init(&s, r, m, "verifying");
    s.check_hash = true;
    if (!m->objects_listed || m->index_blake2b[0] == '\0') {
        cf_err_set(e, CF_E_CORRUPT, "manifest of %s/%s lists no objects or no index",
                   m->source, m->id);
        goto out;
    }
    if (repo_index_verify(r, m->source, m->id, m->index_blake2b, e) != 0)
        goto out;
    for (i = 0; i < m->nobjects; i++)
        if (verify_one(&s, m->id, m->objects[i].n, buf, e) != 0)
            goto out;
    json_array_foreach(m->refs, i, v) {
        const char *id = json_string_value(json_object_get(v, "id"));
        if (id == NULL || verify_one(&s, id, (uint32_t)json_integer_value(json_object_get(v, "n")),
                                     buf, e) != 0) {
            if (id == NULL)
                cf_err_set(e, CF_E_CORRUPT, "a reference of %s/%s names no backup", m->source,
                           m->id);
            cf_err_ctx(e, "referenced by %s/%s", m->source, m->id);
            goto out;
        }
    }
    rc = 0;
out:
    seg_in_free(&s);
    free(buf);
    return rc;
}
