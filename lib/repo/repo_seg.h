/* repo_seg.h - the objects beside a layout 3 volume backup's segments (docs/FORMAT.md
 * "Volume backups, layout 3"): the sealed file index and the plaintext references. The
 * segments themselves are data objects (repo_object_*). */
#ifndef CF_REPO_SEG_H
#define CF_REPO_SEG_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "../core/err.h"
#include "../crypto/seal.h"
#include "repo.h"

#define REPO_INDEX_MAX (1ull << 30)   /* the largest index object read */

/* repo_index_save() - store @index (JSON) as backups/<source>/<id>/index: one zstd frame,
 * sealed with the backup's data key @sk (kind 4). *@size and @hex (65 bytes) are the stored
 * object's size and BLAKE2b-256. */
int repo_index_save(struct repo *r, const struct seal_key *sk, const char *source,
                    const char *id, const json_t *index, uint64_t *size, char hex[65],
                    struct cf_err *e);
/* repo_index_load() - read, authenticate and parse the index of backup @source/@id into
 * *@out (a new reference). Needs a key that reads (repo_can_read). */
int repo_index_load(struct repo *r, const char *source, const char *id, json_t **out,
                    struct cf_err *e);
/* repo_index_verify() - check the index object: tags, frame, and its BLAKE2b against @hex */
int repo_index_verify(struct repo *r, const char *source, const char *id, const char *hex,
                      struct cf_err *e);
/* repo_refs_save() / repo_refs_load() - backups/<source>/<id>/refs, plain JSON: readable
 * without any key (prune in public-key mode). load gives CF_E_NOTFOUND when there is none. */
int repo_refs_save(struct repo *r, const char *source, const char *id, const json_t *refs,
                   struct cf_err *e);
int repo_refs_load(struct repo *r, const char *source, const char *id, json_t **out,
                   struct cf_err *e);

/* repo_refs_mark() - add "<id>/<n>" to the object @marks for every object the references of
 * @source/@id name; a backup without references (layout 1) adds none. */
int repo_refs_mark(struct repo *r, const char *source, const char *id, json_t *marks,
                   struct cf_err *e);
/* repo_backup_remove_marked() - remove backup @source/@id (its manifest first) except the data
 * objects whose "<id>/<n>" @marks holds: they stay, as retained data of the backups that
 * reference them. *@freed and *@kept (bytes) say what went and what stayed. */
int repo_backup_remove_marked(struct repo *r, const char *source, const char *id,
                              const json_t *marks, uint64_t *freed, uint64_t *kept,
                              struct cf_err *e);
/* repo_key_marked() - whether @key is a data object whose "<id>/<n>" @marks holds */
bool repo_key_marked(const char *key, const json_t *marks);

#endif
