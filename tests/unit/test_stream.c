/* test_stream.c - the whole stream through a real local repository: round trips at the sizes
 * where boundaries lie, every kind of tampering, a failing source, a wrong key. */
#include "unit.h"
#include "fixture.h"
#include "crypto/seal.h"

#include <errno.h>

#define MIB (1u << 20)

static unsigned char *random_bytes(size_t n)
{
    unsigned char *p = cf_malloc(n ? n : 1);
    randombytes_buf_deterministic(p, n, (const unsigned char *)"coffer-test-seed-0123456789abcde");
    return p;
}

/* back up @len bytes, restore them, compare; returns the backup id in @id */
static int roundtrip(struct fixture *f, const unsigned char *data, size_t len, char *id,
                     uint32_t *objects)
{
    struct memsrc m = { data, len, -1, BUF_INIT };
    struct source s = { &memsrc_ops, &m, "mem" };
    struct backup_result res;
    struct restore_opts o = { 0 };
    struct cf_err e = CF_ERR_INIT;
    struct manifest *man = NULL;
    int ok = -1;

    if (pipeline_backup(f->repo, &s, &f->so, "job", &res, NULL, &e) != 0) {
        printf("#   backup: %s\n", e.msg);
        goto out;
    }
    strcpy(id, res.id);
    if (objects)
        *objects = res.objects;
    if (repo_manifest_load(f->repo, "mem", res.id, &man, &e) != 0 ||
        pipeline_restore(f->repo, &s, man, &o, &e) != 0 ||
        pipeline_verify(f->repo, man, &e) != 0) {
        printf("#   restore: %s\n", e.msg);
        goto out;
    }
    if (m.got.len != len || (len && memcmp(m.got.data, data, len) != 0)) {
        printf("#   restored %zu bytes, expected %zu (or content differs)\n", m.got.len, len);
        goto out;
    }
    if (man->bytes_in != len)
        goto out;
    ok = 0;
out:
    manifest_free(man);
    buf_free(&m.got);
    return ok;
}

TEST(roundtrip_sizes)
{
    struct fixture f;
    static const size_t sizes[] = { 0, 1, 4095, MIB - 1, MIB, MIB + 1, 2 * MIB, 3 * MIB + 17 };
    char id[REPO_ID_MAX];
    CHECK(fixture_open(&f, "object-size = 1MiB") == 0);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        unsigned char *d = random_bytes(sizes[i]);
        if (roundtrip(&f, d, sizes[i], id, NULL) != 0) {
            printf("#   size %zu failed\n", sizes[i]);
            CHECK(0);
        }
        free(d);
    }
    fixture_close(&f);
}

TEST(roundtrip_compressible_multi_object)
{
    struct fixture f;
    char id[REPO_ID_MAX];
    uint32_t objects = 0;
    size_t len = 24 * MIB;
    unsigned char *d = cf_malloc(len);
    for (size_t i = 0; i < len; i++)   /* compressible, not trivially */
        d[i] = (unsigned char)("coffer backs up databases "[i % 26] + (i / 4099 % 3));
    CHECK(fixture_open(&f, "object-size = 1MiB") == 0);
    CHECK(roundtrip(&f, d, len, id, &objects) == 0);
    CHECK(objects >= 1);
    free(d);
    fixture_close(&f);
}

/* A multi-object backup, for the tampering tests: 5 MiB random in 1 MiB objects. */
struct damaged {
    struct fixture f;
    char id[REPO_ID_MAX];
    uint32_t objects;
    unsigned char *data;
    size_t len;
};

static void damaged_setup(struct damaged *d)
{
    d->len = 5 * MIB + 12345;
    d->data = random_bytes(d->len);
    CHECK(fixture_open(&d->f, "object-size = 1MiB") == 0);
    CHECK(roundtrip(&d->f, d->data, d->len, d->id, &d->objects) == 0);
    CHECK(d->objects >= 5);
}

static char *obj_path(struct damaged *d, uint32_t n)
{
    return cf_asprintf("%s/repo/backups/mem/%s/data/%08u", d->f.dir, d->id, n);
}

/* restore must fail with @needle in the message, and hand over only a correct prefix */
static void expect_restore_fails(struct damaged *d, const char *needle)
{
    struct memsrc m = { NULL, 0, -1, BUF_INIT };
    struct source s = { &memsrc_ops, &m, "mem" };
    struct restore_opts o = { 0 };
    struct cf_err e = CF_ERR_INIT, ev = CF_ERR_INIT;
    struct manifest *man = NULL;
    CHECK(repo_manifest_load(d->f.repo, "mem", d->id, &man, &e) == 0);
    CHECK(pipeline_restore(d->f.repo, &s, man, &o, &e) != 0);
    CHECK(e.code == CF_E_CORRUPT || e.code == CF_E_NOTFOUND);
    CHECK_MSG(e, needle);
    CHECK(m.got.len < d->len);
    CHECK(m.got.len == 0 || memcmp(m.got.data, d->data, m.got.len) == 0);
    CHECK(pipeline_verify(d->f.repo, man, &ev) != 0);
    CHECK_MSG(ev, needle);
    manifest_free(man);
    buf_free(&m.got);
}

static void damaged_done(struct damaged *d)
{
    free(d->data);
    fixture_close(&d->f);
}

static void flip_byte(const char *path, long off)
{
    int fd = open(path, O_RDWR);
    unsigned char c;
    if (off < 0)
        off += lseek(fd, 0, SEEK_END);
    CHECK(pread(fd, &c, 1, off) == 1);
    c ^= 0x40;
    CHECK(pwrite(fd, &c, 1, off) == 1);
    close(fd);
}

TEST(tamper_altered_byte)
{
    struct damaged d;
    damaged_setup(&d);
    char *p = obj_path(&d, 2);
    flip_byte(p, 500000);
    expect_restore_fails(&d, "object 2 ");
    expect_restore_fails(&d, "fails authentication");
    free(p);
    damaged_done(&d);
}

TEST(tamper_truncated_object)
{
    struct damaged d;
    damaged_setup(&d);
    char *p = obj_path(&d, 3);
    struct stat st;
    stat(p, &st);
    CHECK(truncate(p, st.st_size - 100) == 0);
    expect_restore_fails(&d, "object 3 ");
    expect_restore_fails(&d, "truncated");
    free(p);
    damaged_done(&d);
}

TEST(tamper_swapped_objects)
{
    struct damaged d;
    damaged_setup(&d);
    char *a = obj_path(&d, 1), *b = obj_path(&d, 2), *t = cf_asprintf("%s.x", a);
    CHECK(rename(a, t) == 0 && rename(b, a) == 0 && rename(t, b) == 0);
    expect_restore_fails(&d, "object 1 ");
    expect_restore_fails(&d, "expected 1");
    free(a);
    free(b);
    free(t);
    damaged_done(&d);
}

TEST(tamper_missing_last_object)
{
    struct damaged d;
    damaged_setup(&d);
    char *p = obj_path(&d, d.objects - 1);
    CHECK(unlink(p) == 0);
    expect_restore_fails(&d, "object ");
    free(p);
    damaged_done(&d);
}

TEST(tamper_header_index)
{
    struct damaged d;
    damaged_setup(&d);
    char *p = obj_path(&d, 1);
    flip_byte(p, 12);   /* the index field */
    expect_restore_fails(&d, "object 1 ");
    free(p);
    damaged_done(&d);
}

TEST(tamper_object_from_other_backup)
{
    struct damaged d;
    char id2[REPO_ID_MAX];
    damaged_setup(&d);
    CHECK(roundtrip(&d.f, d.data, d.len, id2, NULL) == 0);
    char *mine = obj_path(&d, 1);
    char *theirs = cf_asprintf("%s/repo/backups/mem/%s/data/%08u", d.f.dir, id2, 1);
    CHECK(rename(theirs, mine) == 0);
    expect_restore_fails(&d, "belongs to backup");
    free(mine);
    free(theirs);
    damaged_done(&d);
}

TEST(tamper_manifest)
{
    struct damaged d;
    struct cf_err e = CF_ERR_INIT;
    struct manifest *man = NULL;
    damaged_setup(&d);
    char *p = cf_asprintf("%s/repo/backups/mem/%s/manifest", d.f.dir, d.id);
    flip_byte(p, -5);
    CHECK(repo_manifest_load(d.f.repo, "mem", d.id, &man, &e) != 0);
    CHECK(e.code == CF_E_CORRUPT);
    CHECK_MSG(e, "damaged");
    CHECK(man == NULL);
    /* restore --at skips it and finds nothing older */
    struct repo_ref ref;
    cf_err_clear(&e);
    CHECK(repo_find_at(d.f.repo, "mem", (struct repo_when){ false, time(NULL) + 10, false }, &ref, &man, &e) != 0);
    CHECK(e.code == CF_E_NOTFOUND);
    free(p);
    damaged_done(&d);
}

TEST(failed_source_commits_nothing)
{
    struct fixture f;
    size_t len = 4 * MIB;
    unsigned char *data = random_bytes(len);
    struct memsrc m = { data, len, 3 * MIB, BUF_INIT };
    struct source s = { &memsrc_ops, &m, "mem" };
    struct backup_result res;
    struct cf_err e = CF_ERR_INIT;
    struct repo_ref *refs = NULL;
    size_t n = 99;
    char *dir;
    struct stat st;

    CHECK(fixture_open(&f, "object-size = 1MiB") == 0);
    CHECK(pipeline_backup(f.repo, &s, &f.so, NULL, &res, NULL, &e) != 0);
    CHECK_MSG(e, "simulated source failure");
    CHECK(repo_list(f.repo, NULL, &refs, &n, &e) == 0);
    CHECK_EQ_INT(n, 0);
    dir = cf_asprintf("%s/repo/backups/mem/%s", f.dir, res.id);
    CHECK(stat(dir, &st) != 0 && errno == ENOENT);   /* its objects were removed */
    free(dir);
    free(refs);
    free(data);
    fixture_close(&f);
}

TEST(wrong_key)
{
    struct fixture f;
    struct cf_err e = CF_ERR_INIT;
    struct repo *r = NULL;
    char *key;
    CHECK(fixture_open(&f, NULL) == 0);
    key = cf_asprintf("%s/repo.key", f.dir);
    unlink(key);
    CHECK(keys_generate_file(key, &e) == 0);
    CHECK(repo_open(f.conf, NULL, &r, &e) != 0);
    CHECK(e.code == CF_E_KEY);
    CHECK_MSG(e, "wrong key");
    free(key);
    fixture_close(&f);
}

int main(void)
{
    struct cf_err e = CF_ERR_INIT;
    if (keys_init(&e) != 0)
        return 1;
    RUN(roundtrip_sizes);
    RUN(roundtrip_compressible_multi_object);
    RUN(tamper_altered_byte);
    RUN(tamper_truncated_object);
    RUN(tamper_swapped_objects);
    RUN(tamper_missing_last_object);
    RUN(tamper_header_index);
    RUN(tamper_object_from_other_backup);
    RUN(tamper_manifest);
    RUN(failed_source_commits_nothing);
    RUN(wrong_key);
    return unit_done();
}
