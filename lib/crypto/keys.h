/* keys.h - the repository's keys and the wrapping of each backup's data key.
 *
 * Modes (repo.json "key.mode"):
 *   keyfile     master key = 32 bytes from a 0600 file; data keys wrapped with
 *               crypto_secretbox (XSalsa20-Poly1305) under it
 *   passphrase  master key = Argon2id(passphrase, salt, opslimit, memlimit); same wrapping
 *   public      data keys sealed to the repository's X25519 public key (crypto_box_seal):
 *               the writer cannot read back; restore needs the secret key
 * From format version 2 the master key of the first two modes is random (or, in a repository
 * upgraded from version 1, the master it had) and repo.json holds it in key slots, each
 * wrapping it under a key-encryption key made from a passphrase or a key file (keys_slot_*). */
#ifndef CF_KEYS_H
#define CF_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "../core/err.h"

#define KEY_BYTES 32
#define KEYS_WRAPPED_MAX 96
#define KEYS_SALT_BYTES 16

enum key_mode { KEY_MODE_KEYFILE = 1, KEY_MODE_PASSPHRASE = 2, KEY_MODE_PUBLIC = 3 };

struct keyring {
    enum key_mode mode;
    bool have_master, have_public, have_secret;
    unsigned char master[KEY_BYTES];
    unsigned char pk[crypto_box_PUBLICKEYBYTES];
    unsigned char sk[crypto_box_SECRETKEYBYTES];
};

/* call once per process before anything else here */
int keys_init(struct cf_err *e);
const char *key_mode_name(enum key_mode m);
int key_mode_parse(const char *s, enum key_mode *out);

/* a new random key file, mode 0600; refuses to overwrite */
int keys_generate_file(const char *path, struct cf_err *e);
/* 32 raw bytes, or 64 hex digits and an optional newline; refuses group/other access;
 * every failure (missing, unreadable, loose modes, not a key) is CF_E_KEY */
int keys_load_file(const char *path, unsigned char out[KEY_BYTES], struct cf_err *e);
/* Argon2id; @ops and @mem as stored in repo.json */
int keys_derive(const char *pass, size_t len, const unsigned char salt[KEYS_SALT_BYTES],
                uint64_t ops, size_t mem, unsigned char out[KEY_BYTES], struct cf_err *e);
/* a new X25519 key pair: public key file (0644) and secret key file (0600), hex text */
int keys_keygen(const char *pub_path, const char *sec_path, struct cf_err *e);
int keys_load_public(const char *path, unsigned char pk[crypto_box_PUBLICKEYBYTES],
                     struct cf_err *e);
/* the secret key file, checked to belong to @pk */
int keys_load_secret(const char *path, const unsigned char pk[crypto_box_PUBLICKEYBYTES],
                     unsigned char sk[crypto_box_SECRETKEYBYTES], struct cf_err *e);

/* wrap a data key for storage: *len set, at most KEYS_WRAPPED_MAX */
int keys_wrap(const struct keyring *k, const unsigned char dk[KEY_BYTES], unsigned char *out,
              size_t *len, struct cf_err *e);
/* unwrap; CF_E_CRYPTO when the key does not open it */
int keys_unwrap(const struct keyring *k, const unsigned char *in, size_t len,
                unsigned char dk[KEY_BYTES], struct cf_err *e);
bool keys_can_unwrap(const struct keyring *k);

/* a check value stored in repo.json, so a wrong key is told apart from damage */
#define KEYS_CHECK_HEX (2 * (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + 16) + 1)
void keys_check_value(const struct keyring *k, char *out /* KEYS_CHECK_HEX */);
int keys_verify_check_value(const struct keyring *k, const char *hex, struct cf_err *e);

/* Key slots (docs/FORMAT.md "Key slots"). The key-encryption key of a slot is
 * BLAKE2b-256(key = @secret, message = "coffer-slot-kek" NUL repo id NUL slot id), @secret being
 * the key file's 32 bytes or the slot's Argon2id output: a slot opens only in its repository
 * and under its own id. The master is stored as nonce[24] || crypto_secretbox(master). */
#define KEYS_SLOT_HEX \
    (2 * (crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + KEY_BYTES) + 1)
void keys_slot_kek(const unsigned char secret[KEY_BYTES], const char *repo_id, const char *slot_id,
                   unsigned char kek[KEY_BYTES]);
void keys_slot_wrap(const unsigned char kek[KEY_BYTES], const unsigned char master[KEY_BYTES],
                    char *out /* KEYS_SLOT_HEX */);
/* -1 when @hex is malformed or @kek does not open it (nothing tells the two apart: the
 * repository's check value then says whether the master is the right one) */
int keys_slot_unwrap(const unsigned char kek[KEY_BYTES], const char *hex,
                     unsigned char master[KEY_BYTES]);
/* keys_digest_key() - the key of the keyed BLAKE2b digests stored in clear in object headers
 * (log objects: docs/FORMAT.md "logs/"): BLAKE2b-256 of "coffer-log-digest-v1" keyed with
 * the master key, or in public-key mode with the public key (the only key a writer has) */
void keys_digest_key(const struct keyring *k, unsigned char out[KEY_BYTES]);

void keyring_wipe(struct keyring *k);

#endif
