/* s3_list.c - stat, list and remove in S3, and the sweep of unfinished uploads (see
 * s3_int.h).
 *
 * sweep: ListMultipartUploads under the prefix; uploads older than the given age (left by
 * killed writers) are aborted. */
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/log.h"
#include "../../core/util.h"
#include "s3_int.h"
#include "s3_xml.h"

/* ---- stat, list, remove ---- */

int s3_stat(void *priv, const char *key, uint64_t *size, struct cf_err *e)
{
    struct s3 *s = priv;
    char *fk;
    int rc;

    if (s3_check_key(key, e) != 0)
        return -1;
    fk = s3_full_key(s, key);
    rc = s3_head_size(s, fk, size, e);
    free(fk);
    return rc;
}

int s3_list(void *priv, const char *prefix, target_list_cb cb, void *arg,
            struct cf_err *e)
{
    struct s3 *s = priv;
    struct buf resp = BUF_INIT, token = BUF_INIT, key = BUF_INIT, size = BUF_INIT,
               trunc = BUF_INIT;
    char *fp = s3_full_key(s, prefix);
    size_t plen = strlen(s->prefix);
    int rc = -1;

    for (;;) {
        struct s3_pair q[4] = { { "list-type", "2" }, { "prefix", fp }, { "max-keys", "1000" } };
        struct s3_req rq = { 0 };
        size_t nq = 3;
        if (token.len)
            q[nq++] = (struct s3_pair){ "continuation-token", token.data };
        rq.method = "GET";
        rq.query = q;
        rq.nquery = nq;
        rq.resp = &resp;
        if (s3_call(s, &rq, e) != 0) {
            cf_err_ctx(e, "unable to list '%s'", fp);
            goto out;
        }
        const char *p = resp.data ? resp.data : "", *end = p + resp.len, *vs, *ve;
        while (s3_xml_find(&p, end, "Contents", &vs, &ve)) {
            if (!s3_xml_get(vs, ve, "Key", &key) || !s3_xml_get(vs, ve, "Size", &size)) {
                cf_err_set(e, CF_E_NET, "s3 list '%s': an entry without Key or Size", fp);
                goto out;
            }
            if (key.len < plen || strncmp(key.data, s->prefix, plen) != 0)
                continue;
            if (cb(arg, key.data + plen, strtoull(size.data, NULL, 10)) != 0) {
                if (e->code == CF_E_OK)
                    cf_err_set(e, CF_E_INTERNAL, "listing stopped by its caller");
                goto out;
            }
        }
        const char *b = resp.data ? resp.data : "";
        if (!s3_xml_get(b, b + resp.len, "IsTruncated", &trunc) ||
            strcmp(trunc.data, "true") != 0)
            break;
        if (!s3_xml_get(b, b + resp.len, "NextContinuationToken", &token) || token.len == 0) {
            cf_err_set(e, CF_E_NET, "s3 list '%s': truncated without a continuation token", fp);
            goto out;
        }
    }
    rc = 0;
out:
    free(fp);
    buf_free(&resp);
    buf_free(&token);
    buf_free(&key);
    buf_free(&size);
    buf_free(&trunc);
    return rc;
}

int s3_remove(void *priv, const char *key, struct cf_err *e)
{
    struct s3 *s = priv;
    struct s3_req rq = { 0 };
    struct cf_err one = CF_ERR_INIT;
    int rc = 0;

    if (s3_check_key(key, e) != 0)
        return -1;
    rq.method = "DELETE";
    rq.key = s3_full_key(s, key);
    if (s3_call(s, &rq, &one) != 0 &&
        !(one.code == CF_E_NOTFOUND && strcmp(rq.errcode, "NoSuchBucket") != 0)) {
        cf_err_keep(e, &one);
        rc = -1;
    }
    free((char *)rq.key);
    return rc;
}

/* DeleteObjects, 1000 keys a request, quiet: the answer lists only the keys that failed */
int s3_remove_many(void *priv, const char *const *keys, size_t n, struct cf_err *e)
{
    struct s3 *s = priv;
    struct buf body = BUF_INIT, resp = BUF_INIT, key = BUF_INIT, code = BUF_INIT,
               msg = BUF_INIT;
    int rc = -1;

    for (size_t done = 0; done < n;) {
        size_t k = n - done < 1000 ? n - done : 1000;
        unsigned char md5[EVP_MAX_MD_SIZE];
        unsigned md5_len = 0;
        char md5_b64[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
        const struct s3_pair q[] = { { "delete", NULL } };
        const struct s3_pair h[] = { { "content-md5", md5_b64 } };
        struct s3_req rq = { 0 };

        buf_reset(&body);
        buf_puts(&body, "<Delete><Quiet>true</Quiet>");
        for (size_t i = done; i < done + k; i++) {
            if (s3_check_key(keys[i], e) != 0)
                goto out;
            buf_puts(&body, "<Object><Key>");
            s3_xml_escape(&body, s->prefix);
            s3_xml_escape(&body, keys[i]);
            buf_puts(&body, "</Key></Object>");
        }
        buf_puts(&body, "</Delete>");
        /* S3 refuses DeleteObjects without a Content-MD5 (or x-amz-checksum) of the body */
        CF_ASSERT(EVP_Digest(body.data, body.len, md5, &md5_len, EVP_md5(), NULL) == 1);
        sodium_bin2base64(md5_b64, sizeof(md5_b64), md5, md5_len,
                          sodium_base64_VARIANT_ORIGINAL);
        rq.method = "POST";
        rq.query = q;
        rq.nquery = 1;
        rq.hdr = h;
        rq.nhdr = 1;
        rq.body = body.data;
        rq.body_len = body.len;
        rq.resp = &resp;
        if (s3_call(s, &rq, e) != 0) {
            cf_err_ctx(e, "unable to delete %zu objects", k);
            goto out;
        }
        const char *p = resp.data ? resp.data : "", *end = p + resp.len, *vs, *ve;
        while (s3_xml_find(&p, end, "Error", &vs, &ve)) {
            s3_xml_get(vs, ve, "Key", &key);
            s3_xml_get(vs, ve, "Code", &code);
            s3_xml_get(vs, ve, "Message", &msg);
            if (code.data != NULL && strcmp(code.data, "NoSuchKey") == 0)
                continue;   /* already gone */
            cf_err_set(e, CF_E_NET, "s3 DeleteObjects: '%s' was not deleted: %s: %s",
                       key.data ? key.data : "?", code.data ? code.data : "?",
                       msg.data ? msg.data : "");
            goto out;
        }
        log_debug("s3 deleted objects=%zu", k);
        done += k;
    }
    rc = 0;
out:
    buf_free(&body);
    buf_free(&resp);
    buf_free(&key);
    buf_free(&code);
    buf_free(&msg);
    return rc;
}

int s3_abort_upload(struct s3 *s, const char *fkey, const char *upload_id, struct cf_err *e)
{
    const struct s3_pair q[] = { { "uploadId", upload_id } };
    struct s3_req rq = { 0 };
    struct cf_err one = CF_ERR_INIT;
    rq.method = "DELETE";
    rq.key = fkey;
    rq.query = q;
    rq.nquery = 1;
    if (s3_call(s, &rq, &one) != 0 && strcmp(rq.errcode, "NoSuchUpload") != 0) {
        cf_err_keep(e, &one);
        return -1;
    }
    return 0;
}

/* ListMultipartUploads under the prefix, page by page; abort those older than @age */
int s3_sweep(void *priv, int64_t age, unsigned *n, struct cf_err *e)
{
    struct s3 *s = priv;
    struct buf resp = BUF_INIT, key = BUF_INIT, id = BUF_INIT, when = BUF_INIT,
               kmark = BUF_INIT, imark = BUF_INIT, trunc = BUF_INIT;
    time_t now = time(NULL);
    int rc = -1;

    for (;;) {
        struct s3_pair q[4] = { { "uploads", NULL }, { "prefix", s->prefix } };
        struct s3_req rq = { 0 };
        size_t nq = 2;
        if (kmark.len)
            q[nq++] = (struct s3_pair){ "key-marker", kmark.data };
        if (imark.len)
            q[nq++] = (struct s3_pair){ "upload-id-marker", imark.data };
        rq.method = "GET";
        rq.query = q;
        rq.nquery = nq;
        rq.resp = &resp;
        if (s3_call(s, &rq, e) != 0) {
            cf_err_ctx(e, "unable to list unfinished uploads");
            goto out;
        }
        const char *p = resp.data ? resp.data : "", *end = p + resp.len, *vs, *ve;
        while (s3_xml_find(&p, end, "Upload", &vs, &ve)) {
            time_t t;
            struct cf_err te = CF_ERR_INIT;
            if (!s3_xml_get(vs, ve, "Key", &key) || !s3_xml_get(vs, ve, "UploadId", &id) ||
                !s3_xml_get(vs, ve, "Initiated", &when) ||
                time_parse_rfc3339(when.data, &t, &te) != 0) {
                cf_err_set(e, CF_E_NET, "s3 list of uploads: an entry without Key, UploadId "
                                        "or a readable Initiated time");
                goto out;
            }
            if ((int64_t)(now - t) < age)
                continue;
            if (s3_abort_upload(s, key.data, id.data, e) != 0) {
                cf_err_ctx(e, "unable to abort the unfinished upload of '%s'", key.data);
                goto out;
            }
            log_info("s3 unfinished upload aborted key=%s started=%s", key.data, when.data);
            (*n)++;
        }
        const char *b = resp.data ? resp.data : "";
        if (!s3_xml_get(b, b + resp.len, "IsTruncated", &trunc) ||
            strcmp(trunc.data, "true") != 0)
            break;
        if (!s3_xml_get(b, b + resp.len, "NextKeyMarker", &kmark) ||
            !s3_xml_get(b, b + resp.len, "NextUploadIdMarker", &imark)) {
            cf_err_set(e, CF_E_NET, "s3 list of uploads: truncated without markers");
            goto out;
        }
    }
    rc = 0;
out:
    buf_free(&resp);
    buf_free(&key);
    buf_free(&id);
    buf_free(&when);
    buf_free(&kmark);
    buf_free(&imark);
    buf_free(&trunc);
    return rc;
}
