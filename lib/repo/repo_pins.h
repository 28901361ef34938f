/* repo_pins.h - pins (pins/<source>/<id>) and removal records (removed/<source>/<id>) in the
 * repository (docs/FORMAT.md "pins/", "removed/"): plain JSON, so that every host, also one
 * with only the public key, honours pins and tells a pruned backup from a vanished one. */
#ifndef CF_REPO_PINS_H
#define CF_REPO_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "../core/err.h"

struct repo;

struct repo_pin {
    char source[128];
    char id[64];
    char reason[512];
    char host[256];
    time_t at;
};

/* every pin, sorted by source then id */
int repo_pins_load(struct repo *r, struct repo_pin **out, size_t *n, struct cf_err *e);
const struct repo_pin *repo_pins_find(const struct repo_pin *v, size_t n, const char *source,
                                      const char *id);
int repo_pin_put(struct repo *r, const char *source, const char *id, const char *reason,
                 time_t at, struct cf_err *e);
int repo_pin_remove(struct repo *r, const char *source, const char *id, struct cf_err *e);

/* Removal records: written by prune before it removes a backup (@by "prune") and by `catalog
 * forget` (@by "forget"); a refresh that finds a backup gone marks it pruned when its record
 * exists, and vanished otherwise. */
int repo_removed_put(struct repo *r, const char *source, const char *id, const char *by,
                     struct cf_err *e);
/* *@yes: the record exists; -1 only when the repository cannot be read */
int repo_removed_exists(struct repo *r, const char *source, const char *id, bool *yes,
                        struct cf_err *e);
/* remove the record again (a prune whose removal failed); failures are logged */
void repo_removed_drop(struct repo *r, const char *source, const char *id);

#endif
