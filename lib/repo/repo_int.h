/* repo_int.h - private to lib/repo: the target under a repository. Nothing outside lib/repo
 * reaches the target; what tools and the pipeline need has a repo_* function. */
#ifndef CF_REPO_INT_H
#define CF_REPO_INT_H

#include "../storage/target.h"
#include "repo.h"

struct target *repo_target(struct repo *r);

#define REPO_JSON "repo.json"
#define REPO_FORMAT "coffer-repository"
#define REPO_VERSION 2        /* written; version 1 is still read */
#define REPO_SLOT_ID_MAX 16

/* Argon2id cost: 3 passes over 64 MiB (under a second here; memory stays within a backup's
 * budget). Stored in repo.json per slot, so it can be raised for new slots later. */
#define KDF_OPS 3
#define KDF_MEM (64u << 20)

struct repo {
    const struct conf *conf;
    struct target *t;
    struct keyring keys;
    char id[40];
    char index_id[80];               /* id, or "id@NAME" when opened as [mirror NAME] */
    int version;                     /* of repo.json: 1 or 2 */
    char slot_id[REPO_SLOT_ID_MAX];  /* version 2: the slot the configuration's key opened */
};

/* the key mode the configuration's [repository] @s asks for, and the file that goes with it */
int repo_conf_key_mode(const struct ini_section *s, enum key_mode *mode, const char **file,
                       struct cf_err *e);
/* a passphrase file's bytes (private, not empty); every failure is CF_E_KEY */
int repo_read_passphrase(const char *file, struct buf *pass, struct cf_err *e);

/* repo_slots.c: the "key" object of a version 2 repo.json with one slot for the
 * configuration's key (@kind keyfile or passphrase, from @file) wrapping @master */
int repo_slots_new_key(const char *repo_id, enum key_mode kind, const char *file,
                       const unsigned char master[KEY_BYTES], json_t **out, struct cf_err *e);
/* unlock r->keys from the version 2 "key" object @key by the configuration's @want/@file */
int repo_slots_unlock(struct repo *r, json_t *key, enum key_mode want, const char *file,
                      struct cf_err *e);

/* repo_refs_list() - the keys of @kind under @prefix whose id is a time (backups' manifests,
 * drill reports), sorted by source (or subject), then id; @what names them in errors */
int repo_refs_list(struct repo *r, const char *prefix, enum repo_key_kind kind, const char *what,
                   struct repo_ref **out, size_t *n, struct cf_err *e);
/* repo_seal_buf() - the sealed object of kind @kind holding @p (@n bytes) with @sk, whole in
 * memory: the header, then messages of SEAL_MSG_MAX bytes, the last one tagged FINAL */
void repo_seal_buf(const struct seal_key *sk, uint8_t kind, const void *p, size_t n,
                   struct buf *obj);
/* repo_sealed_put() - store @text (a JSON document) under @key, sealed with @sk as a manifest
 * is (one SEAL_MANIFEST object, index 0) */
int repo_sealed_put(struct repo *r, const struct seal_key *sk, const char *key, const char *text,
                    struct cf_err *e);
/* repo_sealed_get() - read back what repo_sealed_put stored under @key for @id: the JSON
 * object into *@out. -1 when it could not be read (@e as the target said), -2 when it was
 * read but is damaged (@e names @what: "manifest is not valid JSON: ...") */
int repo_sealed_get(struct repo *r, const char *key, const char *id, const char *what,
                    size_t max, json_t **out, struct cf_err *e);

#endif
