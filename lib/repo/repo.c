/* repo.c - repo.json, unlocking the keys, and the names of backups on the target. */
#include "repo.h"
#include "repo_int.h"

#include <string.h>
#include <unistd.h>

#include "../core/log.h"
#include "../core/util.h"
#include "../crypto/seal.h"

#define MANIFEST_MAX (64u << 20)

struct target *repo_target(struct repo *r) { return r->t; }
const struct keyring *repo_keys(const struct repo *r) { return &r->keys; }
bool repo_can_read(const struct repo *r) { return keys_can_unwrap(&r->keys); }
const char *repo_id(const struct repo *r) { return r->index_id; }
const struct conf *repo_conf(const struct repo *r) { return r->conf; }

/* the key mode the configuration asks for, and the file that goes with it */
int repo_conf_key_mode(const struct ini_section *s, enum key_mode *mode, const char **file,
                       struct cf_err *e)
{
    const char *kf, *pf, *pub;
    if (ini_get_str(s, "key-file", NULL, &kf, e) != 0 ||
        ini_get_str(s, "passphrase-file", NULL, &pf, e) != 0 ||
        ini_get_str(s, "public-key-file", NULL, &pub, e) != 0)
        return -1;
    if (kf) {
        *mode = KEY_MODE_KEYFILE;
        *file = kf;
    } else if (pf) {
        *mode = KEY_MODE_PASSPHRASE;
        *file = pf;
    } else if (pub) {
        *mode = KEY_MODE_PUBLIC;
        *file = pub;
    } else {
        return ini_err(s, NULL, e, "give one of key-file, passphrase-file or public-key-file");
    }
    return 0;
}

int repo_read_passphrase(const char *file, struct buf *pass, struct cf_err *e)
{
    if (fs_read_secret(file, "passphrase file", pass, e) == 0)
        return 0;
    e->code = CF_E_KEY;   /* missing, loose modes or empty: as for a key file */
    return -1;
}

/* version 1: the master key is Argon2id(passphrase) */
static int derive_from_passphrase_file(const char *file, const unsigned char *salt, uint64_t ops,
                                       size_t mem, unsigned char out[KEY_BYTES], struct cf_err *e)
{
    struct buf pass = BUF_INIT;
    int rc = -1;
    if (repo_read_passphrase(file, &pass, e) == 0 &&
        keys_derive(pass.data, pass.len, salt, ops, mem, out, e) == 0)
        rc = 0;
    if (pass.data)
        sodium_memzero(pass.data, pass.cap);
    buf_free(&pass);
    return rc;
}

int repo_init(const struct conf *c, const char *generate_key, struct cf_err *e)
{
    struct target *t = NULL;
    struct keyring k = { 0 };
    enum key_mode mode;
    const char *file;
    unsigned char rid[16];
    char idhex[33], now[32];
    json_t *doc = NULL, *key;
    char *text = NULL;
    int rc = -1;
    bool made_key = false;

    if (c->target_name != NULL)
        return cf_err_set(e, CF_E_USAGE,
                          "init creates the repository of [repository], not a mirror; HINT: a "
                          "mirror's repo.json is copied by its first 'catalog sync %s'",
                          c->target_name);
    if (repo_conf_key_mode(c->repository, &mode, &file, e) != 0)
        return -1;
    if (generate_key) {
        if (mode != KEY_MODE_KEYFILE)
            return cf_err_set(e, CF_E_USAGE,
                              "--generate-key makes a key file, but the configuration uses %s; "
                              "HINT: set key-file = %s in [repository]",
                              mode == KEY_MODE_PUBLIC ? "public-key-file" : "passphrase-file",
                              generate_key);
        if (strcmp(generate_key, file) != 0)
            return cf_err_set(e, CF_E_USAGE,
                              "--generate-key '%s' differs from key-file '%s' in the configuration",
                              generate_key, file);
    }
    if (target_open(c->target, &t, e) != 0)
        return -1;
    {
        uint64_t size;
        struct cf_err e2 = CF_ERR_INIT;
        if (target_stat(t, REPO_JSON, &size, &e2) == 0) {
            cf_err_set(e, CF_E_EXISTS, "a repository already exists at %s", target_describe(t));
            goto out;
        }
        if (e2.code != CF_E_NOTFOUND) {
            *e = e2;
            goto out;
        }
    }
    if (generate_key) {
        if (keys_generate_file(generate_key, e) != 0)
            goto out;
        made_key = true;
        log_info("key generated file=%s: keep a copy of it away from this host, without it "
                 "no backup can be restored", generate_key);
    }

    randombytes_buf(rid, sizeof(rid));
    hex_encode(rid, sizeof(rid), idhex);
    time_format_rfc3339(time(NULL), now, sizeof(now));
    if (mode == KEY_MODE_PUBLIC) {
        char pkhex[2 * crypto_box_PUBLICKEYBYTES + 1];
        if (keys_load_public(file, k.pk, e) != 0)
            goto out;
        hex_encode(k.pk, sizeof(k.pk), pkhex);
        key = json_pack("{s:s,s:s}", "mode", key_mode_name(mode), "public_key", pkhex);
    } else {
        /* a random master key, held in a first slot for the configuration's key */
        randombytes_buf(k.master, sizeof(k.master));
        if (repo_slots_new_key(idhex, mode, file, k.master, &key, e) != 0)
            goto out;
    }
    doc = json_pack("{s:s,s:i,s:s,s:s,s:o}", "format", REPO_FORMAT, "version", REPO_VERSION, "id",
                    idhex, "created", now, "key", key);
    text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (target_put_buf(t, REPO_JSON, text, strlen(text), TARGET_PUT_NOREPLACE, e) != 0) {
        cf_err_ctx(e, "unable to create the repository at %s", target_describe(t));
        goto out;
    }
    log_info("repository created id=%s at=%s key=%s", idhex, target_describe(t),
             key_mode_name(mode));
    rc = 0;
out:
    if (rc != 0 && made_key)
        unlink(generate_key);
    free(text);
    json_decref(doc);
    keyring_wipe(&k);
    target_close(t);
    return rc;
}

static int unlock(struct repo *r, json_t *key, const struct repo_unlock *u, struct cf_err *e)
{
    enum key_mode want, have;
    const char *file, *mode_s = json_string_value(json_object_get(key, "mode"));
    const char *check = json_string_value(json_object_get(key, "check"));

    if (repo_conf_key_mode(r->conf->repository, &want, &file, e) != 0)
        return -1;
    if (r->version >= 2 && mode_s != NULL && strcmp(mode_s, "slots") == 0) {
        if (want == KEY_MODE_PUBLIC)
            return cf_err_set(e, CF_E_CONFIG,
                              "the repository's key mode is 'slots' (key files and passphrases) "
                              "but the configuration gives a public-key-file");
        if (u && u->secret_key_file)
            return cf_err_set(e, CF_E_USAGE,
                              "--secret-key-file is only for repositories sealed to a public key");
        return repo_slots_unlock(r, key, want, file, e);
    }
    if (mode_s == NULL || key_mode_parse(mode_s, &have) != 0 ||
        (r->version >= 2 && have != KEY_MODE_PUBLIC))
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: unknown key mode");
    if (want != have)
        return cf_err_set(e, CF_E_CONFIG,
                          "the repository's key mode is '%s' but the configuration gives a %s",
                          mode_s,
                          want == KEY_MODE_KEYFILE ? "key-file"
                          : want == KEY_MODE_PASSPHRASE ? "passphrase-file"
                                                        : "public-key-file");
    r->keys.mode = have;
    if (have == KEY_MODE_PUBLIC) {
        unsigned char pk[crypto_box_PUBLICKEYBYTES];
        const char *pkhex = json_string_value(json_object_get(key, "public_key"));
        if (pkhex == NULL || hex_decode(pkhex, r->keys.pk, sizeof(r->keys.pk)) != 0)
            return cf_err_set(e, CF_E_CORRUPT, "repo.json: public key is malformed");
        if (keys_load_public(file, pk, e) != 0)
            return -1;
        if (memcmp(pk, r->keys.pk, sizeof(pk)) != 0)
            return cf_err_set(e, CF_E_KEY,
                              "public key file '%s' is not this repository's public key", file);
        r->keys.have_public = true;
        if (u && u->secret_key_file) {
            if (keys_load_secret(u->secret_key_file, r->keys.pk, r->keys.sk, e) != 0)
                return -1;
            r->keys.have_secret = true;
        }
        return 0;
    }
    if (u && u->secret_key_file)
        return cf_err_set(e, CF_E_USAGE,
                          "--secret-key-file is only for repositories sealed to a public key");
    if (have == KEY_MODE_KEYFILE) {
        if (keys_load_file(file, r->keys.master, e) != 0)
            return -1;
    } else {
        json_t *kdf = json_object_get(key, "kdf");
        const char *salthex = json_string_value(json_object_get(kdf, "salt"));
        json_int_t ops = json_integer_value(json_object_get(kdf, "opslimit"));
        json_int_t mem = json_integer_value(json_object_get(kdf, "memlimit"));
        unsigned char salt[KEYS_SALT_BYTES];
        if (salthex == NULL || hex_decode(salthex, salt, sizeof(salt)) != 0 || ops <= 0 ||
            mem <= 0)
            return cf_err_set(e, CF_E_CORRUPT, "repo.json: key derivation parameters malformed");
        if (derive_from_passphrase_file(file, salt, (uint64_t)ops, (size_t)mem, r->keys.master,
                                        e) != 0)
            return -1;
    }
    r->keys.have_master = true;
    if (check == NULL)
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: key check value missing");
    return keys_verify_check_value(&r->keys, check, e);
}

int repo_open(const struct conf *c, const struct repo_unlock *u, struct repo **out,
              struct cf_err *e)
{
    struct repo *r = cf_calloc(1, sizeof(*r));
    struct buf b = BUF_INIT;
    json_t *doc = NULL;
    json_error_t jerr;

    r->conf = c;
    if (target_open(c->target, &r->t, e) != 0)
        goto fail;
    if (target_get_buf(r->t, REPO_JSON, 1 << 20, &b, e) != 0) {
        if (e->code == CF_E_NOTFOUND && c->target_name != NULL)
            cf_err_set(e, CF_E_NOTFOUND,
                       "no repository at %s (mirror %s); HINT: its first 'catalog sync %s' "
                       "copies the repository there", target_describe(r->t), c->target_name,
                       c->target_name);
        else if (e->code == CF_E_NOTFOUND)
            cf_err_set(e, CF_E_NOTFOUND,
                       "no repository at %s; HINT: create it with 'backupd --config FILE init'",
                       target_describe(r->t));
        goto fail;
    }
    doc = json_loadb(b.data, b.len, 0, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        cf_err_set(e, CF_E_CORRUPT, "repo.json at %s is not valid JSON (line %d: %s)",
                   target_describe(r->t), jerr.line, jerr.text);
        goto fail;
    }
    const char *fmt = json_string_value(json_object_get(doc, "format"));
    json_int_t ver = json_integer_value(json_object_get(doc, "version"));
    const char *id = json_string_value(json_object_get(doc, "id"));
    if (fmt == NULL || strcmp(fmt, REPO_FORMAT) != 0 || id == NULL || strlen(id) >= sizeof(r->id)) {
        cf_err_set(e, CF_E_CORRUPT, "repo.json at %s is not a coffer repository",
                   target_describe(r->t));
        goto fail;
    }
    if (ver < 1 || ver > REPO_VERSION) {
        cf_err_set(e, CF_E_CORRUPT,
                   "repository format version %lld is not supported by this coffer (reads 1 to "
                   "%d)", (long long)ver, REPO_VERSION);
        goto fail;
    }
    r->version = (int)ver;
    snprintf(r->id, sizeof(r->id), "%s", id);
    /* a mirror holds the same id: its index rows are kept apart from the primary's */
    snprintf(r->index_id, sizeof(r->index_id), "%s%s%s", id, c->target_name ? "@" : "",
             c->target_name ? c->target_name : "");
    if (unlock(r, json_object_get(doc, "key"), u, e) != 0)
        goto fail;
    json_decref(doc);
    buf_free(&b);
    *out = r;
    return 0;
fail:
    json_decref(doc);
    buf_free(&b);
    repo_close(r);
    return -1;
}

void repo_close(struct repo *r)
{
    if (r == NULL)
        return;
    target_close(r->t);
    keyring_wipe(&r->keys);
    free(r);
}

void repo_new_id(const struct timespec *t, char out[REPO_ID_MAX])
{
    char ts[32];
    time_format_compact(t->tv_sec, ts, sizeof(ts));
    snprintf(out, REPO_ID_MAX, "%s-%03ld%05x", ts, t->tv_nsec / 1000000L,
             (unsigned)(randombytes_random() & 0xfffff));
}

char *repo_key_manifest(const char *source, const char *id)
{
    return cf_asprintf("backups/%s/%s/manifest", source, id);
}

char *repo_key_data(const char *source, const char *id, uint32_t n)
{
    return cf_asprintf("backups/%s/%s/data/%08u", source, id, n);
}

char *repo_key_backup_prefix(const char *source, const char *id)
{
    return cf_asprintf("backups/%s/%s/", source, id);
}

struct list_ctx {
    struct repo_ref *refs;
    size_t n;
};

static int list_cb(void *arg, const char *key, uint64_t size)
{
    struct list_ctx *c = arg;
    struct repo_key k;
    time_t t;
    (void)size;
    /* backups/<source>/<id>/manifest */
    if (repo_key_parse(key, &k) != REPO_KEY_MANIFEST || time_parse_compact(k.id, &t) != 0)
        return 0;
    c->refs = cf_realloc(c->refs, (c->n + 1) * sizeof(*c->refs));
    struct repo_ref *ref = &c->refs[c->n++];
    snprintf(ref->source, sizeof(ref->source), "%s", k.source);
    snprintf(ref->id, sizeof(ref->id), "%s", k.id);
    ref->time = t;
    return 0;
}

static int ref_cmp(const void *a, const void *b)
{
    const struct repo_ref *x = a, *y = b;
    int c = strcmp(x->source, y->source);
    return c ? c : strcmp(x->id, y->id);
}

int repo_list(struct repo *r, const char *source, struct repo_ref **out, size_t *n,
              struct cf_err *e)
{
    struct list_ctx c = { NULL, 0 };
    char *prefix = source ? cf_asprintf("backups/%s/", source) : cf_strdup("backups/");
    int rc = target_list(r->t, prefix, list_cb, &c, e);
    free(prefix);
    if (rc != 0) {
        free(c.refs);
        return cf_err_ctx(e, "unable to list backups at %s", target_describe(r->t));
    }
    if (c.n > 1)
        qsort(c.refs, c.n, sizeof(*c.refs), ref_cmp);
    *out = c.refs;
    *n = c.n;
    return 0;
}

struct mem_reader {
    const char *p;
    size_t left;
};

static ssize_t mem_read(void *arg, void *buf, size_t cap, struct cf_err *e)
{
    struct mem_reader *m = arg;
    (void)e;
    size_t n = cap < m->left ? cap : m->left;
    memcpy(buf, m->p, n);
    m->p += n;
    m->left -= n;
    return (ssize_t)n;
}

int repo_manifest_load(struct repo *r, const char *source, const char *id, struct manifest **out,
                       struct cf_err *e)
{
    char *key = repo_key_manifest(source, id);
    struct buf raw = BUF_INIT, plain = BUF_INIT;
    struct seal_key sk;
    struct seal_r sr;
    struct mem_reader m;
    unsigned char *pt = NULL, tag = 0;
    size_t len;
    json_error_t jerr;
    json_t *doc = NULL;
    int rc = -1, k;

    memset(&sk, 0, sizeof(sk));
    memset(&sr, 0, sizeof(sr));
    if (!repo_can_read(r)) {
        cf_err_set(e, CF_E_KEY,
                   "this repository is sealed to a public key: reading manifests needs the "
                   "secret key; HINT: pass --secret-key-file FILE");
        goto out;
    }
    if (target_get_buf(r->t, key, MANIFEST_MAX, &raw, e) != 0)
        goto out;
    m.p = raw.data;
    m.left = raw.len;
    if (seal_open(&sr, mem_read, &m, &r->keys, &sk, SEAL_MANIFEST, 0, id, e) != 0)
        goto bad;
    pt = cf_malloc(SEAL_MSG_MAX);
    while ((k = seal_next(&sr, pt, &len, &tag, e)) == 1)
        buf_append(&plain, pt, len);
    if (k < 0)
        goto bad;
    if (tag != SEAL_TAG_FINAL) {
        cf_err_set(e, CF_E_CORRUPT, "manifest does not end with its final message");
        goto bad;
    }
    doc = json_loadb(plain.data ? plain.data : "", plain.len, 0, &jerr);
    if (doc == NULL || !json_is_object(doc)) {
        cf_err_set(e, CF_E_CORRUPT, "manifest is not valid JSON: %s", jerr.text);
        goto bad;
    }
    if (manifest_from_json(doc, out, e) != 0)
        goto bad;
    /* its objects are found under the keys it was read from */
    snprintf((*out)->source, sizeof((*out)->source), "%s", source);
    snprintf((*out)->id, sizeof((*out)->id), "%s", id);
    rc = 0;
    goto out;
bad:
    cf_err_ctx(e, "manifest of backup %s/%s is damaged", source, id);
out:
    json_decref(doc);
    free(pt);
    seal_r_free(&sr);
    seal_key_wipe(&sk);
    if (plain.data)
        sodium_memzero(plain.data, plain.cap);
    buf_free(&plain);
    buf_free(&raw);
    free(key);
    return rc;
}

int repo_manifest_save(struct repo *r, const struct seal_key *sk, const struct manifest *m,
                       struct cf_err *e)
{
    json_t *manifest = manifest_to_json(m);
    if (manifest == NULL)
        return cf_err_set(e, CF_E_INTERNAL, "unable to build the manifest");
    char *key = repo_key_manifest(m->source, m->id);
    char *text = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
    size_t tlen = strlen(text), off = 0;
    struct seal_w w;
    struct buf obj = BUF_INIT;
    unsigned char *ct = cf_malloc(SEAL_MSG_MAX + SEAL_MSG_OVERHEAD);
    int rc;

    json_decref(manifest);

    seal_begin(&w, sk, SEAL_MANIFEST, 0);
    buf_append(&obj, w.hdr, w.hdr_len);
    do {
        size_t n = tlen - off > SEAL_MSG_MAX ? SEAL_MSG_MAX : tlen - off;
        bool last = off + n == tlen;
        size_t c = seal_push(&w, text + off, n, last ? SEAL_TAG_FINAL : SEAL_TAG_MESSAGE, ct);
        buf_append(&obj, ct, c);
        off += n;
    } while (off < tlen);
    rc = target_put_buf(r->t, key, obj.data, obj.len, 0, e);
    sodium_memzero(&w, sizeof(w));
    sodium_memzero(text, tlen);
    free(text);
    free(ct);
    buf_free(&obj);
    free(key);
    return rc;
}

int repo_backup_remove(struct repo *r, const char *source, const char *id, struct cf_err *e)
{
    char *mkey = repo_key_manifest(source, id);
    char *prefix = repo_key_backup_prefix(source, id);
    int rc = -1;

    /* the manifest first: from then on the backup is not listed, only debris is left */
    if (target_remove(r->t, mkey, e) == 0 && target_remove_prefix(r->t, prefix, NULL, e) == 0)
        rc = 0;
    else
        cf_err_ctx(e, "unable to remove backup %s/%s", source, id);
    free(prefix);
    free(mkey);
    return rc;
}
