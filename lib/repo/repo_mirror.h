/* repo_mirror.h - mirrors: byte-identical copies of the repository on a second target
 * ([mirror NAME], docs/FORMAT.md "Mirrors"). A mirror is itself a complete repository (same
 * repo.json, same objects), read by every tool with `--repository NAME`.
 *
 * Copying goes object by object, streamed from the primary's target to the mirror's, never
 * decrypted: repo.json first, then each committed backup (its data objects, then its
 * manifest last), then every other object the primary lists (logs/, pins/, removed/ and any
 * prefix a newer coffer writes), locks/ excepted. Nothing is ever removed from a mirror here. */
#ifndef CF_REPO_MIRROR_H
#define CF_REPO_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../config/ini.h"
#include "../core/err.h"
#include "repo.h"

struct repo_mirror_stats {
    size_t backups;     /* backups copied whole (manifest written) */
    size_t objects;     /* objects written, every kind */
    uint64_t bytes;     /* their bytes */
    size_t skipped;     /* backups the mirror's own prune removed (removed/ on the mirror) */
    size_t damaged;     /* backups left out: an object on the primary failed its check */
    bool repo_json;     /* repo.json written (created, or changed keys copied) */
};

/* repo_mirror_sync() - bring [mirror] @m up to date with the repository @r (the primary):
 * copy what it lacks, checking each copied object's size against the listing and, when the
 * manifest can be read here (not public-key mode without the secret key), its BLAKE2b
 * against the manifest before the copy is committed. A backup with a damaged object is left
 * out (its manifest is not copied) and the rest goes on: -1 with CF_E_CORRUPT at the end.
 * A mirror that holds another repository is refused (CF_E_CONFIG); an unreachable one fails
 * with the target's error. A mirror without repo.json is made a repository (repo.json copied
 * first) only with @create (`catalog sync`); else CF_E_NOTFOUND (a nightly run never fills an
 * unmounted mount point). Every message names the mirror. */
int repo_mirror_sync(struct repo *r, const struct ini_section *m, bool create,
                     struct repo_mirror_stats *st, struct cf_err *e);

/* repo_mirror_check() - `check-config`'s look at [mirror] @m: reachable, and holding this
 * repository or none yet (another one is CF_E_CONFIG); nothing written */
int repo_mirror_check(struct repo *r, const struct ini_section *m, struct cf_err *e);

/* How far [mirror] @m is behind the repository @r (listings only, nothing decrypted). */
struct repo_mirror_lag {
    bool initialised;          /* the mirror has repo.json */
    size_t missing;            /* committed backups of the primary not on the mirror (those
                                  its own prune removed are not counted) */
    time_t oldest_missing;     /* the time of the oldest of them (0: none) */
    char oldest_id[REPO_ID_MAX], oldest_source[REPO_NAME_MAX];
    size_t backups;            /* committed backups on the mirror */
    int64_t max_lag;           /* [mirror] max-lag */
};
/* repo_mirror_lag() - @out filled; -1 when the mirror cannot be listed, or holds another
 * repository (CF_E_CONFIG) */
int repo_mirror_lag(struct repo *r, const struct ini_section *m, struct repo_mirror_lag *out,
                    struct cf_err *e);

/* the default of [mirror] max-lag: a nightly backup plus two hours */
#define REPO_MIRROR_MAX_LAG (26 * 3600)

/* repo_conf_check_mirror() - the validation step's check of [mirror NAME] @s, without I/O:
 * the target kind is known, every key is the mirror's own (target, max-lag), its target
 * driver's or in @others (retention keys), and the driver opens on it */
int repo_conf_check_mirror(const struct ini_section *s, const char *const *const *others,
                           struct cf_err *e);

#endif
