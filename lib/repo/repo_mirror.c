/* repo_mirror.c - copying the repository to a mirror, and how far behind a mirror is. */
#include "repo_mirror.h"

#include <inttypes.h>
#include <string.h>

#include "../core/log.h"
#include "../core/util.h"
#include "repo_int.h"
#include "repo_seg.h"

#define COPY_BUF (1u << 20)

/* every object of a target, by key, sorted */
struct keyset {
    struct keyent {
        char *key;
        uint64_t size;
    } *v;
    size_t n;
};

static int keyset_cb(void *arg, const char *key, uint64_t size)
{
    struct keyset *ks = arg;
    ks->v = cf_realloc(ks->v, (ks->n + 1) * sizeof(*ks->v));
    ks->v[ks->n].key = cf_strdup(key);
    ks->v[ks->n++].size = size;
    return 0;
}

static int keyent_cmp(const void *a, const void *b)
{
    return strcmp(((const struct keyent *)a)->key, ((const struct keyent *)b)->key);
}

static void keyset_free(struct keyset *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->v[i].key);
    free(ks->v);
    ks->v = NULL;
    ks->n = 0;
}

static int keyset_load(struct target *t, struct keyset *ks, struct cf_err *e)
{
    if (target_list(t, "", keyset_cb, ks, e) != 0) {
        keyset_free(ks);
        return -1;
    }
    if (ks->n > 1)
        qsort(ks->v, ks->n, sizeof(*ks->v), keyent_cmp);
    return 0;
}

static const struct keyent *keyset_find(const struct keyset *ks, const char *key)
{
    struct keyent k = { (char *)key, 0 };
    return ks->n ? bsearch(&k, ks->v, ks->n, sizeof(*ks->v), keyent_cmp) : NULL;
}

/* A mirror being written: its target, its name, what the primary and it hold. */
struct mirror {
    struct repo *r;                   /* the primary */
    const struct ini_section *sec;
    struct target *t;
    struct keyset src, dst;
    struct repo_mirror_stats *st;
    unsigned char *buf;
};

/* the id in repo.json text @b, or "" */
static void json_id(const struct buf *b, char *out, size_t cap)
{
    json_t *doc = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "id"));
    snprintf(out, cap, "%s", id ? id : "");
    json_decref(doc);
}

/* open the mirror's target and read its repo.json: *@have tells whether it has one; another
 * repository's is refused */
static int mirror_open(struct repo *r, const struct ini_section *m, struct target **t,
                       struct buf *json, bool *have, struct cf_err *e)
{
    char id[80];

    *have = false;
    if (target_open(m, t, e) != 0)
        return -1;
    if (strncmp(target_describe(*t), "local ", 6) == 0 &&
        strcmp(target_describe(*t), target_describe(r->t)) == 0)
        return cf_err_set(e, CF_E_CONFIG, "[mirror %s] names the repository's own target %s",
                          m->name, target_describe(*t));
    if (target_get_buf(*t, REPO_JSON, 1 << 20, json, e) != 0) {
        if (e->code != CF_E_NOTFOUND)
            return -1;
        cf_err_clear(e);
        return 0;
    }
    *have = true;
    json_id(json, id, sizeof(id));
    if (strcmp(id, r->id) != 0)
        return cf_err_set(e, CF_E_CONFIG,
                          "%s holds another repository (id %s, this one is %s): refused, a "
                          "mirror never mixes two repositories; HINT: point [mirror %s] at an "
                          "empty location or at a mirror of this repository",
                          target_describe(*t), id[0] ? id : "unreadable", r->id, m->name);
    return 0;
}

/* copy @key (@size bytes as listed on the primary) to the mirror, streamed; with @want
 * (manifest entry), the bytes read must have its size and BLAKE2b, else nothing is committed
 * and the error is CF_E_CORRUPT */
static int copy_object(struct mirror *mi, const char *key, uint64_t size,
                       const struct manifest_object *want, struct cf_err *e)
{
    struct target_reader *rd = NULL;
    struct target_writer *w = NULL;
    crypto_generichash_state hs;
    unsigned char h[32];
    char hex[65];
    uint64_t total = 0, got;
    ssize_t n;
    int rc = -1;

    crypto_generichash_init(&hs, NULL, 0, sizeof(h));
    if (target_get_begin(mi->r->t, key, &rd, e) != 0 ||
        target_put_begin(mi->t, key, size, 0, &w, e) != 0)
        goto out;
    while ((n = target_read(rd, mi->buf, COPY_BUF, e)) > 0) {
        crypto_generichash_update(&hs, mi->buf, (size_t)n);
        if (target_write(w, mi->buf, (size_t)n, e) != 0)
            goto out;
        total += (uint64_t)n;
    }
    if (n < 0)
        goto out;
    crypto_generichash_final(&hs, h, sizeof(h));
    hex_encode(h, sizeof(h), hex);
    if (total != (want ? want->size : size)) {
        cf_err_set(e, CF_E_CORRUPT, "%s on the primary has %" PRIu64 " bytes, %s says %" PRIu64,
                   key, total, want ? "its manifest" : "its listing", want ? want->size : size);
        goto out;
    }
    if (want && strcmp(hex, want->blake2b) != 0) {
        cf_err_set(e, CF_E_CORRUPT, "%s on the primary does not match its manifest (BLAKE2b)",
                   key);
        goto out;
    }
    if (target_commit(w, e) != 0)
        goto out;
    w = NULL;
    if (target_stat(mi->t, key, &got, e) != 0)
        goto out;
    if (got != total) {
        cf_err_set(e, CF_E_IO, "%s on the mirror has %" PRIu64 " bytes after the copy, not %"
                   PRIu64, key, got, total);
        goto out;
    }
    mi->st->objects++;
    mi->st->bytes += total;
    rc = 0;
out:
    target_abort(w);
    target_get_end(rd);
    return rc;
}

/* the mirror lacks @key, or holds it with another size */
static bool missing(const struct mirror *mi, const char *key, uint64_t size)
{
    const struct keyent *d = keyset_find(&mi->dst, key);
    return d == NULL || d->size != size;
}

/* copy the data object @key of another backup that a backup references, checked against @want
 * (from its manifest) or, without it, against the primary's listing by size */
static int copy_ref(struct mirror *mi, const char *key, const struct manifest_object *want,
                    const char *id, struct cf_err *e)
{
    const struct keyent *o = want ? NULL : keyset_find(&mi->src, key);
    uint64_t size = want ? want->size : o ? o->size : 0;
    int r;

    if (want == NULL && o == NULL)
        return cf_err_set(e, CF_E_CORRUPT, "%s, which backup %s references, is not on the "
                          "primary", key, id);
    r = missing(mi, key, size) ? copy_object(mi, key, size, want, e) : 0;
    if (r != 0 && e->code == CF_E_NOTFOUND)
        cf_err_set(e, CF_E_CORRUPT, "%s, which backup %s references, is not on the primary", key,
                   id);
    return r;
}

/* the data objects of other backups that backup @k references (layout 3): from its manifest
 * @m, each checked by size and BLAKE2b, or, when the manifest cannot be read (public-key
 * mode), from the plain refs list, by size. A parent pruned on the primary keeps them under
 * its directory without a manifest, where the listing walk passes them over as debris. */
static int copy_refs(struct mirror *mi, const struct repo_key *k, const struct manifest *m,
                     struct cf_err *e)
{
    json_t *plain = NULL, *ref, *n;
    size_t i, j;
    int rc = -1;

    if (m != NULL) {
        json_array_foreach(m->refs, i, ref) {
            const char *rid = json_string_value(json_object_get(ref, "id"));
            const char *hex = json_string_value(json_object_get(ref, "blake2b"));
            json_int_t on = json_integer_value(json_object_get(ref, "n"));
            struct manifest_object want = { 0 };
            if (rid == NULL || hex == NULL || strlen(hex) != 64 || on < 0 || on > UINT32_MAX)
                return cf_err_set(e, CF_E_CORRUPT, "a reference of backup %s/%s is malformed",
                                  k->source, k->id);
            want.n = (uint32_t)on;
            want.size = (uint64_t)json_integer_value(json_object_get(ref, "size"));
            memcpy(want.blake2b, hex, 65);
            char *key = repo_key_data(k->source, rid, want.n);
            int r = copy_ref(mi, key, &want, k->id, e);
            free(key);
            if (r != 0)
                return -1;
        }
        return 0;
    }
    if (repo_refs_load(mi->r, k->source, k->id, &plain, e) != 0) {
        if (e->code != CF_E_NOTFOUND)
            return -1;
        cf_err_clear(e);   /* layout 1: no references */
        return 0;
    }
    json_array_foreach(json_object_get(plain, "refs"), i, ref) {
        const char *rid = json_string_value(json_object_get(ref, "id"));
        json_array_foreach(json_object_get(ref, "n"), j, n) {
            json_int_t on = json_integer_value(n);
            if (rid == NULL || on < 0 || on > UINT32_MAX) {
                cf_err_set(e, CF_E_CORRUPT, "a reference of backup %s/%s is malformed",
                           k->source, k->id);
                goto out;
            }
            char *key = repo_key_data(k->source, rid, (uint32_t)on);
            int r = copy_ref(mi, key, NULL, k->id, e);
            free(key);
            if (r != 0)
                goto out;
        }
    }
    rc = 0;
out:
    json_decref(plain);
    return rc;
}

/* copy the committed backup whose listed objects are src.v[@from, @to) (@mkey its manifest):
 * with the manifest readable, the data objects it lists (read whatever the listing saw, so a
 * backup that committed while the listing went on is whole), each checked against it; else
 * the listed ones by size; then the other objects of the backup; the manifest last */
static int copy_backup(struct mirror *mi, const struct repo_key *k, size_t from, size_t to,
                       const struct keyent *mkey, struct cf_err *e)
{
    struct manifest *m = NULL;
    int rc = -1;

    if (repo_can_read(mi->r) && repo_manifest_load(mi->r, k->source, k->id, &m, e) != 0) {
        if (e->code == CF_E_NOTFOUND) {   /* pruned since the listing: nothing to copy */
            cf_err_clear(e);
            rc = 0;
        } else if (e->code == CF_E_CRYPTO) {
            e->code = CF_E_CORRUPT;
        }
        goto out;
    }
    for (size_t i = 0; m && i < m->nobjects; i++) {
        char *key = repo_key_data(k->source, k->id, m->objects[i].n);
        int r = missing(mi, key, m->objects[i].size)
                    ? copy_object(mi, key, m->objects[i].size, &m->objects[i], e)
                    : 0;
        if (r != 0 && e->code == CF_E_NOTFOUND) {
            cf_err_set(e, CF_E_CORRUPT, "%s is in the manifest but not on the primary", key);
        }
        free(key);
        if (r != 0)
            goto out;
    }
    for (size_t i = from; i < to; i++) {
        const struct keyent *o = &mi->src.v[i];
        struct repo_key ok;
        enum repo_key_kind kind = repo_key_parse(o->key, &ok);
        /* with a manifest, its data objects are copied above; others under data/ are debris
         * of a retried write */
        if (o == mkey || (m != NULL && kind == REPO_KEY_DATA) || !missing(mi, o->key, o->size))
            continue;
        if (copy_object(mi, o->key, o->size, NULL, e) != 0)
            goto out;
    }
    /* the objects of other backups it references (layout 3, from the plain refs list, so in
     * public-key mode too): a parent pruned on the primary keeps them under its directory
     * without a manifest, where the listing walk above passes them over as debris */
    if (copy_refs(mi, k, m, e) != 0)
        goto out;
    /* the manifest last: the commit point on the mirror as on the primary */
    if (copy_object(mi, mkey->key, mkey->size, NULL, e) != 0)
        goto out;
    mi->st->backups++;
    rc = 0;
out:
    manifest_free(m);
    return rc;
}

/* repo.json: created on a new mirror, replaced (atomically: temp and rename, or one PUT)
 * when the primary's differs, as after a key change */
static int copy_repo_json(struct mirror *mi, const struct buf *have_json, bool have,
                          struct cf_err *e)
{
    struct buf b = BUF_INIT;
    int rc = -1;

    if (target_get_buf(mi->r->t, REPO_JSON, 1 << 20, &b, e) != 0)
        goto out;
    if (have && have_json->len == b.len && memcmp(have_json->data, b.data, b.len) == 0) {
        rc = 0;
        goto out;
    }
    if (target_put_buf(mi->t, REPO_JSON, b.data, b.len, have ? 0 : TARGET_PUT_NOREPLACE, e) != 0)
        goto out;
    mi->st->repo_json = true;
    rc = 0;
out:
    buf_free(&b);
    return rc;
}

/* every committed backup, in key order: its objects are one run of the sorted listing */
static int copy_backups(struct mirror *mi, struct cf_err *e)
{
    struct cf_err first = CF_ERR_INIT;
    size_t i = 0;

    while (i < mi->src.n) {
        struct repo_key k, k2;
        size_t j = i + 1;
        enum repo_key_kind kind = repo_key_parse(mi->src.v[i].key, &k);
        if (kind != REPO_KEY_MANIFEST && kind != REPO_KEY_DATA && kind != REPO_KEY_BACKUP_OTHER) {
            i++;
            continue;
        }
        const struct keyent *mkey = NULL;
        for (j = i; j < mi->src.n; j++) {
            enum repo_key_kind kj = repo_key_parse(mi->src.v[j].key, &k2);
            if ((kj != REPO_KEY_MANIFEST && kj != REPO_KEY_DATA && kj != REPO_KEY_BACKUP_OTHER) ||
                strcmp(k.source, k2.source) != 0 || strcmp(k.id, k2.id) != 0)
                break;
            if (kj == REPO_KEY_MANIFEST)
                mkey = &mi->src.v[j];
        }
        char *rkey = cf_asprintf("removed/%s/%s", k.source, k.id);
        bool removed = keyset_find(&mi->dst, rkey) != NULL;
        free(rkey);
        if (mkey == NULL || !missing(mi, mkey->key, mkey->size)) {
            /* not committed (a backup running, or debris), or already on the mirror */
        } else if (removed) {
            mi->st->skipped++;
        } else if (copy_backup(mi, &k, i, j, mkey, e) != 0) {
            if (e->code != CF_E_CORRUPT)
                return cf_err_ctx(e, "backup %s/%s", k.source, k.id);
            log_error("mirror %s: backup %s/%s not copied: %s", mi->sec->name, k.source, k.id,
                      e->msg);
            mi->st->damaged++;
            if (first.code == CF_E_OK) {
                cf_err_keep(&first, e);
                cf_err_ctx(&first, "backup %s/%s not copied", k.source, k.id);
            }
            cf_err_clear(e);
        }
        i = j;
    }
    if (first.code != CF_E_OK) {
        cf_err_keep(e, &first);
        return -1;
    }
    return 0;
}

/* every other object: logs/, pins/, removed/ and what a newer coffer writes; locks stay */
static int copy_others(struct mirror *mi, struct cf_err *e)
{
    for (size_t i = 0; i < mi->src.n; i++) {
        const struct keyent *o = &mi->src.v[i];
        struct repo_key k;
        switch (repo_key_parse(o->key, &k)) {
        case REPO_KEY_REPO_JSON:
        case REPO_KEY_LOCK:
        case REPO_KEY_MANIFEST:
        case REPO_KEY_DATA:
        case REPO_KEY_BACKUP_OTHER:
            continue;
        default:
            break;
        }
        if (!missing(mi, o->key, o->size) || copy_object(mi, o->key, o->size, NULL, e) == 0)
            continue;
        if (e->code != CF_E_NOTFOUND)
            return -1;
        cf_err_clear(e);   /* removed since the listing (an unpin): nothing to copy */
    }
    return 0;
}

int repo_mirror_sync(struct repo *r, const struct ini_section *m, bool create,
                     struct repo_mirror_stats *st, struct cf_err *e)
{
    struct mirror mi = { .r = r, .sec = m, .st = st };
    struct buf json = BUF_INIT;
    struct cf_err damaged = CF_ERR_INIT;
    bool have;
    int rc = -1;

    memset(st, 0, sizeof(*st));
    if (mirror_open(r, m, &mi.t, &json, &have, e) != 0)
        goto out;
    if (!have && !create) {
        cf_err_set(e, CF_E_NOTFOUND, "it holds no repository yet; HINT: its first copy is made "
                   "by 'catalog sync %s' (a local mirror on a mount point: check that it is "
                   "mounted)", m->name);
        goto out;
    }
    if (copy_repo_json(&mi, &json, have, e) != 0 || keyset_load(r->t, &mi.src, e) != 0 ||
        keyset_load(mi.t, &mi.dst, e) != 0)
        goto out;
    mi.buf = cf_malloc(COPY_BUF);
    if (copy_backups(&mi, e) != 0) {
        if (e->code != CF_E_CORRUPT)
            goto out;
        cf_err_keep(&damaged, e);   /* the others are copied all the same */
        cf_err_clear(e);
    }
    if (copy_others(&mi, e) != 0)
        goto out;
    if (damaged.code != CF_E_OK) {
        cf_err_keep(e, &damaged);
        if (st->damaged > 1)
            cf_err_ctx(e, "%zu backups not copied, the first", st->damaged);
        goto out;
    }
    rc = 0;
out:
    if (rc != 0) {
        size_t n = strlen(e->msg);
        if (strstr(e->msg, "HINT") == NULL && e->code == CF_E_CORRUPT)
            snprintf(e->msg + n, sizeof(e->msg) - n, "; HINT: run 'catalog verify --all' on "
                     "the primary; everything else was copied");
        cf_err_ctx(e, "mirror %s (%s)", m->name, mi.t ? target_describe(mi.t) : "not opened");
    }
    free(mi.buf);
    keyset_free(&mi.src);
    keyset_free(&mi.dst);
    buf_free(&json);
    target_close(mi.t);
    return rc;
}

int repo_mirror_check(struct repo *r, const struct ini_section *m, struct cf_err *e)
{
    struct target *t = NULL;
    struct buf json = BUF_INIT;
    bool have;
    int rc = mirror_open(r, m, &t, &json, &have, e);

    if (rc != 0)
        cf_err_ctx(e, "mirror %s (%s)", m->name, t ? target_describe(t) : "not opened");
    buf_free(&json);
    target_close(t);
    return rc;
}

int repo_mirror_lag(struct repo *r, const struct ini_section *m, struct repo_mirror_lag *out,
                    struct cf_err *e)
{
    struct target *t = NULL;
    struct buf json = BUF_INIT;
    struct keyset src = { 0 }, dst = { 0 };
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (ini_get_duration(m, "max-lag", REPO_MIRROR_MAX_LAG, &out->max_lag, e) != 0 ||
        mirror_open(r, m, &t, &json, &out->initialised, e) != 0 ||
        keyset_load(r->t, &src, e) != 0 || keyset_load(t, &dst, e) != 0)
        goto out;
    for (size_t i = 0; i < dst.n; i++) {
        struct repo_key k;
        if (repo_key_parse(dst.v[i].key, &k) == REPO_KEY_MANIFEST)
            out->backups++;
    }
    for (size_t i = 0; i < src.n; i++) {
        struct repo_key k;
        time_t when;
        if (repo_key_parse(src.v[i].key, &k) != REPO_KEY_MANIFEST ||
            keyset_find(&dst, src.v[i].key) != NULL || time_parse_compact(k.id, &when) != 0)
            continue;
        char *rkey = cf_asprintf("removed/%s/%s", k.source, k.id);
        bool removed = keyset_find(&dst, rkey) != NULL;
        free(rkey);
        if (removed)
            continue;
        out->missing++;
        if (out->oldest_missing == 0 || when < out->oldest_missing) {
            out->oldest_missing = when;
            snprintf(out->oldest_id, sizeof(out->oldest_id), "%s", k.id);
            snprintf(out->oldest_source, sizeof(out->oldest_source), "%s", k.source);
        }
    }
    rc = 0;
out:
    if (rc != 0)
        cf_err_ctx(e, "mirror %s (%s)", m->name, t ? target_describe(t) : "not opened");
    keyset_free(&src);
    keyset_free(&dst);
    buf_free(&json);
    target_close(t);
    return rc;
}
