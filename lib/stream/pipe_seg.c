/* pipe_seg.c - a volume's backup in layout 3 (docs/FORMAT.md "Volume backups, layout 3"):
 * the source writes whole pax entries; each segment is one zstd frame sealed as one data
 * object, closed at the first entry boundary after SEG_SIZE bytes. The parent's index comes
 * from the repository (or, in public-key mode, from the local cache), and this backup's index
 * is stored beside its segments, then the references, then the manifest.
 *
 * Two threads: the caller's runs the source and feeds zstd (whose workers compress) and cuts
 * the compressed bytes into messages; coffer-seal encrypts, hashes and writes them, one
 * segment after another, through a small pool of message buffers (bqueue.h), so that reading
 * the tree and sealing and writing the last messages overlap on the two cores, as in layout 1. */
#include "pipeline.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>

#include <zstd.h>

#include "../core/afile.h"
#include "../core/log.h"
#include "../core/progress.h"
#include "../core/util.h"
#include "../crypto/seal.h"
#include "../repo/repo_seg.h"
#include "../source/source_io.h"
#include "bqueue.h"
#include "pipe_int.h"

#define SEG_SIZE (4u << 20)
#define SEG_QUEUE_BUFS 4

/* what a queued buffer asks of the sealing thread (its type) */
enum { SQ_BEGIN, SQ_MESSAGE, SQ_FINAL };

struct seg_out {
    struct source_out base;
    struct repo *r;
    const char *source, *id;
    const struct seal_key *sk;
    ZSTD_CCtx *cc;
    unsigned char *zout;
    size_t zout_cap;
    struct bqueue *q;
    struct bq_buf *cur;        /* the message being filled (the caller's thread) */
    /* the segment being written, as the caller's thread sees it */
    bool open;
    uint32_t n;
    uint64_t seg_bytes;
    uint64_t bytes_in;
    struct progress prog;
    /* the sealing thread's: the segment being sealed; the manifest's objects until joined */
    struct target_writer *w;
    crypto_generichash_state hash;
    struct seal_w sw;
    unsigned char *ct;
    uint32_t wn;
    uint64_t size;
    struct cf_err werr;
    struct manifest *m;
    json_t *parent, *index;
};

static int obj_out(struct seg_out *s, const void *p, size_t n, struct cf_err *e)
{
    crypto_generichash_update(&s->hash, p, n);
    s->size += n;
    return repo_object_write(s->w, p, n, e);
}

/* one queued buffer: a segment's start, or a message sealed and written (the last, FINAL,
 * also commits the segment and lists it in the manifest) */
static int seal_one(struct seg_out *s, const struct bq_buf *b, struct cf_err *e)
{
    if (b->type == SQ_BEGIN) {
        s->wn = (uint32_t)b->len;
        s->size = 0;
        crypto_generichash_init(&s->hash, NULL, 0, 32);
        if (repo_object_begin(s->r, s->source, s->id, s->wn, SEG_SIZE, &s->w, e) != 0)
            return -1;
        seal_begin(&s->sw, s->sk, SEAL_DATA, s->wn);
        return obj_out(s, s->sw.hdr, s->sw.hdr_len, e);
    }
    size_t c = seal_push(&s->sw, b->data, b->len,
                         b->type == SQ_FINAL ? SEAL_TAG_FINAL : SEAL_TAG_MESSAGE, s->ct);
    if (obj_out(s, s->ct, c, e) != 0)
        return -1;
    if (b->type != SQ_FINAL)
        return 0;
    return pl_object_commit(&s->w, &s->hash, s->m, s->wn, s->size, e);
}

static void *sealer_main(void *arg)
{
    struct seg_out *s = arg;
    struct bq_buf *b;

    pthread_setname_np(pthread_self(), "coffer-seal");
    while ((b = bqueue_pop(s->q, &s->werr)) != NULL) {
        int r = seal_one(s, b, &s->werr);
        bqueue_put_free(s->q, b);
        if (r != 0) {
            cf_err_ctx(&s->werr, "segment %u", s->wn);
            bqueue_fail(s->q, &s->werr);
            break;
        }
    }
    return NULL;
}

/* hand the message being filled to the sealing thread as @type */
static int msg_push(struct seg_out *s, int type, struct cf_err *e)
{
    if (s->cur == NULL && (s->cur = bqueue_get_free(s->q, e)) == NULL)
        return -1;
    s->cur->type = type;
    struct bq_buf *b = s->cur;
    s->cur = NULL;
    return bqueue_push(s->q, b, e);
}

/* compressed bytes into messages; a full message waits for the next byte (the last is FINAL) */
static int msg_add(struct seg_out *s, const unsigned char *p, size_t n, struct cf_err *e)
{
    while (n > 0) {
        if (s->cur != NULL && s->cur->len == SEAL_MSG_MAX && msg_push(s, SQ_MESSAGE, e) != 0)
            return -1;
        if (s->cur == NULL) {
            if ((s->cur = bqueue_get_free(s->q, e)) == NULL)
                return -1;
            s->cur->len = 0;
        }
        size_t k = SEAL_MSG_MAX - s->cur->len < n ? SEAL_MSG_MAX - s->cur->len : n;
        memcpy(s->cur->data + s->cur->len, p, k);
        s->cur->len += k;
        p += k;
        n -= k;
    }
    return 0;
}

static int zfeed(struct seg_out *s, const void *buf, size_t len, ZSTD_EndDirective end,
                 struct cf_err *e)
{
    ZSTD_inBuffer in = { buf, len, 0 };
    size_t rc;
    do {
        ZSTD_outBuffer out = { s->zout, s->zout_cap, 0 };
        rc = ZSTD_compressStream2(s->cc, &out, &in, end);
        if (ZSTD_isError(rc))
            return cf_err_set(e, CF_E_INTERNAL, "zstd: %s", ZSTD_getErrorName(rc));
        if (out.pos && msg_add(s, s->zout, out.pos, e) != 0)
            return -1;
    } while (end == ZSTD_e_end ? rc != 0 : in.pos < in.size);
    return 0;
}

static int seg_begin(struct seg_out *s, struct cf_err *e)
{
    struct bq_buf *b = bqueue_get_free(s->q, e);
    if (b == NULL)
        return -1;
    b->type = SQ_BEGIN;
    b->len = s->n;
    s->seg_bytes = 0;
    s->open = true;
    return bqueue_push(s->q, b, e);
}

static int seg_end(struct seg_out *s, struct cf_err *e)
{
    if (zfeed(s, NULL, 0, ZSTD_e_end, e) != 0)
        return -1;
    if (s->cur == NULL) {   /* an empty last message */
        if ((s->cur = bqueue_get_free(s->q, e)) == NULL)
            return -1;
        s->cur->len = 0;
    }
    if (msg_push(s, SQ_FINAL, e) != 0)
        return -1;
    s->open = false;
    s->n++;
    return 0;
}

/* the sealing thread's end: every segment committed (0), or its error in @e */
static int sealer_join(struct seg_out *s, pthread_t th, bool ok, struct cf_err *e)
{
    if (ok)
        bqueue_close(s->q);
    else
        bqueue_fail(s->q, e);
    pthread_join(th, NULL);
    if (ok && s->werr.code != CF_E_OK) {
        *e = s->werr;
        return -1;
    }
    return ok ? 0 : -1;
}

static int out_part_op(struct source_out *so, const char *name, struct cf_err *e)
{
    (void)so;
    if (strcmp(name, "volume") != 0)
        return cf_err_set(e, CF_E_INTERNAL, "a segmented stream has one part, not '%s'", name);
    return 0;
}

static int out_write_op(struct source_out *so, const void *buf, size_t len, struct cf_err *e)
{
    struct seg_out *s = (struct seg_out *)so;
    if (!s->open && seg_begin(s, e) != 0)
        return -1;
    s->seg_bytes += len;
    s->bytes_in += len;
    progress_update(&s->prog, s->bytes_in);
    return zfeed(s, buf, len, ZSTD_e_continue, e);
}

static int out_mark_op(struct source_out *so, uint32_t *n, uint64_t *off, struct cf_err *e)
{
    struct seg_out *s = (struct seg_out *)so;
    if (s->open && s->seg_bytes >= SEG_SIZE && seg_end(s, e) != 0)
        return -1;
    *n = s->n;
    *off = s->open ? s->seg_bytes : 0;
    return 0;
}

static json_t *out_parent_op(struct source_out *so)
{
    return ((struct seg_out *)so)->parent;
}

static const char *out_id_op(struct source_out *so)
{
    return ((struct seg_out *)so)->id;
}

static int out_index_op(struct source_out *so, json_t *index, struct cf_err *e)
{
    struct seg_out *s = (struct seg_out *)so;
    (void)e;
    json_decref(s->index);
    s->index = index;
    return 0;
}

static const struct source_out_ops seg_out_ops = {
    .part = out_part_op,
    .write = out_write_op,
    .seg_mark = out_mark_op,
    .seg_parent = out_parent_op,
    .seg_id = out_id_op,
    .seg_index = out_index_op,
};

/* ---- the parent ---- */

static char *cache_path(const struct stream_opts *so, const char *source)
{
    return so->cache_dir ? cf_asprintf("%s/%s.index", so->cache_dir, source) : NULL;
}

/* the cached index of @source, when it is @id's; NULL (logged) otherwise */
static json_t *cache_load(const struct stream_opts *so, const char *source, const char *id)
{
    char *path = cache_path(so, source);
    json_error_t jerr;
    json_t *j = path ? json_load_file(path, 0, &jerr) : NULL;
    const char *cid = json_string_value(json_object_get(j, "id"));
    if (path == NULL)
        log_info("backup full source=%s reason=\"public-key mode and no cache-dir\"", source);
    else if (j == NULL)
        log_info("backup full source=%s reason=\"no cached index\" cache=%s", source, path);
    else if (cid == NULL || strcmp(cid, id) != 0 || !json_is_array(json_object_get(j, "entries"))) {
        log_warn("backup full source=%s: the cached index %s is of backup %s, not of the "
                 "newest backup %s", source, path, cid ? cid : "?", id);
        json_decref(j);
        j = NULL;
    }
    free(path);
    return j;
}

/* keep @index as the cache of @source (public-key mode); a failure only costs a full backup */
static void cache_save(const struct stream_opts *so, const char *source, const json_t *index)
{
    char *path = cache_path(so, source), *text = NULL;
    struct cf_err e = CF_ERR_INIT;
    struct afile f;
    if (path == NULL)
        return;
    text = json_dumps(index, JSON_COMPACT);
    if (fs_mkdir_p(so->cache_dir, 0700, &e) != 0 ||
        afile_begin(&f, path, ".tmp", 0600, &e) != 0)
        goto out;
    if (afile_write(&f, text, strlen(text), &e) != 0 || afile_commit(&f, 0, &e) != 0) {
        afile_abort(&f);
        goto out;
    }
out:
    if (e.code != CF_E_OK)
        log_warn("unable to keep the file index in %s (the next backup will be full): %s", path,
                 e.msg);
    free(text);
    free(path);
}

/* the parent's index, or NULL for a full backup (with the reason logged) */
static json_t *parent_find(struct repo *r, const char *source, const struct stream_opts *so,
                           time_t now, struct cf_err *e)
{
    struct repo_ref *refs = NULL;
    struct manifest *pm = NULL;
    json_t *idx = NULL;
    size_t n = 0;

    if (repo_list(r, source, &refs, &n, e) != 0)
        return NULL;
    if (n == 0)
        goto out;
    const char *pid = refs[n - 1].id;
    if (repo_can_read(r)) {
        struct cf_err le = CF_ERR_INIT;
        if (repo_manifest_load(r, source, pid, &pm, &le) != 0) {
            log_warn("backup full source=%s: the newest backup's manifest: %s", source, le.msg);
            goto out;
        }
        if (pm->format != MANIFEST_FORMAT_SEG) {
            log_info("backup full source=%s reason=\"the newest backup is not incremental-ready"
                     " (layout 1)\"", source);
            goto out;
        }
        if (repo_index_load(r, source, pid, &idx, &le) != 0) {
            log_warn("backup full source=%s: %s", source, le.msg);
            goto out;
        }
    } else {
        idx = cache_load(so, source, pid);
    }
    if (idx == NULL)
        goto out;
    json_int_t chain = json_integer_value(json_object_get(idx, "chain"));
    json_int_t full = json_integer_value(json_object_get(idx, "full_started"));
    if (so->full_every_s > 0 ? now - (time_t)full >= so->full_every_s
                             : chain + 1 >= so->full_every) {
        log_info("backup full source=%s reason=\"full-every\" chain=%lld", source,
                 (long long)chain);
        json_decref(idx);
        idx = NULL;
    }
out:
    manifest_free(pm);
    free(refs);
    return idx;
}

/* ---- the index's list of segments, the manifest's refs ---- */

/* every segment the entries name, [id, n, size, blake2b], from this backup's objects and
 * the parent's list; the others also into the manifest's refs and the plain refs object */
static int segments_list(struct seg_out *s, json_t *index, json_t **plain, struct cf_err *e)
{
    json_t *known = json_object(), *used = json_object(), *segs = json_array();
    json_t *refs = json_array(), *byid = json_object(), *v, *ent;
    const char *k;
    size_t i;
    char key[128];
    int rc = -1;

    json_array_foreach(json_object_get(s->parent, "segments"), i, v) {
        snprintf(key, sizeof(key), "%s/%lld", json_string_value(json_array_get(v, 0)),
                 (long long)json_integer_value(json_array_get(v, 1)));
        json_object_set(known, key, v);
    }
    for (i = 0; i < s->m->nobjects; i++) {
        snprintf(key, sizeof(key), "%s/%u", s->id, s->m->objects[i].n);
        json_object_set_new(known, key, json_pack("[s,i,I,s]", s->id, (int)s->m->objects[i].n,
                                                  (json_int_t)s->m->objects[i].size,
                                                  s->m->objects[i].blake2b));
    }
    json_array_foreach(json_object_get(index, "entries"), i, ent) {
        json_t *at = json_object_get(ent, "at");
        snprintf(key, sizeof(key), "%s/%lld", json_string_value(json_array_get(at, 0)),
                 (long long)json_integer_value(json_array_get(at, 1)));
        if (json_object_get(used, key))
            continue;
        if ((v = json_object_get(known, key)) == NULL) {
            cf_err_set(e, CF_E_INTERNAL, "entry %zu names segment %s, which no backup lists", i,
                       key);
            goto out;
        }
        json_object_set(used, key, v);
    }
    json_object_foreach(used, k, v) {
        const char *id = json_string_value(json_array_get(v, 0));
        json_array_append(segs, v);
        if (strcmp(id, s->id) == 0)
            continue;
        json_int_t size = json_integer_value(json_array_get(v, 2));
        json_array_append_new(refs, json_pack("{s:s,s:O,s:I,s:O}", "id", id, "n",
                                              json_array_get(v, 1), "size", size, "blake2b",
                                              json_array_get(v, 3)));
        s->m->bytes_referenced += (uint64_t)size;
        json_t *ns = json_object_get(byid, id);
        if (ns == NULL)
            json_object_set_new(byid, id, ns = json_array());
        json_array_append(ns, json_array_get(v, 1));
    }
    json_object_set_new(index, "segments", segs);
    segs = NULL;
    s->m->refs = refs;
    refs = NULL;
    *plain = json_pack("{s:i,s:s,s:s,s:[]}", "format", 1, "source", s->source, "id", s->id,
                       "refs");
    json_object_foreach(byid, k, v)
        json_array_append_new(json_object_get(*plain, "refs"), json_pack("{s:s,s:O}", "id", k,
                                                                         "n", v));
    rc = 0;
out:
    json_decref(known);
    json_decref(used);
    json_decref(segs);
    json_decref(refs);
    json_decref(byid);
    return rc;
}

int pipeline_backup_seg(struct repo *r, struct source *src, const struct stream_opts *so,
                        const char *job, struct backup_result *res,
                        struct manifest **committed, struct cf_err *e)
{
    struct seg_out s;
    struct seal_key sk;
    json_t *info = json_object(), *plain = NULL, *parts = NULL;
    uint64_t t0 = time_mono_ms();
    struct timespec start_ts;
    bool wrote = false;
    pthread_t sealer;
    int rc = -1;
    long threads = so->threads ? so->threads : sys_ncpu();

    memset(&s, 0, sizeof(s));
    memset(res, 0, sizeof(*res));
    memset(&sk, 0, sizeof(sk));
    clock_gettime(CLOCK_REALTIME, &start_ts);
    repo_new_id(&start_ts, res->id);
    s.base.ops = &seg_out_ops;
    s.r = r;
    s.source = src->name;
    s.id = res->id;
    s.sk = &sk;
    s.m = manifest_new();
    s.m->format = MANIFEST_FORMAT_SEG;
    if (seal_key_new(&sk, repo_keys(r), res->id, e) != 0)
        goto out;
    s.parent = parent_find(r, src->name, so, start_ts.tv_sec, e);
    if (s.parent == NULL && e->code != CF_E_OK)
        goto out;
    s.cc = ZSTD_createCCtx();
    if (s.cc == NULL ||
        ZSTD_isError(ZSTD_CCtx_setParameter(s.cc, ZSTD_c_compressionLevel, so->level)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(s.cc, ZSTD_c_checksumFlag, 1))) {
        cf_err_set(e, CF_E_INTERNAL, "zstd: unable to set up compression");
        goto out;
    }
    if (threads > 1 && !ZSTD_isError(ZSTD_CCtx_setParameter(s.cc, ZSTD_c_nbWorkers, (int)threads)))
        ZSTD_CCtx_setParameter(s.cc, ZSTD_c_jobSize, 1 << 20);
    s.zout_cap = ZSTD_CStreamOutSize();
    s.zout = cf_malloc(s.zout_cap);
    s.ct = cf_malloc(SEAL_MSG_MAX + SEAL_MSG_OVERHEAD);
    s.q = bqueue_new(SEG_QUEUE_BUFS, SEAL_MSG_MAX);
    if (pthread_create(&sealer, NULL, sealer_main, &s) != 0) {
        cf_err_set(e, CF_E_INTERNAL, "unable to start the sealing thread");
        goto out;
    }
    log_info("backup start source=%s kind=%s id=%s target=%s layout=3 parent=%s", src->name,
             source_kind(src), res->id, repo_describe(r),
             s.parent ? json_string_value(json_object_get(s.parent, "id")) : "none");
    progress_start(&s.prog, "backing up", 0);
    wrote = true;
    bool exported = source_export(src, &s.base, info, e) == 0 &&
                    (!s.open || seg_end(&s, e) == 0);
    if (sealer_join(&s, sealer, exported, e) != 0) {
        progress_end(&s.prog);
        goto out;
    }
    progress_end(&s.prog);
    if (s.index == NULL) {
        cf_err_set(e, CF_E_INTERNAL, "the volume gave no file index");
        goto out;
    }
    /* the index's own fields */
    json_int_t chain = s.parent ? json_integer_value(json_object_get(s.parent, "chain")) + 1 : 0;
    json_object_set_new(s.index, "format", json_integer(1));
    json_object_set_new(s.index, "source", json_string(src->name));
    json_object_set_new(s.index, "id", json_string(res->id));
    json_object_set(s.index, "parent", s.parent ? json_object_get(s.parent, "id") : json_null());
    json_object_set_new(s.index, "chain", json_integer(chain));
    json_object_set_new(s.index, "full_started",
                        json_integer(s.parent ? json_integer_value(json_object_get(
                                                    s.parent, "full_started"))
                                              : (json_int_t)start_ts.tv_sec));
    if (segments_list(&s, s.index, &plain, e) != 0 ||
        repo_index_save(r, &sk, src->name, res->id, s.index, &s.m->index_size,
                        s.m->index_blake2b, e) != 0 ||
        repo_refs_save(r, src->name, res->id, plain, e) != 0)
        goto out;
    s.m->bytes_stored += s.m->index_size;
    s.m->chain = (long)chain;
    if (s.parent) {
        s.m->has_parent = true;
        snprintf(s.m->parent.source, sizeof(s.m->parent.source), "%s", src->name);
        snprintf(s.m->parent.id, sizeof(s.m->parent.id), "%s",
                 json_string_value(json_object_get(s.parent, "id")));
    }
    parts = json_pack("[{s:s,s:I}]", "name", "volume", "bytes", (json_int_t)s.bytes_in);
    pl_manifest_fill(s.m, res->id, src, job, start_ts.tv_sec, s.bytes_in, so->level,
                     SEG_SIZE, parts, info);
    if (repo_manifest_save(r, &sk, s.m, e) != 0) {
        cf_err_ctx(e, "unable to commit backup %s/%s", src->name, res->id);
        goto out;
    }
    if (!repo_can_read(r))
        cache_save(so, src->name, s.index);
    res->bytes_in = s.bytes_in;
    res->bytes_stored = s.m->bytes_stored;
    res->objects = (uint32_t)s.m->nobjects;
    res->elapsed_ms = time_mono_ms() - t0;
    res->warnings = (unsigned)json_array_size(json_object_get(info, "warnings"));
    log_info("backup layout=3 source=%s id=%s chain=%lld stored=%" PRIu64 " referenced=%" PRIu64,
             src->name, res->id, (long long)chain, s.m->bytes_stored, s.m->bytes_referenced);
    if (committed) {
        *committed = s.m;
        s.m = NULL;
    }
    rc = 0;
out:
    if (s.w)
        repo_object_abort(s.w);
    if (rc != 0 && wrote) {
        struct cf_err de = CF_ERR_INIT;
        if (repo_backup_discard(r, src->name, res->id, &de) != 0)
            log_warn("unable to remove the objects of failed backup %s/%s (prune removes them "
                     "later): %s", src->name, res->id, de.msg);
    }
    sodium_memzero(&s.sw, sizeof(s.sw));
    json_decref(parts);
    json_decref(plain);
    json_decref(info);
    json_decref(s.index);
    json_decref(s.parent);
    manifest_free(s.m);
    bqueue_free(s.q);
    free(s.zout);
    free(s.ct);
    ZSTD_freeCCtx(s.cc);
    seal_key_wipe(&sk);
    return rc;
}
