/* repo_drill.c - small sealed JSON documents (the manifest's form), and the drill reports
 * stored under drills/ (docs/FORMAT.md "drills/"). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/util.h"
#include "../crypto/seal.h"
#include "repo_int.h"

#define DRILL_MAX (4u << 20)

void repo_seal_buf(const struct seal_key *sk, uint8_t kind, const void *p, size_t n,
                   struct buf *obj)
{
    unsigned char *ct = cf_malloc(SEAL_MSG_MAX + SEAL_MSG_OVERHEAD);
    const unsigned char *b = p;
    size_t off = 0;
    struct seal_w w;

    seal_begin(&w, sk, kind, 0);
    buf_append(obj, w.hdr, w.hdr_len);
    do {
        size_t k = n - off > SEAL_MSG_MAX ? SEAL_MSG_MAX : n - off;
        bool last = off + k == n;
        size_t c = seal_push(&w, b + off, k, last ? SEAL_TAG_FINAL : SEAL_TAG_MESSAGE, ct);
        buf_append(obj, ct, c);
        off += k;
    } while (off < n);
    sodium_memzero(&w, sizeof(w));
    free(ct);
}

int repo_sealed_put(struct repo *r, const struct seal_key *sk, const char *key, const char *text,
                    struct cf_err *e)
{
    struct buf obj = BUF_INIT;
    int rc;

    repo_seal_buf(sk, SEAL_MANIFEST, text, strlen(text), &obj);
    rc = target_put_buf(r->t, key, obj.data, obj.len, 0, e);
    buf_free(&obj);
    return rc;
}

int repo_sealed_get(struct repo *r, const char *key, const char *id, const char *what,
                    size_t max, json_t **out, struct cf_err *e)
{
    struct buf raw = BUF_INIT, plain = BUF_INIT;
    struct seal_key sk;
    struct seal_r sr;
    struct seal_mem m;
    unsigned char *pt = NULL, tag = 0;
    size_t len;
    json_error_t jerr;
    int rc = -1, k;

    *out = NULL;
    memset(&sk, 0, sizeof(sk));
    memset(&sr, 0, sizeof(sr));
    if (target_get_buf(r->t, key, max, &raw, e) != 0)
        goto out;
    rc = -2;   /* from here on, the object is there but damaged */
    m.p = (const unsigned char *)raw.data;
    m.left = raw.len;
    if (seal_open(&sr, seal_mem_read, &m, &r->keys, &sk, SEAL_MANIFEST, 0, id, e) != 0)
        goto out;
    pt = cf_malloc(SEAL_MSG_MAX);
    while ((k = seal_next(&sr, pt, &len, &tag, e)) == 1)
        buf_append(&plain, pt, len);
    if (k < 0)
        goto out;
    if (tag != SEAL_TAG_FINAL) {
        cf_err_set(e, CF_E_CORRUPT, "%s does not end with its final message", what);
        goto out;
    }
    *out = json_loadb(plain.data ? plain.data : "", plain.len, 0, &jerr);
    if (*out == NULL || !json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        cf_err_set(e, CF_E_CORRUPT, "%s is not valid JSON: %s", what, jerr.text);
        goto out;
    }
    rc = 0;
out:
    free(pt);
    seal_r_free(&sr);
    seal_key_wipe(&sk);
    if (plain.data)
        sodium_memzero(plain.data, plain.cap);
    buf_free(&plain);
    buf_free(&raw);
    return rc;
}

char *repo_key_drill(const char *subject, const char *id)
{
    return cf_asprintf("drills/%s/%s", subject, id);
}

int repo_drill_save(struct repo *r, const char *subject, const char *id, const char *json,
                    struct cf_err *e)
{
    struct seal_key sk;
    char *key = repo_key_drill(subject, id);
    int rc = -1;

    memset(&sk, 0, sizeof(sk));
    if (seal_key_new(&sk, &r->keys, id, e) == 0 && repo_sealed_put(r, &sk, key, json, e) == 0)
        rc = 0;
    else
        cf_err_ctx(e, "unable to store the drill report %s", key);
    seal_key_wipe(&sk);
    free(key);
    return rc;
}

int repo_drill_list(struct repo *r, const char *subject, struct repo_ref **out, size_t *n,
                    struct cf_err *e)
{
    char *prefix = subject ? cf_asprintf("drills/%s/", subject) : cf_strdup("drills/");
    int rc = repo_refs_list(r, prefix, REPO_KEY_DRILL, "drills", out, n, e);
    free(prefix);
    return rc;
}

int repo_drill_load(struct repo *r, const char *subject, const char *id, json_t **out,
                    struct cf_err *e)
{
    char *key = repo_key_drill(subject, id);
    int rc = 0;
    if (!repo_can_read(r))
        rc = cf_err_set(e, CF_E_KEY, "this repository is sealed to a public key: reading drill "
                                     "reports needs the secret key; HINT: pass --secret-key-file FILE");
    else if ((rc = repo_sealed_get(r, key, id, "drill report", DRILL_MAX, out, e)) != 0)
        rc = rc == -2 ? cf_err_ctx(e, "drill report %s is damaged", key) : -1;
    free(key);
    return rc;
}
