/* repo_slots.h - key slots (repo.json format version 2; docs/FORMAT.md "Key slots").
 *
 * The repository's master key is held in one or more slots, each wrapping the same master by a
 * passphrase (Argon2id, parameters per slot) or by a key file. Adding, removing or changing a
 * slot rewrites repo.json alone: data objects carry the data key wrapped by the master, which
 * never changes. Each change takes locks/keys, reads repo.json again, and writes it back with
 * one put (local: temporary file, fsync, rename, fsync of the directory; S3: one PUT).
 * A repository sealed to a public key has no slots: every function here refuses it. */
#ifndef CF_REPO_SLOTS_H
#define CF_REPO_SLOTS_H

#include <stdbool.h>
#include <stddef.h>

#include "../core/err.h"

struct repo;

#define REPO_SLOT_LABEL_MAX 128

struct repo_slot_info {
    char id[16];
    char label[REPO_SLOT_LABEL_MAX];
    char kind[16];      /* "passphrase" or "keyfile" */
    char created[32];
    bool current;       /* the slot the configuration's key opened */
};

/* repo_format_version() - 1 or 2, as repo.json says */
int repo_format_version(const struct repo *r);

/* repo_slots_list() - the slots, as stored; none for a version 1 repository. Free with free(). */
int repo_slots_list(struct repo *r, struct repo_slot_info **out, size_t *n, struct cf_err *e);

/* repo_slot_add() - a new slot for the passphrase in @pass_file or the key in @key_file (one of
 * the two), labelled @label (NULL: none); its id into @id_out */
int repo_slot_add(struct repo *r, const char *pass_file, const char *key_file, const char *label,
                  char id_out[16], struct cf_err *e);

/* repo_slot_remove() - remove slot @id. Refused (CF_E_USAGE) for the last slot and for the slot
 * the configuration's key opened; CF_E_NOTFOUND for an unknown id. */
int repo_slot_remove(struct repo *r, const char *id, struct cf_err *e);

/* repo_slot_passwd() - the slot the configuration's passphrase opened now holds the master under
 * the passphrase in @pass_file instead (same id and label, new salt); the old one no longer
 * opens it */
int repo_slot_passwd(struct repo *r, const char *pass_file, struct cf_err *e);

/* repo_slots_upgrade() - a version 1 repository (key file or passphrase) becomes version 2:
 * its master (the key file's bytes, or Argon2id of the passphrase) is wrapped in a first slot
 * for the configuration's key, so that every object stays readable. CF_E_EXISTS when it is
 * version 2 already. */
int repo_slots_upgrade(struct repo *r, struct cf_err *e);

#endif
