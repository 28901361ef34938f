/* test_tgt_s3.c - the S3 target driver against a live S3 server (lib/storage/s3/).
 *
 * Needs S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and S3_BUCKET (an existing bucket);
 * tests/integration/s3_target.sh starts a Ceph RGW and runs this. Without them only the
 * configuration tests run. With S3_FAULTS=1 (behind tests/lib/s3_fault_proxy.py) only the
 * round trips run, and each must still be complete and exact. S3_EXTRA_CONF is appended
 * to every [repository] section. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/ini.h"
#include "core/buf.h"
#include "storage/target.h"
#include "unit.h"

static const char *endpoint, *access_key, *secret_key, *bucket;
static char tmpdir[] = "/tmp/coffer-s3u.XXXXXX";
static unsigned seq;

static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    chmod(path, mode);
}

/* open a target from [repository] text with the live credentials in 0600 files */
static struct target *open_with(const char *extra, const char *secret, struct cf_err *e)
{
    char idp[256], sp[256];
    struct buf conf = BUF_INIT;
    struct ini *ini = NULL;
    struct target *t = NULL;

    snprintf(idp, sizeof(idp), "%s/id", tmpdir);
    snprintf(sp, sizeof(sp), "%s/secret-%u", tmpdir, seq++);
    write_file(idp, access_key, 0600);
    write_file(sp, secret, 0600);
    const char *pfx = strstr(extra, "prefix = ");
    struct buf ex = BUF_INIT;
    if (pfx != NULL) {
        /* each run under its own prefix: a rerun against the same bucket starts clean */
        buf_append(&ex, extra, (size_t)(pfx - extra) + 9);
        buf_printf(&ex, "run%ld-%s", (long)getpid(), pfx + 9);
    } else {
        buf_puts(&ex, extra);
    }
    extra = ex.data;
    buf_printf(&conf,
               "[repository]\ntarget = s3\nendpoint = %s\nbucket = %s\nregion = us-east-1\n"
               "access-key-id-file = %s\nsecret-access-key-file = %s\n%s%s%s",
               endpoint, bucket, idp, sp, strstr(extra, "retries") ? "" : "retries = 6\n", extra,
               getenv("S3_EXTRA_CONF") ? getenv("S3_EXTRA_CONF") : "");
    if (ini_parse_string(conf.data, "test.conf", &ini, e) == 0)
        target_open(ini_find(ini, "repository", NULL), &t, e);
    ini_free(ini);
    buf_free(&conf);
    buf_free(&ex);
    return t;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

/* put @n pseudo-random bytes in uneven writes, read back, compare */
static void round_trip(struct target *t, const char *key, size_t n, unsigned seed)
{
    unsigned char *data = malloc(n + 1), *back = malloc(n + 1);
    struct target_writer *w = NULL;
    struct target_reader *r = NULL;
    struct cf_err e = CF_ERR_INIT;
    size_t off = 0, got = 0;
    uint64_t size = 0;
    ssize_t k;

    fill(data, n, seed);
    CHECK(target_put_begin(t, key, 0, 0, &w, &e) == 0);
    while (w != NULL && off < n) {
        size_t step = 1 + (off * 7919 + 12345) % (3u << 20);
        if (step > n - off)
            step = n - off;
        if (target_write(w, data + off, step, &e) != 0)
            break;
        off += step;
    }
    CHECK_EQ_INT(off, n);
    if (w != NULL && target_commit(w, &e) != 0) {
        printf("#   commit: %s\n", e.msg);
        target_abort(w);
        CHECK(0);
    }
    CHECK(target_stat(t, key, &size, &e) == 0);
    CHECK_EQ_INT(size, n);
    CHECK(target_get_begin(t, key, &r, &e) == 0);
    while (r != NULL && (k = target_read(r, back + got, n + 1 - got < 100000 ? n + 1 - got : 100000,
                                         &e)) > 0)
        got += (size_t)k;
    if (e.code != CF_E_OK)
        printf("#   %s\n", e.msg);
    target_get_end(r);
    CHECK_EQ_INT(got, n);
    CHECK(got == n && memcmp(data, back, n) == 0);
    free(data);
    free(back);
}

struct names {
    unsigned n;
    uint64_t bytes;
    char first[256];
};

static int count_cb(void *arg, const char *key, uint64_t size)
{
    struct names *nm = arg;
    if (nm->n++ == 0)
        snprintf(nm->first, sizeof(nm->first), "%s", key);
    nm->bytes += size;
    return 0;
}

TEST(small_objects_with_prefix)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/small\n", secret_key, &e);
    struct names nm = { 0 };
    struct buf b = BUF_INIT;
    uint64_t size;

    CHECK(t != NULL);
    if (t == NULL) {
        printf("#   %s\n", e.msg);
        return;
    }
    char desc[256];
    snprintf(desc, sizeof(desc), "s3 %s/run%ld-unit/small/", bucket, (long)getpid());
    CHECK_STR(target_describe(t), desc);
    round_trip(t, "a/one", 1000, 1);
    round_trip(t, "a/empty", 0, 2);
    round_trip(t, "a/odd name+x=y", 77, 3);
    CHECK(target_put_buf(t, "b/two", "hello", 5, 0, &e) == 0);
    CHECK(target_get_buf(t, "b/two", 100, &b, &e) == 0);
    CHECK_STR(b.data, "hello");
    CHECK(target_list(t, "a/", count_cb, &nm, &e) == 0);
    CHECK_EQ_INT(nm.n, 3);
    CHECK_EQ_INT(nm.bytes, 1077);
    CHECK_STR(nm.first, "a/empty");
    CHECK(target_stat(t, "a/missing", &size, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    cf_err_clear(&e);
    struct target_reader *r = NULL;
    CHECK(target_get_begin(t, "a/missing", &r, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    cf_err_clear(&e);
    CHECK(target_remove(t, "a/one", &e) == 0);
    CHECK(target_remove(t, "a/one", &e) == 0);   /* missing is fine */
    memset(&nm, 0, sizeof(nm));
    CHECK(target_list(t, "", count_cb, &nm, &e) == 0);
    CHECK_EQ_INT(nm.n, 3);
    buf_free(&b);
    target_close(t);
}

TEST(multipart_more_than_three_parts)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/mp/\npart-size = 5MiB\nupload-concurrency = 3\n",
                                 secret_key, &e);
    CHECK(t != NULL);
    if (t == NULL)
        return;
    /* 4 full parts and a short last one */
    round_trip(t, "big", (size_t)21 * 1024 * 1024 + 12345, 7);
    /* exactly two parts, the last one full */
    round_trip(t, "even", (size_t)10 * 1024 * 1024, 8);
    target_close(t);
}

/* read @key back whole and compare with @data */
static void read_back(struct target *t, const char *key, const unsigned char *data, size_t n)
{
    unsigned char *back = malloc(n + 1);
    struct target_reader *r = NULL;
    struct cf_err e = CF_ERR_INIT;
    size_t got = 0;
    ssize_t k;

    CHECK(target_get_begin(t, key, &r, &e) == 0);
    while (r != NULL && (k = target_read(r, back + got, n + 1 - got, &e)) > 0)
        got += (size_t)k;
    target_get_end(r);
    CHECK_EQ_INT(got, n);
    CHECK(got == n && memcmp(data, back, n) == 0);
    free(back);
}

struct commit_arg {
    struct target_writer *w;
    int rc;
    struct cf_err e;
};

static void *commit_thread(void *arg)
{
    struct commit_arg *c = arg;
    c->rc = target_commit(c->w, &c->e);
    if (c->rc != 0)
        target_abort(c->w);
    return NULL;
}

/* The pipeline fills the next object while the previous one commits: two writers share the
 * target's part buffers (upload-concurrency 1: three buffers in all), so the second one waits
 * for buffers the first one's uploads hand back. Both objects must come out whole. */
TEST(writers_overlap)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/overlap/\npart-size = 5MiB\n"
                                 "upload-concurrency = 1\n", secret_key, &e);
    size_t na = (size_t)13 * 1024 * 1024 + 999, nb = (size_t)17 * 1024 * 1024 + 1;
    unsigned char *a = malloc(na), *b = malloc(nb);
    struct commit_arg ca = { 0 };
    struct target_writer *wb = NULL;
    pthread_t th;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    fill(a, na, 21);
    fill(b, nb, 22);
    CHECK(target_put_begin(t, "a", na, 0, &ca.w, &e) == 0);
    CHECK(target_write(ca.w, a, na, &e) == 0);
    CHECK(pthread_create(&th, NULL, commit_thread, &ca) == 0);
    CHECK(target_put_begin(t, "b", nb, 0, &wb, &e) == 0);
    for (size_t off = 0; off < nb; off += 1u << 20)
        if (target_write(wb, b + off, nb - off < (1u << 20) ? nb - off : 1u << 20, &e) != 0)
            break;
    CHECK(target_commit(wb, &e) == 0);
    pthread_join(th, NULL);
    if (e.code != CF_E_OK || ca.rc != 0)
        printf("#   b: %s; a: %s\n", e.msg, ca.e.msg);
    CHECK_EQ_INT(ca.rc, 0);
    read_back(t, "a", a, na);
    read_back(t, "b", b, nb);
    free(a);
    free(b);
    target_close(t);
}

TEST(abort_leaves_nothing)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/abort/\npart-size = 5MiB\n", secret_key, &e);
    struct target_writer *w = NULL;
    struct names nm = { 0 };
    size_t n = (size_t)12 * 1024 * 1024;
    unsigned char *data = malloc(n);
    uint64_t size;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    fill(data, n, 9);
    CHECK(target_put_begin(t, "gone", 0, 0, &w, &e) == 0);
    CHECK(target_write(w, data, n, &e) == 0);   /* two parts sent, one filling */
    target_abort(w);
    w = NULL;
    CHECK(target_put_begin(t, "small-gone", 0, 0, &w, &e) == 0);
    CHECK(target_write(w, data, 1000, &e) == 0);
    target_abort(w);
    CHECK(target_list(t, "", count_cb, &nm, &e) == 0);
    CHECK_EQ_INT(nm.n, 0);
    CHECK(target_stat(t, "gone", &size, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_NOTFOUND);
    free(data);
    target_close(t);
}

/* a writer's upload left unfinished (as by a crash) is aborted by sweep */
TEST(sweep_unfinished)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/sweep/\npart-size = 5MiB\n", secret_key, &e);
    struct target_writer *w = NULL;
    size_t n = (size_t)11 * 1024 * 1024;
    unsigned char *data = malloc(n);
    unsigned swept = 99;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    fill(data, n, 12);
    CHECK(target_sweep(t, 3600, &swept, &e) == 0);
    CHECK_EQ_INT(swept, 0);
    CHECK(target_put_begin(t, "left", 0, 0, &w, &e) == 0);
    CHECK(target_write(w, data, n, &e) == 0);   /* the upload is started */
    CHECK(target_sweep(t, 3600, &swept, &e) == 0);
    CHECK_EQ_INT(swept, 0);                      /* too young */
    CHECK(target_sweep(t, 0, &swept, &e) == 0);
    CHECK_EQ_INT(swept, 1);
    CHECK(target_commit(w, &e) == -1);           /* its upload is gone */
    target_abort(w);
    free(data);
    target_close(t);
}

TEST(noreplace)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/norepl/\npart-size = 5MiB\n", secret_key, &e);
    size_t n = (size_t)6 * 1024 * 1024;
    unsigned char *data = malloc(n);
    struct buf b = BUF_INIT;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    fill(data, n, 10);
    CHECK(target_put_buf(t, "m", "first", 5, TARGET_PUT_NOREPLACE, &e) == 0);
    CHECK(target_put_buf(t, "m", "second", 6, TARGET_PUT_NOREPLACE, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_EXISTS);
    cf_err_clear(&e);
    CHECK(target_get_buf(t, "m", 100, &b, &e) == 0);
    CHECK_STR(b.data, "first");
    /* multipart: checked before completion */
    CHECK(target_put_buf(t, "big", data, n, TARGET_PUT_NOREPLACE, &e) == 0);
    CHECK(target_put_buf(t, "big", data, n, TARGET_PUT_NOREPLACE, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_EXISTS);
    cf_err_clear(&e);
    CHECK(target_put_buf(t, "m", "third", 5, 0, &e) == 0);   /* plain put replaces */
    CHECK(target_get_buf(t, "m", 100, &b, &e) == 0);
    CHECK_STR(b.data, "third");
    buf_free(&b);
    free(data);
    target_close(t);
}

TEST(list_pages)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("prefix = unit/pages/\n", secret_key, &e);
    struct names nm = { 0 };
    char key[64];
    int ok = 1;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    for (unsigned i = 0; i < 1003 && ok; i++) {
        snprintf(key, sizeof(key), "k/%05u", i);
        ok = target_put_buf(t, key, "x", 1, 0, &e) == 0;
    }
    CHECK(ok);
    CHECK(target_put_buf(t, "k/a&b<c>'\"", "x", 1, 0, &e) == 0);   /* escaped in XML */
    CHECK(target_list(t, "k/", count_cb, &nm, &e) == 0);
    CHECK_EQ_INT(nm.n, 1004);
    /* batch removal: DeleteObjects of 1000 keys, then of the other 4 */
    size_t removed = 0;
    CHECK(target_remove_prefix(t, "k/", &removed, &e) == 0);
    if (e.code != CF_E_OK)
        printf("#   %s\n", e.msg);
    CHECK_EQ_INT(removed, 1004);
    memset(&nm, 0, sizeof(nm));
    CHECK(target_list(t, "k/", count_cb, &nm, &e) == 0);
    CHECK_EQ_INT(nm.n, 0);
    const char *gone[] = { "k/00001", "k/never-was" };
    CHECK(target_remove_many(t, gone, 2, &e) == 0);   /* missing keys are not an error */
    target_close(t);
}

/* With S3_DENY_DELETE set, the bucket's policy refuses s3:DeleteObject under "denied/"
 * (tests/integration/s3_target.sh sets it): DeleteObjects answers 200 and lists the refused
 * key, which must be an error naming it, while the other keys of the batch are gone. */
TEST(remove_many_refused)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("", secret_key, &e);
    struct names nm = { 0 };

    CHECK(t != NULL);
    if (t == NULL)
        return;
    CHECK(target_put_buf(t, "denied/kept", "x", 1, 0, &e) == 0);
    CHECK(target_put_buf(t, "allowed/gone", "y", 1, 0, &e) == 0);
    const char *keys[] = { "allowed/gone", "denied/kept" };
    CHECK(target_remove_many(t, keys, 2, &e) == -1);
    printf("# %s\n", e.msg);
    CHECK_MSG(e, "'denied/kept' was not deleted");
    CHECK_MSG(e, "AccessDenied");
    CHECK(target_list(t, "allowed/", count_cb, &nm, &e) == 0 || e.code != CF_E_OK);
    CHECK_EQ_INT(nm.n, 0);
    memset(&nm, 0, sizeof(nm));
    cf_err_clear(&e);
    CHECK(target_list(t, "denied/", count_cb, &nm, &e) == 0);
    CHECK_EQ_INT(nm.n, 1);
    target_close(t);
}

TEST(wrong_secret)
{
    struct cf_err e = CF_ERR_INIT;
    struct target *t = open_with("", "not-the-secret", &e);
    struct names nm = { 0 };

    CHECK(t != NULL);
    if (t == NULL)
        return;
    CHECK(target_list(t, "", count_cb, &nm, &e) == -1);
    printf("# %s\n", e.msg);
    CHECK_EQ_INT(e.code, CF_E_AUTH);
    CHECK_MSG(e, "access denied");
    CHECK_MSG(e, "SignatureDoesNotMatch");
    CHECK_MSG(e, "HINT: the secret access key is wrong");
    CHECK(strstr(e.msg, "not-the-secret") == NULL);
    cf_err_clear(&e);
    CHECK(target_put_buf(t, "x", "y", 1, 0, &e) == -1);
    CHECK_EQ_INT(e.code, CF_E_AUTH);
    cf_err_clear(&e);
    uint64_t size;
    CHECK(target_stat(t, "x", &size, &e) == -1);
    CHECK_MSG(e, "SignatureDoesNotMatch");
    target_close(t);
}

TEST(missing_bucket)
{
    struct cf_err e = CF_ERR_INIT;
    const char *saved = bucket;
    bucket = "coffer-no-such-bucket";
    struct target *t = open_with("", secret_key, &e);
    struct names nm = { 0 };
    bucket = saved;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    CHECK(target_list(t, "", count_cb, &nm, &e) == -1);
    printf("# %s\n", e.msg);
    CHECK_EQ_INT(e.code, CF_E_CONFIG);
    CHECK_MSG(e, "bucket 'coffer-no-such-bucket' does not exist");
    CHECK_MSG(e, "HINT:");
    cf_err_clear(&e);
    CHECK(target_put_buf(t, "x", "y", 1, 0, &e) == -1);
    CHECK_MSG(e, "does not exist");
    cf_err_clear(&e);
    uint64_t size;
    CHECK(target_stat(t, "x", &size, &e) == -1);   /* HEAD has no body: asked again by GET */
    CHECK_EQ_INT(e.code, CF_E_CONFIG);
    CHECK_MSG(e, "does not exist");
    target_close(t);
}

TEST(server_down)
{
    struct cf_err e = CF_ERR_INIT;
    const char *saved = endpoint;
    endpoint = "http://127.0.0.1:9";
    struct target *t = open_with("retries = 1\n", secret_key, &e);
    struct names nm = { 0 };
    endpoint = saved;

    CHECK(t != NULL);
    if (t == NULL)
        return;
    CHECK(target_list(t, "", count_cb, &nm, &e) == -1);
    printf("# %s\n", e.msg);
    CHECK_EQ_INT(e.code, CF_E_NET);
    CHECK_MSG(e, "gave up after 2 attempts");
    target_close(t);
}

/* ---- configuration, no server needed ---- */

static void conf_fails(const char *text, const char *needle)
{
    struct cf_err e = CF_ERR_INIT;
    struct ini *ini = NULL;
    struct target *t = NULL;
    CHECK(ini_parse_string(text, "c.conf", &ini, &e) == 0);
    CHECK(target_open(ini_find(ini, "repository", NULL), &t, &e) == -1);
    CHECK_MSG(e, needle);
    target_close(t);
    ini_free(ini);
}

TEST(config_errors)
{
    char path[256], conf[1024];
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    conf_fails("[repository]\ntarget = s3\nbucket = b12\n", "c.conf:1: [repository] missing");
    conf_fails("[repository]\ntarget = s3\nendpoint = ftp://x\nbucket = b12\n",
               "c.conf:3: [repository] endpoint: 'ftp://x' must start with https://");
    conf_fails("[repository]\ntarget = s3\nendpoint = http://h/path\nbucket = b12\n",
               "no path");
    conf_fails("[repository]\ntarget = s3\nendpoint = http://h\nbucket = B!\n",
               "not a valid bucket name");
    conf_fails("[repository]\ntarget = s3\nendpoint = http://h\nbucket = b12\nuri-style = x\n",
               "neither path nor host");
    conf_fails("[repository]\ntarget = s3\nendpoint = http://h\nbucket = b12\npart-size = 1MiB\n",
               "part-size");
    conf_fails("[repository]\ntarget = s3\nendpoint = http://h\nbucket = b12\n",
               "no S3 credentials. HINT:");
    conf_fails("[repository]\ntarget = s3\nendpoint = http://h\nbucket = b12\npayload-signing = y\n",
               "c.conf:5: [repository] payload-signing: 'y' is not auto, on or off");
    snprintf(path, sizeof(path), "%s/open-secret", tmpdir);
    write_file(path, "s", 0644);
    snprintf(conf, sizeof(conf),
             "[repository]\ntarget = s3\nendpoint = http://h\nbucket = b12\n"
             "access-key-id-file = %s\nsecret-access-key-file = %s\n", path, path);
    conf_fails(conf, "c.conf:5:");
    chmod(path, 0600);
    snprintf(conf, sizeof(conf),
             "[repository]\ntarget = s3\nendpoint = http://h\nbucket = b12\n"
             "secret-access-key-file = %s\n", path);
    conf_fails(conf, "go together");
}

TEST(config_from_environment)
{
    struct cf_err e = CF_ERR_INIT;
    struct ini *ini = NULL;
    struct target *t = NULL;
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "SECRET", 1);
    CHECK(ini_parse_string("[repository]\ntarget = s3\nendpoint = https://s3.eu-west-1.amazonaws.com\n"
                           "bucket = my-backups\nprefix = /prod\nregion = eu-west-1\n",
                           "c.conf", &ini, &e) == 0);
    CHECK(target_open(ini_find(ini, "repository", NULL), &t, &e) == 0);
    if (t != NULL)
        CHECK_STR(target_describe(t), "s3 my-backups/prod/");
    target_close(t);
    ini_free(ini);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

int main(void)
{
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    endpoint = getenv("S3_ENDPOINT");
    access_key = getenv("S3_ACCESS_KEY");
    secret_key = getenv("S3_SECRET_KEY");
    bucket = getenv("S3_BUCKET");
    bool faults = getenv("S3_FAULTS") != NULL;

    if (!faults) {
        RUN(config_errors);
        RUN(config_from_environment);
    }
    if (endpoint && access_key && secret_key && bucket) {
        RUN(small_objects_with_prefix);
        RUN(multipart_more_than_three_parts);
        RUN(writers_overlap);
        if (!faults) {
            RUN(abort_leaves_nothing);
            RUN(sweep_unfinished);
            RUN(noreplace);
            RUN(list_pages);
            if (getenv("S3_DENY_DELETE") != NULL)
                RUN(remove_many_refused);
            RUN(wrong_secret);
            RUN(missing_bucket);
            RUN(server_down);
        }
    } else {
        printf("ok - live S3 tests # SKIP no S3_ENDPOINT (tests/integration/s3_target.sh runs them)\n");
    }
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return unit_done();
}
