/* s3.c - a repository in an S3-compatible bucket (Amazon S3, MinIO, Ceph RGW): the ops table,
 * open/close/describe, the [repository] keys and the credentials. What each other file of
 * the driver does is listed in s3_int.h. */
#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/util.h"
#include "s3_int.h"

#define S3_MAX_PART (5ull << 30)

static const char *const s3_keys[] = {
    "endpoint", "bucket", "prefix", "region", "uri-style", "access-key-id-file",
    "secret-access-key-file", "session-token-file", "ca-file", "storage-class",
    "upload-concurrency", "part-size", "retries", "timeout", "payload-signing", NULL,
};

char *s3_full_key(const struct s3 *s, const char *key)
{
    return cf_asprintf("%s%s", s->prefix, key);
}

int s3_check_key(const char *key, struct cf_err *e)
{
    if (*key == '\0' || *key == '/' || strstr(key, "//") != NULL)
        return cf_err_set(e, CF_E_INTERNAL, "bad object key '%s'", key);
    return 0;
}

/* ---- open / close ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *arg)
{
    struct s3 *s = arg;
    (void)h;
    (void)a;
    pthread_mutex_lock(&s->locks[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
    struct s3 *s = arg;
    (void)h;
    pthread_mutex_unlock(&s->locks[d]);
}

static int read_cred(const struct ini_section *sec, const char *key, const char *env,
                     const char *what, struct buf *out, bool *from_file, struct cf_err *e)
{
    const char *path = NULL, *v;
    if (ini_get_str(sec, key, NULL, &path, e) != 0)
        return -1;
    if (path != NULL) {
        *from_file = true;
        if (fs_read_secret(path, what, out, e) != 0) {
            char msg[sizeof(e->msg)];
            snprintf(msg, sizeof(msg), "%s", e->msg);
            return ini_err(sec, key, e, "%s", msg);
        }
        return 0;
    }
    v = env ? getenv(env) : NULL;
    if (v != NULL && *v != '\0')
        buf_puts(out, v);
    return 0;
}

static void s3_close(void *priv)
{
    struct s3 *s = priv;
    if (s == NULL)
        return;
    for (unsigned i = 0; i < s->nhandles; i++)
        curl_easy_cleanup(s->handles[i]);
    free(s->handles);
    pthread_mutex_destroy(&s->handle_mu);
    if (s->share != NULL)
        curl_share_cleanup(s->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&s->locks[i]);
    for (unsigned i = 0; i < s->npool; i++)
        free(s->pool[i]);
    free(s->pool);
    pthread_mutex_destroy(&s->pool_mu);
    pthread_cond_destroy(&s->pool_cv);
    free(s->scheme_host);
    free(s->host);
    free(s->bucket_path);
    free(s->bucket);
    free(s->prefix);
    free(s->region);
    free(s->storage_class);
    free(s->ca_file);
    free(s->desc);
    if (s->secret.data)
        sodium_memzero(s->secret.data, s->secret.len);
    if (s->token.data)
        sodium_memzero(s->token.data, s->token.len);
    buf_free(&s->access_key);
    buf_free(&s->secret);
    buf_free(&s->token);
    free(s);
}

static bool bucket_name_ok(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63)
        return false;
    for (const char *p = b; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
              *p == '.' || *p == '_'))
            return false;
    return true;
}

static int s3_open(const struct ini_section *sec, void **priv, struct cf_err *e)
{
    const char *endpoint, *bucket, *prefix, *region, *style, *ca, *sc, *signing;
    uint64_t part;
    long conc, retries;
    int64_t timeout;
    bool id_file = false, secret_file = false, token_file = false;
    struct s3 *s = cf_calloc(1, sizeof(*s));

    pthread_once(&curl_once, curl_init_once);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&s->locks[i], NULL);
    pthread_mutex_init(&s->pool_mu, NULL);
    pthread_cond_init(&s->pool_cv, NULL);
    pthread_mutex_init(&s->handle_mu, NULL);
    if (sodium_init() < 0) {
        cf_err_set(e, CF_E_INTERNAL, "unable to initialise libsodium");
        goto fail;
    }
    if (ini_require_str(sec, "endpoint", &endpoint, e) != 0 ||
        ini_require_str(sec, "bucket", &bucket, e) != 0 ||
        ini_get_str(sec, "prefix", "", &prefix, e) != 0 ||
        ini_get_str(sec, "region", "us-east-1", &region, e) != 0 ||
        ini_get_str(sec, "uri-style", NULL, &style, e) != 0 ||
        ini_get_str(sec, "ca-file", NULL, &ca, e) != 0 ||
        ini_get_str(sec, "storage-class", NULL, &sc, e) != 0 ||
        ini_get_size(sec, "part-size", 8ull << 20, S3_MIN_PART, S3_MAX_PART, &part, e) != 0 ||
        ini_get_int(sec, "upload-concurrency", 4, 1, 64, &conc, e) != 0 ||
        ini_get_int(sec, "retries", 4, 0, 100, &retries, e) != 0 ||
        ini_get_duration(sec, "timeout", 60, &timeout, e) != 0 ||
        ini_get_str(sec, "payload-signing", "auto", &signing, e) != 0)
        goto fail;

    const char *hp;
    bool https;
    if (strncmp(endpoint, "https://", 8) == 0) {
        hp = endpoint + 8;
        https = true;
    } else if (strncmp(endpoint, "http://", 7) == 0) {
        hp = endpoint + 7;
        https = false;
    } else {
        ini_err(sec, "endpoint", e, "endpoint: '%s' must start with https:// or http://",
                endpoint);
        goto fail;
    }
    size_t hlen = strcspn(hp, "/?#");
    if (hlen == 0 || (hp[hlen] != '\0' && strcmp(hp + hlen, "/") != 0) ||
        memchr(hp, '@', hlen) != NULL) {
        ini_err(sec, "endpoint", e,
                "endpoint: '%s' must be a scheme and host[:port] only (no path, no user)",
                endpoint);
        goto fail;
    }
    if (!bucket_name_ok(bucket)) {
        ini_err(sec, "bucket", e, "bucket: '%s' is not a valid bucket name", bucket);
        goto fail;
    }
    if (strcmp(signing, "on") == 0 || (strcmp(signing, "auto") == 0 && !https)) {
        s->sign_payload = true;
    } else if (strcmp(signing, "off") != 0 && strcmp(signing, "auto") != 0) {
        ini_err(sec, "payload-signing", e, "payload-signing: '%s' is not auto, on or off",
                signing);
        goto fail;
    }
    if (timeout < 1 || timeout > 3600) {
        ini_err(sec, "timeout", e, "timeout: must be between 1s and 1h");
        goto fail;
    }
    if (*region == '\0' || strpbrk(region, "/ \t") != NULL) {
        ini_err(sec, "region", e, "region: '%s' is not a region name", region);
        goto fail;
    }
    if (sc != NULL) {
        for (const char *p = sc; *p; p++)
            if (!(isupper((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_')) {
                ini_err(sec, "storage-class", e,
                        "storage-class: '%s' is not a storage class (STANDARD, STANDARD_IA, ...)",
                        sc);
                goto fail;
            }
    }
    char *host = cf_strndup(hp, hlen);
    bool host_style;
    if (style == NULL)
        host_style = strstr(host, "amazonaws.com") != NULL;
    else if (strcmp(style, "host") == 0)
        host_style = true;
    else if (strcmp(style, "path") == 0)
        host_style = false;
    else {
        free(host);
        ini_err(sec, "uri-style", e, "uri-style: '%s' is neither path nor host", style);
        goto fail;
    }
    if (host_style) {
        s->host = cf_asprintf("%s.%s", bucket, host);
        s->bucket_path = cf_strdup("");
        free(host);
    } else {
        struct buf bp = BUF_INIT;
        s->host = host;
        buf_append(&bp, "/", 1);
        s3_uri_encode(&bp, bucket, false);
        s->bucket_path = bp.data;
    }
    s->scheme_host = cf_asprintf("%s%s", https ? "https://" : "http://", s->host);
    s->bucket = cf_strdup(bucket);
    while (*prefix == '/')
        prefix++;
    s->prefix = *prefix && prefix[strlen(prefix) - 1] != '/' ? cf_asprintf("%s/", prefix)
                                                            : cf_strdup(prefix);
    s->region = cf_strdup(region);
    s->storage_class = sc ? cf_strdup(sc) : NULL;
    if (ca != NULL) {
        if (access(ca, R_OK) != 0) {
            ini_err(sec, "ca-file", e, "ca-file: unable to read '%s': %s", ca, strerror(errno));
            goto fail;
        }
        s->ca_file = cf_strdup(ca);
    }
    s->part_size = part;
    s->concurrency = (unsigned)conc;
    /* one upload-concurrency of parts in flight, the part being filled, and one for the
     * next object's writer while the last part of the previous one is sent */
    s->pool_max = s->concurrency + 2;
    s->pool = cf_calloc(s->pool_max, sizeof(*s->pool));
    s->handle_cap = 2 * s->concurrency + 2;
    s->handles = cf_calloc(s->handle_cap, sizeof(*s->handles));
    s->retries = (unsigned)retries;
    s->timeout = (long)timeout;

    if (read_cred(sec, "access-key-id-file", NULL, "access-key-id-file", &s->access_key,
                  &id_file, e) != 0 ||
        read_cred(sec, "secret-access-key-file", NULL, "secret-access-key-file", &s->secret,
                  &secret_file, e) != 0 ||
        read_cred(sec, "session-token-file", NULL, "session-token-file", &s->token,
                  &token_file, e) != 0)
        goto fail;
    if (id_file != secret_file) {
        ini_err(sec, id_file ? "access-key-id-file" : "secret-access-key-file", e,
                "access-key-id-file and secret-access-key-file go together");
        goto fail;
    }
    if (!id_file) {
        read_cred(sec, "-", "AWS_ACCESS_KEY_ID", NULL, &s->access_key, &id_file, e);
        read_cred(sec, "-", "AWS_SECRET_ACCESS_KEY", NULL, &s->secret, &id_file, e);
        if (!token_file)
            read_cred(sec, "-", "AWS_SESSION_TOKEN", NULL, &s->token, &token_file, e);
        if (s->access_key.len == 0 || s->secret.len == 0) {
            ini_err(sec, NULL, e,
                    "no S3 credentials. HINT: set access-key-id-file and "
                    "secret-access-key-file (0600 files), or AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY in the environment");
            goto fail;
        }
    }
    s->desc = cf_asprintf("s3 %s/%s", s->bucket, s->prefix);
    s->share = curl_share_init();
    if (s->share == NULL) {
        cf_err_set(e, CF_E_NOMEM, "unable to start a curl share handle");
        goto fail;
    }
    curl_share_setopt(s->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(s->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(s->share, CURLSHOPT_USERDATA, s);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(s->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *priv = s;
    return 0;
fail:
    s3_close(s);
    return -1;
}

static const char *s3_describe(void *priv)
{
    return ((struct s3 *)priv)->desc;
}

const struct target_ops tgt_s3_ops = {
    .name = "s3",
    .keys = s3_keys,
    .open = s3_open,
    .close = s3_close,
    .describe = s3_describe,
    .put_begin = s3_put_begin,
    .write = s3_write,
    .commit = s3_commit,
    .abort = s3_abort,
    .get_begin = s3_get_begin,
    .read = s3_read,
    .get_end = s3_get_end,
    .stat = s3_stat,
    .list = s3_list,
    .remove = s3_remove,
    .remove_many = s3_remove_many,
    .sweep = s3_sweep,
};
