/* test_keys.c - key files, passphrases, public-key sealing, and refusing unsafe key files. */
#include "unit.h"
#include "crypto/keys.h"
#include "core/util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static char *path(const char *name)
{
    return cf_asprintf("%s/%s", dir, name);
}

TEST(generated_key_file)
{
    struct cf_err e = CF_ERR_INIT;
    unsigned char k[KEY_BYTES];
    struct stat st;
    char *p = path("a.key");
    CHECK(keys_generate_file(p, &e) == 0);
    CHECK(stat(p, &st) == 0 && (st.st_mode & 0777) == 0600 && st.st_size == KEY_BYTES);
    CHECK(keys_load_file(p, k, &e) == 0);
    CHECK(keys_generate_file(p, &e) != 0);   /* never overwrites */
    CHECK(e.code == CF_E_EXISTS);
    free(p);
}

TEST(key_file_readable_by_others_is_refused)
{
    struct cf_err e = CF_ERR_INIT;
    unsigned char k[KEY_BYTES];
    char *p = path("b.key");
    CHECK(keys_generate_file(p, &e) == 0);
    CHECK(chmod(p, 0644) == 0);
    CHECK(keys_load_file(p, k, &e) != 0);
    CHECK_MSG(e, "readable by group or others (mode 0644)");
    CHECK_MSG(e, "chmod 600");
    free(p);
}

TEST(key_file_wrong_length)
{
    struct cf_err e = CF_ERR_INIT;
    unsigned char k[KEY_BYTES];
    char *p = path("c.key");
    int fd = open(p, O_WRONLY | O_CREAT, 0600);
    CHECK(write(fd, "short", 5) == 5);
    close(fd);
    CHECK(keys_load_file(p, k, &e) != 0);
    CHECK_MSG(e, "is not a key");
    free(p);
}

TEST(wrap_unwrap_and_wrong_key)
{
    struct cf_err e = CF_ERR_INIT;
    struct keyring a = { 0 }, b = { 0 };
    unsigned char dk[KEY_BYTES], out[KEY_BYTES], w[KEYS_WRAPPED_MAX];
    size_t wl;
    char check[KEYS_CHECK_HEX];
    a.mode = b.mode = KEY_MODE_KEYFILE;
    a.have_master = b.have_master = true;
    randombytes_buf(a.master, KEY_BYTES);
    randombytes_buf(b.master, KEY_BYTES);
    randombytes_buf(dk, sizeof(dk));
    CHECK(keys_wrap(&a, dk, w, &wl, &e) == 0);
    CHECK(keys_unwrap(&a, w, wl, out, &e) == 0 && memcmp(out, dk, KEY_BYTES) == 0);
    CHECK(keys_unwrap(&b, w, wl, out, &e) != 0 && e.code == CF_E_CRYPTO);
    keys_check_value(&a, check);
    CHECK(keys_verify_check_value(&a, check, &e) == 0);
    CHECK(keys_verify_check_value(&b, check, &e) != 0);
    CHECK_MSG(e, "wrong key");
}

TEST(passphrase_derivation_is_stable)
{
    struct cf_err e = CF_ERR_INIT;
    unsigned char salt[KEYS_SALT_BYTES] = { 1, 2, 3 }, k1[KEY_BYTES], k2[KEY_BYTES], k3[KEY_BYTES];
    CHECK(keys_derive("correct horse", 13, salt, 2, 8 << 20, k1, &e) == 0);
    CHECK(keys_derive("correct horse", 13, salt, 2, 8 << 20, k2, &e) == 0);
    CHECK(keys_derive("correct horsf", 13, salt, 2, 8 << 20, k3, &e) == 0);
    CHECK(memcmp(k1, k2, KEY_BYTES) == 0);
    CHECK(memcmp(k1, k3, KEY_BYTES) != 0);
}

/* a slot opens under its own secret, repository id and slot id only; tampering is refused */
TEST(slot_wrap_binds_repository_and_slot)
{
    unsigned char secret[KEY_BYTES], other[KEY_BYTES], master[KEY_BYTES], out[KEY_BYTES];
    unsigned char kek[KEY_BYTES], k2[KEY_BYTES];
    char hex[KEYS_SLOT_HEX], hex2[KEYS_SLOT_HEX];
    randombytes_buf(secret, sizeof(secret));
    randombytes_buf(other, sizeof(other));
    randombytes_buf(master, sizeof(master));
    keys_slot_kek(secret, "repo-a", "1a2b3c4d", kek);
    keys_slot_wrap(kek, master, hex);
    CHECK(strlen(hex) == KEYS_SLOT_HEX - 1 && strlen(hex) == 144);
    CHECK(keys_slot_unwrap(kek, hex, out) == 0 && memcmp(out, master, KEY_BYTES) == 0);
    keys_slot_wrap(kek, master, hex2);
    CHECK(strcmp(hex, hex2) != 0);   /* a fresh nonce each time */
    keys_slot_kek(other, "repo-a", "1a2b3c4d", k2);
    CHECK(keys_slot_unwrap(k2, hex, out) != 0);
    keys_slot_kek(secret, "repo-b", "1a2b3c4d", k2);
    CHECK(keys_slot_unwrap(k2, hex, out) != 0);
    keys_slot_kek(secret, "repo-a", "1a2b3c4e", k2);
    CHECK(keys_slot_unwrap(k2, hex, out) != 0);
    /* "repo-a" + "b" and "repo-" + "ab" are different inputs (the NUL between them) */
    keys_slot_kek(secret, "repo-ab", "c", kek);
    keys_slot_kek(secret, "repo-a", "bc", k2);
    CHECK(memcmp(kek, k2, KEY_BYTES) != 0);
    hex[100] = hex[100] == '0' ? '1' : '0';
    keys_slot_kek(secret, "repo-a", "1a2b3c4d", kek);
    CHECK(keys_slot_unwrap(kek, hex, out) != 0);
    CHECK(keys_slot_unwrap(kek, "abc", out) != 0);
    CHECK(keys_slot_unwrap(kek, NULL, out) != 0);
}

TEST(public_key_sealing)
{
    struct cf_err e = CF_ERR_INIT;
    struct keyring w = { 0 }, r = { 0 };
    unsigned char dk[KEY_BYTES], out[KEY_BYTES], sealed[KEYS_WRAPPED_MAX], other[32];
    size_t sl;
    struct stat st;
    char *pub = path("k.pub"), *sec = path("k.sec"), *pub2 = path("k2.pub"), *sec2 = path("k2.sec");
    CHECK(keys_keygen(pub, sec, &e) == 0);
    CHECK(stat(sec, &st) == 0 && (st.st_mode & 0777) == 0600);
    w.mode = r.mode = KEY_MODE_PUBLIC;
    CHECK(keys_load_public(pub, w.pk, &e) == 0);
    w.have_public = true;
    randombytes_buf(dk, sizeof(dk));
    CHECK(keys_wrap(&w, dk, sealed, &sl, &e) == 0);
    /* the writer cannot open what it sealed */
    CHECK(keys_unwrap(&w, sealed, sl, out, &e) != 0);
    CHECK_MSG(e, "--secret-key-file");
    memcpy(r.pk, w.pk, sizeof(r.pk));
    CHECK(keys_load_secret(sec, r.pk, r.sk, &e) == 0);
    r.have_secret = true;
    CHECK(keys_unwrap(&r, sealed, sl, out, &e) == 0 && memcmp(out, dk, KEY_BYTES) == 0);
    /* a secret key of another pair is refused by name */
    CHECK(keys_keygen(pub2, sec2, &e) == 0);
    CHECK(keys_load_secret(sec2, r.pk, other, &e) != 0);
    CHECK_MSG(e, "does not belong to this repository's public key");
    free(pub);
    free(sec);
    free(pub2);
    free(sec2);
}

int main(void)
{
    struct cf_err e = CF_ERR_INIT;
    snprintf(dir, sizeof(dir), "/tmp/coffer-keys.XXXXXX");
    if (mkdtemp(dir) == NULL || keys_init(&e) != 0)
        return 1;
    RUN(generated_key_file);
    RUN(key_file_readable_by_others_is_refused);
    RUN(key_file_wrong_length);
    RUN(wrap_unwrap_and_wrong_key);
    RUN(passphrase_derivation_is_stable);
    RUN(slot_wrap_binds_repository_and_slot);
    RUN(public_key_sealing);
    fs_remove_tree(dir, &e);
    return unit_done();
}
