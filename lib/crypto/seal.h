/* seal.h - the encrypted object format: every repository object (data or manifest) stands
 * alone, decryptable with the repository key and nothing else.
 *
 *   header   "COFFER" 0x00 0x01 | kind u8 | key mode u8 | wrapped length u16 LE |
 *            index u32 LE | id length u8 | id | wrapped data key | secretstream header (24)
 *   messages (u32 LE ciphertext length | crypto_secretstream_xchacha20poly1305 ciphertext)*
 *
 * Every message is authenticated with the whole header as additional data, so an object
 * moved to another index or backup fails to open. Tags: MESSAGE inside an object; the last
 * message of an object is PUSH when the stream goes on in the next object, FINAL when the
 * stream ends there. A message holds at most SEAL_MSG_MAX plaintext bytes. */
#ifndef CF_SEAL_H
#define CF_SEAL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <sodium.h>

#include "../core/err.h"
#include "keys.h"

#define SEAL_MSG_MAX (1u << 20)
#define SEAL_MSG_OVERHEAD (4 + crypto_secretstream_xchacha20poly1305_ABYTES)
#define SEAL_ID_MAX 255   /* the id length byte's range; backup ids use 25 of it */
#define SEAL_HDR_MAX (18 + SEAL_ID_MAX + KEYS_WRAPPED_MAX + crypto_secretstream_xchacha20poly1305_HEADERBYTES)

/* SEAL_LOG: one archived log file (a WAL segment), whose id names it (docs/FORMAT.md "logs/") */
/* SEAL_INDEX: the file index of a layout 3 volume backup (docs/FORMAT.md) */
enum seal_kind { SEAL_DATA = 1, SEAL_MANIFEST = 2, SEAL_LOG = 3, SEAL_INDEX = 4 };
#define SEAL_TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define SEAL_TAG_PUSH crypto_secretstream_xchacha20poly1305_TAG_PUSH
#define SEAL_TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

/* the per-backup data key, in the clear and wrapped */
struct seal_key {
    unsigned char dk[KEY_BYTES];
    unsigned char wrapped[KEYS_WRAPPED_MAX];
    size_t wrapped_len;
    uint8_t mode;
    char id[SEAL_ID_MAX + 1];
    bool have_dk;
};

/* a new random data key for backup @id, wrapped with @k */
int seal_key_new(struct seal_key *sk, const struct keyring *k, const char *id, struct cf_err *e);
void seal_key_wipe(struct seal_key *sk);

struct seal_w {
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char hdr[SEAL_HDR_MAX];
    size_t hdr_len;
};

/* start an object: the header is written to w->hdr (w->hdr_len bytes), to be stored first */
void seal_begin(struct seal_w *w, const struct seal_key *sk, enum seal_kind kind, uint32_t index);
/* encrypt one message into @out (room for len + SEAL_MSG_OVERHEAD); returns bytes written */
size_t seal_push(struct seal_w *w, const void *pt, size_t len, unsigned char tag,
                 unsigned char *out);

typedef ssize_t (*seal_read_fn)(void *arg, void *buf, size_t cap, struct cf_err *e);

/* a seal_read_fn over an object already in memory: seal_open(r, seal_mem_read, &m, ...) */
struct seal_mem {
    const unsigned char *p;
    size_t left;
};
ssize_t seal_mem_read(void *arg, void *buf, size_t cap, struct cf_err *e);

struct seal_r {
    crypto_secretstream_xchacha20poly1305_state st;
    unsigned char hdr[SEAL_HDR_MAX];
    size_t hdr_len;
    seal_read_fn read;
    void *arg;
    crypto_generichash_state hash;   /* BLAKE2b-256 of every byte of the object */
    uint64_t bytes;
    unsigned char *ct;
    bool done;                       /* PUSH or FINAL seen, object end checked */
    bool skip_hash;                  /* set after seal_open: do not hash the messages */
    unsigned char last_tag;
};

/* Read and check an object's header. @sk holds the backup's data key once known: the first
 * object unwraps it with @k; later objects must carry the same wrapped key. A NULL @id
 * accepts any id: the caller reads it with seal_hdr_id() and judges it (log objects). */
int seal_open(struct seal_r *r, seal_read_fn read, void *arg, const struct keyring *k,
              struct seal_key *sk, enum seal_kind kind, uint32_t index, const char *id,
              struct cf_err *e);
/* seal_hdr_id() - the kind and id of the object whose first @len bytes are @hdr, without
 * unwrapping anything (so also without the key); -1 when @hdr is not a whole header (@e:
 * CF_E_CORRUPT). @id has room for SEAL_ID_MAX + 1 bytes. Nothing is authenticated yet. */
int seal_hdr_id(const unsigned char *hdr, size_t len, uint8_t *kind, char *id,
                struct cf_err *e);
/* the next message's plaintext into @pt (room for SEAL_MSG_MAX): 1 with *len and *tag set,
 * 0 after the object's last message (its end checked), -1 on damage or I/O error */
int seal_next(struct seal_r *r, unsigned char *pt, size_t *len, unsigned char *tag,
              struct cf_err *e);
/* BLAKE2b-256 of the object as read; call after seal_next returned 0 */
void seal_r_hash(struct seal_r *r, unsigned char out[32]);
void seal_r_free(struct seal_r *r);

#endif
