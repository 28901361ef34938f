/* cat_health.h - what the catalog index knows of a source beyond its backups: every attempt
 * of `backupd run` to back it up (committed or not), and the recovery point objective that
 * applies to it. Read by `catalog status` and by backupd's metrics and notifications, so that
 * they tell the same story. */
#ifndef CF_CAT_HEALTH_H
#define CF_CAT_HEALTH_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "cat_index.h"

#define CAT_ATTEMPT_ERROR_MAX 1000   /* error text kept per attempt, in bytes */

struct cat_attempt {
    char source[128];
    char job[128];
    char repo[80];           /* repository id, "" when the repository could not be opened */
    time_t started, finished;
    uint64_t duration_ms;
    bool ok;
    char *error;             /* why it failed (coffer's message: never a secret), or NULL */
    char backup_id[64];      /* the backup it committed, "" when none */
    uint64_t bytes_in, bytes_stored;
};

/* the attempts of a source (and job) */
struct cat_attempts {
    bool have_last;
    struct cat_attempt last; /* the newest attempt */
    uint64_t total, failures;
    time_t last_success;     /* when the newest successful attempt finished, 0: none */
    uint64_t success_bytes_in, success_bytes_stored;   /* of that attempt */
};

/* record @a (its error truncated to CAT_ATTEMPT_ERROR_MAX bytes) */
int cat_index_attempt_add(struct cat_index *x, const struct cat_attempt *a, struct cf_err *e);
/* the attempts of @source by @job (NULL: by any job) */
int cat_index_attempts(struct cat_index *x, const char *source, const char *job,
                       struct cat_attempts *out, struct cf_err *e);
void cat_attempt_clear(struct cat_attempt *a);

/* catalog_attempt_record() - record @a in the index named by the configuration (what
 * `backupd run` calls after each source, whatever the outcome) */
int catalog_attempt_record(const struct conf *c, const struct cat_attempt *a, struct cf_err *e);

/* cat_source_rpo() - the RPO of @source: its own `rpo`, else the smallest `rpo` of the jobs
 * that back it up; 0 when none is set */
int cat_source_rpo(const struct conf *c, const char *source, int64_t *rpo, struct cf_err *e);
/* cat_source_keep_pitr() - the log archive's window of @source: its own `keep-pitr`, else the
 * largest of its jobs' (0: none); @origin ("[source pg]", "[job nightly]") when set */
int cat_source_keep_pitr(const struct conf *c, const char *source, int64_t *v, char *origin,
                         size_t cap, struct cf_err *e);

#endif
