#include "keys.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/buf.h"
#include "../core/util.h"

static const unsigned char check_plain[16] = "coffer-key-check";

int keys_init(struct cf_err *e)
{
    if (sodium_init() < 0)
        return cf_err_set(e, CF_E_INTERNAL, "libsodium failed to initialise");
    return 0;
}

const char *key_mode_name(enum key_mode m)
{
    switch (m) {
    case KEY_MODE_KEYFILE: return "keyfile";
    case KEY_MODE_PASSPHRASE: return "passphrase";
    case KEY_MODE_PUBLIC: return "public";
    }
    return "?";
}

int key_mode_parse(const char *s, enum key_mode *out)
{
    if (strcmp(s, "keyfile") == 0)
        *out = KEY_MODE_KEYFILE;
    else if (strcmp(s, "passphrase") == 0)
        *out = KEY_MODE_PASSPHRASE;
    else if (strcmp(s, "public") == 0)
        *out = KEY_MODE_PUBLIC;
    else
        return -1;
    return 0;
}

/* create @path exclusively with @mode and write @data */
static int write_new_file(const char *path, mode_t mode, const void *data, size_t len,
                          struct cf_err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return cf_err_sys(e, errno == EEXIST ? CF_E_EXISTS : CF_E_IO,
                          "unable to create key file '%s'", path);
    if (fchmod(fd, mode) != 0 || fs_write_all(fd, data, len, path, e) != 0 || fsync(fd) != 0) {
        if (e->code == CF_E_OK)
            cf_err_sys(e, CF_E_IO, "unable to write key file '%s'", path);
        close(fd);
        unlink(path);
        return -1;
    }
    close(fd);
    return 0;
}

int keys_generate_file(const char *path, struct cf_err *e)
{
    unsigned char k[KEY_BYTES];
    int rc;
    randombytes_buf(k, sizeof(k));
    rc = write_new_file(path, 0600, k, sizeof(k), e);
    sodium_memzero(k, sizeof(k));
    return rc;
}

/* raw bytes, or hex text with an optional trailing newline */
static int parse_key_bytes(const struct buf *b, unsigned char *out, size_t n)
{
    if (b->len == n) {
        memcpy(out, b->data, n);
        return 0;
    }
    size_t len = b->len;
    while (len > 0 && (b->data[len - 1] == '\n' || b->data[len - 1] == '\r'))
        len--;
    if (len != 2 * n)
        return -1;
    char hex[2 * KEY_BYTES + 1];
    memcpy(hex, b->data, len);
    hex[len] = '\0';
    int rc = hex_decode(hex, out, n);
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

static int load_key_bytes(const char *path, const char *what, bool private_file,
                          unsigned char *out, size_t n, struct cf_err *e)
{
    struct buf b = BUF_INIT;
    int rc = -1;

    if (private_file && fs_check_private(path, what, e) != 0)
        goto out;
    if (fs_read_file(path, 4096, &b, e) != 0) {
        cf_err_ctx(e, "%s", what);
        goto out;
    }
    if (parse_key_bytes(&b, out, n) != 0) {
        cf_err_set(e, CF_E_KEY, "%s '%s' is not a key: expected %zu bytes or %zu hex digits",
                   what, path, n, 2 * n);
        goto out;
    }
    rc = 0;
out:
    /* missing, unreadable, loose modes or malformed: all the operator's to fix, one kind */
    if (rc != 0 && e != NULL)
        e->code = CF_E_KEY;
    if (b.data)
        sodium_memzero(b.data, b.cap);
    buf_free(&b);
    return rc;
}

int keys_load_file(const char *path, unsigned char out[KEY_BYTES], struct cf_err *e)
{
    return load_key_bytes(path, "key file", true, out, KEY_BYTES, e);
}

int keys_derive(const char *pass, size_t len, const unsigned char salt[KEYS_SALT_BYTES],
                uint64_t ops, size_t mem, unsigned char out[KEY_BYTES], struct cf_err *e)
{
    if (crypto_pwhash(out, KEY_BYTES, pass, len, salt, ops, mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0)
        return cf_err_set(e, CF_E_NOMEM, "argon2id key derivation failed (memlimit %zu bytes)",
                          mem);
    return 0;
}

int keys_keygen(const char *pub_path, const char *sec_path, struct cf_err *e)
{
    unsigned char pk[crypto_box_PUBLICKEYBYTES], sk[crypto_box_SECRETKEYBYTES];
    char hex[2 * crypto_box_SECRETKEYBYTES + 2];
    int rc = -1;

    crypto_box_keypair(pk, sk);
    hex_encode(sk, sizeof(sk), hex);
    strcat(hex, "\n");
    if (write_new_file(sec_path, 0600, hex, strlen(hex), e) != 0)
        goto out;
    hex_encode(pk, sizeof(pk), hex);
    strcat(hex, "\n");
    if (write_new_file(pub_path, 0644, hex, strlen(hex), e) != 0) {
        unlink(sec_path);
        goto out;
    }
    rc = 0;
out:
    sodium_memzero(sk, sizeof(sk));
    sodium_memzero(hex, sizeof(hex));
    return rc;
}

int keys_load_public(const char *path, unsigned char pk[crypto_box_PUBLICKEYBYTES],
                     struct cf_err *e)
{
    return load_key_bytes(path, "public key file", false, pk, crypto_box_PUBLICKEYBYTES, e);
}

int keys_load_secret(const char *path, const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                     unsigned char sk[crypto_box_SECRETKEYBYTES], struct cf_err *e)
{
    unsigned char derived[crypto_box_PUBLICKEYBYTES];
    if (load_key_bytes(path, "secret key file", true, sk, crypto_box_SECRETKEYBYTES, e) != 0)
        return -1;
    crypto_scalarmult_base(derived, sk);
    if (sodium_memcmp(derived, pk, sizeof(derived)) != 0) {
        sodium_memzero(sk, crypto_box_SECRETKEYBYTES);
        return cf_err_set(e, CF_E_KEY,
                          "secret key file '%s' does not belong to this repository's public key",
                          path);
    }
    return 0;
}

bool keys_can_unwrap(const struct keyring *k)
{
    return k->mode == KEY_MODE_PUBLIC ? k->have_secret : k->have_master;
}

int keys_wrap(const struct keyring *k, const unsigned char dk[KEY_BYTES], unsigned char *out,
              size_t *len, struct cf_err *e)
{
    if (k->mode == KEY_MODE_PUBLIC) {
        if (!k->have_public)
            return cf_err_set(e, CF_E_INTERNAL, "no public key loaded");
        if (crypto_box_seal(out, dk, KEY_BYTES, k->pk) != 0)
            return cf_err_set(e, CF_E_CRYPTO, "unable to seal the data key");
        *len = crypto_box_SEALBYTES + KEY_BYTES;
        return 0;
    }
    if (!k->have_master)
        return cf_err_set(e, CF_E_INTERNAL, "no master key loaded");
    randombytes_buf(out, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(out + crypto_secretbox_NONCEBYTES, dk, KEY_BYTES, out, k->master);
    *len = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + KEY_BYTES;
    return 0;
}

int keys_unwrap(const struct keyring *k, const unsigned char *in, size_t len,
                unsigned char dk[KEY_BYTES], struct cf_err *e)
{
    if (k->mode == KEY_MODE_PUBLIC) {
        if (!k->have_secret)
            return cf_err_set(e, CF_E_KEY,
                              "this repository is sealed to a public key: reading it needs the "
                              "secret key; HINT: pass --secret-key-file FILE");
        if (len != crypto_box_SEALBYTES + KEY_BYTES ||
            crypto_box_seal_open(dk, in, len, k->pk, k->sk) != 0)
            return cf_err_set(e, CF_E_CRYPTO, "the data key does not open with this secret key");
        return 0;
    }
    if (!k->have_master)
        return cf_err_set(e, CF_E_INTERNAL, "no master key loaded");
    if (len != crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + KEY_BYTES ||
        crypto_secretbox_open_easy(dk, in + crypto_secretbox_NONCEBYTES,
                                   len - crypto_secretbox_NONCEBYTES, in, k->master) != 0)
        return cf_err_set(e, CF_E_CRYPTO, "the data key does not open with this key");
    return 0;
}

void keys_check_value(const struct keyring *k, char *out)
{
    unsigned char box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 16];
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, check_plain, sizeof(check_plain),
                          box, k->master);
    hex_encode(box, sizeof(box), out);
}

int keys_verify_check_value(const struct keyring *k, const char *hex, struct cf_err *e)
{
    unsigned char box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 16], plain[16];
    if (hex_decode(hex, box, sizeof(box)) != 0)
        return cf_err_set(e, CF_E_CORRUPT, "repo.json: key check value is malformed");
    if (crypto_secretbox_open_easy(plain, box + crypto_secretbox_NONCEBYTES,
                                   sizeof(box) - crypto_secretbox_NONCEBYTES, box,
                                   k->master) != 0 ||
        memcmp(plain, check_plain, sizeof(plain)) != 0)
        return cf_err_set(e, CF_E_KEY, "wrong key: this %s does not unlock the repository",
                          k->mode == KEY_MODE_PASSPHRASE ? "passphrase" : "key file");
    return 0;
}

void keys_slot_kek(const unsigned char secret[KEY_BYTES], const char *repo_id, const char *slot_id,
                   unsigned char kek[KEY_BYTES])
{
    static const char label[] = "coffer-slot-kek";
    crypto_generichash_state st;
    crypto_generichash_init(&st, secret, KEY_BYTES, KEY_BYTES);
    crypto_generichash_update(&st, (const unsigned char *)label, sizeof(label));   /* with NUL */
    crypto_generichash_update(&st, (const unsigned char *)repo_id, strlen(repo_id) + 1);
    crypto_generichash_update(&st, (const unsigned char *)slot_id, strlen(slot_id));
    crypto_generichash_final(&st, kek, KEY_BYTES);
    sodium_memzero(&st, sizeof(st));
}

void keys_slot_wrap(const unsigned char kek[KEY_BYTES], const unsigned char master[KEY_BYTES],
                    char *out)
{
    unsigned char box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + KEY_BYTES];
    randombytes_buf(box, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(box + crypto_secretbox_NONCEBYTES, master, KEY_BYTES, box, kek);
    hex_encode(box, sizeof(box), out);
}

int keys_slot_unwrap(const unsigned char kek[KEY_BYTES], const char *hex,
                     unsigned char master[KEY_BYTES])
{
    unsigned char box[crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + KEY_BYTES];
    if (hex == NULL || strlen(hex) != 2 * sizeof(box) || hex_decode(hex, box, sizeof(box)) != 0)
        return -1;
    return crypto_secretbox_open_easy(master, box + crypto_secretbox_NONCEBYTES,
                                      sizeof(box) - crypto_secretbox_NONCEBYTES, box, kek);
}

void keyring_wipe(struct keyring *k)
{
    sodium_memzero(k, sizeof(*k));
}

void keys_digest_key(const struct keyring *k, unsigned char out[KEY_BYTES])
{
    static const char label[] = "coffer-log-digest-v1";
    const unsigned char *key = k->mode == KEY_MODE_PUBLIC ? k->pk : k->master;
    CF_ASSERT(k->mode == KEY_MODE_PUBLIC ? k->have_public : k->have_master);
    crypto_generichash(out, KEY_BYTES, (const unsigned char *)label, sizeof(label) - 1, key,
                       KEY_BYTES);
}
