/* repo.h - the repository on a target: repo.json, keys, backups, manifests.
 *
 * Layout (docs/FORMAT.md is the reference):
 *   repo.json                                   format, id, key mode, KDF parameters
 *   backups/<source>/<backup-id>/data/<n>       encrypted, compressed stream objects
 *   backups/<source>/<backup-id>/manifest       written last: the commit point
 * A backup exists when its manifest exists. */
#ifndef CF_REPO_H
#define CF_REPO_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../config/conf.h"
#include "../crypto/keys.h"
#include "../storage/target.h"

#define REPO_ID_MAX 64       /* "20261122T031500Z-1a2b3c4d" and room to spare */
#define REPO_NAME_MAX 128    /* source names */

struct repo;

/* How to unlock: the configuration names the key file, passphrase file or public key; a
 * secret key file (public-key mode) comes from the command line. */
struct repo_unlock {
    const char *secret_key_file;   /* public-key mode: needed to read; NULL to write only */
};

/* repo_init() - create repo.json on the target described by @c. Refuses an existing one.
 * @generate_key: when not NULL, write a new random 32-byte key there (0600) and use it. */
int repo_init(const struct conf *c, const char *generate_key, struct cf_err *e);

/* repo_open() - read repo.json and unlock the keys. A key, passphrase or secret key file that is
 * missing, readable by others, malformed or wrong is CF_E_KEY, with a message saying which. In public-key mode without a secret key, the repository can be
 * written and listed but not read (repo_can_read() is false). */
int repo_open(const struct conf *c, const struct repo_unlock *u, struct repo **out,
              struct cf_err *e);
void repo_close(struct repo *r);
/* repo_conf_check_keys() - the validation step's check of [repository] @s, without I/O: the
 * target kind is known, every key is the repository's own (target, key-file,
 * passphrase-file, public-key-file), its target driver's or in one of @others (a
 * NULL-terminated list of at most five key lists: other owners' keys, such as the stream's),
 * and exactly one of the key options is given */
int repo_conf_check_keys(const struct ini_section *s, const char *const *const *others,
                         struct cf_err *e);
/* repo_conf_check_target() - open and close the target @s describes: its driver checks its
 * own settings, with no request yet */
int repo_conf_check_target(const struct ini_section *s, struct cf_err *e);
/* repo_check() - the check step for [repository] (repo_check.c): the key, passphrase or public
 * key file as a backup reads it, then (unless r->offline and the target is not local) the
 * repository reachable, initialised and opened by that key; every finding goes to @r */
struct conf_report;
void repo_check(const struct conf *c, struct conf_report *r);

struct target *repo_target(struct repo *r);
const struct keyring *repo_keys(const struct repo *r);
bool repo_can_read(const struct repo *r);
const char *repo_id(const struct repo *r);
const struct conf *repo_conf(const struct repo *r);

/* A committed backup, known from the names of its objects alone. */
struct repo_ref {
    char source[REPO_NAME_MAX];
    char id[REPO_ID_MAX];
    time_t time;   /* from the id */
};

/* Every committed backup (manifest present) of @source (NULL: all), sorted by source, then
 * id (which is by time). Free with free(). */
int repo_list(struct repo *r, const char *source, struct repo_ref **out, size_t *n,
              struct cf_err *e);
/* Read, authenticate and parse a backup's manifest. CF_E_CRYPTO/CF_E_CORRUPT when damaged. */
int repo_manifest_load(struct repo *r, const char *source, const char *id, json_t **out,
                       struct cf_err *e);
/* repo_find_at() - the backup `restore --at @t` uses: the newest backup of @source started at
 * or before @t whose manifest opens and checks. Damaged manifests are skipped with a warning,
 * never chosen. CF_E_NOTFOUND when there is none. */
int repo_find_at(struct repo *r, const char *source, time_t t, struct repo_ref *ref,
                 json_t **manifest, struct cf_err *e);
/* as repo_find_at, also passing over the backups for which @skip returns a reason (a
 * string it owns), such as "catalog verify found it damaged" */
typedef const char *(*repo_skip_fn)(void *arg, const char *id);
int repo_find_at_skipping(struct repo *r, const char *source, time_t t, repo_skip_fn skip,
                          void *arg, struct repo_ref *ref, json_t **manifest, struct cf_err *e);

/* Encrypt @manifest with the backup's data key and store it: the commit point of a backup. */
struct seal_key;
int repo_manifest_save(struct repo *r, const struct seal_key *sk, const char *source,
                       const char *id, json_t *manifest, struct cf_err *e);
/* Delete a backup: its manifest first (so it is no longer listed), then its data. */
int repo_backup_remove(struct repo *r, const char *source, const char *id, struct cf_err *e);

/* A new backup id for the time @ts: "20261122T031500Z-123abcde", the UTC second, then three
 * decimal digits of milliseconds and five random hex digits, so that ids sort by time even
 * for backups of the same second. */
void repo_new_id(const struct timespec *ts, char out[REPO_ID_MAX]);
/* key names */
char *repo_key_manifest(const char *source, const char *id);
char *repo_key_data(const char *source, const char *id, uint32_t n);
char *repo_key_backup_prefix(const char *source, const char *id);

#endif
