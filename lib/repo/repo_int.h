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

#endif
