/* cat_drill.h - the restore drills the catalog index knows (table drills, schema 5): each
 * drill's subject, times, result and measured RTO, from `restore drill` when it ends and from
 * the reports under drills/ that a refresh finds (cat_sync.c). Read by backupd's metrics. */
#ifndef CF_CAT_DRILL_H
#define CF_CAT_DRILL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "../config/conf.h"
#include "../core/err.h"
#include "cat_index.h"

struct repo;

struct cat_drill {
    char repo[80];           /* repository id */
    char subject[160];       /* "job.NAME" or "source.NAME", as under drills/ */
    char id[64];
    time_t started, finished;
    bool ok;                 /* the report's result is "passed" */
    uint64_t rto_ms;         /* the measured RTO of the whole drill */
};

/* cat_drill_from_report() - the row of report @rep (the JSON `restore drill` stores) of
 * repository @repo_id; -1 (CF_E_CORRUPT) when it lacks its id, subject or result */
int cat_drill_from_report(json_t *rep, const char *repo_id, struct cat_drill *out,
                          struct cf_err *e);
/* insert or replace @d */
int cat_index_drill_put(struct cat_index *x, const struct cat_drill *d, struct cf_err *e);
/* whether drill @subject/@id of @repo is in the index */
int cat_index_drill_has(struct cat_index *x, const char *repo, const char *subject,
                        const char *id, bool *has, struct cf_err *e);
/* the newest drill of @subject (of @repo; NULL: any repository), by start then id: *@found
 * false when there is none */
int cat_index_drill_last(struct cat_index *x, const char *repo, const char *subject,
                         struct cat_drill *out, bool *found, struct cf_err *e);

/* catalog_drill_record() - record the drill of report @rep, stored in repository @r, in the
 * index named by the configuration (what `restore drill` calls once the report is stored; a
 * failure here is the caller's warning, never the drill's failure) */
int catalog_drill_record(const struct conf *c, struct repo *r, json_t *rep, struct cf_err *e);

#endif
